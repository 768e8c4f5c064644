//! The web client's devices, in headless Chromium with its fake devices: three cameras
//! (`fake_device_0` to `_2`, from `device-count=3`), three microphones ("Fake
//! Default Audio Input", "Fake Audio Input 1" and "2", each playing a beep) and three
//! speakers ("Fake Default Audio Output", "Fake Audio Output 1" and "2").
//!
//! - Before joining, the camera's preview plays and the microphone's level meter moves.
//! - The pickers list the fake devices; the camera, microphone and speaker picked
//!   (`setSinkId` on the remote video) are used again after a reload; a remembered camera
//!   that is gone gives way to the default, with a note.
//! - Mid-call, camera and microphone switch on the same senders (`replaceTrack`): the
//!   other browser keeps receiving, no offer is sent and the session descriptions stay
//!   as they were; mute and camera-off stay on across a switch.
//! - Without any device, the pickers say so and the page still joins, receive-only.
//! - A page that joined without camera and microphone: a microphone picked while it
//!   waits alone is offered once its held offer is answered, a camera picked in the call
//!   with one offer; the other browser gets both.
//!
//! Needs `chromium` and `chromium-driver` (scripts/test installs them). Run in a
//! loopback-only network namespace, as scripts/test does.

#[allow(dead_code, reason = "the device tests use only the signaling server")]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::signaling_server;
use serde_json::Value;
use testkit::browser::Browser;
use tokio::sync::Mutex;

/// One browser test at a time: each runs Chromium and real-time codecs on two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// Chromium's fake devices with three cameras. Chromium takes the last value of a switch
/// given twice, so this replaces the one `Browser::launch_with` always passes. The tests
/// switch between `fake_device_0` (I420) and `fake_device_2` (MJPEG): `fake_device_1`
/// delivers Y16, a depth format, which plays in the preview but never reaches the
/// encoder, so a call sending it sends no video.
const CAMERAS: &str = "--use-fake-device-for-media-stream=fps=30,device-count=3";

/// Longest wait for what should happen.
const WITHIN: Duration = Duration::from_secs(20);

/// Chromium with three fake cameras, on the page for `room` (joined at once with `query`
/// `&autojoin=1`).
async fn page(server: SocketAddr, room: &str, query: &str) -> Browser {
    let browser = Browser::launch_with(&[CAMERAS])
        .await
        .expect("Chromium (install chromium and chromium-driver)");
    open(&browser, server, room, query).await;
    browser
}

/// Opens the web client in `room`.
async fn open(browser: &Browser, server: SocketAddr, room: &str, query: &str) {
    browser
        .open(&format!(
            "http://{server}/?room={room}&name=chromium{query}"
        ))
        .await
        .unwrap();
}

/// Waits for `script` to return something other than `null`/`false`, and returns it.
async fn wait(browser: &Browser, script: &str, what: &str) -> Value {
    browser
        .wait_for(script, WITHIN)
        .await
        .unwrap_or_else(|err| panic!("{what}: {err}"))
}

/// The pickers' options once filled: `{camera, mic, speaker}`, each `[[label, id]...]`.
async fn picker_options(browser: &Browser) -> Value {
    wait(
        browser,
        "const options = (id) => [...document.getElementById(id).options].map((o) => [o.text, o.value]);
         const lists = { camera: options('camera-choice'), mic: options('mic-choice'), speaker: options('speaker-choice') };
         return lists.camera.length > 1 && lists;",
        "the pickers are filled",
    )
    .await
}

/// The id of the option labelled `label` in `options` (`[[label, id]...]`).
fn id_of(options: &Value, label: &str) -> String {
    options
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o[0] == label)
        .unwrap_or_else(|| panic!("no option {label} in {options}"))[1]
        .as_str()
        .unwrap()
        .to_string()
}

/// Picks device `id` in picker `picker` as a person would (a `change` event).
async fn pick(browser: &Browser, picker: &str, id: &str) {
    browser
        .eval(&format!(
            "const select = document.getElementById('{picker}');
             select.value = '{id}';
             select.dispatchEvent(new Event('change'));
             return select.value === '{id}';"
        ))
        .await
        .unwrap();
}

/// Waits until the local track of `kind` (`video`, `audio`) is live on device `label`.
async fn wait_local_track(browser: &Browser, kind: &str, label: &str) {
    let script = format!(
        "const t = window.peercall.local.getTracks().find((t) => t.kind === '{kind}');
         return t?.readyState === 'live' && t.label === '{label}';"
    );
    if let Err(err) = browser.wait_for(&script, WITHIN).await {
        let page = browser
            .eval(
                "return { tracks: window.peercall.local.getTracks().map((t) => [t.label, t.readyState]),
                          note: document.getElementById('device-note').textContent };",
            )
            .await;
        panic!("the local {kind} is not {label}: {err}; the page has {page:?}");
    }
}

/// Waits until the preview plays: a picture, and 15 more frames shown after that.
async fn preview_plays(browser: &Browser) {
    let frames = "const v = document.getElementById('local-video');
                  return v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames;";
    let first = wait(browser, frames, "the preview shows a picture").await;
    let more = first.as_u64().unwrap() + 15;
    let script = format!(
        "const v = document.getElementById('local-video');
         return v.getVideoPlaybackQuality().totalVideoFrames > {more};"
    );
    wait(browser, &script, "the preview's frames advance").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_previews_the_camera_and_meters_the_microphone_before_joining() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let browser = page(server, "preview", "").await;
    preview_plays(&browser).await;
    // Not joined: no call, no connection.
    let idle = browser
        .eval("return window.peercall.call === null && document.getElementById('state').dataset.state")
        .await
        .unwrap();
    assert_eq!(idle, "idle");
    // The meter follows the fake microphone's beeps: loud, then quiet again.
    let levels = browser
        .eval_async(
            "const meter = document.getElementById('mic-level');
             const seen = [];
             for (let i = 0; i < 60; i++) {
               seen.push(meter.hidden ? -1 : meter.value);
               await new Promise((r) => setTimeout(r, 50));
             }
             return seen;",
        )
        .await
        .unwrap();
    let levels: Vec<f64> = serde_json::from_value(levels).unwrap();
    let loudest = levels.iter().copied().fold(f64::MIN, f64::max);
    let quietest = levels.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        loudest > 0.5 && (0.0..0.25).contains(&quietest),
        "the meter should rise with each beep and fall between them: {levels:?}"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pickers_list_the_fake_devices_and_the_choice_survives_a_reload() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let browser = page(server, "pickers", "").await;
    let options = picker_options(&browser).await;
    let labels = |list: &str| -> Vec<String> {
        options[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o[0].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        labels("camera"),
        ["fake_device_0", "fake_device_1", "fake_device_2"]
    );
    assert_eq!(
        labels("mic"),
        [
            "Fake Default Audio Input",
            "Fake Audio Input 1",
            "Fake Audio Input 2"
        ]
    );
    assert_eq!(
        labels("speaker"),
        [
            "Fake Default Audio Output",
            "Fake Audio Output 1",
            "Fake Audio Output 2"
        ]
    );
    wait_local_track(&browser, "video", "fake_device_0").await;

    let camera = id_of(&options["camera"], "fake_device_2");
    let mic = id_of(&options["mic"], "Fake Audio Input 2");
    let speaker = id_of(&options["speaker"], "Fake Audio Output 1");
    pick(&browser, "camera-choice", &camera).await;
    wait_local_track(&browser, "video", "fake_device_2").await;
    pick(&browser, "mic-choice", &mic).await;
    wait_local_track(&browser, "audio", "Fake Audio Input 2").await;
    pick(&browser, "speaker-choice", &speaker).await;
    let sink = format!("return document.getElementById('remote-video').sinkId === '{speaker}'");
    wait(
        &browser,
        &sink,
        "the remote video plays on the picked speaker",
    )
    .await;
    preview_plays(&browser).await;

    // Reloaded: the same three again, in use and shown in the pickers.
    open(&browser, server, "pickers", "").await;
    wait_local_track(&browser, "video", "fake_device_2").await;
    wait_local_track(&browser, "audio", "Fake Audio Input 2").await;
    wait(&browser, &sink, "the picked speaker after a reload").await;
    let shown = wait(
        &browser,
        "const value = (id) => document.getElementById(id).value;
         return value('camera-choice') !== '' && [value('camera-choice'), value('mic-choice'), value('speaker-choice')];",
        "the pickers show the choices",
    )
    .await;
    assert_eq!(shown, serde_json::json!([camera, mic, speaker]));
    let note = browser
        .eval("return document.getElementById('device-note').hidden")
        .await
        .unwrap();
    assert_eq!(note, true, "no note when the remembered devices are there");

    // A remembered camera that is gone: the default, and a note naming it.
    browser
        .eval(
            "localStorage.setItem('peercall.camera', JSON.stringify({ id: 'unplugged', label: 'Old Webcam' }));
             return true;",
        )
        .await
        .unwrap();
    open(&browser, server, "pickers", "").await;
    wait_local_track(&browser, "video", "fake_device_0").await;
    let note = wait(
        &browser,
        "const note = document.getElementById('device-note'); return !note.hidden && note.textContent;",
        "a note says the remembered camera is gone",
    )
    .await;
    let note = note.as_str().unwrap();
    assert!(
        note.contains("Old Webcam")
            && note.contains("not available")
            && note.contains("fake_device_0"),
        "{note}"
    );
    preview_plays(&browser).await;
    browser.close().await;
}

/// What the page's sender of `kind` sends: `{id, label, enabled}` of its track.
async fn sent(browser: &Browser, kind: &str) -> Value {
    browser
        .eval(&format!(
            "const s = window.peercall.call.pc.getSenders().find((s) => s.track?.kind === '{kind}');
             return s && {{ id: s.track.id, label: s.track.label, enabled: s.track.enabled }};"
        ))
        .await
        .unwrap()
}

/// Counts, from now on, the offers the page sends and the `negotiationneeded` events of
/// its connection; remembers its session descriptions as they are now.
async fn watch_negotiation(browser: &Browser) {
    browser
        .eval(
            "const call = window.peercall.call;
             const watch = { offers: 0, needed: 0, local: call.pc.localDescription.sdp, remote: call.pc.remoteDescription.sdp };
             const send = call.signaling.send.bind(call.signaling);
             call.signaling.send = (msg) => { if (msg.type === 'offer') watch.offers += 1; return send(msg); };
             call.pc.addEventListener('negotiationneeded', () => { watch.needed += 1; });
             window.watch = watch;
             return true;",
        )
        .await
        .unwrap();
}

/// Asserts that nothing was negotiated since [`watch_negotiation`].
async fn assert_not_renegotiated(browser: &Browser, who: &str) {
    let seen = browser
        .eval(
            "const pc = window.peercall.call.pc;
             return { offers: window.watch.offers, needed: window.watch.needed, state: pc.signalingState,
                      local: pc.localDescription.sdp === window.watch.local,
                      remote: pc.remoteDescription.sdp === window.watch.remote };",
        )
        .await
        .unwrap();
    let expected = serde_json::json!({
        "offers": 0, "needed": 0, "state": "stable", "local": true, "remote": true
    });
    assert_eq!(seen, expected, "{who} renegotiated");
}

/// Waits until the page has decoded `more` video frames and received audio past what
/// it had when called.
async fn keeps_receiving(browser: &Browser, more: u64) {
    let now = "const out = { frames: 0, samples: 0 };
               (await window.peercall.call.pc.getStats()).forEach((r) => {
                 if (r.type === 'inbound-rtp' && r.kind === 'video') out.frames = r.framesDecoded;
                 if (r.type === 'inbound-rtp' && r.kind === 'audio') out.samples = r.totalSamplesReceived;
               });
               return out;";
    let before = browser.eval_async(now).await.unwrap();
    let (frames, samples) = (
        before["frames"].as_u64().unwrap(),
        before["samples"].as_u64().unwrap(),
    );
    let deadline = tokio::time::Instant::now() + WITHIN;
    loop {
        let after = browser.eval_async(now).await.unwrap();
        if after["frames"].as_u64().unwrap() > frames + more
            && after["samples"].as_u64().unwrap() > samples
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the other page stopped receiving: {before} then {after}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the page's call is in `state`.
async fn wait_state(browser: &Browser, state: &str) {
    let script = format!("return window.peercall?.call?.state === '{state}'");
    wait(browser, &script, &format!("the page reaches `{state}`")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_and_microphone_switch_mid_call_on_the_same_senders_without_renegotiating() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let switching = page(server, "switch", "&autojoin=1").await;
    wait_state(&switching, "waiting").await;
    let other = Browser::launch().await.expect("Chromium");
    open(&other, server, "switch", "&autojoin=1").await;
    wait_state(&switching, "connected").await;
    wait_state(&other, "connected").await;
    keeps_receiving(&other, 30).await;
    let options = picker_options(&switching).await;
    watch_negotiation(&switching).await;
    watch_negotiation(&other).await;
    let (video_before, audio_before) = (
        sent(&switching, "video").await,
        sent(&switching, "audio").await,
    );
    assert_eq!(video_before["label"], "fake_device_0");

    // The second camera and microphone: sent in place of the first, on the same senders.
    pick(
        &switching,
        "camera-choice",
        &id_of(&options["camera"], "fake_device_2"),
    )
    .await;
    pick(
        &switching,
        "mic-choice",
        &id_of(&options["mic"], "Fake Audio Input 2"),
    )
    .await;
    wait(
        &switching,
        "const labels = window.peercall.call.pc.getSenders().map((s) => s.track?.label);
         return labels.includes('fake_device_2') && labels.includes('Fake Audio Input 2');",
        "the senders carry the new devices",
    )
    .await;
    let (video_after, audio_after) = (
        sent(&switching, "video").await,
        sent(&switching, "audio").await,
    );
    assert_ne!(video_after["id"], video_before["id"], "a new camera track");
    assert_ne!(
        audio_after["id"], audio_before["id"],
        "a new microphone track"
    );
    let senders = switching
        .eval("return window.peercall.call.pc.getSenders().filter((s) => s.track).length")
        .await
        .unwrap();
    assert_eq!(senders, 2, "the same two senders, none added");
    keeps_receiving(&other, 30).await;
    preview_plays(&switching).await;

    // Camera off and muted, then switched back: still off and muted.
    switching
        .eval("document.getElementById('camera').click(); document.getElementById('mute').click(); return true")
        .await
        .unwrap();
    pick(
        &switching,
        "camera-choice",
        &id_of(&options["camera"], "fake_device_0"),
    )
    .await;
    pick(
        &switching,
        "mic-choice",
        &id_of(&options["mic"], "Fake Default Audio Input"),
    )
    .await;
    wait(
        &switching,
        "const labels = window.peercall.call.pc.getSenders().map((s) => s.track?.label);
         return labels.includes('fake_device_0') && labels.includes('Fake Default Audio Input');",
        "the senders carry the first devices again",
    )
    .await;
    assert_eq!(
        sent(&switching, "video").await["enabled"],
        false,
        "camera stays off"
    );
    assert_eq!(
        sent(&switching, "audio").await["enabled"],
        false,
        "mic stays muted"
    );
    let buttons = switching
        .eval(
            "const b = (id) => document.getElementById(id);
             return [b('camera').textContent, b('camera').getAttribute('aria-pressed'), b('mute').textContent, b('mute').getAttribute('aria-pressed')];",
        )
        .await
        .unwrap();
    assert_eq!(
        buttons,
        serde_json::json!(["Camera on", "true", "Unmute mic", "true"])
    );

    assert_not_renegotiated(&switching, "the switching page").await;
    assert_not_renegotiated(&other, "the other page").await;
    switching.close().await;
    other.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_devices_the_pickers_say_so_and_the_page_joins_receive_only() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let browser = Browser::launch_without_media_devices()
        .await
        .expect("Chromium (install chromium and chromium-driver)");
    open(&browser, server, "nothing", "&autojoin=1").await;
    wait_state(&browser, "waiting").await;
    let pickers = wait(
        &browser,
        "const p = (id) => { const s = document.getElementById(id); return [s.disabled, s.options[0]?.text]; };
         return document.getElementById('camera-choice').options.length > 0
           && [p('camera-choice'), p('mic-choice'), document.getElementById('mic-level').hidden];",
        "the pickers are filled",
    )
    .await;
    assert_eq!(
        pickers,
        serde_json::json!([
            [true, "no camera available"],
            [true, "no microphone available"],
            true
        ])
    );
    let directions = browser
        .eval("return window.peercall.call.pc.getTransceivers().map((t) => t.direction)")
        .await
        .unwrap();
    assert_eq!(directions, serde_json::json!(["recvonly", "recvonly"]));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_picked_after_joining_without_them_are_offered_and_reach_the_other_side() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    // Camera and microphone taken away before joining, as on a machine where they came
    // later.
    let late = page(server, "late-devices", "").await;
    let options = picker_options(&late).await;
    wait_local_track(&late, "audio", "Fake Default Audio Input").await;
    late.eval(
        "for (const t of window.peercall.local.getTracks()) {
           window.peercall.local.removeTrack(t);
           t.stop();
         }
         document.getElementById('join').click();
         return true;",
    )
    .await
    .unwrap();
    wait_state(&late, "waiting").await;
    // A microphone picked while alone: offered once the held offer is answered.
    pick(
        &late,
        "mic-choice",
        &id_of(&options["mic"], "Fake Audio Input 1"),
    )
    .await;
    wait_local_track(&late, "audio", "Fake Audio Input 1").await;
    let other = Browser::launch().await.expect("Chromium");
    open(&other, server, "late-devices", "&autojoin=1").await;
    wait_state(&late, "connected").await;
    wait_state(&other, "connected").await;
    wait(
        &late,
        "const pc = window.peercall.call.pc;
         return pc.signalingState === 'stable'
           && pc.getTransceivers().map((t) => t.currentDirection).join() === 'sendrecv,recvonly';",
        "the microphone is negotiated (and the camera not)",
    )
    .await;

    // A camera picked in the call: one offer, and the other side decodes it.
    watch_negotiation(&late).await;
    pick(
        &late,
        "camera-choice",
        &id_of(&options["camera"], "fake_device_2"),
    )
    .await;
    wait(
        &late,
        "const pc = window.peercall.call.pc;
         return window.watch.offers === 1 && pc.signalingState === 'stable'
           && pc.getTransceivers()[1].currentDirection === 'sendrecv';",
        "the camera is offered and answered",
    )
    .await;
    keeps_receiving(&other, 30).await;
    late.close().await;
    other.close().await;
}
