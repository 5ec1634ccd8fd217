//! JSON Pointers (RFC 6901) and same-document `$ref`s: the one place that
//! escapes and unescapes reference tokens, builds pointers from tokens and
//! follows `#/...` references, so that every crate reads and writes the
//! same pointers.
//!
//! ```
//! use hmt_types::pointer;
//! assert_eq!(pointer::escape("a/b~c"), "a~1b~0c");
//! assert_eq!(pointer::join(["paths", "/pets/{id}"]), "/paths/~1pets~1{id}");
//! let root = serde_json::json!({"a b": {"c": 1}});
//! assert_eq!(pointer::resolve_ref(&root, "#/a%20b/c"), Some(&serde_json::json!(1)));
//! ```

use serde_json::Value;
use std::borrow::Cow;

/// How many `$ref`s [`deref`] follows before it calls the chain a cycle.
pub const MAX_REF_HOPS: usize = 32;

/// One reference token escaped for a pointer: `~` as `~0`, `/` as `~1`.
pub fn escape(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// One reference token of a pointer unescaped: `~1` as `/`, then `~0` as
/// `~` (in that order, so `~01` is `~1`).
pub fn unescape(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Appends `/` and the escaped `token` to `pointer`.
pub fn push(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&escape(token));
}

/// The pointer made of `tokens` (the empty pointer, the whole document,
/// for none).
pub fn join<I>(tokens: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut pointer = String::new();
    for token in tokens {
        push(&mut pointer, token.as_ref());
    }
    pointer
}

/// The pointer a same-document reference names: `#/components/schemas/Pet`
/// → `/components/schemas/Pet`, with the fragment's `%XX` escapes decoded
/// (malformed escapes kept as they are, bytes that are not UTF-8
/// replaced). `None` for a reference into another document or to an anchor
/// (`#name`).
pub fn from_ref(reference: &str) -> Option<Cow<'_, str>> {
    let fragment = reference.strip_prefix('#')?;
    if !fragment.is_empty() && !fragment.starts_with('/') {
        return None;
    }
    Some(crate::percent_decode(fragment))
}

/// The value a same-document reference (`#/...`) points at in `root`.
pub fn resolve_ref<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(&from_ref(reference)?)
}

/// `value` with its chain of same-document `$ref`s followed within `root`
/// (`value` itself when it has no `$ref`); `None` for a reference that
/// dangles, leaves the document or loops (more than [`MAX_REF_HOPS`]).
pub fn deref<'a>(root: &'a Value, mut value: &'a Value) -> Option<&'a Value> {
    for _ in 0..MAX_REF_HOPS {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => value = resolve_ref(root, reference)?,
            None => return Some(value),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_escape_and_unescape_both_ways() {
        // (token, escaped)
        let table = [
            ("", ""),
            ("plain", "plain"),
            ("a/b", "a~1b"),
            ("m~n", "m~0n"),
            ("~1", "~01"),
            ("/~", "~1~0"),
            ("{id}", "{id}"),
            ("é/ü", "é~1ü"),
        ];
        for (token, escaped) in table {
            assert_eq!(escape(token), escaped, "escape({token:?})");
            assert_eq!(unescape(escaped), token, "unescape({escaped:?})");
        }
    }

    #[test]
    fn pointers_are_built_from_tokens() {
        assert_eq!(join::<[&str; 0]>([]), "");
        assert_eq!(join([""]), "/");
        assert_eq!(
            join(["paths", "/pets/{id}", "get"]),
            "/paths/~1pets~1{id}/get"
        );
        let mut pointer = String::from("/a");
        push(&mut pointer, "b~c");
        assert_eq!(pointer, "/a/b~0c");
    }

    #[test]
    fn references_become_pointers() {
        // (reference, pointer)
        let table = [
            ("#", Some("")),
            ("#/components/schemas/Pet", Some("/components/schemas/Pet")),
            ("#/paths/~1pets~1%7Bid%7D", Some("/paths/~1pets~1{id}")),
            ("#/a%20b", Some("/a b")),
            ("#/bad%zz", Some("/bad%zz")),
            ("#/100%", Some("/100%")),
            ("other.yaml#/a", None),
            ("#anchor", None),
            ("", None),
        ];
        for (reference, pointer) in table {
            assert_eq!(from_ref(reference).as_deref(), pointer, "{reference:?}");
        }
    }

    #[test]
    fn references_are_followed_and_cycles_end() {
        let root = json!({
            "a": {"$ref": "#/b"},
            "b": {"$ref": "#/c~1d"},
            "c/d": {"type": "string"},
            "loop": {"$ref": "#/loop"},
            "dangling": {"$ref": "#/nowhere"},
        });
        assert_eq!(deref(&root, &root["a"]), Some(&json!({"type": "string"})));
        assert_eq!(deref(&root, &root["c/d"]), Some(&root["c/d"]));
        assert_eq!(deref(&root, &root["loop"]), None);
        assert_eq!(deref(&root, &root["dangling"]), None);
        assert_eq!(resolve_ref(&root, "#"), Some(&root));
    }
}
