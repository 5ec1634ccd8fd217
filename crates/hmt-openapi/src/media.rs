//! Media types: which are JSON, and whether a documented media type (maybe
//! a range such as `image/*`) accepts the one sent.

/// JSON and `+json` media types (and the ranges that include JSON).
#[inline]
pub fn is_json(media: &str) -> bool {
    let essence = media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence.ends_with("+json")
        || essence == "*/*"
        || essence == "application/*"
}

/// Whether `essence` (lower-case, no parameters) is JSON itself:
/// `application/json` or a `+json` type, not a range.
#[inline]
pub fn is_json_type(essence: &str) -> bool {
    let essence = essence.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 5
            && essence[essence.len() - 5..].eq_ignore_ascii_case("+json")
            && !essence.contains('*'))
}

/// Whether a documented request media type (maybe a range) accepts `sent`,
/// a lower-case essence without parameters. Ranges are `*/*`, `type/*`
/// and suffix ranges such as `application/*+json`, which accept
/// `application/merge-patch+json`.
pub fn media_accepts(documented: &str, sent: &str) -> bool {
    specificity(documented, sent).is_some()
}

/// How specifically `documented` accepts `sent`: 3 for the same type, 2
/// for a suffix range (`application/*+json`), 1 for `type/*`, 0 for
/// `*/*`; `None` when it does not.
pub fn specificity(documented: &str, sent: &str) -> Option<u8> {
    let documented = documented.split(';').next().unwrap_or("").trim();
    if documented.eq_ignore_ascii_case(sent) {
        return Some(3);
    }
    if documented == "*/*" || documented == "*" {
        return Some(0);
    }
    let ((dt, ds), (st, ss)) = (documented.split_once('/')?, sent.split_once('/')?);
    if !dt.eq_ignore_ascii_case(st) {
        return None;
    }
    if ds == "*" {
        return Some(1);
    }
    // `*+json` (or `vnd.*+json`): the sent subtype ends with the suffix
    // and starts with what precedes the star.
    let (prefix, suffix) = ds.split_once('*')?;
    let fits = ss.len() >= prefix.len() + suffix.len()
        && ss[..prefix.len()].eq_ignore_ascii_case(prefix)
        && ss[ss.len() - suffix.len()..].eq_ignore_ascii_case(suffix);
    fits.then_some(2)
}

/// The lower-case essence of a `Content-Type` value: `application/json`
/// for `Application/JSON; charset=utf-8`.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_case() {
        assert!(media_accepts("application/json", "application/json"));
        assert!(media_accepts("Application/JSON", "application/json"));
        assert!(media_accepts("image/*", "image/png"));
        assert!(media_accepts("*/*", "text/plain"));
        assert!(!media_accepts("image/*", "text/plain"));
        assert!(media_accepts(
            "application/*+json",
            "application/merge-patch+json"
        ));
        assert!(media_accepts(
            "application/vnd.*+json",
            "application/vnd.api+json"
        ));
        assert!(!media_accepts("application/*+json", "application/xml"));
        assert!(!media_accepts("application/*+json", "text/x+json"));
        assert!(!media_accepts(
            "application/json",
            "application/vnd.api+json"
        ));
        assert_eq!(
            specificity("application/json; charset=utf-8", "application/json"),
            Some(3)
        );
        assert!(is_json_type("application/vnd.api+json"));
        assert!(!is_json_type("*/*"));
        assert!(is_json("application/problem+json; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert_eq!(essence(" Text/Plain ; charset=utf-8"), "text/plain");
    }
}
