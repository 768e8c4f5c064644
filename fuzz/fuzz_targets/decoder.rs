//! Encoded pictures into the video decoders: see `fuzzing::decoder`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::decoder::run(data));
