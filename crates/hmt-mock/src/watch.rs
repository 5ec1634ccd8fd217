//! `--watch`: reload when spec or callback files change.
//!
//! Editors save in bursts (write a temporary file, rename, touch), so
//! events are gathered until the files have been quiet for a moment, and
//! then `reload` runs once. What `reload` does with a bad edit is its
//! business: the mock keeps serving the last good specs.

use notify::{RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// How long files must be quiet before a reload.
const QUIET: Duration = Duration::from_millis(200);

/// Watches `paths` (files or directories, recursively) and calls `reload`
/// after each burst of changes, on a thread of its own. Watching stops
/// when the returned watcher is dropped.
pub fn watch(
    paths: &[PathBuf],
    reload: impl Fn() + Send + 'static,
) -> notify::Result<notify::RecommendedWatcher> {
    let (tx, rx) = mpsc::channel::<()>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if event.kind.is_access() => {}
            Ok(_) => {
                let _ = tx.send(());
            }
            Err(error) => tracing::warn!("watching specs: {error}"),
        })?;
    for path in paths {
        watcher.watch(path, RecursiveMode::Recursive)?;
    }
    std::thread::Builder::new()
        .name("hmt-watch".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                while rx.recv_timeout(QUIET).is_ok() {}
                reload();
            }
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(watcher)
}
