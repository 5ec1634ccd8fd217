//! The producer and the reader against librdkafka's in-process mock cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hmt_kafka::rdkafka::mocking::MockCluster;
use hmt_kafka::rdkafka::producer::DefaultProducerContext;
use hmt_kafka::{KafkaError, KafkaUrl, Producer, Sent, SpillTarget, read_topic};

const HOSTS: [&str; 5] = [
    "api.example.com",
    "127.0.0.1:8080",
    "auth.example.com:443",
    "a",
    "b",
];

fn cluster(
    topic: &str,
    partitions: i32,
) -> (MockCluster<'static, DefaultProducerContext>, KafkaUrl) {
    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic(topic, partitions, 1).unwrap();
    let url = KafkaUrl::parse(&format!("kafka://{}/{topic}", cluster.bootstrap_servers())).unwrap();
    (cluster, url)
}

fn line(host: &str, i: u64) -> Vec<u8> {
    format!("{{\"host\":\"{host}\",\"i\":{i}}}\n").into_bytes()
}

fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Sends `count` lines numbered from `first`, round-robin over the hosts.
fn produce(producer: &Producer, first: u64, count: u64) -> Vec<Vec<u8>> {
    (first..first + count)
        .map(|i| {
            let host = HOSTS[i as usize % HOSTS.len()];
            let value = line(host, i);
            assert_eq!(
                producer.send(host.as_bytes(), &value).unwrap(),
                Sent::Queued
            );
            value
        })
        .collect()
}

fn read_all(url: &KafkaUrl, group: Option<&str>) -> Result<Vec<Vec<u8>>, KafkaError<Infallible>> {
    let mut values = Vec::new();
    let report = read_topic(url, group, &[], Duration::from_secs(10), |_, value| {
        values.push(value.to_vec());
        Ok::<(), Infallible>(())
    })?;
    assert_eq!(report.messages, values.len() as u64);
    Ok(values)
}

fn sorted(mut values: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    values.sort();
    values
}

#[test]
fn produces_then_reads_back_exactly_what_was_sent() {
    let (_cluster, url) = cluster("recordings", 3);
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("spill.jsonl");
    let producer = Producer::new(&url, &[], SpillTarget::new(&spill), 10_000).unwrap();
    let sent = produce(&producer, 0, 500);
    let report = producer.close(Duration::from_secs(10)).unwrap();
    assert_eq!(
        (report.delivered, report.spilled, report.lost),
        (500, 0, 0),
        "{report:?}"
    );
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(!spill.exists(), "a healthy run creates no spill file");

    let read = read_all(&url, None).unwrap();
    assert_eq!(sorted(read.clone()), sorted(sent));
    // One host's messages share a partition, so they come in sending order;
    // partitions come one after the other.
    let mut last_per_host = BTreeMap::new();
    for value in &read {
        let v: (String, u64) = parse(value);
        if let Some(previous) = last_per_host.insert(v.0.clone(), v.1) {
            assert!(previous < v.1, "{} out of order", v.0);
        }
    }
    // Reading again without a group starts from the beginning again.
    assert_eq!(read_all(&url, None).unwrap(), read);
}

fn parse(value: &[u8]) -> (String, u64) {
    let s = std::str::from_utf8(value).unwrap();
    let host = s.split('"').nth(3).unwrap().to_string();
    let i = s
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("}\n")
        .parse()
        .unwrap();
    (host, i)
}

#[test]
fn reading_stops_at_the_end_offsets_seen_at_start_while_producing_goes_on() {
    let (_cluster, url) = cluster("busy", 3);
    let dir = tempfile::tempdir().unwrap();
    let producer =
        Producer::new(&url, &[], SpillTarget::new(dir.path().join("s")), 10_000).unwrap();
    let initial = produce(&producer, 0, 200);
    assert_eq!(
        producer.close(Duration::from_secs(10)).unwrap().delivered,
        200
    );

    // Another producer keeps going during the whole read.
    let stop = Arc::new(AtomicBool::new(false));
    let produced = Arc::new(AtomicU64::new(0));
    let background = {
        let (url, stop, produced) = (url.clone(), stop.clone(), produced.clone());
        let spill = SpillTarget::new(dir.path().join("s2"));
        thread::spawn(move || {
            let producer =
                Producer::new(&url, &opts(&[("linger.ms", "0")]), spill, 10_000).unwrap();
            let mut i = 1_000_000;
            while !stop.load(Ordering::SeqCst) {
                let host = HOSTS[i as usize % HOSTS.len()];
                producer.send(host.as_bytes(), &line(host, i)).unwrap();
                produced.fetch_add(1, Ordering::SeqCst);
                i += 1;
                thread::sleep(Duration::from_micros(200));
            }
            producer.close(Duration::from_secs(10)).unwrap()
        })
    };
    while produced.load(Ordering::SeqCst) < 200 {
        thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    let read = read_all(&url, None).unwrap();
    let elapsed = started.elapsed();
    let produced_by_then = produced.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let background = background.join().unwrap();
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    let read: BTreeSet<Vec<u8>> = read.into_iter().collect();
    for value in &initial {
        assert!(read.contains(value));
    }
    assert!(
        (read.len() as u64) < 200 + produced_by_then,
        "read {} of {} + {produced_by_then}: it should stop at the start-time end offsets",
        read.len(),
        200
    );
    assert_eq!(background.lost, 0);
}

#[test]
fn a_group_reads_only_what_it_has_not_read_yet() {
    let (_cluster, url) = cluster("grouped", 2);
    let dir = tempfile::tempdir().unwrap();
    let spill = SpillTarget::new(dir.path().join("s"));
    let producer = Producer::new(&url, &[], spill.clone(), 1_000).unwrap();
    let first = produce(&producer, 0, 100);
    assert_eq!(
        producer.close(Duration::from_secs(10)).unwrap().delivered,
        100
    );

    assert_eq!(
        sorted(read_all(&url, Some("build")).unwrap()),
        sorted(first.clone())
    );

    let producer = Producer::new(&url, &[], spill, 1_000).unwrap();
    let second = produce(&producer, 100, 40);
    assert_eq!(
        producer.close(Duration::from_secs(10)).unwrap().delivered,
        40
    );

    assert_eq!(
        sorted(read_all(&url, Some("build")).unwrap()),
        sorted(second.clone())
    );
    assert!(read_all(&url, Some("build")).unwrap().is_empty());
    // Another group, and no group, still see everything.
    assert_eq!(read_all(&url, Some("other")).unwrap().len(), 140);
    assert_eq!(read_all(&url, None).unwrap().len(), 140);
}

#[test]
fn a_failing_handler_stops_reading_and_commits_nothing() {
    let (_cluster, url) = cluster("handler", 1);
    let dir = tempfile::tempdir().unwrap();
    let producer = Producer::new(&url, &[], SpillTarget::new(dir.path().join("s")), 100).unwrap();
    produce(&producer, 0, 20);
    producer.close(Duration::from_secs(10)).unwrap();

    let mut seen = 0;
    let error = read_topic(&url, Some("g"), &[], Duration::from_secs(10), |_, _| {
        seen += 1;
        if seen == 5 { Err("bad line") } else { Ok(()) }
    })
    .unwrap_err();
    assert!(matches!(error, KafkaError::Handler("bad line")), "{error}");
    assert_eq!(seen, 5);
    assert_eq!(read_all(&url, Some("g")).unwrap().len(), 20);
}

#[test]
fn an_empty_topic_is_read_at_once_and_a_missing_one_is_an_error() {
    let (_cluster, url) = cluster("empty", 4);
    let started = Instant::now();
    let report = read_topic(&url, None, &[], Duration::from_secs(10), |_, _| {
        Ok::<(), Infallible>(())
    })
    .unwrap();
    assert_eq!((report.messages, report.partitions), (0, 4));
    assert!(started.elapsed() < Duration::from_secs(5));

    let missing = KafkaUrl::parse(&format!("kafka://{}/missing", url.bootstrap_servers())).unwrap();
    let error = read_all(&missing, None).unwrap_err();
    assert!(matches!(error, KafkaError::Topic { .. }), "{error}");
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn with_the_cluster_down_sends_do_not_block_and_everything_is_spilled() {
    let (cluster, url) = cluster("down", 3);
    cluster.broker_down(-1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("spill.jsonl");
    let options = opts(&[("message.timeout.ms", "500")]);
    let producer = Producer::new(&url, &options, SpillTarget::new(&spill), 50).unwrap();

    let started = Instant::now();
    let mut sent = Vec::new();
    let mut spilled_at_once = 0;
    for i in 0..300 {
        let host = HOSTS[i as usize % HOSTS.len()];
        let value = line(host, i);
        if producer.send(host.as_bytes(), &value).unwrap() == Sent::Spilled {
            spilled_at_once += 1;
        }
        sent.push(value);
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(spilled_at_once, 250, "the queue holds 50");

    // The queued 50 time out after message.timeout.ms and are spilled by
    // the delivery callback, before close.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read(&spill)
        .unwrap()
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        < 300
    {
        assert!(
            Instant::now() < deadline,
            "timed-out messages were not spilled"
        );
        thread::sleep(Duration::from_millis(50));
    }
    let report = producer.close(Duration::from_secs(5)).unwrap();
    assert_eq!(
        (report.delivered, report.spilled, report.lost),
        (0, 300, 0),
        "{report:?}"
    );
    assert_eq!(report.spill_path, spill);
    assert!(
        report.errors.iter().any(|e| e.contains("Queue full"))
            && report.errors.iter().any(|e| e.contains("timed out")),
        "{:?}",
        report.errors
    );
    assert_eq!(spilled_lines(&spill), sorted(sent));
}

fn spilled_lines(path: &std::path::Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    sorted(
        bytes
            .split_inclusive(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect(),
    )
}

#[test]
fn close_spills_what_is_still_pending_when_its_timeout_ends() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("spill.jsonl");
    let url = KafkaUrl::parse(&format!("kafka://127.0.0.1:{}/t", closed_port())).unwrap();
    let producer = Producer::new(&url, &[], SpillTarget::new(&spill), 10_000).unwrap();
    let started = Instant::now();
    let mut sent = Vec::new();
    for i in 0..1_000 {
        let value = line("h", i);
        assert_eq!(producer.send(b"h", &value).unwrap(), Sent::Queued);
        sent.push(value);
    }
    // A value without its newline gets one in the spill file.
    assert_eq!(
        producer.send(b"h", b"{\"last\":true}").unwrap(),
        Sent::Queued
    );
    sent.push(b"{\"last\":true}\n".to_vec());
    assert!(started.elapsed() < Duration::from_millis(500));

    let report = producer.close(Duration::from_millis(500)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (report.delivered, report.spilled, report.lost),
        (0, 1_001, 0),
        "{report:?}"
    );
    assert_eq!(spilled_lines(&spill), sorted(sent));

    assert!(matches!(
        producer.send(b"h", b"x\n"),
        Err(KafkaError::Closed)
    ));
    assert!(matches!(
        producer.close(Duration::ZERO),
        Err(KafkaError::Closed)
    ));
}

#[test]
fn when_the_spill_file_cannot_be_written_messages_are_counted_lost() {
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("no-such-dir").join("spill.jsonl");
    let url = KafkaUrl::parse(&format!("kafka://127.0.0.1:{}/t", closed_port())).unwrap();
    let producer = Producer::new(&url, &[], SpillTarget::new(&spill), 10).unwrap();
    let mut refused = 0;
    for i in 0..30 {
        match producer.send(b"h", &line("h", i)) {
            Ok(sent) => assert_eq!(sent, Sent::Queued),
            Err(KafkaError::Spill { .. }) => refused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(refused, 20);
    let report = producer.close(Duration::from_millis(200)).unwrap();
    assert_eq!(
        (report.delivered, report.spilled, report.lost),
        (0, 0, 30),
        "{report:?}"
    );
    assert!(
        report.errors.iter().all(|e| e.contains("lost")),
        "{:?}",
        report.errors
    );
}

#[test]
fn concurrent_senders_are_counted_exactly() {
    let (_cluster, url) = cluster("concurrent", 3);
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("spill.jsonl");
    // A small queue so that some sends spill while others are delivered.
    let producer = Arc::new(Producer::new(&url, &[], SpillTarget::new(&spill), 64).unwrap());
    let queued = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (producer, queued) = (producer.clone(), queued.clone());
            thread::spawn(move || {
                for i in 0..1_000 {
                    let host = HOSTS[i % HOSTS.len()];
                    let value = line(host, (t * 1_000 + i) as u64);
                    if producer.send(host.as_bytes(), &value).unwrap() == Sent::Queued {
                        queued.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let report = producer.close(Duration::from_secs(10)).unwrap();
    assert_eq!(report.delivered + report.spilled, 8_000, "{report:?}");
    assert_eq!(report.lost, 0);
    assert_eq!(report.delivered, queued.load(Ordering::SeqCst));
    let spilled = if report.spilled > 0 {
        spilled_lines(&spill)
    } else {
        Vec::new()
    };
    assert_eq!(spilled.len() as u64, report.spilled);
    let read = read_all(&url, None).unwrap();
    assert_eq!(read.len() as u64, report.delivered);
    let mut all = read;
    all.extend(spilled);
    let all: BTreeSet<_> = all.into_iter().collect();
    assert_eq!(
        all.len(),
        8_000,
        "every message once, in the topic or the spill file"
    );
}

#[test]
fn an_unreachable_cluster_is_a_read_error_after_the_timeout() {
    let url = KafkaUrl::parse(&format!("kafka://127.0.0.1:{}/t", closed_port())).unwrap();
    let started = Instant::now();
    let error = read_topic(&url, Some("g"), &[], Duration::from_secs(2), |_, _| {
        Ok::<(), Infallible>(())
    })
    .unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(2), "{elapsed:?}: {error}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}: {error}");
    assert!(matches!(error, KafkaError::Client { .. }), "{error}");
}

#[test]
fn a_message_larger_than_message_max_bytes_is_spilled_at_once() {
    let (_cluster, url) = cluster("big", 1);
    let dir = tempfile::tempdir().unwrap();
    let spill = dir.path().join("spill.jsonl");
    let producer = Producer::new(&url, &[], SpillTarget::new(&spill), 100).unwrap();
    let mut big = vec![b'x'; 2 * 1024 * 1024];
    big.push(b'\n');
    assert_eq!(producer.send(b"h", &big).unwrap(), Sent::Spilled);
    assert_eq!(producer.send(b"h", b"small\n").unwrap(), Sent::Queued);
    let report = producer.close(Duration::from_secs(10)).unwrap();
    assert_eq!((report.delivered, report.spilled, report.lost), (1, 1, 0));
    assert!(
        report.errors[0].contains("too large"),
        "{:?}",
        report.errors
    );
    assert_eq!(std::fs::read(&spill).unwrap(), big);
}
