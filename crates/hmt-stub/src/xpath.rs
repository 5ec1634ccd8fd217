//! mountebank's XPath selections (`xpath: {selector, ns}` on a predicate,
//! `using: {method: "xpath"}` on `copy` and `lookup`).
//!
//! The expression is compiled once, with its namespace prefixes bound;
//! each request's text is parsed as XML at most once per selection. What
//! a selection answers is mountebank's (`xpath.js`): a node-set becomes
//! the "value" of each node (a text node's text, an attribute's value, an
//! element's *first child's* text, or `"undefined"` when it has none, so
//! that `exists` holds for an empty element); a number or boolean result
//! is itself; nothing selected, or text that is not XML, is nothing.
//!
//! Input is bounded: text over [`MAX_XML_BYTES`] is not parsed, elements
//! nest at most [`MAX_XML_DEPTH`] deep, entities expand within oxml's
//! default budget (external ones are never fetched), expressions are held
//! to oxml's strict limits, and evaluation has a work budget, past which
//! the selection is nothing.

use oxml::xpath::{EvalContext, EvalLimits, Value as XValue};
use oxml::{Document, Limits, NodeId, NodeKind, XPath};
use serde_json::Value;

/// Text longer than this is not parsed as XML: it selects nothing.
pub(crate) const MAX_XML_BYTES: usize = 16 * 1024 * 1024;

/// Element nesting past this is refused (the parser recurses per level).
pub(crate) const MAX_XML_DEPTH: usize = 128;

/// A compiled XPath 1.0 expression with its namespace bindings.
#[derive(Debug, Clone)]
pub(crate) struct XPathSelector {
    xpath: XPath,
}

impl XPathSelector {
    /// Compiles `selector` with `ns` (prefix, URI) bound; the error is a
    /// sentence for a `bad data` message.
    pub(crate) fn compile(selector: &str, ns: &[(String, String)]) -> Result<Self, String> {
        let bindings: Vec<(&str, &str)> = ns
            .iter()
            .map(|(prefix, uri)| (prefix.as_str(), uri.as_str()))
            .collect();
        let xpath =
            XPath::compile_with_namespaces_and_limits(selector, &bindings, &Limits::strict())
                .map_err(|error| format!("not an XPath 1.0 expression: {error}"))?;
        if !xpath.variables().is_empty() {
            return Err(
                "not an XPath this server supports: variables ($name) are never bound".into(),
            );
        }
        Ok(XPathSelector { xpath })
    }

    /// The values selected from `text` parsed as XML, in document order;
    /// `None` when the text is not XML (or too large), the evaluation
    /// fails or exceeds its budget, or nothing is selected.
    pub(crate) fn select(&self, text: &str) -> Option<Vec<Value>> {
        if text.len() > MAX_XML_BYTES {
            return None;
        }
        let mut limits = Limits::default();
        limits.max_depth = MAX_XML_DEPTH;
        limits.max_input_bytes = Some(MAX_XML_BYTES);
        let document = oxml::parse_with(text, limits).ok()?;
        let mut budget = EvalLimits::default();
        budget.max_work = 50_000_000;
        budget.max_nodes = 2_000_000;
        budget.max_string_bytes = 4 * MAX_XML_BYTES;
        let context = EvalContext::new().with_limits(budget);
        let values = match self.xpath.evaluate_with(&document, &context).ok()? {
            XValue::NodeSet(nodes) => nodes
                .iter()
                .map(|node| Value::String(node_value(&document, *node)))
                .collect(),
            XValue::Number(number) => vec![number_value(number)],
            XValue::Boolean(flag) => vec![Value::Bool(flag)],
            // The `xpath` package answers a string expression with the
            // string itself; an empty one selects nothing.
            XValue::String(text) if text.is_empty() => Vec::new(),
            XValue::String(text) => vec![Value::String(text)],
        };
        (!values.is_empty()).then_some(values)
    }
}

/// mountebank's `nodeValue`.
fn node_value(document: &Document, node: NodeId) -> String {
    const UNDEFINED: &str = "undefined";
    let own = |kind: Option<NodeKind<'_>>| -> Option<String> {
        match kind? {
            NodeKind::Text(text) | NodeKind::Comment(text) => Some(text.to_string()),
            NodeKind::Attr(attribute) => Some(attribute.value.to_string()),
            NodeKind::Namespace { uri, .. } => Some(uri.to_string()),
            NodeKind::ProcessingInstruction { data, .. } => Some(data.to_string()),
            NodeKind::Root | NodeKind::Element { .. } => None,
        }
    };
    if let Some(value) = own(document.kind(node)) {
        return value;
    }
    // An element (or the root): its first child's `data`, which an
    // element child does not have.
    document
        .children(node)
        .first()
        .and_then(|child| match document.kind(*child) {
            Some(NodeKind::Attr(_) | NodeKind::Namespace { .. }) => None,
            kind => own(kind),
        })
        .unwrap_or_else(|| UNDEFINED.to_string())
}

/// An XPath number as JSON, so it prints as JavaScript prints it.
fn number_value(number: f64) -> Value {
    if number.is_nan() {
        return Value::String("NaN".into());
    }
    if number.is_infinite() {
        let sign = if number < 0.0 { "-" } else { "" };
        return Value::String(format!("{sign}Infinity"));
    }
    if number.fract() == 0.0 && number.abs() < 9_007_199_254_740_992.0 {
        // Exact: integral and within f64's contiguous integers.
        return Value::from(number as i64);
    }
    serde_json::Number::from_f64(number)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}
