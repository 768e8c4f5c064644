//! The call's control decisions as a plain state machine: no tokio, no sockets, time
//! passed in.
//!
//! [`CallMachine`] takes [`Input`]s (signaling, the peer connection, the user, timers)
//! through [`CallMachine::handle_input`] and [`CallMachine::handle_timeout`], and hands
//! back [`Action`]s from [`CallMachine::poll_action`] for the engine to run, in order.
//! It owns:
//! - who offers, by protocol.md's "Who offers" rules: a peer that finds the room empty
//!   offers at once, held by the server; one that finds someone there answers the held
//!   offer; alone again (the other left before or during the call, with `stay`), it
//!   starts over on a fresh connection with a fresh held offer;
//! - negotiation: remote candidates queued until the remote description is set, the
//!   codecs in every remote description checked ([`crate::sdp`]), our candidates sent
//!   to whoever we are talking to (held while nobody is);
//! - a rejoin after a signaling outage (new ids: follow them; before the call is up,
//!   start over), a second offer mid-call: from the same session (its `o=` id) it
//!   renegotiates the connection in place (an ICE restart), from another the other peer
//!   started over (answer it on a fresh connection);
//! - ICE restarts, with the media left running: when the connection stays disconnected
//!   past a grace period, fails, or the local network changes; at most one every few
//!   seconds; either side may restart, and when both offer at once the peer that
//!   answered the call's first offer yields (it is the polite one); reconnecting that
//!   lasts too long ends the call;
//! - renegotiation for tracks added or removed mid-call (a screen share started or
//!   stopped, [`Input::NegotiationNeeded`]): an offer on the same connection once no
//!   other offer of ours waits for its answer, with the same glare rule (the polite side
//!   rolls its offer back, answers, and offers again after);
//! - the connect timeout, which runs only while someone is there to connect to, and the
//!   call's set duration;
//! - when the call ends and why. Every end with media running stops the media first,
//!   and closes the connection, then ends: [`Action::End`] is always the last action.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use signaling_proto::{IceCandidateInit, PeerId, Signal};

use crate::sdp::{check_decodable, session_id};
use crate::state::{CallState, EndReason, Failure};

/// What the machine needs to know of the call's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineConfig {
    /// How long connecting may take once someone is there.
    pub connect_timeout: Duration,
    /// How long each call stays connected (`None`: until hang-up).
    pub duration: Option<Duration>,
    /// After the other peer leaves, wait for the next one instead of ending.
    pub stay: bool,
    /// Only relayed candidates are allowed (then gathering none is fatal).
    pub relay_only: bool,
    /// How long the connection may stay disconnected before ICE is restarted.
    pub restart_grace: Duration,
    /// How long reconnecting may last before the call ends.
    pub reconnect_timeout: Duration,
}

/// The shortest time between two ICE restarts of ours.
pub const RESTART_INTERVAL: Duration = Duration::from_secs(3);

/// The longest our connectivity checks wait after we answer a call's first offer.
pub const MAX_CANDIDATE_HOLD: Duration = Duration::from_millis(500);

/// The peer connection's state, as far as the machine cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Connected: media can flow.
    Connected,
    /// Connectivity dropped; ICE keeps trying.
    Disconnected,
    /// ICE gave up.
    Failed,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// We are in the room (first, or again after a signaling outage, with new ids);
    /// these are the others there.
    Joined(Vec<PeerId>),
    /// How long the signaling server took to answer our join: about how long a message
    /// takes to the other peer and back through it.
    SignalingRoundTrip(Duration),
    /// Someone joined the room.
    PeerJoined(PeerId),
    /// Someone left the room.
    PeerLeft(PeerId),
    /// A peer came back over a new connection, in its old place: `old` is now `new`.
    PeerResumed {
        /// The id it had.
        old: PeerId,
        /// The id it has.
        new: PeerId,
    },
    /// The other peer sent an offer, answer or candidate.
    Signal(PeerId, Signal),
    /// The signaling connection dropped (it reconnects on its own).
    SignalingDown,
    /// The signaling connection is gone for good.
    SignalingLost,
    /// Our peer connection found a local candidate.
    LocalCandidate(IceCandidateInit),
    /// Our peer connection has gathered all its candidates.
    GatheringComplete,
    /// A TURN server reached over TCP or TLS gave no relay, and why (said before the
    /// end of gathering it leads to).
    RelayFailed(crate::turn_stream::TurnFailure),
    /// Our peer connection's state changed.
    Connection(Connection),
    /// The machine's network interfaces or addresses changed.
    NetworkChanged,
    /// Our tracks changed mid-call (a screen share started or stopped): the other peer
    /// needs a new offer.
    NegotiationNeeded,
    /// The user hung up.
    HangUp,
    /// Running an action or a media pipeline failed, or signaling gave up for good (a
    /// reconnection refused `unauthorized`).
    Failed(Failure),
}

/// Something for the engine to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Tell the user where the call is.
    SetState(CallState),
    /// Build a fresh peer connection with our local tracks, in place of any previous
    /// one (whose media has been stopped).
    NewConnection,
    /// Create an offer, set it as the local description and send it (`to: None`: held
    /// for whoever joins next).
    Offer {
        /// Whom to address.
        to: Option<PeerId>,
    },
    /// Set this offer as the remote description, create and set an answer, and send it
    /// to the offerer.
    Answer {
        /// The offerer.
        to: PeerId,
        /// Its offer's SDP.
        offer: String,
    },
    /// Set this answer as the remote description.
    ApplyAnswer(String),
    /// Create an offer that restarts ICE (new credentials, fresh gathering), set it as
    /// the local description and send it; the media keep running.
    RestartIce {
        /// Whom to address.
        to: PeerId,
    },
    /// Create an offer on the connection we have (our tracks changed), set it as the
    /// local description and send it; the media keep running.
    Renegotiate {
        /// Whom to address.
        to: PeerId,
    },
    /// Drop our own unanswered offer (the other peer's offer won the glare).
    Rollback,
    /// Give the peer connection a remote candidate.
    AddRemoteCandidate(IceCandidateInit),
    /// Send one of our candidates (`None`: the end of them).
    SendCandidate {
        /// The candidate.
        candidate: Option<IceCandidateInit>,
        /// Whom to address (`None`: held, or the room's other peer).
        to: Option<PeerId>,
    },
    /// The call is up: start sending and receiving.
    StartMedia,
    /// Stop every media pipeline and wait for each to finish.
    StopMedia,
    /// Close the peer connection.
    CloseConnection,
    /// The call is over: `Ended` or `Failed`. Always the last action.
    End(CallState),
}

/// Where the machine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the server's `welcome`.
    Joining,
    /// Alone in the room, our offer held.
    Waiting,
    /// Someone is there: offer/answer and ICE under way.
    Connecting,
    /// Media flows.
    Connected,
    /// The connection dropped mid-call; ICE is trying.
    Reconnecting,
    /// The call is over.
    Over,
}

/// What belongs to the current peer connection.
#[derive(Debug, Default)]
struct Link {
    /// The peer we negotiate with (or are in a call with), once known.
    remote: Option<PeerId>,
    /// Whether we sent an offer on this connection.
    offered: bool,
    /// Whether the remote description is set.
    described: bool,
    /// Remote candidates that came before the remote description (or while held).
    queued: Vec<IceCandidateInit>,
    /// Until when remote candidates are held after answering the first offer.
    hold_candidates_until: Option<Instant>,
    /// Relayed candidates we gathered.
    relay_candidates: u32,
    /// The remote description's session id (its `o=` line), once set.
    remote_session: Option<u64>,
    /// Whether we answered this connection's first offer: the polite side, which yields
    /// when both offer at once.
    polite: bool,
    /// Whether an offer of ours on this connection (an ICE restart, or tracks changed)
    /// waits for its answer.
    restarting: bool,
    /// Whether that offer carried changed tracks (to offer again if it is rolled back).
    offered_tracks: bool,
    /// Whether our tracks changed since our last offer: one is due when none waits.
    tracks_changed: bool,
    /// Whether a restart is due but waits for the signaling (or the other peer) to be
    /// back.
    restart_waiting: bool,
    /// Why a TURN server over TCP or TLS gave no relay, if one did not.
    relay_failure: Option<crate::turn_stream::TurnFailure>,
}

/// A call's control flow: events in, actions out.
#[derive(Debug)]
pub struct CallMachine {
    config: MachineConfig,
    phase: Phase,
    link: Link,
    /// The others in the room, as far as we know.
    others: usize,
    /// Whether media pipelines run.
    media: bool,
    /// Whether a peer connection exists.
    connection: bool,
    signaling_up: bool,
    connect_deadline: Option<Instant>,
    end_at: Option<Instant>,
    /// When to restart ICE, if a restart is wanted.
    restart_at: Option<Instant>,
    /// When we last restarted ICE.
    last_restart: Option<Instant>,
    /// When reconnecting gives up.
    reconnect_deadline: Option<Instant>,
    /// How long the signaling server took to answer our join.
    signaling_round_trip: Duration,
    /// How the call ended, once it has.
    outcome: Option<CallState>,
    actions: VecDeque<Action>,
}

impl CallMachine {
    /// A machine for a call that is joining its room.
    pub fn new(config: MachineConfig) -> Self {
        Self {
            config,
            phase: Phase::Joining,
            link: Link::default(),
            others: 0,
            media: false,
            connection: false,
            signaling_up: true,
            connect_deadline: None,
            end_at: None,
            restart_at: None,
            last_restart: None,
            reconnect_deadline: None,
            signaling_round_trip: Duration::ZERO,
            outcome: None,
            actions: VecDeque::new(),
        }
    }

    /// Where the call is, as the user sees it (the end state once it is over).
    pub fn state(&self) -> CallState {
        match self.phase {
            Phase::Joining => CallState::Joining,
            Phase::Waiting => CallState::Waiting,
            Phase::Connecting => CallState::Connecting,
            Phase::Connected => CallState::Connected,
            Phase::Reconnecting => CallState::Reconnecting,
            Phase::Over => self
                .outcome
                .clone()
                .unwrap_or(CallState::Ended(EndReason::HungUp)),
        }
    }

    /// Whether the signaling connection is up.
    pub fn signaling_up(&self) -> bool {
        self.signaling_up
    }

    /// Whether the call is over (its [`Action::End`] has been queued).
    pub fn is_over(&self) -> bool {
        self.phase == Phase::Over
    }

    /// The next action to run, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`CallMachine::handle_timeout`] is next due, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.connect_deadline,
            self.end_at,
            self.restart_at,
            self.reconnect_deadline,
            self.link.hold_candidates_until,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Time has come to `now`: held remote candidates may go in; the connect timeout,
    /// the set duration or reconnecting may have run out, or an ICE restart be due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.link.hold_candidates_until.is_some_and(|d| now >= d) {
            self.release_candidates();
        }
        if self.connect_deadline.is_some_and(|d| now >= d) {
            self.fail(Failure::ConnectTimeout(self.config.connect_timeout));
        } else if self.reconnect_deadline.is_some_and(|d| now >= d) {
            self.fail(Failure::ConnectionLost);
        } else if self.end_at.is_some_and(|d| now >= d) {
            self.finish(CallState::Ended(EndReason::DurationPassed));
        } else if self.restart_at.is_some_and(|d| now >= d) {
            self.restart_ice(now);
        }
    }

    /// Takes one input at `now`.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        if self.phase == Phase::Over {
            return;
        }
        match input {
            Input::Joined(peers) => self.on_joined(now, peers),
            Input::SignalingRoundTrip(round_trip) => self.signaling_round_trip = round_trip,
            Input::PeerJoined(id) => self.on_peer_joined(now, id),
            Input::PeerLeft(id) => self.on_peer_left(now, &id),
            Input::PeerResumed { old, new } => {
                if self.link.remote.as_ref() == Some(&old) {
                    self.link.remote = Some(new);
                    self.resume_restart(now);
                }
            }
            Input::Signal(from, signal) => self.on_signal(now, from, signal),
            Input::SignalingDown => self.signaling_up = false,
            Input::SignalingLost => self.fail(Failure::SignalingLost),
            Input::LocalCandidate(candidate) => {
                if is_relay(&candidate) {
                    self.link.relay_candidates += 1;
                }
                self.push(Action::SendCandidate {
                    candidate: Some(candidate),
                    to: self.link.remote.clone(),
                });
            }
            Input::RelayFailed(failure) => {
                self.link.relay_failure.get_or_insert(failure);
            }
            Input::GatheringComplete => {
                if self.config.relay_only && self.link.relay_candidates == 0 {
                    self.fail(self.no_relay());
                } else {
                    self.push(Action::SendCandidate {
                        candidate: None,
                        to: self.link.remote.clone(),
                    });
                }
            }
            Input::Connection(state) => self.on_connection(now, state),
            Input::NetworkChanged => {
                if self.in_call() {
                    self.want_restart(now);
                }
            }
            Input::NegotiationNeeded => {
                self.link.tracks_changed = true;
                self.offer_tracks();
            }
            Input::HangUp => self.finish(CallState::Ended(EndReason::HungUp)),
            Input::Failed(failure) => self.fail(failure),
        }
    }

    fn negotiating(&self) -> bool {
        matches!(self.phase, Phase::Waiting | Phase::Connecting)
    }

    fn in_call(&self) -> bool {
        matches!(self.phase, Phase::Connected | Phase::Reconnecting)
    }

    fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    fn set_phase(&mut self, phase: Phase) {
        if self.phase != phase {
            self.phase = phase;
            let state = self.state();
            self.push(Action::SetState(state));
        }
    }

    fn on_joined(&mut self, now: Instant, peers: Vec<PeerId>) {
        self.signaling_up = true;
        self.others = peers.len();
        if self.in_call() {
            // Back after an outage, with new ids: whoever is there is the other peer.
            self.link.remote = (peers.len() == 1).then(|| peers[0].clone());
            if self.phase == Phase::Reconnecting {
                self.link.restart_waiting = true;
            }
            self.resume_restart(now);
        } else {
            // First join, or a rejoin before the call was up: the old negotiation's
            // messages went to ids that no longer exist, so start over.
            self.start_over(now, None);
        }
    }

    fn on_peer_joined(&mut self, now: Instant, id: PeerId) {
        self.others += 1;
        match self.phase {
            Phase::Waiting => {
                self.connect_deadline = Some(now + self.config.connect_timeout);
                self.set_phase(Phase::Connecting);
            }
            Phase::Connected | Phase::Reconnecting if self.link.remote.is_none() => {
                self.link.remote = Some(id);
            }
            _ => {}
        }
    }

    fn on_peer_left(&mut self, now: Instant, id: &PeerId) {
        self.others = self.others.saturating_sub(1);
        if self.negotiating() {
            if self.others == 0 {
                // Alone again before the call was up: a fresh held offer.
                self.start_over(now, None);
            }
            return;
        }
        if !self.in_call() || self.link.remote.as_ref().is_some_and(|r| r != id) {
            return;
        }
        if self.phase == Phase::Reconnecting && !self.config.stay {
            // Its path was lost as ours was, and it gave up first: the call ends for
            // the lost connection, whichever side's timer ran out first.
            self.fail(Failure::ConnectionLost);
        } else if self.config.stay {
            self.stop_media();
            self.push(Action::SetState(CallState::Ended(EndReason::PeerLeft)));
            self.others = 0;
            self.start_over(now, None);
        } else {
            self.finish(CallState::Ended(EndReason::PeerLeft));
        }
    }

    fn on_signal(&mut self, now: Instant, from: PeerId, signal: Signal) {
        match signal {
            Signal::Offer(sdp) if self.in_call() && self.same_session(&sdp) => {
                self.renegotiate(from, sdp);
            }
            Signal::Offer(sdp) if self.in_call() || (self.negotiating() && self.link.offered) => {
                // The other peer started over (mid-call), or offered while we did: its
                // offer wins, on a fresh connection.
                if self.in_call() {
                    self.stop_media();
                    self.push(Action::SetState(CallState::Ended(
                        EndReason::PeerStartedOver,
                    )));
                }
                self.others = self.others.max(1);
                self.start_over(now, Some((from, sdp)));
            }
            Signal::Offer(sdp) if self.negotiating() => self.answer(now, from, sdp),
            Signal::Answer(sdp)
                if self.negotiating() && self.link.offered && !self.link.described =>
            {
                if let Err(undecodable) = check_decodable(&sdp) {
                    return self.fail(Failure::NoCommonCodec(undecodable));
                }
                self.link.remote = Some(from);
                self.link.remote_session = session_id(&sdp);
                self.push(Action::ApplyAnswer(sdp));
                self.described();
            }
            Signal::Answer(sdp) if self.in_call() && self.link.restarting => {
                self.link.restarting = false;
                self.link.offered_tracks = false;
                self.link.remote = Some(from);
                self.push(Action::ApplyAnswer(sdp));
                self.described();
                self.offer_tracks();
            }
            Signal::Candidate(Some(candidate)) => {
                if self.link.described
                    && !self.link.restarting
                    && self.link.hold_candidates_until.is_none()
                {
                    self.push(Action::AddRemoteCandidate(candidate));
                } else {
                    self.link.queued.push(candidate);
                }
            }
            // A stray answer, an offer while joining, the end of candidates: nothing to do.
            Signal::Offer(_) | Signal::Answer(_) | Signal::Candidate(None) => {}
        }
    }

    fn answer(&mut self, now: Instant, from: PeerId, offer: String) {
        if let Err(undecodable) = check_decodable(&offer) {
            return self.fail(Failure::NoCommonCodec(undecodable));
        }
        self.others = self.others.max(1);
        if self.phase == Phase::Waiting || self.connect_deadline.is_none() {
            self.connect_deadline = Some(now + self.config.connect_timeout);
        }
        self.set_phase(Phase::Connecting);
        self.link.remote = Some(from.clone());
        self.link.polite = true;
        self.link.remote_session = session_id(&offer);
        self.push(Action::Answer { to: from, offer });
        // Our connectivity checks wait until our answer has likely reached the offerer
        // (a signaling round trip, at most [`MAX_CANDIDATE_HOLD`]): a check that came
        // first would find it not yet controlling ICE, and the role conflict could hand
        // control to us, when the offerer, the DTLS client, must be the last to have a
        // pair (see `peer.rs`). The offerer's checks reach us meanwhile.
        let hold = self.signaling_round_trip.min(MAX_CANDIDATE_HOLD);
        self.link.hold_candidates_until = (!hold.is_zero()).then(|| now + hold);
        self.described();
    }

    /// The held remote candidates go in.
    fn release_candidates(&mut self) {
        self.link.hold_candidates_until = None;
        if self.link.described {
            self.described();
        }
    }

    /// Whether `offer` comes from the session of the remote description we have.
    fn same_session(&self, offer: &str) -> bool {
        self.link.described
            && self.link.remote_session.is_some()
            && session_id(offer) == self.link.remote_session
    }

    /// A new offer on the connection we have (the other peer restarted ICE): answered
    /// in place, the media running on. When it crosses our own restart offer, the
    /// polite side drops its own and answers; the other ignores it and waits for the
    /// answer to its own.
    fn renegotiate(&mut self, from: PeerId, offer: String) {
        if self.link.restarting {
            if !self.link.polite {
                return;
            }
            self.link.restarting = false;
            self.push(Action::Rollback);
            // Tracks we offered are still ours to offer, once this offer is answered.
            if std::mem::take(&mut self.link.offered_tracks) {
                self.link.tracks_changed = true;
            }
        }
        if let Err(undecodable) = check_decodable(&offer) {
            return self.fail(Failure::NoCommonCodec(undecodable));
        }
        // Their restart stands for ours.
        self.restart_at = None;
        self.link.remote = Some(from.clone());
        self.push(Action::Answer { to: from, offer });
        self.described();
        self.offer_tracks();
    }

    /// Offers our changed tracks on the connection we have, if they changed, we are in
    /// a call with someone we can reach, and no offer of ours waits for its answer
    /// (else this runs again when it is answered, or the way is back).
    fn offer_tracks(&mut self) {
        if !self.link.tracks_changed || self.link.restarting || !self.in_call() {
            return;
        }
        let Some(to) = self.link.remote.clone().filter(|_| self.signaling_up) else {
            return;
        };
        self.link.tracks_changed = false;
        self.link.restarting = true;
        self.link.offered_tracks = true;
        self.push(Action::Renegotiate { to });
    }

    /// An ICE restart is wanted, at `at` or as soon after it as the pace allows.
    fn want_restart(&mut self, at: Instant) {
        let paced = self
            .last_restart
            .map_or(at, |last| at.max(last + RESTART_INTERVAL));
        self.restart_at = Some(self.restart_at.map_or(paced, |due| due.min(paced)));
    }

    /// The connection dropped mid-call: reconnecting, until it is back or too long.
    fn reconnecting(&mut self, now: Instant) {
        self.set_phase(Phase::Reconnecting);
        self.reconnect_deadline
            .get_or_insert(now + self.config.reconnect_timeout);
    }

    /// A way to the other peer is back: a restart that waited for it, or one whose offer
    /// went to an id or connection that is gone, goes out now (not paced: that offer
    /// never reached anyone).
    fn resume_restart(&mut self, now: Instant) {
        if std::mem::take(&mut self.link.restart_waiting)
            || std::mem::take(&mut self.link.restarting)
        {
            // The restart's offer carries the changed tracks too.
            if std::mem::take(&mut self.link.offered_tracks) {
                self.link.tracks_changed = true;
            }
            self.restart_at = Some(now);
        } else {
            self.offer_tracks();
        }
    }

    /// Restarts ICE now, if there is someone to send the offer to (else once there is).
    fn restart_ice(&mut self, now: Instant) {
        self.restart_at = None;
        let Some(to) = self.link.remote.clone().filter(|_| self.signaling_up) else {
            self.link.restart_waiting = true;
            return;
        };
        if self.link.restarting
            && self
                .last_restart
                .is_some_and(|t| now < t + RESTART_INTERVAL)
        {
            return;
        }
        self.last_restart = Some(now);
        self.link.restarting = true;
        // The restart's offer carries our tracks as they are now.
        self.link.offered_tracks = std::mem::take(&mut self.link.tracks_changed);
        self.push(Action::RestartIce { to });
    }

    /// The remote description is set: the queued candidates can go in (unless held).
    fn described(&mut self) {
        self.link.described = true;
        if self.link.hold_candidates_until.is_some() {
            return;
        }
        for candidate in std::mem::take(&mut self.link.queued) {
            self.push(Action::AddRemoteCandidate(candidate));
        }
    }

    fn on_connection(&mut self, now: Instant, state: Connection) {
        match (state, self.phase) {
            (Connection::Connected, Phase::Waiting | Phase::Connecting) => {
                self.release_candidates();
                self.connect_deadline = None;
                self.end_at = self.config.duration.map(|d| now + d);
                self.set_phase(Phase::Connected);
                self.media = true;
                self.push(Action::StartMedia);
            }
            (Connection::Connected, Phase::Reconnecting) => {
                self.restart_at = None;
                self.reconnect_deadline = None;
                self.set_phase(Phase::Connected);
            }
            (Connection::Disconnected, Phase::Connected) => {
                self.reconnecting(now);
                self.want_restart(now + self.config.restart_grace);
            }
            (Connection::Failed, Phase::Waiting | Phase::Connecting) => {
                let relay_candidates = self.link.relay_candidates > 0;
                self.fail(if !relay_candidates && self.link.relay_failure.is_some() {
                    self.no_relay()
                } else if self.config.relay_only && !relay_candidates {
                    Failure::NoRelayCandidate
                } else {
                    Failure::IceFailed { relay_candidates }
                });
            }
            (Connection::Failed, Phase::Connected | Phase::Reconnecting) => {
                // ICE gave up on the pairs it had: new ones, now.
                self.reconnecting(now);
                self.want_restart(now);
            }
            _ => {}
        }
    }

    /// A fresh connection: answering `offer` if there is one, else offering (held) when
    /// alone, else waiting for the held offer of whoever is there.
    fn start_over(&mut self, now: Instant, offer: Option<(PeerId, String)>) {
        self.link = Link::default();
        self.end_at = None;
        self.connect_deadline = None;
        self.restart_at = None;
        self.reconnect_deadline = None;
        self.connection = true;
        self.push(Action::NewConnection);
        if let Some((from, sdp)) = offer {
            return self.answer(now, from, sdp);
        }
        if self.others == 0 {
            self.link.offered = true;
            self.push(Action::Offer { to: None });
            self.set_phase(Phase::Waiting);
        } else {
            self.connect_deadline = Some(now + self.config.connect_timeout);
            self.set_phase(Phase::Connecting);
        }
    }

    fn stop_media(&mut self) {
        if std::mem::take(&mut self.media) {
            self.push(Action::StopMedia);
        }
    }

    /// Why there is no relay: the TURN server's failure when one was told, else none
    /// could be gathered.
    fn no_relay(&self) -> Failure {
        match &self.link.relay_failure {
            Some(failure) => Failure::Turn(failure.clone()),
            None => Failure::NoRelayCandidate,
        }
    }

    fn fail(&mut self, failure: Failure) {
        self.finish(CallState::Failed(failure));
    }

    /// The end: media stopped, connection closed, then [`Action::End`].
    fn finish(&mut self, outcome: CallState) {
        self.stop_media();
        if std::mem::take(&mut self.connection) {
            self.push(Action::CloseConnection);
        }
        self.connect_deadline = None;
        self.end_at = None;
        self.restart_at = None;
        self.reconnect_deadline = None;
        self.phase = Phase::Over;
        self.outcome = Some(outcome.clone());
        self.push(Action::End(outcome));
    }
}

/// Whether a candidate is a relayed one (`… typ relay …`).
fn is_relay(candidate: &IceCandidateInit) -> bool {
    candidate
        .candidate
        .split_ascii_whitespace()
        .skip_while(|field| *field != "typ")
        .nth(1)
        == Some("relay")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(30);
    const GRACE: Duration = Duration::from_secs(2);
    const RECONNECT: Duration = Duration::from_secs(20);
    const DECODABLE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n";

    fn config() -> MachineConfig {
        MachineConfig {
            connect_timeout: TIMEOUT,
            duration: None,
            stay: false,
            relay_only: false,
            restart_grace: GRACE,
            reconnect_timeout: RECONNECT,
        }
    }

    fn id(name: &str) -> PeerId {
        PeerId::new(name)
    }

    fn candidate(typ: &str) -> IceCandidateInit {
        IceCandidateInit {
            candidate: format!("candidate:1 1 udp 2130706431 127.0.0.1 5000 typ {typ}"),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        }
    }

    /// A machine and a clock for it.
    struct Run {
        m: CallMachine,
        now: Instant,
    }

    impl Run {
        fn new(config: MachineConfig) -> Self {
            Self {
                m: CallMachine::new(config),
                now: Instant::now(),
            }
        }

        /// Feeds `input` and returns the actions it caused.
        fn on(&mut self, input: Input) -> Vec<Action> {
            self.m.handle_input(self.now, input);
            self.drain()
        }

        fn drain(&mut self) -> Vec<Action> {
            std::iter::from_fn(|| self.m.poll_action()).collect()
        }

        /// Lets `by` pass and fires the timeout if it is due.
        fn wait(&mut self, by: Duration) -> Vec<Action> {
            self.now += by;
            if self.m.poll_timeout().is_some_and(|t| t <= self.now) {
                self.m.handle_timeout(self.now);
            }
            self.drain()
        }

        /// Alone in the room, then `b` joins, answers and the call comes up.
        fn connected_as_caller(config: MachineConfig) -> Self {
            let mut run = Self::new(config);
            run.on(Input::Joined(vec![]));
            run.on(Input::PeerJoined(id("b")));
            run.on(Input::Signal(id("b"), Signal::Answer(DECODABLE.into())));
            run.on(Input::Connection(Connection::Connected));
            assert_eq!(run.m.state(), CallState::Connected);
            run
        }
    }

    fn offer_from(from: &str) -> Input {
        Input::Signal(id(from), Signal::Offer(DECODABLE.into()))
    }

    fn state(s: CallState) -> Action {
        Action::SetState(s)
    }

    #[test]
    fn alone_in_the_room_it_offers_at_once_held_for_the_next_peer() {
        let mut run = Run::new(config());
        assert_eq!(run.m.state(), CallState::Joining);
        assert_eq!(
            run.on(Input::Joined(vec![])),
            [
                Action::NewConnection,
                Action::Offer { to: None },
                state(CallState::Waiting)
            ]
        );
        // Alone, nothing times out.
        assert_eq!(run.m.poll_timeout(), None);
        // Candidates go out held, as the offer did.
        assert_eq!(
            run.on(Input::LocalCandidate(candidate("host"))),
            [Action::SendCandidate {
                candidate: Some(candidate("host")),
                to: None
            }]
        );
    }

    #[test]
    fn answering_the_first_offer_it_holds_its_checks_for_a_signaling_round_trip() {
        let mut run = Run::new(config());
        run.on(Input::SignalingRoundTrip(Duration::from_millis(120)));
        run.on(Input::Joined(vec![id("a")]));
        // The held offer's candidates come with it: kept back while our answer travels.
        assert_eq!(run.on(offer_from("a")).len(), 1);
        let from_a = |c| Input::Signal(id("a"), Signal::Candidate(Some(c)));
        assert_eq!(run.on(from_a(candidate("host"))), []);
        assert_eq!(run.on(from_a(candidate("srflx"))), []);
        let until = run.now + Duration::from_millis(120);
        assert_eq!(run.m.poll_timeout(), Some(until));
        run.now = until;
        run.m.handle_timeout(run.now);
        assert_eq!(
            run.drain(),
            [
                Action::AddRemoteCandidate(candidate("host")),
                Action::AddRemoteCandidate(candidate("srflx"))
            ]
        );
        // After it, a candidate goes in at once.
        assert_eq!(
            run.on(from_a(candidate("relay"))),
            [Action::AddRemoteCandidate(candidate("relay"))]
        );
    }

    #[test]
    fn connected_before_the_hold_ends_its_held_candidates_go_in_at_once() {
        let mut run = Run::new(config());
        run.on(Input::SignalingRoundTrip(Duration::from_secs(5)));
        run.on(Input::Joined(vec![id("a")]));
        run.on(offer_from("a"));
        let held = Input::Signal(id("a"), Signal::Candidate(Some(candidate("host"))));
        assert_eq!(run.on(held), []);
        assert_eq!(
            run.m.poll_timeout(),
            Some(run.now + MAX_CANDIDATE_HOLD),
            "held at most {MAX_CANDIDATE_HOLD:?}"
        );
        assert_eq!(
            run.on(Input::Connection(Connection::Connected)),
            [
                Action::AddRemoteCandidate(candidate("host")),
                state(CallState::Connected),
                Action::StartMedia
            ]
        );
    }

    #[test]
    fn finding_someone_there_it_answers_their_offer_addressed_to_them() {
        let mut run = Run::new(config());
        assert_eq!(
            run.on(Input::Joined(vec![id("a")])),
            [Action::NewConnection, state(CallState::Connecting)]
        );
        assert_eq!(
            run.on(offer_from("a")),
            [Action::Answer {
                to: id("a"),
                offer: DECODABLE.into()
            }]
        );
        assert_eq!(
            run.on(Input::LocalCandidate(candidate("host"))),
            [Action::SendCandidate {
                candidate: Some(candidate("host")),
                to: Some(id("a"))
            }]
        );
        assert_eq!(
            run.on(Input::GatheringComplete),
            [Action::SendCandidate {
                candidate: None,
                to: Some(id("a"))
            }]
        );
        assert_eq!(
            run.on(Input::Connection(Connection::Connected)),
            [state(CallState::Connected), Action::StartMedia]
        );
    }

    #[test]
    fn remote_candidates_wait_for_the_remote_description() {
        let mut run = Run::new(config());
        run.on(Input::Joined(vec![]));
        run.on(Input::PeerJoined(id("b")));
        let early = Input::Signal(id("b"), Signal::Candidate(Some(candidate("host"))));
        assert_eq!(run.on(early), []);
        assert_eq!(
            run.on(Input::Signal(id("b"), Signal::Answer(DECODABLE.into()))),
            [
                Action::ApplyAnswer(DECODABLE.into()),
                Action::AddRemoteCandidate(candidate("host"))
            ]
        );
        let late = Input::Signal(id("b"), Signal::Candidate(Some(candidate("srflx"))));
        assert_eq!(
            run.on(late),
            [Action::AddRemoteCandidate(candidate("srflx"))]
        );
    }

    #[test]
    fn the_connect_clock_runs_only_while_someone_is_there() {
        let mut run = Run::new(config());
        run.on(Input::Joined(vec![]));
        assert_eq!(run.wait(TIMEOUT * 10), []);
        assert_eq!(
            run.on(Input::PeerJoined(id("b"))),
            [state(CallState::Connecting)]
        );
        assert_eq!(run.wait(TIMEOUT - Duration::from_millis(1)), []);
        assert_eq!(
            run.wait(Duration::from_millis(1)),
            [
                Action::CloseConnection,
                Action::End(CallState::Failed(Failure::ConnectTimeout(TIMEOUT)))
            ]
        );
        assert!(run.m.is_over());
    }

    #[test]
    fn a_peer_leaving_before_the_call_is_up_means_a_fresh_held_offer() {
        let mut run = Run::new(config());
        run.on(Input::Joined(vec![]));
        run.on(Input::PeerJoined(id("b")));
        assert_eq!(
            run.on(Input::PeerLeft(id("b"))),
            [
                Action::NewConnection,
                Action::Offer { to: None },
                state(CallState::Waiting)
            ]
        );
        assert_eq!(run.m.poll_timeout(), None);
    }

    #[test]
    fn the_answerer_left_alone_before_the_call_is_up_offers_itself() {
        let mut run = Run::new(config());
        run.on(Input::Joined(vec![id("a")]));
        run.on(offer_from("a"));
        assert_eq!(
            run.on(Input::PeerLeft(id("a"))),
            [
                Action::NewConnection,
                Action::Offer { to: None },
                state(CallState::Waiting)
            ]
        );
    }

    #[test]
    fn a_rejoin_before_the_call_is_up_starts_over_with_the_new_ids() {
        let mut run = Run::new(config());
        run.on(Input::Joined(vec![]));
        run.on(Input::SignalingDown);
        assert!(!run.m.signaling_up());
        // Back, and the other peer is there now (under a new id): answer its offer.
        assert_eq!(
            run.on(Input::Joined(vec![id("b2")])),
            [Action::NewConnection, state(CallState::Connecting)]
        );
        assert!(run.m.signaling_up());
        assert_eq!(
            run.on(offer_from("b2")),
            [Action::Answer {
                to: id("b2"),
                offer: DECODABLE.into()
            }]
        );
    }

    #[test]
    fn a_rejoin_mid_call_follows_the_new_ids_and_keeps_the_call() {
        let mut run = Run::connected_as_caller(config());
        assert_eq!(run.on(Input::SignalingDown), []);
        assert!(!run.m.signaling_up());
        assert_eq!(run.on(Input::Joined(vec![id("b2")])), []);
        assert!(run.m.signaling_up());
        assert_eq!(run.m.state(), CallState::Connected);
        // The old id leaving is not the call ending; the new one leaving is.
        assert_eq!(run.on(Input::PeerLeft(id("b"))), []);
        assert_eq!(
            run.on(Input::PeerLeft(id("b2"))),
            [
                Action::StopMedia,
                Action::CloseConnection,
                Action::End(CallState::Ended(EndReason::PeerLeft))
            ]
        );
    }

    #[test]
    fn a_rejoin_mid_call_to_an_empty_room_takes_the_next_joiner_as_the_peer() {
        let mut run = Run::connected_as_caller(config());
        run.on(Input::Joined(vec![]));
        assert_eq!(run.on(Input::PeerJoined(id("b3"))), []);
        assert_eq!(
            run.on(Input::PeerLeft(id("b3"))),
            [
                Action::StopMedia,
                Action::CloseConnection,
                Action::End(CallState::Ended(EndReason::PeerLeft))
            ]
        );
    }

    #[test]
    fn the_peer_leaving_while_the_connection_is_lost_ends_the_call_as_connection_lost() {
        let mut run = Run::connected_as_caller(config());
        run.on(Input::Connection(Connection::Disconnected));
        assert_eq!(
            run.on(Input::PeerLeft(id("b"))),
            [
                Action::StopMedia,
                Action::CloseConnection,
                Action::End(CallState::Failed(Failure::ConnectionLost))
            ]
        );
    }

    #[test]
    fn with_stay_the_peer_leaving_ends_this_call_and_waits_for_the_next() {
        let mut run = Run::connected_as_caller(MachineConfig {
            stay: true,
            ..config()
        });
        assert_eq!(
            run.on(Input::PeerLeft(id("b"))),
            [
                Action::StopMedia,
                state(CallState::Ended(EndReason::PeerLeft)),
                Action::NewConnection,
                Action::Offer { to: None },
                state(CallState::Waiting)
            ]
        );
        assert!(!run.m.is_over());
        run.on(Input::PeerJoined(id("c")));
        run.on(Input::Signal(id("c"), Signal::Answer(DECODABLE.into())));
        assert_eq!(
            run.on(Input::Connection(Connection::Connected)),
            [state(CallState::Connected), Action::StartMedia]
        );
    }

    #[test]
    fn someone_else_leaving_does_not_end_the_call() {
        let mut run = Run::connected_as_caller(config());
        assert_eq!(run.on(Input::PeerLeft(id("stranger"))), []);
        assert_eq!(run.m.state(), CallState::Connected);
    }

    #[test]
    fn an_offer_mid_call_from_a_new_session_is_answered_on_a_fresh_connection() {
        let mut run = Run::connected_as_caller(config());
        // The other peer started over: a new peer connection, a new session id.
        let fresh = DECODABLE.replace("o=- 1 2", "o=- 7 1");
        assert_eq!(
            run.on(Input::Signal(id("b"), Signal::Offer(fresh.clone()))),
            [
                Action::StopMedia,
                state(CallState::Ended(EndReason::PeerStartedOver)),
                Action::NewConnection,
                state(CallState::Connecting),
                Action::Answer {
                    to: id("b"),
                    offer: fresh
                }
            ]
        );
        // The new connection is bound by the connect timeout again.
        assert_eq!(run.m.poll_timeout(), Some(run.now + TIMEOUT));
        assert_eq!(
            run.on(Input::Connection(Connection::Connected)),
            [state(CallState::Connected), Action::StartMedia]
        );
    }

    #[test]
    fn an_offer_while_ours_is_held_wins_on_a_fresh_connection() {
        let mut run = Run::new(config());
        run.on(Input::Joined(vec![]));
        assert_eq!(
            run.on(offer_from("b")),
            [
                Action::NewConnection,
                state(CallState::Connecting),
                Action::Answer {
                    to: id("b"),
                    offer: DECODABLE.into()
                }
            ]
        );
    }

    #[test]
    fn an_offer_or_answer_without_a_codec_we_decode_fails_naming_it() {
        let av1_only = DECODABLE.replace("H264", "AV1");
        let mut run = Run::new(config());
        run.on(Input::Joined(vec![id("a")]));
        let actions = run.on(Input::Signal(id("a"), Signal::Offer(av1_only.clone())));
        let [
            Action::CloseConnection,
            Action::End(CallState::Failed(Failure::NoCommonCodec(e))),
        ] = actions.as_slice()
        else {
            panic!("{actions:?}")
        };
        assert_eq!(e.offered, ["AV1"]);

        let mut run = Run::new(config());
        run.on(Input::Joined(vec![]));
        run.on(Input::PeerJoined(id("b")));
        let actions = run.on(Input::Signal(id("b"), Signal::Answer(av1_only)));
        assert!(
            matches!(
                actions.as_slice(),
                [
                    Action::CloseConnection,
                    Action::End(CallState::Failed(Failure::NoCommonCodec(_)))
                ]
            ),
            "{actions:?}"
        );
    }

    #[test]
    fn a_stray_answer_is_ignored() {
        let mut run = Run::new(config());
        run.on(Input::Joined(vec![id("a")]));
        assert_eq!(
            run.on(Input::Signal(id("a"), Signal::Answer(DECODABLE.into()))),
            []
        );
        let mut run = Run::connected_as_caller(config());
        assert_eq!(
            run.on(Input::Signal(id("b"), Signal::Answer(DECODABLE.into()))),
            []
        );
    }

    #[test]
    fn ice_failing_before_the_call_says_whether_a_relay_was_tried() {
        for (typ, relay_candidates) in [("host", false), ("relay", true)] {
            let mut run = Run::new(config());
            run.on(Input::Joined(vec![]));
            run.on(Input::PeerJoined(id("b")));
            run.on(Input::LocalCandidate(candidate(typ)));
            assert_eq!(
                run.on(Input::Connection(Connection::Failed)),
                [
                    Action::CloseConnection,
                    Action::End(CallState::Failed(Failure::IceFailed { relay_candidates }))
                ]
            );
        }
    }

    #[test]
    fn relay_only_without_a_relay_candidate_fails_when_gathering_ends() {
        let mut run = Run::new(MachineConfig {
            relay_only: true,
            ..config()
        });
        run.on(Input::Joined(vec![]));
        run.on(Input::LocalCandidate(candidate("host")));
        assert_eq!(
            run.on(Input::GatheringComplete),
            [
                Action::CloseConnection,
                Action::End(CallState::Failed(Failure::NoRelayCandidate))
            ]
        );
        let mut run = Run::new(MachineConfig {
            relay_only: true,
            ..config()
        });
        run.on(Input::Joined(vec![]));
        run.on(Input::LocalCandidate(candidate("relay")));
        assert_eq!(
            run.on(Input::GatheringComplete),
            [Action::SendCandidate {
                candidate: None,
                to: None
            }]
        );
    }

    #[test]
    fn a_turn_server_failure_is_the_reason_when_no_relay_came() {
        let refused = crate::turn_stream::TurnFailure::CredentialsRejected {
            server: "127.0.0.1:3478".into(),
        };
        let mut run = Run::new(MachineConfig {
            relay_only: true,
            ..config()
        });
        run.on(Input::Joined(vec![]));
        assert_eq!(run.on(Input::RelayFailed(refused.clone())), []);
        assert_eq!(
            run.on(Input::GatheringComplete),
            [
                Action::CloseConnection,
                Action::End(CallState::Failed(Failure::Turn(refused.clone())))
            ]
        );
        // Not relay-only, with no relay at all: ICE failing is told by the TURN failure.
        let mut run = Run::new(config());
        run.on(Input::Joined(vec![]));
        run.on(Input::PeerJoined(id("b")));
        run.on(Input::RelayFailed(refused.clone()));
        assert_eq!(
            run.on(Input::Connection(Connection::Failed)),
            [
                Action::CloseConnection,
                Action::End(CallState::Failed(Failure::Turn(refused.clone())))
            ]
        );
        // A relay that did come (from another server) keeps the ICE failure.
        let mut run = Run::new(config());
        run.on(Input::Joined(vec![]));
        run.on(Input::PeerJoined(id("b")));
        run.on(Input::RelayFailed(refused));
        run.on(Input::LocalCandidate(candidate("relay")));
        assert_eq!(
            run.on(Input::Connection(Connection::Failed)),
            [
                Action::CloseConnection,
                Action::End(CallState::Failed(Failure::IceFailed {
                    relay_candidates: true
                }))
            ]
        );
    }

    #[test]
    fn a_dropped_connection_is_reconnecting_and_comes_back_or_is_lost() {
        let mut run = Run::connected_as_caller(config());
        assert_eq!(
            run.on(Input::Connection(Connection::Disconnected)),
            [state(CallState::Reconnecting)]
        );
        assert_eq!(
            run.on(Input::Connection(Connection::Connected)),
            [state(CallState::Connected)]
        );
        run.on(Input::Connection(Connection::Disconnected));
        run.on(Input::Connection(Connection::Failed));
        assert_eq!(
            run.wait(RECONNECT),
            [
                Action::StopMedia,
                Action::CloseConnection,
                Action::End(CallState::Failed(Failure::ConnectionLost))
            ]
        );
    }

    /// `b`'s answer to our restart offer (same session as its first answer).
    fn restart_answer() -> Input {
        Input::Signal(id("b"), Signal::Answer(DECODABLE.replace("1 2", "1 3")))
    }

    #[test]
    fn a_connection_down_past_the_grace_restarts_ice_with_the_media_running() {
        let mut run = Run::connected_as_caller(config());
        assert_eq!(
            run.on(Input::Connection(Connection::Disconnected)),
            [state(CallState::Reconnecting)]
        );
        assert_eq!(run.wait(GRACE / 2), []);
        assert_eq!(run.wait(GRACE / 2), [Action::RestartIce { to: id("b") }]);
        assert_eq!(
            run.on(restart_answer()),
            [Action::ApplyAnswer(DECODABLE.replace("1 2", "1 3"))]
        );
        assert_eq!(
            run.on(Input::Connection(Connection::Connected)),
            [state(CallState::Connected)]
        );
        // Back before the grace ran out: no restart.
        run.on(Input::Connection(Connection::Disconnected));
        run.on(Input::Connection(Connection::Connected));
        assert_eq!(run.wait(GRACE * 2), []);
    }

    #[test]
    fn ice_failing_mid_call_restarts_at_once_and_a_path_that_never_returns_ends_the_call() {
        let mut run = Run::connected_as_caller(config());
        assert_eq!(
            run.on(Input::Connection(Connection::Failed)),
            [state(CallState::Reconnecting)]
        );
        assert_eq!(
            run.wait(Duration::ZERO),
            [Action::RestartIce { to: id("b") }]
        );
        run.on(restart_answer());
        // Failing again restarts again, paced.
        run.on(Input::Connection(Connection::Failed));
        assert_eq!(run.wait(RESTART_INTERVAL / 2), []);
        assert_eq!(
            run.wait(RESTART_INTERVAL / 2),
            [Action::RestartIce { to: id("b") }]
        );
        let actions = run.wait(RECONNECT);
        assert_eq!(
            actions,
            [
                Action::StopMedia,
                Action::CloseConnection,
                Action::End(CallState::Failed(Failure::ConnectionLost))
            ]
        );
    }

    #[test]
    fn a_network_change_restarts_ice_at_once_at_most_every_few_seconds() {
        let mut run = Run::connected_as_caller(config());
        run.on(Input::NetworkChanged);
        assert_eq!(
            run.wait(Duration::ZERO),
            [Action::RestartIce { to: id("b") }]
        );
        run.on(restart_answer());
        assert_eq!(run.m.state(), CallState::Connected);
        run.on(Input::NetworkChanged);
        assert_eq!(run.wait(RESTART_INTERVAL / 2), []);
        assert_eq!(
            run.wait(RESTART_INTERVAL / 2),
            [Action::RestartIce { to: id("b") }]
        );
        // The connection never dropped: the call goes on however long it takes.
        assert_eq!(run.wait(RECONNECT * 2), []);
        assert_eq!(run.m.state(), CallState::Connected);
    }

    #[test]
    fn the_other_sides_restart_offer_is_answered_in_place() {
        let mut run = Run::connected_as_caller(config());
        let restart = DECODABLE.replace("1 2", "1 3");
        assert_eq!(
            run.on(Input::Signal(id("b"), Signal::Offer(restart.clone()))),
            [Action::Answer {
                to: id("b"),
                offer: restart
            }]
        );
        assert_eq!(run.m.state(), CallState::Connected);
        // Its candidates go straight in.
        assert_eq!(
            run.on(Input::Signal(
                id("b"),
                Signal::Candidate(Some(candidate("host")))
            )),
            [Action::AddRemoteCandidate(candidate("host"))]
        );
    }

    #[test]
    fn when_both_restart_at_once_the_side_that_answered_first_yields() {
        let restart = DECODABLE.replace("1 2", "1 3");
        // The caller (it offered first) keeps its own offer and waits for the answer.
        let mut caller = Run::connected_as_caller(config());
        caller.on(Input::NetworkChanged);
        assert_eq!(
            caller.wait(Duration::ZERO),
            [Action::RestartIce { to: id("b") }]
        );
        assert_eq!(
            caller.on(Input::Signal(id("b"), Signal::Offer(restart.clone()))),
            []
        );
        // Candidates for the new round wait for its answer.
        assert_eq!(
            caller.on(Input::Signal(
                id("b"),
                Signal::Candidate(Some(candidate("host")))
            )),
            []
        );
        assert_eq!(
            caller.on(restart_answer()),
            [
                Action::ApplyAnswer(restart.clone()),
                Action::AddRemoteCandidate(candidate("host"))
            ]
        );
        // The callee drops its own and answers.
        let mut callee = Run::new(config());
        callee.on(Input::Joined(vec![id("a")]));
        callee.on(offer_from("a"));
        callee.on(Input::Connection(Connection::Connected));
        callee.on(Input::NetworkChanged);
        assert_eq!(
            callee.wait(Duration::ZERO),
            [Action::RestartIce { to: id("a") }]
        );
        assert_eq!(
            callee.on(Input::Signal(id("a"), Signal::Offer(restart.clone()))),
            [
                Action::Rollback,
                Action::Answer {
                    to: id("a"),
                    offer: restart
                }
            ]
        );
    }

    /// An answer (or offer) from `from` on the call's session, with a new version.
    fn renegotiated(version: u32) -> String {
        DECODABLE.replace("o=- 1 2", &format!("o=- 1 {version}"))
    }

    #[test]
    fn a_share_started_mid_call_is_offered_in_place_and_its_answer_applied_media_running() {
        let mut run = Run::connected_as_caller(config());
        assert_eq!(
            run.on(Input::NegotiationNeeded),
            [Action::Renegotiate { to: id("b") }]
        );
        // Stopped before the answer came: offered once that answer is in.
        assert_eq!(run.on(Input::NegotiationNeeded), []);
        assert_eq!(
            run.on(Input::Signal(id("b"), Signal::Answer(renegotiated(3)))),
            [
                Action::ApplyAnswer(renegotiated(3)),
                Action::Renegotiate { to: id("b") }
            ]
        );
        assert_eq!(
            run.on(Input::Signal(id("b"), Signal::Answer(renegotiated(4)))),
            [Action::ApplyAnswer(renegotiated(4))]
        );
        assert_eq!(run.m.state(), CallState::Connected);
        // The other side shares: answered in place, no media stopped.
        assert_eq!(
            run.on(Input::Signal(id("b"), Signal::Offer(renegotiated(5)))),
            [Action::Answer {
                to: id("b"),
                offer: renegotiated(5)
            }]
        );
    }

    #[test]
    fn both_sharing_at_once_the_polite_side_rolls_back_answers_and_offers_again() {
        // The callee answered the first offer: it is the polite one.
        let mut callee = Run::new(config());
        callee.on(Input::Joined(vec![id("a")]));
        callee.on(offer_from("a"));
        callee.on(Input::Connection(Connection::Connected));
        assert_eq!(
            callee.on(Input::NegotiationNeeded),
            [Action::Renegotiate { to: id("a") }]
        );
        assert_eq!(
            callee.on(Input::Signal(id("a"), Signal::Offer(renegotiated(3)))),
            [
                Action::Rollback,
                Action::Answer {
                    to: id("a"),
                    offer: renegotiated(3)
                },
                Action::Renegotiate { to: id("a") }
            ]
        );
        // The caller ignores the callee's crossing offer and waits for its answer.
        let mut caller = Run::connected_as_caller(config());
        caller.on(Input::NegotiationNeeded);
        assert_eq!(
            caller.on(Input::Signal(id("b"), Signal::Offer(renegotiated(3)))),
            []
        );
        assert_eq!(
            caller.on(Input::Signal(id("b"), Signal::Answer(renegotiated(4)))),
            [Action::ApplyAnswer(renegotiated(4))]
        );
    }

    #[test]
    fn a_share_started_while_the_signaling_is_down_is_offered_once_it_is_back() {
        let mut run = Run::connected_as_caller(config());
        run.on(Input::SignalingDown);
        assert_eq!(run.on(Input::NegotiationNeeded), []);
        assert_eq!(
            run.on(Input::Joined(vec![id("b2")])),
            [Action::Renegotiate { to: id("b2") }]
        );
    }

    #[test]
    fn a_restart_wanted_while_the_signaling_reconnects_goes_out_once_it_is_back() {
        let mut run = Run::connected_as_caller(config());
        // The network changed: the signaling reconnects, ICE has not noticed anything.
        run.on(Input::NetworkChanged);
        run.on(Input::SignalingDown);
        assert_eq!(run.wait(Duration::ZERO), []);
        assert_eq!(run.on(Input::Joined(vec![id("b")])), []);
        assert_eq!(
            run.wait(Duration::ZERO),
            [Action::RestartIce { to: id("b") }]
        );
    }

    #[test]
    fn a_peer_back_in_its_old_place_is_followed_and_gets_our_restart_again() {
        let mut run = Run::connected_as_caller(config());
        run.on(Input::NetworkChanged);
        assert_eq!(
            run.wait(Duration::ZERO),
            [Action::RestartIce { to: id("b") }]
        );
        // b's own connection moved before our offer reached it: offer again, to b's new id.
        assert_eq!(
            run.on(Input::PeerResumed {
                old: id("b"),
                new: id("b2")
            }),
            []
        );
        assert_eq!(
            run.wait(RESTART_INTERVAL),
            [Action::RestartIce { to: id("b2") }]
        );
        // Someone else's return changes nothing.
        assert_eq!(
            run.on(Input::PeerResumed {
                old: id("x"),
                new: id("y")
            }),
            []
        );
        assert_eq!(run.wait(RESTART_INTERVAL), []);
        assert_eq!(run.m.state(), CallState::Connected);
    }

    #[test]
    fn a_restart_waits_for_the_signaling_and_goes_to_the_other_peers_new_id() {
        let mut run = Run::connected_as_caller(config());
        run.on(Input::SignalingDown);
        run.on(Input::Connection(Connection::Failed));
        assert_eq!(run.wait(Duration::ZERO), []);
        assert_eq!(run.on(Input::Joined(vec![id("b2")])), []);
        assert_eq!(
            run.wait(Duration::ZERO),
            [Action::RestartIce { to: id("b2") }]
        );
    }

    #[test]
    fn the_set_duration_counts_from_connected() {
        let duration = Duration::from_secs(5);
        let mut run = Run::new(MachineConfig {
            duration: Some(duration),
            ..config()
        });
        run.on(Input::Joined(vec![]));
        assert_eq!(run.wait(duration * 2), []);
        run.on(Input::PeerJoined(id("b")));
        run.on(Input::Signal(id("b"), Signal::Answer(DECODABLE.into())));
        run.on(Input::Connection(Connection::Connected));
        assert_eq!(run.wait(duration - Duration::from_millis(1)), []);
        assert_eq!(
            run.wait(Duration::from_millis(1)),
            [
                Action::StopMedia,
                Action::CloseConnection,
                Action::End(CallState::Ended(EndReason::DurationPassed))
            ]
        );
    }

    #[test]
    fn hanging_up_while_joining_ends_at_once() {
        let mut run = Run::new(config());
        assert_eq!(
            run.on(Input::HangUp),
            [Action::End(CallState::Ended(EndReason::HungUp))]
        );
        assert_eq!(run.m.state(), CallState::Ended(EndReason::HungUp));
    }

    #[test]
    fn signaling_lost_for_good_fails_the_call() {
        let mut run = Run::connected_as_caller(config());
        assert_eq!(
            run.on(Input::SignalingLost),
            [
                Action::StopMedia,
                Action::CloseConnection,
                Action::End(CallState::Failed(Failure::SignalingLost))
            ]
        );
    }

    #[test]
    fn nothing_happens_after_the_end() {
        let mut run = Run::connected_as_caller(config());
        run.on(Input::HangUp);
        for input in [
            offer_from("b"),
            Input::Joined(vec![]),
            Input::Connection(Connection::Failed),
            Input::HangUp,
        ] {
            assert_eq!(run.on(input), []);
        }
        assert_eq!(run.wait(TIMEOUT * 2), []);
    }

    /// Every way a call can end, from every phase: media, if it runs, is stopped before
    /// the connection is closed, and the end is the last action.
    #[test]
    fn every_end_stops_the_media_first_and_is_the_last_action() {
        type Cause = Box<dyn Fn(&mut Run) -> Vec<Action>>;
        type Setup = fn() -> Run;
        let ends: Vec<(&str, Cause)> = vec![
            ("hang-up", Box::new(|r| r.on(Input::HangUp))),
            ("peer left", Box::new(|r| r.on(Input::PeerLeft(id("b"))))),
            (
                "ice failed",
                Box::new(|r| {
                    let mut actions = r.on(Input::Connection(Connection::Failed));
                    actions.extend(r.wait(RECONNECT));
                    actions
                }),
            ),
            ("signaling lost", Box::new(|r| r.on(Input::SignalingLost))),
            (
                "a pipeline failed",
                Box::new(|r| {
                    r.on(Input::Failed(Failure::Device {
                        kind: None,
                        detail: "x".into(),
                    }))
                }),
            ),
            ("timeout", Box::new(|r| r.wait(TIMEOUT * 2))),
        ];
        let setups: Vec<(&str, bool, Setup)> = vec![
            ("connecting", false, || {
                let mut run = Run::new(config());
                run.on(Input::Joined(vec![id("a")]));
                run
            }),
            ("connected", true, || {
                Run::connected_as_caller(MachineConfig {
                    duration: Some(TIMEOUT),
                    ..config()
                })
            }),
            ("reconnecting", true, || {
                let mut run = Run::connected_as_caller(MachineConfig {
                    duration: Some(TIMEOUT),
                    ..config()
                });
                run.on(Input::Connection(Connection::Disconnected));
                run
            }),
        ];
        for (phase, media, setup) in &setups {
            for (end, cause) in &ends {
                if (*phase, *end) == ("connecting", "peer left") {
                    continue; // not an end: a fresh held offer (tested above)
                }
                let mut run = setup();
                let actions = cause(&mut run);
                let what = format!("{end} while {phase}: {actions:?}");
                assert!(run.m.is_over(), "{what}");
                assert!(matches!(actions.last(), Some(Action::End(_))), "{what}");
                let stop = actions.iter().position(|a| *a == Action::StopMedia);
                let close = actions.iter().position(|a| *a == Action::CloseConnection);
                assert_eq!(stop.is_some(), *media, "{what}");
                assert!(close.is_some(), "{what}");
                assert!(stop.is_none_or(|s| s < close.unwrap_or(0)), "{what}");
            }
        }
    }

    #[test]
    fn relay_candidates_are_told_by_their_type_field() {
        assert!(is_relay(&candidate("relay")));
        assert!(!is_relay(&candidate("srflx")));
        let mut tricky = candidate("host");
        tricky.candidate.push_str(" raddr relay rport 9");
        assert!(!is_relay(&tricky));
    }
}
