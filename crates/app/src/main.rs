//! `peercall`: the command-line face of peercall.
//!
//! So far `peercall devices`, which lists cameras (with formats), microphones and
//! speakers. The call subcommands and the desktop window build on the call engine.

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
    }
    Ok(())
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
