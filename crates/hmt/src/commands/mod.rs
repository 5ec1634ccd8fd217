//! One module per verb.

pub(crate) mod build;
pub(crate) mod ca;
pub(crate) mod check;
pub(crate) mod convert;
pub(crate) mod kafka;
pub(crate) mod mock;
pub(crate) mod record;
pub(crate) mod schema;
pub(crate) mod state;
pub(crate) mod tutorial;

/// `--kafka-option KEY=VALUE` flags as librdkafka settings.
pub(crate) fn kafka_options(options: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    use anyhow::Context;
    options
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("--kafka-option {kv} is not KEY=VALUE"))
        })
        .collect()
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("stopping: no new connections; letting in-flight requests finish");
}

/// `shutdown_signal` with its handlers installed now, not when it is first
/// polled: a server that says it is up (a banner, a state file that `hmt
/// mock stop` reads) before it starts serving must already catch SIGTERM,
/// or the signal's default action kills it with nothing cleaned up. Call it
/// inside the runtime.
pub(crate) fn shutdown_signal_installed() -> impl std::future::Future<Output = ()> {
    let mut signal = Box::pin(shutdown_signal());
    // One poll runs the body up to its first wait, which installs both
    // handlers; a signal already delivered makes it ready at once.
    let waker = std::task::Waker::noop();
    let done = signal
        .as_mut()
        .poll(&mut std::task::Context::from_waker(waker))
        .is_ready();
    async move {
        if !done {
            signal.await;
        }
    }
}

/// The async runtime for a server: tokio's multi-thread scheduler with one
/// worker thread per CPU the process may use (`TOKIO_WORKER_THREADS`
/// overrides it). On a single CPU a proxy, which only moves bytes, gets a
/// current-thread runtime, since a multi-thread scheduler there only adds
/// cross-thread wake-ups; the mock keeps the multi-thread one even there,
/// because heavy work (generation, callbacks) can only be handed off a
/// multi-thread runtime (see `hmt_mock::offload`) and one slow request must
/// not hold up the others.
pub(crate) fn runtime(offloads_heavy_work: bool) -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mut builder = if cpus == 1 && !offloads_heavy_work {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sigterm_the_moment_the_handlers_are_installed_is_caught() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let shutdown = super::shutdown_signal_installed();
            // Before the future is ever polled again: with handlers that
            // were only installed on a first poll, this would end the
            // test's process.
            // SAFETY: raise(3) sends a signal to this process; no memory is involved.
            unsafe { libc::raise(libc::SIGTERM) };
            tokio::time::timeout(std::time::Duration::from_secs(10), shutdown)
                .await
                .expect("SIGTERM resolves the shutdown future");
        });
    }
}
