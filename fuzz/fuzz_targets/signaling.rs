//! Server messages and connection events into the call's control machine: see `fuzzing::signaling`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::signaling::run(data));
