//! Ordered multi-valued name/value fields: headers and query parameters.

/// Headers or query parameters: names in the order they were recorded, each
/// with one or more values.
///
/// http-types stores these as a JSON object whose values are a string or an
/// array of strings; a name appears once, its repeated values (two
/// `Set-Cookie` headers, `?tag=a&tag=b`) in one array. Names keep the case
/// they were recorded with; header look-ups ignore case, query look-ups don't.
///
/// ```
/// use hmt_types::Fields;
/// let mut headers = Fields::default();
/// headers.append("Set-Cookie", "a=1");
/// headers.append("set-cookie", "b=2");
/// assert_eq!(headers.get_all_ignore_case("SET-COOKIE"), &["a=1", "b=2"]);
/// assert_eq!(headers.len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    entries: Vec<(String, Vec<String>)>,
}

impl Fields {
    /// Fields from `(name, values)` pairs; pairs with the same name (exactly)
    /// are joined.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, Vec<String>)>) -> Fields {
        let mut fields = Fields::default();
        for (name, values) in entries {
            match fields.entries.iter_mut().find(|(n, _)| *n == name) {
                Some((_, existing)) => existing.extend(values),
                None => fields.entries.push((name, values)),
            }
        }
        fields
    }

    /// Adds a value; a name already present (ignoring ASCII case) gets it
    /// appended to its values.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        match self
            .entries
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some((_, values)) => values.push(value.into()),
            None => self.entries.push((name, vec![value.into()])),
        }
    }

    /// The first value of `name`, matched exactly.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).first().map(String::as_str)
    }

    /// Every value of `name`, matched exactly.
    pub fn get_all(&self, name: &str) -> &[String] {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// The first value of `name`, ignoring ASCII case (for headers).
    pub fn get_ignore_case(&self, name: &str) -> Option<&str> {
        self.get_all_ignore_case(name).first().map(String::as_str)
    }

    /// Every value of `name`, ignoring ASCII case (for headers).
    pub fn get_all_ignore_case(&self, name: &str) -> &[String] {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// Names with their values, in recorded order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Number of distinct names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Replaces every value of `name` (ignoring ASCII case) with `value`.
    pub fn set_ignore_case(&mut self, name: &str, value: impl Into<String>) {
        match self
            .entries
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, values)) => *values = vec![value.into()],
            None => self.entries.push((name.to_owned(), vec![value.into()])),
        }
    }

    /// Removes `name` (ignoring ASCII case), returning its values.
    pub fn remove_ignore_case(&mut self, name: &str) -> Vec<String> {
        match self
            .entries
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(i) => self.entries.remove(i).1,
            None => Vec::new(),
        }
    }

    /// Parses an `application/x-www-form-urlencoded` string (a URL query
    /// without its `?`), decoding `+` and percent escapes.
    ///
    /// ```
    /// use hmt_types::Fields;
    /// let q = Fields::parse_query("a=1&b=x+y&a=%32&flag");
    /// assert_eq!(q.get_all("a"), &["1", "2"]);
    /// assert_eq!(q.get("b"), Some("x y"));
    /// assert_eq!(q.get("flag"), Some(""));
    /// ```
    pub fn parse_query(query: &str) -> Fields {
        let mut fields = Fields::default();
        for (name, value) in form_pairs(query) {
            match fields.entries.iter_mut().find(|(n, _)| *n == name) {
                Some((_, values)) => values.push(value),
                None => fields.entries.push((name, vec![value])),
            }
        }
        fields
    }
}

/// The name-value pairs of an `application/x-www-form-urlencoded` string
/// (a URL query without its `?`, or a form body), in order: split on `&`,
/// then at the first `=` (a pair without one has an empty value), each
/// side decoded by [`decode_form_component`]. Empty pairs are skipped.
///
/// ```
/// let pairs: Vec<_> = hmt_types::form_pairs("a=1&&b=x+y=z&flag").collect();
/// assert_eq!(pairs, [("a".into(), "1".into()), ("b".into(), "x y=z".into()), ("flag".into(), String::new())]);
/// ```
pub fn form_pairs(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (
            decode_form_component(name.as_bytes()),
            decode_form_component(value.as_bytes()),
        )
    })
}

/// Percent-encodes `text` for a URL: ASCII letters and digits, `-._~` and
/// the bytes in `keep` stay as they are, everything else becomes `%XX`.
///
/// ```
/// assert_eq!(hmt_types::percent_encode("a b/{c}", b"/"), "a%20b/%7Bc%7D");
/// ```
pub fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || keep.contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` as space
/// and `%XX` escapes. Broken escapes are kept as written and invalid UTF-8
/// is replaced, because a query string is text; everything that parses
/// queries (the reader, the recorder's redaction) decodes the same way.
///
/// ```
/// assert_eq!(hmt_types::decode_form_component(b"a+b%21%zz"), "a b!%zz");
/// ```
pub fn decode_form_component(raw: &[u8]) -> String {
    if !raw.contains(&b'+') {
        return percent_encoding::percent_decode(raw)
            .decode_utf8_lossy()
            .into_owned();
    }
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Decodes the `%XX` escapes of a path segment or a `$ref` fragment; unlike
/// [`decode_form_component`], `+` stays `+`. Broken escapes are kept as
/// written and invalid UTF-8 is replaced. Borrows when there is nothing to
/// decode.
///
/// ```
/// assert_eq!(hmt_types::percent_decode("a+b%7Bid%7D%zz"), "a+b{id}%zz");
/// ```
pub fn percent_decode(text: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy()
}

/// A host as a file name: letters, digits, `.` and `-` kept, anything else
/// `_` (`127.0.0.1:8080` → `127.0.0.1_8080`), as HMT named its files;
/// `no-host` for an empty host.
///
/// ```
/// assert_eq!(hmt_types::file_safe_host("127.0.0.1:8080"), "127.0.0.1_8080");
/// ```
pub fn file_safe_host(host: &str) -> String {
    if host.is_empty() {
        return "no-host".into();
    }
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A host as a file name that no other host shares: letters, digits, `.`
/// and `-` kept, every other byte of its UTF-8 as `_` and two lower-case hex
/// digits (`a:1` → `a_3a1`, `a_1` → `a_5f1`); `_` for an empty host.
/// Used where [`file_safe_host`] would give two hosts the same name.
///
/// ```
/// use hmt_types::{file_safe_host, file_safe_host_exact};
/// assert_eq!(file_safe_host("a:1"), file_safe_host("a_1"));
/// assert_eq!(file_safe_host_exact("a:1"), "a_3a1");
/// assert_eq!(file_safe_host_exact("a_1"), "a_5f1");
/// assert_eq!(file_safe_host_exact("api.example.com"), "api.example.com");
/// ```
pub fn file_safe_host_exact(host: &str) -> String {
    if host.is_empty() {
        return "_".into();
    }
    let mut out = String::with_capacity(host.len());
    for b in host.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_at_the_end_and_keeps_broken_ones() {
        assert_eq!(decode_form_component(b"a%20"), "a ");
        assert_eq!(decode_form_component(b"a%2"), "a%2");
        assert_eq!(decode_form_component(b"%zz"), "%zz");
        assert_eq!(decode_form_component(b"%C3%A9"), "é");
    }

    /// Today's behaviour of the decoders this one replaced (hmt-openapi's
    /// `load::percent_decode`, hmt-build's and hmt-mock's): the same table
    /// held for each of them before the switch, except `%+1`, which the
    /// openapi one wrongly read as byte 1.
    #[test]
    fn percent_and_form_decoding_table() {
        // (input, percent_decode, decode_form_component)
        let table = [
            ("", "", ""),
            ("plain", "plain", "plain"),
            ("a%20b", "a b", "a b"),
            ("a+b", "a+b", "a b"),
            ("a%2", "a%2", "a%2"),
            ("%zz", "%zz", "%zz"),
            ("%C3%A9", "é", "é"),
            ("%7Bid%7D", "{id}", "{id}"),
            ("%7bid%7d", "{id}", "{id}"),
            ("100%", "100%", "100%"),
            ("%", "%", "%"),
            ("%%41", "%A", "%A"),
            ("%ff", "\u{fffd}", "\u{fffd}"),
            ("%C3", "\u{fffd}", "\u{fffd}"),
            ("%+1", "%+1", "% 1"),
            ("%-1", "%-1", "%-1"),
            ("a%2Fb", "a/b", "a/b"),
            ("%25", "%", "%"),
            ("%2541", "%41", "%41"),
            ("é%20", "é ", "é "),
            ("%41%", "A%", "A%"),
        ];
        for (input, path, form) in table {
            assert_eq!(percent_decode(input), path, "percent_decode({input:?})");
            assert_eq!(
                decode_form_component(input.as_bytes()),
                form,
                "decode_form_component({input:?})"
            );
        }
    }
}
