//! Which upstream TLS certificates the proxy accepts, and why it refused
//! one, in words.
//!
//! A certificate is accepted when the usual web PKI check passes: it chains
//! to the system's roots, the bundled web roots or an `--upstream-ca` file,
//! names the host, and is within its validity period. Staging servers often
//! have a certificate of their own making instead, and give it to clients
//! as the "CA" to trust (what `curl --cacert cert.pem` accepts). The web PKI
//! check refuses that: `openssl req -x509` marks such a certificate
//! `CA:TRUE`, and a CA certificate may not be a server's own. So when the
//! check fails, a certificate that is byte for byte one of those the user
//! gave with `--upstream-ca` is accepted as it is (pinned), provided it
//! names the host and is within its validity period. Nothing else is ever
//! pinned: not the system's roots, not a certificate merely signed by one of
//! the given ones. The handshake signature is verified either way, which
//! proves the server holds the certificate's key.

use crate::proxy::ProxyError;
use hmt_types::clock;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A certificate given with `--upstream-ca`, with the file it came from
/// (for the messages).
#[derive(Debug)]
struct Given {
    path: PathBuf,
    der: CertificateDer<'static>,
}

/// Reads every certificate of every `--upstream-ca` file. A file that
/// cannot be read, is not PEM, or holds no certificate is an error naming
/// it: the user meant it to be trusted, and silently trusting less would
/// only show up later as refused upstreams.
fn read_given(paths: &[PathBuf]) -> Result<Vec<Given>, ProxyError> {
    let mut given = Vec::new();
    for path in paths {
        let fail = |message: String| ProxyError::UpstreamCa {
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        let certs = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(format!("not a valid PEM file: {e}")))?;
        if certs.is_empty() {
            return Err(fail(
                "holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)".into(),
            ));
        }
        for (n, der) in certs.into_iter().enumerate() {
            // One that cannot be parsed could never match a server's
            // certificate either; better said now than at the first request.
            if let Err(e) = ParsedCertificate::try_from(&der) {
                return Err(fail(format!(
                    "certificate {} of the file cannot be parsed: {}",
                    n + 1,
                    error_words(&e)
                )));
            }
            given.push(Given {
                path: path.clone(),
                der,
            });
        }
    }
    Ok(given)
}

/// The verifier for upstream certificates (see the module documentation).
#[derive(Debug)]
pub(crate) struct UpstreamVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    given: Vec<Given>,
    provider: Arc<CryptoProvider>,
}

impl UpstreamVerifier {
    /// Trusts the system's roots, the bundled web roots and `upstream_ca`
    /// (PEM files: CAs, or the servers' own certificates).
    pub(crate) fn new(
        upstream_ca: &[PathBuf],
        provider: Arc<CryptoProvider>,
    ) -> Result<UpstreamVerifier, ProxyError> {
        let given = read_given(upstream_ca)?;
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!("system CA certificates: {e}");
        }
        roots.add_parsable_certificates(native.certs);
        for cert in &given {
            roots
                .add(cert.der.clone())
                .map_err(|e| ProxyError::UpstreamCa {
                    path: cert.path.clone(),
                    message: format!("cannot be trusted as a CA: {}", error_words(&e)),
                })?;
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| ProxyError::Tls(format!("certificate verifier: {e}")))?;
        Ok(UpstreamVerifier {
            webpki,
            given,
            provider,
        })
    }

    /// Accepts `given`, which the server sent, if it names `server_name`
    /// and is valid at `now`.
    fn verify_pinned(
        &self,
        given: &Given,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), Refused> {
        let file = given.path.display();
        // Parsed once already, when the file was read.
        let parsed = ParsedCertificate::try_from(&given.der)
            .map_err(|e| Refused(format!("{file}: {}", error_words(&e))))?;
        rustls::client::verify_server_name(&parsed, server_name).map_err(|e| match e {
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                presented,
                ..
            }) => Refused(format!(
                "{file}: certificate for {} is not valid for {}",
                names(&presented),
                server_name.to_str()
            )),
            other => Refused(format!(
                "{file}: certificate is not valid for {}: {}",
                server_name.to_str(),
                error_words(&other)
            )),
        })?;
        let Some((not_before, not_after)) = validity(given.der.as_ref()) else {
            return Err(Refused(format!(
                "{file}: the certificate's validity period cannot be read"
            )));
        };
        let now = Time::from_unix(now.as_secs());
        if now < not_before {
            return Err(Refused(format!(
                "{file}: the certificate is not valid before {not_before} (it is {now})"
            )));
        }
        if now > not_after {
            return Err(Refused(format!(
                "{file}: the certificate expired on {not_after}"
            )));
        }
        Ok(())
    }

    /// Why the web PKI check refused a certificate that is none of the
    /// given ones, in words.
    fn explain(&self, error: &rustls::Error) -> Refused {
        let what = "the upstream's certificate";
        let mut files: Vec<String> = self
            .given
            .iter()
            .map(|g| g.path.display().to_string())
            .collect();
        files.dedup();
        let files = files.join(", ");
        let not_trusted = if self.given.is_empty() {
            format!(
                "{what} is not signed by any CA this machine trusts; \
                 give its CA, or the certificate itself, with --upstream-ca FILE"
            )
        } else {
            format!(
                "{what} is not signed by any --upstream-ca ({files}) or system CA, \
                 and is not one of them"
            )
        };
        // webpki refuses a CA certificate as a server's own before it looks
        // for an issuer, so whether one signed it is not known here; what
        // is known is that only pinning could accept it.
        let ca_as_server = if self.given.is_empty() {
            format!(
                "{what} is a CA certificate (CA:TRUE), which is trusted as a server's own \
                 only when given itself with --upstream-ca FILE"
            )
        } else {
            format!(
                "{what} is a CA certificate (CA:TRUE) and not one of the --upstream-ca \
                 certificates ({files}); a CA certificate is trusted as a server's own only \
                 when given itself with --upstream-ca"
            )
        };
        let words = match error {
            rustls::Error::InvalidCertificate(e) => match e {
                // Each a candidate issuer (a trusted certificate with the
                // issuer's name) that did not sign it: e.g. the system's
                // RSA snakeoil `CN=localhost` for an ECDSA `CN=localhost`.
                CertificateError::UnknownIssuer
                | CertificateError::BadSignature
                | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                    not_trusted
                }
                CertificateError::NotValidForNameContext {
                    expected,
                    presented,
                } => format!(
                    "{what} is for {} and not valid for {}",
                    names(presented),
                    expected.to_str()
                ),
                CertificateError::Other(OtherError(inner))
                    if matches!(
                        inner.downcast_ref::<webpki::Error>(),
                        Some(webpki::Error::CaUsedAsEndEntity)
                    ) =>
                {
                    ca_as_server
                }
                e => format!("{what} {}", certificate_error_words(e)),
            },
            e => format!("{what} was refused: {}", error_words(e)),
        };
        Refused(words)
    }
}

impl ServerCertVerifier for UpstreamVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let error = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(error) => error,
        };
        // Byte-identical only: the user vouched for this very certificate,
        // not for anything that merely looks like it.
        let refused = match self.given.iter().find(|g| g.der == *end_entity) {
            Some(given) => match self.verify_pinned(given, server_name, now) {
                Ok(()) => return Ok(ServerCertVerified::assertion()),
                Err(refused) => refused,
            },
            None => self.explain(&error),
        };
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(Arc::new(refused)),
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
        .map_err(signature_refused)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
        .map_err(signature_refused)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A handshake signature that does not verify, in words: the server sent a
/// certificate whose private key it does not have. That is what an
/// impostor holding a copy of a pinned certificate (certificates are
/// public) looks like, so it is worth saying plainly.
fn signature_refused(error: rustls::Error) -> rustls::Error {
    let words = match &error {
        rustls::Error::InvalidCertificate(CertificateError::BadSignature) => {
            "the upstream's handshake signature does not verify with the key of the certificate \
             it sent: the server does not hold that certificate's private key"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(e) => format!(
            "the upstream's handshake signature cannot be checked: its certificate {}",
            certificate_error_words(e)
        ),
        _ => return error,
    };
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Refused(
        words,
    )))))
}

/// Why an upstream's certificate was refused, in words; carried inside the
/// rustls error (whose own Display would print variant names) and found
/// again by [`refusal`].
#[derive(Debug)]
pub(crate) struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The reason [`UpstreamVerifier`] gave, if that is why a TLS handshake
/// failed.
pub(crate) fn refusal(error: &std::io::Error) -> Option<&Refused> {
    match error.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<Refused>()
        }
        _ => None,
    }
}

/// `a`, `a or b`, `a, b or c`; "no names" for none.
fn names(names: &[String]) -> String {
    let names: Vec<&str> = names.iter().map(|n| plain_name(n)).collect();
    match &names[..] {
        [] => "no names".into(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// A name as the certificate has it: webpki reports the names a
/// certificate does have in Debug form (`DnsName("a.example")`,
/// `IpAddress(127.0.0.1)`); anything else is kept as it came.
fn plain_name(name: &str) -> &str {
    name.strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            name.strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        })
        .unwrap_or(name)
}

/// What is wrong, as a clause ("the certificate has expired").
fn error_words(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(e) => {
            format!("the certificate {}", certificate_error_words(e))
        }
        e => e.to_string(),
    }
}

/// What is wrong with a certificate, as a phrase that follows "the
/// certificate" (rustls prints some of these as variant names).
fn certificate_error_words(error: &CertificateError) -> String {
    let date = |t: &UnixTime| Time::from_unix(t.as_secs()).to_string();
    match error {
        CertificateError::BadEncoding => "is not a valid X.509 certificate".into(),
        CertificateError::Expired => "has expired".into(),
        CertificateError::ExpiredContext { not_after, .. } => {
            format!("expired on {}", date(not_after))
        }
        CertificateError::NotValidYet => "is not valid yet".into(),
        CertificateError::NotValidYetContext { not_before, .. } => {
            format!("is not valid before {}", date(not_before))
        }
        CertificateError::Revoked => "has been revoked".into(),
        CertificateError::UnhandledCriticalExtension => {
            "has a critical extension that is not understood".into()
        }
        CertificateError::UnknownIssuer => "is not signed by a trusted CA".into(),
        CertificateError::BadSignature => "has a signature that does not verify".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "is not for TLS servers (extended key usage)".into()
        }
        CertificateError::NotValidForName => "is not valid for this host".into(),
        CertificateError::UnsupportedSignatureAlgorithmContext { .. } => {
            "is signed with an algorithm the proxy does not support".into()
        }
        CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "has a signature that does not fit its issuer's key".into()
        }
        CertificateError::Other(OtherError(inner)) => match inner.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => {
                "is a CA certificate used as a server's own".into()
            }
            Some(webpki::Error::EndEntityUsedAsCa) => {
                "is issued by a certificate that is not a CA".into()
            }
            Some(webpki::Error::PathLenConstraintViolated) => {
                "has a chain longer than one of its CAs allows".into()
            }
            Some(webpki::Error::NameConstraintViolation) => {
                "names a host its CA may not issue for".into()
            }
            Some(webpki::Error::MaximumPathDepthExceeded) => "has too long a chain".into(),
            _ => format!("is refused ({inner})"),
        },
        e => format!("is refused ({e})"),
    }
}

/// A UTC time to the second; fields in this order so that the derived
/// ordering is chronological.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Time {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Time {
    fn from_unix(secs: u64) -> Time {
        let (year, month, day) = clock::civil_from_days((secs / 86_400) as i64);
        let rem = (secs % 86_400) as u32;
        Time {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
        }
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// A certificate's notBefore and notAfter. Neither rustls nor webpki tell
/// them for a certificate they would not verify (webpki checks them only
/// while building a chain, and refuses a CA certificate as a server's own
/// before that), so they are read from the DER here: Certificate ::=
/// SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber,
/// signature, issuer, validity SEQUENCE { notBefore, notAfter }, ... } }
/// (RFC 5280 4.1).
fn validity(der: &[u8]) -> Option<(Time, Time)> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const VERSION: u8 = 0xa0;
    let (certificate, _) = expect(der, SEQUENCE)?;
    let (tbs, _) = expect(certificate, SEQUENCE)?;
    let (tag, _, mut rest) = tlv(tbs)?;
    if tag == VERSION {
        (_, rest) = expect(rest, INTEGER)?;
    } else if tag != INTEGER {
        return None;
    }
    let (_, rest) = expect(rest, SEQUENCE)?; // signature algorithm
    let (_, rest) = expect(rest, SEQUENCE)?; // issuer
    let (validity, _) = expect(rest, SEQUENCE)?;
    let (not_before, rest) = time(validity)?;
    let (not_after, _) = time(rest)?;
    Some((not_before, not_after))
}

/// One DER element: tag, contents, what follows.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    match tlv(input)? {
        (t, contents, rest) if t == tag => Some((contents, rest)),
        _ => None,
    }
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950–2049) or GeneralizedTime
/// `YYYYMMDDHHMMSSZ`, the two forms RFC 5280 allows.
fn time(input: &[u8]) -> Option<(Time, &[u8])> {
    let (tag, contents, rest) = tlv(input)?;
    let digits = contents.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        std::str::from_utf8(digits.get(range)?).ok()?.parse().ok()
    };
    let (year, rest_at) = match (tag, digits.len()) {
        (0x17, 12) => {
            let yy = i64::from(number(0..2)?);
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        (0x18, 14) => (i64::from(number(0..4)?), 4),
        _ => return None,
    };
    let at = |i: usize| number(rest_at + 2 * i..rest_at + 2 * i + 2);
    let time = Time {
        year,
        month: at(0)?,
        day: at(1)?,
        hour: at(2)?,
        minute: at(3)?,
        second: at(4)?,
    };
    Some((time, rest))
}

/// The path of every `--upstream-ca` certificate file, for tests.
#[cfg(test)]
fn given_paths(verifier: &UpstreamVerifier) -> Vec<&std::path::Path> {
    verifier.given.iter().map(|g| g.path.as_path()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_valid(from: (i32, u8, u8), to: (i32, u8, u8)) -> CertificateDer<'static> {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn reads_the_validity_period_in_both_time_forms() {
        // rcgen writes UTCTime up to 2049 and GeneralizedTime from 2050.
        let cert = cert_valid((2020, 2, 29), (2049, 12, 31));
        let (from, to) = validity(cert.as_ref()).unwrap();
        assert_eq!(from.to_string(), "2020-02-29 00:00:00 UTC");
        assert_eq!(to.to_string(), "2049-12-31 00:00:00 UTC");
        let cert = cert_valid((1999, 1, 2), (2051, 3, 4));
        let (from, to) = validity(cert.as_ref()).unwrap();
        assert_eq!(from.to_string(), "1999-01-02 00:00:00 UTC");
        assert_eq!(to.to_string(), "2051-03-04 00:00:00 UTC");
        assert!(from < to);
    }

    #[test]
    fn refuses_to_guess_from_broken_der() {
        let cert = cert_valid((2020, 1, 1), (2030, 1, 1));
        let der = cert.as_ref();
        for cut in [0, 1, 2, 10, 40, der.len() / 2] {
            let got = validity(&der[..cut]);
            assert!(got.is_none(), "cut at {cut}: {got:?}");
        }
        assert!(validity(b"\x30\x84\xff\xff\xff\xff").is_none());
    }

    #[test]
    fn names_are_shown_as_the_certificate_has_them() {
        let presented = [
            r#"DnsName("a.example")"#.to_owned(),
            "IpAddress(127.0.0.1)".to_owned(),
            "IpAddress(::1)".to_owned(),
        ];
        assert_eq!(names(&presented), "a.example, 127.0.0.1 or ::1");
        assert_eq!(names(&presented[..1]), "a.example");
        assert_eq!(names(&[]), "no names");
        assert_eq!(names(&["DirectoryName".to_owned()]), "DirectoryName");
    }

    #[test]
    fn unix_times_become_calendar_times() {
        assert_eq!(Time::from_unix(0).to_string(), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            Time::from_unix(951_825_599).to_string(),
            "2000-02-29 11:59:59 UTC"
        );
    }

    #[test]
    fn unreadable_and_empty_files_are_start_up_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let key_only = dir.path().join("key.pem");
        std::fs::write(
            &key_only,
            rcgen::KeyPair::generate().unwrap().serialize_pem(),
        )
        .unwrap();
        let not_der = dir.path().join("not-der.pem");
        std::fs::write(
            &not_der,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        for (path, words) in [
            (&missing, "cannot read it: No such file or directory"),
            (&empty, "holds no PEM certificate"),
            (&key_only, "holds no PEM certificate"),
            (
                &not_der,
                "certificate 1 of the file cannot be parsed: \
                 the certificate is not a valid X.509 certificate",
            ),
        ] {
            let error = UpstreamVerifier::new(std::slice::from_ref(path), provider.clone())
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(&format!("{}: ", path.display())) && error.contains(words),
                "{error}"
            );
        }
        let good = dir.path().join("good.pem");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(&good, format!("{}{}", cert.pem(), cert.pem())).unwrap();
        let verifier = UpstreamVerifier::new(std::slice::from_ref(&good), provider).unwrap();
        assert_eq!(given_paths(&verifier), [good.as_path(), good.as_path()]);
    }
}
