//! Raw media frames: I420 video and 48 kHz 20 ms audio, each stamped with its capture time.
//!
//! Capture times are microseconds of the wall clock ([`now_us`]), so two processes on one
//! machine can compare them (glass-to-glass latency) without sharing anything else.

use std::time::{SystemTime, UNIX_EPOCH};

/// Audio sample rate everywhere in the pipeline (Opus's native rate).
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples per channel in one 20 ms audio frame.
pub const FRAME_SAMPLES: usize = (SAMPLE_RATE / 50) as usize;

/// The wall clock in microseconds since the Unix epoch: the time base of capture times.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// One picture in I420 (planar Y, then U and V at half width and height), tightly packed.
#[derive(Clone, PartialEq, Eq)]
pub struct VideoFrame {
    width: u32,
    height: u32,
    data: Vec<u8>,
    /// When the picture was captured, in [`now_us`] microseconds.
    pub capture_us: u64,
}

impl std::fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VideoFrame")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("capture_us", &self.capture_us)
            .finish_non_exhaustive()
    }
}

impl VideoFrame {
    /// A black frame (Y 16, U/V 128) of `width` x `height`.
    pub fn black(width: u32, height: u32) -> Self {
        let (y, c) = Self::plane_sizes(width, height);
        let mut data = vec![128u8; y + 2 * c];
        data[..y].fill(16);
        Self {
            width,
            height,
            data,
            capture_us: 0,
        }
    }

    /// Wraps tightly packed I420 `data`; `None` if its length does not fit the size.
    pub fn from_i420(width: u32, height: u32, data: Vec<u8>, capture_us: u64) -> Option<Self> {
        let (y, c) = Self::plane_sizes(width, height);
        (data.len() == y + 2 * c && width > 0 && height > 0).then_some(Self {
            width,
            height,
            data,
            capture_us,
        })
    }

    /// Bytes of the Y plane and of each chroma plane for a size.
    pub fn plane_sizes(width: u32, height: u32) -> (usize, usize) {
        let (w, h) = (width as usize, height as usize);
        (w * h, w.div_ceil(2) * h.div_ceil(2))
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Width of the chroma planes.
    pub fn chroma_width(&self) -> u32 {
        self.width.div_ceil(2)
    }

    /// The Y, U and V planes.
    pub fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        let (y, c) = Self::plane_sizes(self.width, self.height);
        let (luma, chroma) = self.data.split_at(y);
        let (u, v) = chroma.split_at(c);
        (luma, u, v)
    }

    /// The Y, U and V planes, writable.
    pub fn planes_mut(&mut self) -> (&mut [u8], &mut [u8], &mut [u8]) {
        let (y, c) = Self::plane_sizes(self.width, self.height);
        let (luma, chroma) = self.data.split_at_mut(y);
        let (u, v) = chroma.split_at_mut(c);
        (luma, u, v)
    }

    /// The whole I420 buffer.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// This picture at half the width and height (2x2 averages; sizes rounded down to
    /// even, at least 2x2), with the same capture time.
    pub fn halved(&self) -> VideoFrame {
        let (w, h) = (
            ((self.width / 2) & !1).max(2),
            ((self.height / 2) & !1).max(2),
        );
        let mut out = VideoFrame::black(w, h);
        out.capture_us = self.capture_us;
        let (sy, su, sv) = self.planes();
        let src_cw = self.chroma_width() as usize;
        let src_ch = self.height.div_ceil(2) as usize;
        let (dy, du, dv) = out.planes_mut();
        halve_plane(
            sy,
            self.width as usize,
            self.height as usize,
            dy,
            w as usize,
            h as usize,
        );
        let (cw, ch) = (w.div_ceil(2) as usize, h.div_ceil(2) as usize);
        halve_plane(su, src_cw, src_ch, du, cw, ch);
        halve_plane(sv, src_cw, src_ch, dv, cw, ch);
        out
    }

    /// This picture with every `block` x `block` square of luma filled with its mean,
    /// aligned to the top left; chroma, the size and the capture time as they are. An
    /// encoder codes such a picture from little more than the squares' means (a
    /// 16-pixel square is one H.264 macroblock's DC values), so a keyframe of it is a
    /// fraction of the sharp picture's. Chroma is left sharp: it costs little, and a
    /// coarsened one left a tint in still areas that later pictures, coded coarsely,
    /// never took out. `block` ≤ 1: a copy.
    pub fn coarsened(&self, block: u32) -> VideoFrame {
        let mut out = self.clone();
        if block > 1 {
            let (w, h) = (self.width as usize, self.height as usize);
            fill_means(out.planes_mut().0, w, h, block as usize);
        }
        out
    }
}

/// Fills each `block` x `block` square of `plane` (`w` x `h`; the squares at the right
/// and bottom edges cut short) with its rounded mean.
fn fill_means(plane: &mut [u8], w: usize, h: usize, block: usize) {
    for top in (0..h).step_by(block) {
        let rows = top..(top + block).min(h);
        for left in (0..w).step_by(block) {
            let cols = left..(left + block).min(w);
            let n = (rows.len() * cols.len()) as u32;
            let sum: u32 = rows
                .clone()
                .flat_map(|y| plane[y * w + cols.start..y * w + cols.end].iter())
                .map(|&v| u32::from(v))
                .sum();
            let mean = ((sum + n / 2) / n) as u8;
            for y in rows.clone() {
                plane[y * w + cols.start..y * w + cols.end].fill(mean);
            }
        }
    }
}

/// Averages 2x2 blocks of `src` (`sw` x `sh`) into `dst` (`dw` x `dh`), clamping at
/// the source's edges.
fn halve_plane(src: &[u8], sw: usize, sh: usize, dst: &mut [u8], dw: usize, dh: usize) {
    for (y, row) in dst.chunks_exact_mut(dw).take(dh).enumerate() {
        let (r0, r1) = ((2 * y).min(sh - 1) * sw, (2 * y + 1).min(sh - 1) * sw);
        for (x, out) in row.iter_mut().enumerate() {
            let (c0, c1) = ((2 * x).min(sw - 1), (2 * x + 1).min(sw - 1));
            let sum = u16::from(src[r0 + c0])
                + u16::from(src[r0 + c1])
                + u16::from(src[r1 + c0])
                + u16::from(src[r1 + c1]);
            *out = ((sum + 2) / 4) as u8;
        }
    }
}

impl openh264::formats::YUVSource for VideoFrame {
    fn dimensions(&self) -> (usize, usize) {
        (self.width as usize, self.height as usize)
    }

    fn strides(&self) -> (usize, usize, usize) {
        let c = self.chroma_width() as usize;
        (self.width as usize, c, c)
    }

    fn y(&self) -> &[u8] {
        self.planes().0
    }

    fn u(&self) -> &[u8] {
        self.planes().1
    }

    fn v(&self) -> &[u8] {
        self.planes().2
    }
}

/// 20 ms of 48 kHz audio, interleaved signed 16-bit samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFrame {
    /// Interleaved samples: [`FRAME_SAMPLES`] per channel.
    pub samples: Vec<i16>,
    /// 1 (mono) or 2 (stereo).
    pub channels: u16,
    /// When the first sample was captured, in [`now_us`] microseconds.
    pub capture_us: u64,
}

impl AudioFrame {
    /// 20 ms of silence.
    pub fn silence(channels: u16) -> Self {
        Self {
            samples: vec![0; FRAME_SAMPLES * usize::from(channels)],
            channels,
            capture_us: 0,
        }
    }

    /// Audio energy of this frame as WebRTC stats count it (`totalAudioEnergy`): the
    /// mean square of the samples (full scale = 1) times the frame's duration in seconds.
    pub fn energy(&self) -> f64 {
        if self.samples.is_empty() {
            return 0.0;
        }
        let squares: f64 = self
            .samples
            .iter()
            .map(|&s| (f64::from(s) / 32_768.0).powi(2))
            .sum();
        let per_channel = self.samples.len() / usize::from(self.channels.max(1));
        squares / self.samples.len() as f64 * per_channel as f64 / f64::from(SAMPLE_RATE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_energy_is_mean_square_times_duration() {
        assert_eq!(AudioFrame::silence(2).energy(), 0.0);
        let full = AudioFrame {
            samples: vec![i16::MIN; FRAME_SAMPLES],
            channels: 1,
            capture_us: 0,
        };
        assert!((full.energy() - 0.02).abs() < 1e-9, "{}", full.energy());
        let half_stereo = AudioFrame {
            samples: vec![16_384; FRAME_SAMPLES * 2],
            channels: 2,
            capture_us: 0,
        };
        assert!((half_stereo.energy() - 0.005).abs() < 1e-9);
    }

    #[test]
    fn i420_planes_have_half_size_chroma_rounded_up() {
        let mut f = VideoFrame::black(5, 3);
        let (y, u, v) = f.planes_mut();
        assert_eq!((y.len(), u.len(), v.len()), (15, 6, 6));
        assert!(VideoFrame::from_i420(4, 4, vec![0; 24], 0).is_some());
        assert!(VideoFrame::from_i420(4, 4, vec![0; 23], 0).is_none());
    }

    /// A 6x4 picture captured at 9 µs, its luma in blocks, its chroma grey.
    fn blocks() -> VideoFrame {
        let mut f = VideoFrame::black(6, 4);
        f.capture_us = 9;
        f.planes_mut().0.copy_from_slice(&[
            0, 4, 8, 8, 100, 101, //
            0, 4, 8, 8, 100, 103, //
            10, 10, 20, 20, 30, 30, //
            10, 10, 20, 20, 30, 30,
        ]);
        f
    }

    #[test]
    fn halving_averages_blocks_and_keeps_sizes_even() {
        let h = blocks().halved();
        assert_eq!((h.width(), h.height(), h.capture_us), (2, 2, 9));
        assert_eq!(h.planes().0, &[2, 8, 10, 20]);
        assert!(h.planes().1.iter().all(|&c| c == 128));
        let tiny = VideoFrame::black(3, 3).halved();
        assert_eq!((tiny.width(), tiny.height()), (2, 2));
    }

    #[test]
    fn coarsening_fills_each_luma_square_with_its_mean_and_cuts_the_edge_squares_short() {
        let mut f = blocks();
        f.planes_mut().1.copy_from_slice(&[10, 20, 90, 30, 40, 90]);
        let c = f.coarsened(4);
        assert_eq!((c.width(), c.height(), c.capture_us), (6, 4, 9));
        assert_eq!(
            c.planes().0,
            &[
                10, 10, 10, 10, 66, 66, //
                10, 10, 10, 10, 66, 66, //
                10, 10, 10, 10, 66, 66, //
                10, 10, 10, 10, 66, 66,
            ]
        );
        // Chroma as it was.
        assert_eq!(c.planes().1, &[10, 20, 90, 30, 40, 90]);
        assert_eq!(f.coarsened(1), f);
    }
}
