//! Reading specs from disk: files and directories, JSON and YAML, with
//! `$ref`s across files bundled into one document per spec.
//!
//! Everything after loading works on one `serde_json::Value` per spec in
//! which every `$ref` is a local JSON pointer (`#/...`). A reference into
//! another file (`common.yaml#/components/schemas/Pet`) is resolved by
//! copying that file, once, under `/x-hmt-bundle/<n>` of the referring
//! spec and rewriting the reference (and the references inside the copied
//! file) to point there. That keeps recursive schemas recursive (nothing is
//! inlined) and lets the JSON Schema validator and the data generator see a
//! single document.
//!
//! A directory is searched recursively for `*.json`, `*.yaml` and `*.yml`,
//! in sorted order; files in it that are not OpenAPI documents (no
//! `openapi` key: shared schema files, say) are loaded only when a spec
//! refers to them. Any problem is an error naming the file and, where it
//! applies, the line or JSON pointer; nothing is served half-loaded.
//!
//! A `$ref` reads only files under the directory of the spec it starts
//! from (and its subdirectories, after symbolic links are resolved), or
//! under a directory of [`LoadOptions::allow_outside`]: a spec handed to
//! a mock cannot make it read `/etc/passwd` and serve it back. Anything
//! else is an error naming the file and the JSON pointer of the `$ref`.
//!
//! Text is read by [`crate::parse`]: numbers of any size load, and a key
//! twice in one object is an error with its line. Swagger 2.0 documents
//! are converted to OpenAPI 3.0 on load ([`crate::swagger2`]).

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where bundled external files live inside a spec document.
pub const BUNDLE_KEY: &str = "x-hmt-bundle";

/// A spec read from disk, its references all local.
#[derive(Clone, Debug)]
pub struct LoadedSpec {
    /// The file it came from.
    pub file: PathBuf,
    /// The document, external references bundled in.
    pub document: Value,
}

/// Why specs could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("{}: {message}", file.display())]
    Io {
        /// The file or directory.
        file: PathBuf,
        /// The cause.
        message: String,
    },
    /// A file is not valid JSON or YAML.
    #[error("{}: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// What and where (line and column).
        message: String,
    },
    /// A file parsed but is not a usable spec.
    #[error("{}: at {pointer}: {message}", file.display())]
    Invalid {
        /// The file.
        file: PathBuf,
        /// JSON pointer to the offending value.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// Nothing to serve.
    #[error("no OpenAPI document found in {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Empty {
        /// The paths given.
        paths: Vec<PathBuf>,
    },
}

impl LoadError {
    pub(crate) fn invalid(file: &Path, pointer: &str, message: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            file: file.to_owned(),
            pointer: if pointer.is_empty() {
                "/".to_owned()
            } else {
                pointer.to_owned()
            },
            message: message.into(),
        }
    }
}

/// How specs are loaded.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Directories outside a spec's own directory whose files (and their
    /// subdirectories' files) its `$ref`s may read; the CLI's
    /// `--allow-ref-outside DIR`. A spec's own directory is always allowed.
    pub allow_outside: Vec<PathBuf>,
}

/// Loads every OpenAPI document in `paths` (files, or directories searched
/// recursively), in the order given, directories in sorted order, with the
/// default [`LoadOptions`].
pub fn load_specs(paths: &[PathBuf]) -> Result<Vec<LoadedSpec>, LoadError> {
    load_specs_with(paths, &LoadOptions::default())
}

/// [`load_specs`] with `options`.
pub fn load_specs_with(
    paths: &[PathBuf],
    options: &LoadOptions,
) -> Result<Vec<LoadedSpec>, LoadError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            find_spec_files(path, &mut found)?;
            found.sort();
            files.extend(found.into_iter().map(|f| (f, false)));
        } else {
            files.push((path.clone(), true));
        }
    }
    let mut cache = FileCache::new(options);
    let mut specs = Vec::new();
    for (file, given) in files {
        let document = cache.read(&file)?;
        if document.get("openapi").is_none() && document.get("swagger").is_none() {
            if given {
                return Err(LoadError::invalid(
                    &file,
                    "",
                    "not an OpenAPI document (no `openapi` or `swagger` version field)",
                ));
            }
            continue;
        }
        drop(document);
        let document = cache.take(&file)?;
        specs.push(load_document(&file, document, &mut cache)?);
    }
    if specs.is_empty() {
        return Err(LoadError::Empty {
            paths: paths.to_vec(),
        });
    }
    Ok(specs)
}

/// A spec whose text is already in memory (`hmt mock --recordings` builds
/// one); references to other files are resolved against `file`'s
/// directory, and may read only files under it or under a directory
/// `cache` allows. A Swagger 2.0 document is converted to OpenAPI 3.0
/// first.
pub fn load_document(
    file: &Path,
    document: Value,
    cache: &mut FileCache,
) -> Result<LoadedSpec, LoadError> {
    let mut document = if document.get("swagger").is_some() {
        crate::swagger2::to_openapi3(file, document)?
    } else {
        document
    };
    check_version(file, &document)?;
    let root_file = canonical_or_absolute(file);
    let root_dir = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => canonical_or_absolute(parent),
        _ => canonical_or_absolute(Path::new(".")),
    };
    let mut bundler = Bundler {
        root_file,
        root_dir,
        bundled: Vec::new(),
        index: HashMap::new(),
        at: String::new(),
    };
    bundler.rewrite(&mut document, file, "", cache)?;
    // Files bundled while bundling others are appended as they are found.
    let mut next = 0;
    while next < bundler.bundled.len() {
        let (file, mut value) = {
            let (file, value) = &bundler.bundled[next];
            (file.clone(), value.clone())
        };
        let prefix = format!("/{BUNDLE_KEY}/{next}");
        bundler.rewrite(&mut value, &file, &prefix, cache)?;
        bundler.bundled[next].1 = value;
        next += 1;
    }
    if !bundler.bundled.is_empty() {
        let bundle: Vec<Value> = bundler.bundled.into_iter().map(|(_, v)| v).collect();
        if let Value::Object(map) = &mut document {
            map.insert(BUNDLE_KEY.to_owned(), Value::Array(bundle));
        }
    }
    Ok(LoadedSpec {
        file: file.to_owned(),
        document,
    })
}

fn check_version(file: &Path, document: &Value) -> Result<(), LoadError> {
    if !document.is_object() {
        return Err(LoadError::invalid(file, "", "a spec must be an object"));
    }
    match document.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0") || v.starts_with("3.1") => Ok(()),
        Some(v) => Err(LoadError::invalid(
            file,
            "/openapi",
            format!("OpenAPI {v} is not supported (3.0 and 3.1 are, and Swagger 2.0)"),
        )),
        None => Err(LoadError::invalid(
            file,
            "/openapi",
            "expected a version string such as \"3.1.0\"",
        )),
    }
}

fn find_spec_files(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Io {
        file: dir.to_owned(),
        message: e.to_string(),
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::Io {
            file: dir.to_owned(),
            message: e.to_string(),
        })?;
        let path = entry.path();
        if path.is_dir() {
            find_spec_files(&path, found)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "yaml" | "yml")
        ) {
            found.push(path);
        }
    }
    Ok(())
}

/// Parsed files, each read once however many specs refer to it, and the
/// directories outside a spec's own that its `$ref`s may read.
#[derive(Default)]
pub struct FileCache {
    files: HashMap<PathBuf, std::rc::Rc<Value>>,
    allowed: Vec<PathBuf>,
}

impl FileCache {
    /// An empty cache that lets `$ref`s read the directories `options`
    /// allows.
    pub fn new(options: &LoadOptions) -> FileCache {
        FileCache {
            files: HashMap::new(),
            allowed: options
                .allow_outside
                .iter()
                .map(|dir| canonical_or_absolute(dir))
                .collect(),
        }
    }

    /// The document of `file`, read already, out of the cache: a spec's
    /// own document is changed while it loads, and copying a 47 MB one
    /// costs a tenth of a second. Another spec referring to it reads it
    /// again.
    fn take(&mut self, file: &Path) -> Result<Value, LoadError> {
        let value = match self.files.remove(&absolute(file)) {
            Some(value) => value,
            None => {
                self.read(file)?;
                return self.take(file);
            }
        };
        Ok(std::rc::Rc::try_unwrap(value).unwrap_or_else(|shared| (*shared).clone()))
    }

    fn read(&mut self, file: &Path) -> Result<std::rc::Rc<Value>, LoadError> {
        let key = absolute(file);
        if let Some(value) = self.files.get(&key) {
            return Ok(value.clone());
        }
        let text = std::fs::read_to_string(file).map_err(|e| LoadError::Io {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
        let value = std::rc::Rc::new(parse_text(file, &text)?);
        self.files.insert(key, value.clone());
        Ok(value)
    }
}

/// JSON for `.json` files, YAML (which includes JSON) for everything else.
pub fn parse_text(file: &Path, text: &str) -> Result<Value, LoadError> {
    let is_json = file.extension().and_then(|e| e.to_str()) == Some("json");
    let parsed = if is_json {
        crate::parse::json(text).map_err(|e| e.to_string())
    } else {
        crate::parse::yaml(text).map_err(|e| e.to_string())
    };
    parsed.map_err(|message| LoadError::Syntax {
        file: file.to_owned(),
        message,
    })
}

fn absolute(file: &Path) -> PathBuf {
    std::path::absolute(file).unwrap_or_else(|_| file.to_owned())
}

/// `path` with symbolic links and `..` resolved when it exists, else made
/// absolute.
fn canonical_or_absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| absolute(path))
}

/// Appends `/token` to a JSON pointer, escaped.
fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

struct Bundler {
    /// The spec's file, canonical.
    root_file: PathBuf,
    /// Its directory, canonical: what `$ref`s may read, with the cache's
    /// allowed directories.
    root_dir: PathBuf,
    /// External files copied in, in the order they were first referred to.
    bundled: Vec<(PathBuf, Value)>,
    index: HashMap<PathBuf, usize>,
    /// JSON pointer, within the file being rewritten, of the value being
    /// walked.
    at: String,
}

impl Bundler {
    /// Rewrites every `$ref` under `value` (which lives in `file`, copied to
    /// `prefix` of the root document) into a local pointer.
    fn rewrite(
        &mut self,
        value: &mut Value,
        file: &Path,
        prefix: &str,
        cache: &mut FileCache,
    ) -> Result<(), LoadError> {
        self.at.clear();
        self.rewrite_in(value, file, prefix, cache, Walk::Spec)
    }

    /// Rewrites the `$ref`s under `value`, which is what `walk` says.
    fn rewrite_in(
        &mut self,
        value: &mut Value,
        file: &Path,
        prefix: &str,
        cache: &mut FileCache,
        walk: Walk,
    ) -> Result<(), LoadError> {
        let len = self.at.len();
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    let rewritten = self.local_ref(reference, file, prefix, cache)?;
                    map.insert("$ref".to_owned(), Value::String(rewritten));
                }
                for (key, child) in map.iter_mut() {
                    if key == "$ref" || !matches!(child, Value::Object(_) | Value::Array(_)) {
                        continue;
                    }
                    let child_walk = match walk {
                        // Keys are names (of properties, examples): every
                        // value is a schema or an Example Object.
                        Walk::Names => Walk::Spec,
                        Walk::Examples => Walk::Example,
                        // An Example Object's value is data, whatever it
                        // holds (GitHub's examples show `$ref`s).
                        Walk::Example if key == "value" => continue,
                        Walk::Spec | Walk::Example => match key.as_str() {
                            // A schema's `example` and its `examples` array
                            // are data.
                            "example" => continue,
                            "examples" if child.is_array() => continue,
                            "examples" => Walk::Examples,
                            "properties" => Walk::Names,
                            _ => Walk::Spec,
                        },
                    };
                    push_token(&mut self.at, key);
                    self.rewrite_in(child, file, prefix, cache, child_walk)?;
                    self.at.truncate(len);
                }
                Ok(())
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    if matches!(item, Value::Object(_) | Value::Array(_)) {
                        push_token(&mut self.at, &i.to_string());
                        self.rewrite_in(item, file, prefix, cache, Walk::Spec)?;
                        self.at.truncate(len);
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// An error about the `$ref` at the current pointer of `file`.
    fn ref_error(&self, file: &Path, message: String) -> LoadError {
        LoadError::invalid(file, &format!("{}/$ref", self.at), message)
    }

    fn local_ref(
        &mut self,
        reference: &str,
        file: &Path,
        prefix: &str,
        cache: &mut FileCache,
    ) -> Result<String, LoadError> {
        let (target, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        if target.is_empty() {
            return Ok(format!("#{prefix}{fragment}"));
        }
        if target.contains("://") {
            return Err(self.ref_error(
                file,
                format!(
                    "$ref {reference:?}: remote references are not fetched; download the file and refer to it by path"
                ),
            ));
        }
        let target_path = file
            .parent()
            .unwrap_or(Path::new("."))
            .join(&*hmt_types::percent_decode(target));
        let target_file = std::fs::canonicalize(&target_path).map_err(|e| {
            self.ref_error(
                file,
                format!("$ref {reference:?}: {}: {e}", target_path.display()),
            )
        })?;
        if !target_file.starts_with(&self.root_dir)
            && !cache.allowed.iter().any(|dir| target_file.starts_with(dir))
        {
            return Err(self.ref_error(
                file,
                format!(
                    "$ref {reference:?} reads {}, outside the spec's directory {}; \
                     a spec's references may read only files under its own directory \
                     unless another directory is allowed",
                    target_file.display(),
                    self.root_dir.display()
                ),
            ));
        }
        if target_file == self.root_file {
            return Ok(format!("#{fragment}"));
        }
        let index = match self.index.get(&target_file) {
            Some(&index) => index,
            None => {
                let value = cache.read(&target_file).map_err(|e| match e {
                    LoadError::Io { message, .. } => self.ref_error(
                        file,
                        format!("$ref {reference:?}: {}: {message}", target_file.display()),
                    ),
                    other => other,
                })?;
                let index = self.bundled.len();
                self.bundled.push((target_file.clone(), (*value).clone()));
                self.index.insert(target_file, index);
                index
            }
        };
        Ok(format!("#/{BUNDLE_KEY}/{index}{fragment}"))
    }
}

/// What a value being bundled is, for telling spec from data.
#[derive(Clone, Copy)]
enum Walk {
    /// Spec: any `$ref` in it is a reference.
    Spec,
    /// A `properties` map: its keys are names, its values schemas.
    Names,
    /// An `examples` map (of a media type, parameter, header or
    /// `components`): its values are Example Objects.
    Examples,
    /// An Example Object: its `value` is data.
    Example,
}

/// An empty object, for documents that leave out an optional map.
pub(crate) fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmt_types::pointer::deref;
    use serde_json::json;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn references_across_files_become_local_pointers() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "common/schemas.yaml",
            "Pet:\n  type: object\n  properties:\n    owner: {$ref: '#/Person'}\nPerson:\n  type: object\n",
        );
        let spec = write(
            dir.path(),
            "api.yaml",
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /pets:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: 'common/schemas.yaml#/Pet'}\n",
        );
        let specs = load_specs(&[spec]).unwrap();
        let doc = &specs[0].document;
        let schema = &doc["paths"]["/pets"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"];
        assert_eq!(schema, &json!({"$ref": "#/x-hmt-bundle/0/Pet"}));
        let pet = deref(doc, schema).unwrap();
        assert_eq!(
            pet["properties"]["owner"],
            json!({"$ref": "#/x-hmt-bundle/0/Person"})
        );
        assert_eq!(
            deref(doc, &pet["properties"]["owner"]).unwrap(),
            &json!({"type": "object"})
        );
    }

    #[test]
    fn refs_in_example_values_are_data() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "examples.yaml", "One: {value: {n: 1}}\n");
        // GitHub's GHEC spec shows `$ref`s to files it does not ship in an example.
        let spec = write(
            dir.path(),
            "api.yaml",
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  examples:\n    stats: {value: [{actions: {$ref: 'not-shipped.yaml'}}]}\n    one: {$ref: 'examples.yaml#/One'}\n  schemas:\n    Thing:\n      properties:\n        value: {$ref: 'examples.yaml#/One'}\n",
        );
        let specs = load_specs(&[spec]).unwrap();
        let components = &specs[0].document["components"];
        assert_eq!(
            components["examples"]["stats"]["value"][0]["actions"],
            json!({"$ref": "not-shipped.yaml"})
        );
        assert_eq!(
            components["examples"]["one"],
            json!({"$ref": "#/x-hmt-bundle/0/One"})
        );
        assert_eq!(
            components["schemas"]["Thing"]["properties"]["value"],
            json!({"$ref": "#/x-hmt-bundle/0/One"})
        );
    }

    #[test]
    fn a_directory_loads_its_specs_and_skips_shared_schema_files() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "b.json",
            r#"{"openapi":"3.1.0","info":{"title":"b","version":"1"},"paths":{}}"#,
        );
        write(
            dir.path(),
            "a/x.yml",
            "openapi: 3.0.0\ninfo: {title: a, version: '1'}\npaths: {}\n",
        );
        write(dir.path(), "shared.yaml", "Pet: {type: object}\n");
        write(dir.path(), "notes.txt", "not a spec");
        let specs = load_specs(&[dir.path().to_owned()]).unwrap();
        let titles: Vec<_> = specs
            .iter()
            .map(|s| s.document["info"]["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, ["a", "b"]);
    }

    #[test]
    fn errors_name_the_file_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let bad = write(dir.path(), "bad.yaml", "openapi: 3.0.0\npaths:\n  /a: [\n");
        let e = load_specs(std::slice::from_ref(&bad))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(&bad.display().to_string()), "{e}");
        assert!(e.contains("line"), "{e}");

        let dangling = write(
            dir.path(),
            "dangling.yaml",
            "openapi: 3.0.0\npaths: {$ref: 'missing.yaml#/x'}\n",
        );
        let e = load_specs(&[dangling]).unwrap_err().to_string();
        assert!(e.contains("missing.yaml"), "{e}");

        let swagger = write(dir.path(), "old.json", r#"{"swagger":"1.2"}"#);
        let e = load_specs(&[swagger]).unwrap_err().to_string();
        assert!(
            e.contains("old.json: at /swagger: Swagger 1.2 is not supported (2.0 is"),
            "{e}"
        );
    }

    #[test]
    fn pointers_are_unescaped() {
        let root = json!({"paths": {"/a/b": {"get": 1}}, "x": {"$ref": "#/paths/~1a~1b/get"}, "y": {"$ref": "#/paths/%7e1a%7e1b"}});
        assert_eq!(deref(&root, &root["x"]), Some(&json!(1)));
        assert_eq!(deref(&root, &root["y"]), Some(&json!({"get": 1})));
        let cyclic = json!({"a": {"$ref": "#/b"}, "b": {"$ref": "#/a"}});
        assert_eq!(deref(&cyclic, &cyclic["a"]), None);
    }
}
