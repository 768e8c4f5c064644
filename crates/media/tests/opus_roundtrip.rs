//! The test tone through Opus: it correlates with the original, its timing marks are
//! found, and loss is concealed or recovered from FEC.

use media::opus_codec::{OpusDecoder, OpusEncoder};
use media::tone::{MARK_PERIOD, MarkDetector, ToneGenerator};
use media::{AudioFrame, FRAME_SAMPLES};

fn tone_frames(count: usize) -> Vec<AudioFrame> {
    let mut g = ToneGenerator::new();
    (0..count)
        .map(|i| g.next_frame(i as u64 * 20_000))
        .collect()
}

fn encode_all(frames: &[AudioFrame]) -> Vec<Vec<u8>> {
    let mut enc = OpusEncoder::new(1, 32_000).unwrap();
    frames.iter().map(|f| enc.encode(f).unwrap()).collect()
}

/// Normalized correlation of `a` and `b` (equal lengths).
fn correlation(a: &[i16], b: &[i16]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let na: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// The delay (in samples) at which `decoded` best matches `original` (searched on a
/// half-second stretch), and the correlation over the whole signal at that delay.
fn align(original: &[i16], decoded: &[i16]) -> (usize, f64) {
    let probe = 12_000..36_000;
    let (lag, _) = (0..1_000)
        .map(|lag| {
            let shifted = &decoded[probe.start + lag..probe.end + lag];
            (lag, correlation(&original[probe.clone()], shifted))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    let span = original.len() - lag;
    (lag, correlation(&original[..span], &decoded[lag..]))
}

#[test]
fn the_tone_survives_opus_and_its_marks_are_found_in_order() {
    let frames = tone_frames(150); // 3 s
    let packets = encode_all(&frames);
    let mut dec = OpusDecoder::new(1).unwrap();
    let decoded: Vec<i16> = packets
        .iter()
        .flat_map(|p| dec.decode(p).unwrap().samples)
        .collect();
    let original: Vec<i16> = frames.iter().flat_map(|f| f.samples.clone()).collect();
    assert_eq!(decoded.len(), original.len());
    let (lag, corr) = align(&original, &decoded);
    assert!(corr >= 0.9, "correlation {corr:.3} at lag {lag}");

    let marks = MarkDetector::new().push(&decoded);
    let counters: Vec<u8> = marks.iter().map(|m| m.counter).collect();
    assert_eq!(counters, (0..15).collect::<Vec<u8>>(), "{marks:?}");
    for (i, m) in marks.iter().enumerate().skip(1) {
        let expected = i as u64 * MARK_PERIOD + lag as u64;
        assert!(
            m.sample.abs_diff(expected) <= 48,
            "mark {i}: {} vs {expected}",
            m.sample
        );
    }
}

#[test]
fn a_lost_packet_is_concealed_with_the_same_length() {
    let frames = tone_frames(20);
    let packets = encode_all(&frames);
    let mut dec = OpusDecoder::new(1).unwrap();
    for p in &packets[..10] {
        dec.decode(p).unwrap();
    }
    let concealed = dec.conceal().unwrap();
    assert_eq!(concealed.samples.len(), FRAME_SAMPLES);
    let energy: f64 = concealed
        .samples
        .iter()
        .map(|&s| f64::from(s).powi(2))
        .sum();
    assert!(energy > 0.0, "concealment is not silence");
    let next = dec.decode(&packets[11]).unwrap();
    assert_eq!(next.samples.len(), FRAME_SAMPLES);
    // An empty packet means "lost" too.
    assert_eq!(dec.decode(&[]).unwrap().samples.len(), FRAME_SAMPLES);
}

#[test]
fn a_lost_packet_is_recovered_from_fec_in_the_next_one() {
    let frames = tone_frames(40);
    let packets = encode_all(&frames);
    let lost = 25;
    // The truth: what the decoder makes of the lost packet when it does arrive.
    let mut reference = OpusDecoder::new(1).unwrap();
    let truth: Vec<AudioFrame> = packets
        .iter()
        .map(|p| reference.decode(p).unwrap())
        .collect();

    let mut with_fec = OpusDecoder::new(1).unwrap();
    let mut with_plc = OpusDecoder::new(1).unwrap();
    for p in &packets[..lost] {
        with_fec.decode(p).unwrap();
        with_plc.decode(p).unwrap();
    }
    let recovered = with_fec.recover(&packets[lost + 1]).unwrap();
    let concealed = with_plc.conceal().unwrap();
    assert_eq!(recovered.samples.len(), FRAME_SAMPLES);
    let fec = correlation(&recovered.samples, &truth[lost].samples);
    let plc = correlation(&concealed.samples, &truth[lost].samples);
    assert!(fec > 0.8, "FEC correlation {fec:.3}");
    assert!(fec > plc, "FEC {fec:.3} should beat concealment {plc:.3}");
}

#[test]
fn bitrate_loss_and_dtx_settings_take_effect() {
    let frames = tone_frames(50);
    let mut enc = OpusEncoder::new(1, 64_000).unwrap();
    let high: usize = frames[..25]
        .iter()
        .map(|f| enc.encode(f).unwrap().len())
        .sum();
    enc.set_bitrate(12_000).unwrap();
    let low: usize = frames[25..]
        .iter()
        .map(|f| enc.encode(f).unwrap().len())
        .sum();
    assert!(high > 2 * low, "64 kbit/s {high} B vs 12 kbit/s {low} B");
    enc.set_expected_loss(30).unwrap();
    enc.set_dtx(true).unwrap();
    let silence = AudioFrame::silence(1);
    let sizes: Vec<usize> = (0..30)
        .map(|_| enc.encode(&silence).unwrap().len())
        .collect();
    assert!(
        sizes[20..].iter().all(|&n| n <= 3),
        "DTX packets in silence: {sizes:?}"
    );
    // A frame of the wrong size is refused, not encoded.
    let short = AudioFrame {
        samples: vec![0; 100],
        channels: 1,
        capture_us: 0,
    };
    assert!(enc.encode(&short).is_err());
}
