//! `peercall call` over an impaired or changing link: two network namespaces joined by
//! a veth pair, loss/delay/jitter/blackout on both ends (user-space netem through
//! NFQUEUE, as this kernel has no `sch_netem`), a `tbf` bottleneck, or one end's
//! address replaced mid-call (a handover); the signaling server in the first
//! namespace, one peer process in each.
//!
//! Needs root (namespaces and qdiscs); CI runs as root. Every address used is one of
//! the namespaces' own (10.99.0.0/24), so nothing leaves the machine.

use std::sync::Mutex;
use std::time::Duration;

use testkit::netem::Impairment;

mod lab;

use lab::{Lab, brief, mean, split};

/// The calls are real-time: run one scenario at a time on the two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn five_percent_loss_40_ms_rtt_and_jitter_keep_25_fps_without_freezes() {
    lossy_link_keeps_25_fps_without_freezes(&[], "H264");
}

#[test]
fn five_percent_loss_40_ms_rtt_and_jitter_keep_25_fps_without_freezes_in_vp8() {
    lossy_link_keeps_25_fps_without_freezes(&["--video-codec", "vp8"], "VP8");
}

/// A 15 s call with `flags` over 40 ms RTT, ±5 ms jitter and 5% loss each way: ≥ 25 fps
/// after the first 3 s, no gap over 500 ms, NACKs sent, Opus FEC told, video in `codec`.
fn lossy_link_keeps_25_fps_without_freezes(flags: &[&str], codec: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut lab) = Lab::new("loss") else {
        return;
    };
    // 20 ms each way (40 ms RTT), ±5 ms each way, 5% of packets lost each way.
    lab.impair(Impairment {
        delay: Duration::from_millis(20),
        jitter: Duration::from_millis(std::env::var("J").map_or(5, |v| v.parse().unwrap())),
        loss: std::env::var("L").map_or(0.05, |v| v.parse().unwrap()),
        ..Impairment::NONE
    });
    let (a, b) = lab.call_with(15, flags, || {});
    for (who, lines) in [("a", &a), ("b", &b)] {
        println!("{codec}, {who}:\n{}", brief(lines));
        let (steady, summary) = split(lines, 3);
        assert_eq!(summary["ok"], true, "{who}: {summary}");
        let fps = mean(&steady, |l| l["video_in"]["fps"].as_f64().unwrap());
        assert!(fps >= 25.0, "{who}: {fps} fps:\n{}", brief(lines));
        let last = &summary["summary"]["last"];
        assert_eq!(last["video_out"]["codec"], codec, "{who}: {last}");
        assert_eq!(last["video_in"]["codec"], codec, "{who}: {last}");
        assert!(
            last["video_in"]["longest_gap_ms"].as_u64().unwrap() <= 500,
            "{who}:\n{}",
            brief(lines)
        );
        // The loss was real, and repaired: NACKs went out, audio FEC was told.
        assert!(
            last["video_in"]["nacks"].as_u64().unwrap() > 0,
            "{who}: {last}"
        );
        let expected_loss = mean(&steady, |l| {
            l["audio_out"]["expected_loss_pct"].as_f64().unwrap()
        });
        assert!(expected_loss > 0.0, "{who}:\n{}", brief(lines));
    }
}

#[test]
fn video_resumes_within_a_second_after_a_two_second_blackout() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut lab) = Lab::new("blackout") else {
        return;
    };
    let link = Impairment {
        delay: Duration::from_millis(10),
        ..Impairment::NONE
    };
    lab.impair(link);
    let blackout = Impairment { loss: 1.0, ..link };
    let impairers = &lab.impairers;
    let (a, b) = lab.call(12, || {
        std::thread::sleep(Duration::from_secs(5));
        impairers.iter().for_each(|i| i.set(blackout));
        std::thread::sleep(Duration::from_secs(2));
        impairers.iter().for_each(|i| i.set(link));
    });
    for (who, lines) in [("a", &a), ("b", &b)] {
        let (_, summary) = split(lines, 0);
        assert_eq!(summary["ok"], true, "{who}: {summary}");
        let last = &summary["summary"]["last"];
        // The longest gap is the blackout plus the time to the first picture after it.
        let gap = last["video_in"]["longest_gap_ms"].as_u64().unwrap();
        assert!(
            (2_000..=3_000).contains(&gap),
            "{who}: gap {gap} ms:\n{}",
            brief(lines)
        );
        assert!(
            last["video_in"]["fps"].as_u64().unwrap() >= 25,
            "{who}: {last}"
        );
    }
}

/// DTLS handshake message types whose flight is lost on purpose.
const SERVER_HELLO: u8 = 2;
const CERTIFICATE: u8 = 11;

#[test]
fn a_call_connects_when_either_side_loses_a_dtls_flight_once() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The caller is the DTLS client: its second flight (from its Certificate) lost, or
    // the callee's first (from its ServerHello). The caller sends its flight again
    // when no answer comes in twice the round trip; the callee answers that repeat
    // with its own flight at once.
    for (lossy_end, message) in [(0, CERTIFICATE), (1, SERVER_HELLO)] {
        let Some(mut lab) = Lab::new("dtls") else {
            return;
        };
        let link = Impairment {
            delay: Duration::from_millis(20),
            ..Impairment::NONE
        };
        lab.impair(link);
        lab.impairers[lossy_end].set(Impairment {
            lose_first_dtls: Some(message),
            ..link
        });
        let (a, b) = lab.call(8, || {});
        for (who, lines) in [("a", &a), ("b", &b)] {
            let (_, summary) = split(lines, 0);
            eprintln!(
                "DTLS message {message} lost: {who} connected in {} ms",
                summary["summary"]["connect_ms"]
            );
            assert_eq!(
                summary["ok"], true,
                "message {message} lost; {who}: {summary}"
            );
            let last = &summary["summary"]["last"];
            assert!(
                last["video_in"]["fps"].as_u64().unwrap() >= 25,
                "message {message} lost; {who}: {last}"
            );
        }
    }
}

#[test]
fn a_handover_to_a_new_address_mid_call_resumes_video_within_3_s_without_hanging_up() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lab) = Lab::for_handover("handover") else {
        return;
    };
    let (a_lines, b_lines) = lab.call(14, || {
        std::thread::sleep(Duration::from_secs(5));
        lab.move_b();
    });
    for (who, lines) in [("a", &a_lines), ("b", &b_lines)] {
        let (late, summary) = split(lines, 11);
        assert_eq!(summary["ok"], true, "{who}: {summary}");
        // The same call all along: one call, never ended and started again.
        assert_eq!(summary["summary"]["calls"], 1, "{who}: {summary}");
        let last = &summary["summary"]["last"];
        let gap = last["video_in"]["longest_gap_ms"].as_u64().unwrap();
        eprintln!("handover: {who} saw no video for {gap} ms at most");
        assert!(gap <= 3_000, "{who}: gap {gap} ms:\n{}", brief(lines));
        assert!(
            late.iter().all(|l| l["state"] == "connected"),
            "{who}:\n{}",
            brief(lines)
        );
        assert!(
            last["video_in"]["fps"].as_u64().unwrap() >= 25,
            "{who}: {last}"
        );
    }
}

#[test]
fn a_path_that_never_comes_back_ends_the_call_with_a_reason_within_30_s() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The signaling stays up: it is the media's path that is lost.
    let Some(mut lab) = Lab::with_signaling_link("lost") else {
        return;
    };
    lab.impair(Impairment::NONE);
    let impairers = &lab.impairers;
    let cut = std::cell::Cell::new(None);
    // Set to last a minute: the lost path has to end it.
    let (a, b) = lab.call(60, || {
        std::thread::sleep(Duration::from_secs(4));
        let gone = Impairment {
            loss: 1.0,
            ..Impairment::NONE
        };
        impairers.iter().for_each(|i| i.set(gone));
        cut.set(Some(std::time::Instant::now()));
    });
    let after_cut = cut.get().unwrap().elapsed();
    eprintln!("lost path: both calls ended {after_cut:?} after the cut");
    assert!(after_cut <= Duration::from_secs(30), "{after_cut:?}");
    for (who, lines) in [("a", &a), ("b", &b)] {
        let (_, summary) = split(lines, 0);
        assert_eq!(summary["ok"], false, "{who}: {summary}");
        assert_eq!(
            summary["reason_code"], "connection-lost",
            "{who}: {summary}"
        );
        // Reconnecting was shown while ICE tried again.
        assert!(
            lines.iter().any(|l| l["state"] == "reconnecting"),
            "{who}:\n{}",
            brief(lines)
        );
    }
}

#[test]
fn two_peers_with_only_ipv6_addresses_call_over_ipv6_host_candidates() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lab) = Lab::ipv6_only("ipv6") else {
        return;
    };
    let (a, b) = lab.call(5, || {});
    for (who, lines) in [("a", &a), ("b", &b)] {
        let (_, summary) = split(lines, 0);
        assert_eq!(summary["ok"], true, "{who}: {summary}");
        let last = &summary["summary"]["last"];
        assert_eq!(last["ice"]["local"], "host", "{who}: {last}");
        assert!(
            last["video_in"]["fps"].as_u64().unwrap() >= 25,
            "{who}: {last}"
        );
    }
}

#[test]
fn a_500_kbit_bottleneck_is_found_within_10_s_with_little_loss() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lab) = Lab::new("bottleneck") else {
        return;
    };
    lab.qdisc("tbf rate 500kbit burst 16kb latency 200ms");
    let (a, b) = lab.call(20, || {});
    for (who, sent, got) in [("a", &a, &b), ("b", &b, &a)] {
        let (steady_out, summary) = split(sent, 10);
        assert_eq!(summary["ok"], true, "{who}: {summary}");
        let (steady_in, _) = split(got, 10);
        let kbps = mean(&steady_out, |l| {
            (l["video_out"]["kbps"].as_u64().unwrap() + l["audio_out"]["kbps"].as_u64().unwrap())
                as f64
        });
        assert!(kbps < 500.0, "{who} sends {kbps} kbit/s:\n{}", brief(sent));
        let loss = mean(&steady_out, |l| {
            l["video_out"]["loss_pct"].as_f64().unwrap()
        });
        assert!(loss < 2.0, "{who}: {loss}% loss:\n{}", brief(sent));
        let fps = mean(&steady_in, |l| l["video_in"]["fps"].as_f64().unwrap());
        assert!(fps >= 15.0, "{who}'s video at {fps} fps:\n{}", brief(got));
    }
}
