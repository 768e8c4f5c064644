//! When the call's data channel may carry our messages: after the other peer has said
//! `{"type":"ready"}`, or after [`READY_WAIT`] for a peer that never says it.
//!
//! A negotiated channel opens on each side when that side's SCTP handshake completes,
//! and the two sides do not finish at the same moment. webrtc 0.21 hands the data that
//! arrives in the same receive batch as its own handshake's last packet to the channel
//! layer before it opens the channel, and drops it: a message sent the instant the other
//! side opened could vanish although SCTP acknowledged it. So each peer sends `ready` as
//! soon as its channel opens and holds everything else until it hears the other's. The
//! `ready` of the side that opened last always arrives (the other was open before it was
//! sent); the first side answers it with one more `ready`, in case its own was the one
//! lost. A peer that never says `ready` (an older one) is written to after
//! [`READY_WAIT`].
//!
//! A plain type: the engine's shell sends what it asks and releases the chat outbox and
//! the file transfers once it says the channel is usable.

use std::time::{Duration, Instant};

/// The frame a peer sends when its channel opens (and once more on hearing the other's).
pub const READY_FRAME: &str = r#"{"type":"ready"}"#;

/// How long to wait for the other peer's `ready` before writing anyway.
pub const READY_WAIT: Duration = Duration::from_secs(1);

/// What the shell is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyAction {
    /// Send [`READY_FRAME`].
    SendReady,
    /// The channel carries our messages from now on.
    Usable,
}

/// Where the channel is in its opening handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    /// Open; our `ready` went out; theirs has not come.
    Waiting {
        until: Instant,
    },
    /// Ours may go (whether or not theirs came: `heard` says).
    Usable {
        heard: bool,
    },
}

/// The opening handshake of one data channel at a time.
#[derive(Debug, Clone)]
pub struct ChannelReady {
    state: State,
}

impl Default for ChannelReady {
    fn default() -> Self {
        Self::new()
    }
}

impl ChannelReady {
    /// No channel open yet.
    pub fn new() -> Self {
        Self {
            state: State::Closed,
        }
    }

    /// Whether our messages may go on the channel.
    pub fn is_usable(&self) -> bool {
        matches!(self.state, State::Usable { .. })
    }

    /// The channel opened: say `ready`, and wait for theirs.
    pub fn opened(&mut self, now: Instant) -> Vec<ReadyAction> {
        self.state = State::Waiting {
            until: now + READY_WAIT,
        };
        vec![ReadyAction::SendReady]
    }

    /// The other peer said `ready`. The first time, it is answered (ours may have been
    /// lost) and, if we were waiting, the channel becomes usable.
    pub fn heard_ready(&mut self) -> Vec<ReadyAction> {
        match self.state {
            State::Closed | State::Usable { heard: true } => Vec::new(),
            State::Waiting { .. } => {
                self.state = State::Usable { heard: true };
                vec![ReadyAction::SendReady, ReadyAction::Usable]
            }
            State::Usable { heard: false } => {
                self.state = State::Usable { heard: true };
                vec![ReadyAction::SendReady]
            }
        }
    }

    /// The channel closed (or a new connection replaces it).
    pub fn closed(&mut self) {
        self.state = State::Closed;
    }

    /// When [`Self::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Waiting { until } => Some(until),
            _ => None,
        }
    }

    /// No `ready` came within [`READY_WAIT`]: write anyway.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<ReadyAction> {
        match self.state {
            State::Waiting { until } if now >= until => {
                self.state = State::Usable { heard: false };
                vec![ReadyAction::Usable]
            }
            _ => Vec::new(),
        }
    }
}

/// Whether a text frame is the other peer's `ready`.
pub fn is_ready(data: &[u8]) -> bool {
    data.len() < 256
        && std::str::from_utf8(data)
            .ok()
            .and_then(|text| crate::chat::message_type(text).ok())
            .is_some_and(|kind| kind == "ready")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_say_ready_and_each_answers_the_first_it_hears() {
        let now = Instant::now();
        let (mut a, mut b) = (ChannelReady::new(), ChannelReady::new());
        assert_eq!(a.opened(now), [ReadyAction::SendReady]);
        assert!(
            !a.is_usable(),
            "nothing of ours goes before theirs is heard"
        );
        assert_eq!(b.opened(now), [ReadyAction::SendReady]);
        assert_eq!(
            a.heard_ready(),
            [ReadyAction::SendReady, ReadyAction::Usable]
        );
        assert_eq!(
            b.heard_ready(),
            [ReadyAction::SendReady, ReadyAction::Usable]
        );
        // The answers end it: no third round.
        assert_eq!(a.heard_ready(), []);
        assert_eq!(b.heard_ready(), []);
        assert!(a.is_usable() && b.is_usable());
        assert_eq!(a.poll_timeout(), None);
    }

    #[test]
    fn a_lost_ready_is_made_up_by_the_answer_to_the_other() {
        let now = Instant::now();
        let (mut first, mut last) = (ChannelReady::new(), ChannelReady::new());
        // `first` opened first; its `ready` was dropped at `last`.
        first.opened(now);
        last.opened(now);
        // `last`'s ready arrives; `first` answers it, and that answer arrives.
        assert!(first.heard_ready().contains(&ReadyAction::SendReady));
        assert_eq!(
            last.heard_ready(),
            [ReadyAction::SendReady, ReadyAction::Usable]
        );
        assert!(first.is_usable() && last.is_usable());
    }

    #[test]
    fn a_peer_that_never_says_ready_is_written_to_after_the_wait() {
        let now = Instant::now();
        let mut ready = ChannelReady::new();
        ready.opened(now);
        assert_eq!(ready.poll_timeout(), Some(now + READY_WAIT));
        assert_eq!(ready.handle_timeout(now + READY_WAIT / 2), []);
        assert_eq!(
            ready.handle_timeout(now + READY_WAIT),
            [ReadyAction::Usable]
        );
        assert!(ready.is_usable());
        assert_eq!(ready.poll_timeout(), None);
        // A late `ready` is still answered once, and changes nothing else.
        assert_eq!(ready.heard_ready(), [ReadyAction::SendReady]);
        assert_eq!(ready.heard_ready(), []);
    }

    #[test]
    fn a_closed_channel_waits_again_for_the_next_one() {
        let now = Instant::now();
        let mut ready = ChannelReady::new();
        ready.opened(now);
        ready.heard_ready();
        ready.closed();
        assert!(!ready.is_usable());
        assert_eq!(
            ready.heard_ready(),
            [],
            "nothing is heard on a closed channel"
        );
        assert_eq!(ready.poll_timeout(), None);
        assert_eq!(ready.opened(now), [ReadyAction::SendReady]);
        assert!(!ready.is_usable());
    }

    #[test]
    fn only_a_ready_frame_is_ready() {
        assert!(is_ready(READY_FRAME.as_bytes()));
        assert!(is_ready(br#"{ "type": "ready", "later": 1 }"#));
        assert!(!is_ready(br#"{"type":"chat","text":"ready"}"#));
        assert!(!is_ready(b"ready"));
        assert!(!is_ready(b"{not json"));
    }
}
