//! What a signaling server (or a peer through it) sends, into the call's control
//! machine ([`CallMachine`]), mixed with the peer connection's own events and time
//! passing: the machine never panics, and [`Action::End`] is its last action.
//!
//! Input: lines. A line starting `{` is a server message as JSON (one that does not
//! parse is dropped, as the client drops it); any other line's first byte picks an event
//! (connected, disconnected, failed, a local candidate, gathering done, signaling down,
//! a network change, hang-up, or time passing by the next byte's tenths of a second).

use std::time::{Duration, Instant};

use call::machine::{Action, CallMachine, Connection, Input, MachineConfig};
use signaling_proto::{IceCandidateInit, ServerMessage, Signal};

/// What a server message means to the machine (as the engine maps it).
fn input(message: ServerMessage) -> Option<Input> {
    Some(match message {
        ServerMessage::Welcome { peers, .. } => {
            Input::Joined(peers.into_iter().map(|p| p.id).collect())
        }
        ServerMessage::PeerJoined {
            id,
            replaces: Some(old),
            ..
        } => Input::PeerResumed { old, new: id },
        ServerMessage::PeerJoined { id, .. } => Input::PeerJoined(id),
        ServerMessage::PeerLeft { id } => Input::PeerLeft(id),
        ServerMessage::Offer { sdp, from, .. } => Input::Signal(from, Signal::Offer(sdp)),
        ServerMessage::Answer { sdp, from, .. } => Input::Signal(from, Signal::Answer(sdp)),
        ServerMessage::Candidate {
            candidate, from, ..
        } => Input::Signal(from, Signal::Candidate(candidate)),
        ServerMessage::Error { .. } => return None,
    })
}

/// Runs the script in `data`.
pub fn run(data: &[u8]) {
    let start = Instant::now();
    let mut now = start;
    let mut machine = CallMachine::new(MachineConfig {
        connect_timeout: Duration::from_secs(10),
        duration: None,
        stay: data.first() == Some(&b'S'),
        relay_only: data.first() == Some(&b'R'),
        restart_grace: Duration::from_secs(2),
        reconnect_timeout: Duration::from_secs(15),
    });
    let mut ended = false;
    for line in data.split(|&b| b == b'\n') {
        let Some((&op, rest)) = line.split_first() else {
            continue;
        };
        let event = if op == b'{' {
            std::str::from_utf8(line)
                .ok()
                .and_then(|text| ServerMessage::from_json(text).ok())
                .and_then(input)
        } else {
            match op % 9 {
                0 => Some(Input::Connection(Connection::Connected)),
                1 => Some(Input::Connection(Connection::Disconnected)),
                2 => Some(Input::Connection(Connection::Failed)),
                3 => Some(Input::LocalCandidate(IceCandidateInit {
                    candidate: String::from_utf8_lossy(rest).into_owned(),
                    sdp_mid: Some("0".into()),
                    sdp_m_line_index: Some(0),
                    username_fragment: None,
                })),
                4 => Some(Input::GatheringComplete),
                5 => Some(Input::SignalingDown),
                6 => Some(Input::NetworkChanged),
                7 => Some(Input::HangUp),
                _ => {
                    let tenths = rest.first().copied().unwrap_or(1);
                    now += Duration::from_millis(100 * u64::from(tenths));
                    None
                }
            }
        };
        match event {
            Some(event) => machine.handle_input(now, event),
            None => {
                if machine.poll_timeout().is_some_and(|at| at <= now) {
                    machine.handle_timeout(now);
                }
            }
        }
        while let Some(action) = machine.poll_action() {
            assert!(!ended, "{action:?} after the end");
            if let Action::End(state) = action {
                assert!(machine.is_over(), "ended in {state:?} but not over");
                ended = true;
            }
        }
    }
}
