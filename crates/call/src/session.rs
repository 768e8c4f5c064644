//! Negotiation by the protocol's "Who offers" rules, with trickle ICE both ways.
//!
//! A peer that finds the room empty offers at once, without `to` (the server holds it
//! for the callee), and trickles its candidates the same way. A peer that finds someone
//! there waits for the held offer and answers it, addressing answer and candidates to
//! the offerer. Remote candidates that arrive before the remote description are
//! queued, never lost. When the room empties before the call is up, or the signaling
//! connection comes back with a new id, negotiation starts over (the caller makes a
//! fresh peer connection). A remote description without a codec we decode, or a
//! relay-only peer that gathered no relay candidate, fails at once with the reason.

use std::sync::Arc;
use std::time::Duration;

use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use signaling_proto::{ClientMessage, PeerId, Signal};
use tokio::sync::mpsc;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

use crate::CallError;
use crate::peer::{PeerEvent, to_rtc};
use crate::sdp::check_decodable;
use crate::signaling::{Joined, SignalingClient, SignalingEvent};

/// A deadline that does not come (a year).
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// How negotiation ended.
#[derive(Debug)]
pub enum Negotiated {
    /// The call is up.
    Connected(Connected),
    /// Start over with a fresh peer connection: the room emptied, or signaling
    /// reconnected (with its new `welcome`).
    Restart(Option<Joined>),
}

/// Where negotiation is, for the user to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Alone in the room, offer held for the next peer.
    Waiting,
    /// Someone is there: offer/answer and ICE under way.
    Connecting,
}

/// What negotiation needs besides the connection and signaling.
#[derive(Debug, Clone)]
pub struct NegotiateOptions {
    /// How long connecting may take once a peer is there.
    pub limit: Duration,
    /// Whether only relayed candidates are allowed (then gathering none is fatal).
    pub relay_only: bool,
    /// Signals that arrived before this negotiation began (e.g. a fresh offer that
    /// ended the previous call), handled first.
    pub backlog: Vec<(PeerId, Signal)>,
}

/// A connected call: the other peer and the tracks it sent so far.
pub struct Connected {
    /// The other peer's id.
    pub remote: PeerId,
    /// Remote tracks seen before the connection came up (more arrive as events).
    pub tracks: Vec<Arc<dyn TrackRemote>>,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected")
            .field("remote", &self.remote)
            .field("tracks", &self.tracks.len())
            .finish()
    }
}

struct Negotiation<'a> {
    pc: &'a Arc<dyn PeerConnection>,
    signaling: &'a mut SignalingClient,
    remote: Option<PeerId>,
    remote_described: bool,
    queued_remote: Vec<RTCIceCandidateInit>,
}

impl Negotiation<'_> {
    fn send(&self, message: ClientMessage) -> Result<(), CallError> {
        self.signaling.send(message).map_err(CallError::Signaling)
    }

    async fn described(&mut self) -> Result<(), CallError> {
        self.remote_described = true;
        for candidate in std::mem::take(&mut self.queued_remote) {
            self.pc
                .add_ice_candidate(candidate)
                .await
                .map_err(CallError::webrtc)?;
        }
        Ok(())
    }

    async fn on_signal(&mut self, from: PeerId, signal: Signal) -> Result<(), CallError> {
        match signal {
            Signal::Offer(sdp) => {
                check_decodable(&sdp).map_err(CallError::NoCommonCodec)?;
                let offer = RTCSessionDescription::offer(sdp).map_err(CallError::webrtc)?;
                self.pc
                    .set_remote_description(offer)
                    .await
                    .map_err(CallError::webrtc)?;
                self.remote = Some(from.clone());
                self.described().await?;
                let answer = self
                    .pc
                    .create_answer(None)
                    .await
                    .map_err(CallError::webrtc)?;
                let sdp = answer.sdp.clone();
                self.pc
                    .set_local_description(answer)
                    .await
                    .map_err(CallError::webrtc)?;
                self.send(ClientMessage::Answer {
                    sdp,
                    to: Some(from),
                })
            }
            Signal::Answer(sdp) => {
                check_decodable(&sdp).map_err(CallError::NoCommonCodec)?;
                let answer = RTCSessionDescription::answer(sdp).map_err(CallError::webrtc)?;
                self.pc
                    .set_remote_description(answer)
                    .await
                    .map_err(CallError::webrtc)?;
                self.remote = Some(from);
                self.described().await
            }
            Signal::Candidate(Some(candidate)) => {
                let candidate = to_rtc(candidate);
                if self.remote_described {
                    if let Err(err) = self.pc.add_ice_candidate(candidate).await {
                        tracing::debug!(%err, "remote candidate not usable");
                    }
                } else {
                    self.queued_remote.push(candidate);
                }
                Ok(())
            }
            Signal::Candidate(None) => Ok(()),
        }
    }
}

/// Negotiates over `signaling` until `pc` is connected, negotiation must start over,
/// or it fails with a reason (within `options.limit` of a peer being there).
pub async fn negotiate(
    pc: &Arc<dyn PeerConnection>,
    peer_events: &mut mpsc::Receiver<PeerEvent>,
    signaling: &mut SignalingClient,
    joined: &Joined,
    options: NegotiateOptions,
    mut progress: impl FnMut(Progress),
) -> Result<Negotiated, CallError> {
    let mut n = Negotiation {
        pc,
        signaling,
        remote: None,
        remote_described: false,
        queued_remote: Vec::new(),
    };
    let mut others = joined.peers.len();
    if others == 0 {
        let offer = pc.create_offer(None).await.map_err(CallError::webrtc)?;
        let sdp = offer.sdp.clone();
        pc.set_local_description(offer)
            .await
            .map_err(CallError::webrtc)?;
        n.send(ClientMessage::Offer { sdp, to: None })?;
    }
    for (from, signal) in options.backlog {
        others = others.max(1);
        n.on_signal(from, signal).await?;
    }
    progress(if others == 0 {
        Progress::Waiting
    } else {
        Progress::Connecting
    });
    let mut tracks = Vec::new();
    let mut relay_candidates = 0;
    let limit = options.limit;
    // The clock runs only while someone is there to connect to.
    let deadline = tokio::time::sleep(if others > 0 { limit } else { NEVER });
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => {
                return Err(CallError::Timeout(limit));
            }
            event = n.signaling_next() => {
                match event? {
                    SignalingEvent::Signal { from, signal } => n.on_signal(from, signal).await?,
                    SignalingEvent::PeerJoined { .. } => {
                        if others == 0 {
                            deadline.as_mut().reset(tokio::time::Instant::now() + limit);
                            progress(Progress::Connecting);
                        }
                        others += 1;
                    }
                    SignalingEvent::PeerLeft { .. } => {
                        others = others.saturating_sub(1);
                        if others == 0 {
                            return Ok(Negotiated::Restart(None));
                        }
                    }
                    SignalingEvent::Joined(rejoined) => {
                        return Ok(Negotiated::Restart(Some(rejoined)));
                    }
                    other => tracing::debug!(?other, "signaling event during negotiation"),
                }
            }
            event = peer_events.recv() => {
                match event.ok_or(CallError::Closed)? {
                    PeerEvent::Candidate(candidate) => {
                        if candidate.candidate.contains(" typ relay") {
                            relay_candidates += 1;
                        }
                        n.send(ClientMessage::Candidate {
                            candidate: Some(candidate),
                            to: n.remote.clone(),
                        })?;
                    }
                    PeerEvent::GatheringComplete => {
                        if options.relay_only && relay_candidates == 0 {
                            return Err(CallError::NoRelayCandidate);
                        }
                        n.send(ClientMessage::Candidate {
                            candidate: None,
                            to: n.remote.clone(),
                        })?;
                    }
                    PeerEvent::Track(track) => tracks.push(track),
                    PeerEvent::State(RTCPeerConnectionState::Connected) => {
                        let remote = n.remote.clone().ok_or(CallError::Closed)?;
                        return Ok(Negotiated::Connected(Connected { remote, tracks }));
                    }
                    PeerEvent::State(RTCPeerConnectionState::Failed) => {
                        return Err(if options.relay_only && relay_candidates == 0 {
                            CallError::NoRelayCandidate
                        } else {
                            CallError::IceFailed
                        });
                    }
                    PeerEvent::State(_) => {}
                }
            }
        }
    }
}

impl Negotiation<'_> {
    async fn signaling_next(&mut self) -> Result<SignalingEvent, CallError> {
        self.signaling
            .next_event()
            .await
            .ok_or(CallError::Signaling(crate::SignalingError::Closed))
    }
}
