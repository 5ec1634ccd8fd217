//! `hmt build` on input meant to hurt it: lines that never end, gzip bombs,
//! a 10 MB JSON body, hosts whose file names collide, builds that fail
//! halfway, empty input. The binary runs as a user runs it; memory is its
//! peak resident set, as the kernel reports it to the parent (`wait4`).

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const GOOD_LINE: &str = r#"{"request":{"method":"get","protocol":"https","host":"api.example.com","path":"/items/1"},"response":{"statusCode":200,"headers":{"content-type":"application/json"},"body":"{\"id\":1}"}}"#;

const MIB: u64 = 1 << 20;

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temp dir")
}

/// A run of `hmt build` and the most memory it held.
struct Measured {
    code: Option<i32>,
    stderr: String,
    /// Peak resident set size, bytes.
    peak: u64,
}

/// Runs `hmt build ARGS` and reads its peak RSS from `wait4`, which reports
/// that of this one child (unlike `RUSAGE_CHILDREN`, shared by every test
/// of the process). Linux counts the peak of the process that spawned it
/// into a child's (the child starts as a copy of it, or with `vfork`, in
/// it), so a test measuring this way keeps its own memory small: it writes
/// large inputs a piece at a time and reads large outputs after measuring.
fn measure_build(args: &[&str]) -> Measured {
    let dir = tempdir();
    let stderr_path = dir.path().join("stderr");
    let child = Command::new(env!("CARGO_BIN_EXE_hmt"))
        .arg("build")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("hmt runs");
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not waited for yet; the pointers are valid.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    let status = std::process::ExitStatus::from_raw(status);
    Measured {
        code: status.code(),
        stderr: std::fs::read_to_string(&stderr_path).expect("stderr"),
        // Linux reports kilobytes.
        peak: u64::try_from(usage.ru_maxrss).expect("positive") * 1024,
    }
}

/// Peak RSS of building one small exchange: what the process costs with
/// no large input, in the same mode. The least of three runs, since how
/// much of the binary is paged in varies from run to run.
fn idle_peak(mode: &str) -> u64 {
    let dir = tempdir();
    let input = write_lines(dir.path(), "small.jsonl", &[GOOD_LINE]);
    let out = dir.path().join("out");
    let args = ["-i", path_str(&input), "-o", path_str(&out), "-m", mode];
    (0..3)
        .map(|_| {
            let run = measure_build(&args);
            assert_eq!(run.code, Some(0), "{}", run.stderr);
            run.peak
        })
        .min()
        .expect("three runs")
}

/// Fails unless `run` held at most `allowance` bytes above `idle`.
fn assert_peak_within(what: &str, run: &Measured, idle: u64, allowance: u64) {
    eprintln!(
        "{what}: peak {} MiB (idle {} MiB)",
        run.peak / MIB,
        idle / MIB
    );
    assert!(
        run.peak <= idle + allowance,
        "{what} took {} MiB, more than {} MiB above idle ({} MiB)",
        run.peak / MIB,
        allowance / MIB,
        idle / MIB
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

fn write_lines(dir: &Path, name: &str, lines: &[&str]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("write recording");
    path
}

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    file_names(dir)
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).unwrap_or_default();
            (name, bytes)
        })
        .collect()
}

// ---- lines longer than the limit ----------------------------------------------------

#[test]
fn a_line_longer_than_the_limit_is_named_and_can_be_skipped() {
    let dir = tempdir();
    let long = format!(
        r#"{{"request":{{"method":"get","path":"/{}"}}}}"#,
        "x".repeat(2 << 20)
    );
    let input = write_lines(dir.path(), "long.jsonl", &[GOOD_LINE, &long, GOOD_LINE]);
    let out = dir.path().join("out");
    let args = ["-i", path_str(&input), "-o", path_str(&out)];

    let run = run_build(&[&args[..], &["--max-line-bytes", "1MiB"]].concat(), None);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let named = format!(
        "{}:2: line longer than 1 MiB (--max-line-bytes)",
        input.display()
    );
    assert!(
        run.stderr.contains(&named),
        "no {named:?} in:\n{}",
        run.stderr
    );
    assert!(!out.exists(), "a failed build wrote {}", out.display());

    let run = run_build(
        &[&args[..], &["--max-line-bytes", "1MiB", "--skip-invalid"]].concat(),
        None,
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("hmt: skipped {named}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hmt build: 2 exchanges read, 1 skipped, "),
        "{}",
        run.stderr
    );

    // The default limit, 64 MiB, lets a 2 MiB line through.
    let run = run_build(&args, None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("3 exchanges read"), "{}", run.stderr);
}

#[test]
fn max_line_bytes_takes_units_and_refuses_nonsense() {
    let dir = tempdir();
    let input = write_lines(dir.path(), "one.jsonl", &[GOOD_LINE]);
    let out = dir.path().join("out");
    let with_limit = |limit: &str| {
        let args = ["-i", path_str(&input), "-o", path_str(&out)];
        run_build(&[&args[..], &["--max-line-bytes", limit]].concat(), None)
    };
    for ok in ["300", "1KiB", "2k", "64MiB", "1GiB"] {
        let run = with_limit(ok);
        assert_eq!(run.code, Some(0), "{ok}: {}", run.stderr);
    }
    let run = with_limit("100");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("line longer than 100 bytes"));
    for bad in ["0", "12XB", "lots", "99999999999GiB"] {
        let run = with_limit(bad);
        assert_eq!(run.code, Some(2), "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("--max-line-bytes"), "{}", run.stderr);
    }
}

/// `/dev/zero` is one line that never ends: the reader must stop by itself
/// at the limit, holding no more than the limit.
#[test]
fn dev_zero_stops_at_the_limit_in_bounded_memory() {
    let dir = tempdir();
    let out = dir.path().join("out");
    let idle = idle_peak("gen");
    for (limit, bytes) in [("1MiB", MIB), ("64MiB", 64 * MIB)] {
        let run = measure_build(&[
            "-i",
            "/dev/zero",
            "-o",
            path_str(&out),
            "--max-line-bytes",
            limit,
        ]);
        assert_eq!(run.code, Some(1), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "/dev/zero:1: line longer than {} MiB (--max-line-bytes)",
                bytes / MIB
            )),
            "{}",
            run.stderr
        );
        let what = format!("/dev/zero with a limit of {limit}");
        assert_peak_within(&what, &run, idle, bytes + 16 * MIB);
        assert!(!out.exists());
    }
}

/// 256 MiB of zeros in 256 kB of gzip, then one good line: with
/// --skip-invalid the bomb is skipped in bounded memory and the build goes on.
#[test]
fn a_gzip_bomb_takes_no_more_than_the_limit() {
    let dir = tempdir();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; MIB as usize]).expect("compress");
    let member = gz.finish().expect("compress");
    let mut tail = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    writeln!(tail, "\n{GOOD_LINE}").expect("compress");
    let bomb_path = dir.path().join("bomb.jsonl.gz");
    let mut bomb = std::fs::File::create(&bomb_path).expect("create");
    for _ in 0..256 {
        bomb.write_all(&member).expect("write");
    }
    bomb.write_all(&tail.finish().expect("compress"))
        .expect("write");
    drop(bomb);

    let idle = idle_peak("gen");
    let out = dir.path().join("out");
    let run = measure_build(&[
        "-i",
        path_str(&bomb_path),
        "-o",
        path_str(&out),
        "--max-line-bytes",
        "1MiB",
        "--skip-invalid",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "skipped {}:1: line longer than 1 MiB",
            bomb_path.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1 exchange read, 1 skipped"),
        "{}",
        run.stderr
    );
    assert_peak_within("the gzip bomb", &run, idle, 16 * MIB);
}

// ---- a large JSON body ---------------------------------------------------------------

/// Writes one exchange whose response is a JSON array of objects of about
/// `size` bytes to `path`, a piece at a time (so that this process stays
/// small: see [`measure_build`]); returns the body's length.
fn write_large_array_exchange(path: &Path, size: usize) -> usize {
    let file = std::fs::File::create(path).expect("create");
    let mut out = std::io::BufWriter::new(file);
    out.write_all(
        br#"{"request":{"method":"get","protocol":"https","host":"api.example.com","path":"/items"},"response":{"statusCode":200,"headers":{"content-type":"application/json"},"body":"["#,
    )
    .expect("write");
    let mut body_len = 1;
    let mut i = 0u64;
    while body_len < size {
        let item = format!(
            r#"{}{{"id":{i},"name":"item {i}","price":{}.5,"tags":["a","b"],"active":{},"owner":{{"login":"user{}","type":"User"}}}}"#,
            if i > 0 { "," } else { "" },
            i % 1000,
            i.is_multiple_of(2),
            i % 100
        );
        body_len += item.len();
        // Inside the line, the body is a JSON string: quotes escaped.
        out.write_all(item.replace('"', "\\\"").as_bytes())
            .expect("write");
        i += 1;
    }
    out.write_all(b"]\"}}\n").expect("write");
    out.flush().expect("write");
    body_len + 1
}

/// What one 10 MB body costs above an idle build. Before the example was cut
/// to size and the line buffer given back, this was about 30 times the body.
#[test]
fn a_ten_megabyte_json_array_costs_a_small_multiple_of_its_size() {
    let dir = tempdir();
    let input = dir.path().join("large.jsonl");
    let body_len = write_large_array_exchange(&input, 10 * MIB as usize);
    let modes = ["gen", "replay", "mixed"];
    // Measure first, read the specs after: reading them here would raise this
    // process's peak, which the kernel counts into its children's.
    let mut costs = Vec::new();
    for mode in modes {
        let idle = idle_peak(mode);
        let out = dir.path().join(format!("out-{mode}"));
        let run = measure_build(&["-i", path_str(&input), "-o", path_str(&out), "-m", mode]);
        assert_eq!(run.code, Some(0), "{mode}: {}", run.stderr);
        eprintln!(
            "{mode}: body {:.1} MiB, peak {:.1} MiB, idle {:.1} MiB: {:.1} x the body",
            body_len as f64 / MIB as f64,
            run.peak as f64 / MIB as f64,
            idle as f64 / MIB as f64,
            run.peak.saturating_sub(idle) as f64 / body_len as f64,
        );
        costs.push((mode, run.peak.saturating_sub(idle)));
    }
    for (mode, cost) in costs {
        let ratio = cost as f64 / body_len as f64;
        assert!(
            ratio <= 4.0,
            "{mode}: a {body_len}-byte body cost {cost} bytes ({ratio:.1} x)"
        );
    }
    for mode in modes {
        // The spec describes every item and shows a few of them.
        let spec = read_json(&dir.path().join(format!("out-{mode}/openapi.json")));
        let media =
            &spec["paths"]["/items"]["get"]["responses"]["200"]["content"]["application/json"];
        assert_eq!(
            media["schema"]["items"]["properties"]["owner"]["type"], "object",
            "{mode}"
        );
        let example = match mode {
            "gen" => &media["example"],
            _ => &media["examples"]["recorded-1"]["value"],
        };
        let shown = example.as_array().map_or(0, Vec::len);
        assert!(
            (100..5_000).contains(&shown),
            "{mode}: the example shows {shown} items"
        );
    }
}

// ---- file names ------------------------------------------------------------------------

#[test]
fn hosts_whose_file_names_would_collide_get_distinct_files() {
    let dir = tempdir();
    let line = |host: &str, path: &str| {
        format!(
            r#"{{"request":{{"method":"get","protocol":"http","host":"{host}","path":"{path}"}},"response":{{"statusCode":200,"headers":{{"content-type":"application/json"}},"body":"{{\"at\":\"{path}\"}}"}}}}"#
        )
    };
    let lines = [
        line("a:1", "/colon"),
        line("a_1", "/underscore"),
        line("127.0.0.1:8080", "/local"),
    ];
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let input = write_lines(dir.path(), "hosts.jsonl", &refs);
    let out = dir.path().join("out");
    let run = build_into(&input, &out, "gen", &[]);
    assert_eq!(
        file_names(&out),
        BTreeSet::from([
            "127.0.0.1_8080.openapi.json".to_owned(),
            "a_3a1.openapi.json".to_owned(),
            "a_5f1.openapi.json".to_owned(),
        ])
    );
    assert!(
        run.stderr.contains(
            r#"hmt: warning: hosts "a:1" and "a_1" would share the file name a_1.openapi; they are written to a_3a1.openapi and a_5f1.openapi"#
        ),
        "{}",
        run.stderr
    );
    for (file, url, path) in [
        ("a_3a1.openapi.json", "http://a:1", "/colon"),
        ("a_5f1.openapi.json", "http://a_1", "/underscore"),
        (
            "127.0.0.1_8080.openapi.json",
            "http://127.0.0.1:8080",
            "/local",
        ),
    ] {
        let spec = read_json(&out.join(file));
        assert_eq!(spec["servers"][0]["url"], url, "{file}");
        assert!(spec["paths"][path].is_object(), "{file}: {spec}");
    }
    assert_valid_openapi(&files_in(&out));
}

// ---- nothing partial ---------------------------------------------------------------------

#[test]
fn a_failed_build_leaves_the_output_directory_as_it_was() {
    let dir = tempdir();
    let out = dir.path().join("out");
    build_into(&recording("opbank"), &out, "gen", &[]);
    let before = snapshot(&out);
    assert_eq!(before.len(), 1);

    // Stopped by an invalid line after good ones.
    let bad = write_lines(
        dir.path(),
        "bad.jsonl",
        &[GOOD_LINE, GOOD_LINE, r#"{"request":{"method":"get","#],
    );
    let run = run_build(&["-i", path_str(&bad), "-o", path_str(&out)], None);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert_eq!(
        snapshot(&out),
        before,
        "the failed build changed {}",
        out.display()
    );

    // Stopped while writing: the second of two specs cannot be written (a
    // directory has its name), after the first was complete.
    let two = write_lines(
        dir.path(),
        "two.jsonl",
        &[
            GOOD_LINE,
            &GOOD_LINE.replace("api.example.com", "zz.example.com"),
        ],
    );
    std::fs::create_dir(out.join("zz.example.com.openapi.json")).expect("mkdir");
    let before = snapshot(&out);
    let run = run_build(&["-i", path_str(&two), "-o", path_str(&out)], None);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("zz.example.com.openapi.json: it is a directory"),
        "{}",
        run.stderr
    );
    assert_eq!(
        snapshot(&out),
        before,
        "the failed build left files behind in {}",
        out.display()
    );
}

#[test]
fn a_successful_build_leaves_no_temporary_files_and_a_readable_spec() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let out = dir.path().join("out");
    build_into(&recording("opbank"), &out, "gen", &[]);
    build_into(&recording("opbank"), &out, "gen", &["--format", "yaml"]);
    assert_eq!(
        file_names(&out),
        BTreeSet::from(["openapi.json".to_owned(), "openapi.yaml".to_owned()])
    );
    let mode = std::fs::metadata(out.join("openapi.json"))
        .expect("spec")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o044,
        0o044,
        "spec mode {mode:o} is not readable by others"
    );
}

// ---- empty input ------------------------------------------------------------------------

#[test]
fn empty_input_fails_unless_allow_empty() {
    let dir = tempdir();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    let blank = write_lines(dir.path(), "blank.jsonl", &["", "   ", ""]);
    let all_bad = write_lines(dir.path(), "bad.jsonl", &["nope"]);
    for input in [&empty, &blank] {
        let out = dir.path().join("out");
        let run = run_build(&["-i", path_str(input), "-o", path_str(&out)], None);
        assert_eq!(run.code, Some(1), "{}", run.stderr);
        assert!(
            run.stderr.contains(
                "hmt: error: the input held no exchanges, so there is nothing to build and nothing was written; pass --allow-empty"
            ),
            "{}",
            run.stderr
        );
        assert!(!out.exists(), "{} was created", out.display());

        let run = run_build(
            &["-i", path_str(input), "-o", path_str(&out), "--allow-empty"],
            None,
        );
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert_eq!(
            file_names(&out),
            BTreeSet::from(["openapi.json".to_owned()])
        );
        let spec = read_json(&out.join("openapi.json"));
        assert_eq!(spec["paths"], Value::Object(Default::default()));
        assert_valid_openapi(&files_in(&out));
        std::fs::remove_dir_all(&out).expect("clean");
    }
    let run = run_build(
        &[
            "-i",
            path_str(&all_bad),
            "-o",
            path_str(&dir.path().join("out")),
            "--skip-invalid",
        ],
        None,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the input held no exchanges (1 invalid line skipped)"),
        "{}",
        run.stderr
    );
}
