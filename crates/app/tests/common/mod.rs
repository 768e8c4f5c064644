//! What the app's end-to-end tests share: a signaling server on 127.0.0.1, and the
//! desktop app started on a virtual display with settings of its own, killed when dropped,
//! what its log says (call states, frames drawn), and the summary line it prints last.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use clap::Parser as _;
use serde_json::Value;
use tokio::sync::oneshot;

/// A signaling server on 127.0.0.1 (serving the web client), with `flags`; it stops when
/// the returned sender fires or drops.
pub async fn signaling_server(flags: &[&str]) -> (std::net::SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = signaling_server::Config::parse_from(
        std::iter::once("signaling-server").chain(flags.iter().copied()),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(signaling_server::serve(listener, config, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// A child process, killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The desktop app's process, what its log says as it runs.
pub struct Window {
    /// The process, killed when dropped.
    pub process: Killed,
    /// Its call states as they change (`Waiting`, `Connected`...).
    pub states: mpsc::Receiver<String>,
    /// How many frames its UI has drawn so far.
    #[allow(dead_code, reason = "the browser tests do not count frames")]
    pub frames: Arc<AtomicU64>,
}

/// The desktop app on `display`, with a settings (and home) directory of its own, and
/// `args`.
pub fn app_window(display: &str, settings: &Path, args: &[&str]) -> Window {
    app_window_with_env(display, settings, args, &[])
}

/// [`app_window`] with more environment (a sound server's address, say).
pub fn app_window_with_env(
    display: &str,
    settings: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Window {
    let mut child = Command::new(env!("CARGO_BIN_EXE_peercall"))
        .envs(env.iter().copied())
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .env("DISPLAY", display)
        .env("XDG_DATA_HOME", settings)
        .env("XDG_CONFIG_HOME", settings)
        .env("HOME", settings)
        .env("RUST_LOG", "warn,peercall=info,peercall::frame=trace")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (states, receiver) = mpsc::channel();
    let frames = Arc::new(AtomicU64::new(0));
    let drawn = Arc::clone(&frames);
    let log = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in log.lines().map_while(Result::ok) {
            if line.contains("peercall::frame") {
                drawn.fetch_add(1, Ordering::Relaxed);
            } else if let Some((_, state)) = line.split_once("state=") {
                let state = state.split_whitespace().next().unwrap_or_default();
                let _ = states.send(state.to_string());
            }
        }
    });
    Window {
        process: Killed(child),
        states: receiver,
        frames,
    }
}

impl Window {
    /// Waits (up to 20 s, on this thread) until the app's call is in `state`.
    pub fn wait_state(&self, state: &str) {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.states.recv_timeout(left) {
                Ok(s) if s == state => return,
                Ok(_) => {}
                Err(err) => panic!("the app never reached {state}: {err}"),
            }
        }
    }

    /// The summary line the app prints last, once it has closed.
    #[allow(dead_code, reason = "the hostile-peer test kills the app instead")]
    pub async fn summary(mut self) -> Value {
        tokio::task::spawn_blocking(move || last_line(&mut self.process.0))
            .await
            .unwrap()
    }
}

/// The summary line the app (or `peercall call`) prints last, once it has ended.
#[allow(dead_code, reason = "the hostile-peer test kills the app instead")]
fn last_line(child: &mut Child) -> Value {
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let _ = child.wait();
    out.lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no summary line in:\n{out}"))
}
