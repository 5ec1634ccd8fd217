//! mountebank's imposters API over real HTTP on loopback: the admin API
//! on one port, each imposter on its own, driven by reqwest and raw TCP.

use hmt_imposters::{Api, Imposters, ImpostersConfig};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Admin {
    url: String,
    client: reqwest::Client,
    api: Arc<Api>,
}

async fn start(config: ImpostersConfig) -> Admin {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let api = Arc::new(Api::new(Imposters::new(config), port));
    api.imposters().restore().await.unwrap();
    let served = api.clone();
    tokio::spawn(async move {
        let api = served;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let api = api.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let api = api.clone();
                    async move { Ok::<_, Infallible>(api.serve(request).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Admin {
        url: format!("http://127.0.0.1:{port}"),
        client: client(),
        api,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

impl Admin {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Creates an imposter on a port the server picks; returns the port.
    async fn imposter(&self, definition: Value) -> u16 {
        let (status, body) = self.post("/imposters", definition).await;
        assert_eq!(status, 201, "{body}");
        body["port"].as_u64().unwrap() as u16
    }
}

async fn call(port: u16, method: &str, path: &str) -> reqwest::Response {
    client()
        .request(
            method.parse().unwrap(),
            format!("http://127.0.0.1:{port}{path}"),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imposter_answers_from_its_stubs_and_shows_itself() {
    let admin = start(ImpostersConfig::default()).await;
    let response = admin
        .client
        .post(format!("{}/imposters", admin.url))
        .body(json!({
            "protocol": "http",
            "name": "orders",
            "stubs": [
                {"predicates": [{"equals": {"method": "GET", "path": "/orders/1"}}],
                 "responses": [{"is": {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": {"id": 1}}},
                               {"is": {"statusCode": 404}}]},
            ]
        }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let created: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let port = created["port"].as_u64().unwrap() as u16;
    assert_eq!(location, created["_links"]["self"]["href"]);
    assert_eq!(location, format!("{}/imposters/{port}", admin.url));

    let first = call(port, "GET", "/orders/1").await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["connection"], "close");
    assert_eq!(first.text().await.unwrap(), "{\n    \"id\": 1\n}");
    assert_eq!(call(port, "GET", "/orders/1").await.status(), 404);
    assert_eq!(call(port, "GET", "/orders/1").await.status(), 200);
    // No stub matches: an empty 200.
    let miss = call(port, "GET", "/nothing").await;
    assert_eq!(
        (miss.status().as_u16(), miss.text().await.unwrap()),
        (200, String::new())
    );

    let (status, shown) = admin.get(&format!("/imposters/{port}")).await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = shown
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "protocol",
            "port",
            "name",
            "numberOfRequests",
            "recordRequests",
            "requests",
            "stubs",
            "_links"
        ]
    );
    assert_eq!(shown["numberOfRequests"], 4);
    assert_eq!(shown["requests"], json!([]));
    assert_eq!(
        shown["stubs"][0]["_links"]["self"]["href"],
        format!("{}/imposters/{port}/stubs/0", admin.url)
    );

    let (_, listed) = admin.get("/imposters").await;
    assert_eq!(
        listed,
        json!({"imposters": [{"protocol": "http", "port": port, "name": "orders", "numberOfRequests": 4,
            "_links": {"self": {"href": location}, "stubs": {"href": format!("{location}/stubs")}}}]})
    );
    let (_, home) = admin.get("/").await;
    for link in ["imposters", "config", "logs"] {
        let href = home["_links"][link]["href"].as_str().unwrap();
        assert_eq!(
            admin.client.get(href).send().await.unwrap().status(),
            200,
            "{href}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_requests_keep_the_header_case_the_client_sent() {
    let admin = start(ImpostersConfig::default()).await;
    let port = admin
        .imposter(json!({"protocol": "http", "recordRequests": true}))
        .await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(b"POST /items?tag=a&tag=b HTTP/1.1\r\nHost: localhost\r\nX-Custom-HEADER: yes\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\nConnection: close\r\n\r\nname=ann+")
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    let (_, shown) = admin.get(&format!("/imposters/{port}")).await;
    let request = &shown["requests"][0];
    assert_eq!(request["method"], "POST");
    assert_eq!(request["path"], "/items");
    assert_eq!(request["query"], json!({"tag": ["a", "b"]}));
    assert_eq!(request["body"], "name=ann+");
    assert_eq!(request["form"], json!({"name": "ann "}));
    assert_eq!(request["headers"]["X-Custom-HEADER"], "yes");
    assert_eq!(
        request["headers"]["Content-Type"],
        "application/x-www-form-urlencoded"
    );
    assert!(request["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(shown["numberOfRequests"], 1);

    let (status, cleared) = admin
        .delete(&format!("/imposters/{port}/savedRequests"))
        .await;
    assert_eq!(
        (status, &cleared["requests"], &cleared["numberOfRequests"]),
        (200, &json!([]), &json!(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stubs_are_edited_in_place() {
    let admin = start(ImpostersConfig::default()).await;
    let stub = |body: &str| json!({"predicates": [{"equals": {"path": format!("/{body}")}}], "responses": [{"is": {"body": body}}]});
    let port = admin
        .imposter(json!({"protocol": "http", "stubs": [stub("a")]}))
        .await;
    let bodies = |shown: &Value| -> Vec<String> {
        shown["stubs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|stub| {
                stub["responses"][0]["is"]["body"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let (status, shown) = admin
        .post(
            &format!("/imposters/{port}/stubs"),
            json!({"stub": stub("b")}),
        )
        .await;
    assert_eq!(
        (status, bodies(&shown)),
        (200, vec!["a".to_string(), "b".to_string()])
    );
    let (_, shown) = admin
        .post(
            &format!("/imposters/{port}/stubs"),
            json!({"index": 0, "stub": stub("c")}),
        )
        .await;
    assert_eq!(bodies(&shown), ["c", "a", "b"]);
    let (_, shown) = admin
        .put(&format!("/imposters/{port}/stubs/1"), stub("d"))
        .await;
    assert_eq!(bodies(&shown), ["c", "d", "b"]);
    let (_, shown) = admin.delete(&format!("/imposters/{port}/stubs/0")).await;
    assert_eq!(bodies(&shown), ["d", "b"]);
    assert_eq!(
        shown["stubs"][1]["_links"]["self"]["href"],
        format!("{}/imposters/{port}/stubs/1", admin.url)
    );
    assert_eq!(call(port, "GET", "/d").await.text().await.unwrap(), "d");
    let (_, shown) = admin
        .put(
            &format!("/imposters/{port}/stubs"),
            json!({"stubs": [stub("e")]}),
        )
        .await;
    assert_eq!(bodies(&shown), ["e"]);
    assert_eq!(call(port, "GET", "/e").await.text().await.unwrap(), "e");
    assert_eq!(call(port, "GET", "/d").await.text().await.unwrap(), "");

    let (status, error) = admin
        .post(&format!("/imposters/{port}/stubs"), json!({"index": 0}))
        .await;
    assert_eq!(
        (status, error),
        (
            400,
            json!({"errors": [{"code": "bad data", "message": "must contain 'stub' field"}]})
        )
    );
    let (status, error) = admin
        .put(&format!("/imposters/{port}/stubs/7"), stub("x"))
        .await;
    assert_eq!(status, 400, "{error}");
    let (status, error) = admin
        .put(
            &format!("/imposters/{port}/stubs"),
            json!({"stubs": [{"predicates": [{"matches": {"path": "("}}]}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        error["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/stubs/0/predicates/0/matches/path"),
        "{error}"
    );
    // A refused change changes nothing.
    assert_eq!(call(port, "GET", "/e").await.text().await.unwrap(), "e");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayable_json_put_back_reads_the_same() {
    let admin = start(ImpostersConfig::default()).await;
    let port = admin
        .imposter(json!({
            "protocol": "http", "name": "round trip", "recordRequests": true,
            "defaultResponse": {"statusCode": 404, "body": "none"},
            "stubs": [{"predicates": [{"deepEquals": {"query": {}}, "caseSensitive": true}],
                       "responses": [{"is": {"body": {"ok": true}}, "_behaviors": {"wait": 1, "repeat": 2}}]}]
        }))
        .await;
    let replayable = |admin: &Admin| {
        let url = format!("{}/imposters?replayable=true", admin.url);
        let client = admin.client.clone();
        async move { client.get(url).send().await.unwrap().bytes().await.unwrap() }
    };
    let first = replayable(&admin).await;
    let parsed: Value = serde_json::from_slice(&first).unwrap();
    let imposter = &parsed["imposters"][0];
    assert_eq!(imposter["port"], port);
    assert!(
        imposter.get("numberOfRequests").is_none()
            && imposter.get("_links").is_none()
            && imposter.get("requests").is_none()
    );
    assert_eq!(
        imposter["stubs"][0]["responses"][0],
        json!({"is": {"body": {"ok": true}}, "behaviors": [{"wait": 1}], "repeat": 2})
    );
    let (status, _) = admin.put("/imposters", parsed.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(replayable(&admin).await, first);
    let miss = call(port, "GET", "/x?a=1").await;
    assert_eq!(
        (miss.status().as_u16(), miss.text().await.unwrap()),
        (404, "none".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_closes_the_ports_at_once() {
    let admin = start(ImpostersConfig::default()).await;
    let one = admin.imposter(json!({"protocol": "http"})).await;
    let two = admin
        .imposter(json!({"protocol": "http", "stubs": [{"responses": [{"is": {"body": "two"}}]}]}))
        .await;
    let (status, deleted) = admin.delete(&format!("/imposters/{two}")).await;
    assert_eq!(
        (status, &deleted["stubs"][0]["responses"][0]["is"]["body"]),
        (200, &json!("two"))
    );
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", two))
            .await
            .is_err(),
        "port {two} still open"
    );
    let (status, again) = admin.delete(&format!("/imposters/{two}")).await;
    assert_eq!((status, again), (200, json!({})));
    let (status, all) = admin.delete("/imposters").await;
    assert_eq!(status, 200);
    // Replayable by default.
    assert_eq!(
        all,
        json!({"imposters": [{"protocol": "http", "port": one, "recordRequests": false, "stubs": []}]})
    );
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", one))
            .await
            .is_err(),
        "port {one} still open"
    );
    let (status, _) = admin.get(&format!("/imposters/{one}")).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_mountebanks_errors() {
    let admin = start(ImpostersConfig::default()).await;
    let raw = admin
        .client
        .post(format!("{}/imposters", admin.url))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(
        serde_json::from_str::<Value>(&raw.text().await.unwrap()).unwrap(),
        json!({"errors": [{"code": "invalid JSON", "message": "Unable to parse body as JSON", "source": "{nope"}]})
    );
    let (status, error) = admin.post("/imposters", json!({})).await;
    assert_eq!(
        (status, &error["errors"][0]["code"]),
        (400, &json!("bad data"))
    );
    let (status, error) = admin
        .post("/imposters", json!({"protocol": "tcp", "port": 4545}))
        .await;
    assert_eq!(status, 400);
    assert!(
        error["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("tcp"),
        "{error}"
    );
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let (status, error) = admin
        .post(
            "/imposters",
            json!({"protocol": "http", "port": taken_port}),
        )
        .await;
    assert_eq!(
        (status, &error["errors"][0]["code"]),
        (400, &json!("resource conflict"))
    );
    let (status, error) = admin
        .post(
            "/imposters",
            json!({"protocol": "http", "stubs": [{"responses": [{"inject": "() => ({})"}]}]}),
        )
        .await;
    assert_eq!(
        (status, &error["errors"][0]["code"]),
        (400, &json!("invalid injection"))
    );
    let (status, _) = admin.get("/imposters/1").await;
    assert_eq!(status, 404);

    // A set with one bad imposter changes nothing.
    let kept = admin
        .imposter(json!({"protocol": "http", "stubs": [{"responses": [{"is": {"body": "kept"}}]}]}))
        .await;
    let (status, _) = admin
        .put(
            "/imposters",
            json!({"imposters": [{"protocol": "http"}, {"protocol": "smtp"}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(call(kept, "GET", "/").await.text().await.unwrap(), "kept");
    let (_, listed) = admin.get("/imposters").await;
    assert_eq!(listed["imposters"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_break_the_connection() {
    let admin = start(ImpostersConfig::default()).await;
    let port = admin
        .imposter(json!({"protocol": "http", "stubs": [
            {"predicates": [{"equals": {"path": "/reset"}}], "responses": [{"fault": "CONNECTION_RESET_BY_PEER"}]},
            {"predicates": [{"equals": {"path": "/junk"}}], "responses": [{"fault": "RANDOM_DATA_THEN_CLOSE"}]}
        ]}))
        .await;
    let send = |path: &'static str| async move {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut answer = Vec::new();
        let result = stream.read_to_end(&mut answer).await;
        (result.map_err(|error| error.kind()), answer)
    };
    let (result, answer) = send("/reset").await;
    assert_eq!(
        result,
        Err(std::io::ErrorKind::ConnectionReset),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let (result, answer) = send("/junk").await;
    assert!(
        result.is_ok() && !answer.is_empty() && !answer.starts_with(b"HTTP/"),
        "{result:?} {answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaviors_cors_and_gzip_bodies() {
    let admin = start(ImpostersConfig::default()).await;
    let port = admin
        .imposter(json!({"protocol": "http", "allowCORS": true, "stubs": [
            {"predicates": [{"equals": {"body": {"name": "ann"}}}],
             "responses": [{"is": {"body": "hello ${NAME}"}, "behaviors": [
                 {"wait": 150},
                 {"copy": {"from": "body", "into": "${NAME}", "using": {"method": "jsonpath", "selector": "$.name"}}}]}]}
        ]}))
        .await;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(br#"{"name": "Ann"}"#).unwrap();
    let started = Instant::now();
    let response = client()
        .post(format!("http://127.0.0.1:{port}/"))
        .header("Content-Encoding", "gzip")
        .body(gzip.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(response.text().await.unwrap(), "hello Ann");

    let preflight = client()
        .request(
            reqwest::Method::OPTIONS,
            format!("http://127.0.0.1:{port}/"),
        )
        .header("Origin", "http://app.test")
        .header("Access-Control-Request-Method", "PUT")
        .header("Access-Control-Request-Headers", "X-Token")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://app.test"
    );
    assert_eq!(preflight.headers()["access-control-allow-methods"], "PUT");
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "X-Token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_imposters_with_and_without_client_certificates() {
    let admin = start(ImpostersConfig::default()).await;
    let (status, created) = admin
        .post("/imposters", json!({"protocol": "https", "mutualAuth": true, "stubs": [{"responses": [{"is": {"body": "secure"}}]}]}))
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(
        created["cert"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert_eq!(created["mutualAuth"], true);
    let port = created["port"].as_u64().unwrap();
    // A client certificate is asked for; any is accepted.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["client".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let identity =
        reqwest::Identity::from_pem(format!("{}{}", cert.pem(), key.serialize_pem()).as_bytes())
            .unwrap();
    let with_cert = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .identity(identity)
        .build()
        .unwrap();
    let body = with_cert
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "secure");
    let body = client()
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "secure");
    // A given key and cert are served and shown.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (status, created) = admin
        .post(
            "/imposters",
            json!({"protocol": "https", "key": key.serialize_pem(), "cert": cert.pem()}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["cert"], cert.pem());
    let (status, error) = admin
        .post(
            "/imposters",
            json!({"protocol": "https", "key": "nope", "cert": "nope"}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_record_and_replay() {
    let admin = start(ImpostersConfig::default()).await;
    let origin = admin
        .imposter(json!({"protocol": "http", "recordRequests": true, "stubs": [{"responses": [
            {"is": {"statusCode": 201, "headers": {"Content-Type": "application/json", "X-Origin": "yes"}, "body": {"n": 1}}},
            {"is": {"statusCode": 202, "body": "second"}}
        ]}]}))
        .await;
    let proxy = admin
        .imposter(json!({"protocol": "http", "stubs": [{"responses": [{"proxy": {
            "to": format!("http://127.0.0.1:{origin}"), "mode": "proxyOnce", "addWaitBehavior": true,
            "injectHeaders": {"X-Injected": "1"},
            "predicateGenerators": [{"matches": {"method": true, "path": true, "query": true}}]
        }}]}]}))
        .await;
    let first = call(proxy, "GET", "/things?WSDL").await;
    assert_eq!(
        (
            first.status().as_u16(),
            first.headers()["x-origin"].to_str().unwrap()
        ),
        (201, "yes")
    );
    assert_eq!(first.text().await.unwrap(), "{\n    \"n\": 1\n}");
    // Replayed, not proxied again: the origin would now say 202.
    let again = call(proxy, "GET", "/things?WSDL").await;
    assert_eq!(again.status(), 201);
    let (_, origin_seen) = admin.get(&format!("/imposters/{origin}")).await;
    assert_eq!(origin_seen["numberOfRequests"], 1);
    let forwarded = &origin_seen["requests"][0];
    assert_eq!(forwarded["query"], json!({"WSDL": ""}));
    assert_eq!(forwarded["headers"]["X-Injected"], "1");
    assert_eq!(forwarded["headers"]["Host"], format!("127.0.0.1:{origin}"));

    let (_, shown) = admin.get(&format!("/imposters/{proxy}")).await;
    let recorded = &shown["stubs"][0];
    assert_eq!(
        recorded["predicates"],
        json!([{"deepEquals": {"method": "GET"}}, {"deepEquals": {"path": "/things"}}, {"deepEquals": {"query": {"WSDL": ""}}}])
    );
    assert_eq!(recorded["responses"][0]["is"]["body"], json!({"n": 1}));
    assert_eq!(recorded["responses"][0]["is"]["_mode"], "text");
    assert!(recorded["responses"][0]["is"]["_proxyResponseTime"].is_number());
    assert_eq!(
        recorded["responses"][0]["behaviors"][0]["wait"],
        recorded["responses"][0]["is"]["_proxyResponseTime"]
    );
    assert!(shown["stubs"][1]["responses"][0]["proxy"].is_object());

    // The proxied exchange as http-types, for hmt build.
    let lines = admin
        .client
        .get(format!("{}/imposters/{proxy}?format=http-types", admin.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exchanges: Vec<hmt_types::Exchange> = lines
        .lines()
        .map(|line| hmt_types::Exchange::from_json_line(line).unwrap())
        .collect();
    assert_eq!(exchanges.len(), 1);
    assert_eq!(exchanges[0].request.path(), "/things?WSDL");
    assert_eq!(exchanges[0].response.as_ref().unwrap().status, 201);

    // removeProxies drops the proxy and keeps what it recorded.
    let (_, replayable) = admin
        .get(&format!(
            "/imposters/{proxy}?replayable=true&removeProxies=true"
        ))
        .await;
    assert_eq!(replayable["stubs"].as_array().unwrap().len(), 1);
    assert!(
        replayable["stubs"][0]["responses"][0]["is"]
            .get("_proxyResponseTime")
            .is_none()
    );
    // savedProxyResponses removes what was recorded and keeps the proxy.
    let (_, reset) = admin
        .delete(&format!("/imposters/{proxy}/savedProxyResponses"))
        .await;
    assert_eq!(reset["stubs"].as_array().unwrap().len(), 1);
    assert!(reset["stubs"][0]["responses"][0]["proxy"].is_object());

    // An origin that does not answer.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = admin.imposter(json!({"protocol": "http", "stubs": [{"responses": [{"proxy": {"to": format!("http://127.0.0.1:{closed}")}}]}]})).await;
    let failed = call(dead, "GET", "/").await;
    assert_eq!(failed.status(), 500);
    assert_eq!(
        serde_json::from_str::<Value>(&failed.text().await.unwrap()).unwrap()["errors"][0]["code"],
        "invalid proxy"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_always_groups_responses_by_predicates() {
    let admin = start(ImpostersConfig::default()).await;
    let origin = admin.imposter(json!({"protocol": "http", "stubs": [{"responses": [{"is": {"body": "1"}}, {"is": {"body": "2"}}]}]})).await;
    let proxy = admin
        .imposter(
            json!({"protocol": "http", "stubs": [{"responses": [{"proxy": {
                "to": format!("http://localhost:{origin}"), "mode": "proxyAlways",
                "predicateGenerators": [{"matches": {"path": true}}]
            }}]}]}),
        )
        .await;
    for expected in ["1", "2"] {
        assert_eq!(
            call(proxy, "GET", "/p").await.text().await.unwrap(),
            expected
        );
    }
    let (_, shown) = admin
        .get(&format!("/imposters/{proxy}?replayable=true"))
        .await;
    let stubs = shown["stubs"].as_array().unwrap();
    assert_eq!(stubs.len(), 2);
    assert_eq!(
        stubs[1]["predicates"],
        json!([{"deepEquals": {"path": "/p"}}])
    );
    let bodies: Vec<&Value> = stubs[1]["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["is"]["body"])
        .collect();
    assert_eq!(bodies, [&json!(1), &json!(2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imposters_survive_a_restart_with_a_datadir() {
    let dir = tempfile::tempdir().unwrap();
    let config = ImpostersConfig {
        datadir: Some(dir.path().to_path_buf()),
        ..ImpostersConfig::default()
    };
    let first = start(config.clone()).await;
    let gone = first.imposter(json!({"protocol": "http"})).await;
    first.delete(&format!("/imposters/{gone}")).await;
    let port = first
        .imposter(
            json!({"protocol": "http", "stubs": [{"responses": [{"is": {"body": "before"}}]}]}),
        )
        .await;
    first.post(&format!("/imposters/{port}/stubs"), json!({"index": 0, "stub": {"predicates": [{"equals": {"path": "/new"}}], "responses": [{"is": {"body": "added"}}]}})).await;
    assert!(dir.path().join(format!("{port}.json")).exists());
    assert!(!dir.path().join(format!("{gone}.json")).exists());
    // The server stops (as at exit) and a second one starts on the same datadir.
    first.api.imposters().shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
    let second = start(config).await;
    let (_, listed) = second.get("/imposters").await;
    assert_eq!(listed["imposters"].as_array().unwrap().len(), 1, "{listed}");
    let (status, shown) = second.get(&format!("/imposters/{port}")).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(
        call(port, "GET", "/new").await.text().await.unwrap(),
        "added"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_runs_when_injection_is_allowed() {
    let admin = start(ImpostersConfig {
        allow_injection: true,
        ..ImpostersConfig::default()
    })
    .await;
    let port = admin
        .imposter(json!({"protocol": "http", "stubs": [
            {"predicates": [{"inject": "config => config.request.headers['x-vip'] === 'yes'"}],
             "responses": [{"inject": "(config) => { config.state.calls = (config.state.calls || 0) + 1; return {statusCode: 202, body: 'vip ' + config.state.calls}; }"}]},
            {"predicates": [{"equals": {"path": "/decorated"}}],
             "responses": [{"is": {"body": "plain"}, "behaviors": [
                 {"wait": "() => 120"},
                 {"decorate": "(config) => { config.response.body = config.response.body.toUpperCase() + ' ' + config.request.path; }"}]}]},
            {"predicates": [{"equals": {"path": "/broken"}}], "responses": [{"inject": "() => { throw new Error('no luck'); }"}]},
            {"predicates": [{"equals": {"path": "/thrown"}}, {"inject": "() => { throw new Error('bad predicate'); }"}],
             "responses": [{"is": {"body": "never"}}]},
            {"predicates": [{"equals": {"path": "/thrown"}}], "responses": [{"is": {"body": "the next stub"}}]}
        ]}))
        .await;
    let vip = |n: &'static str| {
        let client = client();
        async move {
            let response = client
                .get(format!("http://127.0.0.1:{port}/"))
                .header("X-Vip", n)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(vip("yes").await, (202, "vip 1".to_string()));
    assert_eq!(vip("yes").await, (202, "vip 2".to_string()));
    assert_eq!(vip("no").await, (200, String::new()));
    let started = Instant::now();
    assert_eq!(
        call(port, "GET", "/decorated").await.text().await.unwrap(),
        "PLAIN /decorated"
    );
    assert!(started.elapsed() >= Duration::from_millis(120));
    let broken = call(port, "GET", "/broken").await;
    assert_eq!(broken.status(), 500);
    let error: Value = serde_json::from_str(&broken.text().await.unwrap()).unwrap();
    assert_eq!(error["errors"][0]["code"], "invalid injection");
    assert!(
        error["errors"][0]["data"]
            .as_str()
            .unwrap()
            .contains("no luck"),
        "{error}"
    );

    // A predicate's function that throws ends the search, as in mountebank:
    // an error answer, not the next stub that matches.
    let thrown = call(port, "GET", "/thrown").await;
    assert_eq!(thrown.status(), 500);
    let error: Value = serde_json::from_str(&thrown.text().await.unwrap()).unwrap();
    assert_eq!(error["errors"][0]["code"], "invalid injection", "{error}");
    assert_eq!(
        error["errors"][0]["message"], "invalid predicate injection",
        "{error}"
    );
    assert!(
        error["errors"][0]["data"]
            .as_str()
            .unwrap()
            .contains("bad predicate"),
        "{error}"
    );

    // A function that does not compile is refused when the stub is created.
    let (status, error) = admin
        .post(
            "/imposters",
            json!({"protocol": "http", "stubs": [{"predicates": [{"inject": "function ("}]}]}),
        )
        .await;
    assert_eq!(
        (status, &error["errors"][0]["code"]),
        (400, &json!("invalid injection")),
        "{error}"
    );

    // A proxy's recorded replays are decorated; what it proxied first is not.
    let proxy = admin
        .imposter(json!({"protocol": "http", "stubs": [{"responses": [{"proxy": {
            "to": format!("http://127.0.0.1:{port}"),
            "addDecorateBehavior": "(config) => { config.response.body = 'replayed: ' + config.response.body; }",
            "predicateGenerators": [{"inject": "config => [{equals: {path: config.request.path}}]"}]
        }}]}]}))
        .await;
    assert_eq!(
        call(proxy, "GET", "/decorated").await.text().await.unwrap(),
        "PLAIN /decorated"
    );
    let replay = call(proxy, "GET", "/decorated").await.text().await.unwrap();
    let (_, shown) = admin.get(&format!("/imposters/{proxy}")).await;
    assert_eq!(replay, "replayed: PLAIN /decorated", "{shown}");
    let (_, shown) = admin.get(&format!("/imposters/{proxy}")).await;
    assert_eq!(
        shown["stubs"][0]["predicates"],
        json!([{"equals": {"path": "/decorated"}}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shell_transform_runs_a_command_only_when_injection_is_allowed() {
    let definition = json!({"protocol": "http", "stubs": [{"responses": [{"is": {"body": "old text"}, "behaviors": [
        {"shellTransform": "sh -c 'echo \"$MB_RESPONSE\" | sed s/old/new/'"}
    ]}]}]});
    let refusing = start(ImpostersConfig::default()).await;
    let (status, error) = refusing.post("/imposters", definition.clone()).await;
    assert_eq!(
        (status, &error["errors"][0]["code"]),
        (400, &json!("invalid injection")),
        "{error}"
    );

    let admin = start(ImpostersConfig {
        allow_injection: true,
        ..ImpostersConfig::default()
    })
    .await;
    let port = admin.imposter(definition).await;
    assert_eq!(
        call(port, "GET", "/").await.text().await.unwrap(),
        "new text"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miss_is_kept_with_the_nearest_stub_and_why() {
    let admin = start(ImpostersConfig::default()).await;
    let port = admin
        .imposter(json!({"protocol": "http", "stubs": [
            {"predicates": [{"equals": {"method": "DELETE"}}], "responses": [{"is": {"body": "gone"}}]},
            {"predicates": [{"equals": {"method": "GET"}}, {"equals": {"path": "/orders"}}], "responses": [{"is": {"body": "orders"}}]}
        ]}))
        .await;
    assert_eq!(call(port, "GET", "/order").await.text().await.unwrap(), "");
    assert_eq!(
        call(port, "GET", "/orders").await.text().await.unwrap(),
        "orders"
    );
    let (status, misses) = admin.get(&format!("/imposters/{port}/misses")).await;
    assert_eq!(status, 200);
    let misses = misses["misses"].as_array().unwrap();
    assert_eq!(misses.len(), 1, "{misses:?}");
    assert_eq!(misses[0]["request"]["path"], "/order");
    assert_eq!(
        misses[0]["nearestStub"],
        json!({"index": 1, "refused": [{"index": 1, "predicate": {"equals": {"path": "/orders"}},
            "why": "equals: path should equal \"/orders\"; the request has \"/order\""}]})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_mode_shows_what_each_stub_answered() {
    let admin = start(ImpostersConfig {
        debug: true,
        ..ImpostersConfig::default()
    })
    .await;
    let port = admin.imposter(json!({"protocol": "http", "stubs": [{"responses": [{"is": {"statusCode": 202, "body": "seen"}}]}]})).await;
    call(port, "GET", "/first").await;
    let (_, shown) = admin.get(&format!("/imposters/{port}")).await;
    let matches = shown["stubs"][0]["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1);
    assert_eq!(matches[0]["request"]["path"], "/first");
    assert_eq!(matches[0]["response"]["statusCode"], 202);
    assert_eq!(matches[0]["response"]["body"], "seen");
    // Not part of what recreates the imposter.
    let (_, replayable) = admin
        .get(&format!("/imposters/{port}?replayable=true"))
        .await;
    assert!(replayable["stubs"][0].get("matches").is_none());
}

/// Loads specs as `hmt mock PATH` does (recordings need `hmt build`'s
/// replay engine, which the command line brings).
struct SpecsOnly;

impl hmt_imposters::SourceLoader for SpecsOnly {
    fn load(&self, sources: &hmt_imposters::Sources) -> Result<hmt_mock::Loaded, String> {
        if !sources.recordings.is_empty() {
            return Err("recordings are not loaded here".to_string());
        }
        hmt_mock::load(&sources.specs)
            .map(hmt_mock::Loaded::new)
            .map_err(|error| error.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imposter_backed_by_a_spec_answers_what_its_stubs_do_not() {
    let spec =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/mock/catalogue.yaml");
    let admin = start(ImpostersConfig {
        sources: Some(Arc::new(SpecsOnly)),
        ..ImpostersConfig::default()
    })
    .await;
    let definition = json!({"protocol": "http", "hmt": {"specs": [spec.to_str().unwrap()]},
        "stubs": [{"predicates": [{"equals": {"path": "/categories/pinned"}}], "responses": [{"is": {"body": "from a stub"}}]}]});
    let port = admin.imposter(definition.clone()).await;
    // Stubs first.
    assert_eq!(
        call(port, "GET", "/categories/pinned")
            .await
            .text()
            .await
            .unwrap(),
        "from a stub"
    );
    // Then the spec: generated data that fits the schema.
    let listed = call(port, "GET", "/products").await;
    assert_eq!(listed.status(), 200);
    let body: Value = serde_json::from_str(&listed.text().await.unwrap()).unwrap();
    assert!(body["items"].is_array() && body["total"].is_u64(), "{body}");
    // The spec validates: an undocumented path is the mock's 404.
    assert_eq!(call(port, "GET", "/nowhere").await.status(), 404);
    // The extension field reads back as it was given.
    let (_, shown) = admin
        .get(&format!("/imposters/{port}?replayable=true"))
        .await;
    assert_eq!(shown["hmt"], definition["hmt"]);

    let (status, error) = admin
        .post(
            "/imposters",
            json!({"protocol": "http", "hmt": {"specs": ["/no/such/spec.yaml"]}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        error["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/no/such/spec.yaml"),
        "{error}"
    );
    let (status, error) = admin
        .post(
            "/imposters",
            json!({"protocol": "http", "hmt": {"spec": ["x"]}}),
        )
        .await;
    assert_eq!(
        (
            status,
            error["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("hmt.spec")
        ),
        (400, true)
    );
    let refusing = start(ImpostersConfig::default()).await;
    let (status, _) = refusing.post("/imposters", definition).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn chunks_stream_a_body_over_time() {
    let admin = start(ImpostersConfig::default()).await;
    let port = admin
        .imposter(json!({"protocol": "http", "stubs": [{"responses": [{"is": {
            "headers": {"Content-Type": "text/event-stream"},
            "chunks": [{"data": "data: 1\n\n"}, {"data": "data: 2\n\n", "waitMs": 300}]
        }}]}]}))
        .await;
    let started = std::time::Instant::now();
    let mut response = call(port, "GET", "/events").await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(response.headers().get("content-length").is_none());
    let first = response.chunk().await.unwrap().unwrap();
    let first_at = started.elapsed();
    let second = response.chunk().await.unwrap().unwrap();
    let second_at = started.elapsed();
    assert_eq!(
        (&first[..], &second[..]),
        (&b"data: 1\n\n"[..], &b"data: 2\n\n"[..])
    );
    assert!(
        first_at < std::time::Duration::from_millis(250),
        "{first_at:?}"
    );
    assert!(
        second_at >= std::time::Duration::from_millis(300),
        "{second_at:?}"
    );
    // A chunk that is not text is refused where it is.
    let (status, error) = admin
        .post(
            "/imposters",
            json!({"protocol": "http", "stubs": [{"responses": [{"is": {"chunks": [{"data": 1}]}}]}]}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(error["errors"][0]["code"], "bad data");
    assert!(
        error["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("/stubs/0/responses/0/is/chunks/0/data"),
        "{error}"
    );
}

/// Injected JavaScript runs off the async I/O threads: with one worker, a
/// request to another imposter made while a script busy-waits for 1.5 s is
/// answered long before the script ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_slow_script_does_not_hold_up_another_imposter() {
    let admin = start(ImpostersConfig {
        allow_injection: true,
        ..ImpostersConfig::default()
    })
    .await;
    let slow = admin
        .imposter(json!({"protocol": "http", "stubs": [{"responses": [{"inject":
            "() => { const end = Date.now() + 1500; while (Date.now() < end) {} return {statusCode: 200, body: 'slow'}; }"}]}]}))
        .await;
    let quick = admin
        .imposter(
            json!({"protocol": "http", "stubs": [{"responses": [{"is": {"body": "quick"}}]}]}),
        )
        .await;
    let started = Instant::now();
    let slow = tokio::spawn(async move { call(slow, "GET", "/").await.text().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(call(quick, "GET", "/").await.text().await.unwrap(), "quick");
    let quick_at = started.elapsed();
    assert!(
        quick_at < Duration::from_millis(1_200),
        "the other imposter answered {quick_at:?} after the script started: it waited for it"
    );
    assert_eq!(slow.await.unwrap(), "slow");
}
