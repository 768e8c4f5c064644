//! The desktop app's state and rules, with no egui and no engine in them: what the user
//! picked, where the call is, which banner shows, the toggles, what the app does on its
//! own (join when ready, the `--self-call` peer, the `--duration` limit), and the
//! commands that follow. A plain type in the manner of the relay's rules: the engine's
//! [`Event`]s go in through [`Model::handle_event`] with `now`, the time limit through
//! [`Model::handle_timeout`], and [`Command`]s for the bridge come out of
//! [`Model::outbox`]. The view reads and edits a [`Model`]; the app only carries events
//! in and commands out.
//!
//! Invariants: a command that changes a device or a toggle is queued only while a call
//! runs (a call starts with the current choices, in its [`JoinRequest`]); the bridge is
//! told the effective state (muted, or audio picked off: silence), never asked to work
//! it out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use call::stats::StatsLine;
use call::{AudioInput, AudioOutput, CallState, Failure, ProcessingOptions, VideoInput};
use media::DeviceKind;
use media::apm::Processing;
use media::codec::VideoCodec;
use serde::{Deserialize, Serialize};
use signaling_proto::{AccessToken, PeerName, RoomId};

/// The video the user picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VideoPick {
    /// The moving test pattern.
    TestPattern,
    /// A camera, by index.
    Camera(u32),
    /// No video sent.
    Off,
}

/// The microphone the user picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AudioPick {
    /// The test tone.
    TestTone,
    /// A microphone, by id.
    Microphone(String),
    /// No audio sent.
    Off,
}

/// Where received audio plays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpeakerPick {
    /// A speaker, by id.
    Speaker(String),
    /// Nowhere.
    Off,
}

impl VideoPick {
    /// The engine's name for it.
    pub fn input(&self) -> VideoInput {
        match self {
            Self::TestPattern => VideoInput::Test,
            Self::Camera(i) => VideoInput::Camera(Some(*i)),
            Self::Off => VideoInput::None,
        }
    }
}

impl AudioPick {
    /// The engine's name for it.
    pub fn input(&self) -> AudioInput {
        match self {
            Self::TestTone => AudioInput::Test,
            Self::Microphone(id) => AudioInput::Microphone(Some(id.clone())),
            Self::Off => AudioInput::None,
        }
    }
}

impl SpeakerPick {
    /// The engine's name for it.
    pub fn output(&self) -> AudioOutput {
        match self {
            Self::Speaker(id) => AudioOutput::Speaker(Some(id.clone())),
            Self::Off => AudioOutput::Null,
        }
    }
}

/// What persists across runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Name shown to the other peer.
    pub name: String,
    /// Signaling server URL; empty for the embedded server.
    pub server: String,
    /// Video to send.
    pub video: VideoPick,
    /// Audio to send.
    pub audio: AudioPick,
    /// Where received audio plays.
    pub speaker: SpeakerPick,
    /// Playout volume, 0 to [`MAX_VOLUME`].
    pub volume: f32,
    /// Which microphone processing the user allows.
    pub processing: ProcessingPrefs,
    /// The video codec to put first in offers and answers.
    pub video_codec: CodecPick,
}

/// The video codec the user prefers: put first in what we offer and answer (the call
/// uses it when the other side has it; the answer decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CodecPick {
    /// No preference: H.264 first in our offers; our answers follow the offer.
    #[default]
    Automatic,
    /// H.264 first.
    H264,
    /// VP8 first.
    Vp8,
    /// VP9 first.
    Vp9,
}

impl CodecPick {
    /// Every choice, in the order the picker lists them.
    pub const ALL: [CodecPick; 4] = [
        CodecPick::Automatic,
        CodecPick::H264,
        CodecPick::Vp8,
        CodecPick::Vp9,
    ];

    /// The codec to put first, if any.
    pub fn codec(self) -> Option<VideoCodec> {
        match self {
            CodecPick::Automatic => None,
            CodecPick::H264 => Some(VideoCodec::H264),
            CodecPick::Vp8 => Some(VideoCodec::Vp8),
            CodecPick::Vp9 => Some(VideoCodec::Vp9),
        }
    }

    /// The choice for `codec` (`None`: automatic).
    pub fn of(codec: Option<VideoCodec>) -> Self {
        match codec {
            None => CodecPick::Automatic,
            Some(VideoCodec::H264) => CodecPick::H264,
            Some(VideoCodec::Vp8) => CodecPick::Vp8,
            Some(VideoCodec::Vp9) => CodecPick::Vp9,
        }
    }

    /// What the picker shows.
    pub fn label(self) -> &'static str {
        match self {
            CodecPick::Automatic => "Automatic",
            CodecPick::H264 => "H.264",
            CodecPick::Vp8 => "VP8",
            CodecPick::Vp9 => "VP9",
        }
    }
}

/// The microphone processing the user allows. An allowed stage runs where it helps: echo
/// cancellation with a microphone and a speaker, noise suppression and gain control with
/// a microphone (never on the test tone, whose timing marks must stay measurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessingPrefs {
    /// Echo cancellation allowed.
    pub echo_cancellation: bool,
    /// Noise suppression allowed.
    pub noise_suppression: bool,
    /// Automatic gain control allowed.
    pub gain_control: bool,
}

impl Default for ProcessingPrefs {
    fn default() -> Self {
        Self {
            echo_cancellation: true,
            noise_suppression: true,
            gain_control: true,
        }
    }
}

/// The loudest playout volume: twice the received level, for a quiet peer.
pub const MAX_VOLUME: f32 = 2.0;

impl Default for Settings {
    fn default() -> Self {
        Self {
            name: std::env::var("USER").unwrap_or_default(),
            server: String::new(),
            video: VideoPick::Camera(0),
            audio: AudioPick::Microphone("default".into()),
            speaker: SpeakerPick::Speaker("default".into()),
            volume: 1.0,
            processing: ProcessingPrefs::default(),
            video_codec: CodecPick::Automatic,
        }
    }
}

/// A device as the pickers list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Camera index or audio device id.
    pub id: String,
    /// What the user reads.
    pub name: String,
}

/// The devices present now.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Devices {
    /// Cameras (`id` is the index).
    pub cameras: Vec<Device>,
    /// Microphones.
    pub microphones: Vec<Device>,
    /// Speakers.
    pub speakers: Vec<Device>,
}

/// What the engine tells the UI (through the bridge).
#[derive(Debug)]
pub enum Event {
    /// The call moved to a state.
    State(CallState),
    /// A second's stats.
    Stats(Box<StatsLine>),
    /// The call is over (after its last state).
    Ended,
    /// A device could not be switched to; the call keeps the previous one.
    SwitchFailed {
        /// The device.
        device: DeviceKind,
        /// What went wrong.
        error: String,
    },
    /// The devices present (at start and when they change).
    Devices(Devices),
    /// The embedded signaling server runs at this WebSocket URL.
    Server(String),
    /// The embedded signaling server could not start.
    ServerFailed(String),
    /// Something about the chat.
    Chat(super::chat::ChatEvent),
    /// What can be shared (screens and windows), for the picker.
    Shareables(Result<Vec<media::screen::Shareable>, String>),
    /// A small picture of one of them, for the picker.
    Thumbnail(media::screen::ShareTarget, media::screen::Thumbnail),
    /// A screen share, ours or theirs, started or stopped.
    Share(call::ShareEvent),
}

/// Something for the engine bridge to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start a call.
    Join(JoinRequest),
    /// End it.
    HangUp,
    /// Open and send another video source (mid-call: the call goes on). Never
    /// [`VideoPick::Off`]: video picked off mid-call is [`Command::CameraOff`].
    Video(VideoPick),
    /// Open and send another audio source. Never [`AudioPick::Off`]: audio picked off
    /// mid-call is [`Command::Mute`].
    Audio(AudioPick),
    /// Play through another speaker.
    Speaker(SpeakerPick),
    /// Send silence (muted, or audio picked off) or the microphone again.
    Mute(bool),
    /// Send black pictures (camera off, or video picked off) or the camera again.
    CameraOff(bool),
    /// Playout volume.
    Volume(f32),
    /// Run these microphone processing stages from now on.
    Processing(Processing),
    /// `--self-call`: start a windowless peer with the test pattern and tone in `room`
    /// on `server`. It answers every call there until [`Command::StopSelfCallPeer`].
    StartSelfCallPeer {
        /// The embedded server's WebSocket URL.
        server: String,
        /// The room the app joins.
        room: RoomId,
    },
    /// Stop the `--self-call` peer.
    StopSelfCallPeer,
    /// Send a chat line in the running call.
    Chat(String),
    /// Send a file in the running call.
    SendFile(std::path::PathBuf),
    /// Stop a file transfer, ours or theirs.
    CancelFile(call::file::FileId),
    /// List the screens and windows that can be shared.
    ListShareables,
    /// Share this screen or window in the running call.
    StartShare(media::screen::ShareTarget),
    /// Stop sharing.
    StopShare,
}

/// Everything a call starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinRequest {
    /// Signaling server URL.
    pub server: String,
    /// Room.
    pub room: RoomId,
    /// Name.
    pub name: Option<PeerName>,
    /// The access token, for a server that needs one.
    pub token: Option<AccessToken>,
    /// Video to send.
    pub video: VideoPick,
    /// Audio to send.
    pub audio: AudioPick,
    /// Playout.
    pub speaker: SpeakerPick,
    /// Send silence from the start (muted, or no audio picked).
    pub muted: bool,
    /// Send black pictures from the start (camera off, or no video picked).
    pub camera_off: bool,
    /// Playout volume, 0 to [`MAX_VOLUME`].
    pub volume: f32,
    /// The microphone processing stages to run.
    pub processing: Processing,
    /// The video codec to put first (`None`: no preference).
    pub video_codec: Option<VideoCodec>,
}

/// Screen sharing as the window shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareState {
    /// What we share (its name), while we do: "you are sharing …" and "Stop sharing".
    pub sharing: Option<String>,
    /// Whether the other peer shares: its screen large, its camera small.
    pub remote_sharing: bool,
    /// Whether the picker is open.
    pub picker_open: bool,
    /// The screens and windows listed in the picker.
    pub choices: Vec<media::screen::Shareable>,
    /// Thumbnails of the choices, as they arrive, while the picker is open; each with
    /// a serial number that changes when a picture does (the view keys textures on it).
    pub thumbnails: HashMap<media::screen::ShareTarget, (u64, media::screen::Thumbnail)>,
    /// The serial number of the last thumbnail taken in.
    pub thumbnail_serial: u64,
}

impl ShareState {
    /// Takes in a thumbnail of `target`, if the picker is open and lists it.
    fn thumbnail(&mut self, target: media::screen::ShareTarget, picture: media::screen::Thumbnail) {
        if self.picker_open && self.choices.iter().any(|c| c.target == target) {
            self.thumbnail_serial += 1;
            self.thumbnails
                .insert(target, (self.thumbnail_serial, picture));
        }
    }

    /// Closes the picker; its thumbnails go with it.
    fn close_picker(&mut self) {
        self.picker_open = false;
        self.choices.clear();
        self.thumbnails.clear();
    }
}

/// Where the app is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Not in a call.
    Idle,
    /// In a call, in this state (joining ... reconnecting).
    InCall(CallState),
    /// A call ended or failed.
    Over(CallState),
}

impl Phase {
    /// The state as the user reads it (the window's status, the summary's `state`).
    pub fn words(&self) -> &'static str {
        match self {
            Self::Idle => "not in a call",
            Self::InCall(state) => match state {
                CallState::Joining => "joining…",
                CallState::Waiting => "waiting for the other peer",
                CallState::Connecting => "connecting…",
                CallState::Connected => "connected",
                CallState::Reconnecting => "reconnecting…",
                CallState::Ended(_) | CallState::Failed(_) => "ending…",
            },
            Self::Over(CallState::Failed(_)) => "failed",
            Self::Over(_) => "call ended",
        }
    }
}

/// What the app does on its own, from its flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Launch {
    /// Join as soon as a server is known and the devices are listed (`--room`,
    /// `--self-call`): a missing camera then falls back to the test pattern first.
    pub join_when_ready: bool,
    /// `--self-call`: start the windowless peer once the embedded server runs.
    pub self_call: bool,
    /// `--duration`: hang up and close this long after the call first connected.
    pub duration: Option<Duration>,
}

/// The `--self-call` peer, as far as the model knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SelfCallPeer {
    /// Not asked for.
    NotWanted,
    /// Asked for; waiting for the embedded server.
    Wanted,
    /// Started (and stopped at exit).
    Started,
}

/// A fix a banner offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Send the test pattern instead of the camera.
    UseTestPattern,
    /// Send the test tone instead of the microphone.
    UseTestTone,
}

/// A message across the top of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// What happened and what to do.
    pub text: String,
    /// An error (red) or a notice.
    pub error: bool,
    /// A one-click fix, if there is one.
    pub fix: Option<Fix>,
}

/// The whole UI state.
#[derive(Debug)]
pub struct Model {
    /// What persists.
    pub settings: Settings,
    /// The room to join (an unguessable one by default).
    pub room: String,
    /// The access token for a server that needs one (`--auth-secret` there): from
    /// `--token` or typed. Not saved: tokens are secrets that expire.
    pub token: String,
    /// Where the call is.
    pub phase: Phase,
    /// The latest stats line.
    pub stats: Option<StatsLine>,
    /// Devices present.
    pub devices: Devices,
    /// The message shown, if any.
    pub banner: Option<Banner>,
    /// Microphone muted.
    pub muted: bool,
    /// Camera off.
    pub camera_off: bool,
    /// Stats overlay shown.
    pub show_stats: bool,
    /// Remote video full-screen.
    pub fullscreen: bool,
    /// The embedded server's WebSocket URL, once it runs.
    pub embedded: Option<String>,
    /// Commands for the bridge, taken each frame.
    pub outbox: Vec<Command>,
    /// The chat panel.
    pub chat: super::chat::ChatState,
    /// Screen sharing: ours, theirs, and the picker.
    pub share: ShareState,
    /// Join once `devices_known` and a server is known.
    join_when_ready: bool,
    /// A device list has arrived (the fallbacks to the test sources are made).
    devices_known: bool,
    /// The `--self-call` peer: wanted, started, or neither.
    self_call: SelfCallPeer,
    /// The `--duration` limit.
    duration: Option<Duration>,
    /// When a call first connected (the `--duration` limit counts from here).
    connected_at: Option<Instant>,
    /// Whether the window is to close.
    close: Close,
}

/// Whether the window is to close (the `--duration` limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// Not yet.
    No,
    /// Now: the shell has not been told yet.
    Due,
    /// The shell has been told.
    Told,
}

/// Random bytes in a fresh room's name: 128 bits, which nobody guesses or picks by
/// chance (22 characters in the protocol's alphabet).
const ROOM_BYTES: usize = 16;

/// An unguessable room name: [`ROOM_BYTES`] random bytes in the protocol's alphabet.
pub fn new_room() -> String {
    use std::hash::BuildHasher as _;
    let mut bytes = [0u8; ROOM_BYTES];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness (unheard of on desktops): the standard library's randomly
        // keyed hasher still makes a room nobody picks by chance.
        let state = std::collections::hash_map::RandomState::new();
        let half = ROOM_BYTES / 2;
        bytes[..half].copy_from_slice(&state.hash_one(media::now_us()).to_le_bytes());
        bytes[half..].copy_from_slice(&state.hash_one(std::process::id()).to_le_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Model {
    /// A model with `settings`, idle, in a fresh room, that does what `launch` says.
    pub fn new(settings: Settings, launch: Launch) -> Self {
        Self {
            settings,
            room: new_room(),
            token: String::new(),
            phase: Phase::Idle,
            stats: None,
            devices: Devices::default(),
            banner: None,
            muted: false,
            camera_off: false,
            show_stats: true,
            fullscreen: false,
            embedded: None,
            outbox: Vec::new(),
            chat: super::chat::ChatState::default(),
            share: ShareState::default(),
            join_when_ready: launch.join_when_ready,
            devices_known: false,
            self_call: if launch.self_call {
                SelfCallPeer::Wanted
            } else {
                SelfCallPeer::NotWanted
            },
            duration: launch.duration,
            connected_at: None,
            close: Close::No,
        }
    }

    /// Whether a call is under way (Join disabled, Hang up enabled).
    pub fn in_call(&self) -> bool {
        matches!(self.phase, Phase::InCall(_))
    }

    /// The verification code of the call under way, once connected: the two people
    /// compare it to know that nobody is in between.
    pub fn verification(&self) -> Option<&str> {
        self.stats
            .as_ref()
            .filter(|_| self.in_call())
            .and_then(|s| s.verification.as_deref())
    }

    /// The signaling server a call would use: the setting, else the embedded one.
    pub fn server_url(&self) -> Option<String> {
        let typed = self.settings.server.trim();
        if typed.is_empty() {
            self.embedded.clone()
        } else {
            Some(typed.to_string())
        }
    }

    /// The browser link to this room on the server (http(s) for ws(s)), with the access
    /// token when there is one (whoever gets the link gets into the room).
    pub fn browser_link(&self) -> Option<String> {
        let url = self.server_url()?;
        let base = url
            .strip_prefix("ws://")
            .map(|rest| format!("http://{rest}"))
            .or_else(|| url.strip_prefix("wss://").map(|r| format!("https://{r}")))?;
        let base = base.strip_suffix("/ws").unwrap_or(&base);
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("room", self.room.trim());
        if !self.token.trim().is_empty() {
            query.append_pair("token", self.token.trim());
        }
        Some(format!("{base}/?{}", query.finish()))
    }

    /// Join pressed: queues the call, or says what is wrong with the form.
    pub fn join(&mut self) {
        if self.in_call() {
            return;
        }
        let room = match RoomId::new(self.room.trim()) {
            Ok(room) => room,
            Err(_) => {
                return self.error("A room name is 1–64 letters, digits, \"_\" or \"-\".", None);
            }
        };
        let name = self.settings.name.trim();
        let name = match PeerName::new(name) {
            Ok(n) if !name.is_empty() => Some(n),
            Ok(_) => None,
            Err(_) => return self.error("A name is at most 64 characters.", None),
        };
        let Some(server) = self.server_url() else {
            return self.error("The embedded signaling server is not running yet.", None);
        };
        if !(server.starts_with("ws://") || server.starts_with("wss://")) {
            return self.error(
                &format!("The server is a ws:// or wss:// URL, such as ws://example.org:8080/ws, not `{server}`."),
                None,
            );
        }
        // Errors are answered by joining again; notices (a device fell back) stay.
        if self.banner.as_ref().is_some_and(|b| b.error) {
            self.banner = None;
        }
        self.stats = None;
        self.phase = Phase::InCall(CallState::Joining);
        let token = Some(self.token.trim())
            .filter(|t| !t.is_empty())
            .map(AccessToken::new);
        self.outbox.push(Command::Join(JoinRequest {
            server,
            room,
            name,
            token,
            video: self.settings.video.clone(),
            audio: self.settings.audio.clone(),
            speaker: self.settings.speaker.clone(),
            muted: self.sends_silence(),
            camera_off: self.sends_black(),
            volume: self.settings.volume,
            processing: self.processing(),
            video_codec: self.settings.video_codec.codec(),
        }));
    }

    /// Hang up pressed.
    pub fn hang_up(&mut self) {
        if self.in_call() {
            self.outbox.push(Command::HangUp);
        }
    }

    /// The processing stages that run: those allowed, where the devices picked need them.
    pub fn processing(&self) -> Processing {
        let allowed = |on: bool| (!on).then_some(false);
        let prefs = self.settings.processing;
        ProcessingOptions {
            echo_cancellation: allowed(prefs.echo_cancellation),
            noise_suppression: allowed(prefs.noise_suppression),
            gain_control: allowed(prefs.gain_control),
        }
        .resolve(
            &self.settings.audio.input(),
            &self.settings.speaker.output(),
        )
    }

    /// The processing allowed changed (mid-call too: the stages change at once).
    pub fn set_processing(&mut self, prefs: ProcessingPrefs) {
        let before = self.processing();
        self.settings.processing = prefs;
        self.processing_changed(before);
    }

    /// Tells a running call the stages to run, when `before` is no longer right.
    fn processing_changed(&mut self, before: Processing) {
        let now = self.processing();
        if self.in_call() && now != before {
            self.outbox.push(Command::Processing(now));
        }
    }

    /// Whether the call sends silence: muted, or no audio picked.
    pub fn sends_silence(&self) -> bool {
        self.muted || self.settings.audio == AudioPick::Off
    }

    /// Whether the call sends black pictures: camera off, or no video picked.
    pub fn sends_black(&self) -> bool {
        self.camera_off || self.settings.video == VideoPick::Off
    }

    /// A video picked (mid-call too: another source opens, and the call goes on; "no
    /// video" mid-call keeps the video stream and sends black pictures).
    pub fn pick_video(&mut self, pick: VideoPick) {
        if pick == self.settings.video {
            return;
        }
        let was_black = self.sends_black();
        self.settings.video = pick.clone();
        if self.in_call() {
            if self.sends_black() != was_black {
                self.outbox.push(Command::CameraOff(self.sends_black()));
            }
            if pick != VideoPick::Off {
                self.outbox.push(Command::Video(pick));
            }
        }
    }

    /// A microphone picked (mid-call too; "no audio" mid-call sends silence).
    pub fn pick_audio(&mut self, pick: AudioPick) {
        if pick == self.settings.audio {
            return;
        }
        let was_silent = self.sends_silence();
        let processing = self.processing();
        self.settings.audio = pick.clone();
        if self.in_call() {
            if self.sends_silence() != was_silent {
                self.outbox.push(Command::Mute(self.sends_silence()));
            }
            if pick != AudioPick::Off {
                self.outbox.push(Command::Audio(pick));
            }
        }
        self.processing_changed(processing);
    }

    /// A speaker picked.
    pub fn pick_speaker(&mut self, pick: SpeakerPick) {
        if pick != self.settings.speaker {
            let processing = self.processing();
            self.settings.speaker = pick.clone();
            if self.in_call() {
                self.outbox.push(Command::Speaker(pick));
            }
            self.processing_changed(processing);
        }
    }

    /// A video codec picked: it applies from the next call on (a running call keeps
    /// what it negotiated).
    pub fn pick_video_codec(&mut self, pick: CodecPick) {
        self.settings.video_codec = pick;
    }

    /// Mute pressed (or `M`). Out of a call it is kept for the next one.
    pub fn toggle_mute(&mut self) {
        self.muted = !self.muted;
        if self.in_call() {
            self.outbox.push(Command::Mute(self.sends_silence()));
        }
    }

    /// Camera off pressed (or `V`). Out of a call it is kept for the next one.
    pub fn toggle_camera(&mut self) {
        self.camera_off = !self.camera_off;
        if self.in_call() {
            self.outbox.push(Command::CameraOff(self.sends_black()));
        }
    }

    /// Sends what is typed in the chat, when in a call and it is worth sending.
    pub fn send_chat(&mut self) {
        if !self.in_call() {
            self.chat.error = Some("join a call to chat".into());
            return;
        }
        if let Some(text) = self.chat.take_draft() {
            self.outbox.push(Command::Chat(text));
        }
    }

    /// Sends a file (the typed path, or `path` when one is given, e.g. dropped on the
    /// window), when in a call.
    pub fn send_file(&mut self, path: Option<std::path::PathBuf>) {
        let Some(path) = path.or_else(|| self.chat.take_file_path()) else {
            return;
        };
        if !self.in_call() {
            self.chat.error = Some("join a call to send a file".into());
            return;
        }
        self.chat.error = None;
        self.outbox.push(Command::SendFile(path));
    }

    /// Stops a file transfer.
    pub fn cancel_file(&mut self, id: call::file::FileId) {
        self.outbox.push(Command::CancelFile(id));
    }

    /// "Share screen" pressed: the picker opens and the screens and windows are listed.
    pub fn open_share_picker(&mut self) {
        if !self.in_call() || self.share.sharing.is_some() {
            return;
        }
        self.share.close_picker();
        self.share.picker_open = true;
        self.outbox.push(Command::ListShareables);
    }

    /// A screen or window picked: sharing starts.
    pub fn share(&mut self, target: media::screen::ShareTarget) {
        self.share.close_picker();
        if self.in_call() {
            self.outbox.push(Command::StartShare(target));
        }
    }

    /// The picker closed without a pick.
    pub fn close_share_picker(&mut self) {
        self.share.close_picker();
    }

    /// "Stop sharing" pressed.
    pub fn stop_sharing(&mut self) {
        if self.share.sharing.is_some() {
            self.outbox.push(Command::StopShare);
        }
    }

    fn on_share(&mut self, event: call::ShareEvent) {
        match event {
            call::ShareEvent::Started(name) => self.share.sharing = Some(name),
            call::ShareEvent::Stopped => self.share.sharing = None,
            call::ShareEvent::Failed(why) => {
                self.share.sharing = None;
                self.error(&format!("Screen sharing did not start: {why}"), None);
            }
            call::ShareEvent::RemoteStarted => self.share.remote_sharing = true,
            call::ShareEvent::RemoteStopped => self.share.remote_sharing = false,
            _ => {}
        }
    }

    /// Volume moved (kept between 0 and [`MAX_VOLUME`]).
    pub fn set_volume(&mut self, volume: f32) {
        self.settings.volume = volume.clamp(0.0, MAX_VOLUME);
        if self.in_call() {
            self.outbox.push(Command::Volume(self.settings.volume));
        }
    }

    /// A banner's fix clicked.
    pub fn apply_fix(&mut self, fix: Fix) {
        self.banner = None;
        match fix {
            Fix::UseTestPattern => self.pick_video(VideoPick::TestPattern),
            Fix::UseTestTone => self.pick_audio(AudioPick::TestTone),
        }
    }

    fn error(&mut self, text: &str, fix: Option<Fix>) {
        self.banner = Some(Banner {
            text: text.to_string(),
            error: true,
            fix,
        });
    }

    fn notice(&mut self, text: &str) {
        self.banner = Some(Banner {
            text: text.to_string(),
            error: false,
            fix: None,
        });
    }

    /// What the engine said, at `now`. Then, if the app was started to join by itself
    /// and everything a call needs is known, it joins.
    pub fn handle_event(&mut self, now: Instant, event: Event) {
        match event {
            Event::State(state) => self.on_state(now, state),
            Event::Stats(line) => self.stats = Some(*line),
            Event::Ended => {
                self.share = ShareState::default();
                if self.in_call() {
                    self.phase = Phase::Idle;
                }
            }
            Event::SwitchFailed { device, error } => self.on_switch_failed(device, &error),
            Event::Devices(devices) => {
                self.devices_known = true;
                self.on_devices(devices);
            }
            Event::Server(url) => {
                self.embedded = Some(url.clone());
                self.start_self_call_peer(url);
            }
            Event::ServerFailed(why) => {
                tracing::warn!(%why, "no embedded server");
                self.error(&why, None);
            }
            Event::Chat(event) => self.chat.handle(event),
            Event::Shareables(list) => match list {
                Ok(list) if self.share.picker_open => self.share.choices = list,
                Ok(_) => {}
                Err(why) => {
                    self.share.close_picker();
                    self.error(&format!("Nothing to share: {why}"), None);
                }
            },
            Event::Thumbnail(target, picture) => self.share.thumbnail(target, picture),
            Event::Share(event) => self.on_share(event),
        }
        if self.join_when_ready && self.devices_known && self.server_url().is_some() {
            self.join_when_ready = false;
            self.join();
        }
    }

    /// When [`Model::handle_timeout`] has something to do next: the `--duration`
    /// limit, once connected.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.close != Close::No {
            return None;
        }
        Some(self.connected_at? + self.duration?)
    }

    /// The time is `now`: once the `--duration` limit has passed, the call hangs up and
    /// the window closes (see [`Model::take_close`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|at| now >= at) {
            self.hang_up();
            self.close = Close::Due;
        }
    }

    /// Whether the window should close now (true once): the shell then prints the
    /// [`Model::summary`] and closes it.
    pub fn take_close(&mut self) -> bool {
        let due = self.close == Close::Due;
        if due {
            self.close = Close::Told;
        }
        due
    }

    /// The window is closing: the call hangs up and the `--self-call` peer stops.
    pub fn exit(&mut self) {
        self.hang_up();
        if self.self_call == SelfCallPeer::Started {
            self.self_call = SelfCallPeer::NotWanted;
            self.outbox.push(Command::StopSelfCallPeer);
        }
    }

    /// Whether a call has connected since the app started.
    pub fn ever_connected(&self) -> bool {
        self.connected_at.is_some()
    }

    /// The summary line's figures: the model's own, with the picture path's `ui`.
    pub fn summary(&self, ui: UiFigures) -> Summary<'_> {
        Summary {
            banner: self.banner.as_ref().map(|b| b.text.as_str()),
            devices: &self.devices,
            ok: self.ever_connected() && ui.remote_shown > 0,
            settings: &self.settings,
            state: self.phase.words(),
            stats: self.stats.as_ref(),
            ui,
        }
    }

    /// `--self-call`: the windowless peer goes into this room on the embedded server.
    fn start_self_call_peer(&mut self, server: String) {
        if self.self_call != SelfCallPeer::Wanted {
            return;
        }
        let Ok(room) = RoomId::new(self.room.trim()) else {
            return;
        };
        self.self_call = SelfCallPeer::Started;
        self.outbox
            .push(Command::StartSelfCallPeer { server, room });
    }

    /// The engine says the call moved to `state`.
    fn on_state(&mut self, now: Instant, state: CallState) {
        tracing::info!(?state, "call state");
        if state == CallState::Connected && self.connected_at.is_none() {
            self.connected_at = Some(now);
        }
        match &state {
            CallState::Failed(failure) => {
                let (text, fix) = explain_failure(failure);
                self.error(&text, fix);
                self.phase = Phase::Over(state);
            }
            CallState::Ended(reason) => {
                self.notice(&format!("Call ended: {reason}."));
                self.phase = Phase::Over(state);
            }
            _ => self.phase = Phase::InCall(state),
        }
    }

    /// A device could not be switched to mid-call (the call keeps the old one).
    fn on_switch_failed(&mut self, device: DeviceKind, error: &str) {
        let fix = match device {
            DeviceKind::Camera => Some(Fix::UseTestPattern),
            DeviceKind::Microphone => Some(Fix::UseTestTone),
            DeviceKind::Speaker => None,
        };
        self.error(
            &format!(
                "Could not switch the {device}: {error}. The call goes on with the previous device."
            ),
            fix,
        );
    }

    /// The device lists changed (at start, and on hot-plug). A picked device that is
    /// not there falls back to the test source (or no playout), with a notice.
    fn on_devices(&mut self, devices: Devices) {
        let mut fell_back = Vec::new();
        if let VideoPick::Camera(index) = self.settings.video {
            if !devices.cameras.iter().any(|c| c.id == index.to_string()) {
                self.pick_video(VideoPick::TestPattern);
                fell_back.push("no camera found: sending the test pattern");
            }
        }
        if let AudioPick::Microphone(id) = &self.settings.audio {
            if !devices.microphones.iter().any(|m| &m.id == id) {
                self.pick_audio(AudioPick::TestTone);
                fell_back.push("no microphone found: sending the test tone");
            }
        }
        if let SpeakerPick::Speaker(id) = &self.settings.speaker {
            if !devices.speakers.iter().any(|s| &s.id == id) {
                self.pick_speaker(SpeakerPick::Off);
                fell_back.push("no speaker found: received audio is not played");
            }
        }
        self.devices = devices;
        if !fell_back.is_empty() {
            let text = fell_back.join("; ");
            let mut chars = text.chars();
            let capital: String = chars
                .next()
                .into_iter()
                .flat_map(char::to_uppercase)
                .chain(chars)
                .collect();
            self.notice(&format!("{capital}."));
        }
    }
}

/// The line the app prints when `--duration` closes it. Its fields serialize in this
/// order (alphabetical), as a JSON map does.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// The banner's text, if one shows.
    pub banner: Option<&'a str>,
    /// The devices present.
    pub devices: &'a Devices,
    /// A call connected and at least one remote picture was shown.
    pub ok: bool,
    /// The choices (saved).
    pub settings: &'a Settings,
    /// The state as the window shows it.
    pub state: &'static str,
    /// The latest stats line.
    pub stats: Option<&'a StatsLine>,
    /// The picture path's figures.
    pub ui: UiFigures,
}

/// What the UI's picture path did, as the shell counts it (for the [`Summary`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UiFigures {
    /// Local preview pictures shown.
    pub preview_shown: u64,
    /// Remote pictures dropped before the UI took them.
    pub remote_dropped: u64,
    /// Which remote pictures were dropped (1 = the first).
    pub remote_dropped_at: Vec<u64>,
    /// Remote pictures decoded and queued for the UI.
    pub remote_received: u64,
    /// Remote pictures shown.
    pub remote_shown: u64,
    /// How long turning a remote picture into a texture took.
    pub upload_ms: UploadMs,
}

/// A distribution of upload times, in milliseconds (`None` with no upload).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct UploadMs {
    /// The longest.
    pub max: Option<f64>,
    /// The median.
    pub p50: Option<f64>,
    /// The 95th percentile.
    pub p95: Option<f64>,
    /// The 99th percentile.
    pub p99: Option<f64>,
}

impl UploadMs {
    /// The distribution of `times` (nearest rank).
    pub fn of(times: &[Duration]) -> Self {
        let ms =
            media::percentile::sorted(times.iter().map(|d| d.as_secs_f64() * 1000.0).collect());
        let rank = |q: f64| media::percentile::percentile(&ms, q);
        Self {
            max: ms.last().copied(),
            p50: rank(0.5),
            p95: rank(0.95),
            p99: rank(0.99),
        }
    }
}

/// A failure from the engine as a banner: what happened, what to do, a fix.
fn explain_failure(failure: &Failure) -> (String, Option<Fix>) {
    let fix = match failure {
        Failure::Device {
            kind: Some(DeviceKind::Camera),
            ..
        } => Some(Fix::UseTestPattern),
        Failure::Device {
            kind: Some(DeviceKind::Microphone),
            ..
        } => Some(Fix::UseTestTone),
        _ => None,
    };
    let text = match failure.advice() {
        Some(advice) => format!("The call failed: {failure}. {advice}"),
        None => format!("The call failed: {failure}."),
    };
    (text, fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "ws://127.0.0.1:4000/ws";

    #[test]
    fn sharing_opens_a_picker_shares_the_pick_and_shows_until_stopped() {
        let mut m = model();
        m.open_share_picker();
        assert!(!m.share.picker_open, "not in a call: nothing to share into");
        m.join();
        m.handle_event(Instant::now(), Event::State(CallState::Connected));
        m.outbox.clear();
        m.open_share_picker();
        assert!(m.share.picker_open);
        assert_eq!(m.outbox, [Command::ListShareables]);
        let screen = media::screen::ShareTarget::Screen(Some(0));
        m.handle_event(
            Instant::now(),
            Event::Shareables(Ok(vec![media::screen::Shareable {
                target: screen,
                name: "Screen 1".into(),
            }])),
        );
        assert_eq!(m.share.choices.len(), 1);
        m.share(screen);
        assert!(!m.share.picker_open);
        assert_eq!(m.outbox.last(), Some(&Command::StartShare(screen)));
        m.handle_event(
            Instant::now(),
            Event::Share(call::ShareEvent::Started("Screen 1".into())),
        );
        assert_eq!(m.share.sharing.as_deref(), Some("Screen 1"));
        m.stop_sharing();
        assert_eq!(m.outbox.last(), Some(&Command::StopShare));
        m.handle_event(Instant::now(), Event::Share(call::ShareEvent::Stopped));
        assert_eq!(m.share.sharing, None);
        m.handle_event(
            Instant::now(),
            Event::Share(call::ShareEvent::RemoteStarted),
        );
        assert!(m.share.remote_sharing);
        m.handle_event(Instant::now(), Event::Ended);
        assert!(!m.share.remote_sharing);
    }

    #[test]
    fn the_picker_keeps_a_thumbnail_per_listed_choice_only_while_it_is_open() {
        use media::screen::{ShareTarget, Shareable, Thumbnail};
        let picture = |v: u8| Thumbnail {
            width: 1,
            height: 1,
            rgba: vec![v, v, v, 255],
        };
        let (screen, window) = (ShareTarget::Screen(Some(0)), ShareTarget::Window(7));
        let mut m = model();
        m.join();
        m.handle_event(Instant::now(), Event::State(CallState::Connected));
        m.open_share_picker();
        // A thumbnail before the list names its source is not kept.
        m.handle_event(Instant::now(), Event::Thumbnail(screen, picture(1)));
        assert!(m.share.thumbnails.is_empty());
        m.handle_event(
            Instant::now(),
            Event::Shareables(Ok(vec![
                Shareable {
                    target: screen,
                    name: "Screen 1".into(),
                },
                Shareable {
                    target: window,
                    name: "notes".into(),
                },
            ])),
        );
        m.handle_event(Instant::now(), Event::Thumbnail(screen, picture(2)));
        m.handle_event(Instant::now(), Event::Thumbnail(window, picture(3)));
        m.handle_event(
            Instant::now(),
            Event::Thumbnail(ShareTarget::Window(99), picture(4)),
        );
        assert_eq!(m.share.thumbnails.len(), 2);
        assert_eq!(m.share.thumbnails[&window].1, picture(3));
        // A new picture of the same source replaces it under a new serial number.
        let before = m.share.thumbnails[&screen].0;
        m.handle_event(Instant::now(), Event::Thumbnail(screen, picture(5)));
        assert!(m.share.thumbnails[&screen].0 > before);
        assert_eq!(m.share.thumbnails[&screen].1, picture(5));
        // Closed: the thumbnails go, and late ones are not taken in.
        m.close_share_picker();
        assert!(m.share.thumbnails.is_empty() && m.share.choices.is_empty());
        m.handle_event(Instant::now(), Event::Thumbnail(screen, picture(6)));
        assert!(m.share.thumbnails.is_empty());
        // Opened again: a fresh list, nothing from before.
        m.open_share_picker();
        assert!(m.share.picker_open && m.share.thumbnails.is_empty());
        m.share(window);
        assert!(!m.share.picker_open && m.share.thumbnails.is_empty());
    }

    fn model() -> Model {
        let mut m = Model::new(Settings::default(), Launch::default());
        m.embedded = Some(SERVER.into());
        m
    }

    /// The engine says `state` (the time does not matter).
    fn state(m: &mut Model, state: CallState) {
        m.handle_event(Instant::now(), Event::State(state));
    }

    /// A camera and a microphone present, and a speaker.
    fn all_devices() -> Devices {
        let device = |id: &str| Device {
            id: id.into(),
            name: id.into(),
        };
        Devices {
            cameras: vec![device("0")],
            microphones: vec![device("default")],
            speakers: vec![device("default")],
        }
    }

    fn join_request(m: &Model) -> JoinRequest {
        m.outbox
            .iter()
            .find_map(|c| match c {
                Command::Join(j) => Some(j.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no join in {:?}", m.outbox))
    }

    #[test]
    fn the_video_codec_setting_reaches_the_join_and_old_settings_read_as_automatic() {
        let mut m = Model::new(Settings::default(), Launch::default());
        m.embedded = Some("ws://127.0.0.1:4000/ws".into());
        m.room = "team".into();
        m.join();
        assert_eq!(join_request(&m).video_codec, None);
        let mut m = Model::new(Settings::default(), Launch::default());
        m.embedded = Some("ws://127.0.0.1:4000/ws".into());
        m.room = "team".into();
        m.pick_video_codec(CodecPick::Vp9);
        m.join();
        assert_eq!(join_request(&m).video_codec, Some(VideoCodec::Vp9));
        // Settings saved before the setting existed still load.
        let old: Settings = serde_json::from_str(r#"{"name":"ann"}"#).unwrap();
        assert_eq!(old.video_codec, CodecPick::Automatic);
        for pick in CodecPick::ALL {
            assert_eq!(CodecPick::of(pick.codec()), pick);
        }
    }

    #[test]
    fn processing_runs_for_a_microphone_and_speaker_and_follows_the_toggles_mid_call() {
        let mut m = model();
        // The defaults: a microphone and a speaker, every stage allowed.
        m.join();
        assert_eq!(join_request(&m).processing, Processing::ALL);
        m.outbox.clear();
        // Echo cancellation turned off mid-call: the call is told at once.
        m.set_processing(ProcessingPrefs {
            echo_cancellation: false,
            ..ProcessingPrefs::default()
        });
        let without_aec = Processing {
            echo_cancellation: false,
            ..Processing::ALL
        };
        assert_eq!(m.outbox, [Command::Processing(without_aec)]);
        m.outbox.clear();
        // The test tone picked: nothing runs on it.
        m.pick_audio(AudioPick::TestTone);
        assert_eq!(
            m.outbox.last(),
            Some(&Command::Processing(Processing::default()))
        );
        m.outbox.clear();
        // Allowing it again changes nothing that runs on the tone: no command.
        m.set_processing(ProcessingPrefs::default());
        assert!(m.outbox.is_empty(), "{:?}", m.outbox);
        // The microphone again, and no speaker: all but echo cancellation.
        m.pick_audio(AudioPick::Microphone("default".into()));
        m.outbox.clear();
        m.pick_speaker(SpeakerPick::Off);
        assert_eq!(m.outbox.last(), Some(&Command::Processing(without_aec)));
    }

    #[test]
    fn processing_toggled_outside_a_call_is_kept_for_the_next() {
        let mut m = model();
        m.set_processing(ProcessingPrefs {
            noise_suppression: false,
            ..ProcessingPrefs::default()
        });
        assert!(m.outbox.is_empty());
        m.join();
        assert!(!join_request(&m).processing.noise_suppression);
        assert!(join_request(&m).processing.echo_cancellation);
    }

    #[test]
    fn the_verification_code_shows_during_a_call_only() {
        let mut m = model();
        let now = Instant::now();
        m.join();
        assert_eq!(m.verification(), None);
        let line = StatsLine {
            verification: Some("791 067".into()),
            ..StatsLine::default()
        };
        m.handle_event(now, Event::Stats(Box::new(line.clone())));
        assert_eq!(m.verification(), Some("791 067"));
        m.handle_event(now, Event::Ended);
        assert_eq!(m.verification(), None);
        m.join();
        assert_eq!(m.verification(), None, "not the last call's");
    }

    #[test]
    fn rooms_are_unguessable_and_valid() {
        let (a, b) = (new_room(), new_room());
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert!(RoomId::new(a).is_ok());
    }

    #[test]
    fn join_uses_the_embedded_server_unless_one_is_typed_and_links_the_browser() {
        let mut m = model();
        m.room = "team".into();
        assert_eq!(
            m.browser_link().as_deref(),
            Some("http://127.0.0.1:4000/?room=team")
        );
        m.join();
        let Some(Command::Join(join)) = m.outbox.pop() else {
            panic!("{:?}", m.outbox)
        };
        assert_eq!(join.server, "ws://127.0.0.1:4000/ws");
        assert!(m.in_call());
        m.join(); // a second press does nothing
        assert!(m.outbox.is_empty());

        let mut m = model();
        m.settings.server = "wss://calls.example.org/ws".into();
        assert_eq!(
            m.browser_link().unwrap(),
            format!("https://calls.example.org/?room={}", m.room)
        );
        m.settings.server = "calls.example.org".into();
        m.join();
        assert!(m.outbox.is_empty());
        assert!(m.banner.as_ref().unwrap().text.contains("ws://"));
        assert!(!m.in_call());
    }

    #[test]
    fn a_token_goes_with_the_join_and_the_browser_link_and_a_refused_one_says_so() {
        let mut m = model();
        m.room = "team".into();
        m.join();
        assert_eq!(join_request(&m).token, None, "no token typed: none sent");
        state(&mut m, CallState::Ended(call::EndReason::HungUp));
        m.handle_event(Instant::now(), Event::Ended);
        m.outbox.clear();
        m.token = " eyJh.eyJy.c2ln ".into();
        assert_eq!(
            m.browser_link().as_deref(),
            Some("http://127.0.0.1:4000/?room=team&token=eyJh.eyJy.c2ln")
        );
        m.join();
        assert_eq!(
            join_request(&m).token,
            Some(AccessToken::new("eyJh.eyJy.c2ln"))
        );
        state(
            &mut m,
            CallState::Failed(Failure::Unauthorized {
                room: RoomId::new("team").unwrap(),
                message: "the access token expired 9 s ago".into(),
            }),
        );
        let banner = m.banner.as_ref().unwrap();
        assert!(banner.error);
        assert!(banner.text.contains("expired"), "{}", banner.text);
        assert!(
            banner.text.contains("access token for this room"),
            "{}",
            banner.text
        );
        // Tokens are not settings: nothing of it is saved.
        assert!(!serde_json::to_string(&m.settings).unwrap().contains("eyJ"));
    }

    #[test]
    fn a_bad_room_is_refused_before_joining() {
        let mut m = model();
        m.room = "no spaces".into();
        m.join();
        assert!(m.outbox.is_empty());
        assert!(m.banner.unwrap().text.contains("room name"));
    }

    #[test]
    fn failures_become_banners_with_what_to_do() {
        let mut m = model();
        m.join();
        state(
            &mut m,
            CallState::Failed(Failure::RoomFull {
                room: RoomId::new("r").unwrap(),
            }),
        );
        assert!(!m.in_call());
        assert!(m.banner.as_ref().unwrap().text.contains("another room"));
        state(&mut m, CallState::Failed(Failure::NoRelayCandidate));
        assert!(m.banner.as_ref().unwrap().text.contains("TURN"));
        // A microphone's failure offers the test tone, whatever its message says.
        state(
            &mut m,
            CallState::Failed(Failure::Device {
                kind: Some(DeviceKind::Microphone),
                detail: "cannot open the camera-shaped microphone".into(),
            }),
        );
        assert_eq!(m.banner.clone().unwrap().fix, Some(Fix::UseTestTone));
        state(
            &mut m,
            CallState::Failed(Failure::Device {
                kind: Some(DeviceKind::Camera),
                detail: "no camera named \"7\"".into(),
            }),
        );
        let banner = m.banner.clone().unwrap();
        assert_eq!(banner.fix, Some(Fix::UseTestPattern));
        m.apply_fix(Fix::UseTestPattern);
        assert_eq!(m.settings.video, VideoPick::TestPattern);
        assert!(m.banner.is_none());
    }

    #[test]
    fn missing_devices_fall_back_to_the_test_sources_with_a_notice() {
        let mut m = model();
        m.handle_event(Instant::now(), Event::Devices(Devices::default()));
        assert_eq!(m.settings.video, VideoPick::TestPattern);
        assert_eq!(m.settings.audio, AudioPick::TestTone);
        assert_eq!(m.settings.speaker, SpeakerPick::Off);
        let banner = m.banner.unwrap();
        assert!(!banner.error);
        assert!(
            banner
                .text
                .starts_with("No camera found: sending the test pattern")
        );
        assert!(m.outbox.is_empty(), "not in a call: nothing to switch");
    }

    #[test]
    fn picks_mid_call_switch_devices_and_toggles_reach_the_engine() {
        let mut m = model();
        m.join();
        m.outbox.clear();
        state(&mut m, CallState::Connected);
        m.pick_video(VideoPick::TestPattern);
        m.pick_video(VideoPick::TestPattern); // unchanged: nothing
        m.toggle_mute();
        m.toggle_camera();
        m.set_volume(3.0);
        m.hang_up();
        assert_eq!(
            m.outbox,
            vec![
                Command::Video(VideoPick::TestPattern),
                Command::Mute(true),
                Command::CameraOff(true),
                Command::Volume(2.0),
                Command::HangUp,
            ]
        );
    }

    #[test]
    fn toggles_out_of_a_call_wait_for_the_next_one_and_it_starts_with_them() {
        let mut m = model();
        m.toggle_mute();
        m.toggle_camera();
        m.set_volume(0.5);
        assert!(m.outbox.is_empty(), "no call: nothing to tell the engine");
        m.join();
        let join = join_request(&m);
        assert!(join.muted && join.camera_off);
        assert_eq!(join.volume, 0.5);

        // "No audio" and "no video" start a call silent and black, whatever the toggles.
        let mut m = model();
        m.pick_audio(AudioPick::Off);
        m.pick_video(VideoPick::Off);
        m.join();
        let join = join_request(&m);
        assert!(join.muted && join.camera_off);
        assert!(!m.muted && !m.camera_off);
    }

    #[test]
    fn picking_no_video_or_audio_mid_call_sends_black_and_silence_and_back() {
        let mut m = model();
        m.on_devices(all_devices());
        m.join();
        state(&mut m, CallState::Connected);
        m.outbox.clear();
        m.pick_video(VideoPick::Off);
        m.pick_audio(AudioPick::Off);
        assert_eq!(
            m.outbox,
            [
                Command::CameraOff(true),
                Command::Mute(true),
                // No microphone: nothing to process.
                Command::Processing(Processing::default())
            ]
        );
        m.outbox.clear();
        // The camera toggle while no video is picked: still black.
        m.toggle_camera();
        assert_eq!(m.outbox, [Command::CameraOff(true)]);
        m.outbox.clear();
        // A camera again: still black (the camera is off), the camera opens.
        m.pick_video(VideoPick::Camera(0));
        assert_eq!(m.outbox, [Command::Video(VideoPick::Camera(0))]);
        m.outbox.clear();
        m.toggle_camera();
        assert_eq!(m.outbox, [Command::CameraOff(false)]);
        m.outbox.clear();
        // The microphone again: unmuted, opened, processed.
        m.pick_audio(AudioPick::Microphone("default".into()));
        assert_eq!(
            m.outbox,
            [
                Command::Mute(false),
                Command::Audio(AudioPick::Microphone("default".into())),
                Command::Processing(Processing::ALL)
            ]
        );
    }

    #[test]
    fn the_volume_stays_between_silence_and_twice_the_level() {
        let mut m = model();
        m.join();
        m.outbox.clear();
        m.set_volume(-1.0);
        m.set_volume(MAX_VOLUME + 1.0);
        assert_eq!(
            m.outbox,
            [Command::Volume(0.0), Command::Volume(MAX_VOLUME)]
        );
    }

    #[test]
    fn join_when_ready_waits_for_the_devices_and_a_server_then_joins_once() {
        let launch = Launch {
            join_when_ready: true,
            ..Launch::default()
        };
        let now = Instant::now();
        // The server first: no join until the devices are known, since a missing
        // camera falls back to the test pattern first.
        let mut m = Model::new(Settings::default(), launch.clone());
        m.handle_event(now, Event::Server(SERVER.into()));
        assert!(m.outbox.is_empty());
        m.handle_event(now, Event::Devices(Devices::default()));
        let join = join_request(&m);
        assert_eq!(join.server, SERVER);
        assert_eq!(join.video, VideoPick::TestPattern);
        assert_eq!(join.audio, AudioPick::TestTone);
        // Once: after the call, the next events do not join again.
        m.outbox.clear();
        state(&mut m, CallState::Ended(call::EndReason::HungUp));
        m.handle_event(now, Event::Ended);
        m.handle_event(now, Event::Devices(all_devices()));
        assert!(m.outbox.iter().all(|c| !matches!(c, Command::Join(_))));

        // The devices first, with a typed server: joins at once.
        let settings = Settings {
            server: "ws://example.org/ws".into(),
            ..Settings::default()
        };
        let mut m = Model::new(settings, launch);
        m.handle_event(now, Event::Devices(all_devices()));
        assert_eq!(join_request(&m).server, "ws://example.org/ws");
        assert!(m.in_call());

        // Not asked to: never joins by itself.
        let mut m = Model::new(Settings::default(), Launch::default());
        m.handle_event(now, Event::Server(SERVER.into()));
        m.handle_event(now, Event::Devices(all_devices()));
        assert!(m.outbox.is_empty());
        assert!(!m.in_call());
    }

    #[test]
    fn the_self_call_peer_starts_in_the_room_once_the_server_runs_and_stops_at_exit() {
        let launch = Launch {
            join_when_ready: true,
            self_call: true,
            duration: None,
        };
        let now = Instant::now();
        let mut m = Model::new(Settings::default(), launch);
        m.handle_event(now, Event::Devices(all_devices()));
        assert!(m.outbox.is_empty(), "no server yet");
        m.handle_event(now, Event::Server(SERVER.into()));
        let room = RoomId::new(m.room.as_str()).unwrap();
        assert_eq!(
            m.outbox[0],
            Command::StartSelfCallPeer {
                server: SERVER.into(),
                room: room.clone(),
            }
        );
        assert_eq!(join_request(&m).room, room);
        assert_eq!(m.outbox.len(), 2);
        m.outbox.clear();
        // One peer: another server event does not start a second.
        m.handle_event(now, Event::Server(SERVER.into()));
        assert!(m.outbox.is_empty());
        m.exit();
        assert_eq!(m.outbox, [Command::HangUp, Command::StopSelfCallPeer]);

        // Without --self-call, exit only hangs up (and only in a call).
        let mut m = model();
        m.exit();
        assert!(m.outbox.is_empty());
    }

    #[test]
    fn the_end_of_a_call_leaves_it_and_a_failure_keeps_its_banner() {
        let mut m = model();
        m.join();
        state(&mut m, CallState::Connected);
        m.handle_event(Instant::now(), Event::Ended);
        assert_eq!(m.phase, Phase::Idle);
        assert_eq!(m.phase.words(), "not in a call");

        // Ended or failed first: the phase says how it ended, and stays.
        m.join();
        state(&mut m, CallState::Ended(call::EndReason::PeerLeft));
        assert!(!m.in_call());
        assert_eq!(m.phase.words(), "call ended");
        assert!(!m.banner.as_ref().unwrap().error);
        m.handle_event(Instant::now(), Event::Ended);
        assert_eq!(m.phase.words(), "call ended");

        m.join();
        state(&mut m, CallState::Failed(Failure::NoRelayCandidate));
        m.handle_event(Instant::now(), Event::Ended);
        assert_eq!(m.phase.words(), "failed");
        assert!(m.banner.as_ref().unwrap().error);
        // Hanging up after the end has nothing to do.
        m.outbox.clear();
        m.hang_up();
        assert!(m.outbox.is_empty());
    }

    #[test]
    fn the_duration_counts_from_the_first_connection_then_hangs_up_and_closes_once() {
        let limit = Duration::from_secs(5);
        let mut m = Model::new(
            Settings::default(),
            Launch {
                duration: Some(limit),
                ..Launch::default()
            },
        );
        m.embedded = Some(SERVER.into());
        let t0 = Instant::now();
        m.join();
        m.outbox.clear();
        m.handle_event(t0, Event::State(CallState::Connecting));
        assert_eq!(m.poll_timeout(), None, "the limit runs once connected");
        m.handle_event(t0, Event::State(CallState::Connected));
        assert_eq!(m.poll_timeout(), Some(t0 + limit));
        // A reconnection does not restart it.
        let later = t0 + Duration::from_secs(3);
        m.handle_event(later, Event::State(CallState::Reconnecting));
        m.handle_event(later, Event::State(CallState::Connected));
        assert_eq!(m.poll_timeout(), Some(t0 + limit));
        m.handle_timeout(t0 + limit - Duration::from_millis(1));
        assert!(m.outbox.is_empty());
        assert!(!m.take_close());
        m.handle_timeout(t0 + limit);
        assert_eq!(m.outbox, [Command::HangUp]);
        assert!(m.take_close());
        assert!(!m.take_close(), "told once");
        assert_eq!(m.poll_timeout(), None);
        m.outbox.clear();
        m.handle_timeout(t0 + limit * 2);
        assert!(m.outbox.is_empty());

        // Without --duration, no limit.
        let mut m = model();
        m.join();
        state(&mut m, CallState::Connected);
        assert_eq!(m.poll_timeout(), None);
    }

    #[test]
    fn the_summary_is_ok_only_once_connected_with_a_picture_shown() {
        let shown = UiFigures {
            remote_shown: 1,
            ..UiFigures::default()
        };
        let mut m = model();
        m.join();
        state(&mut m, CallState::Connecting);
        assert!(
            !m.summary(shown.clone()).ok,
            "pictures, but never connected"
        );
        state(&mut m, CallState::Connected);
        assert!(!m.summary(UiFigures::default()).ok, "connected, no picture");
        let summary = m.summary(shown.clone());
        assert!(summary.ok);
        assert_eq!(summary.state, "connected");
        // Having connected counts, even once the call has ended.
        state(&mut m, CallState::Ended(call::EndReason::HungUp));
        assert!(m.summary(shown).ok);
    }

    #[test]
    fn the_summary_line_keeps_its_shape() {
        let mut m = model();
        m.handle_event(Instant::now(), Event::Devices(Devices::default()));
        let line = serde_json::to_value(m.summary(UiFigures {
            upload_ms: UploadMs::of(&[Duration::from_millis(2)]),
            ..UiFigures::default()
        }))
        .unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v.as_object().unwrap().keys().cloned().collect()
        };
        assert_eq!(
            keys(&line),
            [
                "banner", "devices", "ok", "settings", "state", "stats", "ui"
            ]
        );
        assert_eq!(
            keys(&line["ui"]),
            [
                "preview_shown",
                "remote_dropped",
                "remote_dropped_at",
                "remote_received",
                "remote_shown",
                "upload_ms"
            ]
        );
        assert_eq!(
            line["ui"]["upload_ms"],
            serde_json::json!({"p50": 2.0, "p95": 2.0, "p99": 2.0, "max": 2.0})
        );
        assert_eq!(line["state"], "not in a call");
        assert!(line["stats"].is_null());
        assert!(
            line["banner"]
                .as_str()
                .unwrap()
                .starts_with("No camera found")
        );
        assert_eq!(line["settings"]["video"], "TestPattern");
    }

    #[test]
    fn upload_times_are_summed_up_by_nearest_rank() {
        assert_eq!(UploadMs::of(&[]), UploadMs::default());
        let times: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let ms = UploadMs::of(&times);
        assert_eq!(ms.p50, Some(51.0));
        assert_eq!(ms.p95, Some(95.0));
        assert_eq!(ms.p99, Some(99.0));
        assert_eq!(ms.max, Some(100.0));
    }
}
