//! What each fuzz target does with its input, for everything a remote peer or a
//! signaling server controls.
//!
//! The cargo-fuzz binaries in `fuzz/` are one line each, calling the function of their
//! name here; the replay test (`tests/seeds.rs`) runs every file of `fuzz/seeds/<target>/`
//! (corpora kept from the fuzz runs, and every crasher found) through the same function
//! in the normal test suite, so a fixed crash stays fixed without the fuzzer.
//!
//! A target panics (and so fails) only where the code under test broke a promise: a
//! panic inside it, or an invariant checked here. Errors returned for bad input are the
//! expected outcome.

pub mod decoder;
pub mod opus;
pub mod parse;
pub mod records;
pub mod relay;
pub mod rtcp;
pub mod sdp;
pub mod signaling;
pub mod video;

/// What a target does with one input.
pub type Target = fn(&[u8]);

/// Every target: its name (the folder of its seeds) and what it runs.
pub const TARGETS: &[(&str, Target)] = &[
    ("decoder", decoder::run),
    ("opus", opus::run),
    ("parse", parse::run),
    ("relay", relay::run),
    ("rtcp", rtcp::run),
    ("sdp", sdp::run),
    ("signaling", signaling::run),
    ("video", video::run),
];
