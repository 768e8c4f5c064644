//! Test pattern -> H.264 encode -> decode -> the reader recovers every frame number.

use media::h264::{AccessUnit, Encoded, EncoderSettings, H264Decoder, H264Encoder};
use media::pattern::{PatternGenerator, read_code};

fn settings(bitrate_bps: u32) -> EncoderSettings {
    EncoderSettings::new(bitrate_bps, 30.0)
}

/// Encodes `count` pattern pictures; returns the access units and the skipped numbers.
fn encode_run(
    enc: &mut H264Encoder,
    g: &PatternGenerator,
    frames: std::ops::Range<u32>,
) -> (Vec<(u32, AccessUnit)>, Vec<u32>) {
    let (mut units, mut skipped) = (Vec::new(), Vec::new());
    for n in frames {
        match enc
            .encode(&g.frame(n, 1_000_000 + u64::from(n) * 33_333))
            .unwrap()
        {
            Encoded::Frame(au) => units.push((n, au)),
            Encoded::Skipped { .. } => skipped.push(n),
        }
    }
    (units, skipped)
}

#[test]
fn every_frame_number_survives_encode_and_decode_at_low_and_high_bitrate() {
    for (w, h) in [(640, 480), (1280, 720)] {
        for bitrate in [500_000, 1_500_000] {
            let g = PatternGenerator::new(w, h);
            let mut enc = H264Encoder::new(w, h, settings(bitrate)).unwrap();
            let mut dec = H264Decoder::new().unwrap();
            let (units, skipped) = encode_run(&mut enc, &g, 0..45);
            assert!(
                skipped.is_empty(),
                "{w}x{h} at {bitrate}: rate control skipped {skipped:?}"
            );
            let mut read = Vec::new();
            for (n, au) in &units {
                let picture = dec.decode(&au.data, au.capture_us).unwrap().unwrap();
                assert_eq!((picture.width(), picture.height()), (w, h));
                let code = read_code(&picture)
                    .unwrap_or_else(|| panic!("{w}x{h} at {bitrate}: frame {n} unreadable"));
                assert_eq!(code.capture_us, 1_000_000 + u64::from(*n) * 33_333);
                read.push(code.frame);
            }
            assert_eq!(read, (0..45).collect::<Vec<_>>(), "{w}x{h} at {bitrate}");
        }
    }
}

#[test]
fn a_requested_keyframe_is_an_idr() {
    let g = PatternGenerator::new(320, 240);
    let mut enc = H264Encoder::new(320, 240, settings(400_000)).unwrap();
    let (units, _) = encode_run(&mut enc, &g, 0..10);
    assert!(units[0].1.keyframe);
    assert!(units[1..].iter().all(|(_, au)| !au.keyframe));
    enc.request_keyframe();
    let (units, _) = encode_run(&mut enc, &g, 10..12);
    assert!(units[0].1.keyframe);
    assert!(
        units[0].1.nal_types().contains(&5),
        "{:?}",
        units[0].1.nal_types()
    );
    assert!(units[0].1.nal_types().starts_with(&[7, 8]));
    assert!(!units[1].1.keyframe);
}

#[test]
fn changing_the_bitrate_at_run_time_moves_the_output_rate() {
    let g = PatternGenerator::new(640, 480);
    let mut enc = H264Encoder::new(640, 480, settings(1_500_000)).unwrap();
    let bytes =
        |units: &[(u32, AccessUnit)]| units.iter().map(|(_, au)| au.data.len()).sum::<usize>();
    let (_, _) = encode_run(&mut enc, &g, 0..30); // settle
    let (high, _) = encode_run(&mut enc, &g, 30..90);
    enc.set_bitrate(300_000).unwrap();
    let (_, _) = encode_run(&mut enc, &g, 90..120); // settle
    let (low, _) = encode_run(&mut enc, &g, 120..180);
    let (high, low) = (bytes(&high), bytes(&low));
    // 60 frames at 30 fps = 2 s: about 375 KB at 1.5 Mbps and 75 KB at 300 kbps.
    assert!(high > 3 * low, "high {high} B, low {low} B");
    assert!(low < 150_000, "low {low} B");
    assert_eq!(enc.settings().bitrate_bps, 300_000);
    // Up again, past where it started, and down and up in small steps.
    for bps in [1_195_000, 2_000_000, 1_900_000, 2_100_000, 250_000] {
        enc.set_bitrate(bps).unwrap();
        let _ = encode_run(&mut enc, &g, 180..183);
    }
    enc.set_bitrate(300_000).unwrap();
    enc.set_frame_rate(15.0).unwrap();
    assert_eq!(enc.settings().fps, 15.0);
}

#[test]
fn no_keyframe_comes_unasked_even_when_the_picture_changes_a_lot() {
    // A scaled-down pattern once tripped openh264's scene-change IDRs every 17 pictures.
    let g = PatternGenerator::new(640, 480);
    let mut enc = H264Encoder::new(320, 240, settings(150_000)).unwrap();
    let mut keyframes = Vec::new();
    for n in 0..120 {
        let picture = g.frame(n, u64::from(n) * 33_333).halved();
        if let Encoded::Frame(au) = enc.encode(&picture).unwrap()
            && au.keyframe
        {
            keyframes.push(n);
        }
    }
    assert_eq!(keyframes, [0]);
}

#[test]
fn with_frame_skip_on_a_starved_encoder_reports_skipped_pictures() {
    let g = PatternGenerator::new(640, 480);
    let mut enc = H264Encoder::new(640, 480, settings(1_000_000)).unwrap();
    let (_, skipped) = encode_run(&mut enc, &g, 0..5);
    assert!(skipped.is_empty());
    enc.set_frame_skip(true).unwrap();
    enc.set_bitrate(100_000).unwrap();
    let (units, skipped) = encode_run(&mut enc, &g, 5..65);
    assert!(!skipped.is_empty(), "nothing skipped at 100 kbit/s");
    assert_eq!(
        units.len() + skipped.len(),
        60,
        "every picture accounted for"
    );
}

#[test]
fn a_new_picture_size_reinitializes_with_an_idr_and_keeps_the_bitrate() {
    let mut enc = H264Encoder::new(640, 480, settings(800_000)).unwrap();
    enc.set_bitrate(600_000).unwrap();
    let (_, _) = encode_run(&mut enc, &PatternGenerator::new(640, 480), 0..5);
    let small = PatternGenerator::new(320, 240);
    let (units, _) = encode_run(&mut enc, &small, 5..8);
    assert!(units[0].1.keyframe);
    assert_eq!(enc.settings().bitrate_bps, 600_000);
    let mut dec = H264Decoder::new().unwrap();
    let picture = dec.decode(&units[0].1.data, 0).unwrap().unwrap();
    assert_eq!((picture.width(), picture.height()), (320, 240));
    assert_eq!(read_code(&picture).unwrap().frame, 5);
}

#[test]
fn a_corrupted_stream_errors_and_decoding_recovers_at_the_next_keyframe() {
    let g = PatternGenerator::new(320, 240);
    let mut enc = H264Encoder::new(320, 240, settings(500_000)).unwrap();
    let (units, _) = encode_run(&mut enc, &g, 0..10);
    let mut dec = H264Decoder::new().unwrap();
    for (_, au) in &units[..3] {
        dec.decode(&au.data, 0).unwrap().unwrap();
    }
    // Lose frame 3 entirely: frames after it reference a picture the decoder never saw.
    // Damage frame 4's slice data as well.
    let mut damaged = units[4].1.data.clone();
    let mid = damaged.len() / 2;
    for b in &mut damaged[mid..] {
        *b ^= 0x5a;
    }
    let mut failures = 0;
    let mut wrong = 0;
    for data in std::iter::once(&damaged).chain(units[5..].iter().map(|(_, au)| &au.data)) {
        match dec.decode(data, 0) {
            Err(err) => {
                failures += 1;
                assert!(err.to_string().contains("H.264"), "{err}");
            }
            Ok(Some(p)) if read_code(&p).is_none() => wrong += 1,
            Ok(_) => {}
        }
    }
    assert!(failures + wrong > 0, "damage went unnoticed");
    // The sender answers the keyframe request; the decoder recovers at once.
    enc.request_keyframe();
    let (units, _) = encode_run(&mut enc, &g, 10..13);
    assert!(units[0].1.keyframe);
    for (n, au) in &units {
        let picture = dec.decode(&au.data, 0).unwrap().unwrap();
        assert_eq!(read_code(&picture).unwrap().frame, *n);
    }
}
