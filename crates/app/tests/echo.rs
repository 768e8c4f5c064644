//! A real echo path through a real sound server: peer B plays what it receives into a
//! PulseAudio room whose monitor is B's microphone ([`testkit::sound::SoundServer`]), as
//! a laptop's speaker reaches its microphone. A sends the test tone and counts its timing
//! marks and the energy of what comes back from B: without processing, its own tone
//! returns; with B's echo cancellation on, it is gone. B is `peercall call`, then the
//! desktop app in a real window under Xvfb with its default settings.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

#[allow(
    dead_code,
    reason = "the echo test uses only the window's start and summary"
)]
mod common;

use common::{app_window_with_env, signaling_server};
use serde_json::Value;
use testkit::screen::Xvfb;
use testkit::sound::SoundServer;
use tokio::sync::Mutex;

/// The echo tests take turns: each runs two calls and a sound server on two cores, and
/// the echo canceller's figures suffer when they share them.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// How long each peer stays connected, s.
const SECONDS: &str = "8";

/// The seconds at the end of a call whose received audio is measured.
const LATE_SECONDS: usize = 5;

/// What one `peercall call` printed: a statistics line a second, then the summary.
struct Printed {
    lines: Vec<Value>,
    summary: Value,
}

impl Printed {
    /// Energy of the audio received over the last [`LATE_SECONDS`] seconds: after the
    /// echo canceller has converged (it takes a second or two), and long enough that a
    /// brief leak counts without deciding the figure alone.
    fn late_energy_in(&self) -> f64 {
        let energy = |line: &Value| line["audio_in"]["energy"].as_f64().unwrap();
        let n = self.lines.len();
        assert!(
            n > LATE_SECONDS,
            "too few statistics lines: {:?}",
            self.lines
        );
        energy(&self.lines[n - 1]) - energy(&self.lines[n - 1 - LATE_SECONDS])
    }
}

/// `peercall call` in `room` with `flags`, its sound on `sound`.
async fn call(sound: &SoundServer, server: SocketAddr, room: &str, flags: &[&str]) -> Printed {
    let mut command = Command::new(env!("CARGO_BIN_EXE_peercall"));
    command
        .args([
            "call",
            "--server",
            &format!("ws://{server}/ws"),
            "--room",
            room,
        ])
        .args(["--bind", "127.0.0.1:0", "--duration", SECONDS])
        .args(["--width", "320", "--height", "240"])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = sound.configure(&mut command).spawn().unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let summary = lines.pop().filter(|l| l.get("summary").is_some());
    let Some(summary) = summary else {
        panic!(
            "no summary line; stdout:\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    };
    Printed { lines, summary }
}

/// A sends the test tone into `room`; B plays what it gets into the sound server's
/// room and sends what its microphone (`b_flags`) hears. What each printed.
async fn echo_call(sound: &SoundServer, room: &str, b_flags: &[&str]) -> (Printed, Printed) {
    echo_call_from(sound, room, "test", b_flags).await
}

/// [`echo_call`] with A sending `a_audio`.
async fn echo_call_from(
    sound: &SoundServer,
    room: &str,
    a_audio: &str,
    b_flags: &[&str],
) -> (Printed, Printed) {
    let (server, _stop) = signaling_server(&[]).await;
    let a_flags = ["--audio", a_audio, "--speaker", "none"];
    let mut b_all = vec!["--speaker", "pulse"];
    b_all.extend_from_slice(b_flags);
    let (a, b) = tokio::join!(
        call(sound, server, room, &a_flags),
        call(sound, server, room, &b_all)
    );
    for (who, printed) in [("a", &a), ("b", &b)] {
        let summary = &printed.summary;
        assert_eq!(summary["summary"]["connected"], true, "{who}: {summary}");
    }
    if a_audio == "test" {
        // B heard A's tone: it reached B's speaker.
        let b_heard = b.summary["summary"]["last"]["audio_in"]["marks"]
            .as_u64()
            .unwrap();
        assert!(b_heard >= 10, "b: {}", b.summary);
    }
    (a, b)
}

/// Timing marks of A's own tone that came back to A.
fn marks_back(a: &Printed) -> u64 {
    a.summary["summary"]["last"]["audio_in"]["marks"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_speaker_heard_by_its_own_microphone_sends_the_far_end_back_unless_echo_is_cancelled() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sound = SoundServer::start();
    let unprocessed = ["--aec", "off", "--ns", "off", "--agc", "off"];
    // B's microphone hears nothing: none of A's marks come back.
    let (quiet, _) = echo_call(&sound, "echo-null", &["--audio", "mic:null"]).await;
    assert_eq!(
        marks_back(&quiet),
        0,
        "marks came back without an echo path"
    );

    // B's microphone is the room its speaker plays into: A's tone comes back.
    let mut flags = vec!["--audio", "mic:pulse"];
    flags.extend_from_slice(&unprocessed);
    let (echoed, _) = echo_call(&sound, "echo-room", &flags).await;
    assert!(
        marks_back(&echoed) >= 5,
        "only {} of A's marks came back through B's room",
        marks_back(&echoed)
    );

    // The same room with B's echo canceller on: A's tone no longer comes back.
    let mut flags = vec!["--audio", "mic:pulse", "--aec", "on"];
    flags.extend_from_slice(&unprocessed[2..]);
    let (cancelled, b) = echo_call(&sound, "echo-cancelled", &flags).await;
    let suppressed =
        10.0 * (echoed.late_energy_in() / cancelled.late_energy_in().max(1e-12)).log10();
    let processing = &b.summary["summary"]["last"]["audio_out"]["processing"];
    eprintln!(
        "echo: A's tone back at A {:.1} dB lower with B's canceller; B reports {processing}",
        suppressed
    );
    assert_eq!(processing["aec"], true, "{processing}");
    assert!(
        suppressed >= 25.0,
        "only {suppressed:.1} dB; B reports {processing}"
    );

    // B's own voice (a speech-like sound played into the same room) still reaches A
    // through the canceller while A's tone is being cancelled (double talk): well above
    // what is left of the echo. (The canceller turns it down some while the echo is as
    // loud as it is here, with the speaker and the microphone at the same level: the
    // figure against the voice alone, A silent, is printed.)
    let voice = sound.play_into_room(&near_end_voice(), "near-end");
    let (talking, _) = echo_call(&sound, "echo-double-talk", &flags).await;
    drop(voice);
    let above = 10.0 * (talking.late_energy_in() / cancelled.late_energy_in().max(1e-12)).log10();
    let voice = sound.play_into_room(&near_end_voice(), "near-end-alone");
    let mut alone_flags = vec!["--audio", "mic:pulse"];
    alone_flags.extend_from_slice(&unprocessed);
    let (alone, _) = echo_call_from(&sound, "echo-voice-alone", "none", &alone_flags).await;
    drop(voice);
    let kept = 10.0 * (talking.late_energy_in() / alone.late_energy_in().max(1e-12)).log10();
    eprintln!(
        "echo: B's voice at A during double talk: {above:.1} dB above the cancelled echo, \
         {kept:+.1} dB against the voice alone"
    );
    assert!(
        above >= 15.0,
        "B's voice is only {above:.1} dB above the cancelled echo"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_app_cancels_its_own_speakers_echo_by_default() {
    let _one = ONE_AT_A_TIME.lock().await;
    let sound = SoundServer::start();
    // What comes back without processing, for comparison.
    let unprocessed = ["--aec", "off", "--ns", "off", "--agc", "off"];
    let mut flags = vec!["--audio", "mic:pulse"];
    flags.extend_from_slice(&unprocessed);
    let (echoed, _) = echo_call(&sound, "desktop-baseline", &flags).await;

    // The desktop app as B, its microphone and speaker in the room, settings as new.
    let xvfb = Xvfb::start(1280, 800).expect("Xvfb");
    let settings = tempfile::tempdir().unwrap();
    let (server, _stop) = signaling_server(&[]).await;
    let url = format!("ws://{server}/ws");
    let address = sound.address();
    let window = app_window_with_env(
        &xvfb.display,
        settings.path(),
        &[
            "--server",
            &url,
            "--room",
            "desktop-echo",
            "--video",
            "test",
            "--audio",
            "mic:pulse",
            "--speaker",
            "pulse",
            "--width",
            "320",
            "--height",
            "240",
            "--duration",
            SECONDS,
        ],
        &[("PULSE_SERVER", &address)],
    );
    let a = call(
        &sound,
        server,
        "desktop-echo",
        &["--audio", "test", "--speaker", "none"],
    )
    .await;
    let desktop = window.summary().await;
    assert_eq!(a.summary["summary"]["connected"], true, "{}", a.summary);
    assert_eq!(desktop["ok"], true, "{desktop}");
    // Every stage on by default, with a real microphone and speaker.
    let processing = &desktop["stats"]["audio_out"]["processing"];
    for stage in ["aec", "ns", "agc"] {
        assert_eq!(processing[stage], true, "{processing}");
    }
    let suppressed = 10.0 * (echoed.late_energy_in() / a.late_energy_in().max(1e-12)).log10();
    eprintln!(
        "echo: the desktop app sends A's tone back {suppressed:.1} dB lower; it reports {processing}"
    );
    assert!(
        suppressed >= 25.0,
        "only {suppressed:.1} dB; B reports {processing}"
    );
}

/// Twelve seconds of a speech-like voice at a talking level, 48 kHz mono 16-bit: noise
/// through two resonances (400 and 2,300 Hz), in syllable-rate bursts.
fn near_end_voice() -> Vec<i16> {
    let mut noise = 0x2545_f491_4f6c_dd1d_u64;
    let resonator = |f: f32| {
        let (r, w) = (0.995f32, std::f32::consts::TAU * f / 48_000.0);
        (2.0 * r * w.cos(), -r * r)
    };
    let (a, b) = (resonator(400.0), resonator(2_300.0));
    let (mut y, mut z) = ([0.0f32; 2], [0.0f32; 2]);
    (0..12 * 48_000)
        .map(|n| {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let x = (noise >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
            let yn = x + a.0 * y[0] + a.1 * y[1];
            let zn = x + b.0 * z[0] + b.1 * z[1];
            (y, z) = ([yn, y[0]], [zn, z[0]]);
            let t = n as f32 / 48_000.0;
            let syllables = (std::f32::consts::TAU * 3.7 * t).sin() * 0.5 + 0.5;
            ((yn + 0.6 * zn) * syllables * syllables * 500.0).clamp(-32_000.0, 32_000.0) as i16
        })
        .collect()
}
