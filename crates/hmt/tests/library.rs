//! The Rust library: a mock server started, programmed, called and
//! verified inside a test, over real HTTP on loopback.

use bytes::Bytes;
use hmt::matchers::{body_json, header, method, path, path_regex, path_template, query_param};
use hmt::{Delivery, Fault, MockServer, Reply, Request, Stub};
use serde_json::json;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn get(server: &MockServer, target: &str) -> (u16, String) {
    let response = client()
        .get(format!("{}{target}", server.uri()))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn stubs_match_on_every_part_of_the_request() {
    let server = MockServer::start().await;
    server.register(
        Stub::given(method("PUT"))
            .and(path_template("/users/{id}"))
            .and(query_param("dry", "true"))
            .and(header("x-team", "blue"))
            .and(body_json(json!({"name": "Ada"})))
            .respond_with(Reply::new(200).with_body("all five")),
    );
    server.register(
        Stub::given(path_regex(r"^/files/.+\.png$"))
            .and(|request: &Request| {
                request
                    .header("accept")
                    .is_some_and(|a| a.contains("image"))
            })
            .respond_with(Reply::new(200).with_body("a closure matched")),
    );
    let client = client();
    let put = client
        .put(format!("{}/users/7?dry=true", server.uri()))
        .header("X-Team", "blue")
        .header("content-type", "application/json")
        .body(json!({"name": "Ada"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(put.text().await.unwrap(), "all five");
    let png = client
        .get(format!("{}/files/cat.png", server.uri()))
        .header("accept", "image/png")
        .send()
        .await
        .unwrap();
    assert_eq!(png.text().await.unwrap(), "a closure matched");
    // One part off: nothing matches, and no spec is loaded.
    let off = client
        .put(format!("{}/users/7?dry=false", server.uri()))
        .header("X-Team", "blue")
        .header("content-type", "application/json")
        .body(json!({"name": "Ada"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 404);
}

#[tokio::test]
async fn responses_are_sequences_closures_and_json() {
    let server = MockServer::start().await;
    server.register(
        Stub::given(path("/flaky"))
            .respond_with(Reply::new(503))
            .repeat(2)
            .respond_with(Reply::new(200).json(&json!({"ok": true}))),
    );
    server.register(
        Stub::given(path_template("/echo/{word}")).respond_with(|request: &Request| {
            Reply::new(200).with_body(request.path.to_uppercase())
        }),
    );
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(get(&server, "/flaky").await);
    }
    assert_eq!(
        seen,
        [
            (503, String::new()),
            (503, String::new()),
            (200, r#"{"ok":true}"#.to_string()),
            (503, String::new())
        ]
    );
    assert_eq!(
        get(&server, "/echo/hi").await,
        (200, "/ECHO/HI".to_string())
    );
    let journal = server.received_requests();
    assert_eq!(journal.len(), 5);
    assert_eq!(journal[4].request.pathname, "/echo/hi");
    assert_eq!(journal[4].meta["answeredBy"], "stub");
}

#[tokio::test]
async fn an_unmet_expectation_reports_the_nearest_requests() {
    let server = MockServer::start().await;
    server.register(
        Stub::given(method("POST"))
            .and(path("/orders"))
            .respond_with(Reply::new(201))
            .named("create order")
            .expect(1),
    );
    server.register(
        Stub::given(path("/health"))
            .respond_with(Reply::new(200))
            .expect(1..),
    );
    get(&server, "/health").await;
    get(&server, "/order").await;
    client()
        .post(format!("{}/orderz", server.uri()))
        .send()
        .await
        .unwrap();
    let report = server.check().unwrap_err().to_string();
    assert_eq!(
        report,
        "1 of the mock server's expectations was not met:\n\n\
         - stub 0 (create order) expected exactly 1 request, got 0.\n  \
         Nearest requests received:\n    \
         POST /orderz: path is /orderz, expected /orders\n    \
         GET /health: method is GET, expected POST; path is /health, expected /orders\n    \
         GET /order: method is GET, expected POST; path is /order, expected /orders\n"
    );
    let verify = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.verify()));
    assert!(verify.is_err());
    server.reset();
    server.verify();
}

#[tokio::test]
async fn dropping_a_server_with_an_unmet_expectation_fails_the_test() {
    let server = MockServer::start().await;
    server.register(
        Stub::given(path("/never"))
            .respond_with(Reply::new(200))
            .expect(1),
    );
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(server)));
    let message = dropped.unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("stub 0 expected exactly 1 request, got 0."),
        "{message}"
    );
    assert!(
        message.contains("The server received no requests."),
        "{message}"
    );
}

#[tokio::test]
async fn servers_run_in_parallel_and_drop_closes_the_port() {
    let servers: Vec<MockServer> = start_all((0..6).map(|_| MockServer::start())).await;
    for (index, server) in servers.iter().enumerate() {
        server.register(Stub::new().respond_with(Reply::new(200).with_body(index.to_string())));
    }
    for (index, server) in servers.iter().enumerate() {
        assert_eq!(get(server, "/").await.1, index.to_string());
    }
    let addresses: Vec<_> = servers.iter().map(MockServer::address).collect();
    let mut distinct = addresses.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6);
    drop(servers);
    for address in addresses {
        assert!(
            std::net::TcpStream::connect(address).is_err(),
            "{address} still open"
        );
    }
}

async fn start_all<F: std::future::Future<Output = MockServer>>(
    futures: impl Iterator<Item = F>,
) -> Vec<MockServer> {
    let mut out = Vec::new();
    for future in futures {
        out.push(future.await);
    }
    out
}

/// One HTTP/1.1 exchange over a plain socket: what came back, or the
/// error reading it.
fn raw_get(server: &MockServer, target: &str, extra: &str) -> std::io::Result<Vec<u8>> {
    let mut stream = std::net::TcpStream::connect(server.address())?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n"
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(answer)
}

#[test]
fn the_blocking_twin_needs_no_runtime() {
    let server = MockServer::start_blocking();
    server
        .register(Stub::given(path("/sync")).respond_with(Reply::new(200).with_body("no runtime")));
    let answer = raw_get(&server, "/sync", "").unwrap();
    let text = String::from_utf8(answer).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nno runtime"), "{text}");
    server.stop();
}

#[tokio::test]
async fn faults_are_seen_by_the_client() {
    let server = MockServer::start().await;
    server.register(
        Stub::given(path("/reset")).respond_with(|_: &Request| Fault::ConnectionResetByPeer),
    );
    server.register(
        Stub::given(path("/junk")).respond_with(|_: &Request| Fault::RandomDataThenClose),
    );
    server.register(
        Stub::given(path("/cut")).respond_with(
            Reply::new(200)
                .with_body("0123456789")
                .with_delivery(Delivery::CutShort),
        ),
    );
    let reset = tokio::task::spawn_blocking({
        let address = server.address();
        move || {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream
                .write_all(b"GET /reset HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut buffer = [0u8; 64];
            stream.read(&mut buffer).map_err(|e| e.kind())
        }
    })
    .await
    .unwrap();
    assert_eq!(reset, Err(std::io::ErrorKind::ConnectionReset));
    let junk = tokio::task::spawn_blocking({
        let address = server.address();
        move || {
            let mut stream = std::net::TcpStream::connect(address).unwrap();
            stream
                .write_all(b"GET /junk HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
            answer
        }
    })
    .await
    .unwrap();
    assert_eq!(junk.len(), 64);
    assert_eq!(junk[0], 1);
    let cut = client()
        .get(format!("{}/cut", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(cut.headers()["content-length"], "10");
    assert!(
        cut.bytes().await.is_err(),
        "a body cut short is an error for the client"
    );
    // The server is still fine.
    server.register(Stub::given(path("/ok")).respond_with(Reply::new(200)));
    assert_eq!(get(&server, "/ok").await.0, 200);
}

#[tokio::test]
async fn delays_and_dribbles_take_the_time_they_say() {
    // The flag's delay is far from the stub's, so that a busy machine
    // cannot blur which of the two applied.
    let server = MockServer::builder().delay("600").start().await.unwrap();
    server.register(
        Stub::given(path("/fast"))
            .respond_with(Reply::new(200).with_delay(Duration::from_millis(10))),
    );
    server.register(Stub::given(path("/slow")).respond_with(Reply::new(200)));
    server.register(
        Stub::given(path("/dribble")).respond_with(
            Reply::new(200)
                .with_body("abcdefghijkl")
                .with_delivery(Delivery::Dribble {
                    bytes: 4,
                    interval: Duration::from_millis(60),
                }),
        ),
    );
    let started = Instant::now();
    get(&server, "/slow").await;
    let slow = started.elapsed();
    let started = Instant::now();
    get(&server, "/fast").await;
    let fast = started.elapsed();
    let started = Instant::now();
    let dribbled = get(&server, "/dribble").await;
    let dribble = started.elapsed();
    assert!(slow >= Duration::from_millis(600), "{slow:?}");
    assert!(
        fast >= Duration::from_millis(10) && fast < Duration::from_millis(500),
        "{fast:?}"
    );
    assert_eq!(dribbled, (200, "abcdefghijkl".to_string()));
    assert!(dribble >= Duration::from_millis(120), "{dribble:?}");
}

#[tokio::test]
async fn streamed_bodies_arrive_chunk_by_chunk() {
    let server = MockServer::start().await;
    server.register(
        Stub::given(path("/events")).respond_with(
            Reply::new(200)
                .with_header("content-type", "text/event-stream")
                .with_chunks([
                    (Duration::ZERO, Bytes::from_static(b"data: 1\n\n")),
                    (
                        Duration::from_millis(300),
                        Bytes::from_static(b"data: 2\n\n"),
                    ),
                ]),
        ),
    );
    server.register(Stub::given(path("/ticks")).respond_with(|_: &Request| {
        let ticks = futures_util::stream::unfold(0u32, |n| async move {
            if n == 3 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((Bytes::from(format!("tick {n}\n")), n + 1))
        });
        Reply::new(200).with_stream(ticks)
    }));
    let started = Instant::now();
    let mut events = client()
        .get(format!("{}/events", server.uri()))
        .send()
        .await
        .unwrap();
    let first = events.chunk().await.unwrap().unwrap();
    let first_at = started.elapsed();
    let second = events.chunk().await.unwrap().unwrap();
    let second_at = started.elapsed();
    assert_eq!(
        (&first[..], &second[..]),
        (&b"data: 1\n\n"[..], &b"data: 2\n\n"[..])
    );
    assert!(first_at < Duration::from_millis(250), "{first_at:?}");
    assert!(second_at >= Duration::from_millis(300), "{second_at:?}");
    assert!(events.chunk().await.unwrap().is_none());

    // A Rust stream, made per request; each request gets all of it.
    for _ in 0..2 {
        let mut ticks = client()
            .get(format!("{}/ticks", server.uri()))
            .send()
            .await
            .unwrap();
        let mut got = Vec::new();
        while let Some(chunk) = ticks.chunk().await.unwrap() {
            got.push(String::from_utf8(chunk.to_vec()).unwrap());
        }
        assert_eq!(got, ["tick 0\n", "tick 1\n", "tick 2\n"]);
    }
}

#[tokio::test]
async fn a_client_that_leaves_a_stream_ends_it_quietly() {
    let server = MockServer::start().await;
    server.register(Stub::given(path("/forever")).respond_with(|_: &Request| {
        let endless = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Bytes::from_static(b"."), ()))
        });
        Reply::new(200).with_stream(endless)
    }));
    server.register(Stub::given(path("/after")).respond_with(Reply::new(200).with_body("fine")));
    for _ in 0..5 {
        let mut response = client()
            .get(format!("{}/forever", server.uri()))
            .send()
            .await
            .unwrap();
        assert_eq!(&response.chunk().await.unwrap().unwrap()[..], b".");
        drop(response);
    }
    assert_eq!(get(&server, "/after").await, (200, "fine".to_string()));
}

const SPEC: &str = r#"
openapi: 3.0.3
info: {title: pets, version: "1"}
paths:
  /pets/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: a pet
          content:
            application/json:
              example: {name: Rex}
"#;

#[tokio::test]
async fn stubs_come_before_the_spec_and_calls_need_no_socket() {
    let server = MockServer::builder()
        .spec_text(SPEC)
        .imposter(json!({"stubs": [{"predicates": [{"equals": {"path": "/mb"}}], "responses": [{"is": {"statusCode": 202, "body": "from an imposter"}}]}]}))
        .start()
        .await
        .unwrap();
    assert_eq!(
        get(&server, "/pets/1").await,
        (200, r#"{"name":"Rex"}"#.to_string())
    );
    assert_eq!(get(&server, "/pets/x").await.0, 400);
    assert_eq!(
        get(&server, "/mb").await,
        (202, "from an imposter".to_string())
    );
    server.register(Stub::given(path("/pets/1")).respond_with(Reply::new(200).with_body("a stub")));
    assert_eq!(get(&server, "/pets/1").await.1, "a stub");
    let response = server
        .call(http::Request::get("/pets/2").body(Bytes::new()).unwrap())
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), r#"{"name":"Rex"}"#);
    let sources: Vec<_> = server
        .received_requests()
        .iter()
        .map(|e| {
            e.meta
                .get("answeredBy")
                .and_then(|a| a.as_str())
                .unwrap_or("-")
                .to_string()
        })
        .collect();
    assert_eq!(sources, ["example", "-", "stub", "stub", "example"]);
}

#[tokio::test]
async fn a_bad_source_is_an_error_that_says_where() {
    let error = MockServer::builder()
        .imposter(json!({"stubs": [{"predicates": "nope"}]}))
        .start()
        .await
        .err()
        .unwrap();
    assert!(
        format!("{error:#}") == "imposter 0: at /stubs/0/predicates: 'predicates' must be an array",
        "{error:#}"
    );
    let error = MockServer::builder()
        .spec_text("openapi: [")
        .start()
        .await
        .err()
        .unwrap();
    assert!(
        format!("{error:#}").starts_with("<spec 1>: neither JSON nor YAML"),
        "{error:#}"
    );
    // Text is read as spec files are: a duplicate key is an error.
    let error = MockServer::builder()
        .spec_text("openapi: 3.0.3\nopenapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n")
        .start()
        .await
        .err()
        .unwrap();
    assert!(format!("{error:#}").contains("duplicate key"), "{error:#}");
}

#[tokio::test]
async fn https_with_the_servers_own_ca() {
    let server = MockServer::builder().https().start().await.unwrap();
    server.register(Stub::new().respond_with(Reply::new(200).with_body("secure")));
    assert!(server.uri().starts_with("https://127.0.0.1:"));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(server.ca_pem().unwrap().as_bytes()).unwrap();
    let trusting = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let response = trusting.get(server.uri()).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "secure");
    assert!(
        reqwest::Client::new()
            .get(server.uri())
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn clients_that_name_other_hosts_reach_the_mock_through_it_as_a_proxy() {
    use hmt::matchers::host;
    let server = MockServer::builder()
        .intercept_https()
        .start()
        .await
        .unwrap();
    server.register(
        Stub::given(host("api.example.com"))
            .and(path("/hello"))
            .respond_with(Reply::new(200).with_body("intercepted")),
    );
    server.register(
        Stub::given(host("other.example")).respond_with(Reply::new(200).with_body("plain proxy")),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(server.ca_pem().unwrap().as_bytes()).unwrap();
    let proxied = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(server.uri()).unwrap())
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let https = proxied
        .get("https://api.example.com/hello")
        .send()
        .await
        .unwrap();
    assert_eq!(https.text().await.unwrap(), "intercepted");
    let http = proxied
        .get("http://other.example/anything")
        .send()
        .await
        .unwrap();
    assert_eq!(http.text().await.unwrap(), "plain proxy");
    let hosts: Vec<_> = server
        .received_requests()
        .iter()
        .map(|e| e.request.host.clone().unwrap_or_default())
        .collect();
    assert_eq!(hosts, ["api.example.com", "other.example"]);
}

#[tokio::test]
async fn faults_inside_an_https_tunnel_break_the_clients_connection() {
    let server = MockServer::builder()
        .intercept_https()
        .start()
        .await
        .unwrap();
    server.register(
        Stub::given(path("/reset")).respond_with(|_: &Request| Fault::ConnectionResetByPeer),
    );
    server.register(
        Stub::given(path("/junk")).respond_with(|_: &Request| Fault::RandomDataThenClose),
    );
    server.register(Stub::given(path("/fine")).respond_with(Reply::new(200).with_body("fine")));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(server.ca_pem().unwrap().as_bytes()).unwrap();
    let proxied = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(server.uri()).unwrap())
        .tls_certs_only([ca])
        .build()
        .unwrap();
    for broken in ["/reset", "/junk"] {
        let answer = proxied
            .get(format!("https://api.example.com{broken}"))
            .send()
            .await;
        assert!(
            answer.is_err(),
            "{broken}: the client got an answer: {:?}",
            answer.map(|response| response.status())
        );
    }
    // The tunnel's port is unharmed: a new tunnel answers.
    let fine = proxied
        .get("https://api.example.com/fine")
        .send()
        .await
        .unwrap();
    assert_eq!(fine.text().await.unwrap(), "fine");
}

#[tokio::test]
async fn recordings_replay_with_the_latency_they_were_recorded_with() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slow.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"request":{"method":"get","protocol":"https","host":"api.test","path":"/slow","query":{},"headers":{}},"#,
            r#""response":{"statusCode":200,"headers":{"content-type":"text/plain"},"body":"late"},"meta":{"latencyMs":250}}"#,
            "\n"
        ),
    )
    .unwrap();
    let timed = |server: MockServer| async move {
        let started = Instant::now();
        let answer = get(&server, "/slow").await;
        (answer, started.elapsed())
    };
    let (answer, plain) = timed(
        MockServer::builder()
            .recordings(&file)
            .start()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer, (200, "late".to_string()));
    let (answer, recorded) = timed(
        MockServer::builder()
            .recordings(&file)
            .recorded_latency()
            .start()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer, (200, "late".to_string()));
    assert!(plain < Duration::from_millis(200), "{plain:?}");
    assert!(recorded >= Duration::from_millis(250), "{recorded:?}");
}
