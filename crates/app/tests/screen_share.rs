//! Screen sharing end to end, under Xvfb and with real Chromium running the web client.
//!
//! - `peercall call --share screen` on a 1920x1080 Xvfb screen painted with known colour
//!   blocks and text: Chromium receives the `screen` track at the screen's size, a canvas
//!   read of it matches the blocks; the blocks repainted mid-call arrive (live, not a
//!   still); the camera keeps ≥ 25 fps while the share runs; when the share stops the
//!   track leaves the page.
//! - Chromium shares (`getDisplayMedia` with its fake capture source) and the native
//!   peer decodes the second video track.
//! - Two native peers starting to share at the same moment (offers crossing) each get
//!   the other's share.
//! - The desktop app shows a native peer's share large, its camera small beside it.
//! - A screen capture reads only what changed after its first picture, and each picture
//!   is still the whole screen as it is: repaints, a window opened and closed, the
//!   cursor where it is now and nowhere else.
//! - One window captured through Composite is whole though another window covers half
//!   of it, and the window list names it.
//! - The share picker's thumbnails: one per screen and window listed, each matching
//!   what the display shows there.
//!
//! Needs `Xvfb`, `chromium` and `chromium-driver` (scripts/test installs them). Run in a
//! loopback-only network namespace, as scripts/test does.

#[allow(dead_code, reason = "the share tests use only the signaling server")]
mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::signaling_server;
use serde_json::Value;
use testkit::browser::Browser;
use testkit::screen::Xvfb;

/// Longest wait for what should happen.
const WITHIN: Duration = Duration::from_secs(30);

/// The blocks painted first: (x, y, w, h, colour), and where each is sampled.
const BLOCKS: [(i16, i16, u16, u16, u32); 4] = [
    (100, 100, 400, 300, 0xff0000),
    (700, 150, 400, 300, 0x00ff00),
    (1300, 200, 400, 300, 0x0000ff),
    (200, 600, 600, 300, 0xffff00),
];

/// The same places repainted mid-call.
const REPAINTED: [u32; 4] = [0x00ffff, 0xff00ff, 0xffffff, 0x000000];

/// A `peercall call` process: what it printed, its log.
struct Native {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Native {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Native {
    fn start(server: std::net::SocketAddr, room: &str, display: &str, flags: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_peercall"))
            .args([
                "call",
                "--server",
                &format!("ws://{server}/ws"),
                "--room",
                room,
            ])
            .args([
                "--name",
                "native",
                "--bind",
                "127.0.0.1:0",
                "--duration",
                "60",
            ])
            .args(flags)
            .env("DISPLAY", display)
            .env("RUST_LOG", "warn,peercall=info,call=info")
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
        Self {
            stdout: collect(Box::new(child.stdout.take().unwrap())),
            log: collect(Box::new(child.stderr.take().unwrap())),
            child,
        }
    }

    async fn wait_log(&self, what: &str) {
        let until = Instant::now() + WITHIN;
        while !self.log.lock().unwrap().iter().any(|l| l.contains(what)) {
            assert!(
                Instant::now() < until,
                "the native peer never logged `{what}`; its log:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn lines(&self) -> Vec<Value> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn dump(&self) -> String {
        format!(
            "stdout:\n{}\nlog:\n{}",
            self.stdout.lock().unwrap().join("\n"),
            self.log.lock().unwrap().join("\n")
        )
    }
}

/// The page's screen video sampled at each block's centre, scaled to its size: RGB.
async fn sample_blocks(browser: &Browser) -> Result<Vec<[i64; 3]>, String> {
    let centres: Vec<[i64; 2]> = BLOCKS
        .iter()
        .map(|&(x, y, w, h, _)| {
            [
                i64::from(x) + i64::from(w) / 2,
                i64::from(y) + i64::from(h) / 2,
            ]
        })
        .collect();
    let script = format!(
        "const v = document.getElementById('screen-video');
         if (!v || !v.videoWidth) return null;
         const c = document.createElement('canvas');
         c.width = v.videoWidth; c.height = v.videoHeight;
         const g = c.getContext('2d');
         g.drawImage(v, 0, 0);
         return {centres:?}.map(([x, y]) => Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3)));"
    );
    let value = browser.eval(&script).await?;
    let rows = value.as_array().ok_or("no picture yet")?;
    Ok(rows
        .iter()
        .map(|row| {
            let c: Vec<i64> = row
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            [c[0], c[1], c[2]]
        })
        .collect())
}

/// Whether each sample is its colour within `tolerance` per channel.
fn matches(samples: &[[i64; 3]], colours: &[u32], tolerance: i64) -> bool {
    samples.iter().zip(colours).all(|(got, &rgb)| {
        let want = [
            i64::from(rgb >> 16 & 0xff),
            i64::from(rgb >> 8 & 0xff),
            i64::from(rgb & 0xff),
        ];
        got.iter()
            .zip(want)
            .all(|(g, w)| (g - w).abs() <= tolerance)
    })
}

/// The camera's decoded frames so far, from the page's `getStats` (the inbound video
/// stream of the camera's track).
async fn camera_frames(browser: &Browser) -> u64 {
    let value = browser
        .eval_async(
            "const cam = document.getElementById('remote-video').srcObject?.getVideoTracks()[0]?.id;
             let frames = 0;
             (await window.peercall.call.pc.getStats()).forEach((r) => {
               if (r.type === 'inbound-rtp' && r.kind === 'video' && r.trackIdentifier === cam) frames = r.framesDecoded;
             });
             return frames;",
        )
        .await
        .unwrap();
    value.as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_native_screen_share_reaches_chromium_live_at_full_size_while_the_camera_keeps_going() {
    let xvfb = match Xvfb::start(1920, 1080) {
        Ok(xvfb) => xvfb,
        Err(why) => return testkit::skip_or_fail(&why),
    };
    xvfb.paint(
        &BLOCKS,
        &[
            (120, 80, "peercall screen share: blocks and text"),
            (720, 500, "0123456789 abcdef"),
        ],
    )
    .unwrap();
    let (server, _stop) = signaling_server(&[]).await;
    let native = Native::start(
        server,
        "share-native",
        &xvfb.display,
        &[
            "--share",
            "screen",
            "--share-fps",
            "15",
            "--share-for",
            "14",
        ],
    );
    native.wait_log("call waiting").await;
    let browser = Browser::launch().await.expect("Chromium");
    browser
        .open(&format!(
            "http://{server}/?room=share-native&name=chromium&autojoin=1"
        ))
        .await
        .unwrap();

    // The share arrives at the screen's size, on a track of its own.
    let size = browser
        .wait_for(
            "const v = document.getElementById('screen-video');
             return window.peercall.screenStream && v.videoWidth ? [v.videoWidth, v.videoHeight] : null;",
            WITHIN,
        )
        .await
        .unwrap_or_else(|e| panic!("no screen share in the page: {e}\n{}", native.dump()));
    assert_eq!(size, serde_json::json!([1920, 1080]));
    let shared = native.lines();
    assert!(
        shared.iter().any(|l| l["share"] == "started"),
        "{}",
        native.dump()
    );

    // Its pixels are the blocks (within what compression leaves).
    let until = Instant::now() + WITHIN;
    let mut last = Vec::new();
    while !matches(&last, &BLOCKS.map(|b| b.4), 40) {
        assert!(Instant::now() < until, "the blocks never showed: {last:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        last = sample_blocks(&browser).await.unwrap_or_default();
    }

    // The camera keeps its rate while the screen is shared: 25 fps or more over each of
    // three 2-second windows.
    let mut rates = Vec::new();
    for _ in 0..3 {
        let (before, at) = (camera_frames(&browser).await, Instant::now());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = camera_frames(&browser).await;
        rates.push((after - before) as f64 / at.elapsed().as_secs_f64());
    }

    // Repainted mid-call: the new colours arrive (live, not a still).
    let repainted: Vec<_> = BLOCKS
        .iter()
        .zip(REPAINTED)
        .map(|(&(x, y, w, h, _), c)| (x, y, w, h, c))
        .collect();
    let painted_at = Instant::now();
    xvfb.paint(&repainted, &[]).unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let samples = sample_blocks(&browser).await.unwrap_or_default();
        if matches(&samples, &REPAINTED, 40) {
            break;
        }
        assert!(
            Instant::now() < until,
            "the repaint never arrived: {samples:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let repaint_ms = painted_at.elapsed().as_millis();
    println!("camera fps while sharing: {rates:?}; repaint shown after {repaint_ms} ms");
    assert!(
        rates.iter().all(|&r| r >= 25.0),
        "the camera dropped below 25 fps while sharing: {rates:?}"
    );

    // The share stops (--share-for): its track leaves the page, the camera stays.
    browser
        .wait_for("return window.peercall.screenStream === null", WITHIN)
        .await
        .unwrap_or_else(|e| panic!("the share never left the page: {e}\n{}", native.dump()));
    assert_eq!(
        browser
            .eval("return document.getElementById('screen-figure').hidden")
            .await
            .unwrap(),
        true
    );
    assert!(native.lines().iter().any(|l| l["share"] == "stopped"));
    let camera = camera_frames(&browser).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        camera_frames(&browser).await > camera,
        "the camera stopped too"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_shares_its_screen_and_the_native_peer_decodes_the_second_track() {
    let (server, _stop) = signaling_server(&[]).await;
    let native = Native::start(server, "share-browser", ":0", &[]);
    native.wait_log("call waiting").await;
    let browser = Browser::launch_with(&[
        "--use-fake-ui-for-media-stream",
        "--auto-select-desktop-capture-source=Entire screen",
    ])
    .await
    .expect("Chromium");
    browser
        .open(&format!(
            "http://{server}/?room=share-browser&name=chromium&autojoin=1"
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
    browser
        .eval_async(
            "const s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 } });
             await window.peercall.call.startShare(s);
             return true;",
        )
        .await
        .unwrap();
    let until = Instant::now() + WITHIN;
    loop {
        let lines = native.lines();
        let decoded = lines
            .iter()
            .filter_map(|l| l["screen_in"]["frames"].as_u64())
            .max()
            .unwrap_or(0);
        if decoded >= 10 && lines.iter().any(|l| l["share"] == "remote-started") {
            let last = lines
                .iter()
                .rev()
                .find(|l| l["screen_in"].is_object())
                .unwrap();
            assert!(last["screen_in"]["width"].as_u64() > Some(0), "{last}");
            // The camera goes on beside it.
            assert!(last["video_in"]["fps"].as_u64() > Some(0), "{last}");
            break;
        }
        if Instant::now() > until {
            let page = browser
                .eval("return document.getElementById('state').textContent")
                .await;
            panic!(
                "the native peer never decoded Chromium's share; the page says {page:?}\n{}",
                native.dump()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Chromium stops sharing: the native peer hears of it.
    browser
        .eval_async("await window.peercall.call.stopShare(); return true;")
        .await
        .unwrap();
    let until = Instant::now() + WITHIN;
    while !native
        .lines()
        .iter()
        .any(|l| l["share"] == "remote-stopped")
    {
        assert!(
            Instant::now() < until,
            "no remote-stopped\n{}",
            native.dump()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_native_peers_sharing_at_the_same_moment_both_get_the_others_screen() {
    let xvfb = match Xvfb::start(1280, 720) {
        Ok(xvfb) => xvfb,
        Err(why) => return testkit::skip_or_fail(&why),
    };
    xvfb.paint(&BLOCKS, &[(120, 80, "both share")]).unwrap();
    let (server, _stop) = signaling_server(&[]).await;
    // Both start sharing as the call connects: their offers cross (glare), and the
    // polite one (the callee) rolls its own back, answers, and offers again.
    let flags = ["--share", "screen", "--width", "320", "--height", "240"];
    let a = Native::start(server, "share-glare", &xvfb.display, &flags);
    a.wait_log("call waiting").await;
    let b = Native::start(server, "share-glare", &xvfb.display, &flags);
    let until = Instant::now() + WITHIN;
    for peer in [&a, &b] {
        loop {
            let lines = peer.lines();
            let decoded = lines
                .iter()
                .filter_map(|l| l["screen_in"]["frames"].as_u64())
                .max()
                .unwrap_or(0);
            let sent = lines
                .iter()
                .filter_map(|l| l["screen_out"]["frames"].as_u64())
                .max()
                .unwrap_or(0);
            if decoded >= 10 && sent >= 10 {
                let last = lines
                    .iter()
                    .rev()
                    .find(|l| l["screen_in"].is_object())
                    .unwrap();
                assert_eq!(last["screen_in"]["width"], 1280, "{last}");
                assert_eq!(last["screen_in"]["height"], 720, "{last}");
                assert!(last["video_in"]["fps"].as_u64() > Some(0), "{last}");
                break;
            }
            assert!(
                Instant::now() < until,
                "a peer did not get the other's share\n{}",
                peer.dump()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The Y, U, V of the picture's pixel at (`x`, `y`).
fn yuv_at(picture: &media::frame::VideoFrame, x: usize, y: usize) -> [i32; 3] {
    let (luma, u, v) = picture.planes();
    let w = picture.width() as usize;
    let c = (y / 2) * (w / 2) + x / 2;
    [luma[y * w + x], u[c], v[c]].map(i32::from)
}

/// Whether `got` is within a small tolerance of `want` (Y, U, V).
fn near(got: [i32; 3], want: [i32; 3]) -> bool {
    got.iter().zip(want).all(|(g, w)| (g - w).abs() <= 6)
}

/// Asserts the picture's pixel at (`x`, `y`) is near `want` (Y, U, V): `what` it shows.
fn assert_near(
    picture: &media::frame::VideoFrame,
    (x, y): (usize, usize),
    want: [i32; 3],
    what: &str,
) {
    let got = yuv_at(picture, x, y);
    assert!(
        near(got, want),
        "{what}: at ({x}, {y}) {got:?}, not {want:?}"
    );
}

#[test]
fn a_screen_capture_reads_only_changes_yet_each_picture_is_the_whole_screen_as_it_is() {
    const RED: [i32; 3] = [81, 90, 240];
    const GREEN: [i32; 3] = [145, 54, 34];
    const BLUE: [i32; 3] = [41, 240, 110];
    const GREY: [i32; 3] = [126, 128, 128];
    let xvfb = match Xvfb::start(640, 480) {
        Ok(xvfb) => xvfb,
        Err(why) => return testkit::skip_or_fail(&why),
    };
    xvfb.paint(
        &[(0, 0, 640, 480, 0x808080), (40, 40, 200, 150, 0xff0000)],
        &[],
    )
    .unwrap();
    xvfb.move_pointer(600, 440).unwrap();
    let mut capture = media::screen::X11Capture::open_on(
        Some(&xvfb.display),
        media::screen::ShareTarget::Screen(None),
        15.0,
    )
    .unwrap();
    assert!(
        capture.reads_changes_only(),
        "Xvfb has DAMAGE and shared pixmaps"
    );
    let first = capture.grab().unwrap();
    assert_near(&first, (100, 100), RED, "the red block");
    assert_near(&first, (400, 300), GREY, "the background");

    // Nothing changed: the same picture.
    let still = capture.grab().unwrap();
    assert_eq!(
        still.planes(),
        first.planes(),
        "a still screen gives the same picture"
    );

    // A repaint over part of the red block, and a block elsewhere.
    xvfb.paint(
        &[(40, 40, 100, 150, 0x00ff00), (400, 300, 100, 100, 0x0000ff)],
        &[],
    )
    .unwrap();
    let repainted = capture.grab().unwrap();
    assert_near(&repainted, (60, 100), GREEN, "the repainted part");
    assert_near(
        &repainted,
        (200, 100),
        RED,
        "the rest of the red block stays",
    );
    assert_near(&repainted, (450, 350), BLUE, "the new block");
    assert_near(&repainted, (300, 50), GREY, "untouched parts stay");
    // Exactly what a capture reading the whole screen makes of it.
    let whole = media::screen::X11Capture::open_on(
        Some(&xvfb.display),
        media::screen::ShareTarget::Screen(None),
        15.0,
    )
    .unwrap()
    .grab()
    .unwrap();
    assert!(
        whole.planes() == repainted.planes(),
        "the changes made the whole picture"
    );

    // A window (a child of the root) opened over it shows; closed, what it covered is back.
    let (_window, keep) = xvfb.window((300, 20, 200, 100), 0x00ff00, "green").unwrap();
    let with_window = capture.grab().unwrap();
    assert_near(&with_window, (400, 70), GREEN, "the window opened over it");
    drop(keep);
    let until = Instant::now() + WITHIN;
    loop {
        let after = capture.grab().unwrap();
        if !near(yuv_at(&after, 400, 70), GREEN) {
            break;
        }
        assert!(
            Instant::now() < until,
            "the closed window stays in the picture"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // The cursor is drawn where it is, and leaves nothing where it was.
    xvfb.paint(&[(0, 0, 640, 480, 0x808080)], &[]).unwrap();
    let cursor_marks = |picture: &media::frame::VideoFrame, (cx, cy): (usize, usize)| {
        (cy.saturating_sub(20)..cy + 20)
            .flat_map(|y| (cx.saturating_sub(20)..cx + 20).map(move |x| (x, y)))
            .filter(|&(x, y)| !near(yuv_at(picture, x, y), GREY))
            .count()
    };
    xvfb.move_pointer(100, 100).unwrap();
    let at_first = capture.grab().unwrap();
    assert!(
        cursor_marks(&at_first, (100, 100)) > 0,
        "the cursor is drawn in"
    );
    xvfb.move_pointer(500, 300).unwrap();
    let moved = capture.grab().unwrap();
    assert_eq!(
        cursor_marks(&moved, (100, 100)),
        0,
        "no trace where the cursor was"
    );
    assert!(
        cursor_marks(&moved, (500, 300)) > 0,
        "the cursor is drawn where it is"
    );
}

#[test]
fn one_window_is_captured_whole_though_another_window_covers_part_of_it() {
    let xvfb = match Xvfb::start(800, 600) {
        Ok(xvfb) => xvfb,
        Err(why) => return testkit::skip_or_fail(&why),
    };
    let (red, _keep_red) = xvfb
        .window((50, 50, 400, 300), 0xff0000, "red window")
        .unwrap();
    let list = media::screen::shareables_on(Some(&xvfb.display)).unwrap();
    assert!(
        list.iter()
            .any(|s| s.name == "red window" && s.target == media::screen::ShareTarget::Window(red)),
        "{list:?}"
    );
    let mut capture = media::screen::X11Capture::open_on(
        Some(&xvfb.display),
        media::screen::ShareTarget::Window(red),
        15.0,
    )
    .unwrap();
    // A blue window over the red one's right half, opened after the capture began.
    let (_blue, _keep_blue) = xvfb
        .window((250, 50, 400, 300), 0x0000ff, "blue window")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let picture = capture.grab().unwrap();
    assert_eq!((picture.width(), picture.height()), (400, 300));
    // Red in BT.601 limited range: Y 81, V (Cr) 240; the covered half too.
    let (y, _, v) = picture.planes();
    for x in [20usize, 300, 380] {
        let luma = i32::from(y[150 * 400 + x]);
        let cr = i32::from(v[75 * 200 + x / 2]);
        assert!(
            (luma - 81).abs() <= 4 && (cr - 240).abs() <= 6,
            "at x {x}: Y {luma}, Cr {cr} (not red)"
        );
    }
}

#[test]
fn the_picker_gets_a_thumbnail_per_source_matching_what_is_on_screen() {
    // 960x540 scales to the 240x135 thumbnail by exactly 4; every block edge is on a
    // multiple of 4, so each thumbnail pixel covers one colour only.
    let xvfb = match Xvfb::start(960, 540) {
        Ok(xvfb) => xvfb,
        Err(why) => return testkit::skip_or_fail(&why),
    };
    xvfb.paint(
        &[
            (0, 0, 480, 540, 0xff0000),
            (480, 0, 480, 272, 0x00ff00),
            (480, 272, 480, 268, 0x0000ff),
        ],
        &[],
    )
    .unwrap();
    let (yellow, _keep_yellow) = xvfb
        .window((40, 40, 200, 100), 0xffff00, "yellow window")
        .unwrap();
    let (magenta, _keep_magenta) = xvfb
        .window((600, 320, 300, 180), 0xff00ff, "magenta window")
        .unwrap();
    // Mapped windows show once the server has drawn them: wait for both colours.
    let until = Instant::now() + WITHIN;
    let shot = loop {
        let shot = xvfb.screenshot().unwrap();
        if shot.pixel(140, 90) == [255, 255, 0] && shot.pixel(750, 410) == [255, 0, 255] {
            break shot;
        }
        assert!(Instant::now() < until, "the windows never showed");
        std::thread::sleep(Duration::from_millis(50));
    };
    let list = media::screen::shareables_on(Some(&xvfb.display)).unwrap();
    let targets: Vec<_> = list.iter().map(|s| s.target).collect();
    for want in [
        media::screen::ShareTarget::Screen(Some(0)),
        media::screen::ShareTarget::Window(yellow),
        media::screen::ShareTarget::Window(magenta),
    ] {
        assert!(targets.contains(&want), "{want:?} not listed: {list:?}");
    }
    let (tw, th) = (
        media::screen::THUMBNAIL_WIDTH,
        media::screen::THUMBNAIL_HEIGHT,
    );
    let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(&a, b)| a.abs_diff(b) <= 2);
    for source in &list {
        let thumb = media::screen::thumbnail_on(Some(&xvfb.display), source.target, tw, th)
            .unwrap_or_else(|e| panic!("no thumbnail of {}: {e}", source.name));
        match source.target {
            media::screen::ShareTarget::Screen(_) => {
                assert_eq!((thumb.width, thumb.height), (240, 135));
                for ty in 0..thumb.height {
                    for tx in 0..thumb.width {
                        let (got, want) = (thumb.pixel(tx, ty), shot.pixel(tx * 4, ty * 4));
                        assert!(
                            close(got, want),
                            "screen thumbnail at ({tx}, {ty}): {got:?}, the screen shows {want:?}"
                        );
                    }
                }
            }
            media::screen::ShareTarget::Window(id) => {
                let (size, colour) = if id == yellow {
                    ((200, 100), shot.pixel(140, 90))
                } else if id == magenta {
                    ((300, 180), shot.pixel(750, 410))
                } else {
                    continue;
                };
                assert_eq!(
                    (thumb.width, thumb.height),
                    media::screen::thumbnail_size(size.0, size.1, tw, th),
                    "{}",
                    source.name
                );
                for ty in 0..thumb.height {
                    for tx in 0..thumb.width {
                        let got = thumb.pixel(tx, ty);
                        assert!(
                            close(got, colour),
                            "{} thumbnail at ({tx}, {ty}): {got:?}, the window shows {colour:?}",
                            source.name
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_desktop_app_shows_the_other_peers_share_large_and_its_camera_small() {
    let (shared, app_display) = match (Xvfb::start(1280, 720), Xvfb::start(1280, 800)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(why), _) | (_, Err(why)) => return testkit::skip_or_fail(&why),
    };
    // The shared screen is red all over.
    shared.paint(&[(0, 0, 1280, 720, 0xff0000)], &[]).unwrap();
    let (server, _stop) = signaling_server(&[]).await;
    let url = format!("ws://{server}/ws");
    let sharer = Native::start(
        server,
        "share-desktop",
        &shared.display,
        &["--share", "screen"],
    );
    sharer.wait_log("call waiting").await;
    let settings = tempfile::tempdir().unwrap();
    let _window = common::app_window(
        &app_display.display,
        settings.path(),
        &[
            "--server",
            &url,
            "--room",
            "share-desktop",
            "--video",
            "test",
        ],
    );
    let red_share = |shot: &testkit::screen::Screenshot| {
        let red = shot
            .rgb
            .chunks_exact(3)
            .filter(|p| p[0] > 200 && p[1] < 60 && p[2] < 60)
            .count();
        red as f64 / f64::from(shot.width * shot.height)
    };
    let until = Instant::now() + WITHIN;
    let shot = loop {
        let shot = app_display.screenshot().unwrap();
        if red_share(&shot) > 0.3 {
            break shot;
        }
        if Instant::now() > until {
            let path = testkit::browser::artifacts_dir().join("desktop-share-failed.png");
            shot.save_png(&path).unwrap();
            panic!(
                "the window never showed the share large ({:.0}% red; {})",
                red_share(&shot) * 100.0,
                path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let path = testkit::browser::artifacts_dir().join("desktop-share.png");
    shot.save_png(&path).unwrap();
    // The camera (the test pattern's stripes) is still there, small, in the bottom left
    // corner (the mirrored preview of our own is in the bottom right).
    let (mut colourful, mut all) = (0u32, 0u32);
    for y in shot.height * 3 / 4..shot.height {
        for x in 0..shot.width / 4 {
            let [r, g, b] = shot.pixel(x, y);
            all += 1;
            let red = r > 200 && g < 60 && b < 60;
            let dark = r < 30 && g < 30 && b < 30;
            colourful += u32::from(!red && !dark && (g > 100 || b > 100));
        }
    }
    assert!(
        f64::from(colourful) / f64::from(all) > 0.3,
        "no camera picture beside the share in {} ({colourful} of {all})",
        path.display()
    );
}
