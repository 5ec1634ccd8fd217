//! Why a stub definition was refused, in mountebank's terms.

/// A stub, predicate or response that cannot be compiled.
///
/// `code` is mountebank's error code (`bad data`, `invalid injection`), so
/// the imposters API can answer as mountebank does; `pointer` is the JSON
/// pointer of the offending value inside the document that was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", pointer_prefix(.pointer))]
pub struct StubError {
    /// mountebank's error code.
    pub code: &'static str,
    /// JSON pointer of the offending value; empty for the whole document.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

fn pointer_prefix(pointer: &str) -> String {
    if pointer.is_empty() {
        String::new()
    } else {
        format!("at {pointer}: ")
    }
}

impl StubError {
    /// mountebank's `bad data`: the definition is malformed.
    pub fn bad_data(pointer: &str, message: impl Into<String>) -> StubError {
        StubError {
            code: "bad data",
            pointer: pointer.to_string(),
            message: message.into(),
        }
    }

    /// mountebank's `invalid injection`: JavaScript sent to a server
    /// started without `--allow-injection`.
    pub fn invalid_injection(pointer: &str) -> StubError {
        StubError {
            code: "invalid injection",
            pointer: pointer.to_string(),
            message:
                "JavaScript injection is not allowed unless hmt mock is run with --allow-injection"
                    .to_string(),
        }
    }
}
