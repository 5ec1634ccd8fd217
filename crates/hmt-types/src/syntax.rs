//! Pieces of HTTP's header syntax (RFC 9110 §5.6) that more than one crate
//! reads: the one place they are parsed, so that `Authorization`
//! parameters and `Content-Disposition` names unquote alike.

/// A quoted-string (RFC 9110 §5.6.4) whose opening `"` is just before
/// `text`: its value with `\` escapes undone, and what follows the closing
/// quote. `None` when the quote never closes.
///
/// ```
/// assert_eq!(
///     hmt_types::syntax::quoted_string(r#"a \"b\"", rest"#),
///     Some((r#"a "b""#.to_owned(), ", rest"))
/// );
/// ```
pub fn quoted_string(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.extend(chars.next().map(|(_, c)| c)),
            '"' => return Some((value, &text[i + 1..])),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_strings_unescape_and_end_at_the_closing_quote() {
        // (text after the opening quote, value and rest)
        let table = [
            (r#"""#, Some(("", ""))),
            (r#"abc"; x=1"#, Some(("abc", "; x=1"))),
            (r#"a\"b"c"#, Some((r#"a"b"#, "c"))),
            (r#"a\\"b"#, Some((r#"a\"#, "b"))),
            (r#"é\x""#, Some(("éx", ""))),
            ("no closing quote", None),
            (r#"ends in a backslash\"#, None),
            ("", None),
        ];
        for (text, expected) in table {
            assert_eq!(
                quoted_string(text),
                expected.map(|(value, rest)| (value.to_owned(), rest)),
                "{text:?}"
            );
        }
    }
}
