//! The least work any tool reading http-types recordings must do, for
//! `make bench-build` to compare `hmt build` with: read a JSONL file line by
//! line, parse each line with `serde_json` into a `Value`, and parse each
//! body whose `content-type` says JSON the same way. Nothing is kept.
//!
//! ```sh
//! cargo run --release -p hmt-types --example parse_baseline -- bench-data/rec-50.jsonl
//! ```

use serde_json::Value;
use std::io::{BufRead, BufReader};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse_baseline FILE.jsonl");
        std::process::exit(2);
    };
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        eprintln!("parse_baseline: {path}: {e}");
        std::process::exit(1);
    });
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let mut line = Vec::with_capacity(64 * 1024);
    let (mut lines, mut bodies, mut errors) = (0u64, 0u64, 0u64);
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                eprintln!("parse_baseline: {path}: {e}");
                std::process::exit(1);
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let exchange: Value = match serde_json::from_slice(&line) {
            Ok(value) => value,
            Err(_) => {
                errors += 1;
                continue;
            }
        };
        lines += 1;
        for part in ["request", "response"] {
            let part = &exchange[part];
            let json = part["headers"]["content-type"]
                .as_str()
                .is_some_and(|ct| ct.contains("json"));
            if let (true, Some(body)) = (json, part["body"].as_str()) {
                match serde_json::from_str::<Value>(body) {
                    Ok(_) => bodies += 1,
                    Err(_) => errors += 1,
                }
            }
        }
    }
    eprintln!("{lines} lines, {bodies} JSON bodies, {errors} errors");
}
