//! `peercall`: the command-line face of peercall.
//!
//! `peercall call` joins a room on a signaling server and calls whoever is there, with
//! no window; `peercall loopback` starts the signaling server in-process and calls
//! itself over real ICE/DTLS/SRTP on 127.0.0.1; `peercall devices` lists cameras,
//! microphones and speakers. The calls print one JSON line a second on stdout and a
//! summary at the end; logs go to stderr.

mod cli;
mod desktop;
mod extras;
mod terminal;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use cli::{CallArgs, LoopbackArgs};

/// The version, with the git revision built from (`-modified` if the sources were).
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let revision = git_version::git_version!(
        args = ["--always", "--dirty=-modified"],
        fallback = "unknown revision"
    );
    format!("{} ({revision})", env!("CARGO_PKG_VERSION"))
});

/// peercall: native WebRTC video calls. With no subcommand, opens the window.
#[derive(Debug, Parser)]
#[command(version = VERSION.as_str(), args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    app: desktop::AppArgs,
}

impl Cli {
    /// How many times -v was given, to whichever command.
    fn verbosity(&self) -> u8 {
        match &self.command {
            None => self.app.log.verbose,
            Some(Command::Call(args)) => args.log.verbose,
            Some(Command::Loopback(args)) => args.log.verbose,
            Some(Command::Devices { log, .. }) => log.verbose,
            Some(Command::Doctor(args)) => args.log.verbose,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Join a room and call whoever is there (or wait for them), with no window. Prints
    /// one JSON line a second, then {"summary": …, "ok": …, "reason": …}; exits 0 only
    /// if the call connected and video and audio flowed both ways until it ended
    /// normally.
    Call(Box<CallArgs>),
    /// Call yourself: the embedded signaling server and two peers in this process, over
    /// real ICE/DTLS/SRTP on 127.0.0.1, with the test pattern and tone. Prints one JSON
    /// line per peer per second, then a summary; exits 0 when media flowed both ways.
    Loopback(Box<LoopbackArgs>),
    /// List cameras (with their formats), microphones and speakers.
    /// Check why a call would not connect: devices, the signaling server, and what each
    /// STUN and TURN server gives (from --stun/--turn, else the server's). Exits 0 when
    /// calls are expected to connect.
    Doctor(Box<cli::DoctorArgs>),
    Devices {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        log: cli::LogArgs,
    },
}

fn main() -> anyhow::Result<()> {
    limit_malloc_arenas();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(cli::log_filter(cli.verbosity()))),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let ok = match cli.command {
        None => {
            desktop::run(cli.app)?;
            true
        }
        Some(Command::Devices { json, .. }) => {
            devices(json);
            true
        }
        Some(Command::Call(args)) => tokio::runtime::Runtime::new()?.block_on(cli::call(*args))?,
        Some(Command::Doctor(args)) => {
            tokio::runtime::Runtime::new()?.block_on(cli::doctor(*args))?
        }
        Some(Command::Loopback(args)) => {
            tokio::runtime::Runtime::new()?.block_on(cli::loopback(*args))?
        }
    };
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

/// Caps glibc's malloc at two arenas. A call runs a dozen threads that allocate (the
/// runtime's, capture, codecs); with an arena each, freed memory scattered over them was
/// never reused across threads and a 720p call's resident memory crept up ~180 KiB a
/// minute. With two it stays flat, at no measurable CPU cost.
#[allow(unsafe_code)]
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hands the heap's free memory back to the system. Called when a call has ended and
/// the next one has not begun (`--stay`): what the call used is free by then but glibc
/// keeps it mapped, and a process that stays for a hundred calls would otherwise keep
/// the high-water mark of the busiest one, fragmented.
#[allow(unsafe_code)]
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the heap to the system.
    unsafe {
        libc::malloc_trim(0);
    }
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
