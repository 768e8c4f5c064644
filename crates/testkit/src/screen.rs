//! A virtual X display (Xvfb) for window tests, and screenshots of it.
//!
//! [`Xvfb::start`] runs `Xvfb` on a free display number (stale locks of killed
//! servers do not count); [`Xvfb::screenshot`] reads the whole screen over the X
//! protocol (x11rb `GetImage`) as RGB pixels, which a test can inspect and save as PNG.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{
    ChangeGCAux, ConnectionExt as _, CreateGCAux, CreateWindowAux, ImageFormat, Rectangle,
    WindowClass,
};
use x11rb::wrapper::ConnectionExt as _;

/// A running Xvfb.
pub struct Xvfb {
    child: Child,
    /// `:N`, for `DISPLAY`.
    pub display: String,
}

/// An RGB screenshot.
pub struct Screenshot {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major RGB, 3 bytes a pixel.
    pub rgb: Vec<u8>,
}

impl Xvfb {
    /// Starts Xvfb with one `width` x `height` 24-bit screen (kept as painted when
    /// clients leave: `-noreset`) and waits until it accepts connections.
    pub fn start(width: u32, height: u32) -> Result<Self, String> {
        for number in 90..140 {
            if display_in_use(number) {
                continue;
            }
            let display = format!(":{number}");
            let child = Command::new("Xvfb")
                .arg(&display)
                .args(["-screen", "0", &format!("{width}x{height}x24")])
                .args(["-nolisten", "tcp", "+extension", "GLX"])
                // Without it the server resets when its last client leaves, clearing
                // what a test painted (and refusing connections while it does).
                .arg("-noreset")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("Xvfb did not start ({e}): install xvfb"))?;
            let mut xvfb = Self { child, display };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if x11rb::connect(Some(&xvfb.display)).is_ok() {
                    // Ours only if its lock file names our process: two starts racing
                    // for one number both connect to the one that won it.
                    if lock_owner(number) == Some(xvfb.child.id()) {
                        return Ok(xvfb);
                    }
                    break;
                }
                if let Ok(Some(_)) = xvfb.child.try_wait() {
                    break; // that display was taken after all: try the next
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = xvfb.child.kill();
        }
        Err("no display number free for Xvfb".into())
    }

    /// Paints `blocks` (x, y, width, height, 0xRRGGBB) and `text` (x, y of its
    /// baseline, the string, in the server's `fixed` font, white) onto the root window:
    /// what a screen share of this display then shows.
    pub fn paint(
        &self,
        blocks: &[(i16, i16, u16, u16, u32)],
        text: &[(i16, i16, &str)],
    ) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let (conn, screen) = x11rb::connect(Some(&self.display)).map_err(|e| err(&e))?;
        let root = conn.setup().roots[screen].root;
        let gc = conn.generate_id().map_err(|e| err(&e))?;
        let font = conn.generate_id().map_err(|e| err(&e))?;
        conn.open_font(font, b"fixed").map_err(|e| err(&e))?;
        conn.create_gc(gc, root, &CreateGCAux::new().font(font))
            .map_err(|e| err(&e))?;
        for &(x, y, width, height, rgb) in blocks {
            conn.change_gc(gc, &ChangeGCAux::new().foreground(rgb))
                .map_err(|e| err(&e))?;
            conn.poly_fill_rectangle(
                root,
                gc,
                &[Rectangle {
                    x,
                    y,
                    width,
                    height,
                }],
            )
            .map_err(|e| err(&e))?;
        }
        conn.change_gc(gc, &ChangeGCAux::new().foreground(0xffffff).background(0))
            .map_err(|e| err(&e))?;
        for &(x, y, string) in text {
            conn.image_text8(root, gc, x, y, string.as_bytes())
                .map_err(|e| err(&e))?;
        }
        conn.free_gc(gc).map_err(|e| err(&e))?;
        conn.close_font(font).map_err(|e| err(&e))?;
        // A round trip: everything above is drawn when this returns.
        conn.get_input_focus()
            .map_err(|e| err(&e))?
            .reply()
            .map_err(|e| err(&e))?;
        Ok(())
    }

    /// Opens a top-level window at (`x`, `y`) of `width` x `height` filled with
    /// `0xRRGGBB`, titled `title`, mapped; it stays until `keep` is dropped. Returns its
    /// id and the connection that keeps it.
    pub fn window(
        &self,
        (x, y, width, height): (i16, i16, u16, u16),
        rgb: u32,
        title: &str,
    ) -> Result<(u32, impl Drop), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let (conn, screen) = x11rb::connect(Some(&self.display)).map_err(|e| err(&e))?;
        let root = conn.setup().roots[screen].root;
        let window = conn.generate_id().map_err(|e| err(&e))?;
        conn.create_window(
            x11rb::COPY_DEPTH_FROM_PARENT,
            window,
            root,
            x,
            y,
            width,
            height,
            0,
            WindowClass::INPUT_OUTPUT,
            0,
            &CreateWindowAux::new().background_pixel(rgb),
        )
        .map_err(|e| err(&e))?;
        conn.change_property8(
            x11rb::protocol::xproto::PropMode::REPLACE,
            window,
            x11rb::protocol::xproto::AtomEnum::WM_NAME,
            x11rb::protocol::xproto::AtomEnum::STRING,
            title.as_bytes(),
        )
        .map_err(|e| err(&e))?;
        conn.map_window(window).map_err(|e| err(&e))?;
        conn.get_input_focus()
            .map_err(|e| err(&e))?
            .reply()
            .map_err(|e| err(&e))?;
        Ok((window, KeepWindow(conn)))
    }

    /// Moves the pointer to (`x`, `y`) on the screen.
    pub fn move_pointer(&self, x: i16, y: i16) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let (conn, screen) = x11rb::connect(Some(&self.display)).map_err(|e| err(&e))?;
        let root = conn.setup().roots[screen].root;
        conn.warp_pointer(x11rb::NONE, root, 0, 0, 0, 0, x, y)
            .map_err(|e| err(&e))?;
        conn.get_input_focus()
            .map_err(|e| err(&e))?
            .reply()
            .map_err(|e| err(&e))?;
        Ok(())
    }

    /// The whole screen now.
    pub fn screenshot(&self) -> Result<Screenshot, String> {
        let (conn, screen) = x11rb::connect(Some(&self.display)).map_err(|e| e.to_string())?;
        let root = &conn.setup().roots[screen];
        let (width, height) = (root.width_in_pixels, root.height_in_pixels);
        let image = conn
            .get_image(ImageFormat::Z_PIXMAP, root.root, 0, 0, width, height, !0)
            .map_err(|e| e.to_string())?
            .reply()
            .map_err(|e| e.to_string())?;
        // 24-bit depth comes as 32 bits a pixel, little-endian BGRX.
        let pixels = usize::from(width) * usize::from(height);
        if image.data.len() < pixels * 4 {
            return Err(format!(
                "unexpected image: {} bytes for {width}x{height}",
                image.data.len()
            ));
        }
        let rgb = image.data[..pixels * 4]
            .chunks_exact(4)
            .flat_map(|bgrx| [bgrx[2], bgrx[1], bgrx[0]])
            .collect();
        Ok(Screenshot {
            width: u32::from(width),
            height: u32::from(height),
            rgb,
        })
    }
}

/// Keeps a test window open (its connection) until dropped.
struct KeepWindow(x11rb::rust_connection::RustConnection);

impl Drop for KeepWindow {
    fn drop(&mut self) {
        let _ = self.0.flush();
    }
}

/// The process that holds X display `number`, from its lock file.
fn lock_owner(number: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/tmp/.X{number}-lock"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether an X server holds display `number`: its lock file names a live process.
/// A lock left by a killed server is stale, and the next Xvfb replaces it.
fn display_in_use(number: u32) -> bool {
    let Ok(lock) = std::fs::read_to_string(format!("/tmp/.X{number}-lock")) else {
        return false;
    };
    lock.trim()
        .parse::<u32>()
        .map_or(true, |pid| Path::new(&format!("/proc/{pid}")).exists())
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // Terminated, it removes its lock file and socket; killed, it leaves them.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(2) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Screenshot {
    /// The pixel at (`x`, `y`) as RGB.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Saves it as a PNG.
    pub fn save_png(&self, path: &Path) -> Result<(), String> {
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&self.rgb)
            .map_err(|e| e.to_string())
    }
}

/// Finds a test pattern shown anywhere on `shot` (at any scale) and reads its code:
/// looks for the top edge of the grey quiet zone around the code block, takes the
/// cell size from its width, and samples each cell's centre.
pub fn read_pattern(shot: &Screenshot) -> Option<media::pattern::PatternCode> {
    let (cols, rows) = media::pattern::CODE_GRID;
    let quiet = |[r, g, b]: [u8; 3]| {
        let (lo, hi) = (r.min(g).min(b), r.max(g).max(b));
        lo >= 115 && hi <= 145 && hi - lo <= 12
    };
    let luma =
        |[r, g, b]: [u8; 3]| 0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
    for y in 0..shot.height {
        let mut x = 0;
        while x < shot.width {
            if !quiet(shot.pixel(x, y)) {
                x += 1;
                continue;
            }
            let start = x;
            while x < shot.width && quiet(shot.pixel(x, y)) {
                x += 1;
            }
            let run = x - start;
            if run < 60 {
                continue;
            }
            let cell = f64::from(run) / (cols + 2) as f64;
            let bottom = f64::from(y) + (rows + 2) as f64 * cell;
            if bottom >= f64::from(shot.height) {
                continue;
            }
            let code = media::pattern::read_code_with(|col, row| {
                let px = f64::from(start) + (col as f64 + 1.5) * cell;
                let py = f64::from(y) + (row as f64 + 1.5) * cell;
                luma(shot.pixel(px as u32, py as u32)) > 128.0
            });
            if code.is_some() {
                return code;
            }
        }
    }
    None
}
