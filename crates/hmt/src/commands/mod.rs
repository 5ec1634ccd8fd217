//! One module per verb.

pub mod build;
pub mod ca;
pub mod record;
pub mod state;

/// `--kafka-option KEY=VALUE` flags as librdkafka settings.
pub fn kafka_options(options: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    use anyhow::Context;
    options
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("--kafka-option {kv} is not KEY=VALUE"))
        })
        .collect()
}
