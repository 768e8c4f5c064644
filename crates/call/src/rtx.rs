//! Early RTX unwrapping on the receive side.
//!
//! webrtc 0.21 turns an RTX retransmission (RFC 4588) back into the original packet
//! only after the interceptor chain, so the receiver reports would count repaired
//! packets as lost. [`RtxUnwrap`], placed nearest the wire, rewrites RTX packets into
//! the originals (primary SSRC, original sequence number and payload type) before any
//! other interceptor sees them; the stack then finds nothing left to unwrap.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use rtc::interceptor::{Interceptor, Packet, StreamInfo, TaggedPacket};
use rtc::sansio::Protocol;

/// Where an RTX stream's packets belong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Primary {
    ssrc: u32,
    payload_type: u8,
    rtx_payload_type: u8,
}

/// Rewrites inbound RTX packets into the packets they repair. Put it first (nearest
/// the wire).
#[derive(Default)]
pub struct RtxUnwrap {
    streams: HashMap<u32, Primary>,
    read: VecDeque<TaggedPacket>,
    write: VecDeque<TaggedPacket>,
}

/// Turns `packet`, an RTX packet for `primary`, into the original; `false` for an RTX
/// packet without an original sequence number (padding), which should be dropped.
fn unwrap_rtx(packet: &mut rtc::rtp::Packet, primary: Primary) -> bool {
    if packet.payload.len() < 2 {
        return false;
    }
    let osn = u16::from_be_bytes([packet.payload[0], packet.payload[1]]);
    packet.payload = packet.payload.slice(2..);
    packet.header.ssrc = primary.ssrc;
    packet.header.sequence_number = osn;
    packet.header.payload_type = primary.payload_type;
    packet.header.padding = false;
    true
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for RtxUnwrap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut msg: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtp(packet) = &mut msg.message.packet
            && let Some(&primary) = self.streams.get(&packet.header.ssrc)
            && packet.header.payload_type == primary.rtx_payload_type
            && !unwrap_rtx(packet, primary)
        {
            return Ok(());
        }
        self.read.push_back(msg);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<Self::Rout> {
        self.read.pop_front()
    }

    fn handle_write(&mut self, msg: TaggedPacket) -> Result<(), Self::Error> {
        self.write.push_back(msg);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<Self::Wout> {
        self.write.pop_front()
    }
}

impl Interceptor for RtxUnwrap {
    fn bind_local_stream(&mut self, _info: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _info: &StreamInfo) {}

    fn bind_remote_stream(&mut self, info: &StreamInfo) {
        if let (Some(ssrc), Some(rtx_payload_type)) = (info.ssrc_rtx, info.payload_type_rtx) {
            self.streams.insert(
                ssrc,
                Primary {
                    ssrc: info.ssrc,
                    payload_type: info.payload_type,
                    rtx_payload_type,
                },
            );
        }
    }

    fn unbind_remote_stream(&mut self, info: &StreamInfo) {
        if let Some(ssrc) = info.ssrc_rtx {
            self.streams.remove(&ssrc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(ssrc: u32, seq: u16, payload_type: u8, payload: &[u8]) -> TaggedPacket {
        let mut packet = rtc::rtp::Packet::default();
        packet.header.ssrc = ssrc;
        packet.header.sequence_number = seq;
        packet.header.payload_type = payload_type;
        packet.payload = bytes::Bytes::copy_from_slice(payload);
        TaggedPacket {
            now: Instant::now(),
            transport: Default::default(),
            message: Packet::Rtp(packet).into(),
        }
    }

    fn read(unwrap: &mut RtxUnwrap, msg: TaggedPacket) -> Option<rtc::rtp::Packet> {
        unwrap.handle_read(msg).expect("read");
        match unwrap.poll_read()?.message.packet {
            Packet::Rtp(p) => Some(p),
            _ => None,
        }
    }

    #[test]
    fn rtx_packets_become_the_packets_they_repair_and_others_pass() {
        let mut unwrap = RtxUnwrap::default();
        unwrap.bind_remote_stream(&StreamInfo {
            ssrc: 1000,
            ssrc_rtx: Some(2000),
            payload_type: 102,
            payload_type_rtx: Some(103),
            ..Default::default()
        });
        let repaired = read(&mut unwrap, rtp(2000, 7, 103, &[0x12, 0x34, 0xAA, 0xBB])).unwrap();
        assert_eq!(repaired.header.ssrc, 1000);
        assert_eq!(repaired.header.sequence_number, 0x1234);
        assert_eq!(repaired.header.payload_type, 102);
        assert_eq!(&repaired.payload[..], &[0xAA, 0xBB]);

        let media = read(&mut unwrap, rtp(1000, 5, 102, &[1, 2, 3])).unwrap();
        assert_eq!(
            (media.header.sequence_number, &media.payload[..]),
            (5, &[1, 2, 3][..])
        );
        // Padding-only RTX (a bandwidth probe) has nothing to repair.
        assert!(read(&mut unwrap, rtp(2000, 8, 103, &[])).is_none());

        unwrap.unbind_remote_stream(&StreamInfo {
            ssrc: 1000,
            ssrc_rtx: Some(2000),
            ..Default::default()
        });
        let untouched = read(&mut unwrap, rtp(2000, 9, 103, &[0, 1, 2])).unwrap();
        assert_eq!(untouched.header.ssrc, 2000);
    }
}
