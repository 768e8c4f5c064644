//! Adaptation: the congestion estimate becomes the encoder's target bitrate, and when
//! the target is far below what the picture needs, the resolution and then the frame
//! rate step down (and back up once there is room). A plain type: time is an argument.

use media::VideoFormat;

/// Bits per pixel a picture needs to look fine at a given size and rate.
const COMFORTABLE_BITS_PER_PIXEL: f64 = 0.05;

/// One step of the ladder: divide the size by `scale` and the frame rate by `fps_divisor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// 1, 2 or 4: width and height divided by this.
    pub scale: u32,
    /// 1 or 2: every n-th picture is sent.
    pub fps_divisor: u32,
}

/// The ladder, from full quality down.
pub const LADDER: [Step; 4] = [
    Step {
        scale: 1,
        fps_divisor: 1,
    },
    Step {
        scale: 2,
        fps_divisor: 1,
    },
    Step {
        scale: 2,
        fps_divisor: 2,
    },
    Step {
        scale: 4,
        fps_divisor: 2,
    },
];

/// What the encoder should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Target bitrate for video, bits per second.
    pub video_bps: u32,
    /// Where on the [`LADDER`] to be.
    pub step: Step,
}

/// Turns estimates into decisions; see the module documentation.
#[derive(Debug, Clone)]
pub struct Adaptation {
    format: VideoFormat,
    min_bps: u32,
    max_bps: u32,
    audio_bps: u32,
    level: usize,
    /// Since when (ms) the target has been far below the current step's need.
    starved_since: Option<u64>,
    /// Since when (ms) the target has had room for the step above.
    roomy_since: Option<u64>,
}

impl Adaptation {
    /// Stay this long starved before stepping down, ms.
    pub const DOWN_AFTER_MS: u64 = 2_000;
    /// Stay this long with room before stepping up, ms.
    pub const UP_AFTER_MS: u64 = 6_000;

    /// Adaptation for `format` with the video bitrate kept in `min_bps..=max_bps`;
    /// `audio_bps` of the estimate is left for audio.
    pub fn new(format: VideoFormat, min_bps: u32, max_bps: u32, audio_bps: u32) -> Self {
        Self {
            format,
            min_bps,
            max_bps: max_bps.max(min_bps),
            audio_bps,
            level: 0,
            starved_since: None,
            roomy_since: None,
        }
    }

    /// Bits per second the picture needs at ladder step `level`.
    fn need(&self, level: usize) -> f64 {
        let step = LADDER[level];
        let pixels =
            f64::from(self.format.width / step.scale) * f64::from(self.format.height / step.scale);
        pixels * f64::from(self.format.fps) / f64::from(step.fps_divisor)
            * COMFORTABLE_BITS_PER_PIXEL
    }

    /// The decision for a congestion estimate of `estimate_bps` at `now_ms`.
    pub fn update(&mut self, now_ms: u64, estimate_bps: f64) -> Decision {
        // Leave headroom: the pacer sends at the estimate, and audio shares it.
        let available = estimate_bps * 0.9 - f64::from(self.audio_bps);
        let video_bps = available.clamp(f64::from(self.min_bps), f64::from(self.max_bps));
        let starved = video_bps < self.need(self.level) / 2.0;
        let roomy = self.level > 0 && video_bps > self.need(self.level - 1) * 0.75;
        self.starved_since = if starved {
            self.starved_since.or(Some(now_ms))
        } else {
            None
        };
        self.roomy_since = if roomy {
            self.roomy_since.or(Some(now_ms))
        } else {
            None
        };
        if self
            .starved_since
            .is_some_and(|t| now_ms - t >= Self::DOWN_AFTER_MS)
            && self.level + 1 < LADDER.len()
        {
            self.level += 1;
            self.starved_since = None;
        } else if self
            .roomy_since
            .is_some_and(|t| now_ms - t >= Self::UP_AFTER_MS)
        {
            self.level -= 1;
            self.roomy_since = None;
        }
        Decision {
            video_bps: video_bps as u32,
            step: LADDER[self.level],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vga() -> VideoFormat {
        VideoFormat {
            width: 640,
            height: 480,
            fps: 30.0,
        }
    }

    #[test]
    fn the_target_follows_the_estimate_within_the_bounds() {
        let mut a = Adaptation::new(vga(), 200_000, 1_500_000, 32_000);
        assert_eq!(a.update(0, 1_000_000.0).video_bps, 868_000);
        assert_eq!(a.update(1, 10_000_000.0).video_bps, 1_500_000);
        assert_eq!(a.update(2, 50_000.0).video_bps, 200_000);
    }

    #[test]
    fn a_starved_picture_steps_down_after_a_while_and_back_up_with_room() {
        let mut a = Adaptation::new(vga(), 50_000, 2_000_000, 32_000);
        // 640x480x30 needs ~460 kbit/s; 150 kbit/s is far below.
        assert_eq!(a.update(0, 150_000.0).step, LADDER[0]);
        assert_eq!(a.update(1_999, 150_000.0).step, LADDER[0]);
        assert_eq!(a.update(2_000, 150_000.0).step, LADDER[1]);
        // Half size needs ~115 kbit/s: 150k is enough to stay there.
        assert_eq!(a.update(10_000, 150_000.0).step, LADDER[1]);
        // Room for full size again: back up only after UP_AFTER_MS.
        assert_eq!(a.update(11_000, 1_000_000.0).step, LADDER[1]);
        assert_eq!(a.update(16_999, 1_000_000.0).step, LADDER[1]);
        assert_eq!(a.update(17_000, 1_000_000.0).step, LADDER[0]);
    }

    #[test]
    fn a_brief_dip_does_not_step_down() {
        let mut a = Adaptation::new(vga(), 50_000, 2_000_000, 32_000);
        a.update(0, 100_000.0);
        a.update(1_500, 800_000.0);
        assert_eq!(a.update(3_000, 100_000.0).step, LADDER[0]);
    }

    #[test]
    fn the_ladder_ends_at_quarter_size_and_half_rate() {
        let mut a = Adaptation::new(vga(), 10_000, 2_000_000, 0);
        let mut last = LADDER[0];
        for t in 0..20 {
            last = a.update(t * 2_000, 10_000.0).step;
        }
        assert_eq!(last, LADDER[3]);
    }

    #[test]
    fn a_500_kbit_link_keeps_vga_at_full_size() {
        let mut a = Adaptation::new(vga(), 100_000, 2_000_000, 32_000);
        for t in 0..30 {
            assert_eq!(a.update(t * 1_000, 450_000.0).step, LADDER[0]);
        }
    }
}
