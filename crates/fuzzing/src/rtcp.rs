//! Packets off the wire into the interceptors of ours that read them first:
//! [`RtxUnwrap`] (RTX repairs turned back into the packets they repair) and [`RtcpTap`]
//! (receiver reports, NACKs, keyframe requests), after rtc's RTP and RTCP parsers.
//! Nothing panics; an unwrapped RTX packet carries its stream's SSRC and payload type,
//! and only keyframe requests pass the tap.
//!
//! Input: records (see [`crate::records`]); a record's first byte says which parser
//! it goes to (even: RTP, odd: RTCP), the rest is the packet.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use call::feedback::{Feedback, RtcpTap};
use call::keyframe::is_keyframe_request;
use call::rtx::RtxUnwrap;
use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;
use rtc::shared::marshal::Unmarshal;

use crate::records::records;

/// The stream whose RTX repairs are unwrapped.
const MEDIA_SSRC: u32 = 1000;
const MEDIA_PT: u8 = 102;
const RTX_SSRC: u32 = 2000;
const RTX_PT: u8 = 103;

fn tagged(packet: Packet) -> TaggedPacket {
    TaggedPacket {
        now: Instant::now(),
        transport: Default::default(),
        message: packet.into(),
    }
}

/// Reads every packet in `data`.
pub fn run(data: &[u8]) {
    let mut unwrap = RtxUnwrap::default();
    unwrap.bind_remote_stream(&StreamInfo {
        ssrc: MEDIA_SSRC,
        ssrc_rtx: Some(RTX_SSRC),
        payload_type: MEDIA_PT,
        payload_type_rtx: Some(RTX_PT),
        ..Default::default()
    });
    let mut tap = RtcpTap::new(Arc::new(Feedback::default()));
    for record in records(data) {
        let Some((&kind, packet)) = record.split_first() else {
            continue;
        };
        let mut bytes = Bytes::copy_from_slice(packet);
        if kind % 2 == 0 {
            let Ok(packet) = rtc::rtp::Packet::unmarshal(&mut bytes) else {
                continue;
            };
            let was_rtx = packet.header.ssrc == RTX_SSRC && packet.header.payload_type == RTX_PT;
            unwrap
                .handle_read(tagged(Packet::Rtp(packet)))
                .expect("read");
            while let Some(out) = unwrap.poll_read() {
                let Packet::Rtp(p) = out.message.packet else {
                    panic!("RTP in, something else out")
                };
                if was_rtx {
                    assert_eq!(
                        (p.header.ssrc, p.header.payload_type),
                        (MEDIA_SSRC, MEDIA_PT)
                    );
                }
            }
        } else {
            let Ok(packets) = rtc::rtcp::packet::unmarshal(&mut bytes) else {
                continue;
            };
            tap.handle_read(tagged(Packet::Rtcp(packets)))
                .expect("read");
            while let Some(out) = tap.poll_read() {
                let Packet::Rtcp(passed) = out.message.packet else {
                    panic!("RTCP in, something else out")
                };
                assert!(passed.iter().all(|p| is_keyframe_request(p.as_ref())));
            }
        }
    }
}
