//! Signaling messages as text: see `fuzzing::parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::parse::run(data));
