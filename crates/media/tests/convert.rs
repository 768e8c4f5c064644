//! Colour conversion against straightforward BT.601 reference formulas (±2 per channel),
//! and the camera paths on generated YUYV, NV12 and MJPEG frames.

use media::VideoFrame;
use media::convert::{i420_to_rgba, mjpeg_to_i420, nv12_to_i420, rgb_to_i420, yuyv_to_i420};

const W: u32 = 64;
const H: u32 = 48;

/// Deterministic varied bytes (gradients plus noise), as a camera might give.
fn texture(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            ((i * 7 % 200) as u32 + (x % 40)) as u8 + 8
        })
        .collect()
}

/// The mean of two samples, rounded up.
fn mean2(a: u8, b: u8) -> u8 {
    (u16::from(a) + u16::from(b)).div_ceil(2) as u8
}

fn assert_close(got: &[u8], want: &[u8], tolerance: u8, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(worst <= tolerance, "{what}: worst difference {worst}");
}

#[test]
fn yuyv_to_i420_keeps_luma_and_averages_chroma_rows() {
    let yuyv = texture((W * H * 2) as usize, 1);
    let frame = yuyv_to_i420(&yuyv, W, H, W * 2, 42).unwrap();
    assert_eq!(frame.capture_us, 42);
    let (y, u, v) = frame.planes();
    let want_y: Vec<u8> = yuyv.chunks_exact(2).map(|p| p[0]).collect();
    assert_close(y, &want_y, 0, "Y");
    let row = (W * 2) as usize;
    let (mut want_u, mut want_v) = (Vec::new(), Vec::new());
    for r in (0..H as usize).step_by(2) {
        for c in (0..row).step_by(4) {
            let avg = |o: usize| mean2(yuyv[r * row + c + o], yuyv[(r + 1) * row + c + o]);
            want_u.push(avg(1));
            want_v.push(avg(3));
        }
    }
    assert_close(u, &want_u, 2, "U");
    assert_close(v, &want_v, 2, "V");
}

#[test]
fn nv12_to_i420_deinterleaves_chroma_exactly() {
    let nv12 = texture((W * H * 3 / 2) as usize, 2);
    let frame = nv12_to_i420(&nv12, W, H, 0).unwrap();
    let (y, u, v) = frame.planes();
    let split = (W * H) as usize;
    assert_eq!(y, &nv12[..split]);
    let want_u: Vec<u8> = nv12[split..].chunks_exact(2).map(|p| p[0]).collect();
    let want_v: Vec<u8> = nv12[split..].chunks_exact(2).map(|p| p[1]).collect();
    assert_eq!((u, v), (&want_u[..], &want_v[..]));
}

/// BT.601 limited-range YUV to RGB, in floating point.
fn reference_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let (y, u, v) = (
        f64::from(y) - 16.0,
        f64::from(u) - 128.0,
        f64::from(v) - 128.0,
    );
    let c = |x: f64| x.round().clamp(0.0, 255.0) as u8;
    [
        c(1.164 * y + 1.596 * v),
        c(1.164 * y - 0.392 * u - 0.813 * v),
        c(1.164 * y + 2.017 * u),
    ]
}

#[test]
fn i420_to_rgba_matches_the_bt601_reference() {
    let mut bytes = texture((W * H * 3 / 2) as usize, 3);
    // Keep luma inside the limited range, as real video is.
    for b in &mut bytes[..(W * H) as usize] {
        *b = (*b).clamp(16, 235);
    }
    let frame = VideoFrame::from_i420(W, H, bytes, 0).unwrap();
    let mut rgba = vec![0; (W * H * 4) as usize];
    i420_to_rgba(&frame, &mut rgba).unwrap();
    let (y, u, v) = frame.planes();
    let mut want = Vec::new();
    for r in 0..H as usize {
        for c in 0..W as usize {
            let ci = (r / 2) * (W as usize / 2) + c / 2;
            want.extend(reference_rgb(y[r * W as usize + c], u[ci], v[ci]));
            want.push(255);
        }
    }
    assert_close(&rgba, &want, 2, "RGBA");
}

#[test]
fn rgb_to_i420_matches_the_bt601_reference_luma() {
    let rgb = texture((W * H * 3) as usize, 4);
    let frame = rgb_to_i420(&rgb, W, H, 0).unwrap();
    let want: Vec<u8> = rgb
        .chunks_exact(3)
        .map(|p| {
            let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
            (16.0 + 0.257 * r + 0.504 * g + 0.098 * b).round() as u8
        })
        .collect();
    assert_close(frame.planes().0, &want, 2, "Y");
}

#[test]
fn an_mjpeg_frame_decodes_to_the_picture_it_was_made_from() {
    // A smooth picture (as a camera's would be), encoded at high quality.
    let rgb: Vec<u8> = (0..H)
        .flat_map(|r| (0..W).flat_map(move |c| [(c * 4) as u8, (r * 5) as u8, 128]))
        .collect();
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 100)
        .encode(&rgb, W as u16, H as u16, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let decoded = mjpeg_to_i420(&jpeg, 7).unwrap();
    assert_eq!(
        (decoded.width(), decoded.height(), decoded.capture_us),
        (W, H, 7)
    );
    let direct = rgb_to_i420(&rgb, W, H, 0).unwrap();
    assert_close(decoded.planes().0, direct.planes().0, 3, "Y after JPEG");
    assert_close(decoded.planes().1, direct.planes().1, 3, "U after JPEG");
    // A frame whose header is damaged is an error, not a panic.
    let mut damaged = jpeg.clone();
    damaged[..64].fill(0);
    assert!(mjpeg_to_i420(&damaged, 0).is_err());
}

#[test]
fn yuyv_to_i420_is_exact_at_720p_too() {
    let (w, h) = (1280u32, 720u32);
    let yuyv = texture((w * h * 2) as usize, 5);
    let frame = yuyv_to_i420(&yuyv, w, h, w * 2, 0).unwrap();
    let want_y: Vec<u8> = yuyv.chunks_exact(2).map(|p| p[0]).collect();
    assert_close(frame.planes().0, &want_y, 0, "Y at 720p");
    // Last chroma sample of the last row pair.
    let row = (w * 2) as usize;
    let last = |o: usize| {
        mean2(
            yuyv[(h as usize - 2) * row + row - 4 + o],
            yuyv[(h as usize - 1) * row + row - 4 + o],
        )
    };
    assert_eq!(*frame.planes().1.last().unwrap(), last(1));
    assert_eq!(*frame.planes().2.last().unwrap(), last(3));
}
