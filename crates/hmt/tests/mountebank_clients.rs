//! `hmt mock` as a mountebank server: started without specs, driven by
//! mountebank's own clients (mbtest from PyPI) and by its command-line
//! options (`--configfile`, `--datadir`).
//!
//! Needs the repository's `.venv` (`make test-deps` installs mbtest and
//! pytest there).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `hmt mock` serving only the imposters API; killed when dropped.
struct Mountebank {
    child: Child,
    port: u16,
    banner: String,
}

impl Drop for Mountebank {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `hmt mock -a 0 ARGS` and waits for its banner.
fn start(args: &[&str]) -> Result<Mountebank, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hmt"))
        .args(["mock", "-a", "0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hmt mock");
    let rx = common::stderr_lines(&mut child);
    let (port, _) = common::wait_for_line(&mut child, &rx, Duration::from_secs(20), |line| {
        let rest = line.strip_prefix("hmt mock: imposters API on http://127.0.0.1:")?;
        let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((port.parse::<u16>().unwrap(), line.to_owned()))
    })?;
    let (port, banner) = port;
    Ok(Mountebank {
        child,
        port,
        banner,
    })
}

fn admin(port: u16, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method]);
    if let Some(body) = body {
        command.args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ]);
    }
    let output = command
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn mbtest_from_pypi_drives_hmt_as_it_drives_mountebank() {
    let python = common::repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make test-deps`",
        python.display()
    );
    let server = start(&[]).unwrap();
    // Without specs, no mock port: only the admin API listens.
    assert!(!server.banner.contains(" spec"), "{}", server.banner);
    let output = Command::new(python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "crates/hmt/tests/mountebank/test_mbtest.py",
        ])
        .current_dir(common::repo_root())
        .env("MB_PORT", server.port.to_string())
        .output()
        .expect("run pytest");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "mbtest's tests failed:\n{report}");
    assert!(report.contains("9 passed"), "{report}");
}

#[test]
fn a_configfile_creates_imposters_and_a_datadir_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("imposters.json");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    drop(taken);
    std::fs::write(
        &config,
        format!(r#"{{"imposters": [{{"protocol": "http", "port": {port}, "stubs": [{{"responses": [{{"is": {{"body": "configured"}}}}]}}]}}]}}"#),
    )
    .unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    {
        let server = start(&[
            "--configfile",
            config.to_str().unwrap(),
            "--datadir",
            data_arg,
        ])
        .unwrap();
        assert!(server.banner.contains("1 imposter"), "{}", server.banner);
        let (status, body) = admin(port, "GET", "/", None);
        assert_eq!((status, body.as_str()), (200, "configured"));
        let (status, _) = admin(
            server.port,
            "POST",
            &format!("/imposters/{port}/stubs"),
            Some(
                r#"{"index": 0, "stub": {"predicates": [{"equals": {"path": "/later"}}], "responses": [{"is": {"body": "added"}}]}}"#,
            ),
        );
        assert_eq!(status, 200);
    }
    // Restarted on the same datadir, without the configfile: the imposter
    // is back with the stub added at run time.
    let server = start(&["--datadir", data_arg]).unwrap();
    assert!(server.banner.contains("1 imposter"), "{}", server.banner);
    assert_eq!(
        admin(port, "GET", "/later", None),
        (200, "added".to_string())
    );
    assert_eq!(
        admin(port, "GET", "/", None),
        (200, "configured".to_string())
    );
}

#[test]
fn bad_configfiles_are_refused_with_where() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "ejs.json",
            r#"{"imposters": [<% include x.ejs %>]}"#,
            "EJS templating",
        ),
        (
            "broken.json",
            "{\n  \"imposters\": [\n    {\"protocol\": }\n  ]\n}",
            "broken.json:3:",
        ),
        (
            "bad.json",
            r#"{"imposters": [{"protocol": "http"}, {"protocol": "smtp"}]}"#,
            "at /imposters/1: the smtp protocol",
        ),
    ];
    for (name, text, expected) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let error = start(&["--configfile", file.to_str().unwrap()])
            .err()
            .expect("refused");
        assert!(error.contains(expected), "{name}: {error}");
    }
}

#[test]
fn an_imposter_can_stand_on_recordings() {
    let server = start(&[]).unwrap();
    let recordings = common::repo_root().join("fixtures/recordings/pokeapi.jsonl");
    let definition = format!(
        r#"{{"protocol": "http", "hmt": {{"recordings": [{}]}}, "stubs": [{{"predicates": [{{"equals": {{"path": "/stubbed"}}}}], "responses": [{{"is": {{"body": "stub"}}}}]}}]}}"#,
        serde_json::Value::String(recordings.display().to_string())
    );
    let (status, created) = admin(server.port, "POST", "/imposters", Some(&definition));
    assert_eq!(status, 201, "{created}");
    let port: u16 = serde_json::from_str::<serde_json::Value>(&created).unwrap()["port"]
        .as_u64()
        .unwrap() as u16;
    assert_eq!(
        admin(port, "GET", "/stubbed", None),
        (200, "stub".to_string())
    );
    // The recording replayed, path-routed to its host as `hmt mock --recordings` does.
    let (status, body) = admin(port, "GET", "/https://pokeapi.co/v2/pokemon/ditto/", None);
    assert_eq!(status, 200);
    assert!(
        body.contains("\"name\":\"ditto\"") || body.contains("\"name\": \"ditto\""),
        "{body}"
    );
    // A request no recording matches: the mock's 404 naming the nearest one.
    let (status, body) = admin(port, "GET", "/https://pokeapi.co/v2/pokemon/mew/", None);
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("no recorded request matches GET /pokemon/mew/"),
        "{body}"
    );
}
