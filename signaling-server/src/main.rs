//! `signaling-server`: the peercall signaling relay as a command.
//!
//! Parses flags, sets up logging, binds the listen address and runs
//! [`signaling_server::serve`] until SIGINT or SIGTERM; or, as `signaling-server token`,
//! prints an access token for a server started with `--auth-secret`.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use signaling_proto::{PeerName, RoomId};
use signaling_server::auth::{MIN_SECRET_LEN, TokenKey};
use tracing_subscriber::EnvFilter;

/// The version, with the git revision built from (`-modified` if the sources were).
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let revision = git_version::git_version!(
        args = ["--always", "--dirty=-modified"],
        fallback = "unknown revision"
    );
    format!("{} ({revision})", env!("CARGO_PKG_VERSION"))
});

/// The peercall signaling relay: relays offers, answers and ICE candidates between the
/// peers of a room over WebSocket (`/ws`), and serves the browser client at `/`.
#[derive(Debug, Parser)]
#[command(version = VERSION.as_str(), args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Address to listen on for HTTP and WebSocket (use 0.0.0.0:8080 to accept other machines).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,

    /// Worker threads of the server (default: one per CPU core). Instances that share a
    /// machine each get their share of the cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,

    #[command(flatten)]
    server: signaling_server::Config,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print an access token for one room, for a server started with the same
    /// --auth-secret: the token alone on stdout (what it allows on stderr). Peers pass it
    /// as `--token` (peercall) or `?token=` (the browser client).
    Token(TokenArgs),
}

/// `signaling-server token`.
#[derive(Debug, Args)]
struct TokenArgs {
    /// The server's --auth-secret.
    #[arg(
        long,
        value_name = "SECRET",
        env = "SIGNALING_AUTH_SECRET",
        hide_env_values = true
    )]
    auth_secret: String,
    /// The room the token lets its holder join.
    #[arg(long)]
    room: String,
    /// The only name its holder may join under (none: any name).
    #[arg(long)]
    name: Option<String>,
    /// Seconds the token is accepted for, from now (a call that joined in time may go
    /// on, and come back after a network change, past it).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    ttl: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Token(args)) = cli.command {
        return token(args);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    cli.server.validate()?;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(err) => tracing::warn!(%err, "could not raise the open file limit"),
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(threads) = cli.threads {
        runtime.worker_threads(threads.into());
    }
    let runtime = runtime.build().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(cli.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}: is another server using it? Pick another --listen",
                    cli.listen
                )
            })?;
        let addr = listener.local_addr()?;
        let (http, ws) = if cli.server.tls_cert.is_some() {
            ("https", "wss")
        } else {
            ("http", "ws")
        };
        println!("peercall signaling server: {http}://{addr}/  (WebSocket: {ws}://{addr}/ws)");
        signaling_server::serve(listener, cli.server, shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// Prints a token for `args.room`: the token alone on stdout, what it allows on stderr.
fn token(args: TokenArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.auth_secret.len() >= MIN_SECRET_LEN,
        "--auth-secret must be at least {MIN_SECRET_LEN} bytes"
    );
    let room = RoomId::new(args.room).map_err(|e| anyhow::anyhow!("--room: {e}"))?;
    let name = args
        .name
        .map(PeerName::new)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let key = TokenKey::new(&args.auth_secret);
    let token = key.issue(&room, name.as_ref(), Duration::from_secs(args.ttl), now);
    let who = name.map_or("any name".to_string(), |n| format!("the name '{n}'"));
    eprintln!(
        "access token for room '{room}', {who}, accepted for {} s (until Unix time {}):",
        args.ttl,
        now.saturating_add(args.ttl)
    );
    println!("{token}");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
