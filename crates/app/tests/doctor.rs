//! `peercall doctor` against real coturn and the real signaling server on 127.0.0.1:
//! good credentials give a relay, bad ones are named as such, a server that is not there
//! and a network that drops UDP each get their own finding and advice, and the exit code
//! says whether calls should connect.

#[allow(dead_code, reason = "only the signaling server is needed here")]
mod common;

use std::process::Command;

use common::signaling_server;
use serde_json::Value;
use testkit::{Coturn, UdpDropped};

/// `peercall doctor --json` with `args`: its report and whether it exited 0.
async fn doctor(args: &[&str]) -> (Value, bool) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_peercall"))
            .args(["doctor", "--json", "--bind", "127.0.0.1", "--timeout", "4"])
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.success())
}

/// `--turn URL` with user1's username and `credential`.
fn turn_flags<'a>(url: &'a str, credential: &'a str) -> [&'a str; 6] {
    [
        "--turn",
        url,
        "--turn-username",
        "user1",
        "--turn-credential",
        credential,
    ]
}

fn result_of<'a>(report: &'a Value, url: &str) -> &'a Value {
    report["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["url"] == url)
        .unwrap_or_else(|| panic!("{url} not checked: {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_credentials_give_a_relay_over_udp_and_tcp_and_the_server_is_reached() {
    let coturn = Coturn::start(&[]);
    let (server, _stop) = signaling_server(&[]).await;
    let url = format!("ws://{server}/ws");
    for turn in [
        format!("turn:127.0.0.1:{}", coturn.port),
        format!("turn:127.0.0.1:{}?transport=tcp", coturn.port),
    ] {
        let (report, ok) = doctor(&[
            "--server",
            &url,
            "--turn",
            &turn,
            "--turn-username",
            "user1",
            "--turn-credential",
            "pass1",
        ])
        .await;
        assert!(ok, "{report}");
        assert_eq!(report["ok"], true, "{report}");
        assert_eq!(report["signaling"]["result"], "reached", "{report}");
        let found = result_of(&report, &turn);
        assert_eq!(found["result"], "relay", "{report}");
        assert!(
            found["address"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{report}"
        );
        assert!(!report["host"].as_array().unwrap().is_empty(), "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_flags_the_servers_the_signaling_server_hands_out_are_checked() {
    let coturn = Coturn::start(&[]);
    let turn = format!("turn:127.0.0.1:{}", coturn.port);
    let (server, _stop) = signaling_server(&[
        "--turn",
        &turn,
        "--turn-username",
        "user1",
        "--turn-credential",
        "pass1",
    ])
    .await;
    let (report, ok) = doctor(&["--server", &format!("ws://{server}/ws")]).await;
    assert!(ok, "{report}");
    assert_eq!(report["signaling"]["ice_servers"], 1, "{report}");
    assert_eq!(result_of(&report, &turn)["result"], "relay", "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_and_a_server_that_is_not_there_are_named_with_what_to_do() {
    let coturn = Coturn::start(&[]);
    let wrong = format!("turn:127.0.0.1:{}", coturn.port);
    let (report, ok) = doctor(&turn_flags(&wrong, "not-the-password")).await;
    assert!(!ok, "{report}");
    assert_eq!(result_of(&report, &wrong)["result"], "wrong-credentials");
    let advice = report["advice"].to_string();
    assert!(
        advice.contains("refused the username and credential"),
        "{advice}"
    );

    let nowhere = format!("turn:127.0.0.1:{}", testkit::free_udp_port());
    let (report, ok) = doctor(&turn_flags(&nowhere, "pass1")).await;
    assert!(!ok, "{report}");
    let found = result_of(&report, &nowhere);
    assert_eq!(found["result"], "failed", "{report}");
    assert!(
        found["reason"].as_str().unwrap().contains("refused"),
        "{report}"
    );

    // Something listens but never answers: a timeout.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let quiet = format!("turn:{}", silent.local_addr().unwrap());
    let (report, ok) = doctor(&turn_flags(&quiet, "pass1")).await;
    assert!(!ok, "{report}");
    assert_eq!(result_of(&report, &quiet)["result"], "timeout", "{report}");

    let (report, ok) = doctor(&["--server", "ws://127.0.0.1:9/ws"]).await;
    assert!(!ok, "{report}");
    assert_eq!(report["signaling"]["result"], "failed", "{report}");
    assert!(
        report["advice"].to_string().contains("cannot be used"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_udp_blocked_turn_over_udp_is_found_blocked_and_over_tcp_still_relays() {
    let coturn = Coturn::start(&[]);
    let _dropped = match UdpDropped::to_port(coturn.port) {
        Ok(dropped) => dropped,
        Err(why) => return testkit::skip_or_fail(&why),
    };
    let udp = format!("turn:127.0.0.1:{}", coturn.port);
    let (report, ok) = doctor(&turn_flags(&udp, "pass1")).await;
    assert!(!ok, "{report}");
    // The firewall is this machine's (iptables in the test's namespace), which refuses
    // the send at once; one elsewhere on the path would show as a timeout.
    assert_eq!(result_of(&report, &udp)["result"], "blocked", "{report}");
    assert!(
        report["advice"].to_string().contains("TCP or TLS"),
        "{report}"
    );
    let tcp = format!("turn:127.0.0.1:{}?transport=tcp", coturn.port);
    let (report, ok) = doctor(&turn_flags(&tcp, "pass1")).await;
    assert!(ok, "{report}");
    assert_eq!(result_of(&report, &tcp)["result"], "relay", "{report}");
}
