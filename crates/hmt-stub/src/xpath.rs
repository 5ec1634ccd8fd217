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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn select(selector: &str, xml: &str) -> Option<Vec<Value>> {
        XPathSelector::compile(selector, &[])
            .unwrap_or_else(|error| panic!("{selector}: {error}"))
            .select(xml)
    }

    #[test]
    fn node_values_are_mountebanks() {
        let xml = "<r a='1'>\n  <e/><m>x<b>y</b></m><p><q>z</q></p><c><!--note--></c><t><![CDATA[<raw>]]></t></r>";
        let cases = [
            ("/r/@a", json!(["1"])),
            ("//e", json!(["undefined"])),
            ("//m", json!(["x"])),
            ("//p", json!(["undefined"])),
            ("//c", json!(["note"])),
            ("//t", json!(["<raw>"])),
            ("/r", json!(["\n  "])),
            ("//b/text()", json!(["y"])),
            ("count(//*)", json!([8])),
            ("count(//*) div 3", json!([8.0 / 3.0])),
            ("1 div 0", json!(["Infinity"])),
            ("boolean(//e)", json!([true])),
            ("string(//q)", json!(["z"])),
        ];
        for (selector, want) in cases {
            assert_eq!(
                select(selector, xml).map(Value::from),
                Some(want),
                "{selector}"
            );
        }
        assert_eq!(select("//missing", xml), None);
        assert_eq!(select("string(//missing)", xml), None);
    }

    #[test]
    fn text_that_is_not_xml_or_is_too_big_selects_nothing() {
        for text in [
            "",
            "plain",
            "{\"a\":1}",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "<a x='1' x='2'/>",
        ] {
            assert_eq!(select("/", text), None, "{text:?}");
        }
        let big = format!("<a>{}</a>", "x".repeat(MAX_XML_BYTES));
        assert_eq!(select("/a", &big), None);
        let fits = format!("<a>{}</a>", "x".repeat(1024));
        assert!(select("/a", &fits).is_some());
    }

    #[test]
    fn hostile_documents_are_refused_without_crashing() {
        // Deeper than the parser's bound, on a test thread's 2 MiB stack.
        let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert_eq!(select("count(//a)", &deep), None);
        let nested = format!(
            "{}x{}",
            "<a>".repeat(MAX_XML_DEPTH - 2),
            "</a>".repeat(MAX_XML_DEPTH - 2)
        );
        assert!(select("//a", &nested).is_some());
        // Billion laughs.
        let mut dtd = String::from("<!DOCTYPE l [<!ENTITY l0 \"ha\">");
        for level in 1..12 {
            let previous = format!("&l{};", level - 1).repeat(10);
            dtd.push_str(&format!("<!ENTITY l{level} \"{previous}\">"));
        }
        let laughs = format!("{dtd}]><l>&l11;</l>");
        assert_eq!(select("/l", &laughs), None);
        // External entities are never read.
        let external = "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/hostname\">]><r>&x;</r>";
        let read = select("string(/r)", external).unwrap_or_default();
        assert!(
            read.iter()
                .all(|value| value.as_str().unwrap_or("").is_empty()),
            "{read:?}"
        );
    }

    #[test]
    fn expressions_are_bounded_at_compile_time() {
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(XPathSelector::compile(&deep, &[]).is_err());
        let long = vec!["1"; 100_000].join("+");
        assert!(XPathSelector::compile(&long, &[]).is_err());
        assert!(XPathSelector::compile("//a[", &[]).is_err());
        assert!(XPathSelector::compile("nosuch(1)", &[]).is_err());
        assert!(XPathSelector::compile("//p:a", &[]).is_err());
        assert!(XPathSelector::compile("//p:a", &[("p".into(), "urn:p".into())]).is_ok());
    }

    #[test]
    fn quadratic_expressions_stop_at_the_work_budget() {
        let wide = format!("<r>{}</r>", "<a>1</a>".repeat(20_000));
        // 20,000² comparisons: past the budget, so nothing, and quickly.
        let started = std::time::Instant::now();
        assert_eq!(select("//a[. = //a[last()]/preceding::a]", &wide), None);
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        assert_eq!(select("count(//a)", &wide), Some(vec![json!(20_000)]));
    }
}
