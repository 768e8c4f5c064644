//! Pictures to textures: the next picture of a [`FrameQueue`] converted to RGBA (SIMD,
//! through `media::convert`) and uploaded into one egui texture that is reused, with the
//! time each upload took.

use std::time::{Duration, Instant};

use eframe::egui;
use media::VideoFrame;

use super::frames::FrameQueue;

/// Upload times kept: the last 10 minutes at 30 fps, enough for the summary's
/// percentiles over a long call without growing without bound.
const UPLOAD_TIMES_KEPT: usize = 18_000;

/// One video's texture.
pub struct VideoTexture {
    name: &'static str,
    texture: Option<egui::TextureHandle>,
    /// Pictures uploaded.
    pub shown: u64,
    /// How long each upload took (conversion and texture update), newest last.
    pub upload_times: Vec<Duration>,
}

/// What the view needs to draw a video.
#[derive(Debug, Clone, Copy)]
pub struct Picture {
    /// The texture.
    pub id: egui::TextureId,
    /// Its size in pixels.
    pub size: egui::Vec2,
}

impl VideoTexture {
    /// A texture named `name` (nothing uploaded yet).
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            texture: None,
            shown: 0,
            upload_times: Vec::new(),
        }
    }

    /// Uploads the queue's next picture, if there is one.
    pub fn update(&mut self, ctx: &egui::Context, queue: &FrameQueue) {
        if let Some(picture) = queue.take() {
            let started = Instant::now();
            if self.upload(ctx, &picture) {
                self.shown += 1;
                // Kept bounded: when full, the older half goes (one move, not one
                // per picture).
                if self.upload_times.len() >= UPLOAD_TIMES_KEPT {
                    self.upload_times.drain(..UPLOAD_TIMES_KEPT / 2);
                }
                self.upload_times.push(started.elapsed());
            }
        }
    }

    fn upload(&mut self, ctx: &egui::Context, picture: &VideoFrame) -> bool {
        let (w, h) = (picture.width() as usize, picture.height() as usize);
        // Converted straight into the texture's pixels: opaque RGBA is already what
        // egui's premultiplied `Color32` holds, so there is no second pass.
        let mut pixels = vec![egui::Color32::BLACK; w * h];
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut pixels);
        if let Err(err) = media::convert::i420_to_rgba(picture, bytes) {
            tracing::warn!(%err, "a picture could not be converted for display");
            return false;
        }
        let image = egui::ColorImage::new([w, h], pixels);
        match &mut self.texture {
            Some(texture) => texture.set(image, egui::TextureOptions::LINEAR),
            None => {
                self.texture =
                    Some(ctx.load_texture(self.name, image, egui::TextureOptions::LINEAR))
            }
        }
        true
    }

    /// The picture to draw, once one arrived.
    pub fn picture(&self) -> Option<Picture> {
        self.texture.as_ref().map(|t| Picture {
            id: t.id(),
            size: t.size_vec2(),
        })
    }

    /// Forgets the picture (no call: nothing to show).
    pub fn clear(&mut self) {
        self.texture = None;
    }
}
