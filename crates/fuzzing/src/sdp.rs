//! A remote session description through what we read of it ([`call::sdp`]): the codec
//! check, the session id, the video codecs and payload types. Nothing panics, and the
//! payload types agree with the codec list.

use call::sdp::{check_decodable, session_id, video_codecs, video_payload_types};

/// Reads `data` as a session description.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = check_decodable(&text);
    let _ = session_id(&text);
    let codecs = video_codecs(&text);
    let payload_types = video_payload_types(&text);
    for codec in codecs {
        assert!(
            payload_types.iter().any(|&(_, c)| c == codec),
            "{codec} listed without a payload type"
        );
    }
}
