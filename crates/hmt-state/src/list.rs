//! Listing a collection: equality filters, paging, and the shape of the
//! answer, each only as far as the operation declares.

use crate::infer::{ListShape, QueryParam};
use serde_json::{Map, Value};

/// Query parameters that page rather than filter.
const PAGING: [&str; 7] = [
    "limit",
    "offset",
    "page",
    "per_page",
    "page_size",
    "pageSize",
    "size",
];

/// Parameters that give the size of a page.
const PAGE_SIZES: [&str; 5] = ["per_page", "page_size", "pageSize", "size", "limit"];

/// What a list answers: the body and whether the mock merges it over the
/// documented response.
pub(crate) fn list<'a>(
    stored: impl Iterator<Item = &'a Value> + Clone,
    shape: &ListShape,
    declared: &[QueryParam],
    query: &[(String, String)],
) -> (Value, bool) {
    let mut filters: Vec<(&str, Vec<&str>)> = Vec::new();
    for param in declared {
        if PAGING.contains(&param.name.as_str()) {
            continue;
        }
        let wanted: Vec<&str> = query
            .iter()
            .filter(|(k, _)| *k == param.name)
            .map(|(_, v)| v.as_str())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        // Only a name that is a field of what is stored filters: `q`,
        // `sort` or `fields` mean something else.
        if stored
            .clone()
            .any(|object| object.get(&param.name).is_some())
        {
            filters.push((&param.name, wanted));
        }
    }
    let matching: Vec<&Value> = stored
        .filter(|object| {
            filters.iter().all(|(name, wanted)| {
                object
                    .get(*name)
                    .is_some_and(|field| wanted.iter().any(|w| equals(field, w)))
            })
        })
        .collect();
    let total = matching.len();
    let number = |name: &str| -> Option<u64> {
        let param = declared.iter().find(|p| p.name == name)?;
        query
            .iter()
            .find(|(k, _)| *k == param.name)
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            .or(param.default)
    };
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let offset = number("offset").map_or(0, to_usize);
    // `limit` counts as a page size; without `page`, the first page.
    let size = PAGE_SIZES
        .iter()
        .find_map(|name| number(name))
        .map(to_usize);
    let (start, count) = match number("page") {
        Some(page) => {
            let first = declared
                .iter()
                .find(|p| p.name == "page")
                .and_then(|p| p.minimum)
                .map_or(1, |m| m.min(1));
            let index = to_usize(page.saturating_sub(first));
            match size {
                Some(size) => (index.saturating_mul(size).saturating_add(offset), size),
                // No page size: everything is on the first page.
                None if index == 0 => (offset, usize::MAX),
                None => (usize::MAX, 0),
            }
        }
        None => (offset, size.unwrap_or(usize::MAX)),
    };
    let page: Vec<Value> = matching
        .into_iter()
        .skip(start)
        .take(count)
        .cloned()
        .collect();
    match shape {
        ListShape::Array => (Value::Array(page), false),
        ListShape::Wrapped { property, counts } => {
            let mut body = Map::new();
            body.insert(property.clone(), Value::Array(page));
            for name in counts {
                body.insert(name.clone(), Value::from(total));
            }
            (Value::Object(body), true)
        }
    }
}

/// Whether a stored field equals a query value: strings exactly, numbers
/// and booleans as they are written, arrays when any element does.
fn equals(field: &Value, wanted: &str) -> bool {
    match field {
        Value::String(s) => s == wanted,
        Value::Number(n) => {
            n.to_string() == wanted
                || wanted
                    .parse::<f64>()
                    .ok()
                    .zip(n.as_f64())
                    .is_some_and(|(a, b)| a == b)
        }
        Value::Bool(b) => wanted == if *b { "true" } else { "false" },
        Value::Null => wanted == "null",
        Value::Array(items) => items
            .iter()
            .any(|item| !item.is_array() && equals(item, wanted)),
        Value::Object(_) => false,
    }
}
