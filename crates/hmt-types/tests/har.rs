//! HAR against the bundled exports of real tools, and JSONL -> HAR -> JSONL
//! on every bundled recording.

use hmt_types::{
    Exchange, Fields, Format, HarReader, HarWriter, Input, JsonlWriter, Method, Protocol, Request,
    Response,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_all(path: &Path) -> (Format, Vec<Exchange>) {
    let input = Input::open(path.to_str().expect("utf-8 path")).expect("open");
    let format = input.format;
    let mut exchanges = input.exchanges();
    let all = exchanges
        .by_ref()
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert!(
        exchanges.warnings().is_empty(),
        "{:?}",
        exchanges.warnings()
    );
    (format, all)
}

/// Files ending in `.ext` under `dir`, recursively, sorted.
fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// The members HAR 1.2 requires of an entry.
const ENTRY_KEYS: [&str; 6] = [
    "startedDateTime",
    "time",
    "request",
    "response",
    "cache",
    "timings",
];

/// Checks what HAR 1.2 requires of a log and its entries (what Chrome's
/// and Firefox's importers read), and that custom fields start with `_`.
fn assert_valid_har(doc: &Value, context: &str) {
    let log = &doc["log"];
    assert_eq!(log["version"], "1.2", "{context}");
    assert!(log["creator"]["name"].is_string() && log["creator"]["version"].is_string());
    let entries = log["entries"].as_array().expect("entries");
    for (i, entry) in entries.iter().enumerate() {
        let at = format!("{context}: /log/entries/{i}");
        let has = |value: &Value, keys: &[&str]| {
            for key in keys {
                assert!(value.get(key).is_some(), "{at}: no {key} in {value}");
            }
        };
        has(entry, &ENTRY_KEYS);
        assert!(entry["time"].is_number(), "{at}");
        let started = entry["startedDateTime"].as_str().expect("string");
        assert!(hmt_types::format::is_date_time(started), "{at}: {started}");
        let request = &entry["request"];
        has(
            request,
            &[
                "method",
                "url",
                "httpVersion",
                "cookies",
                "headers",
                "queryString",
                "headersSize",
                "bodySize",
            ],
        );
        assert!(
            request["url"]
                .as_str()
                .is_some_and(hmt_types::format::is_url)
                || request["url"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("http")),
            "{at}: {}",
            request["url"]
        );
        let response = &entry["response"];
        has(
            response,
            &[
                "status",
                "statusText",
                "httpVersion",
                "cookies",
                "headers",
                "content",
                "redirectURL",
                "headersSize",
                "bodySize",
            ],
        );
        has(&response["content"], &["size", "mimeType"]);
        has(&entry["timings"], &["send", "wait", "receive"]);
        for pairs in [
            &request["headers"],
            &request["queryString"],
            &response["headers"],
        ] {
            for pair in pairs.as_array().expect("array") {
                assert!(
                    pair["name"].is_string() && pair["value"].is_string(),
                    "{at}: {pair}"
                );
            }
        }
        if let Some(post) = request.get("postData") {
            has(post, &["mimeType", "text"]);
        }
        // Custom fields start with `_` (HAR 1.2's rule).
        let optional = ["pageref", "serverIPAddress", "connection", "comment"];
        for key in entry.as_object().expect("object").keys() {
            let key = key.as_str();
            assert!(
                ENTRY_KEYS.contains(&key) || optional.contains(&key) || key.starts_with('_'),
                "{at}: {key}"
            );
        }
    }
}

#[test]
fn exports_of_chrome_firefox_mitmproxy_and_playwright_read_as_their_jsonl() {
    let mut hars = Vec::new();
    files(&repo_root().join("fixtures/har"), "har", &mut hars);
    let names: Vec<_> = hars
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["chrome", "firefox", "mitmproxy", "playwright"]);
    for har in &hars {
        let (format, from_har) = read_all(har);
        assert_eq!(format, Format::Har, "{}", har.display());
        let (format, from_jsonl) = read_all(&har.with_extension("jsonl"));
        assert_eq!(format, Format::Jsonl);
        assert_eq!(from_har, from_jsonl, "{}", har.display());
        let doc: Value = serde_json::from_slice(&std::fs::read(har).unwrap()).unwrap();
        let entries = doc["log"]["entries"].as_array().unwrap().len();
        assert_eq!(
            from_har.len(),
            entries,
            "{}: one exchange per entry",
            har.display()
        );
    }

    // What each export shows off.
    let read = |name: &str| read_all(&repo_root().join(format!("fixtures/har/{name}.har"))).1;
    let chrome = read("chrome");
    assert!(
        chrome
            .iter()
            .all(|x| x.request.headers.iter().all(|(n, _)| !n.starts_with(':')))
    );
    let png = chrome[1]
        .response
        .as_ref()
        .unwrap()
        .body
        .as_deref()
        .unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && std::str::from_utf8(png).is_err());
    assert_eq!(chrome[4].response, None, "status 0, blocked by the client");
    assert_eq!(chrome[0].request.query.get("tag"), Some("dog"));
    let firefox = read("firefox");
    assert_eq!(
        firefox[1].request.body_text(),
        Some("user=ann+lee&password=s3cret%26more")
    );
    let multipart = firefox[2].request.body_text().unwrap();
    assert!(
        multipart.contains("name=\"file\"; filename=\"rex.png\"\r\nContent-Type: image/png"),
        "{multipart}"
    );
    assert_eq!(
        firefox[3].response.as_ref().unwrap().body,
        None,
        "no text saved"
    );
    assert_eq!(
        firefox[0].request.timestamp.as_deref(),
        Some("2024-05-02T09:00:00.100+02:00")
    );
    let mitm = read("mitmproxy");
    assert_eq!(
        mitm[0].request.host.as_deref(),
        Some("api.petshop.test:8080")
    );
    assert_eq!(mitm[0].request.protocol, Some(Protocol::Http));
    assert_eq!(
        mitm[0]
            .response
            .as_ref()
            .unwrap()
            .headers
            .get_all("set-cookie")
            .len(),
        2
    );
    assert_eq!(
        mitm[1].response.as_ref().unwrap().body.as_deref(),
        Some(png)
    );
    let playwright = read("playwright");
    assert_eq!(playwright[0].request.query.get_all("tag"), &["dog", "cat"]);
    assert_eq!(playwright[2].request.method, Method::Delete);
    assert_eq!(playwright[2].response.as_ref().unwrap().body, None);
}

#[test]
fn har_is_detected_by_content_gzip_or_not_whatever_the_name() {
    let har = std::fs::read(repo_root().join("fixtures/har/playwright.har")).unwrap();
    let (_, want) = read_all(&repo_root().join("fixtures/har/playwright.har"));
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&har).unwrap();
    let gz = gz.finish().unwrap();
    for (name, bytes) in [
        ("session.har.gz", &gz),
        ("recording.jsonl", &har),
        ("no-extension", &gz),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let (format, got) = read_all(&path);
        assert_eq!(format, Format::Har, "{name}");
        assert_eq!(got, want, "{name}");
    }
    // A byte source that is not a file (stdin): the same.
    let input = Input::from_reader("<stdin>", std::io::Cursor::new(gz), None).unwrap();
    assert_eq!(input.format, Format::Har);
    let got: Vec<Exchange> = input.exchanges().map(Result::unwrap).collect();
    assert_eq!(got, want);
}

/// The canonical JSONL of `exchanges`.
fn jsonl(exchanges: &[Exchange]) -> Vec<u8> {
    let mut out = JsonlWriter::new(Vec::new());
    for x in exchanges {
        out.write(x).unwrap();
    }
    out.into_inner()
}

fn har(exchanges: &[Exchange]) -> Vec<u8> {
    let mut out = HarWriter::new(Vec::new()).unwrap();
    for x in exchanges {
        out.write(x).unwrap();
    }
    out.finish().unwrap()
}

#[test]
fn every_bundled_recording_goes_to_har_and_back_byte_for_byte() {
    let root = repo_root();
    let mut recordings = Vec::new();
    files(&root.join("fixtures"), "jsonl", &mut recordings);
    files(&root.join("logs"), "jsonl", &mut recordings);
    // fixtures/ holds HMT 0.3.2's recordings too (fixtures/hmt).
    assert!(
        recordings
            .iter()
            .any(|path| path.starts_with(root.join("fixtures/hmt"))),
        "no HMT recordings under {}",
        root.join("fixtures/hmt").display()
    );
    assert!(recordings.len() >= 15, "found only {recordings:?}");
    let mut total = 0;
    for path in &recordings {
        let (_, exchanges) = read_all(path);
        let canonical = jsonl(&exchanges);
        let har_bytes = har(&exchanges);
        assert_eq!(
            har(&exchanges),
            har_bytes,
            "{}: deterministic",
            path.display()
        );
        let doc: Value = serde_json::from_slice(&har_bytes)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        assert_valid_har(&doc, &path.display().to_string());
        let input = Input::from_reader("rt.har", std::io::Cursor::new(har_bytes), None).unwrap();
        assert_eq!(input.format, Format::Har);
        let back: Vec<Exchange> = input.exchanges().map(|e| e.unwrap()).collect();
        let again = jsonl(&back);
        assert!(
            again == canonical,
            "{}: JSONL -> HAR -> JSONL changed the bytes:\n{}\nvs\n{}",
            path.display(),
            String::from_utf8_lossy(&again[..again.len().min(2000)]),
            String::from_utf8_lossy(&canonical[..canonical.len().min(2000)])
        );
        total += exchanges.len();
    }
    assert!(total >= 700, "only {total} exchanges");
}

#[test]
fn an_empty_recording_is_an_empty_har_and_back() {
    let bytes = har(&[]);
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        format!("{}\n]}}}}\n", hmt_types::har::HEADER)
    );
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["log"]["entries"], json!([]));
    assert_eq!(
        HarReader::new(std::io::Cursor::new(bytes), "e.har").count(),
        0
    );
}

// ---- any exchange survives the trip --------------------------------------------------

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _./:?#&=%+-]{0,12}",
        any::<String>(),
        Just(String::new()),
    ]
}

fn arb_fields(names: &'static str) -> impl Strategy<Value = Fields> {
    proptest::collection::vec((names, proptest::collection::vec(arb_text(), 0..3)), 0..4)
        .prop_map(Fields::from_entries)
}

fn arb_body() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(prop_oneof![
        arb_text().prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..40),
    ])
}

fn arb_opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        Just("2024-01-02T03:04:05.678Z".to_owned()),
        Just("2024-01-02T03:04:05+02:00".to_owned()),
        arb_text(),
    ])
}

prop_compose! {
    fn arb_exchange()(
        method in proptest::sample::select(Method::ALL.to_vec()),
        protocol in proptest::option::of(prop_oneof![Just(Protocol::Http), Just(Protocol::Https)]),
        host in proptest::option::of(prop_oneof![
            Just("api.example.com:8443".to_owned()),
            Just("[::1]:80".to_owned()),
            arb_text(),
        ]),
        url in arb_opt_text(),
        path in prop_oneof!["/[a-z0-9%/.]{0,10}(\\?[a-z=&%+]{0,8})?", Just("*".to_owned()), arb_text()],
        query_apart in proptest::option::of(arb_fields("[a-z]{1,3}")),
        headers in arb_fields("[:a-zA-Z][a-zA-Z0-9-]{0,6}"),
        request_body in arb_body(),
        request_timestamp in arb_opt_text(),
        status in 100u16..1000,
        response_headers in arb_fields("[:a-zA-Z][a-zA-Z0-9-]{0,6}"),
        response_body in arb_body(),
        response_timestamp in arb_opt_text(),
        has_response in any::<bool>(),
        latency in proptest::option::of(prop_oneof![Just(json!(12)), Just(json!(0.5)), Just(json!("x")), Just(json!(-3))]),
    ) -> Exchange {
        let mut request = Request::new(method, &path);
        request.protocol = protocol;
        request.host = host;
        request.url = url;
        if let Some(query) = query_apart {
            request.query = query;
        }
        request.headers = headers;
        request.body = request_body;
        request.timestamp = request_timestamp;
        let response = has_response.then_some(Response {
            status,
            headers: response_headers,
            body: response_body,
            timestamp: response_timestamp,
        });
        let mut meta = serde_json::Map::new();
        if let Some(latency) = latency {
            meta.insert("latencyMs".into(), latency);
        }
        Exchange { request, response, meta }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_exchange_reads_back_from_har_as_it_was(exchanges in proptest::collection::vec(arb_exchange(), 0..4)) {
        let bytes = har(&exchanges);
        let doc: Value = serde_json::from_slice(&bytes).expect("HAR is JSON");
        assert_valid_har(&doc, "generated");
        let back: Vec<Exchange> = HarReader::new(std::io::Cursor::new(bytes.clone()), "p.har")
            .map(|e| e.expect("reads back"))
            .collect();
        prop_assert_eq!(&back, &exchanges);
        prop_assert_eq!(jsonl(&back), jsonl(&exchanges));
        prop_assert_eq!(har(&back), bytes);
    }
}
