//! `hmt record`'s memory after a burst of large uploads: the process gives
//! back what the burst took, instead of staying hundreds of MB resident.
//!
//! A real `hmt record` (the binary, with its allocator), real HTTP/1.1 over
//! loopback, and the resident set read from `/proc/PID/status`.

mod common_record;

use common_record::{RecordProcess, Upstreams, files_under};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One upload: 8 MiB, about what a file upload or a bulk import sends.
const UPLOAD: usize = 8 << 20;

/// Uploads at once, and rounds of them.
const CONCURRENT: usize = 8;
const ROUNDS: usize = 2;

/// What the process may keep above its resident set before the burst, once
/// the burst is over and recorded.
const SLACK_KB: u64 = 64 * 1024;

fn resident_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// POSTs `UPLOAD` bytes through the proxy and reads the whole answer.
fn upload(proxy: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(proxy).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: proxy\r\nContent-Type: text/plain\r\n\
         Content-Length: {UPLOAD}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..UPLOAD / chunk.len() {
        stream.write_all(&chunk).unwrap();
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer[..answer.len().min(40)]).into_owned()
}

#[test]
fn resident_memory_returns_near_idle_after_a_burst_of_large_uploads() {
    let upstreams = Upstreams::start();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let logs_arg = logs.to_str().unwrap().to_owned();
    let record = RecordProcess::start(dir.path(), &["-l", &logs_arg]);
    let path = format!("/{}", upstreams.plain_url("/echo"));
    // Warm up with one small exchange, so that what is measured is the
    // burst, not the first request's lazily built state.
    assert!(upload_small(record.addr, &path).starts_with("HTTP/1.1 200"));
    let idle = resident_kb(record.pid);

    let mut peak = idle;
    for _ in 0..ROUNDS {
        let uploads: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                let path = path.clone();
                let addr = record.addr;
                std::thread::spawn(move || upload(addr, &path))
            })
            .collect();
        for u in uploads {
            let answer = u.join().unwrap();
            assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        }
        peak = peak.max(resident_kb(record.pid));
    }

    // Every upload recorded (and so handed back by the recorder). Writing
    // 128 MiB of JSON lines in a debug build on a busy machine takes a
    // while: the wait is generous, it bounds a hang, not a speed.
    let deadline = Instant::now() + Duration::from_secs(120);
    let lines = || -> usize {
        files_under(&logs)
            .iter()
            .map(|f| {
                std::fs::read(f)
                    .unwrap()
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
            })
            .sum()
    };
    while lines() < 1 + CONCURRENT * ROUNDS {
        assert!(Instant::now() < deadline, "only {} lines recorded", lines());
        std::thread::sleep(Duration::from_millis(50));
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = resident_kb(record.pid);
    while now > idle + SLACK_KB && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        now = resident_kb(record.pid);
    }
    eprintln!("resident: idle {idle} kB, peak {peak} kB, after {now} kB");
    assert!(
        now <= idle + SLACK_KB,
        "hmt record kept {} MiB after the burst (idle {} MiB, peak seen {} MiB)",
        now / 1024,
        idle / 1024,
        peak / 1024
    );
    let outcome = record.stop();
    assert_eq!(outcome.code, Some(0), "{}", outcome.stderr);
}

fn upload_small(proxy: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(proxy).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: proxy\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}
