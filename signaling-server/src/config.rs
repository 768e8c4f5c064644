//! Server settings: every limit of `protocol.md` as a flag, access control (tokens,
//! origins, per-host limits), ICE servers, TLS and the web root.
//!
//! [`Config`] is a clap parser so the binary and any embedding app share one set of
//! flags; [`Config::default`] is the protocol's defaults.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::ServerError;
use crate::auth::{MIN_SECRET_LEN, TokenKey};
use crate::ice::{IceConfig, TurnAuth};
use crate::limits::PerHostLimits;
use crate::origin::OriginPolicy;
use crate::relay::RelayLimits;

/// Settings of the signaling server (the listen address is the caller's: see [`crate::serve`]).
#[derive(Debug, Clone, Parser)]
#[command(name = "signaling-server")]
pub struct Config {
    /// Directory served over HTTP at `/` (the browser client). Defaults to `assets/web`
    /// in the current directory, else the one in the source tree.
    #[arg(long, value_name = "DIR")]
    pub web_root: Option<PathBuf>,

    /// TLS certificate chain (PEM). With --tls-key, serves https:// and wss://, which
    /// browsers on other machines need before they allow camera access.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM) for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// STUN server URL handed to peers in `welcome` (repeatable), e.g. stun:stun.example.org:3478.
    #[arg(long, value_name = "URL")]
    pub stun: Vec<String>,

    /// TURN server URL handed to peers in `welcome` (repeatable), e.g. turn:203.0.113.5:3478
    /// (UDP), turn:203.0.113.5:3478?transport=tcp (TCP), turns:turn.example.org:5349 (TLS);
    /// all share the credentials. Needs --turn-username and --turn-credential, or
    /// --turn-secret.
    #[arg(long, value_name = "URL")]
    pub turn: Vec<String>,

    /// TURN username shared by all peers (coturn `user=` / lt-cred-mech).
    #[arg(long, value_name = "USER", requires = "turn_credential")]
    pub turn_username: Option<String>,

    /// TURN credential (password) for --turn-username.
    #[arg(long, value_name = "PASS", requires = "turn_username")]
    pub turn_credential: Option<String>,

    /// Shared secret for coturn time-limited credentials (coturn `use-auth-secret` with
    /// `static-auth-secret`): each peer gets its own expiring username and credential.
    #[arg(long, value_name = "SECRET", conflicts_with_all = ["turn_username", "turn_credential"])]
    pub turn_secret: Option<String>,

    /// Lifetime of credentials made with --turn-secret, in seconds.
    #[arg(long, value_name = "SECS", default_value = "86400", value_parser = parse_secs)]
    pub turn_ttl: Duration,

    /// Most peers in one room; one more gets `room-full`.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_peers: u32,

    /// Most messages a room holds for a peer yet to join; past that the sender gets `queue-full`.
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub max_held_messages: usize,

    /// Most bytes a room holds for a peer yet to join.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_held_bytes: usize,

    /// Largest text frame accepted; a bigger one gets `bad-message` and is dropped.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u32).range(256..=(16 << 20)))]
    pub max_frame_bytes: u32,

    /// Messages per second each connection may send on average; over it: `rate-limited`.
    #[arg(long, value_name = "PER_SEC", default_value_t = 50.0)]
    pub rate: f64,

    /// Burst of messages a connection may send at once before --rate applies.
    #[arg(long, value_name = "MESSAGES", default_value_t = 200)]
    pub burst: u32,

    /// Most open WebSocket connections; one more gets `server-full` and is closed.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Seconds a new connection has to send `join` before it is closed.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    pub join_timeout: Duration,

    /// Bad messages in a row after which the connection is closed.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_bad_messages: u32,

    /// Seconds of silence from a peer before the server pings it.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub ping_interval: Duration,

    /// Seconds to wait for any frame after a ping before dropping the peer (its room
    /// hears `peer-left`). Ping interval plus this is the longest a dead peer lingers.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub pong_timeout: Duration,

    /// Messages queued for one slow reader before it is dropped (so it never stalls others).
    #[arg(long, value_name = "MESSAGES", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub outbox_messages: u32,

    /// Bytes queued for one slow reader before it is dropped.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20)]
    pub outbox_bytes: usize,

    /// Require an access token on `join`: a JWT signed with this secret (HS256) naming
    /// the room, as `signaling-server token` prints. Without it anyone may join any room.
    /// At least 16 bytes.
    #[arg(
        long,
        value_name = "SECRET",
        env = "SIGNALING_AUTH_SECRET",
        hide_env_values = true
    )]
    pub auth_secret: Option<String>,

    /// A web origin (scheme://host[:port]) whose pages may open the WebSocket, besides
    /// the server's own (repeatable; `*`: any). Browsers from other origins are refused
    /// at the upgrade; clients that send no Origin (native ones) are not affected.
    #[arg(long, value_name = "ORIGIN")]
    pub allowed_origin: Vec<String>,

    /// Most WebSocket connections open at once from one host (IPv4 address or IPv6 /64);
    /// one more gets `too-many-connections` and is closed. 0: no limit.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_connections_per_ip: usize,

    /// Joins a second one host may send on average; past it the join gets
    /// `rate-limited`. 0: no limit.
    #[arg(long, value_name = "PER_SEC", default_value_t = 10.0)]
    pub join_rate_per_ip: f64,

    /// Joins one host may send at once before --join-rate-per-ip applies.
    #[arg(long, value_name = "JOINS", default_value_t = 100)]
    pub join_burst_per_ip: u32,

    /// Share rooms with other instances through Redis 7 at this URL
    /// (redis://HOST:PORT): peers of one room may then be connected to different
    /// instances behind a load balancer. Off: rooms live in this process only.
    #[arg(long, value_name = "REDIS_URL")]
    pub cluster: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config::parse_from(["signaling-server"])
    }
}

impl Config {
    /// Checks the combinations clap cannot express.
    pub fn validate(&self) -> Result<(), ServerError> {
        let bad = |msg: String| Err(ServerError::Config(msg));
        if !self.turn.is_empty() && self.turn_username.is_none() && self.turn_secret.is_none() {
            return bad(
                "--turn needs --turn-username and --turn-credential, or --turn-secret".into(),
            );
        }
        if self.turn.is_empty() && (self.turn_username.is_some() || self.turn_secret.is_some()) {
            return bad("TURN credentials were given without --turn URL".into());
        }
        for url in &self.stun {
            if !url.starts_with("stun:") && !url.starts_with("stuns:") {
                return bad(format!("--stun {url:?} must start with stun: or stuns:"));
            }
        }
        for url in &self.turn {
            if !url.starts_with("turn:") && !url.starts_with("turns:") {
                return bad(format!("--turn {url:?} must start with turn: or turns:"));
            }
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return bad(format!(
                "--rate must be a positive number, not {}",
                self.rate
            ));
        }
        if !(self.join_rate_per_ip.is_finite() && self.join_rate_per_ip >= 0.0) {
            return bad(format!(
                "--join-rate-per-ip must be 0 (no limit) or a positive number, not {}",
                self.join_rate_per_ip
            ));
        }
        if let Some(secret) = &self.auth_secret
            && secret.len() < MIN_SECRET_LEN
        {
            return bad(format!(
                "--auth-secret must be at least {MIN_SECRET_LEN} bytes (a short one can be found from a token)"
            ));
        }
        self.origins()?;
        if let Some(url) = &self.cluster {
            crate::cluster::check_url(url).map_err(|err| ServerError::Config(err.to_string()))?;
        }
        Ok(())
    }

    /// The key access tokens are checked with (none: no `--auth-secret`, anyone joins).
    pub fn token_key(&self) -> Option<TokenKey> {
        self.auth_secret.as_deref().map(TokenKey::new)
    }

    /// Which web origins may open the WebSocket.
    pub fn origins(&self) -> Result<OriginPolicy, ServerError> {
        OriginPolicy::new(&self.allowed_origin).map_err(ServerError::Config)
    }

    /// Each host's connection and join limits.
    pub fn per_host_limits(&self) -> PerHostLimits {
        PerHostLimits {
            max_connections: self.max_connections_per_ip,
            join_rate: self.join_rate_per_ip,
            join_burst: self.join_burst_per_ip,
        }
    }

    /// The relay's room limits.
    pub fn relay_limits(&self) -> RelayLimits {
        RelayLimits {
            max_peers: self.max_peers as usize,
            max_held_messages: self.max_held_messages,
            max_held_bytes: self.max_held_bytes,
        }
    }

    /// The ICE servers for `welcome`.
    pub fn ice(&self) -> IceConfig {
        let turn_auth = match (
            &self.turn_secret,
            &self.turn_username,
            &self.turn_credential,
        ) {
            (Some(secret), _, _) => TurnAuth::Secret {
                secret: secret.clone(),
                ttl: self.turn_ttl,
            },
            (None, Some(username), Some(credential)) => TurnAuth::Static {
                username: username.clone(),
                credential: credential.clone(),
            },
            _ => TurnAuth::None,
        };
        IceConfig {
            stun: self.stun.clone(),
            turn: self.turn.clone(),
            turn_auth,
        }
    }

    /// The web root: `--web-root`, else `./assets/web`, else the source tree's.
    pub fn web_root(&self) -> PathBuf {
        if let Some(dir) = &self.web_root {
            return dir.clone();
        }
        let local = PathBuf::from("assets/web");
        if local.is_dir() {
            return local;
        }
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../assets/web"))
    }
}

/// Parses seconds (fractions allowed) into a duration.
fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is not a valid duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_protocol_limits() {
        let c = Config::default();
        assert_eq!(c.max_peers, 2);
        assert_eq!(c.max_held_messages, 128);
        assert_eq!(c.max_held_bytes, 1 << 20);
        assert_eq!(c.max_frame_bytes, 64 * 1024);
        assert_eq!((c.rate, c.burst), (50.0, 200));
        assert_eq!(c.max_connections, 10_000);
        assert_eq!(c.join_timeout, Duration::from_secs(30));
        assert_eq!(c.max_bad_messages, 20);
        assert!(c.ping_interval + c.pong_timeout <= Duration::from_secs(30));
        // Access control: no tokens, the server's own pages only, and one host gets at
        // most 1% of the connections and 10 joins a second (bursts of 100).
        assert!(c.auth_secret.is_none() && c.allowed_origin.is_empty());
        assert_eq!(c.max_connections_per_ip, 100);
        assert!(c.max_connections_per_ip * 100 <= c.max_connections);
        assert_eq!((c.join_rate_per_ip, c.join_burst_per_ip), (10.0, 100));
        c.validate().unwrap();
    }

    #[test]
    fn a_short_auth_secret_or_a_bad_origin_is_a_config_error() {
        let c = Config::parse_from(["s", "--auth-secret", "short"]);
        assert!(c.validate().unwrap_err().to_string().contains("16 bytes"));
        let c = Config::parse_from(["s", "--auth-secret", "sixteen bytes ok"]);
        c.validate().unwrap();
        assert!(c.token_key().is_some());
        let c = Config::parse_from(["s", "--allowed-origin", "example.org"]);
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("example.org")
        );
        let c = Config::parse_from(["s", "--join-rate-per-ip=-1"]);
        assert!(c.validate().is_err());
    }

    #[test]
    fn turn_without_credentials_is_a_config_error() {
        let c = Config::parse_from(["s", "--turn", "turn:127.0.0.1:3478"]);
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("--turn-secret")
        );
        let c = Config::parse_from(["s", "--stun", "http://x"]);
        assert!(c.validate().is_err());
        assert!(
            Config::try_parse_from(["s", "--turn-secret", "x", "--turn-username", "u"]).is_err()
        );
        assert!(Config::try_parse_from(["s", "--tls-cert", "c.pem"]).is_err());
    }

    #[test]
    fn turn_secret_selects_time_limited_credentials() {
        let c = Config::parse_from([
            "s",
            "--turn",
            "turn:127.0.0.1:3478",
            "--turn-secret",
            "k",
            "--turn-ttl",
            "60",
        ]);
        c.validate().unwrap();
        assert!(matches!(c.ice().turn_auth, TurnAuth::Secret { ttl, .. } if ttl.as_secs() == 60));
    }

    #[test]
    fn udp_tcp_and_tls_turn_urls_are_handed_out_together() {
        let urls = [
            "turn:turn.example.org:3478",
            "turn:turn.example.org:3478?transport=tcp",
            "turns:turn.example.org:5349?transport=tcp",
        ];
        let c = Config::parse_from([
            "s",
            "--turn",
            urls[0],
            "--turn",
            urls[1],
            "--turn",
            urls[2],
            "--turn-username",
            "u",
            "--turn-credential",
            "c",
        ]);
        c.validate().unwrap();
        let servers = c.ice().servers_for(&signaling_proto::PeerId::new("1"), 0);
        assert_eq!(servers.len(), 1);
        assert_eq!(servers[0].urls, urls);
        assert_eq!(servers[0].username.as_deref(), Some("u"));
    }
}
