//! `peercall`: the command-line face of peercall.
//!
//! So far `peercall devices`, which lists cameras (with formats), microphones and
//! speakers, and `peercall loopback`, which starts the signaling server in-process and
//! calls itself over real ICE/DTLS/SRTP on 127.0.0.1 with the test sources. `peercall
//! call` and the desktop window build on the same engine.

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// peercall: native WebRTC video calls.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Call yourself: the embedded signaling server and two peers in this process, over
    /// real ICE/DTLS/SRTP on 127.0.0.1, with the test pattern and tone. Prints one JSON
    /// line per peer per second, then a summary; exits 0 when media flowed both ways.
    Loopback {
        /// Seconds to stay connected.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Test pattern width.
        #[arg(long, default_value_t = 640)]
        width: u32,
        /// Test pattern height.
        #[arg(long, default_value_t = 480)]
        height: u32,
        /// Test pattern frame rate.
        #[arg(long, default_value_t = 30.0)]
        fps: f32,
        /// Video bitrate, kbit/s.
        #[arg(long, default_value_t = 1_000)]
        bitrate: u32,
    },
    /// List cameras (with their formats), microphones and speakers.
    Devices {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command {
        Command::Devices { json } => devices(json),
        Command::Loopback {
            duration,
            width,
            height,
            fps,
            bitrate,
        } => {
            let video = media::VideoFormat { width, height, fps };
            let runtime = tokio::runtime::Runtime::new()?;
            let ok = runtime.block_on(loopback(video, bitrate * 1000, duration))?;
            if !ok {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

/// Runs the loopback call; `Ok(false)` when it connected but media did not flow both ways.
async fn loopback(video: media::VideoFormat, bitrate: u32, seconds: u64) -> anyhow::Result<bool> {
    use anyhow::Context as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot open a local port for the embedded signaling server")?;
    let server = format!("ws://{}/ws", listener.local_addr()?);
    tokio::spawn(signaling_server::serve(
        listener,
        signaling_server::Config::default(),
        std::future::pending(),
    ));
    let options = |_: &str| call::engine::CallOptions {
        server: server.clone(),
        room: signaling_proto::RoomId::new("loopback").expect("a valid room name"),
        bind: vec!["127.0.0.1:0".parse().expect("an address")],
        video,
        video_bitrate: bitrate,
        duration: std::time::Duration::from_secs(seconds),
    };
    let print = |peer: &'static str| {
        move |line: &call::engine::StatsLine| {
            let mut value = serde_json::to_value(line).unwrap_or_default();
            value["peer"] = serde_json::json!(peer);
            println!("{value}");
        }
    };
    let first = tokio::spawn(call::engine::run_call(options("a"), print("a")));
    // The second peer joins a moment later, as the callee, and answers the held offer.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = tokio::spawn(call::engine::run_call(options("b"), print("b")));
    let (a, b) = (first.await?, second.await?);
    let (ok, reason) = match (&a, &b) {
        (Ok(a), Ok(b)) => {
            let flowed = |s: &call::engine::Summary| {
                s.last.video_frames_decoded > 0
                    && s.last.audio_marks > 0
                    && s.video_out_of_order == 0
            };
            if flowed(a) && flowed(b) {
                (true, "media flowed both ways".to_string())
            } else {
                (
                    false,
                    "connected, but media did not flow both ways".to_string(),
                )
            }
        }
        (Err(e), _) | (_, Err(e)) => (false, e.to_string()),
    };
    let summary = serde_json::json!({
        "summary": {
            "a": a.as_ref().ok(),
            "b": b.as_ref().ok(),
        },
        "ok": ok,
        "reason": reason,
    });
    println!("{summary}");
    Ok(ok)
}

/// Prints the devices there are, or "none found" for each kind that has none.
fn devices(json: bool) {
    let cameras = media::camera::cameras();
    let microphones = media::audio::microphones();
    let speakers = media::audio::speakers();
    if json {
        let audio = |list: &[media::audio::AudioDevice]| {
            list.iter()
                .map(|d| serde_json::json!({"id": d.id, "name": d.name}))
                .collect::<Vec<_>>()
        };
        let cameras: Vec<_> = cameras
            .iter()
            .map(|c| serde_json::json!({"index": c.index, "name": c.name, "formats": c.formats}))
            .collect();
        let out = serde_json::json!({
            "cameras": cameras,
            "microphones": audio(&microphones),
            "speakers": audio(&speakers),
        });
        println!("{out}");
        return;
    }
    println!("Cameras:");
    if cameras.is_empty() {
        println!("  none found (the test pattern stands in for a camera)");
    }
    for camera in &cameras {
        println!("  {camera}");
        for format in &camera.formats {
            println!("      {format}");
        }
    }
    for (title, list, fallback) in [
        (
            "Microphones",
            &microphones,
            "the test tone stands in for a microphone",
        ),
        (
            "Speakers",
            &speakers,
            "calls still work; received audio is not played",
        ),
    ] {
        println!("{title}:");
        if list.is_empty() {
            println!("  none found ({fallback})");
        }
        for device in list.iter() {
            println!("  {device}");
        }
    }
}
