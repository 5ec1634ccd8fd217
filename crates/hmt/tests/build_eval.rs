//! The path-templating evaluation on the real binary: four word-named APIs
//! from `scripts/gen_eval.py` (GitHub-like, a shop, a files API, dated
//! reports), each built at 50 and 200 exchanges and scored by
//! `scripts/eval_build.py` against its ground truth: path F1 >= 0.98, every
//! recorded exchange routed to its true operation, byte-identical rebuilds,
//! and a second day's traffic (another seed) valid against the first day's
//! spec for at least 95% of its exchanges. The 2,000-exchange size runs in
//! `make eval-build`.

mod common;

use common::repo_root;
use std::process::Command;

#[test]
fn word_named_apis_meet_the_templating_and_second_day_targets() {
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup-python.sh (make test does)",
        python.display()
    );
    let output = Command::new(&python)
        .arg(root.join("scripts/eval_build.py"))
        .args([
            "--hmt",
            env!("CARGO_BIN_EXE_hmt"),
            "--sizes",
            "50,200",
            "--check",
        ])
        .output()
        .expect("run scripts/eval_build.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "evaluation targets missed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // Every API at both sizes was scored: the table cannot pass by being empty.
    for api in ["files", "github", "reports", "shop"] {
        for size in ["50", "200"] {
            let row = format!("| {api} | {size} |");
            assert!(stdout.contains(&row), "no row {row} in:\n{stdout}");
        }
    }
}
