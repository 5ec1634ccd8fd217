//! `hmt tutorial`: a guided tour of record, build and mock on a small
//! bookshop API that the tutorial runs itself, as HMT's tutorial was.
//!
//! Each step says in a few lines what it does, shows the command, runs it
//! as a child process of this same binary and shows what it printed. At a
//! terminal, Enter runs a step and `q` then Enter quits; without one (or
//! with `--yes`) every step runs without waiting. Everything happens in a
//! temporary directory, removed at the end, and every child is stopped
//! however the tour ends: by `q`, by an error, or by Ctrl-C or SIGTERM
//! (exit status 130).

mod bookshop;

use crate::color;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use clap::builder::styling::{AnsiColor, Style};
use hmt_types::sync::lock;
use http_body_util::{BodyExt, Full};
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Arguments of `hmt tutorial`.
#[derive(Args)]
pub(crate) struct TutorialArgs {
    /// Run every step without waiting for Enter (what happens anyway when stdin is not a terminal).
    #[arg(short = 'y', long)]
    yes: bool,
}

/// The keys of an OpenAPI path item that are operations.
const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// How long a child may take to start listening, or to finish.
const CHILD_TIMEOUT: Duration = Duration::from_secs(30);

/// At most this many lines of a child's output are kept (and shown).
const KEPT_LINES: usize = 200;

/// Runs `hmt tutorial`.
pub(crate) fn run(args: TutorialArgs) -> Result<()> {
    let interactive = !args.yes && std::io::stdin().is_terminal();
    let mut tour = Tour::new(interactive)?;
    let ended = tour.run();
    // The temporary directory goes when `tour` is dropped, after its
    // children are stopped; say so while it still exists.
    let work = tour.work.path().display().to_string();
    match ended {
        Ok(Ended::Finished) => tour.say(&format!("The tutorial's files in {work} are removed now.")),
        Ok(Ended::Quit) => tour.say(&format!(
            "Stopped before the end: everything the tutorial started is stopped, and {work} is removed. \
             `hmt tutorial` starts again."
        )),
        Err(_) => {}
    }
    drop(tour);
    ended.map(|_| ())
}

/// How the tour ended, when it did not fail.
enum Ended {
    Finished,
    Quit,
}

/// What the reader said at a prompt.
enum Answer {
    Go,
    Quit,
}

/// What an interrupt has to clean up before the process exits: the
/// children running now, and the temporary directory.
struct Leftovers {
    pids: Mutex<Vec<u32>>,
    dir: PathBuf,
}

impl Leftovers {
    fn started(&self, pid: u32) {
        lock(&self.pids).push(pid);
    }

    fn ended(&self, pid: u32) {
        lock(&self.pids).retain(|p| *p != pid);
    }
}

/// On SIGINT or SIGTERM, from a thread of its own (the main one may be
/// waiting for Enter or for a child): stops the children, removes the
/// directory and exits 130, as an interrupted command does. Without this
/// the default action would end the process with both left behind.
fn clean_up_on_interrupt(leftovers: Arc<Leftovers>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (ready, installed) = mpsc::channel();
    std::thread::spawn(move || {
        let signalled = runtime.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            // Both made here, so that they are in place before `ready`.
            let (Ok(mut interrupt), Ok(mut terminate)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return false;
            };
            let _ = ready.send(());
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            true
        });
        if !signalled {
            return;
        }
        let pids = lock(&leftovers.pids).clone();
        for pid in &pids {
            if let Ok(pid) = libc::pid_t::try_from(*pid) {
                // SAFETY: kill(2) with a pid and a signal number reads no memory.
                unsafe { libc::kill(pid, libc::SIGTERM) };
            }
        }
        let started = Instant::now();
        let mut running = pids;
        while !running.is_empty() && started.elapsed() < CHILD_TIMEOUT {
            running.retain(|pid| {
                let Ok(pid) = libc::pid_t::try_from(*pid) else {
                    return false;
                };
                let mut status = 0;
                // SAFETY: waitpid(2) writes the status into a local integer.
                unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) == 0 }
            });
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&leftovers.dir);
        println!(
            "\nInterrupted: everything the tutorial started is stopped, and {} is removed.",
            leftovers.dir.display()
        );
        std::process::exit(130);
    });
    // The handlers are in place before the tour starts anything.
    installed
        .recv_timeout(CHILD_TIMEOUT)
        .context("cannot handle Ctrl-C")?;
    Ok(())
}

/// The tour's state: where it works, how it prints, what it runs.
struct Tour {
    interactive: bool,
    leftovers: Arc<Leftovers>,
    work: tempfile::TempDir,
    hmt: PathBuf,
    runtime: tokio::runtime::Runtime,
    heading: Style,
    command: Style,
    quiet: Style,
    /// `--color` for the children: what this process does on its stdout,
    /// where their output is shown.
    child_color: &'static str,
}

impl Tour {
    fn new(interactive: bool) -> Result<Tour> {
        let work = tempfile::Builder::new()
            .prefix("hmt-tutorial-")
            .tempdir()
            .context("cannot create the tutorial's temporary directory")?;
        let leftovers = Arc::new(Leftovers {
            pids: Mutex::new(Vec::new()),
            dir: work.path().to_owned(),
        });
        clean_up_on_interrupt(leftovers.clone())?;
        let coloured = color::stdout();
        let style = |style: Style| if coloured { style } else { Style::new() };
        Ok(Tour {
            interactive,
            leftovers,
            work,
            hmt: std::env::current_exe().context("cannot find the hmt executable")?,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?,
            heading: style(AnsiColor::Cyan.on_default().bold()),
            command: style(AnsiColor::Green.on_default().bold()),
            quiet: style(Style::new().dimmed()),
            child_color: if coloured { "always" } else { "never" },
        })
    }

    fn run(&mut self) -> Result<Ended> {
        self.say(&format!(
            "{h}hmt tutorial{h:#}: record an API, build an OpenAPI spec from what was recorded, and mock it.",
            h = self.heading
        ));
        self.say(&format!(
            "It works in {}, removed at the end.",
            self.work.path().display()
        ));
        if self.interactive {
            self.say("At each step, Enter runs it; q then Enter quits.");
        }

        let bookshop = bookshop::open()?;
        let upstream = bookshop.uri();
        self.step(
            1,
            "A bookshop to record",
            &[
                &format!("The API we will mock: a small bookshop this tutorial runs on {upstream}."),
                "It answers GET /books, GET /books/{id} and POST /books. In real life it is the",
                "API your code calls: a staging server, a partner's API, a service owned by another team.",
            ],
            None,
        );
        if let Answer::Quit = self.prompt("Press Enter to continue, or q and Enter to quit: ")? {
            return Ok(Ended::Quit);
        }

        // 2. Record.
        let record = [
            "record",
            "-p",
            "0",
            "--target",
            upstream.as_str(),
            "-l",
            "recordings",
        ];
        self.step(
            2,
            "Record: hmt record in front of the bookshop",
            &[
                "hmt record is a proxy: every exchange it forwards is written as one http-types JSON",
                "line. With --target it stands in front of one upstream; -p 0 takes any free port.",
                "We start it, call the bookshop through it, and stop it.",
            ],
            Some(&record),
        );
        if let Answer::Quit = self.prompt("Press Enter to run it, or q and Enter to quit: ")? {
            return Ok(Ended::Quit);
        }
        let recordings = self.record(&record)?;

        // 3. Build.
        let file = format!("recordings/{recordings}");
        let build = ["build", "-i", file.as_str(), "-m", "mixed", "-o", "specs"];
        self.step(
            3,
            "Build: an OpenAPI spec from the recordings",
            &[
                "hmt build reads recordings and writes an OpenAPI spec: /books/1, /books/2 and",
                "/books/3 become one templated path, and each body seen becomes a JSON schema.",
                "-m mixed also keeps every recorded exchange, for the mock to replay as it was.",
            ],
            Some(&build),
        );
        if let Answer::Quit = self.prompt("Press Enter to run it, or q and Enter to quit: ")? {
            return Ok(Ended::Quit);
        }
        self.build(&build)?;

        // 4. Mock.
        let mock = ["mock", "specs/openapi.json", "-p", "0", "-a", "0"];
        self.step(
            4,
            "Mock: serve the spec",
            &[
                "hmt mock serves the spec: what was recorded comes back as it was, and a request",
                "the spec does not allow is refused with the reason. The bookshop is closed first:",
                "the mock needs nothing but the spec. -a 0 puts the admin API on any free port.",
            ],
            Some(&mock),
        );
        if let Answer::Quit = self.prompt("Press Enter to run it, or q and Enter to quit: ")? {
            return Ok(Ended::Quit);
        }
        drop(bookshop);
        self.mock(&mock)?;

        self.step(
            5,
            "That is the loop",
            &[
                "Record real traffic, build a spec from it, mock it. Next, with your own API:",
                "  hmt record --target https://staging.example.com   (or HTTPS_PROXY=http://localhost:8000)",
                "  hmt build -i logs/*.jsonl -m mixed                 (replay what was recorded, generate the rest)",
                "  hmt mock specs/ --stateful                         (POSTed objects can be read back)",
                "Every verb's --help ends with examples; `hmt completions bash` completes them.",
            ],
            None,
        );
        Ok(Ended::Finished)
    }

    /// Step 2: runs the recorder, calls the bookshop through it, stops it;
    /// returns the name of the recording file.
    fn record(&self, args: &[&str]) -> Result<String> {
        let home = self.work.path().join("home");
        let mut command = self.hmt_command(args);
        // The recorder's state file (and its CA) in the tutorial's own
        // HMT_HOME: it says which port -p 0 got, and leaves ~/.hmt alone.
        command.env("HMT_HOME", &home);
        let mut recorder = Running::spawn("hmt record", &mut command, &self.leftovers)?;
        let state_file = home.join("record.json");
        let address = recorder.wait_for(|| {
            let state: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&state_file).ok()?).ok()?;
            state["address"].as_str().map(str::to_owned)
        })?;
        self.say(&format!(
            "hmt record is listening on {address} (pid {}). Calling the bookshop through it:",
            recorder.pid()
        ));
        let base = format!("http://{address}");
        self.calls(
            &base,
            &[
                ("GET", "/books", None),
                ("GET", "/books/1", None),
                ("GET", "/books/2", None),
                ("GET", "/books/3", None),
                (
                    "POST",
                    "/books",
                    Some(
                        r#"{"title":"The Dispossessed","author":"Ursula K. Le Guin","year":1974}"#,
                    ),
                ),
                ("GET", "/books/4", None),
                ("GET", "/books/99", None),
            ],
        )?;
        self.say("Stopping it (SIGTERM, as Ctrl-C would); it says what it recorded:");
        let output = recorder.stop()?;
        self.show(&output);
        let dir = self.work.path().join("recordings");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .with_context(|| format!("hmt record wrote nothing into {}", dir.display()))?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with("-recordings.jsonl"))
            .collect();
        files.sort();
        let Some(file) = files.into_iter().next() else {
            bail!("hmt record wrote no recording into {}", dir.display());
        };
        let text = std::fs::read_to_string(dir.join(&file))
            .with_context(|| format!("cannot read recordings/{file}"))?;
        let first = text.lines().next().unwrap_or_default();
        self.say(&format!(
            "recordings/{file} holds {} exchanges, one JSON line each; the first:",
            text.lines().count()
        ));
        self.show(&shorten(first, 400));
        Ok(file)
    }

    /// Step 3: runs the build and lists the operations it inferred.
    fn build(&self, args: &[&str]) -> Result<()> {
        let builder = Running::spawn("hmt build", &mut self.hmt_command(args), &self.leftovers)?;
        let (status, output) = builder.wait()?;
        self.show(&output);
        if !status.success() {
            bail!("hmt build failed ({status})");
        }
        let spec_file = self.work.path().join("specs/openapi.json");
        let spec: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&spec_file).context("hmt build wrote no specs/openapi.json")?,
        )
        .context("specs/openapi.json is not JSON")?;
        self.say("The operations in specs/openapi.json, with the statuses each answers:");
        let mut lines = Vec::new();
        for (template, item) in spec["paths"].as_object().into_iter().flatten() {
            let operations = item.as_object().into_iter().flatten();
            // A path item also holds `parameters`, `summary`...: only methods are operations.
            for (method, operation) in
                operations.filter(|(key, _)| HTTP_METHODS.contains(&key.as_str()))
            {
                let statuses: Vec<&str> = operation["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(status, _)| status.as_str())
                    .collect();
                lines.push(format!(
                    "{:6} {template:14} {}",
                    method.to_uppercase(),
                    statuses.join(" ")
                ));
            }
        }
        self.show(&lines.join("\n"));
        Ok(())
    }

    /// Step 4: runs the mock, calls it, stops it.
    fn mock(&self, args: &[&str]) -> Result<()> {
        let mut mock = Running::spawn("hmt mock", &mut self.hmt_command(args), &self.leftovers)?;
        // Its start-up line: `hmt mock: 1 spec, 3 operations on http://ADDRESS, admin API on ...`.
        let address = mock.wait_for_line(|line| {
            let (_, rest) = line.split_once(" on http://")?;
            rest.split(',').next().map(str::to_owned)
        })?;
        self.say(&format!(
            "hmt mock is listening on {address} (pid {}). Calling it:",
            mock.pid()
        ));
        self.calls(
            &format!("http://{address}"),
            &[
                ("GET", "/books/2", None),
                ("GET", "/books/1234", None),
                ("GET", "/books/abc", None),
                (
                    "POST",
                    "/books",
                    Some(r#"{"title":42,"author":"Anonymous","year":2000}"#),
                ),
            ],
        )?;
        self.say(
            "/books/2 was recorded, and comes back as it was; /books/1234 was not, and is answered \
             from the spec's example. The last two break the spec (an id that is not a number, a \
             title that is not a string) and are refused, with the reason.",
        );
        self.say("Stopping the mock:");
        let output = mock.stop()?;
        self.show(&output);
        Ok(())
    }

    /// Sends each request to `base` and prints its status and the start of its body.
    fn calls(&self, base: &str, requests: &[(&str, &str, Option<&str>)]) -> Result<()> {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<Full<Bytes>>();
        for (method, path, body) in requests {
            let request = http::Request::builder()
                .method(*method)
                .uri(format!("{base}{path}"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))?;
            let (status, answer) = self.runtime.block_on(async {
                let response = tokio::time::timeout(CHILD_TIMEOUT, client.request(request))
                    .await
                    .with_context(|| format!("{method} {path}: no answer in 30 s"))?
                    .with_context(|| format!("{method} {path}"))?;
                let status = response.status().as_u16();
                let body = tokio::time::timeout(CHILD_TIMEOUT, response.into_body().collect())
                    .await
                    .with_context(|| format!("{method} {path}: the body did not end in 30 s"))?
                    .with_context(|| format!("{method} {path}: reading the body"))?
                    .to_bytes();
                anyhow::Ok((status, String::from_utf8_lossy(&body).into_owned()))
            })?;
            let sent = body.map(|b| format!(" {b}")).unwrap_or_default();
            // A refusal's reason is what matters in it: hmt's problem+json `detail`.
            let answer = match serde_json::from_str::<serde_json::Value>(&answer) {
                Ok(problem) if status >= 400 && problem["detail"].is_string() => {
                    problem["detail"].as_str().unwrap_or_default().to_owned()
                }
                _ => answer,
            };
            self.say(&format!(
                "  {method:4} {path}{sent}\n       -> {status} {}",
                shorten(&answer, 160)
            ));
        }
        Ok(())
    }

    /// `hmt ARGS` run in the tutorial's directory, coloured as this process is.
    fn hmt_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.hmt);
        command
            .args(args)
            .arg("--color")
            .arg(self.child_color)
            .current_dir(self.work.path());
        command
    }

    /// A step's heading, what it does, and its command if it has one.
    fn step(&self, number: u32, title: &str, lines: &[&str], args: Option<&[&str]>) {
        let mut text = format!("\n{h}{number}. {title}{h:#}\n", h = self.heading);
        for line in lines {
            text.push_str(&format!("   {line}\n"));
        }
        if let Some(args) = args {
            text.push_str(&format!(
                "\n   {c}$ hmt {}{c:#}",
                args.join(" "),
                c = self.command
            ));
        }
        self.say(&text);
    }

    /// Waits for Enter at a terminal; `q` (or the end of input) quits.
    fn prompt(&self, question: &str) -> Result<Answer> {
        if !self.interactive {
            return Ok(Answer::Go);
        }
        print!("{q}{question}{q:#}", q = self.quiet);
        std::io::stdout().flush()?;
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line)? == 0 {
            return Ok(Answer::Quit);
        }
        Ok(match line.trim() {
            "q" | "Q" | "quit" => Answer::Quit,
            _ => Answer::Go,
        })
    }

    fn say(&self, text: &str) {
        println!("{text}");
    }

    /// A child's output, indented under the step.
    fn show(&self, output: &str) {
        for line in output.lines() {
            println!("     {q}|{q:#} {line}", q = self.quiet);
        }
    }
}

/// The first `max` characters of one line of `text`, `...` if cut.
fn shorten(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None if text.lines().nth(1).is_some() => format!("{line} ..."),
        None => line.to_owned(),
    }
}

/// A child process of the tour, its stdout and stderr read as they come
/// (so that it never blocks on a full pipe), stopped when dropped.
struct Running {
    name: &'static str,
    child: Child,
    leftovers: Arc<Leftovers>,
    lines: mpsc::Receiver<String>,
    kept: Vec<String>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    fn spawn(
        name: &'static str,
        command: &mut Command,
        leftovers: &Arc<Leftovers>,
    ) -> Result<Running> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        leftovers.started(child.id());
        let (send, lines) = mpsc::channel();
        let mut readers = Vec::new();
        let streams: [Option<Box<dyn Read + Send>>; 2] = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ];
        for stream in streams.into_iter().flatten() {
            let send = send.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    if send.send(line).is_err() {
                        break;
                    }
                }
            }));
        }
        Ok(Running {
            name,
            child,
            leftovers: leftovers.clone(),
            lines,
            kept: Vec::new(),
            readers,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Moves the lines printed so far into `kept` (at most `KEPT_LINES`).
    fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            if self.kept.len() < KEPT_LINES {
                self.kept.push(line);
            }
        }
    }

    /// Polls `ready` until it gives a value; fails if the child exits first
    /// or takes longer than `CHILD_TIMEOUT`, with what it printed.
    fn wait_for<T>(&mut self, mut ready: impl FnMut() -> Option<T>) -> Result<T> {
        let started = Instant::now();
        loop {
            if let Some(value) = ready() {
                return Ok(value);
            }
            self.fail_if_gone(started)?;
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a printed line that `ready` accepts.
    fn wait_for_line<T>(&mut self, mut ready: impl FnMut(&str) -> Option<T>) -> Result<T> {
        let started = Instant::now();
        let mut seen = 0;
        loop {
            self.drain();
            for line in &self.kept[seen..] {
                if let Some(value) = ready(line) {
                    return Ok(value);
                }
            }
            seen = self.kept.len();
            self.fail_if_gone(started)?;
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn fail_if_gone(&mut self, started: Instant) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            self.drain();
            bail!(
                "{} exited ({status}) before it was ready:\n{}",
                self.name,
                self.kept.join("\n")
            );
        }
        if started.elapsed() > CHILD_TIMEOUT {
            self.drain();
            bail!(
                "{} was not ready in 30 s:\n{}",
                self.name,
                self.kept.join("\n")
            );
        }
        Ok(())
    }

    /// Waits for the child to finish by itself (at most `CHILD_TIMEOUT`);
    /// returns how it ended and all it printed.
    fn wait(mut self) -> Result<(std::process::ExitStatus, String)> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok((status, self.output()));
            }
            if started.elapsed() > CHILD_TIMEOUT {
                bail!("{} did not finish in 30 s", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM, as Ctrl-C would, and waits for the child to exit;
    /// returns all it printed.
    fn stop(mut self) -> Result<String> {
        let (status, output) = match self.terminate() {
            Some(status) => (status, self.output()),
            None => bail!("{} did not stop in 30 s; it was killed", self.name),
        };
        if !status.success() {
            bail!("{} failed ({status}):\n{output}", self.name);
        }
        Ok(output)
    }

    /// SIGTERM, then SIGKILL after `CHILD_TIMEOUT`; `None` if it had to be killed.
    fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        // The child is ours and still running (not reaped), so the pid is
        // still its own.
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) with a pid and a signal number reads no memory.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let started = Instant::now();
        while started.elapsed() < CHILD_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    /// All the child printed, once it has exited (its pipes then end).
    fn output(&mut self) -> String {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.drain();
        self.kept.join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.terminate();
        self.leftovers.ended(self.child.id());
    }
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn shorten_cuts_at_a_character_and_says_so() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 3), "abc...");
        assert_eq!(shorten("łłłł", 2), "łł...");
        assert_eq!(shorten("one\ntwo", 10), "one ...");
    }
}
