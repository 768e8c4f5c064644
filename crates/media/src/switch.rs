//! Sources and sinks that change device while they run, for a call that must go on when
//! the user picks another camera, microphone or speaker, mutes, turns the camera off or
//! sets the volume.
//!
//! A [`VideoSwitch`] / [`AudioSwitch`] / [`SpeakerSwitch`] is the handle the UI keeps;
//! `wrap` puts a device behind it for the pipeline, which keeps pulling (or pushing)
//! frames as before. A replacement takes effect at the next frame, on the pipeline's
//! own thread, so neither side waits for the other. The pipeline's format stays fixed:
//! a new microphone with another channel count is mixed to the first one's.
//!
//! When a pipeline ends (the call restarts for the next peer), its device is parked in
//! the switch, and [`VideoSwitch::take_pending`] (and the others) hands it to the next
//! pipeline: the device the user picked last stays in use, and is never opened twice.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::echo::EchoTap;
use crate::source::{AudioSink, AudioSource, VideoFormat, VideoSource};
use crate::{AudioFrame, MediaError, VideoFrame};

/// Called with every picture a [`SwitchedVideo`] delivers (the local preview).
pub type FrameTap = Arc<dyn Fn(&VideoFrame) + Send + Sync>;

/// The UI's handle on a running video source.
#[derive(Default)]
pub struct VideoSwitch {
    next: Mutex<Option<Box<dyn VideoSource>>>,
    blank: AtomicBool,
    tap: Mutex<Option<FrameTap>>,
}

impl VideoSwitch {
    /// A new handle, shared.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Puts `source` behind this switch for a pipeline.
    pub fn wrap(self: &Arc<Self>, source: Box<dyn VideoSource>) -> SwitchedVideo {
        SwitchedVideo {
            source: Some(source),
            switch: Arc::clone(self),
        }
    }

    /// Sends from `source` from the next picture on (the old one is closed then).
    pub fn replace(&self, source: Box<dyn VideoSource>) {
        *lock(&self.next) = Some(source);
    }

    /// The source picked or parked for the next pipeline, if any.
    pub fn take_pending(&self) -> Option<Box<dyn VideoSource>> {
        lock(&self.next).take()
    }

    /// Camera off (`true`): black pictures at the same rate, so the call keeps its
    /// stream; on again with `false`.
    pub fn set_blank(&self, blank: bool) {
        self.blank.store(blank, Ordering::Relaxed);
    }

    /// Whether pictures are blanked.
    pub fn is_blank(&self) -> bool {
        self.blank.load(Ordering::Relaxed)
    }

    /// Shows every picture sent to `tap` too (the local preview); `None` stops it.
    pub fn set_tap(&self, tap: Option<FrameTap>) {
        *lock(&self.tap) = tap;
    }
}

/// A video source whose device a [`VideoSwitch`] can replace or blank.
pub struct SwitchedVideo {
    /// Always there until dropped (then parked in the switch).
    source: Option<Box<dyn VideoSource>>,
    switch: Arc<VideoSwitch>,
}

impl SwitchedVideo {
    fn source(&self) -> &dyn VideoSource {
        self.source.as_deref().expect("a source until dropped")
    }
}

impl Drop for SwitchedVideo {
    fn drop(&mut self) {
        let mut next = lock(&self.switch.next);
        if next.is_none() {
            *next = self.source.take();
        }
    }
}

impl VideoSource for SwitchedVideo {
    fn name(&self) -> String {
        self.source().name()
    }

    fn format(&self) -> VideoFormat {
        self.source().format()
    }

    fn next_frame(&mut self) -> Result<VideoFrame, MediaError> {
        if let Some(next) = lock(&self.switch.next).take() {
            tracing::info!(from = %self.source().name(), to = %next.name(), "video source switched");
            self.source = Some(next);
        }
        let source = self.source.as_mut().expect("a source until dropped");
        let mut picture = source.next_frame()?;
        if self.switch.is_blank() {
            let capture_us = picture.capture_us;
            picture = VideoFrame::black(picture.width(), picture.height());
            picture.capture_us = capture_us;
        }
        if let Some(tap) = lock(&self.switch.tap).as_ref() {
            tap(&picture);
        }
        Ok(picture)
    }
}

/// The UI's handle on a running audio source.
#[derive(Default)]
pub struct AudioSwitch {
    next: Mutex<Option<Box<dyn AudioSource>>>,
    muted: AtomicBool,
}

impl AudioSwitch {
    /// A new handle, shared.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Puts `source` behind this switch; its channel count stays the pipeline's.
    pub fn wrap(self: &Arc<Self>, source: Box<dyn AudioSource>) -> SwitchedAudio {
        SwitchedAudio {
            channels: source.channels(),
            source: Some(source),
            switch: Arc::clone(self),
        }
    }

    /// Captures from `source` from the next frame on.
    pub fn replace(&self, source: Box<dyn AudioSource>) {
        *lock(&self.next) = Some(source);
    }

    /// The source picked or parked for the next pipeline, if any.
    pub fn take_pending(&self) -> Option<Box<dyn AudioSource>> {
        lock(&self.next).take()
    }

    /// Mute (`true`): silence at the same rate; unmute with `false`.
    pub fn set_muted(&self, muted: bool) {
        self.muted.store(muted, Ordering::Relaxed);
    }

    /// Whether the source is muted.
    pub fn is_muted(&self) -> bool {
        self.muted.load(Ordering::Relaxed)
    }
}

/// An audio source whose device an [`AudioSwitch`] can replace or mute.
pub struct SwitchedAudio {
    /// Always there until dropped (then parked in the switch).
    source: Option<Box<dyn AudioSource>>,
    switch: Arc<AudioSwitch>,
    channels: u16,
}

impl Drop for SwitchedAudio {
    fn drop(&mut self) {
        let mut next = lock(&self.switch.next);
        if next.is_none() {
            *next = self.source.take();
        }
    }
}

impl AudioSource for SwitchedAudio {
    fn name(&self) -> String {
        self.source.as_ref().map(|s| s.name()).unwrap_or_default()
    }

    fn channels(&self) -> u16 {
        self.channels
    }

    fn capture_latency(&self) -> Option<std::time::Duration> {
        self.source.as_ref().and_then(|s| s.capture_latency())
    }

    fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
        if let Some(next) = lock(&self.switch.next).take() {
            tracing::info!(to = %next.name(), "audio source switched");
            self.source = Some(next);
        }
        let source = self.source.as_mut().expect("a source until dropped");
        let mut frame = remix(source.next_frame()?, self.channels);
        if self.switch.is_muted() {
            frame.samples.fill(0);
        }
        Ok(frame)
    }
}

/// `frame` with `channels` channels: stereo averaged to mono, or mono doubled.
fn remix(frame: AudioFrame, channels: u16) -> AudioFrame {
    let samples = match (frame.channels, channels) {
        (2, 1) => frame
            .samples
            .chunks_exact(2)
            .map(|lr| ((i32::from(lr[0]) + i32::from(lr[1])) / 2) as i16)
            .collect(),
        (1, 2) => frame.samples.iter().flat_map(|&s| [s, s]).collect(),
        _ => return frame,
    };
    AudioFrame {
        samples,
        channels,
        capture_us: frame.capture_us,
    }
}

/// The UI's handle on a running playout: the speaker and its volume.
pub struct SpeakerSwitch {
    next: Mutex<Option<Box<dyn AudioSink>>>,
    /// Volume as `f32` bits (1.0 = as received).
    volume: AtomicU32,
    /// Where every sink behind the switch hands what it plays (the echo canceller).
    echo_tap: Mutex<Option<EchoTap>>,
}

impl Default for SpeakerSwitch {
    fn default() -> Self {
        Self {
            next: Mutex::default(),
            volume: AtomicU32::new(1.0f32.to_bits()),
            echo_tap: Mutex::default(),
        }
    }
}

impl SpeakerSwitch {
    /// A new handle at full volume, shared.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Puts `sink` behind this switch.
    pub fn wrap(self: &Arc<Self>, sink: Box<dyn AudioSink>) -> SwitchedSink {
        SwitchedSink {
            sink: Some(sink),
            switch: Arc::clone(self),
        }
    }

    /// Plays through `sink` from the next frame on.
    pub fn replace(&self, sink: Box<dyn AudioSink>) {
        *lock(&self.next) = Some(sink);
    }

    /// The sink picked or parked for the next pipeline, if any.
    pub fn take_pending(&self) -> Option<Box<dyn AudioSink>> {
        lock(&self.next).take()
    }

    /// Sets the volume: 0 silent, 1 as received (clamped to 0–2).
    pub fn set_volume(&self, volume: f32) {
        self.volume
            .store(volume.clamp(0.0, 2.0).to_bits(), Ordering::Relaxed);
    }

    /// The volume.
    pub fn volume(&self) -> f32 {
        f32::from_bits(self.volume.load(Ordering::Relaxed))
    }
}

/// An audio sink whose device a [`SpeakerSwitch`] can replace, at its volume.
pub struct SwitchedSink {
    /// Always there until dropped (then parked in the switch).
    sink: Option<Box<dyn AudioSink>>,
    switch: Arc<SpeakerSwitch>,
}

impl Drop for SwitchedSink {
    fn drop(&mut self) {
        let mut next = lock(&self.switch.next);
        if next.is_none() {
            *next = self.sink.take();
        }
    }
}

impl AudioSink for SwitchedSink {
    fn play(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
        if let Some(mut next) = lock(&self.switch.next).take() {
            if let Some(tap) = lock(&self.switch.echo_tap).clone() {
                next.set_echo_tap(tap);
            }
            self.sink = Some(next);
        }
        let sink = self.sink.as_mut().expect("a sink until dropped");
        let volume = self.switch.volume();
        if volume == 1.0 {
            return sink.play(frame);
        }
        let scaled = AudioFrame {
            samples: frame
                .samples
                .iter()
                .map(|&s| (f32::from(s) * volume).clamp(-32_768.0, 32_767.0) as i16)
                .collect(),
            ..frame.clone()
        };
        sink.play(&scaled)
    }

    /// Taps this sink and every one that replaces it.
    fn set_echo_tap(&mut self, tap: EchoTap) {
        if let Some(sink) = &mut self.sink {
            sink.set_echo_tap(tap.clone());
        }
        *lock(&self.switch.echo_tap) = Some(tap);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{TestPattern, read_code};
    use crate::tone::TestTone;

    const SMALL: VideoFormat = VideoFormat {
        width: 320,
        height: 240,
        fps: 100.0,
    };

    #[test]
    fn a_replaced_video_source_delivers_from_the_next_picture_and_blanking_keeps_the_rate() {
        let switch = VideoSwitch::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let tap_seen = Arc::clone(&seen);
        switch.set_tap(Some(Arc::new(move |f: &VideoFrame| {
            tap_seen.lock().unwrap().push(f.width())
        })));
        let mut video = switch.wrap(Box::new(TestPattern::new(SMALL)));
        assert_eq!(video.next_frame().unwrap().width(), 320);
        switch.replace(Box::new(TestPattern::new(VideoFormat {
            width: 160,
            height: 120,
            ..SMALL
        })));
        let picture = video.next_frame().unwrap();
        assert_eq!((picture.width(), picture.height()), (160, 120));
        switch.set_blank(true);
        let black = video.next_frame().unwrap();
        assert!(black.capture_us > 0);
        assert!(read_code(&black).is_none());
        assert!(black.planes().0.iter().all(|&y| y == 16));
        switch.set_blank(false);
        assert!(read_code(&video.next_frame().unwrap()).is_some());
        assert_eq!(*seen.lock().unwrap(), vec![320, 160, 160, 160]);
        // The pipeline ends: the device picked last waits for the next one.
        drop(video);
        let parked = switch.take_pending().expect("the 160x120 source is parked");
        assert_eq!(parked.format().width, 160);
    }

    #[test]
    fn muting_gives_silence_and_a_stereo_replacement_is_mixed_to_mono() {
        struct Stereo;
        impl AudioSource for Stereo {
            fn name(&self) -> String {
                "stereo".into()
            }
            fn channels(&self) -> u16 {
                2
            }
            fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
                Ok(AudioFrame {
                    samples: [100, 300].repeat(crate::FRAME_SAMPLES),
                    channels: 2,
                    capture_us: 1,
                })
            }
        }
        let switch = AudioSwitch::new();
        let mut audio = switch.wrap(Box::new(TestTone::new()));
        assert_eq!(audio.channels(), 1);
        assert!(audio.next_frame().unwrap().samples.iter().any(|&s| s != 0));
        switch.set_muted(true);
        assert!(audio.next_frame().unwrap().samples.iter().all(|&s| s == 0));
        switch.set_muted(false);
        switch.replace(Box::new(Stereo));
        let frame = audio.next_frame().unwrap();
        assert_eq!(frame.channels, 1);
        assert_eq!(frame.samples.len(), crate::FRAME_SAMPLES);
        assert!(frame.samples.iter().all(|&s| s == 200));
    }

    #[test]
    fn the_speaker_plays_at_its_volume_through_the_latest_device() {
        #[derive(Clone, Default)]
        struct Recorder(Arc<Mutex<Vec<i16>>>);
        impl AudioSink for Recorder {
            fn play(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
                self.0.lock().unwrap().push(frame.samples[0]);
                Ok(())
            }
        }
        let (first, second) = (Recorder::default(), Recorder::default());
        let switch = SpeakerSwitch::new();
        let mut sink = switch.wrap(Box::new(first.clone()));
        let frame = AudioFrame {
            samples: vec![1_000; crate::FRAME_SAMPLES],
            channels: 1,
            capture_us: 0,
        };
        sink.play(&frame).unwrap();
        switch.set_volume(0.5);
        sink.play(&frame).unwrap();
        switch.replace(Box::new(second.clone()));
        switch.set_volume(9.0); // clamped to 2
        sink.play(&frame).unwrap();
        assert_eq!(*first.0.lock().unwrap(), vec![1_000, 500]);
        assert_eq!(*second.0.lock().unwrap(), vec![2_000]);
    }

    #[test]
    fn the_echo_tap_follows_the_speaker_to_its_replacement() {
        #[derive(Clone, Default)]
        struct Tapped(Arc<Mutex<Option<EchoTap>>>);
        impl AudioSink for Tapped {
            fn play(&mut self, _: &AudioFrame) -> Result<(), MediaError> {
                Ok(())
            }
            fn set_echo_tap(&mut self, tap: EchoTap) {
                *self.0.lock().unwrap() = Some(tap);
            }
        }
        let (first, second) = (Tapped::default(), Tapped::default());
        let switch = SpeakerSwitch::new();
        let mut sink = switch.wrap(Box::new(first.clone()));
        let (tap, _reference) = crate::echo::echo_reference();
        sink.set_echo_tap(tap);
        assert!(first.0.lock().unwrap().is_some());
        switch.replace(Box::new(second.clone()));
        assert!(
            second.0.lock().unwrap().is_none(),
            "tapped only once it plays"
        );
        sink.play(&AudioFrame::silence(1)).unwrap();
        assert!(second.0.lock().unwrap().is_some());
    }
}
