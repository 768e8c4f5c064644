//! The relay's state machine under a script of peers: see `fuzzing::relay`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::relay::run(data));
