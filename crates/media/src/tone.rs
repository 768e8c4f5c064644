//! The test tone: a synthetic microphone whose sound carries timing marks with a
//! counter, and the detector that finds them again after a codec and a network.
//!
//! The tone is a 440 Hz sine. Every [`MARK_PERIOD`] samples (200 ms) a 20 ms mark
//! replaces it: a sine at `1000 + 150·k` Hz where `k` is the mark's number modulo 16,
//! faded in and out over 1 ms so there are no clicks. Marks survive Opus at VoIP
//! bitrates (everything sits below 3.5 kHz), give audio latency and A/V sync to a
//! millisecond, and their counter shows loss and order.
//!
//! [`MarkDetector`] runs Goertzel filters over 10 ms windows every 1 ms.

use std::f32::consts::TAU;
use std::time::{Duration, Instant};

use crate::MediaError;
use crate::frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE, now_us};
use crate::source::AudioSource;

/// Samples from one mark's start to the next (200 ms).
pub const MARK_PERIOD: u64 = 10 * FRAME_SAMPLES as u64;
/// Samples in one mark (20 ms).
pub const MARK_LEN: u64 = FRAME_SAMPLES as u64;
/// Frequency of the tone between marks.
pub const BASE_HZ: f32 = 440.0;
/// Distinct mark frequencies (the counter runs modulo this).
pub const MARK_SYMBOLS: u8 = 16;
const AMPLITUDE: f32 = 0.3 * i16::MAX as f32;
const FADE: u64 = 48; // 1 ms

/// Frequency of the mark with counter `k`.
pub fn mark_hz(k: u8) -> f32 {
    1000.0 + 150.0 * f32::from(k % MARK_SYMBOLS)
}

/// The tone's sample at absolute sample index `t` (pure).
pub fn sample_at(t: u64) -> i16 {
    let in_mark = t % MARK_PERIOD;
    let seconds = (t % (u64::from(SAMPLE_RATE) * 100)) as f32 / SAMPLE_RATE as f32;
    let value = if in_mark < MARK_LEN {
        let k = ((t / MARK_PERIOD) % u64::from(MARK_SYMBOLS)) as u8;
        let fade = (in_mark.min(MARK_LEN - 1 - in_mark) as f32 / FADE as f32).min(1.0);
        fade * (TAU * mark_hz(k) * seconds).sin()
    } else {
        (TAU * BASE_HZ * seconds).sin()
    };
    (value * AMPLITUDE) as i16
}

/// Generates the tone frame by frame (pure apart from the stamps it is given).
#[derive(Debug, Clone, Default)]
pub struct ToneGenerator {
    next_sample: u64,
}

impl ToneGenerator {
    /// A generator at sample 0 (mark 0 starts the first frame).
    pub fn new() -> Self {
        Self::default()
    }

    /// The next 20 ms, mono, stamped `capture_us`.
    pub fn next_frame(&mut self, capture_us: u64) -> AudioFrame {
        let start = self.next_sample;
        self.next_sample += FRAME_SAMPLES as u64;
        AudioFrame {
            samples: (start..self.next_sample).map(sample_at).collect(),
            channels: 1,
            capture_us,
        }
    }
}

/// The test tone as an [`AudioSource`]: mono, real-time paced, 20 ms frames.
#[derive(Debug, Default)]
pub struct TestTone {
    generator: ToneGenerator,
    started: Option<Instant>,
    frames: u32,
}

impl TestTone {
    /// A tone source starting with mark 0.
    pub fn new() -> Self {
        Self::default()
    }
}

impl AudioSource for TestTone {
    fn name(&self) -> String {
        "Test tone".into()
    }

    fn channels(&self) -> u16 {
        1
    }

    fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
        let started = *self.started.get_or_insert_with(Instant::now);
        let due = started + Duration::from_millis(20) * self.frames;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        self.frames += 1;
        Ok(self.generator.next_frame(now_us()))
    }
}

/// A timing mark found in received audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The mark's counter (its number modulo [`MARK_SYMBOLS`]).
    pub counter: u8,
    /// Index, in the samples fed to the detector, where the mark starts (±1 ms).
    pub sample: u64,
}

/// Finds timing marks in a stream of mono 48 kHz samples fed in any chunk sizes.
#[derive(Debug)]
pub struct MarkDetector {
    pending: Vec<f32>,
    /// Absolute index of `pending[0]`.
    offset: u64,
    /// The run of windows that see the same mark: first and last window start, counter.
    run: Option<(u64, u64, u8)>,
    coefficients: Vec<f32>,
}

const WINDOW: usize = 480; // 10 ms
const HOP: usize = 48; // 1 ms

impl Default for MarkDetector {
    fn default() -> Self {
        let mut coefficients: Vec<f32> = (0..MARK_SYMBOLS).map(mark_hz).collect();
        coefficients.push(BASE_HZ);
        let coefficients = coefficients
            .into_iter()
            .map(|hz| 2.0 * (TAU * hz / SAMPLE_RATE as f32).cos())
            .collect();
        Self {
            pending: Vec::new(),
            offset: 0,
            run: None,
            coefficients,
        }
    }
}

impl MarkDetector {
    /// A detector at sample 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds samples; returns the marks that ended within them.
    ///
    /// A window sees a mark while the mark fills at least about half of it, so the
    /// windows that see it are centred on the mark: its start is the run's midpoint
    /// less half a mark plus half a window.
    pub fn push(&mut self, samples: &[i16]) -> Vec<Mark> {
        self.pending.extend(samples.iter().map(|&s| f32::from(s)));
        let mut found = Vec::new();
        let mut start = 0;
        while start + WINDOW <= self.pending.len() {
            let at = self.offset + start as u64;
            let seen = self.classify(&self.pending[start..start + WINDOW]);
            self.run = match (self.run, seen) {
                (Some((first, _, k)), Some(c)) if c == k => Some((first, at, k)),
                (run, seen) => {
                    if let Some((first, last, counter)) = run {
                        let mid = (first + last) / 2;
                        let sample = (mid + WINDOW as u64 / 2).saturating_sub(MARK_LEN / 2);
                        found.push(Mark { counter, sample });
                    }
                    seen.map(|c| (at, at, c))
                }
            };
            start += HOP;
        }
        self.pending.drain(..start);
        self.offset += start as u64;
        found
    }

    /// The mark counter if one mark frequency dominates this window.
    fn classify(&self, window: &[f32]) -> Option<u8> {
        let (&base_coefficient, mark_coefficients) = self.coefficients.split_last()?;
        // A tone filling the window has a Goertzel power of N/2 times the window's
        // energy. A window that is more than ~70% base tone (or silent) cannot hold a
        // dominant mark: skip the sixteen mark bins (nine windows in ten).
        let base = goertzel_power(window, base_coefficient);
        let energy: f32 = window.iter().map(|x| x * x).sum();
        if base > 0.5 * energy * WINDOW as f32 / 2.0 || energy == 0.0 {
            return None;
        }
        let marks: Vec<f32> = mark_coefficients
            .iter()
            .map(|&c| goertzel_power(window, c))
            .collect();
        let base = &base;
        let (k, best) = marks.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
        let second = marks
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != k)
            .map(|(_, p)| *p)
            .fold(0.0, f32::max);
        // Loud enough (over ~1/3 of full mark energy), clearly one symbol, not the base tone.
        let floor = (AMPLITUDE * WINDOW as f32 / 2.0).powi(2) / 16.0;
        (*best > floor && *best > 4.0 * second && *best > *base).then_some(k as u8)
    }
}

/// Power of one frequency bin over `window` (Goertzel, coefficient `2 cos ω`).
fn goertzel_power(window: &[f32], coefficient: f32) -> f32 {
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in window {
        let s0 = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coefficient * s1 * s2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_found_at_their_place_with_their_counter() {
        let mut g = ToneGenerator::new();
        let mut d = MarkDetector::new();
        let mut marks = Vec::new();
        for _ in 0..100 {
            // 2 s, fed in odd chunk sizes.
            let f = g.next_frame(0);
            for chunk in f.samples.chunks(337) {
                marks.extend(d.push(chunk));
            }
        }
        assert_eq!(marks.len(), 10, "{marks:?}");
        for (i, m) in marks.iter().enumerate() {
            assert_eq!(m.counter, i as u8);
            let expected = i as u64 * MARK_PERIOD;
            // Mark 0 is cut by the start of the stream: its run is one-sided.
            let tolerance = if i == 0 { 160 } else { 48 };
            assert!(
                m.sample.abs_diff(expected) <= tolerance,
                "mark {i} at {} vs {expected}",
                m.sample
            );
        }
    }

    #[test]
    fn silence_and_the_base_tone_have_no_marks() {
        let mut d = MarkDetector::new();
        assert!(d.push(&[0; 48_000]).is_empty());
        let base: Vec<i16> = (0..48_000)
            .map(|t| ((TAU * BASE_HZ * t as f32 / 48_000.0).sin() * AMPLITUDE) as i16)
            .collect();
        assert!(d.push(&base).is_empty());
    }

    #[test]
    fn the_counter_wraps_after_sixteen_marks() {
        assert_eq!(mark_hz(16), mark_hz(0));
        assert!(mark_hz(15) < 3500.0);
    }
}
