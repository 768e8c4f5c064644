//! The call's verification code: six digits that the two people read out to each
//! other to know that nobody sits between them.
//!
//! DTLS-SRTP keeps the media between the two holders of the certificates whose
//! fingerprints the descriptions carry; a signaling relay that rewrites them can put
//! itself in the middle, as one end of two calls. The code is made from both
//! fingerprints, so both sides of one call show the same code, and the two calls of a
//! man in the middle show different ones. Every client makes it the same way:
//!
//! 1. each side's fingerprint is the first `a=fingerprint:` attribute of its
//!    description (session or media level), written `<hash function in lower case>
//!    <hex in upper case>`, e.g. `sha-256 AB:CD:…`;
//! 2. the two fingerprints in byte order, joined by a line feed, are hashed with
//!    SHA-256;
//! 3. the first four bytes of the hash, as a big-endian number modulo 1,000,000, are
//!    the code: six digits with leading zeros, shown as two groups of three (`042 917`).

/// The fingerprint of the certificate `sdp` names (its first `a=fingerprint:`), in
/// the code's form (`sha-256 AB:CD:…`).
pub fn fingerprint(sdp: &str) -> Option<String> {
    let value = sdp
        .lines()
        .find_map(|line| line.trim_end().strip_prefix("a=fingerprint:"))?;
    let (function, hex) = value.split_once(' ')?;
    let hex = hex.trim();
    if function.is_empty() || hex.is_empty() {
        return None;
    }
    Some(format!(
        "{} {}",
        function.to_ascii_lowercase(),
        hex.to_ascii_uppercase()
    ))
}

/// The verification code of a call between the holders of the certificates that the
/// local and remote descriptions name, if both name one.
pub fn code(local_sdp: &str, remote_sdp: &str) -> Option<String> {
    Some(code_of(&fingerprint(local_sdp)?, &fingerprint(remote_sdp)?))
}

/// The code of two fingerprints, in either order.
fn code_of(a: &str, b: &str) -> String {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let hash = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{first}\n{second}").as_bytes(),
    );
    let bytes = hash.as_ref();
    let number = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) % 1_000_000;
    format!("{:03} {:03}", number / 1000, number % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        a=fingerprint:SHA-256 ab:cd:ef\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
    const B: &str = "v=0\r\no=- 3 4 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 01:02:03\r\n\
        a=fingerprint:sha-1 04:05\r\n";

    #[test]
    fn the_fingerprint_is_the_first_one_in_one_spelling() {
        assert_eq!(fingerprint(A).as_deref(), Some("sha-256 AB:CD:EF"));
        assert_eq!(fingerprint(B).as_deref(), Some("sha-256 01:02:03"));
        assert_eq!(fingerprint("v=0\r\na=fingerprint:\r\n"), None);
        assert_eq!(fingerprint("garbage"), None);
    }

    #[test]
    fn both_sides_of_a_call_get_the_same_six_digits() {
        let code = code(A, B).unwrap();
        assert_eq!(Some(&code), super::code(B, A).as_ref());
        assert_eq!(code.len(), 7);
        assert!(code.chars().enumerate().all(|(i, c)| if i == 3 {
            c == ' '
        } else {
            c.is_ascii_digit()
        }));
        // `printf 'sha-256 01:02:03\nsha-256 AB:CD:EF' | sha256sum` begins 0362901b:
        // 56,791,067, of which the last six digits.
        assert_eq!(code, "791 067");
    }

    #[test]
    fn another_certificate_on_either_side_changes_the_code() {
        let c = A.replace("ab:cd:ef", "ab:cd:ee");
        assert_ne!(code(A, B), code(&c, B));
        assert_ne!(code(A, B), code(A, &B.replace("01:02:03", "01:02:04")));
    }

    #[test]
    fn a_description_without_a_fingerprint_has_no_code() {
        assert_eq!(code(A, "v=0\r\n"), None);
    }
}
