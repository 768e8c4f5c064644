//! Opus packets through the audio receive path ([`OpusPlayout`]): gaps in the sequence
//! numbers filled from FEC data or concealed, late packets dropped, every packet
//! decoded (up to 120 ms of it) or refused; every frame played is 20 ms of the stream's
//! channels.
//!
//! Input: a first byte (odd: stereo), then records (see [`crate::records`]), each a
//! sequence number (2 bytes, big endian) and the packet.

use call::audio::OpusPlayout;

use crate::records::records;

/// Samples in 20 ms at 48 kHz, a channel.
const FRAME_SAMPLES: usize = 960;

/// Plays the packets in `data`.
pub fn run(data: &[u8]) {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let channels = 1 + u16::from(selector & 1);
    let mut playout = OpusPlayout::new(channels).expect("a decoder");
    for record in records(data) {
        let Some((seq, packet)) = record.split_first_chunk::<2>() else {
            continue;
        };
        playout.receive(u16::from_be_bytes(*seq), packet, |frame| {
            assert_eq!(frame.channels, channels);
            assert_eq!(frame.samples.len(), FRAME_SAMPLES * usize::from(channels));
        });
    }
}
