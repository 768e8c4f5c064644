//! The chat panel's state as a plain type: the lines (ours and theirs, each with its
//! sender and time), what is being typed, the unread count and the last error, and the
//! file transfers with their progress. Events in, a text or a file to send out; no I/O,
//! tested without a window.

use std::path::PathBuf;

use call::file::{FileEvent, FileId};
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
    /// A file transfer went on.
    File(FileEvent),
}

/// A file transfer, ours or theirs, as the panel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// The transfer.
    pub id: FileId,
    /// The file's name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes sent or received so far.
    pub bytes: u64,
    /// Whether we send it.
    pub mine: bool,
    /// Where it stands.
    pub state: FileState,
}

/// Where a file transfer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Offered, not yet taken.
    Waiting,
    /// Bytes are flowing.
    Running,
    /// Sent, or received and kept at this path.
    Done(Option<PathBuf>),
    /// Ended without the file, and why.
    Failed(String),
}

impl FileRow {
    /// Whether it is still under way (it can be cancelled).
    pub fn is_running(&self) -> bool {
        matches!(self.state, FileState::Waiting | FileState::Running)
    }

    /// What it is at, for people: `1.5 MiB of 3.0 MiB`, `sent`, `saved to …`, `failed: …`.
    pub fn status(&self) -> String {
        match &self.state {
            FileState::Waiting => format!("{}, waiting for the other side", mib(self.size)),
            FileState::Running => format!("{} of {}", mib(self.bytes), mib(self.size)),
            FileState::Done(None) => format!("{}, sent", mib(self.size)),
            FileState::Done(Some(path)) => format!("saved to {}", path.display()),
            FileState::Failed(why) => format!("failed: {why}"),
        }
    }
}

/// `n` bytes in MiB, one decimal.
fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
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
    /// File transfers, oldest first.
    pub files: Vec<FileRow>,
    /// The path of a file to send, as typed.
    pub file_path: String,
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

    /// The typed path of a file to send, if any (surrounding quotes and blanks
    /// dropped, as a file manager's copied path has them); the field is emptied.
    pub fn take_file_path(&mut self) -> Option<PathBuf> {
        let path = self
            .file_path
            .trim()
            .trim_matches(['"', '\''])
            .trim()
            .to_owned();
        self.file_path.clear();
        (!path.is_empty()).then(|| PathBuf::from(path))
    }

    /// Takes what the engine said.
    pub fn handle(&mut self, event: ChatEvent) {
        match event {
            ChatEvent::File(event) => self.file_event(event),
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

    fn file_event(&mut self, event: FileEvent) {
        let (id, name, size, mine) = match &event {
            FileEvent::Offered { id, name, size } => (id, name, *size, true),
            FileEvent::Incoming { id, name, size } => (id, name, *size, false),
            _ => {
                self.update_file(event);
                return;
            }
        };
        if !mine && !self.open {
            self.unread = self.unread.saturating_add(1);
        }
        self.files.push(FileRow {
            id: id.clone(),
            name: name.clone(),
            size,
            bytes: 0,
            mine,
            state: FileState::Waiting,
        });
    }

    fn update_file(&mut self, event: FileEvent) {
        let id = match &event {
            FileEvent::Progress { id, .. }
            | FileEvent::Sent { id }
            | FileEvent::Received { id, .. }
            | FileEvent::Failed { id, .. } => id,
            _ => return,
        };
        let Some(row) = self.files.iter_mut().find(|r| &r.id == id) else {
            // A file refused before it was offered (missing, empty, too large).
            if let FileEvent::Failed { error, .. } = event {
                self.error = Some(error.to_string());
            }
            return;
        };
        match event {
            FileEvent::Progress { bytes, .. } => {
                row.bytes = bytes;
                row.state = FileState::Running;
            }
            FileEvent::Sent { .. } => {
                row.bytes = row.size;
                row.state = FileState::Done(None);
            }
            FileEvent::Received { path, .. } => {
                row.bytes = row.size;
                row.state = FileState::Done(Some(path));
            }
            FileEvent::Failed { error, .. } => row.state = FileState::Failed(error.to_string()),
            _ => {}
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
    fn a_file_row_follows_its_transfer_and_a_refused_file_shows_why() {
        let mut chat = ChatState::default();
        chat.handle(ChatEvent::File(FileEvent::Incoming {
            id: "a".into(),
            name: "photo.jpg".into(),
            size: 3 * 1024 * 1024,
        }));
        assert_eq!(chat.unread, 1, "a file received while closed is unread");
        assert!(chat.files[0].is_running());
        chat.handle(ChatEvent::File(FileEvent::Progress {
            id: "a".into(),
            bytes: 1024 * 1024,
        }));
        assert_eq!(chat.files[0].status(), "1.0 MiB of 3.0 MiB");
        chat.handle(ChatEvent::File(FileEvent::Received {
            id: "a".into(),
            path: "/home/u/Downloads/photo.jpg".into(),
        }));
        assert!(!chat.files[0].is_running());
        assert_eq!(
            chat.files[0].status(),
            "saved to /home/u/Downloads/photo.jpg"
        );
        chat.handle(ChatEvent::File(FileEvent::Failed {
            id: "gone".into(),
            error: call::file::FileError::Empty,
        }));
        assert_eq!(chat.files.len(), 1);
        assert!(chat.error.as_deref().unwrap().contains("empty"));
        chat.file_path = "  '/tmp/a b.txt' ".into();
        assert_eq!(chat.take_file_path(), Some(PathBuf::from("/tmp/a b.txt")));
        assert_eq!(chat.take_file_path(), None);
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
