//! Fuzz target `netrc_block`: the property lives in `gocred::fuzzing::netrc_block`, shared with the
//! stable-toolchain replay of the seed corpus (tests/it/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gocred::fuzzing::netrc_block(data));
