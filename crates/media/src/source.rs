//! The small traits that make a camera and the test pattern (or a microphone and the
//! test tone, a speaker and a null sink) interchangeable everywhere.

use crate::MediaError;
use crate::echo::EchoTap;
use crate::frame::{AudioFrame, VideoFrame};

/// Size and rate of a video source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoFormat {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: f32,
}

impl std::fmt::Display for VideoFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}@{}", self.width, self.height, self.fps)
    }
}

/// Something that captures pictures: a camera or the test pattern.
///
/// `next_frame` blocks until the next picture is ready, so a source runs on its own
/// thread, never on an async runtime.
pub trait VideoSource: Send {
    /// A name a person recognises ("Test pattern", the camera's name).
    fn name(&self) -> String;
    /// The format actually delivered (the nearest the device supports).
    fn format(&self) -> VideoFormat;
    /// Blocks until the next picture, in I420, stamped with its capture time.
    fn next_frame(&mut self) -> Result<VideoFrame, MediaError>;
}

/// Something that captures sound in 48 kHz 20 ms frames: a microphone or the test tone.
pub trait AudioSource: Send {
    /// A name a person recognises.
    fn name(&self) -> String;
    /// Channels per frame (1 or 2).
    fn channels(&self) -> u16;
    /// Blocks until the next 20 ms frame.
    fn next_frame(&mut self) -> Result<AudioFrame, MediaError>;

    /// How long ago the last frame's sound reached the device, as the device reports it
    /// (`None`: not reported, or no device).
    fn capture_latency(&self) -> Option<std::time::Duration> {
        None
    }
}

/// Something that plays 48 kHz 20 ms frames: a speaker or a null sink.
pub trait AudioSink: Send {
    /// Queues one frame for playout; never blocks for long.
    fn play(&mut self, frame: &AudioFrame) -> Result<(), MediaError>;

    /// From now on, hands what is played to `tap` as the device gets it (the echo
    /// canceller's far end). Sinks that play nowhere audible ignore it.
    fn set_echo_tap(&mut self, tap: EchoTap) {
        let _ = tap;
    }
}
