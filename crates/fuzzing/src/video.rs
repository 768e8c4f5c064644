//! RTP packets of a video stream through the whole receive path, as
//! `call::video::receive_video` runs it: each packet's payload type picks its codec (one
//! not negotiated is dropped), packets become pictures in a [`FrameAssembler`] of that
//! codec (rtc-rtp's H.264, VP8 and VP9 depacketizers inside), pictures after a loss are
//! skipped until a keyframe, and the rest are decoded.
//!
//! Input: records (see [`crate::records`]), each one packet: a first byte (low 2 bits:
//! payload type H.264, VP8, VP9 or one not negotiated; bit 2: marker; the high 5 bits:
//! milliseconds passed since the packet before), the sequence number (2 bytes, big
//! endian), the RTP timestamp (4 bytes), then the payload.

use bytes::Bytes;
use call::jitter::{Assembled, AssemblerConfig, FrameAssembler, RtpIn};
use media::codec::{VideoCodec, VideoDecoder};

use crate::records::records;

/// What packets of one codec go through.
struct Stream {
    assembler: FrameAssembler,
    decoder: VideoDecoder,
    need_keyframe: bool,
}

impl Stream {
    fn new(codec: VideoCodec) -> Self {
        Self {
            assembler: FrameAssembler::new(codec, AssemblerConfig::default()),
            decoder: VideoDecoder::new(codec).expect("a decoder"),
            need_keyframe: true,
        }
    }

    fn drain(&mut self, now_us: u64) {
        while let Some(out) = self.assembler.pop(now_us) {
            match out {
                Assembled::Frame { data, keyframe, .. } => {
                    if self.need_keyframe && !keyframe {
                        continue;
                    }
                    self.need_keyframe = false;
                    match self.decoder.decode(&data, 0) {
                        Ok(Some(frame)) => {
                            let limit = self.decoder.limit();
                            assert!(limit.allows(frame.width(), frame.height()));
                        }
                        Ok(None) => {}
                        Err(_) => self.need_keyframe = true,
                    }
                }
                Assembled::Lost => self.need_keyframe = true,
            }
        }
        let _ = self.assembler.overdue(now_us, 20_000);
        let _ = self.assembler.next_ask_us(20_000);
        let _ = self.assembler.stalled(now_us);
    }
}

/// Receives the packets in `data`, then lets time run out on whatever waits.
pub fn run(data: &[u8]) {
    let mut now_us = 0;
    let mut stream: Option<Stream> = None;
    for record in records(data) {
        let Some((header, payload)) = record.split_first_chunk::<7>() else {
            continue;
        };
        now_us += u64::from(header[0] >> 3) * 1_000;
        let codec = match header[0] & 3 {
            0 => VideoCodec::H264,
            1 => VideoCodec::Vp8,
            2 => VideoCodec::Vp9,
            _ => continue,
        };
        let stream = match &mut stream {
            Some(s) if s.assembler.codec() == codec => s,
            other => other.insert(Stream::new(codec)),
        };
        stream.assembler.push(
            now_us,
            RtpIn {
                seq: u16::from_be_bytes([header[1], header[2]]),
                timestamp: u32::from_be_bytes([header[3], header[4], header[5], header[6]]),
                marker: header[0] & 4 != 0,
                payload: Bytes::copy_from_slice(payload),
            },
        );
        stream.drain(now_us);
    }
    if let Some(stream) = &mut stream {
        let end = now_us + call::jitter::MAX_HOLE_WAIT_US + 1;
        stream.drain(end);
        assert_eq!(
            stream.assembler.next_event_us(end),
            None,
            "nothing waits any more"
        );
    }
}
