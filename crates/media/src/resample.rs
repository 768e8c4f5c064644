//! Resampling device audio to 48 kHz 20 ms frames (rubato, FFT-based, fixed output size).

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::MediaError;
use crate::frame::{FRAME_SAMPLES, SAMPLE_RATE};

/// Turns interleaved f32 audio at any rate into 20 ms frames of 48 kHz i16.
pub struct FrameResampler {
    channels: usize,
    /// `None` when the input is already at 48 kHz.
    resampler: Option<Fft<f32>>,
    pending: Vec<f32>,
    out: Vec<f32>,
}

impl std::fmt::Debug for FrameResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameResampler")
            .field("channels", &self.channels)
            .field("resampling", &self.resampler.is_some())
            .finish()
    }
}

impl FrameResampler {
    /// A resampler from `input_rate` for `channels` interleaved channels.
    pub fn new(input_rate: u32, channels: u16) -> Result<Self, MediaError> {
        let channels = usize::from(channels.max(1));
        let resampler = if input_rate == SAMPLE_RATE {
            None
        } else {
            Some(
                Fft::<f32>::new(
                    input_rate as usize,
                    SAMPLE_RATE as usize,
                    FRAME_SAMPLES,
                    1,
                    channels,
                    FixedSync::Output,
                )
                .map_err(|e| {
                    MediaError::Unsupported(format!("cannot resample from {input_rate} Hz: {e}"))
                })?,
            )
        };
        Ok(Self {
            channels,
            resampler,
            pending: Vec::new(),
            out: vec![0.0; FRAME_SAMPLES * channels],
        })
    }

    /// Adds samples (interleaved, -1.0..1.0); returns every complete 20 ms frame.
    pub fn push(&mut self, input: &[f32]) -> Vec<Vec<i16>> {
        self.pending.extend_from_slice(input);
        let mut frames = Vec::new();
        loop {
            let needed = self
                .resampler
                .as_ref()
                .map_or(FRAME_SAMPLES, |r| r.input_frames_next());
            if self.pending.len() < needed * self.channels {
                break;
            }
            let chunk = &self.pending[..needed * self.channels];
            match &mut self.resampler {
                None => self.out.copy_from_slice(chunk),
                Some(resampler) => {
                    let (Ok(input), Ok(mut output)) = (
                        InterleavedSlice::new(chunk, self.channels, needed),
                        InterleavedSlice::new_mut(&mut self.out, self.channels, FRAME_SAMPLES),
                    ) else {
                        break;
                    };
                    if resampler
                        .process_into_buffer(&input, &mut output, None)
                        .is_err()
                    {
                        break;
                    }
                }
            }
            self.pending.drain(..needed * self.channels);
            frames.push(
                self.out
                    .iter()
                    .map(|&s| (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16)
                    .collect(),
            );
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The strongest of the candidate frequencies in `samples` (48 kHz).
    fn dominant(samples: &[i16], candidates: &[f32]) -> f32 {
        let power = |hz: f32| {
            let w = std::f32::consts::TAU * hz / 48_000.0;
            let (re, im) = samples
                .iter()
                .enumerate()
                .fold((0.0, 0.0), |(re, im), (i, &s)| {
                    let s = f32::from(s);
                    (re + s * (w * i as f32).cos(), im + s * (w * i as f32).sin())
                });
            re * re + im * im
        };
        *candidates
            .iter()
            .max_by(|a, b| power(**a).total_cmp(&power(**b)))
            .unwrap()
    }

    #[test]
    fn resampling_keeps_a_tones_frequency_and_frame_size() {
        for rate in [44_100u32, 16_000, 96_000, 48_000] {
            let mut r = FrameResampler::new(rate, 1).unwrap();
            let input: Vec<f32> = (0..rate)
                .map(|i| (std::f32::consts::TAU * 1_000.0 * i as f32 / rate as f32).sin() * 0.5)
                .collect();
            let frames: Vec<Vec<i16>> = input.chunks(441).flat_map(|c| r.push(c)).collect();
            // One second in: about 50 frames out (less the resampler's delay).
            assert!(
                (45..=50).contains(&frames.len()),
                "{rate} Hz: {} frames",
                frames.len()
            );
            assert!(frames.iter().all(|f| f.len() == FRAME_SAMPLES));
            let tail: Vec<i16> = frames[20..].concat();
            let hz = dominant(&tail, &[900.0, 950.0, 1_000.0, 1_050.0, 1_100.0]);
            assert_eq!(hz, 1_000.0, "{rate} Hz input");
        }
    }

    #[test]
    fn stereo_stays_interleaved() {
        let mut r = FrameResampler::new(44_100, 2).unwrap();
        let input: Vec<f32> = (0..44_100).flat_map(|_| [0.5, -0.5]).collect();
        let frames = r.push(&input);
        let f = &frames[10];
        assert_eq!(f.len(), 2 * FRAME_SAMPLES);
        assert!(f.chunks_exact(2).all(|lr| lr[0] > 0 && lr[1] < 0));
    }
}
