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
pub mod frames;
pub mod model;
pub mod video;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use call::{AudioInput, AudioOutput, CallOptions, CallState, VideoInput, run_call};
use clap::Args;
use eframe::egui;
use media::VideoFormat;
use signaling_proto::RoomId;

use bridge::{Bridge, BridgeConfig, Event};
use model::{AudioPick, Model, Phase, Settings, SpeakerPick, VideoPick};
use video::VideoTexture;

/// Flags of `peercall` with no subcommand (the window).
#[derive(Debug, Clone, Args)]
pub struct AppArgs {
    /// Signaling server (`ws://…/ws` or `wss://…/ws`) instead of the embedded one.
    #[arg(long)]
    pub server: Option<String>,
    /// Join this room at once (on --server, else on the embedded server).
    #[arg(long)]
    pub room: Option<String>,
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
    /// Width of the video sent.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    /// Height of the video sent.
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Call yourself: join a fresh room on the embedded server, where a second,
    /// windowless peer with the test pattern and tone answers.
    #[arg(long, conflicts_with_all = ["server", "room"])]
    pub self_call: bool,
    /// Hang up and close this many seconds after connecting, then print a summary line
    /// (for scripts and tests).
    #[arg(long)]
    pub duration: Option<f64>,
    /// UDP address to gather candidates on (repeatable; default: all interfaces except
    /// loopback).
    #[arg(long, default_value = "0.0.0.0:0")]
    pub bind: Vec<SocketAddr>,
    /// Where the embedded signaling server listens (it also serves the browser client).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// Opens the window and runs until it closes.
pub fn run(args: AppArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.width >= 16 && args.height >= 16 && args.width % 2 == 0 && args.height % 2 == 0,
        "--width and --height must be even and at least 16"
    );
    if let Some(room) = &args.room {
        RoomId::new(room.as_str()).map_err(|e| anyhow::anyhow!("--room: {e}"))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the call engine's runtime")?;
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("peercall")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([720.0, 480.0]),
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

/// The running app: the model, the bridge, the video textures.
pub struct App {
    model: Model,
    bridge: Bridge,
    remote: VideoTexture,
    local: VideoTexture,
    args: AppArgs,
    /// Kept for the life of the window: the bridge and calls run on it.
    runtime: tokio::runtime::Runtime,
    connected_at: Option<Instant>,
    /// Join as soon as the server runs and the devices are known (`--room`,
    /// `--self-call`): a missing camera then falls back to the test pattern first.
    join_when_ready: bool,
    devices_known: bool,
    second_peer: Option<tokio::sync::watch::Sender<bool>>,
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
                    fps: 30.0,
                },
                embedded: Some(args.listen),
                watch_devices: true,
            },
        );
        let join_when_ready = args.self_call || args.room.is_some();
        let mut model = Model::new(settings);
        if let Some(room) = &args.room {
            model.room = room.clone();
        }
        Self {
            model,
            bridge,
            remote: VideoTexture::new("remote"),
            local: VideoTexture::new("local"),
            args,
            runtime,
            connected_at: None,
            join_when_ready,
            devices_known: false,
            second_peer: None,
            summary,
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::State(state) => {
                tracing::info!(?state, "call state");
                if state == CallState::Connected && self.connected_at.is_none() {
                    self.connected_at = Some(Instant::now());
                }
                self.model.on_state(state);
            }
            Event::Stats(line) => self.model.stats = Some(*line),
            Event::Ended => {
                if self.model.in_call() {
                    self.model.phase = Phase::Idle;
                }
                self.remote.clear();
                self.local.clear();
            }
            Event::SwitchFailed { device, error } => self.model.on_switch_failed(device, &error),
            Event::Devices(devices) => {
                self.devices_known = true;
                self.model.on_devices(devices);
            }
            Event::Server(url) => {
                self.model.embedded = Some(url.clone());
                if self.args.self_call {
                    self.start_second_peer(&url);
                }
            }
            Event::ServerFailed(why) => {
                tracing::warn!(%why, "no embedded server");
                self.model.banner = Some(model::Banner {
                    text: why,
                    error: true,
                    fix: None,
                });
            }
        }
        if self.join_when_ready && self.devices_known && self.model.server_url().is_some() {
            self.join_when_ready = false;
            self.model.join();
        }
    }

    /// `--self-call`: a windowless peer with the test sources in the same room.
    fn start_second_peer(&mut self, server: &str) {
        let Ok(room) = RoomId::new(self.model.room.as_str()) else {
            return;
        };
        let mut options = CallOptions::new(server, room);
        options.bind = self.args.bind.clone();
        options.stay = true;
        options.format = VideoFormat {
            width: self.args.width,
            height: self.args.height,
            fps: 30.0,
        };
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        self.runtime.spawn(run_call(options, |_| {}, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        self.second_peer = Some(stop);
    }

    /// With `--duration`: hang up and close once that long has passed since connecting.
    fn check_duration(&mut self, ctx: &egui::Context) {
        let (Some(limit), Some(at)) = (self.args.duration, self.connected_at) else {
            return;
        };
        let left = Duration::from_secs_f64(limit.max(0.0)).saturating_sub(at.elapsed());
        if left.is_zero() {
            *self.summary.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.summary_line());
            self.model.hang_up();
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        } else {
            ctx.request_repaint_after(left);
        }
    }

    /// The UI's own figures, as one JSON line.
    fn summary_line(&self) -> String {
        let mut ms: Vec<f64> = self
            .remote
            .upload_times
            .iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        let pct = |q: f64| {
            ms.get(((ms.len().max(1) - 1) as f64 * q).round() as usize)
                .copied()
        };
        let counts = self.bridge.remote.counts();
        serde_json::json!({
            "ok": self.connected_at.is_some() && self.remote.shown > 0,
            "state": view::state_text(&self.model.phase).0,
            "banner": self.model.banner.as_ref().map(|b| b.text.clone()),
            "ui": {
                "remote_received": counts.put,
                "remote_shown": self.remote.shown,
                "remote_dropped": counts.dropped,
                "remote_dropped_at": self.bridge.remote.dropped_at(),
                "preview_shown": self.local.shown,
                "upload_ms": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99), "max": ms.last()},
            },
            "stats": self.model.stats,
            "settings": self.model.settings,
            "devices": self.model.devices,
        })
        .to_string()
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
        while let Some(event) = self.bridge.try_event() {
            self.on_event(event);
        }
        self.remote.update(ctx, &self.bridge.remote);
        self.local.update(ctx, &self.bridge.local);
        view::show(
            ctx,
            &mut self.model,
            view::Pictures {
                remote: self.remote.picture(),
                local: self.local.picture(),
            },
        );
        for command in self.model.outbox.drain(..) {
            self.bridge.send(command);
        }
        self.check_duration(ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.model.settings);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.bridge.send(model::Command::HangUp);
        if let Some(stop) = self.second_peer.take() {
            let _ = stop.send(true);
        }
    }
}
