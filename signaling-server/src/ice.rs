//! ICE servers handed to peers in `welcome`.
//!
//! Pure: the current time is an argument, so time-limited TURN credentials are testable.
//! With `--turn-secret`, each peer gets coturn "REST API" credentials (`use-auth-secret`):
//! username `EXPIRY:PEER_ID`, credential `base64(HMAC-SHA1(secret, username))`.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use signaling_proto::{IceServer, PeerId};

/// How peers authenticate to the TURN servers.
#[derive(Clone, PartialEq, Eq)]
pub enum TurnAuth {
    /// No TURN server configured.
    None,
    /// One username and credential shared by every peer.
    Static {
        /// TURN username.
        username: String,
        /// TURN credential.
        credential: String,
    },
    /// coturn time-limited credentials derived from a shared secret.
    Secret {
        /// The secret coturn was started with (`static-auth-secret`).
        secret: String,
        /// How long each credential stays valid.
        ttl: Duration,
    },
}

impl std::fmt::Debug for TurnAuth {
    // Credentials never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TurnAuth::None => f.write_str("None"),
            TurnAuth::Static { username, .. } => write!(f, "Static {{ username: {username:?} }}"),
            TurnAuth::Secret { ttl, .. } => write!(f, "Secret {{ ttl: {ttl:?} }}"),
        }
    }
}

/// The STUN and TURN servers the server was started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceConfig {
    /// `stun:` URLs.
    pub stun: Vec<String>,
    /// `turn:`/`turns:` URLs, all sharing [`IceConfig::turn_auth`].
    pub turn: Vec<String>,
    /// How peers authenticate to the TURN URLs.
    pub turn_auth: TurnAuth,
}

impl IceConfig {
    /// No STUN, no TURN: `welcome` carries an empty list.
    pub fn none() -> Self {
        Self {
            stun: Vec::new(),
            turn: Vec::new(),
            turn_auth: TurnAuth::None,
        }
    }

    /// The `iceServers` list for `peer`, with credentials valid from `now_unix` (seconds).
    pub fn servers_for(&self, peer: &PeerId, now_unix: u64) -> Vec<IceServer> {
        let mut servers = Vec::with_capacity(2);
        if !self.stun.is_empty() {
            servers.push(IceServer {
                urls: self.stun.clone(),
                username: None,
                credential: None,
            });
        }
        let credentials = match &self.turn_auth {
            TurnAuth::None => None,
            TurnAuth::Static {
                username,
                credential,
            } => Some((username.clone(), credential.clone())),
            TurnAuth::Secret { secret, ttl } => {
                let username = format!("{}:{peer}", now_unix.saturating_add(ttl.as_secs()));
                let credential = turn_rest_credential(secret, &username);
                Some((username, credential))
            }
        };
        if let (false, Some((username, credential))) = (self.turn.is_empty(), credentials) {
            servers.push(IceServer {
                urls: self.turn.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        servers
    }
}

/// coturn's time-limited credential for `username`: `base64(HMAC-SHA1(secret, username))`.
pub fn turn_rest_credential(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_credential_matches_the_rfc_2202_hmac_sha1_vector() {
        // RFC 2202 test case 2: key "Jefe", data "what do ya want for nothing?".
        // HMAC-SHA1 = effcdf6ae5eb2fa2d27416d5f184df9c259a7c79.
        assert_eq!(
            turn_rest_credential("Jefe", "what do ya want for nothing?"),
            "7/zfauXrL6LSdBbV8YTfnCWafHk="
        );
    }

    #[test]
    fn secret_auth_gives_each_peer_an_expiring_username() {
        let ice = IceConfig {
            stun: vec!["stun:127.0.0.1:3478".into()],
            turn: vec!["turn:127.0.0.1:3478".into()],
            turn_auth: TurnAuth::Secret {
                secret: "s3cret".into(),
                ttl: Duration::from_secs(600),
            },
        };
        let servers = ice.servers_for(&PeerId::new("42"), 1_000);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].urls, vec!["stun:127.0.0.1:3478".to_string()]);
        assert_eq!(servers[1].username.as_deref(), Some("1600:42"));
        assert_eq!(
            servers[1].credential.as_deref(),
            Some(turn_rest_credential("s3cret", "1600:42").as_str())
        );
    }

    #[test]
    fn static_auth_and_no_servers() {
        assert!(
            IceConfig::none()
                .servers_for(&PeerId::new("1"), 0)
                .is_empty()
        );
        let ice = IceConfig {
            stun: vec![],
            turn: vec!["turn:h:3478".into()],
            turn_auth: TurnAuth::Static {
                username: "user1".into(),
                credential: "pass1".into(),
            },
        };
        let servers = ice.servers_for(&PeerId::new("1"), 0);
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].credential.as_deref(), Some("pass1"));
        assert!(!format!("{:?}", ice.turn_auth).contains("pass1"));
    }
}
