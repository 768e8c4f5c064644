//! Audio processing on the microphone path: echo cancellation (AEC3), noise
//! suppression, automatic gain control (AGC2) and a high-pass filter, as browsers do
//! it, through `sonora` (a Rust port of WebRTC's audio processing module).
//!
//! [`AudioProcessor`] takes the far end as the speaker plays it ([`AudioProcessor::render`])
//! and cleans the near end before it is encoded ([`AudioProcessor::capture`]). It works
//! on 10 ms mono frames at 48 kHz: our 20 ms frames are split in two, stereo is mixed to
//! mono (and the result written to every channel). The render-to-capture delay is
//! estimated by the canceller itself; a hint ([`AudioProcessor::set_delay_hint`]: the
//! speaker's and the microphone's latencies as their devices report them, when both do)
//! sets where its search starts, and the estimator corrects a hint that is wrong.
//! It measures the echo suppression it achieves from its own input and output
//! ([`ProcessingStats::echo_suppression_db`]) rather than trusting the library's figure.
//!
//! The far end reaches the processor through an [`echo_reference`](crate::echo::echo_reference)
//! pair: [`ProcessedAudio`], the microphone source wrapped with its processor, renders what
//! the speaker played before it processes each captured frame.
//!
//! sonora was chosen by measurement over `webrtc-audio-processing` 0.5 (Debian's
//! WebRTC audio processing 0.3, the older AEC): the same simulated rooms, the table in
//! `docs/performance.md`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::MediaError;
use crate::echo::{CHUNK_SAMPLES, EchoReference, mix_to_mono};
use crate::frame::{AudioFrame, FRAME_SAMPLES, SAMPLE_RATE};
use crate::source::AudioSource;

/// Far-end frames quieter than this (mean square, full scale 1.0; about −50 dBFS) carry
/// no echo worth measuring.
const FAR_END_ACTIVE: f64 = 1e-5;

/// How fast the echo-suppression figure follows (per 10 ms frame): about a second.
const METER_SMOOTHING: f64 = 0.01;

/// Captured frames between refreshes of the shared statistics (a second).
const STATS_EVERY: u32 = 50;

/// How far the canceller's delay estimate may lie beyond the devices' reported
/// render-to-capture latency before it is taken for an alias, ms. A periodic far end (the
/// test tone, a ringtone, hold music) looks alike one period apart, and after a change
/// in the echo path AEC3's estimator can lock on a whole period late; the echo then
/// leaks wherever the far end is not periodic.
const ALIAS_MARGIN_MS: u32 = 100;

/// Times a call the canceller is restarted from the devices' figure at most: if its
/// estimate keeps disagreeing, it is the devices' figure that is wrong, and the
/// canceller's own estimate is trusted from then on.
const MAX_REALIGNMENTS: u8 = 3;

/// 10 ms chunks between checks of the canceller's delay estimate (half a second).
const ALIAS_CHECK_CHUNKS: u32 = 50;

/// Captured frames the devices' latency must hold within [`SETTLED_WITHIN`] before it is
/// given as a hint (half a second): a sound server reports a capture backlog of a few
/// hundred ms for the first second of a stream, and a wrong hint is worse than none.
const SETTLED_FRAMES: u32 = 25;

/// How much the devices' latency may wander and still count as steady.
const SETTLED_WITHIN: Duration = Duration::from_millis(5);

/// Which stages run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Processing {
    /// Echo cancellation (AEC3), fed with what the speaker plays.
    pub echo_cancellation: bool,
    /// Noise suppression.
    pub noise_suppression: bool,
    /// Automatic gain control.
    pub gain_control: bool,
}

impl Processing {
    /// Every stage on: a real microphone with a real speaker.
    pub const ALL: Processing = Processing {
        echo_cancellation: true,
        noise_suppression: true,
        gain_control: true,
    };

    /// Whether any stage runs.
    pub fn any(&self) -> bool {
        self.echo_cancellation || self.noise_suppression || self.gain_control
    }
}

/// What the processor reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessingStats {
    /// The stages running.
    pub stages: Processing,
    /// The render-to-capture delay in use, ms: the devices' latencies when they report
    /// them (the hint), else the canceller's estimate.
    pub delay_ms: Option<u32>,
    /// The canceller's own estimate, ms, of the delay beyond the far end it holds
    /// buffered (0 when the hint, or its buffering, already lines the two up).
    pub estimated_delay_ms: Option<u32>,
    /// How much quieter the near end comes out than it went in while the far end
    /// plays, dB (the echo removed, measured from the signals).
    pub echo_suppression_db: Option<f64>,
}

/// The microphone path's processing (see the module doc).
pub struct AudioProcessor {
    apm: sonora::AudioProcessing,
    processing: Processing,
    delay_hint: Option<Duration>,
    /// Whether the far end was playing in the last render chunk.
    far_active: bool,
    /// Smoothed mean squares of the capture input and output while the far end plays.
    echo_in: Option<f64>,
    echo_out: f64,
    input: Vec<f32>,
    output: Vec<f32>,
    /// Captured chunks since the last check of the delay estimate.
    chunks_since_check: u32,
    /// Restarts made because the estimate lay far beyond the devices' latency.
    realignments: u8,
}

impl std::fmt::Debug for AudioProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioProcessor")
            .field("processing", &self.processing)
            .field("delay_hint", &self.delay_hint)
            .finish_non_exhaustive()
    }
}

impl AudioProcessor {
    /// A processor running the `processing` stages.
    pub fn new(processing: Processing) -> Self {
        let stream = sonora::StreamConfig::new(SAMPLE_RATE, 1);
        Self {
            apm: sonora::AudioProcessing::builder()
                .config(config(processing))
                .capture_config(stream)
                .render_config(stream)
                .build(),
            processing,
            delay_hint: None,
            far_active: false,
            echo_in: None,
            echo_out: 0.0,
            input: vec![0.0; CHUNK_SAMPLES],
            output: vec![0.0; CHUNK_SAMPLES],
            chunks_since_check: 0,
            realignments: 0,
        }
    }

    /// The stages that run.
    pub fn processing(&self) -> Processing {
        self.processing
    }

    /// Runs `processing` from the next frame on (the echo canceller, when it comes on,
    /// converges again).
    pub fn set_processing(&mut self, processing: Processing) {
        if processing != self.processing {
            self.apm.apply_config(config(processing));
            self.processing = processing;
            self.echo_in = None;
            self.echo_out = 0.0;
        }
    }

    /// The render-to-capture delay, when the device latencies tell it (`None`: the
    /// canceller finds it).
    pub fn set_delay_hint(&mut self, hint: Option<Duration>) {
        self.delay_hint = hint;
    }

    /// The far end, as handed to the speaker.
    pub fn render(&mut self, frame: &AudioFrame) {
        for chunk in frame_chunks(frame) {
            mix_to_mono(chunk, frame.channels, &mut self.input);
            self.render_input();
        }
    }

    /// 10 ms of far end, mono, full scale 1.0.
    fn render_chunk(&mut self, chunk: &[f32]) {
        self.input.copy_from_slice(chunk);
        self.render_input();
    }

    fn render_input(&mut self) {
        self.far_active = mean_square(&self.input) > FAR_END_ACTIVE;
        // The render path's output is not played (the speaker has its own copy).
        let _ = self
            .apm
            .process_render_f32(&[&self.input], &mut [&mut self.output]);
    }

    /// The near end, processed in place (left as it is when no stage runs).
    pub fn capture(&mut self, frame: &mut AudioFrame) {
        if !self.processing.any() {
            return;
        }
        let channels = usize::from(frame.channels.max(1));
        for chunk in frame.samples.chunks_exact_mut(CHUNK_SAMPLES * channels) {
            mix_to_mono(chunk, frame.channels, &mut self.input);
            if let Some(hint) = self.delay_hint {
                let ms = i32::try_from(hint.as_millis()).unwrap_or(i32::MAX);
                // Out of range is clamped, and processing goes on.
                let _ = self.apm.set_stream_delay_ms(ms);
            }
            if self
                .apm
                .process_capture_f32(&[&self.input], &mut [&mut self.output])
                .is_err()
            {
                tracing::debug!("audio processing refused a frame; it goes out unprocessed");
                continue;
            }
            if self.far_active {
                self.meter(mean_square(&self.input), mean_square(&self.output));
            }
            for (samples, value) in chunk.chunks_exact_mut(channels).zip(&self.output) {
                samples.fill(to_i16(*value));
            }
            self.check_alignment();
        }
    }

    /// Restarts the canceller from the devices' latency when its own estimate lies far
    /// beyond it (see [`ALIAS_MARGIN_MS`]), a few times a call at most.
    fn check_alignment(&mut self) {
        self.chunks_since_check += 1;
        if self.chunks_since_check < ALIAS_CHECK_CHUNKS || !self.processing.echo_cancellation {
            return;
        }
        self.chunks_since_check = 0;
        let (Some(hint), Some(estimate)) = (self.delay_hint, self.apm.statistics().delay_ms) else {
            return;
        };
        let devices_ms = u32::try_from(hint.as_millis()).unwrap_or(u32::MAX);
        let estimate_ms = u32::try_from(estimate).unwrap_or(0);
        if estimate_ms <= devices_ms.saturating_add(ALIAS_MARGIN_MS)
            || self.realignments >= MAX_REALIGNMENTS
        {
            return;
        }
        self.realignments += 1;
        if self.realignments == MAX_REALIGNMENTS {
            tracing::warn!(
                estimate_ms,
                devices_ms,
                "the echo canceller keeps finding a delay far beyond what the audio devices \
                 report: restarting it a last time, then trusting its own estimate"
            );
        } else {
            tracing::info!(
                estimate_ms,
                devices_ms,
                "the echo canceller's delay estimate lies far beyond what the audio devices \
                 report (a repeating far end can fool it): restarting it from the devices' figure"
            );
        }
        let stream = sonora::StreamConfig::new(SAMPLE_RATE, 1);
        self.apm.initialize(stream, stream, stream, stream);
        self.echo_in = None;
        self.echo_out = 0.0;
    }

    fn meter(&mut self, input: f64, output: f64) {
        let previous = self.echo_in.unwrap_or(input);
        self.echo_in = Some(previous + (input - previous) * METER_SMOOTHING);
        self.echo_out += (output - self.echo_out) * METER_SMOOTHING;
    }

    /// The delay in use and the echo suppression measured so far.
    pub fn stats(&mut self) -> ProcessingStats {
        let estimate = self
            .apm
            .statistics()
            .delay_ms
            .and_then(|ms| u32::try_from(ms).ok())
            .filter(|_| self.processing.echo_cancellation);
        ProcessingStats {
            stages: self.processing,
            delay_ms: match self.delay_hint {
                Some(hint) => u32::try_from(hint.as_millis()).ok(),
                None => estimate,
            },
            estimated_delay_ms: estimate,
            echo_suppression_db: self
                .echo_in
                .filter(|_| self.processing.echo_cancellation)
                .map(|input| 10.0 * ((input + 1e-12) / (self.echo_out + 1e-12)).log10()),
        }
    }
}

/// The UI's handle on a running microphone path: which stages run (shared: clones are
/// the same). A change takes effect at the next frame, on the capture thread.
#[derive(Debug, Default)]
pub struct ProcessingSwitch {
    next: Mutex<Option<Processing>>,
}

impl ProcessingSwitch {
    /// A new handle, shared.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Runs `processing` from the next frame on.
    pub fn set(&self, processing: Processing) {
        *self.next.lock().unwrap_or_else(PoisonError::into_inner) = Some(processing);
    }

    fn take(&self) -> Option<Processing> {
        self.next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// A microphone (or any source) with its processing: the far end it is given through
/// an [`EchoReference`] is rendered, then each captured frame is processed.
pub struct ProcessedAudio {
    source: Box<dyn AudioSource>,
    processor: AudioProcessor,
    latency: SettledLatency,
    reference: Option<EchoReference>,
    switch: Option<Arc<ProcessingSwitch>>,
    stats: Arc<Mutex<ProcessingStats>>,
    frames: u32,
}

impl ProcessedAudio {
    /// `source` processed as `processing` says, with the far end from `reference` (without
    /// one, echo cancellation has nothing to cancel).
    pub fn new(
        source: Box<dyn AudioSource>,
        processing: Processing,
        reference: Option<EchoReference>,
    ) -> Self {
        Self {
            source,
            processor: AudioProcessor::new(processing),
            latency: SettledLatency::default(),
            reference,
            switch: None,
            stats: Arc::new(Mutex::new(ProcessingStats {
                stages: processing,
                ..ProcessingStats::default()
            })),
            frames: 0,
        }
    }

    /// Takes the stages to run from `switch` while it runs.
    pub fn with_switch(mut self, switch: Arc<ProcessingSwitch>) -> Self {
        self.switch = Some(switch);
        self
    }

    /// The processing's figures, refreshed about once a second while it runs.
    pub fn stats(&self) -> Arc<Mutex<ProcessingStats>> {
        Arc::clone(&self.stats)
    }
}

impl AudioSource for ProcessedAudio {
    fn name(&self) -> String {
        self.source.name()
    }

    fn channels(&self) -> u16 {
        self.source.channels()
    }

    fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
        let mut frame = self.source.next_frame()?;
        let render = self.reference.as_ref().and_then(|r| r.render_latency());
        let capture = self.source.capture_latency();
        let devices = render
            .zip(capture)
            .map(|(render, capture)| render + capture);
        self.processor.set_delay_hint(self.latency.update(devices));
        let changed = self.switch.as_ref().and_then(|switch| switch.take());
        if let Some(processing) = changed {
            self.processor.set_processing(processing);
        }
        if let Some(reference) = &mut self.reference {
            reference.collect();
            if self.processor.processing().echo_cancellation {
                while let Some(chunk) = reference.next_chunk() {
                    self.processor.render_chunk(chunk);
                }
            } else {
                // Nothing to cancel: keep the queue moving, never stale.
                reference.clear();
            }
        }
        self.processor.capture(&mut frame);
        self.frames += 1;
        if changed.is_some() || self.frames % STATS_EVERY == 0 {
            let stats = self.processor.stats();
            *self.stats.lock().unwrap_or_else(PoisonError::into_inner) = stats;
        }
        Ok(frame)
    }
}

/// The devices' render-to-capture latency, once it has held steady.
#[derive(Debug, Default)]
struct SettledLatency {
    last: Option<Duration>,
    steady_frames: u32,
}

impl SettledLatency {
    /// Takes the latency the devices report with a frame; the hint to give, if any.
    fn update(&mut self, reported: Option<Duration>) -> Option<Duration> {
        let steady = match (self.last, reported) {
            (Some(last), Some(now)) => last.abs_diff(now) <= SETTLED_WITHIN,
            _ => false,
        };
        self.steady_frames = if steady { self.steady_frames + 1 } else { 0 };
        if !steady {
            self.last = reported;
        }
        reported.filter(|_| self.steady_frames >= SETTLED_FRAMES)
    }
}

/// The sonora configuration for `processing` (the high-pass filter always, as browsers).
fn config(processing: Processing) -> sonora::Config {
    use sonora::config::{
        AdaptiveDigital, EchoCanceller, GainController2, HighPassFilter, NoiseSuppression,
    };
    sonora::Config {
        high_pass_filter: Some(HighPassFilter::default()),
        echo_canceller: processing.echo_cancellation.then(EchoCanceller::default),
        noise_suppression: processing.noise_suppression.then(NoiseSuppression::default),
        gain_controller2: processing.gain_control.then(|| GainController2 {
            // Start at unity, not the default +15 dB: until speech is heard there is
            // nothing to raise, and raising what the echo canceller left would undo part
            // of its work.
            adaptive_digital: Some(AdaptiveDigital {
                initial_gain_db: 0.0,
                ..AdaptiveDigital::default()
            }),
            ..GainController2::default()
        }),
        ..sonora::Config::default()
    }
}

/// A frame's samples in 10 ms chunks (interleaved).
fn frame_chunks(frame: &AudioFrame) -> std::slice::ChunksExact<'_, i16> {
    let channels = usize::from(frame.channels.max(1));
    debug_assert_eq!(frame.samples.len(), FRAME_SAMPLES * channels);
    frame.samples.chunks_exact(CHUNK_SAMPLES * channels)
}

fn to_i16(value: f32) -> i16 {
    (value * 32_768.0).round().clamp(-32_768.0, 32_767.0) as i16
}

fn mean_square(samples: &[f32]) -> f64 {
    samples.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>() / samples.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    //! A simulated room: speech-like far-end and near-end signals (noise through two
    //! resonances, in syllable-rate bursts), the far end played through a delay and a
    //! decaying 50 ms impulse response into the microphone. What comes out is measured
    //! from the signals.

    use super::*;
    use crate::echo::echo_reference;

    const SECONDS: usize = 8;
    /// Convergence time left out of the measurements.
    const SETTLE: usize = 3 * SAMPLE_RATE as usize;

    /// A small deterministic noise generator (xorshift).
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        }
    }

    /// Speech-like: noise through resonances at `formants` Hz, in bursts, at `rms`.
    fn speech(seed: u64, formants: (f32, f32), rms: f32) -> Vec<f32> {
        let n = SECONDS * SAMPLE_RATE as usize;
        let mut noise = Noise(seed);
        let resonator = |f: f32| {
            let (r, w) = (0.995f32, std::f32::consts::TAU * f / SAMPLE_RATE as f32);
            (2.0 * r * w.cos(), -r * r)
        };
        let (a, b) = (resonator(formants.0), resonator(formants.1));
        let (mut y, mut z) = ([0.0f32; 2], [0.0f32; 2]);
        let mut out: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f32 / SAMPLE_RATE as f32;
                let syllables = (std::f32::consts::TAU * 3.7 * t + seed as f32).sin() * 0.5 + 0.5;
                let x = noise.next();
                let yn = x + a.0 * y[0] + a.1 * y[1];
                let zn = x + b.0 * z[0] + b.1 * z[1];
                (y, z) = ([yn, y[0]], [zn, z[0]]);
                (yn + 0.6 * zn) * syllables * syllables
            })
            .collect();
        let scale = rms / mean_square(&out).sqrt() as f32;
        out.iter_mut().for_each(|s| *s *= scale);
        out
    }

    /// `far` through the room: `delay_ms(n)` at sample n, then a 50 ms decaying
    /// response `gain_db` below the direct sound's level.
    fn room(far: &[f32], delay_ms: impl Fn(usize) -> usize, gain_db: f32) -> Vec<f32> {
        let mut noise = Noise(99);
        let len = SAMPLE_RATE as usize / 20;
        let mut response: Vec<f32> = (0..len)
            .map(|k| noise.next() * (-(k as f32) * 6.0 / len as f32).exp() * 0.3)
            .collect();
        response[0] = 1.0;
        let norm = response.iter().map(|h| h * h).sum::<f32>().sqrt();
        let gain = 10f32.powf(gain_db / 20.0) / norm;
        // Only the strongest taps matter for the test, and keep it quick.
        let taps: Vec<(usize, f32)> = response
            .iter()
            .enumerate()
            .filter(|(k, h)| *k == 0 || h.abs() > 0.05)
            .map(|(k, h)| (k, h * gain))
            .collect();
        (0..far.len())
            .map(|n| {
                let start = n as isize - (delay_ms(n) * SAMPLE_RATE as usize / 1000) as isize;
                taps.iter()
                    .filter_map(|(k, h)| {
                        usize::try_from(start - *k as isize)
                            .ok()
                            .map(|i| h * far[i])
                    })
                    .sum()
            })
            .collect()
    }

    fn frames(signal: &[f32]) -> impl Iterator<Item = AudioFrame> + '_ {
        signal.chunks_exact(FRAME_SAMPLES).map(|chunk| AudioFrame {
            samples: chunk.iter().map(|s| to_i16(*s)).collect(),
            channels: 1,
            capture_us: 0,
        })
    }

    /// Runs `far` (rendered) and `mic` (captured) through `processor`: what comes out.
    fn run(processor: &mut AudioProcessor, far: &[f32], mic: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(mic.len());
        for (far, mut mic) in frames(far).zip(frames(mic)) {
            processor.render(&far);
            processor.capture(&mut mic);
            out.extend(mic.samples.iter().map(|s| f32::from(*s) / 32_768.0));
        }
        out
    }

    fn db(x: &[f32]) -> f64 {
        10.0 * (mean_square(x) + 1e-12).log10()
    }

    fn echo_only() -> Processing {
        Processing {
            echo_cancellation: true,
            noise_suppression: false,
            gain_control: false,
        }
    }

    /// Correlation of 10 ms energy envelopes, best over the processing's own delay (up
    /// to 20 ms): is the near end still recognisable?
    fn envelope_correlation(out: &[f32], clean: &[f32]) -> f64 {
        let envelope = |x: &[f32]| -> Vec<f64> {
            x.chunks_exact(CHUNK_SAMPLES)
                .map(|c| mean_square(c).sqrt())
                .collect()
        };
        let (a, b) = (envelope(out), envelope(clean));
        (0..=2)
            .map(|lag| correlation(&a[lag..], &b[..b.len() - lag]))
            .fold(f64::MIN, f64::max)
    }

    fn correlation(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len().min(b.len()) as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
        for (x, y) in a.iter().zip(b) {
            ab += (x - ma) * (y - mb);
            aa += (x - ma).powi(2);
            bb += (y - mb).powi(2);
        }
        ab / (aa * bb).sqrt()
    }

    /// Like [`run`], with the hint the devices would give before each frame, and the
    /// canceller's delay estimate every half second.
    fn run_hinted(
        processor: &mut AudioProcessor,
        far: &[f32],
        mic: &[f32],
        hint_ms: impl Fn(usize) -> u64,
    ) -> (Vec<f32>, Vec<u32>) {
        let (mut out, mut estimates) = (Vec::with_capacity(mic.len()), Vec::new());
        for (n, (far, mut mic)) in frames(far).zip(frames(mic)).enumerate() {
            processor.set_delay_hint(Some(Duration::from_millis(hint_ms(n * FRAME_SAMPLES))));
            processor.render(&far);
            processor.capture(&mut mic);
            out.extend(mic.samples.iter().map(|s| f32::from(*s) / 32_768.0));
            if n % 25 == 24 {
                estimates.extend(processor.stats().estimated_delay_ms);
            }
        }
        (out, estimates)
    }

    #[test]
    fn a_repeating_far_end_that_fools_the_delay_estimator_is_realigned_from_the_devices_latency() {
        // The test tone repeats every 200 ms but for its marks. The echo path shortens
        // from 130 to 30 ms at 3 s (a device's buffer drained).
        let far: Vec<f32> = (0..(12 * SAMPLE_RATE) as u64)
            .map(|t| f32::from(crate::tone::sample_at(t)) / 32_768.0)
            .collect();
        let change = 3 * SAMPLE_RATE as usize;
        let delay = |n: usize| if n < change { 130 } else { 30 };
        let mic = room(&far, delay, 0.0);
        // Left to itself, the estimator locks a whole period (or two) late.
        let unguarded = {
            let mut processor = AudioProcessor::new(echo_only());
            let mut estimates = Vec::new();
            for (n, (f, mut m)) in frames(&far).zip(frames(&mic)).enumerate() {
                processor.render(&f);
                processor.capture(&mut m);
                if n % 25 == 24 {
                    estimates.extend(processor.stats().estimated_delay_ms);
                }
            }
            estimates
        };
        assert!(
            unguarded[8..].iter().any(|&ms| ms > 30 + ALIAS_MARGIN_MS),
            "the scenario no longer fools the estimator: {unguarded:?}"
        );
        // With the devices' latency, it is restarted from there and stays.
        let mut processor = AudioProcessor::new(echo_only());
        let (_, estimates) = run_hinted(&mut processor, &far, &mic, |n| delay(n) as u64);
        let late = &estimates[estimates.len() - 8..];
        assert!(
            late.iter().all(|&ms| ms.abs_diff(30) <= 20),
            "estimates every 0.5 s: {estimates:?}"
        );
        assert!(processor.realignments > 0, "{estimates:?}");
    }

    #[test]
    fn a_44_1_khz_stereo_microphone_is_resampled_and_its_echo_cancelled() {
        let far = speech(1, (700.0, 1200.0), 0.1);
        let echo = room(&far, |_| 60, -6.0);
        // What a 44.1 kHz stereo device hands over in 10 ms chunks (the room's sound,
        // interpolated to that rate, on both channels).
        let at_44k: Vec<f32> = (0..echo.len() * 441 / 480)
            .map(|i| {
                let x = i as f64 * 480.0 / 441.0;
                let (k, fraction) = (x as usize, x.fract() as f32);
                let next = echo.get(k + 1).copied().unwrap_or(0.0);
                echo[k] * (1.0 - fraction) + next * fraction
            })
            .collect();
        let (device, chunks) = std::sync::mpsc::sync_channel(at_44k.len() / 441);
        for chunk in at_44k.chunks_exact(441) {
            device
                .send(chunk.iter().flat_map(|s| [*s, *s]).collect())
                .unwrap();
        }
        drop(device);
        let microphone =
            crate::audio::Microphone::from_chunks("44.1 kHz stereo".into(), 44_100, 2, chunks)
                .unwrap();
        let (tap, reference) = echo_reference();
        let mut source = ProcessedAudio::new(Box::new(microphone), echo_only(), Some(reference));
        let mut out = Vec::new();
        for played in frames(&far) {
            tap.played(&played.samples, 1, None);
            let Ok(frame) = source.next_frame() else {
                break;
            };
            assert_eq!(frame.channels, 2);
            out.extend(
                frame
                    .samples
                    .chunks_exact(2)
                    .map(|lr| f32::from(lr[0]) / 32_768.0),
            );
        }
        assert!(
            out.len() > far.len() * 9 / 10,
            "{} of {}",
            out.len(),
            far.len()
        );
        let erle = db(&echo[SETTLE..out.len()]) - db(&out[SETTLE..]);
        assert!(erle >= 25.0, "{erle:.1} dB");
    }

    #[test]
    fn a_wrong_delay_hint_is_outvoted_by_the_cancellers_own_estimate() {
        // The devices claim 30 ms; the echo comes 200 ms late.
        let far = speech(1, (700.0, 1200.0), 0.1);
        let mic = room(&far, |_| 200, -6.0);
        let mut processor = AudioProcessor::new(echo_only());
        let (out, estimates) = run_hinted(&mut processor, &far, &mic, |_| 30);
        let erle = db(&mic[SETTLE..out.len()]) - db(&out[SETTLE..]);
        assert!(erle >= 25.0, "{erle:.1} dB; estimates {estimates:?}");
        assert_eq!(processor.realignments, MAX_REALIGNMENTS, "{estimates:?}");
    }

    #[test]
    fn echo_is_suppressed_by_25_db_in_any_room_with_or_without_a_delay_hint() {
        let far = speech(1, (700.0, 1200.0), 0.1);
        for (delay, gain) in [(40, -6.0), (120, -12.0), (200, -20.0)] {
            let mic = room(&far, |_| delay, gain);
            for hint in [None, Some(Duration::from_millis(delay as u64))] {
                let mut processor = AudioProcessor::new(echo_only());
                processor.set_delay_hint(hint);
                let out = run(&mut processor, &far, &mic);
                let erle = db(&mic[SETTLE..out.len()]) - db(&out[SETTLE..]);
                assert!(
                    erle >= 25.0,
                    "delay {delay} ms, {gain} dB, hint {hint:?}: {erle:.1} dB"
                );
                let measured = processor.stats().echo_suppression_db.unwrap();
                assert!(measured >= 20.0, "the stats say {measured:.1} dB");
            }
        }
    }

    #[test]
    fn the_near_end_alone_passes_within_2_db() {
        let near = speech(7, (400.0, 2300.0), 0.05);
        let silence = vec![0.0; near.len()];
        let out = run(&mut AudioProcessor::new(echo_only()), &silence, &near);
        let change = db(&out[SETTLE..]) - db(&near[SETTLE..out.len()]);
        assert!(change.abs() <= 2.0, "{change:+.1} dB");
    }

    #[test]
    fn double_talk_keeps_the_near_end_recognisable() {
        let far = speech(1, (700.0, 1200.0), 0.1);
        let near = speech(7, (400.0, 2300.0), 0.05);
        let mic: Vec<f32> = room(&far, |_| 120, -10.0)
            .iter()
            .zip(&near)
            .map(|(echo, talk)| echo + talk)
            .collect();
        let out = run(&mut AudioProcessor::new(echo_only()), &far, &mic);
        let kept = envelope_correlation(&out[SETTLE..], &near[SETTLE..out.len()]);
        assert!(kept >= 0.8, "correlation {kept:.2}");
    }

    #[test]
    fn a_delay_that_jumps_by_60_ms_is_found_again_within_2_s() {
        let far = speech(1, (700.0, 1200.0), 0.1);
        let jump = 5 * SAMPLE_RATE as usize;
        let mic = room(&far, |n| if n < jump { 80 } else { 140 }, -10.0);
        let out = run(&mut AudioProcessor::new(echo_only()), &far, &mic);
        let after = jump + 2 * SAMPLE_RATE as usize;
        let erle = db(&mic[after..out.len()]) - db(&out[after..]);
        assert!(erle >= 25.0, "{erle:.1} dB from 2 s after the jump");
    }

    /// A microphone that hears the far end through a room: the echo path in frames.
    struct EchoingMic {
        mic: std::vec::IntoIter<AudioFrame>,
    }

    impl EchoingMic {
        /// A microphone that hears `signal`, frame by frame.
        fn hearing(signal: &[f32]) -> Box<dyn AudioSource> {
            Box::new(Self {
                mic: frames(signal).collect::<Vec<_>>().into_iter(),
            })
        }
    }

    impl AudioSource for EchoingMic {
        fn name(&self) -> String {
            "echoing".into()
        }
        fn channels(&self) -> u16 {
            1
        }
        fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
            self.mic
                .next()
                .ok_or_else(|| MediaError::Unsupported("end of the recording".into()))
        }
    }

    #[test]
    fn the_speaker_tap_feeds_the_microphones_canceller() {
        let far = speech(1, (700.0, 1200.0), 0.1);
        let echo = room(&far, |_| 60, -8.0);
        let (tap, reference) = echo_reference();
        let mut source =
            ProcessedAudio::new(EchoingMic::hearing(&echo), echo_only(), Some(reference));
        let stats = source.stats();
        let mut out = Vec::new();
        for played in frames(&far) {
            // The speaker's callback plays in buffers of its own size.
            for buffer in played.samples.chunks(256) {
                tap.played(buffer, 1, None);
            }
            let frame = source.next_frame().unwrap();
            out.extend(frame.samples.iter().map(|s| f32::from(*s) / 32_768.0));
        }
        let erle = db(&echo[SETTLE..out.len()]) - db(&out[SETTLE..]);
        assert!(erle >= 25.0, "{erle:.1} dB");
        let shared = *stats.lock().unwrap();
        assert!(shared.echo_suppression_db.unwrap() >= 20.0, "{shared:?}");
        assert!(shared.delay_ms.is_some(), "{shared:?}");
    }

    #[test]
    fn the_switch_turns_the_canceller_on_mid_stream_and_a_stage_less_path_passes_audio_as_is() {
        let far = speech(1, (700.0, 1200.0), 0.1);
        let echo = room(&far, |_| 60, -8.0);
        let (tap, reference) = echo_reference();
        let switch = ProcessingSwitch::new();
        let mut source = ProcessedAudio::new(
            EchoingMic::hearing(&echo),
            Processing::default(),
            Some(reference),
        )
        .with_switch(Arc::clone(&switch));
        let stats = source.stats();
        let half = far.len() / FRAME_SAMPLES / 2;
        let mut out = Vec::new();
        for (n, played) in frames(&far).enumerate() {
            if n == half {
                switch.set(echo_only());
            }
            tap.played(&played.samples, 1, None);
            let frame = source.next_frame().unwrap();
            out.extend(frame.samples.iter().map(|s| f32::from(*s) / 32_768.0));
        }
        let split = half * FRAME_SAMPLES;
        // Off: exactly what came in (to 16-bit rounding).
        assert!(
            out[..split]
                .iter()
                .zip(&echo)
                .all(|(o, e)| (o - e).abs() <= 1.0 / 32_768.0)
        );
        // On from halfway: the echo is gone once it has converged (3 s later).
        let settled = split + SETTLE;
        let erle = db(&echo[settled..out.len()]) - db(&out[settled..]);
        assert!(erle >= 25.0, "{erle:.1} dB");
        assert_eq!(stats.lock().unwrap().stages, echo_only());
    }

    #[test]
    fn a_speaker_that_stops_is_noticed_and_the_microphone_goes_on() {
        let near = speech(7, (400.0, 2300.0), 0.05);
        let (tap, reference) = echo_reference();
        let mut source =
            ProcessedAudio::new(EchoingMic::hearing(&near), echo_only(), Some(reference));
        let silence = AudioFrame::silence(1);
        let second = SAMPLE_RATE as usize / FRAME_SAMPLES;
        let mut out = Vec::new();
        for n in 0..near.len() / FRAME_SAMPLES {
            // The speaker plays for two seconds, then stops.
            if n < 2 * second {
                tap.played(&silence.samples, 1, None);
            }
            let frame = source.next_frame().unwrap();
            out.extend(frame.samples.iter().map(|s| f32::from(*s) / 32_768.0));
            let stalled = source.reference.as_ref().unwrap().stalled();
            assert_eq!(stalled, n >= 3 * second - 1, "frame {n}");
        }
        // The near end kept coming out as it went in.
        let change = db(&out[SETTLE..]) - db(&near[SETTLE..out.len()]);
        assert!(change.abs() <= 2.0, "{change:+.1} dB");
        // The speaker again: no longer stalled.
        tap.played(&silence.samples, 1, None);
        source.reference.as_mut().unwrap().collect();
        assert!(!source.reference.as_ref().unwrap().stalled());
    }

    #[test]
    fn a_capture_stall_and_its_burst_keep_the_echo_aligned() {
        let far = speech(1, (700.0, 1200.0), 0.1);
        let echo = room(&far, |_| 60, -8.0);
        let (tap, reference) = echo_reference();
        let mut source =
            ProcessedAudio::new(EchoingMic::hearing(&echo), echo_only(), Some(reference));
        let second = SAMPLE_RATE as usize / FRAME_SAMPLES;
        let stall = 3 * second..3 * second + second / 2;
        let (mut out, mut read) = (Vec::new(), 0);
        for (n, played) in frames(&far).enumerate() {
            tap.played(&played.samples, 1, None);
            if stall.contains(&n) {
                continue; // the capture side is stalled; the speaker plays on
            }
            // Then the frames captured meanwhile come at once.
            while read <= n {
                let frame = source.next_frame().unwrap();
                out.extend(frame.samples.iter().map(|s| f32::from(*s) / 32_768.0));
                read += 1;
            }
        }
        let after = (stall.end + 2 * second) * FRAME_SAMPLES;
        let erle = db(&echo[after..out.len()]) - db(&out[after..]);
        assert!(erle >= 25.0, "{erle:.1} dB two seconds after the burst");
    }

    #[test]
    fn stereo_frames_are_processed_as_one_and_written_to_both_channels() {
        let mut processor = AudioProcessor::new(Processing::ALL);
        let tone: Vec<i16> = (0..FRAME_SAMPLES)
            .flat_map(|i| {
                let s = ((i as f32 * 0.05).sin() * 8_000.0) as i16;
                [s, s]
            })
            .collect();
        for _ in 0..50 {
            let mut frame = AudioFrame {
                samples: tone.clone(),
                channels: 2,
                capture_us: 0,
            };
            processor.capture(&mut frame);
            assert!(frame.samples.chunks_exact(2).all(|lr| lr[0] == lr[1]));
        }
    }

    #[test]
    fn the_devices_latency_is_a_hint_only_once_it_holds_steady() {
        let ms = Duration::from_millis;
        let mut latency = SettledLatency::default();
        // A sound server's start: a backlog that drains, then a steady figure.
        for reported in [400, 300, 200, 100, 31] {
            assert_eq!(latency.update(Some(ms(reported))), None);
        }
        for _ in 1..SETTLED_FRAMES {
            assert_eq!(latency.update(Some(ms(32))), None);
        }
        assert_eq!(latency.update(Some(ms(33))), Some(ms(33)));
        // A jump starts the count again; a device that stops reporting gives none.
        assert_eq!(latency.update(Some(ms(90))), None);
        assert_eq!(latency.update(None), None);
    }

    #[test]
    fn without_echo_cancellation_no_suppression_is_claimed() {
        let far = speech(1, (700.0, 1200.0), 0.1);
        let mic = room(&far, |_| 40, -6.0);
        let mut processor = AudioProcessor::new(Processing {
            echo_cancellation: false,
            ..Processing::ALL
        });
        run(&mut processor, &far[..SAMPLE_RATE as usize], &mic);
        assert_eq!(processor.stats().echo_suppression_db, None);
    }
}
