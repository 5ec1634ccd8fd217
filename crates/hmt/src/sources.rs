//! What a mock serves, loaded as `hmt mock` loads it: OpenAPI specs (files,
//! directories, or text in memory), recordings (http-types JSONL or HAR,
//! served by exact replay, and with `--stateful` the seed of the store)
//! and callback scripts.

use anyhow::{Context, Result, bail};
use hmt_build::initial::OpenApiVersion;
use hmt_build::{Builder, Mode, Options};
use hmt_mock::{Loaded, Spec};
use hmt_types::{Exchanges, Input};
use std::path::{Path, PathBuf};

/// Everything a mock serves apart from its stubs.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Spec files and directories.
    pub specs: Vec<PathBuf>,
    /// Specs given as text (JSON or YAML), with a name for errors.
    pub spec_texts: Vec<(String, String)>,
    /// Recordings: http-types JSONL or HAR.
    pub recordings: Vec<PathBuf>,
    /// A directory of callback scripts.
    pub callbacks: Option<PathBuf>,
    /// Serve the specs as a stateful emulator.
    pub stateful: bool,
    /// Directories outside a spec's own that its `$ref`s may read
    /// (`--allow-ref-outside`).
    pub allow_ref_outside: Vec<PathBuf>,
}

impl Sources {
    /// Loads and compiles them: specs in the order given, then one replay
    /// spec per host of the recordings, and the callbacks.
    pub fn load(&self) -> Result<Loaded> {
        let mut compiled = if self.specs.is_empty() {
            Vec::new()
        } else {
            let options = hmt_openapi::LoadOptions {
                allow_outside: self.allow_ref_outside.clone(),
            };
            hmt_openapi::load_with(&self.specs, &options)?
        };
        for (name, text) in &self.spec_texts {
            compiled.push(spec_from_text(name, text)?);
        }
        for file in &self.recordings {
            compiled.extend(replay_specs(file)?);
        }
        let mut loaded = Loaded::new(compiled);
        if self.stateful {
            loaded = loaded.stateful();
            for file in &self.recordings {
                seed_from(&loaded, file)?;
            }
        }
        Ok(match &self.callbacks {
            Some(dir) => loaded.with_callbacks(hmt_mock::callbacks::Callbacks::load(dir)?),
            None => loaded,
        })
    }
}

/// Seeds the stateful stores with what one recordings file shows, in
/// order; each object not stored is a warning naming its line (the JSON
/// pointer of its entry in a HAR file) and why.
fn seed_from(loaded: &Loaded, file: &Path) -> Result<()> {
    let name = file.display().to_string();
    let input = Input::open(&name).with_context(|| format!("cannot open {name}"))?;
    let mut exchanges = input.exchanges();
    let mut failed = None;
    let located = std::iter::from_fn(|| {
        let exchange = match exchanges.next()? {
            Ok(exchange) => exchange,
            Err(error) => {
                failed = Some(error);
                return None;
            }
        };
        let location = match &exchanges {
            Exchanges::Jsonl(lines) => format!("{name}:{}", lines.line()),
            Exchanges::Har(har) => format!("{name}: at {}", har.pointer()),
        };
        Some((location, exchange))
    });
    for warning in loaded.seed_recordings(located) {
        tracing::warn!("{warning}");
    }
    match failed {
        Some(error) => Err(error).with_context(|| format!("cannot read {name}")),
        None => Ok(()),
    }
}

/// A spec given as text.
fn spec_from_text(name: &str, text: &str) -> Result<Spec> {
    // hmt-openapi's readers: numbers of any size, duplicate keys refused,
    // as for spec files.
    let document = match hmt_openapi::parse::json(text) {
        Ok(document) => document,
        Err(_) => hmt_openapi::parse::yaml(text)
            .map_err(|error| anyhow::anyhow!("{name}: neither JSON nor YAML: {error}"))?,
    };
    let loaded = hmt_mock::load::load_document(Path::new(name), document, &mut Default::default())?;
    Ok(hmt_mock::compile(loaded)?)
}

/// The replay specs of one recordings file, served strictly: a request
/// no recorded one matches gets a 404 naming the nearest.
fn replay_specs(file: &Path) -> Result<Vec<Spec>> {
    let mut builder = Builder::new(Options {
        mode: Mode::Replay,
        openapi: OpenApiVersion::V31,
        initial: None,
    });
    let name = file.display().to_string();
    let input = Input::open(&name).with_context(|| format!("cannot open {name}"))?;
    for exchange in input.exchanges() {
        builder.add(&exchange?);
    }
    let output = builder.finish();
    if output.specs.is_empty() {
        bail!("{name}: no exchanges to serve");
    }
    let mut specs = Vec::new();
    for built in output.specs {
        let loaded = hmt_mock::load::load_document(file, built.document, &mut Default::default())?;
        let mut spec = hmt_mock::compile(loaded)?;
        spec.strict_replay = true;
        specs.push(spec);
    }
    Ok(specs)
}
