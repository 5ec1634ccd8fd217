//! `hmt record` and the certificates of real staging servers, the CA's key
//! on disk, and listening beyond loopback: the real binary, real TLS
//! upstreams on 127.0.0.1 (tokio-rustls), curl as the client, and what the
//! user sees on the wire, on stderr and in the recordings.

mod common_record;

use bytes::Bytes;
use common_record::*;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

// ---- helpers -----------------------------------------------------------------------------

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// A certificate and its key, as PEM files in a directory.
struct Identity {
    cert: PathBuf,
    key: PathBuf,
}

fn write_identity(dir: &Path, name: &str, cert_pem: &str, key_pem: &str) -> Identity {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    Identity { cert, key }
}

/// `openssl ARGS` in `dir`, which must succeed; its stdout.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (install the Debian package openssl): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `openssl req -x509 ...` as staging servers' certificates are made, in
/// `dir/<name>.pem` and `dir/<name>-key.pem`, with `extra` arguments.
fn openssl_self_signed(dir: &Path, name: &str, extra: &[&str]) -> Identity {
    let cert = format!("{name}.pem");
    let key = format!("{name}-key.pem");
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &cert,
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ];
    args.extend_from_slice(extra);
    openssl(dir, &args);
    Identity {
        cert: dir.join(cert),
        key: dir.join(key),
    }
}

/// What `openssl x509 -text` says of a certificate's basic constraints.
fn basic_constraints(dir: &Path, cert: &Path) -> String {
    let text = openssl(
        dir,
        &["x509", "-noout", "-text", "-in", cert.to_str().unwrap()],
    );
    let mut lines = text.lines();
    lines
        .find(|l| l.contains("X509v3 Basic Constraints"))
        .and_then(|_| lines.next())
        .map(|l| l.trim().to_owned())
        .unwrap_or_default()
}

/// A calendar date: year, month, day.
type Ymd = (i32, u8, u8);

/// A self-signed leaf made by rcgen (no basicConstraints: not a CA) for
/// `names`, valid over `validity` (`None`: the rcgen default, 1975–4096).
fn rcgen_self_signed(
    dir: &Path,
    name: &str,
    names: &[&str],
    validity: Option<(Ymd, Ymd)>,
) -> Identity {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    if let Some((from, to)) = validity {
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    }
    let cert = params.self_signed(&key).unwrap();
    write_identity(dir, name, &cert.pem(), &key.serialize_pem())
}

/// A CA (`dir/<name>-ca.pem`) and a server certificate for localhost and
/// 127.0.0.1 that it signed.
fn rcgen_ca_and_leaf(dir: &Path, name: &str) -> (PathBuf, Identity) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "staging CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
    let ca_path = dir.join(format!("{name}-ca.pem"));
    std::fs::write(&ca_path, ca.pem()).unwrap();
    (
        ca_path,
        write_identity(dir, name, &leaf.pem(), &leaf_key.serialize_pem()),
    )
}

/// An HTTPS server on 127.0.0.1 with `identity`, answering every request
/// with `200 <body>`; it runs as long as the returned runtime.
fn https_server(identity: &Identity, body: &'static str) -> (tokio::runtime::Runtime, SocketAddr) {
    install_crypto();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&identity.cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&identity.key).unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    serve_tls(config, body)
}

fn serve_tls(
    mut config: rustls::ServerConfig,
    body: &'static str,
) -> (tokio::runtime::Runtime, SocketAddr) {
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake ends here; the proxy says why.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(
                        hyper::Response::builder()
                            .header("content-type", "text/plain")
                            .body(Full::new(Bytes::from_static(body.as_bytes())))
                            .unwrap(),
                    )
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (rt, addr)
}

/// Hands out `certified` whatever the client asks: unlike
/// `with_single_cert`, it does not check that the key is the certificate's.
#[derive(Debug)]
struct Impostor(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Impostor {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// An HTTPS server on 127.0.0.1 presenting `cert` (a copy of someone
/// else's certificate) but signing the handshake with `key`, another key,
/// speaking only TLS `version`.
fn impostor_server(
    cert: &Path,
    key: &Path,
    version: &'static rustls::SupportedProtocolVersion,
) -> (tokio::runtime::Runtime, SocketAddr) {
    install_crypto();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_protocol_versions(&[version])
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Impostor(Arc::new(
            rustls::sign::CertifiedKey::new(certs, signing),
        ))));
    serve_tls(config, "must not be seen")
}

/// Runs `hmt record --upstream-ca CA`, fetches `url` through it (path
/// routing) with curl, stops it; what curl got, and the recordings of
/// `recording_file` in `logs/`.
fn fetch_through_hmt(ca: &Path, url: &str, recording_file: &str) -> (Fetched, Vec<Value>) {
    let work = tempdir();
    let hmt = RecordProcess::start(work.path(), &["--upstream-ca", ca.to_str().unwrap()]);
    let got = curl(work.path(), &[hmt.path_url(url)]);
    let out = hmt.stop();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let validator = http_types_validator();
    let lines = valid_lines(&validator, &work.path().join("logs").join(recording_file))
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    (got, lines)
}

/// The exchange went through and was recorded as it happened.
fn assert_proxied_and_recorded(name: &str, got: &Fetched, lines: &[Value], url: &str, body: &str) {
    assert_eq!(
        (got.status, String::from_utf8_lossy(&got.body).into_owned()),
        (200, body.to_owned()),
        "{name}: the upstream's answer, through hmt"
    );
    assert_eq!(lines.len(), 1, "{name}: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["request"]["url"], url, "{name}");
    assert_eq!(line["response"]["statusCode"], 200, "{name}");
    assert_eq!(line["response"]["body"], body, "{name}");
}

/// curl accepts the server with `--cacert ca`: what hmt must accept too.
fn assert_curl_accepts(ca: &Path, url: &str, body: &str) {
    let dir = tempdir();
    let got = curl(dir.path(), &["--cacert", ca.to_str().unwrap(), url]);
    assert_eq!(got.status, 200, "curl --cacert {} {url}", ca.display());
    assert_eq!(got.body, body.as_bytes());
}

/// The 502 problem document hmt answers with; its detail.
fn problem_detail(name: &str, got: &Fetched) -> String {
    assert_eq!(got.status, 502, "{name}");
    assert_eq!(
        got.header_values("content-type"),
        ["application/problem+json"],
        "{name}"
    );
    let problem: Value = serde_json::from_slice(&got.body).unwrap();
    let detail = problem["detail"].as_str().unwrap().to_owned();
    for debug_name in [
        "CaUsedAsEndEntity",
        "UnknownIssuer",
        "BadSignature",
        "NotValidForName",
        "Other(",
        "Expired",
    ] {
        assert!(
            !detail.contains(debug_name),
            "{name}: a rustls name in the detail: {detail}"
        );
    }
    detail
}

// ---- --upstream-ca: what curl --cacert accepts ---------------------------------------------

#[test]
fn upstream_ca_accepts_an_openssl_self_signed_server_certificate_marked_ca() {
    require_curl();
    let dir = tempdir();
    // Exactly what the staging server's admin ran.
    let id = openssl_self_signed(dir.path(), "cert", &[]);
    assert_eq!(
        basic_constraints(dir.path(), &id.cert),
        "CA:TRUE",
        "openssl marks it a CA: the case the web PKI check refuses"
    );
    let (_rt, addr) = https_server(&id, "hello from the openssl server");
    // By IP address: the certificate names 127.0.0.1 too.
    let url = format!("https://127.0.0.1:{}/status?x=1", addr.port());
    assert_curl_accepts(&id.cert, &url, "hello from the openssl server");
    let (got, lines) = fetch_through_hmt(
        &id.cert,
        &url,
        &format!("127.0.0.1_{}-recordings.jsonl", addr.port()),
    );
    assert_proxied_and_recorded(
        "CA:TRUE",
        &got,
        &lines,
        &url,
        "hello from the openssl server",
    );
}

#[test]
fn upstream_ca_accepts_a_plain_self_signed_leaf() {
    require_curl();
    let dir = tempdir();
    let id = openssl_self_signed(
        dir.path(),
        "leaf",
        &["-addext", "basicConstraints=critical,CA:FALSE"],
    );
    assert_eq!(basic_constraints(dir.path(), &id.cert), "CA:FALSE");
    let (_rt, addr) = https_server(&id, "hello from the leaf");
    let url = format!("https://localhost:{}/leaf", addr.port());
    assert_curl_accepts(&id.cert, &url, "hello from the leaf");
    let (got, lines) = fetch_through_hmt(
        &id.cert,
        &url,
        &format!("localhost_{}-recordings.jsonl", addr.port()),
    );
    assert_proxied_and_recorded("CA:FALSE", &got, &lines, &url, "hello from the leaf");
}

#[test]
fn upstream_ca_accepts_the_ca_that_signed_the_server_certificate() {
    require_curl();
    let dir = tempdir();
    let (ca, id) = rcgen_ca_and_leaf(dir.path(), "server");
    let (_rt, addr) = https_server(&id, "hello from the CA-signed server");
    let url = format!("https://localhost:{}/signed", addr.port());
    assert_curl_accepts(&ca, &url, "hello from the CA-signed server");
    let (got, lines) = fetch_through_hmt(
        &ca,
        &url,
        &format!("localhost_{}-recordings.jsonl", addr.port()),
    );
    assert_proxied_and_recorded("CA", &got, &lines, &url, "hello from the CA-signed server");
}

#[test]
fn upstream_ca_refuses_what_the_user_did_not_give_with_a_readable_502() {
    require_curl();
    let dir = tempdir();
    let given = openssl_self_signed(dir.path(), "given", &[]);
    // Same subject and names as the given one, another key: only the bytes
    // tell them apart. One as openssl makes them (CA:TRUE), one a leaf.
    let other = openssl_self_signed(dir.path(), "other", &[]);
    let other_leaf = openssl_self_signed(
        dir.path(),
        "other-leaf",
        &["-addext", "basicConstraints=critical,CA:FALSE"],
    );
    let wrong_name = rcgen_self_signed(dir.path(), "wrong-name", &["staging.example"], None);
    let expired = rcgen_self_signed(
        dir.path(),
        "expired",
        &["localhost"],
        Some(((2019, 1, 1), (2020, 1, 2))),
    );
    let (_rt_other, other_addr) = https_server(&other, "must not be seen");
    let (_rt_leaf, other_leaf_addr) = https_server(&other_leaf, "must not be seen");
    let (_rt_name, name_addr) = https_server(&wrong_name, "must not be seen");
    let (_rt_expired, expired_addr) = https_server(&expired, "must not be seen");
    let future = rcgen_self_signed(
        dir.path(),
        "future",
        &["localhost"],
        Some(((2090, 1, 1), (2091, 1, 1))),
    );
    let (_rt_future, future_addr) = https_server(&future, "must not be seen");
    let (_rt_given, given_addr) = https_server(&given, "the given server");
    // Has a copy of the given certificate (certificates are public), not
    // its key.
    let (_rt_impostor13, impostor13_addr) =
        impostor_server(&given.cert, &other.key, &rustls::version::TLS13);
    let (_rt_impostor12, impostor12_addr) =
        impostor_server(&given.cert, &other.key, &rustls::version::TLS12);

    let work = tempdir();
    let ca_args: Vec<String> = [&given.cert, &wrong_name.cert, &expired.cert, &future.cert]
        .iter()
        .flat_map(|p| ["--upstream-ca".to_owned(), p.display().to_string()])
        .collect();
    let ca_args: Vec<&str> = ca_args.iter().map(String::as_str).collect();
    let hmt = RecordProcess::start(work.path(), &ca_args);
    let fetch = |addr: SocketAddr| {
        let url = format!("https://localhost:{}/secret", addr.port());
        curl(work.path(), &[hmt.path_url(&url)])
    };

    let files = format!(
        "{}, {}, {}, {}",
        given.cert.display(),
        wrong_name.cert.display(),
        expired.cert.display(),
        future.cert.display()
    );
    let detail = problem_detail("another self-signed leaf", &fetch(other_leaf_addr));
    assert_eq!(
        detail,
        format!(
            "TLS handshake: the upstream's certificate is not signed by any --upstream-ca \
             ({files}) or system CA, and is not one of them"
        )
    );
    let detail = problem_detail("another openssl self-signed", &fetch(other_addr));
    assert_eq!(
        detail,
        format!(
            "TLS handshake: the upstream's certificate is a CA certificate (CA:TRUE) and not \
             one of the --upstream-ca certificates ({files}); a CA certificate is trusted as a \
             server's own only when given itself with --upstream-ca"
        )
    );
    let detail = problem_detail("wrong name", &fetch(name_addr));
    assert_eq!(
        detail,
        format!(
            "TLS handshake: {}: certificate for staging.example is not valid for localhost",
            wrong_name.cert.display()
        )
    );
    let detail = problem_detail("expired", &fetch(expired_addr));
    assert_eq!(
        detail,
        format!(
            "TLS handshake: {}: the certificate expired on 2020-01-02 00:00:00 UTC",
            expired.cert.display()
        )
    );
    let detail = problem_detail("not valid yet", &fetch(future_addr));
    let expected = format!(
        "TLS handshake: {}: the certificate is not valid before 2090-01-01 00:00:00 UTC (it is ",
        future.cert.display()
    );
    assert!(detail.starts_with(&expected), "{detail}");
    for (name, addr) in [
        ("impostor, TLS 1.3", impostor13_addr),
        ("impostor, TLS 1.2", impostor12_addr),
    ] {
        let detail = problem_detail(name, &fetch(addr));
        assert_eq!(
            detail,
            "TLS handshake: the upstream's handshake signature does not verify with the key of \
             the certificate it sent: the server does not hold that certificate's private key",
            "{name}"
        );
    }
    // The one given and valid still goes through, in the same run.
    let ok = fetch(given_addr);
    assert_eq!((ok.status, &ok.body[..]), (200, &b"the given server"[..]));

    let out = hmt.stop();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.summary().iter().any(
            |l| l.starts_with("hmt record: 8 exchanges proxied, 8 recorded")
                && l.ends_with(", 7 upstream errors")
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn upstream_ca_without_the_server_certificate_says_how_to_trust_it() {
    require_curl();
    let dir = tempdir();
    let id = openssl_self_signed(dir.path(), "cert", &[]);
    let (_rt, addr) = https_server(&id, "must not be seen");
    let work = tempdir();
    let hmt = RecordProcess::start(work.path(), &[]);
    let url = format!("https://localhost:{}/", addr.port());
    let detail = problem_detail(
        "no --upstream-ca",
        &curl(work.path(), &[hmt.path_url(&url)]),
    );
    assert_eq!(
        detail,
        "TLS handshake: the upstream's certificate is a CA certificate (CA:TRUE), which is \
         trusted as a server's own only when given itself with --upstream-ca FILE"
    );
    let leaf = rcgen_self_signed(dir.path(), "leaf", &["localhost"], None);
    let (_rt_leaf, leaf_addr) = https_server(&leaf, "must not be seen");
    let url = format!("https://localhost:{}/", leaf_addr.port());
    let detail = problem_detail(
        "no --upstream-ca",
        &curl(work.path(), &[hmt.path_url(&url)]),
    );
    assert_eq!(
        detail,
        "TLS handshake: the upstream's certificate is not signed by any CA this machine \
         trusts; give its CA, or the certificate itself, with --upstream-ca FILE"
    );
}

#[test]
fn an_upstream_ca_file_that_cannot_be_used_stops_hmt_record_at_start() {
    let work = tempdir();
    let home = work.path().join("home");
    let empty = work.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let missing = work.path().join("missing.pem");
    for (file, why) in [
        (&empty, "holds no PEM certificate"),
        (&missing, "cannot read it: No such file or directory"),
    ] {
        let out = run_hmt(
            work.path(),
            &home,
            &["record", "-p", "0", "--upstream-ca", file.to_str().unwrap()],
            WAIT,
        );
        assert_ne!(out.code, Some(0), "{}", out.stderr);
        let expected = format!("{}: {why}", file.display());
        assert!(
            out.stderr.contains(&expected),
            "{expected} in:\n{}",
            out.stderr
        );
    }
}

// ---- the CA's private key --------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn the_ca_key_is_created_0600_and_refused_when_others_may_read_it() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempdir();
    let home = work.path().join("home");
    let ca_dir = work.path().join("ca");
    let ca_dir_arg = ca_dir.to_str().unwrap();
    let created = run_hmt(work.path(), &home, &["ca", "--ca-dir", ca_dir_arg], WAIT);
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let key = ca_dir.join("hmt-ca-key.pem");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&ca_dir), 0o700);

    for wide in [0o644, 0o640, 0o606, 0o660, 0o700] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(wide)).unwrap();
        let expected = [
            format!("{}: ", key.display()),
            format!("mode {wide:04o}"),
            format!("chmod 600 {}", key.display()),
        ];
        let ca = run_hmt(work.path(), &home, &["ca", "--ca-dir", ca_dir_arg], WAIT);
        let record = run_hmt(
            work.path(),
            &home,
            &["record", "-p", "0", "--ca-dir", ca_dir_arg],
            WAIT,
        );
        for (command, out) in [("hmt ca", &ca), ("hmt record", &record)] {
            assert_ne!(out.code, Some(0), "{command} with a {wide:o} key");
            for words in &expected {
                assert!(
                    out.stderr.contains(words),
                    "{command}: {words} in:\n{}",
                    out.stderr
                );
            }
        }
    }
    // Fixed as the message says, the CA works again, and is the same one.
    let pem_before = std::fs::read(ca_dir.join("hmt-ca.pem")).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let again = run_hmt(work.path(), &home, &["ca", "--ca-dir", ca_dir_arg], WAIT);
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(
        std::fs::read(ca_dir.join("hmt-ca.pem")).unwrap(),
        pem_before
    );
    // Narrower than 0600 is fine.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    let read_only = run_hmt(work.path(), &home, &["ca", "--ca-dir", ca_dir_arg], WAIT);
    assert_eq!(read_only.code, Some(0), "{}", read_only.stderr);
}

// ---- listening beyond loopback ----------------------------------------------------------------

const REMOTE_WARNING: &str = "anyone who can reach its port";

/// The warning for a listener on `at` from which any host can be reached.
fn remote_warning(at: &str) -> String {
    remote_warning_reaching(
        at,
        "any host this machine can (your internal network included)",
    )
}

fn remote_warning_reaching(at: &str, reach: &str) -> String {
    format!(
        "warning: hmt record listens on {at}, beyond this machine: anyone who can reach its \
         port can use the proxy to reach {reach}, and sees the traffic it records. Use \
         --bind 127.0.0.1 (the default), or pass --allow-remote if that is what you want."
    )
}

fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(REMOTE_WARNING))
        .collect()
}

#[test]
fn binding_beyond_loopback_warns_unless_allowed() {
    // Nothing is sent to these listeners: the test only reads what hmt
    // says when it starts.
    // With the address the warning names, when there is one.
    let cases: [(&[&str], Option<&str>); 7] = [
        (&["--bind", "0.0.0.0"], Some("0.0.0.0")),
        (&["--bind", "::"], Some("[::]")),
        (&["--bind", "0.0.0.0", "--allow-remote"], None),
        (&["--bind", "::", "--allow-remote"], None),
        (&["--bind", "127.0.0.1"], None),
        (&["--bind", "::1"], None),
        (&[], None),
    ];
    for (args, warns) in cases {
        let work = tempdir();
        let hmt = RecordProcess::start(work.path(), args);
        let port = hmt.addr.port();
        let out = hmt.stop();
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
        match warns {
            Some(host) => assert_eq!(
                warnings(&out.stderr),
                [remote_warning(&format!("{host}:{port}"))],
                "{args:?}: {}",
                out.stderr
            ),
            None => assert!(warnings(&out.stderr).is_empty(), "{args:?}: {}", out.stderr),
        }
    }
    // With --allow-host, the warning says what is reachable: those hosts.
    let work = tempdir();
    let hmt = RecordProcess::start(
        work.path(),
        &["--bind", "0.0.0.0", "--allow-host", "*.staging.example"],
    );
    let port = hmt.addr.port();
    let out = hmt.stop();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        warnings(&out.stderr),
        [remote_warning_reaching(
            &format!("0.0.0.0:{port}"),
            "the hosts --allow-host allows"
        )],
        "{}",
        out.stderr
    );
}

#[test]
fn a_daemon_beyond_loopback_warns_where_the_user_sees_it() {
    let work = tempdir();
    let home = work.path().join("home");
    let _guard = HomeGuard(home.clone());
    let out = run_hmt(
        work.path(),
        &home,
        &["record", "-d", "-p", "0", "--bind", "0.0.0.0"],
        WAIT,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        warnings(&out.stderr),
        [remote_warning("0.0.0.0")],
        "{}",
        out.stderr
    );
    let stop = run_hmt(
        work.path(),
        &home,
        &["record", "stop"],
        std::time::Duration::from_secs(30),
    );
    assert_eq!(stop.code, Some(0), "{}", stop.stderr);
    // The detached recorder's log has it too, with the port it got.
    let log = std::fs::read_to_string(home.join("record.log")).unwrap();
    let port = out
        .stdout
        .split("0.0.0.0:")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("hmt record -d names its address: {}", out.stdout));
    assert_eq!(
        warnings(&log),
        [remote_warning(&format!("0.0.0.0:{port}"))],
        "{log}"
    );
}

// ---- found while writing these --------------------------------------------------------------------------

/// The tests above stop hmt as soon as `record.json` names it, as a script
/// would; the signal handlers were once installed only after that, and a
/// quick SIGTERM killed the recorder outright, with no summary and nothing
/// flushed. The window was short: of 60 rounds, about every other run of
/// this test hit it.
#[test]
fn sigterm_as_soon_as_the_recorder_is_announced_stops_it_cleanly() {
    for round in 0..60 {
        let work = tempdir();
        let hmt = RecordProcess::start(work.path(), &[]);
        let out = hmt.stop();
        assert_eq!(out.code, Some(0), "round {round}: {}", out.stderr);
        assert!(
            out.summary()
                .first()
                .is_some_and(|l| l.starts_with("hmt record: 0 exchanges proxied")),
            "round {round}: {}",
            out.stderr
        );
    }
}
