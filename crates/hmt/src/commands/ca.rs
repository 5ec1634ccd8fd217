//! `hmt ca`: where the interception CA is and how to trust it.

use crate::commands::state;
use anyhow::Result;
use clap::Args;
use hmt_record::CertificateAuthority;
use std::path::PathBuf;

/// Arguments of `hmt ca`.
#[derive(Args)]
pub(crate) struct CaArgs {
    /// Where the CA lives (created if missing), as for `hmt record --ca-dir`.
    #[arg(long, value_name = "DIR")]
    ca_dir: Option<PathBuf>,
    /// Print only the certificate's path (for scripts).
    #[arg(long)]
    path_only: bool,
}

/// Runs `hmt ca`.
pub(crate) fn run(args: CaArgs) -> Result<()> {
    let dir = match args.ca_dir {
        Some(dir) => dir,
        None => state::hmt_home()?.join("ca"),
    };
    let ca = CertificateAuthority::load_or_create(&dir)?;
    let cert = ca.cert_path();
    if args.path_only {
        println!("{}", cert.display());
        return Ok(());
    }
    let cert = cert.display();
    println!("hmt's CA certificate: {cert}");
    println!();
    println!("`hmt record` signs a certificate for each host it intercepts with this CA.");
    println!(
        "Trust it where the client runs (its private key stays in {}):",
        dir.display()
    );
    println!("  curl:            curl --cacert {cert} --proxy http://127.0.0.1:8000 https://...");
    println!(
        "  Python requests: REQUESTS_CA_BUNDLE={cert} HTTPS_PROXY=http://127.0.0.1:8000 python ..."
    );
    println!(
        "  Node.js:         NODE_EXTRA_CA_CERTS={cert} HTTPS_PROXY=http://127.0.0.1:8000 node ..."
    );
    println!(
        "  OpenSSL/Go/most: SSL_CERT_FILE={cert} (replaces the system bundle for that process)"
    );
    println!(
        "  Debian/Ubuntu:   sudo cp {cert} /usr/local/share/ca-certificates/hmt.crt && sudo update-ca-certificates"
    );
    Ok(())
}
