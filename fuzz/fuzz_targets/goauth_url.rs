//! Fuzz target `goauth_url`: the property lives in `gocred::fuzzing::goauth_url`, shared with the
//! stable-toolchain replay of the seed corpus (tests/it/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gocred::fuzzing::goauth_url(data));
