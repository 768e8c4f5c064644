//! What a remote session description offers, read through rtc's SDP parser
//! (`rtc::sdp`): whether we can decode what it will send, so a call with nothing in
//! common fails with a reason instead of a black screen; which of our video codecs a
//! description lists, in its order, and under which payload types; and which session it
//! belongs to, so a new offer mid-call can be told apart as a renegotiation of the same
//! connection (same `o=` session id, RFC 8866 §5.2; JSEP keeps it for the life of a
//! peer connection) or a fresh connection.
//!
//! A section sends unless it is disabled (port 0 without `a=bundle-only`) or its
//! direction is `recvonly` or `inactive`. Its direction is its own `a=` direction
//! attribute if it has one, else the session-level one, else `sendrecv` (RFC 8866
//! §6.7). A description the parser refuses is not judged here: the WebRTC stack
//! refuses it with its own error.

use std::collections::HashMap;
use std::io::Cursor;

use media::codec::VideoCodec;

use rtc::sdp::description::common::Attribute;
use rtc::sdp::description::media::MediaDescription;
use rtc::sdp::description::session::SessionDescription;

/// The direction attributes (RFC 8866 §6.7).
const DIRECTIONS: [&str; 4] = ["sendrecv", "sendonly", "recvonly", "inactive"];

/// Static RTP payload types a section may list without `a=rtpmap` (RFC 3551).
const STATIC_TYPES: [(&str, &str); 4] = [("0", "PCMU"), ("8", "PCMA"), ("9", "G722"), ("13", "CN")];

/// The last direction attribute among `attributes`, if any.
fn direction(attributes: &[Attribute]) -> Option<&str> {
    attributes
        .iter()
        .rev()
        .map(|a| a.key.as_str())
        .find(|key| DIRECTIONS.contains(key))
}

/// Whether the remote sends on `media`, given the session-level direction.
fn sends(media: &MediaDescription, session_direction: Option<&str>) -> bool {
    let disabled = media.media_name.port.value == 0 && !media.has_attribute("bundle-only");
    let direction = direction(&media.attributes)
        .or(session_direction)
        .unwrap_or("sendrecv");
    !disabled && matches!(direction, "sendrecv" | "sendonly")
}

/// The codec names `media` offers, in its `a=rtpmap` order, then static payload types
/// listed without one; each name once.
fn codec_names(media: &MediaDescription) -> Vec<String> {
    let codecs = media.codecs();
    let mapped: HashMap<String, String> = codecs
        .values()
        .filter(|c| !c.name.is_empty())
        .map(|c| (c.payload_type.to_string(), c.name.clone()))
        .collect();
    let rtpmaps = media
        .attributes
        .iter()
        .filter(|a| a.key == "rtpmap")
        .filter_map(|a| a.value.as_deref()?.split_whitespace().next())
        .filter_map(|pt| mapped.get(pt).map(String::as_str));
    let statics = media
        .media_name
        .formats
        .iter()
        .filter(|pt| !mapped.contains_key(pt.as_str()))
        .filter_map(|pt| STATIC_TYPES.iter().find(|(t, _)| t == pt).map(|(_, n)| *n));
    let mut names: Vec<String> = Vec::new();
    for name in rtpmaps.chain(statics) {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
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

/// What we decode in a video section, as a list for people.
const VIDEO_NEEDED: &str = "H264, VP8 or VP9";

/// Checks that every video and audio section the remote will send has a codec we
/// decode (H.264, VP8 or VP9 for video, Opus for audio). The error says what was
/// offered instead. A description the SDP parser refuses passes (the WebRTC stack
/// refuses it next, with its own error); nothing here panics.
pub fn check_decodable(sdp: &str) -> Result<(), Undecodable> {
    let Some(description) = parse(sdp) else {
        return Ok(());
    };
    let session_direction = direction(&description.attributes);
    for media in &description.media_descriptions {
        if !sends(media, session_direction) {
            continue;
        }
        let codecs = codec_names(media);
        let (decodable, wanted, label) = match media.media_name.media.as_str() {
            "video" => (
                codecs
                    .iter()
                    .any(|c| VideoCodec::from_sdp_name(c).is_some()),
                VIDEO_NEEDED,
                "video",
            ),
            "audio" => (
                codecs.iter().any(|c| c.eq_ignore_ascii_case("opus")),
                "opus",
                "audio",
            ),
            _ => continue,
        };
        if !decodable {
            return Err(Undecodable {
                media: label,
                offered: codecs
                    .into_iter()
                    .filter(|c| !NOT_MEDIA.iter().any(|n| c.eq_ignore_ascii_case(n)))
                    .collect(),
                needed: wanted,
            });
        }
    }
    Ok(())
}

/// The `o=` line's session id, if the description parses.
pub fn session_id(sdp: &str) -> Option<u64> {
    parse(sdp).map(|description| description.origin.session_id)
}

fn parse(sdp: &str) -> Option<SessionDescription> {
    SessionDescription::unmarshal(&mut Cursor::new(sdp.as_bytes())).ok()
}

/// The video codecs of ours that the first enabled video section of `sdp` lists, in its
/// order: in an answer, the first is the one both sides send.
pub fn video_codecs(sdp: &str) -> Vec<VideoCodec> {
    let Some(description) = parse(sdp) else {
        return Vec::new();
    };
    description
        .media_descriptions
        .iter()
        .find(|m| m.media_name.media == "video" && m.media_name.port.value != 0)
        .map(|m| {
            codec_names(m)
                .iter()
                .filter_map(|name| VideoCodec::from_sdp_name(name))
                .collect()
        })
        .unwrap_or_default()
}

/// Which of our video codecs each payload type of `sdp`'s video sections maps to.
pub fn video_payload_types(sdp: &str) -> Vec<(u8, VideoCodec)> {
    let Some(description) = parse(sdp) else {
        return Vec::new();
    };
    description
        .media_descriptions
        .iter()
        .filter(|m| m.media_name.media == "video")
        .flat_map(|m| m.codecs().into_values())
        .filter_map(|c| Some((c.payload_type, VideoCodec::from_sdp_name(&c.name)?)))
        .collect()
}

/// The stream id our screen share's track carries (`a=msid:screen …`).
pub const SCREEN_STREAM_ID: &str = "screen";

/// The screen-share sections of `sdp`: every video section after the first (the
/// camera's), or one whose `a=msid` names the [`SCREEN_STREAM_ID`] stream. For each:
/// the `a=msid` track id (if any) and whether its writer sends on it.
pub fn screen_sections(sdp: &str) -> Vec<(Option<String>, bool)> {
    let Some(description) = parse(sdp) else {
        return Vec::new();
    };
    let session_direction = direction(&description.attributes);
    description
        .media_descriptions
        .iter()
        .filter(|m| m.media_name.media == "video")
        .enumerate()
        .filter_map(|(i, m)| {
            let msid = m
                .attributes
                .iter()
                .find(|a| a.key == "msid")
                .and_then(|a| a.value.clone());
            let (stream, track) = match msid.as_deref().map(|v| v.split_once(' ')) {
                Some(Some((stream, track))) => (Some(stream.to_owned()), Some(track.to_owned())),
                _ => (None, None),
            };
            (i > 0 || stream.as_deref() == Some(SCREEN_STREAM_ID))
                .then(|| (track, sends(m, session_direction)))
        })
        .collect()
}

/// Whether the writer of `sdp` shares its screen in it (sends on a screen section).
pub fn shares_screen(sdp: &str) -> bool {
    screen_sections(sdp).iter().any(|&(_, sends)| sends)
}

/// Whether an answer to our offer makes us the DTLS server for the connection's life:
/// the other side took the client's role (`a=setup:active`).
pub fn makes_us_passive(answer: &str) -> bool {
    answer
        .lines()
        .any(|line| line.trim_end() == "a=setup:active")
}

/// Whether our own answer makes us the DTLS server (`a=setup:passive`).
pub fn answers_passive(answer: &str) -> bool {
    answer
        .lines()
        .any(|line| line.trim_end() == "a=setup:passive")
}

/// Our answer to a renegotiating offer, with the DTLS role this connection already has
/// (`passive`: we are its server).
///
/// webrtc 0.21 answers every offer with the one role it is set to answer with, but a
/// connection keeps the role it took the first time (RFC 8842 §5.5), and a browser
/// refuses an answer that says otherwise ("Failed to set SSL role").
pub fn keep_dtls_role(answer: &str, passive: bool) -> String {
    if passive {
        answer.replace("a=setup:active", "a=setup:passive")
    } else {
        answer.replace("a=setup:passive", "a=setup:active")
    }
}

/// Repair and comfort-noise formats: not what a section is decoded with.
const NOT_MEDIA: [&str; 6] = [
    "rtx",
    "red",
    "ulpfec",
    "flexfec-03",
    "telephone-event",
    "CN",
];

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_LIKE: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 126\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:126 telephone-event/8000\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=rtpmap:102 H264/90000\r\n";

    #[test]
    fn a_second_video_section_is_a_screen_share_and_says_whether_it_sends() {
        let camera_only = format!("{CHROME_LIKE}a=msid:s1 cam1\r\n");
        assert_eq!(screen_sections(&camera_only), []);
        assert!(!shares_screen(&camera_only));
        let sharing = format!(
            "{camera_only}m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n\
             a=sendonly\r\na=msid:2f3a desktop1\r\n"
        );
        assert_eq!(screen_sections(&sharing), [(Some("desktop1".into()), true)]);
        assert!(shares_screen(&sharing));
        let stopped = sharing.replace("a=sendonly", "a=inactive");
        assert_eq!(
            screen_sections(&stopped),
            [(Some("desktop1".into()), false)]
        );
        assert!(!shares_screen(&stopped));
        // Ours is told by its stream id even alone (a peer sending no camera).
        let ours = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\na=msid:screen video-1\r\n";
        assert!(shares_screen(ours));
    }

    #[test]
    fn a_renegotiation_answer_keeps_the_dtls_role_the_connection_has() {
        let answer = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 102\r\na=setup:active\r\n";
        // They answered our first offer as the DTLS client: we stay the server.
        assert!(makes_us_passive(answer));
        assert!(!makes_us_passive(&answer.replace("active", "passive")));
        assert!(keep_dtls_role(answer, true).contains("a=setup:passive"));
        assert_eq!(keep_dtls_role(answer, false), answer);
        // We answered their first offer passive: a later answer of ours stays passive;
        // the client's role stays the client's.
        let ours = answer.replace("active", "passive");
        assert!(answers_passive(&ours) && !answers_passive(answer));
        assert_eq!(keep_dtls_role(&ours, true), ours);
        assert_eq!(keep_dtls_role(&ours, false), answer);
    }

    #[test]
    fn the_session_id_is_read_from_the_origin_line() {
        assert_eq!(session_id(CHROME_LIKE), Some(1));
        let renegotiated = CHROME_LIKE.replace("o=- 1 2", "o=- 1 3");
        assert_eq!(session_id(&renegotiated), Some(1));
        assert_eq!(session_id("not sdp"), None);
    }

    #[test]
    fn an_offer_with_h264_and_opus_is_decodable() {
        assert_eq!(check_decodable(CHROME_LIKE), Ok(()));
    }

    #[test]
    fn an_offer_with_only_vp8_or_vp9_video_is_decodable() {
        let vp8_only = CHROME_LIKE.replace("a=rtpmap:102 H264/90000\r\n", "");
        assert_eq!(check_decodable(&vp8_only), Ok(()));
        let vp9_only = vp8_only.replace("VP8", "VP9");
        assert_eq!(check_decodable(&vp9_only), Ok(()));
    }

    #[test]
    fn an_offer_with_only_av1_video_is_refused_with_what_it_offered() {
        let sdp = CHROME_LIKE
            .replace("a=rtpmap:102 H264/90000\r\n", "a=rtpmap:45 AV1/90000\r\n")
            .replace("VP8", "AV1X");
        let err = check_decodable(&sdp).unwrap_err();
        assert_eq!((err.media, err.needed), ("video", "H264, VP8 or VP9"));
        assert_eq!(err.offered, ["AV1X", "AV1"]);
        let text = err.to_string();
        assert!(
            text.contains("no video codec") && text.contains("AV1X, AV1"),
            "{text}"
        );
    }

    #[test]
    fn the_video_codecs_and_payload_types_are_read_in_the_sections_order() {
        assert_eq!(
            video_codecs(CHROME_LIKE),
            [VideoCodec::Vp8, VideoCodec::H264]
        );
        let mut types = video_payload_types(CHROME_LIKE);
        types.sort_by_key(|&(pt, _)| pt);
        assert_eq!(types, [(96, VideoCodec::Vp8), (102, VideoCodec::H264)]);
        assert!(video_codecs("garbage").is_empty());
        let disabled = CHROME_LIKE.replace("m=video 9", "m=video 0");
        assert!(video_codecs(&disabled).is_empty());
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
        let av1_only = av1_only();
        let disabled = av1_only.replace("m=video 9", "m=video 0");
        assert_eq!(check_decodable(&disabled), Ok(()));
        let recvonly = format!("{av1_only}a=recvonly\r\n");
        assert_eq!(check_decodable(&recvonly), Ok(()));
    }

    /// [`CHROME_LIKE`] with only AV1 for video (at VP8's payload type).
    fn av1_only() -> String {
        CHROME_LIKE
            .replace("a=rtpmap:102 H264/90000\r\n", "")
            .replace("VP8", "AV1")
    }

    /// [`CHROME_LIKE`] with only AV1 for video, Opus taken out of the audio, and
    /// `session` as its session-level attributes.
    fn undecodable_with_session(session: &str) -> String {
        av1_only()
            .replace("opus/48000/2", "PCMU/8000")
            .replace("t=0 0\r\n", &format!("t=0 0\r\n{session}"))
    }

    #[test]
    fn a_session_level_recvonly_or_inactive_needs_no_codec_of_ours() {
        assert!(check_decodable(&undecodable_with_session("")).is_err());
        for direction in ["recvonly", "inactive"] {
            let sdp = undecodable_with_session(&format!("a={direction}\r\n"));
            assert_eq!(check_decodable(&sdp), Ok(()), "{direction}");
        }
    }

    #[test]
    fn a_media_level_direction_overrides_the_session_level_one() {
        let video_says = |session: &str, media: &str| {
            undecodable_with_session(&format!("a={session}\r\n")).replace(
                "a=rtpmap:97 rtx/90000\r\n",
                &format!("a=rtpmap:97 rtx/90000\r\na={media}\r\n"),
            )
        };
        // The audio section follows the session and is quiet; the video one sends.
        for (session, media) in [("recvonly", "sendrecv"), ("inactive", "sendonly")] {
            let err = check_decodable(&video_says(session, media)).unwrap_err();
            assert_eq!(
                (err.media, err.offered),
                ("video", vec!["AV1".to_owned()]),
                "{session}/{media}"
            );
        }
        // The session sends, the video section only receives (audio has Opus again).
        let sdp = video_says("sendrecv", "recvonly").replace("PCMU/8000", "opus/48000/2");
        assert_eq!(check_decodable(&sdp), Ok(()));
        assert!(check_decodable(&sdp.replace("a=recvonly\r\n", "")).is_err());
    }

    #[test]
    fn a_bundle_only_section_on_port_0_sends() {
        let bundled = av1_only()
            .replace("m=video 9", "m=video 0")
            .replace("a=rtpmap:96 AV1", "a=bundle-only\r\na=rtpmap:96 AV1");
        assert_eq!(check_decodable(&bundled).map_err(|e| e.media), Err("video"));
    }

    #[test]
    fn static_payload_types_are_named_without_rtpmap() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0 8 13\r\n";
        let err = check_decodable(sdp).unwrap_err();
        assert_eq!(
            (err.media, err.offered),
            ("audio", vec!["PCMU".to_owned(), "PCMA".to_owned()])
        );
    }

    #[test]
    fn garbage_is_not_a_panic() {
        // What the parser refuses is left to the WebRTC stack.
        for sdp in [
            "",
            "m=",
            "m=video",
            "a=rtpmap:",
            "a=rtpmap:1\nm=video 9\na=rtpmap:",
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
        ] {
            assert_eq!(check_decodable(sdp), Ok(()), "{sdp:?}");
        }
        // Every prefix of a real description, and each with a line mangled.
        let av1_only = av1_only();
        for end in 0..=av1_only.len() {
            let _ = check_decodable(&av1_only[..end]);
            let _ = check_decodable(&format!(
                "{}\r\na=rtpmap:x y/z\r\nm=video -1 x",
                &av1_only[..end]
            ));
        }
    }
}
