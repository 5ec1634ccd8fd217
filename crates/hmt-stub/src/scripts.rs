//! The seam for mountebank's JavaScript: injected predicates and
//! responses, `decorate` and `wait` functions, predicate generators.
//!
//! The engine does not carry a JavaScript runtime. A server that allows
//! injection hands the compiler an implementation of [`Scripts`] (hmt's is
//! `hmt-js`, an embedded QuickJS), one per imposter, since mountebank
//! shares one `state` object between all of an imposter's functions.
//! Values cross as JSON, the only shape mountebank's functions see.

use serde_json::Value;

/// Runs mountebank's JavaScript functions with mountebank's arguments.
///
/// Each method takes the function's source as the user wrote it
/// (`function (config) { ... }` or an arrow function) and the request as
/// mountebank's request object; errors are the engine's message
/// (a syntax error, an exception, a time or memory limit).
pub trait Scripts: Send + Sync {
    /// Compiles a function without running it, to refuse bad source when
    /// a stub is created rather than when it is used.
    fn check(&self, source: &str) -> Result<(), String>;
    /// An `inject` predicate: whether the request matches.
    fn predicate(&self, source: &str, request: &Value) -> Result<bool, String>;
    /// An `inject` response: the response object (`statusCode`, `headers`, `body`).
    fn response(&self, source: &str, request: &Value) -> Result<Value, String>;
    /// A `decorate` behavior: the response, changed in place or returned anew.
    fn decorate(&self, source: &str, request: &Value, response: Value) -> Result<Value, String>;
    /// A `wait` function: milliseconds to wait.
    fn wait(&self, source: &str, request: &Value) -> Result<f64, String>;
    /// A predicate generator's `inject`: the predicates to record.
    fn generate(&self, source: &str, request: &Value) -> Result<Value, String>;
}

/// One JavaScript function of a stub, with the engine that runs it.
#[derive(Clone)]
pub(crate) struct Script {
    pub(crate) source: String,
    pub(crate) scripts: std::sync::Arc<dyn Scripts>,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Script").field(&self.source).finish()
    }
}

impl Script {
    /// The function at `at`, checked: refused as `invalid injection` when
    /// JavaScript is not allowed or does not compile.
    pub(crate) fn compile(
        value: &Value,
        at: &str,
        options: &crate::CompileOptions,
    ) -> Result<Script, crate::StubError> {
        let Some(scripts) = &options.scripts else {
            return Err(crate::StubError::invalid_injection(at));
        };
        let source = value.as_str().ok_or_else(|| {
            crate::StubError::bad_data(at, "a JavaScript function must be given as a string")
        })?;
        scripts.check(source).map_err(|message| crate::StubError {
            code: "invalid injection",
            pointer: at.to_string(),
            message,
        })?;
        Ok(Script {
            source: source.to_string(),
            scripts: scripts.clone(),
        })
    }
}
