//! HAR through the real binary: `hmt build` from HAR files (plain, gzip,
//! stdin, bad, cut short) and `hmt convert` between JSONL and HAR.

mod common;

use common::*;
use serde_json::Value;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tempfile::TempDir;

fn tempdir() -> TempDir {
    tempfile::tempdir().expect("create a temp dir")
}

/// What `hmt ARGS` did: exit code, stdout bytes, stderr.
fn hmt<S: AsRef<OsStr>>(args: &[S], stdin: Option<&Path>) -> (Option<i32>, Vec<u8>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hmt"));
    cmd.args(args);
    cmd.stdin(match stdin {
        Some(path) => Stdio::from(std::fs::File::open(path).expect("stdin file")),
        None => Stdio::null(),
    });
    let output = cmd.output().expect("hmt runs");
    (
        output.status.code(),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn convert(input: &Path, output: &Path) {
    let (code, _, stderr) = hmt(
        &[OsStr::new("convert"), input.as_os_str(), output.as_os_str()],
        None,
    );
    assert_eq!(
        code,
        Some(0),
        "hmt convert {} {}: {stderr}",
        input.display(),
        output.display()
    );
}

fn har_fixture(name: &str) -> PathBuf {
    repo_root().join(format!("fixtures/har/{name}.har"))
}

/// Fails unless `a` and `b` hold the same files with the same bytes.
fn assert_same_specs(what: &str, a: &Path, b: &Path) {
    assert_eq!(file_names(a), file_names(b), "{what}: different files");
    assert!(!file_names(a).is_empty(), "{what}: no spec written");
    for name in file_names(a) {
        let left = std::fs::read_to_string(a.join(&name)).unwrap();
        let right = std::fs::read_to_string(b.join(&name)).unwrap();
        assert!(
            left == right,
            "{what}: {name} differs:\n{left}\n---\n{right}"
        );
    }
}

/// Parses every file with Python's `json` (a reader that is not ours) and
/// returns the number of entries of each HAR.
fn python_entry_counts(files: &[PathBuf]) -> Vec<usize> {
    let script = "import json, sys\nfor p in sys.argv[1:]:\n    with open(p, encoding='utf-8') as f:\n        print(len(json.load(f)['log']['entries']))\n";
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "python json: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

#[test]
fn build_from_a_har_gives_the_same_spec_as_from_the_same_exchanges_in_jsonl() {
    for name in ["chrome", "firefox", "mitmproxy", "playwright"] {
        let (from_har, from_jsonl) = (tempdir(), tempdir());
        let har = har_fixture(name);
        let out = build_into(&har, from_har.path(), "gen", &[]);
        assert!(out.stderr.contains("hmt build: "), "{}", out.stderr);
        build_into(&har.with_extension("jsonl"), from_jsonl.path(), "gen", &[]);
        assert_same_specs(name, from_har.path(), from_jsonl.path());
    }
    // Hundreds of exchanges, three modes: the HAR made by `hmt convert`.
    let dir = tempdir();
    let har = dir.path().join("shop.har");
    convert(shop_recording(), &har);
    for mode in ["gen", "replay", "mixed"] {
        let (from_har, from_jsonl) = (tempdir(), tempdir());
        build_into(&har, from_har.path(), mode, &[]);
        build_into(shop_recording(), from_jsonl.path(), mode, &[]);
        assert_same_specs(&format!("shop, {mode}"), from_har.path(), from_jsonl.path());
    }
}

#[test]
fn build_reads_har_gzipped_or_on_stdin_whatever_its_name() {
    let har = har_fixture("chrome");
    let dir = tempdir();
    let gz = dir.path().join("session.har.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&std::fs::read(&har).unwrap()).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
    let misnamed = dir.path().join("traffic.jsonl");
    std::fs::copy(&har, &misnamed).unwrap();

    let want = tempdir();
    build_into(&har, want.path(), "gen", &[]);
    for input in [&gz, &misnamed] {
        let got = tempdir();
        build_into(input, got.path(), "gen", &[]);
        assert_same_specs(&input.display().to_string(), want.path(), got.path());
    }
    for stdin in [&har, &gz] {
        let got = tempdir();
        let out = run_build(
            &[
                OsStr::new("-i"),
                OsStr::new("-"),
                OsStr::new("-o"),
                got.path().as_os_str(),
            ],
            Some(stdin),
        );
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert_same_specs("stdin", want.path(), got.path());
    }
}

/// A HAR of `count` copies of Chrome's first entry, with `patch` applied
/// to entry `bad`.
fn har_with(count: usize, bad: usize, patch: impl FnOnce(&mut Value)) -> String {
    let mut doc = read_json(&har_fixture("chrome"));
    let first = doc["log"]["entries"][0].clone();
    let mut entries = vec![first; count];
    patch(&mut entries[bad]);
    doc["log"]["entries"] = Value::Array(entries);
    serde_json::to_string_pretty(&doc).unwrap()
}

#[test]
fn a_bad_entry_stops_the_build_naming_the_file_and_pointer_or_is_skipped() {
    let dir = tempdir();
    let session = dir.path().join("session.har");
    std::fs::write(
        &session,
        har_with(20, 17, |e| e["request"]["url"] = "/no/host".into()),
    )
    .unwrap();
    let out = dir.path().join("specs");
    let failed = run_build(
        &[
            OsStr::new("-i"),
            session.as_os_str(),
            OsStr::new("-o"),
            out.as_os_str(),
        ],
        None,
    );
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    let want = format!(
        "{}: at /log/entries/17/request/url: \"/no/host\" is not an absolute URL",
        session.display()
    );
    assert!(failed.stderr.contains(&want), "{}", failed.stderr);
    assert!(
        !out.join("openapi.json").exists(),
        "no spec from a failed build"
    );

    let skipped = build_ok(&[
        OsStr::new("-i"),
        session.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
        OsStr::new("--skip-invalid"),
    ]);
    assert!(
        skipped.stderr.contains(&format!("hmt: skipped {want}")),
        "{}",
        skipped.stderr
    );
    assert!(
        skipped.stderr.contains("19 exchanges read, 1 skipped"),
        "{}",
        skipped.stderr
    );

    // A document that is not HAR at all stops even with --skip-invalid.
    std::fs::write(&session, "{\"log\": {\"entries\": 5}}").unwrap();
    let broken = run_build(
        &[
            OsStr::new("-i"),
            session.as_os_str(),
            OsStr::new("-o"),
            out.as_os_str(),
            OsStr::new("--skip-invalid"),
        ],
        None,
    );
    assert_eq!(broken.code, Some(1));
    assert!(
        broken.stderr.contains(&format!(
            "{}: at /log/entries: invalid type: integer `5`, expected an array of entries",
            session.display()
        )),
        "{}",
        broken.stderr
    );
}

#[test]
fn a_har_cut_short_builds_from_its_complete_entries_with_a_warning() {
    let dir = tempdir();
    let text = har_with(5, 0, |_| {});
    // Cut inside the last entry, as a crash mid-write leaves it.
    let cut = text.rfind("\"timings\"").unwrap();
    let session = dir.path().join("session.har");
    std::fs::write(&session, &text[..cut]).unwrap();
    let out = build_ok(&[
        OsStr::new("-i"),
        session.as_os_str(),
        OsStr::new("-o"),
        dir.path().join("specs").as_os_str(),
    ]);
    assert!(
        out.stderr.contains(&format!(
            "hmt: warning: {}: the file ends inside /log/entries/4 (cut short, as by a crash); the 4 complete entries before it were read",
            session.display()
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hmt build: 4 exchanges read"),
        "{}",
        out.stderr
    );
}

/// Every bundled http-types recording.
fn bundled_recordings() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension() == Some(OsStr::new("jsonl")) {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    // fixtures/ holds HMT 0.3.2's recordings too (fixtures/hmt).
    walk(&repo_root().join("fixtures"), &mut found);
    walk(&repo_root().join("logs"), &mut found);
    found.sort();
    assert!(
        found.iter().any(|path| path.starts_with(hmt_fixtures())),
        "no HMT recordings among {found:?}"
    );
    found
}

#[test]
fn convert_jsonl_to_har_and_back_is_byte_for_byte_on_every_bundled_recording() {
    let recordings = bundled_recordings();
    assert!(recordings.len() >= 15, "{recordings:?}");
    let dir = tempdir();
    let mut hars = Vec::new();
    let mut exchanges = Vec::new();
    for (i, recording) in recordings.iter().enumerate() {
        let canonical = dir.path().join(format!("{i}.jsonl"));
        let har = dir.path().join(format!("{i}.har"));
        let back = dir.path().join(format!("{i}.back.jsonl"));
        let har_again = dir.path().join(format!("{i}.again.har"));
        convert(recording, &canonical);
        convert(recording, &har);
        convert(&har, &back);
        convert(&back, &har_again);
        let what = recording.display();
        assert!(
            std::fs::read(&canonical).unwrap() == std::fs::read(&back).unwrap(),
            "{what}: JSONL -> HAR -> JSONL changed the bytes"
        );
        assert!(
            std::fs::read(&har).unwrap() == std::fs::read(&har_again).unwrap(),
            "{what}: HAR not deterministic"
        );
        exchanges.push(std::fs::read_to_string(&canonical).unwrap().lines().count());
        hars.push(har);
    }
    assert_eq!(
        python_entry_counts(&hars),
        exchanges,
        "Python's json reads every HAR, one entry per exchange"
    );
}

#[test]
fn convert_writes_gzip_and_stdout_and_leaves_nothing_behind_when_it_fails() {
    let dir = tempdir();
    let source = recording("opbank");
    let canonical = dir.path().join("canonical.jsonl");
    convert(&source, &canonical);

    // .har.gz, read back by content.
    let gz = dir.path().join("out.har.gz");
    convert(&source, &gz);
    assert_eq!(&std::fs::read(&gz).unwrap()[..2], &[0x1f, 0x8b]);
    let back = dir.path().join("back.jsonl");
    convert(&gz, &back);
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&canonical).unwrap()
    );

    // Stdout needs --to; stdin is read by content.
    let (code, _, stderr) = hmt(
        &[OsStr::new("convert"), source.as_os_str(), OsStr::new("-")],
        None,
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("writing to stdout needs --to har or --to jsonl"),
        "{stderr}"
    );
    let (code, har, stderr) = hmt(&["convert", "-", "-", "--to", "har"], Some(&source));
    assert_eq!(code, Some(0), "{stderr}");
    let har_file = dir.path().join("stdout.har");
    std::fs::write(&har_file, &har).unwrap();
    let (code, jsonl, stderr) = hmt(&["convert", "-", "-", "--to", "jsonl"], Some(&har_file));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(jsonl, std::fs::read(&canonical).unwrap());

    // An unknown extension, and a bad input: an error, OUT untouched.
    let (code, _, stderr) = hmt(
        &[
            OsStr::new("convert"),
            source.as_os_str(),
            dir.path().join("x.txt").as_os_str(),
        ],
        None,
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("cannot tell the output format from"),
        "{stderr}"
    );
    let bad = dir.path().join("bad.har");
    std::fs::write(
        &bad,
        har_with(3, 2, |e| e["request"]["method"] = "FETCH".into()),
    )
    .unwrap();
    let kept = dir.path().join("kept.jsonl");
    std::fs::write(&kept, "before\n").unwrap();
    let (code, _, stderr) = hmt(
        &[OsStr::new("convert"), bad.as_os_str(), kept.as_os_str()],
        None,
    );
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("bad.har: at /log/entries/2/request/method: unknown method \"FETCH\""),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&kept).unwrap(), "before\n");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (code, _, stderr) = hmt(
        &[
            OsStr::new("convert"),
            bad.as_os_str(),
            kept.as_os_str(),
            OsStr::new("--skip-invalid"),
        ],
        None,
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("2 exchanges (har) -> ") && stderr.contains("1 invalid skipped"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&kept).unwrap().lines().count(), 2);
}
