//! `kafka://` URLs: where recordings are produced to and read from.
//!
//! The form is `kafka://host:port[,host:port...]/topic`. It names a bootstrap
//! list and exactly one topic, nothing else: security settings, group ids and
//! tuning are passed separately as librdkafka options, so a URL can be shown
//! in logs and reports without leaking credentials.

use std::fmt;
use std::str::FromStr;

/// A parsed `kafka://brokers/topic` URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KafkaUrl {
    brokers: Vec<String>,
    topic: String,
}

/// Why a string is not a `kafka://` URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The string does not start with `kafka://`.
    #[error("`{0}` is not a kafka URL: expected kafka://host:port[,host:port...]/topic")]
    Scheme(String),
    /// Nothing between `kafka://` and the topic.
    #[error("`{0}` names no broker: expected kafka://host:port[,host:port...]/topic")]
    NoBrokers(String),
    /// An empty or malformed entry in the broker list.
    #[error("`{url}`: bad broker `{broker}`: expected host or host:port")]
    BadBroker {
        /// The whole URL.
        url: String,
        /// The offending entry.
        broker: String,
    },
    /// No `/topic` after the brokers.
    #[error("`{0}` names no topic: expected kafka://host:port[,host:port...]/topic")]
    NoTopic(String),
    /// The topic is not a legal Kafka topic name.
    #[error(
        "`{url}`: bad topic `{topic}`: a topic is 1 to 249 characters of A-Z, a-z, 0-9, `.`, `_` and `-`"
    )]
    BadTopic {
        /// The whole URL.
        url: String,
        /// The offending topic.
        topic: String,
    },
}

impl KafkaUrl {
    /// Parses `kafka://host:port[,host:port...]/topic`.
    ///
    /// The scheme is matched case-insensitively. A broker without a port is
    /// accepted (librdkafka then uses 9092); IPv6 addresses go in brackets,
    /// `[::1]:9092`. The topic must be a legal Kafka topic name: anything
    /// after it (a second `/`, a `?query`) is rejected rather than ignored,
    /// so a typo cannot silently send recordings somewhere else.
    pub fn parse(s: &str) -> Result<KafkaUrl, UrlError> {
        let rest = s
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("kafka://"))
            .map(|_| &s[8..])
            .ok_or_else(|| UrlError::Scheme(s.to_string()))?;
        let (brokers, topic) = match rest.split_once('/') {
            Some((brokers, topic)) => (brokers, topic),
            None => (rest, ""),
        };
        if brokers.is_empty() {
            return Err(UrlError::NoBrokers(s.to_string()));
        }
        let brokers = brokers
            .split(',')
            .map(|broker| {
                if valid_broker(broker) {
                    Ok(broker.to_string())
                } else {
                    Err(UrlError::BadBroker {
                        url: s.to_string(),
                        broker: broker.to_string(),
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if topic.is_empty() {
            return Err(UrlError::NoTopic(s.to_string()));
        }
        if !valid_topic(topic) {
            return Err(UrlError::BadTopic {
                url: s.to_string(),
                topic: topic.to_string(),
            });
        }
        Ok(KafkaUrl {
            brokers,
            topic: topic.to_string(),
        })
    }

    /// The brokers, as written.
    pub fn brokers(&self) -> &[String] {
        &self.brokers
    }

    /// The brokers joined by commas: librdkafka's `bootstrap.servers`.
    pub fn bootstrap_servers(&self) -> String {
        self.brokers.join(",")
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; no spaces, slashes or other
/// URL syntax. Deliberately loose on the host itself: librdkafka resolves it
/// and gives the real error.
fn valid_broker(broker: &str) -> bool {
    let (host, port) = if let Some(v6) = broker.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, rest)) => match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return false,
            },
            None => return false,
        }
    } else {
        match broker.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (broker, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    host_ok && port_ok
}

/// Kafka's own rule for topic names.
fn valid_topic(topic: &str) -> bool {
    topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl fmt::Display for KafkaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kafka://{}/{}", self.bootstrap_servers(), self.topic)
    }
}

impl FromStr for KafkaUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<KafkaUrl, UrlError> {
        KafkaUrl::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_back() {
        for s in [
            "kafka://localhost:9092/recordings",
            "kafka://a:9092,b.example.com:9093/hmt.recordings_v1-x",
            "kafka://broker/t",
            "kafka://[::1]:9092,[fe80::1]/t",
        ] {
            let url = KafkaUrl::parse(s).unwrap();
            assert_eq!(url.to_string(), s);
            assert_eq!(s.parse::<KafkaUrl>().unwrap(), url);
        }
        let url = KafkaUrl::parse("KAFKA://a:1,b:2/topic").unwrap();
        assert_eq!(url.brokers(), ["a:1", "b:2"]);
        assert_eq!(url.bootstrap_servers(), "a:1,b:2");
        assert_eq!(url.topic(), "topic");
        assert_eq!(url.to_string(), "kafka://a:1,b:2/topic");
    }

    #[test]
    fn rejects_with_clear_errors() {
        let err = |s: &str| KafkaUrl::parse(s).unwrap_err();
        assert!(matches!(err("http://a:9092/t"), UrlError::Scheme(_)));
        assert!(matches!(err("kafka:/a/t"), UrlError::Scheme(_)));
        assert!(matches!(err(""), UrlError::Scheme(_)));
        assert!(matches!(err("kafka:///t"), UrlError::NoBrokers(_)));
        assert!(matches!(err("kafka://"), UrlError::NoBrokers(_)));
        assert!(matches!(err("kafka://a:9092"), UrlError::NoTopic(_)));
        assert!(matches!(err("kafka://a:9092/"), UrlError::NoTopic(_)));
        assert!(matches!(
            err("kafka://a:9092,/t"),
            UrlError::BadBroker { .. }
        ));
        assert!(matches!(err("kafka://,a/t"), UrlError::BadBroker { .. }));
        assert!(matches!(err("kafka://a:x/t"), UrlError::BadBroker { .. }));
        assert!(matches!(err("kafka://a:0/t"), UrlError::BadBroker { .. }));
        assert!(matches!(err("kafka://u@a/t"), UrlError::BadBroker { .. }));
        assert!(matches!(err("kafka://[::1/t"), UrlError::BadBroker { .. }));
        assert!(matches!(err("kafka://a/t/u"), UrlError::BadTopic { .. }));
        assert!(matches!(err("kafka://a/t?x=1"), UrlError::BadTopic { .. }));
        assert!(matches!(err("kafka://a/.."), UrlError::BadTopic { .. }));
        let long = format!("kafka://a/{}", "t".repeat(250));
        assert!(matches!(err(&long), UrlError::BadTopic { .. }));
        assert_eq!(
            err("kafka://a:9092").to_string(),
            "`kafka://a:9092` names no topic: expected kafka://host:port[,host:port...]/topic"
        );
    }
}
