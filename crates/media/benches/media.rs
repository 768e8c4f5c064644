//! Media benchmarks (criterion, single thread): H.264, VP8 and VP9 encode and decode of the
//! moving test pattern at 640x480 and 1280x720 (the call's real-time settings), colour conversion and MJPEG decoding per 720p frame,
//! Opus encode and decode per 20 ms frame, drawing and reading the 720p test pattern, and
//! the microphone path's audio processing per 20 ms frame (two 10 ms chunks: the far end
//! rendered, the near end processed). `cargo bench -p media --bench media`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use media::codec::{VideoCodec, VideoDecoder, VideoEncoder};
use media::convert::{i420_to_rgba, mjpeg_to_i420, yuyv_to_i420};
use media::h264::{Encoded, EncoderSettings};
use media::opus_codec::{OpusDecoder, OpusEncoder};
use media::pattern::{PatternGenerator, read_code};
use media::tone::ToneGenerator;

const SIZES: [(u32, u32, u32); 2] = [(640, 480, 1_000_000), (1280, 720, 2_500_000)];

fn h264(c: &mut Criterion) {
    video_codec(c, VideoCodec::H264, "h264");
}

fn vp8(c: &mut Criterion) {
    video_codec(c, VideoCodec::Vp8, "vp8");
}

fn vp9(c: &mut Criterion) {
    video_codec(c, VideoCodec::Vp9, "vp9");
}

/// Encode and decode of 60 pictures of the moving pattern, cycled, in `codec`.
fn video_codec(c: &mut Criterion, codec: VideoCodec, name: &str) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    for (w, h, bitrate) in SIZES {
        let g = PatternGenerator::new(w, h);
        let pictures: Vec<_> = (0..60).map(|n| g.frame(n, u64::from(n) * 33_333)).collect();
        let settings = EncoderSettings::new(bitrate, 30.0);
        let mut enc = VideoEncoder::new(codec, w, h, settings).unwrap();
        let mut n = 0;
        group.bench_function(format!("encode {w}x{h}"), |b| {
            b.iter(|| {
                n += 1;
                // (libvpx's timestamps keep rising as the pictures cycle: VpxEncoder
                // never lets one go back.)
                black_box(enc.encode(&pictures[n % pictures.len()]).unwrap())
            })
        });
        let mut enc = VideoEncoder::new(codec, w, h, settings).unwrap();
        let units: Vec<Vec<u8>> = pictures
            .iter()
            .filter_map(|p| match enc.encode(p).unwrap() {
                Encoded::Frame(au) => Some(au.data),
                Encoded::Skipped { .. } => None,
            })
            .collect();
        let mut dec = VideoDecoder::new(codec).unwrap();
        let mut n = 0;
        group.bench_function(format!("decode {w}x{h}"), |b| {
            b.iter(|| {
                // The sequence starts with a keyframe, so cycling through it stays decodable.
                let unit = &units[n % units.len()];
                n += 1;
                black_box(dec.decode(unit, 0).unwrap())
            })
        });
    }
    group.finish();
}

fn test_pattern(c: &mut Criterion) {
    let mut group = c.benchmark_group("test pattern 720p");
    let g = PatternGenerator::new(1280, 720);
    let mut picture = g.frame(0, 0);
    let mut n = 0;
    group.bench_function("draw", |b| {
        b.iter(|| {
            n += 1;
            g.draw_into(&mut picture, n);
        })
    });
    group.bench_function("read code", |b| b.iter(|| black_box(read_code(&picture))));
    group.finish();
}

fn conversion(c: &mut Criterion) {
    let (w, h) = (1280u32, 720u32);
    let mut group = c.benchmark_group("convert 720p");
    let picture = PatternGenerator::new(w, h).frame(1, 0);
    let (y, u, v) = picture.planes();
    // A YUYV frame made from the pattern, as a camera would send it.
    let yuyv: Vec<u8> = (0..h as usize)
        .flat_map(|r| {
            (0..w as usize / 2).flat_map(move |c| {
                let ci = (r / 2) * (w as usize / 2) + c;
                [
                    y[r * w as usize + 2 * c],
                    u[ci],
                    y[r * w as usize + 2 * c + 1],
                    v[ci],
                ]
            })
        })
        .collect();
    group.bench_function("yuyv to i420", |b| {
        b.iter(|| black_box(yuyv_to_i420(&yuyv, w, h, w * 2, 0).unwrap()))
    });
    let mut rgba = vec![0u8; (w * h * 4) as usize];
    group.bench_function("i420 to rgba", |b| {
        b.iter(|| i420_to_rgba(black_box(&picture), &mut rgba).unwrap())
    });
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    for (px, out) in rgba.chunks_exact(4).zip(rgb.chunks_exact_mut(3)) {
        out.copy_from_slice(&px[..3]);
    }
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 85)
        .encode(&rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    group.bench_function("mjpeg to i420", |b| {
        b.iter(|| black_box(mjpeg_to_i420(&jpeg, 0).unwrap()))
    });
    group.finish();
}

fn opus(c: &mut Criterion) {
    let mut group = c.benchmark_group("opus 20 ms");
    let mut tone = ToneGenerator::new();
    let frames: Vec<_> = (0..50).map(|_| tone.next_frame(0)).collect();
    let mut enc = OpusEncoder::new(1, 32_000).unwrap();
    let mut n = 0;
    group.bench_function("encode", |b| {
        b.iter(|| {
            n += 1;
            black_box(enc.encode(&frames[n % frames.len()]).unwrap())
        })
    });
    let mut enc = OpusEncoder::new(1, 32_000).unwrap();
    let packets: Vec<_> = frames.iter().map(|f| enc.encode(f).unwrap()).collect();
    let mut dec = OpusDecoder::new(1).unwrap();
    group.bench_function("decode", |b| {
        b.iter(|| {
            n += 1;
            black_box(dec.decode(&packets[n % packets.len()]).unwrap())
        })
    });
    group.finish();
}

/// The microphone path's processing, per 20 ms frame: each stage alone, and every stage
/// (echo cancellation, noise suppression, gain control, high-pass filter).
fn audio_processing(c: &mut Criterion) {
    use media::apm::{AudioProcessor, Processing};
    let mut group = c.benchmark_group("audio processing");
    group.throughput(Throughput::Elements(1));
    let mut tone = ToneGenerator::new();
    let far: Vec<_> = (0..50).map(|_| tone.next_frame(0)).collect();
    let near: Vec<_> = far
        .iter()
        .map(|f| media::AudioFrame {
            samples: f.samples.iter().map(|s| s / 4).collect(),
            ..f.clone()
        })
        .collect();
    let only = |echo_cancellation, noise_suppression, gain_control| Processing {
        echo_cancellation,
        noise_suppression,
        gain_control,
    };
    // Each stage runs with the high-pass filter (and the band split it needs at 48 kHz).
    for (name, processing) in [
        ("echo canceller", only(true, false, false)),
        ("noise suppression", only(false, true, false)),
        ("gain control", only(false, false, true)),
        ("every stage", Processing::ALL),
    ] {
        let mut processor = AudioProcessor::new(processing);
        let mut n = 0;
        group.bench_function(format!("{name}, 20 ms frame"), |b| {
            b.iter(|| {
                n += 1;
                processor.render(&far[n % far.len()]);
                let mut frame = near[n % near.len()].clone();
                processor.capture(&mut frame);
                black_box(frame)
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    h264,
    vp8,
    vp9,
    test_pattern,
    conversion,
    opus,
    audio_processing
);
criterion_main!(benches);
