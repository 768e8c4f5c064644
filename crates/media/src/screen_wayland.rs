//! Screen capture on Wayland (the `wayland` feature): the xdg-desktop-portal ScreenCast
//! portal, then the PipeWire stream it hands over, as a [`VideoSource`].
//!
//! Opening asks the portal (over D-Bus, through `ashpd`) for a session, has it select
//! one monitor or one window with the cursor drawn in, and starts it: the desktop shows
//! its own dialog, where the person picks what to share (the portal cannot be told
//! which). It then opens the PipeWire remote the portal gives (a file descriptor) and
//! reads the stream's node, offering raw BGRx, BGRA, RGBx and RGBA pictures in shared
//! memory. A PipeWire thread copies the newest picture out of each buffer; pictures
//! are delivered at the asked rate, converted to I420 as X11's are
//! ([`crate::screen::packed_to_i420`]). Dropping the capture stops both threads and
//! closes the portal session.
//!
//! What needs no portal is plain and unit-tested here: the formats offered and how
//! each maps to a byte order, which source kind a target asks for, and which portal
//! error means what. The portal and PipeWire parts cannot run on a machine without a
//! Wayland compositor and xdg-desktop-portal, so no test drives them.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ashpd::desktop::PersistMode;
use ashpd::desktop::screencast::{CursorMode, Screencast, SelectSourcesOptions, SourceType};
use ashpd::enumflags2;
use pipewire as pw;
use pw::spa;
use pw::spa::param::video::VideoFormat as SpaFormat;

use crate::MediaError;
use crate::frame::{VideoFrame, now_us};
use crate::screen::{PackedLayout, PortalFailure, ShareTarget, packed_to_i420, share_size};
use crate::source::{VideoFormat, VideoSource};

/// How long the first picture may take once the portal has answered.
const FIRST_PICTURE: Duration = Duration::from_secs(10);
/// How long a running stream may go without any picture before capture fails.
const STALLED: Duration = Duration::from_secs(10);

/// The raw formats offered to the compositor, in order of preference.
pub const OFFERED_FORMATS: [SpaFormat; 4] = [
    SpaFormat::BGRx,
    SpaFormat::BGRA,
    SpaFormat::RGBx,
    SpaFormat::RGBA,
];

/// The byte order of a negotiated format (`None`: not one we offered).
pub fn layout_of(format: SpaFormat) -> Option<PackedLayout> {
    match format {
        SpaFormat::BGRx | SpaFormat::BGRA => Some(PackedLayout::Bgrx),
        SpaFormat::RGBx | SpaFormat::RGBA => Some(PackedLayout::Rgbx),
        _ => None,
    }
}

/// The portal's source kind for `target`: a monitor for a screen, a window for a
/// window (which one is picked in the portal's dialog: it knows no X ids).
pub fn source_kind(target: ShareTarget) -> SourceType {
    match target {
        ShareTarget::Screen(_) => SourceType::Monitor,
        ShareTarget::Window(_) => SourceType::Window,
    }
}

/// The cursor mode to ask for: drawn into the pictures when the portal can, else
/// hidden (the pictures are still right, without the pointer).
pub fn cursor_mode(available: enumflags2::BitFlags<CursorMode>) -> CursorMode {
    if available.contains(CursorMode::Embedded) {
        CursorMode::Embedded
    } else {
        CursorMode::Hidden
    }
}

/// What a portal error means for the person sharing.
pub fn portal_failure(err: &ashpd::Error) -> PortalFailure {
    use ashpd::desktop::ResponseError;
    match err {
        ashpd::Error::Response(ResponseError::Cancelled) => PortalFailure::Cancelled,
        ashpd::Error::Response(ResponseError::Other) => {
            PortalFailure::Refused("it gave no reason".into())
        }
        ashpd::Error::Portal(e) => PortalFailure::Refused(e.to_string()),
        ashpd::Error::PortalNotFound(_)
        | ashpd::Error::Zbus(_)
        | ashpd::Error::IO(_)
        | ashpd::Error::RequiresVersion(..) => PortalFailure::Unavailable(err.to_string()),
        other => PortalFailure::Refused(other.to_string()),
    }
}

/// The newest picture PipeWire delivered, as its packed bytes.
#[derive(Debug, Default)]
struct Picture {
    data: Vec<u8>,
    stride: usize,
    width: u32,
    height: u32,
    layout: Option<PackedLayout>,
    capture_us: u64,
}

/// What the PipeWire thread and the capture share.
#[derive(Debug, Default)]
struct Latest {
    picture: Picture,
    /// Pictures delivered so far.
    count: u64,
    /// Why the stream cannot go on.
    failed: Option<String>,
}

type Shared = Arc<(Mutex<Latest>, Condvar)>;

fn fail(shared: &Shared, why: String) {
    let (lock, ready) = &**shared;
    let mut latest = lock.lock().unwrap_or_else(|e| e.into_inner());
    latest.failed.get_or_insert(why);
    ready.notify_all();
}

/// The stream the portal started: where PipeWire serves it.
struct Started {
    fd: OwnedFd,
    node: u32,
    kind: Option<SourceType>,
}

/// A screen or window shared through the ScreenCast portal and PipeWire.
pub struct PortalCapture {
    shared: Shared,
    fps: f32,
    width: u32,
    height: u32,
    name: String,
    pacer: crate::screen::Pacer,
    /// The newest picture delivered before, to tell a stall.
    last_count: u64,
    last_new: Instant,
    /// Tells the PipeWire thread to leave its loop.
    quit: Option<pw::channel::Sender<()>>,
    pipewire: Option<JoinHandle<()>>,
    /// Tells the portal thread to close the session.
    close: Option<tokio::sync::oneshot::Sender<()>>,
    portal: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PortalCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalCapture")
            .field("name", &self.name)
            .field("size", &(self.width, self.height))
            .field("fps", &self.fps)
            .finish_non_exhaustive()
    }
}

impl PortalCapture {
    /// Asks the portal for `target`'s kind of source (the person picks which in the
    /// desktop's dialog), then opens its PipeWire stream, delivering pictures at `fps`.
    /// Blocks until the first picture arrives; fails with [`PortalFailure`] when the
    /// portal is missing, refuses or is cancelled, or no picture comes.
    pub fn open(target: ShareTarget, fps: f32) -> Result<Self, MediaError> {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (close_tx, close_rx) = tokio::sync::oneshot::channel();
        let portal = std::thread::Builder::new()
            .name("screencast-portal".into())
            .spawn(move || run_portal(source_kind(target), started_tx, close_rx))
            .map_err(|e| PortalFailure::Unavailable(format!("no thread for it: {e}")))?;
        let mut capture = Self {
            shared: Arc::default(),
            fps: fps.clamp(1.0, 60.0),
            width: 0,
            height: 0,
            name: String::new(),
            pacer: crate::screen::Pacer::default(),
            last_count: 0,
            last_new: Instant::now(),
            quit: None,
            pipewire: None,
            close: Some(close_tx),
            portal: Some(portal),
        };
        let started = started_rx
            .recv()
            .map_err(|_| PortalFailure::Unavailable("its thread ended".into()))??;
        capture.name = match started.kind {
            Some(SourceType::Window) => "A window (picked in the system's dialog)".into(),
            _ => "The screen (picked in the system's dialog)".into(),
        };
        let (quit_tx, quit_rx) = pw::channel::channel();
        let shared = capture.shared.clone();
        capture.quit = Some(quit_tx);
        capture.pipewire = Some(
            std::thread::Builder::new()
                .name("screencast-pipewire".into())
                .spawn(move || {
                    if let Err(err) = run_pipewire(started.fd, started.node, &shared, quit_rx) {
                        fail(&shared, err);
                    }
                })
                .map_err(|e| PortalFailure::PipeWire(format!("no thread for it: {e}")))?,
        );
        let (w, h) = capture.wait_first()?;
        (capture.width, capture.height) = share_size(w, h);
        tracing::info!(
            node = started.node,
            width = w,
            height = h,
            "sharing through the portal"
        );
        Ok(capture)
    }

    /// Waits for the stream's first picture; its size.
    fn wait_first(&mut self) -> Result<(u32, u32), MediaError> {
        let (lock, ready) = &*self.shared;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (latest, timeout) = ready
            .wait_timeout_while(guard, FIRST_PICTURE, |l| l.count == 0 && l.failed.is_none())
            .unwrap_or_else(|e| e.into_inner());
        if let Some(why) = &latest.failed {
            return Err(PortalFailure::PipeWire(why.clone()).into());
        }
        if timeout.timed_out() {
            return Err(PortalFailure::PipeWire(format!(
                "no picture within {} s of the portal starting the stream",
                FIRST_PICTURE.as_secs()
            ))
            .into());
        }
        self.last_count = latest.count;
        self.last_new = Instant::now();
        Ok((latest.picture.width, latest.picture.height))
    }

    /// Converts the newest picture.
    fn grab(&mut self) -> Result<VideoFrame, MediaError> {
        let (lock, _) = &*self.shared;
        let latest = lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(why) = &latest.failed {
            return Err(PortalFailure::PipeWire(why.clone()).into());
        }
        if latest.count != self.last_count {
            self.last_count = latest.count;
            self.last_new = Instant::now();
        } else if self.last_new.elapsed() > STALLED {
            // Compositors send nothing while nothing changes, so only a long silence
            // counts; the same picture goes out again until then.
            tracing::debug!("no new picture from PipeWire for a while");
        }
        let p = &latest.picture;
        let layout = p.layout.ok_or_else(|| {
            MediaError::from(PortalFailure::PipeWire("no format negotiated".into()))
        })?;
        let frame = packed_to_i420(&p.data, p.stride, layout, p.width, p.height, p.capture_us)?;
        (self.width, self.height) = (frame.width(), frame.height());
        Ok(frame)
    }
}

impl VideoSource for PortalCapture {
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

impl Drop for PortalCapture {
    fn drop(&mut self) {
        if let Some(quit) = self.quit.take() {
            let _ = quit.send(());
        }
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        for thread in [self.pipewire.take(), self.portal.take()]
            .into_iter()
            .flatten()
        {
            let _ = thread.join();
        }
    }
}

/// The portal thread: starts a session, hands back the stream, then holds the session
/// (and its D-Bus connection) until told to close it.
fn run_portal(
    kind: SourceType,
    started: std::sync::mpsc::Sender<Result<Started, PortalFailure>>,
    close: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = started.send(Err(PortalFailure::Unavailable(e.to_string())));
            return;
        }
    };
    runtime.block_on(async move {
        let proxy = match Screencast::new().await {
            Ok(proxy) => proxy,
            Err(e) => {
                let _ = started.send(Err(portal_failure(&e)));
                return;
            }
        };
        let session = match proxy.create_session(Default::default()).await {
            Ok(session) => session,
            Err(e) => {
                let _ = started.send(Err(portal_failure(&e)));
                return;
            }
        };
        let result = start_cast(&proxy, &session, kind).await;
        let ok = result.is_ok();
        let _ = started.send(result);
        if ok {
            let _ = close.await;
        }
        if let Err(e) = session.close().await {
            tracing::debug!(%e, "closing the portal session");
        }
    });
}

/// Selects the sources, starts the cast (the desktop's dialog) and opens its remote.
async fn start_cast(
    proxy: &Screencast,
    session: &ashpd::desktop::Session<Screencast>,
    kind: SourceType,
) -> Result<Started, PortalFailure> {
    let failure = |e: ashpd::Error| portal_failure(&e);
    let cursor = cursor_mode(proxy.available_cursor_modes().await.unwrap_or_default());
    proxy
        .select_sources(
            session,
            SelectSourcesOptions::default()
                .set_cursor_mode(cursor)
                .set_sources(enumflags2::BitFlags::from(kind))
                .set_multiple(false)
                .set_persist_mode(PersistMode::DoNot),
        )
        .await
        .map_err(failure)?
        .response()
        .map_err(failure)?;
    let streams = proxy
        .start(session, None, Default::default())
        .await
        .map_err(failure)?
        .response()
        .map_err(failure)?;
    let stream = streams.streams().first().ok_or(PortalFailure::NoStream)?;
    let fd = proxy
        .open_pipe_wire_remote(session, Default::default())
        .await
        .map_err(failure)?;
    Ok(Started {
        fd,
        node: stream.pipe_wire_node_id(),
        kind: stream.source_type(),
    })
}

/// The EnumFormat parameter: raw video in one of [`OFFERED_FORMATS`], any size up to
/// 8192x8192, any rate.
fn enum_format() -> Result<Vec<u8>, String> {
    use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
    use spa::pod::{ChoiceValue, Property, PropertyFlags, Value, object};
    use spa::utils::{Choice, ChoiceEnum, ChoiceFlags, Fraction, Id, Rectangle};
    let formats = Value::Choice(ChoiceValue::Id(Choice(
        ChoiceFlags::empty(),
        ChoiceEnum::Enum {
            default: Id(OFFERED_FORMATS[0].as_raw()),
            alternatives: OFFERED_FORMATS.iter().map(|f| Id(f.as_raw())).collect(),
        },
    )));
    let object = object!(
        spa::utils::SpaTypes::ObjectParamFormat,
        spa::param::ParamType::EnumFormat,
        spa::pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
        spa::pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        Property {
            key: FormatProperties::VideoFormat.as_raw(),
            flags: PropertyFlags::empty(),
            value: formats,
        },
        spa::pod::property!(
            FormatProperties::VideoSize,
            Choice,
            Range,
            Rectangle,
            Rectangle {
                width: 1920,
                height: 1080
            },
            Rectangle {
                width: 2,
                height: 2
            },
            Rectangle {
                width: 8192,
                height: 8192
            }
        ),
        spa::pod::property!(
            FormatProperties::VideoFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: 30, denom: 1 },
            Fraction { num: 0, denom: 1 },
            Fraction { num: 240, denom: 1 }
        ),
    );
    spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &Value::Object(object),
    )
    .map(|(cursor, _)| cursor.into_inner())
    .map_err(|e| format!("building the format offer: {e:?}"))
}

/// What the stream's callbacks keep between calls.
#[derive(Default)]
struct StreamState {
    format: spa::param::video::VideoInfoRaw,
    layout: Option<PackedLayout>,
}

/// The PipeWire thread: connects to the portal's remote, reads the node's pictures into
/// `shared` until `quit` says so. An error is why it could not start.
fn run_pipewire(
    fd: OwnedFd,
    node: u32,
    shared: &Shared,
    quit: pw::channel::Receiver<()>,
) -> Result<(), String> {
    pw::init();
    let main_loop = pw::main_loop::MainLoopRc::new(None).map_err(|e| format!("main loop: {e}"))?;
    let context = pw::context::ContextRc::new(&main_loop, None).map_err(|e| e.to_string())?;
    let core = context
        .connect_fd_rc(fd, None)
        .map_err(|e| format!("connecting to the portal's remote: {e}"))?;
    let _core_listener = core
        .add_listener_local()
        .error({
            let shared = shared.clone();
            let main_loop = main_loop.downgrade();
            move |id, _seq, res, message| {
                if id == pw::core::PW_ID_CORE {
                    fail(&shared, format!("the remote failed: {message} ({res})"));
                    if let Some(main_loop) = main_loop.upgrade() {
                        main_loop.quit();
                    }
                }
            }
        })
        .register();
    let stream = pw::stream::StreamBox::new(
        &core,
        "peercall-screen",
        pw::properties::properties! {
            *pw::keys::MEDIA_TYPE => "Video",
            *pw::keys::MEDIA_CATEGORY => "Capture",
            *pw::keys::MEDIA_ROLE => "Screen",
        },
    )
    .map_err(|e| format!("stream: {e}"))?;
    let _listener = stream
        .add_local_listener_with_user_data(StreamState::default())
        .state_changed({
            let shared = shared.clone();
            move |_, _, _, new| {
                if let pw::stream::StreamState::Error(why) = new {
                    fail(&shared, format!("the stream failed: {why}"));
                }
            }
        })
        .param_changed(|_, state, id, param| {
            let Some(param) = param else { return };
            if id != spa::param::ParamType::Format.as_raw() {
                return;
            }
            if state.format.parse(param).is_ok() {
                state.layout = layout_of(state.format.format());
                let size = state.format.size();
                tracing::info!(
                    format = ?state.format.format(),
                    width = size.width,
                    height = size.height,
                    "PipeWire format"
                );
            }
        })
        .process({
            let shared = shared.clone();
            move |stream, state| {
                if let Some(mut buffer) = stream.dequeue_buffer() {
                    copy_picture(&mut buffer, state, &shared);
                }
            }
        })
        .register()
        .map_err(|e| format!("stream listener: {e}"))?;
    let format = enum_format()?;
    let pod = spa::pod::Pod::from_bytes(&format).ok_or("the format offer is no pod")?;
    stream
        .connect(
            spa::utils::Direction::Input,
            Some(node),
            pw::stream::StreamFlags::AUTOCONNECT | pw::stream::StreamFlags::MAP_BUFFERS,
            &mut [pod],
        )
        .map_err(|e| format!("connecting to node {node}: {e}"))?;
    let _quit = quit.attach(main_loop.loop_(), {
        let main_loop = main_loop.downgrade();
        move |()| {
            if let Some(main_loop) = main_loop.upgrade() {
                main_loop.quit();
            }
        }
    });
    main_loop.run();
    let _ = stream.disconnect();
    Ok(())
}

/// Copies one buffer's picture into `shared`, unless it is empty or corrupted.
fn copy_picture(buffer: &mut pw::buffer::Buffer<'_>, state: &StreamState, shared: &Shared) {
    let Some(layout) = state.layout else { return };
    let size = state.format.size();
    let datas = buffer.datas_mut();
    let Some(data) = datas.first_mut() else {
        return;
    };
    let chunk = data.chunk();
    if chunk.flags().contains(spa::buffer::ChunkFlags::CORRUPTED) || chunk.size() == 0 {
        return;
    }
    let (offset, len) = (chunk.offset() as usize, chunk.size() as usize);
    let stride = match chunk.stride() {
        s if s > 0 => s as usize,
        _ => size.width as usize * 4,
    };
    let Some(bytes) = data.data() else { return };
    let Some(bytes) = bytes.get(offset..offset.saturating_add(len)) else {
        return;
    };
    let (lock, ready) = &**shared;
    let mut latest = lock.lock().unwrap_or_else(|e| e.into_inner());
    let picture = &mut latest.picture;
    picture.data.clear();
    picture.data.extend_from_slice(bytes);
    picture.stride = stride;
    picture.width = size.width;
    picture.height = size.height;
    picture.layout = Some(layout);
    picture.capture_us = now_us();
    latest.count += 1;
    ready.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_offered_format_has_a_byte_order_and_others_have_none() {
        for format in OFFERED_FORMATS {
            assert!(layout_of(format).is_some(), "{format:?}");
        }
        assert_eq!(layout_of(SpaFormat::BGRA), Some(PackedLayout::Bgrx));
        assert_eq!(layout_of(SpaFormat::RGBx), Some(PackedLayout::Rgbx));
        assert_eq!(layout_of(SpaFormat::I420), None);
        assert_eq!(layout_of(SpaFormat::xRGB), None);
    }

    #[test]
    fn the_format_offer_is_a_pod_naming_raw_video_in_the_offered_formats() {
        let bytes = enum_format().unwrap();
        let pod = spa::pod::Pod::from_bytes(&bytes).expect("a pod");
        assert!(pod.is_object());
        let (_, value) = spa::pod::deserialize::PodDeserializer::deserialize_any_from(&bytes)
            .expect("it reads back");
        let spa::pod::Value::Object(object) = value else {
            panic!("not an object: {value:?}");
        };
        let formats = object
            .properties
            .iter()
            .find(|p| p.key == spa::param::format::FormatProperties::VideoFormat.as_raw())
            .expect("a video format property");
        let spa::pod::Value::Choice(spa::pod::ChoiceValue::Id(spa::utils::Choice(
            _,
            spa::utils::ChoiceEnum::Enum { alternatives, .. },
        ))) = &formats.value
        else {
            panic!("not an enum of ids: {:?}", formats.value);
        };
        let offered: Vec<u32> = OFFERED_FORMATS.iter().map(|f| f.as_raw()).collect();
        let got: Vec<u32> = alternatives.iter().map(|id| id.0).collect();
        assert_eq!(got, offered);
    }

    #[test]
    fn screens_ask_for_a_monitor_and_windows_for_a_window() {
        assert_eq!(source_kind(ShareTarget::Screen(None)), SourceType::Monitor);
        assert_eq!(
            source_kind(ShareTarget::Screen(Some(1))),
            SourceType::Monitor
        );
        assert_eq!(source_kind(ShareTarget::Window(7)), SourceType::Window);
    }

    #[test]
    fn the_cursor_is_drawn_in_when_the_portal_can_and_hidden_otherwise() {
        use enumflags2::BitFlags;
        let all = CursorMode::Hidden | CursorMode::Embedded | CursorMode::Metadata;
        assert_eq!(cursor_mode(all), CursorMode::Embedded);
        assert_eq!(cursor_mode(CursorMode::Metadata.into()), CursorMode::Hidden);
        assert_eq!(cursor_mode(BitFlags::empty()), CursorMode::Hidden);
    }

    #[test]
    fn a_cancelled_dialog_a_refusal_and_a_missing_portal_are_told_apart() {
        use ashpd::desktop::ResponseError;
        assert_eq!(
            portal_failure(&ashpd::Error::Response(ResponseError::Cancelled)),
            PortalFailure::Cancelled
        );
        assert!(matches!(
            portal_failure(&ashpd::Error::Response(ResponseError::Other)),
            PortalFailure::Refused(_)
        ));
        assert!(matches!(
            portal_failure(&ashpd::Error::NoResponse),
            PortalFailure::Refused(_)
        ));
        let missing = portal_failure(&ashpd::Error::Zbus(zbus_error()));
        assert!(
            matches!(missing, PortalFailure::Unavailable(_)),
            "{missing:?}"
        );
        assert!(missing.to_string().contains("install xdg-desktop-portal"));
    }

    fn zbus_error() -> ashpd::zbus::Error {
        ashpd::zbus::Error::InterfaceNotFound
    }
}
