//! The relay's state machine under a script of connects, disconnects and frames from up
//! to eight peers: its invariants hold after every step, and every delivery goes to a
//! connected peer.
//!
//! Input: lines (a first byte `A` turns access tokens on); each line's first byte picks
//! the peer (low 3 bits) and the action (next 2 bits: frame, disconnect, connect
//! again); the rest of the line is the frame.

use signaling_proto::{ClientMessage, PeerId};
use signaling_server::auth::TokenKey;
use signaling_server::ice::IceConfig;
use signaling_server::relay::{Relay, RelayLimits};

/// Runs the script in `data`.
pub fn run(data: &[u8]) {
    let limits = RelayLimits {
        max_peers: 3,
        max_held_messages: 8,
        max_held_bytes: 4096,
    };
    // With access tokens on, the key is one the fuzzer cannot sign for: every join is
    // refused `unauthorized`, and the invariants must hold all the same.
    let auth = (data.first() == Some(&b'A')).then(|| TokenKey::new("fuzzing key, long enough"));
    let mut relay = Relay::new(limits, IceConfig::none(), Some([7; 32])).with_auth(auth);
    let mut peers: Vec<Option<PeerId>> = (0..8).map(|_| Some(relay.connect())).collect();
    for line in data.split(|&b| b == b'\n') {
        let Some((&op, frame)) = line.split_first() else {
            continue;
        };
        let slot = usize::from(op & 7);
        let out = match ((op >> 3) & 3, &peers[slot]) {
            (1, Some(id)) => {
                let out = relay.disconnect(id);
                peers[slot] = None;
                out
            }
            (2, None) => {
                peers[slot] = Some(relay.connect());
                Vec::new()
            }
            (_, Some(id)) => {
                let text = String::from_utf8_lossy(frame);
                match ClientMessage::from_json(&text) {
                    Ok(message) => relay.handle(id, message, frame.len(), 1_700_000_000),
                    Err(_) => Vec::new(),
                }
            }
            (_, None) => Vec::new(),
        };
        relay.assert_invariants();
        for delivery in out {
            for to in delivery.to {
                assert!(peers.iter().flatten().any(|p| *p == to), "delivery to {to}");
            }
        }
    }
}
