//! Names a reader sees: operation ids, summaries and response descriptions,
//! all derived from the method and path so they are meaningful and stable.

use crate::paths::{is_base_like, singularize};
use hmt_types::Method;
use std::collections::BTreeSet;

/// One segment of a path template.
enum Segment<'a> {
    Literal(&'a str),
    Param,
}

fn segments(template: &str) -> Vec<Segment<'_>> {
    template
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') {
                Segment::Param
            } else {
                Segment::Literal(s)
            }
        })
        .collect()
}

/// Words of a literal segment: `payment-methods` → `["payment", "methods"]`.
fn words(segment: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in segment.chars() {
        if c.is_ascii_alphanumeric() {
            // split camelCase
            if c.is_ascii_uppercase() && prev_lower && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            current.push(c.to_ascii_lowercase());
        } else {
            prev_lower = false;
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Literal words of the template, structural ones (`api`, versions) left
/// out; a literal followed by a parameter is made singular. Returns the
/// words and whether the template ends in a parameter.
fn resource_words(template: &str) -> (Vec<String>, bool) {
    let segs = segments(template);
    let mut out = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        if let Segment::Literal(lit) = seg {
            if is_base_like(lit) {
                continue;
            }
            let mut w = words(lit);
            if matches!(segs.get(i + 1), Some(Segment::Param))
                && let Some(last) = w.last_mut()
            {
                *last = singularize(last);
            }
            out.extend(w);
        }
    }
    (out, matches!(segs.last(), Some(Segment::Param)))
}

/// `getUserById`-style operation id for a method on a template (unique
/// across a spec through [`OperationIds`]).
///
/// ```
/// use hmt_build::naming::operation_id;
/// use hmt_types::Method;
/// assert_eq!(operation_id(Method::Get, "/users/{userId}"), "getUserById");
/// assert_eq!(operation_id(Method::Get, "/users"), "getUsers");
/// assert_eq!(operation_id(Method::Post, "/v1/payments/{paymentId}/refund"), "postPaymentRefund");
/// assert_eq!(operation_id(Method::Get, "/"), "getRoot");
/// ```
pub fn operation_id(method: Method, template: &str) -> String {
    let (words, ends_in_param) = resource_words(template);
    let mut id = method.as_str().to_owned();
    if words.is_empty() {
        id.push_str("Root");
    }
    for w in &words {
        id.push_str(&capitalised(w));
    }
    if ends_in_param {
        id.push_str("ById");
    }
    id
}

/// A one-line summary: `Get user by id`.
///
/// ```
/// use hmt_build::naming::summary;
/// use hmt_types::Method;
/// assert_eq!(summary(Method::Get, "/users/{userId}/orders"), "Get user orders");
/// assert_eq!(summary(Method::Delete, "/users/{userId}"), "Delete user by id");
/// ```
pub fn summary(method: Method, template: &str) -> String {
    let (words, ends_in_param) = resource_words(template);
    let mut text = capitalised(method.as_str());
    if words.is_empty() {
        text.push_str(" root");
    }
    for w in &words {
        text.push(' ');
        text.push_str(w);
    }
    if ends_in_param {
        text.push_str(" by id");
    }
    text
}

/// Hands out operation ids, making repeats unique with a number.
#[derive(Default)]
pub struct OperationIds {
    used: BTreeSet<String>,
}

impl OperationIds {
    /// A unique id for the method and template; call in a stable order.
    pub fn next(&mut self, method: Method, template: &str) -> String {
        let base = operation_id(method, template);
        let mut id = base.clone();
        let mut n = 2;
        while self.used.contains(&id) {
            id = format!("{base}{n}");
            n += 1;
        }
        self.used.insert(id.clone());
        id
    }
}

/// The reason phrase of a status code, used as the response description
/// (`Status 299` for a code without one).
pub fn reason_phrase(status: u16) -> String {
    hmt_types::reason_phrase(status).map_or_else(|| format!("Status {status}"), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_stable() {
        let mut ids = OperationIds::default();
        assert_eq!(
            ids.next(Method::Get, "/v2/pokemon/{pokemonId}/"),
            "getPokemonById"
        );
        assert_eq!(ids.next(Method::Get, "/v3/pokemon/{id}"), "getPokemonById2");
        assert_eq!(
            ids.next(Method::Post, "/v1/payments/initiate"),
            "postPaymentsInitiate"
        );
        assert_eq!(ids.next(Method::Get, "/user/repos"), "getUserRepos");
        assert_eq!(
            ids.next(Method::Get, "/api/payment-methods/{paymentMethodId}"),
            "getPaymentMethodById"
        );
    }

    #[test]
    fn singulars() {
        for (p, s) in [
            ("users", "user"),
            ("categories", "category"),
            ("boxes", "box"),
            ("addresses", "address"),
            ("status", "status"),
            ("pokemon", "pokemon"),
            ("people", "person"),
        ] {
            assert_eq!(singularize(p), s);
        }
    }
}
