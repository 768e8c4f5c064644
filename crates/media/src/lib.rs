//! peercall's media pipeline: everything between a device and an encoded frame, and back.
//!
//! - [`frame`]: I420 [`VideoFrame`]s and 48 kHz 20 ms [`AudioFrame`]s with capture times;
//! - [`source`]: the [`VideoSource`] / [`AudioSource`] / [`AudioSink`] traits that make
//!   devices and synthetic sources interchangeable;
//! - [`pattern`] and [`tone`]: the synthetic test sources and their readers;
//! - [`codec`]: the video codecs ([`codec::VideoCodec`]) behind one encoder and one decoder
//!   type, over [`h264`] (openh264) and [`vpx`] (VP8 and VP9, libvpx); [`opus_codec`]: Opus;
//! - [`apm`]: echo cancellation, noise suppression and gain control on the microphone
//!   path, fed through [`echo`] with what the speaker plays;
//! - [`switch`]: sources and sinks whose device changes while they run (mute, camera
//!   off, volume);
//! - [`percentile`]: percentiles of measured samples (the call's statistics and the
//!   benchmarks share it);
//! - [`worker`]: codec threads fed through bounded queues that never block the caller;
//! - [`screen`]: screen and window capture on X11 (MIT-SHM, DAMAGE, Composite, XFixes) for
//!   screen sharing, and with the `wayland` feature `screen_wayland` (the
//!   xdg-desktop-portal ScreenCast portal and PipeWire);
//! - [`convert`]: colour conversion and MJPEG decoding (SIMD, through yuvutils-rs and
//!   zune-jpeg).
//!
//! No WebRTC and no UI here. Codec calls are blocking: run them on their own threads.

pub mod apm;
pub mod audio;
pub mod camera;
pub mod codec;
pub mod convert;
pub mod echo;
pub mod frame;
pub mod h264;
pub mod limit;
pub mod opus_codec;
pub mod pattern;
pub mod percentile;
pub mod playout;
pub mod resample;
pub mod screen;
#[cfg(feature = "wayland")]
pub mod screen_wayland;
pub mod source;
pub mod switch;
pub mod tone;
pub mod vpx;
pub mod worker;

pub use frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE, VideoFrame, now_us};
pub use source::{AudioSink, AudioSource, VideoFormat, VideoSource};

/// The kinds of device a call uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceKind {
    /// A video capture device.
    Camera,
    /// An audio capture device.
    Microphone,
    /// An audio playout device.
    Speaker,
}

impl std::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeviceKind::Camera => "camera",
            DeviceKind::Microphone => "microphone",
            DeviceKind::Speaker => "speaker",
        })
    }
}

/// What went wrong in the media pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// No device of this kind matches what was asked for.
    #[error("no {kind} named {wanted:?}; available: {}", list(available))]
    DeviceNotFound {
        /// Which kind of device.
        kind: DeviceKind,
        /// What was asked for.
        wanted: String,
        /// The devices there are.
        available: Vec<String>,
    },
    /// The device exists but cannot be opened (in use, permission, unplugged).
    #[error("cannot open {kind} {name:?}: {reason}")]
    DeviceUnavailable {
        /// Which kind of device.
        kind: DeviceKind,
        /// The device.
        name: String,
        /// Why, as the system said it.
        reason: String,
    },
    /// The device or input uses a format we cannot handle.
    #[error("unsupported format: {0}")]
    Unsupported(String),
    /// A screen or window cannot be captured (no display, no such screen or window).
    #[error("screen capture: {0}")]
    Screen(String),
    /// The screen-sharing portal (Wayland) could not be used, or the person said no.
    #[error("screen sharing portal: {0}")]
    Portal(#[from] crate::screen::PortalFailure),
    /// An encoder or decoder failed; for a decoder, ask the sender for a keyframe.
    #[error("{codec} error: {reason}")]
    Codec {
        /// "H.264", "VP8", "VP9" or "Opus".
        codec: &'static str,
        /// What the codec said.
        reason: String,
    },
}

impl MediaError {
    /// A device that exists but cannot be used, and why.
    pub fn unavailable(kind: DeviceKind, name: &str, reason: impl std::fmt::Display) -> Self {
        MediaError::DeviceUnavailable {
            kind,
            name: name.to_string(),
            reason: reason.to_string(),
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none found".into()
    } else {
        names.join(", ")
    }
}
