//! The local certificate authority that lets the proxy read HTTPS traffic.
//!
//! On first use it creates a CA key pair (ECDSA P-256) and a self-signed CA
//! certificate in a directory of the user's choosing; the user trusts
//! `hmt-ca.pem` in their client once. For every host a client `CONNECT`s
//! to, the CA signs a leaf certificate naming that host (DNS name or IP
//! address) and wraps it in a rustls server configuration, cached per host.
//! All leaves share one key pair generated at load time, so a new host
//! costs one signature, not a key generation.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// File name of the CA certificate inside the CA directory.
pub const CA_CERT_FILE: &str = "hmt-ca.pem";
/// File name of the CA private key inside the CA directory.
pub const CA_KEY_FILE: &str = "hmt-ca-key.pem";

/// Leaf configurations kept before the cache is emptied and starts over.
const MAX_CACHED_HOSTS: usize = 4096;

/// Why the CA could not be loaded, created or used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A CA file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A CA file exists but is not what hmt wrote there.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Only one of the certificate and key exists.
    #[error(
        "{present} exists but {missing} does not; restore it, or delete both to create a new CA"
    )]
    Incomplete {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// A certificate could not be generated or signed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the generated certificate or key.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    /// The host name cannot be put in a certificate.
    #[error("cannot issue a certificate for host {host:?}: {message}")]
    Host {
        /// The host as given.
        host: String,
        /// Why not.
        message: String,
    },
}

/// hmt's local certificate authority: issues leaf certificates for the
/// hosts the proxy intercepts.
pub struct CertificateAuthority {
    dir: PathBuf,
    ca_cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    leaf_key: KeyPair,
    provider: Arc<rustls::crypto::CryptoProvider>,
    cache: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads `dir/hmt-ca.pem` + `dir/hmt-ca-key.pem`, or creates them (dir
    /// created 0700, key file 0600) on first use. A key file with a mode
    /// wider than 0600 is refused.
    pub fn load_or_create(dir: &Path) -> Result<CertificateAuthority, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let (ca_cert, ca_key) = match (cert_path.exists(), key_path.exists()) {
            (true, true) => load(&cert_path, &key_path)?,
            (false, false) => create(dir, &cert_path, &key_path)?,
            (true, false) => {
                return Err(CaError::Incomplete {
                    present: cert_path,
                    missing: key_path,
                });
            }
            (false, true) => {
                return Err(CaError::Incomplete {
                    present: key_path,
                    missing: cert_path,
                });
            }
        };
        Ok(CertificateAuthority {
            dir: dir.to_owned(),
            ca_cert,
            issuer: Issuer::new(ca_params(), ca_key),
            leaf_key: KeyPair::generate()?,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Where the CA certificate is, for the user to trust.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }

    /// The CA certificate, DER-encoded.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.ca_cert
    }

    /// rustls server config for `host` (leaf cert with the host as SAN —
    /// DNS name or IP — signed by the CA, cached per host, ALPN h2 +
    /// http/1.1).
    pub fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, CaError> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if let Some(config) = self.lock_cache().get(&host) {
            return Ok(config.clone());
        }
        let config = Arc::new(self.issue(&host)?);
        let mut cache = self.lock_cache();
        if cache.len() >= MAX_CACHED_HOSTS {
            cache.clear();
        }
        // Two connections racing for a new host both issue; the first
        // stored wins so that every caller afterwards sees one config.
        Ok(cache.entry(host).or_insert(config).clone())
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ServerConfig>>> {
        hmt_types::sync::lock(&self.cache)
    }

    fn issue(&self, host: &str) -> Result<ServerConfig, CaError> {
        let mut params =
            CertificateParams::new(vec![host.to_owned()]).map_err(|e| CaError::Host {
                host: host.to_owned(),
                message: e.to_string(),
            })?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, host);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        // Browsers refuse leaves valid for more than 398 days.
        set_validity(&mut params, -1, 397);
        params.serial_number = Some(random_serial()?);
        let leaf = params.signed_by(&self.leaf_key, &self.issuer)?;

        let key =
            PrivateKeyDer::try_from(self.leaf_key.serialize_der()).map_err(|e| CaError::Host {
                host: host.to_owned(),
                message: format!("leaf key: {e}"),
            })?;
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), self.ca_cert.clone()], key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// The CA's parameters. They are rebuilt identically on every load: the
/// issuer name in the leaves must match the subject of the saved CA
/// certificate, and the authority key identifier is derived from the key.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "hmt local CA");
    name.push(DnType::OrganizationName, "hmt");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn create(
    dir: &Path,
    cert_path: &Path,
    key_path: &Path,
) -> Result<(CertificateDer<'static>, KeyPair), CaError> {
    create_private_dir(dir)?;
    let key = KeyPair::generate()?;
    let mut params = ca_params();
    set_validity(&mut params, -1, 10 * 365);
    params.serial_number = Some(random_serial()?);
    let cert = params.self_signed(&key)?;
    write_new(key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_new(cert_path, cert.pem().as_bytes(), 0o644)?;
    Ok((cert.der().clone(), key))
}

fn load(cert_path: &Path, key_path: &Path) -> Result<(CertificateDer<'static>, KeyPair), CaError> {
    let read = |path: &Path| {
        fs::read_to_string(path).map_err(|source| CaError::Io {
            path: path.to_owned(),
            source,
        })
    };
    check_private(key_path)?;
    let cert_pem = read(cert_path)?;
    let key_pem = read(key_path)?;
    let cert =
        CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| CaError::Invalid {
            path: cert_path.to_owned(),
            message: format!("not a PEM certificate: {e}"),
        })?;
    let key = KeyPair::from_pem(&key_pem).map_err(|e| CaError::Invalid {
        path: key_path.to_owned(),
        message: format!("not a PEM private key: {e}"),
    })?;
    // A certificate carries its public key verbatim; one that does not is
    // not this key's certificate and would make every leaf unverifiable.
    if !contains(cert.as_ref(), key.public_key_raw()) {
        return Err(CaError::Invalid {
            path: cert_path.to_owned(),
            message: format!("does not belong to the key in {}", key_path.display()),
        });
    }
    Ok((cert, key))
}

/// Refuses a key file others could read or write: whoever can read the key
/// can sign certificates every client trusting hmt's CA accepts, and whoever
/// can write it can swap in a key of their own. (hmt creates it 0600; a
/// wider mode came from a copy, a restore or an archive.)
#[cfg(unix)]
fn check_private(key_path: &Path) -> Result<(), CaError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(key_path)
        .map_err(|source| CaError::Io {
            path: key_path.to_owned(),
            source,
        })?
        .permissions()
        .mode()
        & 0o7777;
    if mode & !0o600 != 0 {
        return Err(CaError::Invalid {
            path: key_path.to_owned(),
            message: format!(
                "the CA private key has mode {mode:04o}, wider than 0600: whoever can read \
                 it can make certificates every client that trusts hmt's CA accepts; \
                 let only its owner read and write it: chmod 600 {}",
                key_path.display()
            ),
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_key_path: &Path) -> Result<(), CaError> {
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Valid from `from_days` to `to_days` days from today (UTC midnights).
fn set_validity(params: &mut CertificateParams, from_days: i64, to_days: i64) {
    let today = time::OffsetDateTime::now_utc()
        .date()
        .midnight()
        .assume_utc();
    params.not_before = today + time::Duration::days(from_days);
    params.not_after = today + time::Duration::days(to_days);
}

fn random_serial() -> Result<SerialNumber, CaError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| rcgen::Error::RingUnspecified)?;
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // and without a leading zero byte
    Ok(SerialNumber::from_slice(&bytes))
}

fn create_private_dir(dir: &Path) -> Result<(), CaError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| CaError::Io {
        path: dir.to_owned(),
        source,
    })
}

/// Writes a file that must not exist yet, with `mode` from the start (so
/// the key is never readable by others, not even briefly).
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), CaError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let io_err = |source| CaError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = options.open(path).map_err(io_err)?;
    file.write_all(contents).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_runs_between_utc_midnights_around_today() {
        let mut params = CertificateParams::default();
        let today = time::OffsetDateTime::now_utc().date();
        set_validity(&mut params, -1, 397);
        assert_eq!(params.not_before.date(), today.previous_day().unwrap());
        assert_eq!(params.not_before.time(), time::Time::MIDNIGHT);
        assert_eq!(params.not_before.offset(), time::UtcOffset::UTC);
        assert_eq!(
            params.not_after - params.not_before,
            time::Duration::days(398)
        );
        // The same dates rcgen's own helper gives for them.
        let ymd =
            |date: time::Date| rcgen::date_time_ymd(date.year(), date.month() as u8, date.day());
        assert_eq!(params.not_before, ymd(today.previous_day().unwrap()));
    }
}
