//! RTP packets of a video stream through the whole receive path: see `fuzzing::video`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::video::run(data));
