//! Sending files over the call's data channel: the wire form, and the plain state of
//! every transfer in both directions.
//!
//! A transfer goes, on the same reliable, ordered channel as chat:
//! 1. the sender offers it: `{"type":"file-offer","id":"…","name":"…","size":N}`;
//! 2. the receiver takes it, `{"type":"file-accept","id":"…"}`, or refuses it,
//!    `{"type":"file-cancel","id":"…","reason":"…"}`;
//! 3. the sender sends the bytes as binary frames of at most [`CHUNK_BYTES`], pausing
//!    while more than [`HIGH_WATER`] bytes wait in the channel (backpressure), then
//!    `{"type":"file-end","id":"…","sha256":"…"}`;
//! 4. the receiver checks the size and the SHA-256 and keeps the file, or drops it.
//!
//! Either side may send `file-cancel` at any time. One transfer is sent at a time in each
//! direction, so a binary frame belongs to the transfer the receiver last accepted; one
//! that arrives when none is being received (after a cancel) is dropped. An older peer
//! ignores these messages: an offer it never answers fails after [`ACCEPT_TIMEOUT`].
//!
//! Plain types, no I/O: the engine's shell opens, reads and writes the files and sends
//! what [`Transfers`] asks for. See PROTOCOL.md, "The call's data channel".

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Bytes of file in one binary frame (what every browser takes).
pub const CHUNK_BYTES: usize = 16 * 1024;

/// The largest file sent or taken (the web client holds a file in memory).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Bytes waiting in the channel above which sending pauses.
pub const HIGH_WATER: usize = 1024 * 1024;

/// Bytes waiting in the channel at or below which sending resumes.
pub const LOW_WATER: usize = 256 * 1024;

/// How long an offer waits for the other peer's answer.
pub const ACCEPT_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest file name kept, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Progress is reported each time this many more bytes have gone or come.
const PROGRESS_STEP: u64 = 256 * 1024;

/// A transfer's id: unique per call, chosen by the sender.
pub type FileId = String;

/// Why a transfer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("the file is {0} bytes; at most {MAX_FILE_BYTES} can be sent")]
    TooLarge(u64),
    /// The file is empty.
    #[error("the file is empty: nothing to send")]
    Empty,
    /// The file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The other peer refused or stopped it, and why.
    #[error("the other peer cancelled it: {0}")]
    CancelledByPeer(String),
    /// We cancelled it.
    #[error("cancelled")]
    Cancelled,
    /// The other peer did not answer the offer in time (its peercall may not take files).
    #[error("the other peer did not answer within {} s (it may not take files)", ACCEPT_TIMEOUT.as_secs())]
    NoAnswer,
    /// What arrived is not what was announced.
    #[error("the file arrived damaged: {0}")]
    Damaged(String),
    /// The call's connection went away mid-transfer.
    #[error("the connection was lost")]
    ConnectionLost,
    /// This peer does not take files (no folder to keep them in).
    #[error("this peer does not take files")]
    NotTaken,
}

/// A transfer-control message on the data channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum FileMessage {
    /// The sender offers a file.
    FileOffer {
        /// The transfer.
        id: FileId,
        /// The file's name (no folders).
        name: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The receiver takes it: send the bytes.
    FileAccept {
        /// The transfer.
        id: FileId,
    },
    /// Every byte was sent; their SHA-256, in hex.
    FileEnd {
        /// The transfer.
        id: FileId,
        /// SHA-256 of the whole file, lowercase hex.
        sha256: String,
    },
    /// Either side stops the transfer.
    FileCancel {
        /// The transfer.
        id: FileId,
        /// Why, for the other person.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl FileMessage {
    /// The wire form.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A transfer-control message from a text frame; `Ok(None)` for a message of another
    /// type (chat), an error for a `file-*` message with wrong fields.
    pub fn decode(text: &str) -> Result<Option<Self>, String> {
        let kind = crate::chat::message_type(text).map_err(|e| e.to_string())?;
        if !kind.starts_with("file-") {
            return Ok(None);
        }
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// A name safe to create in a folder: no folders, no control characters, not hidden,
/// not empty, at most [`MAX_NAME_CHARS`].
pub fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_string();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// What a transfer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileEvent {
    /// A file of ours is offered to the other peer.
    Offered {
        /// The transfer.
        id: FileId,
        /// The file's name.
        name: String,
        /// Its size.
        size: u64,
    },
    /// The other peer sends a file, which is being taken.
    Incoming {
        /// The transfer.
        id: FileId,
        /// The file's name, made safe.
        name: String,
        /// Its size.
        size: u64,
    },
    /// Bytes sent or received so far.
    Progress {
        /// The transfer.
        id: FileId,
        /// Bytes so far.
        bytes: u64,
    },
    /// Every byte of ours was sent.
    Sent {
        /// The transfer.
        id: FileId,
    },
    /// A file arrived whole (size and SHA-256 checked) and was kept at `path`.
    Received {
        /// The transfer.
        id: FileId,
        /// Where it is.
        path: std::path::PathBuf,
    },
    /// The transfer ended without the file.
    Failed {
        /// The transfer.
        id: FileId,
        /// Why.
        error: FileError,
    },
}

/// What the shell is to do for the transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    /// Send this control message.
    Send(FileMessage),
    /// Create the file for an accepted incoming transfer (then say [`Transfers::created`]).
    Create {
        /// The transfer.
        id: FileId,
        /// The safe name.
        name: String,
    },
    /// Write these bytes of the incoming transfer.
    Write(bytes::Bytes),
    /// The incoming transfer is complete and checked: keep the file.
    Keep(FileId),
    /// Drop the incoming transfer's partial file.
    Discard(FileId),
    /// Close our outgoing file `id` (done or failed).
    Close(FileId),
    /// Report this.
    Report(FileEvent),
}

/// One of our files, queued or offered or being sent.
struct Outgoing {
    id: FileId,
    name: String,
    size: u64,
    state: OutState,
    sent: u64,
    reported: u64,
    digest: ring::digest::Context,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    Queued,
    Offered(Instant),
    Sending,
}

/// The file being received.
struct Incoming {
    id: FileId,
    size: u64,
    received: u64,
    reported: u64,
    digest: ring::digest::Context,
}

/// Every transfer of the call, both directions: what to send, what to write, what to
/// report.
pub struct Transfers {
    /// Ours, in the order asked; the first is the one offered or being sent.
    outgoing: VecDeque<Outgoing>,
    incoming: Option<Incoming>,
    /// Whether incoming files are taken (a folder to keep them in).
    takes_files: bool,
    /// Whether bytes of a transfer stopped mid-way may still come.
    stray_expected: bool,
    open: bool,
    actions: VecDeque<FileAction>,
}

impl std::fmt::Debug for Transfers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transfers")
            .field(
                "outgoing",
                &self.outgoing.iter().map(|o| &o.id).collect::<Vec<_>>(),
            )
            .field("incoming", &self.incoming.as_ref().map(|i| &i.id))
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl Transfers {
    /// No transfers yet; incoming files are taken if `takes_files`.
    pub fn new(takes_files: bool) -> Self {
        Self {
            outgoing: VecDeque::new(),
            incoming: None,
            takes_files,
            stray_expected: false,
            open: false,
            actions: VecDeque::new(),
        }
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<FileAction> {
        self.actions.pop_front()
    }

    /// Queues a file of ours (opened by the shell) to send as `id`.
    pub fn send(
        &mut self,
        id: FileId,
        name: &str,
        size: u64,
        now: Instant,
    ) -> Result<(), FileError> {
        if size == 0 {
            return Err(FileError::Empty);
        }
        if size > MAX_FILE_BYTES {
            return Err(FileError::TooLarge(size));
        }
        let name = safe_name(name);
        self.actions
            .push_back(FileAction::Report(FileEvent::Offered {
                id: id.clone(),
                name: name.clone(),
                size,
            }));
        self.outgoing.push_back(Outgoing {
            id,
            name,
            size,
            state: OutState::Queued,
            sent: 0,
            reported: 0,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
        });
        self.offer_next(now);
        Ok(())
    }

    /// The channel opened.
    pub fn opened(&mut self, now: Instant) {
        self.open = true;
        self.offer_next(now);
    }

    /// The channel closed or the connection is being replaced: every transfer under way
    /// fails (their bytes may be lost), queued ones wait for the next channel.
    pub fn closed(&mut self) {
        self.open = false;
        if let Some(out) = self.outgoing.front()
            && out.state != OutState::Queued
        {
            let id = out.id.clone();
            self.fail_outgoing(&id, FileError::ConnectionLost, None);
        }
        if let Some(incoming) = self.incoming.take() {
            self.actions
                .push_back(FileAction::Discard(incoming.id.clone()));
            self.report_failed(incoming.id, FileError::ConnectionLost);
        }
    }

    /// The user cancels transfer `id` (ours or theirs).
    pub fn cancel(&mut self, id: &str, now: Instant) {
        let reason = Some("cancelled by the sender".to_string());
        if self.outgoing.iter().any(|o| o.id == id) {
            self.fail_outgoing(id, FileError::Cancelled, reason);
            self.offer_next(now);
        } else if self.incoming.as_ref().is_some_and(|i| i.id == id) {
            self.fail_incoming(
                FileError::Cancelled,
                Some("cancelled by the receiver".into()),
            );
        }
    }

    /// A transfer-control message arrived.
    pub fn on_message(&mut self, message: FileMessage, now: Instant) {
        match message {
            FileMessage::FileOffer { id, name, size } => self.on_offer(id, &name, size),
            FileMessage::FileAccept { id } => {
                if let Some(out) = self.outgoing.front_mut()
                    && out.id == id
                    && matches!(out.state, OutState::Offered(_))
                {
                    out.state = OutState::Sending;
                }
            }
            FileMessage::FileCancel { id, reason } => {
                let why = reason
                    .map(|r| r.chars().filter(|c| !c.is_control()).take(200).collect())
                    .unwrap_or_else(|| "no reason given".into());
                if self.outgoing.iter().any(|o| o.id == id) {
                    self.fail_outgoing(&id, FileError::CancelledByPeer(why), None);
                    self.offer_next(now);
                } else if self.incoming.as_ref().is_some_and(|i| i.id == id) {
                    self.fail_incoming(FileError::CancelledByPeer(why), None);
                }
            }
            FileMessage::FileEnd { id, sha256 } => self.on_end(&id, &sha256),
        }
    }

    fn on_offer(&mut self, id: FileId, name: &str, size: u64) {
        let refuse = |this: &mut Self, reason: String| {
            this.actions
                .push_back(FileAction::Send(FileMessage::FileCancel {
                    id: id.clone(),
                    reason: Some(reason),
                }));
        };
        if !self.takes_files {
            return refuse(self, "this peer does not take files".into());
        }
        if self.incoming.is_some() {
            return refuse(self, "another file is being received".into());
        }
        if size == 0 || size > MAX_FILE_BYTES {
            return refuse(
                self,
                format!("a file of {size} bytes is not taken (1 to {MAX_FILE_BYTES})"),
            );
        }
        let name = safe_name(name);
        self.stray_expected = false;
        self.incoming = Some(Incoming {
            id: id.clone(),
            size,
            received: 0,
            reported: 0,
            digest: ring::digest::Context::new(&ring::digest::SHA256),
        });
        self.actions
            .push_back(FileAction::Report(FileEvent::Incoming {
                id: id.clone(),
                name: name.clone(),
                size,
            }));
        self.actions.push_back(FileAction::Create { id, name });
    }

    /// The shell created the incoming file (`Ok`) or could not create or write it
    /// (`Err`, why): on success the sender is told to go ahead.
    pub fn created(&mut self, id: &str, result: Result<(), String>) {
        if self.incoming.as_ref().is_none_or(|i| i.id != id) {
            return;
        }
        match result {
            Ok(()) => self
                .actions
                .push_back(FileAction::Send(FileMessage::FileAccept {
                    id: id.to_string(),
                })),
            Err(why) => self.fail_incoming(
                FileError::Io(why),
                Some("the receiver could not save the file".into()),
            ),
        }
    }

    /// A binary frame arrived: bytes of the file being received. `false` when no
    /// transfer was ever taken for it (a frame after a cancel is dropped quietly: the
    /// sender had sent it before it heard).
    pub fn on_chunk(&mut self, data: bytes::Bytes) -> bool {
        let Some(incoming) = &mut self.incoming else {
            return self.stray_expected;
        };
        incoming.received += data.len() as u64;
        if incoming.received > incoming.size {
            let size = incoming.size;
            self.fail_incoming(
                FileError::Damaged(format!("more than the {size} bytes announced")),
                Some("more bytes than announced".into()),
            );
            return true;
        }
        incoming.digest.update(&data);
        let (id, received) = (incoming.id.clone(), incoming.received);
        if received >= incoming.reported + PROGRESS_STEP || received == incoming.size {
            incoming.reported = received;
            self.actions
                .push_back(FileAction::Report(FileEvent::Progress {
                    id,
                    bytes: received,
                }));
        }
        self.actions.push_back(FileAction::Write(data));
        true
    }

    fn on_end(&mut self, id: &str, sha256: &str) {
        let Some(incoming) = self.incoming.take_if(|i| i.id == id) else {
            return;
        };
        let digest = hex(incoming.digest.finish().as_ref());
        let problem = if incoming.received != incoming.size {
            Some(format!(
                "{} of {} bytes arrived",
                incoming.received, incoming.size
            ))
        } else if !digest.eq_ignore_ascii_case(sha256) {
            Some("its SHA-256 does not match".to_string())
        } else {
            None
        };
        match problem {
            None => self.actions.push_back(FileAction::Keep(incoming.id)),
            Some(problem) => {
                self.actions
                    .push_back(FileAction::Discard(incoming.id.clone()));
                self.report_failed(incoming.id, FileError::Damaged(problem));
            }
        }
    }

    /// How many bytes of our file the shell should read and send next (none: wait);
    /// `waiting` is what the channel still holds.
    pub fn wants(&self, waiting: usize) -> Option<(FileId, usize)> {
        let out = self.outgoing.front()?;
        if !self.open || out.state != OutState::Sending || waiting > HIGH_WATER {
            return None;
        }
        let left = out.size - out.sent;
        (left > 0).then(|| (out.id.clone(), CHUNK_BYTES.min(left as usize)))
    }

    /// The shell read `data` of our file `id` and is sending it; after the last bytes the
    /// end message follows.
    pub fn chunk_sent(&mut self, id: &str, data: &[u8], now: Instant) {
        let Some(out) = self.outgoing.front_mut().filter(|o| o.id == id) else {
            return;
        };
        out.sent += data.len() as u64;
        out.digest.update(data);
        let (id, sent, size) = (out.id.clone(), out.sent, out.size);
        if sent >= out.reported + PROGRESS_STEP || sent == size {
            out.reported = sent;
            self.actions
                .push_back(FileAction::Report(FileEvent::Progress {
                    id: id.clone(),
                    bytes: sent,
                }));
        }
        if sent == size {
            let out = self.outgoing.pop_front().expect("the front transfer");
            let sha256 = hex(out.digest.finish().as_ref());
            self.actions
                .push_back(FileAction::Send(FileMessage::FileEnd {
                    id: id.clone(),
                    sha256,
                }));
            self.actions.push_back(FileAction::Close(id.clone()));
            self.actions
                .push_back(FileAction::Report(FileEvent::Sent { id }));
            self.offer_next(now);
        }
    }

    /// The shell could not read or send our file `id`.
    pub fn sending_failed(&mut self, id: &str, why: String, now: Instant) {
        self.fail_outgoing(
            id,
            FileError::Io(why),
            Some("the sender could not read the file".into()),
        );
        self.offer_next(now);
    }

    /// The receiver kept the file at `path` (after [`FileAction::Keep`]), or could not.
    pub fn kept(&mut self, id: FileId, result: Result<std::path::PathBuf, String>) {
        let event = match result {
            Ok(path) => FileEvent::Received { id, path },
            Err(why) => FileEvent::Failed {
                id,
                error: FileError::Io(why),
            },
        };
        self.actions.push_back(FileAction::Report(event));
    }

    /// Offers that went unanswered for [`ACCEPT_TIMEOUT`] fail.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(out) = self.outgoing.front()
            && let OutState::Offered(at) = out.state
            && now >= at + ACCEPT_TIMEOUT
        {
            let id = out.id.clone();
            self.fail_outgoing(&id, FileError::NoAnswer, Some("no answer in time".into()));
            self.offer_next(now);
        }
    }

    /// When [`Self::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.outgoing.front()?.state {
            OutState::Offered(at) => Some(at + ACCEPT_TIMEOUT),
            _ => None,
        }
    }

    fn offer_next(&mut self, now: Instant) {
        if !self.open {
            return;
        }
        if let Some(out) = self.outgoing.front_mut()
            && out.state == OutState::Queued
        {
            out.state = OutState::Offered(now);
            self.actions
                .push_back(FileAction::Send(FileMessage::FileOffer {
                    id: out.id.clone(),
                    name: out.name.clone(),
                    size: out.size,
                }));
        }
    }

    fn fail_outgoing(&mut self, id: &str, error: FileError, tell: Option<String>) {
        let Some(at) = self.outgoing.iter().position(|o| o.id == id) else {
            return;
        };
        let out = self.outgoing.remove(at).expect("found above");
        if out.state != OutState::Queued
            && let Some(reason) = tell
            && self.open
        {
            self.actions
                .push_back(FileAction::Send(FileMessage::FileCancel {
                    id: out.id.clone(),
                    reason: Some(reason),
                }));
        }
        self.actions.push_back(FileAction::Close(out.id.clone()));
        self.report_failed(out.id, error);
    }

    fn fail_incoming(&mut self, error: FileError, tell: Option<String>) {
        let Some(incoming) = self.incoming.take() else {
            return;
        };
        self.stray_expected = true;
        if let Some(reason) = tell
            && self.open
        {
            self.actions
                .push_back(FileAction::Send(FileMessage::FileCancel {
                    id: incoming.id.clone(),
                    reason: Some(reason),
                }));
        }
        self.actions
            .push_back(FileAction::Discard(incoming.id.clone()));
        self.report_failed(incoming.id, error);
    }

    fn report_failed(&mut self, id: FileId, error: FileError) {
        self.actions
            .push_back(FileAction::Report(FileEvent::Failed { id, error }));
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(t: &mut Transfers) -> Vec<FileAction> {
        std::iter::from_fn(|| t.poll_action()).collect()
    }

    fn sends(actions: &[FileAction]) -> Vec<FileMessage> {
        actions
            .iter()
            .filter_map(|a| match a {
                FileAction::Send(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    fn reports(actions: &[FileAction]) -> Vec<FileEvent> {
        actions
            .iter()
            .filter_map(|a| match a {
                FileAction::Report(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// Runs our side's sending of `data` as `id` to the end, as the shell would.
    fn send_all(t: &mut Transfers, id: &str, data: &[u8], now: Instant) -> Vec<FileAction> {
        let mut actions = Vec::new();
        let mut at = 0;
        while let Some((wanted, n)) = t.wants(0) {
            assert_eq!(wanted, id);
            t.chunk_sent(id, &data[at..at + n], now);
            at += n;
            actions.extend(drain(t));
        }
        actions
    }

    #[test]
    fn control_messages_round_trip_and_chat_is_not_theirs() {
        let offer = FileMessage::FileOffer {
            id: "a1".into(),
            name: "report.pdf".into(),
            size: 12,
        };
        assert_eq!(
            offer.encode(),
            r#"{"type":"file-offer","id":"a1","name":"report.pdf","size":12}"#
        );
        assert_eq!(FileMessage::decode(&offer.encode()), Ok(Some(offer)));
        assert_eq!(
            FileMessage::decode(r#"{"type":"chat","text":"hi"}"#),
            Ok(None)
        );
        assert!(FileMessage::decode(r#"{"type":"file-offer","id":"a1"}"#).is_err());
        assert!(FileMessage::decode("not json").is_err());
    }

    #[test]
    fn names_lose_folders_control_characters_and_leading_dots() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\x\\a.txt"), "a.txt");
        assert_eq!(safe_name(".bashrc"), "bashrc");
        assert_eq!(safe_name("a\u{7}b\nc.txt"), "abc.txt");
        assert_eq!(safe_name(""), "file");
        assert_eq!(safe_name(".."), "file");
        assert_eq!(safe_name(&"x".repeat(500)).chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn a_file_goes_across_in_chunks_and_arrives_checked() {
        let now = Instant::now();
        let data: Vec<u8> = (0..(3 * CHUNK_BYTES + 100))
            .map(|i| (i % 251) as u8)
            .collect();
        let (mut sender, mut receiver) = (Transfers::new(false), Transfers::new(true));
        sender.opened(now);
        receiver.opened(now);
        sender
            .send("f1".into(), "data.bin", data.len() as u64, now)
            .unwrap();
        let offered = drain(&mut sender);
        assert!(
            matches!(reports(&offered)[0], FileEvent::Offered { size, .. } if size == data.len() as u64)
        );
        assert_eq!(
            sender.wants(0),
            None,
            "nothing is sent before the receiver takes it"
        );
        for m in sends(&offered) {
            receiver.on_message(m, now);
        }
        let created = drain(&mut receiver);
        assert!(created.contains(&FileAction::Create {
            id: "f1".into(),
            name: "data.bin".into()
        }));
        receiver.created("f1", Ok(()));
        for m in sends(&drain(&mut receiver)) {
            sender.on_message(m, now);
        }
        assert_eq!(
            sender.wants(HIGH_WATER + 1),
            None,
            "a full channel pauses sending"
        );
        assert_eq!(sender.wants(0), Some(("f1".into(), CHUNK_BYTES)));
        let mut written = Vec::new();
        let mut at = 0;
        let mut to_receiver = Vec::new();
        while let Some((_, n)) = sender.wants(0) {
            sender.chunk_sent("f1", &data[at..at + n], now);
            assert!(receiver.on_chunk(bytes::Bytes::copy_from_slice(&data[at..at + n])));
            at += n;
            to_receiver.extend(sends(&drain(&mut sender)));
        }
        for action in drain(&mut receiver) {
            if let FileAction::Write(bytes) = action {
                written.extend_from_slice(&bytes);
            }
        }
        assert_eq!(written, data);
        assert!(matches!(&to_receiver[..], [FileMessage::FileEnd { .. }]));
        receiver.on_message(to_receiver.remove(0), now);
        assert_eq!(drain(&mut receiver), vec![FileAction::Keep("f1".into())]);
        receiver.kept("f1".into(), Ok("/tmp/data.bin".into()));
        assert!(matches!(
            reports(&drain(&mut receiver))[..],
            [FileEvent::Received { .. }]
        ));
    }

    #[test]
    fn a_wrong_hash_or_size_discards_the_file() {
        let now = Instant::now();
        for (chunk, sha) in [
            (vec![1u8; 10], "00".repeat(32)),
            (vec![1u8; 4], String::new()),
        ] {
            let mut receiver = Transfers::new(true);
            receiver.opened(now);
            receiver.on_message(
                FileMessage::FileOffer {
                    id: "x".into(),
                    name: "n".into(),
                    size: 10,
                },
                now,
            );
            receiver.created("x", Ok(()));
            assert!(receiver.on_chunk(chunk.into()));
            receiver.on_message(
                FileMessage::FileEnd {
                    id: "x".into(),
                    sha256: sha,
                },
                now,
            );
            let actions = drain(&mut receiver);
            assert!(actions.contains(&FileAction::Discard("x".into())));
            assert!(matches!(
                reports(&actions).last(),
                Some(FileEvent::Failed {
                    error: FileError::Damaged(_),
                    ..
                })
            ));
        }
    }

    #[test]
    fn more_bytes_than_announced_are_refused() {
        let now = Instant::now();
        let mut receiver = Transfers::new(true);
        receiver.opened(now);
        receiver.on_message(
            FileMessage::FileOffer {
                id: "x".into(),
                name: "n".into(),
                size: 3,
            },
            now,
        );
        receiver.created("x", Ok(()));
        drain(&mut receiver);
        assert!(
            !Transfers::new(true).on_chunk(vec![0u8; 4].into()),
            "bytes of no transfer"
        );
        assert!(receiver.on_chunk(vec![0u8; 4].into()));
        let actions = drain(&mut receiver);
        assert!(matches!(
            sends(&actions)[..],
            [FileMessage::FileCancel { .. }]
        ));
        assert!(actions.contains(&FileAction::Discard("x".into())));
        assert!(
            receiver.on_chunk(vec![0u8; 4].into()),
            "later bytes are expected"
        );
        assert!(drain(&mut receiver).is_empty(), "and dropped");
    }

    #[test]
    fn offers_are_refused_when_too_large_busy_or_not_taking_files() {
        let now = Instant::now();
        let offer = |id: &str, size| FileMessage::FileOffer {
            id: id.into(),
            name: "n".into(),
            size,
        };
        let mut receiver = Transfers::new(true);
        receiver.opened(now);
        receiver.on_message(offer("big", MAX_FILE_BYTES + 1), now);
        receiver.on_message(offer("a", 10), now);
        receiver.on_message(offer("b", 10), now);
        let refused: Vec<_> = sends(&drain(&mut receiver))
            .into_iter()
            .filter_map(|m| match m {
                FileMessage::FileCancel { id, .. } => Some(id),
                _ => None,
            })
            .collect();
        assert_eq!(refused, ["big", "b"]);
        let mut closed = Transfers::new(false);
        closed.opened(now);
        closed.on_message(offer("c", 10), now);
        assert!(
            matches!(&sends(&drain(&mut closed))[..], [FileMessage::FileCancel { id, .. }] if id == "c")
        );
    }

    #[test]
    fn sending_refuses_empty_and_oversized_files() {
        let mut t = Transfers::new(false);
        let now = Instant::now();
        assert_eq!(t.send("a".into(), "n", 0, now), Err(FileError::Empty));
        assert_eq!(
            t.send("a".into(), "n", MAX_FILE_BYTES + 1, now),
            Err(FileError::TooLarge(MAX_FILE_BYTES + 1))
        );
        assert!(drain(&mut t).is_empty());
    }

    #[test]
    fn files_wait_for_the_channel_and_go_one_at_a_time() {
        let now = Instant::now();
        let mut t = Transfers::new(false);
        t.send("a".into(), "a", 5, now).unwrap();
        t.send("b".into(), "b", 5, now).unwrap();
        assert!(
            sends(&drain(&mut t)).is_empty(),
            "held until the channel opens"
        );
        t.opened(now);
        assert!(
            matches!(&sends(&drain(&mut t))[..], [FileMessage::FileOffer { id, .. }] if id == "a")
        );
        t.on_message(FileMessage::FileAccept { id: "a".into() }, now);
        let actions = send_all(&mut t, "a", &[7; 5], now);
        let sent = sends(&actions);
        assert!(
            matches!(&sent[..], [FileMessage::FileEnd { .. }, FileMessage::FileOffer { id, .. }] if id == "b")
        );
    }

    #[test]
    fn an_unanswered_offer_fails_after_the_timeout_and_the_next_is_offered() {
        let now = Instant::now();
        let mut t = Transfers::new(false);
        t.opened(now);
        t.send("a".into(), "a", 5, now).unwrap();
        t.send("b".into(), "b", 5, now).unwrap();
        drain(&mut t);
        assert_eq!(t.poll_timeout(), Some(now + ACCEPT_TIMEOUT));
        t.handle_timeout(now + ACCEPT_TIMEOUT - Duration::from_millis(1));
        assert!(drain(&mut t).is_empty());
        t.handle_timeout(now + ACCEPT_TIMEOUT);
        let actions = drain(&mut t);
        assert!(reports(&actions).contains(&FileEvent::Failed {
            id: "a".into(),
            error: FileError::NoAnswer
        }));
        assert!(
            matches!(sends(&actions).last(), Some(FileMessage::FileOffer { id, .. }) if id == "b")
        );
    }

    #[test]
    fn cancelling_tells_the_other_side_and_its_cancel_ends_ours() {
        let now = Instant::now();
        let mut t = Transfers::new(true);
        t.opened(now);
        t.send("a".into(), "a", 50, now).unwrap();
        t.on_message(FileMessage::FileAccept { id: "a".into() }, now);
        drain(&mut t);
        t.cancel("a", now);
        let actions = drain(&mut t);
        assert!(matches!(&sends(&actions)[..], [FileMessage::FileCancel { id, .. }] if id == "a"));
        assert!(actions.contains(&FileAction::Close("a".into())));
        assert_eq!(t.wants(0), None);

        t.on_message(
            FileMessage::FileOffer {
                id: "in".into(),
                name: "n".into(),
                size: 9,
            },
            now,
        );
        t.created("in", Ok(()));
        drain(&mut t);
        t.on_message(
            FileMessage::FileCancel {
                id: "in".into(),
                reason: Some("changed my mind".into()),
            },
            now,
        );
        let actions = drain(&mut t);
        assert!(actions.contains(&FileAction::Discard("in".into())));
        assert!(reports(&actions).contains(&FileEvent::Failed {
            id: "in".into(),
            error: FileError::CancelledByPeer("changed my mind".into())
        }));
    }

    #[test]
    fn a_lost_channel_fails_what_is_under_way_and_keeps_what_is_queued() {
        let now = Instant::now();
        let mut t = Transfers::new(true);
        t.opened(now);
        t.send("a".into(), "a", 50, now).unwrap();
        t.send("b".into(), "b", 50, now).unwrap();
        t.on_message(
            FileMessage::FileOffer {
                id: "in".into(),
                name: "n".into(),
                size: 9,
            },
            now,
        );
        drain(&mut t);
        t.closed();
        let failed: Vec<_> = reports(&drain(&mut t))
            .into_iter()
            .filter_map(|e| match e {
                FileEvent::Failed {
                    id,
                    error: FileError::ConnectionLost,
                } => Some(id),
                _ => None,
            })
            .collect();
        assert_eq!(failed, ["a", "in"]);
        t.opened(now);
        assert!(
            matches!(&sends(&drain(&mut t))[..], [FileMessage::FileOffer { id, .. }] if id == "b")
        );
    }
}
