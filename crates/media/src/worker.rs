//! Codec threads: encoding and decoding run on threads of their own, fed through a
//! bounded queue that never blocks the caller (an async runtime included).
//!
//! A [`Worker`] owns one thread and one job handler. [`Worker::submit`] returns at once;
//! when the queue is full the job is refused (the caller counts a dropped frame) rather
//! than waited for. Results leave through the handler, e.g. into a channel the caller
//! reads. Dropping the worker finishes the queued jobs and joins the thread.

use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use crate::MediaError;
use crate::codec::{VideoCodec, VideoDecoder, VideoEncoder};
use crate::frame::VideoFrame;
use crate::h264::Encoded;

/// A thread that runs jobs of type `J` in order.
#[derive(Debug)]
pub struct Worker<J: Send + 'static> {
    jobs: Option<SyncSender<J>>,
    thread: Option<JoinHandle<()>>,
}

impl<J: Send + 'static> Worker<J> {
    /// Starts a thread named `name` that runs `handle` on each job; at most `capacity`
    /// jobs wait.
    pub fn spawn(
        name: &str,
        capacity: usize,
        mut handle: impl FnMut(J) + Send + 'static,
    ) -> Result<Self, MediaError> {
        let (jobs, queue) = sync_channel::<J>(capacity.max(1));
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for job in queue {
                    handle(job);
                }
            })
            .map_err(|e| MediaError::Unsupported(format!("cannot start thread {name}: {e}")))?;
        Ok(Self {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Queues a job without waiting; `false` when the queue is full (or the thread is gone)
    /// and the job was dropped.
    pub fn submit(&self, job: J) -> bool {
        match self.jobs.as_ref().map(|jobs| jobs.try_send(job)) {
            Some(Ok(())) => true,
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => false,
        }
    }
}

impl<J: Send + 'static> Drop for Worker<J> {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A job for an encoder thread.
#[derive(Debug)]
pub enum EncoderJob {
    /// Encode this picture.
    Encode(VideoFrame),
    /// Make the next picture an IDR.
    Keyframe,
    /// Change the target bitrate (bits per second).
    Bitrate(u32),
    /// Change the frame rate the rate control plans for.
    FrameRate(f32),
}

/// Runs `encoder` on its own thread; every picture's result goes to `output`.
/// Setting errors are reported through `output` too.
pub fn encoder_thread(
    mut encoder: VideoEncoder,
    capacity: usize,
    mut output: impl FnMut(Result<Encoded, MediaError>) + Send + 'static,
) -> Result<Worker<EncoderJob>, MediaError> {
    Worker::spawn("video-encoder", capacity, move |job| match job {
        EncoderJob::Encode(picture) => output(encoder.encode(&picture)),
        EncoderJob::Keyframe => encoder.request_keyframe(),
        EncoderJob::Bitrate(bps) => {
            if let Err(e) = encoder.set_bitrate(bps) {
                output(Err(e));
            }
        }
        EncoderJob::FrameRate(fps) => {
            if let Err(e) = encoder.set_frame_rate(fps) {
                output(Err(e));
            }
        }
    })
}

/// One encoded picture to decode, with its codec and the capture time carried alongside.
#[derive(Debug)]
pub struct DecodeJob {
    /// The codec it is in: a picture of another codec than the decoder's replaces the
    /// decoder with one of that codec (the call renegotiated).
    pub codec: VideoCodec,
    /// The encoded picture (for H.264 an Annex-B access unit).
    pub data: Vec<u8>,
    /// Capture time to stamp on the picture.
    pub capture_us: u64,
    /// Whether it is a keyframe (decodable on its own).
    pub keyframe: bool,
}

/// Runs `decoder` on its own thread; each access unit's result goes to `output`
/// (`Ok(None)` when it completed no picture, `Err` when a keyframe is needed). After an
/// error, the pictures already queued behind it are skipped (they build on the one that
/// failed) until a keyframe: one error per break, not one per queued picture.
pub fn decoder_thread(
    mut decoder: VideoDecoder,
    capacity: usize,
    mut output: impl FnMut(Result<Option<VideoFrame>, MediaError>) + Send + 'static,
) -> Result<Worker<DecodeJob>, MediaError> {
    let mut broken = false;
    Worker::spawn("video-decoder", capacity, move |job: DecodeJob| {
        if broken && !job.keyframe {
            return;
        }
        if job.codec != decoder.codec() {
            tracing::debug!(from = %decoder.codec(), to = %job.codec, "new video codec");
            match VideoDecoder::new(job.codec) {
                Ok(fresh) => decoder = fresh,
                Err(err) => {
                    broken = true;
                    return output(Err(err));
                }
            }
        }
        let result = decoder.decode(&job.data, job.capture_us);
        broken = result.is_err();
        output(result);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h264::EncoderSettings;
    use crate::pattern::{PatternGenerator, read_code};
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn pictures_go_through_encoder_and_decoder_threads_in_order() {
        for codec in VideoCodec::ALL {
            pictures_go_through_the_threads_in_order(codec);
        }
    }

    fn pictures_go_through_the_threads_in_order(codec: VideoCodec) {
        let (units_tx, units) = channel();
        let encoder =
            VideoEncoder::new(codec, 320, 240, EncoderSettings::new(500_000, 30.0)).unwrap();
        let enc = encoder_thread(encoder, 8, move |r| units_tx.send(r).unwrap()).unwrap();
        let (pictures_tx, pictures) = channel();
        let dec = decoder_thread(VideoDecoder::new(codec).unwrap(), 8, move |r| {
            pictures_tx.send(r).unwrap()
        })
        .unwrap();
        let g = PatternGenerator::new(320, 240);
        for n in 0..20 {
            if n == 10 {
                assert!(enc.submit(EncoderJob::Keyframe));
                assert!(enc.submit(EncoderJob::Bitrate(300_000)));
            }
            assert!(enc.submit(EncoderJob::Encode(g.frame(n, u64::from(n)))));
            let Encoded::Frame(au) = units.recv_timeout(Duration::from_secs(5)).unwrap().unwrap()
            else {
                panic!("picture {n} skipped")
            };
            assert_eq!(au.keyframe, n == 0 || n == 10, "picture {n}");
            assert!(dec.submit(DecodeJob {
                codec,
                data: au.data,
                capture_us: au.capture_us,
                keyframe: au.keyframe,
            }));
            let picture = pictures
                .recv_timeout(Duration::from_secs(5))
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(read_code(&picture).unwrap().frame, n);
            assert_eq!(picture.capture_us, u64::from(n));
        }
    }

    #[test]
    fn a_picture_of_another_codec_gets_a_decoder_of_that_codec() {
        let (pictures_tx, pictures) = channel();
        let dec = decoder_thread(VideoDecoder::new(VideoCodec::H264).unwrap(), 8, move |r| {
            pictures_tx.send(r).unwrap()
        })
        .unwrap();
        let g = PatternGenerator::new(320, 240);
        for (n, codec) in [VideoCodec::Vp8, VideoCodec::Vp9, VideoCodec::H264]
            .into_iter()
            .enumerate()
        {
            let mut encoder =
                VideoEncoder::new(codec, 320, 240, EncoderSettings::new(500_000, 30.0)).unwrap();
            let Encoded::Frame(au) = encoder.encode(&g.frame(n as u32, 0)).unwrap() else {
                panic!("{codec} skipped")
            };
            assert!(dec.submit(DecodeJob {
                codec,
                data: au.data,
                capture_us: 0,
                keyframe: au.keyframe,
            }));
            let picture = pictures
                .recv_timeout(Duration::from_secs(5))
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(read_code(&picture).unwrap().frame, n as u32, "{codec}");
        }
    }

    #[test]
    fn after_a_picture_fails_the_ones_queued_behind_it_wait_for_a_keyframe() {
        let (results_tx, results) = channel();
        let dec = decoder_thread(VideoDecoder::new(VideoCodec::H264).unwrap(), 8, move |r| {
            results_tx.send(r).unwrap()
        })
        .unwrap();
        let g = PatternGenerator::new(320, 240);
        let mut encoder = VideoEncoder::new(
            VideoCodec::H264,
            320,
            240,
            EncoderSettings::new(500_000, 30.0),
        )
        .unwrap();
        let units: Vec<_> = (0..4)
            .map(|n| match encoder.encode(&g.frame(n, 0)).unwrap() {
                Encoded::Frame(au) => au,
                Encoded::Skipped { .. } => panic!("picture {n} skipped"),
            })
            .collect();
        assert!(units[0].keyframe && !units[1].keyframe);
        // Garbage where a keyframe should be, then the pictures that build on it.
        let job = |data: Vec<u8>, keyframe| DecodeJob {
            codec: VideoCodec::H264,
            data,
            capture_us: 0,
            keyframe,
        };
        assert!(dec.submit(job(vec![0, 0, 0, 1, 0x65, 0xff, 0x00, 0x13], true)));
        for au in &units[1..] {
            assert!(dec.submit(job(au.data.clone(), false)));
        }
        assert!(dec.submit(job(units[0].data.clone(), true)));
        let first = results.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(first.is_err(), "the broken picture fails: {first:?}");
        let next = results.recv_timeout(Duration::from_secs(5)).unwrap();
        let picture = next
            .unwrap()
            .expect("the keyframe decodes, nothing before it");
        assert_eq!(read_code(&picture).unwrap().frame, 0);
    }

    #[test]
    fn a_full_queue_refuses_instead_of_blocking() {
        let (release_tx, release) = channel::<()>();
        let release = std::sync::Mutex::new(release);
        let worker = Worker::spawn("test", 2, move |_: u32| {
            let _ = release.lock().unwrap().recv();
        })
        .unwrap();
        // One job runs (blocked), two wait, the next is refused at once.
        let accepted = (0..10).filter(|&j| worker.submit(j)).count();
        assert!((2..=3).contains(&accepted), "accepted {accepted}");
        drop(release_tx);
    }
}
