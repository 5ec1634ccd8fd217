//! One module per verb.

pub mod build;
pub mod ca;
pub mod check;
pub mod convert;
pub mod kafka;
pub mod mock;
pub mod record;
pub mod state;

/// `--kafka-option KEY=VALUE` flags as librdkafka settings.
pub fn kafka_options(options: &[String]) -> anyhow::Result<Vec<(String, String)>> {
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
pub async fn shutdown_signal() {
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

/// The async runtime for a server: tokio's multi-thread scheduler with one
/// worker thread per CPU the process may use (`TOKIO_WORKER_THREADS`
/// overrides it). On a single CPU a proxy, which only moves bytes, gets a
/// current-thread runtime, since a multi-thread scheduler there only adds
/// cross-thread wake-ups; the mock keeps the multi-thread one even there,
/// because heavy work (generation, callbacks) can only be handed off a
/// multi-thread runtime (see `hmt_mock::offload`) and one slow request must
/// not hold up the others.
pub fn runtime(offloads_heavy_work: bool) -> anyhow::Result<tokio::runtime::Runtime> {
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
