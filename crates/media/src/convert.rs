//! Colour conversion and MJPEG decoding, through SIMD libraries (yuvutils-rs, zune-jpeg).
//! The YUYV and NV12 repacks (no colour maths) are slice iterators the compiler vectorizes.
//!
//! Camera formats come in as YUYV, NV12 or MJPEG and leave as I420 [`VideoFrame`]s;
//! decoded I420 leaves as RGBA for display. YUV is BT.601 limited range (what cameras
//! and H.264 streams without colour signalling use); JPEG is full-range BT.601 (JFIF).

use yuvutils_rs::{
    BufferStoreMut, YuvConversionMode, YuvPlanarImage, YuvPlanarImageMut, YuvRange,
    YuvStandardMatrix,
};

use crate::MediaError;
use crate::frame::VideoFrame;

fn bad(what: impl std::fmt::Display) -> MediaError {
    MediaError::Unsupported(what.to_string())
}

/// A writable planar view of `frame` for yuvutils.
fn planar_mut(frame: &mut VideoFrame) -> YuvPlanarImageMut<'_, u8> {
    let (width, height, cw) = (frame.width(), frame.height(), frame.chroma_width());
    let (y, u, v) = frame.planes_mut();
    YuvPlanarImageMut {
        y_plane: BufferStoreMut::Borrowed(y),
        y_stride: width,
        u_plane: BufferStoreMut::Borrowed(u),
        u_stride: cw,
        v_plane: BufferStoreMut::Borrowed(v),
        v_stride: cw,
        width,
        height,
    }
}

/// Packed YUYV 4:2:2 (a camera's raw format; `stride` bytes per row) to I420: luma
/// as is, each chroma sample the mean of the two rows it covers.
///
/// A plain repack with no colour maths, written as slice iterators the compiler
/// vectorizes: yuvutils-rs 0.8's YUYV paths drop pixels at some widths on x86
/// (its SSE and AVX2 kernels disagree with its scalar tail).
pub fn yuyv_to_i420(
    yuyv: &[u8],
    width: u32,
    height: u32,
    stride: u32,
    capture_us: u64,
) -> Result<VideoFrame, MediaError> {
    let (w, h, stride) = (width as usize, height as usize, stride as usize);
    if w % 2 != 0 || h % 2 != 0 || stride < 2 * w || yuyv.len() < stride * (h - 1) + 2 * w {
        return Err(bad(format!(
            "YUYV {width}x{height} (stride {stride}) needs an even size and {} bytes, got {}",
            stride * h,
            yuyv.len()
        )));
    }
    let mut frame = VideoFrame::black(width, height);
    frame.capture_us = capture_us;
    let cw = frame.chroma_width() as usize;
    let (y, u, v) = frame.planes_mut();
    let rows = yuyv.chunks(stride).map(|r| &r[..2 * w]);
    for (src, dst) in rows.clone().zip(y.chunks_exact_mut(w)) {
        for (d, s) in dst.iter_mut().zip(src.chunks_exact(2)) {
            *d = s[0];
        }
    }
    let pairs = rows.clone().step_by(2).zip(rows.skip(1).step_by(2));
    for ((top, bottom), (u, v)) in pairs.zip(u.chunks_exact_mut(cw).zip(v.chunks_exact_mut(cw))) {
        for (((t, b), u), v) in top
            .chunks_exact(4)
            .zip(bottom.chunks_exact(4))
            .zip(u)
            .zip(v)
        {
            *u = (u16::from(t[1]) + u16::from(b[1])).div_ceil(2) as u8;
            *v = (u16::from(t[3]) + u16::from(b[3])).div_ceil(2) as u8;
        }
    }
    Ok(frame)
}

/// NV12 (Y plane, then interleaved UV at half resolution) to I420.
pub fn nv12_to_i420(
    nv12: &[u8],
    width: u32,
    height: u32,
    capture_us: u64,
) -> Result<VideoFrame, MediaError> {
    let (y_len, c_len) = VideoFrame::plane_sizes(width, height);
    if nv12.len() < y_len + 2 * c_len {
        return Err(bad(format!(
            "NV12 {width}x{height} needs {} bytes, got {}",
            y_len + 2 * c_len,
            nv12.len()
        )));
    }
    let mut frame = VideoFrame::black(width, height);
    frame.capture_us = capture_us;
    let (y, u, v) = frame.planes_mut();
    y.copy_from_slice(&nv12[..y_len]);
    // A plain de-interleave, which the compiler vectorizes; there is no colour maths.
    for ((uv, u), v) in nv12[y_len..y_len + 2 * c_len]
        .chunks_exact(2)
        .zip(u.iter_mut())
        .zip(v.iter_mut())
    {
        *u = uv[0];
        *v = uv[1];
    }
    Ok(frame)
}

/// I420 to RGBA (for display): `rgba` must hold `width * height * 4` bytes.
pub fn i420_to_rgba(frame: &VideoFrame, rgba: &mut [u8]) -> Result<(), MediaError> {
    let (y, u, v) = frame.planes();
    let cw = frame.chroma_width();
    let planar = YuvPlanarImage {
        y_plane: y,
        y_stride: frame.width(),
        u_plane: u,
        u_stride: cw,
        v_plane: v,
        v_stride: cw,
        width: frame.width(),
        height: frame.height(),
    };
    yuvutils_rs::yuv420_to_rgba(
        &planar,
        rgba,
        frame.width() * 4,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
    )
    .map_err(bad)
}

/// Packed RGB (3 bytes a pixel) to I420.
pub fn rgb_to_i420(
    rgb: &[u8],
    width: u32,
    height: u32,
    capture_us: u64,
) -> Result<VideoFrame, MediaError> {
    let mut frame = VideoFrame::black(width, height);
    frame.capture_us = capture_us;
    yuvutils_rs::rgb_to_yuv420(
        &mut planar_mut(&mut frame),
        rgb,
        width * 3,
        YuvRange::Limited,
        YuvStandardMatrix::Bt601,
        YuvConversionMode::Balanced,
    )
    .map_err(bad)?;
    Ok(frame)
}

/// Decodes one MJPEG frame (a JPEG picture) to I420.
pub fn mjpeg_to_i420(jpeg: &[u8], capture_us: u64) -> Result<VideoFrame, MediaError> {
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(jpeg, options);
    let rgb = decoder
        .decode()
        .map_err(|e| bad(format!("MJPEG frame does not decode: {e:?}")))?;
    let (w, h) = decoder
        .dimensions()
        .ok_or_else(|| bad("MJPEG frame without dimensions"))?;
    rgb_to_i420(&rgb, w as u32, h as u32, capture_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_sizes_are_errors_not_panics() {
        assert!(nv12_to_i420(&[0; 10], 64, 64, 0).is_err());
        assert!(yuyv_to_i420(&[0; 10], 64, 64, 128, 0).is_err());
        assert!(mjpeg_to_i420(b"not a jpeg", 0).is_err());
        let frame = VideoFrame::black(64, 64);
        assert!(i420_to_rgba(&frame, &mut [0; 10]).is_err());
    }
}
