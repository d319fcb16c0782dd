//! Fuzz target `goauth_stdin`: the property lives in `gocred::fuzzing::goauth_stdin`, shared with the
//! stable-toolchain replay of the seed corpus (tests/it/fuzz_corpus.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gocred::fuzzing::goauth_stdin(data));
