//! `peercall loopback` calls itself over real ICE/DTLS/SRTP on 127.0.0.1 and reports it.

use std::process::Command;

#[test]
fn loopback_calls_itself_and_reports_media_both_ways() {
    let out = Command::new(env!("CARGO_BIN_EXE_peercall"))
        .args([
            "loopback",
            "--duration",
            "3",
            "--width",
            "320",
            "--height",
            "240",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, stats) = lines.split_last().unwrap();
    assert_eq!(summary["ok"], true, "{summary}");
    for peer in ["a", "b"] {
        let mine: Vec<_> = stats.iter().filter(|s| s["peer"] == peer).collect();
        assert_eq!(mine.len(), 3, "one line a second for {peer}: {text}");
        let last = &summary["summary"][peer]["last"];
        let (sent, decoded) = (
            last["video_frames_sent"].as_u64().unwrap(),
            last["video_frames_decoded"].as_u64().unwrap(),
        );
        assert!(
            sent >= 80 && decoded + 5 >= sent,
            "{peer}: sent {sent}, decoded {decoded}"
        );
        assert!(
            last["audio_marks"].as_u64().unwrap() >= 12,
            "{peer}: {last}"
        );
        assert_eq!(summary["summary"][peer]["video_out_of_order"], 0);
        assert!(last["latency_ms_p50"].as_f64().unwrap() > 0.0);
    }
}
