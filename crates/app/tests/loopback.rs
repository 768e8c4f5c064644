//! `peercall loopback` calls itself over real ICE/DTLS/SRTP on 127.0.0.1 and reports it;
//! two `peercall call` bound to `[::1]` call each other over IPv6 loopback; bad
//! flags and a missing camera are refused with what is wrong.

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
    assert_eq!(summary["reason_code"], "media-flowed", "{summary}");
    for peer in ["a", "b"] {
        let mine: Vec<_> = stats.iter().filter(|s| s["peer"] == peer).collect();
        assert_eq!(mine.len(), 3, "one line a second for {peer}: {text}");
        let last = &summary["summary"][peer]["last"];
        let (sent, decoded) = (
            last["video_out"]["frames"].as_u64().unwrap(),
            last["video_in"]["decoded"].as_u64().unwrap(),
        );
        assert!(
            sent >= 80 && decoded + 5 >= sent,
            "{peer}: sent {sent}, decoded {decoded}"
        );
        assert!(
            last["audio_in"]["marks"].as_u64().unwrap() >= 12,
            "{peer}: {last}"
        );
        assert_eq!(last["video_in"]["out_of_order"], 0);
        assert!(last["video_in"]["latency_ms"]["p50"].as_f64().unwrap() > 0.0);
        assert_eq!(last["ice"]["local"], "host");
        assert_eq!(last["state"], "connected");
    }
}

#[test]
fn a_camera_that_is_not_there_fails_the_call_before_joining() {
    // Nothing listens on the server address: a device error must come first.
    let out = Command::new(env!("CARGO_BIN_EXE_peercall"))
        .args(["call", "--server", "ws://127.0.0.1:9/ws", "--room", "r"])
        .args(["--video", "camera:7"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let reason = summary["reason"].as_str().unwrap();
    assert!(reason.contains("camera"), "{reason}");
    assert!(!reason.contains("signaling"), "{reason}");
    assert_eq!(summary["reason_code"], "device", "{summary}");
}

#[test]
fn bad_flags_are_refused_with_what_is_expected() {
    for (args, expected) in [
        (
            &["loopback", "--video", "webcam"][..],
            "expected test, camera",
        ),
        (&["loopback", "--width", "33"][..], "must be even"),
        (&["call", "--room", "r"][..], "--server"),
        (
            &[
                "call",
                "--server",
                "ws://127.0.0.1:1/ws",
                "--room",
                "r",
                "--turn",
                "turn:x",
            ][..],
            "--turn-username",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_peercall"))
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_bound_to_ipv6_loopback_call_each_other_over_it() {
    let listener = tokio::net::TcpListener::bind("[::]:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(signaling_server::serve(
        listener,
        signaling_server::Config::default(),
        std::future::pending(),
    ));
    let peer = move || {
        Command::new(env!("CARGO_BIN_EXE_peercall"))
            .args(["call", "--server", &format!("ws://[::1]:{port}/ws")])
            .args(["--room", "ipv6", "--bind", "[::1]", "--duration", "3"])
            .args(["--width", "320", "--height", "240"])
            .output()
    };
    let (a, b) = tokio::join!(
        tokio::task::spawn_blocking(peer),
        tokio::task::spawn_blocking(peer)
    );
    for out in [a.unwrap().unwrap(), b.unwrap().unwrap()] {
        let text = String::from_utf8_lossy(&out.stdout);
        let summary: serde_json::Value = text
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("{text}\n{}", String::from_utf8_lossy(&out.stderr)));
        assert_eq!(summary["ok"], true, "{summary}");
        assert_eq!(
            summary["summary"]["last"]["ice"]["local"], "host",
            "{summary}"
        );
    }
}

#[test]
fn a_clean_loopback_call_prints_nothing_on_stderr_and_v_shows_more() {
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_peercall"))
            .args([
                "loopback",
                "--duration",
                "2",
                "--width",
                "320",
                "--height",
                "240",
            ])
            .args(extra)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    };
    let quiet = run(&[]);
    assert!(quiet.is_empty(), "stderr at the default level:\n{quiet}");
    let verbose = run(&["-v"]);
    assert!(
        verbose.contains("INFO"),
        "-v showed no information:\n{verbose}"
    );
}

#[test]
fn version_names_the_git_revision() {
    let out = Command::new(env!("CARGO_BIN_EXE_peercall"))
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let revision = text
        .trim()
        .split_once(" (")
        .and_then(|(_, r)| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no revision in {text:?}"));
    assert!(
        revision.len() >= 7 && revision != "unknown revision",
        "{text:?}"
    );
}

/// `peercall loopback` with `extra` flags under a pseudo-terminal (util-linux's
/// `script`): what it printed.
fn on_a_terminal(extra: &str) -> String {
    let command = format!(
        "{} loopback --duration 2 --width 320 --height 240 {extra}",
        env!("CARGO_BIN_EXE_peercall")
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn on_a_terminal_a_live_status_and_a_readable_summary_replace_the_json() {
    let text = on_a_terminal("");
    assert!(
        text.contains("connected | host/host"),
        "no live status:\n{text}"
    );
    assert!(
        text.contains("a: Call ended: the set duration passed.")
            && text.contains("b: Call ended: the set duration passed."),
        "no summary:\n{text}"
    );
    assert!(!text.contains("{\""), "JSON on a terminal:\n{text}");
    let json = on_a_terminal("--json");
    let last = json.lines().rfind(|l| !l.trim().is_empty()).unwrap();
    let summary: serde_json::Value = serde_json::from_str(last.trim()).unwrap();
    assert_eq!(summary["ok"], true, "{summary}");
}
