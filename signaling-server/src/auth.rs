//! Access tokens for `join` (`--auth-secret`): JSON Web Tokens signed with HS256.
//!
//! A token names the room it lets its holder into, optionally the name the holder must
//! join under, and when it stops being accepted:
//!
//! ```json
//! {"room": "standup", "name": "ada", "exp": 1767225600, "iat": 1767222000}
//! ```
//!
//! `exp` (Unix seconds) is required; `nbf`, if present, is honoured; both with
//! [`LEEWAY_SECS`] of leeway for clocks that differ. Any JWT library makes them, so a web
//! backend can hand them out; `signaling-server token` prints one.
//!
//! Pure: the current time is an argument, so expiry is tested without waiting. The JWT
//! format and its checks are the `jsonwebtoken` crate's; its HMAC-SHA256 is `ring`'s
//! (already built for rustls), plugged in as the crate's crypto provider for HS256 only.

use std::sync::Once;
use std::time::Duration;

use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use signaling_proto::{PeerName, RoomId};

/// Seconds of leeway on `exp` and `nbf`, for a token minted on a machine whose clock
/// differs a little from the server's.
pub const LEEWAY_SECS: u64 = 30;

/// The shortest `--auth-secret`, in bytes: anything shorter could be found from one token
/// by trying secrets offline.
pub const MIN_SECRET_LEN: usize = 16;

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The room it lets its holder join.
    pub room: String,
    /// The name its holder must join under (none: any name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it stops being accepted (Unix seconds).
    pub exp: u64,
    /// When it was made (Unix seconds; informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Before when it is not yet accepted (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// What a token that checks out allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The name the peer must have (none: any).
    pub name: Option<PeerName>,
}

/// Why a token was refused; the text goes to the client in the `unauthorized` error
/// (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The join carried no token.
    #[error("this server needs an access token to join: none was given")]
    Missing,
    /// Not a JWT, or not one with the claims a token needs.
    #[error("the access token is not a valid token: {0}")]
    Malformed(String),
    /// Signed with another algorithm than HS256.
    #[error("the access token must be signed with HS256")]
    WrongAlgorithm,
    /// The signature does not check out: made with another secret, or altered.
    #[error("the access token's signature does not check out (made with another secret?)")]
    BadSignature,
    /// Past its `exp`.
    #[error("the access token expired {ago} s ago")]
    Expired {
        /// Seconds since it expired.
        ago: u64,
    },
    /// Before its `nbf`.
    #[error("the access token is not valid for another {wait} s")]
    NotYetValid {
        /// Seconds until it is.
        wait: u64,
    },
    /// For another room.
    #[error("the access token is for room '{token_room}', not '{room}'")]
    WrongRoom {
        /// The room it names.
        token_room: String,
        /// The room asked for.
        room: RoomId,
    },
    /// For another name.
    #[error("the access token is for the name '{token_name}'")]
    WrongName {
        /// The name it names.
        token_name: String,
    },
}

/// The secret tokens are made and checked with.
#[derive(Clone)]
pub struct TokenKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKey {
    // The secret never reaches logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// A key from the server's `--auth-secret`.
    pub fn new(secret: &str) -> Self {
        install_provider();
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    /// A token for `room` (and, if given, only under `name`), valid from `now_unix` for
    /// `ttl`.
    pub fn issue(
        &self,
        room: &RoomId,
        name: Option<&PeerName>,
        ttl: Duration,
        now_unix: u64,
    ) -> String {
        let claims = Claims {
            room: room.to_string(),
            name: name.map(|n| n.to_string()),
            exp: now_unix.saturating_add(ttl.as_secs()),
            iat: Some(now_unix),
            nbf: None,
        };
        self.sign(&claims)
    }

    /// A token with exactly these claims.
    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing with ring cannot fail")
    }

    /// Checks `token` for a join of `room` under `name` at `now_unix`.
    pub fn check(
        &self,
        token: Option<&str>,
        room: &RoomId,
        name: Option<&PeerName>,
        now_unix: u64,
    ) -> Result<Grant, TokenError> {
        let token = token.ok_or(TokenError::Missing)?;
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the `now` given, not the crate's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(refusal)?
            .claims;
        if now_unix > claims.exp.saturating_add(LEEWAY_SECS) {
            return Err(TokenError::Expired {
                ago: now_unix - claims.exp,
            });
        }
        if let Some(nbf) = claims.nbf
            && nbf > now_unix.saturating_add(LEEWAY_SECS)
        {
            return Err(TokenError::NotYetValid {
                wait: nbf - now_unix,
            });
        }
        if claims.room != room.as_str() {
            return Err(TokenError::WrongRoom {
                token_room: claims.room,
                room: room.clone(),
            });
        }
        let name = match claims.name {
            None => None,
            Some(token_name) => match name {
                Some(name) if name.as_str() != token_name => {
                    return Err(TokenError::WrongName { token_name });
                }
                _ => Some(
                    PeerName::new(token_name)
                        .map_err(|e| TokenError::Malformed(format!("its name: {e}")))?,
                ),
            },
        };
        Ok(Grant { name })
    }
}

/// The refusal for a token `jsonwebtoken` would not decode.
fn refusal(err: JwtError) -> TokenError {
    match err.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenError::WrongAlgorithm,
        ErrorKind::MissingRequiredClaim(claim) => {
            TokenError::Malformed(format!("it has no `{claim}`"))
        }
        ErrorKind::Json(err) => TokenError::Malformed(format!("its claims: {err}")),
        _ => TokenError::Malformed(err.to_string()),
    }
}

/// HMAC-SHA256 with ring's key, as `jsonwebtoken` signs and verifies HS256.
struct Hs256(ring::hmac::Key);

impl Hs256 {
    fn of(secret: &[u8]) -> Self {
        Self(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret))
    }
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(ring::hmac::sign(&self.0, msg).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
        // Constant time.
        ring::hmac::verify(&self.0, msg, tag).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

/// `jsonwebtoken`'s crypto for HS256 only: every other algorithm is refused.
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: |alg, key| match alg {
        Algorithm::HS256 => Ok(Box::new(Hs256::of(key.try_get_hmac_secret()?))),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    },
    verifier_factory: |alg, key| match alg {
        Algorithm::HS256 => Ok(Box::new(Hs256::of(key.try_get_hmac_secret()?))),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    },
    jwk_utils: JwkUtils::new_unimplemented(),
};

/// Makes [`PROVIDER`] the process's `jsonwebtoken` crypto, unless one was installed
/// already (which does HS256 as well).
fn install_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = PROVIDER.install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_767_222_000;

    fn room(r: &str) -> RoomId {
        RoomId::new(r).unwrap()
    }

    fn name(n: &str) -> PeerName {
        PeerName::new(n).unwrap()
    }

    fn key() -> TokenKey {
        TokenKey::new("a secret of some length")
    }

    #[test]
    fn a_token_lets_its_holder_into_its_room_until_it_expires() {
        let key = key();
        let token = key.issue(&room("standup"), None, Duration::from_secs(600), NOW);
        assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
        for (at, name) in [(NOW, None), (NOW + 600, Some(name("anyone")))] {
            assert_eq!(
                key.check(Some(&token), &room("standup"), name.as_ref(), at),
                Ok(Grant { name: None })
            );
        }
        // Within the leeway, then past it.
        assert!(
            key.check(Some(&token), &room("standup"), None, NOW + 630)
                .is_ok()
        );
        assert_eq!(
            key.check(Some(&token), &room("standup"), None, NOW + 631),
            Err(TokenError::Expired { ago: 31 })
        );
    }

    #[test]
    fn no_token_another_room_another_secret_or_garbage_is_refused_saying_why() {
        let key = key();
        let token = key.issue(&room("a"), None, Duration::from_secs(60), NOW);
        assert_eq!(
            key.check(None, &room("a"), None, NOW),
            Err(TokenError::Missing)
        );
        assert!(matches!(
            key.check(Some(&token), &room("b"), None, NOW),
            Err(TokenError::WrongRoom { token_room, .. }) if token_room == "a"
        ));
        let forged = TokenKey::new("another secret, long enough").issue(
            &room("a"),
            None,
            Duration::from_secs(60),
            NOW,
        );
        assert_eq!(
            key.check(Some(&forged), &room("a"), None, NOW),
            Err(TokenError::BadSignature)
        );
        // The claims changed under the old signature.
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let other = key.issue(&room("b"), None, Duration::from_secs(60), NOW);
        parts[1] = other.split('.').nth(1).unwrap().to_string();
        assert_eq!(
            key.check(Some(&parts.join(".")), &room("b"), None, NOW),
            Err(TokenError::BadSignature)
        );
        for garbage in ["", "x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJyb29tIjoiYSJ9."] {
            assert!(
                matches!(
                    key.check(Some(garbage), &room("a"), None, NOW),
                    Err(TokenError::Malformed(_) | TokenError::WrongAlgorithm)
                ),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn only_hs256_is_accepted() {
        // The same claims and secret, signed as HS384 by hand: refused for its algorithm.
        let header = Header::new(Algorithm::HS384);
        let err = jsonwebtoken::encode(
            &header,
            &Claims {
                room: "a".into(),
                name: None,
                exp: NOW + 60,
                iat: None,
                nbf: None,
            },
            &EncodingKey::from_secret(b"a secret of some length"),
        );
        assert!(err.is_err(), "our provider signs HS256 only");
        let b64 = |v: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
        };
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"HS384","typ":"JWT"}"#),
            b64(&format!(r#"{{"room":"a","exp":{}}}"#, NOW + 60)),
            b64("not a signature")
        );
        assert_eq!(
            key().check(Some(&token), &room("a"), None, NOW),
            Err(TokenError::WrongAlgorithm)
        );
    }

    #[test]
    fn a_token_without_expiry_or_not_yet_valid_is_refused() {
        let key = key();
        #[derive(Serialize)]
        struct NoExp {
            room: String,
        }
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &NoExp { room: "a".into() },
            &key.encoding,
        )
        .unwrap();
        assert!(matches!(
            key.check(Some(&token), &room("a"), None, NOW),
            Err(TokenError::Malformed(why)) if why.contains("exp")
        ));
        let later = key.sign(&Claims {
            room: "a".into(),
            name: None,
            exp: NOW + 7200,
            iat: None,
            nbf: Some(NOW + 3600),
        });
        assert_eq!(
            key.check(Some(&later), &room("a"), None, NOW),
            Err(TokenError::NotYetValid { wait: 3600 })
        );
        assert!(
            key.check(Some(&later), &room("a"), None, NOW + 3600)
                .is_ok()
        );
    }

    #[test]
    fn a_token_with_a_name_admits_only_that_name_and_gives_it_to_a_nameless_join() {
        let key = key();
        let token = key.issue(&room("a"), Some(&name("ada")), Duration::from_secs(60), NOW);
        let granted = Ok(Grant {
            name: Some(name("ada")),
        });
        assert_eq!(
            key.check(Some(&token), &room("a"), Some(&name("ada")), NOW),
            granted
        );
        assert_eq!(key.check(Some(&token), &room("a"), None, NOW), granted);
        assert_eq!(
            key.check(Some(&token), &room("a"), Some(&name("eve")), NOW),
            Err(TokenError::WrongName {
                token_name: "ada".into()
            })
        );
    }

    #[test]
    fn refusals_never_repeat_the_token() {
        let key = key();
        let token = key.issue(&room("a"), None, Duration::from_secs(60), NOW);
        for err in [
            key.check(Some(&token), &room("b"), None, NOW),
            key.check(Some(&token), &room("a"), None, NOW + 10_000),
            TokenKey::new("another secret, long enough").check(Some(&token), &room("a"), None, NOW),
        ] {
            let text = err.unwrap_err().to_string();
            assert!(!text.contains(&token), "{text}");
        }
        assert!(!format!("{key:?}").contains("secret"));
    }
}
