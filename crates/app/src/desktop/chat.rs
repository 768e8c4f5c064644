//! The chat panel's state as a plain type: the lines (ours and theirs, each with its
//! sender and time), what is being typed, the unread count and the last error. Events
//! in, a text to send out; no I/O, tested without a window.

use call::{ChatError, ChatMessage};

/// Lines kept; older ones are dropped (a long call's chat stays bounded).
pub const MAX_LINES: usize = 1000;

/// One line of the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// Whether we sent it.
    pub mine: bool,
    /// Who sent it, as shown ("you", the peer's name, or "them").
    pub from: String,
    /// The text.
    pub text: String,
    /// When it was sent, `HH:MM UTC`, when known.
    pub time: Option<String>,
}

/// What the engine said about the chat.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// The other peer sent a line.
    Received(ChatMessage),
    /// One of ours went out (or waits for the channel to open).
    Sent(ChatMessage),
    /// One of ours was refused, or one of theirs was malformed.
    Failed(ChatError),
}

/// The chat panel.
#[derive(Debug, Default)]
pub struct ChatState {
    /// The lines, oldest first (at most [`MAX_LINES`]).
    pub lines: Vec<ChatLine>,
    /// What is being typed.
    pub draft: String,
    /// Whether the panel is shown.
    pub open: bool,
    /// Lines received while the panel was closed.
    pub unread: u32,
    /// Why the last line was refused, until the next one goes out.
    pub error: Option<String>,
}

impl ChatState {
    /// Shows or hides the panel; showing it reads what was unread.
    pub fn set_open(&mut self, open: bool) {
        self.open = open;
        if open {
            self.unread = 0;
        }
    }

    /// The draft to send, if it is worth sending (not blank, not too long: then the
    /// error says why); the draft is emptied when it goes.
    pub fn take_draft(&mut self) -> Option<String> {
        let text = self.draft.trim_end_matches(['\n', '\r']).to_owned();
        match call::chat::check_text(&text) {
            Ok(()) => {
                self.draft.clear();
                self.error = None;
                Some(text)
            }
            Err(ChatError::Empty) => None,
            Err(err) => {
                self.error = Some(err.to_string());
                None
            }
        }
    }

    /// Takes what the engine said.
    pub fn handle(&mut self, event: ChatEvent) {
        match event {
            ChatEvent::Received(message) => {
                if !self.open {
                    self.unread = self.unread.saturating_add(1);
                }
                self.push(ChatLine {
                    mine: false,
                    from: message.from.unwrap_or_else(|| "them".into()),
                    time: message.sent_ms.map(utc_time),
                    text: message.text,
                });
            }
            ChatEvent::Sent(message) => {
                self.error = None;
                self.push(ChatLine {
                    mine: true,
                    from: "you".into(),
                    time: message.sent_ms.map(utc_time),
                    text: message.text,
                });
            }
            ChatEvent::Failed(err) => self.error = Some(err.to_string()),
        }
    }

    fn push(&mut self, line: ChatLine) {
        if self.lines.len() >= MAX_LINES {
            self.lines.remove(0);
        }
        self.lines.push(line);
    }
}

/// `HH:MM UTC` of a Unix time in milliseconds (the sender's clock).
fn utc_time(unix_ms: u64) -> String {
    let minutes = unix_ms / 60_000;
    format!("{:02}:{:02} UTC", (minutes / 60) % 24, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theirs(text: &str) -> ChatEvent {
        ChatEvent::Received(ChatMessage {
            from: Some("ana".into()),
            text: text.into(),
            sent_ms: Some(0),
        })
    }

    #[test]
    fn lines_received_while_the_panel_is_closed_count_as_unread_until_it_opens() {
        let mut chat = ChatState::default();
        chat.handle(theirs("one"));
        chat.handle(theirs("two"));
        assert_eq!(chat.unread, 2);
        chat.set_open(true);
        assert_eq!(chat.unread, 0);
        chat.handle(theirs("three"));
        assert_eq!(chat.unread, 0);
        assert_eq!(chat.lines.len(), 3);
        assert_eq!(chat.lines[2].from, "ana");
        assert_eq!(chat.lines[2].time.as_deref(), Some("00:00 UTC"));
        assert_eq!(utc_time(1_733_482_380_000), "10:53 UTC");
    }

    #[test]
    fn a_draft_goes_once_and_blank_or_oversize_ones_do_not() {
        let mut chat = ChatState {
            draft: "hello\n".into(),
            ..ChatState::default()
        };
        assert_eq!(chat.take_draft().as_deref(), Some("hello"));
        assert_eq!(chat.draft, "");
        assert_eq!(chat.take_draft(), None);
        chat.draft = "x".repeat(call::chat::MAX_TEXT_BYTES + 1);
        assert_eq!(chat.take_draft(), None);
        assert!(chat.error.as_deref().unwrap().contains("at most"));
        assert!(!chat.draft.is_empty(), "the draft is kept to be shortened");
    }

    #[test]
    fn our_lines_show_as_ours_and_the_log_is_bounded() {
        let mut chat = ChatState::default();
        chat.handle(ChatEvent::Sent(ChatMessage {
            from: Some("me".into()),
            text: "hi".into(),
            sent_ms: None,
        }));
        assert!(chat.lines[0].mine && chat.lines[0].from == "you");
        for i in 0..MAX_LINES {
            chat.handle(theirs(&i.to_string()));
        }
        assert_eq!(chat.lines.len(), MAX_LINES);
        assert_eq!(chat.lines[0].text, "0");
    }
}
