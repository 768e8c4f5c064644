//! The engine side of the desktop app: a task on the app's tokio runtime that takes the
//! UI's [`Command`]s, runs calls with `run_call` (and the `--self-call` peer), opens
//! devices off the UI thread, and sends [`Event`]s back. The UI never waits on it:
//! commands go through an unbounded channel, events come back through one the UI drains
//! each frame, each event wakes the UI, and pictures arrive through [`FrameQueue`]s.
//!
//! The bridge decides nothing: each command is one effect, and what a call starts with
//! (toggles included) comes in its [`JoinRequest`]. The model decides.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use call::{
    CallCommand, CallEvent, CallOptions, FrameSink, MediaSwitches, ProcessingOptions, open_audio,
    open_speaker, open_video, run_call, run_call_with,
};
use clap::Parser as _;
use media::{DeviceKind, VideoFormat};
use signaling_proto::RoomId;
use tokio::sync::{mpsc, watch};

use super::chat::ChatEvent;

/// The picker takes thumbnails of at most this many sources (each is one picture read).
const MAX_THUMBNAILS: usize = 48;
use super::frames::{FrameQueue, Wake};
use super::model::{AudioPick, Command, Device, Devices, Event, JoinRequest, VideoPick};

/// How often the device lists are read again: a device plugged in shows within this
/// long, and the queries (which block, and are slow on some systems) stay rare.
const DEVICE_POLL: Duration = Duration::from_secs(2);

/// Pictures at least this wide are previewed at a quarter of their size, smaller ones
/// at half: the preview is drawn at a quarter of the window's width, so a quarter-size
/// copy of 720p is plenty, and a sixteenth of the upload.
const QUARTER_PREVIEW_FROM_WIDTH: u32 = 640;

/// How the bridge runs calls.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    /// UDP addresses to gather ICE candidates on.
    pub bind: Vec<SocketAddr>,
    /// Video size and rate sent.
    pub format: VideoFormat,
    /// Where the embedded signaling server listens (`None`: no embedded server).
    pub embedded: Option<SocketAddr>,
    /// Look for devices (off in tests, where the list is given).
    pub watch_devices: bool,
    /// STUN/TURN settings given on the command line.
    pub ice: call::IceOptions,
}

/// The UI's end of the bridge.
pub struct Bridge {
    commands: mpsc::UnboundedSender<Command>,
    events: std_mpsc::Receiver<Event>,
    /// Decoded remote pictures.
    pub remote: Arc<FrameQueue>,
    /// Local preview pictures.
    pub local: Arc<FrameQueue>,
    /// The other peer's screen share.
    pub screen: Arc<FrameQueue>,
}

impl Bridge {
    /// Starts the bridge task on `runtime` (and the device watcher and embedded server
    /// `config` asks for); `wake` asks the UI to redraw.
    pub fn start(runtime: &tokio::runtime::Handle, wake: Wake, config: BridgeConfig) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        let (tx, events) = std_mpsc::channel();
        let events_out = Events {
            tx,
            wake: Arc::clone(&wake),
        };
        let remote = FrameQueue::new(Arc::clone(&wake));
        let screen = FrameQueue::new(Arc::clone(&wake));
        let local = FrameQueue::new(wake);
        if let Some(addr) = config.embedded {
            runtime.spawn(embedded_server(addr, events_out.clone()));
        }
        if config.watch_devices {
            watch_devices(events_out.clone());
        }
        runtime.spawn(run(
            rx,
            events_out,
            Queues {
                remote: Arc::clone(&remote),
                local: Arc::clone(&local),
                screen: Arc::clone(&screen),
            },
            config,
        ));
        Self {
            commands,
            events,
            remote,
            local,
            screen,
        }
    }

    /// Queues a command (never blocks).
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// The next event, if one is waiting (never blocks).
    pub fn try_event(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }
}

/// Sends events to the UI and wakes it.
#[derive(Clone)]
struct Events {
    tx: std_mpsc::Sender<Event>,
    wake: Wake,
}

impl Events {
    fn send(&self, event: Event) {
        let _ = self.tx.send(event);
        (self.wake)();
    }
}

/// The call running now.
struct Running {
    hangup: watch::Sender<bool>,
    switches: MediaSwitches,
    /// Chat lines (and later the screen share) for the call.
    commands: mpsc::UnboundedSender<CallCommand>,
}

/// Where a call's pictures go.
struct Queues {
    remote: Arc<FrameQueue>,
    local: Arc<FrameQueue>,
    screen: Arc<FrameQueue>,
}

async fn run(
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: Events,
    queues: Queues,
    config: BridgeConfig,
) {
    let mut running: Option<Running> = None;
    // The `--self-call` peer's stop switch, while it runs.
    let mut self_call_peer: Option<watch::Sender<bool>> = None;
    while let Some(command) = commands.recv().await {
        let switches = running.as_ref().map(|r| r.switches.clone());
        match command {
            Command::Join(request) => {
                if let Some(old) = running.take() {
                    let _ = old.hangup.send(true);
                }
                running = Some(start_call(request, &config, &events, &queues));
            }
            Command::HangUp => {
                if let Some(call) = running.take() {
                    let _ = call.hangup.send(true);
                }
            }
            Command::StartSelfCallPeer { server, room } => {
                if let Some(old) =
                    self_call_peer.replace(start_self_call_peer(server, room, &config))
                {
                    let _ = old.send(true);
                }
            }
            Command::StopSelfCallPeer => {
                if let Some(stop) = self_call_peer.take() {
                    let _ = stop.send(true);
                }
            }
            Command::ListShareables => {
                let events = events.clone();
                tokio::task::spawn_blocking(move || {
                    let list = media::screen::shareables().map_err(|e| e.to_string());
                    let targets: Vec<_> = list
                        .iter()
                        .flatten()
                        .map(|s| s.target)
                        .take(MAX_THUMBNAILS)
                        .collect();
                    events.send(Event::Shareables(list));
                    // One small picture per source, after the names: the picker shows
                    // the list at once and each thumbnail as it comes.
                    for target in targets {
                        match media::screen::thumbnail(
                            target,
                            media::screen::THUMBNAIL_WIDTH,
                            media::screen::THUMBNAIL_HEIGHT,
                        ) {
                            Ok(Some(picture)) => events.send(Event::Thumbnail(target, picture)),
                            Ok(None) => {}
                            Err(err) => tracing::debug!(?target, %err, "no thumbnail"),
                        }
                    }
                });
            }
            Command::StartShare(target) => {
                if let Some(call) = &running {
                    let fps = media::screen::DEFAULT_SHARE_FPS;
                    let _ = call.commands.send(CallCommand::StartShare(target, fps));
                }
            }
            Command::StopShare => {
                if let Some(call) = &running {
                    let _ = call.commands.send(CallCommand::StopShare);
                }
            }
            Command::Chat(text) => {
                if let Some(call) = &running {
                    let _ = call.commands.send(CallCommand::Chat(text));
                }
            }
            Command::SendFile(path) => {
                if let Some(call) = &running {
                    let _ = call.commands.send(CallCommand::SendFile(path));
                }
            }
            Command::CancelFile(id) => {
                if let Some(call) = &running {
                    let _ = call.commands.send(CallCommand::CancelFile(id));
                }
            }
            Command::Mute(muted) => {
                if let Some(s) = switches {
                    s.audio.set_muted(muted);
                }
            }
            Command::CameraOff(off) => {
                if let Some(s) = switches {
                    s.video.set_blank(off);
                }
            }
            Command::Volume(volume) => {
                if let Some(s) = switches {
                    s.speaker.set_volume(volume);
                }
            }
            Command::Processing(processing) => {
                if let Some(s) = switches {
                    s.processing.set(processing);
                }
            }
            Command::Video(pick) => {
                // Nothing to open for "no video" (the model sends `CameraOff` for it).
                let Some(switches) = switches.filter(|_| pick != VideoPick::Off) else {
                    continue;
                };
                let (events, format) = (events.clone(), config.format);
                tokio::task::spawn_blocking(move || match open_video(&pick.input(), format) {
                    Ok(source) => switches.video.replace(source),
                    Err(err) => events.send(Event::SwitchFailed {
                        device: DeviceKind::Camera,
                        error: err.to_string(),
                    }),
                });
            }
            Command::Audio(pick) => {
                // Nothing to open for "no audio" (the model sends `Mute` for it).
                let Some(switches) = switches.filter(|_| pick != AudioPick::Off) else {
                    continue;
                };
                let events = events.clone();
                tokio::task::spawn_blocking(move || match open_audio(&pick.input()) {
                    Ok(source) => switches.audio.replace(source),
                    Err(err) => events.send(Event::SwitchFailed {
                        device: DeviceKind::Microphone,
                        error: err.to_string(),
                    }),
                });
            }
            Command::Speaker(pick) => {
                let Some(switches) = switches else { continue };
                let events = events.clone();
                tokio::task::spawn_blocking(move || match open_speaker(&pick.output()) {
                    Ok(sink) => switches.speaker.replace(sink),
                    Err(err) => events.send(Event::SwitchFailed {
                        device: DeviceKind::Speaker,
                        error: err.to_string(),
                    }),
                });
            }
        }
    }
    if let Some(call) = running {
        let _ = call.hangup.send(true);
    }
    if let Some(stop) = self_call_peer {
        let _ = stop.send(true);
    }
}

/// Starts a call as `request` says, its remote pictures and preview going to the UI.
fn start_call(
    request: JoinRequest,
    config: &BridgeConfig,
    events: &Events,
    queues: &Queues,
) -> Running {
    let (remote, local) = (&queues.remote, &queues.local);
    let mut options = CallOptions::new(request.server, request.room);
    options.name = request.name;
    // Files the other peer sends go where the desktop keeps downloads.
    options.files_dir = dirs::download_dir().or_else(dirs::home_dir);
    options.token = request.token;
    options.bind = config.bind.clone();
    options.ice = config.ice.clone();
    options.format = config.format;
    options.video = request.video.input();
    options.audio = request.audio.input();
    options.speaker = request.speaker.output();
    options.video_codec = request.video_codec;
    options.processing = ProcessingOptions {
        echo_cancellation: Some(request.processing.echo_cancellation),
        noise_suppression: Some(request.processing.noise_suppression),
        gain_control: Some(request.processing.gain_control),
    };
    options.stay = true;
    remote.clear();
    local.clear();
    let remote = Arc::clone(remote);
    options.remote_video = Some(FrameSink(Arc::new(move |p| remote.put(p))));
    queues.screen.clear();
    let screen = Arc::clone(&queues.screen);
    options.remote_screen = Some(FrameSink(Arc::new(move |p| screen.put(p))));
    let switches = options.switches.clone();
    let preview = Arc::clone(local);
    switches
        .video
        .set_tap(Some(Arc::new(move |p: &media::VideoFrame| {
            let small = if p.width() >= QUARTER_PREVIEW_FROM_WIDTH {
                p.halved().halved()
            } else {
                p.halved()
            };
            preview.put(&small);
        })));
    switches.audio.set_muted(request.muted);
    switches.video.set_blank(request.camera_off);
    switches.speaker.set_volume(request.volume);
    let (hangup, mut hung_up) = watch::channel(false);
    let (commands, inbox) = mpsc::unbounded_channel();
    let events = events.clone();
    tokio::spawn(async move {
        let on_event = {
            let events = events.clone();
            move |event| match event {
                CallEvent::State(state) => events.send(Event::State(state)),
                CallEvent::Stats(line) => events.send(Event::Stats(line)),
                CallEvent::ChatReceived(m) => events.send(Event::Chat(ChatEvent::Received(m))),
                CallEvent::ChatSent(m) => events.send(Event::Chat(ChatEvent::Sent(m))),
                CallEvent::ChatFailed(e) => events.send(Event::Chat(ChatEvent::Failed(e))),
                CallEvent::Share(share) => events.send(Event::Share(share)),
                CallEvent::File(file) => events.send(Event::Chat(ChatEvent::File(file))),
                _ => {}
            }
        };
        let hangup = async move {
            let _ = hung_up.wait_for(|h| *h).await;
        };
        run_call_with(options, on_event, hangup, inbox).await;
        events.send(Event::Ended);
    });
    Running {
        hangup,
        switches,
        commands,
    }
}

/// `--self-call`: a windowless peer with the test pattern and tone in `room`, which
/// stays for the next call when one ends; it stops when its switch is set.
fn start_self_call_peer(
    server: String,
    room: RoomId,
    config: &BridgeConfig,
) -> watch::Sender<bool> {
    let mut options = CallOptions::new(server, room);
    options.bind = config.bind.clone();
    options.stay = true;
    options.format = config.format;
    let (stop, mut stopped) = watch::channel(false);
    tokio::spawn(run_call(options, |_| {}, async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    stop
}

/// Runs the embedded signaling server on `addr`, saying where it listens or why not.
async fn embedded_server(addr: SocketAddr, events: Events) {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            let bound = listener.local_addr().map_or(addr, |a| a);
            events.send(Event::Server(format!("ws://{bound}/ws")));
            let config = signaling_server::Config::parse_from(["signaling-server"]);
            if let Err(err) = signaling_server::serve(listener, config, std::future::pending()).await
            {
                events.send(Event::ServerFailed(format!(
                    "The embedded signaling server stopped: {err}"
                )));
            }
        }
        Err(err) => events.send(Event::ServerFailed(format!(
            "The embedded signaling server cannot listen on {addr}: {err}. Type a server URL instead."
        ))),
    }
}

/// Lists devices now and every [`DEVICE_POLL`] on a thread of its own (the queries
/// block), sending the lists whenever they change.
fn watch_devices(events: Events) {
    let spawned = std::thread::Builder::new()
        .name("device-watch".into())
        .spawn(move || {
            let mut last = None;
            loop {
                let now = Devices {
                    cameras: media::camera::cameras()
                        .into_iter()
                        .map(|c| Device {
                            id: c.index.to_string(),
                            name: c.name,
                        })
                        .collect(),
                    microphones: audio_devices(media::audio::microphones()),
                    speakers: audio_devices(media::audio::speakers()),
                };
                if last.as_ref() != Some(&now) {
                    last = Some(now.clone());
                    // The UI is gone: stop watching.
                    if events.tx.send(Event::Devices(now)).is_err() {
                        return;
                    }
                    (events.wake)();
                }
                std::thread::sleep(DEVICE_POLL);
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "no device watcher: the device lists will not refresh");
    }
}

/// Audio devices as the pickers list them.
fn audio_devices(list: Vec<media::audio::AudioDevice>) -> Vec<Device> {
    list.into_iter()
        .map(|d| Device {
            id: d.id,
            name: d.name,
        })
        .collect()
}
