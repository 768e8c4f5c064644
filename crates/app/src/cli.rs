//! The headless calls: flags shared by `call` and `loopback`, and the two commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use call::doctor::{DoctorConfig, Report, ServerResult, SignalingCheck};
use call::peer::BitrateRange;
use call::{
    AudioInput, AudioOutput, CallCommand, CallEvent, CallOptions, CallState, IceOptions,
    ProcessingOptions, SignalingConfig, Summary, TurnServer, VideoInput, run_call, run_call_with,
};
use clap::Args;
use media::codec::VideoCodec;
use signaling_proto::{AccessToken, PeerName, RoomId};

/// What to send and how much of it.
#[derive(Debug, Clone, Args)]
pub struct MediaArgs {
    /// Video to send: `test` (moving pattern), `camera`, `camera:N`, or `none`.
    #[arg(long, default_value = "test", value_parser = parse_video)]
    pub video: VideoInput,
    /// Audio to send: `test` (tone with timing marks), `mic`, `mic:ID`, or `none`.
    #[arg(long, default_value = "test", value_parser = parse_audio)]
    pub audio: AudioInput,
    /// Where received audio plays: `none`, `default`, or a speaker id.
    #[arg(long, default_value = "none", value_parser = parse_speaker)]
    pub speaker: AudioOutput,
    /// Video width.
    #[arg(long, default_value_t = 640)]
    pub width: u32,
    /// Video height.
    #[arg(long, default_value_t = 480)]
    pub height: u32,
    /// Video frame rate.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f32,
    /// Lowest video bitrate, kbit/s.
    #[arg(long, default_value_t = 150)]
    pub min_bitrate: u32,
    /// Highest video bitrate, kbit/s.
    #[arg(long, default_value_t = 2_500)]
    pub max_bitrate: u32,
    /// Video codec to put first in the offer or answer: `h264`, `vp8` or `vp9` (none:
    /// H.264 first in our offers, and our answers follow the offer's order). The codec
    /// used is the answer's first.
    #[arg(long, value_parser = parse_codec)]
    pub video_codec: Option<VideoCodec>,
    /// Seconds to stay connected (none: until Ctrl-C, or the other peer hangs up).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Echo cancellation on the microphone path: `on`, `off`, or `auto` (on when a
    /// microphone and a speaker are both in use).
    #[arg(long, value_enum, default_value_t = Switch::Auto)]
    pub aec: Switch,
    /// Noise suppression: `on`, `off`, or `auto` (on with a microphone).
    #[arg(long, value_enum, default_value_t = Switch::Auto)]
    pub ns: Switch,
    /// Automatic gain control: `on`, `off`, or `auto` (on with a microphone).
    #[arg(long, value_enum, default_value_t = Switch::Auto)]
    pub agc: Switch,
}

/// A processing stage asked for on or off, or left to the devices in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Decided by the devices in use.
    Auto,
    /// On.
    On,
    /// Off.
    Off,
}

impl Switch {
    /// `None` for [`Switch::Auto`].
    fn asked(self) -> Option<bool> {
        match self {
            Switch::Auto => None,
            Switch::On => Some(true),
            Switch::Off => Some(false),
        }
    }
}

/// STUN/TURN settings (they replace the ones the server hands out).
#[derive(Debug, Clone, Args)]
pub struct IceArgs {
    /// A STUN server, `stun:HOST:PORT` (repeatable).
    #[arg(long = "stun", value_name = "URL")]
    pub stun: Vec<String>,
    /// A TURN server: `turn:HOST:PORT` (UDP), `turn:HOST:PORT?transport=tcp` (TCP) or
    /// `turns:HOST:PORT` (TLS).
    #[arg(long, value_name = "URL", requires_all = ["turn_username", "turn_credential"])]
    pub turn: Option<String>,
    /// TURN username.
    #[arg(long, requires = "turn")]
    pub turn_username: Option<String>,
    /// TURN credential.
    #[arg(long, requires = "turn")]
    pub turn_credential: Option<String>,
    /// Use relayed (TURN) candidates only.
    #[arg(long)]
    pub relay_only: bool,
    /// CA certificates (PEM) to trust for TURN over TLS (`turns:`), besides the
    /// system's roots; applies to the server's TURN URLs too.
    #[arg(long, value_name = "PEM")]
    pub turn_ca: Option<PathBuf>,
}

/// `peercall call`.
#[derive(Debug, Clone, Args)]
pub struct CallArgs {
    /// Signaling server, `ws://HOST:PORT/ws` or `wss://HOST:PORT/ws`.
    #[arg(long)]
    pub server: String,
    /// Room to join.
    #[arg(long)]
    pub room: String,
    /// Name shown to the other peer.
    #[arg(long)]
    pub name: Option<String>,
    /// Access token for a server that needs one (started with --auth-secret; its
    /// `signaling-server token` prints one).
    #[arg(long, env = "PEERCALL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// UDP address to gather candidates on, with or without a port (repeatable;
    /// default: all interfaces except loopback).
    #[arg(long, default_value = "0.0.0.0:0", value_parser = parse_bind)]
    pub bind: Vec<SocketAddr>,
    /// After the other peer leaves, wait for the next one instead of ending.
    #[arg(long)]
    pub stay: bool,
    /// JSON lines on stdout even on a terminal (anything else always gets them).
    #[arg(long)]
    pub json: bool,
    /// Chat: send each line read from stdin to the other peer, and print each line it
    /// sends as `{"chat": {"from", "text", "sent_ms"}}` on stdout.
    #[arg(long)]
    pub chat: bool,
    /// Send this file to the other peer once the call's channel opens (repeatable; one
    /// at a time, up to 256 MiB each).
    #[arg(long, value_name = "PATH")]
    pub send_file: Vec<std::path::PathBuf>,
    /// Keep files the other peer sends in this folder (without it, they are refused).
    #[arg(long, value_name = "DIR", value_parser = parse_dir)]
    pub files_dir: Option<std::path::PathBuf>,
    /// Share a screen or window once the call connects: `screen`, `screen:N` or
    /// `window:ID` (X11; ids as `xwininfo` shows them), sent as a second video track.
    #[arg(long, value_name = "WHAT")]
    pub share: Option<media::screen::ShareTarget>,
    /// Pictures per second of the screen share.
    #[arg(long, default_value_t = media::screen::DEFAULT_SHARE_FPS, requires = "share")]
    pub share_fps: f32,
    /// Stop sharing after this many seconds (none: share until the call ends).
    #[arg(long, value_name = "SECS", requires = "share")]
    pub share_for: Option<f64>,
    #[command(flatten)]
    pub media: MediaArgs,
    #[command(flatten)]
    pub ice: IceArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// `peercall loopback`.
#[derive(Debug, Clone, Args)]
pub struct LoopbackArgs {
    /// JSON lines on stdout even on a terminal (anything else always gets them).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub media: MediaArgs,
    #[command(flatten)]
    pub ice: IceArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// `peercall doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Signaling server to check, `ws://HOST:PORT/ws` or `wss://HOST:PORT/ws` (its
    /// `welcome` gives the STUN and TURN servers to check, unless --stun or --turn do).
    #[arg(long)]
    pub server: Option<String>,
    /// Access token for a server that needs one.
    #[arg(long, env = "PEERCALL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// UDP address to gather candidates on, with or without a port (repeatable;
    /// default: all interfaces except loopback).
    #[arg(long, default_value = "0.0.0.0:0", value_parser = parse_bind)]
    pub bind: Vec<SocketAddr>,
    /// Longest wait for each server, seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub ice: IceArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// How much to log, for every command.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct LogArgs {
    /// More log lines on stderr: -v for information, -vv for debugging (RUST_LOG, if
    /// set, decides instead).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

pub(crate) fn parse_video(s: &str) -> Result<VideoInput, String> {
    match s.split_once(':') {
        _ if s == "test" => Ok(VideoInput::Test),
        _ if s == "none" => Ok(VideoInput::None),
        _ if s == "camera" => Ok(VideoInput::Camera(None)),
        Some(("camera", n)) => n
            .parse()
            .map(|n| VideoInput::Camera(Some(n)))
            .map_err(|_| format!("`{n}` is not a camera number (see `peercall devices`)")),
        _ => Err("expected test, camera, camera:N or none".into()),
    }
}

pub(crate) fn parse_audio(s: &str) -> Result<AudioInput, String> {
    match s.split_once(':') {
        _ if s == "test" => Ok(AudioInput::Test),
        _ if s == "none" => Ok(AudioInput::None),
        _ if s == "mic" => Ok(AudioInput::Microphone(None)),
        Some(("mic", id)) => Ok(AudioInput::Microphone(Some(id.to_owned()))),
        _ => Err("expected test, mic, mic:ID or none".into()),
    }
}

pub(crate) fn parse_speaker(s: &str) -> Result<AudioOutput, String> {
    Ok(match s {
        "none" => AudioOutput::Null,
        "default" => AudioOutput::Speaker(None),
        id => AudioOutput::Speaker(Some(id.to_owned())),
    })
}

/// A `--files-dir`: a folder that exists.
fn parse_dir(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!(
            "expected an existing folder to keep received files in, not `{s}`"
        ))
    }
}

/// A `--bind` address: `IP:PORT`, or an IP alone (any port); IPv6 in brackets or bare.
pub(crate) fn parse_bind(s: &str) -> Result<SocketAddr, String> {
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    s.parse::<SocketAddr>()
        .or_else(|_| {
            bare.parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 0))
        })
        .map_err(|_| {
            format!(
                "expected an IP address, with or without a port (`127.0.0.1`, `0.0.0.0:5000`, \
                 `[::1]`, `[::]:5000`), not `{s}`"
            )
        })
}

pub(crate) fn parse_codec(s: &str) -> Result<VideoCodec, String> {
    s.parse()
        .map_err(|e: media::codec::UnknownCodec| e.to_string())
}

impl MediaArgs {
    fn apply(&self, options: &mut CallOptions) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.width >= 16 && self.height >= 16 && self.width % 2 == 0 && self.height % 2 == 0,
            "--width and --height must be even and at least 16"
        );
        anyhow::ensure!(
            self.fps > 0.0 && self.fps <= 60.0,
            "--fps must be above 0 and at most 60"
        );
        anyhow::ensure!(
            self.min_bitrate >= 30 && self.min_bitrate <= self.max_bitrate,
            "--min-bitrate must be at least 30 and at most --max-bitrate"
        );
        options.video = self.video.clone();
        options.video_codec = self.video_codec;
        options.audio = self.audio.clone();
        options.speaker = self.speaker.clone();
        options.processing = ProcessingOptions {
            echo_cancellation: self.aec.asked(),
            noise_suppression: self.ns.asked(),
            gain_control: self.agc.asked(),
        };
        options.format = media::VideoFormat {
            width: self.width,
            height: self.height,
            fps: self.fps,
        };
        let (min, max) = (self.min_bitrate * 1000, self.max_bitrate * 1000);
        options.bitrate = BitrateRange {
            min,
            max,
            start: call::peer::DEFAULT_START_BITRATE.clamp(min, max),
        };
        if let Some(seconds) = self.duration {
            anyhow::ensure!(seconds > 0.0, "--duration must be above 0");
            options.duration = Some(Duration::from_secs_f64(seconds));
        }
        Ok(())
    }
}

impl IceArgs {
    /// The call engine's ICE options these flags make.
    pub(crate) fn options(&self) -> IceOptions {
        IceOptions {
            stun: self.stun.clone(),
            turn: self.turn.clone().map(|url| TurnServer {
                url,
                username: self.turn_username.clone().unwrap_or_default(),
                credential: self.turn_credential.clone().unwrap_or_default(),
            }),
            relay_only: self.relay_only,
            turn_ca: self.turn_ca.clone(),
        }
    }
}

/// Shows a statistics line (with `peer` when given): on `status` when a person watches,
/// else as JSON; logs state changes.
fn reporter(
    peer: Option<&'static str>,
    status: Option<indicatif::ProgressBar>,
) -> impl FnMut(CallEvent) + Send {
    move |event| match event {
        CallEvent::Stats(line) => match &status {
            Some(status) => status.set_message(crate::terminal::status_line(&line)),
            None => {
                let mut value = serde_json::to_value(&*line).unwrap_or_default();
                if let Some(peer) = peer {
                    value["peer"] = serde_json::json!(peer);
                }
                println!("{value}");
            }
        },
        CallEvent::State(state) => {
            if let Some(status) = &status {
                status.set_message(state.name().to_string());
            }
            report_state(peer, &state);
        }
        _ => {}
    }
}

/// Logs a state change (and gives memory back between calls).
fn report_state(peer: Option<&'static str>, state: &CallState) {
    match state {
        CallState::Failed(failure) => {
            tracing::error!(
                peer,
                code = failure.code(),
                "call failed: {}",
                failure.explained()
            );
        }
        CallState::Ended(reason) => tracing::info!(peer, "call ended: {reason}"),
        other => {
            if matches!(other, CallState::Waiting) {
                crate::release_free_memory();
            }
            tracing::info!(peer, "call {}", other.name());
        }
    }
}

/// How a finished call went, for the summary line: `ok`, `reason` for people and
/// `reason_code` for machines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    ok: bool,
    reason: String,
    reason_code: &'static str,
}

impl Verdict {
    fn of(summary: &Summary) -> Self {
        let (ok, reason, reason_code) = match &summary.outcome {
            CallState::Failed(failure) => (false, failure.explained(), failure.code()),
            _ if !summary.connected => {
                (false, "the call never connected".into(), "never-connected")
            }
            CallState::Ended(reason) if summary.media_flowed_both_ways() => {
                (true, reason.to_string(), reason.code())
            }
            _ => (
                false,
                "connected, but video and audio did not flow both ways".into(),
                "no-media",
            ),
        };
        Self {
            ok,
            reason,
            reason_code,
        }
    }
}

/// Runs `peercall call`; `Ok(false)` when the call did not go well.
pub async fn call(args: CallArgs) -> anyhow::Result<bool> {
    let room = RoomId::new(&args.room).map_err(|e| anyhow::anyhow!("--room: {e}"))?;
    let mut options = CallOptions::new(args.server.clone(), room);
    options.name = args
        .name
        .as_deref()
        .map(PeerName::new)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    options.token = args.token.clone().map(AccessToken::new);
    options.bind = args.bind.clone();
    options.stay = args.stay;
    options.ice = args.ice.options();
    args.media.apply(&mut options)?;
    let hangup = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    options.files_dir = args.files_dir.clone();
    let (commands, inbox) = tokio::sync::mpsc::unbounded_channel();
    if args.chat {
        crate::extras::chat_from_stdin(commands.clone());
    }
    for path in &args.send_file {
        let _ = commands.send(CallCommand::SendFile(path.clone()));
    }
    anyhow::ensure!(
        args.share_fps > 0.0 && args.share_fps <= 30.0,
        "--share-fps must be above 0 and at most 30"
    );
    let share = args.share.map(|target| crate::extras::ShareAsked {
        target,
        fps: args.share_fps,
        stop_after: args.share_for.map(Duration::from_secs_f64),
    });
    let live =
        crate::terminal::for_people(args.json || args.chat).then(crate::terminal::LiveStatus::new);
    let status = live.as_ref().map(|live| live.line(None));
    let report =
        crate::extras::with_extras(reporter(None, status.clone()), commands.clone(), share);
    let summary = run_call_with(options, report, hangup, inbox).await;
    drop(commands);
    let verdict = Verdict::of(&summary);
    if let Some(status) = status {
        status.finish_and_clear();
        println!(
            "{}",
            crate::terminal::summary_text(&summary, verdict.ok, &verdict.reason)
        );
    } else {
        println!(
            "{}",
            serde_json::json!({
                "summary": summary,
                "ok": verdict.ok,
                "reason": verdict.reason,
                "reason_code": verdict.reason_code,
            })
        );
    }
    Ok(verdict.ok)
}

/// Runs `peercall loopback`; `Ok(false)` when media did not flow both ways.
pub async fn loopback(args: LoopbackArgs) -> anyhow::Result<bool> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot open a local port for the embedded signaling server")?;
    let server = format!("ws://{}/ws", listener.local_addr()?);
    tokio::spawn(signaling_server::serve(
        listener,
        signaling_server::Config::default(),
        std::future::pending(),
    ));
    let mut options = CallOptions::new(server, RoomId::new("loopback")?);
    options.bind = vec!["127.0.0.1:0".parse()?];
    options.ice = args.ice.options();
    args.media.apply(&mut options)?;
    let hangup = || async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let live = crate::terminal::for_people(args.json).then(crate::terminal::LiveStatus::new);
    let status = |peer| live.as_ref().map(|live| live.line(Some(peer)));
    let (status_a, status_b) = (status("a"), status("b"));
    let first = tokio::spawn(run_call(
        options.clone(),
        reporter(Some("a"), status_a.clone()),
        hangup(),
    ));
    // The second peer joins a moment later, as the callee, and answers the held offer.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = tokio::spawn(run_call(
        options,
        reporter(Some("b"), status_b.clone()),
        hangup(),
    ));
    let (a, b) = (first.await?, second.await?);
    let (a_verdict, b_verdict) = (Verdict::of(&a), Verdict::of(&b));
    let (ok, reason, reason_code) = match (&a_verdict, &b_verdict) {
        (a, b) if a.ok && b.ok => (true, "media flowed both ways".to_string(), "media-flowed"),
        (failed, _) if !failed.ok => (false, format!("a: {}", failed.reason), failed.reason_code),
        (_, failed) => (false, format!("b: {}", failed.reason), failed.reason_code),
    };
    if live.is_some() {
        for status in [status_a, status_b].into_iter().flatten() {
            status.finish_and_clear();
        }
        for (peer, summary, verdict) in [("a", &a, &a_verdict), ("b", &b, &b_verdict)] {
            let text = crate::terminal::summary_text(summary, verdict.ok, &verdict.reason);
            println!("{peer}: {text}");
        }
    } else {
        println!(
            "{}",
            serde_json::json!({
                "summary": {"a": a, "b": b},
                "ok": ok,
                "reason": reason,
                "reason_code": reason_code,
            })
        );
    }
    Ok(ok)
}

/// The log filter for `-v` given `verbosity` times (when `RUST_LOG` is not set). By
/// default our own warnings and errors only: the WebRTC stack's warnings that are
/// harmless and come in every call (a STUN check before the remote description, a DTLS
/// server name it wants, candidate pairs not yet formed, SRTP's replay drops) are left
/// out; its errors show.
pub fn log_filter(verbosity: u8) -> &'static str {
    match verbosity {
        0 => "warn,rtc_ice::agent=error,rtc_dtls::config=error,rtc::peer_connection::handler=error",
        1 => "info",
        _ => "info,peercall=debug,call=debug,media=debug,signaling_server=debug",
    }
}

/// Runs `peercall doctor`: prints what works and what to do; `Ok(false)` when calls are
/// not expected to connect.
pub async fn doctor(args: DoctorArgs) -> anyhow::Result<bool> {
    let signaling = match &args.server {
        Some(url) => {
            let mut config = SignalingConfig::new(url.clone(), RoomId::new("doctor")?);
            config.token = args.token.clone().map(AccessToken::new);
            Some(config)
        }
        None => None,
    };
    let ice = args.ice.options();
    let report = call::doctor::check(DoctorConfig {
        signaling,
        ice_servers: ice.servers(&[]),
        bind: args.bind.clone(),
        turn_ca: ice.turn_ca.clone(),
        timeout: Duration::from_secs(args.timeout.max(1)),
    })
    .await;
    let cameras = media::camera::cameras().len();
    let microphones = media::audio::microphones().len();
    let speakers = media::audio::speakers().len();
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["devices"] = serde_json::json!({
            "cameras": cameras, "microphones": microphones, "speakers": speakers,
        });
        println!("{value}");
    } else {
        print!("{}", describe(&report, [cameras, microphones, speakers]));
    }
    Ok(report.ok)
}

/// The report for people.
fn describe(report: &Report, [cameras, microphones, speakers]: [usize; 3]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Devices: {cameras} camera(s), {microphones} microphone(s), {speakers} speaker(s)"
    );
    match &report.signaling {
        Some(SignalingCheck::Reached {
            url,
            join_ms,
            ice_servers,
        }) => {
            let _ = writeln!(
                out,
                "Signaling {url}: joined in {join_ms} ms; it hands out {ice_servers} ICE server(s)"
            );
        }
        Some(SignalingCheck::Failed { url, error }) => {
            let _ = writeln!(out, "Signaling {url}: FAILED: {error}");
        }
        None => {}
    }
    let host = if report.host.is_empty() {
        "none".to_string()
    } else {
        report.host.join(", ")
    };
    let _ = writeln!(out, "This machine's addresses: {host}");
    for server in &report.servers {
        let result = match &server.result {
            ServerResult::Reflexive { address } => format!("ok, you are {address} from outside"),
            ServerResult::Relay { address } => format!("ok, relay {address}"),
            ServerResult::Timeout => "FAILED: no answer".into(),
            ServerResult::Blocked => "FAILED: blocked by this machine's firewall".into(),
            ServerResult::WrongCredentials => "FAILED: wrong username or credential (401)".into(),
            ServerResult::Forbidden => "FAILED: allocation refused (403)".into(),
            ServerResult::Failed { reason } => format!("FAILED: {reason}"),
        };
        let _ = writeln!(out, "{}: {result}", server.url);
    }
    for (i, line) in report.advice.iter().enumerate() {
        let _ = writeln!(out, "{}{line}", if i == 0 { "\n" } else { "  - " });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_flags_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!(parse_video("camera:2"), Ok(VideoInput::Camera(Some(2))));
        assert_eq!(parse_video("none"), Ok(VideoInput::None));
        assert!(
            parse_video("camera:x")
                .unwrap_err()
                .contains("camera number")
        );
        assert!(parse_video("webcam").unwrap_err().contains("expected"));
        assert_eq!(
            parse_audio("mic:hw:1"),
            Ok(AudioInput::Microphone(Some("hw:1".into())))
        );
        assert_eq!(parse_speaker("none"), Ok(AudioOutput::Null));
        assert_eq!(Switch::On.asked(), Some(true));
        assert_eq!(Switch::Auto.asked(), None);
    }

    #[test]
    fn turn_over_tls_takes_a_ca_file() {
        #[derive(clap::Parser)]
        struct Flags {
            #[command(flatten)]
            ice: IceArgs,
        }
        let flags = <Flags as clap::Parser>::parse_from([
            "peercall",
            "--turn",
            "turns:turn.example.org:5349",
            "--turn-username",
            "u",
            "--turn-credential",
            "c",
            "--turn-ca",
            "ca.pem",
            "--relay-only",
        ]);
        let ice = flags.ice.options();
        assert_eq!(ice.turn_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(
            ice.turn.map(|t| t.url).as_deref(),
            Some("turns:turn.example.org:5349")
        );
        // The CA alone applies to the server's TURN URLs.
        let flags = <Flags as clap::Parser>::parse_from(["peercall", "--turn-ca", "ca.pem"]);
        assert_eq!(flags.ice.options().turn_ca, Some(PathBuf::from("ca.pem")));
    }

    #[test]
    fn a_bind_address_may_leave_the_port_out_and_ipv6_may_go_without_brackets() {
        for (given, meant) in [
            ("127.0.0.1", "127.0.0.1:0"),
            ("0.0.0.0:5000", "0.0.0.0:5000"),
            ("[::1]", "[::1]:0"),
            ("::1", "[::1]:0"),
            ("[::]:5000", "[::]:5000"),
        ] {
            assert_eq!(parse_bind(given), Ok(meant.parse().unwrap()), "{given}");
        }
        for wrong in ["localhost", "127.0.0.1:http", "", "1.2.3"] {
            let err = parse_bind(wrong).unwrap_err();
            assert!(
                err.contains("expected an IP address") && err.contains(wrong),
                "{err}"
            );
        }
    }

    #[test]
    fn the_video_codec_flag_takes_h264_vp8_or_vp9_and_names_them_when_wrong() {
        assert_eq!(parse_codec("vp8"), Ok(VideoCodec::Vp8));
        assert_eq!(parse_codec("VP9"), Ok(VideoCodec::Vp9));
        assert_eq!(parse_codec("h264"), Ok(VideoCodec::H264));
        let err = parse_codec("av1").unwrap_err();
        assert!(err.contains("h264, vp8 or vp9"), "{err}");
    }
}
