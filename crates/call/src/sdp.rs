//! What a remote session description offers, read from its text: whether we can
//! decode what it will send, so a call with nothing in common fails with a reason
//! instead of a black screen.

/// One media section (`m=` line): its kind, codec names, and whether the remote sends
/// on it (not disabled with port 0, not `recvonly`/`inactive`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    kind: String,
    codecs: Vec<String>,
    sends: bool,
}

fn sections(sdp: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            let mut fields = m.split_whitespace();
            let kind = fields.next().unwrap_or_default().to_owned();
            let port = fields.next().unwrap_or("0");
            out.push(Section {
                kind,
                codecs: Vec::new(),
                sends: port != "0",
            });
            continue;
        }
        let Some(section) = out.last_mut() else {
            continue;
        };
        if let Some(map) = line.strip_prefix("a=rtpmap:") {
            if let Some(name) = map.split_whitespace().nth(1) {
                let codec = name.split('/').next().unwrap_or_default().to_owned();
                if !section.codecs.contains(&codec) {
                    section.codecs.push(codec);
                }
            }
        } else if line == "a=recvonly" || line == "a=inactive" {
            section.sends = false;
        }
    }
    out
}

/// A media section of the other peer's description with no codec we decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the other peer offered no {media} codec we can decode (it offered {}; peercall needs {needed})",
    if offered.is_empty() { "none".to_owned() } else { offered.join(", ") }
)]
pub struct Undecodable {
    /// `video` or `audio`.
    pub media: &'static str,
    /// The codecs it offered (repair and comfort-noise formats left out).
    pub offered: Vec<String>,
    /// The codec we need for it.
    pub needed: &'static str,
}

/// Checks that every video and audio section the remote will send has a codec we
/// decode (H.264 for video, Opus for audio). The error says what was offered instead.
pub fn check_decodable(sdp: &str) -> Result<(), Undecodable> {
    for section in sections(sdp).iter().filter(|s| s.sends) {
        let (wanted, label) = match section.kind.as_str() {
            "video" => ("H264", "video"),
            "audio" => ("opus", "audio"),
            _ => continue,
        };
        let offered = |c: &String| c.eq_ignore_ascii_case(wanted);
        let media: Vec<&String> = section
            .codecs
            .iter()
            .filter(|c| {
                ![
                    "rtx",
                    "red",
                    "ulpfec",
                    "flexfec-03",
                    "telephone-event",
                    "CN",
                ]
                .contains(&c.as_str())
            })
            .collect();
        if !section.codecs.iter().any(offered) {
            return Err(Undecodable {
                media: label,
                offered: media.into_iter().cloned().collect(),
                needed: wanted,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_LIKE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 126\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:126 telephone-event/8000\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=rtpmap:102 H264/90000\r\n";

    #[test]
    fn an_offer_with_h264_and_opus_is_decodable() {
        assert_eq!(check_decodable(CHROME_LIKE), Ok(()));
    }

    #[test]
    fn an_offer_with_only_vp8_video_is_refused_with_what_it_offered() {
        let sdp = CHROME_LIKE.replace("a=rtpmap:102 H264/90000\r\n", "a=rtpmap:98 VP9/90000\r\n");
        let err = check_decodable(&sdp).unwrap_err();
        assert_eq!((err.media, err.needed), ("video", "H264"));
        assert_eq!(err.offered, ["VP8", "VP9"]);
        let text = err.to_string();
        assert!(
            text.contains("no video codec") && text.contains("VP8, VP9"),
            "{text}"
        );
    }

    #[test]
    fn an_offer_without_opus_is_refused() {
        let sdp = CHROME_LIKE.replace("opus/48000/2", "PCMU/8000");
        let err = check_decodable(&sdp).unwrap_err();
        assert_eq!(
            (err.media, err.offered.as_slice()),
            ("audio", ["PCMU".to_owned()].as_slice())
        );
    }

    #[test]
    fn disabled_or_receive_only_sections_need_no_codec_of_ours() {
        let vp8_only = CHROME_LIKE.replace("a=rtpmap:102 H264/90000\r\n", "");
        let disabled = vp8_only.replace("m=video 9", "m=video 0");
        assert_eq!(check_decodable(&disabled), Ok(()));
        let recvonly = format!("{vp8_only}a=recvonly\r\n");
        assert_eq!(check_decodable(&recvonly), Ok(()));
    }

    #[test]
    fn garbage_is_not_a_panic() {
        for sdp in [
            "",
            "m=",
            "m=video",
            "a=rtpmap:",
            "a=rtpmap:1\nm=video 9\na=rtpmap:",
        ] {
            let _ = check_decodable(sdp);
        }
    }
}
