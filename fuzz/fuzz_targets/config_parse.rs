//! Fuzz target `config_parse`: the property lives in `gocred::fuzzing::config_parse`, shared with the
//! stable-toolchain replay of the seed corpus (tests/it/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gocred::fuzzing::config_parse(data));
