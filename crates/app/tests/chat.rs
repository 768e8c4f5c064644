//! Chat and files over the call's data channel, end to end: two `peercall call --chat`
//! processes through a real signaling server, and `peercall call --chat` with headless
//! Chromium running the web client. Both directions at once, 1,000 lines in order each
//! way, unicode, a 64 KiB line; a line over 64 KiB refused with a clear error at the
//! sender; malformed frames from the browser refused by the native peer without harm to
//! what follows; links clickable in the page. Files of a few MiB both ways, byte for
//! byte, native ↔ native and native ↔ Chromium; a missing file refused with its reason.
//!
//! Needs `chromium` and `chromium-driver` for the browser test (scripts/test installs
//! them). Run in a loopback-only network namespace, as scripts/test does.

#[allow(dead_code, reason = "the chat tests use only the signaling server")]
mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::signaling_server;
use serde_json::Value;
use testkit::browser::Browser;

/// Lines each side sends.
const LINES: usize = 1000;

/// Longest wait for the lines to arrive, or a call to connect.
const WITHIN: Duration = Duration::from_secs(60);

/// The largest line allowed: 64 KiB of UTF-8 exactly, in two-byte characters.
fn big_line() -> String {
    let big = format!("big:{}", "ж".repeat((64 * 1024 - 4) / 2));
    assert_eq!(big.len(), 64 * 1024);
    big
}

/// Line `i` of `side`: numbered, with text from several scripts and an emoji.
fn line(side: &str, i: usize) -> String {
    format!("{side} {i:04} ünïcødé 你好 🙂 \"quotes\" \\ <b>not bold</b>")
}

/// A `peercall call --chat` process: its stdin, what it printed, its log.
struct ChatPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Arc<Mutex<Vec<String>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for ChatPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChatPeer {
    fn start(server: SocketAddr, room: &str, name: &str) -> Self {
        Self::start_with(server, room, name, &[])
    }

    fn start_with(server: SocketAddr, room: &str, name: &str, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_peercall"))
            .args(["call", "--chat", "--server", &format!("ws://{server}/ws")])
            .args(["--room", room, "--name", name, "--bind", "127.0.0.1:0"])
            .args(["--width", "320", "--height", "240", "--duration", "120"])
            .args(extra)
            .env("RUST_LOG", "warn,peercall=info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let collect = |stream: Box<dyn std::io::Read + Send>| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let into = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    into.lock().unwrap().push(line);
                }
            });
            lines
        };
        let stdout = collect(Box::new(child.stdout.take().unwrap()));
        let log = collect(Box::new(child.stderr.take().unwrap()));
        Self {
            stdin: child.stdin.take(),
            child,
            stdout,
            log,
        }
    }

    /// Waits until its log says `what`.
    async fn wait_log(&self, what: &str) {
        let until = Instant::now() + WITHIN;
        while !self.log.lock().unwrap().iter().any(|l| l.contains(what)) {
            assert!(
                Instant::now() < until,
                "the peer never logged `{what}`; its log:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Writes `lines` to its stdin on a thread of its own (a pipe's buffer is small).
    fn type_lines(&mut self, lines: Vec<String>) -> std::thread::JoinHandle<()> {
        let mut stdin = self.stdin.take().unwrap();
        std::thread::spawn(move || {
            for line in lines {
                writeln!(stdin, "{line}").unwrap();
            }
            stdin.flush().unwrap();
            // Keep stdin open: its end must not end anything.
            std::mem::forget(stdin);
        })
    }

    /// Its stdout's JSON lines with a `key`.
    fn printed(&self, key: &str) -> Vec<Value> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| v.get(key).cloned())
            .collect()
    }

    /// Waits until it has printed `count` file events of `kind`; returns them.
    async fn wait_file(&self, kind: &str, count: usize) -> Vec<Value> {
        let until = Instant::now() + WITHIN;
        loop {
            let got: Vec<Value> = self
                .printed_lines()
                .into_iter()
                .filter(|line| line["file"] == kind)
                .collect();
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < until,
                "{} of {count} `{kind}` file events; stdout:\n{}\nlog:\n{}",
                got.len(),
                self.stdout.lock().unwrap().join("\n"),
                self.log.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its stdout's JSON lines with a `file` key, whole.
    fn printed_lines(&self) -> Vec<Value> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("file").is_some())
            .collect()
    }

    /// Waits until it has printed `count` chat lines; returns them.
    async fn wait_chat(&self, count: usize) -> Vec<Value> {
        let until = Instant::now() + WITHIN;
        loop {
            let got = self.printed("chat");
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < until,
                "{} of {count} chat lines arrived; log:\n{}",
                got.len(),
                self.log.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `received` are `expected`, in order, each from `from`.
fn assert_in_order(received: &[Value], expected: &[String], from: &str) {
    assert_eq!(received.len(), expected.len(), "how many arrived");
    for (i, (got, want)) in received.iter().zip(expected).enumerate() {
        assert_eq!(got["text"].as_str(), Some(want.as_str()), "line {i}");
        assert_eq!(got["from"].as_str(), Some(from), "line {i}'s sender");
        assert!(got["sent_ms"].as_u64().is_some(), "line {i}'s time");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn native_peers_chat_both_ways_a_thousand_lines_in_order_unicode_and_64_kib() {
    let (server, _stop) = signaling_server(&[]).await;
    let mut ana = ChatPeer::start(server, "chat-native", "ana");
    ana.wait_log("call waiting").await;
    let mut bo = ChatPeer::start(server, "chat-native", "bo");
    ana.wait_log("call connected").await;
    bo.wait_log("call connected").await;

    let script = |side: &str| -> Vec<String> {
        (0..LINES)
            .map(|i| line(side, i))
            .chain([big_line()])
            .collect()
    };
    let (from_ana, from_bo) = (script("ana"), script("bo"));
    // One line over the limit, typed last: refused at the sender, nothing sent.
    let mut ana_typed = from_ana.clone();
    ana_typed.push(format!("{}x", big_line()));
    let typing = [ana.type_lines(ana_typed), bo.type_lines(from_bo.clone())];
    for typist in typing {
        typist.join().unwrap();
    }
    assert_in_order(&bo.wait_chat(LINES + 1).await, &from_ana, "ana");
    assert_in_order(&ana.wait_chat(LINES + 1).await, &from_bo, "bo");

    let until = Instant::now() + WITHIN;
    while ana.printed("chat_error").is_empty() {
        assert!(Instant::now() < until, "the oversize line was not refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let error = ana.printed("chat_error")[0].as_str().unwrap().to_owned();
    assert!(
        error.contains("65537 bytes") && error.contains("at most 65536"),
        "{error}"
    );
    // Nothing more reached bo.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bo.printed("chat").len(), LINES + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn native_and_chromium_chat_both_ways_and_bad_frames_are_refused_harmlessly() {
    let (server, _stop) = signaling_server(&[]).await;
    let mut native = ChatPeer::start(server, "chat-browser", "native");
    native.wait_log("call waiting").await;
    let browser = Browser::launch().await.expect("Chromium");
    browser
        .open(&format!(
            "http://{server}/?room=chat-browser&name=chromium&autojoin=1"
        ))
        .await
        .unwrap();
    browser
        .wait_for(
            "return window.peercall?.call?.state === 'connected'",
            WITHIN,
        )
        .await
        .unwrap();
    native.wait_log("call connected").await;

    let from_native: Vec<String> = (0..LINES)
        .map(|i| line("native", i))
        .chain([big_line(), "see https://example.org/a?b=1.".into()])
        .collect();
    let typing = native.type_lines(from_native.clone());
    // The page sends its own at the same time: 1,000 lines, then the big one.
    let sent = browser
        .eval_async(&format!(
            "const big = 'big:' + 'ж'.repeat((64 * 1024 - 4) / 2);
             for (let i = 0; i < {LINES}; i++) {{
               const n = String(i).padStart(4, '0');
               const why = window.peercall.call.sendChat(
                 `chromium ${{n}} ünïcødé 你好 🙂 \"quotes\" \\\\ <b>not bold</b>`);
               if (why) return why;
             }}
             return window.peercall.call.sendChat(big) ?? 'sent';"
        ))
        .await
        .unwrap();
    assert_eq!(sent, "sent");
    typing.join().unwrap();

    let from_chromium: Vec<String> = (0..LINES)
        .map(|i| line("chromium", i))
        .chain([big_line()])
        .collect();
    assert_in_order(
        &native.wait_chat(LINES + 1).await,
        &from_chromium,
        "chromium",
    );

    let count = from_native.len();
    browser
        .wait_for(
            &format!("return window.peercall.chatLines.filter((l) => !l.mine).length >= {count}"),
            WITHIN,
        )
        .await
        .unwrap();
    let got = browser
        .eval("return window.peercall.chatLines.filter((l) => !l.mine)")
        .await
        .unwrap();
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), count);
    for (i, (got, want)) in got.iter().zip(&from_native).enumerate() {
        assert_eq!(got["text"].as_str(), Some(want.as_str()), "line {i}");
        assert_eq!(got["from"], "native", "line {i}");
    }
    // The link is a link (http only, trailing dot left out); the markup stayed text.
    let link = browser
        .eval(
            "const a = [...document.querySelectorAll('#chat-log a')];
             return a.map((e) => [e.getAttribute('href'), e.rel, e.target]);",
        )
        .await
        .unwrap();
    assert_eq!(
        link,
        serde_json::json!([["https://example.org/a?b=1", "noopener noreferrer", "_blank"]])
    );
    let bold = browser
        .eval("return document.querySelectorAll('#chat-log b').length")
        .await
        .unwrap();
    assert_eq!(bold, 0, "a line's markup must not become elements");

    // Frames that are not chat lines: refused with a reason, and the channel goes on.
    browser
        .eval(
            "const c = window.peercall.call.channel;
             c.send('{not json');
             c.send(new Uint8Array([1, 2, 3]));
             c.send(JSON.stringify({ type: 'chat', text: 5 }));
             c.send(JSON.stringify({ type: 'chat', text: 'x'.repeat(70 * 1024) }));
             c.send(JSON.stringify({ type: 'future-thing', size: 3 }));
             window.peercall.call.sendChat('still here');
             return true;",
        )
        .await
        .unwrap();
    let after = native.wait_chat(LINES + 2).await;
    assert_eq!(after[LINES + 1]["text"], "still here");
    let errors = native.printed("chat_error");
    let errors: Vec<&str> = errors.iter().filter_map(Value::as_str).collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(errors[0].contains("malformed"), "{errors:?}");
    assert!(errors[1].contains("not UTF-8 text"), "{errors:?}");
    assert!(errors[2].contains("malformed"), "{errors:?}");
    assert!(errors[3].contains("71680 bytes"), "{errors:?}");
    browser.close().await;
}

/// Byte `i` of a test file: no short period, so a chunk out of place shows.
fn file_byte(i: usize) -> u8 {
    (i.wrapping_mul(31) + (i >> 11)) as u8
}

/// A test file of `size` bytes in `dir`.
fn test_file(dir: &std::path::Path, name: &str, size: usize) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, (0..size).map(file_byte).collect::<Vec<u8>>()).unwrap();
    path
}

/// What a `received` event's file holds.
fn received_bytes(event: &Value) -> Vec<u8> {
    std::fs::read(event["path"].as_str().expect("a path")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn native_peers_send_files_both_ways_byte_for_byte_and_a_missing_one_fails_clearly() {
    let (server, _stop) = signaling_server(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let (ana_in, bo_in) = (dir.path().join("ana-in"), dir.path().join("bo-in"));
    std::fs::create_dir_all(&ana_in).unwrap();
    std::fs::create_dir_all(&bo_in).unwrap();
    let from_ana = test_file(dir.path(), "from ana.bin", 3 * 1024 * 1024 + 7);
    let from_bo = test_file(dir.path(), "from-bo.bin", 2 * 1024 * 1024);
    let missing = dir.path().join("missing.bin");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let ana = ChatPeer::start_with(
        server,
        "files-native",
        "ana",
        &[
            "--send-file",
            &path(&missing),
            "--send-file",
            &path(&from_ana),
        ],
    );
    ana.wait_log("call waiting").await;
    let bo = ChatPeer::start_with(
        server,
        "files-native",
        "bo",
        &["--send-file", &path(&from_bo), "--files-dir", &path(&bo_in)],
    );
    // Ana takes no files (no --files-dir): bo's is refused, with the reason, at bo.
    let refused = bo.wait_file("failed", 1).await;
    assert!(
        refused[0]["reason"]
            .as_str()
            .unwrap()
            .contains("does not take files"),
        "{refused:?}"
    );
    // Ana's missing file is refused at once; the one after it goes.
    let failed = ana.wait_file("failed", 1).await;
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("cannot read"),
        "{failed:?}"
    );
    let received = bo.wait_file("received", 1).await;
    assert_eq!(received[0]["path"], path(&bo_in.join("from ana.bin")));
    assert_eq!(
        received_bytes(&received[0]),
        std::fs::read(&from_ana).unwrap()
    );
    let progress = ana.wait_file("progress", 1).await;
    assert_eq!(
        progress.last().unwrap()["bytes"],
        3 * 1024 * 1024 + 7,
        "progress reaches the whole size"
    );
    assert_eq!(ana.wait_file("sent", 1).await.len(), 1);
    drop((ana, bo));

    // The other way, into a folder that already has a file of that name.
    std::fs::write(ana_in.join("from-bo.bin"), b"older").unwrap();
    let ana = ChatPeer::start_with(
        server,
        "files-native-2",
        "ana",
        &["--files-dir", &path(&ana_in)],
    );
    ana.wait_log("call waiting").await;
    let _bo = ChatPeer::start_with(
        server,
        "files-native-2",
        "bo",
        &["--send-file", &path(&from_bo)],
    );
    let received = ana.wait_file("received", 1).await;
    assert_eq!(received[0]["path"], path(&ana_in.join("from-bo (1).bin")));
    assert_eq!(
        received_bytes(&received[0]),
        std::fs::read(&from_bo).unwrap()
    );
    let left: Vec<_> = std::fs::read_dir(&ana_in)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "no partial file is left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn native_and_chromium_send_files_both_ways_byte_for_byte() {
    const SIZE: usize = 3 * 1024 * 1024 + 11;
    let (server, _stop) = signaling_server(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    let file = test_file(dir.path(), "from-native.bin", SIZE);
    let native = ChatPeer::start_with(
        server,
        "files-browser",
        "native",
        &[
            "--send-file",
            file.to_str().unwrap(),
            "--files-dir",
            inbox.to_str().unwrap(),
        ],
    );
    native.wait_log("call waiting").await;
    let browser = Browser::launch().await.expect("Chromium");
    browser
        .open(&format!(
            "http://{server}/?room=files-browser&name=chromium&autojoin=1"
        ))
        .await
        .unwrap();
    // Native → Chromium: every byte checked in the page, and a download link shown.
    browser
        .wait_for(
            "return Object.values(window.peercall.files).some((t) => t.state === 'received')",
            WITHIN,
        )
        .await
        .unwrap();
    let checked = browser
        .eval_async(
            "const t = Object.values(window.peercall.files).find((t) => t.state === 'received');
             const bytes = new Uint8Array(await (await fetch(t.url)).arrayBuffer());
             let wrong = 0;
             for (let i = 0; i < bytes.length; i++) {
               if (bytes[i] !== ((Math.imul(i, 31) + (i >>> 11)) & 255)) wrong++;
             }
             const link = document.querySelector('#file-list a[download]');
             return [t.name, bytes.length, wrong, link?.getAttribute('download') ?? null];",
        )
        .await
        .unwrap();
    assert_eq!(
        checked,
        serde_json::json!(["from-native.bin", SIZE, 0, "from-native.bin"])
    );
    assert_eq!(native.wait_file("sent", 1).await.len(), 1);

    // Chromium → native.
    let why = browser
        .eval(&format!(
            "const bytes = new Uint8Array({SIZE});
             for (let i = 0; i < bytes.length; i++) bytes[i] = (Math.imul(i, 31) + (i >>> 11)) & 255;
             return window.peercall.call.sendFile(new File([bytes], 'from-chromium.bin')) ?? 'sent';"
        ))
        .await
        .unwrap();
    assert_eq!(why, "sent");
    let received = native.wait_file("received", 1).await;
    assert_eq!(
        received[0]["path"],
        inbox.join("from-chromium.bin").to_str().unwrap()
    );
    let bytes = received_bytes(&received[0]);
    assert_eq!(bytes.len(), SIZE);
    assert!(
        bytes.iter().enumerate().all(|(i, &b)| b == file_byte(i)),
        "the bytes differ"
    );
    browser
        .wait_for(
            "return Object.values(window.peercall.files).some((t) => t.mine && t.state === 'sent')",
            WITHIN,
        )
        .await
        .unwrap();
    browser.close().await;
}
