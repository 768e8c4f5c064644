//! RTP and RTCP into the interceptors that read them first: see `fuzzing::rtcp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::rtcp::run(data));
