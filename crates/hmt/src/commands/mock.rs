//! `hmt mock`: serve OpenAPI specs and recordings.

use crate::commands::state::{self, Service};
use anyhow::{Context, Result, bail};
use clap::Args;
use hmt_build::initial::OpenApiVersion;
use hmt_build::{Builder, Mode, Options};
use hmt_mock::{Loaded, Mock, MockConfig};
use hmt_types::Input;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `hmt mock`.
#[derive(Args, Clone)]
pub struct MockArgs {
    /// OpenAPI specs (JSON or YAML, 3.0 or 3.1), or directories searched recursively.
    #[arg(value_name = "PATH")]
    specs: Vec<PathBuf>,
    /// Serve the exchanges in these recordings (http-types JSONL or HAR, plain or gzip) exactly,
    /// without a build step. Repeatable.
    #[arg(long = "recordings", value_name = "FILE")]
    recordings: Vec<PathBuf>,
    /// Port to listen on.
    #[arg(short = 'p', long, default_value_t = 8000)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port of the admin API (on 127.0.0.1).
    #[arg(short = 'a', long = "admin-port", default_value_t = 8888)]
    admin_port: u16,
    /// Route by the Host header and `x-hmt-scheme` instead of by path.
    #[arg(short = 'r', long = "header-routing")]
    header_routing: bool,
    /// Make generated data reproducible: the same request gets the same data.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Answer with a random documented response (HMT's behaviour) instead of the lowest 2xx.
    #[arg(long = "random-responses")]
    random_responses: bool,
    /// Don't check requests against their schemas.
    #[arg(long = "no-validate")]
    no_validate: bool,
    /// Don't require the credentials operations declare.
    #[arg(long = "no-auth")]
    no_auth: bool,
    /// Answer CORS preflights and allow every origin.
    #[arg(long)]
    cors: bool,
    /// Run the `*.rhai` callback scripts in this directory (custom responses and state).
    #[arg(short = 'c', long = "callback-dir", value_name = "DIR")]
    callback_dir: Option<PathBuf>,
    /// Reload specs, recordings and callbacks when their files change (a bad edit keeps the last good ones).
    #[arg(long)]
    watch: bool,
    /// Run in the background; `hmt mock -k` stops it, `hmt mock -s` shows it.
    #[arg(short = 'd', long)]
    daemon: bool,
    /// Stop the mock started with `--daemon`.
    #[arg(short = 'k', long, conflicts_with_all = ["daemon", "status"])]
    kill: bool,
    /// Show the mock started with `--daemon`: addresses, specs, operations.
    #[arg(short = 's', long)]
    status: bool,
    /// Write every served exchange here as http-types JSONL, one `<host>-mock.jsonl` per host.
    #[arg(short = 'l', long = "log-dir", value_name = "DIR")]
    log_dir: Option<PathBuf>,
}

/// Set in the environment of the process `--daemon` starts.
const DAEMON_CHILD: &str = "HMT_MOCK_DAEMON_CHILD";

/// What `hmt mock -s` shows.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MockState {
    pid: u32,
    address: String,
    admin: String,
    specs: Vec<String>,
    operations: usize,
}

impl Service for MockState {
    const NAME: &'static str = "mock";
    const NOUN: &'static str = "mock";
    const STOP: &'static str = "hmt mock -k";
    fn pid(&self) -> u32 {
        self.pid
    }
    fn address(&self) -> &str {
        &self.address
    }
}

/// Runs `hmt mock`.
pub fn run(args: MockArgs) -> Result<()> {
    if args.kill {
        return state::stop::<MockState>();
    }
    if args.status {
        let state = state::running::<MockState>()?;
        println!("address:    http://{}", state.address);
        println!("admin:      http://{}", state.admin);
        println!("pid:        {}", state.pid);
        println!("specs:      {}", state.specs.join(", "));
        println!("operations: {}", state.operations);
        return Ok(());
    }
    if args.daemon && std::env::var_os(DAEMON_CHILD).is_none() {
        return state::daemonize::<MockState>(DAEMON_CHILD);
    }
    if args.specs.is_empty() && args.recordings.is_empty() {
        bail!("nothing to serve: give spec files or directories, or --recordings FILE");
    }
    let started = std::time::Instant::now();
    let loaded = load(&args)?;
    let operations: usize = loaded.specs.iter().map(|s| s.operations.len()).sum();
    let specs = loaded.specs.len();
    let callbacks = match loaded.callback_count() {
        0 => String::new(),
        n => format!(", {n} callback{}", plural(n)),
    };
    let config = MockConfig {
        header_routing: args.header_routing,
        seed: args.seed,
        random_responses: args.random_responses,
        validate: !args.no_validate,
        auth: !args.no_auth,
        cors: args.cors,
        log_dir: args.log_dir.clone(),
        ..MockConfig::default()
    };
    let mock = Arc::new(Mock::new(config, loaded).context("cannot open the log directory")?);
    let _watcher = if args.watch {
        let watched: Vec<PathBuf> = args
            .specs
            .iter()
            .chain(&args.recordings)
            .chain(&args.callback_dir)
            .cloned()
            .collect();
        let (mock, args) = (mock.clone(), args.clone());
        let reload = move || match load(&args) {
            Ok(loaded) => {
                let operations: usize = loaded.specs.iter().map(|s| s.operations.len()).sum();
                mock.replace(loaded);
                eprintln!(
                    "hmt mock: reloaded, {operations} operation{}",
                    plural(operations)
                );
            }
            Err(error) => {
                eprintln!("hmt mock: not reloaded, still serving the last good specs: {error:#}")
            }
        };
        Some(hmt_mock::watch::watch(&watched, reload).context("cannot watch the spec files")?)
    } else {
        None
    };
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        let address = SocketAddr::new(args.bind, args.port);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let admin_address = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), args.admin_port);
        let admin_listener = tokio::net::TcpListener::bind(admin_address)
            .await
            .with_context(|| format!("cannot listen on {admin_address} for the admin API (-a PORT to choose another)"))?;
        eprintln!(
            "hmt mock: {specs} spec{}, {operations} operation{}{callbacks} on http://{}, admin API on http://{} (ready in {} ms)",
            plural(specs),
            plural(operations),
            listener.local_addr()?,
            admin_listener.local_addr()?,
            started.elapsed().as_millis()
        );
        if args.daemon {
            state::write(&MockState {
                pid: std::process::id(),
                address: listener.local_addr()?.to_string(),
                admin: admin_listener.local_addr()?.to_string(),
                specs: args.specs.iter().chain(&args.recordings).map(|p| p.display().to_string()).collect(),
                operations,
            })?;
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let admin = {
            let mock = mock.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(hmt_mock::listen::serve(
                admin_listener,
                Arc::new(move |request| {
                    let mock = mock.clone();
                    async move { hmt_mock::admin::handle(&mock, request).await }
                }),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
                Duration::from_secs(5),
            ))
        };
        let handler = {
            let mock = mock.clone();
            Arc::new(move |request| {
                let mock = mock.clone();
                async move { mock.handle(request).await }
            })
        };
        hmt_mock::listen::serve(listener, handler, super::shutdown_signal(), Duration::from_secs(5)).await;
        let _ = stop.send(true);
        let _ = admin.await;
        if args.daemon {
            state::remove::<MockState>();
        }
        eprintln!("hmt mock: stopped");
        anyhow::Ok(())
    })
}

/// Specs, then one replay spec per host of the recordings, and callbacks.
fn load(args: &MockArgs) -> Result<Loaded> {
    let (specs, recordings) = (&args.specs, &args.recordings);
    let mut compiled = if specs.is_empty() {
        Vec::new()
    } else {
        hmt_mock::load(specs)?
    };
    for file in recordings {
        let mut builder = Builder::new(Options {
            mode: Mode::Replay,
            openapi: OpenApiVersion::V31,
            initial: None,
        });
        let name = file.display().to_string();
        let input = Input::open(&name).with_context(|| format!("cannot open {name}"))?;
        for exchange in input.exchanges() {
            builder.add(&exchange?);
        }
        let output = builder.finish();
        if output.specs.is_empty() {
            bail!("{name}: no exchanges to serve");
        }
        for built in output.specs {
            let loaded =
                hmt_mock::load::load_document(file, built.document, &mut Default::default())?;
            let mut spec = hmt_mock::compile(loaded)?;
            spec.strict_replay = true;
            compiled.push(spec);
        }
    }
    let loaded = Loaded::new(compiled);
    Ok(match &args.callback_dir {
        Some(dir) => loaded.with_callbacks(hmt_mock::callbacks::Callbacks::load(dir)?),
        None => loaded,
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
