//! `hmt mock`: serve OpenAPI specs and recordings.

use crate::commands::state::{self, Service};
use crate::logging::LogFormat;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hmt_mock::{Loaded, Mock, MockConfig};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `hmt mock`.
#[derive(Args, Clone)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct MockArgs {
    #[command(subcommand)]
    command: Option<MockCommand>,
    /// OpenAPI specs (JSON or YAML, 3.0 or 3.1), or directories searched recursively.
    #[arg(value_name = "PATH")]
    specs: Vec<PathBuf>,
    /// Serve the exchanges in these recordings (http-types JSONL or HAR, plain or gzip) exactly,
    /// without a build step; with --stateful they also seed the store. Repeatable.
    #[arg(long = "recordings", value_name = "FILE")]
    recordings: Vec<PathBuf>,
    /// Port to listen on (default 8000). Without specs or recordings, no mock port is
    /// opened unless this is given: the admin API and its imposters are the server.
    #[arg(short = 'p', long)]
    port: Option<u16>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Port of the admin API (on --admin-bind): hmt's `/admin/...` and mountebank's
    /// imposters API (`/imposters`, `/config`, `/logs`). Use 2525 for mountebank's clients.
    #[arg(
        short = 'a',
        long = "admin-port",
        alias = "admin_port",
        default_value_t = 8888
    )]
    admin_port: u16,
    // ---- what the mock lets clients do to its host (issue 12) ----
    /// Address of the admin API: `0.0.0.0` in a container. On a loopback address it answers
    /// only requests for localhost (DNS rebinding); anywhere, a POST/PUT/PATCH/DELETE from
    /// another site's Origin is refused.
    #[arg(long = "admin-bind", value_name = "ADDR", default_value = "127.0.0.1")]
    admin_bind: IpAddr,
    /// Let pregen webhooks call this host too (only loopback hosts otherwise). Repeatable.
    #[arg(long = "allow-webhook", value_name = "HOST")]
    allow_webhook: Vec<String>,
    /// The most memory callback `storage` may take (`64MiB`, `512KiB`); a script storing more gets an error.
    #[arg(long = "callback-storage-bytes", value_name = "BYTES", default_value = "64MiB", value_parser = super::build::parse_bytes)]
    callback_storage_bytes: u64,
    /// Close a client connection (to the mock, the admin API or an imposter) after this many
    /// seconds with nothing sent or received (and one whose request headers take longer to arrive).
    #[arg(long = "idle-timeout", value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Requests `GET /admin/requests` keeps (the oldest go first).
    #[arg(long = "journal-requests", value_name = "N", default_value_t = 10_000)]
    journal_requests: usize,
    /// Bytes of requests and responses `GET /admin/requests` keeps (the oldest go first;
    /// bodies over 1 MiB are kept cut, marked `meta.*BodyTruncated`).
    #[arg(long = "journal-bytes", value_name = "BYTES", default_value = "64MiB", value_parser = super::build::parse_bytes)]
    journal_bytes: u64,
    /// Let specs' `$ref`s read files under this directory too (only the spec's own directory
    /// otherwise). Repeatable.
    #[arg(long = "allow-ref-outside", value_name = "DIR")]
    allow_ref_outside: Vec<PathBuf>,
    // ---- end of issue 12's flags ----
    /// Allow JavaScript in imposters (mountebank's --allowInjection); refused otherwise.
    #[arg(long = "allow-injection")]
    allow_injection: bool,
    /// Keep imposters in this directory, so that they survive a restart (mountebank's --datadir).
    #[arg(long, value_name = "DIR")]
    datadir: Option<PathBuf>,
    /// Create the imposters in this JSON file at start (`{"imposters": [...]}`, mountebank's --configfile).
    #[arg(long, value_name = "FILE")]
    configfile: Option<PathBuf>,
    /// Requests each imposter keeps with `recordRequests` (the oldest go first; at most 64 MiB of them).
    #[arg(long = "saved-requests", value_name = "N", default_value_t = 10_000)]
    saved_requests: usize,
    /// Each imposter stub shows the requests it answered (`matches`), as mountebank's --debug.
    #[arg(long)]
    debug: bool,
    /// Route by the Host header and `x-hmt-scheme` instead of by path.
    #[arg(short = 'r', long = "header-routing", alias = "header_routing")]
    header_routing: bool,
    /// Make generated data reproducible: the same request gets the same data.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Answer with a random documented response (HMT's behaviour) instead of the lowest 2xx.
    #[arg(long = "random-responses")]
    random_responses: bool,
    /// How refused requests are answered: `documented`, the operation's documented response for that status (or 4XX, or default) with hmt's reason in `x-hmt-problem`; `problem`, always hmt's application/problem+json.
    #[arg(long, value_name = "STYLE", default_value = "documented", value_parser = ["documented", "problem"])]
    errors: String,
    /// Answer with generated valid data instead of documented examples that do not validate against their schema (each is reported at start either way).
    #[arg(long = "strict-examples")]
    strict_examples: bool,
    /// Don't check requests against their schemas.
    #[arg(long = "no-validate")]
    no_validate: bool,
    /// Don't require the credentials operations declare.
    #[arg(long = "no-auth")]
    no_auth: bool,
    /// Answer CORS preflights and allow every origin.
    #[arg(long)]
    cors: bool,
    /// Remember what clients create: POST to a collection stores, GET/PUT/PATCH/DELETE on items act on the store, which starts from the list examples and --recordings (GET /admin/state, ?format=http-types to export; DELETE /admin/state to reset, ?empty=true to empty).
    #[arg(long)]
    stateful: bool,
    /// Wait before every answer: `300` ms, or `100-500` for a random time (`Prefer: delay=MS` per request).
    #[arg(long, value_name = "MS", value_parser = hmt_mock::faults::DelayRange::parse)]
    delay: Option<hmt_mock::faults::DelayRange>,
    /// `recorded`: replay each recorded response after the latency it was recorded with (`meta.latencyMs`).
    #[arg(long, value_name = "recorded", value_parser = ["recorded"])]
    latency: Option<String>,
    /// Break answers on purpose: reset, random-data, cut-short or dribble; `reset:10%` for one in ten (`Prefer: fault=KIND` per request).
    #[arg(long, value_name = "KIND[:N%]", value_parser = hmt_mock::faults::FaultPlan::parse)]
    fault: Option<hmt_mock::faults::FaultPlan>,
    /// Run the `*.rhai` callback scripts in this directory (custom responses and state).
    #[arg(short = 'c', long = "callback-dir", value_name = "DIR",
          aliases = ["callback_dir", "callback-path", "callback_path"])]
    callback_dir: Option<PathBuf>,
    /// Reload specs, recordings and callbacks when their files change (a bad edit keeps the last good ones).
    #[arg(long)]
    watch: bool,
    /// Run in the background; `hmt mock stop` stops it, `hmt mock status` shows it.
    #[arg(short = 'd', long)]
    daemon: bool,
    /// `hmt mock stop`, as HMT spelled it.
    #[arg(short = 'k', long, conflicts_with_all = ["daemon", "status"])]
    kill: bool,
    /// `hmt mock status`, as HMT spelled it.
    #[arg(short = 's', long)]
    status: bool,
    /// Write every served exchange here as http-types JSONL, one `<host>-mock.jsonl` per host.
    #[arg(short = 'l', long = "log-dir", alias = "log_dir", value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Log format on stderr: `text`, or `json` (one object per line, the start-up line's
    /// facts as fields).
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
}

#[derive(Subcommand, Clone)]
enum MockCommand {
    /// Stop the mock started with `--daemon` (`-k` also does).
    Stop,
    /// Show the mock started with `--daemon`: addresses, specs, operations (`-s` also does).
    Status,
}

/// Set in the environment of the process `--daemon` starts.
const DAEMON_CHILD: &str = "HMT_MOCK_DAEMON_CHILD";

/// What `hmt mock status` shows.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct MockState {
    pid: u32,
    address: String,
    admin: String,
    specs: Vec<String>,
    operations: usize,
}

impl Service for MockState {
    const NAME: &'static str = "mock";
    const NOUN: &'static str = "mock";
    const STOP: &'static str = "hmt mock stop";
    fn pid(&self) -> u32 {
        self.pid
    }
    fn address(&self) -> &str {
        &self.address
    }
}

/// Runs `hmt mock`.
pub(crate) fn run(args: MockArgs) -> Result<()> {
    match (&args.command, args.kill, args.status) {
        (Some(MockCommand::Stop), ..) | (None, true, _) => return state::stop::<MockState>(),
        (Some(MockCommand::Status), ..) | (None, _, true) => return status(),
        (None, false, false) => {}
    }
    if args.daemon && std::env::var_os(DAEMON_CHILD).is_none() {
        return state::daemonize::<MockState>(DAEMON_CHILD);
    }
    // Without specs or recordings, hmt mock is an imposters server, as
    // mountebank is; it opens a mock port only when asked to.
    let imposters_only = args.specs.is_empty() && args.recordings.is_empty();
    let mock_port = match (args.port, imposters_only) {
        (Some(port), _) => Some(port),
        (None, true) => None,
        (None, false) => Some(8000),
    };
    // Warnings on stderr (invalid examples, unsatisfiable schemas), and in
    // JSON hmt's own start and stop lines too, which text prints whatever
    // the level; `RUST_LOG` says otherwise.
    let log_format = args.log_format;
    crate::logging::init(
        log_format,
        match log_format {
            LogFormat::Text => "warn",
            LogFormat::Json => "warn,hmt=info",
        },
    );
    let started = std::time::Instant::now();
    let loaded = load(&args)?;
    let operations: usize = loaded.specs.iter().map(|s| s.operations.len()).sum();
    let specs = loaded.specs.len();
    let loaded_callbacks = loaded.callback_count();
    let callbacks = match loaded_callbacks {
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
        delay: args.delay,
        recorded_latency: args.latency.is_some(),
        fault: args.fault,
        errors: match args.errors.as_str() {
            "problem" => hmt_mock::ErrorStyle::Problem,
            _ => hmt_mock::ErrorStyle::Documented,
        },
        strict_examples: args.strict_examples,
        webhook_hosts: args.allow_webhook.clone(),
        callback_storage_bytes: usize::try_from(args.callback_storage_bytes).unwrap_or(usize::MAX),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        journal_limit: args.journal_requests,
        journal_bytes: usize::try_from(args.journal_bytes).unwrap_or(usize::MAX),
        ..MockConfig::default()
    };
    let mock = Arc::new(
        Mock::new(config, loaded).with_context(|| match &args.log_dir {
            Some(dir) => format!("cannot open the log directory {}", dir.display()),
            None => "cannot start the mock".to_owned(),
        })?,
    );
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
                drop(mock.check_examples());
                crate::logging::say(
                    log_format,
                    tracing::Level::INFO,
                    &format!(
                        "hmt mock: reloaded, {operations} operation{}",
                        plural(operations)
                    ),
                );
            }
            Err(error) => crate::logging::say(
                log_format,
                tracing::Level::WARN,
                &format!("hmt mock: not reloaded, still serving the last good specs: {error:#}"),
            ),
        };
        Some(hmt_mock::watch::watch(&watched, reload).context("cannot watch the spec files")?)
    } else {
        None
    };
    let runtime = super::runtime(true)?;
    runtime.block_on(async move {
        let listener = match mock_port {
            Some(port) => {
                let address = SocketAddr::new(args.bind, port);
                Some(
                    tokio::net::TcpListener::bind(address)
                        .await
                        .with_context(|| format!("cannot listen on {address}"))?,
                )
            }
            None => None,
        };
        let admin_address = SocketAddr::new(args.admin_bind, args.admin_port);
        let admin_listener = tokio::net::TcpListener::bind(admin_address)
            .await
            .with_context(|| format!("cannot listen on {admin_address} for the admin API (-a PORT to choose another)"))?;
        let admin_local = admin_listener.local_addr()?;
        let admin_port = admin_local.port();
        let api = Arc::new(hmt_imposters::Api::new(
            hmt_imposters::Imposters::new(hmt_imposters::ImpostersConfig {
                bind: args.bind,
                allow_injection: args.allow_injection,
                saved: hmt_imposters::SavedLimit {
                    requests: args.saved_requests,
                    ..hmt_imposters::SavedLimit::default()
                },
                datadir: args.datadir.clone(),
                debug: args.debug,
                sources: Some(Arc::new(CliSources)),
                idle_timeout: Duration::from_secs(args.idle_timeout),
            }),
            admin_port,
        ));
        let restored = api
            .imposters()
            .restore()
            .await
            .map_err(|error| anyhow::anyhow!("--datadir: {error}"))?;
        let configured = match &args.configfile {
            Some(file) => configure(&api, file).await?,
            None => 0,
        };
        let imposters = match restored + configured {
            0 => String::new(),
            n => format!(", {n} imposter{}", plural(n)),
        };
        let admin_url = admin_listener.local_addr()?;
        // Before the banner and the state file say it is up.
        let shutdown = super::shutdown_signal_installed();
        let ready_ms = started.elapsed().as_millis() as u64;
        match (&listener, log_format) {
            (Some(listener), LogFormat::Json) => tracing::info!(
                address = %listener.local_addr()?,
                admin = %admin_url,
                specs,
                operations,
                callbacks = loaded_callbacks,
                imposters = restored + configured,
                ready_ms,
                "hmt mock listening"
            ),
            (None, LogFormat::Json) => tracing::info!(
                admin = %admin_url,
                imposters = restored + configured,
                ready_ms,
                "hmt mock: imposters API listening"
            ),
            (Some(listener), LogFormat::Text) => eprintln!(
                "hmt mock: {specs} spec{}, {operations} operation{}{callbacks} on http://{}, admin API on http://{admin_url}{imposters} (ready in {} ms)",
                plural(specs),
                plural(operations),
                listener.local_addr()?,
                ready_ms
            ),
            (None, LogFormat::Text) => eprintln!(
                "hmt mock: imposters API on http://{admin_url}{imposters} (ready in {ready_ms} ms)",
            ),
        }
        // Reported in the background: start-up does not wait for it.
        drop(mock.check_examples());
        if args.daemon {
            state::write(&MockState {
                pid: std::process::id(),
                address: match &listener {
                    Some(listener) => listener.local_addr()?.to_string(),
                    None => String::new(),
                },
                admin: admin_url.to_string(),
                specs: args.specs.iter().chain(&args.recordings).map(|p| p.display().to_string()).collect(),
                operations,
            })?;
        }
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let admin = {
            let mock = mock.clone();
            let api = api.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(hmt_mock::listen::serve(
                admin_listener,
                Arc::new(move |request: http::Request<hyper::body::Incoming>| {
                    let mock = mock.clone();
                    let api = api.clone();
                    async move {
                        // Refused on the whole admin port: DNS rebinding, other sites.
                        if let Some(refused) = hmt_mock::admin::guard(&request, admin_local) {
                            return refused;
                        }
                        // hmt's own API under /admin, its page for a browser's GET /;
                        // mountebank's everywhere else.
                        if request.uri().path().starts_with("/admin") {
                            hmt_mock::admin::handle(&mock, request).await
                        } else if hmt_mock::admin_page::wants_page(&request) {
                            hmt_mock::admin_page::page()
                        } else {
                            api.serve(request).await.map(hmt_mock::body::Body::from)
                        }
                    }
                }),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
                Duration::from_secs(5),
                Duration::from_secs(args.idle_timeout),
            ))
        };
        match listener {
            Some(listener) => {
                // The library's way of serving a mock, as a test's MockServer does.
                hmt::serve(listener, mock.clone(), shutdown, Duration::from_secs(5)).await;
            }
            None => shutdown.await,
        }
        let _ = stop.send(true);
        let _ = admin.await;
        api.imposters().shutdown().await;
        if args.daemon {
            state::remove::<MockState>();
        }
        crate::logging::say(log_format, tracing::Level::INFO, "hmt mock: stopped");
        anyhow::Ok(())
    })
}

/// `hmt mock status`: the mock started with `--daemon`.
fn status() -> Result<()> {
    let state = state::running::<MockState>()?;
    println!("address:    http://{}", state.address);
    println!("admin:      http://{}", state.admin);
    println!("pid:        {}", state.pid);
    println!("specs:      {}", state.specs.join(", "));
    println!("operations: {}", state.operations);
    Ok(())
}

/// Creates the imposters of a `--configfile`: `{"imposters": [...]}`.
async fn configure(api: &hmt_imposters::Api, file: &std::path::Path) -> Result<usize> {
    let name = file.display();
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {name}"))?;
    if text.contains("<%") {
        bail!("{name}: mountebank's EJS templating (<% ... %>) is not supported; give plain JSON");
    }
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        anyhow::anyhow!(
            "{name}:{}:{}: not JSON: {error}",
            error.line(),
            error.column()
        )
    })?;
    let list = match json.get("imposters") {
        Some(serde_json::Value::Array(list)) => list.clone(),
        _ => bail!("{name}: expected {{\"imposters\": [...]}}"),
    };
    for (index, imposter) in list.iter().enumerate() {
        api.imposters()
            .create(imposter)
            .await
            .map_err(|error| anyhow::anyhow!("{name}: at /imposters/{index}: {}", error.message))?;
    }
    Ok(list.len())
}

/// Loads the specs and recordings an imposter names (`"hmt": {...}`), as
/// `hmt mock PATH --recordings FILE` would.
struct CliSources;

impl hmt_imposters::SourceLoader for CliSources {
    fn load(&self, sources: &hmt_imposters::Sources) -> std::result::Result<Loaded, String> {
        load_sources(&sources.specs, &sources.recordings).map_err(|error| format!("{error:#}"))
    }
}

/// Specs, then one replay spec per host of the recordings, and callbacks.
fn load(args: &MockArgs) -> Result<Loaded> {
    hmt::sources::Sources {
        specs: args.specs.clone(),
        recordings: args.recordings.clone(),
        callbacks: args.callback_dir.clone(),
        stateful: args.stateful,
        allow_ref_outside: args.allow_ref_outside.clone(),
        ..Default::default()
    }
    .load()
}

/// Specs, then one replay spec per host of the recordings.
fn load_sources(specs: &[PathBuf], recordings: &[PathBuf]) -> Result<Loaded> {
    hmt::sources::Sources {
        specs: specs.to_vec(),
        recordings: recordings.to_vec(),
        ..Default::default()
    }
    .load()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
