//! Whatever JSON a client sends as stubs, and whatever request arrives,
//! the engine answers or refuses with an error: it never panics.

use hmt_stub::{Action, CompileOptions, Request, Stubs};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// JSON built from the words mountebank's stubs are made of, so that the
/// generated documents reach deep into the compiler rather than failing
/// at the first key.
fn words() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "equals",
        "deepEquals",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "exists",
        "not",
        "or",
        "and",
        "caseSensitive",
        "keyCaseSensitive",
        "except",
        "jsonpath",
        "xpath",
        "ns",
        "selector",
        "path",
        "method",
        "query",
        "headers",
        "body",
        "form",
        "requestFrom",
        "is",
        "proxy",
        "fault",
        "behaviors",
        "_behaviors",
        "repeat",
        "wait",
        "copy",
        "lookup",
        "from",
        "into",
        "using",
        "regex",
        "statusCode",
        "_mode",
        "binary",
        "predicates",
        "responses",
        "a",
        "$.a",
        "$..a[0]",
        "^a.*$",
        "(",
        "[",
        "\\d+",
        "",
        "CONNECTION_RESET_BY_PEER",
        "//a",
        "//p:a/@id",
        "count(//a)",
        "//a[",
        "p",
        "urn:p",
        "<a id='1'>x</a>",
    ])
    .prop_map(str::to_string)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|n| json!(n)),
        words().prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((words(), inner), 0..5)
                .prop_map(|entries| Value::Object(Map::from_iter(entries))),
        ]
    })
}

/// Well-formed or broken XML, with namespaces, attributes and entities.
fn xml() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "<a>",
            "</a>",
            "<p:a xmlns:p='urn:p'>",
            "</p:a>",
            "<a id='1'/>",
            "x",
            "&amp;",
            "&nope;",
            "<![CDATA[<]]>",
            "<!--c-->",
            "<?pi d?>",
            "<",
            "'",
            "<!DOCTYPE a>",
        ]),
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop::sample::select(vec!["GET", "POST", "DELETE"]),
        "/[a-zA-Z0-9/]{0,12}(\\?[a-z=&+%0-9]{0,12})?",
        prop::collection::vec(("[A-Za-z-]{1,8}", "[ -~]{0,10}"), 0..4),
        prop_oneof![
            Just(String::new()),
            "[ -~]{0,20}",
            json_value().prop_map(|v| v.to_string()),
            xml(),
        ],
    )
        .prop_map(|(method, target, headers, body)| {
            headers
                .iter()
                .fold(Request::new(method, &target), |request, (name, value)| {
                    request.with_header(name, value)
                })
                .with_body(body)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_stubs_compile_or_are_refused_and_never_panic(stubs in prop::collection::vec(json_value(), 0..4), requests in prop::collection::vec(request(), 1..4)) {
        let document = Value::Array(stubs);
        if let Ok(compiled) = Stubs::from_json(&document, json!({}), &CompileOptions::default()) {
            for request in &requests {
                if let Some(answer) = compiled.answer(request) {
                    prop_assert!(answer.stub < compiled.len());
                    if let Action::Reply(reply) = answer.action {
                        prop_assert!((100..=999).contains(&reply.status));
                    }
                }
            }
            // What compiled reads back and compiles again.
            let again = Stubs::from_json(&compiled.to_json(), json!({}), &CompileOptions::default());
            prop_assert!(again.is_ok(), "{:?}", again.err());
        }
    }

    #[test]
    fn xpath_selections_never_panic(operator in words(), selector in prop_oneof![words(), "[/@a-z:()\\[\\]'=*. |0-9-]{0,16}"], ns in json_value(), expected in json_value(), case_sensitive in any::<bool>(), body in xml()) {
        let predicate = json!({operator: {"body": expected}, "caseSensitive": case_sensitive, "xpath": {"selector": selector, "ns": ns}});
        let copy = json!({"copy": {"from": "body", "into": "${X}", "using": {"method": "xpath", "selector": selector, "ns": ns}}});
        let document = json!([{"predicates": [predicate], "responses": [{"is": {"body": "${X}"}, "behaviors": [copy]}]}]);
        let request = Request::new("POST", "/").with_body(body);
        if let Ok(compiled) = Stubs::from_json(&document, json!({}), &CompileOptions::default()) {
            let _ = compiled.answer(&request);
        }
    }

    #[test]
    fn shaped_predicates_never_panic(operator in words(), field in words(), expected in json_value(), flags in (any::<bool>(), any::<bool>()), request in request()) {
        let predicate = json!({operator: {field: expected}, "caseSensitive": flags.0, "keyCaseSensitive": flags.1});
        let document = json!([{"predicates": [predicate], "responses": [{"is": {"body": "x"}}]}]);
        if let Ok(compiled) = Stubs::from_json(&document, json!({}), &CompileOptions::default()) {
            let _ = compiled.answer(&request);
        }
    }
}
