//! The real cpal path against ALSA's `null` PCM (no sound card needed): capture gives
//! 48 kHz 20 ms frames, playout drains through the playout buffer, and a missing
//! device is a typed error that lists the devices there are.

use std::time::{Duration, Instant};

use media::audio::{Microphone, Speaker, microphones, speakers};
use media::tone::ToneGenerator;
use media::{AudioSink, AudioSource, FRAME_SAMPLES, MediaError};

#[test]
fn the_null_device_is_listed_both_ways() {
    assert!(
        microphones().iter().any(|d| d.id == "null"),
        "{:?}",
        microphones()
    );
    assert!(
        speakers().iter().any(|d| d.id == "null"),
        "{:?}",
        speakers()
    );
}

#[test]
fn a_microphone_delivers_48_khz_20_ms_frames() {
    let mut mic = Microphone::open(Some("null")).unwrap();
    assert!(mic.name().ends_with("[null]"), "{}", mic.name());
    let started = Instant::now();
    for _ in 0..10 {
        let frame = mic.next_frame().unwrap();
        assert_eq!(
            frame.samples.len(),
            FRAME_SAMPLES * usize::from(mic.channels())
        );
        assert!(frame.capture_us > 0);
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_speaker_drains_what_it_is_given() {
    let mut speaker = Speaker::open(Some("null")).unwrap();
    let mut tone = ToneGenerator::new();
    for _ in 0..25 {
        speaker.play(&tone.next_frame(0)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        speaker.samples_played() > 0,
        "the device never pulled audio"
    );
}

#[test]
fn a_missing_device_names_itself_and_lists_the_others() {
    let err = Microphone::open(Some("no-such-microphone")).unwrap_err();
    let MediaError::DeviceNotFound {
        kind,
        wanted,
        available,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        (*kind, wanted.as_str()),
        (media::DeviceKind::Microphone, "no-such-microphone")
    );
    assert!(
        available.iter().any(|n| n.ends_with("[null]")),
        "{available:?}"
    );
    assert!(err.to_string().contains("null"), "{err}");
    let err = Speaker::open(Some("no-such-speaker")).unwrap_err();
    assert!(err.to_string().starts_with("no speaker named"), "{err}");
}
