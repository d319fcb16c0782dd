//! Fuzz target `netrc_go`: the property lives in `gocred::fuzzing::netrc_go`, shared with the
//! stable-toolchain replay of the seed corpus (tests/it/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gocred::fuzzing::netrc_go(data));
