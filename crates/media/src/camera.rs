//! Cameras through nokhwa (V4L2 on Linux), delivering I420 frames stamped with capture time.
//!
//! The camera is opened at the format nearest the one asked for (among MJPEG, YUYV and
//! NV12, which [`crate::convert`] turns into I420), and the log says what it settled on.
//! Capture runs on its own thread; [`Camera::next_frame`] waits for the next picture.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use crate::convert::{mjpeg_to_i420, nv12_to_i420, yuyv_to_i420};
use crate::frame::{VideoFrame, now_us};
use crate::source::{VideoFormat, VideoSource};
use crate::{DeviceKind, MediaError};

/// The formats we can turn into I420.
const USABLE: [FrameFormat; 3] = [FrameFormat::MJPEG, FrameFormat::YUYV, FrameFormat::NV12];

/// A camera as the system lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraInfo {
    /// Index to open it by.
    pub index: u32,
    /// A name a person recognises.
    pub name: String,
    /// What it can deliver, e.g. `1280x720 MJPEG @ 30` (empty if it could not be asked).
    pub formats: Vec<String>,
}

impl std::fmt::Display for CameraInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.index, self.name)
    }
}

/// The cameras the system offers, with their formats.
pub fn cameras() -> Vec<CameraInfo> {
    let Ok(found) = nokhwa::query(ApiBackend::Auto) else {
        return Vec::new();
    };
    found
        .into_iter()
        .filter_map(|info| {
            let CameraIndex::Index(index) = info.index().clone() else {
                return None;
            };
            let formats = nokhwa::Camera::new(
                CameraIndex::Index(index),
                RequestedFormat::with_formats(RequestedFormatType::None, &USABLE),
            )
            .and_then(|mut camera| camera.compatible_camera_formats())
            .map(|formats| formats.iter().map(describe).collect())
            .unwrap_or_default();
            Some(CameraInfo {
                index,
                name: info.human_name(),
                formats,
            })
        })
        .collect()
}

fn describe(format: &CameraFormat) -> String {
    format!(
        "{}x{} {} @ {}",
        format.width(),
        format.height(),
        format.format(),
        format.frame_rate()
    )
}

/// An open camera.
#[derive(Debug)]
pub struct Camera {
    name: String,
    format: VideoFormat,
    frames: Receiver<Result<VideoFrame, MediaError>>,
    stop: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Camera {
    /// Opens camera `index` (or the first) at the format nearest `want`.
    pub fn open(index: Option<u32>, want: VideoFormat) -> Result<Self, MediaError> {
        let all = cameras();
        let info = match index {
            None => all.first(),
            Some(i) => all.iter().find(|c| c.index == i),
        }
        .cloned()
        .ok_or_else(|| MediaError::DeviceNotFound {
            kind: DeviceKind::Camera,
            wanted: index.map_or("(default)".into(), |i| i.to_string()),
            available: all.iter().map(ToString::to_string).collect(),
        })?;
        let (frames_tx, frames) = sync_channel(4);
        let (ready_tx, ready) = sync_channel(1);
        let (stop, stopped) = sync_channel::<()>(1);
        let name = info.name.clone();
        let thread = std::thread::Builder::new()
            .name("camera".into())
            .spawn(move || capture(&info, want, &ready_tx, &frames_tx, &stopped))
            .map_err(|e| MediaError::unavailable(DeviceKind::Camera, &name, e))?;
        let format = match ready.recv() {
            Ok(Ok(format)) => format,
            Ok(Err(reason)) => {
                return Err(MediaError::unavailable(DeviceKind::Camera, &name, reason));
            }
            Err(_) => {
                return Err(MediaError::unavailable(
                    DeviceKind::Camera,
                    &name,
                    "capture thread ended",
                ));
            }
        };
        if format != want {
            tracing::info!(camera = %name, asked = %want, got = %format, "camera opened at the nearest supported format");
        }
        Ok(Self {
            name,
            format,
            frames,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// The capture thread: opens the camera, reports its format, then converts frames
/// until stopped (a full queue drops the oldest-to-be frame, never blocks the camera).
fn capture(
    camera_info: &CameraInfo,
    want: VideoFormat,
    ready: &SyncSender<Result<VideoFormat, String>>,
    frames: &SyncSender<Result<VideoFrame, MediaError>>,
    stopped: &Receiver<()>,
) {
    let request = RequestedFormatType::Closest(CameraFormat::new(
        Resolution::new(want.width, want.height),
        FrameFormat::MJPEG,
        want.fps.round() as u32,
    ));
    let opened = nokhwa::Camera::new(
        CameraIndex::Index(camera_info.index),
        RequestedFormat::with_formats(request, &USABLE),
    )
    .and_then(|mut camera| camera.open_stream().map(|()| camera));
    let mut camera = match opened {
        Ok(camera) => camera,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let format = camera.camera_format();
    let _ = ready.send(Ok(VideoFormat {
        width: format.width(),
        height: format.height(),
        fps: format.frame_rate() as f32,
    }));
    while matches!(
        stopped.try_recv(),
        Err(std::sync::mpsc::TryRecvError::Empty)
    ) {
        let result = camera
            .frame_raw()
            .map_err(|e| MediaError::unavailable(DeviceKind::Camera, &camera_info.name, e))
            .and_then(|raw| {
                let at = now_us();
                let (w, h) = (format.width(), format.height());
                match format.format() {
                    FrameFormat::MJPEG => mjpeg_to_i420(&raw, at),
                    FrameFormat::YUYV => yuyv_to_i420(&raw, w, h, w * 2, at),
                    FrameFormat::NV12 => nv12_to_i420(&raw, w, h, at),
                    other => Err(MediaError::Unsupported(format!("camera format {other}"))),
                }
            });
        let failed = result.is_err();
        let _ = frames.try_send(result);
        if failed {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = camera.stop_stream();
}

impl VideoSource for Camera {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn format(&self) -> VideoFormat {
        self.format
    }

    fn next_frame(&mut self) -> Result<VideoFrame, MediaError> {
        match self.frames.recv_timeout(Duration::from_secs(2)) {
            Ok(frame) => frame,
            Err(RecvTimeoutError::Timeout) => Err(MediaError::unavailable(
                DeviceKind::Camera,
                &self.name,
                "no picture for 2 s",
            )),
            Err(RecvTimeoutError::Disconnected) => Err(MediaError::unavailable(
                DeviceKind::Camera,
                &self.name,
                "the capture thread stopped",
            )),
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.try_send(());
        }
        // Unblock a capture thread waiting to hand over a frame, then join it.
        while self.frames.try_recv().is_ok() {}
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
