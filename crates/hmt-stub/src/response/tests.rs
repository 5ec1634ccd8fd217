use super::*;
use crate::CompileOptions;
use serde_json::json;

fn respond(response: Value, defaults: Value, request: &Request) -> Action {
    MbResponse::compile(
        &response,
        "/responses/0",
        Arc::new(defaults),
        &CompileOptions::default(),
    )
    .unwrap_or_else(|error| panic!("{response}: {error}"))
    .respond(request)
}

fn reply(response: Value, request: &Request) -> Reply {
    match respond(response, json!({}), request) {
        Action::Reply(reply) => reply,
        other => panic!("expected a reply, got {other:?}"),
    }
}

#[test]
fn an_empty_is_gives_an_empty_200_that_closes() {
    let reply = reply(json!({"is": {}}), &Request::new("GET", "/"));
    assert_eq!(reply, Reply::new(200).with_header("Connection", "close"));
}

#[test]
fn a_json_body_is_printed_with_four_spaces() {
    let reply = reply(
        json!({"is": {"body": {"a": [1]}}}),
        &Request::new("GET", "/"),
    );
    assert_eq!(
        String::from_utf8(reply.body).unwrap(),
        "{\n    \"a\": [\n        1\n    ]\n}"
    );
}

#[test]
fn headers_repeat_keep_alive_wins_and_content_length_is_corrected() {
    let reply = reply(
        json!({"is": {"statusCode": "201", "headers": {"Set-Cookie": ["a=1", "b=2"], "Connection": "Keep-Alive", "Content-Length": 99}, "body": "abc"}}),
        &Request::new("GET", "/"),
    );
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.headers,
        vec![
            ("Set-Cookie".to_string(), "a=1".to_string()),
            ("Set-Cookie".to_string(), "b=2".to_string()),
            ("Connection".to_string(), "Keep-Alive".to_string()),
            ("Content-Length".to_string(), "3".to_string()),
        ]
    );
}

#[test]
fn binary_mode_decodes_base64() {
    let reply = reply(
        json!({"is": {"_mode": "binary", "body": "AAEC\n/w=="}}),
        &Request::new("GET", "/"),
    );
    assert_eq!(reply.body, vec![0, 1, 2, 255]);
}

#[test]
fn the_default_response_fills_what_is_left_out() {
    let defaults = json!({"statusCode": 404, "headers": {"X-Default": "1"}, "body": "none"});
    let Action::Reply(reply) = respond(
        json!({"is": {"body": "mine"}}),
        defaults.clone(),
        &Request::new("GET", "/"),
    ) else {
        panic!("a reply")
    };
    assert_eq!(
        (
            reply.status,
            reply.header("x-default"),
            reply.body.as_slice()
        ),
        (404, Some("1"), b"mine".as_slice())
    );
    // A response's own headers replace the default ones.
    let Action::Reply(reply) = respond(
        json!({"is": {"headers": {"X-Own": "2"}}}),
        defaults,
        &Request::new("GET", "/"),
    ) else {
        panic!("a reply")
    };
    assert_eq!(
        (reply.header("x-default"), reply.header("x-own")),
        (None, Some("2"))
    );
}

#[test]
fn a_status_that_is_not_one_is_a_500_saying_so() {
    let reply = reply(
        json!({"is": {"statusCode": "${CODE}"}}),
        &Request::new("GET", "/"),
    );
    assert_eq!(reply.status, 500);
    assert!(String::from_utf8_lossy(&reply.body).contains("${CODE}"));
}

#[test]
fn wait_delays_the_reply() {
    let reply = reply(
        json!({"is": {}, "behaviors": [{"wait": 250}, {"wait": 50}]}),
        &Request::new("GET", "/"),
    );
    assert_eq!(reply.delay, Duration::from_millis(300));
}

#[test]
fn copy_fills_tokens_from_the_request() {
    let request = Request::new("GET", "/users/42?name=ann&code=201")
        .with_header("X-Request-Id", "abc")
        .with_body(r#"{"order":{"id":7}}"#);
    let reply = reply(
        json!({
            "is": {"statusCode": "${CODE}", "headers": {"X-${ID}": "${ID}"}, "body": {"user": "${USER}[1]", "name": "${NAME}", "order": "${ORDER}", "kept": "${NONE}"}},
            "behaviors": [
                {"copy": {"from": "path", "into": "${USER}", "using": {"method": "regex", "selector": "/users/(\\d+)"}}},
                {"copy": [{"from": {"query": "NAME"}, "into": "${NAME}", "using": {"method": "regex", "selector": ".+"}}]},
                {"copy": {"from": {"headers": "x-request-id"}, "into": "${ID}", "using": {"method": "regex", "selector": "\\w+"}}},
                {"copy": {"from": "body", "into": "${ORDER}", "using": {"method": "jsonpath", "selector": "$.order.id"}}},
                {"copy": {"from": {"query": "code"}, "into": "${CODE}", "using": {"method": "regex", "selector": "\\d+"}}},
                {"copy": {"from": "path", "into": "${NONE}", "using": {"method": "regex", "selector": "nomatch"}}}
            ]
        }),
        &request,
    );
    assert_eq!(reply.status, 201);
    let body: Value = serde_json::from_slice(&reply.body).unwrap();
    // A token with no match stays as it is.
    assert_eq!(
        body,
        json!({"user": "42", "name": "ann", "order": "7", "kept": "${NONE}"})
    );
    assert_eq!(reply.header("x-abc"), Some("abc"));
}

#[test]
fn copy_with_xpath_fills_tokens_with_the_selected_values() {
    let request = Request::new("POST", "/orders?doc=%3Cq%3E9%3C%2Fq%3E").with_body(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><o:Order xmlns:o="urn:Orders" id="A-7"><o:Line>Apples</o:Line><o:Line>Pears</o:Line></o:Order></soap:Body></soap:Envelope>"#,
    );
    let copy = |into: &str, selector: &str| json!({"copy": {"from": "body", "into": into, "using": {"method": "xpath", "selector": selector, "ns": {"s": "http://schemas.xmlsoap.org/soap/envelope/", "x": "urn:Orders"}}}});
    let reply = reply(
        json!({
            "is": {"statusCode": "${STATUS}", "headers": {"X-Order": "${ID}"}, "body": "${LINE}, ${LINE}[1], ${LINE}[0]; ${COUNT}; ${NONE}; ${Q}; ${TEXT}"},
            "behaviors": [
                copy("${ID}", "/s:Envelope/s:Body/x:Order/@id"),
                copy("${LINE}", "//x:Line"),
                copy("${COUNT}", "count(//x:Line)"),
                copy("${STATUS}", "200 + count(//x:Line)"),
                copy("${NONE}", "//x:Missing"),
                copy("${TEXT}", "//x:Line[2]/text()"),
                {"copy": {"from": {"query": "doc"}, "into": "${Q}", "using": {"method": "xpath", "selector": "/q"}}}
            ]
        }),
        &request,
    );
    assert_eq!(reply.status, 202);
    assert_eq!(reply.header("x-order"), Some("A-7"));
    assert_eq!(
        String::from_utf8(reply.body).unwrap(),
        "Apples, Pears, Apples; 2; ${NONE}; 9; Pears"
    );
}

#[test]
fn copy_with_xpath_from_text_that_is_not_xml_leaves_the_token() {
    for body in ["not xml", "<a><b></a>", ""] {
        let reply = reply(
            json!({
                "is": {"body": "${X}"},
                "behaviors": [{"copy": {"from": "body", "into": "${X}", "using": {"method": "xpath", "selector": "//b"}}}]
            }),
            &Request::new("POST", "/").with_body(body),
        );
        assert_eq!(String::from_utf8(reply.body).unwrap(), "${X}", "{body:?}");
    }
}

#[test]
fn lookup_keys_by_xpath() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.csv");
    std::fs::write(&path, "id,name\n1,Ann\n2,Bob\n").unwrap();
    let response = json!({
        "is": {"body": "${ROW}[name]"},
        "behaviors": [{"lookup": {
            "key": {"from": "body", "using": {"method": "xpath", "selector": "//p:person/@id", "ns": {"p": "urn:people"}}},
            "fromDataSource": {"csv": {"path": path.to_str().unwrap(), "keyColumn": "id"}},
            "into": "${ROW}"
        }}]
    });
    let found = reply(
        response,
        &Request::new("POST", "/")
            .with_body(r#"<people xmlns="urn:people"><person id="2"/></people>"#),
    );
    assert_eq!(String::from_utf8(found.body).unwrap(), "Bob");
}

#[test]
fn lookup_reads_a_row_of_a_csv_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.csv");
    std::fs::write(&path, "id,name,city\n1,Ann,\"Oslo, Norway\"\n2,Bob,Rome\n").unwrap();
    let response = json!({
        "is": {"body": "${ROW}[\"name\"] of ${ROW}['city'] (${ROW}[id])"},
        "behaviors": [{"lookup": {
            "key": {"from": "path", "using": {"method": "regex", "selector": "/people/(\\d+)"}, "index": 1},
            "fromDataSource": {"csv": {"path": path.to_str().unwrap(), "keyColumn": "id"}},
            "into": "${ROW}"
        }}]
    });
    let found = reply(response.clone(), &Request::new("GET", "/people/1"));
    assert_eq!(
        String::from_utf8(found.body).unwrap(),
        "Ann of Oslo, Norway (1)"
    );
    let missing = reply(response, &Request::new("GET", "/people/9"));
    assert_eq!(
        String::from_utf8(missing.body).unwrap(),
        "${ROW}[\"name\"] of ${ROW}['city'] (${ROW}[id])"
    );
}

#[test]
fn faults_and_proxies_are_actions_for_the_server() {
    let request = Request::new("GET", "/");
    assert_eq!(
        respond(
            json!({"fault": "CONNECTION_RESET_BY_PEER"}),
            json!({}),
            &request
        ),
        Action::Fault(Fault::ConnectionResetByPeer)
    );
    assert_eq!(
        respond(
            json!({"fault": "RANDOM_DATA_THEN_CLOSE"}),
            json!({}),
            &request
        ),
        Action::Fault(Fault::RandomDataThenClose)
    );
    assert_eq!(
        respond(json!({"fault": "NOPE"}), json!({}), &request),
        Action::Reply(Reply::new(200).with_header("Connection", "close"))
    );
    let proxy = json!({"to": "http://origin", "mode": "proxyOnce"});
    assert_eq!(
        respond(json!({"proxy": proxy.clone()}), json!({}), &request),
        Action::Proxy(proxy)
    );
}

#[test]
fn old_behaviors_are_upcast_as_mountebank_stores_them() {
    let mut response =
        json!({"is": {}, "_behaviors": {"copy": [{"a": 1}], "wait": 5, "repeat": 2}});
    upcast(&mut response);
    assert_eq!(
        response,
        json!({"is": {}, "behaviors": [{"wait": 5}, {"copy": {"a": 1}}], "repeat": 2})
    );
}

#[test]
fn bad_responses_are_refused_with_where() {
    let cases = [
        (
            json!({"is": {}, "proxy": {"to": "http://x"}}),
            "/responses/0",
            "only one response type",
        ),
        (
            json!({"is": "text"}),
            "/responses/0/is",
            "must be an object",
        ),
        (json!({"proxy": {}}), "/responses/0/proxy/to", "'to'"),
        (
            json!({"is": {}, "behaviors": [{"wait": -1}]}),
            "/responses/0/behaviors/0/wait",
            "milliseconds",
        ),
        (
            json!({"is": {}, "behaviors": [{"copy": {"from": "path", "into": "$X", "using": {"method": "regex", "selector": "("}}}]}),
            "/responses/0/behaviors/0/copy/using/selector",
            "regular expression",
        ),
        (
            json!({"is": {}, "behaviors": [{"copy": {"from": "body", "into": "$X", "using": {"method": "xpath", "selector": "//a[@b="}}}]}),
            "/responses/0/behaviors/0/copy/using/selector",
            "not an XPath",
        ),
        (
            json!({"is": {}, "behaviors": [{"copy": [{"from": "body", "into": "$X", "using": {"method": "xpath", "selector": "//q:a"}}]}]}),
            "/responses/0/behaviors/0/copy/0/using/selector",
            "not an XPath",
        ),
        (
            json!({"is": {}, "behaviors": [{"copy": {"from": "body", "into": "$X", "using": {"method": "xpath", "selector": "//q:a", "ns": ["q"]}}}]}),
            "/responses/0/behaviors/0/copy/using/ns",
            "namespace URI",
        ),
        (
            json!({"is": {}, "behaviors": [{"copy": {"from": "body", "into": "$X", "using": {"method": "xpaths", "selector": "//a"}}}]}),
            "/responses/0/behaviors/0/copy/using/method",
            "regex, xpath or jsonpath",
        ),
        (
            json!({"is": {}, "behaviors": [{"copy": {"from": "path", "using": {"method": "regex", "selector": "."}}}]}),
            "/responses/0/behaviors/0/copy/into",
            "token",
        ),
        (
            json!({"is": {}, "behaviors": [{"lookup": {"key": {"from": "path", "using": {"method": "regex", "selector": "."}}, "into": "$R"}}]}),
            "/responses/0/behaviors/0/lookup/fromDataSource",
            "csv",
        ),
        (
            json!({"is": {}, "behaviors": [{"sparkle": true}]}),
            "/responses/0/behaviors/0/sparkle",
            "unknown behavior",
        ),
    ];
    for (response, pointer, message) in cases {
        let error = MbResponse::compile(
            &response,
            "/responses/0",
            Arc::new(json!({})),
            &CompileOptions::default(),
        )
        .unwrap_err();
        assert_eq!(error.pointer, pointer, "{response}");
        assert!(
            error.message.contains(message),
            "{response}: {}",
            error.message
        );
    }
    for response in [
        json!({"inject": "() => ({})"}),
        json!({"is": {}, "behaviors": [{"decorate": "() => 1"}]}),
        json!({"is": {}, "behaviors": [{"wait": "() => 1"}]}),
    ] {
        let error = MbResponse::compile(
            &response,
            "",
            Arc::new(json!({})),
            &CompileOptions::default(),
        )
        .unwrap_err();
        assert_eq!(error.code, "invalid injection", "{response}");
    }
}
