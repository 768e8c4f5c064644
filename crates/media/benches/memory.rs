//! Memory over a long encode/decode run: `cargo bench -p media --bench memory`.
//!
//! Encodes and decodes 60 s of 720p30 test pattern (1,800 pictures, as fast as the
//! machine goes) and prints the process's resident memory every 5 s of video. The
//! figure that matters is growth after warm-up: it should be flat.

use media::h264::{Encoded, EncoderSettings, H264Decoder, H264Encoder};
use media::pattern::{PatternGenerator, read_code};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut frames = 1_800u32;
    while let Some(arg) = args.next() {
        if arg == "--frames" {
            frames = args.next().and_then(|n| n.parse().ok()).unwrap_or(frames);
        }
    }
    let (w, h) = (1280, 720);
    let g = PatternGenerator::new(w, h);
    let mut enc = H264Encoder::new(w, h, EncoderSettings::new(2_500_000, 30.0)).unwrap();
    let mut dec = H264Decoder::new().unwrap();
    let mut picture = g.frame(0, 0);
    let mut samples = Vec::new();
    let mut decoded = 0u32;
    for n in 0..frames {
        g.draw_into(&mut picture, n);
        if let Encoded::Frame(au) = enc.encode(&picture).unwrap()
            && let Some(out) = dec.decode(&au.data, 0).unwrap()
            && read_code(&out).is_some_and(|c| c.frame == n)
        {
            decoded += 1;
        }
        if n % 150 == 149 {
            samples.push((n + 1, rss_kib()));
        }
    }
    println!(
        "720p30 encode+decode, {frames} pictures ({:.0} s of video), {decoded} decoded and read back",
        f64::from(frames) / 30.0
    );
    for (n, kib) in &samples {
        println!("  after {n:>5} pictures: RSS {kib} KiB");
    }
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
        println!(
            "RSS after warm-up {} KiB, peak {} KiB, end {} KiB: growth {:+} KiB",
            first.1,
            peak,
            last.1,
            last.1 as i64 - first.1 as i64
        );
    }
    assert_eq!(decoded, frames, "every picture decoded and read back");
}
