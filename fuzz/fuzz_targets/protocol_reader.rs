//! Fuzz target `protocol_reader`: the property lives in `gocred::fuzzing::protocol_reader`, shared with the
//! stable-toolchain replay of the seed corpus (tests/it/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gocred::fuzzing::protocol_reader(data));
