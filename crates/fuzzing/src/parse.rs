//! Signaling messages as text: any text either fails with an error or parses to a
//! message that serializes and parses back to itself.

use signaling_proto::{ClientMessage, ServerMessage};

/// Parses `data` as each kind of message.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(message) = ClientMessage::from_json(text) {
        let again = ClientMessage::from_json(&message.to_json()).expect("round trip");
        assert_eq!(again, message);
    }
    if let Ok(message) = ServerMessage::from_json(text) {
        let again = ServerMessage::from_json(&message.to_json()).expect("round trip");
        assert_eq!(again, message);
    }
}
