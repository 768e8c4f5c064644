//! Cameras: a missing one is a typed error naming it and listing what there is; where a
//! camera exists (not on CI), it delivers I420 pictures at the format it reports.

use media::camera::{Camera, cameras};
use media::{MediaError, VideoFormat, VideoSource};

const VGA: VideoFormat = VideoFormat {
    width: 640,
    height: 480,
    fps: 30.0,
};

#[test]
fn a_camera_that_is_not_there_is_a_clear_error() {
    let err = Camera::open(Some(999), VGA).unwrap_err();
    let MediaError::DeviceNotFound {
        kind,
        wanted,
        available,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*kind, wanted.as_str()), (media::DeviceKind::Camera, "999"));
    assert_eq!(available.len(), cameras().len());
    let text = err.to_string();
    assert!(
        text.starts_with("no camera named \"999\"; available: "),
        "{text}"
    );
}

#[test]
fn the_default_camera_opens_or_says_none_was_found() {
    let all = cameras();
    match Camera::open(None, VGA) {
        Ok(mut camera) => {
            assert!(!all.is_empty());
            let format = camera.format();
            let picture = camera.next_frame().unwrap();
            assert_eq!(
                (picture.width(), picture.height()),
                (format.width, format.height)
            );
        }
        Err(err) => {
            assert!(all.is_empty(), "{all:?} listed but opening failed: {err}");
            assert!(err.to_string().ends_with("available: none found"), "{err}");
        }
    }
}
