//! The page on `hmt mock`'s admin port, read by a real browser: the real
//! binary serves `fixtures/mock/items.yaml`, requests reach it over
//! loopback, and headless Chromium (Debian's `chromium`, installed by
//! `scripts/setup-system.sh`) loads the page, runs its script against the
//! admin API and dumps the DOM it built, then takes a screenshot; and, driven
//! over the DevTools protocol, keeps the page open while requests arrive.

mod common;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `hmt mock`, killed when dropped.
struct MockServer {
    child: Child,
    base: String,
    admin: String,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `hmt mock -p 0 -a 0 fixtures/mock/items.yaml` and waits for its banner.
fn start() -> MockServer {
    // Named from the repository's root, as the page shows it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_hmt"))
        .args(["mock", "-p", "0", "-a", "0", "fixtures/mock/items.yaml"])
        .current_dir(common::repo_root())
        .env(
            "HMT_HOME",
            std::env::temp_dir().join("hmt-admin-page-test-home"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hmt mock");
    let lines = common::stderr_lines(&mut child);
    let ((base, admin, _), _) =
        common::wait_for_mock_banner(&mut child, &lines, Duration::from_secs(20));
    MockServer { base, admin, child }
}

/// A response, read whole.
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text))
    }
}

fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    // reqwest is built without a crypto provider: this workspace has one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut request = client.request(method.parse().unwrap(), url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body.to_owned());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("{method} {url}: {error}"));
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    })
}

/// Debian's `chromium` on `PATH`. Missing, the test fails saying how to
/// install it: a browser test that cannot run must not pass.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed (not found on PATH); this test runs the admin page \
                 in a real browser: run scripts/setup-system.sh, which installs Debian's chromium package"
            )
        })
}

/// Runs headless Chromium on `url` with `args`, in a profile of its own,
/// and returns what it wrote on stdout. Killed after 90 s.
fn headless_chromium(url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let (status, out, err) = common::finish_within(&mut child, Duration::from_secs(90));
    let status = status.unwrap_or_else(|| panic!("chromium did not finish with {url} within 90 s"));
    assert!(status.success(), "chromium failed ({status}): {err}");
    out
}

/// The `<tr>` of the dumped DOM whose request cell is `request`.
fn row<'a>(dom: &'a str, request: &str) -> &'a str {
    let cell = format!(">{request}</td>");
    dom.split("<tr")
        .find(|row| row.contains(&cell))
        .unwrap_or_else(|| panic!("no row for {request} in the page:\n{dom}"))
}

#[test]
fn the_page_shows_operations_imposters_and_each_request_with_what_answered_it() {
    let mock = start();
    assert_eq!(
        call("GET", &format!("{}/items", mock.base), &[], None).status,
        200
    );
    assert_eq!(
        call("GET", &format!("{}/nowhere", mock.base), &[], None).status,
        404
    );
    let refused = call(
        "POST",
        &format!("{}/items", mock.base),
        &[("content-type", "application/json")],
        Some(r#"{"name": "<img src=x onerror=alert(1)> is a long name"}"#),
    );
    assert_eq!(refused.status, 400, "{}", refused.text);
    // An imposter whose stub and name hold markup, and a request it misses.
    let imposter = call(
        "POST",
        &format!("{}/imposters", mock.admin),
        &[("content-type", "application/json")],
        Some(
            &json!({"protocol": "http", "name": "<b>shop</b>", "stubs": [{
                "predicates": [{"equals": {"path": "/<script>alert(1)</script>"}}],
                "responses": [{"is": {"body": "hi"}}]
            }]})
            .to_string(),
        ),
    );
    assert_eq!(imposter.status, 201, "{}", imposter.text);
    let port = imposter.json()["port"].as_u64().unwrap();
    call("GET", &format!("http://127.0.0.1:{port}/other"), &[], None);

    let page = format!("{}/", mock.admin);
    let dom = headless_chromium(&page, &["--dump-dom"]);

    // The operations of the spec.
    for operation in ["listItems", "createItem", "getItem"] {
        assert!(
            dom.contains(&format!("<td>{operation}</td>")),
            "{operation}:\n{dom}"
        );
    }
    assert!(
        dom.contains("Live: 1 spec, 3 operations, 1 imposter"),
        "{dom}"
    );
    // Each request with what answered it, newest first.
    let example = row(&dom, "GET /items");
    assert!(
        example.contains(r#"<td class="status">200</td>"#),
        "{example}"
    );
    assert!(
        example.contains(r#"<span class="answered">example</span>"#),
        "{example}"
    );
    let unmatched = row(&dom, "GET /nowhere");
    assert!(
        unmatched.contains(r#"<td class="status">404</td>"#),
        "{unmatched}"
    );
    assert!(
        unmatched.contains(r#"<span class="missed">no match</span>"#),
        "{unmatched}"
    );
    assert!(
        unmatched.contains("closest: GET /items/{id}, GET /items, POST /items"),
        "{unmatched}"
    );
    let invalid = row(&dom, "POST /items");
    assert!(
        invalid.contains(r#"<span class="missed">refused</span>"#),
        "{invalid}"
    );
    assert!(
        invalid.contains("is longer than 20 characters"),
        "{invalid}"
    );
    let order = ["POST /items", "GET /nowhere", "GET /items<"]
        .map(|request| dom.find(&format!(">{request}")).unwrap());
    assert!(
        order[0] < order[1] && order[1] < order[2],
        "newest first: {order:?}"
    );
    // The imposter, its stub and the request no stub matched, with why.
    assert!(
        dom.contains(&format!("http imposter on port {port}")),
        "{dom}"
    );
    assert!(
        dom.contains(r#"nearest stub 0: equals: path should equal "/&lt;script&gt;alert(1)&lt;/script&gt;"; the request has "/other""#),
        "{dom}"
    );
    // Text from requests and stubs stayed text: no element came of it.
    assert!(
        invalid.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{invalid}"
    );
    assert!(dom.contains("&lt;b&gt;shop&lt;/b&gt;"), "{dom}");
    for markup in ["<img", "<b>", "<script>alert"] {
        assert!(!dom.contains(markup), "{markup} became markup:\n{dom}");
    }

    // The screenshot, kept as the test's artefact.
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("admin-page.png");
    let _ = std::fs::remove_file(&screenshot);
    headless_chromium(
        &page,
        &[
            &format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,900",
        ],
    );
    let png = std::fs::read(&screenshot)
        .unwrap_or_else(|error| panic!("no screenshot at {}: {error}", screenshot.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 10_000, "an empty page? {} bytes", png.len());
    eprintln!("admin page screenshot: {}", screenshot.display());
}

#[test]
fn get_slash_stays_json_for_json_clients_and_the_page_loads_nothing_from_elsewhere() {
    let mock = start();
    let json = call(
        "GET",
        &format!("{}/", mock.admin),
        &[("accept", "application/json")],
        None,
    );
    assert_eq!(json.status, 200);
    assert_eq!(
        json.header("content-type"),
        "application/json; charset=utf-8"
    );
    let host = mock.admin.trim_start_matches("http://");
    assert_eq!(
        json.json(),
        json!({"_links": {
            "imposters": {"href": format!("http://{host}/imposters")},
            "config": {"href": format!("http://{host}/config")},
            "logs": {"href": format!("http://{host}/logs")},
        }})
    );

    let page = call(
        "GET",
        &format!("{}/", mock.admin),
        &[("accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
        None,
    );
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(
        page.header("content-security-policy")
            .contains("script-src 'self'"),
        "{:?}",
        page.headers
    );
    // No Accept at all (curl's */*, a bare client) gets the page too.
    assert!(
        call("GET", &format!("{}/", mock.admin), &[], None)
            .text
            .contains("<title>hmt mock</title>")
    );

    // The page, its script and its style name no other host: every link
    // is a path on the admin port, and no http(s) URL appears at all.
    let assets: Vec<(String, String)> = ["/", "/admin/page/page.js", "/admin/page/page.css"]
        .iter()
        .map(|path| {
            let reply = call("GET", &format!("{}{path}", mock.admin), &[], None);
            assert_eq!(reply.status, 200, "{path}");
            (path.to_string(), reply.text)
        })
        .collect();
    for (path, text) in &assets {
        let lower = text.to_ascii_lowercase();
        for scheme in ["http://", "https://", "url("] {
            assert!(!lower.contains(scheme), "{path} names {scheme}:\n{text}");
        }
    }
    let html = &assets[0].1;
    let mut links = 0;
    for attribute in [" src=\"", " href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let value = &html[at + attribute.len()..];
            assert!(
                value.starts_with('/') && !value.starts_with("//"),
                "a link off the admin port: {}",
                &value[..value.find('"').unwrap_or(value.len())]
            );
            links += 1;
        }
    }
    assert!(links >= 2, "the page links its script and style");
}

/// Headless Chromium driven over the DevTools protocol through
/// `--remote-debugging-pipe` (commands on its fd 3, answers on its fd 4,
/// one JSON message per NUL). Hand-written because the test needs three
/// commands; a CDP client crate would bring a WebSocket stack for them.
struct Browser {
    child: Child,
    commands: std::io::PipeWriter,
    messages: std::sync::mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens `url` in a new headless Chromium.
    fn open(url: &str) -> Browser {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let profile = tempfile::tempdir().unwrap();
        let (commands_read, commands) = std::io::pipe().unwrap();
        let (messages_read, messages_write) = std::io::pipe().unwrap();
        let (child_reads, child_writes) = (commands_read.as_raw_fd(), messages_write.as_raw_fd());
        let mut command = Command::new(chromium());
        command
            .args([
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only fcntl and dup2 run, both
        // async-signal-safe; they put the pipe ends on the fds Chromium
        // reads (3) and writes (4), moved above 9 first so that placing
        // one cannot overwrite the other.
        unsafe {
            command.pre_exec(move || {
                let reads = libc::fcntl(child_reads, libc::F_DUPFD, 10);
                let writes = libc::fcntl(child_writes, libc::F_DUPFD, 10);
                if reads < 0 || writes < 0 || libc::dup2(reads, 3) < 0 || libc::dup2(writes, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start chromium");
        // Only Chromium holds these ends now: its exit ends the reader.
        drop((commands_read, messages_write));
        let (sender, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut reader = std::io::BufReader::new(messages_read);
            let mut message = Vec::new();
            while reader
                .read_until(0, &mut message)
                .is_ok_and(|read| read > 0)
            {
                message.pop_if(|last| *last == 0);
                if let Ok(value) = serde_json::from_slice(&message)
                    && sender.send(value).is_err()
                {
                    break;
                }
                message.clear();
            }
        });
        let mut browser = Browser {
            child,
            commands,
            messages,
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let target = browser.send("Target.createTarget", json!({"url": url}));
        let attached = browser.send(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_owned();
        browser
    }

    /// Sends a command (to the page once attached) and waits (10 s at
    /// most) for its result.
    fn send(&mut self, method: &str, params: Value) -> Value {
        use std::io::Write;
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).expect("write to chromium");
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.messages.recv_timeout(left) {
                Ok(answer) if answer["id"] == id => {
                    assert!(answer.get("error").is_none(), "{method}: {answer}");
                    return answer["result"].clone();
                }
                Ok(_event) => {}
                Err(error) => panic!("{method}: no answer from chromium: {error}"),
            }
        }
        panic!("{method}: no answer from chromium within 10 s");
    }

    /// The value of a JavaScript expression in the page.
    fn evaluate(&mut self, expression: &str) -> Value {
        let result = self.send(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// Waits (`within` at most) for an expression to be true in the page.
    fn wait_for(&mut self, expression: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.evaluate(expression) == json!(true) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let page = self.evaluate("document.body.innerText");
        panic!(
            "not true within {within:?}: {expression}\npage:\n{}",
            page.as_str().unwrap_or("")
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_open_page_shows_new_requests_by_itself_and_redraws_only_what_changed() {
    let mock = start();
    assert_eq!(
        call("GET", &format!("{}/items", mock.base), &[], None).status,
        200
    );
    let mut browser = Browser::open(&format!("{}/", mock.admin));
    let rows = "document.querySelectorAll('#requests-rows tr').length";
    browser.wait_for(&format!("{rows} === 1"), Duration::from_secs(10));
    // Marks on what is drawn now: a redraw replaces the marked nodes.
    browser.evaluate(
        "document.querySelector('#requests-rows tr').dataset.mark = 'first'; \
         document.querySelector('#specs-list .spec').dataset.mark = 'first'",
    );
    let marked = |section: &str| {
        format!("document.querySelector('{section}[data-mark=\"first\"]') !== null")
    };
    // Nothing changes for more than two polls: nothing is redrawn.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(browser.evaluate(&marked("#requests-rows tr")), json!(true));

    // A new request shows up without a reload, newest first.
    assert_eq!(
        call("GET", &format!("{}/nowhere", mock.base), &[], None).status,
        404
    );
    browser.wait_for(&format!("{rows} === 2"), Duration::from_secs(5));
    let first = browser.evaluate("document.querySelector('#requests-rows tr').innerText");
    let first = first.as_str().unwrap();
    assert!(
        first.contains("GET /nowhere") && first.contains("no match"),
        "{first}"
    );
    // The requests were redrawn; the specs, unchanged, were not.
    assert_eq!(browser.evaluate(&marked("#requests-rows tr")), json!(false));
    assert_eq!(browser.evaluate(&marked("#specs-list .spec")), json!(true));
}
