//! The command line's conventions, through the real binary: `--color` and
//! `NO_COLOR` (at a real pseudo-terminal, where `auto` would colour),
//! shell completions sourced into a real bash, man pages rendered by
//! `man`, `hmt mock stop|status` beside HMT's `-k`/`-s`, `--log-format
//! json`, examples in every verb's help, and HMT's flag spellings.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ESC: &str = "\x1b[";

fn hmt() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hmt"));
    command.env_remove("NO_COLOR").stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("hmt runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `hmt ARGS` at a pseudo-terminal (tests/pty/run.py); what it wrote there.
fn at_terminal(args: &[&str], no_color: Option<&str>) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pty/run.py");
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_hmt"))
        .args(args)
        .env_remove("NO_COLOR");
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let output = run(&mut command);
    text(&output.stdout)
}

// ---- 1. colour ----------------------------------------------------------------------

#[test]
fn help_at_a_terminal_is_coloured_unless_no_color_or_color_never_says_otherwise() {
    let auto = at_terminal(&["mock", "--help"], None);
    assert!(auto.contains("Usage"), "{auto}");
    assert!(auto.contains(ESC), "auto at a terminal colours: {auto:?}");

    let no_color = at_terminal(&["mock", "--help"], Some("1"));
    assert!(no_color.contains("Usage"), "{no_color}");
    assert!(!no_color.contains(ESC), "NO_COLOR=1: {no_color:?}");

    // An empty NO_COLOR is no wish at all.
    let empty = at_terminal(&["mock", "--help"], Some(""));
    assert!(empty.contains(ESC), "NO_COLOR empty: {empty:?}");

    let never = at_terminal(&["--color", "never", "mock", "--help"], None);
    assert!(never.contains("Usage") && !never.contains(ESC), "{never:?}");

    // The flag is the more specific wish: it wins over the environment.
    let always = at_terminal(&["mock", "--help", "--color=always"], Some("1"));
    assert!(
        always.contains(ESC),
        "--color always with NO_COLOR: {always:?}"
    );
}

#[test]
fn color_always_colours_help_and_errors_even_in_a_pipe_and_never_does_not() {
    let help = run(hmt().args(["--color", "always", "build", "--help"]));
    assert!(help.status.success());
    assert!(text(&help.stdout).contains(ESC), "{}", text(&help.stdout));

    let error = run(hmt().args(["--color", "always", "mock", "--no-such-flag"]));
    assert_eq!(error.status.code(), Some(2));
    let stderr = text(&error.stderr);
    assert!(
        stderr.contains("--no-such-flag") && stderr.contains(ESC),
        "{stderr:?}"
    );

    for (args, env) in [
        (vec!["--color", "never", "mock", "--no-such-flag"], None),
        (vec!["mock", "--no-such-flag"], Some("1")),
    ] {
        let mut command = hmt();
        command.args(&args);
        if let Some(value) = env {
            command.env("NO_COLOR", value);
        }
        let error = run(&mut command);
        let stderr = text(&error.stderr);
        assert!(stderr.contains("--no-such-flag"), "{stderr}");
        assert!(
            !stderr.contains(ESC),
            "{args:?} NO_COLOR={env:?}: {stderr:?}"
        );
    }

    let bad = run(hmt().args(["--color", "pink", "mock"]));
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("invalid value 'pink' for '--color <WHEN>'"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn the_logs_follow_the_color_flag() {
    let spec = petstore();
    for (choice, coloured) in [("always", true), ("never", false)] {
        let mut mock = Mock::start(&["--color", choice], &[spec.to_str().unwrap()]);
        let output = mock.stop();
        // The stop line is a tracing event (RUST_LOG=info).
        let line = output
            .lines()
            .find(|line| line.contains("letting in-flight requests finish"))
            .unwrap_or_else(|| panic!("no stop event: {output}"));
        assert_eq!(line.contains(ESC), coloured, "--color {choice}: {line:?}");
    }
}

// ---- 2. completions and man pages ---------------------------------------------------

#[test]
fn the_bash_completion_script_sources_and_completes_verbs_and_flags() {
    let script = run(hmt().args(["completions", "bash"]));
    assert!(script.status.success(), "{}", text(&script.stderr));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hmt.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    let complete = |line: &str| -> Vec<String> {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source {file}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; \
             COMP_POINT={point}; _hmt hmt '{current}' '{previous}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file = file.display(),
            words = words.join(" "),
            cword = words.len() - 1,
            point = line.len(),
            current = words[words.len() - 1],
            previous = words[words.len() - 2],
        );
        let output = run(Command::new("bash").args(["--norc", "-c", &program]));
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout).lines().map(str::to_owned).collect()
    };
    assert_eq!(complete("hmt mo"), ["mock"]);
    assert_eq!(complete("hmt t"), ["tutorial"]);
    assert_eq!(complete("hmt mock --log-f"), ["--log-format"]);
    assert_eq!(complete("hmt mock --log-format "), ["text", "json"]);
    assert_eq!(complete("hmt --color "), ["auto", "always", "never"]);
    // The hidden `man` verb is not offered.
    assert!(complete("hmt m").iter().all(|verb| verb != "man"));

    for shell in ["zsh", "fish", "powershell"] {
        let script = run(hmt().args(["completions", shell]));
        assert!(script.status.success());
        let script = text(&script.stdout);
        assert!(
            script.contains("hmt") && script.contains("tutorial"),
            "{shell}: {script}"
        );
    }
    let unknown = run(hmt().args(["completions", "tcsh"]));
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("possible values: bash"));
}

#[test]
fn man_pages_are_written_for_hmt_and_each_verb_and_render() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    let written = run(hmt().args(["man"]).arg(&out));
    assert!(written.status.success(), "{}", text(&written.stderr));
    let mut pages: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "hmt-build.1",
            "hmt-ca.1",
            "hmt-completions.1",
            "hmt-convert.1",
            "hmt-mock-status.1",
            "hmt-mock-stop.1",
            "hmt-mock.1",
            "hmt-record-status.1",
            "hmt-record-stop.1",
            "hmt-record.1",
            "hmt-schema.1",
            "hmt-tutorial.1",
            "hmt.1"
        ]
    );
    for page in ["hmt.1", "hmt-mock.1"] {
        let source = std::fs::read_to_string(out.join(page)).unwrap();
        for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS"] {
            assert!(source.contains(section), "{page} has no {section}");
        }
        let rendered = run(Command::new("man")
            .arg("-l")
            .arg(out.join(page))
            .env("MANWIDTH", "100")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat"));
        assert!(rendered.status.success(), "{}", text(&rendered.stderr));
        let rendered = text(&rendered.stdout);
        for section in ["NAME", "SYNOPSIS", "OPTIONS"] {
            assert!(rendered.contains(section), "{page}: {rendered}");
        }
        if page == "hmt-mock.1" {
            assert!(rendered.contains("--admin-port"), "{rendered}");
            assert!(rendered.contains("Examples"), "{rendered}");
        }
    }
}

// ---- 3. hmt mock stop | status --------------------------------------------------------

#[test]
fn a_daemonized_mock_is_shown_and_stopped_by_the_verbs_and_by_hmts_flags() {
    let home = tempfile::tempdir().unwrap();
    let spec = petstore();
    let mock = |args: &[&str]| run(hmt().arg("mock").args(args).env("HMT_HOME", home.path()));
    for (status, stop) in [(["status"], ["stop"]), (["-s"], ["-k"])] {
        let started = mock(&["-d", "-p", "0", "-a", "0", spec.to_str().unwrap()]);
        assert!(started.status.success(), "{}", text(&started.stderr));
        assert!(
            text(&started.stdout).contains("running in the background"),
            "{}",
            text(&started.stdout)
        );
        let shown = mock(&status);
        assert!(shown.status.success(), "{}", text(&shown.stderr));
        let shown = text(&shown.stdout);
        assert!(shown.contains("address:    http://127.0.0.1:"), "{shown}");
        assert!(shown.contains("operations: 3"), "{shown}");

        let stopped = mock(&stop);
        assert!(stopped.status.success(), "{}", text(&stopped.stderr));
        assert!(
            text(&stopped.stdout).starts_with("hmt mock: stopped (pid "),
            "{}",
            text(&stopped.stdout)
        );
        for gone in [mock(&status), mock(&stop)] {
            assert_eq!(gone.status.code(), Some(1));
            assert!(
                text(&gone.stderr).contains("no mock is running"),
                "{}",
                text(&gone.stderr)
            );
        }
    }
    // A second daemon is refused with the verb that stops the first.
    let first = mock(&["-d", "-p", "0", "-a", "0", spec.to_str().unwrap()]);
    assert!(first.status.success());
    let second = mock(&["-d", "-p", "0", "-a", "0", spec.to_str().unwrap()]);
    assert!(
        text(&second.stderr).contains("`hmt mock stop` stops it"),
        "{}",
        text(&second.stderr)
    );
    assert!(mock(&["stop"]).status.success());
    // The verbs take no server flags.
    let mixed = mock(&["stop", "-p", "0"]);
    assert_eq!(mixed.status.code(), Some(2));
}

#[test]
fn a_mock_stopped_the_moment_it_says_it_is_up_still_stops_cleanly() {
    // The SIGTERM handler is installed before the banner (and before the
    // daemon's state file that `hmt mock stop` reads): a signal sent on
    // seeing it is a graceful stop, not the default action's kill.
    let spec = petstore();
    for _ in 0..10 {
        let mut mock = Mock::start(&[], &[spec.to_str().unwrap()]);
        let output = mock.stop();
        assert!(output.ends_with("hmt mock: stopped"), "{output}");
    }
}

// ---- 4. --log-format json -------------------------------------------------------------

#[test]
fn mock_log_format_json_writes_only_json_lines_with_the_start_up_facts() {
    let spec = petstore();
    let mut mock = Mock::start(&[], &["--log-format", "json", spec.to_str().unwrap()]);
    let bad = get(&format!("http://{}/pets?limit=ten", mock.address));
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let output = mock.stop();
    let events: Vec<Value> = output
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    let started = events
        .iter()
        .find(|e| e["fields"]["message"] == "hmt mock listening")
        .unwrap_or_else(|| panic!("no start-up event: {output}"));
    assert_eq!(started["level"], "INFO");
    assert_eq!(started["fields"]["address"], mock.address);
    assert_eq!(started["fields"]["operations"], 3);
    assert_eq!(started["fields"]["specs"], 1);
    assert!(
        started["fields"]["admin"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["message"] == "hmt mock: stopped"),
        "{output}"
    );
    // The refusal is logged, with where and why.
    let refused = events
        .iter()
        .find(|e| e["fields"]["status"] == 400)
        .unwrap_or_else(|| panic!("no refusal event: {output}"));
    assert_eq!(refused["fields"]["method"], "GET");
    assert_eq!(refused["fields"]["path"], "/pets");
    let message = refused["fields"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("refused GET /pets: ") && message.contains("limit"),
        "{message}"
    );
}

#[test]
fn a_mock_that_cannot_start_says_why_in_json_too() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let spec = petstore();
    let failed = run(hmt().args([
        "mock",
        "--log-format",
        "json",
        "-a",
        "0",
        "-p",
        &port,
        spec.to_str().unwrap(),
    ]));
    assert_eq!(failed.status.code(), Some(1));
    let stderr = text(&failed.stderr);
    let events: Vec<Value> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    let error = events
        .iter()
        .find(|e| e["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no error event: {stderr}"));
    let message = error["fields"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("hmt: error: cannot listen on 127.0.0.1:{port}")),
        "{message}"
    );
    // In text, the same error as a plain line.
    let failed = run(hmt().args(["mock", "-a", "0", "-p", &port, spec.to_str().unwrap()]));
    assert!(
        text(&failed.stderr).starts_with(&format!("hmt: error: cannot listen on 127.0.0.1:{port}")),
        "{}",
        text(&failed.stderr)
    );
}

#[test]
fn record_log_format_json_is_json_too() {
    let home = tempfile::tempdir().unwrap();
    let child = hmt()
        .args(["record", "-p", "0", "--log-format", "json", "--output"])
        .arg(home.path().join("out.jsonl"))
        .env("HMT_HOME", home.path())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut recorder = Killed(child);
    let lines = common::stderr_lines(&mut recorder.0);
    let first = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("a start-up line");
    let event: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    assert_eq!(event["fields"]["message"], "hmt record listening");
    assert!(
        event["fields"]["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    terminate(recorder.0.id());
    assert!(recorder.0.wait().unwrap().success());
    // The exit summary too: every line an object.
    let rest: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    assert!(
        rest.iter().any(|event| event["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("hmt record: 0 exchanges proxied"))),
        "{rest:?}"
    );
}

// ---- 5. examples ------------------------------------------------------------------------

#[test]
fn every_verb_ends_its_help_with_examples_of_itself() {
    for verb in [
        "record",
        "build",
        "mock",
        "convert",
        "ca",
        "tutorial",
        "completions",
    ] {
        let help = run(hmt().args([verb, "--help"]));
        assert!(help.status.success());
        let help = text(&help.stdout);
        let examples = help
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("hmt {verb} --help has no Examples: {help}"));
        let lines: Vec<&str> = examples.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!((2..=4).contains(&lines.len()), "{verb}: {examples}");
        assert!(
            lines.iter().all(|l| l.contains(&format!("hmt {verb}"))
                || (verb == "record" && l.contains("HTTPS_PROXY"))
                || (verb == "ca" && l.contains("hmt ca"))
                || (verb == "completions" && l.contains("hmt completions"))),
            "{verb}: {examples}"
        );
    }
}

// ---- 6. HMT's spellings ---------------------------------------------------------------------

#[test]
fn hmts_underscore_spellings_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let recordings = common::recording("pokeapi");
    let built = run(hmt()
        .args(["build", "--input_file"])
        .arg(&recordings)
        .arg("--output_dir")
        .arg(dir.path().join("specs")));
    assert!(built.status.success(), "{}", text(&built.stderr));
    assert!(dir.path().join("specs/openapi.json").is_file());

    let callbacks = dir.path().join("callbacks");
    std::fs::create_dir(&callbacks).unwrap();
    let log_dir = dir.path().join("mock-log");
    let spec = petstore();
    let mut mock = Mock::start(
        &[],
        &[
            "--admin_port",
            "0",
            "--callback_path",
            callbacks.to_str().unwrap(),
            "--log_dir",
            log_dir.to_str().unwrap(),
            "--header_routing",
            spec.to_str().unwrap(),
        ],
    );
    let reply = get_with_host(&mock.address, "/pets/1", "petstore.swagger.io");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    mock.stop();
    assert!(
        std::fs::read_dir(&log_dir).unwrap().count() > 0,
        "--log_dir took effect"
    );
}

// ---- helpers ------------------------------------------------------------------------------

fn petstore() -> PathBuf {
    common::hmt_fixtures().join("hmt/tests/serve/mock/schemas/petstore/index.yaml")
}

/// A running `hmt GLOBAL mock -p 0 -a 0 ARGS` with RUST_LOG=info, its
/// stderr collected; killed if not stopped.
struct Mock {
    child: std::process::Child,
    address: String,
    seen: Vec<String>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Mock {
    fn start(global: &[&str], args: &[&str]) -> Mock {
        let mut child = hmt()
            .args(global)
            .args(["mock", "-p", "0"])
            .args(if args.contains(&"--admin_port") {
                &[][..]
            } else {
                &["-a", "0"][..]
            })
            .args(args)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = common::stderr_lines(&mut child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) else {
                continue;
            };
            // The text banner, or the JSON event's address field.
            let address = match serde_json::from_str::<Value>(&line) {
                Ok(event) => event["fields"]["address"].as_str().map(str::to_owned),
                Err(_) => line
                    .split_once(" on http://")
                    .and_then(|(_, rest)| rest.split(',').next())
                    .map(str::to_owned),
            };
            seen.push(line);
            if let Some(address) = address {
                return Mock {
                    child,
                    address,
                    seen,
                    lines,
                };
            }
        }
        let _ = child.kill();
        panic!("hmt mock did not start: {seen:?}");
    }

    /// SIGTERM; waits for the exit; all it printed on stderr.
    fn stop(&mut self) -> String {
        terminate(self.child.id());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            // Drop kills it.
            assert!(
                Instant::now() < deadline,
                "hmt mock ignored SIGTERM for 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{status}");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child killed when dropped (a failing test leaves nothing running).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn terminate(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A plain HTTP/1.1 GET over loopback; the whole answer as text.
fn get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (address, path) = rest.split_at(rest.find('/').unwrap());
    get_with_host(address, path, address)
}

fn get_with_host(address: &str, path: &str, host: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}
