//! Conformance against a real fuzzer: schemathesis (pinned in
//! scripts/requirements-test.txt, installed into `.venv` by
//! scripts/setup-python.sh) generates valid and invalid requests for every
//! operation of Stripe's spec and sends them to the real `hmt mock`, with
//! validation and security on and the bearer token the spec asks for. Its
//! checks hold the mock to the spec: documented status codes and content
//! types, response bodies valid against their schemas, no server errors.
//!
//! Deterministic: a fixed seed and one worker. Two runs:
//! - examples and fuzzing, a bounded number of examples per operation
//!   (about a minute and a half in a debug build on two cores);
//! - the stateful phase: chains of calls whose path parameters come from
//!   earlier answers (`POST /v1/customers`, then `/v1/customers/{id}`...),
//!   100 scenarios, about 20 seconds.
//!
//! Left out, and why:
//! - `GET /v1/customers` documents no error response (only 200; every
//!   other Stripe operation documents `default`), so the refusal a
//!   validating mock must give the fuzzer's invalid requests can only be
//!   "undocumented".
//! - The coverage phase (boundary values of every keyword) takes several
//!   minutes on Stripe's 352 operations.
//! - Request targets over 65,534 bytes, refused by the HTTP layer before
//!   any operation is involved, and 404s to stateful requests whose path is
//!   not their operation's: schemathesis writes objects taken from
//!   Stripe's expandable fields into path parameters unencoded, `/`
//!   included (`schemathesis/hmt_hooks.py` says more).

mod common;
mod common_mock;

use std::process::{Command, Stdio};
use std::time::Duration;

/// A run is killed past this. Alone the longer takes about 90 s; the margin is
/// for a machine busy with the rest of the suite.
const TIME_LIMIT: Duration = Duration::from_secs(420);

#[test]
fn schemathesis_finds_no_failure_on_stripe_with_validation_and_security_on() {
    let output = schemathesis_on_stripe(&["--phases", "examples,fuzzing", "--max-examples", "5"]);
    // It did test: every operation but the one left out.
    assert!(output.contains("351 passed"), "{output}");
}

#[test]
fn schemathesis_stateful_calls_on_stripe_find_no_failure() {
    let output = schemathesis_on_stripe(&["--phases", "stateful", "--max-examples", "100"]);
    // It did test: the stateful phase ran and passed.
    assert!(output.contains("✅ Stateful"), "{output}");
    assert!(output.contains(" passed"), "{output}");
}

/// Runs schemathesis with `phase_args` against a mock of Stripe's spec
/// with validation and security on, and returns its output; fails the test
/// unless it found no failure within [`TIME_LIMIT`].
fn schemathesis_on_stripe(phase_args: &[&str]) -> String {
    let root = common::repo_root();
    let schemathesis = root.join(".venv/bin/schemathesis");
    assert!(
        schemathesis.exists(),
        "{} is missing: run scripts/setup-python.sh",
        schemathesis.display()
    );
    let spec = common::hmt_fixtures().join("hmt/tests/serve/mock/schemas/stripe/index.yaml");
    let mock = common_mock::start(&[spec.to_str().unwrap()]);
    let work = tempfile::tempdir().unwrap();
    let hooks = root.join("crates/hmt/tests/schemathesis");
    let mut child = Command::new(&schemathesis)
        .arg("run")
        .arg(&spec)
        .args(["--url", &mock.base])
        .args(["-H", "Authorization: Bearer sk_test_x"])
        .args([
            "--checks",
            "status_code_conformance,content_type_conformance,response_schema_conformance,not_a_server_error",
        ])
        .args(phase_args)
        .args(["--seed", "1", "--workers", "1"])
        .args(["--no-shrink", "--generation-database", "none"])
        .args(["--exclude-operation-id", "GetCustomers"])
        .arg("--no-color")
        .current_dir(work.path())
        .env("PYTHONPATH", &hooks)
        .env("SCHEMATHESIS_HOOKS", "hmt_hooks")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("schemathesis starts");
    let (status, out, err) = common::finish_within(&mut child, TIME_LIMIT);
    let output = format!("{out}{err}");
    match status {
        None => panic!("schemathesis ran past {TIME_LIMIT:?}:\n{output}"),
        Some(status) => assert!(
            status.success(),
            "schemathesis found failures ({status}):\n{output}"
        ),
    }
    output
}
