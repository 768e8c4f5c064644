//! Negotiation by the protocol's "Who offers" rules, with trickle ICE both ways.
//!
//! A peer that finds the room empty offers at once, without `to` (the server holds it
//! for the callee), and trickles its candidates the same way. A peer that finds someone
//! there waits for the held offer and answers it, addressing answer and candidates to
//! the offerer. Remote candidates that arrive before the remote description are
//! queued, never lost.

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
use crate::signaling::{Joined, SignalingClient, SignalingEvent};

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

/// Negotiates over `signaling` until `pc` is connected, or fails with a reason within
/// `limit`.
pub async fn negotiate(
    pc: &Arc<dyn PeerConnection>,
    peer_events: &mut mpsc::Receiver<PeerEvent>,
    signaling: &mut SignalingClient,
    joined: &Joined,
    limit: Duration,
) -> Result<Connected, CallError> {
    let mut n = Negotiation {
        pc,
        signaling,
        remote: None,
        remote_described: false,
        queued_remote: Vec::new(),
    };
    if joined.peers.is_empty() {
        let offer = pc.create_offer(None).await.map_err(CallError::webrtc)?;
        let sdp = offer.sdp.clone();
        pc.set_local_description(offer)
            .await
            .map_err(CallError::webrtc)?;
        n.send(ClientMessage::Offer { sdp, to: None })?;
    }
    let mut tracks = Vec::new();
    let deadline = tokio::time::sleep(limit);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => {
                return Err(CallError::Timeout(limit));
            }
            event = n.signaling_next() => {
                match event? {
                    SignalingEvent::Signal { from, signal } => n.on_signal(from, signal).await?,
                    SignalingEvent::PeerLeft { id } if Some(&id) == n.remote.as_ref() => {
                        return Err(CallError::PeerLeft(id));
                    }
                    other => tracing::debug!(?other, "signaling event during negotiation"),
                }
            }
            event = peer_events.recv() => {
                match event.ok_or(CallError::Closed)? {
                    PeerEvent::Candidate(candidate) => n.send(ClientMessage::Candidate {
                        candidate: Some(candidate),
                        to: n.remote.clone(),
                    })?,
                    PeerEvent::GatheringComplete => n.send(ClientMessage::Candidate {
                        candidate: None,
                        to: n.remote.clone(),
                    })?,
                    PeerEvent::Track(track) => tracks.push(track),
                    PeerEvent::State(RTCPeerConnectionState::Connected) => {
                        let remote = n.remote.clone().ok_or(CallError::Closed)?;
                        return Ok(Connected { remote, tracks });
                    }
                    PeerEvent::State(RTCPeerConnectionState::Failed) => {
                        return Err(CallError::IceFailed);
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
