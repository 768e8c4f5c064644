//! One call from join to hang-up: the shell around [`CallMachine`] that `peercall
//! call`, `peercall loopback` and the desktop app drive.
//!
//! [`run_call`] joins the room and feeds what happens (signaling events, the peer
//! connection's events, timers, hang-up) into the machine, and runs the machine's
//! actions against webrtc-rs ([`crate::peer`]), the signaling client and the
//! [`MediaSession`]; it decides nothing itself. It reports [`CallEvent`]s: state changes
//! the user can see, and a [`StatsLine`] every second while media flows. Whichever way
//! the call ends, the media pipelines are stopped and joined, the peer connection
//! closed and the room left before `run_call` returns.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use signaling_proto::{ClientMessage, IceServer, PeerId, Signal};
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

use crate::channel::{ChannelReady, READY_FRAME, ReadyAction};
use crate::chat::{ChatError, ChatMessage, ChatOutbox};
use crate::feedback::Feedback;
use crate::file::{FileAction, FileEvent, FileId, FileMessage, Transfers};
use crate::file_io::FileIo;
use crate::machine::{Action, CallMachine, Connection, Input, MachineConfig};
use crate::media_session::{LocalTracks, MediaSession};
use crate::options::{AudioInput, AudioOutput, CallOptions, VideoInput};
use crate::options::{open_audio, open_speaker, open_video};
use crate::peer::{Peer, PeerEvent, PeerSetup, build_peer, to_rtc};
use crate::state::{CallState, Failure};
use crate::stats::StatsLine;
use crate::turn_stream::TurnBridge;
use crate::{CallError, SignalingClient, SignalingConfig, SignalingEvent};

/// How often a statistics line is made (and the encoders adapted).
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// How long the connection may stay disconnected before ICE is restarted: a brief
/// outage (a lost burst, a busy link) often comes back by itself.
const RESTART_GRACE: Duration = Duration::from_secs(2);

/// Most file chunks sent per wake of the shell (256 KiB).
const FILE_CHUNKS_PER_WAKE: usize = 16;

/// How soon sending file bytes is tried again while the channel is full.
const FILE_RETRY: Duration = Duration::from_millis(20);

/// How long reconnecting may last before the call ends: with ICE's own few seconds to
/// notice the outage, a path that never comes back ends the call within 30 s.
const RECONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// What the engine reports while a call runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum CallEvent {
    /// The state changed.
    State(CallState),
    /// One second's statistics.
    Stats(Box<StatsLine>),
    /// A chat line from the other peer.
    ChatReceived(ChatMessage),
    /// A chat line of ours went out (or is held until the chat channel opens).
    ChatSent(ChatMessage),
    /// A chat line of ours was refused (empty, too long, the channel failed), or one
    /// that arrived was malformed.
    ChatFailed(ChatError),
    /// Our screen share or the other peer's started or stopped, or ours failed.
    Share(ShareEvent),
    /// A file transfer (ours or the other peer's) went on.
    File(FileEvent),
}

/// What happened to a screen share.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShareEvent {
    /// We share this (a screen's or window's name); the other peer is being asked to
    /// take it.
    Started(String),
    /// We stopped sharing (asked to, the call's media stopped, or the capture ended).
    Stopped,
    /// Sharing could not start (no display, no such window...), and why.
    Failed(String),
    /// The other peer shares its screen.
    RemoteStarted,
    /// The other peer stopped sharing.
    RemoteStopped,
}

/// What the user asks of a running call, besides hanging up.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CallCommand {
    /// Send a chat line.
    Chat(String),
    /// Share a screen or window, at this frame rate (mid-call: the other peer is sent a
    /// new offer with a second video track, the camera going on).
    StartShare(media::screen::ShareTarget, f32),
    /// Stop sharing.
    StopShare,
    /// Send this file to the other peer (once the chat channel is open, one file at a
    /// time, in the order asked).
    SendFile(std::path::PathBuf),
    /// Stop a transfer, ours or the other peer's.
    CancelFile(FileId),
}

/// How a call went.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Whether a call connected at all.
    pub connected: bool,
    /// Milliseconds from joining (or from the peer's arrival, for later calls) to
    /// connected, for the last call.
    pub connect_ms: Option<u64>,
    /// Milliseconds from joining (or from the peer's arrival, for later calls) to the
    /// first decoded remote picture, for the last call.
    pub first_frame_ms: Option<u64>,
    /// Calls that connected (more than one with `stay`).
    pub calls: u32,
    /// The final state.
    pub outcome: CallState,
    /// The last statistics line.
    pub last: Option<StatsLine>,
}

impl Summary {
    /// Whether video and audio flowed both ways (as far as this side can tell) and
    /// the call ended normally.
    pub fn media_flowed_both_ways(&self) -> bool {
        let Some(last) = &self.last else {
            return false;
        };
        matches!(self.outcome, CallState::Ended(_))
            && last.video_out.frames > 0
            && last.video_in.decoded > 0
            && last.audio_out.packets > 0
            && last.audio_in.packets > 0
            && last.video_in.out_of_order == 0
    }
}

/// Runs a call until `hangup` resolves, the duration passes, the other peer leaves or
/// the call fails; every state change and statistics line goes to `on_event`.
pub async fn run_call(
    options: CallOptions,
    on_event: impl FnMut(CallEvent) + Send,
    hangup: impl Future<Output = ()>,
) -> Summary {
    let (_commands, inbox) = mpsc::unbounded_channel();
    run_call_with(options, on_event, hangup, inbox).await
}

/// [`run_call`], taking [`CallCommand`]s (chat lines to send) from `commands` while it
/// runs.
pub async fn run_call_with(
    options: CallOptions,
    mut on_event: impl FnMut(CallEvent) + Send,
    hangup: impl Future<Output = ()>,
    commands: mpsc::UnboundedReceiver<CallCommand>,
) -> Summary {
    on_event(CallEvent::State(CallState::Joining));
    let takes_files = options.files_dir.is_some();
    let mut shell = Shell {
        machine: CallMachine::new(MachineConfig {
            connect_timeout: options.connect_timeout,
            duration: options.duration,
            stay: options.stay,
            relay_only: options.ice.relay_only,
            restart_grace: RESTART_GRACE,
            reconnect_timeout: RECONNECT_TIMEOUT,
        }),
        options,
        on_event,
        summary: Summary {
            connected: false,
            connect_ms: None,
            first_frame_ms: None,
            calls: 0,
            outcome: CallState::Joining,
            last: None,
        },
        signaling: None,
        ice_servers: Vec::new(),
        link: None,
        events: None,
        network: crate::network::watch(),
        early_tracks: Vec::new(),
        media: None,
        next_tick: None,
        ticks: 0,
        commands: Some(commands),
        ready: ChannelReady::new(),
        chat: ChatOutbox::default(),
        files: Transfers::new(takes_files),
        file_io: FileIo::default(),
        file_retry: None,
        remote_sharing: false,
    };
    let outcome = shell.run(hangup).await;
    shell.teardown().await;
    (shell.on_event)(CallEvent::State(outcome.clone()));
    shell.summary.outcome = outcome;
    shell.summary
}

/// The current peer connection and what came with it.
struct Link {
    pc: Arc<dyn PeerConnection>,
    feedback: Arc<Feedback>,
    /// Our tracks on it (moved into the media session when the call is up).
    tracks: Option<LocalTracks>,
    /// When it was built: connect and first-frame times count from here.
    built: Instant,
    /// Its bridge to TURN servers over TCP and TLS (stopped when the link is dropped).
    relays: TurnBridge,
    /// Its data channel: chat.
    channel: Arc<dyn DataChannel>,
    /// Whether its channel has closed (it is not polled any more).
    channel_done: bool,
    /// Whether we are the DTLS server (`Some(true)`: we answered the first offer
    /// `passive`, or the other side answered ours `active`), once the first negotiation
    /// is done.
    dtls_role: Option<bool>,
}

/// The I/O around the machine.
struct Shell<F> {
    machine: CallMachine,
    options: CallOptions,
    on_event: F,
    summary: Summary,
    signaling: Option<SignalingClient>,
    /// ICE servers from the latest `welcome`.
    ice_servers: Vec<IceServer>,
    link: Option<Link>,
    events: Option<mpsc::Receiver<PeerEvent>>,
    /// Changes of the local network.
    network: mpsc::Receiver<()>,
    /// Remote tracks that arrived before the media started.
    early_tracks: Vec<Arc<dyn TrackRemote>>,
    media: Option<MediaSession>,
    next_tick: Option<Instant>,
    ticks: u64,
    /// What the user asks for (`None` once its sender is gone).
    commands: Option<mpsc::UnboundedReceiver<CallCommand>>,
    /// Whether the data channel carries our messages yet (the other peer said `ready`).
    ready: ChannelReady,
    /// Chat lines waiting for the data channel to open.
    chat: ChatOutbox,
    /// File transfers, both ways.
    files: Transfers,
    /// The files they read from and write to.
    file_io: FileIo,
    /// When to try sending file bytes again (the channel was full, or this wake's
    /// share was sent).
    file_retry: Option<Instant>,
    /// Whether the other peer's last description shares its screen.
    remote_sharing: bool,
}

/// What woke the shell.
enum Wake {
    Timer,
    HangUp,
    Signaling(Option<SignalingEvent>),
    Peer(Option<PeerEvent>),
    NetworkChanged,
    Command(Option<CallCommand>),
    Channel(Option<DataChannelEvent>),
}

impl<F: FnMut(CallEvent) + Send> Shell<F> {
    /// Runs the machine until it ends the call; returns how it ended.
    async fn run(&mut self, hangup: impl Future<Output = ()>) -> CallState {
        tokio::pin!(hangup);
        let mut hung_up = false;
        if let Err(err) = check_devices(&self.options) {
            return CallState::Failed(err.into());
        }
        let mut config =
            SignalingConfig::new(self.options.server.clone(), self.options.room.clone());
        config.name = self.options.name.clone();
        config.token = self.options.token.clone();
        tokio::select! {
            connected = SignalingClient::connect(config) => match connected {
                Ok(client) => self.signaling = Some(client),
                Err(err) => return CallState::Failed(err.into()),
            },
            () = &mut hangup => {
                hung_up = true;
                self.machine.handle_input(Instant::now(), Input::HangUp);
            }
        }
        loop {
            while let Some(action) = self.machine.poll_action() {
                if let Action::End(outcome) = action {
                    return outcome;
                }
                if let Err(failure) = self.act(action).await {
                    self.machine
                        .handle_input(Instant::now(), Input::Failed(failure));
                }
            }
            let wake_at = [
                self.machine.poll_timeout(),
                self.next_tick,
                self.files.poll_timeout(),
                self.ready.poll_timeout(),
                self.file_retry,
            ]
            .into_iter()
            .flatten()
            .min();
            let channel = self
                .link
                .as_ref()
                .filter(|link| !link.channel_done)
                .map(|link| Arc::clone(&link.channel));
            let wake = tokio::select! {
                () = sleep_until(wake_at) => Wake::Timer,
                command = next_command(&mut self.commands) => Wake::Command(command),
                event = next_channel_event(channel.as_ref()) => Wake::Channel(event),
                () = &mut hangup, if !hung_up => Wake::HangUp,
                event = next_signaling(&mut self.signaling) => Wake::Signaling(event),
                event = next_peer_event(&mut self.events) => Wake::Peer(event),
                Some(()) = self.network.recv() => Wake::NetworkChanged,
            };
            let now = Instant::now();
            match wake {
                Wake::Timer => {
                    if self.next_tick.is_some_and(|t| now >= t) {
                        self.tick().await;
                    }
                    self.machine.handle_timeout(now);
                    self.files.handle_timeout(now);
                    for action in self.ready.handle_timeout(now) {
                        self.ready_action(action).await;
                    }
                }
                Wake::HangUp => {
                    hung_up = true;
                    self.machine.handle_input(now, Input::HangUp);
                }
                Wake::Signaling(event) => {
                    if let Some(input) = self.signaling_input(event) {
                        self.machine.handle_input(now, input);
                    }
                }
                Wake::Peer(event) => {
                    if let Some(input) = self.peer_input(event).await {
                        self.machine.handle_input(now, input);
                    }
                }
                Wake::Command(None) => self.commands = None,
                Wake::Command(Some(command)) => self.command(command).await,
                Wake::Channel(event) => self.channel_event(event, channel).await,
                Wake::NetworkChanged => {
                    // The signaling connection's path may be gone too, unnoticed: take
                    // our place in the room back over a new one.
                    if let Some(signaling) = &self.signaling {
                        signaling.reconnect_now();
                    }
                    self.machine.handle_input(now, Input::NetworkChanged);
                }
            }
            self.pump_files().await;
        }
    }

    /// Runs one of the user's commands.
    async fn command(&mut self, command: CallCommand) {
        match command {
            CallCommand::Chat(text) => {
                let message = ChatMessage {
                    from: self.options.name.as_ref().map(|n| n.as_str().to_owned()),
                    text,
                    sent_ms: Some(unix_ms()),
                };
                match self.chat.send(&message) {
                    Ok(frame) => {
                        if let Some(frame) = frame {
                            self.send_chat_frame(&frame).await;
                        }
                        (self.on_event)(CallEvent::ChatSent(message));
                    }
                    Err(err) => (self.on_event)(CallEvent::ChatFailed(err)),
                }
            }
            CallCommand::StartShare(target, fps) => {
                if let Err(why) = self.start_share(target, fps).await {
                    tracing::warn!(%why, "screen share did not start");
                    (self.on_event)(CallEvent::Share(ShareEvent::Failed(why)));
                }
            }
            CallCommand::SendFile(path) => {
                let id = crate::file_io::new_id();
                let sent = match self.file_io.open(&id, &path).await {
                    Ok((name, size)) => self.files.send(id.clone(), &name, size, Instant::now()),
                    Err(error) => Err(error),
                };
                if let Err(error) = sent {
                    self.file_io.close(&id);
                    (self.on_event)(CallEvent::File(FileEvent::Failed { id, error }));
                }
            }
            CallCommand::CancelFile(id) => self.files.cancel(&id, Instant::now()),
            CallCommand::StopShare => {
                let Some(media) = &mut self.media else { return };
                if !media.sharing() {
                    return;
                }
                if let Err(err) = media.stop_share().await {
                    tracing::warn!(%err, "stopping the screen share");
                }
                (self.on_event)(CallEvent::Share(ShareEvent::Stopped));
                self.machine
                    .handle_input(Instant::now(), Input::NegotiationNeeded);
            }
        }
    }

    /// Opens the capture of `target` and adds its track; the machine then offers it.
    async fn start_share(
        &mut self,
        target: media::screen::ShareTarget,
        fps: f32,
    ) -> Result<(), String> {
        if self.media.as_ref().is_none_or(|m| m.sharing()) {
            return Err(match self.media {
                None => "not in a call".into(),
                Some(_) => "already sharing".into(),
            });
        }
        let capture = tokio::task::spawn_blocking(move || media::screen::open_capture(target, fps))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let name = capture.name();
        tracing::info!(%name, "sharing");
        let media = self.media.as_mut().ok_or("the call ended")?;
        media
            .start_share(capture)
            .await
            .map_err(|e| e.to_string())?;
        (self.on_event)(CallEvent::Share(ShareEvent::Started(name)));
        self.machine
            .handle_input(Instant::now(), Input::NegotiationNeeded);
        Ok(())
    }

    /// A negotiation completed mid-call: our share's pipeline starts once it is
    /// negotiated, and the other peer's sharing is told when it changes.
    async fn negotiated(&mut self) -> Result<(), Failure> {
        let Some(media) = &mut self.media else {
            return Ok(());
        };
        media.negotiated().await?;
        let remote = match &self.link {
            Some(link) => link.pc.remote_description().await,
            None => None,
        };
        let sharing = remote.is_some_and(|d| crate::sdp::shares_screen(&d.sdp));
        if sharing != self.remote_sharing {
            self.remote_sharing = sharing;
            (self.on_event)(CallEvent::Share(if sharing {
                ShareEvent::RemoteStarted
            } else {
                ShareEvent::RemoteStopped
            }));
        }
        Ok(())
    }

    /// Sends one chat frame on the current connection's channel.
    async fn send_chat_frame(&mut self, frame: &str) {
        let Some(link) = &self.link else { return };
        if let Err(err) = link.channel.send_text(frame).await {
            tracing::warn!(%err, "a chat line could not be sent");
            (self.on_event)(CallEvent::ChatFailed(ChatError::Channel(err.to_string())));
        }
    }

    /// Something happened on `channel` (the current connection's, when it was polled).
    async fn channel_event(
        &mut self,
        event: Option<DataChannelEvent>,
        channel: Option<Arc<dyn DataChannel>>,
    ) {
        let current = match (&self.link, &channel) {
            (Some(link), Some(polled)) => Arc::ptr_eq(&link.channel, polled),
            _ => false,
        };
        if !current {
            return;
        }
        match event {
            Some(DataChannelEvent::OnOpen) => {
                tracing::debug!("data channel open");
                for action in self.ready.opened(Instant::now()) {
                    self.ready_action(action).await;
                }
            }
            Some(DataChannelEvent::OnMessage(message))
                if message.is_string && crate::channel::is_ready(&message.data) =>
            {
                for action in self.ready.heard_ready() {
                    self.ready_action(action).await;
                }
            }
            Some(DataChannelEvent::OnMessage(message)) => {
                let refused = if !message.is_string {
                    // Binary frames are the bytes of a file being received.
                    (!self.files.on_chunk(message.data.freeze())).then_some(ChatError::NotText)
                } else {
                    match crate::chat::decode(&message.data, true) {
                        Ok(Some(line)) => {
                            (self.on_event)(CallEvent::ChatReceived(line));
                            None
                        }
                        Ok(None) => self.file_message(&message.data).err(),
                        Err(err) => Some(err),
                    }
                };
                if let Some(err) = refused {
                    tracing::warn!(%err, "a data-channel message was refused");
                    (self.on_event)(CallEvent::ChatFailed(err));
                }
            }
            Some(DataChannelEvent::OnClose) | None => {
                self.ready.closed();
                self.chat.closed();
                self.files.closed();
                // Nothing more will come on it: stop polling it.
                if let Some(link) = &mut self.link
                    && channel.is_some_and(|c| Arc::ptr_eq(&c, &link.channel))
                {
                    link.channel_done = true;
                }
            }
            Some(_) => {}
        }
    }

    /// Carries out what the channel's opening handshake asks.
    async fn ready_action(&mut self, action: ReadyAction) {
        match action {
            ReadyAction::SendReady => {
                if let Some(link) = &self.link
                    && let Err(err) = link.channel.send_text(READY_FRAME).await
                {
                    // The channel is going away; its close event follows.
                    tracing::debug!(%err, "`ready` could not be sent");
                }
            }
            ReadyAction::Usable => {
                tracing::debug!("data channel usable");
                for frame in self.chat.opened() {
                    self.send_chat_frame(&frame).await;
                }
                self.files.opened(Instant::now());
            }
        }
    }

    /// A text frame that is not a chat line: a file transfer's control message (one of
    /// another type is ignored).
    fn file_message(&mut self, data: &[u8]) -> Result<(), ChatError> {
        let text = std::str::from_utf8(data).map_err(|_| ChatError::NotText)?;
        if let Some(message) = FileMessage::decode(text).map_err(ChatError::Malformed)? {
            self.files.on_message(message, Instant::now());
        }
        Ok(())
    }

    /// Carries out what the transfers ask, and sends file bytes while the channel has
    /// room (at most [`FILE_CHUNKS_PER_WAKE`] at a time, so media and signaling are not
    /// held up behind a large file).
    async fn pump_files(&mut self) {
        self.file_retry = None;
        for _ in 0..FILE_CHUNKS_PER_WAKE {
            while let Some(action) = self.files.poll_action() {
                self.file_action(action).await;
            }
            let Some(channel) = self.link.as_ref().map(|l| Arc::clone(&l.channel)) else {
                return;
            };
            let waiting = channel.outstanding_bytes().await.unwrap_or(usize::MAX);
            let Some((id, n)) = self.files.wants(waiting) else {
                if self.files.wants(0).is_some() {
                    // Full: the low-water event wakes us, and this in case it does not.
                    self.file_retry = Some(Instant::now() + FILE_RETRY);
                }
                return;
            };
            let sent = match self.file_io.read(&id, n).await {
                Ok(data) => match channel.send(bytes::BytesMut::from(&data[..])).await {
                    Ok(()) => {
                        self.files.chunk_sent(&id, &data, Instant::now());
                        Ok(())
                    }
                    Err(err) => Err(format!("the data channel refused it: {err}")),
                },
                Err(why) => Err(why),
            };
            if let Err(why) = sent {
                self.files.sending_failed(&id, why, Instant::now());
            }
        }
        while let Some(action) = self.files.poll_action() {
            self.file_action(action).await;
        }
        if self.files.wants(0).is_some() {
            self.file_retry = Some(Instant::now());
        }
    }

    /// Carries out one thing the transfers ask.
    async fn file_action(&mut self, action: FileAction) {
        match action {
            FileAction::Send(message) => self.send_chat_frame(&message.encode()).await,
            FileAction::Create { id, name } => {
                let result = match &self.options.files_dir {
                    Some(dir) => self.file_io.create(dir, &id, &name).await,
                    None => Err("no folder for files".into()),
                };
                self.files.created(&id, result);
            }
            FileAction::Write(data) => {
                if let Err((id, why)) = self.file_io.write(&data).await {
                    self.files.created(&id, Err(why));
                }
            }
            FileAction::Keep(id) => {
                let result = self.file_io.keep(&id).await;
                self.files.kept(id, result);
            }
            FileAction::Discard(id) => self.file_io.discard(Some(&id)).await,
            FileAction::Close(id) => self.file_io.close(&id),
            FileAction::Report(event) => (self.on_event)(CallEvent::File(event)),
        }
    }

    /// What a signaling event means to the machine.
    fn signaling_input(&mut self, event: Option<SignalingEvent>) -> Option<Input> {
        let Some(event) = event else {
            self.signaling = None;
            return Some(Input::SignalingLost);
        };
        Some(match event {
            SignalingEvent::Joined(joined) => {
                self.ice_servers = joined.ice_servers;
                self.machine
                    .handle_input(Instant::now(), Input::SignalingRoundTrip(joined.round_trip));
                Input::Joined(joined.peers.into_iter().map(|p| p.id).collect())
            }
            SignalingEvent::PeerJoined {
                id,
                replaces: Some(old),
                ..
            } => Input::PeerResumed { old, new: id },
            SignalingEvent::PeerJoined { id, .. } => Input::PeerJoined(id),
            SignalingEvent::PeerLeft { id } => Input::PeerLeft(id),
            SignalingEvent::Signal { from, signal } => {
                let kind = match &signal {
                    Signal::Offer(_) => "offer",
                    Signal::Answer(_) => "answer",
                    Signal::Candidate(_) => "candidate",
                };
                tracing::debug!(%from, kind, "signal received");
                Input::Signal(from, signal)
            }
            SignalingEvent::Disconnected { reason, retry_in } => {
                tracing::warn!(%reason, ?retry_in, "signaling connection lost; the call goes on");
                Input::SignalingDown
            }
            SignalingEvent::Refused { code, message } => {
                tracing::warn!(%code, %message, "the signaling server refused a message");
                return None;
            }
            SignalingEvent::Failed(err) => {
                // The client has stopped for good; its end follows as `None`.
                self.signaling = None;
                Input::Failed(err.into())
            }
        })
    }

    /// What a peer-connection event means to the machine; remote tracks go to the media.
    async fn peer_input(&mut self, event: Option<PeerEvent>) -> Option<Input> {
        match event {
            Some(PeerEvent::Candidate(candidate)) => Some(Input::LocalCandidate(candidate)),
            Some(PeerEvent::GatheringComplete) => Some(Input::GatheringComplete),
            Some(PeerEvent::RelayFailed(failure)) => Some(Input::RelayFailed(failure)),
            Some(PeerEvent::State(state)) => Some(Input::Connection(match state {
                RTCPeerConnectionState::Connected => Connection::Connected,
                RTCPeerConnectionState::Disconnected => Connection::Disconnected,
                RTCPeerConnectionState::Failed => Connection::Failed,
                _ => return None,
            })),
            Some(PeerEvent::Track(track)) => match &mut self.media {
                Some(media) => media
                    .receive(track)
                    .await
                    .err()
                    .map(|e| Input::Failed(e.into())),
                None => {
                    self.early_tracks.push(track);
                    None
                }
            },
            // The connection's driver is gone: it will not connect.
            None => {
                self.events = None;
                Some(Input::Connection(Connection::Failed))
            }
        }
    }

    /// Runs one action of the machine's.
    async fn act(&mut self, action: Action) -> Result<(), Failure> {
        match action {
            Action::SetState(state) => (self.on_event)(CallEvent::State(state)),
            Action::NewConnection => self.new_connection().await?,
            Action::Offer { to } => self.offer(to).await?,
            Action::Answer { to, offer } => {
                let pc = self.pc()?;
                let description =
                    rtc::peer_connection::sdp::RTCSessionDescription::offer(offer.clone())
                        .map_err(CallError::webrtc)?;
                pc.set_remote_description(description)
                    .await
                    .map_err(CallError::webrtc)?;
                if let Some(tracks) = self.tracks_mut() {
                    tracks.before_answer(&offer).await?;
                }
                let answer = pc.create_answer(None).await.map_err(CallError::webrtc)?;
                // What we send keeps the connection's DTLS role, once it has one (the
                // first answer sets it); the stack takes only the answer it made (its DTLS
                // transport runs on, whatever the text says).
                let sdp = match self.link.as_ref().and_then(|link| link.dtls_role) {
                    Some(passive) => crate::sdp::keep_dtls_role(&answer.sdp, passive),
                    None => answer.sdp.clone(),
                };
                if let Some(link) = &mut self.link {
                    link.dtls_role
                        .get_or_insert(crate::sdp::answers_passive(&sdp));
                }
                pc.set_local_description(answer)
                    .await
                    .map_err(CallError::webrtc)?;
                self.send(ClientMessage::Answer { sdp, to: Some(to) })?;
                self.negotiated().await?;
            }
            Action::ApplyAnswer(sdp) => {
                if let Some(link) = &mut self.link
                    && link.dtls_role.is_none()
                {
                    link.dtls_role = Some(crate::sdp::makes_us_passive(&sdp));
                }
                if let Some(tracks) = self.tracks_mut() {
                    tracks.before_applying_answer(&sdp).await?;
                }
                let answer = rtc::peer_connection::sdp::RTCSessionDescription::answer(sdp)
                    .map_err(CallError::webrtc)?;
                self.pc()?
                    .set_remote_description(answer)
                    .await
                    .map_err(CallError::webrtc)?;
                self.negotiated().await?;
            }
            Action::Renegotiate { to } => self.offer(Some(to)).await?,
            Action::RestartIce { to } => {
                tracing::info!("restarting ICE");
                self.pc()?.restart_ice().await.map_err(CallError::webrtc)?;
                self.offer(Some(to)).await?;
            }
            Action::Rollback => {
                let rollback = rtc::peer_connection::sdp::RTCSessionDescription::rollback(None)
                    .map_err(CallError::webrtc)?;
                self.pc()?
                    .set_local_description(rollback)
                    .await
                    .map_err(CallError::webrtc)?;
            }
            Action::AddRemoteCandidate(candidate) => {
                if let Err(err) = self.pc()?.add_ice_candidate(to_rtc(candidate)).await {
                    tracing::debug!(%err, "remote candidate not usable");
                }
            }
            Action::SendCandidate { candidate, to } => {
                self.send(ClientMessage::Candidate { candidate, to })?;
            }
            Action::StartMedia => self.start_media().await?,
            Action::StopMedia => self.stop_media().await,
            Action::CloseConnection => self.close_connection().await,
            Action::End(_) => {}
        }
        Ok(())
    }

    /// Creates an offer, sets it as the local description and sends it to `to`.
    async fn offer(&self, to: Option<PeerId>) -> Result<(), Failure> {
        let pc = self.pc()?;
        let offer = pc.create_offer(None).await.map_err(CallError::webrtc)?;
        let sdp = offer.sdp.clone();
        pc.set_local_description(offer)
            .await
            .map_err(CallError::webrtc)?;
        self.send(ClientMessage::Offer { sdp, to })
    }

    /// Our tracks on the current connection, until media starts with them.
    fn tracks_mut(&mut self) -> Option<&mut LocalTracks> {
        self.link.as_mut()?.tracks.as_mut()
    }

    fn pc(&self) -> Result<Arc<dyn PeerConnection>, Failure> {
        self.link
            .as_ref()
            .map(|link| Arc::clone(&link.pc))
            .ok_or_else(|| Failure::WebRtc("no peer connection".into()))
    }

    fn send(&self, message: ClientMessage) -> Result<(), Failure> {
        self.signaling
            .as_ref()
            .ok_or(Failure::SignalingLost)?
            .send(message)
            .map_err(Failure::from)
    }

    async fn new_connection(&mut self) -> Result<(), Failure> {
        self.stop_media().await;
        self.close_connection().await;
        let Peer {
            pc,
            events,
            feedback,
            relays,
            channel,
        } = build_peer(&PeerSetup {
            bind: self.options.bind.clone(),
            ice_servers: self.options.ice.servers(&self.ice_servers),
            relay_only: self.options.ice.relay_only,
            bitrate: self.options.bitrate,
            turn_ca: self.options.ice.turn_ca.clone(),
        })
        .await?;
        let tracks = match LocalTracks::add(&pc, &self.options).await {
            Ok(tracks) => tracks,
            Err(err) => {
                let _ = pc.close().await;
                return Err(err.into());
            }
        };
        self.events = Some(events);
        self.ready.closed();
        self.chat.closed();
        self.files.closed();
        // Wake file sending when the channel has drained to its low-water mark.
        let _ = channel
            .set_buffered_amount_low_threshold(crate::file::LOW_WATER as u32)
            .await;
        self.link = Some(Link {
            pc,
            feedback,
            tracks: Some(tracks),
            built: Instant::now(),
            relays,
            channel,
            channel_done: false,
            dtls_role: None,
        });
        Ok(())
    }

    async fn close_connection(&mut self) {
        self.early_tracks.clear();
        self.events = None;
        if let Some(link) = self.link.take() {
            let _ = link.pc.close().await;
        }
    }

    async fn start_media(&mut self) -> Result<(), Failure> {
        let link = self
            .link
            .as_mut()
            .ok_or_else(|| Failure::WebRtc("no peer connection".into()))?;
        let tracks = link
            .tracks
            .take()
            .ok_or_else(|| Failure::WebRtc("the call's tracks are already in use".into()))?;
        self.summary.connected = true;
        self.summary.calls += 1;
        self.summary.connect_ms = Some(link.built.elapsed().as_millis() as u64);
        self.summary.first_frame_ms = None;
        self.ticks = 0;
        self.next_tick = Some(Instant::now() + STATS_INTERVAL);
        // Held before anything starts, so that whatever fails below, teardown joins
        // what did start.
        let media = self.media.insert(MediaSession::new(
            &self.options,
            Arc::clone(&link.pc),
            Arc::clone(&link.feedback),
            tracks,
            link.relays.registry().clone(),
        ));
        media.start_senders().await?;
        for track in std::mem::take(&mut self.early_tracks) {
            media.receive(track).await?;
        }
        Ok(())
    }

    async fn stop_media(&mut self) {
        self.next_tick = None;
        let Some(media) = self.media.take() else {
            return;
        };
        if media.sharing() {
            (self.on_event)(CallEvent::Share(ShareEvent::Stopped));
        }
        if std::mem::take(&mut self.remote_sharing) {
            (self.on_event)(CallEvent::Share(ShareEvent::RemoteStopped));
        }
        if let (Some(first), Some(link)) = (media.first_frame(), &self.link) {
            self.summary.first_frame_ms =
                Some(first.saturating_duration_since(link.built).as_millis() as u64);
        }
        media.stop_and_join().await;
    }

    /// One statistics line, with the encoders adapted.
    async fn tick(&mut self) {
        let Some(media) = &mut self.media else {
            self.next_tick = None;
            return;
        };
        self.next_tick = self.next_tick.map(|t| t + STATS_INTERVAL);
        self.ticks += 1;
        let mut line = media.tick().await;
        line.t = self.ticks;
        line.state = self.machine.state().name().into();
        line.signaling = self.machine.signaling_up();
        self.summary.last = Some(line.clone());
        (self.on_event)(CallEvent::Stats(Box::new(line)));
    }

    /// Whatever ended the call: media stopped and joined, connection closed, room left.
    async fn teardown(&mut self) {
        self.files.closed();
        while let Some(action) = self.files.poll_action() {
            self.file_action(action).await;
        }
        self.stop_media().await;
        self.close_connection().await;
        if let Some(signaling) = self.signaling.take() {
            signaling.close().await;
        }
    }
}

/// A missing camera, microphone or speaker is said before joining, not after the other
/// peer has answered.
fn check_devices(options: &CallOptions) -> Result<(), CallError> {
    if matches!(options.video, VideoInput::Camera(_)) {
        drop(open_video(&options.video, options.format)?);
    }
    if matches!(options.audio, AudioInput::Microphone(_)) {
        drop(open_audio(&options.audio)?);
    }
    if matches!(options.speaker, AudioOutput::Speaker(_)) {
        drop(open_speaker(&options.speaker)?);
    }
    Ok(())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

async fn next_signaling(signaling: &mut Option<SignalingClient>) -> Option<SignalingEvent> {
    match signaling {
        Some(client) => client.next_event().await,
        None => std::future::pending().await,
    }
}

async fn next_command(
    commands: &mut Option<mpsc::UnboundedReceiver<CallCommand>>,
) -> Option<CallCommand> {
    match commands {
        Some(commands) => commands.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_channel_event(channel: Option<&Arc<dyn DataChannel>>) -> Option<DataChannelEvent> {
    match channel {
        Some(channel) => channel.poll().await,
        None => std::future::pending().await,
    }
}

/// Now, Unix milliseconds.
fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn next_peer_event(events: &mut Option<mpsc::Receiver<PeerEvent>>) -> Option<PeerEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}
