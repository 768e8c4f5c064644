//! Text chat over the call's data channel: the wire form of a message, its checks, and
//! the outbox that holds what is sent before the channel is open.
//!
//! Every peer connection carries one reliable, ordered data channel negotiated out of
//! band (stream [`crate::peer::CALL_CHANNEL_ID`], label `peercall`; the web client
//! makes the same one). Each message on it is one text frame holding one JSON object
//! with a string field `type`; a chat line is
//! `{"type":"chat","text":"…","name":"…","ts":1733480000000}` (`name`: the sender's
//! name, optional; `ts`: when it was sent, Unix milliseconds, optional). A frame of
//! another `type` is for a later feature and is ignored; anything else is refused with a
//! [`ChatError`], never a crash. See PROTOCOL.md, "The call's data channel".
//!
//! Plain types, no I/O: the engine's shell sends what [`ChatOutbox`] releases and hands
//! what arrives to [`decode`].

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// The longest chat text, in bytes of UTF-8 (64 KiB).
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// The longest frame taken off the channel, bytes: a maximal text with every character
/// escaped stays well under it, and it is below SCTP's largest message (256 KiB).
pub const MAX_FRAME_BYTES: usize = 4 * MAX_TEXT_BYTES;

/// The longest sender name kept, in characters (as the signaling protocol's names).
pub const MAX_NAME_CHARS: usize = 64;

/// Most messages held while the channel is not open; past it, sending is refused.
pub const MAX_PENDING: usize = 4096;

/// One chat line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// The sender's name, if it gave one.
    pub from: Option<String>,
    /// The text (at most [`MAX_TEXT_BYTES`], not empty).
    pub text: String,
    /// When it was sent, Unix milliseconds (the sender's clock), if it said.
    pub sent_ms: Option<u64>,
}

/// Why a chat message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    /// The text is empty (or only white space).
    #[error("the message is empty")]
    Empty,
    /// The text is longer than [`MAX_TEXT_BYTES`].
    #[error("the message is {0} bytes long; at most {MAX_TEXT_BYTES} are allowed")]
    TooLong(usize),
    /// A frame on the channel is longer than [`MAX_FRAME_BYTES`].
    #[error("a data-channel frame of {0} bytes is over the {MAX_FRAME_BYTES}-byte limit")]
    FrameTooLong(usize),
    /// A binary frame, or text that is not UTF-8.
    #[error("a data-channel frame that is not UTF-8 text")]
    NotText,
    /// Not a JSON object with a string `type`, or a chat line with wrong fields.
    #[error("a malformed data-channel message: {0}")]
    Malformed(String),
    /// Too many messages wait for the channel to open.
    #[error("{MAX_PENDING} messages already wait for the chat channel to open")]
    Backlog,
    /// The channel refused the message.
    #[error("the chat channel refused the message: {0}")]
    Channel(String),
}

/// The wire form of a chat line.
#[derive(Debug, Serialize, Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
}

/// The `type` of a text frame on the call's data channel (a JSON object with a string
/// `type`), or why it has none.
pub fn message_type(text: &str) -> Result<std::borrow::Cow<'_, str>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    serde_json::from_str::<Kind<'_>>(text).map(|k| k.kind)
}

/// The text checked for sending: not empty, not too long.
pub fn check_text(text: &str) -> Result<(), ChatError> {
    if text.trim().is_empty() {
        return Err(ChatError::Empty);
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(ChatError::TooLong(text.len()));
    }
    Ok(())
}

/// The wire form of `message` (its text is assumed checked with [`check_text`]).
pub fn encode(message: &ChatMessage) -> String {
    let wire = Wire {
        kind: "chat",
        text: message.text.clone(),
        name: message.from.clone(),
        ts: message.sent_ms,
    };
    serde_json::to_string(&wire).unwrap_or_default()
}

/// A chat line from one data-channel frame; `Ok(None)` for a well-formed message of
/// another type (ignored), an error for anything else.
pub fn decode(data: &[u8], is_string: bool) -> Result<Option<ChatMessage>, ChatError> {
    if data.len() > MAX_FRAME_BYTES {
        return Err(ChatError::FrameTooLong(data.len()));
    }
    if !is_string {
        return Err(ChatError::NotText);
    }
    let text = std::str::from_utf8(data).map_err(|_| ChatError::NotText)?;
    let kind = message_type(text).map_err(|e| ChatError::Malformed(e.to_string()))?;
    if kind != "chat" {
        return Ok(None);
    }
    let wire: Wire<'_> =
        serde_json::from_str(text).map_err(|e| ChatError::Malformed(e.to_string()))?;
    check_text(&wire.text)?;
    // A name is shown, never trusted: too long or full of control characters, it is
    // dropped rather than the message.
    let from = wire.name.filter(|name| {
        !name.is_empty()
            && name.chars().count() <= MAX_NAME_CHARS
            && !name.chars().any(char::is_control)
    });
    Ok(Some(ChatMessage {
        from,
        text: wire.text,
        sent_ms: wire.ts,
    }))
}

/// What is waiting to go out on the chat channel, and whether it is open.
///
/// Messages sent before the channel opens (it opens a moment after the connection, and
/// again on every new connection) are held, in order, and released when it does.
#[derive(Debug, Default)]
pub struct ChatOutbox {
    open: bool,
    pending: VecDeque<String>,
}

impl ChatOutbox {
    /// Whether the channel is open.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// A message to send: `Ok(Some(frame))` to send now, `Ok(None)` when held until the
    /// channel opens.
    pub fn send(&mut self, message: &ChatMessage) -> Result<Option<String>, ChatError> {
        check_text(&message.text)?;
        let frame = encode(message);
        if self.open {
            return Ok(Some(frame));
        }
        if self.pending.len() >= MAX_PENDING {
            return Err(ChatError::Backlog);
        }
        self.pending.push_back(frame);
        Ok(None)
    }

    /// The channel opened: what was held, to send in this order.
    pub fn opened(&mut self) -> Vec<String> {
        self.open = true;
        self.pending.drain(..).collect()
    }

    /// The channel closed, or the connection is being replaced: hold from now on.
    pub fn closed(&mut self) {
        self.open = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> ChatMessage {
        ChatMessage {
            from: Some("ana".into()),
            text: text.into(),
            sent_ms: Some(1_733_480_000_000),
        }
    }

    #[test]
    fn a_line_goes_through_the_wire_form_unchanged_unicode_and_64_kib_included() {
        for text in [
            "hello",
            "Grüße, 你好, 🙂 \"quoted\" \\ back\nslash",
            &"x".repeat(MAX_TEXT_BYTES),
            &"é".repeat(MAX_TEXT_BYTES / 2),
        ] {
            let sent = line(text);
            let frame = encode(&sent);
            assert!(frame.len() <= MAX_FRAME_BYTES);
            assert_eq!(decode(frame.as_bytes(), true), Ok(Some(sent)));
        }
    }

    #[test]
    fn the_browsers_form_without_name_or_time_is_a_line() {
        let got = decode(br#"{"type":"chat","text":"hi"}"#, true).unwrap();
        assert_eq!(
            got,
            Some(ChatMessage {
                from: None,
                text: "hi".into(),
                sent_ms: None
            })
        );
    }

    #[test]
    fn hostile_frames_are_refused_with_a_reason_and_other_types_ignored() {
        assert_eq!(decode(b"\xff\xfe", true), Err(ChatError::NotText));
        assert_eq!(
            decode(br#"{"type":"chat","text":"x"}"#, false),
            Err(ChatError::NotText)
        );
        assert!(matches!(
            decode(b"not json", true),
            Err(ChatError::Malformed(_))
        ));
        assert!(matches!(
            decode(b"[1,2]", true),
            Err(ChatError::Malformed(_))
        ));
        assert!(matches!(
            decode(br#"{"type":"chat","text":5}"#, true),
            Err(ChatError::Malformed(_))
        ));
        assert!(matches!(
            decode(br#"{"type":"chat"}"#, true),
            Err(ChatError::Malformed(_))
        ));
        assert_eq!(
            decode(br#"{"type":"chat","text":"  "}"#, true),
            Err(ChatError::Empty)
        );
        let long = format!(
            r#"{{"type":"chat","text":"{}"}}"#,
            "a".repeat(MAX_TEXT_BYTES + 1)
        );
        assert_eq!(
            decode(long.as_bytes(), true),
            Err(ChatError::TooLong(MAX_TEXT_BYTES + 1))
        );
        let huge = vec![b' '; MAX_FRAME_BYTES + 1];
        assert_eq!(
            decode(&huge, true),
            Err(ChatError::FrameTooLong(MAX_FRAME_BYTES + 1))
        );
        assert_eq!(decode(br#"{"type":"file-offer","size":3}"#, true), Ok(None));
        // A name that could mess up a terminal or a layout is dropped, the text kept.
        let got = decode(br#"{"type":"chat","text":"hi","name":"a\u001b[2Jb"}"#, true)
            .unwrap()
            .unwrap();
        assert_eq!((got.from, got.text.as_str()), (None, "hi"));
    }

    #[test]
    fn sending_refuses_empty_and_oversize_text() {
        let mut outbox = ChatOutbox::default();
        outbox.opened();
        assert_eq!(outbox.send(&line("")), Err(ChatError::Empty));
        assert_eq!(
            outbox.send(&line(&"a".repeat(MAX_TEXT_BYTES + 1))),
            Err(ChatError::TooLong(MAX_TEXT_BYTES + 1))
        );
        assert!(outbox.send(&line("ok")).unwrap().is_some());
    }

    #[test]
    fn what_is_sent_before_the_channel_opens_goes_out_in_order_when_it_does() {
        let mut outbox = ChatOutbox::default();
        assert!(!outbox.is_open());
        for i in 0..3 {
            assert_eq!(outbox.send(&line(&format!("m{i}"))), Ok(None));
        }
        let released: Vec<_> = outbox
            .opened()
            .iter()
            .map(|f| decode(f.as_bytes(), true).unwrap().unwrap().text)
            .collect();
        assert_eq!(released, ["m0", "m1", "m2"]);
        assert!(outbox.send(&line("now")).unwrap().is_some());
        outbox.closed();
        assert_eq!(outbox.send(&line("later")), Ok(None));
        assert_eq!(outbox.opened().len(), 1);
    }

    #[test]
    fn the_backlog_is_bounded() {
        let mut outbox = ChatOutbox::default();
        for _ in 0..MAX_PENDING {
            outbox.send(&line("x")).unwrap();
        }
        assert_eq!(outbox.send(&line("x")), Err(ChatError::Backlog));
    }
}
