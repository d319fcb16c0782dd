//! Fuzz target `scope_patterns`: the property lives in `gocred::fuzzing::scope_patterns`, shared with the
//! stable-toolchain replay of the seed corpus (tests/it/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gocred::fuzzing::scope_patterns(data));
