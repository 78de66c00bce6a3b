//! `box-upload put` credentials: a fixed token, client credentials from the environment, or a
//! JWT app config file; never a secret on the command line or in the output; one clear line
//! when none or several kinds are given.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::*;

const CLIENT_ID: &str = "cli-client-id";
const CLIENT_SECRET: &str = "cli-client-secret-VALUE";
const USER: &str = "555";

/// `box-upload put FILE --folder 0 --name NAME --json` against `emu`, with no credentials
/// from the environment of the test run.
fn put(emu: &Emulator, file: &Path, name: &str) -> Command {
    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(file)
        .args(["--folder", "0", "--name", name, "--json"])
        .args([
            "--api-url",
            &emu.api_url(),
            "--upload-url",
            &emu.upload_url(),
        ])
        .args(["--chunked-cutoff", "65536", "--min-chunked-size", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Both outputs, checked to hold none of `secrets`.
fn outputs(out: &Output, secrets: &[&str]) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for secret in secrets {
        assert!(!stdout.contains(secret), "{secret} in stdout: {stdout}");
        assert!(!stderr.contains(secret), "{secret} in stderr: {stderr}");
    }
    (stdout, stderr)
}

fn auth_config() -> Config {
    Config {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(CLIENT_SECRET.into()),
        users: vec![USER.into()],
        ..config(64 * KIB)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_or_conflicting_credentials_are_one_clear_line() {
    let emu = start(config(64 * KIB)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.bin");
    std::fs::write(&file, b"hello").expect("write");

    let out = run(put(&emu, &file, "upload-1")).await;
    assert_eq!(out.status.code(), Some(3), "credentials refused: exit 3");
    let (_, stderr) = outputs(&out, &[]);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for name in [
        "BOX_TOKEN",
        "BOX_CLIENT_ID",
        "BOX_JWT_CONFIG",
        "--jwt-config",
    ] {
        assert!(stderr.contains(name), "{name} not in {stderr}");
    }

    let mut cmd = put(&emu, &file, "upload-2");
    cmd.env("BOX_TOKEN", "token-VALUE")
        .env("BOX_CLIENT_ID", CLIENT_ID)
        .env("BOX_CLIENT_SECRET", CLIENT_SECRET)
        .env("BOX_ENTERPRISE_ID", "1");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(3), "credentials refused: exit 3");
    let (_, stderr) = outputs(&out, &["token-VALUE", CLIENT_SECRET]);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("conflicting credentials"), "{stderr}");

    let mut cmd = put(&emu, &file, "upload-3");
    cmd.env("BOX_CLIENT_ID", CLIENT_ID)
        .env("BOX_CLIENT_SECRET", CLIENT_SECRET);
    let out = run(cmd).await;
    let (_, stderr) = outputs(&out, &[CLIENT_SECRET]);
    assert!(stderr.contains("BOX_ENTERPRISE_ID"), "{stderr}");

    // No secret is ever an argument.
    let mut cmd = put(&emu, &file, "upload-4");
    cmd.args(["--client-secret", "x"]);
    assert!(!run(cmd).await.status.success());
    assert_eq!(emu.counters().requests_total, 0, "nothing was sent");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_from_the_environment_upload_as_the_service_account_or_a_user() {
    let emu = start(auth_config()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ccg.bin");
    let data = test_data(300 * KIB, 8);
    std::fs::write(&file, &data).expect("write");

    let mut cmd = put(&emu, &file, "upload-5");
    cmd.env("BOX_CLIENT_ID", CLIENT_ID)
        .env("BOX_CLIENT_SECRET", CLIENT_SECRET)
        .env("BOX_ENTERPRISE_ID", Config::default().enterprise_id)
        .args(["--as-user", USER])
        .args(["--token-url", &format!("{}/oauth2/token", emu.base_url())]);
    let out = run(cmd).await;
    let (stdout, stderr) = outputs(&out, &[CLIENT_SECRET]);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_stored(&emu, json["id"].as_str().expect("id"), &data).await;
    let c = emu.counters();
    assert_eq!(c.auth.tokens_issued.client_credentials, 1, "{:?}", c.auth);
    assert!(c.auth.as_user >= 1, "{:?}", c.auth);

    // A user's own token; the token URL follows --api-url.
    let mut cmd = put(&emu, &file, "upload-6");
    cmd.env("BOX_CLIENT_ID", CLIENT_ID)
        .env("BOX_CLIENT_SECRET", CLIENT_SECRET)
        .env("BOX_USER_ID", USER);
    let out = run(cmd).await;
    let (stdout, stderr) = outputs(&out, &[CLIENT_SECRET]);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_stored(&emu, json["id"].as_str().expect("id"), &data).await;
    assert_eq!(emu.counters().auth.tokens_issued.client_credentials, 2);

    // A wrong secret: one line naming the refusal, not the secret.
    let mut cmd = put(&emu, &file, "upload-7");
    cmd.env("BOX_CLIENT_ID", CLIENT_ID)
        .env("BOX_CLIENT_SECRET", "wrong-secret-VALUE")
        .env("BOX_USER_ID", USER);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(3), "credentials refused: exit 3");
    let (_, stderr) = outputs(&out, &["wrong-secret-VALUE"]);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("invalid_client"), "{stderr}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_app_config_file_uploads_and_shows_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let passphrase = "cli-passphrase-VALUE";
    let key = TestRsaKey::shared();
    let (private_pem, public_pem) = (
        key.encrypted_private_key_pem(passphrase),
        key.public_key_pem.clone(),
    );
    let emu = start(Config {
        jwt_public_key: Some(public_pem),
        jwt_key_id: Some("cli-key".into()),
        ..auth_config()
    })
    .await;
    let config_path = dir.path().join("config.json");
    let app_config = serde_json::json!({
        "boxAppSettings": {
            "clientID": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "appAuth": {
                "publicKeyID": "cli-key",
                "privateKey": private_pem,
                "passphrase": passphrase,
            }
        },
        "enterpriseID": Config::default().enterprise_id,
    });
    std::fs::write(&config_path, app_config.to_string()).expect("write config");
    let file = dir.path().join("jwt.bin");
    let data = test_data(200 * KIB, 9);
    std::fs::write(&file, &data).expect("write");
    let key_line = private_pem
        .lines()
        .nth(1)
        .expect("a base64 line")
        .to_string();
    let secrets = [CLIENT_SECRET, passphrase, key_line.as_str()];

    for by_env in [false, true] {
        let mut cmd = put(&emu, &file, &format!("jwt-{by_env}"));
        if by_env {
            cmd.env("BOX_JWT_CONFIG", &config_path);
        } else {
            cmd.arg("--jwt-config").arg(&config_path);
        }
        let out = run(cmd).await;
        let (stdout, stderr) = outputs(&out, &secrets);
        assert!(out.status.success(), "{stderr}");
        let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        assert_stored(&emu, json["id"].as_str().expect("id"), &data).await;
    }
    assert_eq!(emu.counters().auth.tokens_issued.jwt_bearer, 2);

    // A wrong passphrase: the config file is named, its secrets are not.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        app_config.to_string().replace(passphrase, "bad-pass-VALUE"),
    )
    .expect("write");
    let mut cmd = put(&emu, &file, "upload-9");
    cmd.arg("--jwt-config").arg(&bad);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(3), "credentials refused: exit 3");
    let (_, stderr) = outputs(&out, &[CLIENT_SECRET, "bad-pass-VALUE", key_line.as_str()]);
    assert!(stderr.contains("bad.json"), "{stderr}");
    assert!(stderr.contains("passphrase"), "{stderr}");
    emu.shutdown().await;
}

/// The long-upload run: a large `box-upload put` through client credentials with
/// 3-second tokens renews its token many times and never meets a 401. 64 MiB in `cargo test`;
/// `AUTH_LONG_MIB=1024 AUTH_LONG_NET=link=64MiB/s cargo test -p box-upload-cli --release --test it
/// long_upload -- --nocapture` runs the 1 GiB form over a shaped link (figures in the README).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_upload_through_client_credentials_with_3s_tokens_never_meets_a_401() {
    let mib: u64 = std::env::var("AUTH_LONG_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let size = mib * MIB + 12_345;
    // AUTH_LONG_NET shapes the emulator's traffic like a network (`link=64MiB/s`), so the upload
    // lasts long enough on loopback for its 3 s tokens to be renewed several times.
    let net = std::env::var("AUTH_LONG_NET")
        .ok()
        .map(|spec| box_emulator::NetConfig::from_spec(&spec).expect("AUTH_LONG_NET"))
        .unwrap_or_default();
    let emu = start(Config {
        token_ttl: std::time::Duration::from_secs(3),
        min_chunked_size: 1,
        net,
        ..auth_config_with_part(if mib >= 512 { 8 * MIB } else { MIB })
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("long.bin");
    let data = TestData::new(77);
    {
        use std::io::Write as _;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
        let mut offset = 0;
        while offset < size {
            let len = (8 * MIB).min(size - offset);
            out.write_all(&data.bytes(offset, len)).expect("write");
            offset += len;
        }
        out.flush().expect("flush");
    }

    let started = std::time::Instant::now();
    let mut cmd = put(&emu, &file, "long.bin");
    cmd.env("BOX_CLIENT_ID", CLIENT_ID)
        .env("BOX_CLIENT_SECRET", CLIENT_SECRET)
        .env("BOX_ENTERPRISE_ID", Config::default().enterprise_id);
    let out = run(cmd).await;
    let elapsed = started.elapsed();
    let (stdout, stderr) = outputs(&out, &[CLIENT_SECRET]);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(json["size"].as_u64(), Some(size), "{json}");
    assert_eq!(
        json["sha1"].as_str(),
        Some(hex(&data.sha1(0, size)).as_str()),
        "the stored file is the source"
    );
    let c = emu.counters();
    let renewals = c.auth.tokens_issued.client_credentials;
    println!(
        "{mib} MiB through client credentials with 3 s tokens: {:.1} s, {renewals} tokens issued, {} 401s",
        elapsed.as_secs_f64(),
        c.auth.unauthorized
    );
    assert_eq!(
        c.auth.unauthorized, 0,
        "no request met an expired token: {:?}",
        c.auth
    );
    // A token is renewed only when a request needs one: how many were issued depends on how long
    // requests kept coming (the emulator's commit of a large file is one long request), so the
    // count is reported, not bounded; the e2e module `auth` pins renewals under parts in flight.
    assert!(renewals >= 1, "{:?}", c.auth);
    emu.shutdown().await;
}

fn auth_config_with_part(part_size: u64) -> Config {
    Config {
        part_size: Some(part_size),
        ..auth_config()
    }
}
