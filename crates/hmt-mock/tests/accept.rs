//! Reject nothing valid, accept nothing invalid: requests generated from a
//! spec's own schemas, written in each parameter's style, must pass the
//! mock's validator, and each one-point mutation of them (wrong type,
//! missing, out of range, not in the enum) must fail with an issue that
//! names the parameter and, inside structured values, the JSON pointer.
//! Stripe's spec is sampled too: one generated request per operation.

use hmt_mock::generate::{Direction, Generator};
use hmt_mock::validate::{Refusal, RequestView, SpecValidators};
use hmt_mock::{LoadedSpec, Spec, compile};
use proptest::prelude::*;
use rand::SeedableRng;
use serde_json::{Value, json};

/// Every location and style, and the `anyOf`/`oneOf` cases.
fn rich_spec() -> Spec {
    let p = |name: &str, at: &str, style: &str, explode: bool, required: bool, schema: Value| json!({"name": name, "in": at, "style": style, "explode": explode, "required": required, "schema": schema});
    let int = |min: i64, max: i64| json!({"type": "integer", "minimum": min, "maximum": max});
    let ints = json!({"type": "array", "items": {"type": "integer"}});
    let parameters = json!([
        p("id", "path", "simple", false, true, int(1, 1_000_000)),
        p("label", "path", "label", true, true, json!({"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[a-z]+$"}})),
        p("point", "path", "matrix", false, true, json!({"type": "object", "required": ["x", "y"], "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}})),
        p("limit", "query", "form", true, true, int(1, 100)),
        p("ids", "query", "form", false, false, ints.clone()),
        p("tags", "query", "form", true, false, json!({"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}})),
        p("sp", "query", "spaceDelimited", false, false, ints.clone()),
        p("pp", "query", "pipeDelimited", false, false, ints),
        p("filter", "query", "deepObject", true, false, json!({"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"}, "age": int(0, 150)}})),
        p("created", "query", "deepObject", true, false, json!({"anyOf": [
            {"type": "object", "additionalProperties": false, "properties": {"gte": {"type": "integer"}, "lte": {"type": "integer"}}},
            {"type": "integer"}]})),
        p("kind", "query", "form", true, false, json!({"oneOf": [{"type": "string", "enum": ["x", "y"]}, {"type": "integer"}]})),
        p("ratio", "query", "form", true, false, json!({"type": ["number", "null"], "minimum": 0, "maximum": 1})),
        p("X-Rate", "header", "simple", false, true, int(0, 10)),
        p("session", "cookie", "form", true, false, json!({"type": "string", "pattern": "^[a-z]{4,8}$"})),
        {"name": "q", "in": "query", "content": {"application/json": {"schema": {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}}}}
    ]);
    compile(LoadedSpec {
        file: "rich.yaml".into(),
        document: json!({
            "openapi": "3.1.0",
            "info": {"title": "rich", "version": "1"},
            "paths": {"/items/{id}/{label}/{point}": {"get": {
                "parameters": parameters,
                "responses": {"200": {"description": "ok"}}
            }}}
        }),
    })
    .unwrap()
}

/// A request as the validator sees it.
#[derive(Clone, Debug, Default)]
struct Request {
    path: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn check(
    spec: &Spec,
    validators: &SpecValidators,
    operation: usize,
    request: &Request,
) -> Result<(), Refusal> {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let cookie = |name: &str| {
        request
            .cookies
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    validators.check(
        spec,
        operation,
        &RequestView {
            path_params: &request.path,
            query: &request.query,
            header: &header,
            cookie: &cookie,
            content_type: request.content_type.as_deref(),
            body: &request.body,
        },
    )
}

/// Valid values for the rich spec's parameters.
#[derive(Clone, Debug)]
struct Valid {
    id: i64,
    label: Vec<String>,
    point: (i64, i64),
    limit: i64,
    ids: Vec<i64>,
    tags: Vec<&'static str>,
    sp: Vec<i32>,
    pp: Vec<i32>,
    filter: (Option<String>, Option<i64>),
    created: Result<i64, (Option<i64>, Option<i64>)>,
    kind: Result<&'static str, i64>,
    ratio: Option<f64>,
    rate: i64,
    session: Option<String>,
    q: Option<i64>,
}

fn valid() -> impl Strategy<Value = Valid> {
    let word = "[a-z]{1,6}";
    (
        (
            1i64..1_000_000,
            prop::collection::vec(word, 1..4),
            (any::<i32>(), any::<i32>()),
            1i64..=100,
        ),
        (
            prop::collection::vec(0i64..1000, 0..4),
            prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..3),
            prop::collection::vec(any::<i32>(), 0..3),
            prop::collection::vec(any::<i32>(), 0..3),
        ),
        (
            (prop::option::of(word), prop::option::of(0i64..=150)),
            prop_oneof![
                any::<i64>().prop_map(Ok),
                (
                    prop::option::of(any::<i64>()),
                    prop::option::of(any::<i64>())
                )
                    .prop_map(Err)
            ],
            prop_oneof![
                prop::sample::select(vec!["x", "y"]).prop_map(Ok),
                any::<i64>().prop_map(Err)
            ],
            prop::option::of(0.0f64..=1.0),
        ),
        (
            0i64..=10,
            prop::option::of("[a-z]{4,8}"),
            prop::option::of(any::<i64>()),
        ),
    )
        .prop_map(
            |(
                (id, label, point, limit),
                (ids, tags, sp, pp),
                (filter, created, kind, ratio),
                (rate, session, q),
            )| Valid {
                id,
                label,
                point: (i64::from(point.0), i64::from(point.1)),
                limit,
                ids,
                tags,
                sp,
                pp,
                filter,
                created,
                kind,
                ratio,
                rate,
                session,
                q,
            },
        )
}

fn join<T: ToString>(items: &[T], separator: &str) -> String {
    items
        .iter()
        .map(T::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

/// `v` written as the rich spec's styles say.
fn request(v: &Valid) -> Request {
    let mut r = Request {
        path: vec![
            ("id".into(), v.id.to_string()),
            ("label".into(), format!(".{}", v.label.join("."))),
            (
                "point".into(),
                format!(";point=x,{},y,{}", v.point.0, v.point.1),
            ),
        ],
        headers: vec![("x-rate".into(), v.rate.to_string())],
        ..Request::default()
    };
    let mut q = |n: &str, value: String| r.query.push((n.to_owned(), value));
    q("limit", v.limit.to_string());
    if !v.ids.is_empty() {
        q("ids", join(&v.ids, ","));
    }
    for tag in &v.tags {
        q("tags", (*tag).to_owned());
    }
    if !v.sp.is_empty() {
        q("sp", join(&v.sp, " "));
    }
    if !v.pp.is_empty() {
        q("pp", join(&v.pp, "|"));
    }
    if let Some(name) = &v.filter.0 {
        q("filter[name]", name.clone());
    }
    if let Some(age) = v.filter.1 {
        q("filter[age]", age.to_string());
    }
    match v.created {
        Ok(at) => q("created", at.to_string()),
        Err((gte, lte)) => {
            if let Some(gte) = gte {
                q("created[gte]", gte.to_string());
            }
            if let Some(lte) = lte {
                q("created[lte]", lte.to_string());
            }
        }
    }
    match v.kind {
        Ok(kind) => q("kind", kind.to_owned()),
        Err(kind) => q("kind", kind.to_string()),
    }
    if let Some(ratio) = v.ratio {
        q("ratio", ratio.to_string());
    }
    if let Some(a) = v.q {
        q("q", json!({"a": a}).to_string());
    }
    if let Some(session) = &v.session {
        r.cookies.push(("session".into(), session.clone()));
    }
    r
}

/// Breaks one parameter of `r`; the name of the parameter and the JSON
/// pointer (inside its value) its issue must carry.
fn mutate(r: &mut Request, which: usize) -> (&'static str, &'static str) {
    let set = |list: &mut Vec<(String, String)>, name: &str, value: &str| {
        list.retain(|(n, _)| n != name);
        list.push((name.to_owned(), value.to_owned()));
    };
    match which {
        0 => {
            set(&mut r.query, "limit", "101");
            ("limit", "")
        }
        1 => {
            set(&mut r.query, "limit", "ten");
            ("limit", "")
        }
        2 => {
            r.query.retain(|(n, _)| n != "limit");
            ("limit", "")
        }
        3 => {
            r.headers.clear();
            ("x-rate", "")
        }
        4 => {
            set(&mut r.query, "tags", "d");
            ("tags", "/0")
        }
        5 => {
            r.query.retain(|(n, _)| !n.starts_with("filter"));
            set(&mut r.query, "filter[age]", "-1");
            ("filter", "/age")
        }
        6 => {
            r.query.retain(|(n, _)| !n.starts_with("created"));
            set(&mut r.query, "created[gte]", "soon");
            ("created", "")
        }
        7 => {
            set(&mut r.query, "kind", "z");
            ("kind", "")
        }
        8 => {
            set(&mut r.path, "id", "0");
            ("id", "")
        }
        9 => {
            set(&mut r.query, "ids", "1,x");
            ("ids", "/1")
        }
        10 => {
            set(&mut r.query, "pp", "1|2.5");
            ("pp", "/1")
        }
        11 => {
            set(&mut r.query, "ratio", "1.5");
            ("ratio", "")
        }
        12 => {
            set(&mut r.path, "point", ";point=x,1,y,up");
            ("point", "/y")
        }
        13 => {
            set(&mut r.query, "q", r#"{"a":"one"}"#);
            ("q", "/a")
        }
        14 => {
            set(&mut r.path, "label", ".ok.NOT");
            ("label", "/1")
        }
        _ => {
            r.cookies = vec![("session".into(), "ab".into())];
            ("session", "")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn valid_requests_pass_and_each_mutation_is_named(v in valid(), which in 0usize..16) {
        let spec = rich_spec();
        let validators = SpecValidators::new(&spec);
        let mut r = request(&v);
        let ok = check(&spec, &validators, 0, &r);
        prop_assert!(ok.is_ok(), "{r:?}: {ok:?}");
        let (name, pointer) = mutate(&mut r, which);
        match check(&spec, &validators, 0, &r) {
            Err(Refusal::Invalid(issues)) => {
                prop_assert!(!issues.is_empty());
                prop_assert!(issues.iter().all(|i| i.name == name), "{name}: {issues:?}");
                prop_assert!(issues.iter().any(|i| i.pointer == pointer), "{name} {pointer}: {issues:?}");
            }
            other => prop_assert!(false, "mutation {which} of {r:?} passed: {other:?}"),
        }
    }
}

/// A value written as a deepObject / Stripe form field: `name[k][0]=v`.
fn deep(name: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                deep(&format!("{name}[{k}]"), v, out);
            }
        }
        Value::Array(items) if items.is_empty() => out.push((name.to_owned(), String::new())),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                deep(&format!("{name}[{i}]"), v, out);
            }
        }
        Value::String(s) => out.push((name.to_owned(), s.clone())),
        Value::Null => out.push((name.to_owned(), String::new())),
        other => out.push((name.to_owned(), other.to_string())),
    }
}

/// HMT's Stripe spec (fixtures/hmt), compiled; a missing or unreadable
/// fixture fails the test that asks for it.
fn stripe() -> Spec {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/hmt/hmt/tests/serve/mock/schemas/stripe/index.yaml");
    let loaded = hmt_mock::load_specs(std::slice::from_ref(&file))
        .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
    let spec = loaded.into_iter().next().expect("one spec loaded");
    compile(spec).unwrap_or_else(|error| panic!("{}: {error}", file.display()))
}

/// One request per Stripe operation, every parameter and body field
/// generated from its schema and written as Stripe's clients write them
/// (deepObject brackets, form bodies): none may be refused.
#[test]
fn stripe_accepts_a_generated_request_for_every_operation() {
    let spec = stripe();
    let validators = SpecValidators::new(&spec);
    let generator = Generator::new(&spec.document).direction(Direction::Request);
    let mut refused = Vec::new();
    let mut invalid_generated = Vec::new();
    for (index, operation) in spec.operations.iter().enumerate() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(index as u64);
        let mut r = Request::default();
        for parameter in &operation.parameters {
            let Some(schema) = &parameter.schema else {
                continue;
            };
            let value = generator.generate(schema, &mut rng);
            match parameter.location {
                hmt_mock::model::Location::Path => r.path.push((
                    parameter.name.clone(),
                    value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned),
                )),
                hmt_mock::model::Location::Query => deep(&parameter.name, &value, &mut r.query),
                _ => {}
            }
        }
        if let Some(body) = &operation.request_body
            && let Some((media, Some(pointer))) = body.content.first()
            && let Some(schema) = spec.document.pointer(pointer)
        {
            let value = generator.generate(schema, &mut rng);
            // The generator's own output must be valid for the request to
            // be; deep schemas are sometimes cut short (a required array
            // left out), and those requests are not valid ones.
            if !generator.is_valid(schema, &value) {
                invalid_generated.push(operation.id.clone());
                continue;
            }
            let mut fields = Vec::new();
            if let Value::Object(map) = &value {
                for (k, v) in map {
                    deep(k, v, &mut fields);
                }
            }
            if media == "multipart/form-data" {
                let mut text = String::new();
                for (k, v) in &fields {
                    text.push_str(&format!(
                        "--b0undary\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                    ));
                }
                text.push_str("--b0undary--\r\n");
                r.body = text.into_bytes();
                r.content_type = Some("multipart/form-data; boundary=b0undary".to_owned());
            } else {
                let encoded: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            hmt_types::percent_encode(k, b""),
                            hmt_types::percent_encode(v, b"")
                        )
                    })
                    .collect();
                r.body = encoded.join("&").into_bytes();
                if !r.body.is_empty() {
                    r.content_type = Some(media.clone());
                }
            }
        }
        let result = check(&spec, &validators, index, &r);
        // The generator leaves out the required `plans` of Stripe's
        // subscription schedule phases (it does not get that deep), so
        // those two requests are not valid ones; refusing them is right.
        if let Err(Refusal::Invalid(issues)) = &result
            && operation.id.starts_with("PostSubscriptionSchedules")
            && !String::from_utf8_lossy(&r.body).contains("%5Bplans%5D")
            && issues
                .iter()
                .all(|i| i.message.ends_with("\"plans\" is a required property"))
        {
            invalid_generated.push(operation.id.clone());
            continue;
        }
        if let Err(refusal) = result {
            refused.push(format!(
                "{} {} {}: {refusal:?}",
                operation.method,
                operation.template,
                String::from_utf8_lossy(&r.body)
            ));
        }
    }
    assert_eq!(spec.operations.len(), 352);
    assert!(
        refused.is_empty(),
        "{} of 352 refused:\n{}",
        refused.len(),
        refused.join("\n")
    );
}
