//! Hostile input against an in-process emulator on 127.0.0.1, mostly over raw TCP so that
//! requests no client library would send can be sent: missing and wrong tokens, overflowing
//! and negative numbers, path-like and control-character names, deeply nested and very wide
//! JSON, oversized, lying and endless bodies, bodies that stop half-way, slow partial
//! requests and garbage HTTP. Every one gets Box's error (status and code), the emulator
//! keeps serving, and nothing is written outside its data directory.

use crate::raw::*;
use box_emulator::testing::digest;
use box_emulator::{Config, Emulator};
use proptest::prelude::*;
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

const TOKEN: &str = "test-token";

/// A fresh, empty directory for one test, removed when dropped.
fn scratch() -> TempDir {
    tempfile::tempdir().expect("scratch dir")
}
const MIB: usize = 1024 * 1024;

/// An emulator whose data directory is `scratch/a/b/data`, so that a name climbing up to
/// three levels would still land inside `scratch`, where the tests look for it. 1 KiB parts.
async fn start(scratch: &TempDir, tweak: impl FnOnce(&mut Config)) -> Emulator {
    let mut config = Config {
        data_dir: Some(scratch.path().join("a").join("b").join("data")),
        part_size: Some(1024),
        min_chunked_size: 1,
        folders: vec!["5".into()],
        ..Default::default()
    };
    tweak(&mut config);
    Emulator::start(config).await.expect("emulator starts")
}

async fn post_json(addr: SocketAddr, path: &str, body: &str) -> Reply {
    request(
        addr,
        "POST",
        path,
        Some(TOKEN),
        &[("content-type", "application/json")],
        body.as_bytes(),
    )
    .await
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, Some(TOKEN), &[], b"").await
}

async fn direct(addr: SocketAddr, attributes: &str, data: &[u8]) -> Reply {
    let body = multipart("hostile-b", attributes, "f", data);
    request(
        addr,
        "POST",
        "/api/2.0/files/content",
        Some(TOKEN),
        &[("content-type", "multipart/form-data; boundary=hostile-b")],
        &body,
    )
    .await
}

/// Uploads `data` as `name` in the root folder; returns the file id.
async fn upload(addr: SocketAddr, name: &str, data: &[u8]) -> String {
    let r = direct(
        addr,
        &json!({"name": name, "parent": {"id": "0"}}).to_string(),
        data,
    )
    .await;
    assert_eq!(
        r.status,
        201,
        "upload {name:?}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()["entries"][0]["id"].as_str().unwrap().to_string()
}

async fn put_part(addr: SocketAddr, path: &str, first: u64, part: &[u8], total: u64) -> Reply {
    let range = format!("bytes {first}-{}/{total}", first + part.len() as u64 - 1);
    request(
        addr,
        "PUT",
        path,
        Some(TOKEN),
        &[("digest", &digest(part)), ("content-range", &range)],
        part,
    )
    .await
}

/// The emulator still does real work: an upload, read back byte for byte.
async fn healthy(addr: SocketAddr, name: &str) {
    let d = format!("still healthy: {name}").into_bytes();
    let id = upload(addr, name, &d).await;
    let r = download(addr, &format!("/2.0/files/{id}/content"), Some(TOKEN), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, d);
}

fn deep(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn missing_wrong_and_malformed_tokens_get_401_everywhere() {
    let scratch = scratch();
    let emu = start(&scratch, |_| {}).await;
    let addr = emu.local_addr();
    let fid = upload(addr, "f.txt", b"x").await;
    let sess = create_session(addr, TOKEN, "s.bin", 3000).await;
    let api_sess = sess.replace("/api/2.0", "/2.0");
    let routes: Vec<(&str, String)> = vec![
        ("OPTIONS", "/2.0/files/content".into()),
        ("OPTIONS", format!("/2.0/files/{fid}/content")),
        ("POST", "/api/2.0/files/content".into()),
        // Direct uploads are not served on the API base (404 before authentication, as for
        // any path the emulator does not serve: see direct::uploads_only_on_the_upload_base);
        // a trailing slash is.
        ("POST", "/api/2.0/files/upload_sessions/".into()),
        ("POST", format!("/api/2.0/files/{fid}/content")),
        ("POST", "/api/2.0/files/upload_sessions".into()),
        ("POST", format!("/api/2.0/files/{fid}/upload_sessions")),
        ("GET", sess.clone()),
        ("PUT", sess.clone()),
        ("DELETE", sess.clone()),
        ("GET", format!("{sess}/parts")),
        ("POST", format!("{sess}/commit")),
        ("POST", format!("{sess}/log")),
        ("PUT", api_sess.clone()),
        ("POST", format!("{api_sess}/commit")),
        ("GET", format!("/2.0/files/{fid}")),
        ("GET", format!("/2.0/files/{fid}/content")),
        ("GET", format!("/2.0/files/{fid}/versions")),
        ("GET", "/2.0/folders/0/items".into()),
        // Unknown ids: authentication is checked before anything is looked up.
        (
            "GET",
            "/api/2.0/files/upload_sessions/0123456789ABCDEF".into(),
        ),
        ("GET", "/2.0/files/999999999/content".into()),
    ];
    let long = format!("Bearer {}", "t".repeat(10_000));
    let auths: Vec<(Option<&str>, bool)> = vec![
        (None, false),
        (Some("Bearer wrong"), true),
        (Some("Bearer"), false),
        (Some("Bearer "), false),
        (Some("Bearer test-tokenX"), true),
        (Some("Bearer test-toke"), true),
        (Some("Bearer TEST-TOKEN"), true),
        (Some("Bearer test-token test-token"), true),
        (Some("Basic dGVzdC10b2tlbg=="), false),
        (Some("test-token"), false),
        (Some("Bearer t\u{e9}st-token"), false),
        (Some(long.as_str()), true),
    ];
    let body = vec![b'{'; 4096];
    for (method, path) in &routes {
        for (auth, token_given) in &auths {
            let mut headers = vec![("content-type", "application/json")];
            if let Some(a) = auth {
                headers.push(("authorization", a));
            }
            let r = request(addr, method, path, None, &headers, &body).await;
            r.box_error(401, "unauthorized");
            let challenge = r.header("www-authenticate").expect("www-authenticate");
            assert!(challenge.starts_with("Bearer realm="), "{challenge}");
            assert_eq!(
                challenge.contains("invalid_token"),
                *token_given,
                "{method} {path} {auth:?}: {challenge}"
            );
        }
    }
    // A large body sent with a wrong token is refused without being stored anywhere.
    let big = vec![7u8; 8 * MIB];
    let r = request(
        addr,
        "PUT",
        &sess,
        Some("wrong"),
        &[
            ("digest", &digest(&big[..1024])),
            ("content-range", "bytes 0-1023/3000"),
        ],
        &big,
    )
    .await;
    r.box_error(401, "unauthorized");
    // The preflight's upload token opens a direct upload, nothing else.
    let r = request(
        addr,
        "OPTIONS",
        "/2.0/files/content",
        Some(TOKEN),
        &[],
        br#"{"name":"pre.txt"}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let ut = r.json()["upload_token"].as_str().unwrap().to_string();
    let r = request(
        addr,
        "POST",
        "/api/2.0/files/upload_sessions",
        Some(&ut),
        &[],
        br#"{"folder_id":"0","file_name":"u","file_size":5}"#,
    )
    .await;
    r.box_error(401, "unauthorized");
    let r = get_with(addr, &format!("{sess}/parts"), Some(&ut)).await;
    r.box_error(401, "unauthorized");

    // Nothing happened: no part stored, no new file, the session still open.
    let parts = get(addr, &format!("{sess}/parts")).await;
    assert_eq!(parts.json()["total_count"], 0);
    let items = get(addr, "/2.0/folders/0/items").await;
    assert_eq!(items.json()["total_count"], 1);
    assert_eq!(emu.open_sessions().len(), 1);
    assert_eq!(emu.counters().parts_stored, 0);
    // The scheme is case-insensitive, as in RFC 7235.
    let r = get_with(addr, "/2.0/folders/0/items", None).await;
    r.box_error(401, "unauthorized");
    let r = request(
        addr,
        "GET",
        "/2.0/folders/0/items",
        None,
        &[("authorization", "bearer test-token")],
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    healthy(addr, "after-auth.txt").await;
}

async fn get_with(addr: SocketAddr, path: &str, token: Option<&str>) -> Reply {
    request(addr, "GET", path, token, &[], b"").await
}

#[tokio::test]
async fn negative_and_overflowing_numbers_get_box_errors() {
    let scratch = scratch();
    let emu = start(&scratch, |_| {}).await;
    let addr = emu.local_addr();
    let bad_numbers = [
        "-1",
        "-9223372036854775808",
        "1e30",
        "1E3",
        "1.5",
        "-0.5",
        "18446744073709551616",
        "18446744073709551615",
        "9223372036854775808",
        "340282366920938463463374607431768211456",
        "\"100\"",
        "null",
        "[100]",
        "{\"n\":1}",
        "true",
    ];
    for n in bad_numbers {
        let body = format!(r#"{{"folder_id":"0","file_name":"n.bin","file_size":{n}}}"#);
        let r = post_json(addr, "/api/2.0/files/upload_sessions", &body).await;
        let code = if n == "null" {
            "missing_file_size"
        } else {
            "invalid_file_size"
        };
        r.box_error(400, code);
        let body = format!(r#"{{"name":"n.bin","size":{n}}}"#);
        let r = request(
            addr,
            "OPTIONS",
            "/2.0/files/content",
            Some(TOKEN),
            &[],
            body.as_bytes(),
        )
        .await;
        if n == "null" {
            assert_eq!(r.status, 200, "{n}");
        } else {
            r.box_error(400, "bad_request");
        }
        // A folder id that is not a string of digits.
        let body = format!(r#"{{"folder_id":{n},"file_name":"n.bin","file_size":5}}"#);
        let r = post_json(addr, "/api/2.0/files/upload_sessions", &body).await;
        match n {
            "null" => r.box_error(400, "missing_destination"),
            // Digits (as a number or a string) naming no folder.
            "18446744073709551615" | "9223372036854775808" | "\"100\"" => {
                r.box_error(404, "invalid_parameter")
            }
            _ => r.box_error(400, "invalid_folder_id"),
        };
        // A parent id of the same shapes on a direct upload: Box answers 404.
        let r = direct(
            addr,
            &format!(r#"{{"name":"n.bin","parent":{{"id":{n}}}}}"#),
            b"x",
        )
        .await;
        r.box_error(404, "not_found");
    }
    // Date-times out of range, or whose UTC instant has no four-digit year (the answer
    // could not carry it as RFC 3339).
    for t in [
        "9999-12-31T23:59:59-01:00",
        "0000-01-01T00:00:00+00:01",
        "10000-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "2020-13-01T00:00:00Z",
        "2020-02-30T00:00:00Z",
        "2020-01-01T24:00:01Z",
        "2020-01-01T00:00:00+24:00",
        "2020-01-01T00:00:00",
        "1e30",
    ] {
        let attrs = json!({"name": "t.txt", "parent": {"id": "0"}, "content_modified_at": t});
        direct(addr, &attrs.to_string(), b"t")
            .await
            .box_error(400, "bad_request");
        let attrs = json!({"name": "t.txt", "parent": {"id": "0"}, "content_created_at": t});
        direct(addr, &attrs.to_string(), b"t")
            .await
            .box_error(400, "bad_request");
    }
    let attrs = json!({"name": "t.txt", "parent": {"id": "0"}, "content_modified_at": "9999-12-31T23:59:59+01:00"});
    let r = direct(addr, &attrs.to_string(), b"t").await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.json()["entries"][0]["content_modified_at"],
        "9999-12-31T22:59:59+00:00"
    );

    // The largest int64 file size needs too many 1 KiB parts.
    let r = post_json(
        addr,
        "/api/2.0/files/upload_sessions",
        r#"{"folder_id":"0","file_name":"huge","file_size":9223372036854775807}"#,
    )
    .await;
    r.box_error(403, "file_size_limit_exceeded");

    // Huge content-range totals, negative and overflowing offsets on a real session.
    let sess = create_session(addr, TOKEN, "cr.bin", 3000).await;
    let part = vec![1u8; 1024];
    for range in [
        "bytes 0-1023/9223372036854775807",
        "bytes 0-1023/9223372036854775808",
        "bytes 0-1023/18446744073709551615",
        "bytes 0-1023/18446744073709551616",
        "bytes 0-1023/99999999999999999999999999999999",
        "bytes 0-1023/-3000",
        "bytes -1024-1023/3000",
        "bytes -1-1022/3000",
        "bytes 18446744073709550592-18446744073709551615/18446744073709551616",
        "bytes 9223372036854774784-9223372036854775807/3000",
        "bytes 0-18446744073709551615/3000",
        "bytes 1e3-2047/3000",
        "bytes 0x0-1023/3000",
        "bytes +0-1023/3000",
        "bytes 0-1023/3e3",
        "bytes 0-1023/*",
        "bytes */3000",
    ] {
        let r = request(
            addr,
            "PUT",
            &sess,
            Some(TOKEN),
            &[("digest", &digest(&part)), ("content-range", range)],
            &part,
        )
        .await;
        r.box_error(416, "range_not_satisfiable");
    }
    // offset and limit.
    let fid = upload(addr, "paging.txt", b"p").await;
    for path in [
        format!("{sess}/parts"),
        "/2.0/folders/0/items".to_string(),
        format!("/2.0/files/{fid}/versions"),
    ] {
        for q in [
            "offset=-1",
            "limit=-1",
            "offset=18446744073709551616",
            "limit=18446744073709551616",
            "offset=99999999999999999999",
            "offset=1e3",
            "limit=1.5",
            "offset=0x10",
            "offset=%2B5",
            "limit=",
            "offset=%00",
        ] {
            let r = get(addr, &format!("{path}?{q}")).await;
            r.box_error(400, "bad_request");
        }
        // Huge but representable values: clamped or empty, never an error or a hang.
        let r = get(addr, &format!("{path}?limit=9999999999999999999")).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.json()["limit"], 1000);
    }
    for path in [&format!("/2.0/files/{fid}/versions")] {
        let r = get(
            addr,
            &format!("{path}?offset=9999999999999999999&limit=1000"),
        )
        .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["entries"], json!([]));
    }
    // Folder items refuse an offset above 10000, as Box's reference says.
    get(
        addr,
        "/2.0/folders/0/items?offset=9999999999999999999&limit=1000",
    )
    .await
    .box_error(400, "bad_request");
    get(addr, &format!("{sess}/parts?offset=10001"))
        .await
        .box_error(400, "bad_request");
    // A commit naming parts by negative and overflowing offsets and sizes.
    let d: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut parts = Vec::new();
    for (i, chunk) in d.chunks(1024).enumerate() {
        let r = put_part(addr, &sess, (i * 1024) as u64, chunk, 3000).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        parts.push(r.json()["part"].clone());
    }
    for (field, v) in [
        ("offset", json!(-1)),
        ("offset", json!(1e30)),
        ("size", json!(-1024)),
        ("size", json!(18446744073709551615u64)),
        ("offset", json!("0")),
    ] {
        let mut bad = parts.clone();
        bad[0][field] = v;
        let r = request(
            addr,
            "POST",
            &format!("{sess}/commit"),
            Some(TOKEN),
            &[("digest", &digest(&d))],
            json!({"parts": bad}).to_string().as_bytes(),
        )
        .await;
        r.box_error(400, "parts_mismatch");
    }
    // Download ranges with overflowing numbers: ignored (whole file) or 416.
    let r = download(
        addr,
        &format!("/2.0/files/{fid}/content"),
        Some(TOKEN),
        &[("range", "bytes=0-99999999999999999999")],
    )
    .await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"p"[..]));
    let r = download(
        addr,
        &format!("/2.0/files/{fid}/content"),
        Some(TOKEN),
        &[("range", "bytes=9223372036854775807-")],
    )
    .await;
    r.box_error(416, "requested_range_not_satisfiable");
    healthy(addr, "after-numbers.txt").await;
}

/// Names climbing out of the folder, carrying NUL or control characters, or 10,000
/// characters long are refused wherever a name is accepted; accepted odd names and every
/// id taken from a URL stay data, never a path: nothing appears outside the data directory.
#[tokio::test]
async fn hostile_names_never_become_paths() {
    let scratch = scratch();
    let emu = start(&scratch, |_| {}).await;
    let addr = emu.local_addr();
    let data_dir = emu.data_dir().to_path_buf();
    let mark = format!("MARK{}x{}", std::process::id(), line!());
    let content_mark = format!("CONTENT-{mark}");
    let invalid = "item_name_invalid";
    let evil: Vec<(String, &str)> = vec![
        (format!("../{mark}"), invalid),
        (format!("../../../../{mark}"), invalid),
        (format!("..\\..\\{mark}"), invalid),
        (format!("..\\{mark}"), invalid),
        (format!("a/../../{mark}"), invalid),
        (format!("/tmp/{mark}"), invalid),
        (format!("C:\\{mark}"), invalid),
        (format!("{mark}\0.txt"), invalid),
        (format!("\0{mark}"), invalid),
        (format!("{mark}\u{1}"), invalid),
        (format!("{mark}\r\nx-injected: 1"), invalid),
        (format!("{mark}\t"), invalid),
        (format!("\u{7f}{mark}"), invalid),
        (format!("\u{1b}[31m{mark}"), invalid),
        (format!("{mark}\u{85}"), invalid),
        (".".into(), invalid),
        ("..".into(), invalid),
        (String::new(), invalid),
        (format!(" {mark}"), invalid),
        (format!("{mark} "), invalid),
        ("a".repeat(10_000), "item_name_too_long"),
        (format!("../{}", "a".repeat(10_000)), "item_name_too_long"),
        ("\u{e9}".repeat(256), "item_name_too_long"),
    ];
    let fid = upload(addr, "target.txt", b"t").await;
    // A session with its only part uploaded, to try names at commit.
    let sess = create_session(addr, TOKEN, "commit.bin", 10).await;
    let whole = b"0123456789";
    let part = put_part(addr, &sess, 0, whole, 10).await;
    assert_eq!(part.status, 200);
    let parts = json!([part.json()["part"].clone()]);
    for (name, code) in &evil {
        let attrs = json!({"name": name, "parent": {"id": "0"}}).to_string();
        let r = direct(addr, &attrs, content_mark.as_bytes()).await;
        r.box_error(400, code);
        let body = json!({"folder_id": "0", "file_name": name, "file_size": 10}).to_string();
        post_json(addr, "/api/2.0/files/upload_sessions", &body)
            .await
            .box_error(400, code);
        let body = json!({"file_name": name, "file_size": 10}).to_string();
        post_json(
            addr,
            &format!("/api/2.0/files/{fid}/upload_sessions"),
            &body,
        )
        .await
        .box_error(400, code);
        let body = json!({"name": name, "parent": {"id": "0"}, "size": 1}).to_string();
        request(
            addr,
            "OPTIONS",
            "/2.0/files/content",
            Some(TOKEN),
            &[],
            body.as_bytes(),
        )
        .await
        .box_error(400, code);
        let body = multipart(
            "v",
            &json!({"name": name}).to_string(),
            "f",
            content_mark.as_bytes(),
        );
        request(
            addr,
            "POST",
            &format!("/api/2.0/files/{fid}/content"),
            Some(TOKEN),
            &[("content-type", "multipart/form-data; boundary=v")],
            &body,
        )
        .await
        .box_error(400, code);
        let body = json!({"parts": parts, "attributes": {"name": name}}).to_string();
        request(
            addr,
            "POST",
            &format!("{sess}/commit"),
            Some(TOKEN),
            &[("digest", &digest(whole))],
            body.as_bytes(),
        )
        .await
        .box_error(400, code);
    }
    // Odd names Box accepts are stored as data only; the multipart filename is ignored.
    let odd = [
        format!("{mark} <>:|?*\"'.txt"),
        format!("..{mark}"),
        format!("{mark}.."),
        format!("-{mark}"),
        format!("\u{202e}{mark}"),
        format!("%2e%2e%2f{mark}"),
        format!("{mark}{}", "\u{e9}".repeat(255 - mark.len())),
    ];
    for (i, name) in odd.iter().enumerate() {
        let body = multipart(
            "o",
            &json!({"name": name, "parent": {"id": "5"}}).to_string(),
            &format!("../../../{mark}-filename-{i}"),
            format!("{content_mark}-{i}").as_bytes(),
        );
        let r = request(
            addr,
            "POST",
            "/api/2.0/files/content",
            Some(TOKEN),
            &[("content-type", "multipart/form-data; boundary=o")],
            &body,
        )
        .await;
        assert_eq!(
            r.status,
            201,
            "{name:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.json()["entries"][0]["name"], json!(name));
    }
    let body = json!({"parts": parts, "attributes": {"name": format!("..{mark}.bin")}}).to_string();
    let r = request(
        addr,
        "POST",
        &format!("{sess}/commit"),
        Some(TOKEN),
        &[("digest", &digest(whole))],
        body.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // Ids taken from the URL never reach the file system either.
    for path in [
        format!("/api/2.0/files/upload_sessions/..%2F..%2F{mark}"),
        "/api/2.0/files/upload_sessions/%2E%2E".into(),
        "/api/2.0/files/upload_sessions/..%5C..%5Cstate.json".into(),
        format!("/api/2.0/files/upload_sessions/{mark}%00"),
    ] {
        for method in ["GET", "PUT", "DELETE"] {
            request(addr, method, &path, Some(TOKEN), &[], b"")
                .await
                .box_error(400, "invalid_upload_session_id");
        }
    }
    for path in [
        format!("/2.0/files/..%2F..%2F{mark}"),
        "/2.0/files/..%2Fstate.json/content".into(),
        format!("/2.0/files/{fid}/content?version=..%2F..%2Fstate.json"),
        format!("/2.0/files/{fid}/content?version=..%2F..%2F..%2Fa%2Fb%2Fdata%2Fstate.json"),
        "/2.0/files/..%2F..%2F/versions".into(),
        "/2.0/folders/..%2F..%2F/items".into(),
        "/2.0/files/../../../etc/passwd".into(),
        "/2.0/files/%2e%2e/%2e%2e/state.json".into(),
    ] {
        get(addr, &path).await.box_error(404, "not_found");
    }
    let r = direct_version(addr, &format!("..%2F..%2F{mark}"), Some("1")).await;
    r.box_error(412, "precondition_failed");
    let r = direct_version(addr, &format!("..%2F..%2F{mark}"), None).await;
    r.box_error(404, "not_found");

    healthy(addr, "after-names.txt").await;
    drop(emu);

    // Nothing outside the data directory; inside it, only server-made names.
    let parent = scratch.path();
    let mut blobs = 0;
    for p in walk(parent) {
        let rel = p.strip_prefix(parent).unwrap();
        assert!(
            !rel.to_string_lossy().contains(&mark),
            "a client name reached the file system: {}",
            p.display()
        );
        if p == parent.join("a") || p == parent.join("a").join("b") || p == data_dir {
            continue;
        }
        assert!(
            p.starts_with(&data_dir),
            "created outside the data dir: {}",
            p.display()
        );
        let in_data = p.strip_prefix(&data_dir).unwrap();
        let first = in_data
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        assert!(
            ["state.json", "files", "folders", "blobs", "sessions", "tmp"]
                .contains(&first.as_str()),
            "unexpected entry {}",
            p.display()
        );
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b)),
            "unexpected file name {name:?}"
        );
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            let has_content = memchr::memmem::find(&bytes, content_mark.as_bytes()).is_some();
            if first == "blobs" {
                blobs += 1;
                assert!(name.bytes().all(|b| b.is_ascii_digit()), "{name}");
            } else {
                assert!(
                    !has_content,
                    "file content stored outside blobs/: {}",
                    p.display()
                );
            }
        }
    }
    // target.txt, the odd names, the committed file, healthy.
    assert_eq!(blobs, 1 + odd.len() + 1 + 1);
    assert_eq!(
        walk(&data_dir.join("tmp")),
        Vec::<std::path::PathBuf>::new()
    );
    // And nothing named after the mark next to the scratch directory.
    for e in std::fs::read_dir(parent.parent().unwrap())
        .unwrap()
        .flatten()
    {
        assert!(
            !e.file_name().to_string_lossy().contains(&mark),
            "{}",
            e.path().display()
        );
    }
}

async fn direct_version(addr: SocketAddr, file_id: &str, if_match: Option<&str>) -> Reply {
    let body = multipart("v", "{}", "f", b"v");
    let mut headers = vec![("content-type", "multipart/form-data; boundary=v")];
    if let Some(m) = if_match {
        headers.push(("if-match", m));
    }
    request(
        addr,
        "POST",
        &format!("/api/2.0/files/{file_id}/content"),
        Some(TOKEN),
        &headers,
        &body,
    )
    .await
}

#[tokio::test]
async fn deeply_nested_and_very_wide_json_get_400() {
    let scratch = scratch();
    let emu = start(&scratch, |_| {}).await;
    let addr = emu.local_addr();
    let fid = upload(addr, "v.txt", b"v").await;
    let sess = create_session(addr, TOKEN, "j.bin", 10).await;
    let nested_arrays = deep(100_000);
    let nested_objects = format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
    let inside = format!(
        r#"{{"folder_id":"0","file_name":"x","file_size":10,"x":{}}}"#,
        deep(100_000)
    );
    // Within the 1 MiB limit but about 500,000 values: refused before it is parsed.
    let wide = format!(
        r#"{{"folder_id":"0","file_name":"wide","file_size":10,"x":[{}0]}}"#,
        "0,".repeat(500_000)
    );
    let wide_objects = format!(
        r#"{{"folder_id":"0","file_name":"wide","file_size":10,"x":[{}{{}}]}}"#,
        "{},".repeat(300_000)
    );
    for body in [
        &nested_arrays,
        &nested_objects,
        &inside,
        &wide,
        &wide_objects,
    ] {
        assert!(body.len() < MIB);
        post_json(addr, "/api/2.0/files/upload_sessions", body)
            .await
            .box_error(400, "bad_request");
        post_json(addr, &format!("/api/2.0/files/{fid}/upload_sessions"), body)
            .await
            .box_error(400, "bad_request");
        request(
            addr,
            "OPTIONS",
            "/2.0/files/content",
            Some(TOKEN),
            &[],
            body.as_bytes(),
        )
        .await
        .box_error(400, "bad_request");
        request(
            addr,
            "POST",
            &format!("{sess}/commit"),
            Some(TOKEN),
            &[("digest", &digest(b"0123456789"))],
            body.as_bytes(),
        )
        .await
        .box_error(400, "bad_request");
        direct(addr, body, b"data")
            .await
            .box_error(400, "bad_request");
    }
    // The fault settings endpoint (64 KiB limit).
    let r = request(
        addr,
        "PUT",
        "/_emulator/faults",
        None,
        &[],
        deep(30_000).as_bytes(),
    )
    .await;
    r.box_error(400, "bad_request");
    let nested_fault = format!(r#"{{"rate_limit":{}}}"#, deep(30_000));
    let r = request(
        addr,
        "PUT",
        "/_emulator/faults",
        None,
        &[],
        nested_fault.as_bytes(),
    )
    .await;
    r.box_error(400, "bad_request");
    let r = request(
        addr,
        "PUT",
        "/_emulator/faults",
        None,
        &[],
        br#"{"latency_ms":18446744073709551615}"#,
    )
    .await;
    r.box_error(400, "bad_request");
    let r = request(
        addr,
        "PUT",
        "/_emulator/faults",
        None,
        &[],
        deep(100_000).as_bytes(),
    )
    .await;
    r.box_error(413, "request_entity_too_large");
    assert_eq!(emu.faults(), box_emulator::FaultConfig::default());
    // Nothing was created by any of it.
    assert_eq!(emu.open_sessions().len(), 1);
    healthy(addr, "after-json.txt").await;
}

#[tokio::test]
async fn oversized_lying_and_endless_bodies_are_cut_off() {
    let scratch = scratch();
    let emu = start(&scratch, |c| c.max_direct_upload_size = Some(MIB as u64)).await;
    let addr = emu.local_addr();
    let sess = create_session(addr, TOKEN, "b.bin", 3000).await;

    // JSON just over the limit, sent whole.
    let over = format!(r#"{{"x":"{}"}}"#, "a".repeat(MIB));
    post_json(addr, "/api/2.0/files/upload_sessions", &over)
        .await
        .box_error(413, "request_entity_too_large");
    // A declared length over the limit is refused before any of the body is read (a
    // small one is then read and discarded so the client sees the answer; a huge one is not
    // waited for at all).
    let exact = format!(r#"{{"x":"{}"}}"#, "a".repeat(MIB - 7));
    assert_eq!(exact.len(), MIB + 1);
    post_json(addr, "/api/2.0/files/upload_sessions", &exact)
        .await
        .box_error(413, "request_entity_too_large");
    for (path, len) in [
        ("/api/2.0/files/upload_sessions", "1000000000000000"),
        ("/api/2.0/files/upload_sessions", "268435457"),
        ("/2.0/files/content", "9223372036854775807"),
    ] {
        let method = if path == "/2.0/files/content" {
            "OPTIONS"
        } else {
            "POST"
        };
        let start = Instant::now();
        let r = exchange(
            addr,
            &head(method, path, Some(TOKEN), &[("content-length", len)]),
            b"{",
        )
        .await
        .unwrap_or_else(|e| panic!("{path} with content-length {len}: {e}"));
        r.box_error(413, "request_entity_too_large");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }
    // A commit body over its limit (3 parts: about 1 MiB).
    let r = request(
        addr,
        "POST",
        &format!("{sess}/commit"),
        Some(TOKEN),
        &[("digest", &digest(b"x"))],
        over.repeat(2).as_bytes(),
    )
    .await;
    r.box_error(413, "request_entity_too_large");
    // A part whose content-length disagrees with its range, however large: answered at
    // once, nothing read.
    let part = vec![3u8; 1024];
    for len in ["1000000000000", "268435457", "1025", "1023", "0"] {
        let n: usize = len.parse().unwrap();
        let sent = if n <= 1025 {
            vec![3u8; n]
        } else {
            part[..10].to_vec()
        };
        let start = Instant::now();
        let r = exchange(
            addr,
            &head(
                "PUT",
                &sess,
                Some(TOKEN),
                &[
                    ("digest", &digest(&part)),
                    ("content-range", "bytes 0-1023/3000"),
                    ("content-length", len),
                ],
            ),
            &sent,
        )
        .await
        .unwrap_or_else(|e| panic!("content-length {len}: {e}"));
        r.box_error(400, "request_size_mismatch");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{len}: {:?}",
            start.elapsed()
        );
    }
    // Endless bodies (chunked, never finished).
    let chunked = ("transfer-encoding", "chunked");
    let block = vec![b'0'; 64 * 1024];
    let r = endless(
        addr,
        &head(
            "POST",
            "/api/2.0/files/upload_sessions",
            Some(TOKEN),
            &[chunked],
        ),
        b"[".to_vec(),
        block.iter().flat_map(|_| *b"0,").take(64 * 1024).collect(),
        None,
    )
    .await
    .expect("answer to an endless JSON body");
    r.box_error(413, "request_entity_too_large");
    assert_eq!(r.header("connection"), Some("close"));
    let r = endless(
        addr,
        &head(
            "PUT",
            &sess,
            Some(TOKEN),
            &[
                ("digest", &digest(&part)),
                ("content-range", "bytes 0-1023/3000"),
                chunked,
            ],
        ),
        Vec::new(),
        block.clone(),
        None,
    )
    .await
    .expect("answer to an endless part");
    r.box_error(400, "request_size_mismatch");
    assert_eq!(r.header("connection"), Some("close"));
    let mp = ("content-type", "multipart/form-data; boundary=e");
    let r = endless(
        addr,
        &head(
            "POST",
            "/api/2.0/files/content",
            Some(TOKEN),
            &[mp, chunked],
        ),
        b"--e\r\ncontent-disposition: form-data; name=\"attributes\"\r\n\r\n{\"name\":\"".to_vec(),
        block.clone(),
        None,
    )
    .await
    .expect("answer to an endless attributes part");
    r.box_error(400, "bad_request");
    let r = endless(
        addr,
        &head("POST", "/api/2.0/files/content", Some(TOKEN), &[mp, chunked]),
        b"--e\r\ncontent-disposition: form-data; name=\"attributes\"\r\n\r\n{\"name\":\"endless\",\"parent\":{\"id\":\"0\"}}\r\n--e\r\ncontent-disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n".to_vec(),
        block.clone(),
        None,
    )
    .await
    .expect("answer to an endless file part");
    r.box_error(413, "request_entity_too_large");
    // Part headers that never end.
    let r = endless(
        addr,
        &head(
            "POST",
            "/api/2.0/files/content",
            Some(TOKEN),
            &[mp, chunked],
        ),
        b"--e\r\nx-junk: ".to_vec(),
        block.clone(),
        None,
    )
    .await
    .expect("answer to endless part headers");
    r.box_error(400, "bad_request");
    // A huge attributes part, complete.
    let attrs = format!(
        r#"{{"name":"big","parent":{{"id":"0"}},"x":"{}"}}"#,
        "a".repeat(2 * MIB)
    );
    direct(addr, &attrs, b"x")
        .await
        .box_error(400, "bad_request");

    // Nothing stored from any of it, nothing left in tmp/, and the session works.
    assert_eq!(emu.counters().parts_stored, 0);
    let left = wait_empty(&emu.data_dir().join("tmp"), Duration::from_secs(5)).await;
    assert!(left.is_empty(), "{left:?}");
    let r = put_part(addr, &sess, 0, &part, 3000).await;
    assert_eq!(r.status, 200);
    let items = get(addr, "/2.0/folders/0/items").await.json();
    assert_eq!(items["total_count"], 0, "{items}");
    healthy(addr, "after-bodies.txt").await;
}

/// Connections closed part-way through a request body (mid-part, mid-JSON, right after the
/// headers) leave no file, no part, no session and no temporary file, and the same request
/// sent in full afterwards succeeds.
#[tokio::test]
async fn bodies_that_stop_midway_leave_nothing_behind() {
    let scratch = scratch();
    let emu = start(&scratch, |_| {}).await;
    let addr = emu.local_addr();
    let sess = create_session(addr, TOKEN, "m.bin", 3000).await;
    let d: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 256) as u8).collect();
    let file = multipart(
        "m",
        r#"{"name":"midway.txt","parent":{"id":"0"}}"#,
        "f",
        &vec![9u8; 200_000],
    );
    let mp_len = file.len().to_string();
    let part_headers = |len: &'static str| {
        head(
            "PUT",
            &sess,
            Some(TOKEN),
            &[
                ("digest", &digest(&d[..1024])),
                ("content-range", "bytes 0-1023/3000"),
                ("content-length", len),
            ],
        )
    };
    let cases: Vec<(String, Vec<u8>)> = vec![
        // Mid-way through the file part of a direct upload.
        (
            head(
                "POST",
                "/api/2.0/files/content",
                Some(TOKEN),
                &[
                    ("content-type", "multipart/form-data; boundary=m"),
                    ("content-length", &mp_len),
                ],
            ),
            file[..file.len() / 2].to_vec(),
        ),
        // Mid-way through the attributes part.
        (
            head(
                "POST",
                "/api/2.0/files/content",
                Some(TOKEN),
                &[
                    ("content-type", "multipart/form-data; boundary=m"),
                    ("content-length", &mp_len),
                ],
            ),
            file[..70].to_vec(),
        ),
        // Mid-way through a chunked direct upload (inside a chunk).
        (
            head(
                "POST",
                "/api/2.0/files/content",
                Some(TOKEN),
                &[
                    ("content-type", "multipart/form-data; boundary=m"),
                    ("transfer-encoding", "chunked"),
                ],
            ),
            [
                format!("{:x}\r\n", file.len()).as_bytes(),
                &file[..file.len() / 2],
            ]
            .concat(),
        ),
        // A part: half its bytes, none of them, or a chunked body cut inside a chunk.
        (part_headers("1024"), d[..500].to_vec()),
        (part_headers("1024"), Vec::new()),
        (part_headers("1024"), d[..1023].to_vec()),
        (
            head(
                "PUT",
                &sess,
                Some(TOKEN),
                &[
                    ("digest", &digest(&d[..1024])),
                    ("content-range", "bytes 0-1023/3000"),
                    ("transfer-encoding", "chunked"),
                ],
            ),
            [b"400\r\n".as_slice(), &d[..600]].concat(),
        ),
        // JSON bodies: create session and commit.
        (
            head(
                "POST",
                "/api/2.0/files/upload_sessions",
                Some(TOKEN),
                &[("content-length", "200")],
            ),
            br#"{"folder_id":"0","file_name":"half.bin","file_size":"#.to_vec(),
        ),
        (
            head(
                "POST",
                &format!("{sess}/commit"),
                Some(TOKEN),
                &[("digest", &digest(&d)), ("content-length", "4000")],
            ),
            br#"{"parts":[{"part_id":"#.to_vec(),
        ),
        // Inside the request head.
        (
            "POST /api/2.0/files/content HTTP/1.1\r\nhost: x\r\ncontent-ty".to_string(),
            Vec::new(),
        ),
    ];
    for (h, partial) in &cases {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(h.as_bytes()).await.unwrap();
        s.write_all(partial).await.unwrap();
        s.flush().await.unwrap();
        // Let the server start on it, then go away.
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(s);
    }
    let left = wait_empty(&emu.data_dir().join("tmp"), Duration::from_secs(5)).await;
    assert!(left.is_empty(), "temporary files left: {left:?}");
    assert_eq!(emu.counters().parts_stored, 0);
    assert_eq!(emu.open_sessions().len(), 1);
    let items = get(addr, "/2.0/folders/0/items").await.json();
    assert_eq!(items["total_count"], 0, "{items}");
    let listed = get(addr, &format!("{sess}/parts")).await.json();
    assert_eq!(listed["total_count"], 0);

    // Sent in full, the same requests succeed (no stale reservation or name).
    let r = request(
        addr,
        "POST",
        "/api/2.0/files/content",
        Some(TOKEN),
        &[("content-type", "multipart/form-data; boundary=m")],
        &file,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let mut parts = Vec::new();
    for (i, chunk) in d.chunks(1024).enumerate() {
        let r = put_part(addr, &sess, (i * 1024) as u64, chunk, 3000).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        parts.push(r.json()["part"].clone());
    }
    let r = request(
        addr,
        "POST",
        &format!("{sess}/commit"),
        Some(TOKEN),
        &[("digest", &digest(&d))],
        json!({"parts": parts}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["entries"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        download(addr, &format!("/2.0/files/{id}/content"), Some(TOKEN), &[])
            .await
            .body,
        d
    );
}

/// Connections that send a partial request head or a partial body and then wait do not stop
/// the emulator from serving everyone else.
#[tokio::test]
async fn slow_partial_requests_do_not_block_others() {
    let scratch = scratch();
    let emu = start(&scratch, |_| {}).await;
    let addr = emu.local_addr();
    let sess = create_session(addr, TOKEN, "slow.bin", 3000).await;
    let mut held = Vec::new();
    for i in 0..150 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let partial = match i % 3 {
            0 => {
                "POST /api/2.0/files/content HTTP/1.1\r\nhost: x\r\nauthorization: Bear".to_string()
            }
            1 => "GET /2.0/folders/0/it".to_string(),
            _ => {
                head(
                    "PUT",
                    &sess,
                    Some(TOKEN),
                    &[
                        ("digest", &digest(b"x")),
                        ("content-range", "bytes 1024-2047/3000"),
                        ("content-length", "1024"),
                    ],
                ) + "partial body"
            }
        };
        s.write_all(partial.as_bytes()).await.unwrap();
        held.push(s);
    }
    for i in 0..10 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            head(
                "POST",
                "/api/2.0/files/upload_sessions",
                Some(TOKEN),
                &[("transfer-encoding", "chunked")],
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        s.write_all(format!("1\r\n{}\r\n", if i % 2 == 0 { "{" } else { "[" }).as_bytes())
            .await
            .unwrap();
        held.push(s);
    }
    let start = Instant::now();
    healthy(addr, "while-slow.txt").await;
    let d = vec![5u8; 3000];
    let r = put_part(addr, &sess, 0, &d[..1024], 3000).await;
    assert_eq!(r.status, 200);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // The slot a stalled body is writing to is taken only once it is complete.
    let r = put_part(addr, &sess, 1024, &d[1024..2048], 3000).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    drop(held);
    let left = wait_empty(&emu.data_dir().join("tmp"), Duration::from_secs(5)).await;
    assert!(left.is_empty(), "{left:?}");
    healthy(addr, "after-slow.txt").await;
}

/// Malformed HTTP is answered by the HTTP layer (a plain 400 or 431 and a closed
/// connection: there is no request for a Box error yet), or, once a request exists, with
/// Box's error; never a 5xx, and the emulator keeps serving.
#[tokio::test]
async fn garbage_http_is_refused_and_the_server_stays_up() {
    let scratch = scratch();
    let emu = start(&scratch, |_| {}).await;
    let addr = emu.local_addr();
    let mut big_header = head("GET", "/2.0/folders/0/items", Some(TOKEN), &[]);
    big_header.insert_str(
        big_header.len() - 2,
        &format!("x-big: {}\r\n", "a".repeat(200_000)),
    );
    let mut many_headers = head("GET", "/2.0/folders/0/items", Some(TOKEN), &[]);
    for i in 0..500 {
        many_headers.insert_str(many_headers.len() - 2, &format!("x-h{i}: v\r\n"));
    }
    let raw: Vec<Vec<u8>> = vec![
        head(
            "POST",
            "/api/2.0/files/upload_sessions",
            Some(TOKEN),
            &[("content-length", "-1")],
        )
        .into_bytes(),
        head(
            "POST",
            "/api/2.0/files/upload_sessions",
            Some(TOKEN),
            &[("content-length", "1e30")],
        )
        .into_bytes(),
        head(
            "POST",
            "/api/2.0/files/upload_sessions",
            Some(TOKEN),
            &[("content-length", "18446744073709551616")],
        )
        .into_bytes(),
        head(
            "POST",
            "/api/2.0/files/upload_sessions",
            Some(TOKEN),
            &[("content-length", "5"), ("content-length", "6")],
        )
        .into_bytes(),
        head(
            "POST",
            "/api/2.0/files/upload_sessions",
            Some(TOKEN),
            &[("transfer-encoding", "gzip")],
        )
        .into_bytes(),
        b"\x00\x01\x02\x03 / HTTP/1.1\r\n\r\n".to_vec(),
        b"GET /2.0/folders/0/items HTTP/9.9\r\nhost: x\r\n\r\n".to_vec(),
        b"GET /2.0/folders/0/items\r\n\r\n".to_vec(),
        b"GET /2.0/folders/0/items HTTP/1.1\r\nhost: x\r\nbad header line\r\n\r\n".to_vec(),
        b"GET /2.0/folders/0/items HTTP/1.1\r\nhost: x\r\nx-nul: a\x00b\r\n\r\n".to_vec(),
        format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(100_000)).into_bytes(),
        big_header.into_bytes(),
        many_headers.into_bytes(),
    ];
    // Request heads over 64 KiB: 431 (hyper alone would buffer about 400 KiB of them).
    let mut long_token = head("GET", "/2.0/folders/0/items", None, &[]);
    long_token.insert_str(
        long_token.len() - 2,
        &format!("authorization: Bearer {}\r\n", "t".repeat(70_000)),
    );
    for h in [
        long_token.clone(),
        format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(70_000)),
    ] {
        let r = exchange(addr, &h, b"").await.expect("an answer");
        assert_eq!(r.status, 431);
    }
    for bytes in &raw {
        let reply = tokio::time::timeout(ANSWER_WITHIN, async {
            let mut s = TcpStream::connect(addr).await?;
            let _ = s.write_all(bytes).await;
            read_reply(&mut s).await
        })
        .await
        .expect("an answer or a close, promptly");
        if let Ok(r) = reply {
            let what = format!(
                "{} bytes: {}",
                bytes.len(),
                String::from_utf8_lossy(&bytes[..60.min(bytes.len())])
            );
            // 505 HTTP Version Not Supported is hyper's answer to HTTP/9.9.
            let version = what.contains("HTTP/9.9") && r.status == 505;
            assert!(
                (400..500).contains(&r.status) || version,
                "{}: {what:?}",
                r.status
            );
        }
    }
    // A chunked body whose framing is broken reaches the handler: Box's error.
    let r = exchange(
        addr,
        &head(
            "POST",
            "/api/2.0/files/upload_sessions",
            Some(TOKEN),
            &[("transfer-encoding", "chunked")],
        ),
        b"zz\r\n{}\r\n0\r\n\r\n",
    )
    .await
    .unwrap();
    r.box_error(400, "bad_request");
    healthy(addr, "after-garbage.txt").await;
}

/// Random malformed `content-range` and `digest` headers sent over HTTP get 416
/// range_not_satisfiable / 400 bad_request, and never store a part.
#[test]
fn malformed_part_headers_over_http_get_box_errors() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let scratch = scratch();
    let (emu, sess) = rt.block_on(async {
        let emu = start(&scratch, |_| {}).await;
        let sess = create_session(emu.local_addr(), TOKEN, "p.bin", 3000).await;
        (emu, sess)
    });
    let addr = emu.local_addr();
    let part = vec![4u8; 1024];
    let good_digest = digest(&part);

    let bad_range = prop_oneof![
        (1u64..1u64 << 62, 0u64..3000).prop_map(|(n, b)| format!("bytes -{n}-{b}/3000")),
        (0u64..3000, "[1-9][0-9]{19,30}").prop_map(|(a, big)| format!("bytes {a}-{big}/3000")),
        (0u64..3000, 0u64..3000, "[1-9][0-9]{19,30}")
            .prop_map(|(a, b, big)| format!("bytes {a}-{b}/{big}")),
        (0u64..3000, 0u64..3000).prop_map(|(a, b)| format!("bytes {a}-{b}/*")),
        (0u64..3000, 0u64..3000).prop_map(|(a, b)| format!("{a}-{b}/3000")),
        (1u64..3000, 0u64..3000)
            .prop_map(|(a, d)| format!("bytes {a}-{}/3000", a - 1 - d.min(a - 1))),
        (0u64..3000, any::<u64>())
            .prop_filter("not the file size", |(_, t)| *t != 3000)
            .prop_map(|(a, t)| format!("bytes {a}-{}/{t}", a.max(1023))),
        (0u64..3, 1u64..1024).prop_map(|(i, off)| format!(
            "bytes {}-{}/3000",
            i * 1024 + off,
            (i * 1024 + off + 1023).min(2999)
        )),
        (0u64..2, 1u64..1023).prop_map(|(i, short)| format!(
            "bytes {}-{}/3000",
            i * 1024,
            i * 1024 + 1023 - short
        )),
        "[ -~]{0,40}".prop_filter("not a range", |s| !s
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("bytes ")),
    ];
    let bad_digest = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40)
            .prop_filter("not 20 bytes", |v| v.len() != 20)
            .prop_map(|v| format!(
                "sha={}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, v)
            )),
        "[a-z0-9]{1,6}=[A-Za-z0-9+/]{0,30}"
            .prop_filter("no sha", |s| !s.to_ascii_lowercase().starts_with("sha=")),
        "sha=[!-*.:-@\\[-`{-~]{1,30}",
        Just(String::new()),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&(bad_range, bad_digest), |(range, dig)| {
            rt.block_on(async {
                let r = request(
                    addr,
                    "PUT",
                    &sess,
                    Some(TOKEN),
                    &[("digest", &good_digest), ("content-range", &range)],
                    &part,
                )
                .await;
                r.box_error(416, "range_not_satisfiable");
                let r = request(
                    addr,
                    "PUT",
                    &sess,
                    Some(TOKEN),
                    &[("digest", &dig), ("content-range", "bytes 0-1023/3000")],
                    &part,
                )
                .await;
                r.box_error(400, "bad_request");
            });
            Ok(())
        })
        .unwrap();
    rt.block_on(async {
        assert_eq!(emu.counters().parts_stored, 0);
        healthy(addr, "after-prop.txt").await;
    });
    drop(emu);
}
