//! The test tone through Opus, in 20 and 40 ms packets: it correlates with the
//! original, its timing marks are found, and loss is concealed or recovered from FEC.

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
    encode_packed(frames, 1)
}

/// `frames` encoded `per_packet` to a packet.
fn encode_packed(frames: &[AudioFrame], per_packet: usize) -> Vec<Vec<u8>> {
    let mut enc = OpusEncoder::new(1, 32_000).unwrap();
    frames
        .chunks(per_packet)
        .map(|f| enc.encode_frames(f).unwrap())
        .collect()
}

/// One packet decoded: its samples, checked to come in 20 ms frames.
fn samples(frames: Vec<AudioFrame>) -> Vec<i16> {
    assert!(frames.iter().all(|f| f.samples.len() == FRAME_SAMPLES));
    frames.into_iter().flat_map(|f| f.samples).collect()
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
    for per_packet in [1, 2] {
        tone_survives(per_packet);
    }
}

fn tone_survives(per_packet: usize) {
    let frames = tone_frames(150); // 3 s
    let packets = encode_packed(&frames, per_packet);
    assert_eq!(packets.len(), 150 / per_packet);
    let mut dec = OpusDecoder::new(1).unwrap();
    let decoded: Vec<i16> = packets
        .iter()
        .flat_map(|p| samples(dec.decode(p).unwrap()))
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
        // Within a millisecond; in 40 ms packets, within 7 ms over the encoder's first
        // second (two marks there read 1.9 and 6.1 ms late), while it settles.
        let settling = per_packet > 1 && i as u64 * MARK_PERIOD <= 48_000;
        let tolerance = if settling { 336 } else { 48 };
        assert!(
            m.sample.abs_diff(expected) <= tolerance,
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
    let concealed = samples(dec.conceal().unwrap());
    assert_eq!(concealed.len(), FRAME_SAMPLES);
    let energy: f64 = concealed.iter().map(|&s| f64::from(s).powi(2)).sum();
    assert!(energy > 0.0, "concealment is not silence");
    assert_eq!(
        samples(dec.decode(&packets[11]).unwrap()).len(),
        FRAME_SAMPLES
    );
    // An empty packet means "lost" too.
    assert_eq!(samples(dec.decode(&[]).unwrap()).len(), FRAME_SAMPLES);

    // After 40 ms packets, a lost one is taken to be 40 ms long.
    let long = encode_packed(&frames, 2);
    let mut dec = OpusDecoder::new(1).unwrap();
    for p in &long[..5] {
        assert_eq!(samples(dec.decode(p).unwrap()).len(), 2 * FRAME_SAMPLES);
    }
    assert_eq!(samples(dec.conceal().unwrap()).len(), 2 * FRAME_SAMPLES);
    assert_eq!(
        samples(dec.recover(&long[6]).unwrap()).len(),
        2 * FRAME_SAMPLES
    );
}

#[test]
fn a_packet_longer_than_opus_allows_or_not_opus_is_refused() {
    let mut dec = OpusDecoder::new(1).unwrap();
    // Code 3 (arbitrary frame count), 7 frames of 20 ms (config 3: SILK 20 ms): 140 ms.
    assert!(dec.decode(&[3 << 3 | 3, 7, 0, 0, 0, 0, 0, 0, 0]).is_err());
    assert!(dec.decode(&[0xff; 3]).is_err());
    // The decoder goes on after refusing.
    let packets = encode_all(&tone_frames(2));
    assert_eq!(
        samples(dec.decode(&packets[0]).unwrap()).len(),
        FRAME_SAMPLES
    );
}

#[test]
fn a_lost_packet_is_recovered_from_fec_in_the_next_one() {
    let frames = tone_frames(40);
    let packets = encode_all(&frames);
    let lost = 25;
    // The truth: what the decoder makes of the lost packet when it does arrive.
    let mut reference = OpusDecoder::new(1).unwrap();
    let truth: Vec<Vec<i16>> = packets
        .iter()
        .map(|p| samples(reference.decode(p).unwrap()))
        .collect();

    let mut with_fec = OpusDecoder::new(1).unwrap();
    let mut with_plc = OpusDecoder::new(1).unwrap();
    for p in &packets[..lost] {
        with_fec.decode(p).unwrap();
        with_plc.decode(p).unwrap();
    }
    let recovered = samples(with_fec.recover(&packets[lost + 1]).unwrap());
    let concealed = samples(with_plc.conceal().unwrap());
    assert_eq!(recovered.len(), FRAME_SAMPLES);
    let fec = correlation(&recovered, &truth[lost]);
    let plc = correlation(&concealed, &truth[lost]);
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
    // Nor are no frames or more than a 60 ms packet.
    assert!(enc.encode_frames(&[]).is_err());
    assert!(enc.encode_frames(&tone_frames(4)).is_err());
}
