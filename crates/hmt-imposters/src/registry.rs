//! The set of running imposters: create, replace, delete, each change
//! whole or not at all.

use crate::error::ApiError;
use crate::imposter::{Definition, Imposter, SavedLimit};
use crate::serve;
use hmt_stub::CompileOptions;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

/// How imposters are run; one per `hmt mock` process.
#[derive(Clone)]
pub struct ImpostersConfig {
    /// Address imposters listen on.
    pub bind: IpAddr,
    /// Whether JavaScript is allowed (mountebank's `--allowInjection`).
    pub allow_injection: bool,
    /// Requests each imposter keeps with `recordRequests`.
    pub saved: SavedLimit,
    /// mountebank's `--datadir`: imposters saved here survive a restart.
    pub datadir: Option<PathBuf>,
    /// mountebank's `--debug`: each stub shows the requests it answered (`matches`).
    pub debug: bool,
    /// Loads hmt's extension `"hmt": {"specs", "recordings"}`; without it,
    /// imposters that name specs or recordings are refused.
    pub sources: Option<Arc<dyn crate::SourceLoader>>,
    /// A connection to an imposter idle this long is closed, and a
    /// request's headers must arrive within it (`hmt mock --idle-timeout`,
    /// as on the mock's own ports).
    pub idle_timeout: Duration,
}

impl std::fmt::Debug for ImpostersConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImpostersConfig")
            .field("bind", &self.bind)
            .field("allow_injection", &self.allow_injection)
            .field("saved", &self.saved)
            .field("datadir", &self.datadir)
            .field("debug", &self.debug)
            .field("sources", &self.sources.is_some())
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

impl Default for ImpostersConfig {
    fn default() -> ImpostersConfig {
        ImpostersConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            allow_injection: false,
            saved: SavedLimit::default(),
            datadir: None,
            debug: false,
            sources: None,
            idle_timeout: hmt_mock::listen::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

struct Running {
    imposter: Arc<Imposter>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// The running imposters, by port.
pub struct Imposters {
    running: Mutex<BTreeMap<u16, Running>>,
    config: ImpostersConfig,
}

/// A definition checked and compiled, ready to bind.
struct Prepared {
    definition: Definition,
    stubs: hmt_stub::Stubs,
    options: CompileOptions,
    mock: Option<Arc<hmt_mock::Mock>>,
}

impl Imposters {
    /// No imposters yet.
    pub fn new(config: ImpostersConfig) -> Imposters {
        Imposters {
            running: Mutex::new(BTreeMap::new()),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ImpostersConfig {
        &self.config
    }

    /// Each imposter gets its own JavaScript runtime, as mountebank gives
    /// each its own `state`.
    fn options(&self) -> Result<CompileOptions, ApiError> {
        if !self.config.allow_injection {
            return Ok(CompileOptions::default());
        }
        let engine = hmt_js::Engine::new(hmt_js::Limits::default()).map_err(|error| {
            ApiError::bad_data(format!("cannot start the JavaScript engine: {error}"))
        })?;
        Ok(CompileOptions {
            scripts: Some(Arc::new(engine)),
        })
    }

    fn prepare(&self, json: &Value, at: &str) -> Result<Prepared, ApiError> {
        let definition = Definition::parse(json, at)?;
        let options = self.options()?;
        let stubs = definition.compile(&options, at)?;
        let mock = if definition.sources.is_empty() {
            None
        } else {
            let loader = self.config.sources.as_ref().ok_or_else(|| {
                ApiError::bad_data("this server cannot load specs or recordings for imposters")
            })?;
            let loaded = loader
                .load(&definition.sources)
                .map_err(|error| ApiError::bad_data(format!("at {at}/hmt: {error}")))?;
            let mock = hmt_mock::Mock::new(hmt_mock::MockConfig::default(), loaded)
                .map_err(|error| ApiError::bad_data(format!("at {at}/hmt: {error}")))?;
            Some(Arc::new(mock))
        };
        Ok(Prepared {
            definition,
            stubs,
            options,
            mock,
        })
    }

    /// `POST /imposters`: creates one; its port is listening on return.
    pub async fn create(&self, json: &Value) -> Result<Arc<Imposter>, ApiError> {
        let prepared = self.prepare(json, "")?;
        let mut running = self.running.lock().await;
        let imposter = self.start(prepared, &mut running)?;
        drop(running);
        imposter.save();
        Ok(imposter)
    }

    fn start(
        &self,
        prepared: Prepared,
        running: &mut BTreeMap<u16, Running>,
    ) -> Result<Arc<Imposter>, ApiError> {
        if let Some(port) = prepared.definition.port
            && running.contains_key(&port)
        {
            return Err(ApiError::resource_conflict(format!(
                "port {port} is already in use by an imposter"
            )));
        }
        let address = SocketAddr::new(self.config.bind, prepared.definition.port.unwrap_or(0));
        let listener = std::net::TcpListener::bind(address)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .and_then(tokio::net::TcpListener::from_std)
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::PermissionDenied => ApiError::insufficient_access(format!(
                    "not permitted to listen on {address}: {error}"
                )),
                _ => ApiError::resource_conflict(format!("cannot listen on {address}: {error}")),
            })?;
        let port = listener
            .local_addr()
            .map_err(|error| ApiError::resource_conflict(error.to_string()))?
            .port();
        let mut imposter = Imposter::new(
            prepared.definition,
            port,
            prepared.stubs,
            self.config.saved,
            prepared.options,
            self.config.datadir.clone(),
            self.config.debug,
        );
        imposter.mock = prepared.mock;
        let imposter = Arc::new(imposter);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve::run(
            listener,
            imposter.clone(),
            stopped,
            self.config.idle_timeout,
        ));
        running.insert(
            port,
            Running {
                imposter: imposter.clone(),
                stop,
                task,
            },
        );
        Ok(imposter)
    }

    /// `PUT /imposters`: replaces every imposter with `list`. Everything is
    /// checked before anything stops; if a port cannot be bound, the new
    /// ones are stopped and the old ones started again.
    pub async fn replace_all(&self, list: &[Value]) -> Result<Vec<Arc<Imposter>>, ApiError> {
        let prepared = list
            .iter()
            .enumerate()
            .map(|(index, json)| self.prepare(json, &format!("/imposters/{index}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut running = self.running.lock().await;
        let old: Vec<Arc<Imposter>> = running.values().map(|run| run.imposter.clone()).collect();
        stop_all(&mut running).await;
        let mut started = Vec::new();
        for prepared in prepared {
            match self.start(prepared, &mut running) {
                Ok(imposter) => started.push(imposter),
                Err(error) => {
                    stop_all(&mut running).await;
                    for imposter in old {
                        let again = self.prepare(
                            &imposter.to_json(
                                crate::Form {
                                    replayable: true,
                                    remove_proxies: false,
                                },
                                "",
                            ),
                            "",
                        );
                        if let Ok(again) = again {
                            let _ = self.start(again, &mut running);
                        }
                    }
                    return Err(error);
                }
            }
        }
        drop(running);
        self.forget_all();
        for imposter in &started {
            imposter.save();
        }
        Ok(started)
    }

    /// The imposter on `port`.
    pub async fn get(&self, port: u16) -> Option<Arc<Imposter>> {
        self.running
            .lock()
            .await
            .get(&port)
            .map(|run| run.imposter.clone())
    }

    /// Every imposter, by port.
    pub async fn all(&self) -> Vec<Arc<Imposter>> {
        self.running
            .lock()
            .await
            .values()
            .map(|run| run.imposter.clone())
            .collect()
    }

    /// `DELETE /imposters/:id`: stops it; its port is closed on return.
    pub async fn delete(&self, port: u16) -> Option<Arc<Imposter>> {
        let run = self.running.lock().await.remove(&port)?;
        let imposter = run.imposter.clone();
        stop(run).await;
        self.forget(port);
        Some(imposter)
    }

    /// `DELETE /imposters`: stops every one; every port is closed on return.
    pub async fn delete_all(&self) -> Vec<Arc<Imposter>> {
        let mut running = self.running.lock().await;
        let all: Vec<Arc<Imposter>> = running.values().map(|run| run.imposter.clone()).collect();
        stop_all(&mut running).await;
        drop(running);
        self.forget_all();
        all
    }

    /// Stops every imposter and keeps what `--datadir` holds: what a
    /// server does when it exits.
    pub async fn shutdown(&self) {
        stop_all(&mut *self.running.lock().await).await;
    }

    fn forget(&self, port: u16) {
        if let Some(dir) = &self.config.datadir {
            let _ = std::fs::remove_file(dir.join(format!("{port}.json")));
        }
    }

    fn forget_all(&self) {
        let Some(dir) = &self.config.datadir else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json") && name.trim_end_matches(".json").parse::<u16>().is_ok() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Starts the imposters saved in `--datadir`, in port order. A file
    /// that cannot be read or started is an error naming it.
    pub async fn restore(&self) -> Result<usize, RestoreError> {
        let Some(dir) = self.config.datadir.clone() else {
            return Ok(0);
        };
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| {
                    path.extension()
                        .is_some_and(|extension| extension == "json")
                        && path
                            .file_stem()
                            .and_then(|stem| stem.to_str())
                            .is_some_and(|stem| stem.parse::<u16>().is_ok())
                })
                .collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(RestoreError::io(&dir, error)),
        };
        files.sort();
        for file in &files {
            let text =
                std::fs::read_to_string(file).map_err(|error| RestoreError::io(file, error))?;
            let json: Value = serde_json::from_str(&text).map_err(|error| RestoreError::Json {
                file: file.clone(),
                error,
            })?;
            self.create(&json)
                .await
                .map_err(|error| RestoreError::Refused {
                    file: file.clone(),
                    message: error.message,
                })?;
        }
        Ok(files.len())
    }
}

/// Why the imposters saved in `--datadir` could not all be started; each
/// names the directory or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The directory or a file in it cannot be read.
    #[error("{}: {error}", .path.display())]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// What reading it said.
        error: std::io::Error,
    },
    /// A saved imposter is not JSON.
    #[error("{}: {error}", .file.display())]
    Json {
        /// The file.
        file: PathBuf,
        /// Where and why it does not parse.
        error: serde_json::Error,
    },
    /// A saved imposter is JSON but cannot be started.
    #[error("{}: {message}", .file.display())]
    Refused {
        /// The file.
        file: PathBuf,
        /// Why the API refused it, as it would answer a POST.
        message: String,
    },
}

impl RestoreError {
    fn io(path: &std::path::Path, error: std::io::Error) -> RestoreError {
        RestoreError::Io {
            path: path.to_owned(),
            error,
        }
    }
}

async fn stop(run: Running) {
    let _ = run.stop.send(true);
    let _ = run.task.await;
}

async fn stop_all(running: &mut BTreeMap<u16, Running>) {
    for (_, run) in std::mem::take(running) {
        stop(run).await;
    }
}
