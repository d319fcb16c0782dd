//! Fuzz target `server_text`: the property lives in `gocred::fuzzing::server_text`, shared with the
//! stable-toolchain replay of the seed corpus (tests/it/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gocred::fuzzing::server_text(data));
