//! TURN messages on a byte stream (RFC 5766 §11.5, RFC 6062): each datagram from the
//! stack goes onto the stream as one self-delimiting message, and the stream is split
//! back into messages for the stack.
//!
//! A STUN message is its 20-byte header plus the length in bytes 2..4 (always a multiple
//! of 4). A ChannelData message (first two bits `01`) is its 4-byte header plus the
//! length in bytes 2..4, padded to a multiple of 4 on a stream. Splitting is
//! `rtc::shared::turn_framing::TurnStreamDecoder`'s; messages come out with their
//! padding, which the stack's ChannelData parser accepts (it reads the length and
//! ignores what follows).

use std::borrow::Cow;

use rtc::shared::turn_framing::TurnStreamDecoder;

/// A STUN header: type, length, magic cookie, transaction id.
const STUN_HEADER_LEN: usize = 20;
/// A ChannelData header: channel number, length.
const CHANNEL_DATA_HEADER_LEN: usize = 4;

/// The stream held something that is not TURN; a stream cannot resynchronise after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the TURN stream carried something that is not TURN: {0}")]
pub struct NotTurn(String);

/// Splits what is read from the stream into whole messages.
#[derive(Debug, Default)]
pub struct StreamSplitter {
    decoder: TurnStreamDecoder,
}

impl StreamSplitter {
    /// Takes bytes as read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.decoder.extend_from_slice(bytes);
    }

    /// The next whole message (ChannelData with its padding), `Ok(None)` while it is
    /// still arriving.
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, NotTurn> {
        self.decoder
            .next_message()
            .map_err(|err| NotTurn(err.to_string()))
    }

    /// Bytes held that do not make a whole message yet.
    pub fn buffered(&self) -> usize {
        self.decoder.buffered_len()
    }
}

/// A datagram from the stack as it goes onto the stream: a STUN message as it is (cut to
/// its stated length), ChannelData padded to a multiple of 4. `None` for a datagram that
/// is not a whole STUN or ChannelData message: written, it would break the stream.
pub fn for_stream(datagram: &[u8]) -> Option<Cow<'_, [u8]>> {
    if datagram.len() < CHANNEL_DATA_HEADER_LEN {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    match datagram[0] >> 6 {
        0b00 => {
            let total = STUN_HEADER_LEN + length;
            (datagram.len() >= total && length % 4 == 0).then(|| Cow::Borrowed(&datagram[..total]))
        }
        0b01 => {
            let unpadded = CHANNEL_DATA_HEADER_LEN + length;
            let padded = CHANNEL_DATA_HEADER_LEN + length.next_multiple_of(4);
            if datagram.len() >= padded {
                Some(Cow::Borrowed(&datagram[..padded]))
            } else if datagram.len() >= unpadded {
                let mut message = datagram[..unpadded].to_vec();
                message.resize(padded, 0);
                Some(Cow::Owned(message))
            } else {
                None
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A STUN Binding request with `length` bytes of (zero) attributes.
    fn stun(length: u16) -> Vec<u8> {
        let mut message = vec![0x00, 0x01];
        message.extend_from_slice(&length.to_be_bytes());
        message.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
        message.extend_from_slice(&[9; 12]);
        message.resize(20 + usize::from(length), 0);
        message
    }

    /// ChannelData on 0x4001 carrying `data`, unpadded.
    fn channel_data(data: &[u8]) -> Vec<u8> {
        let mut message = vec![0x40, 0x01];
        message.extend_from_slice(&(data.len() as u16).to_be_bytes());
        message.extend_from_slice(data);
        message
    }

    fn padded(mut message: Vec<u8>) -> Vec<u8> {
        while message.len() % 4 != 0 {
            message.push(0);
        }
        message
    }

    fn drain(splitter: &mut StreamSplitter) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(message) = splitter.next_message().expect("TURN") {
            out.push(message);
        }
        out
    }

    #[test]
    fn channel_data_is_padded_to_four_on_the_stream_and_stun_goes_as_is() {
        for n in 0..9 {
            let data = vec![7u8; n];
            let unpadded = channel_data(&data);
            let out = for_stream(&unpadded).expect("ChannelData");
            assert_eq!(out.len() % 4, 0, "{n} bytes");
            assert_eq!(out.as_ref(), padded(channel_data(&data)).as_slice());
            // Already padded (as the stack sends it): unchanged.
            let again = padded(channel_data(&data));
            assert_eq!(
                for_stream(&again).expect("padded").as_ref(),
                again.as_slice()
            );
        }
        let message = stun(8);
        assert_eq!(
            for_stream(&message).expect("STUN").as_ref(),
            message.as_slice()
        );
    }

    #[test]
    fn what_would_break_the_stream_is_not_written() {
        assert_eq!(for_stream(&[0x40, 0x01]), None, "short header");
        assert_eq!(
            for_stream(&channel_data(b"abc")[..5]),
            None,
            "cut ChannelData"
        );
        assert_eq!(for_stream(&stun(8)[..24]), None, "cut STUN");
        assert_eq!(
            for_stream(&[0x80, 0, 0, 0, 1, 2, 3, 4]),
            None,
            "RTP, not TURN"
        );
        let mut odd = stun(0);
        odd[3] = 3;
        odd.extend_from_slice(&[0, 0, 0]);
        assert_eq!(for_stream(&odd), None, "STUN length not a multiple of 4");
        // Trailing bytes past the stated length are dropped.
        let mut long = stun(4);
        long.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(for_stream(&long).expect("STUN").len(), 24);
    }

    #[test]
    fn several_messages_in_one_read_come_out_one_by_one() {
        let (a, b, c) = (stun(4), padded(channel_data(b"xyz")), stun(0));
        let mut splitter = StreamSplitter::default();
        splitter.push(&[a.clone(), b.clone(), c.clone()].concat());
        assert_eq!(drain(&mut splitter), [a, b, c]);
        assert_eq!(splitter.buffered(), 0);
    }

    #[test]
    fn a_message_cut_across_reads_comes_out_when_whole() {
        let stream = [
            padded(channel_data(b"hello")),
            stun(12),
            padded(channel_data(b"")),
        ]
        .concat();
        // Every way of cutting the stream in two, and byte by byte.
        for cut in 0..=stream.len() {
            let mut splitter = StreamSplitter::default();
            splitter.push(&stream[..cut]);
            let mut out = drain(&mut splitter);
            splitter.push(&stream[cut..]);
            out.extend(drain(&mut splitter));
            assert_eq!(out.concat(), stream, "cut at {cut}");
            assert_eq!(out.len(), 3, "cut at {cut}");
        }
        let mut splitter = StreamSplitter::default();
        let mut out = Vec::new();
        for byte in &stream {
            splitter.push(std::slice::from_ref(byte));
            out.extend(drain(&mut splitter));
        }
        assert_eq!(out.len(), 3);
        assert_eq!(splitter.buffered(), 0);
    }

    #[test]
    fn channel_data_padding_is_part_of_the_message_read() {
        let mut splitter = StreamSplitter::default();
        let message = padded(channel_data(b"a"));
        splitter.push(&message[..5]);
        assert_eq!(splitter.next_message(), Ok(None), "padding still to come");
        splitter.push(&message[5..]);
        assert_eq!(splitter.next_message(), Ok(Some(message)));
    }

    #[test]
    fn bytes_that_are_not_turn_end_the_stream() {
        let mut splitter = StreamSplitter::default();
        splitter.push(&[0x80, 0x60, 0x00, 0x01]);
        assert!(splitter.next_message().is_err());
    }
}
