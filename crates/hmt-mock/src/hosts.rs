//! Which host names are this machine's own: the admin API refuses
//! requests naming other hosts while it listens on loopback (DNS
//! rebinding), and pregen webhooks may call only loopback hosts unless
//! told otherwise.

use std::net::IpAddr;

/// The host of `authority` (`host`, `host:port`, `[v6]`, `[v6]:port`),
/// lower-cased and without IPv6 brackets; `None` when it is not an
/// authority at all.
pub fn host_of(authority: &str) -> Option<String> {
    let parsed: http::uri::Authority = authority.parse().ok()?;
    let host = parsed.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some(host.to_ascii_lowercase())
}

/// Whether `host` (as [`host_of`] gives it) names this machine's
/// loopback interface: `localhost`, any `127.x.x.x`, or `::1`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_with_and_without_ports() {
        for authority in [
            "localhost",
            "LOCALHOST:8888",
            "127.0.0.1",
            "127.0.0.1:2525",
            "127.9.8.7:1",
            "[::1]",
            "[::1]:8888",
        ] {
            let host = host_of(authority).unwrap();
            assert!(is_loopback(&host), "{authority} is loopback ({host})");
        }
        for authority in [
            "evil.example",
            "evil.example:8888",
            "localhost.evil.example",
            "10.0.0.1:8888",
            "0.0.0.0",
            "[::ffff:7f00:1]",
            "[2001:db8::1]:80",
        ] {
            let host = host_of(authority).unwrap();
            assert!(!is_loopback(&host), "{authority} is not loopback ({host})");
        }
        assert_eq!(host_of("a b"), None);
    }
}
