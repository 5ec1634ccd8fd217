//! No input hurts the build: generated http-types lines, whole and damaged
//! (cut short, bytes flipped, values of the wrong type, numbers too large for
//! any type, nesting deeper than any parser allows), go through the JSONL
//! reader and the builder as `hmt build` reads them. Every case must end in
//! an error naming its line, or a spec; never a panic. Every spec must be
//! valid OpenAPI (the checks `-a` runs on an initial spec: openapiv3's and
//! roas's models and roas's validator) as JSON and as YAML, must parse back
//! (nesting within serde_json's limit), and every example in it must
//! validate against its schema (unless a secret in it was redacted).
//!
//! HAR documents too (`har_whole_and_damaged`): entries written from the
//! same generated exchanges, some with a field of the wrong type, some
//! documents cut short, read with the HAR reader into the same checks.

use hmt_build::initial::{OpenApiVersion, parse_initial_spec};
use hmt_build::{Builder, Mode, Options};
use hmt_types::{HarReader, JsonlReader, ReadError};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

// ---- generated exchanges ----------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "ada", "", "open", "closed", "42", "2024-05-01", "2024-05-01T10:00:00Z",
            "123e4567-e89b-12d3-a456-426614174000", "ada@example.com",
            "https://example.com/x?y=1", "10.0.0.1", "Zoë", "a\"b\\c", "\u{0}", "💥",
        ])
        .prop_map(String::from),
        1 => any::<String>(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "id", "name", "items", "password", "accessToken", "42", "43", "u_1",
            "", "$ref", "~/", "type", "nullable", "oneOf",
        ])
        .prop_map(String::from),
        1 => any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// `[[[...]]]` or `{"a":{"a":...}}`, `depth` levels: within and past
/// serde_json's limit of 128.
fn deep_json() -> impl Strategy<Value = String> {
    (1usize..400, any::<bool>()).prop_map(|(depth, arrays)| {
        if arrays {
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
        } else {
            format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
        }
    })
}

/// Numbers no Rust number holds, in JSON text.
fn huge_number() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "1e400",
        "-1e400",
        "1e-400",
        "123456789012345678901234567890",
        "-99999999999999999999",
        "18446744073709551616",
        "-0",
        "200.5",
        "2e2",
    ])
}

fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => json_value().prop_map(|v| v.to_string()),
        1 => deep_json(),
        1 => huge_number().prop_map(|n| format!("{{\"n\":{n},\"list\":[{n}]}}")),
        1 => text(),
        1 => Just("a=1&password=x&b=%zz&&=".to_owned()),
    ]
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::weighted(
        0.8,
        prop::sample::select(vec![
            "application/json",
            "application/json; charset=utf-8",
            "application/vnd.api+json",
            "text/plain",
            "text/html",
            "application/x-www-form-urlencoded",
            "application/octet-stream",
            "image/png",
            "nonsense",
            "",
        ]),
    )
}

fn headers(content_type: Option<&str>, extra: Vec<(String, String)>) -> Value {
    let mut map = Map::new();
    if let Some(ct) = content_type {
        map.insert("content-type".into(), ct.into());
    }
    for (name, value) in extra {
        map.insert(name, value.into());
    }
    Value::Object(map)
}

fn extra_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop::sample::select(vec![
                "authorization",
                "x-api-key",
                "accept",
                "x-request-id",
                "Content-Type",
                "set-cookie",
            ])
            .prop_map(String::from),
            text(),
        ),
        0..3,
    )
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![
                "users", "orgs", "initech", "42", "7", "me", "v1", "items",
                "2024-05-01", "a b", "%20", "ü", "{id}", ":id", "*", "..", "",
            ])
            .prop_map(String::from),
            1 => "[a-z0-9]{1,8}",
        ],
        0..5,
    )
    .prop_map(|segments| format!("/{}", segments.join("/")))
}

/// One http-types exchange, as the JSON a line holds.
fn exchange() -> impl Strategy<Value = Value> {
    let request = (
        prop::sample::select(vec![
            "get", "post", "put", "delete", "patch", "head", "options", "trace", "connect", "GET",
        ]),
        prop::option::of(prop::sample::select(vec!["http", "https"])),
        prop::option::of(prop::sample::select(vec![
            "api.example.com",
            "API.Example.com",
            "a:1",
            "a_1",
            "127.0.0.1:8080",
            "",
        ])),
        path(),
        prop::option::of("[a-z]{1,3}=[a-z0-9%+]{0,4}(&[a-z]{1,3}=[a-z0-9]{0,3}){0,2}"),
        (content_type(), extra_headers()),
        prop::option::of(body()),
    );
    let response = prop::option::weighted(
        0.9,
        (
            prop_oneof![
                4 => prop::sample::select(vec![200u16, 201, 204, 301, 400, 404, 500]),
                1 => 100u16..1000,
            ],
            (content_type(), extra_headers()),
            prop::option::of(body()),
        ),
    );
    let meta = prop::option::of(prop::collection::vec((key(), json_value()), 0..3));
    (request, response, meta).prop_map(|(request, response, meta)| {
        let (method, protocol, host, path, query, (ct, extra), body) = request;
        let mut req = Map::new();
        req.insert("method".into(), method.into());
        if let Some(p) = protocol {
            req.insert("protocol".into(), p.into());
        }
        if let Some(h) = host {
            req.insert("host".into(), h.into());
        }
        let path = match query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        req.insert("path".into(), path.into());
        req.insert("headers".into(), headers(ct, extra));
        if let Some(b) = body {
            req.insert("body".into(), b.into());
        }
        let mut line = Map::new();
        line.insert("request".into(), Value::Object(req));
        if let Some((status, (ct, extra), body)) = response {
            let mut res = Map::new();
            res.insert("statusCode".into(), status.into());
            res.insert("headers".into(), headers(ct, extra));
            if let Some(b) = body {
                res.insert("body".into(), b.into());
            }
            line.insert("response".into(), Value::Object(res));
        }
        if let Some(meta) = meta {
            line.insert("meta".into(), Value::Object(meta.into_iter().collect()));
        }
        Value::Object(line)
    })
}

// ---- damage -----------------------------------------------------------------------------

/// What is done to a line.
#[derive(Clone, Debug)]
enum Damage {
    None,
    /// Cut after this fraction of its bytes (in thousandths).
    Truncate(usize),
    /// Bytes at these positions (in thousandths of the length) XORed.
    Flip(Vec<(usize, u8)>),
    /// The value at this pointer replaced by another.
    WrongType(&'static str, Value),
    /// The status code, or a number in the body, too large or not whole.
    HugeNumber(&'static str),
    /// `meta` nested this deep, past the reader's parser limit or not.
    DeepMeta(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        3 => Just(Damage::None),
        1 => (0usize..1000).prop_map(Damage::Truncate),
        1 => prop::collection::vec((0usize..1000, 1u8..=255), 1..4).prop_map(Damage::Flip),
        2 => (
            prop::sample::select(vec![
                "/request", "/request/method", "/request/path", "/request/headers",
                "/request/protocol", "/request/host", "/request/body", "/response",
                "/response/statusCode", "/response/headers", "/response/body", "/meta",
            ]),
            prop_oneof![
                Just(json!(null)),
                Just(json!(7)),
                Just(json!(-1)),
                Just(json!(true)),
                Just(json!("text")),
                Just(json!([])),
                Just(json!(["a", 1])),
                Just(json!({})),
                Just(json!({"x": [1]})),
                json_value(),
            ],
        )
            .prop_map(|(at, v)| Damage::WrongType(at, v)),
        1 => huge_number().prop_map(Damage::HugeNumber),
        1 => (100usize..300).prop_map(Damage::DeepMeta),
    ]
}

fn damaged(exchange: &Value, damage: &Damage) -> Vec<u8> {
    let mut value = exchange.clone();
    match damage {
        Damage::WrongType(at, replacement) => {
            if let Some(slot) = value.pointer_mut(at) {
                *slot = replacement.clone();
            } else if let Some((parent, name)) = at.rsplit_once('/')
                && let Some(Value::Object(map)) = value.pointer_mut(parent)
            {
                map.insert(name.to_owned(), replacement.clone());
            }
        }
        Damage::DeepMeta(depth) => {
            let mut text = serde_json::to_string(&value).expect("serialises");
            text.pop();
            text.push_str(&format!(
                ",\"meta\":{{\"x\":{}1{}}}}}",
                "[".repeat(*depth),
                "]".repeat(*depth)
            ));
            return text.into_bytes();
        }
        _ => {}
    }
    let mut bytes = serde_json::to_vec(&value).expect("serialises");
    match damage {
        Damage::Truncate(at) => bytes.truncate(bytes.len() * at / 1000),
        Damage::Flip(flips) => {
            for (at, mask) in flips {
                let i = (bytes.len() - 1) * at / 1000;
                bytes[i] ^= mask;
            }
        }
        Damage::HugeNumber(n) => {
            let text = String::from_utf8(bytes).expect("serde_json writes UTF-8");
            let text = match text.find("\"statusCode\":") {
                Some(at) => {
                    let start = at + "\"statusCode\":".len();
                    let end = text[start..]
                        .find([',', '}'])
                        .map_or(text.len(), |e| start + e);
                    format!("{}{n}{}", &text[..start], &text[end..])
                }
                None => text,
            };
            bytes = text.into_bytes();
        }
        _ => {}
    }
    // A line is one line: a flipped byte that became a newline splits it,
    // which is fine (two damaged lines).
    bytes
}

// ---- the checks ---------------------------------------------------------------------

/// Reads `jsonl` as `hmt build` does and checks what comes out.
fn check_build(jsonl: &[u8], mode: Mode, version: OpenApiVersion, max_line_bytes: u64) {
    let lines = JsonlReader::new(jsonl, "in.jsonl").with_max_line_bytes(max_line_bytes);
    check_exchanges(lines, "in.jsonl:", mode, version);
}

/// A HAR document goes through the HAR reader the same way: a bad entry is
/// an error naming its pointer and reading goes on; a document that cannot
/// be read stops with an error naming the file.
fn check_har_build(har: Vec<u8>, mode: Mode, version: OpenApiVersion) {
    let entries = HarReader::new(std::io::Cursor::new(har), "in.har");
    check_exchanges(entries, "in.har: ", mode, version);
}

fn check_exchanges(
    items: impl Iterator<Item = Result<hmt_types::Exchange, ReadError>>,
    prefix: &str,
    mode: Mode,
    version: OpenApiVersion,
) {
    let mut builder = Builder::new(Options {
        mode,
        openapi: version,
        initial: None,
    });
    for item in items {
        match item {
            Ok(exchange) => builder.add(&exchange),
            Err(error) => {
                let message = error.to_string();
                assert!(message.starts_with(prefix), "{message}");
                match &error {
                    ReadError::Invalid { line, .. } | ReadError::LineTooLong { line, .. } => {
                        assert!(*line >= 1, "{message}")
                    }
                    ReadError::InvalidEntry { pointer, .. } => {
                        assert!(pointer.starts_with("/log/entries/"), "{message}")
                    }
                    ReadError::InvalidDocument { .. } => {}
                    ReadError::Io { .. } => panic!("reading memory failed: {message}"),
                }
            }
        }
    }
    let output = builder.finish();
    let mut stems = std::collections::BTreeSet::new();
    for spec in &output.specs {
        assert!(
            stems.insert(spec.file_stem.clone()),
            "two specs named {}",
            spec.file_stem
        );
        let text = serde_json::to_string_pretty(&spec.document).expect("serialises");
        let back: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the spec does not parse back: {e}"));
        assert_eq!(back, spec.document);
        if let Err(e) = parse_initial_spec("spec.json", &text) {
            panic!("invalid spec: {e}\n{text}");
        }
        let yaml = yaml_serde::to_string(&spec.document).expect("serialises as YAML");
        if let Err(e) = parse_initial_spec("spec.yaml", &yaml) {
            panic!("invalid YAML spec: {e}\n{yaml}");
        }
        if version == OpenApiVersion::V31 {
            check_examples(&spec.document);
        }
    }
}

/// Every response and request example validates against its schema (3.1
/// schemas are JSON Schema 2020-12).
fn check_examples(document: &Value) {
    let Some(paths) = document["paths"].as_object() else {
        return;
    };
    for (template, item) in paths {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let mut media_objects: Vec<&Value> = Vec::new();
            if let Some(content) = operation["requestBody"]["content"].as_object() {
                media_objects.extend(content.values());
            }
            for response in operation["responses"].as_object().into_iter().flatten() {
                if let Some(content) = response.1["content"].as_object() {
                    media_objects.extend(content.values());
                }
            }
            for media in media_objects {
                let Some(schema) = media.get("schema") else {
                    continue;
                };
                let validator = jsonschema::draft202012::new(schema)
                    .unwrap_or_else(|e| panic!("{template} {method}: bad schema {schema}: {e}"));
                let mut examples: Vec<&Value> = media.get("example").into_iter().collect();
                for named in media["examples"].as_object().into_iter().flatten() {
                    examples.extend(named.1.get("value"));
                }
                for example in examples {
                    // A secret's value is replaced by a string whatever its
                    // type (see hmt_build::secrets), so an example holding
                    // one may not fit a schema that says array or object.
                    if example
                        .to_string()
                        .contains(hmt_build::secrets::PLACEHOLDER)
                    {
                        continue;
                    }
                    let errors: Vec<String> = validator
                        .iter_errors(example)
                        .map(|e| e.to_string())
                        .collect();
                    assert!(
                        errors.is_empty(),
                        "{template} {method}: example {example} does not fit {schema}: {errors:?}"
                    );
                }
            }
        }
    }
}

fn mode() -> impl Strategy<Value = Mode> {
    prop::sample::select(vec![Mode::Gen, Mode::Replay, Mode::Mixed])
}

fn version() -> impl Strategy<Value = OpenApiVersion> {
    prop::sample::select(vec![OpenApiVersion::V30, OpenApiVersion::V31])
}

proptest! {
    // 256 cases by default; PROPTEST_CASES raises it.
    #[test]
    fn lines_whole_and_damaged(
        lines in prop::collection::vec((exchange(), damage()), 1..8),
        mode in mode(),
        version in version(),
        small_limit in any::<bool>(),
    ) {
        let mut jsonl = Vec::new();
        for (exchange, damage) in &lines {
            jsonl.extend(damaged(exchange, damage));
            jsonl.push(b'\n');
        }
        check_build(&jsonl, mode, version, if small_limit { 512 } else { 64 << 20 });
    }

    #[test]
    fn har_whole_and_damaged(
        entries in prop::collection::vec((exchange(), har_damage()), 1..6),
        cut in prop::option::weighted(0.2, 0usize..4000),
        mode in mode(),
        version in version(),
    ) {
        let mut har = hmt_types::har::HEADER.as_bytes().to_vec();
        let mut first = true;
        for (exchange, damage) in &entries {
            // Entries are written from what the JSONL reader accepts; a line
            // it refuses is a line the HAR cannot hold either.
            let Ok(exchange) = hmt_types::Exchange::from_json_line(&exchange.to_string()) else { continue };
            let mut entry: Value = serde_json::from_str(&exchange.to_har_entry()).expect("an entry is JSON");
            if let Some((at, replacement)) = damage
                && let Some(slot) = entry.pointer_mut(at)
            {
                *slot = replacement.clone();
            }
            har.extend_from_slice(if first { hmt_types::har::FIRST_SEPARATOR } else { hmt_types::har::SEPARATOR }.as_bytes());
            har.extend(serde_json::to_vec(&entry).expect("serialises"));
            first = false;
        }
        har.extend_from_slice(hmt_types::har::TRAILER.as_bytes());
        if let Some(cut) = cut {
            har.truncate(cut.min(har.len()));
        }
        check_har_build(har, mode, version);
    }

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048), mode in mode()) {
        check_build(&bytes, mode, OpenApiVersion::V30, 64 << 20);
    }
}

/// What a HAR entry may be broken with: a field of the wrong type.
fn har_damage() -> impl Strategy<Value = Option<(&'static str, Value)>> {
    prop::option::weighted(
        0.5,
        (
            prop::sample::select(vec![
                "/request",
                "/request/method",
                "/request/url",
                "/request/headers",
                "/request/postData",
                "/request/httpVersion",
                "/response",
                "/response/status",
                "/response/headers",
                "/response/content",
                "/response/content/text",
                "/startedDateTime",
            ]),
            prop_oneof![
                Just(json!(null)),
                Just(json!(7)),
                Just(json!("x")),
                Just(json!([])),
                Just(json!({})),
                json_value()
            ],
        ),
    )
}

/// The damage kinds, each once, on one exchange: each is an error or a spec.
#[test]
fn every_kind_of_damage_is_an_error_or_a_valid_spec() {
    let exchange = json!({
        "request": {"method": "post", "host": "api.example.com", "path": "/users/42?x=1",
                    "headers": {"content-type": "application/json"}, "body": "{\"name\":\"ada\"}"},
        "response": {"statusCode": 201, "headers": {"content-type": "application/json"},
                     "body": "{\"id\":42,\"tags\":[\"a\"]}"},
    });
    let deep_body = |depth: usize| {
        let mut e = exchange.clone();
        e["response"]["body"] = format!("{}1{}", "[".repeat(depth), "]".repeat(depth)).into();
        e
    };
    let damages = [
        Damage::None,
        Damage::Truncate(500),
        Damage::Flip(vec![(300, 0x20)]),
        Damage::WrongType("/response/statusCode", json!("201")),
        Damage::WrongType("/request/headers", json!(["a"])),
        Damage::HugeNumber("1e400"),
        Damage::HugeNumber("123456789012345678901234567890"),
        Damage::DeepMeta(127),
        Damage::DeepMeta(129),
    ];
    for damage in &damages {
        for mode in [Mode::Gen, Mode::Replay, Mode::Mixed] {
            for version in [OpenApiVersion::V30, OpenApiVersion::V31] {
                let mut jsonl = damaged(&exchange, damage);
                jsonl.push(b'\n');
                check_build(&jsonl, mode, version, 64 << 20);
            }
        }
    }
    // Bodies nested up to and past the parser's limit: described to the
    // schema depth limit, and the spec still parses back.
    for depth in [20, 30, 100, 127, 128, 129, 1000] {
        for mode in [Mode::Gen, Mode::Mixed] {
            for version in [OpenApiVersion::V30, OpenApiVersion::V31] {
                let mut jsonl = serde_json::to_vec(&deep_body(depth)).expect("serialises");
                jsonl.push(b'\n');
                check_build(&jsonl, mode, version, 64 << 20);
            }
        }
    }
}
