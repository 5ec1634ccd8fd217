//! The client side: sends a request to its upstream and says, as an HTTP
//! status, what went wrong when it could not.
//!
//! One pooled hyper client serves every upstream, over HTTP/1.1 or HTTP/2
//! as TLS ALPN decides (plain-HTTP upstreams get HTTP/1.1). TLS is verified
//! against the system's roots, the bundled webpki roots and any extra CA
//! files the user gives, or not at all with `insecure`.

use crate::proxy::{ProxyConfig, ProxyError};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

/// Errors carried by bodies in flight.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// A request body on its way upstream.
pub(crate) type UpstreamBody = BoxBody<Bytes, BoxError>;

/// Why an upstream gave no response.
#[derive(Debug)]
pub(crate) struct UpstreamError {
    /// 502 when it could not be reached or failed, 504 when it was too slow.
    pub status: StatusCode,
    /// The cause, for the problem document.
    pub detail: String,
}

/// The shared upstream client.
pub(crate) struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, UpstreamBody>,
    response_timeout: Duration,
}

impl Upstream {
    pub fn new(
        config: &ProxyConfig,
        provider: Arc<CryptoProvider>,
    ) -> Result<Upstream, ProxyError> {
        let tls = tls_config(config, provider)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(config.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .http1_preserve_header_case(true)
            .set_host(false)
            .build(connector);
        Ok(Upstream {
            client,
            response_timeout: config.response_timeout,
        })
    }

    /// Sends `request` (absolute URI) and waits for the response headers.
    pub async fn send(
        &self,
        request: Request<UpstreamBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        match tokio::time::timeout(self.response_timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(UpstreamError {
                status: StatusCode::GATEWAY_TIMEOUT,
                detail: format!(
                    "no response headers within {} ms",
                    self.response_timeout.as_millis()
                ),
            }),
        }
    }
}

/// 504 for a timeout anywhere in the chain (the connect timeout), 502 for
/// everything else; the detail is the whole chain of causes.
fn classify(error: &(dyn StdError + 'static)) -> UpstreamError {
    let mut detail = String::new();
    let mut timed_out = false;
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
        }
        let message = e.to_string();
        if !detail.contains(&message) {
            if !detail.is_empty() {
                detail.push_str(": ");
            }
            detail.push_str(&message);
        }
        cause = e.source();
    }
    UpstreamError {
        status: if timed_out {
            StatusCode::GATEWAY_TIMEOUT
        } else {
            StatusCode::BAD_GATEWAY
        },
        detail,
    }
}

fn tls_config(
    config: &ProxyConfig,
    provider: Arc<CryptoProvider>,
) -> Result<rustls::ClientConfig, ProxyError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProxyError::Tls(e.to_string()))?;
    if config.insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth());
    }
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!("system CA certificates: {e}");
    }
    roots.add_parsable_certificates(native.certs);
    for path in &config.upstream_ca {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| ProxyError::UpstreamCa {
                path: path.clone(),
                message: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(ProxyError::UpstreamCa {
                path: path.clone(),
                message: "no PEM certificate in the file".into(),
            });
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ProxyError::UpstreamCa {
                path: path.clone(),
                message: e.to_string(),
            })?;
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// `insecure`: any certificate, any name, any signature.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
