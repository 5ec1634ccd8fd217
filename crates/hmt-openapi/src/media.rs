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

/// Whether a documented request media type (maybe a range) accepts `sent`,
/// a lower-case essence without parameters.
pub fn media_accepts(documented: &str, sent: &str) -> bool {
    let documented = documented.split(';').next().unwrap_or("").trim();
    if documented == "*/*" || documented.eq_ignore_ascii_case(sent) {
        return true;
    }
    match (documented.split_once('/'), sent.split_once('/')) {
        (Some((dt, "*")), Some((st, _))) => dt.eq_ignore_ascii_case(st),
        _ => false,
    }
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
        assert!(is_json("application/problem+json; charset=utf-8"));
        assert!(!is_json("text/plain"));
        assert_eq!(essence(" Text/Plain ; charset=utf-8"), "text/plain");
    }
}
