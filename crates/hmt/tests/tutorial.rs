//! `hmt tutorial` through the real binary: at a pseudo-terminal, stepped
//! through with Enter and quit with `q` (tests/pty/tutorial.py), and
//! without a terminal, where it runs every step. Either way it leaves no
//! process and no files behind.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether a process exists (and is not a zombie waiting for its parent).
fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Processes whose working directory is `dir` (the tutorial runs its
/// children there), found through /proc, deleted directories included.
fn processes_in(dir: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        let cwd = cwd.to_string_lossy();
        if cwd == dir || cwd == format!("{dir} (deleted)") {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

/// The tutorial's working directory, as its first lines say.
fn work_dir(transcript: &str) -> String {
    let start = transcript
        .find("It works in ")
        .expect("names its directory")
        + "It works in ".len();
    let rest = &transcript[start..];
    rest[..rest.find(", removed at the end").unwrap()].to_owned()
}

/// `text` without ANSI escapes, for matching.
fn plain(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs tests/pty/tutorial.py (`--interrupt` or not); its report.
fn drive_at_a_terminal(interrupt: bool) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pty/tutorial.py");
    let mut command = Command::new("python3");
    command.arg(script);
    if interrupt {
        command.arg("--interrupt");
    }
    let output = command
        .arg(env!("CARGO_BIN_EXE_hmt"))
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(output.status.success(), "{report:#}");
    report
}

#[test]
fn ctrl_c_stops_the_tutorial_with_130_and_leaves_nothing_behind() {
    let report = drive_at_a_terminal(true);
    let transcript = plain(report["transcript"].as_str().unwrap());
    assert_eq!(report["status"], 130, "{transcript}");
    assert!(
        transcript.contains("Interrupted: everything the tutorial started is stopped"),
        "{transcript}"
    );
    for pid in report["pids"].as_array().unwrap() {
        assert!(!alive(pid.as_u64().unwrap()), "pid {pid} still runs");
    }
    let work = work_dir(&transcript);
    assert!(!Path::new(&work).exists(), "{work} is left behind");
    assert!(processes_in(&work).is_empty(), "processes left in {work}");
}

#[test]
fn at_a_terminal_each_step_waits_for_enter_and_q_quits_leaving_nothing_behind() {
    let report = drive_at_a_terminal(false);
    let transcript = report["transcript"].as_str().unwrap();
    assert_eq!(report["status"], 0, "{transcript}");
    // A terminal, and no NO_COLOR: headings and commands are coloured.
    assert!(transcript.contains("\x1b["), "{transcript}");
    let step = |name: &str| plain(report["steps"][name].as_str().unwrap());

    let intro = step("intro");
    assert!(
        intro.contains("At each step, Enter runs it; q then Enter quits."),
        "{intro}"
    );
    assert!(intro.contains("1. A bookshop to record"), "{intro}");
    assert!(intro.contains("It answers GET /books"), "{intro}");
    // Nothing runs before Enter.
    assert!(!intro.contains("2. Record"), "{intro}");

    let prompt = step("record_prompt");
    assert!(
        prompt.contains("$ hmt record -p 0 --target http://127.0.0.1:"),
        "{prompt}"
    );
    assert!(!prompt.contains("hmt record is listening"), "{prompt}");

    let record = step("record");
    assert!(
        record.contains("hmt record is listening on 127.0.0.1:"),
        "{record}"
    );
    assert!(
        record.contains("GET  /books/1\r\n       -> 200 {\"id\":1,"),
        "{record}"
    );
    assert!(record.contains("-> 201 {"), "{record}");
    assert!(
        record.contains("-> 404 {\"error\":\"no book 99\"}"),
        "{record}"
    );
    assert!(
        record.contains("7 exchanges proxied, 7 recorded"),
        "{record}"
    );
    assert!(
        record.contains("-recordings.jsonl holds 7 exchanges"),
        "{record}"
    );
    assert!(
        record.contains("$ hmt build -i recordings/127.0.0.1_"),
        "{record}"
    );

    let build = step("build");
    assert!(build.contains("7 exchanges read"), "{build}");
    assert!(
        build.contains("3 operations -> specs/openapi.json"),
        "{build}"
    );
    assert!(build.contains("GET    /books/{"), "{build}");
    assert!(
        build.contains("$ hmt mock specs/openapi.json -p 0 -a 0"),
        "{build}"
    );

    let quit = plain(report["steps"]["quit"].as_str().unwrap());
    assert!(quit.contains("Stopped before the end"), "{quit}");
    assert!(!quit.contains("hmt mock is listening"), "{quit}");

    let pids = report["pids"].as_array().unwrap();
    assert_eq!(pids.len(), 1, "the recorder: {transcript}");
    for pid in pids {
        assert!(!alive(pid.as_u64().unwrap()), "pid {pid} still runs");
    }
    let work = work_dir(&plain(transcript));
    assert!(!Path::new(&work).exists(), "{work} is left behind");
    assert!(processes_in(&work).is_empty(), "processes left in {work}");
}

#[test]
fn without_a_terminal_every_step_runs_without_waiting() {
    let output = Command::new(env!("CARGO_BIN_EXE_hmt"))
        .arg("tutorial")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("hmt runs");
    let transcript = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{transcript}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Not a terminal: no colour, no prompt.
    assert!(!transcript.contains('\x1b'), "{transcript:?}");
    assert!(!transcript.contains("Press Enter"), "{transcript}");
    for expected in [
        "1. A bookshop to record",
        "2. Record: hmt record in front of the bookshop",
        "7 exchanges proxied, 7 recorded",
        "3. Build: an OpenAPI spec from the recordings",
        "3 operations -> specs/openapi.json",
        "4. Mock: serve the spec",
        "hmt mock is listening on 127.0.0.1:",
        // Recorded: replayed as it was.
        "  GET  /books/2\n       -> 200 {\"id\":2,\"title\":\"Kindred\"",
        // Refused, with the reason.
        "  GET  /books/abc\n       -> 400 the path parameter",
        "is not of type \"string\"",
        "hmt mock: stopped",
        "5. That is the loop",
        "are removed now.",
    ] {
        assert!(
            transcript.contains(expected),
            "no {expected:?} in:\n{transcript}"
        );
    }
    let pids: Vec<u64> = transcript
        .match_indices("(pid ")
        .map(|(at, _)| {
            let rest = &transcript[at + 5..];
            rest[..rest.find(')').unwrap()].parse().unwrap()
        })
        .collect();
    assert_eq!(pids.len(), 2, "the recorder and the mock: {transcript}");
    for pid in pids {
        assert!(!alive(pid), "pid {pid} still runs");
    }
    let work = work_dir(&transcript);
    assert!(!Path::new(&work).exists(), "{work} is left behind");
    assert!(processes_in(&work).is_empty(), "processes left in {work}");
}

#[test]
fn no_color_and_color_never_keep_escapes_out_of_the_tutorial_and_its_commands() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pty/run.py");
    for (args, no_color) in [
        (&["tutorial", "--yes"][..], Some("1")),
        (&["--color", "never", "tutorial", "--yes"][..], None),
    ] {
        let mut command = Command::new("python3");
        command
            .arg(&script)
            .arg(env!("CARGO_BIN_EXE_hmt"))
            .args(args)
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let output = command.output().expect("python3 runs");
        let transcript = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{transcript}");
        // --yes at a terminal: no waiting.
        assert!(transcript.contains("5. That is the loop"), "{transcript}");
        assert!(!transcript.contains("Press Enter"), "{transcript}");
        assert!(!transcript.contains('\x1b'), "{args:?}: {transcript:?}");
    }
}
