//! Screen capture for screen sharing, as a [`VideoSource`]: a whole X11 screen or one
//! window, with the cursor drawn in.
//!
//! X11 (x11rb): one connection for the whole capture; each picture is read into a
//! MIT-SHM segment the server made (`ShmCreateSegment`, mapped here once), so no
//! picture crosses the socket (plain `GetImage` where the server has no MIT-SHM). One
//! window is read from its Composite pixmap, so the parts other windows cover stay
//! right. The cursor comes from XFixes and is blended in. The BGRx pixels go straight
//! into the I420 conversion. Pictures are paced at the asked rate; sizes are cut to
//! even numbers, as the encoders need.
//!
//! Wayland (the xdg-desktop-portal ScreenCast route) is not built here: see the README.

use std::os::fd::AsRawFd as _;
use std::time::{Duration, Instant};

use x11rb::connection::Connection as _;
use x11rb::protocol::composite::{ConnectionExt as _, Redirect};
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::protocol::xfixes::ConnectionExt as _;
use x11rb::protocol::xproto::{self, AtomEnum, ConnectionExt as _, ImageFormat};
use x11rb::rust_connection::RustConnection;
use yuvutils_rs::{YuvConversionMode, YuvPlanarImageMut, YuvRange, YuvStandardMatrix};

use crate::MediaError;
use crate::frame::{VideoFrame, now_us};
use crate::source::{VideoFormat, VideoSource};

/// The largest picture shared: bigger screens are cut to it (their top left part).
pub const MAX_SHARE_WIDTH: u32 = 1920;
/// See [`MAX_SHARE_WIDTH`].
pub const MAX_SHARE_HEIGHT: u32 = 1080;

/// The share's frame rate unless asked otherwise: screens change little, and text
/// wants bits per picture more than pictures.
pub const DEFAULT_SHARE_FPS: f32 = 15.0;

/// What to share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareTarget {
    /// An X screen (its number; `None`: the display's default one).
    Screen(Option<usize>),
    /// One window, by its X id.
    Window(u32),
}

impl std::str::FromStr for ShareTarget {
    type Err = String;

    /// `screen`, `screen:N` or `window:ID` (decimal or `0x` hex, as `xwininfo` shows).
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "screen" => Ok(Self::Screen(None)),
            Some(("screen", n)) => n
                .parse()
                .map(|n| Self::Screen(Some(n)))
                .map_err(|_| format!("`{n}` is not a screen number")),
            Some(("window", id)) => {
                let parsed = match id.strip_prefix("0x") {
                    Some(hex) => u32::from_str_radix(hex, 16),
                    None => id.parse(),
                };
                parsed
                    .map(Self::Window)
                    .map_err(|_| format!("`{id}` is not a window id (decimal or 0x hex)"))
            }
            _ => Err("expected screen, screen:N or window:ID".into()),
        }
    }
}

/// Something that can be shared, for a picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shareable {
    /// What it is.
    pub target: ShareTarget,
    /// A name a person recognises (a window's title, "Screen 1 (1920x1080)").
    pub name: String,
}

fn x11_error(what: &str, err: impl std::fmt::Display) -> MediaError {
    MediaError::Screen(format!("{what}: {err}"))
}

/// The screens and windows of the X display (`$DISPLAY`) that can be shared.
pub fn shareables() -> Result<Vec<Shareable>, MediaError> {
    shareables_on(None)
}

/// [`shareables`] of X display `display` (`None`: `$DISPLAY`).
pub fn shareables_on(display: Option<&str>) -> Result<Vec<Shareable>, MediaError> {
    let (conn, _) = x11rb::connect(display).map_err(|e| x11_error("no X display", e))?;
    let mut out = Vec::new();
    for (i, screen) in conn.setup().roots.iter().enumerate() {
        out.push(Shareable {
            target: ShareTarget::Screen(Some(i)),
            name: format!(
                "Screen {} ({}x{})",
                i + 1,
                screen.width_in_pixels,
                screen.height_in_pixels
            ),
        });
        for window in top_level_windows(&conn, screen.root)? {
            if let Some(name) = window_name(&conn, window) {
                out.push(Shareable {
                    target: ShareTarget::Window(window),
                    name,
                });
            }
        }
    }
    Ok(out)
}

/// The window manager's client list, or else the root's mapped children.
fn top_level_windows(conn: &RustConnection, root: u32) -> Result<Vec<u32>, MediaError> {
    let atom = |name: &str| -> Option<u32> {
        Some(
            conn.intern_atom(true, name.as_bytes())
                .ok()?
                .reply()
                .ok()?
                .atom,
        )
    };
    if let Some(list) = atom("_NET_CLIENT_LIST").filter(|&a| a != 0)
        && let Ok(Ok(reply)) = conn
            .get_property(false, root, list, AtomEnum::WINDOW, 0, 4096)
            .map(|c| c.reply())
        && let Some(windows) = reply.value32()
    {
        let windows: Vec<u32> = windows.collect();
        if !windows.is_empty() {
            return Ok(windows);
        }
    }
    let tree = conn
        .query_tree(root)
        .map_err(|e| x11_error("query_tree", e))?
        .reply()
        .map_err(|e| x11_error("query_tree", e))?;
    Ok(tree
        .children
        .into_iter()
        .filter(|&w| {
            conn.get_window_attributes(w)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|a| a.map_state == xproto::MapState::VIEWABLE)
        })
        .collect())
}

/// A window's title: `_NET_WM_NAME` (UTF-8), else `WM_NAME`.
fn window_name(conn: &RustConnection, window: u32) -> Option<String> {
    let utf8 = conn
        .intern_atom(true, b"UTF8_STRING")
        .ok()?
        .reply()
        .ok()?
        .atom;
    let net_name = conn
        .intern_atom(true, b"_NET_WM_NAME")
        .ok()?
        .reply()
        .ok()?
        .atom;
    for (property, kind) in [
        (net_name, utf8),
        (AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()),
    ] {
        if property == 0 {
            continue;
        }
        let reply = conn
            .get_property(false, window, property, kind, 0, 1024)
            .ok()?
            .reply()
            .ok()?;
        if !reply.value.is_empty() {
            return Some(String::from_utf8_lossy(&reply.value).into_owned());
        }
    }
    None
}

/// A shared-memory segment the X server made and we mapped.
struct Segment {
    id: u32,
    ptr: *mut u8,
    len: usize,
}

// The mapping is only touched by the capture that owns it, on one thread at a time.
#[allow(unsafe_code)]
// SAFETY: `Segment` owns its mapping exclusively; moving it to another thread moves
// that ownership.
unsafe impl Send for Segment {}

impl Segment {
    /// A segment of `len` bytes made by the server, mapped read-write here.
    #[allow(unsafe_code)]
    fn new(conn: &RustConnection, len: usize) -> Result<Self, String> {
        conn.shm_query_version()
            .map_err(|e| e.to_string())?
            .reply()
            .map_err(|e| e.to_string())?;
        let id = conn.generate_id().map_err(|e| e.to_string())?;
        let reply = conn
            .shm_create_segment(id, len as u32, false)
            .map_err(|e| e.to_string())?
            .reply()
            .map_err(|e| e.to_string())?;
        // SAFETY: mapping a file descriptor the server handed us, of the size we asked
        // for; the result is checked, and unmapped only in `Drop`.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                reply.shm_fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            let _ = conn.shm_detach(id);
            return Err(std::io::Error::last_os_error().to_string());
        }
        Ok(Self {
            id,
            ptr: ptr.cast(),
            len,
        })
    }

    /// The mapped bytes.
    #[allow(unsafe_code)]
    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` maps `len` bytes for as long as `self` lives, and `&mut self`
        // makes this the only view of them.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Segment {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: unmapping what `new` mapped, once.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// A screen or window of an X display, captured as pictures.
pub struct X11Capture {
    conn: RustConnection,
    root: u32,
    target: ShareTarget,
    /// What is read: the root window, or the window's Composite pixmap.
    drawable: u32,
    /// The window captured (for its position, to place the cursor).
    window: Option<u32>,
    /// Size read, even, at most 1920x1080.
    width: u32,
    height: u32,
    fps: f32,
    segment: Option<Segment>,
    /// Pixels read without MIT-SHM (and the buffer the cursor is drawn into then).
    fallback: Vec<u8>,
    xfixes: bool,
    next_at: Option<Instant>,
    name: String,
}

impl std::fmt::Debug for X11Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("X11Capture")
            .field("target", &self.target)
            .field("size", &(self.width, self.height))
            .field("fps", &self.fps)
            .field("shm", &self.segment.is_some())
            .finish_non_exhaustive()
    }
}

impl X11Capture {
    /// Opens `target` on `$DISPLAY`, delivering pictures at `fps`.
    pub fn open(target: ShareTarget, fps: f32) -> Result<Self, MediaError> {
        Self::open_on(None, target, fps)
    }

    /// [`X11Capture::open`] on X display `display` (`None`: `$DISPLAY`).
    pub fn open_on(
        display: Option<&str>,
        target: ShareTarget,
        fps: f32,
    ) -> Result<Self, MediaError> {
        let (conn, default_screen) =
            x11rb::connect(display).map_err(|e| x11_error("cannot open the X display", e))?;
        let index = match target {
            ShareTarget::Screen(Some(n)) => n,
            _ => default_screen,
        };
        let screen = conn.setup().roots.get(index).ok_or_else(|| {
            MediaError::Screen(format!(
                "there is no screen {index} (the display has {})",
                conn.setup().roots.len()
            ))
        })?;
        let root = screen.root;
        let xfixes = conn
            .xfixes_query_version(4, 0)
            .ok()
            .and_then(|c| c.reply().ok())
            .is_some();
        let mut capture = Self {
            conn,
            root,
            target,
            drawable: root,
            window: None,
            width: 0,
            height: 0,
            fps: fps.clamp(1.0, 60.0),
            segment: None,
            fallback: Vec::new(),
            xfixes,
            next_at: None,
            name: String::new(),
        };
        match target {
            ShareTarget::Screen(_) => {
                let (w, h) = (
                    u32::from(screen_size(&capture.conn, index).0),
                    u32::from(screen_size(&capture.conn, index).1),
                );
                capture.set_size(w, h);
                capture.name = format!("Screen {} ({w}x{h})", index + 1);
            }
            ShareTarget::Window(window) => {
                capture.window = Some(window);
                capture
                    .conn
                    .composite_query_version(0, 4)
                    .map_err(|e| x11_error("no Composite extension", e))?
                    .reply()
                    .map_err(|e| x11_error("no Composite extension", e))?;
                capture
                    .conn
                    .composite_redirect_window(window, Redirect::AUTOMATIC)
                    .map_err(|e| x11_error("cannot redirect the window", e))?;
                capture.name_pixmap()?;
                capture.name = window_name(&capture.conn, window)
                    .unwrap_or_else(|| format!("Window 0x{window:x}"));
            }
        }
        Ok(capture)
    }

    /// Names the window's current Composite pixmap and takes its size.
    fn name_pixmap(&mut self) -> Result<(), MediaError> {
        let Some(window) = self.window else {
            return Ok(());
        };
        let geometry = self
            .conn
            .get_geometry(window)
            .map_err(|e| x11_error("the window is gone", e))?
            .reply()
            .map_err(|e| x11_error("the window is gone", e))?;
        if self.drawable != self.root {
            let _ = self.conn.free_pixmap(self.drawable);
        }
        let pixmap = self
            .conn
            .generate_id()
            .map_err(|e| x11_error("no ids left", e))?;
        self.conn
            .composite_name_window_pixmap(window, pixmap)
            .map_err(|e| x11_error("cannot name the window's pixmap", e))?;
        self.drawable = pixmap;
        self.set_size(u32::from(geometry.width), u32::from(geometry.height));
        Ok(())
    }

    /// Takes a new size (even, within 1920x1080) and a segment to fit it.
    fn set_size(&mut self, width: u32, height: u32) {
        let (w, h) = (
            (width.min(MAX_SHARE_WIDTH) & !1).max(2),
            (height.min(MAX_SHARE_HEIGHT) & !1).max(2),
        );
        if (w, h) == (self.width, self.height) {
            return;
        }
        self.width = w;
        self.height = h;
        let len = (w * h * 4) as usize;
        self.segment = None;
        match Segment::new(&self.conn, len) {
            // A segment the server created is attached to it already.
            Ok(segment) => self.segment = Some(segment),
            Err(err) => {
                tracing::info!(%err, "no MIT-SHM: screen pictures come over the socket");
            }
        }
    }

    /// Whether pictures are read through shared memory.
    pub fn uses_shm(&self) -> bool {
        self.segment.is_some()
    }

    /// Reads one picture's BGRx pixels (with the cursor), converts it, stamps it.
    pub fn grab(&mut self) -> Result<VideoFrame, MediaError> {
        let capture_us = now_us();
        let got = match read_pixels(
            &self.conn,
            self.drawable,
            &self.segment,
            self.width,
            self.height,
        ) {
            Ok(got) => got,
            Err(_) if self.window.is_some() => {
                // Resized (its pixmap changed): name the pixmap again, and read once more.
                self.name_pixmap()?;
                read_pixels(
                    &self.conn,
                    self.drawable,
                    &self.segment,
                    self.width,
                    self.height,
                )
                .map_err(|e| x11_error("cannot read the window", e))?
            }
            Err(err) => return Err(x11_error("cannot read the screen", err)),
        };
        if let Some(data) = got {
            self.fallback = data;
        }
        let cursor = if self.xfixes { self.cursor() } else { None };
        let (w, h) = (self.width, self.height);
        let pixels: &mut [u8] = match &mut self.segment {
            Some(segment) => segment.bytes(),
            None => &mut self.fallback,
        };
        if pixels.len() < (w * h * 4) as usize {
            return Err(x11_error("short picture", pixels.len()));
        }
        if let Some((x, y, cw, ch, image)) = cursor {
            blend_cursor(pixels, w, h, (x, y), (cw, ch), &image);
        }
        bgrx_to_i420(pixels, w, h, capture_us)
    }

    /// The cursor's image and where its top left is, in the captured picture.
    fn cursor(&self) -> Option<(i32, i32, u32, u32, Vec<u32>)> {
        let image = self.conn.xfixes_get_cursor_image().ok()?.reply().ok()?;
        let (mut x, mut y) = (
            i32::from(image.x) - i32::from(image.xhot),
            i32::from(image.y) - i32::from(image.yhot),
        );
        if let Some(window) = self.window {
            let origin = self
                .conn
                .translate_coordinates(window, self.root, 0, 0)
                .ok()?
                .reply()
                .ok()?;
            x -= i32::from(origin.dst_x);
            y -= i32::from(origin.dst_y);
        }
        Some((
            x,
            y,
            u32::from(image.width),
            u32::from(image.height),
            image.cursor_image,
        ))
    }
}

/// Reads `w` x `h` BGRx pixels of `drawable`: into `segment` (`None` back), or over the
/// socket (the pixels back).
fn read_pixels(
    conn: &RustConnection,
    drawable: u32,
    segment: &Option<Segment>,
    w: u32,
    h: u32,
) -> Result<Option<Vec<u8>>, String> {
    match segment {
        Some(segment) => conn
            .shm_get_image(
                drawable,
                0,
                0,
                w as u16,
                h as u16,
                !0,
                ImageFormat::Z_PIXMAP.into(),
                segment.id,
                0,
            )
            .map_err(|e| e.to_string())?
            .reply()
            .map(|_| None)
            .map_err(|e| e.to_string()),
        None => conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                drawable,
                0,
                0,
                w as u16,
                h as u16,
                !0,
            )
            .map_err(|e| e.to_string())?
            .reply()
            .map(|r| Some(r.data))
            .map_err(|e| e.to_string()),
    }
}

fn screen_size(conn: &RustConnection, index: usize) -> (u16, u16) {
    conn.setup()
        .roots
        .get(index)
        .map_or((0, 0), |s| (s.width_in_pixels, s.height_in_pixels))
}

impl VideoSource for X11Capture {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn format(&self) -> VideoFormat {
        VideoFormat {
            width: self.width,
            height: self.height,
            fps: self.fps,
        }
    }

    fn next_frame(&mut self) -> Result<VideoFrame, MediaError> {
        let interval = Duration::from_secs_f32(1.0 / self.fps);
        let now = Instant::now();
        let at = self.next_at.unwrap_or(now);
        if at > now {
            std::thread::sleep(at - now);
        }
        // Behind (a slow read): start the pace again from now rather than burst.
        self.next_at = Some(at.max(now) + interval);
        self.grab()
    }
}

/// Blends a premultiplied ARGB cursor `image` of `size` with its top left at `at` into
/// BGRx `pixels` of `width` x `height`; what falls outside is left out.
pub fn blend_cursor(
    pixels: &mut [u8],
    width: u32,
    height: u32,
    at: (i32, i32),
    size: (u32, u32),
    image: &[u32],
) {
    let (cw, ch) = size;
    for row in 0..ch as i32 {
        let y = at.1 + row;
        if y < 0 || y >= height as i32 {
            continue;
        }
        for col in 0..cw as i32 {
            let x = at.0 + col;
            if x < 0 || x >= width as i32 {
                continue;
            }
            let Some(&argb) = image.get((row as u32 * cw + col as u32) as usize) else {
                return;
            };
            let alpha = argb >> 24;
            if alpha == 0 {
                continue;
            }
            let i = ((y as u32 * width + x as u32) * 4) as usize;
            for (c, shift) in [(0, 0), (1, 8), (2, 16)] {
                let src = (argb >> shift) & 0xff;
                let dst = u32::from(pixels[i + c]);
                // Premultiplied: out = src + dst * (1 - alpha).
                pixels[i + c] = (src + dst * (255 - alpha) / 255).min(255) as u8;
            }
        }
    }
}

/// BGRx (4 bytes a pixel, X's 24-bit depth on little-endian) to I420.
pub fn bgrx_to_i420(
    bgrx: &[u8],
    width: u32,
    height: u32,
    capture_us: u64,
) -> Result<VideoFrame, MediaError> {
    let mut frame = VideoFrame::black(width, height);
    frame.capture_us = capture_us;
    let cw = frame.chroma_width();
    let (y, u, v) = frame.planes_mut();
    let mut planar = YuvPlanarImageMut {
        y_plane: yuvutils_rs::BufferStoreMut::Borrowed(y),
        y_stride: width,
        u_plane: yuvutils_rs::BufferStoreMut::Borrowed(u),
        u_stride: cw,
        v_plane: yuvutils_rs::BufferStoreMut::Borrowed(v),
        v_stride: cw,
        width,
        height,
    };
    yuvutils_rs::bgra_to_yuv420(
        &mut planar,
        &bgrx[..(width * height * 4) as usize],
        width * 4,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    )
    .map_err(|e| MediaError::Screen(format!("conversion: {e}")))?;
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_targets_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!("screen".parse(), Ok(ShareTarget::Screen(None)));
        assert_eq!("screen:1".parse(), Ok(ShareTarget::Screen(Some(1))));
        assert_eq!(
            "window:0x1a00003".parse(),
            Ok(ShareTarget::Window(0x1a0_0003))
        );
        assert_eq!("window:42".parse(), Ok(ShareTarget::Window(42)));
        assert!(
            "window:abc"
                .parse::<ShareTarget>()
                .unwrap_err()
                .contains("window id")
        );
        assert!(
            "desk"
                .parse::<ShareTarget>()
                .unwrap_err()
                .contains("expected")
        );
    }

    #[test]
    fn bgrx_colours_come_out_as_their_bt601_values() {
        // Pure red, green, blue and white blocks, 2x2 each, side by side.
        let colours: [[u8; 4]; 4] = [[0, 0, 255, 0], [0, 255, 0, 0], [255, 0, 0, 0], [255; 4]];
        let (w, h) = (8u32, 2u32);
        let mut bgrx = Vec::new();
        for _ in 0..h {
            for x in 0..w {
                bgrx.extend_from_slice(&colours[(x / 2) as usize]);
            }
        }
        let frame = bgrx_to_i420(&bgrx, w, h, 7).unwrap();
        assert_eq!(frame.capture_us, 7);
        let (y, _, _) = frame.planes();
        // BT.601 limited range: red 81, green 145, blue 41, white 235 (±2).
        for (i, want) in [81i32, 145, 41, 235].into_iter().enumerate() {
            let got = i32::from(y[i * 2]);
            assert!((got - want).abs() <= 2, "block {i}: Y {got}, want {want}");
        }
    }

    #[test]
    fn the_cursor_is_blended_where_it_is_and_clipped_at_the_edges() {
        let (w, h) = (4u32, 4u32);
        let mut pixels = vec![0u8; (w * h * 4) as usize];
        // An opaque white 2x2 cursor half off the top left corner.
        blend_cursor(&mut pixels, w, h, (-1, -1), (2, 2), &[0xffff_ffff; 4]);
        assert_eq!(&pixels[0..3], &[255, 255, 255]);
        assert_eq!(&pixels[4..7], &[0, 0, 0]);
        // Half transparent black over white: half grey.
        let mut white = vec![255u8; 4];
        blend_cursor(&mut white, 1, 1, (0, 0), (1, 1), &[0x8000_0000]);
        assert!((126..=128).contains(&white[0]), "{white:?}");
    }
}
