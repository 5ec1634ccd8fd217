//! Reporting a failure that repeats on every request (a log file that
//! cannot be written) without writing a line per request: the first
//! failure of a key is reported at once, then at most one line per
//! interval, which says how many failures were not reported since.
//!
//! Written here rather than taken from a rate-limiting crate (`governor`
//! and the like): those say whether to let an event through, while a
//! report here must also count what was held back and say so, including
//! for a key that stops failing or is forgotten to keep the table bounded.
//! The clock is the caller's (`now`), so tests drive it.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// What to do with one failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Report it now; `unreported` failures of the same key since the
    /// last report were not.
    Report { unreported: u64 },
    /// Hold it back: the key was reported less than an interval ago.
    Hold,
}

/// A key that was failing and was dropped from the table with failures
/// not reported: they should be said now, or never.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreported<K> {
    pub(crate) key: K,
    pub(crate) count: u64,
}

/// One key's failures since its last report.
struct Window {
    reported: Instant,
    unreported: u64,
}

/// Failures per key, at most one report per `interval` each, for at most
/// `capacity` keys (each distinct `Host` a client sends can name a key).
pub(crate) struct Throttle<K> {
    interval: Duration,
    capacity: usize,
    keys: HashMap<K, Window>,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// No failures yet; `capacity` is at least 1.
    pub(crate) fn new(interval: Duration, capacity: usize) -> Throttle<K> {
        Throttle {
            interval,
            capacity: capacity.max(1),
            keys: HashMap::new(),
        }
    }

    /// Whether any key is failing: when not, a success costs nothing more.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// One more failure of `key` at `now`. A new key when the table is
    /// full pushes out the one reported longest ago; if it had failures
    /// not reported, they are returned, to be said now.
    pub(crate) fn failed(&mut self, key: &K, now: Instant) -> (Failure, Option<Unreported<K>>) {
        if let Some(window) = self.keys.get_mut(key) {
            if now.saturating_duration_since(window.reported) < self.interval {
                window.unreported += 1;
                return (Failure::Hold, None);
            }
            let unreported = std::mem::take(&mut window.unreported);
            window.reported = now;
            return (Failure::Report { unreported }, None);
        }
        let pushed_out = if self.keys.len() >= self.capacity {
            self.oldest().and_then(|oldest| {
                let window = self.keys.remove(&oldest)?;
                (window.unreported > 0).then_some(Unreported {
                    key: oldest,
                    count: window.unreported,
                })
            })
        } else {
            None
        };
        self.keys.insert(
            key.clone(),
            Window {
                reported: now,
                unreported: 0,
            },
        );
        (Failure::Report { unreported: 0 }, pushed_out)
    }

    /// `key` works again: it is forgotten (its next failure is reported
    /// at once), and the failures of it not reported are returned.
    pub(crate) fn recovered(&mut self, key: &K) -> Option<Unreported<K>> {
        let window = self.keys.remove(key)?;
        (window.unreported > 0).then(|| Unreported {
            key: key.clone(),
            count: window.unreported,
        })
    }

    /// The key reported longest ago.
    fn oldest(&self) -> Option<K> {
        self.keys
            .iter()
            .min_by_key(|(_, window)| window.reported)
            .map(|(key, _)| key.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN: Duration = Duration::from_secs(10);

    #[test]
    fn the_first_failure_is_reported_then_one_per_interval_with_the_count_held_back() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut throttle = Throttle::new(TEN, 8);
        assert_eq!(
            throttle.failed(&"a", at(0)),
            (Failure::Report { unreported: 0 }, None)
        );
        for ms in [1, 500, 9_999] {
            assert_eq!(throttle.failed(&"a", at(ms)), (Failure::Hold, None));
        }
        // Another key has its own interval.
        assert_eq!(
            throttle.failed(&"b", at(5_000)),
            (Failure::Report { unreported: 0 }, None)
        );
        assert_eq!(
            throttle.failed(&"a", at(10_000)),
            (Failure::Report { unreported: 3 }, None)
        );
        assert_eq!(throttle.failed(&"a", at(10_001)), (Failure::Hold, None));
        assert_eq!(throttle.failed(&"b", at(10_002)), (Failure::Hold, None));
        assert_eq!(
            throttle.failed(&"b", at(15_000)),
            (Failure::Report { unreported: 1 }, None)
        );
        // Quiet for long, then failing again: reported at once, nothing held.
        assert_eq!(
            throttle.failed(&"a", at(60_000)),
            (Failure::Report { unreported: 1 }, None)
        );
        assert_eq!(
            throttle.failed(&"a", at(120_000)),
            (Failure::Report { unreported: 0 }, None)
        );
    }

    #[test]
    fn a_key_that_recovers_says_what_was_held_back_and_starts_over() {
        let start = Instant::now();
        let mut throttle = Throttle::new(TEN, 8);
        throttle.failed(&"a", start);
        throttle.failed(&"a", start + Duration::from_secs(1));
        throttle.failed(&"a", start + Duration::from_secs(2));
        assert_eq!(
            throttle.recovered(&"a"),
            Some(Unreported { key: "a", count: 2 })
        );
        assert!(throttle.is_empty());
        assert_eq!(throttle.recovered(&"a"), None);
        // Failing again: reported at once.
        assert_eq!(
            throttle.failed(&"a", start + Duration::from_secs(3)).0,
            Failure::Report { unreported: 0 }
        );
        // Recovering with nothing held back has nothing to say.
        assert_eq!(throttle.recovered(&"a"), None);
    }

    #[test]
    fn the_table_stays_bounded_and_a_key_pushed_out_says_what_was_held_back() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut throttle = Throttle::new(TEN, 2);
        throttle.failed(&1, at(0));
        throttle.failed(&1, at(1));
        throttle.failed(&2, at(2));
        // 1 was reported longest ago, with one failure held back.
        assert_eq!(
            throttle.failed(&3, at(3)),
            (
                Failure::Report { unreported: 0 },
                Some(Unreported { key: 1, count: 1 })
            )
        );
        assert_eq!(throttle.keys.len(), 2);
        // 2 goes next, with nothing held back.
        assert_eq!(
            throttle.failed(&4, at(4)),
            (Failure::Report { unreported: 0 }, None)
        );
        assert_eq!(throttle.keys.len(), 2);
        for n in 5..1000 {
            throttle.failed(&n, at(n));
        }
        assert_eq!(throttle.keys.len(), 2);
    }
}
