use super::*;
use serde_json::json;

fn get(target: &str) -> Request {
    Request::new("GET", target)
}

fn post_json(body: &str) -> Request {
    Request::new("POST", "/")
        .with_header("Content-Type", "application/json")
        .with_body(body)
}

fn post_xml(body: &str) -> Request {
    Request::new("POST", "/")
        .with_header("Content-Type", "text/xml")
        .with_body(body)
}

/// A SOAP request whose prefixes are not the ones the tests' selectors use.
const SOAP: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:Example:Stock">
  <soap:Header><m:Trace>t-1</m:Trace></soap:Header>
  <soap:Body>
    <m:GetPrice currency="EUR"><m:Item>Apples</m:Item><Item>Pears</Item></m:GetPrice>
  </soap:Body>
</soap:Envelope>"#;

const BOOKS: &str = r#"<library><book id="2">Dune</book><book id="1">Emma</book><shelf/><box><book id="3"/></box><note>first<b>bold</b></note></library>"#;

fn soap(predicate: Value) -> Value {
    let mut predicate = predicate;
    predicate["xpath"]["ns"] =
        json!({"s": "http://schemas.xmlsoap.org/soap/envelope/", "st": "urn:Example:Stock"});
    predicate
}

fn check(predicate: Value, request: &Request) -> bool {
    Predicate::compile(&predicate, "/predicates/0", &CompileOptions::default())
        .unwrap_or_else(|error| panic!("{predicate}: {error}"))
        .matches(request)
}

/// (what, predicate, request, whether it matches)
fn cases() -> Vec<(&'static str, Value, Request, bool)> {
    vec![
        (
            "equals on path ignores case by default",
            json!({"equals": {"path": "/TEST"}}),
            get("/test"),
            true,
        ),
        (
            "caseSensitive keeps case",
            json!({"equals": {"path": "/TEST"}, "caseSensitive": true}),
            get("/test"),
            false,
        ),
        (
            "equals on method",
            json!({"equals": {"method": "post"}}),
            get("/"),
            false,
        ),
        (
            "several fields must all match",
            json!({"equals": {"method": "GET", "path": "/a"}}),
            get("/b"),
            false,
        ),
        (
            "query is a subset match",
            json!({"equals": {"query": {"a": "1"}}}),
            get("/?a=1&b=2"),
            true,
        ),
        (
            "a missing query key is the empty string",
            json!({"equals": {"query": {"a": ""}}}),
            get("/"),
            true,
        ),
        (
            "deepEquals query {} matches no query",
            json!({"deepEquals": {"query": {}}}),
            get("/"),
            true,
        ),
        (
            "deepEquals query {} refuses a query",
            json!({"deepEquals": {"query": {}}}),
            get("/?a=1"),
            false,
        ),
        (
            "deepEquals query must be exact",
            json!({"deepEquals": {"query": {"a": "1"}}}),
            get("/?a=1&b=2"),
            false,
        ),
        (
            "deepEquals repeated keys ignore order",
            json!({"deepEquals": {"query": {"k": ["2", "1"]}}}),
            get("/?k=1&k=2"),
            true,
        ),
        (
            "a repeated query key matches any of its values",
            json!({"equals": {"query": {"k": "2"}}}),
            get("/?k=1&k=2"),
            true,
        ),
        (
            "header names ignore case",
            json!({"equals": {"headers": {"content-type": "APPLICATION/JSON"}}}),
            post_json("{}"),
            true,
        ),
        (
            "contains on body",
            json!({"contains": {"body": "needle"}}),
            post_json("hay NEEDLE hay"),
            true,
        ),
        (
            "startsWith on path",
            json!({"startsWith": {"path": "/api"}}),
            get("/api/v1"),
            true,
        ),
        (
            "startsWith refuses the middle",
            json!({"startsWith": {"path": "/v1"}}),
            get("/api/v1"),
            false,
        ),
        (
            "endsWith on path",
            json!({"endsWith": {"path": ".json"}}),
            get("/a/b.JSON"),
            true,
        ),
        (
            "matches a regex",
            json!({"matches": {"path": "^/users/\\d+$"}}),
            get("/users/42"),
            true,
        ),
        (
            "matches keeps \\W apart from \\w",
            json!({"matches": {"path": "^\\W"}}),
            get("/x"),
            true,
        ),
        (
            "matches ignores case by default",
            json!({"matches": {"path": "^/USERS"}}),
            get("/users"),
            true,
        ),
        (
            "matches honours caseSensitive",
            json!({"matches": {"path": "^/USERS"}, "caseSensitive": true}),
            get("/users"),
            false,
        ),
        (
            "matches on a JSON field with an upper-case key",
            json!({"matches": {"body": {"Key": "^Val"}}}),
            post_json(r#"{"Key":"Value"}"#),
            true,
        ),
        (
            "exists true on a present query key",
            json!({"exists": {"query": {"q": true}}}),
            get("/?q=1"),
            true,
        ),
        (
            "exists true on a missing query key",
            json!({"exists": {"query": {"q": true}}}),
            get("/"),
            false,
        ),
        (
            "exists false on a missing query key",
            json!({"exists": {"query": {"q": false}}}),
            get("/"),
            true,
        ),
        (
            "exists true on an empty body",
            json!({"exists": {"body": true}}),
            get("/"),
            false,
        ),
        (
            "exists on a header",
            json!({"exists": {"headers": {"Content-Type": true}}}),
            post_json("{}"),
            true,
        ),
        (
            "not",
            json!({"not": {"equals": {"path": "/a"}}}),
            get("/b"),
            true,
        ),
        (
            "or",
            json!({"or": [{"equals": {"path": "/a"}}, {"equals": {"path": "/b"}}]}),
            get("/b"),
            true,
        ),
        (
            "and",
            json!({"and": [{"equals": {"path": "/a"}}, {"equals": {"method": "POST"}}]}),
            get("/a"),
            false,
        ),
        (
            "except removes before comparing",
            json!({"equals": {"body": "hello"}, "except": "\\d+"}),
            post_json("hel123lo"),
            true,
        ),
        (
            "JSON body subset",
            json!({"equals": {"body": {"name": "ann"}}}),
            post_json(r#"{"name":"Ann","age":3}"#),
            true,
        ),
        (
            "JSON body wrong value",
            json!({"equals": {"body": {"name": "bob"}}}),
            post_json(r#"{"name":"Ann"}"#),
            false,
        ),
        (
            "a number equals its text",
            json!({"equals": {"body": {"id": 5}}}),
            post_json(r#"{"id":"5"}"#),
            true,
        ),
        (
            "a scalar matches an array that contains it",
            json!({"equals": {"body": {"tags": "b"}}}),
            post_json(r#"{"tags":["a","b"]}"#),
            true,
        ),
        (
            "an expected array is a subset of the actual",
            json!({"equals": {"body": {"tags": ["b"]}}}),
            post_json(r#"{"tags":["a","b"]}"#),
            true,
        ),
        (
            "an expected array needs every element",
            json!({"equals": {"body": {"tags": ["b", "c"]}}}),
            post_json(r#"{"tags":["a","b"]}"#),
            false,
        ),
        (
            "deepEquals on a JSON body ignores array order",
            json!({"deepEquals": {"body": {"tags": ["b", "a"]}}}),
            post_json(r#"{"tags":["a","b"]}"#),
            true,
        ),
        (
            "deepEquals on a JSON body refuses extra fields",
            json!({"deepEquals": {"body": {"a": 1}}}),
            post_json(r#"{"a":1,"b":2}"#),
            false,
        ),
        (
            "null in a JSON body",
            json!({"equals": {"body": {"gone": null}}}),
            post_json(r#"{"gone":null}"#),
            true,
        ),
        (
            "deepEquals with null",
            json!({"deepEquals": {"body": {"gone": null}}}),
            post_json(r#"{"gone":null}"#),
            true,
        ),
        (
            "Cyrillic keys",
            json!({"equals": {"body": {"Имя": "Анна"}}}),
            post_json(r#"{"имя":"анна"}"#),
            true,
        ),
        (
            "an object predicate against an array of objects",
            json!({"equals": {"body": {"key": "third"}}}),
            post_json(r#"[{"key":"first"},{"different":true},{"key":"third"}]"#),
            true,
        ),
        (
            "jsonpath selects a field",
            json!({"equals": {"body": "ann"}, "jsonpath": {"selector": "$.user.name"}}),
            post_json(r#"{"user":{"name":"Ann"}}"#),
            true,
        ),
        (
            "jsonpath with several matches",
            json!({"equals": {"body": "b"}, "jsonpath": {"selector": "$.items[*].id"}}),
            post_json(r#"{"items":[{"id":"a"},{"id":"b"}]}"#),
            true,
        ),
        (
            "jsonpath that selects nothing",
            json!({"equals": {"body": "x"}, "jsonpath": {"selector": "$.nope"}}),
            post_json(r#"{"a":1}"#),
            false,
        ),
        (
            "xpath with ns: the selector's prefixes need not be the document's",
            soap(
                json!({"equals": {"body": "apples"}, "xpath": {"selector": "/s:Envelope/s:Body/st:GetPrice/st:Item"}}),
            ),
            post_xml(SOAP),
            true,
        ),
        (
            "xpath with ns: a name in no namespace is not the namespaced one",
            soap(json!({"equals": {"body": "pears"}, "xpath": {"selector": "//st:GetPrice/Item"}})),
            post_xml(SOAP),
            true,
        ),
        (
            "xpath with ns: a prefix bound to another URI selects nothing",
            json!({"exists": {"body": true}, "xpath": {"selector": "//st:Item", "ns": {"st": "urn:other"}}}),
            post_xml(SOAP),
            false,
        ),
        (
            "xpath with ns under caseSensitive keeps the URI's case",
            soap(
                json!({"equals": {"body": "Apples"}, "caseSensitive": true, "xpath": {"selector": "//s:Body/st:GetPrice/st:Item"}}),
            ),
            post_xml(SOAP),
            true,
        ),
        (
            "xpath under caseSensitive compares values with case",
            soap(
                json!({"equals": {"body": "apples"}, "caseSensitive": true, "xpath": {"selector": "//st:Item"}}),
            ),
            post_xml(SOAP),
            false,
        ),
        (
            "xpath selects an attribute's value",
            soap(
                json!({"equals": {"body": "eur"}, "xpath": {"selector": "//st:GetPrice/@currency"}}),
            ),
            post_xml(SOAP),
            true,
        ),
        (
            "xpath with several nodes: a scalar matches any of them",
            json!({"equals": {"body": "1"}, "xpath": {"selector": "//book/@id"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath with several nodes: a scalar none of them is",
            json!({"equals": {"body": "4"}, "xpath": {"selector": "//book/@id"}}),
            post_xml(BOOKS),
            false,
        ),
        (
            "xpath equals with an array: the selected values in any order",
            json!({"equals": {"body": ["3", "1", "2"]}, "xpath": {"selector": "//book/@id"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath equals with an array needs each of its values selected",
            json!({"equals": {"body": ["1", "4"]}, "xpath": {"selector": "//book/@id"}}),
            post_xml(BOOKS),
            false,
        ),
        (
            "xpath deepEquals: the whole set in any order",
            json!({"deepEquals": {"body": ["2", "3", "1"]}, "xpath": {"selector": "//book/@id"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath deepEquals refuses a subset",
            json!({"deepEquals": {"body": ["1", "2"]}, "xpath": {"selector": "//book/@id"}}),
            post_xml(BOOKS),
            false,
        ),
        (
            "xpath deepEquals on one node is its value",
            json!({"deepEquals": {"body": "dune"}, "xpath": {"selector": "//book[@id='2']"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath selects text nodes",
            json!({"equals": {"body": "emma"}, "xpath": {"selector": "//book/text()"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath: an element's value is its first child's text, as mountebank's",
            json!({"equals": {"body": "first"}, "xpath": {"selector": "//note"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath contains on the selected value",
            json!({"contains": {"body": "ppl"}, "xpath": {"selector": "//*[local-name()='Item']"}}),
            post_xml(SOAP),
            true,
        ),
        (
            "xpath startsWith on the selected value",
            soap(json!({"startsWith": {"body": "pea"}, "xpath": {"selector": "//st:Item"}})),
            post_xml(SOAP),
            false,
        ),
        (
            "xpath matches on the selected value",
            json!({"matches": {"body": "^\\d$"}, "xpath": {"selector": "//book/@id"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath matches a value that is not there",
            json!({"matches": {"body": "^Z"}, "xpath": {"selector": "//book"}}),
            post_xml(BOOKS),
            false,
        ),
        (
            "xpath exists on a selected node",
            json!({"exists": {"body": true}, "xpath": {"selector": "//book[@id='1']"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath exists on an empty element, as mountebank's",
            json!({"exists": {"body": true}, "xpath": {"selector": "//shelf"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath exists true when nothing is selected",
            json!({"exists": {"body": true}, "xpath": {"selector": "//magazine"}}),
            post_xml(BOOKS),
            false,
        ),
        (
            "xpath exists false when nothing is selected",
            json!({"exists": {"body": false}, "xpath": {"selector": "//magazine"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath exists false on a selected node",
            json!({"exists": {"body": false}, "xpath": {"selector": "//book"}}),
            post_xml(BOOKS),
            false,
        ),
        (
            "xpath with a number result",
            json!({"equals": {"body": 3}, "xpath": {"selector": "count(//book)"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath with a boolean result",
            json!({"equals": {"body": "true"}, "xpath": {"selector": "count(//book) > 2"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath over a body that is not XML matches nothing",
            json!({"equals": {"body": "not xml"}, "xpath": {"selector": "/"}}),
            post_xml("not xml"),
            false,
        ),
        (
            "xpath over a body that is not XML: exists false",
            json!({"exists": {"body": false}, "xpath": {"selector": "//book"}}),
            post_xml("<library><book>unclosed</library>"),
            true,
        ),
        (
            "xpath after except",
            json!({"equals": {"body": "dune"}, "except": "\\d", "xpath": {"selector": "//book[@id='']"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "xpath selector in upper case folds to the lower-cased body",
            json!({"equals": {"body": "dune"}, "xpath": {"selector": "//BOOK[@ID='2']"}}),
            post_xml(BOOKS),
            true,
        ),
        (
            "jsonpath wins over xpath, as in mountebank",
            json!({"equals": {"body": "ann"}, "jsonpath": {"selector": "$.name"}, "xpath": {"selector": "//name"}}),
            post_json(r#"{"name":"Ann"}"#),
            true,
        ),
        (
            "keyCaseSensitive false with caseSensitive true",
            json!({"equals": {"query": {"KEY": "Value"}}, "caseSensitive": true, "keyCaseSensitive": false}),
            get("/?key=Value"),
            true,
        ),
        (
            "caseSensitive keys",
            json!({"equals": {"query": {"KEY": "Value"}}, "caseSensitive": true}),
            get("/?key=Value"),
            false,
        ),
        (
            "requestFrom by its mountebank name",
            json!({"startsWith": {"requestFrom": "127.0.0.1"}}),
            get("/").with_client("127.0.0.1:4000", "127.0.0.1"),
            true,
        ),
        (
            "form fields of an urlencoded body",
            json!({"equals": {"form": {"name": "ann smith"}}}),
            Request::new("POST", "/")
                .with_header(
                    "Content-Type",
                    "application/x-www-form-urlencoded; charset=utf-8",
                )
                .with_body("name=ann+smith&x=1"),
            true,
        ),
        (
            "no form without the content type",
            json!({"equals": {"form": {"name": "ann"}}}),
            post_json("name=ann"),
            false,
        ),
    ]
}

#[test]
fn predicates_match_as_mountebank_does() {
    let mut failures = Vec::new();
    for (what, predicate, request, expected) in cases() {
        if check(predicate.clone(), &request) != expected {
            failures.push(format!(
                "{what}: {predicate} should {}match",
                if expected { "" } else { "not " }
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_predicates_are_refused_with_where() {
    let cases = [
        (
            json!({"equal": {"path": "/"}}),
            "/predicates/0",
            "missing predicate",
        ),
        (
            json!({"matches": {"path": "("}}),
            "/predicates/0/matches/path",
            "not a regular expression",
        ),
        (
            json!({"equals": "/"}),
            "/predicates/0/equals",
            "takes an object",
        ),
        (
            json!({"or": {"equals": {}}}),
            "/predicates/0/or",
            "array of predicates",
        ),
        (
            json!({"and": [{"equals": {}}, {"nope": 1}]}),
            "/predicates/0/and/1",
            "missing predicate",
        ),
        (
            json!({"equals": {"body": "x"}, "jsonpath": {"selector": "$[?("}}),
            "/predicates/0/jsonpath/selector",
            "not a JSONPath",
        ),
        (
            json!({"equals": {"body": "x"}, "xpath": {"selector": "//book["}}),
            "/predicates/0/xpath/selector",
            "not an XPath",
        ),
        (
            json!({"equals": {"body": "x"}, "xpath": {"selector": "//p:book"}}),
            "/predicates/0/xpath/selector",
            "not an XPath",
        ),
        (
            json!({"equals": {"body": "x"}, "xpath": {"selector": "//book[@id=$id]"}}),
            "/predicates/0/xpath/selector",
            "variables",
        ),
        (
            json!({"equals": {"body": "x"}, "xpath": {"ns": {}}}),
            "/predicates/0/xpath",
            "'selector'",
        ),
        (
            json!({"equals": {"body": "x"}, "xpath": {"selector": "//p:a", "ns": {"p": 1}}}),
            "/predicates/0/xpath/ns",
            "namespace URI",
        ),
        (
            json!({"equals": {}, "caseSensitive": "yes"}),
            "/predicates/0/caseSensitive",
            "true or false",
        ),
        (json!([]), "/predicates/0", "JSON object"),
    ];
    for (predicate, pointer, message) in cases {
        let error = Predicate::compile(&predicate, "/predicates/0", &CompileOptions::default())
            .unwrap_err();
        assert_eq!(error.pointer, pointer, "{predicate}");
        assert!(
            error.message.contains(message),
            "{predicate}: {}",
            error.message
        );
        assert_eq!(error.code, "bad data");
    }
}

#[test]
fn injection_is_refused_unless_allowed() {
    let error = Predicate::compile(
        &json!({"inject": "r => true"}),
        "",
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert_eq!(error.code, "invalid injection");
}

mod fast_form {
    use super::*;
    use proptest::prelude::*;

    fn slow(predicate: &Predicate) -> Predicate {
        match &predicate.kind {
            Kind::Compare(compare) => {
                let mut compare = (**compare).clone();
                compare.fast = None;
                Predicate {
                    kind: Kind::Compare(Box::new(compare)),
                }
            }
            _ => predicate.clone(),
        }
    }

    proptest! {
        /// The shortcut for method and path answers as the full rules do.
        #[test]
        fn answers_as_the_full_rules(
            operator in prop::sample::select(vec!["equals", "startsWith", "endsWith"]),
            want_method in "[gGeEtTpPoOsS]{0,4}",
            want_path in "/[a-zA-Z/é]{0,6}",
            method in "[gGeEtTpPoOsS]{1,5}",
            path in "/[a-zA-Z/éÉ]{0,8}",
            case_sensitive in any::<bool>(),
        ) {
            let predicate = json!({operator: {"method": want_method, "path": want_path}, "caseSensitive": case_sensitive});
            let compiled = Predicate::compile(&predicate, "", &CompileOptions::default()).unwrap();
            let swap = |text: &str| -> String {
                text.chars().map(|c| if c.is_lowercase() { c.to_uppercase().next().unwrap_or(c) } else { c.to_lowercase().next().unwrap_or(c) }).collect()
            };
            let requests = [
                (method.clone(), path.clone()),
                (want_method.clone(), want_path.clone()),
                (swap(&want_method), swap(&want_path)),
                (format!("{want_method}T"), format!("{}x", swap(&want_path))),
            ];
            for (method, path) in requests {
                let request = Request::new(&method, &path);
                prop_assert_eq!(compiled.matches(&request), slow(&compiled).matches(&request), "{} against {} {}", predicate, method, path);
            }
        }
    }

    #[test]
    fn is_taken_for_method_and_path_only() {
        let fast =
            |predicate: Value| match Predicate::compile(&predicate, "", &CompileOptions::default())
                .unwrap()
                .kind
            {
                Kind::Compare(compare) => compare.fast.is_some(),
                _ => false,
            };
        assert!(fast(json!({"equals": {"method": "GET", "path": "/a"}})));
        assert!(!fast(json!({"equals": {"query": {"a": "1"}}})));
        assert!(!fast(json!({"equals": {"path": "/a"}, "except": "x"})));
        assert!(!fast(json!({"contains": {"path": "/a"}})));
    }
}
