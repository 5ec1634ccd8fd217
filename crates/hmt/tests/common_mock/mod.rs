//! The real `hmt mock` binary for end-to-end tests that drive it with
//! external clients (curl, schemathesis): started on free loopback ports,
//! its addresses read from its banner, killed when dropped.

#![allow(dead_code)]
// Shared by several test binaries through `mod common;`: its items are
// `pub` so that each test file can use them, which rustc, seeing one
// binary at a time, calls unreachable.
#![allow(unreachable_pub)]

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A running `hmt mock`, killed when dropped.
pub struct RunningMock {
    child: Child,
    /// `http://127.0.0.1:PORT` of the mock.
    pub base: String,
    /// `http://127.0.0.1:PORT` of its admin API.
    pub admin: String,
    /// What it printed on stderr before its banner (warnings at start-up).
    pub log: Vec<String>,
}

impl Drop for RunningMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `hmt mock -p 0 -a 0 ARGS` and waits (at most 60 s: a large spec
/// in a debug build on a busy machine) for its banner.
pub fn start(args: &[&str]) -> RunningMock {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hmt"))
        .arg("mock")
        .args(["-p", "0", "-a", "0"])
        .args(args)
        .env("HMT_HOME", std::env::temp_dir().join("hmt-mock-test-home"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hmt mock");
    let lines = crate::common::stderr_lines(&mut child);
    let ((base, admin, _), log) =
        crate::common::wait_for_mock_banner(&mut child, &lines, Duration::from_secs(60));
    RunningMock {
        base,
        admin,
        child,
        log,
    }
}

/// What curl got: the status, the response headers (names lower-case) and
/// the body.
pub struct CurlReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl CurlReply {
    /// Every value of header `name`, in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Runs `curl -sS --globoff --max-time 20 ARGS URL` (the URL sent as
/// written: `--globoff` keeps `[]` and `{}`) and reads the last response
/// (with `--digest` curl first gets the 401 it answers, then the final
/// response).
pub fn curl(args: &[&str], url: &str) -> CurlReply {
    let dir = tempfile::tempdir().expect("temporary directory");
    let heads = dir.path().join("heads");
    let body = dir.path().join("body");
    let output: Output = Command::new("curl")
        .args(["-sS", "--globoff", "--max-time", "20", "-D"])
        .arg(&heads)
        .arg("-o")
        .arg(&body)
        .args(args)
        .arg(url)
        .output()
        .expect("curl runs (Debian: apt-get install curl)");
    assert!(
        output.status.success(),
        "curl {args:?} {url} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let heads = std::fs::read_to_string(&heads).expect("curl wrote the headers");
    // Heads are separated by an empty line; the last one is the answer.
    let head = heads
        .split("\r\n\r\n")
        .filter(|h| !h.trim().is_empty())
        .last()
        .unwrap_or_else(|| panic!("no response head from curl: {heads:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    CurlReply {
        status,
        headers,
        body: std::fs::read_to_string(&body).unwrap_or_default(),
    }
}
