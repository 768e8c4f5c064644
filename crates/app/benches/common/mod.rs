//! Shared by the benchmarks: the signaling server in-process, and their flags.

use std::net::SocketAddr;

/// A signaling server on 127.0.0.1 that runs until the benchmark ends.
#[allow(dead_code)] // each bench uses what it needs
pub async fn server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(signaling_server::serve(
        listener,
        signaling_server::Config::default(),
        std::future::pending(),
    ));
    addr
}

/// [`server`] with `flags` (`--turn=…` and its credentials, say), as on the command line.
#[allow(dead_code)] // each bench uses what it needs
pub async fn server_with(flags: &[&str]) -> SocketAddr {
    use clap::Parser as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = signaling_server::Config::parse_from(
        std::iter::once("signaling-server").chain(flags.iter().copied()),
    );
    tokio::spawn(signaling_server::serve(
        listener,
        config,
        std::future::pending(),
    ));
    addr
}

/// The value after `--name` on the command line, else `default` (cargo bench passes
/// flags of its own, which are ignored).
#[allow(dead_code)] // each bench uses what it needs
pub fn flag<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

/// User + system CPU ticks (1/100 s) of a process or thread, from its `/proc/.../stat`
/// file (`/proc/PID/stat` or `/proc/PID/task/TID/stat`).
#[allow(dead_code)] // each bench uses what it needs
pub fn cpu_ticks(stat: impl AsRef<std::path::Path>) -> Option<u64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}
