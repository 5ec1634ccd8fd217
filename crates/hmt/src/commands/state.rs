//! The state files of background services (`hmt record -d`, `hmt mock
//! -d`), shared by the service and by the commands that stop it or show
//! its status, and the process plumbing of `--daemon`.
//!
//! A service writes `$HMT_HOME/<name>.json` (default `~/.hmt`) when it
//! starts listening and removes it when it exits; the recorder rewrites
//! it every second with its counts. A file rather than an admin port,
//! because the recorder's own port carries user traffic in every routing
//! mode.

use anyhow::{Context, Result, bail};
use hmt_record::recorder::{CountSnapshot, Recorder};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A background service, as its state file describes it.
pub(crate) trait Service: Serialize + serde::de::DeserializeOwned {
    /// The state file's stem and the log's: `record`, `mock`.
    const NAME: &'static str;
    /// What it is called in messages: `recorder`, `mock`.
    const NOUN: &'static str;
    /// The command that stops it.
    const STOP: &'static str;
    /// Its process id.
    fn pid(&self) -> u32;
    /// Where it listens.
    fn address(&self) -> &str;
}

/// What `hmt record status` shows.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RecorderState {
    pub pid: u32,
    pub address: String,
    pub mode: String,
    pub sinks: Vec<String>,
    pub counts: CountSnapshot,
}

impl Service for RecorderState {
    const NAME: &'static str = "record";
    const NOUN: &'static str = "recorder";
    const STOP: &'static str = "hmt record stop";
    fn pid(&self) -> u32 {
        self.pid
    }
    fn address(&self) -> &str {
        &self.address
    }
}

/// `$HMT_HOME`, or `~/.hmt`.
pub(crate) fn hmt_home() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("HMT_HOME") {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME").context("HOME is not set; set HMT_HOME")?;
    Ok(PathBuf::from(home).join(".hmt"))
}

fn state_file<S: Service>() -> Result<PathBuf> {
    Ok(hmt_home()?.join(format!("{}.json", S::NAME)))
}

/// Writes the state file atomically.
pub(crate) fn write<S: Service>(state: &S) -> Result<()> {
    let path = state_file::<S>()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(state)?)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))
}

/// Reads the state file.
pub(crate) fn read<S: Service>() -> Result<S> {
    let path = state_file::<S>()?;
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a {} state", path.display(), S::NOUN))
}

/// The running service's state; an error when there is none.
pub(crate) fn running<S: Service>() -> Result<S> {
    let state = read::<S>().with_context(|| format!("no {} is running", S::NOUN))?;
    if !is_alive(state.pid()) {
        remove::<S>();
        bail!(
            "the {} (pid {}) is not running any more",
            S::NOUN,
            state.pid()
        );
    }
    Ok(state)
}

/// Starts this same command line again, detached, with `marker` set in its
/// environment (the child serves in the foreground), and returns once the
/// child's state file says it is listening.
pub(crate) fn daemonize<S: Service>(marker: &str) -> Result<()> {
    if let Ok(existing) = read::<S>() {
        if is_alive(existing.pid()) {
            bail!(
                "a {} is already running (pid {}, {}); `{}` stops it",
                S::NOUN,
                existing.pid(),
                existing.address(),
                S::STOP
            );
        }
        remove::<S>();
    }
    let log = hmt_home()?.join(format!("{}.log", S::NAME));
    let pid = spawn_detached(std::env::args_os().skip(1), marker, &log)?;
    for _ in 0..200 {
        if let Ok(state) = read::<S>()
            && state.pid() == pid
        {
            println!(
                "hmt {}: running in the background (pid {pid}) on {}; logs in {}",
                S::NAME,
                state.address(),
                log.display()
            );
            return Ok(());
        }
        if !is_alive(pid) {
            bail!("the {} exited at start; see {}", S::NOUN, log.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "the {} did not start listening in 10 s; see {}",
        S::NOUN,
        log.display()
    )
}

/// Stops the running service with SIGTERM and waits for it to exit.
pub(crate) fn stop<S: Service>() -> Result<()> {
    let state = running::<S>()?;
    terminate(state.pid())?;
    for _ in 0..600 {
        if !is_alive(state.pid()) {
            println!("hmt {}: stopped (pid {})", S::NAME, state.pid());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "the {} (pid {}) did not stop within 60 s",
        S::NOUN,
        state.pid()
    )
}

/// Removes the state file (the service is gone).
pub(crate) fn remove<S: Service>() {
    if let Ok(path) = state_file::<S>() {
        let _ = std::fs::remove_file(path);
    }
}

/// Rewrites the state file every second with the current counts and, on a
/// terminal, keeps a live status line on stderr.
pub(crate) async fn keep_updated(
    mut state: RecorderState,
    recorder: Arc<Recorder>,
    live_line: bool,
) {
    let counters = recorder.counters();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut n = 0u64;
    loop {
        tick.tick().await;
        n += 1;
        state.counts = counters.snapshot();
        if n.is_multiple_of(2) && write(&state).is_err() {
            tracing::warn!("cannot update the recorder state file");
        }
        if live_line {
            let c = state.counts;
            let mut err = std::io::stderr().lock();
            let lag = recorder.backlog();
            let _ = write!(
                err,
                "\r\x1b[2K{} recorded, {}, {} filtered, {} errors{}",
                c.recorded,
                human_bytes(c.bytes),
                c.filtered,
                c.sink_errors + c.upstream_errors,
                if lag > 0 {
                    format!(", kafka lag {lag}")
                } else {
                    String::new()
                }
            );
            let _ = err.flush();
        }
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// Whether a process exists.
pub(crate) fn is_alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .arg("-0")
        .arg(pid.to_string())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Sends SIGTERM.
pub(crate) fn terminate(pid: u32) -> Result<()> {
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .context("cannot run kill")?;
    if !status.success() {
        bail!("could not signal pid {pid}");
    }
    Ok(())
}

/// Starts this executable with `args` and `marker=1` in its environment, in
/// its own process group, stdin closed and output appended to `log`;
/// returns its pid.
pub(crate) fn spawn_detached(
    args: impl Iterator<Item = OsString>,
    marker: &str,
    log: &Path,
) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let err = out.try_clone()?;
    let exe = std::env::current_exe().context("cannot find the hmt executable")?;
    let child = std::process::Command::new(exe)
        .args(args)
        .env(marker, "1")
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .context("cannot start hmt in the background")?;
    Ok(child.id())
}
