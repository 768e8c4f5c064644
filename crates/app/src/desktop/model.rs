//! The desktop app's state and rules, with no egui and no engine in them: what the user
//! picked, where the call is, which banner shows, and the commands that follow. The
//! view reads and edits a [`Model`]; the app forwards the commands it queues to the
//! engine bridge and feeds the engine's events back in.

use base64::Engine as _;
use call::stats::StatsLine;
use call::{AudioInput, AudioOutput, CallState, Failure, VideoInput};
use media::DeviceKind;
use serde::{Deserialize, Serialize};
use signaling_proto::{PeerName, RoomId};

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
    /// Playout volume, 0–2.
    pub volume: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            name: std::env::var("USER").unwrap_or_default(),
            server: String::new(),
            video: VideoPick::Camera(0),
            audio: AudioPick::Microphone("default".into()),
            speaker: SpeakerPick::Speaker("default".into()),
            volume: 1.0,
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

/// Something for the engine bridge to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start a call.
    Join(JoinRequest),
    /// End it.
    HangUp,
    /// Send another video (mid-call: the call goes on).
    Video(VideoPick),
    /// Send another audio.
    Audio(AudioPick),
    /// Play through another speaker.
    Speaker(SpeakerPick),
    /// Mute or unmute the microphone.
    Mute(bool),
    /// Turn the camera off (black pictures) or on.
    CameraOff(bool),
    /// Playout volume.
    Volume(f32),
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
    /// Video to send.
    pub video: VideoPick,
    /// Audio to send.
    pub audio: AudioPick,
    /// Playout.
    pub speaker: SpeakerPick,
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
}

/// An unguessable room name: 128 random bits in the protocol's alphabet.
pub fn new_room() -> String {
    use std::hash::BuildHasher as _;
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness (unheard of on desktops): the standard library's randomly
        // keyed hasher still makes a room nobody picks by chance.
        let state = std::collections::hash_map::RandomState::new();
        bytes[..8].copy_from_slice(&state.hash_one(media::now_us()).to_le_bytes());
        bytes[8..].copy_from_slice(&state.hash_one(std::process::id()).to_le_bytes());
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Model {
    /// A model with `settings`, idle, in a fresh room.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            room: new_room(),
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
        }
    }

    /// Whether a call is under way (Join disabled, Hang up enabled).
    pub fn in_call(&self) -> bool {
        matches!(self.phase, Phase::InCall(_))
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

    /// The browser link to this room on the server (http(s) for ws(s)).
    pub fn browser_link(&self) -> Option<String> {
        let url = self.server_url()?;
        let base = url
            .strip_prefix("ws://")
            .map(|rest| format!("http://{rest}"))
            .or_else(|| url.strip_prefix("wss://").map(|r| format!("https://{r}")))?;
        let base = base.strip_suffix("/ws").unwrap_or(&base);
        Some(format!("{base}/?room={}", self.room))
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
        self.outbox.push(Command::Join(JoinRequest {
            server,
            room,
            name,
            video: self.settings.video.clone(),
            audio: self.settings.audio.clone(),
            speaker: self.settings.speaker.clone(),
        }));
    }

    /// Hang up pressed.
    pub fn hang_up(&mut self) {
        if self.in_call() {
            self.outbox.push(Command::HangUp);
        }
    }

    /// A video picked (mid-call too).
    pub fn pick_video(&mut self, pick: VideoPick) {
        if pick != self.settings.video {
            self.settings.video = pick.clone();
            if self.in_call() {
                self.outbox.push(Command::Video(pick));
            }
        }
    }

    /// A microphone picked.
    pub fn pick_audio(&mut self, pick: AudioPick) {
        if pick != self.settings.audio {
            self.settings.audio = pick.clone();
            if self.in_call() {
                self.outbox.push(Command::Audio(pick));
            }
        }
    }

    /// A speaker picked.
    pub fn pick_speaker(&mut self, pick: SpeakerPick) {
        if pick != self.settings.speaker {
            self.settings.speaker = pick.clone();
            if self.in_call() {
                self.outbox.push(Command::Speaker(pick));
            }
        }
    }

    /// Mute pressed (or `M`).
    pub fn toggle_mute(&mut self) {
        self.muted = !self.muted;
        self.outbox.push(Command::Mute(self.muted));
    }

    /// Camera off pressed (or `V`).
    pub fn toggle_camera(&mut self) {
        self.camera_off = !self.camera_off;
        self.outbox.push(Command::CameraOff(self.camera_off));
    }

    /// Volume moved.
    pub fn set_volume(&mut self, volume: f32) {
        self.settings.volume = volume.clamp(0.0, 2.0);
        self.outbox.push(Command::Volume(self.settings.volume));
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

    /// The engine says the call moved to `state`.
    pub fn on_state(&mut self, state: CallState) {
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
    pub fn on_switch_failed(&mut self, device: DeviceKind, error: &str) {
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
    pub fn on_devices(&mut self, devices: Devices) {
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

    fn model() -> Model {
        let mut m = Model::new(Settings::default());
        m.embedded = Some("ws://127.0.0.1:4000/ws".into());
        m
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
        m.on_state(CallState::Failed(Failure::RoomFull {
            room: RoomId::new("r").unwrap(),
        }));
        assert!(!m.in_call());
        assert!(m.banner.as_ref().unwrap().text.contains("another room"));
        m.on_state(CallState::Failed(Failure::NoRelayCandidate));
        assert!(m.banner.as_ref().unwrap().text.contains("TURN"));
        // A microphone's failure offers the test tone, whatever its message says.
        m.on_state(CallState::Failed(Failure::Device {
            kind: Some(DeviceKind::Microphone),
            detail: "cannot open the camera-shaped microphone".into(),
        }));
        assert_eq!(m.banner.clone().unwrap().fix, Some(Fix::UseTestTone));
        m.on_state(CallState::Failed(Failure::Device {
            kind: Some(DeviceKind::Camera),
            detail: "no camera named \"7\"".into(),
        }));
        let banner = m.banner.clone().unwrap();
        assert_eq!(banner.fix, Some(Fix::UseTestPattern));
        m.apply_fix(Fix::UseTestPattern);
        assert_eq!(m.settings.video, VideoPick::TestPattern);
        assert!(m.banner.is_none());
    }

    #[test]
    fn missing_devices_fall_back_to_the_test_sources_with_a_notice() {
        let mut m = model();
        m.on_devices(Devices::default());
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
        m.on_state(CallState::Connected);
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
}
