//! The playout buffer between the audio decoder and the speaker.
//!
//! Pure: time is counted in samples pulled by the device, so it is tested without a
//! sound card or a clock. Invariants:
//! - the buffer aims to hold `target` of audio, between 20 and 60 ms;
//! - an underrun is concealed, never clicked: the output fades from the last sample to
//!   silence over 2.5 ms, and fades back in when audio returns; each underrun raises the
//!   target by 10 ms (up to 60 ms);
//! - 10 s without an underrun lowers the target by 10 ms (down to 20 ms);
//! - past `target + 40 ms` the oldest audio is dropped back to the target, so latency
//!   never creeps up.

use std::collections::VecDeque;

use crate::frame::{AudioFrame, SAMPLE_RATE};

const MS: usize = (SAMPLE_RATE / 1000) as usize;
const MIN_TARGET: usize = 20 * MS;
const MAX_TARGET: usize = 60 * MS;
const STEP: usize = 10 * MS;
const OVERRUN_MARGIN: usize = 40 * MS;
const CALM_BEFORE_SHRINK: usize = 10_000 * MS;
const FADE: usize = 120; // 2.5 ms

/// Counters a stats panel can show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlayoutStats {
    /// Times the buffer ran dry.
    pub underruns: u64,
    /// Samples (per channel) of silence or fade played in place of audio.
    pub concealed_samples: u64,
    /// Samples (per channel) dropped because the buffer overflowed.
    pub dropped_samples: u64,
}

/// An adaptive jitter buffer for decoded audio (interleaved i16, one channel count).
#[derive(Debug)]
pub struct PlayoutBuffer {
    channels: usize,
    queue: VecDeque<i16>,
    /// Target fill, in samples per channel.
    target: usize,
    /// Waiting to fill up to the target before playing (at start and after an underrun).
    priming: bool,
    /// Last frame of samples played (one per channel), for fading out on underrun.
    last: Vec<i16>,
    /// Progress of the current fade-out (0 = none) and fade-in (samples left).
    fade_out: usize,
    fade_in: usize,
    calm: usize,
    stats: PlayoutStats,
}

impl PlayoutBuffer {
    /// An empty buffer for `channels` channels, aiming at 20 ms.
    pub fn new(channels: u16) -> Self {
        let channels = usize::from(channels.max(1));
        Self {
            channels,
            queue: VecDeque::with_capacity((MAX_TARGET + OVERRUN_MARGIN) * channels),
            target: MIN_TARGET,
            priming: true,
            last: vec![0; channels],
            fade_out: 0,
            fade_in: 0,
            calm: 0,
            stats: PlayoutStats::default(),
        }
    }

    /// The current target, in milliseconds.
    pub fn target_ms(&self) -> usize {
        self.target / MS
    }

    /// Audio waiting, in milliseconds.
    pub fn buffered_ms(&self) -> usize {
        self.queue.len() / self.channels / MS
    }

    /// Counters so far.
    pub fn stats(&self) -> PlayoutStats {
        self.stats
    }

    /// Adds decoded audio (frames of another channel count are mixed or duplicated).
    pub fn push(&mut self, frame: &AudioFrame) {
        let from = usize::from(frame.channels.max(1));
        if from == self.channels {
            self.queue.extend(&frame.samples);
        } else {
            for chunk in frame.samples.chunks_exact(from) {
                let mono = (chunk.iter().map(|&s| i32::from(s)).sum::<i32>() / from as i32) as i16;
                self.queue.extend(std::iter::repeat_n(mono, self.channels));
            }
        }
        let limit = (self.target + OVERRUN_MARGIN) * self.channels;
        if self.queue.len() > limit {
            let excess = self.queue.len() - self.target * self.channels;
            self.queue.drain(..excess);
            self.stats.dropped_samples += (excess / self.channels) as u64;
        }
    }

    /// Fills `out` (interleaved) for the device: audio when there is enough, a fade to
    /// silence when there is not.
    pub fn pull(&mut self, out: &mut [i16]) {
        let frames = out.len() / self.channels;
        if self.priming && self.queue.len() >= self.target * self.channels {
            self.priming = false;
            self.fade_in = FADE;
        }
        for frame in out.chunks_exact_mut(self.channels) {
            if !self.priming && self.queue.len() >= self.channels {
                let gain = if self.fade_in > 0 {
                    self.fade_in -= 1;
                    (FADE - self.fade_in) as f32 / FADE as f32
                } else {
                    1.0
                };
                for (o, last) in frame.iter_mut().zip(self.last.iter_mut()) {
                    let s = self.queue.pop_front().unwrap_or(0);
                    *o = (f32::from(s) * gain) as i16;
                    *last = *o;
                }
                self.fade_out = 0;
            } else {
                if !self.priming {
                    // Ran dry: conceal, and aim higher from now on.
                    self.priming = true;
                    self.stats.underruns += 1;
                    self.target = (self.target + STEP).min(MAX_TARGET);
                    self.calm = 0;
                }
                let gain = FADE.saturating_sub(self.fade_out) as f32 / FADE as f32;
                self.fade_out = (self.fade_out + 1).min(FADE);
                for (o, last) in frame.iter_mut().zip(&self.last) {
                    *o = (f32::from(*last) * gain) as i16;
                }
                self.stats.concealed_samples += 1;
            }
        }
        self.calm += frames;
        if self.calm >= CALM_BEFORE_SHRINK && self.target > MIN_TARGET {
            self.target -= STEP;
            self.calm = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FRAME_SAMPLES;
    use crate::tone::ToneGenerator;

    const DEVICE: usize = 480; // a 10 ms device period

    fn largest_step(samples: &[i16]) -> i32 {
        samples
            .windows(2)
            .map(|w| (i32::from(w[1]) - i32::from(w[0])).abs())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn steady_audio_plays_with_latency_near_the_target() {
        let mut b = PlayoutBuffer::new(1);
        let mut tone = ToneGenerator::new();
        let mut out = vec![0; DEVICE];
        for _ in 0..500 {
            // 20 ms in, 2 x 10 ms out.
            b.push(&tone.next_frame(0));
            b.pull(&mut out);
            b.pull(&mut out);
            assert!(b.buffered_ms() <= 30, "{} ms buffered", b.buffered_ms());
        }
        assert_eq!(b.stats().underruns, 0);
        assert_eq!(b.target_ms(), 20);
    }

    #[test]
    fn an_underrun_fades_out_without_a_click_and_raises_the_target() {
        let mut b = PlayoutBuffer::new(1);
        // A plain 440 Hz sine at 0.3 of full scale.
        let sine = |frame: usize| AudioFrame {
            samples: (0..FRAME_SAMPLES)
                .map(|i| {
                    let t = (frame * FRAME_SAMPLES + i) as f32 / 48_000.0;
                    ((std::f32::consts::TAU * 440.0 * t).sin() * 9_830.0) as i16
                })
                .collect(),
            channels: 1,
            capture_us: 0,
        };
        let mut played = Vec::new();
        let mut out = vec![0; DEVICE];
        for i in 0..60 {
            if !(20..25).contains(&i) {
                b.push(&sine(i)); // 100 ms of loss in the middle
            }
            b.pull(&mut out);
            played.extend_from_slice(&out);
            b.pull(&mut out);
            played.extend_from_slice(&out);
        }
        assert!(b.stats().underruns >= 1);
        assert!(b.target_ms() > 20 && b.target_ms() <= 60);
        // A 440 Hz tone at 0.3 full scale moves at most ~570 per sample; a click would
        // jump by thousands.
        assert!(
            largest_step(&played) < 1_500,
            "step {}",
            largest_step(&played)
        );
        assert!(b.stats().concealed_samples > 0);
    }

    #[test]
    fn repeated_underruns_never_push_the_target_past_60_ms() {
        let mut b = PlayoutBuffer::new(1);
        let mut out = vec![0; DEVICE * 20];
        for _ in 0..20 {
            b.push(&AudioFrame::silence(1));
            b.pull(&mut out);
        }
        assert_eq!(b.target_ms(), 60);
    }

    #[test]
    fn a_burst_is_trimmed_so_latency_does_not_creep_up() {
        let mut b = PlayoutBuffer::new(1);
        let mut tone = ToneGenerator::new();
        for _ in 0..50 {
            b.push(&tone.next_frame(0)); // a second arriving at once
        }
        assert!(b.buffered_ms() <= 20 + 40, "{} ms", b.buffered_ms());
        assert!(b.stats().dropped_samples > 0);
    }

    #[test]
    fn ten_calm_seconds_bring_the_target_back_down() {
        let mut b = PlayoutBuffer::new(1);
        let mut out = vec![0; DEVICE];
        b.pull(&mut out); // starts primed: no audio yet is not an underrun
        for _ in 0..3 {
            // Three underruns: 20 -> 50 ms.
            b.push(&AudioFrame::silence(1));
            b.push(&AudioFrame::silence(1));
            b.push(&AudioFrame::silence(1));
            for _ in 0..12 {
                b.pull(&mut out);
            }
        }
        let raised = b.target_ms();
        assert!(raised > 20);
        let mut tone = ToneGenerator::new();
        for _ in 0..(10_500 / 20) {
            b.push(&tone.next_frame(0));
            b.pull(&mut out);
            b.pull(&mut out);
        }
        assert_eq!(b.target_ms(), raised - 10);
    }

    #[test]
    fn mono_frames_play_on_a_stereo_device() {
        let mut b = PlayoutBuffer::new(2);
        let mut tone = ToneGenerator::new();
        b.push(&tone.next_frame(0));
        let mut out = vec![0; FRAME_SAMPLES * 2];
        b.pull(&mut out);
        assert!(out.chunks_exact(2).all(|lr| lr[0] == lr[1]));
        assert!(out.iter().any(|&s| s != 0));
    }
}
