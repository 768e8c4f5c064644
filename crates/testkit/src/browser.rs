//! Headless Chromium driven over WebDriver (chromedriver + fantoccini), with the fake
//! camera and microphone, for the browser interop tests and benchmark.
//!
//! Chromium runs with a fresh profile in a temporary directory, and with
//! `--allow-loopback-in-peer-connection` so that inside a loopback-only network
//! namespace it gathers candidates on 127.0.0.1.

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

/// One headless Chromium with its own chromedriver and profile.
pub struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
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
        Self::start(&["--use-fake-device-for-media-stream=fps=30"]).await
    }

    /// A Chromium session with no camera and no microphone at all (access is granted,
    /// but there is nothing to open), as on a machine without them.
    pub async fn launch_without_media_devices() -> Result<Self, String> {
        Self::start(&[]).await
    }

    async fn start(flags: &[&str]) -> Result<Self, String> {
        let port = crate::free_tcp_port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("chromedriver did not start ({e}): install chromium and chromium-driver")
            })?;
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut args: Vec<String> = CHROMIUM_FLAGS
            .iter()
            .chain(flags)
            .map(|s| s.to_string())
            .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium_binary(),
                "args": args,
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
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
                    if let Ok(Some(status)) = driver.try_wait() {
                        return Err(format!("chromedriver exited with {status}"));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => {
                    let _ = driver.kill();
                    return Err(format!("no Chromium session through chromedriver: {err}"));
                }
            }
        };
        Ok(Self {
            client,
            driver,
            _profile: profile,
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

    /// Closes the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver takes its Chromium with it.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
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
