//! Screen capture for screen sharing, as a [`VideoSource`]: a whole X11 screen or one
//! window, with the cursor drawn in.
//!
//! X11 (x11rb): one connection for the whole capture; each picture is read into a
//! MIT-SHM segment the server made (`ShmCreateSegment`, mapped here once), so no
//! picture crosses the socket (plain `GetImage` where the server has no MIT-SHM). A
//! screen is read whole once; after that, only what changed: a DAMAGE object on the root
//! window collects the changed rectangles, and only those are copied into the segment,
//! which the server also knows as a pixmap (`ShmCreatePixmap`), so the segment keeps the
//! whole picture up to date (a still screen costs no copying at all). One window is read
//! from its Composite pixmap, so the parts other windows cover stay right. The cursor comes from XFixes and is blended in. The BGRx pixels go straight
//! into the I420 conversion. Pictures are paced at the asked rate; sizes are cut to
//! even numbers, as the encoders need.
//!
//! On Wayland, with the `wayland` feature, a screen (or a window the person picks) comes
//! through the xdg-desktop-portal ScreenCast portal and PipeWire instead
//! (`screen_wayland.rs`); [`route`] decides which, and [`open_capture`] opens it. The
//! pure parts both routes share live here: the size cut ([`share_size`]) and the packed
//! 32-bit pixels to I420 with any row stride ([`packed_to_i420`]).

use std::os::fd::AsRawFd as _;
use std::time::{Duration, Instant};

use x11rb::connection::Connection as _;
use x11rb::protocol::Event;
use x11rb::protocol::composite::{ConnectionExt as _, Redirect};
use x11rb::protocol::damage::{ConnectionExt as _, ReportLevel};
use x11rb::protocol::shm::ConnectionExt as _;
use x11rb::protocol::xfixes::ConnectionExt as _;
use x11rb::protocol::xproto::{
    self, AtomEnum, ConnectionExt as _, CreateGCAux, ImageFormat, Rectangle, SubwindowMode,
};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// The size a source of `width` x `height` is shared at: its top left part of at most
/// 1920x1080, cut to even numbers (as the encoders need), at least 2x2.
pub fn share_size(width: u32, height: u32) -> (u32, u32) {
    (
        (width.min(MAX_SHARE_WIDTH) & !1).max(2),
        (height.min(MAX_SHARE_HEIGHT) & !1).max(2),
    )
}

/// How capture reaches the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureRoute {
    /// The X display (`$DISPLAY`): MIT-SHM, Composite, XFixes.
    X11,
    /// The xdg-desktop-portal ScreenCast portal and PipeWire (the `wayland` feature).
    Portal,
}

/// What kind of graphical session this process runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Session {
    /// `WAYLAND_DISPLAY` is set.
    pub wayland: bool,
    /// `DISPLAY` is set (an X server, or XWayland).
    pub x11: bool,
}

impl Session {
    /// This process's session, from its environment.
    pub fn from_env() -> Self {
        let set = |name| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        Self {
            wayland: set("WAYLAND_DISPLAY"),
            x11: set("DISPLAY"),
        }
    }
}

/// Why the xdg-desktop-portal route (Wayland) gave no screen to share.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortalFailure {
    /// No session bus, no xdg-desktop-portal on it, or no ScreenCast portal there.
    #[error(
        "the ScreenCast portal is not available ({0}); install xdg-desktop-portal and the \
         backend for your desktop (xdg-desktop-portal-gnome, -kde, -wlr, -hyprland)"
    )]
    Unavailable(String),
    /// The person closed the system's share dialog without picking anything.
    #[error("the share was cancelled in the system's dialog")]
    Cancelled,
    /// The portal refused the request (a policy, or an error of its own).
    #[error("the portal refused to share the screen ({0})")]
    Refused(String),
    /// The portal answered but gave no stream to read.
    #[error("the portal gave no stream to capture")]
    NoStream,
    /// The PipeWire side failed: connecting, negotiating, or no pictures coming.
    #[error("PipeWire: {0}")]
    PipeWire(String),
}

/// Whether this build has the Wayland route (the `wayland` feature).
pub const PORTAL_BUILT: bool = cfg!(feature = "wayland");

/// How to capture `target` in `session`, with the portal route built or not.
///
/// On Wayland with the portal built, screens go through the portal; a window given by
/// its X id stays on X11 (XWayland) when there is an X display, since the portal cannot
/// be told an X id. Without the portal, X11 serves as long as there is an X display.
pub fn route(
    target: ShareTarget,
    session: Session,
    portal_built: bool,
) -> Result<CaptureRoute, MediaError> {
    if session.wayland && portal_built {
        return Ok(match target {
            ShareTarget::Window(_) if session.x11 => CaptureRoute::X11,
            _ => CaptureRoute::Portal,
        });
    }
    if session.x11 {
        return Ok(CaptureRoute::X11);
    }
    Err(MediaError::Screen(if session.wayland {
        "this is a Wayland session without an X display, and this peercall was built \
         without the `wayland` feature (the xdg-desktop-portal route): rebuild with \
         `--features media/wayland`, or share from an X11 session"
            .into()
    } else {
        "no display: set DISPLAY (X11) or WAYLAND_DISPLAY (Wayland) to share a screen".into()
    }))
}

/// Opens the capture of `target` at `fps` by the [`route`] this session takes.
pub fn open_capture(target: ShareTarget, fps: f32) -> Result<Box<dyn VideoSource>, MediaError> {
    match route(target, Session::from_env(), PORTAL_BUILT)? {
        CaptureRoute::X11 => {
            let capture = X11Capture::open(target, fps)?;
            tracing::info!(shm = capture.uses_shm(), "capturing through X11");
            Ok(Box::new(capture))
        }
        #[cfg(feature = "wayland")]
        CaptureRoute::Portal => Ok(Box::new(crate::screen_wayland::PortalCapture::open(
            target, fps,
        )?)),
        #[cfg(not(feature = "wayland"))]
        CaptureRoute::Portal => unreachable!("route() picks the portal only when it is built"),
    }
}

/// The byte order of one packed 32-bit pixel in memory; the fourth byte (padding or
/// alpha) is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackedLayout {
    /// Blue, green, red, then padding or alpha (X11's 24-bit depth; PipeWire's BGRx, BGRA).
    Bgrx,
    /// Red, green, blue, then padding or alpha (PipeWire's RGBx, RGBA).
    Rgbx,
}

/// Converts packed 32-bit pixels of a `width` x `height` picture whose rows start
/// `stride` bytes apart to I420, at [`share_size`] (the top left part), stamped
/// `capture_us`. Fails, saying what is short, when `data` or `stride` cannot hold it.
pub fn packed_to_i420(
    data: &[u8],
    stride: usize,
    layout: PackedLayout,
    width: u32,
    height: u32,
    capture_us: u64,
) -> Result<VideoFrame, MediaError> {
    if width < 2 || height < 2 {
        return Err(MediaError::Screen(format!(
            "a {width}x{height} picture is too small to share"
        )));
    }
    let (w, h) = share_size(width, height);
    let row = w as usize * 4;
    if stride < row {
        return Err(MediaError::Screen(format!(
            "rows of {stride} bytes cannot hold {w} pixels"
        )));
    }
    let need = stride * (h as usize - 1) + row;
    if data.len() < need {
        return Err(MediaError::Screen(format!(
            "short picture: {} bytes for {w}x{h} with rows {stride} bytes apart (needs {need})",
            data.len()
        )));
    }
    // The converter reads whole rows of `stride` bytes, the last one too: a last row
    // without its padding is copied out to a buffer that has it.
    let full = stride * h as usize;
    let padded;
    let data = if data.len() >= full {
        &data[..full]
    } else {
        padded = [&data[..need], &vec![0; full - need][..]].concat();
        &padded[..]
    };
    let mut frame = VideoFrame::black(w, h);
    frame.capture_us = capture_us;
    convert_rows(data, stride, layout, &mut frame, (0, h))?;
    Ok(frame)
}

/// Converts rows `from..to` (`from` even) of the packed pixels `data` (rows `stride`
/// bytes apart, whole rows to `to`) into the same rows of `picture`.
fn convert_rows(
    data: &[u8],
    stride: usize,
    layout: PackedLayout,
    picture: &mut VideoFrame,
    (from, to): (u32, u32),
) -> Result<(), MediaError> {
    let (w, cw) = (picture.width(), picture.chroma_width());
    let (y, u, v) = picture.planes_mut();
    let (luma, chroma) = (w as usize, cw as usize);
    let (chroma_from, chroma_to) = (from as usize / 2, (to as usize).div_ceil(2));
    let (from, to) = (from as usize, to as usize);
    let mut band = YuvPlanarImageMut {
        y_plane: yuvutils_rs::BufferStoreMut::Borrowed(&mut y[from * luma..to * luma]),
        y_stride: w,
        u_plane: yuvutils_rs::BufferStoreMut::Borrowed(
            &mut u[chroma_from * chroma..chroma_to * chroma],
        ),
        u_stride: cw,
        v_plane: yuvutils_rs::BufferStoreMut::Borrowed(
            &mut v[chroma_from * chroma..chroma_to * chroma],
        ),
        v_stride: cw,
        width: w,
        height: (to - from) as u32,
    };
    let convert = match layout {
        PackedLayout::Bgrx => yuvutils_rs::bgra_to_yuv420,
        PackedLayout::Rgbx => yuvutils_rs::rgba_to_yuv420,
    };
    convert(
        &mut band,
        &data[from * stride..to * stride],
        stride as u32,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    )
    .map_err(|e| MediaError::Screen(format!("conversion: {e}")))
}

/// The share picker's thumbnails fit in this box.
pub const THUMBNAIL_WIDTH: u32 = 240;
/// See [`THUMBNAIL_WIDTH`].
pub const THUMBNAIL_HEIGHT: u32 = 135;

/// A small picture of a screen or window for the share picker: RGBA, rows packed.
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// `width * height` pixels of red, green, blue, alpha (255).
    pub rgba: Vec<u8>,
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Thumbnail({}x{})", self.width, self.height)
    }
}

impl Thumbnail {
    /// The red, green and blue of the pixel at (`x`, `y`).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 4) as usize;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2]]
    }
}

/// The size a `width` x `height` picture is shown at within `max_w` x `max_h`: its
/// aspect kept, never larger than it is, at least 1x1.
pub fn thumbnail_size(width: u32, height: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    let (width, height) = (width.max(1), height.max(1));
    if width <= max_w && height <= max_h {
        return (width, height);
    }
    // The smaller of the two scales, in integers: w/width vs h/height.
    let (w, h) = if u64::from(max_w) * u64::from(height) <= u64::from(max_h) * u64::from(width) {
        (
            max_w,
            (u64::from(height) * u64::from(max_w) / u64::from(width)) as u32,
        )
    } else {
        (
            (u64::from(width) * u64::from(max_h) / u64::from(height)) as u32,
            max_h,
        )
    };
    (w.max(1), h.max(1))
}

/// Scales packed pixels (rows `stride` bytes apart) down to fit `max_w` x `max_h`,
/// each thumbnail pixel the average of the pixels it covers. `None` when `data` is too
/// short for the size and stride given.
pub fn thumbnail_of(
    data: &[u8],
    stride: usize,
    layout: PackedLayout,
    (width, height): (u32, u32),
    (max_w, max_h): (u32, u32),
) -> Option<Thumbnail> {
    if width == 0 || height == 0 || stride < width as usize * 4 {
        return None;
    }
    if data.len() < stride * (height as usize - 1) + width as usize * 4 {
        return None;
    }
    let (tw, th) = thumbnail_size(width, height, max_w, max_h);
    let (red, blue) = match layout {
        PackedLayout::Bgrx => (2, 0),
        PackedLayout::Rgbx => (0, 2),
    };
    let mut rgba = Vec::with_capacity((tw * th * 4) as usize);
    for ty in 0..th {
        let (y0, y1) = (
            ty * height / th,
            ((ty + 1) * height / th).max(ty * height / th + 1),
        );
        for tx in 0..tw {
            let (x0, x1) = (
                tx * width / tw,
                ((tx + 1) * width / tw).max(tx * width / tw + 1),
            );
            let mut sum = [0u32; 3];
            for y in y0..y1 {
                let row = &data[y as usize * stride..];
                for x in x0..x1 {
                    let p = &row[x as usize * 4..x as usize * 4 + 4];
                    sum[0] += u32::from(p[red]);
                    sum[1] += u32::from(p[1]);
                    sum[2] += u32::from(p[blue]);
                }
            }
            let n = (y1 - y0) * (x1 - x0);
            rgba.extend(sum.map(|c| ((c + n / 2) / n) as u8));
            rgba.push(255);
        }
    }
    Some(Thumbnail {
        width: tw,
        height: th,
        rgba,
    })
}

/// A thumbnail of `target` on X display `display` (`None`: `$DISPLAY`), fitting
/// `max_w` x `max_h`: one picture read as a share would read it, scaled down.
pub fn thumbnail_on(
    display: Option<&str>,
    target: ShareTarget,
    max_w: u32,
    max_h: u32,
) -> Result<Thumbnail, MediaError> {
    let mut capture = X11Capture::open_on(display, target, DEFAULT_SHARE_FPS)?;
    capture.read()?;
    let (w, h) = (capture.width, capture.height);
    thumbnail_of(
        capture.pixels(),
        w as usize * 4,
        PackedLayout::Bgrx,
        (w, h),
        (max_w, max_h),
    )
    .ok_or_else(|| x11_error("short picture", format!("{w}x{h}")))
}

fn x11_error(what: &str, err: impl std::fmt::Display) -> MediaError {
    MediaError::Screen(format!("{what}: {err}"))
}

/// What this session can share: the screens and windows of the X display
/// (`$DISPLAY`); on Wayland with the portal built, one screen picked in the
/// system's dialog, and the X (XWayland) windows if there is an X display.
pub fn shareables() -> Result<Vec<Shareable>, MediaError> {
    let session = Session::from_env();
    if route(ShareTarget::Screen(None), session, PORTAL_BUILT)? == CaptureRoute::Portal {
        let mut out = vec![Shareable {
            target: ShareTarget::Screen(None),
            name: "A screen (picked in the system's dialog)".into(),
        }];
        if session.x11
            && let Ok(list) = shareables_on(None)
        {
            out.extend(
                list.into_iter()
                    .filter(|s| matches!(s.target, ShareTarget::Window(_))),
            );
        }
        return Ok(out);
    }
    shareables_on(None)
}

/// A thumbnail of `target` in this session ([`thumbnail_on`] `$DISPLAY`); `None` for
/// what goes through the portal, which shows nothing before its dialog.
pub fn thumbnail(
    target: ShareTarget,
    max_w: u32,
    max_h: u32,
) -> Result<Option<Thumbnail>, MediaError> {
    match route(target, Session::from_env(), PORTAL_BUILT)? {
        CaptureRoute::X11 => thumbnail_on(None, target, max_w, max_h).map(Some),
        CaptureRoute::Portal => Ok(None),
    }
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
    /// For a screen read through a segment: what reads only the changes into it.
    changes: Option<Changes>,
    /// Pixels read without MIT-SHM (and the buffer the cursor is drawn into then).
    fallback: Vec<u8>,
    xfixes: bool,
    pacer: Pacer,
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
            changes: None,
            fallback: Vec::new(),
            xfixes,
            pacer: Pacer::default(),
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
                if let Some(segment) = &capture.segment {
                    let depth = capture.conn.setup().roots[index].root_depth;
                    let size = (capture.width as u16, capture.height as u16);
                    match Changes::new(&capture.conn, root, depth, segment.id, size) {
                        Ok(changes) => capture.changes = Some(changes),
                        Err(err) => {
                            tracing::info!(%err, "no DAMAGE or shared pixmaps: the whole screen is read each time");
                        }
                    }
                }
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
        let (w, h) = share_size(width, height);
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

    /// Whether pictures after the first read and convert only what changed on the screen.
    pub fn reads_changes_only(&self) -> bool {
        self.changes.is_some()
    }

    /// Reads one picture's BGRx pixels (with the cursor), converts it, stamps it.
    pub fn grab(&mut self) -> Result<VideoFrame, MediaError> {
        if self.changes.is_some() {
            return self.grab_changes();
        }
        let capture_us = now_us();
        self.read()?;
        let cursor = if self.xfixes { self.cursor() } else { None };
        let (w, h) = (self.width, self.height);
        let pixels = self.pixels();
        if let Some((x, y, cw, ch, image)) = cursor {
            blend_cursor(pixels, w, h, (x, y), (cw, ch), &image);
        }
        bgrx_to_i420(pixels, w, h, capture_us)
    }

    /// [`X11Capture::grab`] for a screen whose changes are read: the segment and the
    /// kept I420 picture are brought up to date where the screen or the cursor changed.
    fn grab_changes(&mut self) -> Result<VideoFrame, MediaError> {
        let capture_us = now_us();
        let (w, h) = (self.width, self.height);
        let changes = self.changes.as_mut().expect("reads changes");
        let copied = changes
            .copy_changed(&self.conn, self.root, (w, h))
            .map_err(|e| x11_error("cannot read the screen", e))?;
        // A reply says every copy asked for above is done (requests run in order).
        let cursor = if self.xfixes { self.cursor() } else { None };
        if cursor.is_none() {
            self.conn
                .get_input_focus()
                .map_err(|e| x11_error("the display went away", e))?
                .reply()
                .map_err(|e| x11_error("the display went away", e))?;
        }
        let changes = self.changes.as_mut().expect("reads changes");
        let mut rows: Vec<(u32, u32)> = copied
            .iter()
            .map(|r| (r.y as u32, r.y as u32 + u32::from(r.height)))
            .collect();
        // Where the cursor was is redrawn without it; where it is, with it.
        let now_at = cursor.as_ref().map(|&(_, y, _, ch, _)| (y, ch));
        for &(y, ch) in changes.cursor.iter().chain(&now_at) {
            rows.push((y.max(0) as u32, (y + ch as i32).max(0) as u32));
        }
        changes.cursor = now_at;
        let segment = self
            .segment
            .as_mut()
            .expect("a screen read through a segment");
        let pixels = segment.bytes();
        let under = cursor.map(|(x, y, cw, ch, image)| {
            let under = Patch::save(pixels, w, h, (x, y), (cw, ch));
            blend_cursor(pixels, w, h, (x, y), (cw, ch), &image);
            under
        });
        let converted = match &mut changes.picture {
            Some(picture) => merge_rows(rows, h).into_iter().try_for_each(|band| {
                convert_rows(pixels, w as usize * 4, PackedLayout::Bgrx, picture, band)
            }),
            None => bgrx_to_i420(pixels, w, h, 0).map(|p| changes.picture = Some(p)),
        };
        if let Some(under) = under {
            under.restore(pixels, w);
        }
        converted?;
        let mut frame = changes.picture.clone().expect("converted above");
        frame.capture_us = capture_us;
        Ok(frame)
    }

    /// Reads one picture's BGRx pixels (no cursor) into [`X11Capture::pixels`].
    fn read(&mut self) -> Result<(), MediaError> {
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
        let len = self.pixels().len();
        if len < (self.width * self.height * 4) as usize {
            return Err(x11_error("short picture", len));
        }
        Ok(())
    }

    /// The pixels last read: BGRx, `width * 4` bytes a row.
    fn pixels(&mut self) -> &mut [u8] {
        match &mut self.segment {
            Some(segment) => segment.bytes(),
            None => &mut self.fallback,
        }
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

/// Reads only what changed on a screen into the segment: a DAMAGE object on the root
/// collects the changed area, and each changed rectangle is copied from the root into
/// the segment's pixmap (the children's contents too).
struct Changes {
    damage: u32,
    /// Where the collected damage is fetched through.
    region: u32,
    /// The segment, as a pixmap of the screen's size and depth.
    pixmap: u32,
    gc: u32,
    /// Whether the segment holds a whole picture yet.
    primed: bool,
    /// The last picture, converted; brought up to date where things changed.
    picture: Option<VideoFrame>,
    /// Where the cursor was drawn in it: its top row, and how many rows.
    cursor: Option<(i32, u32)>,
}

impl Changes {
    /// Sets it up for segment `segment` of a `size` screen of `depth` at `root`; an
    /// error when the server lacks DAMAGE, XFixes regions or shared pixmaps.
    fn new(
        conn: &RustConnection,
        root: u32,
        depth: u8,
        segment: u32,
        (width, height): (u16, u16),
    ) -> Result<Self, String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let shm = conn
            .shm_query_version()
            .map_err(|e| err(&e))?
            .reply()
            .map_err(|e| err(&e))?;
        if !shm.shared_pixmaps || shm.pixmap_format != u8::from(ImageFormat::Z_PIXMAP) {
            return Err("the server has no shared Z-format pixmaps".into());
        }
        conn.damage_query_version(1, 1)
            .map_err(|e| err(&e))?
            .reply()
            .map_err(|e| err(&e))?;
        let pixmap = conn.generate_id().map_err(|e| err(&e))?;
        conn.shm_create_pixmap(pixmap, root, width, height, depth, segment, 0)
            .map_err(|e| err(&e))?
            .check()
            .map_err(|e| err(&e))?;
        let gc = conn.generate_id().map_err(|e| err(&e))?;
        let aux = CreateGCAux::new()
            .subwindow_mode(SubwindowMode::INCLUDE_INFERIORS)
            .graphics_exposures(0);
        conn.create_gc(gc, pixmap, &aux)
            .map_err(|e| err(&e))?
            .check()
            .map_err(|e| err(&e))?;
        let region = conn.generate_id().map_err(|e| err(&e))?;
        conn.xfixes_create_region(region, &[])
            .map_err(|e| err(&e))?
            .check()
            .map_err(|e| err(&e))?;
        let damage = conn.generate_id().map_err(|e| err(&e))?;
        conn.damage_create(damage, root, ReportLevel::NON_EMPTY)
            .map_err(|e| err(&e))?
            .check()
            .map_err(|e| err(&e))?;
        Ok(Self {
            damage,
            region,
            pixmap,
            gc,
            primed: false,
            picture: None,
            cursor: None,
        })
    }

    /// Asks the server to copy what changed since the last call (everything, the first
    /// time) into the segment; returns what it asked for. The copies are done once a
    /// later request's reply is in.
    fn copy_changed(
        &mut self,
        conn: &RustConnection,
        root: u32,
        size: (u32, u32),
    ) -> Result<Vec<Rectangle>, String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let whole = Rectangle {
            x: 0,
            y: 0,
            width: size.0 as u16,
            height: size.1 as u16,
        };
        let rects = if self.primed {
            conn.damage_subtract(self.damage, x11rb::NONE, self.region)
                .map_err(|e| err(&e))?;
            let damaged = conn
                .xfixes_fetch_region(self.region)
                .map_err(|e| err(&e))?
                .reply()
                .map_err(|e| err(&e))?;
            to_copy(&damaged.rectangles, damaged.extents, size)
        } else {
            // What changes from now on is collected; the whole screen is read once.
            conn.damage_subtract(self.damage, x11rb::NONE, x11rb::NONE)
                .map_err(|e| err(&e))?;
            vec![whole]
        };
        for r in &rects {
            conn.copy_area(
                root,
                self.pixmap,
                self.gc,
                r.x,
                r.y,
                r.x,
                r.y,
                r.width,
                r.height,
            )
            .map_err(|e| err(&e))?;
        }
        self.primed = true;
        // DAMAGE's notifications (the region is what counts) and any late errors are
        // not kept.
        while let Some(event) = conn.poll_for_event().map_err(|e| err(&e))? {
            if let Event::Error(error) = event {
                tracing::debug!(?error, "screen capture");
            }
        }
        Ok(rects)
    }
}

/// The row ranges `rows` (from, to; any order, overlapping) of a picture `height` high,
/// widened to even rows (a chroma row covers two), cut to the picture and merged.
fn merge_rows(mut rows: Vec<(u32, u32)>, height: u32) -> Vec<(u32, u32)> {
    rows.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::new();
    for (from, to) in rows {
        let (from, to) = (from & !1, (to.div_ceil(2) * 2).min(height));
        if from >= to {
            continue;
        }
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

/// The most rectangles copied one by one; past it, their bounding box is copied.
const MAX_COPIES: usize = 32;

/// The rectangles to copy for `damaged` (with bounding box `extents`) on a `size`
/// screen: each cut to the screen, or the bounding box when there are many.
fn to_copy(damaged: &[Rectangle], extents: Rectangle, size: (u32, u32)) -> Vec<Rectangle> {
    let clip = |r: &Rectangle| {
        let (x0, y0) = (i32::from(r.x).max(0), i32::from(r.y).max(0));
        let x1 = (i32::from(r.x) + i32::from(r.width)).min(size.0 as i32);
        let y1 = (i32::from(r.y) + i32::from(r.height)).min(size.1 as i32);
        (x1 > x0 && y1 > y0).then(|| Rectangle {
            x: x0 as i16,
            y: y0 as i16,
            width: (x1 - x0) as u16,
            height: (y1 - y0) as u16,
        })
    };
    if damaged.len() > MAX_COPIES {
        return clip(&extents).into_iter().collect();
    }
    damaged.iter().filter_map(clip).collect()
}

/// The pixels of a rectangle of a BGRx picture, kept to be put back.
struct Patch {
    x: usize,
    y: usize,
    width: usize,
    rows: Vec<u8>,
}

impl Patch {
    /// Keeps the part of `pixels` (`width` x `height`) under a `size` rectangle at `at`.
    fn save(pixels: &[u8], width: u32, height: u32, at: (i32, i32), size: (u32, u32)) -> Self {
        let x0 = at.0.clamp(0, width as i32) as usize;
        let y0 = at.1.clamp(0, height as i32) as usize;
        let x1 = (at.0 + size.0 as i32).clamp(0, width as i32) as usize;
        let y1 = (at.1 + size.1 as i32).clamp(0, height as i32) as usize;
        let stride = width as usize * 4;
        let rows = (y0..y1)
            .flat_map(|y| &pixels[y * stride + x0 * 4..y * stride + x1 * 4])
            .copied()
            .collect();
        Self {
            x: x0,
            y: y0,
            width: x1 - x0,
            rows,
        }
    }

    /// Puts the kept pixels back into `pixels` (`width` pixels a row).
    fn restore(&self, pixels: &mut [u8], width: u32) {
        if self.width == 0 {
            return;
        }
        let stride = width as usize * 4;
        for (i, row) in self.rows.chunks(self.width * 4).enumerate() {
            let at = (self.y + i) * stride + self.x * 4;
            pixels[at..at + row.len()].copy_from_slice(row);
        }
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
        self.pacer.wait(self.fps);
        self.grab()
    }
}

/// Paces a capture at its frame rate: each picture one interval after the one before.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    next_at: Option<Instant>,
}

impl Pacer {
    /// Sleeps until the next picture is due at `fps`.
    pub(crate) fn wait(&mut self, fps: f32) {
        let interval = Duration::from_secs_f32(1.0 / fps);
        let now = Instant::now();
        let at = self.next_at.unwrap_or(now);
        if at > now {
            std::thread::sleep(at - now);
        }
        // Behind (a slow read): start the pace again from now rather than burst.
        self.next_at = Some(at.max(now) + interval);
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

/// BGRx (4 bytes a pixel, X's 24-bit depth on little-endian), rows packed, to I420.
pub fn bgrx_to_i420(
    bgrx: &[u8],
    width: u32,
    height: u32,
    capture_us: u64,
) -> Result<VideoFrame, MediaError> {
    packed_to_i420(
        bgrx,
        width as usize * 4,
        PackedLayout::Bgrx,
        width,
        height,
        capture_us,
    )
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

    /// A `w` x `h` picture of packed pixels whose rows are `stride` bytes apart, each
    /// pixel's bytes from `pixel(x, y)`, the padding at each row's end 0xAB.
    fn packed(w: u32, h: u32, stride: usize, pixel: impl Fn(u32, u32) -> [u8; 4]) -> Vec<u8> {
        let mut data = vec![0xABu8; stride * h as usize];
        for y in 0..h {
            for x in 0..w {
                let i = y as usize * stride + x as usize * 4;
                data[i..i + 4].copy_from_slice(&pixel(x, y));
            }
        }
        data
    }

    #[test]
    fn padded_rows_convert_as_packed_ones_and_padding_never_shows() {
        // Left half red, right half blue, rows padded to 64 bytes (a PipeWire stride).
        let (w, h) = (8u32, 4u32);
        let bgrx = |x: u32, _| {
            if x < 4 {
                [0, 0, 255, 0]
            } else {
                [255, 0, 0, 0]
            }
        };
        let tight =
            packed_to_i420(&packed(w, h, 32, bgrx), 32, PackedLayout::Bgrx, w, h, 1).unwrap();
        let padded =
            packed_to_i420(&packed(w, h, 64, bgrx), 64, PackedLayout::Bgrx, w, h, 1).unwrap();
        assert_eq!(tight.planes(), padded.planes());
        let (y, _, _) = padded.planes();
        assert!((i32::from(y[0]) - 81).abs() <= 2, "red Y {}", y[0]);
        assert!((i32::from(y[7]) - 41).abs() <= 2, "blue Y {}", y[7]);
    }

    #[test]
    fn rgbx_and_bgrx_of_one_picture_give_the_same_frame() {
        let (w, h) = (6u32, 2u32);
        let colour = |x: u32, _| [[200u8, 30, 90], [10, 240, 60], [0, 0, 0]][(x / 2) as usize];
        let bgrx = packed(w, h, 24, |x, y| {
            let [r, g, b] = colour(x, y);
            [b, g, r, 0xff]
        });
        let rgbx = packed(w, h, 24, |x, y| {
            let [r, g, b] = colour(x, y);
            [r, g, b, 0]
        });
        let a = packed_to_i420(&bgrx, 24, PackedLayout::Bgrx, w, h, 0).unwrap();
        let b = packed_to_i420(&rgbx, 24, PackedLayout::Rgbx, w, h, 0).unwrap();
        assert_eq!(a.planes(), b.planes());
    }

    #[test]
    fn odd_and_oversize_pictures_are_cut_to_their_even_top_left_part() {
        assert_eq!(share_size(1921, 1081), (1920, 1080));
        assert_eq!(share_size(2560, 1440), (1920, 1080));
        assert_eq!(share_size(801, 601), (800, 600));
        assert_eq!(share_size(1, 1), (2, 2));
        // A 5x3 picture (stride 20) comes out 4x2, from its top left.
        let data = packed(
            5,
            3,
            20,
            |x, y| if x < 4 && y < 2 { [255; 4] } else { [0; 4] },
        );
        let frame = packed_to_i420(&data, 20, PackedLayout::Bgrx, 5, 3, 0).unwrap();
        assert_eq!((frame.width(), frame.height()), (4, 2));
        let (y, _, _) = frame.planes();
        assert!(y.iter().all(|&v| v >= 233), "{y:?}");
    }

    #[test]
    fn short_data_or_rows_are_refused_saying_what_is_short() {
        let data = vec![0u8; 8 * 4 * 2];
        let err = packed_to_i420(&data, 16, PackedLayout::Bgrx, 8, 2, 0).unwrap_err();
        assert!(err.to_string().contains("rows of 16 bytes"), "{err}");
        let err = packed_to_i420(&data[..40], 32, PackedLayout::Bgrx, 8, 2, 0).unwrap_err();
        assert!(err.to_string().contains("short picture"), "{err}");
        let err = packed_to_i420(&data, 32, PackedLayout::Rgbx, 1, 2, 0).unwrap_err();
        assert!(err.to_string().contains("too small"), "{err}");
    }

    #[test]
    fn wayland_takes_the_portal_when_built_and_x11_otherwise() {
        let wayland = Session {
            wayland: true,
            x11: false,
        };
        let xwayland = Session {
            wayland: true,
            x11: true,
        };
        let x11 = Session {
            wayland: false,
            x11: true,
        };
        let screen = ShareTarget::Screen(None);
        let window = ShareTarget::Window(0x40_0001);
        assert_eq!(route(screen, wayland, true).unwrap(), CaptureRoute::Portal);
        assert_eq!(route(screen, xwayland, true).unwrap(), CaptureRoute::Portal);
        assert_eq!(route(window, wayland, true).unwrap(), CaptureRoute::Portal);
        // An X window id means an XWayland window, which X11 captures by that id.
        assert_eq!(route(window, xwayland, true).unwrap(), CaptureRoute::X11);
        assert_eq!(route(screen, x11, true).unwrap(), CaptureRoute::X11);
        assert_eq!(route(screen, xwayland, false).unwrap(), CaptureRoute::X11);
        let err = route(screen, wayland, false).unwrap_err().to_string();
        assert!(err.contains("`wayland` feature"), "{err}");
        let err = route(screen, Session::default(), true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no display"), "{err}");
    }

    #[test]
    fn thumbnails_keep_the_aspect_and_never_grow() {
        assert_eq!(thumbnail_size(1920, 1080, 240, 135), (240, 135));
        assert_eq!(thumbnail_size(800, 600, 240, 135), (180, 135));
        assert_eq!(thumbnail_size(400, 1000, 240, 135), (54, 135));
        assert_eq!(thumbnail_size(3000, 100, 240, 135), (240, 8));
        assert_eq!(thumbnail_size(100, 50, 240, 135), (100, 50));
        assert_eq!(thumbnail_size(10_000, 1, 240, 135), (240, 1));
        assert_eq!(thumbnail_size(0, 0, 240, 135), (1, 1));
    }

    #[test]
    fn a_thumbnail_averages_the_pixels_it_covers_in_either_byte_order() {
        // 8x4, rows padded to 40 bytes: left half red, right half a 2x2 checker of
        // black and white; scaled to 2x1, the right pixel is the checker's grey.
        let bgrx = packed(8, 4, 40, |x, y| match (x < 4, (x + y) % 2 == 0) {
            (true, _) => [0, 0, 255, 0],
            (false, true) => [255, 255, 255, 0],
            (false, false) => [0, 0, 0, 0],
        });
        let t = thumbnail_of(&bgrx, 40, PackedLayout::Bgrx, (8, 4), (2, 2)).unwrap();
        assert_eq!((t.width, t.height), (2, 1));
        assert_eq!(t.pixel(0, 0), [255, 0, 0]);
        assert_eq!(t.pixel(1, 0), [128, 128, 128]);
        assert_eq!(t.rgba[3], 255);
        let rgbx = packed(4, 2, 16, |_, _| [10, 20, 30, 0]);
        let t = thumbnail_of(&rgbx, 16, PackedLayout::Rgbx, (4, 2), (240, 135)).unwrap();
        assert_eq!((t.width, t.height, t.pixel(3, 1)), (4, 2, [10, 20, 30]));
        assert!(thumbnail_of(&rgbx[..20], 16, PackedLayout::Rgbx, (4, 2), (2, 2)).is_none());
    }

    fn rect(x: i16, y: i16, width: u16, height: u16) -> Rectangle {
        Rectangle {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn changed_rectangles_are_cut_to_the_screen_and_many_become_their_bounding_box() {
        let size = (100, 50);
        let extents = rect(-10, 0, 200, 60);
        let copied = |damaged: &[Rectangle], extents| -> Vec<(i16, i16, u16, u16)> {
            to_copy(damaged, extents, size)
                .iter()
                .map(|r| (r.x, r.y, r.width, r.height))
                .collect()
        };
        let damaged = [
            rect(-10, -5, 20, 10),
            rect(90, 40, 30, 30),
            rect(200, 0, 5, 5),
        ];
        assert_eq!(
            copied(&damaged, extents),
            [(0, 0, 10, 5), (90, 40, 10, 10)],
            "cut to the screen; one wholly off it left out"
        );
        let many: Vec<_> = (0..=MAX_COPIES as i16).map(|i| rect(i, i, 1, 1)).collect();
        assert_eq!(copied(&many, extents), [(0, 0, 100, 50)]);
        assert_eq!(copied(&[], rect(0, 0, 0, 0)), []);
    }

    #[test]
    fn changed_rows_are_widened_to_even_cut_and_merged() {
        assert_eq!(
            merge_rows(vec![(9, 12), (0, 3), (3, 4), (20, 20), (1077, 1090)], 1080),
            [(0, 4), (8, 12), (1076, 1080)]
        );
        assert_eq!(merge_rows(vec![(5, 40), (10, 11)], 1080), [(4, 40)]);
        assert_eq!(merge_rows(Vec::new(), 1080), []);
    }

    #[test]
    fn what_the_cursor_covers_is_put_back_exactly_even_at_the_edges() {
        let (w, h) = (6u32, 4u32);
        let original: Vec<u8> = (0..w * h * 4).map(|i| i as u8).collect();
        for at in [(-1, -1), (2, 1), (5, 3), (7, 7)] {
            let mut pixels = original.clone();
            let under = Patch::save(&pixels, w, h, at, (3, 3));
            blend_cursor(&mut pixels, w, h, at, (3, 3), &[0xffff_ffff; 9]);
            under.restore(&mut pixels, w);
            assert_eq!(pixels, original, "cursor at {at:?}");
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
