//! Helpers for tests that run the emulator in process: start one with small parts, make
//! deterministic test data, compute the values of Box's digest and range headers, check Box's
//! error bodies and read back what the emulator stored.
//!
//! For service authentication, [`auth_config`] sets up an app and two users, [`jwt_config`]
//! adds a JWT key, and [`TestRsaKey`] makes key pairs and signs assertions.
//!
//! The helpers panic (with a message that says what differed) instead of returning errors: they
//! are meant for tests, and compile only with the cargo feature `testing` (which test crates
//! turn on in their `[dev-dependencies]`) or in the emulator's own unit tests. Reading back without panicking is [`Emulator::file_content`]; waiting
//! for traffic is [`Emulator::wait_for_counters`].
//!
//! ```no_run
//! use box_emulator::testing::{self, MIB};
//!
//! # async fn demo() {
//! // Sessions with 1 MiB parts, and chunked uploads of any size.
//! let emu = testing::start(testing::config(MIB)).await;
//! let data = testing::test_data(3 * MIB + 1, 7);
//! // ... upload `data` with the client under test; Box answers with the new file's id ...
//! # let file_id = "1000001";
//! testing::assert_stored(&emu, file_id, &data).await;
//! # }
//! ```

use crate::{util, Config, Emulator};
use serde_json::Value;
use sha1::{Digest as _, Sha1};
use std::collections::BTreeMap;

/// 1024 bytes.
pub const KIB: u64 = 1024;
/// 1024 KiB.
pub const MIB: u64 = 1024 * KIB;

/// Box's help URL, which every error body carries.
const HELP_URL: &str =
    "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/";

/// A configuration for fast tests: sessions use `part_size` parts, and files of any size may
/// be uploaded in chunks (Box's 20 MB chunked minimum is lifted). Everything else is the
/// default: a temporary data directory, a random port on 127.0.0.1, no faults.
pub fn config(part_size: u64) -> Config {
    Config {
        part_size: Some(part_size),
        min_chunked_size: 1,
        ..Default::default()
    }
}

/// Starts an emulator with `config` on the current tokio runtime.
///
/// # Panics
///
/// If it does not start (see [`Emulator::start`]).
pub async fn start(config: Config) -> Emulator {
    match Emulator::start(config).await {
        Ok(emu) => emu,
        Err(e) => panic!("the emulator did not start: {e}"),
    }
}

/// Deterministic pseudo-random bytes of any length, addressable by offset: the bytes at an
/// offset depend only on the seed and the offset, so a test can make any range of a large file
/// (or its SHA-1) without holding the whole file, and check any range it reads back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestData {
    key: u64,
}

impl TestData {
    /// The data of `seed`; different seeds give different data.
    pub fn new(seed: u64) -> TestData {
        TestData {
            key: util::splitmix64(seed),
        }
    }

    /// The bytes `[offset, offset + len)`.
    pub fn bytes(&self, offset: u64, len: u64) -> Vec<u8> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(len);
        let mut word = offset / 8;
        let mut skip = (offset % 8) as usize;
        while out.len() < len {
            let bytes = self.word(word).to_le_bytes();
            let take = (8 - skip).min(len - out.len());
            out.extend_from_slice(&bytes[skip..skip + take]);
            skip = 0;
            word += 1;
        }
        out
    }

    /// The SHA-1 of `[offset, offset + len)`, made 1 MiB at a time.
    pub fn sha1(&self, offset: u64, len: u64) -> [u8; 20] {
        let mut hasher = Sha1::new();
        let end = offset + len;
        let mut pos = offset;
        while pos < end {
            let n = MIB.min(end - pos);
            hasher.update(self.bytes(pos, n));
            pos += n;
        }
        util::sha1_finish(hasher)
    }

    /// Word `index` of the data (bytes `8 * index ..`): the splitmix64 sequence from the key.
    fn word(&self, index: u64) -> u64 {
        util::splitmix64(
            self.key
                .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        )
    }
}

/// `len` bytes of deterministic test data: `TestData::new(seed).bytes(0, len)`.
pub fn test_data(len: u64, seed: u64) -> Vec<u8> {
    TestData::new(seed).bytes(0, len)
}

/// The SHA-1 of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// Lower-case hex of `bytes`: the form of the `sha1` fields in Box's answers.
pub fn hex(bytes: &[u8]) -> String {
    util::hex(bytes)
}

/// The hex SHA-1 of `data`, as Box's `sha1` fields give it.
pub fn sha1_hex(data: &[u8]) -> String {
    hex(&sha1(data))
}

/// Standard base64 (with padding) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    util::b64(bytes)
}

/// The value of the `digest` header of a part upload or a commit for `data`:
/// `sha=<base64 of the SHA-1>`
/// (<https://developer.box.com/reference/put-files-upload-sessions-id/>).
pub fn digest(data: &[u8]) -> String {
    digest_of(&sha1(data))
}

/// The `digest` header value for a SHA-1 already computed: `sha=<base64>`.
pub fn digest_of(sha1: &[u8; 20]) -> String {
    format!("sha={}", base64(sha1))
}

/// The `content-range` header value of a part of `len` bytes at `first` of a `total`-byte file:
/// `bytes <first>-<last>/<total>`, `last` inclusive.
///
/// # Panics
///
/// If `len` is 0 (a part has at least one byte).
pub fn content_range(first: u64, len: u64, total: u64) -> String {
    assert!(len > 0, "a content-range covers at least one byte");
    format!("bytes {first}-{}/{total}", first + len - 1)
}

/// Asserts that `body` is Box's error body for `status` and `code`
/// (<https://developer.box.com/reference/resources/client-error/>): `type` `error`, the status
/// and code, a message, a `context_info` (null or an object), Box's help URL, and a non-empty
/// `request_id` equal to `request_id_header`, the `box-request-id` header of the same answer.
///
/// # Panics
///
/// If any of that does not hold.
pub fn assert_error_body(body: &Value, status: u16, code: &str, request_id_header: Option<&str>) {
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["status"], status, "status in the body: {body}");
    assert_eq!(body["code"], code, "code in the body: {body}");
    assert!(body["message"].is_string(), "message: {body}");
    assert!(
        body.get("context_info")
            .is_some_and(|c| c.is_null() || c.is_object()),
        "context_info: {body}"
    );
    assert_eq!(body["help_url"], HELP_URL, "{body}");
    let id = body["request_id"].as_str().unwrap_or_default();
    assert!(!id.is_empty(), "request_id: {body}");
    assert_eq!(
        request_id_header,
        Some(id),
        "the box-request-id header and the body's request_id differ: {body}"
    );
}

/// A local directory read the way [`Emulator::tree`] reads a Box folder: each regular file's
/// path relative to `dir` (names joined with `/`) -> (size, hex SHA-1). Symbolic links and
/// other special files are skipped; names that are not UTF-8 are converted lossily.
///
/// # Panics
///
/// If the directory cannot be read.
pub fn local_tree(dir: &std::path::Path) -> BTreeMap<String, (u64, String)> {
    fn walk(dir: &std::path::Path, prefix: &str, out: &mut BTreeMap<String, (u64, String)>) {
        let entries = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading directory {}: {e}", dir.display()));
        for e in entries {
            let e = e.unwrap_or_else(|e| panic!("reading directory {}: {e}", dir.display()));
            let name = e.file_name().to_string_lossy().into_owned();
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = e
                .file_type()
                .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
            if kind.is_dir() {
                walk(&e.path(), &path, out);
            } else if kind.is_file() {
                let data = std::fs::read(e.path())
                    .unwrap_or_else(|err| panic!("reading {}: {err}", e.path().display()));
                out.insert(path, (data.len() as u64, sha1_hex(&data)));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// Asserts that Box folder `folder_id` holds exactly the files of local directory `dir`, by
/// path, size and SHA-1 ([`Emulator::tree`] against [`local_tree`]).
///
/// # Panics
///
/// If the folder does not exist, or a file is missing, extra or different.
pub async fn assert_tree_matches(emu: &Emulator, folder_id: &str, dir: &std::path::Path) {
    let remote = emu
        .tree(folder_id)
        .await
        .unwrap_or_else(|| panic!("there is no folder {folder_id}"));
    let local = local_tree(dir);
    let missing: Vec<&String> = local.keys().filter(|k| !remote.contains_key(*k)).collect();
    let extra: Vec<&String> = remote.keys().filter(|k| !local.contains_key(*k)).collect();
    let differ: Vec<&String> = local
        .iter()
        .filter(|(k, v)| remote.get(*k).is_some_and(|r| r != *v))
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty() && differ.is_empty(),
        "folder {folder_id} and {}: missing on Box {missing:?}, only on Box {extra:?}, \
         different {differ:?}",
        dir.display()
    );
}

/// Asserts that file `file_id` holds exactly `expected` (as its current version): same size,
/// same SHA-1, same bytes.
///
/// # Panics
///
/// If the file does not exist or holds something else.
pub async fn assert_stored(emu: &Emulator, file_id: &str, expected: &[u8]) {
    let stored = emu
        .file_content(file_id, None)
        .await
        .unwrap_or_else(|e| panic!("reading back file {file_id}: {e}"));
    assert_eq!(
        stored.len(),
        expected.len(),
        "stored size of file {file_id}"
    );
    assert_eq!(
        sha1_hex(&stored),
        sha1_hex(expected),
        "stored SHA-1 of file {file_id}"
    );
    assert!(stored == expected, "stored bytes of file {file_id}");
}

// ---------------------------------------------------------------------------------------
// Service authentication

/// The client id of [`auth_config`].
pub const CLIENT_ID: &str = "test-client-id";
/// The client secret of [`auth_config`].
pub const CLIENT_SECRET: &str = "test-client-secret";
/// The enterprise id of [`auth_config`] (the default, `"1"`).
pub const ENTERPRISE_ID: &str = "1";
/// A user of [`auth_config`].
pub const USER_ID: &str = "1001";
/// A second user of [`auth_config`].
pub const OTHER_USER_ID: &str = "1002";
/// The JWT key id of [`jwt_config`].
pub const JWT_KEY_ID: &str = "test-key-id";

/// [`config`]`(part_size)` with service authentication: the app [`CLIENT_ID`] /
/// [`CLIENT_SECRET`], enterprise [`ENTERPRISE_ID`], users [`USER_ID`] and [`OTHER_USER_ID`].
/// Client-credentials tokens work at once; mint refresh tokens with
/// [`Emulator::mint_refresh_token`]; add a JWT key with [`jwt_config`].
pub fn auth_config(part_size: u64) -> Config {
    Config {
        client_id: Some(CLIENT_ID.to_string()),
        client_secret: Some(CLIENT_SECRET.to_string()),
        enterprise_id: ENTERPRISE_ID.to_string(),
        users: vec![USER_ID.to_string(), OTHER_USER_ID.to_string()],
        ..config(part_size)
    }
}

/// [`auth_config`]`(part_size)` with the JWT grant enabled for `key`'s public key, as
/// [`JWT_KEY_ID`].
pub fn jwt_config(part_size: u64, key: &TestRsaKey) -> Config {
    Config {
        jwt_public_key: Some(key.public_key_pem.clone()),
        jwt_key_id: Some(JWT_KEY_ID.to_string()),
        ..auth_config(part_size)
    }
}

/// A 2048-bit RSA key pair for JWT tests, made by the `openssl` command.
#[derive(Clone, Debug)]
pub struct TestRsaKey {
    /// The private key, unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub private_key_pem: String,
    /// The public key, SPKI PEM (`-----BEGIN PUBLIC KEY-----`): what Box's console takes.
    pub public_key_pem: String,
}

impl TestRsaKey {
    /// Generates a key pair with `openssl genpkey -algorithm RSA -pkeyopt
    /// rsa_keygen_bits:2048` and `openssl pkey -pubout`.
    ///
    /// # Panics
    ///
    /// If `openssl` cannot be run or fails.
    pub fn generate() -> TestRsaKey {
        let private_key_pem = openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            None,
        );
        let public_key_pem = openssl(&["pkey", "-pubout"], Some(&private_key_pem));
        TestRsaKey {
            private_key_pem,
            public_key_pem,
        }
    }

    /// The private key encrypted under `passphrase` as Box's console hands it out in an app
    /// config: encrypted PKCS#8 PEM (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, PBES2 with
    /// AES-256-CBC, `openssl pkcs8 -topk8 -v2 aes-256-cbc`).
    ///
    /// # Panics
    ///
    /// If `openssl` cannot be run or fails.
    pub fn encrypted_private_key_pem(&self, passphrase: &str) -> String {
        let pass = format!("pass:{passphrase}");
        openssl(
            &["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", &pass],
            Some(&self.private_key_pem),
        )
    }

    /// One key pair per test process, generated on first use (key generation takes a while).
    pub fn shared() -> &'static TestRsaKey {
        static KEY: std::sync::OnceLock<TestRsaKey> = std::sync::OnceLock::new();
        KEY.get_or_init(TestRsaKey::generate)
    }

    /// A JWT of `header` and `claims` (JSON objects, sent as given), signed RS256 with the
    /// private key whatever `header.alg` says.
    ///
    /// # Panics
    ///
    /// If the private key cannot be read.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (_, body) = crate::auth::pem_body(&self.private_key_pem)
            .unwrap_or_else(|e| panic!("the test private key: {e}"));
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_else(|e| panic!("the test private key is not base64: {e}"));
        let pair = ring::signature::RsaKeyPair::from_pkcs8(&der)
            .unwrap_or_else(|e| panic!("the test private key is not an RSA PKCS#8 key: {e}"));
        let signed = format!(
            "{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string())
        );
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .unwrap_or_else(|e| panic!("signing a test JWT: {e}"));
        format!("{signed}.{}", b64.encode(signature))
    }

    /// An assertion as Box's SDKs make it: RS256, `kid` [`JWT_KEY_ID`], `iss` [`CLIENT_ID`],
    /// `aud` Box's token URL, `box_sub_type` `sub_type` (`enterprise` or `user`), `sub`, a
    /// fresh random `jti` and `exp` 30 seconds from now.
    pub fn assertion(&self, sub_type: &str, sub: &str) -> String {
        let exp = chrono::Utc::now().timestamp() + 30;
        self.sign(
            &jwt_header(),
            &serde_json::json!({
                "iss": CLIENT_ID,
                "sub": sub,
                "box_sub_type": sub_type,
                "aud": crate::auth::BOX_TOKEN_URL,
                "jti": new_jti(),
                "exp": exp,
            }),
        )
    }
}

/// The JWT header Box's SDKs send: `{"alg": "RS256", "typ": "JWT", "kid": JWT_KEY_ID}`.
pub fn jwt_header() -> Value {
    serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": JWT_KEY_ID})
}

/// A random 32-character JWT id.
pub fn new_jti() -> String {
    crate::auth::random_token(32)
}

fn openssl(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run openssl {args:?}: {e}"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .unwrap_or_else(|e| panic!("writing to openssl: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("openssl {args:?}: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("openssl {args:?} output: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_data_is_addressable_by_offset_and_depends_on_the_seed() {
        let whole = test_data(100, 3);
        assert_eq!(whole.len(), 100);
        for (offset, len) in [(0, 100), (1, 7), (7, 9), (8, 8), (13, 80), (99, 1), (50, 0)] {
            assert_eq!(
                TestData::new(3).bytes(offset, len),
                whole[offset as usize..(offset + len) as usize],
                "{offset} {len}"
            );
        }
        assert_ne!(test_data(100, 4), whole);
        assert_eq!(test_data(100, 3), whole);
        let big = test_data(3 * MIB + 5, 9);
        assert_eq!(TestData::new(9).sha1(0, 3 * MIB + 5), sha1(&big));
        assert_eq!(
            TestData::new(9).sha1(MIB - 3, MIB + 7),
            sha1(&big[(MIB - 3) as usize..(2 * MIB + 4) as usize])
        );
    }

    #[test]
    fn header_values_have_box_form() {
        // The SHA-1 of "abc" (FIPS 180-1's example).
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(digest(b"abc"), "sha=qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
        assert_eq!(content_range(8, 4, 100), "bytes 8-11/100");
    }
}
