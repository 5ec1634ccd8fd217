//! Reading a topic once, up to where it ended when reading started.
//!
//! # Why it is shaped so
//!
//! `hmt build -i kafka://...` wants a *snapshot*: the recordings that exist
//! now, not a stream that never ends while `hmt record` keeps producing. So
//! [`read_topic`] first fetches every partition's high watermark, then reads
//! each partition up to that offset and stops. A partition that is empty (or
//! fully read by the group already) is done at once.
//!
//! - **Order.** Partitions are read one after the other, in partition-number
//!   order, each in offset order. Kafka orders nothing across partitions;
//!   reading them sequentially makes the order deterministic, so two builds
//!   from the same topic see the same sequence. Messages with the same key
//!   (the target host) are in one partition, so one host's exchanges keep
//!   their recording order.
//! - **Groups.** Without a group the topic is read from the beginning and no
//!   offsets are stored (a throw-away group id is used only because
//!   librdkafka needs one to assign partitions; nothing is committed to it).
//!   With a group, reading starts at the group's committed offsets and the
//!   new offsets are committed **at the end, only if everything succeeded**,
//!   handler included: a failed build re-reads the same messages next time
//!   instead of skipping them (at least once).
//! - **No infinite waits.** Every step that waits on the cluster (metadata,
//!   watermarks, committed offsets, the next message, the commit) is bounded
//!   by `timeout`; an unreachable broker is an error after that long. While
//!   messages keep arriving there is no overall limit: a large topic takes
//!   as long as it takes.
//! - **Ends detected two ways.** A partition is done when a message at or
//!   past the start-time high watermark arrives, or when librdkafka reports
//!   the end of the partition (`enable.partition.eof`). The latter matters
//!   when the last offsets hold no visible message (transaction markers,
//!   compaction), where waiting for offset `high - 1` would never end.
//! - **Tombstones** (messages without a value) are not recordings; they are
//!   skipped and counted.

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::Message as _;
use rdkafka::Offset;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _};
use rdkafka::error::KafkaError as RdError;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaErrorCode;

use crate::{KafkaError, KafkaUrl};

/// A sensible `timeout` for [`read_topic`].
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a message sits in the topic, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessagePosition {
    /// The partition.
    pub partition: i32,
    /// The message's offset in it.
    pub offset: i64,
}

impl std::fmt::Display for MessagePosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "partition {} offset {}", self.partition, self.offset)
    }
}

/// What [`read_topic`] read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Messages passed to the handler.
    pub messages: u64,
    /// Messages without a value, skipped.
    pub tombstones: u64,
    /// Partitions of the topic (read or already at their end).
    pub partitions: usize,
}

/// Reads `url`'s topic up to the high watermarks it had when reading
/// started, passing each message's value to `on_message`; see the module
/// docs for order, groups and timeouts.
///
/// `options` are librdkafka settings passed through (security, SASL...);
/// `bootstrap.servers` comes from the URL, and the settings this function
/// relies on (`group.id`, `enable.auto.commit`, `enable.partition.eof`) are
/// set after them. `timeout` bounds each wait on the cluster
/// ([`DEFAULT_READ_TIMEOUT`] is a good value).
///
/// The first error from `on_message` stops reading and is returned as
/// [`KafkaError::Handler`]; nothing is committed then.
pub fn read_topic<E>(
    url: &KafkaUrl,
    group: Option<&str>,
    options: &[(String, String)],
    timeout: Duration,
    mut on_message: impl FnMut(MessagePosition, &[u8]) -> Result<(), E>,
) -> Result<ReadReport, KafkaError<E>> {
    let topic = url.topic();
    let client_error = |what: &str| {
        let context = format!("{url}: {what}");
        move |source| KafkaError::Client { context, source }
    };
    // Network requests time out with our bound rather than librdkafka's
    // minute, so that a request in flight when we give up (the commit's,
    // see `commit`) ends soon after. librdkafka accepts 10 ms to 5 min and
    // wants it 1 s above `fetch.wait.max.ms` (500 ms by default).
    let socket_timeout_ms = timeout.as_millis().clamp(1_500, 300_000).to_string();

    let mut config = ClientConfig::new();
    config.set("socket.timeout.ms", &socket_timeout_ms);
    for (key, value) in options {
        config.set(key, value);
    }
    let group_id = match group {
        Some(group) => group.to_string(),
        None => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            format!("hmt-read-{}-{nanos}", std::process::id())
        }
    };
    config
        .set("bootstrap.servers", url.bootstrap_servers())
        .set("group.id", &group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest");
    let consumer: Arc<BaseConsumer> = config
        .create()
        .map(Arc::new)
        .map_err(client_error("creating the consumer"))?;

    // 1. The partitions, and where each one ends now.
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(client_error("fetching the topic's metadata"))?;
    let topic_metadata = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .ok_or_else(|| KafkaError::Topic {
            url: url.to_string(),
            reason: "the cluster returned no metadata for the topic".to_string(),
        })?;
    if let Some(error) = topic_metadata.error() {
        return Err(KafkaError::Topic {
            url: url.to_string(),
            reason: RDKafkaErrorCode::from(error).to_string(),
        });
    }
    let mut partitions: Vec<i32> = topic_metadata.partitions().iter().map(|p| p.id()).collect();
    partitions.sort_unstable();
    if partitions.is_empty() {
        return Err(KafkaError::Topic {
            url: url.to_string(),
            reason: "the topic does not exist or has no partitions".to_string(),
        });
    }
    let mut ranges = Vec::with_capacity(partitions.len());
    for &partition in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition, timeout)
            .map_err(client_error(&format!(
                "fetching the watermarks of partition {partition}"
            )))?;
        ranges.push((partition, low, high));
    }

    // 2. Where to start: the beginning, or the group's committed offsets
    //    (never before the log start, in case retention deleted them).
    if group.is_some() {
        let mut wanted = TopicPartitionList::new();
        for &partition in &partitions {
            wanted.add_partition(topic, partition);
        }
        let committed = consumer
            .committed_offsets(wanted, timeout)
            .map_err(client_error("fetching the group's committed offsets"))?;
        for (partition, low, _) in &mut ranges {
            if let Some(Offset::Offset(offset)) = committed
                .find_partition(topic, *partition)
                .map(|elem| elem.offset())
            {
                *low = offset.max(*low);
            }
        }
    }

    // 3. Each unfinished partition in turn.
    let mut report = ReadReport {
        partitions: partitions.len(),
        ..ReadReport::default()
    };
    let mut to_commit = TopicPartitionList::new();
    for &(partition, start, high) in &ranges {
        if start >= high {
            continue;
        }
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, partition, Offset::Offset(start))
            .map_err(client_error("assigning a partition"))?;
        consumer
            .assign(&assignment)
            .map_err(client_error(&format!("assigning partition {partition}")))?;
        let mut next = start;
        let mut last_progress = Instant::now();
        let mut last_error: Option<RdError> = None;
        while next < high {
            let waited = last_progress.elapsed();
            if waited >= timeout {
                let cause = last_error
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default();
                return Err(KafkaError::Timeout(format!(
                    "{url}: no message from partition {partition} for {waited:.1?}, \
                     at offset {next} of {high}{cause}"
                )));
            }
            let poll = (timeout - waited).min(Duration::from_millis(200));
            match consumer.poll(poll) {
                None => {}
                Some(Ok(message)) => {
                    if message.partition() != partition || message.offset() < next {
                        continue;
                    }
                    last_progress = Instant::now();
                    if message.offset() >= high {
                        break;
                    }
                    next = message.offset() + 1;
                    match message.payload() {
                        Some(value) => {
                            let position = MessagePosition {
                                partition,
                                offset: message.offset(),
                            };
                            on_message(position, value).map_err(KafkaError::Handler)?;
                            report.messages += 1;
                        }
                        None => report.tombstones += 1,
                    }
                }
                Some(Err(RdError::PartitionEOF(p))) if p == partition => break,
                Some(Err(RdError::PartitionEOF(_))) => {}
                Some(Err(error @ RdError::MessageConsumptionFatal(_))) => {
                    return Err(client_error(&format!("reading partition {partition}"))(
                        error,
                    ));
                }
                // Transient (broker down, rebalancing...): librdkafka
                // retries by itself; the timeout bounds how long we let it.
                Some(Err(error)) => last_error = Some(error),
            }
        }
        if next > start {
            to_commit
                .add_partition_offset(topic, partition, Offset::Offset(next))
                .map_err(client_error("recording an offset"))?;
        }
    }
    consumer
        .unassign()
        .map_err(client_error("unassigning partitions"))?;

    // 4. Everything went through: remember it for the group.
    if group.is_some() && to_commit.count() > 0 {
        commit(consumer, to_commit, timeout).map_err(client_error(&format!(
            "committing offsets for group {group_id}"
        )))?;
    }
    Ok(report)
}

/// Commits `offsets`, waiting at most `timeout` for the result.
///
/// librdkafka's synchronous commit waits for the group coordinator without a
/// timeout of its own, and its asynchronous one reports nothing unless an
/// offset-commit callback is configured, which rust-rdkafka's `BaseConsumer`
/// does not do. So the synchronous commit runs on a helper thread that owns
/// a reference to the consumer: if it does not answer in time, the read
/// fails and the thread (with the consumer) is left to finish on its own.
fn commit(
    consumer: Arc<BaseConsumer>,
    offsets: TopicPartitionList,
    timeout: Duration,
) -> Result<(), RdError> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("hmt-kafka-commit".to_string())
        .spawn(move || {
            let result = consumer.commit(&offsets, CommitMode::Sync);
            // Let the caller's reference be the last, so that on success the
            // consumer is closed before `read_topic` returns.
            drop(consumer);
            let _ = tx.send(result);
        })
        .map_err(|e| RdError::ClientCreation(format!("cannot start a thread: {e}")))?;
    rx.recv_timeout(timeout)
        .unwrap_or(Err(RdError::ConsumerCommit(
            RDKafkaErrorCode::OperationTimedOut,
        )))
}
