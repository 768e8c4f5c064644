//! A real sound server in user space for tests: PulseAudio with one null sink, `room`,
//! whose monitor is the default source. Whatever a client plays into the room comes
//! back out of its monitor, as a laptop's speaker comes back into its microphone: a real
//! echo path through a real sound server, with no sound card.
//!
//! Clients reach it through ALSA's `pulse` plugin (cpal opens the ALSA device `pulse`)
//! once [`SoundServer::configure`] has set `PULSE_SERVER` on their command.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to answer.
const START_LIMIT: Duration = Duration::from_secs(10);

/// A PulseAudio server for one test; stopped when dropped.
pub struct SoundServer {
    child: Child,
    dir: tempfile::TempDir,
}

impl SoundServer {
    /// Starts the server in a fresh directory and waits until it answers.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("native");
        let script = dir.path().join("default.pa");
        std::fs::write(
            &script,
            format!(
                "load-module module-native-protocol-unix socket={} auth-anonymous=1\n\
                 load-module module-null-sink sink_name=room rate=44100 channels=2 sink_properties=device.description=Room\n\
                 set-default-sink room\n\
                 set-default-source room.monitor\n",
                socket.display()
            ),
        )
        .unwrap();
        let child = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
            ])
            .arg("-F")
            .arg(&script)
            // Its own home and runtime directory: no user session is needed or touched.
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .expect("pulseaudio not found: install pulseaudio (scripts/test does)");
        let server = Self { child, dir };
        let started = Instant::now();
        while !server.answers() {
            assert!(
                started.elapsed() < START_LIMIT,
                "pulseaudio did not answer within {START_LIMIT:?}; its log:\n{}",
                std::fs::read_to_string(server.dir.path().join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The server's address, as `PULSE_SERVER` takes it.
    pub fn address(&self) -> String {
        format!("unix:{}", self.socket().display())
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("native")
    }

    /// Points `command`'s sound (through ALSA's `pulse` device) at this server.
    pub fn configure<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command.env("PULSE_SERVER", self.address())
    }

    /// Plays `samples` (48 kHz mono) into the room, as a second sound source beside the
    /// clients (a person talking near the microphone); stops when the returned guard drops.
    pub fn play_into_room(&self, samples: &[i16], name: &str) -> Playing {
        let path = self.dir.path().join(format!("{name}.wav"));
        std::fs::write(&path, wav(samples)).unwrap();
        let child = self
            .configure(&mut Command::new("paplay"))
            .args(["--device=room"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("paplay not found: install pulseaudio-utils (scripts/test does)");
        Playing(child)
    }

    fn answers(&self) -> bool {
        self.socket().exists()
            && Command::new("pactl")
                .arg("info")
                .env("PULSE_SERVER", self.address())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    }
}

/// A sound being played into the room; stopped when dropped.
pub struct Playing(Child);

impl Drop for Playing {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A 48 kHz mono 16-bit WAV file of `samples`.
fn wav(samples: &[i16]) -> Vec<u8> {
    let data = u32::try_from(samples.len() * 2).expect("a short sound");
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // format chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&48_000u32.to_le_bytes()); // sample rate
    out.extend_from_slice(&96_000u32.to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

impl Drop for SoundServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
