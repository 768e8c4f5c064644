//! A remote session description through our reading of it: see `fuzzing::sdp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::sdp::run(data));
