//! The desktop app: one eframe/egui window for real calls.
//!
//! - [`model`]: the UI state and its rules (no egui, no engine: unit-tested);
//! - [`view`]: draws the model each frame and edits it;
//! - [`bridge`]: the engine side on the app's own tokio runtime, reached through
//!   channels; it runs calls, opens devices and the embedded signaling server;
//! - [`frames`] and [`video`]: pictures through short frame queues into textures.
//!
//! eframe owns the main thread. The UI never blocks on the engine: each frame it drains
//! events with `try_recv`, uploads the waiting pictures and sends commands; the engine
//! wakes it (`request_repaint`) when something arrives, so an idle window does not
//! repaint at all.

pub mod bridge;
pub mod chat;
pub mod frames;
pub mod model;
pub mod video;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use call::{AudioInput, AudioOutput, VideoInput};
use clap::Args;
use eframe::egui;
use media::VideoFormat;
use signaling_proto::RoomId;

use bridge::{Bridge, BridgeConfig};
use model::{
    AudioPick, CodecPick, Launch, Model, Settings, SpeakerPick, UiFigures, UploadMs, VideoPick,
};
use video::VideoTexture;

/// The frame rate of the video sent: what cameras give and the test pattern draws.
const SEND_FPS: f32 = 30.0;

/// The picture size sent by default: 720p, what the call engine is tuned and measured for.
const DEFAULT_WIDTH: u32 = 1280;
/// See [`DEFAULT_WIDTH`].
const DEFAULT_HEIGHT: u32 = 720;

/// The smallest picture side sent: one H.264 macroblock (and sides are even, for I420's
/// half-size colour planes).
const MIN_SIDE: u32 = 16;

/// Threads of the engine's runtime. It only moves packets and messages (capture and codecs
/// run on threads of their own), so two leave the other cores to the codecs.
const RUNTIME_THREADS: usize = 2;

/// The window's first size: room for 720p video beside the device panel.
pub(crate) const WINDOW_SIZE: [f32; 2] = [1280.0, 800.0];

/// The smallest window in which the call bar, the device panel and a video still fit.
const MIN_WINDOW_SIZE: [f32; 2] = [720.0, 480.0];

/// Flags of `peercall` with no subcommand (the window).
#[derive(Debug, Clone, Args)]
pub struct AppArgs {
    #[command(flatten)]
    pub log: crate::cli::LogArgs,
    /// Signaling server (`ws://…/ws` or `wss://…/ws`) instead of the embedded one.
    #[arg(long)]
    pub server: Option<String>,
    /// Join this room at once (on --server, else on the embedded server).
    #[arg(long)]
    pub room: Option<String>,
    /// Access token for a server that needs one (not saved; the Token field takes one
    /// too).
    #[arg(long, env = "PEERCALL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Name shown to the other peer (saved).
    #[arg(long)]
    pub name: Option<String>,
    /// Video to send: `test`, `camera`, `camera:N` or `none` (saved).
    #[arg(long, value_parser = crate::cli::parse_video)]
    pub video: Option<VideoInput>,
    /// Audio to send: `test`, `mic`, `mic:ID` or `none` (saved).
    #[arg(long, value_parser = crate::cli::parse_audio)]
    pub audio: Option<AudioInput>,
    /// Where received audio plays: `none`, `default` or a speaker id (saved).
    #[arg(long, value_parser = crate::cli::parse_speaker)]
    pub speaker: Option<AudioOutput>,
    /// Video codec to put first: `h264`, `vp8` or `vp9` (saved).
    #[arg(long, value_parser = crate::cli::parse_codec)]
    pub video_codec: Option<media::codec::VideoCodec>,
    /// Width of the video sent.
    #[arg(long, default_value_t = DEFAULT_WIDTH)]
    pub width: u32,
    /// Height of the video sent.
    #[arg(long, default_value_t = DEFAULT_HEIGHT)]
    pub height: u32,
    /// Call yourself: join a fresh room on the embedded server, where a second,
    /// windowless peer with the test pattern and tone answers.
    #[arg(long, conflicts_with_all = ["server", "room"])]
    pub self_call: bool,
    /// Hang up and close this many seconds after connecting, then print a summary line
    /// (for scripts and tests).
    #[arg(long)]
    pub duration: Option<f64>,
    /// UDP address to gather candidates on, with or without a port (repeatable;
    /// default: all interfaces except loopback).
    #[arg(long, default_value = "0.0.0.0:0", value_parser = crate::cli::parse_bind)]
    pub bind: Vec<SocketAddr>,
    /// Where the embedded signaling server listens (it also serves the browser client).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub ice: crate::cli::IceArgs,
}

/// Opens the window and runs until it closes.
pub fn run(args: AppArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.width >= MIN_SIDE
            && args.height >= MIN_SIDE
            && args.width % 2 == 0
            && args.height % 2 == 0,
        "--width and --height must be even and at least {MIN_SIDE}"
    );
    if let Some(room) = &args.room {
        RoomId::new(room.as_str()).map_err(|e| anyhow::anyhow!("--room: {e}"))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_THREADS)
        .enable_all()
        .build()
        .context("starting the call engine's runtime")?;
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("peercall")
            .with_inner_size(WINDOW_SIZE)
            .with_min_inner_size(MIN_WINDOW_SIZE),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    let summary = Arc::new(std::sync::Mutex::new(None));
    let printed = Arc::clone(&summary);
    eframe::run_native(
        "peercall",
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let wake: frames::Wake = Arc::new(move || ctx.request_repaint());
            let settings = cc
                .storage
                .and_then(|s| eframe::get_value::<Settings>(s, eframe::APP_KEY))
                .unwrap_or_default();
            Ok(Box::new(App::new(runtime, wake, settings, args, printed)))
        }),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot open a window: {e}. With no display, `peercall loopback` or `peercall call` run without one"
        )
    })?;
    if let Some(line) = summary.lock().ok().and_then(|mut s| s.take()) {
        println!("{line}");
    }
    Ok(())
}

/// The running app, a thin shell: the engine's events go into the model, the view draws
/// it, the model's commands go to the bridge, and the window closes when the model says.
pub struct App {
    model: Model,
    bridge: Bridge,
    remote: VideoTexture,
    local: VideoTexture,
    screen: VideoTexture,
    /// Kept for the life of the window: the bridge and calls run on it.
    _runtime: tokio::runtime::Runtime,
    /// The summary line printed when the window closes (with `--duration`).
    summary: Arc<std::sync::Mutex<Option<String>>>,
}

impl App {
    /// The app, with `settings` (saved or default) and the flags applied over them.
    pub fn new(
        runtime: tokio::runtime::Runtime,
        wake: frames::Wake,
        mut settings: Settings,
        args: AppArgs,
        summary: Arc<std::sync::Mutex<Option<String>>>,
    ) -> Self {
        apply_flags(&mut settings, &args);
        let bridge = Bridge::start(
            runtime.handle(),
            wake,
            BridgeConfig {
                bind: args.bind.clone(),
                format: VideoFormat {
                    width: args.width,
                    height: args.height,
                    fps: SEND_FPS,
                },
                embedded: Some(args.listen),
                watch_devices: true,
                ice: args.ice.options(),
            },
        );
        let mut model = Model::new(settings, launch(&args));
        if let Some(room) = &args.room {
            model.room = room.clone();
        }
        if let Some(token) = &args.token {
            model.token = token.clone();
        }
        Self {
            model,
            bridge,
            remote: VideoTexture::new("remote"),
            local: VideoTexture::new("local"),
            screen: VideoTexture::new("screen"),
            _runtime: runtime,
            summary,
        }
    }

    /// The picture path's figures, for the summary.
    fn ui_figures(&self) -> UiFigures {
        let counts = self.bridge.remote.counts();
        UiFigures {
            preview_shown: self.local.shown,
            remote_dropped: counts.dropped,
            remote_dropped_at: self.bridge.remote.dropped_at(),
            remote_received: counts.put,
            remote_shown: self.remote.shown,
            upload_ms: UploadMs::of(&self.remote.upload_times),
        }
    }

    /// Sends what the model queued to the bridge.
    fn send_commands(&mut self) {
        for command in self.model.outbox.drain(..) {
            self.bridge.send(command);
        }
    }
}

/// What the app does on its own, from its flags.
fn launch(args: &AppArgs) -> Launch {
    Launch {
        join_when_ready: args.self_call || args.room.is_some(),
        self_call: args.self_call,
        // A negative limit is none at all; one too long for a `Duration` is no limit.
        duration: args
            .duration
            .and_then(|s| Duration::try_from_secs_f64(s.max(0.0)).ok()),
    }
}

/// The flags override the saved choices.
fn apply_flags(settings: &mut Settings, args: &AppArgs) {
    if let Some(name) = &args.name {
        settings.name = name.clone();
    }
    if let Some(server) = &args.server {
        settings.server = server.clone();
    } else if args.self_call || args.room.is_some() {
        settings.server.clear();
    }
    if let Some(codec) = args.video_codec {
        settings.video_codec = CodecPick::of(Some(codec));
    }
    if let Some(video) = &args.video {
        settings.video = match video {
            VideoInput::Test => VideoPick::TestPattern,
            VideoInput::Camera(i) => VideoPick::Camera(i.unwrap_or(0)),
            VideoInput::None => VideoPick::Off,
        };
    }
    if let Some(audio) = &args.audio {
        settings.audio = match audio {
            AudioInput::Test => AudioPick::TestTone,
            AudioInput::Microphone(id) => {
                AudioPick::Microphone(id.clone().unwrap_or_else(|| "default".into()))
            }
            AudioInput::None => AudioPick::Off,
        };
    }
    if let Some(speaker) = &args.speaker {
        settings.speaker = match speaker {
            AudioOutput::Speaker(id) => {
                SpeakerPick::Speaker(id.clone().unwrap_or_else(|| "default".into()))
            }
            AudioOutput::Null => SpeakerPick::Off,
        };
    }
}

impl eframe::App for App {
    fn update(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        tracing::trace!(target: "peercall::frame", "drawing a frame");
        let now = Instant::now();
        while let Some(event) = self.bridge.try_event() {
            self.model.handle_event(now, event);
        }
        // Pictures belong to a call: out of one, none is drawn or kept.
        if self.model.in_call() {
            self.remote.update(ctx, &self.bridge.remote);
            self.local.update(ctx, &self.bridge.local);
            if self.model.share.remote_sharing {
                self.screen.update(ctx, &self.bridge.screen);
            } else {
                self.screen.clear();
            }
        } else {
            self.remote.clear();
            self.local.clear();
            self.screen.clear();
        }
        view::show(
            ctx,
            &mut self.model,
            view::Pictures {
                remote: self.remote.picture(),
                local: self.local.picture(),
                screen: self.screen.picture(),
            },
        );
        self.model.handle_timeout(now);
        if self.model.take_close() {
            let line = serde_json::to_string(&self.model.summary(self.ui_figures()));
            *self.summary.lock().unwrap_or_else(|e| e.into_inner()) = line.ok();
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        self.send_commands();
        if let Some(at) = self.model.poll_timeout() {
            ctx.request_repaint_after(at.saturating_duration_since(now));
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.model.settings);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.model.exit();
        self.send_commands();
    }
}
