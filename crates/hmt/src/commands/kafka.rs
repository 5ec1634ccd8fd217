//! Kafka for the verbs (`hmt record --sink kafka://...`,
//! `hmt build -i kafka://...`), behind the `kafka` cargo feature.
//!
//! Every Kafka use of the command line goes through this module, so that a
//! build without the feature (no librdkafka, hence no C toolchain for it,
//! no OpenSSL headers, no cmake) differs here alone: naming a `kafka://`
//! URL is then an error that says how to get Kafka support, and everything
//! else (recording to files and stdout, build, mock) is the same binary.

use hmt_record::sink::Sink;
use std::path::Path;
use std::sync::Arc;

/// A topic to produce to or read from: a parsed `kafka://brokers/topic`.
#[cfg(feature = "kafka")]
pub(crate) type Topic = hmt_kafka::KafkaUrl;

/// Without Kafka support no topic can be named (see [`topic`]), so a value
/// of this type never exists and the code that would use one is never run.
#[cfg(not(feature = "kafka"))]
pub(crate) type Topic = std::convert::Infallible;

/// Parses a `kafka://host:port[,host:port...]/topic` URL given on the
/// command line.
pub(crate) fn topic(url: &str) -> anyhow::Result<Topic> {
    #[cfg(feature = "kafka")]
    {
        Ok(hmt_kafka::KafkaUrl::parse(url)?)
    }
    #[cfg(not(feature = "kafka"))]
    {
        const WITHOUT_KAFKA: &str = "hmt was built without Kafka support (cargo feature `kafka`)";
        let is_kafka_url = url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("kafka://"));
        Err(if is_kafka_url {
            anyhow::anyhow!("{WITHOUT_KAFKA}; rebuild with default features to use {url}")
        } else {
            anyhow::anyhow!(
                "`{url}` is not a kafka URL (kafka://host:port/topic), and {WITHOUT_KAFKA}"
            )
        })
    }
}

/// A sink producing every recording to `topic`. `options` are librdkafka
/// settings; `spill` is the file for what Kafka cannot take; `queue_bound`
/// caps the records waiting for delivery.
pub(crate) fn sink(
    topic: &Topic,
    options: &[(String, String)],
    spill: &Path,
    queue_bound: usize,
) -> anyhow::Result<Arc<dyn Sink>> {
    #[cfg(feature = "kafka")]
    {
        Ok(Arc::new(hmt_record::sink::KafkaSink::new(
            topic,
            options,
            spill,
            queue_bound,
        )?))
    }
    #[cfg(not(feature = "kafka"))]
    {
        let _ = (options, spill, queue_bound);
        match *topic {}
    }
}

/// Reads `topic` up to the end offsets it has now (from the start, or from
/// `group`'s committed offsets), handing each message's value to
/// `on_message` with where it was (`partition P offset O`). The handler's
/// error stops the reading and is returned as it is.
pub(crate) fn read_topic(
    topic: &Topic,
    group: Option<&str>,
    options: &[(String, String)],
    mut on_message: impl FnMut(&dyn std::fmt::Display, &[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    #[cfg(feature = "kafka")]
    {
        hmt_kafka::read_topic(
            topic,
            group,
            options,
            hmt_kafka::DEFAULT_READ_TIMEOUT,
            |position, value| on_message(&position, value),
        )
        .map(|_report| ())
        .map_err(|error| match error {
            hmt_kafka::KafkaError::Handler(error) => error,
            other => anyhow::anyhow!(other.to_string()),
        })
    }
    #[cfg(not(feature = "kafka"))]
    {
        let _ = (group, options, &mut on_message);
        match *topic {}
    }
}
