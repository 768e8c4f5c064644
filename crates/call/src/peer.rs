//! Peer connections on webrtc 0.21: codecs (H.264 42e01f, VP8 and VP9 profile 0, each
//! with RTX; Opus), the default
//! interceptors (NACK, RTCP reports, TWCC) plus congestion control (GCC with a pacer)
//! and the [`RtcpTap`], explicit bind addresses, ICE servers (TURN over TCP and TLS
//! through the [`TurnBridge`]), and an event handler that only forwards.
//!
//! The handler runs on the connection's driver task, so it does nothing but push
//! [`PeerEvent`]s into a channel; the call engine does the work.
//!
//! Every connection carries one data channel, negotiated out of band on both sides
//! (stream [`CALL_CHANNEL_ID`]), which also serves to wake the stack's driver while a
//! connection is set up: see [`nudge_while_connecting`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::codec::VideoCodec;
use rtc::data_channel::RTCDataChannelInit;
use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{
    CongestionControlBuilder, Gcc, NackResponderBuilder, PacerBuilder, Registry, Slot,
    TwccReceiverBuilder, TwccSenderBuilder,
};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::RTCIceTransportPolicy;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_rtcp_reports, configure_simulcast_extension_headers,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_H264, MIME_TYPE_OPUS, MIME_TYPE_RTX, MIME_TYPE_VP8, MIME_TYPE_VP9, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::{
    SctpMaxMessageSize, SettingEngineBuilder,
};
use rtc::peer_connection::event::RTCPeerConnectionIceEvent;
use rtc::peer_connection::transport::RTCIceCandidateInit;
use rtc::peer_connection::transport::{
    RTCDtlsRole, RTCIceCandidatePair, RTCIceCandidateType, RTCIceServer,
};
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind, TYPE_RTCP_FB_NACK,
    TYPE_RTCP_FB_TRANSPORT_CC,
};
use signaling_proto::{IceCandidateInit, IceServer};
use tokio::sync::{mpsc, watch};
use webrtc::data_channel::DataChannel;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCIceGatheringState,
    RTCPeerConnectionState,
};
use webrtc::rtp_transceiver::RtpSender;

use crate::CallError;
use crate::dtls_repeats::FilteringRuntime;
use crate::feedback::{Feedback, PACING_FACTOR, PACING_FLOOR, ReportingEstimator, RtcpTap};
use crate::rtx::RtxUnwrap;
use crate::turn_stream::{RelayRegistry, TurnBridge, TurnFailure, relay_priority};

/// Payload type we offer for H.264.
pub const H264_PAYLOAD_TYPE: u8 = 102;
/// Payload type we offer for H.264 retransmissions (RTX).
pub const RTX_PAYLOAD_TYPE: u8 = 103;
/// Payload type we offer for VP8.
pub const VP8_PAYLOAD_TYPE: u8 = 96;
/// Payload type we offer for VP8 retransmissions (RTX).
pub const VP8_RTX_PAYLOAD_TYPE: u8 = 97;
/// Payload type we offer for VP9.
pub const VP9_PAYLOAD_TYPE: u8 = 98;
/// Payload type we offer for VP9 retransmissions (RTX).
pub const VP9_RTX_PAYLOAD_TYPE: u8 = 99;
/// Payload type we offer for Opus.
pub const OPUS_PAYLOAD_TYPE: u8 = 111;

/// SCTP stream id of the call's data channel, which both sides create themselves
/// (`negotiated`), so each has it before the connection is up.
pub const CALL_CHANNEL_ID: u16 = 0;

/// The largest data-channel message we take and offer to take, bytes (256 KiB, as
/// Chromium and Firefox).
pub const MAX_CHANNEL_MESSAGE: u32 = 256 * 1024;

/// Label of the call's data channel.
pub const CALL_CHANNEL_LABEL: &str = "peercall";

/// How often the stack's driver is woken while a connection is set up.
const NUDGE_INTERVAL: Duration = Duration::from_millis(2);

/// H.264 constrained baseline 3.1, packetization mode 1: what browsers and we decode.
pub fn h264_codec() -> RTCRtpCodec {
    video_codec(VideoCodec::H264)
}

/// The RTP codec of `codec`: H.264 constrained baseline 3.1 in packetization mode 1,
/// VP8, or VP9 profile 0 (8-bit 4:2:0), each at 90 kHz.
pub fn video_codec(codec: VideoCodec) -> RTCRtpCodec {
    let (mime_type, fmtp) = match codec {
        VideoCodec::H264 => (
            MIME_TYPE_H264,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
        ),
        VideoCodec::Vp8 => (MIME_TYPE_VP8, ""),
        VideoCodec::Vp9 => (MIME_TYPE_VP9, "profile-id=0"),
    };
    RTCRtpCodec {
        mime_type: mime_type.to_owned(),
        clock_rate: 90_000,
        channels: 0,
        sdp_fmtp_line: fmtp.to_owned(),
        rtcp_feedback: vec![],
    }
}

/// The payload types we register for `codec` and for its retransmissions (RTX).
pub fn video_payload_types(codec: VideoCodec) -> (u8, u8) {
    match codec {
        VideoCodec::H264 => (H264_PAYLOAD_TYPE, RTX_PAYLOAD_TYPE),
        VideoCodec::Vp8 => (VP8_PAYLOAD_TYPE, VP8_RTX_PAYLOAD_TYPE),
        VideoCodec::Vp9 => (VP9_PAYLOAD_TYPE, VP9_RTX_PAYLOAD_TYPE),
    }
}

/// `codec` and its RTX (`apt=`), as registered with the media engine.
fn video_codec_with_rtx(codec: VideoCodec) -> [RTCRtpCodecParameters; 2] {
    let (payload_type, rtx_payload_type) = video_payload_types(codec);
    [
        RTCRtpCodecParameters {
            rtp_codec: video_codec(codec),
            payload_type,
        },
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: MIME_TYPE_RTX.to_owned(),
                clock_rate: 90_000,
                channels: 0,
                sdp_fmtp_line: format!("apt={payload_type}"),
                rtcp_feedback: vec![],
            },
            payload_type: rtx_payload_type,
        },
    ]
}

/// The video codecs in `order`, each followed by its RTX: a transceiver's codec
/// preferences (the order an offer or answer lists them in).
pub fn video_codec_preferences(order: &[VideoCodec]) -> Vec<RTCRtpCodecParameters> {
    order
        .iter()
        .flat_map(|&c| video_codec_with_rtx(c))
        .collect()
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

/// A local track of `kind` (`video` for video, Opus for audio) sending on `ssrc`, in
/// media stream `stream`.
pub fn local_track(
    stream: &str,
    kind: RtpCodecKind,
    ssrc: u32,
    video: VideoCodec,
) -> Result<Arc<TrackLocalStaticSample>, CallError> {
    let codec = if kind == RtpCodecKind::Audio {
        opus_codec()
    } else {
        video_codec(video)
    };
    let track = TrackLocalStaticSample::new(
        Instant::now(),
        // Track ids must differ from the remote's: webrtc 0.21 routes RTCP by track id,
        // looking at received tracks first, so a shared id ("video") sends the remote's
        // keyframe requests for our track to our receiver instead.
        MediaStreamTrack::new(
            stream.into(),
            format!("{kind}-{ssrc:08x}"),
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

/// The payload type negotiated for video `codec` on `sender`: the one its samples must
/// be written with.
pub async fn negotiated_video_payload_type(
    sender: &Arc<dyn RtpSender>,
    codec: VideoCodec,
) -> Result<u8, CallError> {
    let parameters = sender.get_parameters().await.map_err(CallError::webrtc)?;
    parameters
        .rtp_parameters
        .codecs
        .iter()
        .find(|c| VideoCodec::from_sdp_name(&c.rtp_codec.mime_type) == Some(codec))
        .map(|c| c.payload_type)
        .ok_or_else(|| CallError::webrtc(format!("{codec} was not negotiated")))
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
    /// A TURN server reached over TCP or TLS gave no relay.
    RelayFailed(TurnFailure),
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
    /// Congestion control: where the estimate starts and its bounds, bits per second.
    pub bitrate: BitrateRange,
    /// CA certificates (PEM) trusted for TURN over TLS, besides the system's roots.
    pub turn_ca: Option<PathBuf>,
}

/// Most packets the pacer holds (its default is 4096): stale video queued for seconds
/// behind a bottleneck only delays what comes after it; beyond this, drop and let the
/// receiver ask for a keyframe.
const PACER_QUEUE_LIMIT: usize = 128;

/// Where the congestion controller starts, bits per second.
pub const DEFAULT_START_BITRATE: u32 = 600_000;

/// Bounds of the congestion controller's estimate, bits per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BitrateRange {
    /// Never estimate below this.
    pub min: u32,
    /// Where to start.
    pub start: u32,
    /// Never estimate above this.
    pub max: u32,
}

impl Default for BitrateRange {
    /// 150 kbit/s to 2.5 Mbit/s, starting at 600 kbit/s (a start above the path's
    /// capacity costs seconds of loss; below it, a few seconds of climbing).
    fn default() -> Self {
        Self {
            min: 150_000,
            start: DEFAULT_START_BITRATE,
            max: 2_500_000,
        }
    }
}

/// A peer connection, the channel its events arrive on, and the feedback its
/// interceptors collect.
pub struct Peer {
    /// The connection.
    pub pc: Arc<dyn PeerConnection>,
    /// Its events.
    pub events: mpsc::Receiver<PeerEvent>,
    /// Congestion estimate and receiver reports.
    pub feedback: Arc<Feedback>,
    /// The bridge to TURN servers over TCP and TLS (lives as long as the connection).
    pub relays: TurnBridge,
    /// The call's data channel (stream [`CALL_CHANNEL_ID`]).
    pub channel: Arc<dyn DataChannel>,
}

impl std::fmt::Debug for PeerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerEvent::Candidate(c) => f.debug_tuple("Candidate").field(c).finish(),
            PeerEvent::GatheringComplete => f.write_str("GatheringComplete"),
            PeerEvent::State(s) => f.debug_tuple("State").field(s).finish(),
            PeerEvent::Track(_) => f.write_str("Track(..)"),
            PeerEvent::RelayFailed(failure) => f.debug_tuple("RelayFailed").field(failure).finish(),
        }
    }
}

struct Forward {
    tx: mpsc::Sender<PeerEvent>,
    relays: RelayRegistry,
    state: watch::Sender<RTCPeerConnectionState>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Forward {
    async fn on_ice_candidate(&self, mut event: RTCPeerConnectionIceEvent) {
        let candidate = &mut event.candidate;
        // Rank relays as browsers do, UDP over TCP over TLS, in what the other peer
        // hears (our own agent keeps the stack's priorities).
        if candidate.typ == RTCIceCandidateType::Relay
            && let Some(protocol) = self.relays.protocol_of(&candidate.address, candidate.port)
        {
            candidate.priority = relay_priority(candidate.priority, protocol);
        }
        if let Ok(init) = candidate.to_json() {
            let _ = self.tx.try_send(PeerEvent::Candidate(from_rtc(init)));
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.tx.try_send(PeerEvent::GatheringComplete);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.state.send_replace(state);
        let _ = self.tx.try_send(PeerEvent::State(state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.tx.try_send(PeerEvent::Track(track));
    }
}

/// The RTCP feedback we take and the header extension it needs: NACK and PLI for
/// video, transport-wide congestion control (TWCC) for both kinds.
fn register_feedback(engine: &mut MediaEngine) -> Result<(), rtc::shared::error::Error> {
    for parameter in ["", "pli"] {
        engine.register_feedback(
            RTCPFeedback {
                typ: TYPE_RTCP_FB_NACK.to_owned(),
                parameter: parameter.to_owned(),
            },
            RtpCodecKind::Video,
        );
    }
    for kind in [RtpCodecKind::Video, RtpCodecKind::Audio] {
        engine.register_feedback(
            RTCPFeedback {
                typ: TYPE_RTCP_FB_TRANSPORT_CC.to_owned(),
                parameter: String::new(),
            },
            kind,
        );
        engine.register_header_extension(
            RTCRtpHeaderExtensionCapability {
                uri: rtc::sdp::extmap::TRANSPORT_CC_URI.to_owned(),
            },
            kind,
            None,
        )?;
    }
    Ok(())
}

/// A peer connection with our codecs and interceptors.
///
/// Remote mDNS (`.local`) candidates are resolved when the machine can join the mDNS
/// multicast group; where it cannot (no multicast route, e.g. a loopback-only network
/// namespace), the connection is built without mDNS rather than not at all.
pub async fn build_peer(setup: &PeerSetup) -> Result<Peer, CallError> {
    if !multicast_available() {
        tracing::debug!("no multicast route: remote .local candidates are ignored");
        return build(setup, false).await;
    }
    match build(setup, true).await {
        Err(CallError::WebRtc(err)) => {
            tracing::warn!(%err, "cannot use mDNS here; remote .local candidates are ignored");
            build(setup, false).await
        }
        other => other,
    }
}

/// Whether this machine can join the mDNS multicast group (a loopback-only network
/// namespace, for one, has no multicast route), asked before the stack tries and fails
/// with an error of its own.
fn multicast_available() -> bool {
    use std::net::{Ipv4Addr, UdpSocket};
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|socket| {
            socket.join_multicast_v4(&Ipv4Addr::new(224, 0, 0, 251), &Ipv4Addr::UNSPECIFIED)
        })
        .is_ok()
}

async fn build(setup: &PeerSetup, mdns: bool) -> Result<Peer, CallError> {
    let has_turn = setup
        .ice_servers
        .iter()
        .flat_map(|s| &s.urls)
        .any(|url| url.starts_with("turn:") || url.starts_with("turns:"));
    if setup.relay_only && !has_turn {
        return Err(CallError::NoRelayCandidate);
    }
    let mut engine = MediaEngine::default();
    let audio = RTCRtpCodecParameters {
        rtp_codec: opus_codec(),
        payload_type: OPUS_PAYLOAD_TYPE,
    };
    let video = video_codec_preferences(&VideoCodec::ALL);
    for (codec, kind) in video
        .into_iter()
        .map(|c| (c, RtpCodecKind::Video))
        .chain([(audio, RtpCodecKind::Audio)])
    {
        engine
            .register_codec(codec, kind)
            .map_err(CallError::webrtc)?;
    }
    let feedback = Arc::new(Feedback::default());
    let range = setup.bitrate;
    let gcc = Gcc::new(
        f64::from(range.start),
        f64::from(range.min),
        f64::from(range.max),
    );
    // Every interceptor registered once (the stack's helpers register defaults that
    // ours would replace, with a warning each time): what `register_default_interceptors`
    // and `configure_congestion_control` set up, with our pacer and no NACK generator:
    // the video receiver asks for lost packets itself, as soon as a hole shows
    // (`jitter::FrameAssembler::overdue`).
    register_feedback(&mut engine).map_err(CallError::webrtc)?;
    configure_simulcast_extension_headers(&mut engine).map_err(CallError::webrtc)?;
    // The pacer starts at its own 1 Mbit/s until the first estimate: start where the
    // estimator does (times the pacing factor, as after). The tap goes last: every
    // interceptor sees inbound RTCP first.
    let registry = configure_rtcp_reports(Registry::new())
        .with(Slot::NackResponder, NackResponderBuilder::new().build())
        .with(
            Slot::CongestionControl,
            CongestionControlBuilder::new(ReportingEstimator::new(gcc, Arc::clone(&feedback)))
                .build(),
        )
        .with(
            Slot::Pacer,
            PacerBuilder::new()
                .with_target_bitrate((f64::from(range.start) * PACING_FACTOR).max(PACING_FLOOR))
                .with_queue_limit(PACER_QUEUE_LIMIT)
                .build(),
        )
        .with(Slot::TwccSender, TwccSenderBuilder::new().build())
        .with(Slot::TwccReceiver, TwccReceiverBuilder::new().build())
        .with(Slot::from(14_000), RtcpTap::new(Arc::clone(&feedback)))
        .with(Slot::from(500), RtxUnwrap::default());
    let (tx, events) = mpsc::channel(1024);
    let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
    // The bridge reports into the same channel, before the stack hears of the failure
    // (so before the end of gathering it leads to); weakly, so that the channel still
    // closes when the connection's driver is gone.
    let report = tx.downgrade();
    let relays = TurnBridge::start(
        &setup.ice_servers,
        setup.turn_ca.as_deref(),
        Arc::new(move |failure| {
            if let Some(tx) = report.upgrade() {
                let _ = tx.try_send(PeerEvent::RelayFailed(failure));
            }
        }),
    )
    .await?;
    let ice_servers = relays
        .servers()
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
    let runtime = webrtc::runtime::default_runtime()
        .ok_or_else(|| CallError::webrtc("no async runtime for webrtc"))?;
    // Its sockets drop repeated DTLS flights, which would stall the handshake.
    let runtime = Arc::new(FilteringRuntime::new(runtime));
    // rtc-ice checks a pair every 200 ms by default, so even loopback peers take
    // ~200 ms to connect: check every 25 ms, trying as long in total (1.4 s a pair).
    //
    // The controlling agent also waits before nominating some pairs: 1 s for a
    // peer-reflexive remote (which is what a browser's first check makes of its host
    // candidate when the check beats the signaled candidate: every call with Chromium
    // took 1.7 s to connect) and 2 s for relays. Browsers do not wait; nor do we for
    // peer-reflexive pairs, nor for relays when relays are all there can be.
    //
    // An ICE restart rebinds the sockets and gathers afresh (on a wildcard bind, on the
    // interfaces there are now): after a handover the old sockets are bound to an address
    // that is gone.
    let mut settings = SettingEngineBuilder::default()
        // The offerer is the DTLS client. It controls ICE, so it has a pair to send on
        // only after the answerer has one: its ClientHello never comes before the
        // answerer takes packets. Made the other way round, the answerer's ClientHello
        // could come before the offerer had its pair, be dropped, and the handshake
        // waited for DTLS's 1 s retransmission (a second more to connect on a 120 ms
        // round trip).
        .with_answering_dtls_role(RTCDtlsRole::Server)
        .with_ice_connection_attempts(Some(Duration::from_millis(25)), Some(56))
        .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
        .with_discard_local_candidates_during_ice_restart(true)
        // Data-channel messages up to 256 KiB, as browsers take (the default is SDP's
        // 64 KiB, under a chat line of 64 KiB of text with its envelope).
        .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(MAX_CHANNEL_MESSAGE));
    if setup.relay_only {
        settings = settings.with_relay_acceptance_min_wait(Some(Duration::ZERO));
    }
    if !mdns {
        settings = settings.with_multicast_dns_mode(MulticastDnsMode::Disabled);
    }
    let settings = settings.build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(config.build())
        .with_setting_engine(settings)
        .with_media_engine(engine)
        .with_interceptor_registry(registry)
        .with_handler(Arc::new(Forward {
            tx,
            relays: relays.registry().clone(),
            state: state_tx,
        }))
        .with_runtime(runtime)
        .with_udp_addrs(setup.bind.iter().map(ToString::to_string).collect())
        .build()
        .await
        .map_err(CallError::webrtc)?;
    let channel = pc
        .create_data_channel(
            CALL_CHANNEL_LABEL,
            Some(RTCDataChannelInit {
                negotiated: Some(CALL_CHANNEL_ID),
                ..Default::default()
            }),
        )
        .await
        .map_err(CallError::webrtc)?;
    tokio::spawn(nudge_while_connecting(Arc::downgrade(&channel), state));
    Ok(Peer {
        pc: Arc::new(pc),
        events,
        feedback,
        relays,
        channel,
    })
}

/// Wakes the stack's driver every [`NUDGE_INTERVAL`] while the connection is
/// `connecting`, until it is gone.
///
/// webrtc 0.21.1 hands a packet bound for a TURN relay to that relay's client after
/// it has drained the client's queue, so the packet leaves on the driver's next turn;
/// once ICE has connected, that turn may be the 2 s keepalive timer away. Each DTLS
/// flight of a relayed call waited 250–650 ms, and a relay-only call took 1.7 s from
/// join to connected on loopback. Setting a data channel's buffered-amount threshold
/// changes nothing else and wakes the driver.
///
/// It holds the channel weakly: the channel keeps the connection (and its state sender)
/// alive, so a strong hold would keep a connection that never said `closed` for ever.
async fn nudge_while_connecting(
    channel: std::sync::Weak<dyn DataChannel>,
    mut state: watch::Receiver<RTCPeerConnectionState>,
) {
    loop {
        let Ok(now) = state
            .wait_for(|s| {
                matches!(
                    s,
                    RTCPeerConnectionState::Connecting | RTCPeerConnectionState::Closed
                )
            })
            .await
            .map(|s| *s)
        else {
            return;
        };
        if now == RTCPeerConnectionState::Closed {
            return;
        }
        while *state.borrow() == RTCPeerConnectionState::Connecting {
            tokio::time::sleep(NUDGE_INTERVAL).await;
            let Some(channel) = channel.upgrade() else {
                return;
            };
            if channel.set_buffered_amount_low_threshold(0).await.is_err() {
                return;
            }
        }
    }
}

/// The candidate pair ICE selected, once connected.
pub async fn selected_pair(pc: &Arc<dyn PeerConnection>) -> Option<RTCIceCandidatePair> {
    for sender in pc.get_senders().await {
        if let Ok(Some(dtls)) = sender.transport().await {
            return dtls
                .ice_transport()
                .get_selected_candidate_pair()
                .await
                .ok()
                .flatten();
        }
    }
    None
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
