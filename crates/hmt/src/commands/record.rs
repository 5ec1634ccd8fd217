//! `hmt record`: run the recording proxy, and `hmt record stop|status`.

use crate::commands::state::{self, RecorderState};
use crate::logging::LogFormat;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hmt_record::filter::{Filter, FilterRules};
use hmt_record::recorder::Recorder;
use hmt_record::redact::{RedactionRules, Redactor};
use hmt_record::sink::{HarFile, HostFiles, OutputFile, Sink};
use hmt_record::{CertificateAuthority, Proxy, ProxyConfig, Routing};
use std::future::Future;
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `hmt record`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct RecordArgs {
    #[command(subcommand)]
    command: Option<RecordCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum RecordCommand {
    /// Stop the recorder started with `--daemon` (waits for it to flush).
    Stop,
    /// Show the running recorder: address, mode, sinks and counts.
    Status,
}

#[derive(Args)]
struct RunArgs {
    /// Port to listen on.
    #[arg(short = 'p', long, default_value_t = 8000)]
    port: u16,
    /// Address to listen on. Beyond loopback, anyone who can reach the port can use the proxy.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Listen on a non-loopback `--bind` address without the warning.
    #[arg(long)]
    allow_remote: bool,
    /// Route by the Host header and `x-hmt-scheme` instead of by path.
    #[arg(
        short = 'r',
        long = "header-routing",
        alias = "header_routing",
        conflicts_with = "target"
    )]
    header_routing: bool,
    /// Send every request to this upstream, as a reverse proxy: `https://staging.example.com[/base]`.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Where the interception CA lives (created on first use).
    #[arg(long, value_name = "DIR")]
    ca_dir: Option<PathBuf>,
    /// Tunnel this host's HTTPS untouched (`api.example.com` or `*.example.com`). Repeatable.
    #[arg(long = "no-intercept", value_name = "HOST")]
    no_intercept: Vec<String>,
    /// Don't verify upstream TLS certificates.
    #[arg(long)]
    insecure: bool,
    /// Also trust this PEM CA for upstream TLS. Repeatable.
    #[arg(long = "upstream-ca", value_name = "FILE")]
    upstream_ca: Vec<PathBuf>,
    /// Upstream connect timeout, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    connect_timeout: Duration,
    /// Time to wait for upstream response headers, in seconds.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds)]
    response_timeout: Duration,
    /// Close a client connection idle this long between requests (or this slow
    /// to send a request head), in seconds.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds)]
    idle_timeout: Duration,
    /// Cut off an exchange whose request or response body sends nothing for this
    /// long, in seconds (recorded with meta.responseIncomplete).
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = seconds)]
    body_timeout: Duration,
    /// Record at most this many bytes of each body (forwarding is never limited).
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Write one `<host>-recordings.jsonl` per upstream host here (`logs/` by default, when
    /// neither --output, --har nor --sink names a destination).
    #[arg(short = 'l', long = "log-dir", alias = "log_dir", value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Keep at most this many per-host files open at once (the least recently
    /// used is closed, and reopened when its host comes back).
    #[arg(long, value_name = "N", default_value_t = HostFiles::DEFAULT_MAX_OPEN as u16,
          value_parser = clap::value_parser!(u16).range(1..))]
    max_open_files: u16,
    /// Also write every recording (http-types JSONL) to this file, or `-` for stdout.
    #[arg(long, value_name = "FILE|-")]
    output: Option<String>,
    /// Also write every recording to this HAR 1.2 file, one entry per exchange, the file a
    /// complete HAR document after every write (closed properly however the recorder stops;
    /// a file hmt wrote before is added to, any other existing file refused). Like --output,
    /// naming it alone turns off the default `logs/` directory: add `-l DIR` to keep the
    /// per-host JSONL files too.
    #[arg(long, value_name = "FILE")]
    har: Option<PathBuf>,
    /// Send recordings to Kafka: `kafka://host:9092[,host2:9092]/topic`. Repeatable.
    #[arg(long = "sink", value_name = "URL")]
    sinks: Vec<String>,
    /// A librdkafka producer setting, such as `security.protocol=SASL_SSL`. Repeatable.
    #[arg(long = "kafka-option", value_name = "KEY=VALUE")]
    kafka_options: Vec<String>,
    /// Forward only to hosts matching this glob (`*.staging.example.com`, or
    /// `host:port`); anything else is answered 403 and recorded as refused.
    /// Repeatable; by default every host is allowed.
    #[arg(long = "allow-host", value_name = "GLOB")]
    allow_hosts: Vec<String>,
    /// Record only hosts matching this glob (`*.example.com`). Repeatable.
    #[arg(long = "include-host", value_name = "GLOB")]
    include_hosts: Vec<String>,
    /// Don't record hosts matching this glob. Repeatable.
    #[arg(long = "exclude-host", value_name = "GLOB")]
    exclude_hosts: Vec<String>,
    /// Record only paths matching this glob (`/api/*`). Repeatable.
    #[arg(long = "include-path", value_name = "GLOB")]
    include_paths: Vec<String>,
    /// Don't record paths matching this glob. Repeatable.
    #[arg(long = "exclude-path", value_name = "GLOB")]
    exclude_paths: Vec<String>,
    /// Record only this method. Repeatable.
    #[arg(long = "method", value_name = "METHOD")]
    methods: Vec<String>,
    /// Record only these statuses: `404`, `2xx`, `500-599`. Repeatable.
    #[arg(long = "status", value_name = "STATUS")]
    statuses: Vec<String>,
    /// Also replace this header's values with a stable placeholder (secret
    /// headers, such as authorization, cookie, set-cookie, x-api-key or x-auth-token,
    /// always are). Repeatable.
    #[arg(long = "redact-header", value_name = "NAME")]
    redact_headers: Vec<String>,
    /// Also replace this query (and form) parameter's values (api_key, token,
    /// password and other secret names always are). Repeatable.
    #[arg(long = "redact-query", value_name = "NAME")]
    redact_query: Vec<String>,
    /// Also replace the JSON body value at this pointer (`/user/pin`; members named
    /// password, token, access_token and other secret names always are). Repeatable.
    #[arg(long = "redact-json", value_name = "POINTER")]
    redact_json: Vec<String>,
    /// Add `Via: 1.1 hmt` to forwarded requests and responses.
    #[arg(long)]
    via: bool,
    /// On SIGINT/SIGTERM, how long in-flight exchanges may take to finish, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    grace: Duration,
    /// Run in the background; `hmt record stop` stops it.
    #[arg(short = 'd', long)]
    daemon: bool,
    /// Log format on stderr: `text`, or `json` (one object per line).
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    log_format: LogFormat,
}

/// Set in the environment of the process `--daemon` starts.
const DAEMON_CHILD: &str = "HMT_RECORD_DAEMON_CHILD";

/// How many records may wait for Kafka before they spill to disk.
const KAFKA_QUEUE_BOUND: usize = 100_000;

/// Runs `hmt record ...`.
pub(crate) fn run(args: RecordArgs) -> Result<()> {
    match args.command {
        Some(RecordCommand::Stop) => state::stop::<RecorderState>(),
        Some(RecordCommand::Status) => status(),
        // The detached child runs the same command line, `--daemon` included
        // (however the flags were spelled: `-d`, `-dp 0`, `--daemon`); the
        // environment says it is the child.
        None if args.run.daemon && std::env::var_os(DAEMON_CHILD).is_none() => {
            // Here, where the user sees it; the detached recorder says it
            // again in its log, with the port it got.
            // (In text: the logs are not set up in this process.)
            warn_if_remote(
                &args.run,
                SocketAddr::new(args.run.bind, args.run.port),
                LogFormat::Text,
            );
            state::daemonize::<RecorderState>(DAEMON_CHILD)
        }
        None => serve(args.run),
    }
}

/// Says on stderr what a listener beyond loopback exposes, unless the user
/// said they meant it (`--allow-remote`). A warning and not a refusal: a
/// recorder in a container or on a test network has to listen beyond
/// loopback, but nobody should do it by accident.
fn warn_if_remote(args: &RunArgs, address: SocketAddr, format: LogFormat) {
    if args.allow_remote || address.ip().to_canonical().is_loopback() {
        return;
    }
    // Port 0 (any free port) is only known once bound; before that, the
    // address alone.
    let at = if address.port() == 0 {
        address.ip().to_string()
    } else {
        address.to_string()
    };
    let reach = if args.allow_hosts.is_empty() {
        "any host this machine can (your internal network included)"
    } else {
        "the hosts --allow-host allows"
    };
    crate::logging::say(
        format,
        tracing::Level::WARN,
        &format!(
            "warning: hmt record listens on {at}, beyond this machine: anyone who can reach its \
             port can use the proxy to reach {reach}, and sees the traffic it records. Use \
             --bind 127.0.0.1 (the default), or pass --allow-remote if that is what you want."
        ),
    );
}

fn serve(args: RunArgs) -> Result<()> {
    crate::logging::init(args.log_format, "info");
    let routing = match (&args.target, args.header_routing) {
        (Some(target), _) => Routing::Target(
            target
                .parse()
                .with_context(|| format!("--target {target} is not a URL"))?,
        ),
        (None, true) => Routing::Header,
        (None, false) => Routing::Path,
    };
    let mode = match &routing {
        Routing::Target(uri) => format!("reverse proxy to {uri}"),
        Routing::Header => "header routing".to_owned(),
        Routing::Path => "path routing".to_owned(),
    };

    let filter = Filter::new(FilterRules {
        include_hosts: args.include_hosts.clone(),
        exclude_hosts: args.exclude_hosts.clone(),
        include_paths: args.include_paths.clone(),
        exclude_paths: args.exclude_paths.clone(),
        methods: args.methods.clone(),
        statuses: args.statuses.clone(),
    })?;
    let redactor = Redactor::new(
        RedactionRules {
            headers: args.redact_headers.clone(),
            query: args.redact_query.clone(),
            json_pointers: args.redact_json.clone(),
            ..RedactionRules::default()
        },
        random_key()?,
    );

    // With no sink named (--log-dir, --output, --har, --sink), recordings go
    // to `logs/` as HMT did.
    let log_dir = args
        .log_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("logs"));
    let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
    let mut sink_names = Vec::new();
    if args.log_dir.is_some()
        || (args.output.is_none() && args.har.is_none() && args.sinks.is_empty())
    {
        sinks.push(Arc::new(
            HostFiles::new(&log_dir)?.with_max_open(usize::from(args.max_open_files)),
        ));
        sink_names.push(format!("{}/", log_dir.display()));
    }
    match args.output.as_deref() {
        Some("-") => {
            sinks.push(Arc::new(OutputFile::stdout()?));
            sink_names.push("stdout".into());
        }
        Some(path) => {
            sinks.push(Arc::new(OutputFile::create(std::path::Path::new(path))?));
            sink_names.push(path.to_owned());
        }
        None => {}
    }
    if let Some(path) = &args.har {
        sinks.push(Arc::new(HarFile::create(path)?));
        sink_names.push(path.display().to_string());
    }
    let kafka_options = super::kafka_options(&args.kafka_options)?;
    for url in &args.sinks {
        let url = super::kafka::topic(url)?;
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        let spill = log_dir.join("kafka-spill.jsonl");
        sinks.push(super::kafka::sink(
            &url,
            &kafka_options,
            &spill,
            KAFKA_QUEUE_BOUND,
        )?);
        sink_names.push(url.to_string());
    }

    let ca_dir = match &args.ca_dir {
        Some(dir) => dir.clone(),
        None => state::hmt_home()?.join("ca"),
    };
    let ca = Arc::new(CertificateAuthority::load_or_create(&ca_dir)?);
    let recorder = Arc::new(Recorder::new(filter, redactor, sinks, args.max_body_bytes));
    let counters = recorder.counters();
    let proxy = Proxy::new(
        ProxyConfig {
            routing,
            ca: Some(ca),
            no_intercept: args.no_intercept.clone(),
            insecure: args.insecure,
            upstream_ca: args.upstream_ca.clone(),
            connect_timeout: args.connect_timeout,
            response_timeout: args.response_timeout,
            idle_timeout: args.idle_timeout,
            body_timeout: args.body_timeout,
            max_body_bytes: args.max_body_bytes,
            add_via: args.via,
            allow_hosts: args.allow_hosts.clone(),
        },
        recorder.clone(),
    )?;

    let runtime = super::runtime(false)?;
    let grace = args.grace;
    let address = SocketAddr::new(args.bind, args.port);
    let report = runtime.block_on(async {
        survive_file_size_limit();
        // The signal handlers are installed when this is first polled; that
        // has to happen before record.json says the recorder is up, or a
        // SIGTERM sent as soon as it appears kills the process outright,
        // with nothing flushed.
        let mut signal = std::pin::pin!(super::shutdown_signal());
        let signalled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(signal.as_mut().poll(cx).is_ready()))
                .await;
        // (A finished future must not be polled again.)
        let shutdown = async move {
            if !signalled {
                signal.await;
            }
        };
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let address = listener.local_addr()?;
        warn_if_remote(&args, address, args.log_format);
        let state = RecorderState {
            pid: std::process::id(),
            address: address.to_string(),
            mode: mode.clone(),
            sinks: sink_names.clone(),
            counts: counters.snapshot(),
        };
        state::write(&state)?;
        tracing::info!(%address, %mode, sinks = %sink_names.join(", "), "hmt record listening");
        // The live status line rewrites itself with terminal escapes: only
        // for a person reading text, and not with --color never.
        let live_line = std::io::stderr().is_terminal()
            && args.log_format == LogFormat::Text
            && crate::color::choice() != crate::color::ColorChoice::Never;
        let live = tokio::spawn(state::keep_updated(state, recorder.clone(), live_line));
        let served = proxy.serve(listener, shutdown, grace).await;
        live.abort();
        if live_line {
            eprintln!();
        }
        served.map_err(anyhow::Error::from)
    });
    let closed = recorder.close();
    state::remove::<RecorderState>();
    let report = report?;
    let counts = counters.snapshot();
    let say = |level, line: &str| crate::logging::say(args.log_format, level, line);
    say(
        tracing::Level::INFO,
        &format!(
            "hmt record: {} exchange{} proxied, {} recorded, {} filtered out, {} sink error{}, {} upstream error{}",
            report.exchanges,
            plural(report.exchanges),
            counts.recorded,
            counts.filtered,
            counts.sink_errors,
            plural(counts.sink_errors),
            counts.upstream_errors,
            plural(counts.upstream_errors),
        ),
    );
    let mut failed = false;
    let mut lost = 0;
    for sink in closed {
        match sink {
            Ok(report) => {
                failed |= report.lost > 0;
                lost += report.lost;
                say(tracing::Level::INFO, &format!("hmt record: {report}"));
            }
            Err(error) => {
                failed = true;
                say(
                    tracing::Level::ERROR,
                    &format!("hmt record: error: {error}"),
                );
            }
        }
    }
    if lost > 0 {
        bail!(
            "{lost} recording{} could not be stored (counted per destination; see above)",
            plural(lost)
        );
    }
    if failed {
        bail!("some recordings could not be stored (see above)");
    }
    Ok(())
}

/// Makes a file-size limit (`ulimit -f`) a write error instead of a signal
/// that kills the recorder: by default SIGXFSZ ends the process, with
/// every exchange in flight, where the sinks would handle the EFBIG the
/// write gets otherwise (keep whole lines, count the rest as lost, carry
/// on). Tokio's handler, once installed, stays for the process's life.
fn survive_file_size_limit() {
    // SIGXFSZ: 25 on Linux (x86, Arm, RISC-V) and macOS; tokio names no
    // kind for it.
    #[cfg(any(
        target_os = "macos",
        all(
            target_os = "linux",
            any(
                target_arch = "x86_64",
                target_arch = "x86",
                target_arch = "aarch64",
                target_arch = "arm",
                target_arch = "riscv64"
            )
        )
    ))]
    if let Err(error) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(25)) {
        tracing::warn!(%error, "SIGXFSZ not handled; a file-size limit will stop the recorder");
    }
}

/// A fresh key per run: the same secret gets the same placeholder within a
/// run, and placeholders can't be reversed by trying likely secrets.
fn random_key() -> Result<[u8; 32]> {
    use ring::rand::SecureRandom;
    let mut key = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| anyhow::anyhow!("no system randomness for the redaction key"))?;
    Ok(key)
}

fn status() -> Result<()> {
    let state = state::running::<RecorderState>()?;
    println!("address:  {}", state.address);
    println!("pid:      {}", state.pid);
    println!("mode:     {}", state.mode);
    println!("sinks:    {}", state.sinks.join(", "));
    let c = state.counts;
    println!(
        "recorded: {} exchange{}, {} bytes ({} filtered out, {} sink error{}, {} upstream error{})",
        c.recorded,
        plural(c.recorded),
        c.bytes,
        c.filtered,
        c.sink_errors,
        plural(c.sink_errors),
        c.upstream_errors,
        plural(c.upstream_errors)
    );
    Ok(())
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A number of seconds (`10`, `0.5`) as a duration; negative, infinite or
/// not-a-number values are refused instead of panicking later.
fn seconds(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{value:?} is not a usable number of seconds"))
}
