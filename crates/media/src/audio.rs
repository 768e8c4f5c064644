//! Microphone and speaker through cpal, plus a null sink for headless runs.
//!
//! A cpal stream is not `Send`, so each device's stream lives on a thread of its own
//! for as long as the [`Microphone`] or [`Speaker`] does; audio crosses over through a
//! bounded channel (microphone) or the shared [`PlayoutBuffer`] (speaker). The device
//! callbacks never block: a full channel drops the chunk, a busy buffer plays silence.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use crate::echo::{DeviceLatency, EchoTap};
use crate::frame::{AudioFrame, SAMPLE_RATE, now_us};
use crate::playout::{PlayoutBuffer, PlayoutStats};
use crate::resample::FrameResampler;
use crate::source::{AudioSink, AudioSource};
use crate::{DeviceKind, MediaError};

/// A sound device as the system lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioDevice {
    /// The host's identifier (for ALSA: `default`, `null`, `hw:0,0`...); stable across runs.
    pub id: String,
    /// A name a person recognises.
    pub name: String,
}

impl std::fmt::Display for AudioDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.name, self.id)
    }
}

fn describe(device: &cpal::Device) -> AudioDevice {
    let id = device
        .id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| "?".into());
    AudioDevice {
        name: device.to_string(),
        id,
    }
}

/// The microphones the system offers.
pub fn microphones() -> Vec<AudioDevice> {
    cpal::default_host()
        .input_devices()
        .map(|devices| devices.map(|d| describe(&d)).collect())
        .unwrap_or_default()
}

/// The speakers the system offers.
pub fn speakers() -> Vec<AudioDevice> {
    cpal::default_host()
        .output_devices()
        .map(|devices| devices.map(|d| describe(&d)).collect())
        .unwrap_or_default()
}

/// The device whose id or name is `wanted` (exactly, else the first containing it),
/// or the default.
fn pick(
    kind: DeviceKind,
    devices: Result<Vec<cpal::Device>, cpal::Error>,
    default: Option<cpal::Device>,
    wanted: Option<&str>,
) -> Result<(cpal::Device, AudioDevice), MediaError> {
    let devices = devices.unwrap_or_default();
    let infos: Vec<AudioDevice> = devices.iter().map(describe).collect();
    let found = match wanted {
        None => default.or_else(|| devices.into_iter().next()),
        Some(want) => {
            let index = infos
                .iter()
                .position(|d| d.id == want || d.name == want)
                .or_else(|| {
                    infos
                        .iter()
                        .position(|d| d.id.contains(want) || d.name.contains(want))
                });
            index.and_then(|i| devices.into_iter().nth(i))
        }
    };
    let device = found.ok_or_else(|| MediaError::DeviceNotFound {
        kind,
        wanted: wanted.unwrap_or("(default)").to_string(),
        available: infos.iter().map(ToString::to_string).collect(),
    })?;
    let info = describe(&device);
    Ok((device, info))
}

/// Keeps a cpal stream alive on its own thread until dropped.
#[derive(Debug)]
struct StreamThread {
    stop: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl StreamThread {
    /// Builds the stream with `build` on a new thread and starts it.
    fn start(
        kind: DeviceKind,
        name: &str,
        build: impl FnOnce() -> Result<cpal::Stream, String> + Send + 'static,
    ) -> Result<Self, MediaError> {
        let (stop, stopped) = sync_channel::<()>(1);
        let (ready_tx, ready) = sync_channel::<Result<(), String>>(1);
        let thread = std::thread::Builder::new()
            .name(format!("{kind}-stream"))
            .spawn(move || {
                let stream =
                    match build().and_then(|s| s.play().map(|()| s).map_err(|e| e.to_string())) {
                        Ok(stream) => stream,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                let _ = ready_tx.send(Ok(()));
                let _ = stopped.recv();
                drop(stream);
            })
            .map_err(|e| MediaError::unavailable(kind, name, e))?;
        match ready.recv() {
            Ok(Ok(())) => Ok(Self {
                stop: Some(stop),
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(MediaError::unavailable(kind, name, e)),
            Err(_) => Err(MediaError::unavailable(kind, name, "stream thread ended")),
        }
    }
}

impl Drop for StreamThread {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A microphone delivering 48 kHz 20 ms frames (resampled when the device runs at
/// another rate; mono, or stereo when the device has two or more channels).
#[derive(Debug)]
pub struct Microphone {
    name: String,
    channels: u16,
    device_channels: usize,
    chunks: Receiver<Vec<f32>>,
    resampler: FrameResampler,
    ready: VecDeque<Vec<i16>>,
    dropped_chunks: Arc<AtomicU64>,
    latency: DeviceLatency,
    /// The device's stream (none when chunks come from elsewhere, in tests).
    _stream: Option<StreamThread>,
}

impl Microphone {
    /// Opens the microphone whose id or name is `wanted` (or the default) in its own format.
    pub fn open(wanted: Option<&str>) -> Result<Self, MediaError> {
        let host = cpal::default_host();
        let devices = host.input_devices().map(|d| d.collect());
        let (device, info) = pick(
            DeviceKind::Microphone,
            devices,
            host.default_input_device(),
            wanted,
        )?;
        let name = info.to_string();
        let config = device
            .default_input_config()
            .map_err(|e| MediaError::unavailable(DeviceKind::Microphone, &name, e))?;
        let device_channels = usize::from(config.channels().max(1));
        let rate = config.sample_rate();
        tracing::info!(microphone = %name, rate, channels = device_channels, format = ?config.sample_format(), "opening microphone");
        let (tx, chunks) = sync_channel::<Vec<f32>>(64);
        let dropped_chunks = Arc::new(AtomicU64::new(0));
        let dropped = Arc::clone(&dropped_chunks);
        let latency = DeviceLatency::default();
        let reported = latency.clone();
        let stream_name = name.clone();
        let stream = StreamThread::start(DeviceKind::Microphone, &name, move || {
            let config_ = config.config();
            let format = config.sample_format();
            let err = move |e: cpal::Error| tracing::warn!(microphone = %stream_name, "stream error: {e}");
            match format {
                SampleFormat::F32 => input::<f32>(&device, &config_, tx, dropped, reported, err),
                SampleFormat::I16 => input::<i16>(&device, &config_, tx, dropped, reported, err),
                SampleFormat::I32 => input::<i32>(&device, &config_, tx, dropped, reported, err),
                SampleFormat::U16 => input::<u16>(&device, &config_, tx, dropped, reported, err),
                other => Err(format!("sample format {other:?} is not supported")),
            }
        })?;
        let mut microphone = Self::from_chunks(name, rate, device_channels, chunks)?;
        microphone.dropped_chunks = dropped_chunks;
        microphone.latency = latency;
        microphone._stream = Some(stream);
        Ok(microphone)
    }

    /// A microphone fed `chunks` of interleaved samples at `rate` Hz with
    /// `device_channels` channels, as a device callback hands them over.
    pub(crate) fn from_chunks(
        name: String,
        rate: u32,
        device_channels: usize,
        chunks: Receiver<Vec<f32>>,
    ) -> Result<Self, MediaError> {
        let channels = if device_channels >= 2 { 2 } else { 1 };
        Ok(Self {
            name,
            channels,
            device_channels,
            chunks,
            resampler: FrameResampler::new(rate, channels)?,
            ready: VecDeque::new(),
            dropped_chunks: Arc::default(),
            latency: DeviceLatency::default(),
            _stream: None,
        })
    }

    /// Chunks the device delivered while we were not reading (lost audio).
    pub fn dropped_chunks(&self) -> u64 {
        self.dropped_chunks.load(Ordering::Relaxed)
    }
}

fn input<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    tx: SyncSender<Vec<f32>>,
    dropped: Arc<AtomicU64>,
    latency: DeviceLatency,
    err: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, String>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let mut raised = false;
    device
        .build_input_stream::<T, _, _>(
            *config,
            move |data: &[T], info: &cpal::InputCallbackInfo| {
                if !raised {
                    raised = true;
                    raise_priority(DeviceKind::Microphone);
                }
                let stamp = info.timestamp();
                if let Some(waited) = stamp.callback.checked_duration_since(stamp.capture) {
                    latency.set(waited);
                }
                let chunk = data.iter().map(|&s| f32::from_sample_(s)).collect();
                if tx.try_send(chunk).is_err() {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            },
            err,
            Some(Duration::from_secs(2)),
        )
        .map_err(|e| e.to_string())
}

impl AudioSource for Microphone {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn channels(&self) -> u16 {
        self.channels
    }

    fn capture_latency(&self) -> Option<Duration> {
        // The device's own latency, plus the frames that wait here behind the last one.
        let waiting = Duration::from_millis(20) * self.ready.len() as u32;
        self.latency.get().map(|device| device + waiting)
    }

    fn next_frame(&mut self) -> Result<AudioFrame, MediaError> {
        loop {
            if let Some(samples) = self.ready.pop_front() {
                // The frame's first sample was captured one frame (plus what waits) ago.
                let waiting = (self.ready.len() as u64 + 1) * 20_000;
                return Ok(AudioFrame {
                    samples,
                    channels: self.channels,
                    capture_us: now_us().saturating_sub(waiting),
                });
            }
            let chunk = match self.chunks.recv_timeout(Duration::from_secs(2)) {
                Ok(chunk) => chunk,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(MediaError::unavailable(
                        DeviceKind::Microphone,
                        &self.name,
                        "no audio for 2 s",
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(MediaError::unavailable(
                        DeviceKind::Microphone,
                        &self.name,
                        "the stream stopped",
                    ));
                }
            };
            let mixed = downmix(&chunk, self.device_channels, usize::from(self.channels));
            self.ready.extend(self.resampler.push(&mixed));
        }
    }
}

/// The nice value device callbacks ask for: above everything else of ours (video,
/// rendering, a busy machine's other work), below the sound server (which runs at −11).
#[cfg(target_os = "linux")]
const DEVICE_THREAD_NICE: libc::c_int = -10;

/// Raises the calling device thread's priority where the system allows it. A callback
/// that runs late under load makes the sound server insert or drop audio, which moves
/// the echo path under the echo canceller's feet; where raising is not allowed (a user
/// without a nice limit), the thread runs as it was.
#[allow(
    unsafe_code,
    reason = "one libc call: setpriority has no safe wrapper here"
)]
fn raise_priority(kind: DeviceKind) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setpriority only reads its arguments; on Linux, PRIO_PROCESS with id 0
        // applies to the calling thread alone.
        let status = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, DEVICE_THREAD_NICE) };
        if status != 0 {
            let err = std::io::Error::last_os_error();
            tracing::debug!(?kind, %err, "the device thread keeps its normal priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = kind;
}

/// Keeps the first `to` channels (or averages all into one for mono).
fn downmix(chunk: &[f32], from: usize, to: usize) -> Vec<f32> {
    if from == to {
        return chunk.to_vec();
    }
    chunk
        .chunks_exact(from)
        .flat_map(|frame| {
            if to == 1 {
                vec![frame.iter().sum::<f32>() / from as f32]
            } else {
                frame[..to].to_vec()
            }
        })
        .collect()
}

/// A speaker playing 48 kHz audio through an adaptive [`PlayoutBuffer`].
#[derive(Debug)]
pub struct Speaker {
    buffer: Arc<Mutex<PlayoutBuffer>>,
    pulled: Arc<AtomicU64>,
    /// Where the device callback hands what it plays (the echo canceller's far end).
    echo_tap: Arc<Mutex<Option<EchoTap>>>,
    _stream: StreamThread,
}

impl Speaker {
    /// Opens the speaker whose id or name is `wanted` (or the default) at 48 kHz.
    pub fn open(wanted: Option<&str>) -> Result<Self, MediaError> {
        let host = cpal::default_host();
        let devices = host.output_devices().map(|d| d.collect());
        let (device, info) = pick(
            DeviceKind::Speaker,
            devices,
            host.default_output_device(),
            wanted,
        )?;
        let name = info.to_string();
        let configs: Vec<_> = device
            .supported_output_configs()
            .map_err(|e| MediaError::unavailable(DeviceKind::Speaker, &name, e))?
            .collect();
        let config = configs
            .iter()
            .filter(|c| (c.min_sample_rate()..=c.max_sample_rate()).contains(&SAMPLE_RATE))
            .filter(|c| matches!(c.sample_format(), SampleFormat::F32 | SampleFormat::I16))
            .min_by_key(|c| {
                (
                    c.channels().abs_diff(2),
                    c.sample_format() != SampleFormat::F32,
                )
            })
            .map(|c| c.with_sample_rate(SAMPLE_RATE))
            .ok_or_else(|| {
                MediaError::Unsupported(format!(
                    "speaker {name:?} cannot play 48 kHz f32 or i16 audio (it offers {configs:?})"
                ))
            })?;
        let channels = config.channels();
        tracing::info!(speaker = %name, channels, format = ?config.sample_format(), "opening speaker");
        let buffer = Arc::new(Mutex::new(PlayoutBuffer::new(channels)));
        let pulled = Arc::new(AtomicU64::new(0));
        let echo_tap = Arc::new(Mutex::new(None));
        let (shared, counter, stream_name) =
            (Arc::clone(&buffer), Arc::clone(&pulled), name.clone());
        let tap = Arc::clone(&echo_tap);
        let stream = StreamThread::start(DeviceKind::Speaker, &name, move || {
            let err =
                move |e: cpal::Error| tracing::warn!(speaker = %stream_name, "stream error: {e}");
            let config_ = config.config();
            match config.sample_format() {
                SampleFormat::F32 => output::<f32>(&device, &config_, shared, counter, tap, err),
                _ => output::<i16>(&device, &config_, shared, counter, tap, err),
            }
        })?;
        Ok(Self {
            buffer,
            pulled,
            echo_tap,
            _stream: stream,
        })
    }

    /// Playout counters (underruns, concealment, drops).
    pub fn stats(&self) -> PlayoutStats {
        self.buffer.lock().map(|b| b.stats()).unwrap_or_default()
    }

    /// Samples (per channel) the device has taken so far.
    pub fn samples_played(&self) -> u64 {
        self.pulled.load(Ordering::Relaxed)
    }
}

fn output<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    buffer: Arc<Mutex<PlayoutBuffer>>,
    pulled: Arc<AtomicU64>,
    echo_tap: Arc<Mutex<Option<EchoTap>>>,
    err: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, String>
where
    T: SizedSample + FromSample<i16>,
{
    let channels = u64::from(config.channels.max(1));
    let mut scratch: Vec<i16> = Vec::new();
    let mut raised = false;
    device
        .build_output_stream::<T, _, _>(
            *config,
            move |out: &mut [T], info: &cpal::OutputCallbackInfo| {
                if !raised {
                    raised = true;
                    raise_priority(DeviceKind::Speaker);
                }
                scratch.resize(out.len(), 0);
                // Never wait in the device callback: if the buffer is busy, play silence.
                match buffer.try_lock() {
                    Ok(mut b) => b.pull(&mut scratch),
                    Err(_) => scratch.fill(0),
                }
                for (o, &s) in out.iter_mut().zip(&scratch) {
                    *o = T::from_sample_(s);
                }
                // The echo canceller's far end: exactly what the device gets, now.
                if let Ok(tap) = echo_tap.try_lock()
                    && let Some(tap) = tap.as_ref()
                {
                    let stamp = info.timestamp();
                    let latency = stamp.playback.checked_duration_since(stamp.callback);
                    tap.played(&scratch, channels as u16, latency);
                }
                pulled.fetch_add(out.len() as u64 / channels, Ordering::Relaxed);
            },
            err,
            Some(Duration::from_secs(2)),
        )
        .map_err(|e| e.to_string())
}

impl AudioSink for Speaker {
    fn play(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
        if let Ok(mut b) = self.buffer.lock() {
            b.push(frame);
        }
        Ok(())
    }

    fn set_echo_tap(&mut self, tap: EchoTap) {
        if let Ok(mut slot) = self.echo_tap.lock() {
            *slot = Some(tap);
        }
    }
}

/// Discards audio (headless runs); counts what it got.
#[derive(Debug, Default)]
pub struct NullSink {
    /// Frames played so far.
    pub frames: u64,
}

impl AudioSink for NullSink {
    fn play(&mut self, _frame: &AudioFrame) -> Result<(), MediaError> {
        self.frames += 1;
        Ok(())
    }
}
