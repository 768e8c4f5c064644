//! A hostile peer over a real connection (signaling server, ICE, DTLS, SRTP on
//! 127.0.0.1): it answers `peercall call` like any peer, then sends garbage RTP on both
//! tracks, an H.264 keyframe whose SPS asks for an 8192x8192 picture, a flood of RTP
//! and huge RTCP (thousands of NACKs, a storm of PLIs, packets of a type nobody knows).
//! The native side keeps running with its memory bounded, decodes the real pictures
//! that follow each attack, and ends with its reason when the hostile peer leaves; the
//! desktop app under the same barrage keeps drawing.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use call::peer::{
    Peer, PeerEvent, PeerSetup, build_peer, local_track, negotiated_payload_type,
    negotiated_video_payload_type, to_rtc,
};
use call::{SignalingClient, SignalingConfig, SignalingEvent};
use common::{Killed, app_window, signaling_server};
use media::codec::{VideoCodec, VideoEncoder};
use media::h264::{Encoded, EncoderSettings};
use media::pattern::PatternGenerator;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::raw_packet::RawPacket;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
use rtc::rtp::packetizer::Packetizer as _;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use serde_json::Value;
use signaling_proto::{ClientMessage, RoomId, Signal};
use testkit::screen::Xvfb;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_sample::TrackLocalStaticSample;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{PeerConnection, RTCPeerConnectionState};

/// The tests start several processes each: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const VIDEO_SSRC: u32 = 0x0bad_f00d;
const AUDIO_SSRC: u32 = 0x0bad_a0d1;

/// `peercall call` with its stats lines and its log collected as they come.
struct Native {
    process: Killed,
    lines: Arc<Mutex<Vec<Value>>>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Native {
    fn start(server: std::net::SocketAddr, room: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_peercall"))
            .args([
                "call",
                "--server",
                &format!("ws://{server}/ws"),
                "--room",
                room,
            ])
            .args(["--bind", "127.0.0.1:0", "--width", "320", "--height", "240"])
            .env("RUST_LOG", "warn,peercall=info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let stderr = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(value);
                }
            }
        });
        Self {
            process: Killed(child),
            lines,
            log,
        }
    }

    /// Waits (up to 20 s) until it logs that its call is waiting (alone in the room,
    /// its offer held by the server).
    async fn waiting(&self) {
        let until = Instant::now() + Duration::from_secs(20);
        while !self
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("call waiting"))
        {
            assert!(
                Instant::now() < until,
                "the native peer never said it was waiting; its log:\n{}",
                self.log.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its newest stats line.
    fn last(&self) -> Value {
        self.lines
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }

    /// Resident memory now, KiB.
    fn rss_kib(&self) -> u64 {
        testkit::resident_kib(self.process.0.id()).expect("the native peer is running")
    }

    fn alive(&mut self) -> bool {
        self.process.0.try_wait().unwrap().is_none()
    }

    /// Waits (up to `secs`) until its newest line satisfies `ok`.
    async fn wait_for(&self, what: &str, secs: u64, ok: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let last = self.last();
            if ok(&last) {
                return last;
            }
            if Instant::now() >= until {
                let log = self.log.lock().unwrap();
                let tail = log[log.len().saturating_sub(20)..].join("\n");
                panic!("{what} within {secs} s; last: {last}\nits log ends:\n{tail}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The hostile side: a real peer connection that answered the native peer's offer.
struct Hostile {
    pc: Arc<dyn PeerConnection>,
    video: Arc<TrackLocalStaticSample>,
    audio: Arc<TrackLocalStaticSample>,
    video_pt: u8,
    audio_pt: u8,
    /// The native peer's video, once it arrived (what NACKs and PLIs go back on).
    native_video: Arc<Mutex<Option<Arc<dyn TrackRemote>>>>,
    /// Fired to leave the room.
    leave: tokio::sync::oneshot::Sender<()>,
    seq: u16,
    rng: u64,
}

impl Hostile {
    async fn answer(server: std::net::SocketAddr, room: &str) -> Self {
        let config = SignalingConfig::new(format!("ws://{server}/ws"), RoomId::new(room).unwrap());
        let mut signaling = SignalingClient::connect(config).await.unwrap();
        let (native, offer) = loop {
            match tokio::time::timeout(Duration::from_secs(20), signaling.next_event())
                .await
                .expect("the native peer's offer within 20 s")
            {
                Some(SignalingEvent::Signal {
                    from,
                    signal: Signal::Offer(sdp),
                }) => break (from, sdp),
                Some(_) => {}
                None => panic!("signaling ended before an offer came"),
            }
        };
        let Peer { pc, mut events, .. } = build_peer(&PeerSetup {
            bind: vec!["127.0.0.1:0".parse().unwrap()],
            ..Default::default()
        })
        .await
        .unwrap();
        let video =
            local_track("hostile", RtpCodecKind::Video, VIDEO_SSRC, VideoCodec::H264).unwrap();
        let audio =
            local_track("hostile", RtpCodecKind::Audio, AUDIO_SSRC, VideoCodec::H264).unwrap();
        let video_sender = pc
            .add_track(Arc::clone(&video) as Arc<dyn TrackLocal>)
            .await
            .unwrap();
        let audio_sender = pc
            .add_track(Arc::clone(&audio) as Arc<dyn TrackLocal>)
            .await
            .unwrap();
        pc.set_remote_description(
            rtc::peer_connection::sdp::RTCSessionDescription::offer(offer).unwrap(),
        )
        .await
        .unwrap();
        let answer = pc.create_answer(None).await.unwrap();
        pc.set_local_description(answer.clone()).await.unwrap();
        signaling
            .send(ClientMessage::Answer {
                sdp: answer.sdp,
                to: Some(native.clone()),
            })
            .unwrap();
        let native_video = Arc::new(Mutex::new(None));
        let (connected_tx, mut connected) = tokio::sync::watch::channel(false);
        let (leave, left) = tokio::sync::oneshot::channel::<()>();
        // Candidates both ways and the native peer's track, until the test leaves.
        let seen = Arc::clone(&native_video);
        let remote_pc = Arc::clone(&pc);
        tokio::spawn(async move {
            let mut left = left;
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Some(PeerEvent::Candidate(c)) => {
                            let _ = signaling.send(ClientMessage::Candidate {
                                candidate: Some(c),
                                to: Some(native.clone()),
                            });
                        }
                        Some(PeerEvent::State(RTCPeerConnectionState::Connected)) => {
                            let _ = connected_tx.send(true);
                        }
                        Some(PeerEvent::Track(track)) => {
                            if track.kind().await == RtpCodecKind::Video {
                                *seen.lock().unwrap() = Some(track);
                            }
                        }
                        Some(_) => {}
                        None => break,
                    },
                    event = signaling.next_event() => match event {
                        Some(SignalingEvent::Signal {
                            signal: Signal::Candidate(Some(candidate)),
                            ..
                        }) => {
                            let _ = remote_pc.add_ice_candidate(to_rtc(candidate)).await;
                        }
                        Some(_) => {}
                        None => break,
                    },
                    _ = &mut left => break,
                }
            }
            signaling.close().await;
        });
        tokio::time::timeout(Duration::from_secs(20), connected.wait_for(|c| *c))
            .await
            .expect("connected within 20 s")
            .unwrap();
        let video_pt = negotiated_video_payload_type(&video_sender, VideoCodec::H264)
            .await
            .unwrap();
        let audio_pt = negotiated_payload_type(&audio_sender).await.unwrap();
        Self {
            pc,
            video,
            audio,
            video_pt,
            audio_pt,
            native_video,
            leave,
            seq: 1,
            rng: 0x9e37_79b9_7f4a_7c15,
        }
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn packet(
        &mut self,
        ssrc: u32,
        payload_type: u8,
        timestamp: u32,
        marker: bool,
        payload: Vec<u8>,
    ) -> rtc::rtp::Packet {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.version = 2;
        packet.header.ssrc = ssrc;
        packet.header.payload_type = payload_type;
        packet.header.sequence_number = self.seq;
        packet.header.timestamp = timestamp;
        packet.header.marker = marker;
        packet.payload = Bytes::from(payload);
        self.seq = self.seq.wrapping_add(1);
        packet
    }

    /// `count` packets of random bytes on each track, random markers.
    async fn garbage(&mut self, count: usize) {
        for n in 0..count {
            let len = 1 + (self.random() % 1100) as usize;
            let payload: Vec<u8> = (0..len).map(|_| self.random() as u8).collect();
            let marker = self.random() % 3 == 0;
            let (video_pt, audio_pt) = (self.video_pt, self.audio_pt);
            let packet = self.packet(
                VIDEO_SSRC,
                video_pt,
                3000 * n as u32,
                marker,
                payload.clone(),
            );
            self.video.write_rtp(packet).await.unwrap();
            let packet = self.packet(AUDIO_SSRC, audio_pt, 960 * n as u32, false, payload);
            self.audio.write_rtp(packet).await.unwrap();
        }
    }

    /// A keyframe whose SPS asks for an 8192x8192 picture, then one asking for
    /// 2^32-ish macroblocks a row.
    async fn impossible_sps(&mut self) {
        for width_mbs_minus1 in [511, u32::MAX - 1] {
            let mut au = vec![0, 0, 0, 1];
            au.extend(sps(width_mbs_minus1, 511));
            // PPS and an IDR slice of garbage: what a decoder would start on.
            au.extend([0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]);
            au.extend([0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33, 0xff, 0x01]);
            let timestamp = self.random() as u32;
            let pt = self.video_pt;
            let packet = self.packet(VIDEO_SSRC, pt, timestamp, true, au[4..].to_vec());
            // One NAL a packet would need STAP-A; a single packet carrying the whole
            // access unit as one "NAL" is what a careless sender does: send both.
            self.video.write_rtp(packet).await.unwrap();
            let mut stap = vec![24u8];
            for nal in au
                .split(|&b| b == 1)
                .skip(1)
                .map(|n| n.strip_suffix(&[0, 0, 0]).unwrap_or(n))
            {
                stap.extend((nal.len() as u16).to_be_bytes());
                stap.extend(nal);
            }
            let packet = self.packet(VIDEO_SSRC, pt, timestamp.wrapping_add(3000), true, stap);
            self.video.write_rtp(packet).await.unwrap();
        }
    }

    /// `count` packets as fast as they go, with holes, timestamps all over.
    async fn flood(&mut self, count: usize) {
        let payload = vec![0x5c; 1100];
        for _ in 0..count {
            // Holes now and then. Never a leap back or past half the sequence space:
            // SRTP would take the packets after it for replays (or another rollover)
            // and drop them before any of our code sees them, for good.
            if self.random() % 50 == 0 {
                self.seq = self.seq.wrapping_add(1 + (self.random() % 500) as u16);
            }
            let (timestamp, marker, pt) =
                (self.random() as u32, self.random() % 2 == 0, self.video_pt);
            let packet = self.packet(VIDEO_SSRC, pt, timestamp, marker, payload.clone());
            self.video.write_rtp(packet).await.unwrap();
        }
    }

    /// Thousands of NACKs, a storm of PLIs, 31 report blocks, and packets of unknown
    /// types, in compounds of tens of kilobytes.
    async fn huge_rtcp(&mut self) {
        let track = self.native_video.lock().unwrap().clone();
        let track = track.expect("the native peer's video arrived");
        let media_ssrc = track.ssrcs().await.first().copied().unwrap_or(1);
        let nack = TransportLayerNack {
            sender_ssrc: VIDEO_SSRC,
            media_ssrc,
            nacks: (0..4000u16)
                .map(|i| NackPair {
                    packet_id: i.wrapping_mul(17),
                    lost_packets: 0xffff,
                })
                .collect(),
        };
        let rr = ReceiverReport {
            ssrc: VIDEO_SSRC,
            reports: (0..31)
                .map(|i| ReceptionReport {
                    ssrc: media_ssrc.wrapping_add(i),
                    fraction_lost: 255,
                    total_lost: 0x7f_ffff,
                    jitter: u32::MAX,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        for _ in 0..20 {
            let mut packets: Vec<Box<dyn rtc::rtcp::Packet>> =
                vec![Box::new(nack.clone()), Box::new(rr.clone())];
            for _ in 0..200 {
                packets.push(Box::new(PictureLossIndication {
                    sender_ssrc: VIDEO_SSRC,
                    media_ssrc,
                }));
            }
            // Version 2, packet type 199 (none), a length that fits.
            packets.push(Box::new(RawPacket(Bytes::from_static(&[
                0x80, 199, 0, 1, 1, 2, 3, 4,
            ]))));
            track.write_rtcp(packets).await.unwrap();
        }
    }

    /// Sends two seconds of real pictures and waits until the native peer decoded at
    /// least one second of them.
    async fn pictures_decoded(&mut self, native: &Native, when: &str) {
        let before = native.last()["video_in"]["decoded"].as_u64().unwrap_or(0);
        self.pictures(60).await;
        native
            .wait_for(&format!("pictures decoded {when}"), 10, |l| {
                l["video_in"]["decoded"].as_u64() >= Some(before + 30)
            })
            .await;
    }

    /// Real H.264 pictures of the test pattern at 30 fps for `frames` frames, a
    /// keyframe every 15.
    async fn pictures(&mut self, frames: u32) {
        let (w, h) = (320, 240);
        let pattern = PatternGenerator::new(w, h);
        let mut encoder =
            VideoEncoder::new(VideoCodec::H264, w, h, EncoderSettings::new(500_000, 30.0)).unwrap();
        let mut packetizer = rtc::rtp::packetizer::new_packetizer(
            Instant::now(),
            1200,
            self.video_pt,
            VIDEO_SSRC,
            call::peer::video_codec(VideoCodec::H264)
                .payloader()
                .unwrap(),
            Box::new(rtc::rtp::sequence::new_random_sequencer()),
            90_000,
        );
        let mut tick = tokio::time::interval(Duration::from_millis(33));
        for n in 0..frames {
            tick.tick().await;
            if n % 15 == 0 {
                encoder.request_keyframe();
            }
            let Encoded::Frame(unit) = encoder.encode(&pattern.frame(n, 0)).unwrap() else {
                continue;
            };
            for mut packet in packetizer
                .packetize(Instant::now(), &Bytes::from(unit.data), 3000)
                .unwrap()
            {
                // Our own sequence, continuing the barrage's (see `flood`).
                packet.header.sequence_number = self.seq;
                self.seq = self.seq.wrapping_add(1);
                self.video.write_rtp(packet).await.unwrap();
            }
        }
    }
}

/// An SPS (baseline, level 4) of `width_mbs_minus1`+1 by `height_mbs_minus1`+1
/// macroblocks, with its NAL header, emulation-prevented.
fn sps(width_mbs_minus1: u32, height_mbs_minus1: u32) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.put(66, 8); // profile_idc: baseline
    bits.put(0, 8); // constraint flags
    bits.put(40, 8); // level_idc
    bits.ue(0); // seq_parameter_set_id
    bits.ue(0); // log2_max_frame_num_minus4
    bits.ue(2); // pic_order_cnt_type
    bits.ue(1); // max_num_ref_frames
    bits.put(0, 1); // gaps_in_frame_num_value_allowed_flag
    bits.ue(width_mbs_minus1);
    bits.ue(height_mbs_minus1);
    bits.put(1, 1); // frame_mbs_only_flag
    bits.put(1, 1); // direct_8x8_inference_flag
    bits.put(0, 1); // frame_cropping_flag
    bits.put(0, 1); // vui_parameters_present_flag
    bits.put(1, 1); // rbsp_stop_one_bit
    let mut nal = vec![0x67];
    let mut zeros = 0;
    for byte in bits.bytes() {
        if zeros == 2 && byte <= 3 {
            nal.push(3);
            zeros = 0;
        }
        zeros = if byte == 0 { zeros + 1 } else { 0 };
        nal.push(byte);
    }
    nal
}

/// Bits written most significant first.
#[derive(Default)]
struct Bits(Vec<bool>);

impl Bits {
    fn put(&mut self, value: u64, n: u32) {
        for i in (0..n).rev() {
            self.0.push((value >> i) & 1 == 1);
        }
    }

    /// Unsigned Exp-Golomb.
    fn ue(&mut self, value: u32) {
        let v = u64::from(value) + 1;
        let len = 64 - v.leading_zeros();
        self.put(0, len - 1);
        self.put(v, len);
    }

    fn bytes(&self) -> Vec<u8> {
        self.0
            .chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |b, (i, &bit)| b | (u8::from(bit) << (7 - i)))
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_peer_cannot_crash_or_bloat_us_and_the_call_goes_on() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (server, _stop) = signaling_server(&[]).await;
    let mut native = Native::start(server, "hostile");
    native.waiting().await;
    let mut hostile = Hostile::answer(server, "hostile").await;
    native
        .wait_for("the native peer connected", 20, |l| {
            l["state"] == "connected"
        })
        .await;
    let baseline = native.rss_kib();
    let peak = Arc::new(Mutex::new(baseline));
    let watch = {
        let peak = Arc::clone(&peak);
        let pid = native.process.0.id();
        tokio::spawn(async move {
            while let Some(kib) = testkit::resident_kib(pid) {
                {
                    let mut peak = peak.lock().unwrap();
                    *peak = (*peak).max(kib);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // Real pictures first, then after each attack: each time they decode again.
    hostile.pictures_decoded(&native, "at the start").await;
    hostile.garbage(2_000).await;
    hostile.pictures_decoded(&native, "after garbage RTP").await;
    hostile.impossible_sps().await;
    let refused = native
        .wait_for("the impossible SPS refused", 10, |l| {
            l["video_in"]["decode_errors"].as_u64() >= Some(1)
        })
        .await;
    assert_eq!(refused["video_in"]["width"], 320, "{refused}");
    hostile
        .pictures_decoded(&native, "after an impossible SPS")
        .await;
    hostile.flood(20_000).await;
    hostile
        .pictures_decoded(&native, "after an RTP flood")
        .await;
    hostile.huge_rtcp().await;
    hostile.pictures_decoded(&native, "after huge RTCP").await;
    assert!(native.alive(), "the native peer died");
    watch.abort();
    let grown_mib = (*peak.lock().unwrap() - baseline) / 1024;
    println!("resident memory: {baseline} KiB before the barrage, grew by at most {grown_mib} MiB");
    assert!(
        grown_mib < 100,
        "resident memory grew by {grown_mib} MiB under the barrage"
    );

    // The hostile peer leaves: the native call ends by itself, with its reason (it
    // never heard real audio from this peer), and exits rather than crashing.
    let _ = hostile.leave.send(());
    hostile.pc.close().await.unwrap();
    let summary = native
        .wait_for("the summary", 30, |l| l.get("summary").is_some())
        .await;
    assert_eq!(summary["summary"]["connected"], true, "{summary}");
    assert_eq!(summary["reason_code"], "no-media", "{summary}");
    let status = native.process.0.wait().unwrap();
    assert!(status.code().is_some(), "the native peer died of {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_app_keeps_drawing_under_a_hostile_peer() {
    let _one = ONE_AT_A_TIME.lock().await;
    let xvfb = Xvfb::start(1280, 800).expect("Xvfb");
    let (server, _stop) = signaling_server(&[]).await;
    let url = format!("ws://{server}/ws");
    let settings = tempfile::tempdir().unwrap();
    let mut window = app_window(
        &xvfb.display,
        settings.path(),
        &[
            "--server",
            &url,
            "--room",
            "hostile-desktop",
            "--video",
            "test",
        ],
    );
    tokio::task::block_in_place(|| window.wait_state("Waiting"));
    let mut hostile = Hostile::answer(server, "hostile-desktop").await;
    tokio::task::block_in_place(|| window.wait_state("Connected"));
    // Frames drawn, sampled every 50 ms from now on: (when, how many so far).
    let frames = Arc::clone(&window.frames);
    let samples = Arc::new(Mutex::new(Vec::<(Instant, u64)>::new()));
    let sampler = {
        let samples = Arc::clone(&samples);
        tokio::spawn(async move {
            loop {
                samples
                    .lock()
                    .unwrap()
                    .push((Instant::now(), frames.load(Ordering::Relaxed)));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    // Its pace undisturbed (the pictures a peer sends, and its own preview), then under
    // the barrage: the same machine, the same moment.
    let calm_start = Instant::now();
    hostile.pictures(60).await;
    let barrage_start = Instant::now();
    hostile.garbage(2_000).await;
    hostile.impossible_sps().await;
    hostile.flood(20_000).await;
    hostile.huge_rtcp().await;
    hostile.pictures(60).await;
    let end = Instant::now();
    sampler.abort();
    assert!(
        window.process.0.try_wait().unwrap().is_none(),
        "the app died under the barrage"
    );
    let samples = samples.lock().unwrap().clone();
    let rate = |from: Instant, to: Instant| {
        let within: Vec<_> = samples
            .iter()
            .filter(|(t, _)| (from..to).contains(t))
            .collect();
        let (first, last) = (within.first().unwrap(), within.last().unwrap());
        (last.1 - first.1) as f64 / (last.0 - first.0).as_secs_f64()
    };
    let (calm, barrage) = (rate(calm_start, barrage_start), rate(barrage_start, end));
    // The longest time under the barrage with no frame drawn.
    let mut longest = Duration::ZERO;
    let mut since = barrage_start;
    let mut count = None;
    for &(at, n) in samples.iter().filter(|(t, _)| *t >= barrage_start) {
        if count != Some(n) {
            (count, since) = (Some(n), at);
        }
        longest = longest.max(at - since);
    }
    println!(
        "frames drawn: {calm:.1}/s calm, {barrage:.1}/s under the barrage; longest still {longest:?}"
    );
    assert!(
        barrage >= calm / 2.0,
        "the window drew {barrage:.1} frames/s under the barrage against {calm:.1}/s before"
    );
    assert!(
        longest < Duration::from_secs(1),
        "the window drew nothing for {longest:?} under the barrage"
    );
}
