//! Opus packets through the audio receive path: see `fuzzing::opus`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::opus::run(data));
