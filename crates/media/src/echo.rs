//! The echo canceller's far end: what the speaker plays, carried to the microphone side.
//!
//! An [`echo_reference`] pair: the speaker's device callback hands each buffer it plays to
//! the [`EchoTap`] (after the playout buffer and the volume, as the device gets it; it never
//! blocks), and the microphone side takes it from the [`EchoReference`] in 10 ms mono
//! chunks before it processes each captured frame ([`crate::apm::ProcessedAudio`]). The
//! reference keeps at most the newest second, and says when the speaker stops.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Duration;

use crate::frame::SAMPLE_RATE;

/// Samples in one 10 ms processing chunk at 48 kHz.
pub const CHUNK_SAMPLES: usize = (SAMPLE_RATE / 100) as usize;

/// Played buffers the echo reference holds before the speaker's newest are dropped: a
/// second or more at any device buffer size, far more than the canceller can use.
const REFERENCE_QUEUE: usize = 128;

/// Far-end samples kept waiting for the microphone side at most (a second): beyond that
/// the capture side has stalled, and stale far end only misleads the delay estimator.
const REFERENCE_BACKLOG: usize = SAMPLE_RATE as usize;

/// Captured frames without any far end before the speaker counts as stopped (a second):
/// a playing speaker hands over its buffers every few milliseconds, silence included.
const FAR_END_STALL_FRAMES: u32 = 50;

/// A device's latency as its callbacks last reported it (from a buffer's hand-over to
/// when it is heard, or from when it was captured to its hand-over), shared between the
/// device thread that writes it and the thread that reads it. Clones are the same cell.
#[derive(Debug, Clone, Default)]
pub struct DeviceLatency(Arc<AtomicU64>);

impl DeviceLatency {
    /// Records the latency the device just reported.
    pub fn set(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX - 1);
        // 0 stands for "not reported yet".
        self.0.store(micros + 1, Ordering::Relaxed);
    }

    /// The latency last reported, if the device has reported one.
    pub fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            stored => Some(Duration::from_micros(stored - 1)),
        }
    }
}

/// A pair that carries what the speaker plays to the microphone's echo canceller.
pub fn echo_reference() -> (EchoTap, EchoReference) {
    let (tx, rx) = sync_channel(REFERENCE_QUEUE);
    let latency = DeviceLatency::default();
    (
        EchoTap {
            played: tx,
            latency: latency.clone(),
        },
        EchoReference {
            rx,
            latency,
            pending: VecDeque::new(),
            chunk: vec![0.0; CHUNK_SAMPLES],
            frames_without: 0,
            heard: false,
        },
    )
}

/// The speaker's end of an [`echo_reference`]: never blocks (a device callback holds it).
#[derive(Debug, Clone)]
pub struct EchoTap {
    played: SyncSender<Vec<f32>>,
    latency: DeviceLatency,
}

impl EchoTap {
    /// `samples` (interleaved, `channels` of them, 48 kHz) were just handed to the device,
    /// which plays them `latency` from now when it says so.
    pub fn played(&self, samples: &[i16], channels: u16, latency: Option<Duration>) {
        let channels = usize::from(channels.max(1));
        let mut mono = vec![0.0; samples.len() / channels];
        mix_to_mono(samples, channels as u16, &mut mono);
        if let Some(latency) = latency {
            self.latency.set(latency);
        }
        // A full queue means the microphone side is not reading: drop, never wait.
        let _ = self.played.try_send(mono);
    }
}

/// The microphone's end of an [`echo_reference`].
#[derive(Debug)]
pub struct EchoReference {
    rx: Receiver<Vec<f32>>,
    latency: DeviceLatency,
    pending: VecDeque<f32>,
    chunk: Vec<f32>,
    /// Captured frames since the speaker last handed anything over.
    frames_without: u32,
    /// Whether the speaker ever handed anything over (a sink that plays nowhere never
    /// does, and is not worth a warning).
    heard: bool,
}

impl EchoReference {
    /// Takes what was played since the last call (once per captured frame), keeping the
    /// newest [`REFERENCE_BACKLOG`] samples at most.
    pub(crate) fn collect(&mut self) {
        let before = self.pending.len();
        self.pending.extend(self.rx.try_iter().flatten());
        let excess = self.pending.len().saturating_sub(REFERENCE_BACKLOG);
        self.pending.drain(..excess);
        self.note_far_end(self.pending.len() + excess > before);
    }

    /// The next whole 10 ms of far end collected, if there is one.
    pub(crate) fn next_chunk(&mut self) -> Option<&[f32]> {
        if self.pending.len() < CHUNK_SAMPLES {
            return None;
        }
        for (slot, sample) in self
            .chunk
            .iter_mut()
            .zip(self.pending.drain(..CHUNK_SAMPLES))
        {
            *slot = sample;
        }
        Some(&self.chunk)
    }

    /// How long after its hand-over the speaker plays what it gets, as it last said.
    pub(crate) fn render_latency(&self) -> Option<Duration> {
        self.latency.get()
    }

    /// Drops what was collected (nothing to cancel it against).
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
    }

    /// Says once when a speaker that was playing stops handing over what it plays (a
    /// speaker unplugged, its stream stopped), and once when it is back.
    fn note_far_end(&mut self, arrived: bool) {
        if arrived {
            if self.stalled() && self.heard {
                tracing::info!("the speaker's audio reaches the echo canceller again");
            }
            self.frames_without = 0;
            self.heard = true;
        } else {
            self.frames_without = self.frames_without.saturating_add(1);
            if self.frames_without == FAR_END_STALL_FRAMES && self.heard {
                tracing::warn!(
                    "no audio from the speaker for a second: echo cancellation has nothing to \
                     cancel until it plays again (was it unplugged?)"
                );
            }
        }
    }

    /// Whether the speaker has handed nothing over for a while.
    pub(crate) fn stalled(&self) -> bool {
        self.frames_without >= FAR_END_STALL_FRAMES
    }
}

/// Interleaved 16-bit samples mixed down to mono floats (full scale 1.0) in `out`.
pub(crate) fn mix_to_mono(samples: &[i16], channels: u16, out: &mut [f32]) {
    let channels = usize::from(channels.max(1));
    for (value, frame) in out.iter_mut().zip(samples.chunks_exact(channels)) {
        let sum: f32 = frame.iter().map(|s| f32::from(*s)).sum();
        *value = sum / (channels as f32 * 32_768.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stalled_microphone_keeps_only_the_newest_second_and_never_blocks_the_speaker() {
        let (tap, mut reference) = echo_reference();
        // Five seconds played while the microphone side was stalled: the newest second
        // is kept.
        let second: Vec<i16> = (0..SAMPLE_RATE as usize)
            .map(|i| (i % 1000) as i16)
            .collect();
        for _ in 0..5 {
            tap.played(&second, 1, None);
        }
        reference.collect();
        assert_eq!(reference.pending.len(), REFERENCE_BACKLOG);
        assert_eq!(reference.pending.back(), Some(&(999.0 / 32_768.0)));
        // A full queue drops what the speaker plays instead of blocking it (this would
        // hang otherwise).
        for _ in 0..REFERENCE_QUEUE * 2 {
            tap.played(&second[..CHUNK_SAMPLES], 1, None);
        }
        reference.collect();
        assert_eq!(reference.pending.len(), REFERENCE_BACKLOG);
    }

    #[test]
    fn stereo_is_mixed_to_mono_and_chunks_come_whole() {
        let (tap, mut reference) = echo_reference();
        // 15 ms of stereo, left and right opposite: the mix is silence.
        let stereo: Vec<i16> = (0..720).flat_map(|_| [8_000, -8_000]).collect();
        tap.played(&stereo, 2, None);
        reference.collect();
        assert_eq!(reference.next_chunk(), Some(&[0.0; CHUNK_SAMPLES][..]));
        assert_eq!(reference.next_chunk(), None, "5 ms wait for the next 5 ms");
    }

    #[test]
    fn the_speakers_latency_reaches_the_microphone_side_once_reported() {
        let (tap, reference) = echo_reference();
        tap.played(&[0; CHUNK_SAMPLES], 1, None);
        assert_eq!(reference.render_latency(), None);
        tap.played(&[0; CHUNK_SAMPLES], 1, Some(Duration::from_micros(21_000)));
        assert_eq!(reference.render_latency(), Some(Duration::from_millis(21)));
        tap.played(&[0; CHUNK_SAMPLES], 1, Some(Duration::ZERO));
        assert_eq!(reference.render_latency(), Some(Duration::ZERO));
    }
}
