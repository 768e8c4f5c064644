//! Which web pages may open the signaling WebSocket: the `Origin` check at the upgrade.
//!
//! A browser sends the page's origin with every WebSocket handshake, and lets any page
//! open a WebSocket to any server: without this check, a page on another site could
//! use a visitor's browser to talk to a server only that visitor can reach (cross-site
//! WebSocket hijacking). Allowed are the server's own pages (the origin's host and port
//! are the request's `Host`), the origins given with `--allowed-origin`, or any with
//! `*`. A request without `Origin` is not from a browser page (native clients), and is
//! allowed. Pure: no sockets.

use http::Uri;

/// The origins allowed to open the WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPolicy {
    /// `*` was given: every origin.
    any: bool,
    /// The allowed origins, as [`Origin`]s.
    allowed: Vec<Origin>,
}

/// A web origin: scheme, host (lowercase) and port (the scheme's default filled in).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `scheme://host[:port]` (http or https; nothing after the authority).
    fn parse(text: &str) -> Option<Self> {
        let uri: Uri = text.trim().parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") || text.trim().ends_with('/') {
            return None;
        }
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        Some(Self {
            scheme,
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(default_port),
        })
    }

    /// Whether this origin is the server's own, reached at `host` (the `Host` header).
    fn is_host(&self, host: &str) -> bool {
        let Ok(authority) = host.trim().parse::<http::uri::Authority>() else {
            return false;
        };
        let default_port = if self.scheme == "https" { 443 } else { 80 };
        authority.host().eq_ignore_ascii_case(&self.host)
            && authority.port_u16().unwrap_or(default_port) == self.port
    }
}

impl OriginPolicy {
    /// The policy for `--allowed-origin` values; an error names one that is not an origin.
    pub fn new(origins: &[String]) -> Result<Self, String> {
        let mut policy = Self {
            any: false,
            allowed: Vec::new(),
        };
        for text in origins {
            if text.trim() == "*" {
                policy.any = true;
                continue;
            }
            let origin = Origin::parse(text).ok_or_else(|| {
                format!(
                    "--allowed-origin {text:?} is not an origin: give scheme://host[:port], such as https://calls.example.org"
                )
            })?;
            policy.allowed.push(origin);
        }
        Ok(policy)
    }

    /// Whether a handshake with this `Origin` header, sent to this `Host`, may proceed.
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        if self.any {
            return true;
        }
        let Some(origin) = Origin::parse(origin) else {
            return false;
        };
        host.is_some_and(|host| origin.is_host(host)) || self.allowed.contains(&origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str]) -> OriginPolicy {
        OriginPolicy::new(&origins.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn native_clients_and_the_servers_own_pages_are_allowed_and_other_sites_are_not() {
        let p = policy(&[]);
        assert!(
            p.allows(None, Some("127.0.0.1:8080")),
            "no Origin: not a browser"
        );
        assert!(p.allows(Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080")));
        assert!(p.allows(Some("https://Calls.Example.org"), Some("calls.example.org")));
        assert!(p.allows(
            Some("https://calls.example.org"),
            Some("calls.example.org:443")
        ));
        for (origin, host) in [
            ("http://evil.example", "127.0.0.1:8080"),
            ("http://127.0.0.1:8081", "127.0.0.1:8080"),
            ("https://calls.example.org", "calls.example.org:8443"),
            ("http://calls.example.org", "calls.example.org:443"),
            ("null", "127.0.0.1:8080"),
            ("", "127.0.0.1:8080"),
        ] {
            assert!(!p.allows(Some(origin), Some(host)), "{origin} at {host}");
        }
        assert!(
            !p.allows(Some("http://127.0.0.1:8080"), None),
            "no Host to match"
        );
    }

    #[test]
    fn listed_origins_are_allowed_and_a_star_allows_every_one() {
        let p = policy(&["https://app.example.org", "http://localhost:3000"]);
        assert!(p.allows(Some("https://app.example.org"), Some("signal.example.org")));
        assert!(p.allows(
            Some("https://app.example.org:443"),
            Some("signal.example.org")
        ));
        assert!(p.allows(Some("http://LOCALHOST:3000"), Some("signal.example.org")));
        assert!(!p.allows(Some("http://app.example.org"), Some("signal.example.org")));
        assert!(!p.allows(Some("https://evil.example"), Some("signal.example.org")));
        let any = policy(&["*"]);
        assert!(any.allows(Some("https://anything.example"), Some("x")));
        assert!(any.allows(Some("null"), None));
    }

    #[test]
    fn what_is_not_an_origin_is_refused_as_a_flag() {
        for bad in [
            "example.org",
            "ftp://example.org",
            "https://example.org/path",
            "https://example.org/",
            "https://user@example.org",
        ] {
            let err = OriginPolicy::new(&[bad.to_string()]).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }
}
