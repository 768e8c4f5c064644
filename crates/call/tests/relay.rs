//! Calls through TURN: relay-only through a real coturn started from the repository's
//! config (both sides on relay/relay), and relay-only without a usable TURN server,
//! which fails with the TURN hint within the 30 s bound.

use std::net::SocketAddr;

mod common;

use call::{CallOptions, CallState, Failure, IceOptions, TurnServer, run_call};
use common::{call_between_two, options, signaling_server, within_the_bound};

fn relay_only(server: SocketAddr, room: &str, turn: Option<TurnServer>) -> CallOptions {
    let mut options = options(server, room, Some(3));
    options.ice = IceOptions {
        stun: Vec::new(),
        turn,
        relay_only: true,
        turn_ca: None,
    };
    options
}

fn turn(port: u16, credential: &str) -> Option<TurnServer> {
    Some(TurnServer {
        url: format!("turn:127.0.0.1:{port}?transport=udp"),
        username: "user1".into(),
        credential: credential.into(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_calls_connect_through_coturn_on_relay_pairs_both_sides() {
    let coturn = testkit::Coturn::start(&[]);
    let (server, _stop) = signaling_server().await;
    let options = relay_only(server, "relay", turn(coturn.port, "pass1"));
    for summary in call_between_two(options).await {
        assert!(summary.media_flowed_both_ways(), "{summary:?}");
        let ice = &summary.last.as_ref().unwrap().ice;
        assert_eq!(ice.local.as_deref(), Some("relay"), "{ice:?}");
        assert_eq!(ice.remote.as_deref(), Some("relay"), "{ice:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_without_turn_or_with_wrong_credentials_fails_with_the_turn_hint() {
    let coturn = testkit::Coturn::start(&[]);
    let (server, _stop) = signaling_server().await;
    for (case, turn) in [
        ("no TURN server", None),
        ("wrong credentials", turn(coturn.port, "not-the-password")),
    ] {
        let summary = within_the_bound(run_call(
            relay_only(server, "no-relay", turn),
            |_| {},
            std::future::pending(),
        ))
        .await;
        let CallState::Failed(failure) = &summary.outcome else {
            panic!("{case}: {summary:?}")
        };
        assert_eq!(failure, &Failure::NoRelayCandidate, "{case}");
        assert!(failure.explained().contains("TURN"), "{case}: {failure}");
    }
}
