//! HTTPS: the certificate and key the emulator serves with ([`TlsConfig`]), turned into a
//! rustls acceptor that offers HTTP/2 and HTTP/1.1 by ALPN, as Box's hosts do.
//!
//! rustls runs on the ring provider (already in the tree for JWT signatures), so no other
//! crypto library is built. With `testing`, [`TestCertificates`] makes a throwaway CA and a
//! server certificate for `localhost` and `127.0.0.1` with the `openssl` command.

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// ALPN names offered, in the server's order of preference.
pub(crate) const ALPN_H2: &[u8] = b"h2";
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The certificate chain and private key HTTPS is served with ([`crate::Config::tls`], the
/// binary's `--tls-cert` and `--tls-key`). Both are PEM text: the chain leaf first, then any
/// intermediates; the key PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
#[derive(Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The certificate chain, PEM (`-----BEGIN CERTIFICATE-----` blocks, leaf first).
    pub cert_chain_pem: Vec<u8>,
    /// The private key of the leaf certificate, PEM.
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsConfig {
    // The key stays out of logs and panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field(
                "cert_chain_pem",
                &format_args!("{} bytes", self.cert_chain_pem.len()),
            )
            .field("key_pem", &format_args!("(hidden)"))
            .finish()
    }
}

impl TlsConfig {
    /// Reads the certificate chain and key from PEM files. The contents are checked when the
    /// emulator starts.
    pub fn from_pem_files(cert: &Path, key: &Path) -> std::io::Result<TlsConfig> {
        let read = |p: &Path| {
            std::fs::read(p)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))
        };
        Ok(TlsConfig {
            cert_chain_pem: read(cert)?,
            key_pem: read(key)?,
        })
    }

    /// The acceptor for this certificate and key, or why they are not usable.
    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor, String> {
        let certs = CertificateDer::pem_slice_iter(&self.cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("the TLS certificate is not PEM: {e}"))?;
        if certs.is_empty() {
            return Err("the TLS certificate file holds no CERTIFICATE block".into());
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem)
            .map_err(|e| format!("the TLS key is not a PEM private key: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| format!("the TLS certificate and key do not make a server: {e}"))?;
        config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// A throwaway certificate authority and a server certificate it signed, for `localhost` and
/// `127.0.0.1` (P-256 keys, valid two days), made with the `openssl` command in a scratch
/// directory that is removed afterwards.
#[cfg(any(feature = "testing", test))]
#[derive(Clone, Debug)]
pub struct TestCertificates {
    /// The CA's certificate, PEM: what a client must trust.
    pub ca_pem: Vec<u8>,
    /// What the emulator serves with.
    pub server: TlsConfig,
}

#[cfg(any(feature = "testing", test))]
impl TestCertificates {
    /// Makes a CA and a server certificate.
    ///
    /// # Panics
    ///
    /// If `openssl` cannot be run or fails, or the scratch directory cannot be used.
    pub fn generate() -> TestCertificates {
        let dir = std::env::temp_dir().join(format!(
            "box-emulator-tls-{}-{}",
            std::process::id(),
            crate::error::new_request_id()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let common = ["-days", "2"];
        openssl(
            &dir,
            &[
                &["req", "-x509", "-new"],
                &ec[..],
                &common,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-subj",
                    "/CN=box-emulator test CA",
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            ]
            .concat(),
        );
        openssl(
            &dir,
            &[
                &["req", "-x509"],
                &ec[..],
                &common,
                &[
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-keyout",
                    "server.key",
                    "-out",
                    "server.pem",
                    "-subj",
                    "/CN=localhost",
                    "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
                    "-addext",
                    "basicConstraints=critical,CA:FALSE",
                    "-addext",
                    "extendedKeyUsage=serverAuth",
                ],
            ]
            .concat(),
        );
        let read = |name: &str| {
            std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
        };
        let certs = TestCertificates {
            ca_pem: read("ca.pem"),
            server: TlsConfig {
                cert_chain_pem: read("server.pem"),
                key_pem: read("server.key"),
            },
        };
        let _ = std::fs::remove_dir_all(&dir);
        certs
    }

    /// One set per test process, made on first use.
    pub fn shared() -> &'static TestCertificates {
        static CERTS: std::sync::OnceLock<TestCertificates> = std::sync::OnceLock::new();
        CERTS.get_or_init(TestCertificates::generate)
    }
}

#[cfg(any(feature = "testing", test))]
fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl {args:?}: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_certificates_make_an_acceptor_and_bad_pem_is_refused() {
        let certs = TestCertificates::generate();
        assert!(certs.server.acceptor().is_ok());
        let swapped = TlsConfig {
            cert_chain_pem: certs.server.key_pem.clone(),
            key_pem: certs.server.key_pem.clone(),
        };
        let err = swapped.acceptor().err().unwrap_or_default();
        assert!(err.contains("no CERTIFICATE"), "{err}");
        let no_key = TlsConfig {
            key_pem: b"not a key".to_vec(),
            ..certs.server.clone()
        };
        let err = no_key.acceptor().err().unwrap_or_default();
        assert!(err.contains("private key"), "{err}");
        // Another key than the certificate's.
        let other = TestCertificates::generate();
        let mismatched = TlsConfig {
            key_pem: other.server.key_pem.clone(),
            ..certs.server.clone()
        };
        assert!(mismatched.acceptor().is_err());
        assert!(!format!("{:?}", certs.server).contains("PRIVATE"));
    }
}
