//! Fuzz target `netrc_curl`: the property lives in `gocred::fuzzing::netrc_curl`, shared with the
//! stable-toolchain replay of the seed corpus (tests/it/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gocred::fuzzing::netrc_curl(data));
