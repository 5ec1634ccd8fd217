//! Keeping secrets that travel in bodies out of the spec.
//!
//! Credentials in headers and the query never reach the spec (see
//! [`crate::headers`]). Bodies carry them too: a login form's password, the
//! access token a login returns. Specs are committed and shared, so before a
//! body becomes an example or replay data, the values of fields whose name
//! says they are secret ([`hmt_types::secrets`]) are replaced with
//! [`PLACEHOLDER`]. The schema still describes the field; only the value is
//! gone. A replayed request body holding the placeholder matches any value
//! there.

use serde_json::Value;

/// What a secret value is replaced with.
pub const PLACEHOLDER: &str = "hmt-redacted";

// Which names are secrets is shared with `hmt record`, whose redactor
// must replace at least what a spec leaves out.
pub use hmt_types::secrets::{SECRET_FIELDS, is_secret_field, may_hold_secrets};

/// Replaces the values of secret fields anywhere in `value`; returns whether
/// anything was replaced.
///
/// ```
/// use hmt_build::secrets::redact_secrets;
/// let mut v = serde_json::json!({"user": "ada", "password": "hunter2", "session": {"accessToken": "eyJ..."}});
/// assert!(redact_secrets(&mut v));
/// assert_eq!(v, serde_json::json!({"user": "ada", "password": "hmt-redacted", "session": {"accessToken": "hmt-redacted"}}));
/// ```
pub fn redact_secrets(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            for (key, v) in map.iter_mut() {
                if is_secret_field(key) && !v.is_null() {
                    *v = Value::String(PLACEHOLDER.into());
                    changed = true;
                } else {
                    changed |= redact_secrets(v);
                }
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, v| redact_secrets(v) | c),
        _ => false,
    }
}

/// The body with secret fields replaced, when it is JSON or a form and
/// holds any; `None` when it needs no change (its bytes stay exact).
pub fn redacted_body(body: &[u8], form: bool) -> Option<Vec<u8>> {
    if !may_hold_secrets(body) {
        return None;
    }
    if form {
        let text = std::str::from_utf8(body).ok()?;
        let mut changed = false;
        let pairs: Vec<String> = text
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if is_secret_field(name) => {
                    changed = true;
                    format!("{name}={PLACEHOLDER}")
                }
                _ => pair.to_owned(),
            })
            .collect();
        return changed.then(|| pairs.join("&").into_bytes());
    }
    let mut value: Value = serde_json::from_slice(body).ok()?;
    if redact_secrets(&mut value) {
        serde_json::to_vec(&value).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_json_lose_their_secrets_only() {
        assert_eq!(
            redacted_body(b"user=ada&password=hunter2&remember=1", true),
            Some(b"user=ada&password=hmt-redacted&remember=1".to_vec())
        );
        assert_eq!(redacted_body(b"user=ada", true), None);
        assert_eq!(
            redacted_body(br#"{"access_token":"abc","expires_in":3600}"#, false),
            Some(br#"{"access_token":"hmt-redacted","expires_in":3600}"#.to_vec())
        );
        assert_eq!(redacted_body(br#"{"tokenType":"bearer"}"#, false), None);
        assert_eq!(redacted_body(b"not json with password", false), None);
    }
}
