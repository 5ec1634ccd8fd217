//! Where the proxy may connect, and the one TCP dial every path uses.
//!
//! Two checks stand between a routed request and a connection:
//!
//! - **`--allow-host`.** When globs are given, only hosts that match one
//!   (as `host` or `host:port`, case-insensitively) are reached; anything
//!   else is answered 403 and recorded as refused.
//! - **The loop guard.** A request whose target is the proxy itself would
//!   be forwarded to itself again and again, one request becoming
//!   thousands. Spellings cannot catch that: `0x7f.1`, `0`, `2130706433`,
//!   `[::ffff:127.0.0.1]` and any name in DNS all reach the same socket. So
//!   the check is made on the addresses the host resolves to, the ones the
//!   dial then uses (no second look-up that could answer differently): an
//!   address on the proxy's port that is a loopback address, the
//!   unspecified address, the proxy's own address, or (when the proxy
//!   listens on every interface) any address of this machine, is refused
//!   with 508 Loop Detected and recorded as refused.

use crate::upstream::{Cause, UpstreamError, classify};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use http::StatusCode;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::net::TcpStream;

/// Where the proxy may connect; shared by every connection.
#[derive(Debug, Default)]
pub(crate) struct Destinations {
    /// The proxy's listening address, once it listens.
    listening: OnceLock<SocketAddr>,
    /// `--allow-host` globs; `None` allows every host.
    allowed: Option<GlobSet>,
}

impl Destinations {
    /// Compiles the `--allow-host` globs; an invalid one is named.
    pub(crate) fn new(allow_hosts: &[String]) -> Result<Destinations, String> {
        let allowed = if allow_hosts.is_empty() {
            None
        } else {
            let mut set = GlobSetBuilder::new();
            for pattern in allow_hosts {
                let glob = GlobBuilder::new(pattern)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| format!("--allow-host {pattern:?}: {e}"))?;
                set.add(glob);
            }
            Some(set.build().map_err(|e| format!("--allow-host: {e}"))?)
        };
        Ok(Destinations {
            listening: OnceLock::new(),
            allowed,
        })
    }

    /// Records the address the proxy listens on (once; a proxy listens once).
    pub(crate) fn listening_on(&self, addr: SocketAddr) {
        let _ = self.listening.set(addr);
    }

    fn check_host(&self, host: &str, port: u16) -> Result<(), UpstreamError> {
        let Some(allowed) = &self.allowed else {
            return Ok(());
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if allowed.is_match(bare)
            || allowed.is_match(host)
            || allowed.is_match(format!("{host}:{port}"))
        {
            return Ok(());
        }
        Err(UpstreamError {
            status: StatusCode::FORBIDDEN,
            detail: format!("{host}:{port} is not allowed by --allow-host"),
        })
    }

    /// Whether connecting to `addr` would reach this proxy.
    fn is_this_proxy(&self, addr: SocketAddr) -> bool {
        let Some(listening) = self.listening.get() else {
            return false;
        };
        if addr.port() != listening.port() {
            return false;
        }
        let ip = addr.ip().to_canonical();
        let own = listening.ip().to_canonical();
        ip.is_loopback()
            || ip.is_unspecified()
            || ip == own
            || (own.is_unspecified() && is_local_address(ip))
    }
}

/// Whether `ip` belongs to one of this machine's interfaces: only then can
/// a socket be bound to it.
fn is_local_address(ip: IpAddr) -> bool {
    std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// A TCP connection to `host` (IPv6 in brackets or not) and `port`, with
/// Nagle off, within `timeout`: refused with 403 or 508 when
/// [`Destinations`] says so, a 504 when the time runs out, else a 502
/// naming the cause. Each resolved address is tried in turn.
pub(crate) async fn connect_tcp(
    host: &str,
    port: u16,
    timeout: Duration,
    destinations: &Destinations,
) -> Result<TcpStream, UpstreamError> {
    destinations.check_host(host, port)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let dial = async {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| classify(&Cause("dns error", e)))?
            .collect();
        if let Some(addr) = addrs.iter().find(|a| destinations.is_this_proxy(**a)) {
            let listening = destinations.listening.get().copied();
            return Err(UpstreamError {
                status: StatusCode::LOOP_DETECTED,
                detail: format!(
                    "{host}:{port} is this proxy itself ({addr}, listening on {}): \
                     the request would come back here forever; name the upstream \
                     in the path (/https://api.example.com/...) or use this address \
                     as an HTTP(S) proxy",
                    listening.map_or_else(String::new, |l| l.to_string())
                ),
            });
        }
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    return Ok(tcp);
                }
                Err(e) => last = Some(e),
            }
        }
        let e = last.unwrap_or_else(|| std::io::Error::other(format!("{host} has no address")));
        Err(classify(&Cause("tcp connect error", e)))
    };
    match tokio::time::timeout(timeout, dial).await {
        Ok(result) => result,
        Err(_) => Err(UpstreamError {
            status: StatusCode::GATEWAY_TIMEOUT,
            detail: format!(
                "tcp connect error: no connection within {} ms",
                timeout.as_millis()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening(addr: &str) -> Destinations {
        let d = Destinations::default();
        d.listening_on(addr.parse().unwrap());
        d
    }

    #[test]
    fn every_spelling_of_this_proxy_is_caught_by_address() {
        let d = listening("127.0.0.1:8080");
        for addr in [
            "127.0.0.1:8080",
            "127.0.0.2:8080",
            "0.0.0.0:8080",
            "[::1]:8080",
            "[::]:8080",
            "[::ffff:127.0.0.1]:8080",
        ] {
            assert!(d.is_this_proxy(addr.parse().unwrap()), "{addr}");
        }
        assert!(!d.is_this_proxy("127.0.0.1:8081".parse().unwrap()));
        assert!(!d.is_this_proxy("192.0.2.1:8080".parse().unwrap()));
        assert!(!Destinations::default().is_this_proxy("127.0.0.1:8080".parse().unwrap()));
    }

    #[test]
    fn a_proxy_on_every_interface_is_reached_by_any_local_address() {
        let d = listening("0.0.0.0:8080");
        assert!(d.is_this_proxy("127.0.0.1:8080".parse().unwrap()));
        // TEST-NET-1 is never assigned to a machine.
        assert!(!d.is_this_proxy("192.0.2.1:8080".parse().unwrap()));
    }

    #[tokio::test]
    async fn resolved_spellings_of_loopback_are_refused_with_508() {
        let d = listening("127.0.0.1:8080");
        for host in [
            "0x7f.1",
            "0",
            "2130706433",
            "[::ffff:127.0.0.1]",
            "127.1",
            "localhost",
        ] {
            let e = connect_tcp(host, 8080, Duration::from_secs(5), &d)
                .await
                .expect_err(host);
            assert_eq!(e.status, StatusCode::LOOP_DETECTED, "{host}: {}", e.detail);
            assert!(e.detail.contains("is this proxy itself"), "{}", e.detail);
        }
    }

    #[test]
    fn allow_host_globs_match_host_or_host_and_port() {
        let d = Destinations::new(&["*.example.com".into(), "localhost:9000".into()]).unwrap();
        assert!(d.check_host("api.example.com", 443).is_ok());
        assert!(d.check_host("API.Example.com", 443).is_ok());
        assert!(d.check_host("localhost", 9000).is_ok());
        let e = d.check_host("localhost", 9001).unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(d.check_host("example.org", 443).is_err());
        assert!(Destinations::new(&[]).unwrap().check_host("any", 1).is_ok());
        assert!(Destinations::new(&["[".into()]).is_err());
    }
}
