//! Peer connections on webrtc 0.21: codecs (H.264 42e01f, Opus), default interceptors
//! plus the keyframe-request forwarder,
//! explicit bind addresses, ICE servers, and an event handler that only forwards.
//!
//! The handler runs on the connection's driver task, so it does nothing but push
//! [`PeerEvent`]s into a channel; the call engine does the work.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rtc::interceptor::{Registry, Slot};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::RTCIceTransportPolicy;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MediaEngine,
};
use rtc::peer_connection::event::RTCPeerConnectionIceEvent;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::peer_connection::transport::RTCIceServer;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use signaling_proto::{IceCandidateInit, IceServer};
use tokio::sync::mpsc;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCPeerConnectionState,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::CallError;
use crate::keyframe::KeyframeRequestForwarder;

/// Payload type we offer for H.264.
pub const H264_PAYLOAD_TYPE: u8 = 102;
/// Payload type we offer for Opus.
pub const OPUS_PAYLOAD_TYPE: u8 = 111;

/// H.264 constrained baseline 3.1, packetization mode 1: what browsers and we decode.
pub fn h264_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_H264.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
            .to_owned(),
        rtcp_feedback: vec![],
    }
}

/// Opus, 48 kHz, with in-band FEC.
pub fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// A local track of `kind` (H.264 for video, Opus for audio) sending on `ssrc`, in
/// media stream `stream`.
pub fn local_track(
    stream: &str,
    kind: RtpCodecKind,
    ssrc: u32,
) -> Result<Arc<TrackLocalStaticSample>, CallError> {
    let codec = if kind == RtpCodecKind::Audio {
        opus_codec()
    } else {
        h264_codec()
    };
    let track = TrackLocalStaticSample::new(
        Instant::now(),
        MediaStreamTrack::new(
            stream.into(),
            kind.to_string(),
            kind.to_string(),
            kind,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec,
                ..Default::default()
            }],
        ),
    )
    .map_err(CallError::webrtc)?;
    Ok(Arc::new(track))
}

/// The payload type negotiated for `sender`'s codec (what samples must be written with).
pub async fn negotiated_payload_type(sender: &Arc<dyn RtpSender>) -> Result<u8, CallError> {
    sender
        .get_parameters()
        .await
        .map_err(CallError::webrtc)?
        .rtp_parameters
        .codecs
        .first()
        .map(|c| c.payload_type)
        .ok_or_else(|| CallError::webrtc("the sender has no negotiated codec"))
}

/// What a peer connection reports.
pub enum PeerEvent {
    /// A local candidate to trickle to the other peer.
    Candidate(IceCandidateInit),
    /// Local gathering finished (send end-of-candidates).
    GatheringComplete,
    /// The connection's state changed.
    State(RTCPeerConnectionState),
    /// The other peer's media arrived.
    Track(Arc<dyn TrackRemote>),
}

/// How to build a peer connection.
#[derive(Debug, Clone, Default)]
pub struct PeerSetup {
    /// UDP addresses to gather on (e.g. `127.0.0.1:0`).
    pub bind: Vec<SocketAddr>,
    /// STUN/TURN servers.
    pub ice_servers: Vec<IceServer>,
    /// Use relayed candidates only.
    pub relay_only: bool,
}

impl std::fmt::Debug for PeerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerEvent::Candidate(c) => f.debug_tuple("Candidate").field(c).finish(),
            PeerEvent::GatheringComplete => f.write_str("GatheringComplete"),
            PeerEvent::State(s) => f.debug_tuple("State").field(s).finish(),
            PeerEvent::Track(_) => f.write_str("Track(..)"),
        }
    }
}

struct Forward(mpsc::Sender<PeerEvent>);

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Forward {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.0.try_send(PeerEvent::Candidate(from_rtc(init)));
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.0.try_send(PeerEvent::GatheringComplete);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.0.try_send(PeerEvent::State(state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.0.try_send(PeerEvent::Track(track));
    }
}

/// A peer connection with our codecs, and the channel its events arrive on.
pub async fn build_peer(
    setup: &PeerSetup,
) -> Result<(Arc<dyn PeerConnection>, mpsc::Receiver<PeerEvent>), CallError> {
    let mut engine = MediaEngine::default();
    for (codec, payload_type, kind) in [
        (h264_codec(), H264_PAYLOAD_TYPE, RtpCodecKind::Video),
        (opus_codec(), OPUS_PAYLOAD_TYPE, RtpCodecKind::Audio),
    ] {
        engine
            .register_codec(
                RTCRtpCodecParameters {
                    rtp_codec: codec,
                    payload_type,
                },
                kind,
            )
            .map_err(CallError::webrtc)?;
    }
    // Keyframe requests go last: every interceptor sees the inbound RTCP before it.
    let registry = register_default_interceptors(Registry::new(), &mut engine)
        .map_err(CallError::webrtc)?
        .with(Slot::from(14_000), KeyframeRequestForwarder::default());
    let ice_servers = setup
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect();
    let mut config = RTCConfigurationBuilder::new().with_ice_servers(ice_servers);
    if setup.relay_only {
        config = config.with_ice_transport_policy(RTCIceTransportPolicy::Relay);
    }
    let (tx, events) = mpsc::channel(1024);
    let runtime = webrtc::runtime::default_runtime()
        .ok_or_else(|| CallError::webrtc("no async runtime for webrtc"))?;
    let pc = PeerConnectionBuilder::new()
        .with_configuration(config.build())
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Forward(tx)))
        .with_runtime(runtime)
        .with_udp_addrs(setup.bind.iter().map(ToString::to_string).collect())
        .build()
        .await
        .map_err(CallError::webrtc)?;
    Ok((Arc::new(pc), events))
}

/// A candidate in the protocol's form, from webrtc's.
pub fn from_rtc(c: RTCIceCandidateInit) -> IceCandidateInit {
    IceCandidateInit {
        candidate: c.candidate,
        sdp_mid: c.sdp_mid,
        sdp_m_line_index: c.sdp_mline_index,
        username_fragment: c.username_fragment,
    }
}

/// A candidate in webrtc's form, from the protocol's.
pub fn to_rtc(c: IceCandidateInit) -> RTCIceCandidateInit {
    RTCIceCandidateInit {
        candidate: c.candidate,
        sdp_mid: c.sdp_mid,
        sdp_mline_index: c.sdp_m_line_index,
        username_fragment: c.username_fragment,
        url: None,
    }
}
