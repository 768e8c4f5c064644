//! The moving test pattern: a synthetic camera whose pictures carry their frame number
//! and capture time, so a receiver can prove what arrived and measure latency.
//!
//! The code block sits at the top left: a 16 x 8 grid of large black/white cells (one
//! bit each) holding the frame number (32 bits), the capture time in microseconds (64
//! bits) and a CRC-32 of both (32 bits). Cells are `width / 80` pixels (at least 4), so
//! they survive H.264 at low bitrates; the rest of the picture moves every frame
//! (scrolling stripes, drifting colours, a bouncing square) to give the encoder real work.
//! [`read_code`] recovers the numbers from a decoded picture, or says it cannot.

use std::time::{Duration, Instant};

use crate::MediaError;
use crate::frame::{VideoFrame, now_us};
use crate::source::{VideoFormat, VideoSource};

const COLS: u32 = 16;
const ROWS: u32 = 8;
const BITS: usize = (COLS * ROWS) as usize;
const WHITE: u8 = 235;
const BLACK: u8 = 16;
const QUIET: u8 = 128;

/// What the code block of a test-pattern picture carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternCode {
    /// Frame number, counting from 0.
    pub frame: u32,
    /// Capture time in microseconds ([`now_us`] time base).
    pub capture_us: u64,
}

/// Side of one code cell for a picture width.
fn cell_size(width: u32) -> u32 {
    (width / 80).max(4)
}

/// Whether a picture of this size can carry the code block (with a one-cell margin).
pub fn can_carry_code(width: u32, height: u32) -> bool {
    let cell = cell_size(width);
    width >= (COLS + 2) * cell && height >= (ROWS + 2) * cell
}

/// Draws test-pattern pictures; pure, so the same inputs give the same picture.
#[derive(Debug, Clone)]
pub struct PatternGenerator {
    width: u32,
    height: u32,
    /// One striped line a stripe period longer than a row: each row is a window on it.
    stripes: Vec<u8>,
    /// The U ramp, a ramp period longer than a chroma row: each picture's rows are a
    /// window on it.
    u_ramp: Vec<u8>,
}

impl PatternGenerator {
    /// A generator for `width` x `height` pictures.
    pub fn new(width: u32, height: u32) -> Self {
        let width = width.max(2);
        let stripes = (0..width as usize + STRIPE_PERIOD)
            .map(|i| if (i / 24) % 2 == 0 { 70 } else { 160 })
            .collect();
        let u_ramp = (0..width.div_ceil(2) as usize + RAMP_PERIOD)
            .map(|i| 64 + (i % RAMP_PERIOD) as u8)
            .collect();
        Self {
            width,
            height: height.max(2),
            stripes,
            u_ramp,
        }
    }

    /// Picture number `frame`, stamped with `capture_us`.
    pub fn frame(&self, frame: u32, capture_us: u64) -> VideoFrame {
        let mut out = VideoFrame::black(self.width, self.height);
        out.capture_us = capture_us;
        self.draw_into(&mut out, frame);
        out
    }

    /// Redraws `out` (which must be this generator's size) as picture `frame`, keeping
    /// its `capture_us`; reuses the buffer.
    pub fn draw_into(&self, out: &mut VideoFrame, frame: u32) {
        debug_assert_eq!((out.width(), out.height()), (self.width, self.height));
        let (w, h) = (self.width as usize, self.height as usize);
        let cw = out.chroma_width() as usize;
        let n = frame as usize;
        let capture_us = out.capture_us;
        let (y, u, v) = out.planes_mut();

        // Diagonal stripes scrolling 3 px per frame: every row is a window on the
        // striped line, shifted by one pixel a row (so rows are copies, not loops).
        for (row, line) in y.chunks_exact_mut(w).enumerate() {
            let shift = (row + 3 * n) % STRIPE_PERIOD;
            line.copy_from_slice(&self.stripes[shift..shift + w]);
        }
        // A bouncing square.
        let side = (w.min(h) / 6).max(2);
        let (sx, sy) = (bounce(n * 5, w - side), bounce(n * 3, h - side));
        for line in y.chunks_exact_mut(w).skip(sy).take(side) {
            line[sx..sx + side].fill(WHITE);
        }
        // Colours drifting in both directions: U changes along a row, V down the rows.
        let shift = (2 * n) % RAMP_PERIOD;
        let u_row = &self.u_ramp[shift..shift + cw];
        for line in u.chunks_exact_mut(cw) {
            line.copy_from_slice(u_row);
        }
        for (row, line) in v.chunks_exact_mut(cw).enumerate() {
            line.fill(64 + ((row + n) % RAMP_PERIOD) as u8);
        }
        if can_carry_code(self.width, self.height) {
            write_code(out, PatternCode { frame, capture_us });
        }
    }
}

/// The stripes repeat every this many pixels (two 24-pixel bands).
const STRIPE_PERIOD: usize = 48;
/// The colour ramps (64 to 191) repeat every this many chroma pixels.
const RAMP_PERIOD: usize = 128;

/// Position bouncing between 0 and `span`.
fn bounce(t: usize, span: usize) -> usize {
    if span == 0 {
        return 0;
    }
    let p = t % (2 * span);
    if p <= span { p } else { 2 * span - p }
}

fn code_bits(code: PatternCode) -> [bool; BITS] {
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&code.frame.to_be_bytes());
    bytes[4..12].copy_from_slice(&code.capture_us.to_be_bytes());
    let crc = crc32fast::hash(&bytes[..12]);
    bytes[12..].copy_from_slice(&crc.to_be_bytes());
    std::array::from_fn(|i| bytes[i / 8] & (0x80 >> (i % 8)) != 0)
}

fn write_code(out: &mut VideoFrame, code: PatternCode) {
    let width = out.width() as usize;
    let cell = cell_size(out.width()) as usize;
    let cw = out.chroma_width() as usize;
    let bits = code_bits(code);
    let (y, u, v) = out.planes_mut();
    // Quiet zone: the block plus a one-cell margin, neutral grey without colour.
    let (zone_w, zone_h) = ((COLS as usize + 2) * cell, (ROWS as usize + 2) * cell);
    for line in y.chunks_exact_mut(width).take(zone_h) {
        line[..zone_w].fill(QUIET);
    }
    for line in u.chunks_exact_mut(cw).take(zone_h / 2) {
        line[..zone_w / 2].fill(128);
    }
    for line in v.chunks_exact_mut(cw).take(zone_h / 2) {
        line[..zone_w / 2].fill(128);
    }
    for (i, bit) in bits.iter().enumerate() {
        let (cx, cy) = (
            (i % COLS as usize + 1) * cell,
            (i / COLS as usize + 1) * cell,
        );
        let value = if *bit { WHITE } else { BLACK };
        for line in y.chunks_exact_mut(width).skip(cy).take(cell) {
            line[cx..cx + cell].fill(value);
        }
    }
}

/// Reads the code block of a test-pattern picture; `None` when the picture carries no
/// readable code (not a test pattern, too small, or damaged: the checksum disagrees).
pub fn read_code(picture: &VideoFrame) -> Option<PatternCode> {
    if !can_carry_code(picture.width(), picture.height()) {
        return None;
    }
    let width = picture.width() as usize;
    let cell = cell_size(picture.width()) as usize;
    let (y, _, _) = picture.planes();
    read_code_with(|col, row| {
        let (cx, cy) = ((col + 1) * cell, (row + 1) * cell);
        // Average the inner half of the cell: edges blur under compression.
        let (from, len) = (cell / 4, (cell / 2).max(1));
        let mut sum = 0u32;
        for line in y.chunks_exact(width).skip(cy + from).take(len) {
            sum += line[cx + from..cx + from + len]
                .iter()
                .map(|&p| u32::from(p))
                .sum::<u32>();
        }
        sum / (len * len) as u32 > u32::from(QUIET)
    })
}

/// The code block's geometry, for readers of a picture shown at another scale: the
/// block is `COLS` x `ROWS` cells inside a quiet zone one cell wide, in the top left.
pub const CODE_GRID: (usize, usize) = (COLS as usize, ROWS as usize);

/// Decodes a code block from `bit(col, row)` (whether that cell is white, counting
/// cells inside the quiet zone from 0); `None` when the checksum disagrees. For reading
/// the code from a scaled copy of the picture, such as a screenshot of a window.
pub fn read_code_with(bit: impl Fn(usize, usize) -> bool) -> Option<PatternCode> {
    let mut bytes = [0u8; 16];
    for i in 0..BITS {
        if bit(i % COLS as usize, i / COLS as usize) {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    let crc = u32::from_be_bytes(bytes[12..].try_into().ok()?);
    if crc != crc32fast::hash(&bytes[..12]) {
        return None;
    }
    Some(PatternCode {
        frame: u32::from_be_bytes(bytes[..4].try_into().ok()?),
        capture_us: u64::from_be_bytes(bytes[4..12].try_into().ok()?),
    })
}

/// The test pattern as a [`VideoSource`]: real-time paced at the requested rate.
#[derive(Debug)]
pub struct TestPattern {
    generator: PatternGenerator,
    format: VideoFormat,
    started: Option<Instant>,
    next: u32,
}

impl TestPattern {
    /// A pattern source of the given size and frame rate.
    pub fn new(format: VideoFormat) -> Self {
        Self {
            generator: PatternGenerator::new(format.width, format.height),
            format,
            started: None,
            next: 0,
        }
    }
}

impl VideoSource for TestPattern {
    fn name(&self) -> String {
        "Test pattern".into()
    }

    fn format(&self) -> VideoFormat {
        self.format
    }

    fn next_frame(&mut self) -> Result<VideoFrame, MediaError> {
        let started = *self.started.get_or_insert_with(Instant::now);
        let due = started + frame_time(self.next, self.format.fps);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let frame = self.generator.frame(self.next, now_us());
        self.next = self.next.wrapping_add(1);
        Ok(frame)
    }
}

/// When frame `n` is due at `fps`, from the first frame.
fn frame_time(n: u32, fps: f32) -> Duration {
    Duration::from_secs_f64(f64::from(n) / f64::from(fps.max(0.1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_reads_back_from_an_uncompressed_picture() {
        for (w, h) in [(640, 480), (1280, 720), (320, 180), (72, 40)] {
            let g = PatternGenerator::new(w, h);
            let f = g.frame(123_456, 1_700_000_000_123_456);
            assert_eq!(
                read_code(&f),
                Some(PatternCode {
                    frame: 123_456,
                    capture_us: 1_700_000_000_123_456
                }),
                "{w}x{h}"
            );
        }
    }

    #[test]
    fn the_code_survives_halving_twice() {
        let f = PatternGenerator::new(1280, 720).frame(77, 5_000_000);
        let half = f.halved();
        assert_eq!((half.width(), half.height()), (640, 360));
        let quarter = half.halved();
        assert_eq!((quarter.width(), quarter.height()), (320, 180));
        for picture in [&half, &quarter] {
            assert_eq!(
                read_code(picture),
                Some(PatternCode {
                    frame: 77,
                    capture_us: 5_000_000
                })
            );
        }
    }

    #[test]
    fn a_picture_without_the_code_or_too_small_reads_as_none() {
        assert_eq!(read_code(&VideoFrame::black(640, 480)), None);
        let tiny = PatternGenerator::new(32, 32).frame(1, 1);
        assert_eq!(read_code(&tiny), None);
    }

    #[test]
    fn a_damaged_code_fails_its_checksum() {
        let mut f = PatternGenerator::new(640, 480).frame(7, 99);
        // Flip one cell (bit 0) from black to white.
        let cell = 8;
        let (y, _, _) = f.planes_mut();
        for row in cell..2 * cell {
            let v = y[row * 640 + cell];
            y[row * 640 + cell..row * 640 + 2 * cell].fill(if v > 128 { BLACK } else { WHITE });
        }
        assert_eq!(read_code(&f), None);
    }

    #[test]
    fn the_picture_moves_and_is_deterministic() {
        let g = PatternGenerator::new(320, 240);
        let (a, b) = (g.frame(1, 5), g.frame(2, 5));
        let differing = a
            .as_bytes()
            .iter()
            .zip(b.as_bytes())
            .filter(|(x, y)| x != y)
            .count();
        assert!(differing > 320 * 240 / 10, "only {differing} bytes moved");
        assert_eq!(g.frame(1, 5), a);
    }

    #[test]
    fn stripes_are_24_px_diagonal_bands_scrolling_3_px_a_frame() {
        let (w, h) = (320, 240);
        let n = 7;
        let f = PatternGenerator::new(w as u32, h as u32).frame(n as u32, 0);
        let (y, u, v) = f.planes();
        // Below the code block; the bouncing square is the only other thing drawn.
        for row in h / 2..h {
            for col in 0..w {
                let px = y[row * w + col];
                let band = (col + row + 3 * n) / 24;
                assert!(px == WHITE || px == [70, 160][band % 2], "({col}, {row})");
            }
        }
        for row in h / 4..h / 2 {
            for col in 0..w / 2 {
                assert_eq!(u[row * w / 2 + col], 64 + ((col + 2 * n) % 128) as u8);
                assert_eq!(v[row * w / 2 + col], 64 + ((row + n) % 128) as u8);
            }
        }
    }

    #[test]
    fn the_source_is_paced_at_its_frame_rate() {
        let mut src = TestPattern::new(VideoFormat {
            width: 160,
            height: 120,
            fps: 50.0,
        });
        let t0 = Instant::now();
        let frames: Vec<_> = (0..6).map(|_| src.next_frame().unwrap()).collect();
        // Five intervals of 20 ms after the first frame.
        assert!(t0.elapsed() >= Duration::from_millis(100));
        let codes: Vec<_> = frames.iter().map(|f| read_code(f).unwrap().frame).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5]);
        assert!(
            frames
                .windows(2)
                .all(|w| w[1].capture_us >= w[0].capture_us)
        );
    }
}
