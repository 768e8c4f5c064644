//! Headless browsers driven over WebDriver through fantoccini, with fake cameras and
//! microphones, for the browser interop tests and benchmark: Chromium (through
//! chromedriver) and Firefox ESR (through geckodriver).
//!
//! Each runs with a fresh profile in a temporary directory, allowed to gather
//! candidates on 127.0.0.1 so that it can call inside a loopback-only network
//! namespace. Firefox runs with what it has on its own: no OpenH264 plugin (it is
//! never downloaded), so it calls with VP8 or VP9.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

/// Flags Chromium always runs with: headless, quiet, loopback candidates allowed.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1280,800",
];

/// Firefox preferences: fake devices, granted without asking (the permission is what
/// makes it gather every local address, not just the default route's), loopback
/// candidates, no mDNS names, no updates or downloads (so no OpenH264 plugin either:
/// Firefox offers VP8 and VP9 only).
fn firefox_prefs() -> Value {
    json!({
        "media.navigator.streams.fake": true,
        "media.navigator.permission.disabled": true,
        "permissions.default.camera": 1,
        "permissions.default.microphone": 1,
        "media.peerconnection.ice.loopback": true,
        "media.peerconnection.ice.obfuscate_host_addresses": false,
        "media.autoplay.default": 0,
        "media.gmp-manager.updateEnabled": false,
        "media.gmp-gmpopenh264.enabled": false,
        "media.gmp-gmpopenh264.autoupdate": false,
        "browser.shell.checkDefaultBrowser": false,
        "app.update.enabled": false,
    })
}

/// The Firefox binary: `$FIREFOX`, else Debian's ESR (not its wrapper script).
fn firefox_binary() -> PathBuf {
    std::env::var_os("FIREFOX").map_or_else(
        || PathBuf::from("/usr/lib/firefox-esr/firefox-esr"),
        PathBuf::from,
    )
}

/// One headless browser with its own driver process and profile.
pub struct Browser {
    client: Client,
    driver: Child,
    profile: tempfile::TempDir,
}

/// The Chromium binary: `$CHROMIUM`, else Debian's.
fn chromium_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return path.into();
    }
    // Debian's /usr/bin/chromium is a shell wrapper; chromedriver wants the binary.
    ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("chromium"))
}

impl Browser {
    /// Starts chromedriver on a free port and opens a Chromium session whose camera and
    /// microphone are Chromium's fakes (a 30 fps picture, a beeping tone).
    pub async fn launch() -> Result<Self, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let flags = ["--use-fake-device-for-media-stream=fps=30"];
        Self::start(&flags, chromium_binary(), profile).await
    }

    /// [`Browser::launch`] with `extra` Chromium flags (e.g. for `getDisplayMedia`:
    /// `--auto-select-desktop-capture-source=…`, `--use-fake-ui-for-media-stream`).
    pub async fn launch_with(extra: &[&str]) -> Result<Self, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut flags = vec!["--use-fake-device-for-media-stream=fps=30"];
        flags.extend_from_slice(extra);
        Self::start(&flags, chromium_binary(), profile).await
    }

    /// [`Browser::launch`], accepting `certificate` from TLS servers (TURN over TLS,
    /// `turns:`) though no CA vouches for it: Chromium is told to take a server's
    /// certificate error for none when the chain holds that certificate's public key
    /// (`--ignore-certificate-errors-spki-list`, which needs the profile of its own that
    /// every session has). Any other certificate is still checked.
    pub async fn launch_accepting(certificate: &crate::Certificate) -> Result<Self, String> {
        let accept = format!(
            "--ignore-certificate-errors-spki-list={}",
            certificate.spki_sha256_base64()
        );
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let flags = ["--use-fake-device-for-media-stream=fps=30", &accept];
        Self::start(&flags, chromium_binary(), profile).await
    }

    /// A Chromium session with no camera and no microphone at all (access is granted,
    /// but there is nothing to open), as on a machine without them.
    pub async fn launch_without_media_devices() -> Result<Self, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        Self::start(&[], chromium_binary(), profile).await
    }

    /// [`Browser::launch`] with Chromium in the network namespace `netns` (one made with
    /// `ip netns`; needs root) and its driver in ours: the two talk over a pipe instead
    /// of a port, which the namespaces would keep apart. Pages from `origin` (plain http
    /// on an address of the namespace, not localhost) count as secure, so that they may
    /// open the camera.
    pub async fn launch_in_netns(netns: &str, origin: &str) -> Result<Self, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let wrapper = profile.path().join("chromium-in-netns");
        let script = format!(
            "#!/bin/sh\nexec ip netns exec '{netns}' '{}' \"$@\"\n",
            chromium_binary().display()
        );
        std::fs::write(&wrapper, script).map_err(|e| e.to_string())?;
        let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&wrapper, executable).map_err(|e| e.to_string())?;
        let secure = format!("--unsafely-treat-insecure-origin-as-secure={origin}");
        let flags = [
            "--use-fake-device-for-media-stream=fps=30",
            "--remote-debugging-pipe",
            &secure,
        ];
        Self::start(&flags, wrapper, profile).await
    }

    /// Chromium `binary` with `flags` and `profile`.
    async fn start(
        flags: &[&str],
        binary: PathBuf,
        profile: tempfile::TempDir,
    ) -> Result<Self, String> {
        let mut args: Vec<String> = CHROMIUM_FLAGS
            .iter()
            .chain(flags)
            .map(|s| s.to_string())
            .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({
            "goog:chromeOptions": {
                "binary": binary,
                "args": args,
            }
        });
        let hint = "install chromium and chromium-driver";
        Self::connect("chromedriver", hint, caps, profile).await
    }

    /// Starts geckodriver on a free port and opens a headless Firefox session whose
    /// camera and microphone are Firefox's fakes, with no H.264 plugin (VP8 and VP9).
    pub async fn launch_firefox() -> Result<Self, String> {
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let caps = json!({
            "browserName": "firefox",
            "moz:firefoxOptions": {
                "binary": firefox_binary(),
                "args": ["-headless", "-profile", profile.path(), "--width=1280", "--height=800"],
                "prefs": firefox_prefs(),
            }
        });
        let hint = "install firefox-esr, and geckodriver (`cargo install geckodriver`)";
        Self::connect("geckodriver", hint, caps, profile).await
    }

    /// Starts `driver` (chromedriver, geckodriver) on a free port and opens a session
    /// with `caps`; `hint` says what to install when it is missing.
    async fn connect(
        driver: &str,
        hint: &str,
        caps: Value,
        profile: tempfile::TempDir,
    ) -> Result<Self, String> {
        let port = crate::free_tcp_port();
        let mut process = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{driver} did not start ({e}): {hint}"))?;
        let Value::Object(caps) = caps else {
            unreachable!("capabilities are an object")
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(_) if started.elapsed() < Duration::from_secs(20) => {
                    if let Ok(Some(status)) = process.try_wait() {
                        return Err(format!("{driver} exited with {status}: {hint}"));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => {
                    let _ = process.kill();
                    return Err(format!("no browser session through {driver}: {err}"));
                }
            }
        };
        Ok(Self {
            client,
            driver: process,
            profile,
        })
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) -> Result<(), String> {
        self.client.goto(url).await.map_err(|e| e.to_string())
    }

    /// Evaluates `script` (a function body; `return` gives the result) in the page.
    pub async fn eval(&self, script: &str) -> Result<Value, String> {
        self.client
            .execute(script, vec![])
            .await
            .map_err(|e| format!("{e} (in `{script}`)"))
    }

    /// Runs an async `script` (a function body whose `return` may be a promise).
    pub async fn eval_async(&self, script: &str) -> Result<Value, String> {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1];
             (async () => {{ {script} }})().then(done, (e) => done({{ error: String(e) }}));"
        );
        let value = self
            .client
            .execute_async(&wrapped, vec![])
            .await
            .map_err(|e| format!("{e} (in `{script}`)"))?;
        match value.get("error") {
            Some(err) => Err(format!("{err} (in `{script}`)")),
            None => Ok(value),
        }
    }

    /// Polls `script` every 200 ms until it returns something other than `null`/`false`,
    /// for at most `limit`.
    pub async fn wait_for(&self, script: &str, limit: Duration) -> Result<Value, String> {
        let started = Instant::now();
        loop {
            let value = self.eval(script).await?;
            if !value.is_null() && value != Value::Bool(false) {
                return Ok(value);
            }
            if started.elapsed() > limit {
                return Err(format!("`{script}` still {value} after {limit:?}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A PNG screenshot of the page.
    pub async fn screenshot(&self) -> Result<Vec<u8>, String> {
        self.client.screenshot().await.map_err(|e| e.to_string())
    }

    /// Closes the session and its driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A killed geckodriver leaves its Firefox running: end whatever still runs
        // with this session's profile.
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(self.profile.path())
            .status();
    }
}

/// Mean and spread of the luma of `rect` (x, y, width, height in pixels) of a PNG:
/// `(mean, standard deviation)` over 0–255, to tell a live picture from a black one.
pub fn png_region_luma(png: &[u8], rect: (u32, u32, u32, u32)) -> Result<(f64, f64), String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or("PNG too large")?];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let channels = info.color_type.samples();
    let (x0, y0, w, h) = rect;
    let (x1, y1) = ((x0 + w).min(info.width), (y0 + h).min(info.height));
    let mut values = Vec::new();
    for y in y0..y1 {
        for x in x0..x1 {
            let i = (y as usize * info.width as usize + x as usize) * channels;
            let px = &buf[i..i + channels.min(3)];
            let luma = if px.len() >= 3 {
                0.299 * f64::from(px[0]) + 0.587 * f64::from(px[1]) + 0.114 * f64::from(px[2])
            } else {
                f64::from(px[0])
            };
            values.push(luma);
        }
    }
    if values.is_empty() {
        return Err(format!(
            "the region {rect:?} is outside the {}x{} picture",
            info.width, info.height
        ));
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    Ok((mean, var.sqrt()))
}

/// Where CI keeps artifacts (screenshots): `$PEERCALL_ARTIFACTS`, else
/// `target/artifacts` in the workspace.
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("PEERCALL_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/artifacts"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
