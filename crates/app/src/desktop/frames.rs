//! Frame queues: how pictures reach the UI without either side waiting.
//!
//! The decoder (or the capture thread, for the preview) puts each picture in the queue
//! and wakes the UI; the UI takes one each time it draws. The queue holds up to
//! [`DEPTH`] pictures so that those decoded in a burst (or arriving while the UI thread
//! waited for a core) are all shown, one frame apart; beyond that the oldest
//! is dropped, so the picture is never more than [`DEPTH`] behind. A picture dropped
//! before the UI took it counts as dropped by the UI path.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use media::VideoFrame;

/// Wakes the UI thread (egui's `request_repaint`), without the engine knowing egui.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// Most pictures waiting for the UI: a burst decoded while the UI thread waited for a
/// core is shown one repaint apart, and the picture on screen is never more than this
/// many behind (a single latest-picture slot dropped 22 of 600 at 720p on two cores).
pub const DEPTH: usize = 3;

/// Pictures waiting for the UI (at most [`DEPTH`]), and counts of what went through.
pub struct FrameQueue {
    waiting: Mutex<VecDeque<VideoFrame>>,
    wake: Wake,
    put: AtomicU64,
    dropped: AtomicU64,
    /// Which pictures (1 = the first put) were dropped: the first [`DROPS_KEPT`].
    dropped_at: Mutex<Vec<u64>>,
}

/// How many dropped pictures' numbers a queue keeps: enough to see when drops happen
/// (at the start, or all along) without growing over a long call.
const DROPS_KEPT: usize = 100;

/// How many pictures a queue got, and how many were dropped before the UI took them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Pictures put.
    pub put: u64,
    /// Pictures dropped unseen (the oldest, when [`DEPTH`] already waited).
    pub dropped: u64,
}

impl FrameQueue {
    /// An empty queue that calls `wake` after each picture.
    pub fn new(wake: Wake) -> Arc<Self> {
        Arc::new(Self {
            waiting: Mutex::new(VecDeque::with_capacity(DEPTH + 1)),
            wake,
            put: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            dropped_at: Mutex::new(Vec::new()),
        })
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, VecDeque<VideoFrame>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Offers a picture (dropping the oldest waiting one if [`DEPTH`] already wait)
    /// and wakes the UI.
    pub fn put(&self, picture: &VideoFrame) {
        let dropped = {
            let mut waiting = self.waiting();
            waiting.push_back(picture.clone());
            waiting.len() > DEPTH && waiting.pop_front().is_some()
        };
        let number = self.put.fetch_add(1, Ordering::Relaxed) + 1;
        if dropped {
            // The one dropped is the oldest waiting: DEPTH pictures before this one.
            self.dropped.fetch_add(1, Ordering::Relaxed);
            let mut at = self
                .dropped_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if at.len() < DROPS_KEPT {
                at.push(number - DEPTH as u64);
            }
        }
        (self.wake)();
    }

    /// The oldest waiting picture, if any; when more wait, the UI is woken again to
    /// draw the next one.
    pub fn take(&self) -> Option<VideoFrame> {
        let (picture, more) = {
            let mut waiting = self.waiting();
            (waiting.pop_front(), !waiting.is_empty())
        };
        if more {
            (self.wake)();
        }
        picture
    }

    /// Forgets the pictures waiting (a new call starts: the last call's are stale).
    /// They do not count as dropped.
    pub fn clear(&self) {
        self.waiting().clear();
    }

    /// The numbers of the pictures dropped (1 = the first put), the first [`DROPS_KEPT`].
    pub fn dropped_at(&self) -> Vec<u64> {
        self.dropped_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What went through so far.
    pub fn counts(&self) -> QueueCounts {
        QueueCounts {
            put: self.put.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ui_gets_every_picture_of_a_burst_and_only_a_backlog_is_dropped() {
        let wakes = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&wakes);
        let queue = FrameQueue::new(Arc::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
        }));
        let picture = |us| {
            let mut p = VideoFrame::black(4, 4);
            p.capture_us = us;
            p
        };
        assert!(queue.take().is_none());
        // A burst of two: both shown, in order, the UI woken again for the second.
        queue.put(&picture(1));
        queue.put(&picture(2));
        assert_eq!(queue.take().unwrap().capture_us, 1);
        assert_eq!(wakes.load(Ordering::Relaxed), 3);
        assert_eq!(queue.take().unwrap().capture_us, 2);
        assert!(queue.take().is_none());
        assert_eq!(queue.counts(), QueueCounts { put: 2, dropped: 0 });
        // A backlog: the oldest goes, the picture stays at most DEPTH behind.
        for us in 3..=6 {
            queue.put(&picture(us));
        }
        for us in 4..=6 {
            assert_eq!(queue.take().unwrap().capture_us, us);
        }
        assert_eq!(queue.counts(), QueueCounts { put: 6, dropped: 1 });
        assert_eq!(queue.dropped_at(), [3]);
    }
}
