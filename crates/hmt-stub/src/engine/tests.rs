use super::*;
use serde_json::json;

fn body(action: Action) -> String {
    match action {
        Action::Reply(reply) => String::from_utf8(reply.body).unwrap(),
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn the_first_matching_stub_answers() {
    let stubs = Stubs::from_json(
        &json!([
            {"predicates": [{"equals": {"path": "/a"}}], "responses": [{"is": {"body": "first"}}]},
            {"predicates": [{"startsWith": {"path": "/a"}}], "responses": [{"is": {"body": "second"}}]},
            {"responses": [{"is": {"body": "catch-all"}}]}
        ]),
        json!({}),
        &CompileOptions::default(),
    )
    .unwrap();
    let answer = |path: &str| {
        let answer = stubs.answer(&Request::new("GET", path)).unwrap();
        (answer.stub, body(answer.action))
    };
    assert_eq!(answer("/a"), (0, "first".to_string()));
    assert_eq!(answer("/ab"), (1, "second".to_string()));
    assert_eq!(answer("/z"), (2, "catch-all".to_string()));
}

#[test]
fn responses_cycle_and_repeat() {
    let stubs = Stubs::from_json(
        &json!([{"responses": [
            {"is": {"body": "a"}, "repeat": 2},
            {"is": {"body": "b"}},
            {"is": {"body": "c"}, "_behaviors": {"repeat": 2}}
        ]}]),
        json!({}),
        &CompileOptions::default(),
    )
    .unwrap();
    let request = Request::new("GET", "/");
    let seen: Vec<String> = (0..10)
        .map(|_| body(stubs.answer(&request).unwrap().action))
        .collect();
    assert_eq!(seen, ["a", "a", "b", "c", "c", "a", "a", "b", "c", "c"]);
}

#[test]
fn no_match_falls_back_to_the_default_response() {
    let stubs = Stubs::from_json(
        &json!([{"predicates": [{"equals": {"method": "POST"}}], "responses": [{"is": {}}]}]),
        json!({"statusCode": 404, "body": "nothing here"}),
        &CompileOptions::default(),
    )
    .unwrap();
    assert!(stubs.answer(&Request::new("GET", "/")).is_none());
    let fallback = stubs.fallback();
    assert_eq!(
        (fallback.status, fallback.body.as_slice()),
        (404, b"nothing here".as_slice())
    );
    // A matching stub with an empty `is` takes the default's fields too.
    let answer = stubs.answer(&Request::new("POST", "/")).unwrap();
    assert_eq!(body(answer.action), "nothing here");
}

#[test]
fn the_json_read_back_is_what_was_sent() {
    let sent = json!([
        {"predicates": [{"equals": {"path": "/a", "query": {"q": "1"}}, "caseSensitive": true}],
         "responses": [{"is": {"statusCode": 201, "headers": {"Location": "/a/1"}, "body": {"id": 1}}, "repeat": 2, "behaviors": [{"wait": 10}]}]},
        {"responses": [{"proxy": {"to": "http://localhost:1", "mode": "proxyAlways", "predicateGenerators": [{"matches": {"path": true}}]}}]},
        {"responses": [{"fault": "CONNECTION_RESET_BY_PEER"}]}
    ]);
    let stubs = Stubs::from_json(&sent, json!({}), &CompileOptions::default()).unwrap();
    let read = stubs.to_json();
    assert_eq!(read, sent);
    // And again: a read-back set compiles to the same bytes.
    let again = Stubs::from_json(&read, json!({}), &CompileOptions::default()).unwrap();
    assert_eq!(
        serde_json::to_string(&again.to_json()).unwrap(),
        serde_json::to_string(&sent).unwrap()
    );
}

#[test]
fn links_and_matches_shown_by_the_api_are_not_part_of_a_stub() {
    let shown = json!([{"responses": [{"is": {}}], "_links": {"self": {"href": "http://localhost:2525/imposters/4545/stubs/0"}}, "matches": []}]);
    let stubs = Stubs::from_json(&shown, json!({}), &CompileOptions::default()).unwrap();
    assert_eq!(stubs.to_json(), json!([{"responses": [{"is": {}}]}]));
}

#[test]
fn a_bad_stub_refuses_the_whole_list_and_says_where() {
    let error = Stubs::from_json(
        &json!([{"responses": [{"is": {}}]}, {"predicates": [{"equals": {"path": "/"}}, {"matches": {"body": "["}}]}]),
        json!({}),
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert_eq!(error.pointer, "/stubs/1/predicates/1/matches/body");
    assert_eq!(error.code, "bad data");
}

#[test]
fn stubs_in_code_use_the_same_queue() {
    let mut stubs = Stubs::new(json!({}));
    stubs.push(
        Stub::given(|request: &Request| request.path.starts_with("/orders"))
            .and(
                Predicate::compile(
                    &json!({"equals": {"method": "POST"}}),
                    "",
                    &CompileOptions::default(),
                )
                .unwrap(),
            )
            .respond_with(Reply::new(201).with_body("created"))
            .respond_with(|request: &Request| {
                Reply::new(409).with_body(format!("{} again", request.path))
            }),
    );
    let post = Request::new("POST", "/orders/1");
    let statuses: Vec<(u16, Vec<u8>)> = (0..3)
        .map(|_| match stubs.answer(&post).unwrap().action {
            Action::Reply(reply) => (reply.status, reply.body),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (201, b"created".to_vec()),
            (409, b"/orders/1 again".to_vec()),
            (201, b"created".to_vec())
        ]
    );
    assert!(stubs.answer(&Request::new("GET", "/orders/1")).is_none());
    // Stubs written in code have no JSON to show.
    assert_eq!(stubs.to_json(), json!([]));
}

#[test]
fn editing_the_list() {
    let compile = |stubs: &Stubs, body: &str| {
        stubs
            .compile(
                &json!({"responses": [{"is": {"body": body}}]}),
                "",
                &CompileOptions::default(),
            )
            .unwrap()
    };
    let mut stubs = Stubs::new(json!({}));
    let first = compile(&stubs, "a");
    stubs.push(first);
    let inserted = compile(&stubs, "b");
    stubs.insert(0, inserted);
    let replacement = compile(&stubs, "c");
    assert!(stubs.replace(1, replacement));
    let bodies = |stubs: &Stubs| {
        stubs
            .to_json()
            .as_array()
            .unwrap()
            .iter()
            .map(|stub| stub["responses"][0]["is"]["body"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(bodies(&stubs), [json!("b"), json!("c")]);
    assert!(stubs.remove(0).is_some());
    assert!(stubs.remove(5).is_none());
    assert_eq!(bodies(&stubs), [json!("c")]);
}

#[test]
fn a_miss_names_the_nearest_stub_and_why_each_predicate_refused() {
    let stubs = Stubs::from_json(
        &json!([
            {"predicates": [{"equals": {"method": "POST"}}, {"equals": {"path": "/other"}}], "responses": []},
            {"predicates": [{"equals": {"method": "GET", "path": "/orders"}}, {"exists": {"query": {"page": true}}}, {"startsWith": {"path": "/ord"}}],
             "responses": []}
        ]),
        json!({}),
        &CompileOptions::default(),
    )
    .unwrap();
    let request = Request::new("GET", "/orders/7");
    assert!(stubs.answer(&request).is_none());
    let miss = stubs.nearest(&request).unwrap();
    assert_eq!(miss.stub, 1);
    assert_eq!(
        miss.refused,
        vec![
            (
                0,
                r#"equals: path should equal "/orders"; the request has "/orders/7""#.to_string()
            ),
            (
                1,
                r#"exists: query should exist as {"page":true}; the request has {}"#.to_string()
            ),
        ]
    );
    assert!(Stubs::new(json!({})).nearest(&request).is_none());
    assert_eq!(
        stubs.nearest_json(&request).unwrap(),
        json!({"index": 1, "refused": [
            {"index": 0, "predicate": {"equals": {"method": "GET", "path": "/orders"}},
             "why": r#"equals: path should equal "/orders"; the request has "/orders/7""#},
            {"index": 1, "predicate": {"exists": {"query": {"page": true}}},
             "why": r#"exists: query should exist as {"page":true}; the request has {}"#},
        ]})
    );
    assert!(Stubs::new(json!({})).nearest_json(&request).is_none());
}
