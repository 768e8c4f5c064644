//! `peercall devices` lists what the system has, and says "none found" for what it lacks.

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_peercall"))
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn devices_lists_every_kind_or_says_none_found() {
    let (ok, text) = run(&["devices"]);
    assert!(ok);
    for heading in ["Cameras:", "Microphones:", "Speakers:"] {
        assert!(text.contains(heading), "{text}");
    }
    let cameras = media::camera::cameras();
    if cameras.is_empty() {
        assert!(
            text.contains("none found (the test pattern stands in for a camera)"),
            "{text}"
        );
    }
    // ALSA's null device is always there (see the media crate's device tests).
    assert!(text.contains("[null]"), "{text}");
}

#[test]
fn devices_json_matches_what_the_media_crate_sees() {
    let (ok, text) = run(&["devices", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["cameras"].as_array().unwrap().len(),
        media::camera::cameras().len()
    );
    let mics = v["microphones"].as_array().unwrap();
    assert_eq!(mics.len(), media::audio::microphones().len());
    assert!(mics.iter().any(|m| m["id"] == "null"), "{text}");
}
