//! Load benchmark of the signaling server: `cargo bench -p signaling-server --bench relay_load`.
//!
//! Starts the real `signaling-server` binary as a child process and drives it from this
//! process over loopback WebSockets, then prints:
//! - concurrent connections held (each joined to a room, answering keepalive pings);
//! - server RSS per idle connection;
//! - relay throughput with N active rooms of 300-byte candidate messages (closed loop,
//!   a window of messages in flight per direction);
//! - relay latency p50/p90/p99/p99.9/max at a fixed offered rate (timestamps carried in the
//!   candidate text, measured send-to-receive by the clients);
//! - join-to-welcome latency p50/p99 (each room's two joins, one at a time).
//!
//! With `--cluster N` it starts a real `redis-server` and N instances with `--cluster`
//! instead, puts each room's two peers on different instances (when N > 1), skips the
//! capacity and memory figures, and adds the CPU Redis used during the throughput run.
//!
//! Figures are distributions or ratios over the run, since shared machines are noisy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex as AsyncMutex, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connections opened before the memory baseline, so allocator warm-up is not counted.
const WARM: usize = 200;

/// Load benchmark of the peercall signaling server.
#[derive(Debug, Parser)]
struct Args {
    /// Idle connections to open for the capacity and memory figures.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Active rooms (two peers each) for the throughput and latency figures.
    #[arg(long, default_value_t = 1_000)]
    rooms: usize,
    /// Seconds each throughput or latency measurement runs.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Offered load, in relayed messages per second, for the latency figure.
    #[arg(long, default_value_t = 20_000)]
    latency_rate: u64,
    /// Messages in flight per direction in the throughput run.
    #[arg(long, default_value_t = 32)]
    window: usize,
    /// Cluster mode: this many instances sharing one Redis (0: one plain server).
    #[arg(long, default_value_t = 0)]
    cluster: usize,
    /// Worker threads of each server process (its `--threads`; 0: one per core).
    #[arg(long, default_value_t = 0)]
    server_threads: u16,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let needed = (args.connections + 2 * args.rooms) as u64 + 500;
    let mut limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    if limit < needed {
        // Root may raise the hard limit too.
        let _ = rlimit::setrlimit(rlimit::Resource::NOFILE, needed, needed);
        limit = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft);
    }
    if limit < needed {
        bail!("open file limit is {limit}, need {needed}: raise the hard limit (ulimit -Hn)");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    if args.cluster > 0 {
        return run_cluster(args).await;
    }
    let server = Server::start(
        args.connections + WARM + 2 * args.rooms + 100,
        None,
        args.server_threads,
    )
    .await?;
    println!(
        "signaling-server relay benchmark (server pid {}, clients in this process)",
        server.pid
    );
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Capacity and memory.
    let warm = hold_idle(&server.url, WARM, "warm").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = server.rss_kib()?;
    let started = Instant::now();
    let idle = hold_idle(&server.url, args.connections, "idle").await?;
    let opened_in = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after = server.rss_kib()?;
    let held = idle.held();
    let per_conn = (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / held as f64;
    println!();
    println!(
        "connections held:          {held} of {} (opened in {:.1} s; target >= 10000)",
        args.connections,
        opened_in.as_secs_f64()
    );
    println!(
        "server RSS per idle conn:  {:.1} KiB  ({} KiB -> {} KiB; target <= 16 KiB)",
        per_conn / 1024.0,
        rss_before,
        rss_after
    );
    idle.close().await;
    warm.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Throughput and latency over active rooms.
    let rooms = Rooms::open(std::slice::from_ref(&server.url), args.rooms).await?;
    let joins = testkit::sorted(rooms.join_ms.clone());
    let (rate, cpu) = rooms
        .throughput(args.window, args.seconds, &[server.pid])
        .await;
    println!(
        "relay throughput:          {:.0} messages/s  ({} rooms, 300-byte candidates, window {}; target >= 100000); server CPU {:.0}% of one core",
        rate, args.rooms, args.window, cpu[0]
    );
    let (achieved, latencies, cpu) = rooms
        .latency(
            args.latency_rate,
            args.seconds,
            &[server.pid, std::process::id()],
        )
        .await;
    let p = |q: f64| percentile(&latencies, q);
    println!(
        "relay latency at {:.0}/s:   p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  ({} samples; target p99 <= 2 ms); CPU % of one core: server {:.0}, clients {:.0}",
        achieved,
        p(0.50),
        p(0.90),
        p(0.99),
        p(0.999),
        p(1.0),
        latencies.len(),
        cpu[0],
        cpu[1]
    );
    print_joins(&joins);
    rooms.close().await;
    println!(
        "\n{}",
        json!({
            "join_to_welcome_ms": {"p50": percentile(&joins, 0.5), "p99": percentile(&joins, 0.99)},
            "connections_held": held,
            "rss_per_idle_connection_kib": (per_conn / 1024.0 * 10.0).round() / 10.0,
            "throughput_msgs_per_s": rate.round(),
            "latency_rate_msgs_per_s": achieved.round(),
            "latency_ms": {"p50": p(0.5), "p90": p(0.9), "p99": p(0.99), "p999": p(0.999), "max": p(1.0)},
        })
    );
    server.stop().await;
    if held < args.connections as u64 {
        bail!("only {held} of {} connections were held", args.connections);
    }
    Ok(())
}

fn print_joins(joins: &[f64]) {
    println!(
        "join to welcome:           p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  ({} joins, one at a time)",
        percentile(joins, 0.5),
        percentile(joins, 0.99),
        percentile(joins, 1.0),
        joins.len()
    );
}

/// Cluster mode: `args.cluster` instances sharing one Redis; each room's peers on two
/// different instances.
async fn run_cluster(args: Args) -> anyhow::Result<()> {
    let Some(redis) = testkit::redis::RedisServer::start() else {
        return Ok(());
    };
    let redis_pid = redis.pid().context("redis-server is not running")?;
    let mut servers = Vec::new();
    for _ in 0..args.cluster {
        servers.push(
            Server::start(
                2 * args.rooms + 100,
                Some(&redis.url()),
                args.server_threads,
            )
            .await?,
        );
    }
    // Each instance answers once it has registered with Redis.
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    for url in &urls {
        let deadline = Instant::now() + Duration::from_secs(10);
        while connect(url).await.is_err() {
            if Instant::now() > deadline {
                bail!("{url} did not come up in cluster mode");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    println!(
        "signaling-server relay benchmark, cluster mode: {} instance(s) (pids {:?}) sharing redis-server {} (pid {redis_pid}), clients in this process",
        args.cluster,
        servers.iter().map(|s| s.pid).collect::<Vec<_>>(),
        redis.url(),
    );
    println!(
        "machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("(capacity and memory figures: see the plain run)");
    let rooms = Rooms::open(&urls, args.rooms).await?;
    let joins = testkit::sorted(rooms.join_ms.clone());
    let mut pids = vec![redis_pid];
    pids.extend(servers.iter().map(|s| s.pid));
    let (rate, cpu) = rooms.throughput(args.window, args.seconds, &pids).await;
    let redis_cpu = cpu[0];
    let rounded = |cpu: &[f64]| cpu.iter().map(|c| c.round()).collect::<Vec<f64>>();
    let instances_cpu = rounded(&cpu[1..]);
    let across = if args.cluster > 1 {
        "peers on different instances"
    } else {
        "one instance"
    };
    println!();
    println!(
        "relay throughput:          {rate:.0} messages/s  ({} rooms, {across}, 300-byte candidates, window {}); CPU % of one core: Redis {redis_cpu:.0}, instances {instances_cpu:?}",
        args.rooms, args.window
    );
    pids.push(std::process::id());
    let (achieved, latencies, cpu) = rooms.latency(args.latency_rate, args.seconds, &pids).await;
    let p = |q: f64| percentile(&latencies, q);
    println!(
        "relay latency at {:.0}/s:   p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  ({} samples; target p99 <= 3 ms); CPU % of one core: Redis {:.0}, instances {:?}, clients {:.0}",
        achieved,
        p(0.50),
        p(0.90),
        p(0.99),
        p(0.999),
        p(1.0),
        latencies.len(),
        cpu[0],
        rounded(&cpu[1..cpu.len() - 1]),
        cpu[cpu.len() - 1]
    );
    print_joins(&joins);
    rooms.close().await;
    println!(
        "\n{}",
        json!({
            "cluster_instances": args.cluster,
            "throughput_msgs_per_s": rate.round(),
            "redis_cpu_pct_of_one_core": redis_cpu.round(),
            "instances_cpu_pct_of_one_core": instances_cpu,
            "latency_rate_msgs_per_s": achieved.round(),
            "latency_ms": {"p50": p(0.5), "p90": p(0.9), "p99": p(0.99), "p999": p(0.999), "max": p(1.0)},
            "latency_cpu_pct_of_one_core": {"redis": cpu[0].round(), "instances": rounded(&cpu[1..cpu.len() - 1]), "clients": cpu[cpu.len() - 1].round()},
            "join_to_welcome_ms": {"p50": percentile(&joins, 0.5), "p99": percentile(&joins, 0.99)},
        })
    );
    for server in servers {
        server.stop().await;
    }
    drop(redis);
    Ok(())
}

/// CPU use of some processes over a measurement.
struct CpuMeter(Vec<(u32, Option<f64>)>);

impl CpuMeter {
    fn start(pids: &[u32]) -> Self {
        Self(pids.iter().map(|&pid| (pid, cpu_seconds(pid))).collect())
    }

    /// Each process's CPU use since `start`, in % of one core, over `elapsed` seconds.
    fn percent(&self, elapsed: f64) -> Vec<f64> {
        self.0
            .iter()
            .map(|&(pid, start)| match (cpu_seconds(pid), start) {
                (Some(end), Some(start)) => (end - start) / elapsed * 100.0,
                _ => f64::NAN,
            })
            .collect()
    }
}

/// CPU time (user + system) of process `pid` so far, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The `signaling-server` binary running as a child process.
struct Server {
    child: Child,
    pid: u32,
    url: String,
}

impl Server {
    async fn start(
        max_connections: usize,
        cluster: Option<&str>,
        threads: u16,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_signaling-server"));
        if let Some(redis) = cluster {
            command.args(["--cluster", redis]);
        }
        if threads > 0 {
            command.args(["--threads", &threads.to_string()]);
        }
        let mut child = command
            .args([
                "--listen",
                "127.0.0.1:0",
                "--rate",
                "1000000000",
                "--burst",
                "1000000000",
            ])
            .args(["--max-connections", &max_connections.to_string()])
            // Every load connection comes from 127.0.0.1: no per-host limits.
            .args(["--max-connections-per-ip", "0", "--join-rate-per-ip", "0"])
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start signaling-server")?;
        let pid = child.id().context("server exited at once")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        tokio::io::BufReader::new(stdout)
            .read_line(&mut line)
            .await?;
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("ws://"))
            .map(|w| w.trim_end_matches(')').to_string())
            .with_context(|| format!("no ws:// URL in {line:?}"))?;
        Ok(Self { child, pid, url })
    }

    fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS")
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(16 * 1024)
}

async fn connect(url: &str) -> anyhow::Result<Ws> {
    let (ws, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), true).await?;
    Ok(ws)
}

/// Joins `room` and returns the welcome.
async fn join(ws: &mut Ws, room: &str) -> anyhow::Result<Value> {
    ws.send(Message::Text(
        json!({"type": "join", "room": room}).to_string().into(),
    ))
    .await?;
    while let Some(frame) = ws.next().await {
        if let Message::Text(text) = frame? {
            let v: Value = serde_json::from_str(&text)?;
            if v["type"] == "welcome" {
                return Ok(v);
            }
            bail!("join refused: {text}");
        }
    }
    bail!("closed before welcome")
}

/// Idle connections, each joined to a room and answering pings.
struct Idle {
    stop: CancellationToken,
    tasks: tokio::task::JoinSet<()>,
    held: Arc<AtomicU64>,
}

impl Idle {
    fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    async fn close(mut self) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

async fn hold_idle(url: &str, count: usize, prefix: &str) -> anyhow::Result<Idle> {
    let stop = CancellationToken::new();
    let held = Arc::new(AtomicU64::new(0));
    let opening = Arc::new(Semaphore::new(128));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<bool>(count.max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let (url, stop, held, opening, ready) = (
            url.to_string(),
            stop.clone(),
            held.clone(),
            opening.clone(),
            ready_tx.clone(),
        );
        let room = format!("{prefix}-{}", i / 2);
        tasks.spawn(async move {
            let permit = opening.acquire_owned().await;
            let ws = async {
                let mut ws = connect(&url).await?;
                join(&mut ws, &room).await?;
                anyhow::Ok(ws)
            }
            .await;
            drop(permit);
            let Ok(mut ws) = ws else {
                let _ = ready.send(false).await;
                return;
            };
            held.fetch_add(1, Ordering::Relaxed);
            let _ = ready.send(true).await;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    frame = ws.next() => if !matches!(frame, Some(Ok(_))) { break },
                }
            }
            let _ = ws.close(None).await;
        });
    }
    drop(ready_tx);
    let mut failed = 0;
    for _ in 0..count {
        match ready_rx.recv().await {
            Some(true) => {}
            _ => failed += 1,
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {count} connections failed to open or join");
    }
    Ok(Idle { stop, tasks, held })
}

/// One direction of one room: a sender's sink and the window it may fill.
struct Direction {
    sink: SplitSink<Ws, Message>,
    to: String,
    window: Arc<Semaphore>,
}

/// Two-peer rooms with both directions wired up.
struct Rooms {
    senders: Vec<AsyncMutex<Direction>>,
    receivers: Vec<AsyncMutex<Receiver>>,
    /// Each join's time from sending `join` to the `welcome`, in ms.
    join_ms: Vec<f64>,
}

/// One direction's receiving end and the window it refills.
struct Receiver {
    stream: SplitStream<Ws>,
    window: Arc<Semaphore>,
}

impl Rooms {
    /// Opens `rooms` two-peer rooms, the peers of room `r` on `urls[r]` and
    /// `urls[r + 1]` (round the list).
    async fn open(urls: &[String], rooms: usize) -> anyhow::Result<Self> {
        let mut senders = Vec::with_capacity(2 * rooms);
        let mut receivers = Vec::with_capacity(2 * rooms);
        let mut join_ms = Vec::with_capacity(2 * rooms);
        for r in 0..rooms {
            let room = format!("active-{r}");
            let mut a = connect(&urls[r % urls.len()]).await?;
            let started = Instant::now();
            let a_id = join(&mut a, &room).await?["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            join_ms.push(started.elapsed().as_secs_f64() * 1e3);
            let mut b = connect(&urls[(r + 1) % urls.len()]).await?;
            let started = Instant::now();
            let b_id = join(&mut b, &room).await?["id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            join_ms.push(started.elapsed().as_secs_f64() * 1e3);
            // a hears peer-joined.
            a.next().await.context("closed")??;
            let (a_sink, a_stream) = a.split();
            let (b_sink, b_stream) = b.split();
            let (to_b, to_a) = (Arc::new(Semaphore::new(0)), Arc::new(Semaphore::new(0)));
            senders.push(AsyncMutex::new(Direction {
                sink: a_sink,
                to: b_id,
                window: to_b.clone(),
            }));
            senders.push(AsyncMutex::new(Direction {
                sink: b_sink,
                to: a_id,
                window: to_a.clone(),
            }));
            receivers.push(AsyncMutex::new(Receiver {
                stream: b_stream,
                window: to_b,
            }));
            receivers.push(AsyncMutex::new(Receiver {
                stream: a_stream,
                window: to_a,
            }));
        }
        Ok(Self {
            senders,
            receivers,
            join_ms,
        })
    }

    /// Closed loop: each direction keeps `window` messages in flight. Returns messages/s
    /// and the CPU use of each of `cpu_pids` over the measurement (% of one core).
    async fn throughput(&self, window: usize, seconds: f64, cpu_pids: &[u32]) -> (f64, Vec<f64>) {
        let received = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        let send = futures_util::future::join_all(self.senders.iter().map(|d| {
            let stop = stop.clone();
            async move {
                let d = &mut *d.lock().await;
                d.window.add_permits(window);
                let text = candidate(&d.to, 0);
                loop {
                    let permit = tokio::select! {
                        () = stop.cancelled() => break,
                        permit = d.window.acquire() => permit,
                    };
                    let Ok(permit) = permit else { break };
                    permit.forget();
                    let mut batch = vec![Message::Text(text.clone().into())];
                    while let Ok(p) = d.window.try_acquire() {
                        p.forget();
                        batch.push(Message::Text(text.clone().into()));
                    }
                    for m in batch {
                        if d.sink.feed(m).await.is_err() {
                            return;
                        }
                    }
                    if d.sink.flush().await.is_err() {
                        return;
                    }
                }
            }
        }));
        let recv = futures_util::future::join_all(self.receivers.iter().map(|r| {
            let (stop, received) = (stop.clone(), received.clone());
            async move {
                let Receiver { stream, window } = &mut *r.lock().await;
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        frame = stream.next() => match frame {
                            Some(Ok(Message::Text(_))) => {
                                received.fetch_add(1, Ordering::Relaxed);
                                window.add_permits(1);
                            }
                            Some(Ok(_)) => {}
                            _ => break,
                        },
                    }
                }
            }
        }));
        let measure = async {
            tokio::time::sleep(Duration::from_secs(1)).await; // warm-up
            let (n0, t0) = (received.load(Ordering::Relaxed), Instant::now());
            let meter = CpuMeter::start(cpu_pids);
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            let elapsed = t0.elapsed().as_secs_f64();
            let rate = (received.load(Ordering::Relaxed) - n0) as f64 / elapsed;
            stop.cancel();
            (rate, meter.percent(elapsed))
        };
        let (_, _, rate) = tokio::join!(send, recv, measure);
        self.drain().await;
        rate
    }

    /// Open loop at `rate` messages/s spread over every direction; returns the achieved
    /// rate, the latencies in milliseconds, sorted, and the CPU use of each of `cpu_pids`
    /// meanwhile (% of one core).
    async fn latency(
        &self,
        rate: u64,
        seconds: f64,
        cpu_pids: &[u32],
    ) -> (f64, Vec<f64>, Vec<f64>) {
        let epoch = Instant::now();
        let samples = Arc::new(Mutex::new(Vec::with_capacity(
            (rate as f64 * seconds * 1.2) as usize,
        )));
        let stop = CancellationToken::new();
        let n = self.senders.len();
        let period = Duration::from_secs_f64(n as f64 / rate as f64);
        let send = futures_util::future::join_all(self.senders.iter().enumerate().map(|(i, d)| {
            let stop = stop.clone();
            async move {
                let d = &mut *d.lock().await;
                // Spread the senders' phases evenly over one period.
                let start = tokio::time::Instant::now() + period.mul_f64(i as f64 / n as f64);
                let mut tick = tokio::time::interval_at(start, period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                while !stop.is_cancelled() {
                    tick.tick().await;
                    let sent_at = epoch.elapsed().as_nanos() as u64;
                    if d.sink
                        .send(Message::Text(candidate(&d.to, sent_at).into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }));
        let recording = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let recv = futures_util::future::join_all(self.receivers.iter().map(|r| {
            let (stop, samples, recording) = (stop.clone(), samples.clone(), recording.clone());
            async move {
                let stream = &mut r.lock().await.stream;
                loop {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        frame = stream.next() => match frame {
                            Some(Ok(Message::Text(text))) => {
                                let now = epoch.elapsed().as_nanos() as u64;
                                if let (true, Some(sent)) = (recording.load(Ordering::Relaxed), sent_at(&text)) {
                                    let ms = now.saturating_sub(sent) as f64 / 1e6;
                                    samples.lock().unwrap().push(ms);
                                }
                            }
                            Some(Ok(_)) => {}
                            _ => break,
                        },
                    }
                }
            }
        }));
        let measure = async {
            tokio::time::sleep(Duration::from_secs(1)).await; // warm-up
            let t0 = Instant::now();
            recording.store(true, Ordering::Relaxed);
            let meter = CpuMeter::start(cpu_pids);
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            recording.store(false, Ordering::Relaxed);
            let elapsed = t0.elapsed().as_secs_f64();
            stop.cancel();
            (elapsed, meter.percent(elapsed))
        };
        let (_, _, (elapsed, cpu)) = tokio::join!(send, recv, measure);
        self.drain().await;
        let samples = testkit::sorted(std::mem::take(&mut *samples.lock().unwrap()));
        (samples.len() as f64 / elapsed, samples, cpu)
    }

    /// Lets in-flight messages arrive so the next run starts clean: rounds of reading
    /// until one round of 200 ms brings nothing on any receiver (a closed loop leaves
    /// `window` messages per direction queued, which takes seconds to clear through a
    /// cluster), at most 60 s.
    async fn drain(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let got = futures_util::future::join_all(self.receivers.iter().map(|r| async move {
                let stream = &mut r.lock().await.stream;
                let mut got = 0usize;
                let quiet = tokio::time::sleep(Duration::from_millis(200));
                tokio::pin!(quiet);
                loop {
                    tokio::select! {
                        () = &mut quiet => break,
                        frame = stream.next() => match frame {
                            Some(Ok(_)) => got += 1,
                            _ => break,
                        },
                    }
                }
                got
            }))
            .await;
            if got.iter().sum::<usize>() == 0 {
                break;
            }
        }
        for d in &self.senders {
            let d = d.lock().await;
            d.window.forget_permits(d.window.available_permits());
        }
    }

    async fn close(self) {
        for d in self.senders {
            let _ = d.into_inner().sink.close().await;
        }
    }
}

/// A candidate message of about 300 bytes carrying `sent_at` (ns) for latency.
fn candidate(to: &str, sent_at: u64) -> String {
    let head = format!(
        r#"{{"type":"candidate","to":"{to}","candidate":{{"sdpMid":"0","sdpMLineIndex":0,"candidate":"candidate:{sent_at:020} 1 udp 2122260223 127.0.0.1 "#
    );
    let tail = r#" typ host"}}"#;
    let pad = 300usize.saturating_sub(head.len() + tail.len());
    format!("{head}{}{tail}", "9".repeat(pad))
}

/// The send time carried by [`candidate`].
fn sent_at(text: &str) -> Option<u64> {
    let i = text.find("candidate:")? + "candidate:".len();
    text.get(i..i + 20)?.parse().ok()
}

/// Quantile `q` of sorted latencies (ms) to the microsecond, NaN without samples.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    testkit::percentile(sorted, q).map_or(f64::NAN, |ms| (ms * 1000.0).round() / 1000.0)
}
