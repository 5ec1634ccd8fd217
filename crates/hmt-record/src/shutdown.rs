//! Graceful-shutdown bookkeeping: what phase the proxy is in, and which
//! work is still in flight.
//!
//! Every connection, tunnel and exchange holds an [`InFlight`] token;
//! [`Lifecycle::drain`] waits until the last token is dropped. Tasks watch
//! the [`Phase`]: on `Draining` connections finish their current requests
//! and close, on `Abort` everything still running gives up.

use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Where the proxy is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// Accepting and serving.
    Serving,
    /// No longer accepting; in-flight work finishes.
    Draining,
    /// The grace period is over; in-flight work stops now.
    Abort,
}

/// A token held by a piece of in-flight work.
#[derive(Clone, Debug)]
pub(crate) struct InFlight(#[allow(dead_code)] mpsc::Sender<()>);

/// The proxy side of the bookkeeping.
pub(crate) struct Lifecycle {
    phase: watch::Sender<Phase>,
    token: InFlight,
    done: mpsc::Receiver<()>,
}

/// What the work sees: the phase, and a token to clone.
#[derive(Clone, Debug)]
pub(crate) struct Watch {
    phase: watch::Receiver<Phase>,
    token: InFlight,
}

impl Lifecycle {
    pub(crate) fn new() -> Lifecycle {
        let (phase, _) = watch::channel(Phase::Serving);
        let (tx, done) = mpsc::channel(1);
        Lifecycle {
            phase,
            token: InFlight(tx),
            done,
        }
    }

    /// A handle for a new task.
    pub(crate) fn watch(&self) -> Watch {
        Watch {
            phase: self.phase.subscribe(),
            token: self.token.clone(),
        }
    }

    /// Tells the work to finish, waits up to `grace` for it, then tells what
    /// is left to stop and gives it a moment to do so. Returns whether
    /// everything finished within `grace`.
    pub(crate) async fn drain(mut self, grace: Duration) -> bool {
        self.phase.send_replace(Phase::Draining);
        drop(self.token);
        if tokio::time::timeout(grace, self.done.recv()).await.is_ok() {
            return true;
        }
        self.phase.send_replace(Phase::Abort);
        let _ = tokio::time::timeout(Duration::from_secs(1), self.done.recv()).await;
        false
    }
}

impl Watch {
    /// A token for a piece of work that outlives the task that starts it.
    pub(crate) fn token(&self) -> InFlight {
        self.token.clone()
    }

    /// The phase now.
    pub(crate) fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Resolves once the proxy has reached `phase` (or is gone).
    pub(crate) async fn reached(&mut self, phase: Phase) {
        let _ = self.phase.wait_for(|p| *p >= phase).await;
    }
}
