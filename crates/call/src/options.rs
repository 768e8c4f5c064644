//! What a call is asked to do: the room and server, the devices or test sources to
//! send and play, the video format and bitrates, ICE overrides, and the handles the UI
//! changes devices through while the call runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use media::apm::{Processing, ProcessingSwitch};
use media::pattern::TestPattern;
use media::switch::{AudioSwitch, SpeakerSwitch, VideoSwitch};
use media::tone::TestTone;
use media::{AudioSink, AudioSource, VideoFormat, VideoFrame, VideoSource};
use signaling_proto::{AccessToken, IceServer, PeerName, RoomId};

use crate::CallError;
use crate::peer::BitrateRange;

/// Where the video we send comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoInput {
    /// The moving test pattern (carries frame numbers and capture times).
    Test,
    /// A camera (its index; `None`: the first).
    Camera(Option<u32>),
    /// Send no video.
    None,
}

/// Where the audio we send comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioInput {
    /// The test tone (440 Hz with timing marks).
    Test,
    /// A microphone (its id; `None`: the default).
    Microphone(Option<String>),
    /// Send no audio.
    None,
}

/// Where received audio goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioOutput {
    /// Nowhere (headless).
    Null,
    /// A speaker (its id; `None`: the default).
    Speaker(Option<String>),
}

/// A TURN server given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnServer {
    /// `turn:HOST:PORT` (UDP), `turn:HOST:PORT?transport=tcp` (TCP) or
    /// `turns:HOST:PORT` (TLS).
    pub url: String,
    /// Username.
    pub username: String,
    /// Credential.
    pub credential: String,
}

/// ICE settings that override what the server's `welcome` hands out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IceOptions {
    /// STUN URLs.
    pub stun: Vec<String>,
    /// A TURN server.
    pub turn: Option<TurnServer>,
    /// Use relayed candidates only.
    pub relay_only: bool,
    /// CA certificates (PEM) trusted for TURN over TLS (`turns:`), besides the system's
    /// roots; for our TURN servers and the `welcome`'s alike.
    pub turn_ca: Option<PathBuf>,
}

impl IceOptions {
    /// The servers to use: ours if any were given, else the `welcome`'s.
    pub fn servers(&self, welcome: &[IceServer]) -> Vec<IceServer> {
        if self.stun.is_empty() && self.turn.is_none() {
            return welcome.to_vec();
        }
        let mut servers: Vec<IceServer> = self
            .stun
            .iter()
            .map(|url| IceServer {
                urls: vec![url.clone()],
                username: None,
                credential: None,
            })
            .collect();
        if let Some(turn) = &self.turn {
            servers.push(IceServer {
                urls: vec![turn.url.clone()],
                username: Some(turn.username.clone()),
                credential: Some(turn.credential.clone()),
            });
        }
        servers
    }
}

/// What a call needs.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// Signaling server URL (`ws://…/ws` or `wss://…/ws`).
    pub server: String,
    /// Room to join.
    pub room: RoomId,
    /// Name shown to the other peer.
    pub name: Option<PeerName>,
    /// The access token for a server that needs one (`--auth-secret` there).
    pub token: Option<AccessToken>,
    /// UDP addresses to gather on.
    pub bind: Vec<SocketAddr>,
    /// Video to send.
    pub video: VideoInput,
    /// Audio to send.
    pub audio: AudioInput,
    /// Where received audio plays.
    pub speaker: AudioOutput,
    /// Size and rate of the video sent.
    pub format: VideoFormat,
    /// Video bitrate bounds (and start), bits per second.
    pub bitrate: BitrateRange,
    /// The video codec to put first. `None`: our offers list H.264, VP8, VP9 in that
    /// order, and our answers follow the offer's order. `Some`: that codec first in
    /// both (when the other side has it).
    pub video_codec: Option<media::codec::VideoCodec>,
    /// STUN/TURN overrides.
    pub ice: IceOptions,
    /// How long to stay connected (`None`: until hang-up).
    pub duration: Option<Duration>,
    /// How long connecting may take once a peer is there.
    pub connect_timeout: Duration,
    /// The folder files sent by the other peer are kept in (`None`: files are refused).
    pub files_dir: Option<std::path::PathBuf>,
    /// After the other peer leaves, wait for the next one instead of ending.
    pub stay: bool,
    /// Gets every decoded remote picture (on the decoder thread; keep it quick): the
    /// UI's frame queue, or a measurement.
    pub remote_video: Option<FrameSink>,
    /// Gets every decoded picture of the other peer's screen share (as `remote_video`).
    pub remote_screen: Option<FrameSink>,
    /// Handles to change camera, microphone and speaker while the call runs, mute, turn
    /// the camera off, set the volume, and see the local preview.
    pub switches: MediaSwitches,
    /// Echo cancellation, noise suppression and gain control on the microphone path.
    pub processing: ProcessingOptions,
}

/// Which audio processing runs on what we send; each stage `None` decides by the devices
/// in use (see [`ProcessingOptions::resolve`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcessingOptions {
    /// Echo cancellation.
    pub echo_cancellation: Option<bool>,
    /// Noise suppression.
    pub noise_suppression: Option<bool>,
    /// Automatic gain control.
    pub gain_control: Option<bool>,
}

impl ProcessingOptions {
    /// The stages to run for `audio` sent and `speaker` played: by default, echo
    /// cancellation when a real microphone and a real speaker are both in use, noise
    /// suppression and gain control with a real microphone; none for the test tone,
    /// whose timing marks must stay measurable.
    pub fn resolve(&self, audio: &AudioInput, speaker: &AudioOutput) -> Processing {
        let microphone = matches!(audio, AudioInput::Microphone(_));
        let speaker = matches!(speaker, AudioOutput::Speaker(_));
        Processing {
            echo_cancellation: self.echo_cancellation.unwrap_or(microphone && speaker),
            noise_suppression: self.noise_suppression.unwrap_or(microphone),
            gain_control: self.gain_control.unwrap_or(microphone),
        }
    }
}

/// The running call's devices, as the UI changes them (shared: clones are the same).
#[derive(Clone, Default)]
pub struct MediaSwitches {
    /// The video sent: replace the camera, blank it, tap it for the preview.
    pub video: Arc<VideoSwitch>,
    /// The audio sent: replace the microphone, mute it.
    pub audio: Arc<AudioSwitch>,
    /// Playout: replace the speaker, set the volume.
    pub speaker: Arc<SpeakerSwitch>,
    /// The microphone path: turn echo cancellation, noise suppression and gain control
    /// on or off.
    pub processing: Arc<ProcessingSwitch>,
}

impl std::fmt::Debug for MediaSwitches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaSwitches(..)")
    }
}

/// A receiver of decoded pictures.
#[derive(Clone)]
pub struct FrameSink(pub Arc<dyn Fn(&VideoFrame) + Send + Sync>);

impl std::fmt::Debug for FrameSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameSink(..)")
    }
}

impl CallOptions {
    /// Test sources, 640x480@30, default bitrates and ICE, no time limit.
    pub fn new(server: impl Into<String>, room: RoomId) -> Self {
        Self {
            server: server.into(),
            room,
            name: None,
            token: None,
            bind: Vec::new(),
            video: VideoInput::Test,
            audio: AudioInput::Test,
            speaker: AudioOutput::Null,
            format: VideoFormat {
                width: 640,
                height: 480,
                fps: 30.0,
            },
            bitrate: BitrateRange::default(),
            video_codec: None,
            ice: IceOptions::default(),
            duration: None,
            connect_timeout: Duration::from_secs(30),
            files_dir: None,
            stay: false,
            remote_video: None,
            remote_screen: None,
            switches: MediaSwitches::default(),
            processing: ProcessingOptions::default(),
        }
    }
}

/// Opens the video source `input` names, in `format` (the nearest the camera has);
/// the test pattern for [`VideoInput::Test`] (and `None`).
pub fn open_video(
    input: &VideoInput,
    format: VideoFormat,
) -> Result<Box<dyn VideoSource>, CallError> {
    Ok(match input {
        VideoInput::Camera(index) => Box::new(media::camera::Camera::open(*index, format)?),
        _ => Box::new(TestPattern::new(format)),
    })
}

/// Opens the audio source `input` names; the test tone for [`AudioInput::Test`].
pub fn open_audio(input: &AudioInput) -> Result<Box<dyn AudioSource>, CallError> {
    Ok(match input {
        AudioInput::Microphone(id) => Box::new(media::audio::Microphone::open(id.as_deref())?),
        _ => Box::new(TestTone::new()),
    })
}

/// Opens the playout `output` names.
pub fn open_speaker(output: &AudioOutput) -> Result<Box<dyn AudioSink>, CallError> {
    Ok(match output {
        AudioOutput::Speaker(id) => Box::new(media::audio::Speaker::open(id.as_deref())?),
        AudioOutput::Null => Box::new(media::audio::NullSink::default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ice_servers_from_flags_replace_the_welcome_ones() {
        let welcome = vec![IceServer {
            urls: vec!["stun:welcome:3478".into()],
            username: None,
            credential: None,
        }];
        assert_eq!(IceOptions::default().servers(&welcome), welcome);
        let ours = IceOptions {
            stun: vec!["stun:a:3478".into()],
            turn: Some(TurnServer {
                url: "turn:b:3478".into(),
                username: "u".into(),
                credential: "c".into(),
            }),
            relay_only: true,
            turn_ca: None,
        };
        let servers = ours.servers(&welcome);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, ["stun:a:3478"]);
        assert_eq!(servers[1].username.as_deref(), Some("u"));
    }

    #[test]
    fn processing_is_on_for_real_devices_and_off_for_the_test_tone_unless_asked() {
        let auto = ProcessingOptions::default();
        let mic = AudioInput::Microphone(None);
        let speaker = AudioOutput::Speaker(None);
        assert_eq!(auto.resolve(&mic, &speaker), Processing::ALL);
        let headless = auto.resolve(&mic, &AudioOutput::Null);
        assert!(!headless.echo_cancellation && headless.noise_suppression);
        assert!(!auto.resolve(&AudioInput::Test, &speaker).any());
        let asked = ProcessingOptions {
            echo_cancellation: Some(true),
            ..ProcessingOptions::default()
        };
        assert!(
            asked
                .resolve(&AudioInput::Test, &AudioOutput::Null)
                .echo_cancellation
        );
        let refused = ProcessingOptions {
            echo_cancellation: Some(false),
            ..ProcessingOptions::default()
        };
        assert!(!refused.resolve(&mic, &speaker).echo_cancellation);
    }
}
