//! Parameter styles, table by table: what a request sends for a parameter
//! of each `style`, `explode`, location and schema type, and the JSON value
//! validation reads it as.
//!
//! The reading is observed through the public validator: each case's
//! schema is its type `allOf` a `const` of the expected value, so the
//! request passes exactly when the text was read as that value; a second
//! check with a different `const` must fail, so a reader that accepted
//! everything would not pass.

use hmt_openapi::validate::{Refusal, RequestView, SpecValidators};
use hmt_openapi::{LoadedSpec, compile};
use serde_json::{Value, json};

/// Where the case's text goes.
enum Sent<'a> {
    Query(&'a str),
    Path(&'a str),
    Header(&'a str),
    Cookie(&'a str),
}

fn spec(parameter: Value) -> hmt_openapi::Spec {
    compile(LoadedSpec {
        file: "styles.yaml".into(),
        document: json!({
            "openapi": "3.1.0",
            "info": {"title": "styles", "version": "1"},
            "paths": {"/t/{p}": {"get": {
                "parameters": [parameter],
                "responses": {"200": {"description": "ok"}}
            }}}
        }),
    })
    .unwrap()
}

fn check(parameter: Value, sent: &Sent<'_>) -> Result<(), Refusal> {
    let spec = spec(parameter);
    let validators = SpecValidators::new(&spec);
    let query: Vec<(String, String)> = match sent {
        Sent::Query(q) => q
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, v) = p.split_once('=').unwrap_or((p, ""));
                (
                    hmt_types::decode_form_component(n.as_bytes()),
                    hmt_types::decode_form_component(v.as_bytes()),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    let path = match sent {
        Sent::Path(p) => vec![("p".to_owned(), (*p).to_owned())],
        _ => vec![("p".to_owned(), "x".to_owned())],
    };
    let header_value = match sent {
        Sent::Header(h) => Some((*h).to_owned()),
        _ => None,
    };
    let cookie_header = match sent {
        Sent::Cookie(c) => (*c).to_owned(),
        _ => String::new(),
    };
    let header = move |name: &str| {
        (name == "p")
            .then(|| header_value.clone())
            .flatten()
            .into_iter()
            .collect()
    };
    let cookie = move |name: &str| {
        cookie_header
            .split(';')
            .filter_map(|pair| {
                let (n, v) = pair.trim().split_once('=')?;
                (n == name).then(|| v.to_owned())
            })
            .collect()
    };
    validators.check(
        &spec,
        0,
        &RequestView {
            path_params: &path,
            query: &query,
            header: &header,
            cookie: &cookie,
            content_type: None,
            body: b"",
        },
    )
}

/// `sent` for a parameter `p` in `location` with `style`/`explode` and
/// `schema` is read as `expected` (and as nothing else).
fn reads(
    location: &str,
    style: &str,
    explode: bool,
    schema: Value,
    sent: Sent<'_>,
    expected: Value,
) {
    let parameter = |constant: &Value| {
        json!({"name": "p", "in": location, "required": true, "style": style, "explode": explode,
               "schema": {"allOf": [schema.clone(), {"const": constant}]}})
    };
    let what = format!("{location} {style} explode={explode} {schema} {expected}");
    let result = check(parameter(&expected), &sent);
    assert!(result.is_ok(), "{what}: {result:?}");
    let other = json!({"not": expected});
    assert!(
        check(parameter(&other), &sent).is_err(),
        "{what}: accepted with another const"
    );
}

#[test]
fn query_styles() {
    let int = json!({"type": "integer"});
    let ints = json!({"type": "array", "items": {"type": "integer"}});
    let strs = json!({"type": "array", "items": {"type": "string"}});
    let rgb = json!({"type": "object", "properties": {"R": {"type": "integer"}, "G": {"type": "integer"}, "B": {"type": "integer"}}});
    let q = Sent::Query;
    reads("query", "form", true, int.clone(), q("p=5"), json!(5));
    reads(
        "query",
        "form",
        true,
        json!({"type": "number"}),
        q("p=-2.5e1"),
        json!(-25.0),
    );
    reads(
        "query",
        "form",
        true,
        json!({"type": "boolean"}),
        q("p=true"),
        json!(true),
    );
    reads(
        "query",
        "form",
        true,
        json!({"type": "string"}),
        q("p=a+b%2Cc"),
        json!("a b,c"),
    );
    reads(
        "query",
        "form",
        true,
        json!({"type": ["integer", "null"]}),
        q("p="),
        json!(null),
    );
    reads(
        "query",
        "form",
        true,
        ints.clone(),
        q("p=1&p=2"),
        json!([1, 2]),
    );
    reads(
        "query",
        "form",
        true,
        strs.clone(),
        q("p=1,2"),
        json!(["1,2"]),
    );
    reads(
        "query",
        "form",
        false,
        ints.clone(),
        q("p=1,2"),
        json!([1, 2]),
    );
    reads("query", "form", false, ints.clone(), q("p="), json!([]));
    reads(
        "query",
        "form",
        true,
        rgb.clone(),
        q("R=100&G=200&B=150"),
        json!({"R": 100, "G": 200, "B": 150}),
    );
    reads(
        "query",
        "form",
        false,
        rgb.clone(),
        q("p=R,100,G,200,B,150"),
        json!({"R": 100, "G": 200, "B": 150}),
    );
    reads(
        "query",
        "spaceDelimited",
        false,
        ints.clone(),
        q("p=1%202%203"),
        json!([1, 2, 3]),
    );
    reads(
        "query",
        "pipeDelimited",
        false,
        ints.clone(),
        q("p=1|2|3"),
        json!([1, 2, 3]),
    );
    reads(
        "query",
        "pipeDelimited",
        false,
        rgb.clone(),
        q("p=R|1|G|2|B|3"),
        json!({"R": 1, "G": 2, "B": 3}),
    );
    reads(
        "query",
        "spaceDelimited",
        true,
        ints.clone(),
        q("p=1&p=2"),
        json!([1, 2]),
    );
    let range = json!({"anyOf": [
        {"type": "object", "properties": {"gt": {"type": "integer"}, "gte": {"type": "integer"}, "lt": {"type": "integer"}, "lte": {"type": "integer"}}},
        {"type": "integer"}
    ]});
    reads(
        "query",
        "deepObject",
        true,
        range.clone(),
        q("p=1700000000"),
        json!(1700000000),
    );
    reads(
        "query",
        "deepObject",
        true,
        range.clone(),
        q("p[gte]=1&p[lt]=9"),
        json!({"gte": 1, "lt": 9}),
    );
    reads(
        "query",
        "deepObject",
        true,
        rgb.clone(),
        q("p%5BR%5D=1&p%5BG%5D=2"),
        json!({"R": 1, "G": 2}),
    );
    let nested = json!({"type": "object", "properties": {"card": {"type": "object", "properties": {"exp": {"type": "object", "properties": {"month": {"type": "integer"}}}}}}});
    reads(
        "query",
        "deepObject",
        true,
        nested,
        q("p[card][exp][month]=12"),
        json!({"card": {"exp": {"month": 12}}}),
    );
    reads(
        "query",
        "deepObject",
        true,
        strs.clone(),
        q("p[]=a&p[]=b"),
        json!(["a", "b"]),
    );
    reads(
        "query",
        "deepObject",
        true,
        strs.clone(),
        q("p[1]=b&p[0]=a"),
        json!(["a", "b"]),
    );
    let items = json!({"type": "array", "items": {"type": "object", "properties": {"price": {"type": "string"}, "quantity": {"type": "integer"}}}});
    reads(
        "query",
        "deepObject",
        true,
        items,
        q("p[0][price]=x&p[0][quantity]=2&p[1][price]=y"),
        json!([{"price": "x", "quantity": 2}, {"price": "y"}]),
    );
    reads(
        "query",
        "deepObject",
        true,
        json!({"type": "object", "additionalProperties": {"type": "string"}}),
        q("p[a]=1&p[b]=2"),
        json!({"a": "1", "b": "2"}),
    );
    let either = json!({"oneOf": [{"type": "string", "enum": ["now"]}, {"type": "integer"}]});
    reads(
        "query",
        "form",
        true,
        either.clone(),
        q("p=now"),
        json!("now"),
    );
    reads("query", "form", true, either, q("p=7"), json!(7));
    let digits = json!({"anyOf": [{"type": "string", "pattern": "^0[0-9]+$"}, {"type": "integer", "maximum": 5}]});
    reads("query", "form", true, digits, q("p=0123"), json!("0123"));
}

#[test]
fn path_header_and_cookie_styles() {
    let ints = json!({"type": "array", "items": {"type": "integer"}});
    let rgb = json!({"type": "object", "properties": {"R": {"type": "integer"}, "G": {"type": "integer"}}});
    let int = json!({"type": "integer"});
    reads(
        "path",
        "simple",
        false,
        int.clone(),
        Sent::Path("5"),
        json!(5),
    );
    reads(
        "path",
        "simple",
        false,
        ints.clone(),
        Sent::Path("1,2"),
        json!([1, 2]),
    );
    reads(
        "path",
        "simple",
        false,
        rgb.clone(),
        Sent::Path("R,1,G,2"),
        json!({"R": 1, "G": 2}),
    );
    reads(
        "path",
        "simple",
        true,
        rgb.clone(),
        Sent::Path("R=1,G=2"),
        json!({"R": 1, "G": 2}),
    );
    reads(
        "path",
        "simple",
        false,
        json!({"type": "string"}),
        Sent::Path("a/b c"),
        json!("a/b c"),
    );
    reads(
        "path",
        "label",
        false,
        int.clone(),
        Sent::Path(".5"),
        json!(5),
    );
    reads(
        "path",
        "label",
        false,
        ints.clone(),
        Sent::Path(".1,2"),
        json!([1, 2]),
    );
    reads(
        "path",
        "label",
        true,
        ints.clone(),
        Sent::Path(".1.2"),
        json!([1, 2]),
    );
    reads(
        "path",
        "label",
        false,
        rgb.clone(),
        Sent::Path(".R,1,G,2"),
        json!({"R": 1, "G": 2}),
    );
    reads(
        "path",
        "label",
        true,
        rgb.clone(),
        Sent::Path(".R=1.G=2"),
        json!({"R": 1, "G": 2}),
    );
    reads(
        "path",
        "matrix",
        false,
        int.clone(),
        Sent::Path(";p=5"),
        json!(5),
    );
    reads(
        "path",
        "matrix",
        false,
        ints.clone(),
        Sent::Path(";p=1,2"),
        json!([1, 2]),
    );
    reads(
        "path",
        "matrix",
        true,
        ints.clone(),
        Sent::Path(";p=1;p=2"),
        json!([1, 2]),
    );
    reads(
        "path",
        "matrix",
        false,
        rgb.clone(),
        Sent::Path(";p=R,1,G,2"),
        json!({"R": 1, "G": 2}),
    );
    reads(
        "path",
        "matrix",
        true,
        rgb.clone(),
        Sent::Path(";R=1;G=2"),
        json!({"R": 1, "G": 2}),
    );
    reads(
        "header",
        "simple",
        false,
        ints.clone(),
        Sent::Header("1, 2"),
        json!([1, 2]),
    );
    reads(
        "header",
        "simple",
        true,
        rgb.clone(),
        Sent::Header("R=1, G=2"),
        json!({"R": 1, "G": 2}),
    );
    reads(
        "header",
        "simple",
        false,
        json!({"type": "boolean"}),
        Sent::Header("false"),
        json!(false),
    );
    reads(
        "cookie",
        "form",
        false,
        ints.clone(),
        Sent::Cookie("a=b; p=1,2"),
        json!([1, 2]),
    );
    reads("cookie", "form", true, int, Sent::Cookie("p=3"), json!(3));
}

fn messages(result: Result<(), Refusal>) -> Vec<String> {
    match result {
        Err(Refusal::Invalid(issues)) => issues.into_iter().map(|i| i.message).collect(),
        other => panic!("expected issues, got {other:?}"),
    }
}

#[test]
fn malformed_styles_and_content_parameters_say_what_is_wrong() {
    let label = json!({"name": "p", "in": "path", "required": true, "style": "label", "schema": {"type": "string"}});
    assert_eq!(
        messages(check(label, &Sent::Path("5"))),
        ["the path parameter p: expected label style (\".value\"), found \"5\""]
    );
    let matrix = json!({"name": "p", "in": "path", "required": true, "style": "matrix", "schema": {"type": "integer"}});
    assert_eq!(
        messages(check(matrix, &Sent::Path(";q=5"))),
        ["the path parameter p: expected matrix style (\";p=value\"), found \";q=5\""]
    );
    let json_param = json!({"name": "p", "in": "query", "required": true,
        "content": {"application/json": {"schema": {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}}}});
    assert!(check(json_param.clone(), &Sent::Query("p=%7B%22a%22%3A1%7D")).is_ok());
    let m = messages(check(
        json_param.clone(),
        &Sent::Query("p=%7B%22a%22%3A%22x%22%7D"),
    ));
    assert_eq!(m.len(), 1);
    assert!(
        m[0].starts_with("the query parameter p at /a: \"x\" is not of type \"integer\""),
        "{m:?}"
    );
    let m = messages(check(json_param, &Sent::Query("p={a")));
    assert!(
        m[0].starts_with("the query parameter p is not valid JSON (application/json)"),
        "{m:?}"
    );
    let empty =
        json!({"name": "p", "in": "query", "allowEmptyValue": true, "schema": {"type": "integer"}});
    assert!(check(empty, &Sent::Query("p=")).is_ok());
    let strict = json!({"name": "p", "in": "query", "schema": {"type": "integer"}});
    assert_eq!(
        messages(check(strict.clone(), &Sent::Query("p="))),
        ["the query parameter p: \"\" is not of type \"integer\""]
    );
    assert_eq!(
        messages(check(strict, &Sent::Query("p=1&p=2"))),
        ["the query parameter p: [\"1\",\"2\"] is not of type \"integer\""]
    );
    let plus = json!({"name": "p", "in": "query", "allowReserved": true, "schema": {"type": "string", "pattern": "^\\+[0-9]+$"}});
    assert!(check(plus.clone(), &Sent::Query("p=+44")).is_ok());
    let no_plus =
        json!({"name": "p", "in": "query", "schema": {"type": "string", "pattern": "^\\+[0-9]+$"}});
    assert!(check(no_plus, &Sent::Query("p=+44")).is_err());
    let e = compile(LoadedSpec {
        file: "s.yaml".into(),
        document: json!({"openapi": "3.1.0", "paths": {"/t": {"get": {
            "parameters": [{"name": "p", "in": "query", "style": "tabDelimited"}], "responses": {}}}}}),
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("at /paths/~1t/get/parameters/0/style: expected form"),
        "{e}"
    );
}

/// Checks a request against an operation with `parameters`: `query` as
/// the mock decodes it, `headers` as (name, value) lines and `cookies` as
/// one `Cookie` header's text.
fn check_request(
    parameters: Value,
    query: &str,
    headers: &[(&str, &str)],
    cookies: &str,
) -> Result<(), Refusal> {
    let spec = compile(LoadedSpec {
        file: "request.yaml".into(),
        document: json!({
            "openapi": "3.1.0",
            "info": {"title": "request", "version": "1"},
            "paths": {"/t": {"get": {
                "parameters": parameters,
                "responses": {"200": {"description": "ok"}}
            }}}
        }),
    })
    .unwrap();
    let validators = SpecValidators::new(&spec);
    let query: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (
                hmt_types::decode_form_component(n.as_bytes()),
                hmt_types::decode_form_component(v.as_bytes()),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| (*v).to_owned())
            .collect()
    };
    let cookie = |name: &str| {
        cookies
            .split(';')
            .filter_map(|pair| {
                let (n, v) = pair.trim().split_once('=')?;
                (n == name).then(|| v.to_owned())
            })
            .collect()
    };
    validators.check(
        &spec,
        0,
        &RequestView {
            path_params: &[],
            query: &query,
            header: &header,
            cookie: &cookie,
            content_type: None,
            body: b"",
        },
    )
}

/// Fails the test with the refusal unless `result` is a pass.
fn ok(result: Result<(), Refusal>) {
    if let Err(refusal) = result {
        panic!("refused: {refusal:?}");
    }
}

#[test]
fn allow_reserved_values_keep_their_reserved_characters() {
    // Every reserved character that can travel in a query but `&`, which
    // ends the value (`#` ends the URL).
    let value = "a:/?[]@!$'()*+,;=b";
    let parameters = |allow_reserved: bool, expected: &str| {
        json!([
            {"name": "q", "in": "query", "allowReserved": allow_reserved,
             "schema": {"type": "string", "const": expected}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 10}}
        ])
    };
    // Sent unencoded: the `=` inside the value stays in it, and the next
    // parameter, declared or not, is read on its own.
    let sent = format!("q={value}&c=d&limit=5");
    ok(check_request(parameters(true, value), &sent, &[], ""));
    let m = messages(check_request(
        parameters(true, value),
        &format!("q={value}&limit=50"),
        &[],
        "",
    ));
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].starts_with("the query parameter limit:"), "{m:?}");
    // A reserved array is still split on its delimiter, and only there;
    // its `&` is sent encoded.
    let tags = json!([{"name": "tags", "in": "query", "allowReserved": true, "explode": false,
        "schema": {"type": "array", "const": ["a/b", "c:d&e"]}}]);
    ok(check_request(tags, "tags=a/b,c:d%26e", &[], ""));
    // Without allowReserved a `+` is a space...
    assert!(check_request(parameters(false, value), &sent, &[], "").is_err());
    ok(check_request(
        parameters(false, "a:/?[]@!$'()* ,;=b"),
        &sent,
        &[],
        "",
    ));
    // ...and percent-encoded reserved characters are decoded either way,
    // `%26` to an `&` in the value.
    let encoded = "q=a%3A%2F%3F%5B%5D%40%21%24%27%28%29%2A%2B%2C%3B%3Db%26c%3Dd&limit=5";
    ok(check_request(
        parameters(false, "a:/?[]@!$'()*+,;=b&c=d"),
        encoded,
        &[],
        "",
    ));
    ok(check_request(
        parameters(true, "a:/?[]@!$'()*+,;=b&c=d"),
        encoded,
        &[],
        "",
    ));
}

#[test]
fn every_repeat_of_a_header_or_cookie_is_checked() {
    let count = json!([{"name": "x-count", "in": "header", "schema": {"type": "integer"}}]);
    ok(check_request(
        count.clone(),
        "",
        &[("x-count", "1"), ("x-count", "2")],
        "",
    ));
    // The bad value is the second one.
    let m = messages(check_request(
        count.clone(),
        "",
        &[("x-count", "1"), ("x-count", "two")],
        "",
    ));
    assert_eq!(
        m,
        ["the header parameter x-count: \"two\" is not of type \"integer\""]
    );
    // The same fault twice is said once.
    let m = messages(check_request(
        count,
        "",
        &[("x-count", "two"), ("x-count", "two")],
        "",
    ));
    assert_eq!(m.len(), 1, "{m:?}");
    // An array header reads the repeats as one list, as HTTP joins them.
    let list = json!([{"name": "x-ids", "in": "header",
        "schema": {"type": "array", "items": {"type": "integer"}, "const": [1, 2, 3]}}]);
    ok(check_request(
        list.clone(),
        "",
        &[("x-ids", "1, 2"), ("x-ids", "3")],
        "",
    ));
    assert!(check_request(list, "", &[("x-ids", "1, 2")], "").is_err());
    let items = json!([{"name": "x-ids", "in": "header",
        "schema": {"type": "array", "items": {"type": "integer"}}}]);
    let m = messages(check_request(
        items,
        "",
        &[("x-ids", "1"), ("x-ids", "x")],
        "",
    ));
    assert!(
        m[0].starts_with("the header parameter x-ids at /1:"),
        "{m:?}"
    );
    // Cookies: every value of a repeated name.
    let session = json!([{"name": "sid", "in": "cookie", "schema": {"type": "integer"}}]);
    ok(check_request(
        session.clone(),
        "",
        &[],
        "sid=1; other=x; sid=2",
    ));
    let m = messages(check_request(session, "", &[], "sid=1; sid=x"));
    assert_eq!(
        m,
        ["the cookie parameter sid: \"x\" is not of type \"integer\""]
    );
}

#[test]
fn integers_past_64_bits_meet_their_bounds_exactly() {
    let parameter = |schema: Value| json!([{"name": "n", "in": "query", "schema": schema}]);
    let uint64 = parameter(json!({"type": "integer", "format": "uint64"}));
    ok(check_request(
        uint64.clone(),
        "n=18446744073709551615",
        &[],
        "",
    ));
    assert_eq!(
        messages(check_request(
            uint64.clone(),
            "n=18446744073709551616",
            &[],
            ""
        )),
        [
            "the query parameter n: 18446744073709551616 is greater than the largest of format uint64, 18446744073709551615"
        ]
    );
    assert_eq!(
        messages(check_request(uint64, "n=-1", &[], "")),
        ["the query parameter n: -1 is less than the smallest of format uint64, 0"]
    );
    let int64 = parameter(json!({"type": "integer", "format": "int64"}));
    ok(check_request(
        int64.clone(),
        "n=-9223372036854775808",
        &[],
        "",
    ));
    assert!(check_request(int64, "n=9223372036854775808", &[], "").is_err());
    // A maximum past u64 (held as the f64 2^64): the value next to it is
    // refused though its nearest f64 is the maximum itself.
    let past = parameter(json!({"type": "integer", "maximum": 18446744073709551616u128 as f64}));
    for fine in [
        "18446744073709551616",
        "18446744073709551615",
        "-99999999999999999999999",
    ] {
        ok(check_request(past.clone(), &format!("n={fine}"), &[], ""));
    }
    let m = messages(check_request(
        past.clone(),
        "n=18446744073709551617",
        &[],
        "",
    ));
    assert_eq!(
        m,
        [
            "the query parameter n: 18446744073709551617 is greater than the maximum, 18446744073709551616"
        ]
    );
    assert!(check_request(past, "n=1e3", &[], "").is_err());
    // In a path-like header too, and a minimum below i64.
    let low = json!([{"name": "x-n", "in": "header",
        "schema": {"type": "integer", "minimum": -18446744073709551616i128 as f64}}]);
    ok(check_request(
        low.clone(),
        "",
        &[("x-n", "-18446744073709551616")],
        "",
    ));
    assert!(check_request(low, "", &[("x-n", "-18446744073709551617")], "").is_err());
}
