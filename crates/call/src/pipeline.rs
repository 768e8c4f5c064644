//! The one shape of every media pipeline, whatever the codec or direction: codec work on
//! a thread of its own, a bounded queue between that thread and the async task that
//! writes or reads the track, a stop, and a join that never blocks the runtime.
//!
//! - Sending ([`SendThread`]): the thread captures and encodes, and hands each unit to
//!   the task through a bounded queue ([`UnitSender`]). When the queue is full the
//!   thread waits (the source paces it anyway); when the task is gone, its sends fail.
//!   The task writes what [`SendThread::recv`] gives it to the track until the queue
//!   ends (the thread finished: the source ended or was told to stop), then
//!   [`SendThread::join`]s.
//! - Receiving ([`ReceiveThread`]): the task reads the track and submits each unit to
//!   the thread through a bounded queue that never blocks it: a full queue refuses the
//!   unit, and the caller counts it. The thread decodes and plays.
//!   [`ReceiveThread::join`] lets it finish the queued units and joins it.
//!
//! Joining a thread blocks, so both joins run on tokio's blocking pool. A pipeline
//! task that ends early with an error drops its thread handle without joining: a send
//! thread then finds its queue closed (and stops when its control says so), a receive
//! thread finishes its queue and ends.
//!
//! [`crate::video`] and [`crate::audio`] are the four specialisations; [`SendParams`]
//! is what both senders are given.

use std::thread::JoinHandle;

use media::MediaError;
use media::worker::Worker;
use tokio::sync::mpsc;

use crate::CallError;

/// What a send pipeline sends with (video and audio alike).
#[derive(Debug, Clone, Copy)]
pub struct SendParams {
    /// Our SSRC.
    pub ssrc: u32,
    /// The negotiated payload type.
    pub payload_type: u8,
    /// Starting target bitrate, bits per second.
    pub bitrate_bps: u32,
    /// Stop after this many source frames (`None`: until stopped).
    pub frames: Option<u64>,
}

/// A codec that cannot be set up (or its thread started), as the call reports it.
pub(crate) fn codec_error(err: MediaError) -> CallError {
    CallError::WebRtc(err.to_string())
}

/// Runs `join` (which blocks) on tokio's blocking pool and waits for it.
async fn join_off_runtime(join: impl FnOnce() + Send + 'static) {
    let _ = tokio::task::spawn_blocking(join).await;
}

/// The thread's end of a send pipeline's queue.
#[derive(Debug)]
pub struct UnitSender<T>(mpsc::Sender<T>);

impl<T> Clone for UnitSender<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> UnitSender<T> {
    /// Queues `unit` for the track, waiting while the queue is full; `false` when the
    /// pipeline's task is gone. Call it from the codec thread, never from async code.
    pub fn send(&self, unit: T) -> bool {
        self.0.blocking_send(unit).is_ok()
    }
}

/// The codec side of a send pipeline: a thread that captures and encodes, handing
/// units to the pipeline's task through a bounded queue.
#[derive(Debug)]
pub struct SendThread<T> {
    units: mpsc::Receiver<T>,
    thread: JoinHandle<()>,
}

impl<T: Send + 'static> SendThread<T> {
    /// Starts a thread named `name`; at most `depth` units wait for the task.
    ///
    /// `start` runs here, with the thread's end of the queue, and may fail (a codec
    /// thread of its own that does not start); the body it returns runs on the new
    /// thread, and the queue ends when the body has returned and every [`UnitSender`]
    /// is dropped.
    pub fn spawn<B>(
        name: &str,
        depth: usize,
        start: impl FnOnce(UnitSender<T>) -> Result<B, CallError>,
    ) -> Result<Self, CallError>
    where
        B: FnOnce() + Send + 'static,
    {
        let (units_tx, units) = mpsc::channel(depth.max(1));
        let body = start(UnitSender(units_tx))?;
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(body)
            .map_err(CallError::webrtc)?;
        Ok(Self { units, thread })
    }

    /// The next unit to write; `None` once the thread is done and the queue empty.
    pub async fn recv(&mut self) -> Option<T> {
        self.units.recv().await
    }

    /// Waits for the thread to end, off the runtime's threads.
    pub async fn join(self) {
        let Self { units, thread } = self;
        drop(units);
        join_off_runtime(move || {
            let _ = thread.join();
        })
        .await;
    }
}

/// The codec side of a receive pipeline: a thread that decodes and plays what the
/// pipeline's task submits, through a bounded queue that never blocks the task.
#[derive(Debug)]
pub struct ReceiveThread<J: Send + 'static> {
    worker: Worker<J>,
}

impl<J: Send + 'static> From<Worker<J>> for ReceiveThread<J> {
    /// A codec thread started by `media` (e.g. `media::worker::decoder_thread`).
    fn from(worker: Worker<J>) -> Self {
        Self { worker }
    }
}

impl<J: Send + 'static> ReceiveThread<J> {
    /// Starts a thread named `name` that runs `handle` on each unit; at most `depth`
    /// units wait.
    pub fn spawn(
        name: &str,
        depth: usize,
        handle: impl FnMut(J) + Send + 'static,
    ) -> Result<Self, CallError> {
        Worker::spawn(name, depth, handle)
            .map(Self::from)
            .map_err(codec_error)
    }

    /// Queues `unit` without waiting; `false` when the queue is full (or the thread is
    /// gone) and the unit was dropped: the caller counts it.
    pub fn submit(&self, unit: J) -> bool {
        self.worker.submit(unit)
    }

    /// Lets the thread finish the queued units and waits for it, off the runtime's
    /// threads.
    pub async fn join(self) {
        let worker = self.worker;
        join_off_runtime(move || drop(worker)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    #[tokio::test]
    async fn a_send_thread_hands_over_every_unit_in_order_and_ends_the_queue() {
        let mut units = SendThread::spawn("test-send", 2, |out| {
            Ok(move || {
                for n in 0..10 {
                    assert!(out.send(n));
                }
            })
        })
        .expect("thread");
        let mut got = Vec::new();
        while let Some(n) = units.recv().await {
            got.push(n);
        }
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        units.join().await;
    }

    #[tokio::test]
    async fn a_send_thread_whose_task_is_gone_sees_its_sends_fail() {
        let (result_tx, result) = channel();
        let units = SendThread::spawn("test-send", 1, |out| {
            Ok(move || {
                // The first fills the queue; the task has stopped reading by then.
                let sent: Vec<bool> = (0..3).map(|n| out.send(n)).collect();
                result_tx.send(sent).unwrap();
            })
        })
        .expect("thread");
        units.join().await;
        let sent = result.recv().unwrap();
        assert!(!sent[2], "{sent:?}");
    }

    #[tokio::test]
    async fn a_send_thread_that_cannot_start_reports_why() {
        let started = SendThread::<u8>::spawn("test-send", 1, |_| {
            Err::<fn(), _>(CallError::webrtc("no codec"))
        });
        assert!(matches!(started, Err(CallError::WebRtc(why)) if why == "no codec"));
    }

    #[tokio::test]
    async fn a_receive_thread_plays_what_was_queued_before_the_join_returns() {
        let (played_tx, played) = channel();
        let thread = ReceiveThread::spawn("test-receive", 64, move |n: u32| {
            played_tx.send(n).unwrap();
        })
        .expect("thread");
        for n in 0..20 {
            assert!(thread.submit(n));
        }
        thread.join().await;
        assert_eq!(
            played.try_iter().collect::<Vec<_>>(),
            (0..20).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_full_receive_queue_refuses_instead_of_blocking_the_task() {
        let (release_tx, release) = channel::<()>();
        let release = std::sync::Mutex::new(release);
        let thread = ReceiveThread::spawn("test-receive", 2, move |_: u32| {
            let _ = release.lock().unwrap().recv();
        })
        .expect("thread");
        // One unit is being handled (blocked), two wait, the rest are refused at once.
        let accepted = (0..10).filter(|&n| thread.submit(n)).count();
        assert!((2..=3).contains(&accepted), "accepted {accepted}");
        drop(release_tx);
        thread.join().await;
    }
}
