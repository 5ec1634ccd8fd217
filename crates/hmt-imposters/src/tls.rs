//! https imposters: the certificate they serve and the client
//! certificates they ask for.
//!
//! As in mountebank, an https imposter without `key` and `cert` serves a
//! built-in self-signed certificate (for `localhost`; made once per
//! process, since a test suite only needs it to exist) and shows that pair
//! in its JSON; with `mutualAuth` it asks the client for a certificate and
//! accepts any, since a test double checks that one was sent, not who
//! signed it.

use crate::error::ApiError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use serde_json::{Map, Value, json};
use std::sync::{Arc, OnceLock};

/// The certificate an https imposter serves.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    key: String,
    cert: String,
    mutual_auth: bool,
}

fn builtin() -> &'static Result<(String, String), String> {
    static PAIR: OnceLock<Result<(String, String), String>> = OnceLock::new();
    PAIR.get_or_init(|| {
        let key = rcgen::KeyPair::generate().map_err(|error| error.to_string())?;
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(|error| error.to_string())?;
        let cert = params
            .self_signed(&key)
            .map_err(|error| error.to_string())?;
        Ok((key.serialize_pem(), cert.pem()))
    })
}

impl TlsIdentity {
    /// Reads `key`, `cert` and `mutualAuth` from an https imposter's JSON.
    pub(crate) fn from_definition(object: &Map<String, Value>) -> Result<TlsIdentity, ApiError> {
        let text = |name: &str| -> Result<Option<String>, ApiError> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(ApiError::bad_data(format!("'{name}' must be a PEM string"))),
            }
        };
        let (key, cert) = match (text("key")?, text("cert")?) {
            (Some(key), Some(cert)) => (key, cert),
            (None, None) => builtin().clone().map_err(|error| {
                ApiError::bad_data(format!("cannot make the built-in certificate: {error}"))
            })?,
            _ => {
                return Err(ApiError::bad_data(
                    "'key' and 'cert' go together: give both or neither",
                ));
            }
        };
        let identity = TlsIdentity {
            key,
            cert,
            mutual_auth: matches!(object.get("mutualAuth"), Some(Value::Bool(true))),
        };
        identity.server_config()?;
        Ok(identity)
    }

    /// Adds the fields mountebank shows for an https imposter.
    pub(crate) fn describe(&self, json: &mut Map<String, Value>) {
        json.insert("key".into(), json!(self.key));
        json.insert("cert".into(), json!(self.cert));
        json.insert("mutualAuth".into(), json!(self.mutual_auth));
    }

    /// The rustls configuration that serves this identity.
    pub(crate) fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, ApiError> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(self.cert.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|error| {
                    ApiError::bad_data(format!("'cert' is not a PEM certificate: {error}"))
                })?;
        if certs.is_empty() {
            return Err(ApiError::bad_data("'cert' holds no PEM certificate"));
        }
        let key = PrivateKeyDer::from_pem_slice(self.key.as_bytes()).map_err(|error| {
            ApiError::bad_data(format!("'key' is not a PEM private key: {error}"))
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| ApiError::bad_data(error.to_string()))?;
        let builder = if self.mutual_auth {
            builder.with_client_cert_verifier(Arc::new(AnyClientCert { provider }))
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(certs, key).map_err(|error| {
            ApiError::bad_data(format!("'key' and 'cert' cannot be served: {error}"))
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Asks for a client certificate and accepts any that proves its key.
#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        signatures(&self.provider).tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        signatures(&self.provider).tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        signatures(&self.provider).schemes()
    }
}

/// Accepts any server certificate whose signature checks out: mountebank's
/// proxies do not verify origins, so a proxy to a self-signed https
/// imposter works.
#[derive(Debug)]
pub(crate) struct AnyServerCert {
    pub(crate) provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        signatures(&self.provider).tls12(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        signatures(&self.provider).tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        signatures(&self.provider).schemes()
    }
}

/// The handshake signature checks both verifiers make the same way.
struct Signatures<'a>(&'a rustls::crypto::WebPkiSupportedAlgorithms);

fn signatures(provider: &rustls::crypto::CryptoProvider) -> Signatures<'_> {
    Signatures(&provider.signature_verification_algorithms)
}

impl Signatures<'_> {
    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.0)
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.0)
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
