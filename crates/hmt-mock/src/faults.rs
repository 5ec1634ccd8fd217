//! Delays and faults, for every source of an answer (stubs, replay, the
//! spec): what `--delay`, `--fault` and the `Prefer` header ask for.
//!
//! - `--delay 300` waits 300 ms before every answer; `--delay 100-500`
//!   a random time in that range. `Prefer: delay=300` (or `100-500`) does
//!   the same for one request and wins over the flag and over a stub's own
//!   delay.
//! - `--fault KIND` breaks every answer, `--fault KIND:10%` one in ten;
//!   `Prefer: fault=KIND` breaks this one (read with the other preferences,
//!   by `respond::Preferences`). Kinds: `reset` (TCP reset),
//!   `random-data` (bytes that are not HTTP, then close), `cut-short`
//!   (`Content-Length` of the whole body, half of it sent, then close),
//!   `dribble` (the body in about a hundred pieces 50 ms apart).

use rand::{Rng, RngExt};
use std::time::Duration;

/// A fixed delay or a random one in a range, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayRange {
    /// Shortest.
    pub min_ms: u64,
    /// Longest (equal to `min_ms` for a fixed delay).
    pub max_ms: u64,
}

/// Longest delay accepted: a mock that waits longer is a hung test.
const MAX_DELAY_MS: u64 = 10 * 60 * 1000;

/// Why a `--delay`, `--fault` or `x-hmt-delay`/`x-hmt-fault` value cannot
/// be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    /// The delay is not a number of milliseconds or a range of them.
    #[error("{0:?} is not a delay in milliseconds (300, or 100-500)")]
    NotADelay(String),
    /// The delay range's low end is above its high end.
    #[error("{0:?}: the range runs backwards")]
    Backwards(String),
    /// The delay is longer than [`MAX_DELAY_MS`].
    #[error("{0:?}: at most {MAX_DELAY_MS} ms")]
    TooLong(String),
    /// No fault has this name.
    #[error("unknown fault {0:?}; one of reset, random-data, cut-short, dribble")]
    UnknownFault(String),
    /// The rate after `:` is not a percentage from 0 to 100.
    #[error("{0:?} is not a percentage (10%)")]
    NotAPercentage(String),
}

impl DelayRange {
    /// Reads `300` or `100-500` (milliseconds).
    pub fn parse(text: &str) -> Result<DelayRange, FaultError> {
        let number = |t: &str| {
            t.trim()
                .trim_end_matches("ms")
                .parse::<u64>()
                .map_err(|_| FaultError::NotADelay(text.to_owned()))
        };
        let (min_ms, max_ms) = match text.split_once('-') {
            Some((min, max)) => (number(min)?, number(max)?),
            None => {
                let ms = number(text)?;
                (ms, ms)
            }
        };
        if min_ms > max_ms {
            return Err(FaultError::Backwards(text.to_owned()));
        }
        if max_ms > MAX_DELAY_MS {
            return Err(FaultError::TooLong(text.to_owned()));
        }
        Ok(DelayRange { min_ms, max_ms })
    }

    /// One delay from the range.
    pub fn pick(&self, rng: &mut impl Rng) -> Duration {
        Duration::from_millis(if self.min_ms == self.max_ms {
            self.min_ms
        } else {
            rng.random_range(self.min_ms..=self.max_ms)
        })
    }
}

/// A way to break an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Close with a TCP reset.
    Reset,
    /// Bytes that are not HTTP, then close.
    RandomData,
    /// Half the body, then close.
    CutShort,
    /// The body slowly.
    Dribble,
}

impl FaultKind {
    /// Reads a kind's name.
    pub fn parse(text: &str) -> Result<FaultKind, FaultError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "reset" | "connection_reset_by_peer" => Ok(FaultKind::Reset),
            "random-data" | "random_data_then_close" => Ok(FaultKind::RandomData),
            "cut-short" => Ok(FaultKind::CutShort),
            "dribble" => Ok(FaultKind::Dribble),
            other => Err(FaultError::UnknownFault(other.to_owned())),
        }
    }
}

/// A fault and how often it happens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    /// What happens.
    pub kind: FaultKind,
    /// To what share of answers, 0 to 1.
    pub rate: f64,
}

impl FaultPlan {
    /// Reads `reset` (every answer) or `reset:10%`.
    pub fn parse(text: &str) -> Result<FaultPlan, FaultError> {
        let (kind, rate) = match text.split_once(':') {
            Some((kind, rate)) => {
                let percent = rate
                    .trim()
                    .trim_end_matches('%')
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| FaultError::NotAPercentage(rate.to_owned()))?;
                (kind, percent / 100.0)
            }
            None => (text, 1.0),
        };
        Ok(FaultPlan {
            kind: FaultKind::parse(kind)?,
            rate,
        })
    }

    /// Whether this answer is broken.
    pub fn strikes(&self, rng: &mut impl Rng) -> bool {
        self.rate >= 1.0 || rng.random::<f64>() < self.rate
    }
}

/// How a dribbled body of `length` bytes is cut: pieces 50 ms apart, at
/// least 16 bytes each and about a hundred at most, so even a large body
/// ends within about five seconds.
pub fn dribble(length: usize) -> hmt_stub::Delivery {
    hmt_stub::Delivery::Dribble {
        bytes: (length / 100).max(16),
        interval: Duration::from_millis(50),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_parse() {
        let table = [
            ("300", Ok((300, 300))),
            ("100-500", Ok((100, 500))),
            (" 5ms ", Ok((5, 5))),
            ("500-100", Err("\"500-100\": the range runs backwards")),
            (
                "soon",
                Err("\"soon\" is not a delay in milliseconds (300, or 100-500)"),
            ),
            ("9999999", Err("\"9999999\": at most 600000 ms")),
        ];
        for (text, expected) in table {
            let got = DelayRange::parse(text)
                .map(|d| (d.min_ms, d.max_ms))
                .map_err(|e| e.to_string());
            assert_eq!(got, expected.map_err(str::to_string), "{text}");
        }
    }

    #[test]
    fn faults_parse() {
        assert_eq!(
            FaultPlan::parse("reset:10%"),
            Ok(FaultPlan {
                kind: FaultKind::Reset,
                rate: 0.1
            })
        );
        assert_eq!(FaultPlan::parse("dribble").map(|f| f.rate), Ok(1.0));
        assert!(FaultPlan::parse("reset:120%").is_err());
        assert_eq!(
            FaultPlan::parse("explode").unwrap_err().to_string(),
            "unknown fault \"explode\"; one of reset, random-data, cut-short, dribble"
        );
        let asked =
            crate::respond::Preferences::parse(Some("code=200, delay=\"20\"; fault=cut-short"));
        assert_eq!(
            (asked.delay, asked.fault),
            (
                Some(DelayRange {
                    min_ms: 20,
                    max_ms: 20
                }),
                Some(FaultKind::CutShort)
            )
        );
    }
}
