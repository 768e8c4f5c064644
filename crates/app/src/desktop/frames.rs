//! Latest-frame slots: how pictures reach the UI without either side waiting.
//!
//! The decoder (or the capture thread, for the preview) puts each picture in the slot
//! and wakes the UI; the UI takes the newest when it draws. A picture replaced before
//! the UI took it counts as dropped by the UI path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use media::VideoFrame;

/// Wakes the UI thread (egui's `request_repaint`), without the engine knowing egui.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// One picture waiting for the UI, and counts of what went through.
pub struct FrameSlot {
    latest: Mutex<Option<VideoFrame>>,
    wake: Wake,
    put: AtomicU64,
    dropped: AtomicU64,
}

/// How many pictures a slot got, and how many were replaced before the UI took them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotCounts {
    /// Pictures put.
    pub put: u64,
    /// Pictures replaced unseen.
    pub dropped: u64,
}

impl FrameSlot {
    /// An empty slot that calls `wake` after each picture.
    pub fn new(wake: Wake) -> Arc<Self> {
        Arc::new(Self {
            latest: Mutex::new(None),
            wake,
            put: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// Offers a picture (replacing one the UI has not taken yet) and wakes the UI.
    pub fn put(&self, picture: &VideoFrame) {
        let replaced = self
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(picture.clone());
        self.put.fetch_add(1, Ordering::Relaxed);
        if replaced.is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        (self.wake)();
    }

    /// The newest picture, if one came since the last take.
    pub fn take(&self) -> Option<VideoFrame> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// What went through so far.
    pub fn counts(&self) -> SlotCounts {
        SlotCounts {
            put: self.put.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_gets_the_newest_picture_and_replaced_ones_count_as_dropped() {
        let wakes = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&wakes);
        let slot = FrameSlot::new(Arc::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        }));
        let picture = |us| {
            let mut p = VideoFrame::black(4, 4);
            p.capture_us = us;
            p
        };
        assert!(slot.take().is_none());
        slot.put(&picture(1));
        slot.put(&picture(2));
        assert_eq!(slot.take().unwrap().capture_us, 2);
        assert!(slot.take().is_none());
        slot.put(&picture(3));
        assert_eq!(slot.take().unwrap().capture_us, 3);
        assert_eq!(slot.counts(), SlotCounts { put: 3, dropped: 1 });
        assert_eq!(wakes.load(Ordering::Relaxed), 3);
    }
}
