//! `hmt record --har` end to end: the real binary against a local
//! upstream, curl as the client, and the HAR read back by hmt and by
//! Python's `json`.

mod common_record;

use common_record::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The HAR as Python's `json` reads it (a reader that is not ours).
fn python_reads(har: &Path) -> Value {
    let output = Command::new("python3")
        .args([
            "-c",
            "import json, sys; print(json.dumps(json.load(open(sys.argv[1], encoding='utf-8'))))",
        ])
        .arg(har)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "Python's json cannot read {}: {}",
        har.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The exchanges of a recording as hmt reads it, with any warnings.
fn hmt_reads(path: &Path) -> (Vec<hmt_types::Exchange>, Vec<String>) {
    let input = hmt_types::Input::open(path.to_str().unwrap()).unwrap();
    let mut exchanges = input.exchanges();
    let all = exchanges.by_ref().map(|e| e.unwrap()).collect();
    (all, exchanges.warnings().to_vec())
}

/// The requests every test makes through the recorder (path routing).
fn traffic(dir: &Path, hmt: &RecordProcess, up: &Upstreams) -> usize {
    let via = |ep: &str| hmt.path_url(&up.plain_url(ep));
    for ep in ["/json", "/binary", "/cookies"] {
        assert_eq!(curl(dir, &[via(ep)]).status, 200, "{ep}");
    }
    let echo = curl(
        dir,
        &[
            "-d",
            "hello upstream",
            "-H",
            "x-test: kept",
            &via("/echo?a=1&a=2"),
        ],
    );
    assert_eq!(echo.status, 200);
    assert_eq!(curl(dir, &[via("/missing")]).status, 404);
    5
}

/// Waits until `count` exchanges have been recorded into `har` (the
/// recorder writes off the response path).
fn wait_for_entries(har: &Path, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if har.exists() && hmt_reads(har).0.len() >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never held {count} entries",
            har.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn record_har_beside_jsonl_holds_the_same_exchanges_and_any_json_reader_reads_it() {
    require_curl();
    let up = Upstreams::start();
    let work = tempdir();
    let curl_dir = tempdir();
    let har = work.path().join("session.har");
    let hmt = RecordProcess::start(work.path(), &["--har", har.to_str().unwrap(), "-l", "logs"]);
    let count = traffic(curl_dir.path(), &hmt, &up);
    let outcome = hmt.stop();
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains(&format!("hmt record: {}: {count} delivered", har.display())),
        "{}",
        outcome.stderr
    );

    // Python reads it; every entry has what HAR 1.2 requires.
    let doc = python_reads(&har);
    assert_eq!(doc["log"]["version"], "1.2");
    assert_eq!(doc["log"]["creator"]["name"], "hmt");
    let entries = doc["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), count);
    for entry in entries {
        for key in [
            "startedDateTime",
            "time",
            "request",
            "response",
            "cache",
            "timings",
        ] {
            assert!(entry.get(key).is_some(), "{key} missing: {entry}");
        }
        let url = entry["request"]["url"].as_str().unwrap();
        assert!(url.starts_with(&up.plain_url("/")), "{url}");
    }
    let binary = entries
        .iter()
        .find(|e| e["request"]["url"].as_str().unwrap().ends_with("/binary"))
        .unwrap();
    assert_eq!(binary["response"]["content"]["encoding"], "base64");

    // hmt reads the same exchanges as the JSONL log holds, line for line.
    let log = work.path().join("logs").join(up.plain_file());
    let (from_har, warnings) = hmt_reads(&har);
    assert!(warnings.is_empty(), "{warnings:?}");
    let (from_log, _) = hmt_reads(&log);
    assert_eq!(from_har.len(), count);
    assert_eq!(from_har, from_log);
    let lines: Vec<String> = from_har
        .iter()
        .map(hmt_types::Exchange::to_json_line)
        .collect();
    let log_text = std::fs::read_to_string(&log).unwrap();
    let logged: Vec<&str> = log_text.lines().collect();
    assert_eq!(
        lines, logged,
        "the HAR converts back to the very lines of the JSONL log"
    );
    let echo = from_har
        .iter()
        .find(|x| x.request.pathname == "/echo")
        .unwrap();
    assert_eq!(echo.request.query.get_all("a"), &["1", "2"]);
    assert_eq!(echo.request.body_text(), Some("hello upstream"));
}

#[test]
fn record_har_alone_writes_no_logs_and_a_killed_recorder_leaves_a_complete_har_to_add_to() {
    require_curl();
    let up = Upstreams::start();
    let work = tempdir();
    let curl_dir = tempdir();
    let har = work.path().join("session.har");
    let har_arg = har.to_str().unwrap();

    let hmt = RecordProcess::start(work.path(), &["--har", har_arg]);
    let count = traffic(curl_dir.path(), &hmt, &up);
    wait_for_entries(&har, count);
    // No goodbye: SIGKILL, nothing flushed or closed at exit.
    assert!(signal(hmt.pid, "KILL"));
    let outcome = hmt.wait(Duration::from_secs(10));
    assert_eq!(outcome.code, None, "killed");
    assert!(
        !work.path().join("logs").exists(),
        "--har alone writes no logs/"
    );
    let doc = python_reads(&har);
    assert_eq!(
        doc["log"]["entries"].as_array().unwrap().len(),
        count,
        "complete after every write"
    );
    let (read, warnings) = hmt_reads(&har);
    assert_eq!((read.len(), warnings.len()), (count, 0));

    // A second run adds to the file it finds.
    let hmt = RecordProcess::start(work.path(), &["--har", har_arg]);
    assert_eq!(
        curl(curl_dir.path(), &[hmt.path_url(&up.plain_url("/json"))]).status,
        200
    );
    let outcome = hmt.stop();
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
    let doc = python_reads(&har);
    assert_eq!(doc["log"]["entries"].as_array().unwrap().len(), count + 1);
    let (again, _) = hmt_reads(&har);
    assert_eq!(again[..count], read[..]);

    // A file hmt did not write (or one cut short) is refused, not overwritten.
    let foreign = work.path().join("foreign.har");
    std::fs::write(&foreign, "{\"log\": {\"entries\": []}}").unwrap();
    let refused = run_hmt(
        work.path(),
        &work.path().join("home"),
        &["record", "-p", "0", "--har", foreign.to_str().unwrap()],
        Duration::from_secs(20),
    );
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("exists and is not a complete HAR file hmt wrote"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&foreign).unwrap(),
        "{\"log\": {\"entries\": []}}"
    );
}

/// Sets `hmt record`'s soft file-size limit (RLIMIT_FSIZE) with `prlimit`.
fn limit_file_size(pid: u32, value: &str) {
    let out = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={value}:")])
        .output()
        .expect("prlimit (util-linux) runs");
    assert!(
        out.status.success(),
        "prlimit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A write that fails part-way (a file-size limit: EFBIG after some bytes)
/// is undone: the HAR stays a complete document with the entries it had,
/// the exchange is counted lost, and recording goes on once there is room.
#[test]
fn a_failed_har_write_is_undone_and_counted_lost() {
    require_curl();
    let up = Upstreams::start();
    let work = tempdir();
    let curl_dir = tempdir();
    let har = work.path().join("session.har");
    let hmt = RecordProcess::start(work.path(), &["--har", har.to_str().unwrap()]);
    let count = traffic(curl_dir.path(), &hmt, &up);
    wait_for_entries(&har, count);
    let before = std::fs::read(&har).unwrap();
    // Room for a little more than there is: the next (large) entry fails
    // part-way through.
    limit_file_size(hmt.pid, &(before.len() + 2048).to_string());
    let big = "x".repeat(64 * 1024);
    let echo = curl(
        curl_dir.path(),
        &["-d", &big, &hmt.path_url(&up.plain_url("/echo"))],
    );
    assert_eq!(echo.status, 200);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !hmt.stderr_text().contains("recordings are being lost") {
        assert!(
            Instant::now() < deadline,
            "no loss logged:\n{}",
            hmt.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read(&har).unwrap(), before, "undone to the byte");
    limit_file_size(hmt.pid, "unlimited");
    assert_eq!(
        curl(curl_dir.path(), &[hmt.path_url(&up.plain_url("/json"))]).status,
        200
    );
    let outcome = hmt.stop();
    assert_eq!(
        outcome.code,
        Some(1),
        "a lost recording fails the run:\n{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains(&format!(
            "hmt record: {}: {} delivered, 1 LOST",
            har.display(),
            count + 1
        )),
        "{}",
        outcome.stderr
    );
    let doc = python_reads(&har);
    assert_eq!(doc["log"]["entries"].as_array().unwrap().len(), count + 1);
    let (read, warnings) = hmt_reads(&har);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(read.last().unwrap().request.pathname, "/json");
}
