//! `hmt schema [NAME]`: the JSON Schemas of hmt's own formats, derived
//! (schemars) from the document types each format's crate keeps beside its
//! reader. `schemas/*.json` in the repository are these, written by
//! `make schemas`, for editors to point at.

use anyhow::{Result, bail};
use clap::Args;
use schemars::Schema;

/// Arguments of `hmt schema`.
#[derive(Args)]
pub(crate) struct SchemaArgs {
    /// The format whose schema to print (`hmt schema` alone lists them).
    name: Option<String>,
}

/// A format: its name, what it is, and its schema.
struct Format {
    name: &'static str,
    what: &'static str,
    schema: fn() -> Schema,
}

/// Every format, in the order `hmt schema` lists them.
const FORMATS: [Format; 5] = [
    Format {
        name: "http-types",
        what: "one line of an http-types recording (JSONL), as hmt build, mock and convert read it",
        schema: hmt_types::schema::http_types,
    },
    Format {
        name: "imposter",
        what: "one mountebank imposter with hmt's extensions, as POST /imposters takes it",
        schema: hmt_imposters::schema::imposter,
    },
    Format {
        name: "imposters",
        what: "{\"imposters\": [...]}, as PUT /imposters and hmt mock --configfile take it",
        schema: hmt_imposters::schema::imposters,
    },
    Format {
        name: "x-hmt-replay",
        what: "the x-hmt-replay extension of an OpenAPI operation: recorded exchanges to replay",
        schema: hmt_openapi::schema::x_hmt_replay,
    },
    Format {
        name: "x-hmt-id-path",
        what: "the x-hmt-id-path extension of an OpenAPI operation or path: where hmt mock --stateful finds an id",
        schema: hmt_state::id_path_schema::x_hmt_id_path,
    },
];

/// The schema of the format `name`, as pretty JSON ending in a newline:
/// the same bytes on every run.
fn render(name: &str) -> Result<String> {
    let Some(format) = FORMATS.iter().find(|format| format.name == name) else {
        let names: Vec<&str> = FORMATS.iter().map(|format| format.name).collect();
        bail!(
            "there is no schema named {name:?}; the schemas are {}",
            names.join(", ")
        );
    };
    let mut text = serde_json::to_string_pretty(&(format.schema)())?;
    text.push('\n');
    Ok(text)
}

/// Runs `hmt schema`.
pub(crate) fn run(args: SchemaArgs) -> Result<()> {
    match args.name {
        Some(name) => print!("{}", render(&name)?),
        None => {
            let width = FORMATS.iter().map(|f| f.name.len()).max().unwrap_or(0);
            for format in &FORMATS {
                println!("{:width$}  {}", format.name, format.what);
            }
        }
    }
    Ok(())
}
