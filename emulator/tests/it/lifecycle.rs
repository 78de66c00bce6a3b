//! What tests around uploads do with the files afterwards: the trash (delete, read, purge,
//! restore; folders, recursively), conditional reads (`if-none-match` -> 304), downloads by
//! redirect to a download URL (versions, ranges), `GET /users/me`, the extra `fields` of a
//! file, and an early answer to a part body that is still arriving (lingering close).

use crate::common::*;
use box_emulator::{Config, Operation};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

async fn create_folder(ctx: &Ctx, parent: &str, name: &str) -> String {
    let resp = ctx
        .req(Method::POST, &ctx.api("/folders"))
        .json(&json!({"name": name, "parent": {"id": parent}}))
        .send()
        .await
        .expect("send");
    expect_status(resp, 201).await["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn send(ctx: &Ctx, method: Method, path: &str) -> reqwest::Response {
    ctx.req(method, &ctx.api(path)).send().await.expect("send")
}

/// The names in folder `id`'s listing.
async fn listing(ctx: &Ctx, id: &str) -> Vec<String> {
    let v = body_json(send(ctx, Method::GET, &format!("/folders/{id}/items")).await).await;
    v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["name"].as_str().expect("name").to_string())
        .collect()
}

/// A reqwest client that does not follow redirects.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn a_file_goes_to_the_trash_and_back() {
    let ctx = Ctx::small().await;
    let data = test_data(3000, 1);
    let f = ctx.put_file("0", "report.txt", &data).await;
    let id = f["id"].as_str().unwrap().to_string();
    let etag = f["etag"].as_str().unwrap().to_string();

    // if-match on another etag: 412, the file stays.
    let resp = ctx
        .req(Method::DELETE, &ctx.api(&format!("/files/{id}")))
        .header("if-match", "999")
        .send()
        .await
        .unwrap();
    expect_error(resp, 412, "precondition_failed").await;
    expect_status(send(&ctx, Method::GET, &format!("/files/{id}")).await, 200).await;

    // Deleted (with the right etag): 204, empty body; gone from GET, downloads and listings.
    let resp = ctx
        .req(Method::DELETE, &ctx.api(&format!("/files/{id}")))
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(resp.bytes().await.unwrap().is_empty());
    expect_error(
        send(&ctx, Method::GET, &format!("/files/{id}")).await,
        404,
        "trashed",
    )
    .await;
    expect_error(
        send(&ctx, Method::GET, &format!("/files/{id}/content")).await,
        404,
        "trashed",
    )
    .await;
    expect_error(
        send(&ctx, Method::DELETE, &format!("/files/{id}")).await,
        404,
        "not_found",
    )
    .await;
    assert!(listing(&ctx, "0").await.is_empty());
    assert!(ctx.emu.tree("0").await.unwrap().is_empty());

    // Read in the trash.
    let t = body_json(send(&ctx, Method::GET, &format!("/files/{id}/trash")).await).await;
    assert_eq!(t["id"], id.as_str());
    assert_eq!(t["item_status"], "trashed");
    assert_eq!(t["sha1"], sha1_hex(&data));
    assert_eq!(t["size"], 3000);
    assert!(t["trashed_at"].is_string(), "{t}");
    assert!(t["purged_at"].is_string(), "{t}");
    assert_eq!(t["path_collection"]["entries"][0]["name"], "Trash");
    assert_eq!(t["parent"]["id"], "0");
    assert_ne!(t["etag"], etag.as_str(), "trashing changes the etag");

    // Its name is free: a new file takes it, and then the restore conflicts (409).
    let taker = ctx.put_file("0", "REPORT.txt", b"new").await;
    let resp = send(&ctx, Method::POST, &format!("/files/{id}")).await;
    let err = expect_error(resp, 409, "item_name_in_use").await;
    assert_eq!(err["context_info"]["conflicts"]["id"], taker["id"]);

    // Restored under another name: 201, the file as it was, readable again.
    let resp = ctx
        .req(Method::POST, &ctx.api(&format!("/files/{id}")))
        .json(&json!({"name": "report (restored).txt"}))
        .send()
        .await
        .unwrap();
    let r = expect_status(resp, 201).await;
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["name"], "report (restored).txt");
    assert_eq!(r["item_status"], "active");
    assert_eq!(r["trashed_at"], Value::Null);
    assert_eq!(r["parent"]["id"], "0");
    assert_eq!(ctx.download(&id, None).await, data);
    expect_error(
        send(&ctx, Method::GET, &format!("/files/{id}/trash")).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        listing(&ctx, "0").await,
        vec!["report (restored).txt", "REPORT.txt"]
    );
    // Restoring a file that is not in the trash: 404.
    expect_error(
        send(&ctx, Method::POST, &format!("/files/{id}")).await,
        404,
        "not_found",
    )
    .await;

    // Deleted again, then purged: gone from the trash too, its bytes no longer counted.
    assert_eq!(
        send(&ctx, Method::DELETE, &format!("/files/{id}"))
            .await
            .status(),
        204
    );
    let me = body_json(send(&ctx, Method::GET, "/users/me").await).await;
    assert_eq!(me["space_used"], 3003, "the trash still counts");
    assert_eq!(
        send(&ctx, Method::DELETE, &format!("/files/{id}/trash"))
            .await
            .status(),
        204
    );
    for (method, path) in [
        (Method::GET, format!("/files/{id}/trash")),
        (Method::DELETE, format!("/files/{id}/trash")),
        (Method::POST, format!("/files/{id}")),
        (Method::GET, format!("/files/{id}")),
    ] {
        expect_error(send(&ctx, method, &path).await, 404, "not_found").await;
    }
    let me = body_json(send(&ctx, Method::GET, "/users/me").await).await;
    assert_eq!(me["space_used"], 3);
    assert!(ctx.emu.file_content(&id, None).await.is_err());

    let c = ctx.emu.counters();
    assert_eq!(
        (c.files_trashed, c.files_restored, c.files_purged),
        (2, 1, 1)
    );
    assert_eq!(c.requests_for(Operation::DeleteFile), 4);
    assert_eq!(c.requests_for(Operation::RestoreFile), 4);
    assert_eq!(c.requests_for(Operation::PurgeFile), 2);
}

#[tokio::test]
async fn restore_into_another_folder_and_with_a_missing_parent() {
    let ctx = Ctx::small().await;
    let dest = create_folder(&ctx, "0", "dest").await;
    let f = ctx.put_file("0", "a.txt", b"abc").await;
    let id = f["id"].as_str().unwrap();
    assert_eq!(
        send(&ctx, Method::DELETE, &format!("/files/{id}"))
            .await
            .status(),
        204
    );
    let restore = |parent: Value| {
        ctx.req(Method::POST, &ctx.api(&format!("/files/{id}")))
            .json(&json!({"parent": parent}))
            .send()
    };
    expect_error(
        restore(json!({"id": "424242"})).await.unwrap(),
        404,
        "not_found",
    )
    .await;
    let r = expect_status(restore(json!({"id": dest})).await.unwrap(), 201).await;
    assert_eq!(r["parent"]["id"], dest.as_str());
    assert_eq!(listing(&ctx, &dest).await, vec!["a.txt"]);
    assert!(listing(&ctx, "0").await.iter().all(|n| n != "a.txt"));
}

#[tokio::test]
async fn folders_go_to_the_trash_empty_or_recursively() {
    let ctx = Ctx::small().await;
    // Root: refused.
    expect_error(
        send(&ctx, Method::DELETE, "/folders/0").await,
        403,
        "access_denied_insufficient_permissions",
    )
    .await;
    // An empty folder: 204.
    let empty = create_folder(&ctx, "0", "empty").await;
    let resp = ctx
        .req(Method::DELETE, &ctx.api(&format!("/folders/{empty}")))
        .header("if-match", "7")
        .send()
        .await
        .unwrap();
    expect_error(resp, 412, "precondition_failed").await;
    assert_eq!(
        send(&ctx, Method::DELETE, &format!("/folders/{empty}"))
            .await
            .status(),
        204
    );
    expect_error(
        send(&ctx, Method::GET, &format!("/folders/{empty}")).await,
        404,
        "trashed",
    )
    .await;

    // A tree: docs/{a.txt, old/{b.txt}}.
    let docs = create_folder(&ctx, "0", "docs").await;
    let old = create_folder(&ctx, &docs, "old").await;
    let a = ctx.put_file(&docs, "a.txt", b"a").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = ctx.chunked_upload(&old, "b.txt", &test_data(2500, 2)).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let keep = ctx.put_file("0", "keep.txt", b"k").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Not empty: 400 folder_not_empty, whatever `recursive` says short of true.
    for q in ["", "?recursive=false"] {
        expect_error(
            send(&ctx, Method::DELETE, &format!("/folders/{docs}{q}")).await,
            400,
            "folder_not_empty",
        )
        .await;
    }
    expect_error(
        send(
            &ctx,
            Method::DELETE,
            &format!("/folders/{docs}?recursive=maybe"),
        )
        .await,
        400,
        "bad_request",
    )
    .await;
    assert_eq!(listing(&ctx, &docs).await, vec!["old", "a.txt"]);

    // Recursive: 204, and everything below is gone from GET and listings.
    assert_eq!(
        send(
            &ctx,
            Method::DELETE,
            &format!("/folders/{docs}?recursive=true")
        )
        .await
        .status(),
        204
    );
    for path in [format!("/folders/{docs}"), format!("/folders/{old}")] {
        expect_error(send(&ctx, Method::GET, &path).await, 404, "trashed").await;
    }
    for id in [&a, &b] {
        expect_error(
            send(&ctx, Method::GET, &format!("/files/{id}")).await,
            404,
            "trashed",
        )
        .await;
        // Box: an item trashed with its folder is found through that folder only.
        expect_error(
            send(&ctx, Method::GET, &format!("/files/{id}/trash")).await,
            404,
            "not_found",
        )
        .await;
        expect_error(
            send(&ctx, Method::POST, &format!("/files/{id}")).await,
            404,
            "not_found",
        )
        .await;
    }
    expect_error(
        send(&ctx, Method::GET, &format!("/folders/{old}/items")).await,
        404,
        "trashed",
    )
    .await;
    assert_eq!(listing(&ctx, "0").await, vec!["keep.txt"]);
    assert_eq!(ctx.emu.tree_folders("0").unwrap().len(), 0);
    assert_eq!(ctx.emu.tree("0").await.unwrap().len(), 1);
    assert_eq!(ctx.download(&keep, None).await, b"k");
    // The name is free again; a new file in a trashed folder is refused.
    create_folder(&ctx, "0", "docs").await;
    expect_error(
        ctx.direct_upload(&old, "c.txt", b"c").await,
        404,
        "not_found",
    )
    .await;

    let c = ctx.emu.counters();
    assert_eq!(c.folders_trashed, 2);
    assert_eq!(c.files_trashed, 0, "files that went with a folder");
    assert_eq!(c.requests_for(Operation::DeleteFolder), 7);
}

#[tokio::test]
async fn a_version_session_of_a_trashed_file_cannot_commit() {
    let ctx = Ctx::small().await;
    let f = ctx.put_file("0", "v.bin", b"first").await;
    let id = f["id"].as_str().unwrap();
    let data = test_data(2500, 3);
    let resp = ctx
        .req(
            Method::POST,
            &ctx.upload(&format!("/files/{id}/upload_sessions")),
        )
        .json(&json!({"file_size": data.len()}))
        .send()
        .await
        .unwrap();
    let s = expect_status(resp, 201).await;
    let parts = ctx.put_all_parts(&s, &data).await;
    assert_eq!(
        send(&ctx, Method::DELETE, &format!("/files/{id}"))
            .await
            .status(),
        204
    );
    // What Box does is not documented; the emulator's commit fails as for a missing file.
    expect_error(ctx.commit(&s, &parts, &data).await, 404, "not_found").await;
    // Restored, the file is as it was: the session's content never landed.
    expect_status(send(&ctx, Method::POST, &format!("/files/{id}")).await, 201).await;
    assert_eq!(ctx.download(id, None).await, b"first");
    // A new session for the trashed file cannot even start.
    assert_eq!(
        send(&ctx, Method::DELETE, &format!("/files/{id}"))
            .await
            .status(),
        204
    );
    let resp = ctx
        .req(
            Method::POST,
            &ctx.upload(&format!("/files/{id}/upload_sessions")),
        )
        .json(&json!({"file_size": data.len()}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 404, "not_found").await;
}

#[tokio::test]
async fn the_trash_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..small_config()
    };
    let (file, gone, folder) = {
        let ctx = Ctx::new(config.clone()).await;
        let file = ctx.put_file("0", "t.txt", b"trashed").await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let gone = ctx.put_file("0", "p.txt", b"purged").await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let folder = create_folder(&ctx, "0", "f").await;
        ctx.put_file(&folder, "in.txt", b"in").await;
        for path in [
            format!("/files/{file}"),
            format!("/files/{gone}"),
            format!("/files/{gone}/trash"),
            format!("/folders/{folder}?recursive=true"),
        ] {
            assert_eq!(
                send(&ctx, Method::DELETE, &path).await.status(),
                204,
                "{path}"
            );
        }
        ctx.emu.shutdown().await;
        (file, gone, folder)
    };
    let ctx = Ctx::new(config).await;
    expect_error(
        send(&ctx, Method::GET, &format!("/files/{file}")).await,
        404,
        "trashed",
    )
    .await;
    let t = body_json(send(&ctx, Method::GET, &format!("/files/{file}/trash")).await).await;
    assert_eq!(t["item_status"], "trashed");
    expect_error(
        send(&ctx, Method::GET, &format!("/files/{gone}/trash")).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        send(&ctx, Method::GET, &format!("/folders/{folder}")).await,
        404,
        "trashed",
    )
    .await;
    assert!(listing(&ctx, "0").await.is_empty());
    expect_status(
        send(&ctx, Method::POST, &format!("/files/{file}")).await,
        201,
    )
    .await;
    assert_eq!(ctx.download(&file, None).await, b"trashed");
}

#[tokio::test]
async fn if_none_match_on_the_current_etag_is_304() {
    let ctx = Ctx::small().await;
    let f = ctx.put_file("0", "c.txt", b"one").await;
    let id = f["id"].as_str().unwrap();
    let etag = f["etag"].as_str().unwrap().to_string();
    let get = |path: String, inm: String| {
        ctx.req(Method::GET, &ctx.api(&path))
            .header("if-none-match", inm)
            .send()
    };
    for inm in [etag.clone(), format!("\"{etag}\""), format!("W/\"{etag}\"")] {
        let resp = get(format!("/files/{id}"), inm).await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        assert!(resp.bytes().await.unwrap().is_empty());
    }
    // Another etag: the file in full.
    let v = expect_status(
        get(format!("/files/{id}"), "12345".into()).await.unwrap(),
        200,
    )
    .await;
    assert_eq!(v["id"], id);
    // A new version changes the etag: the old one no longer matches.
    expect_status(ctx.upload_version(id, json!({}), b"two", None).await, 200).await;
    let v = expect_status(
        get(format!("/files/{id}"), etag.clone()).await.unwrap(),
        200,
    )
    .await;
    assert_ne!(v["etag"], etag.as_str());

    // Folders too; the root has no etag, so it is never 304.
    let folder = create_folder(&ctx, "0", "d").await;
    let fv = body_json(send(&ctx, Method::GET, &format!("/folders/{folder}")).await).await;
    let fetag = fv["etag"].as_str().unwrap().to_string();
    let resp = get(format!("/folders/{folder}"), fetag).await.unwrap();
    assert_eq!(resp.status(), 304);
    assert!(resp.bytes().await.unwrap().is_empty());
    expect_status(
        get(format!("/folders/{folder}"), "99".into())
            .await
            .unwrap(),
        200,
    )
    .await;
    expect_status(get("/folders/0".into(), "0".into()).await.unwrap(), 200).await;
}

#[tokio::test]
async fn downloads_redirect_to_a_download_url() {
    let ctx = Ctx::small().await;
    let v1 = test_data(5000, 4);
    let v2 = test_data(4000, 5);
    let f = ctx.put_file("0", "dl.bin", &v1).await;
    let id = f["id"].as_str().unwrap();
    let v1_id = f["file_version"]["id"].as_str().unwrap().to_string();
    expect_status(ctx.upload_version(id, json!({}), &v2, None).await, 200).await;

    // 302 with a location; no body.
    let raw = no_redirects();
    let resp = raw
        .get(ctx.api(&format!("/files/{id}/content")))
        .bearer_auth(ctx.emu.token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(resp.bytes().await.unwrap().is_empty());
    assert!(location.starts_with(&ctx.emu.base_url()), "{location}");
    assert!(
        !location.contains(id),
        "the URL says nothing of the file: {location}"
    );
    // The download URL needs no token.
    let resp = raw.get(&location).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &v2[..]);
    // Ranges on the download URL: 206 with content-range, 416 past the end.
    let resp = raw
        .get(&location)
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()["content-range"], "bytes 100-199/4000");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &v2[100..200]);
    let resp = raw
        .get(&location)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &v2[3990..]);
    let resp = raw
        .get(&location)
        .header("range", "bytes=4000-")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-range"], "bytes */4000");
    expect_error(resp, 416, "requested_range_not_satisfiable").await;
    // A guessed URL: 404.
    let guessed = format!("{}/dl/{}", ctx.emu.base_url(), "A".repeat(43));
    expect_error(raw.get(&guessed).send().await.unwrap(), 404, "not_found").await;

    // `version` picks an old version; a client that follows redirects gets the bytes, and
    // the range it sent goes along.
    assert_eq!(ctx.download(id, Some(&v1_id)).await, v1);
    let resp = ctx
        .req(
            Method::GET,
            &ctx.api(&format!("/files/{id}/content?version={v1_id}")),
        )
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &v1[..10]);

    // Without a token the API answers 401, not a URL.
    let resp = raw
        .get(ctx.api(&format!("/files/{id}/content")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // A trashed file's download URL no longer serves it.
    assert_eq!(
        send(&ctx, Method::DELETE, &format!("/files/{id}"))
            .await
            .status(),
        204
    );
    expect_error(raw.get(&location).send().await.unwrap(), 404, "not_found").await;

    let c = ctx.emu.counters();
    assert_eq!(c.requests_for(Operation::DownloadFile), 4);
    assert_eq!(c.downloads_served, 5);
    assert_eq!(c.download_bytes, 4000 + 100 + 10 + 5000 + 10);
}

#[tokio::test]
async fn users_me_tells_the_limits_and_the_space_used() {
    let ctx = Ctx::new(Config {
        max_file_size: Some(5_000_000),
        storage_limit: Some(10_000_000),
        ..small_config()
    })
    .await;
    ctx.put_file("0", "a", &test_data(1000, 6)).await;
    ctx.chunked_upload("0", "b", &test_data(2500, 7)).await;
    let me = body_json(send(&ctx, Method::GET, "/users/me").await).await;
    assert_eq!(me["type"], "user");
    assert_eq!(me["id"], box_emulator::SERVICE_ACCOUNT_ID);
    assert!(me["name"].is_string() && me["login"].is_string(), "{me}");
    assert_eq!(me["max_upload_size"], 5_000_000);
    assert_eq!(me["space_amount"], 10_000_000);
    assert_eq!(me["space_used"], 3500);
    let me = body_json(
        send(
            &ctx,
            Method::GET,
            "/users/me?fields=max_upload_size,space_used",
        )
        .await,
    )
    .await;
    let mut keys: Vec<&str> = me.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "max_upload_size", "space_used", "type"]);
    // Unlimited reads as Box's "unlimited" number.
    let open = Ctx::small().await;
    let me = body_json(send(&open, Method::GET, "/users/me").await).await;
    assert_eq!(me["space_amount"], 999_999_999_999_999_u64);
    assert_eq!(me["max_upload_size"], 999_999_999_999_999_u64);
    assert_eq!(
        ctx.emu.counters().requests_for(Operation::GetCurrentUser),
        2
    );
}

#[tokio::test]
async fn fields_clients_ask_for_are_answered() {
    let ctx = Ctx::small().await;
    let f = ctx.put_file("0", "x.txt", b"x").await;
    let id = f["id"].as_str().unwrap();
    let v = body_json(
        send(
            &ctx,
            Method::GET,
            &format!(
                "/files/{id}?fields=tags,has_collaborations,is_externally_owned,permissions,lock,item_status"
            ),
        )
        .await,
    )
    .await;
    assert_eq!(v["tags"], json!([]));
    assert_eq!(v["has_collaborations"], false);
    assert_eq!(v["is_externally_owned"], false);
    assert_eq!(v["permissions"]["can_download"], true);
    assert_eq!(v["permissions"]["can_upload"], true);
    assert_eq!(v["lock"], Value::Null);
    assert!(v.get("lock").is_some());
    assert_eq!(v["item_status"], "active");
    assert!(v.get("size").is_none(), "only what was asked for: {v}");
    // Not in the standard answer.
    let full = body_json(send(&ctx, Method::GET, &format!("/files/{id}")).await).await;
    assert!(full.get("has_collaborations").is_none(), "{full}");
}

/// `clients` clients at once each send a part body `extra` bytes longer than its range,
/// chunked: half of them reqwest (which reads the answer while it sends), half a raw client
/// that sends the whole body before it reads the answer (as many HTTP clients do). Every one must
/// get the 400 `request_size_mismatch`: the emulator answers early and then keeps reading
/// and discarding the rest (lingering close); without that, the closed socket's reset would
/// make the client's system drop the answer.
async fn early_answers_reach_clients(clients: usize, extra: u64) {
    let ctx = Ctx::small().await;
    let total = 1024 * 4;
    let block = bytes::Bytes::from(vec![7u8; 256 * 1024]);
    let blocks = extra.div_ceil(block.len() as u64);
    let mut tasks = Vec::new();
    for i in 0..clients {
        let s = ctx.new_session("0", &format!("long-{i}.bin"), total).await;
        let url = s["session_endpoints"]["upload_part"]
            .as_str()
            .unwrap()
            .to_string();
        let part = test_data(1024, i as u64);
        let headers = [
            ("digest".to_string(), digest(&part)),
            ("content-range".to_string(), content_range(0, 1024, total)),
        ];
        let (token, block) = (ctx.emu.token().to_string(), block.clone());
        let addr = ctx.emu.local_addr();
        tasks.push(tokio::spawn(async move {
            let first = bytes::Bytes::from(part);
            let chunks = std::iter::once(first).chain((0..blocks).map(move |_| block.clone()));
            if i % 2 == 0 {
                let body = futures_util::stream::iter(chunks.map(Ok::<_, std::io::Error>));
                let mut rb = http().put(&url).bearer_auth(token);
                for (k, v) in &headers {
                    rb = rb.header(k, v);
                }
                let resp = rb
                    .body(reqwest::Body::wrap_stream(body))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("client {i}: no answer: {e:?}"));
                expect_error(resp, 400, "request_size_mismatch").await;
            } else {
                let path = url
                    .split_once("/api/")
                    .map(|(_, p)| format!("/api/{p}"))
                    .unwrap();
                let mut h: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                h.push(("transfer-encoding", "chunked"));
                let reply = send_all_then_read(
                    addr,
                    &crate::raw::head("PUT", &path, Some(&token), &h),
                    chunks,
                )
                .await
                .unwrap_or_else(|e| panic!("client {i}: no answer: {e}"));
                reply.box_error(400, "request_size_mismatch");
            }
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(600), t)
            .await
            .expect("answered in time")
            .expect("client task");
    }
    let c = ctx.emu.counters();
    assert_eq!(
        c.errors.get("request_size_mismatch").copied(),
        Some(clients as u64)
    );
    assert_eq!(c.parts_stored, 0);
}

/// Sends `head` and every chunk of the body (chunked framing), and only then reads the answer.
async fn send_all_then_read(
    addr: std::net::SocketAddr,
    head: &str,
    chunks: impl Iterator<Item = bytes::Bytes>,
) -> std::io::Result<crate::raw::Reply> {
    use tokio::io::AsyncWriteExt as _;
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(head.as_bytes()).await?;
    for c in chunks {
        s.write_all(format!("{:x}\r\n", c.len()).as_bytes()).await?;
        s.write_all(&c).await?;
        s.write_all(b"\r\n").await?;
    }
    s.write_all(b"0\r\n\r\n").await?;
    crate::raw::read_reply(&mut s).await
}

#[tokio::test]
async fn an_early_answer_reaches_ten_clients_still_sending() {
    early_answers_reach_clients(10, 32 * 1024 * 1024).await;
}

#[tokio::test]
#[ignore = "long: ten clients each send 1 GiB (cargo test -- --ignored)"]
async fn an_early_answer_reaches_ten_clients_sending_a_gib_each() {
    early_answers_reach_clients(10, 1024 * 1024 * 1024).await;
}

#[tokio::test]
async fn a_trashed_folder_is_read_restored_and_purged_with_what_it_held() {
    let ctx = Ctx::small().await;
    let docs = create_folder(&ctx, "0", "docs").await;
    let old = create_folder(&ctx, &docs, "old").await;
    let a = ctx.put_file(&docs, "a.txt", b"aaaa").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b_data = test_data(2500, 8);
    let b = ctx.chunked_upload(&old, "b.txt", &b_data).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        send(
            &ctx,
            Method::DELETE,
            &format!("/folders/{docs}?recursive=true")
        )
        .await
        .status(),
        204
    );

    // Read in the trash: only the folder trashed itself.
    let t = body_json(send(&ctx, Method::GET, &format!("/folders/{docs}/trash")).await).await;
    assert_eq!(t["id"], docs.as_str());
    assert_eq!(t["item_status"], "trashed");
    assert!(t["trashed_at"].is_string(), "{t}");
    assert_eq!(t["size"], 4 + 2500);
    assert_eq!(t["path_collection"]["entries"][0]["name"], "Trash");
    expect_error(
        send(&ctx, Method::GET, &format!("/folders/{old}/trash")).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        send(&ctx, Method::POST, &format!("/folders/{old}")).await,
        404,
        "not_found",
    )
    .await;

    // Its name taken meanwhile: 409 with the holder; restored under another name: 201, with
    // everything it held.
    let taker = create_folder(&ctx, "0", "DOCS").await;
    let err = expect_error(
        send(&ctx, Method::POST, &format!("/folders/{docs}")).await,
        409,
        "item_name_in_use",
    )
    .await;
    assert_eq!(err["context_info"]["conflicts"][0]["id"], taker.as_str());
    let resp = ctx
        .req(Method::POST, &ctx.api(&format!("/folders/{docs}")))
        .json(&json!({"name": "docs (restored)"}))
        .send()
        .await
        .unwrap();
    let r = expect_status(resp, 201).await;
    assert_eq!(r["id"], docs.as_str());
    assert_eq!(r["name"], "docs (restored)");
    assert_eq!(r["item_status"], "active");
    assert_eq!(r["parent"]["id"], "0");
    assert_eq!(listing(&ctx, &docs).await, vec!["old", "a.txt"]);
    assert_eq!(listing(&ctx, &old).await, vec!["b.txt"]);
    assert_eq!(ctx.download(&a, None).await, b"aaaa");
    assert_eq!(ctx.download(&b, None).await, b_data);
    let tree = ctx.emu.tree("0").await.unwrap();
    assert!(tree.contains_key("docs (restored)/old/b.txt"), "{tree:?}");
    expect_error(
        send(&ctx, Method::GET, &format!("/folders/{docs}/trash")).await,
        404,
        "not_found",
    )
    .await;

    // Trashed again and purged: gone for good, its files' bytes no longer counted.
    assert_eq!(
        send(
            &ctx,
            Method::DELETE,
            &format!("/folders/{docs}?recursive=true")
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        send(&ctx, Method::DELETE, &format!("/folders/{docs}/trash"))
            .await
            .status(),
        204
    );
    for (method, path) in [
        (Method::GET, format!("/folders/{docs}/trash")),
        (Method::DELETE, format!("/folders/{docs}/trash")),
        (Method::POST, format!("/folders/{docs}")),
        (Method::GET, format!("/folders/{docs}")),
        (Method::GET, format!("/folders/{old}")),
        (Method::GET, format!("/files/{a}")),
        (Method::GET, format!("/files/{b}")),
    ] {
        expect_error(send(&ctx, method, &path).await, 404, "not_found").await;
    }
    assert!(ctx.emu.file_content(&b, None).await.is_err());
    let me = body_json(send(&ctx, Method::GET, "/users/me").await).await;
    assert_eq!(me["space_used"], 0);
    let c = ctx.emu.counters();
    assert_eq!(
        (c.folders_trashed, c.folders_restored, c.folders_purged),
        (2, 1, 1)
    );
    assert_eq!(c.requests_for(Operation::RestoreFolder), 4);
    assert_eq!(c.requests_for(Operation::PurgeFolder), 2);
    assert_eq!(c.requests_for(Operation::GetTrashedFolder), 4);
}
