//! The HTTPS profiles' certificates: a throwaway CA and a server certificate for `127.0.0.1`
//! and `localhost`, made once per run with the `openssl` command (the emulator's
//! `TestCertificates`) and written as PEM files the emulator serves with and every client
//! trusts: the library and the CLI through `--ca-cert`, Python's `requests` (boxsdk 3.x and
//! boxsdk 10) through `REQUESTS_CA_BUNDLE`, Node through `NODE_EXTRA_CA_CERTS`.

use std::path::{Path, PathBuf};

use crate::measure::Cmd;

/// The files of one run's certificates.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The CA's certificate: what a client must trust.
    pub ca: PathBuf,
    /// The server's certificate chain and key: what the emulator serves with.
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Trust {
    /// Makes the certificates into `dir` (replacing earlier ones), or says why it cannot.
    pub fn make(dir: &Path) -> Result<Trust, String> {
        // `TestCertificates` panics when openssl is missing or fails: a test helper. Here that
        // is a profile not measured, with the reason.
        let certs = std::panic::catch_unwind(box_emulator::TestCertificates::generate).map_err(
            |panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("the openssl command could not make a test CA: {why}")
            },
        )?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let write = |name: &str, pem: &[u8]| -> Result<PathBuf, String> {
            let path = dir.join(name);
            std::fs::write(&path, pem)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(path)
        };
        Ok(Trust {
            ca: write("ca.pem", &certs.ca_pem)?,
            cert: write("server.pem", &certs.server.cert_chain_pem)?,
            key: write("server.key", &certs.server.key_pem)?,
        })
    }

    /// The emulator's arguments to serve HTTPS with these certificates.
    pub fn emulator_args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }

    /// `cmd` trusting the CA: the environment of Python's `requests` and of Node (the
    /// library's and the CLI's `--ca-cert` are their own arguments).
    pub fn trusted_env(&self, cmd: Cmd) -> Cmd {
        cmd.env("REQUESTS_CA_BUNDLE", self.ca.clone())
            .env("NODE_EXTRA_CA_CERTS", self.ca.clone())
    }
}
