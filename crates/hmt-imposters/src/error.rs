//! mountebank's error answers: `{"errors": [{"code", "message", "source"?}]}`.

use hmt_stub::StubError;
use serde_json::{Map, Value, json};

/// An error the admin API answers with.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status: 400, 403, 404 or 500.
    pub status: u16,
    /// mountebank's error code (`bad data`, `invalid JSON`, `resource conflict`...).
    pub code: &'static str,
    /// What is wrong, and where.
    pub message: String,
    /// The offending input, when there is one to show.
    pub source: Option<Value>,
}

impl ApiError {
    /// 400 `bad data`.
    pub fn bad_data(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: "bad data",
            message: message.into(),
            source: None,
        }
    }

    /// 400 `invalid JSON`, with the body that was sent, as mountebank words it.
    pub fn invalid_json(body: &[u8]) -> ApiError {
        ApiError {
            status: 400,
            code: "invalid JSON",
            message: "Unable to parse body as JSON".to_string(),
            source: Some(Value::String(String::from_utf8_lossy(body).into_owned())),
        }
    }

    /// 400 `resource conflict`: the port is taken.
    pub fn resource_conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: "resource conflict",
            message: message.into(),
            source: None,
        }
    }

    /// 403 `insufficient access`: binding the port is not permitted.
    pub fn insufficient_access(message: impl Into<String>) -> ApiError {
        ApiError {
            status: 403,
            code: "insufficient access",
            message: message.into(),
            source: None,
        }
    }

    /// 404 for an imposter that does not exist.
    pub fn no_such_imposter(port: &str) -> ApiError {
        ApiError {
            status: 404,
            code: "no such resource",
            message: format!("Try POSTing to /imposters first? (no imposter on port {port})"),
            source: None,
        }
    }

    /// A refused stub, with the offending value of `document` as `source`.
    pub fn from_stub(error: StubError, document: &Value, base: &str) -> ApiError {
        let pointer = format!("{base}{}", error.pointer);
        let source = document.pointer(&error.pointer).cloned();
        ApiError {
            status: 400,
            code: error.code,
            message: if pointer.is_empty() {
                error.message
            } else {
                format!("at {pointer}: {}", error.message)
            },
            source,
        }
    }

    /// The JSON body: `{"errors": [...]}`.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), json!(self.code));
        error.insert("message".into(), json!(self.message));
        if let Some(source) = &self.source {
            error.insert("source".into(), source.clone());
        }
        json!({"errors": [Value::Object(error)]})
    }
}
