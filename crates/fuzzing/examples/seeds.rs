//! Writes the fuzz targets' starting seeds into `fuzz/seeds/<target>/`: real encoded
//! pictures of every codec, the same packetized as RTP, Opus packets, a real offer from
//! our own peer connection, real RTCP and RTX packets, and a signaling script of a
//! whole call. Run it once after changing a target's input format:
//! `cargo run -p fuzzing --example seeds`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use call::peer::{PeerSetup, build_peer, local_track, video_codec};
use fuzzing::records::frame;
use media::codec::{VideoCodec, VideoEncoder};
use media::h264::{Encoded, EncoderSettings};
use media::opus_codec::OpusEncoder;
use media::pattern::PatternGenerator;
use media::tone::ToneGenerator;
use rtc::rtcp::payload_feedbacks::full_intra_request::{FirEntry, FullIntraRequest};
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::receiver_report::ReceiverReport;
use rtc::rtcp::reception_report::ReceptionReport;
use rtc::rtcp::sender_report::SenderReport;
use rtc::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::shared::marshal::Marshal;
use webrtc::media_stream::track_local::TrackLocal;

fn seeds_dir(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    std::fs::create_dir_all(&dir).expect("seed folder");
    dir
}

fn write(target: &str, name: &str, data: &[u8]) {
    std::fs::write(seeds_dir(target).join(name), data).expect("seed written");
}

/// Six pictures of `codec` at 160x120: a keyframe, four more, a keyframe asked for.
fn pictures(codec: VideoCodec) -> Vec<Vec<u8>> {
    let mut encoder =
        VideoEncoder::new(codec, 160, 120, EncoderSettings::new(300_000, 30.0)).unwrap();
    let pattern = PatternGenerator::new(160, 120);
    (0..6)
        .filter_map(|n| {
            if n == 5 {
                encoder.request_keyframe();
            }
            match encoder.encode(&pattern.frame(n, 0)).unwrap() {
                Encoded::Frame(unit) => Some(unit.data),
                Encoded::Skipped { .. } => None,
            }
        })
        .collect()
}

fn video_seeds() {
    for (selector, codec) in VideoCodec::ALL.into_iter().enumerate() {
        let pictures = pictures(codec);
        let mut decoder_input = vec![match codec {
            VideoCodec::H264 => 0,
            VideoCodec::Vp8 => 1,
            VideoCodec::Vp9 => 2,
        }];
        decoder_input.extend(frame(pictures.iter().map(Vec::as_slice)));
        write(
            "decoder",
            &format!("{codec:?}").to_lowercase(),
            &decoder_input,
        );

        let mut payloader = video_codec(codec).payloader().unwrap();
        let mut packets = Vec::new();
        let mut seq = 65_530u16;
        for (n, picture) in pictures.iter().enumerate() {
            let payloads = payloader
                .payload(300, &Bytes::copy_from_slice(picture))
                .unwrap();
            let last = payloads.len() - 1;
            for (i, payload) in payloads.into_iter().enumerate() {
                let flags = selector as u8 | if i == last { 4 } else { 0 } | (1 << 3);
                let mut packet = vec![flags];
                packet.extend_from_slice(&seq.to_be_bytes());
                packet.extend_from_slice(&(3_000 * n as u32).to_be_bytes());
                packet.extend_from_slice(&payload);
                packets.push(packet);
                seq = seq.wrapping_add(1);
            }
        }
        let name = format!("{codec:?}").to_lowercase();
        write("video", &name, &frame(packets.iter().map(Vec::as_slice)));
        // The same with the third packet late and the fifth lost.
        let mut impaired = packets.clone();
        impaired.swap(2, 3);
        impaired.remove(4);
        write(
            "video",
            &format!("{name}-impaired"),
            &frame(impaired.iter().map(Vec::as_slice)),
        );
    }
}

fn opus_seeds() {
    for channels in [1u16, 2] {
        let mut encoder = OpusEncoder::new(channels, 32_000).unwrap();
        encoder.set_expected_loss(20).unwrap();
        let mut tone = ToneGenerator::new();
        let mut records = Vec::new();
        for seq in 0u16..12 {
            let mut mono = tone.next_frame(0);
            if channels == 2 {
                mono.samples = mono.samples.iter().flat_map(|&s| [s, s]).collect();
                mono.channels = 2;
            }
            let packet = encoder.encode(&mono).unwrap();
            // Sequence numbers 7 and 9..=10 lost.
            if seq == 7 || seq == 9 || seq == 10 {
                continue;
            }
            let mut record = seq.wrapping_add(65_530).to_be_bytes().to_vec();
            record.extend_from_slice(&packet);
            records.push(record);
        }
        let mut data = vec![if channels == 2 { 1 } else { 0 }];
        data.extend(frame(records.iter().map(Vec::as_slice)));
        write("opus", &format!("channels-{channels}"), &data);
    }
}

fn rtcp_seeds() {
    let rr = ReceiverReport {
        ssrc: 1,
        reports: vec![ReceptionReport {
            ssrc: 1000,
            fraction_lost: 30,
            total_lost: 12,
            last_sequence_number: 4242,
            jitter: 90,
            ..Default::default()
        }],
        ..Default::default()
    };
    let sr = SenderReport {
        ssrc: 1,
        ntp_time: 1 << 40,
        rtp_time: 90_000,
        packet_count: 10,
        octet_count: 12_000,
        reports: rr.reports.clone(),
        ..Default::default()
    };
    let nack = TransportLayerNack {
        sender_ssrc: 1,
        media_ssrc: 1000,
        nacks: vec![NackPair {
            packet_id: 4240,
            lost_packets: 0b101,
        }],
    };
    let pli = PictureLossIndication {
        sender_ssrc: 1,
        media_ssrc: 1000,
    };
    let fir = FullIntraRequest {
        sender_ssrc: 1,
        media_ssrc: 1000,
        fir: vec![FirEntry {
            ssrc: 1000,
            sequence_number: 3,
        }],
    };
    let packets: Vec<Box<dyn rtc::rtcp::Packet>> = vec![
        Box::new(sr),
        Box::new(rr),
        Box::new(nack),
        Box::new(pli),
        Box::new(fir),
    ];
    let compound = rtc::rtcp::packet::marshal(&packets).unwrap();
    let mut rtcp = vec![1u8];
    rtcp.extend_from_slice(&compound);
    let rtp = |ssrc: u32, payload_type: u8, seq: u16, payload: &[u8]| {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.version = 2;
        packet.header.ssrc = ssrc;
        packet.header.payload_type = payload_type;
        packet.header.sequence_number = seq;
        packet.header.timestamp = 9_000;
        packet.payload = Bytes::copy_from_slice(payload);
        let mut record = vec![0u8];
        record.extend_from_slice(&packet.marshal().unwrap());
        record
    };
    let records = [
        rtcp,
        rtp(1000, 102, 4240, &[0x65, 1, 2, 3]),
        // An RTX repair of 4241: its original sequence number, then the payload.
        rtp(2000, 103, 17, &[0x10, 0x91, 0x65, 4, 5]),
        // RTX padding: no original sequence number.
        rtp(2000, 103, 18, &[]),
    ];
    write(
        "rtcp",
        "reports-and-repairs",
        &frame(records.iter().map(Vec::as_slice)),
    );
}

/// A real offer of ours: audio, video (every codec) and the data channel.
async fn offer() -> String {
    let peer = build_peer(&PeerSetup {
        bind: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    })
    .await
    .unwrap();
    for (kind, ssrc) in [(RtpCodecKind::Audio, 1), (RtpCodecKind::Video, 2)] {
        let track = local_track("fuzz", kind, ssrc, VideoCodec::H264).unwrap();
        peer.pc
            .add_track(Arc::clone(&track) as Arc<dyn TrackLocal>)
            .await
            .unwrap();
    }
    let offer = peer.pc.create_offer(None).await.unwrap();
    peer.pc.close().await.unwrap();
    offer.sdp
}

fn signaling_seed(offer: &str) {
    use signaling_proto::{IceCandidateInit, PeerId, PeerInfo, RoomId, ServerMessage};
    let candidate = IceCandidateInit {
        candidate: "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: None,
    };
    let lines = [
        ServerMessage::Welcome {
            id: PeerId::new("1"),
            room: RoomId::new("fuzz").unwrap(),
            peers: vec![PeerInfo {
                id: PeerId::new("0"),
                name: None,
            }],
            ice_servers: Vec::new(),
            resume: None,
        }
        .to_json(),
        ServerMessage::Offer {
            sdp: offer.into(),
            from: PeerId::new("0"),
            to: None,
        }
        .to_json(),
        ServerMessage::Candidate {
            candidate: Some(candidate),
            from: PeerId::new("0"),
            to: None,
        }
        .to_json(),
        "\x03candidate:2 1 udp 2130706431 127.0.0.1 50001 typ host".into(),
        "\x04".into(),
        "\x00".into(),
        "\x08\x30".into(),
        "\x01".into(),
        "\x08\x30".into(),
        ServerMessage::PeerLeft {
            id: PeerId::new("0"),
        }
        .to_json(),
    ];
    write("signaling", "a-whole-call", lines.join("\n").as_bytes());
}

#[tokio::main]
async fn main() {
    video_seeds();
    opus_seeds();
    rtcp_seeds();
    let offer = offer().await;
    write("sdp", "our-offer", offer.as_bytes());
    signaling_seed(&offer);
    println!("seeds written under fuzz/seeds/");
}
