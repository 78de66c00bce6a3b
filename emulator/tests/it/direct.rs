//! Preflight, direct uploads, reading back, auth.

use crate::common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn direct_upload_creates_file_and_reads_back() {
    let ctx = Ctx::small().await;
    let d = test_data(5000, 1);
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/content"))
        .header("content-md5", sha1_hex(&d))
        .multipart(Ctx::form(
            json!({"name": "Report.pdf", "parent": {"id": "0"}, "content_modified_at": "2020-01-02T03:04:05-08:00"}),
            "Report.pdf",
            &d,
        ))
        .send()
        .await
        .unwrap();
    let v = expect_status(resp, 201).await;
    assert_eq!(v["total_count"], 1);
    let f = &v["entries"][0];
    assert_eq!(f["type"], "file");
    assert_eq!(f["name"], "Report.pdf");
    assert_eq!(f["size"], 5000);
    assert_eq!(f["sha1"], sha1_hex(&d));
    assert_eq!(f["etag"], "0");
    assert_eq!(f["sequence_id"], "0");
    assert_eq!(f["version_number"], "1");
    assert_eq!(f["item_status"], "active");
    assert_eq!(f["file_version"]["type"], "file_version");
    assert_eq!(f["file_version"]["sha1"], sha1_hex(&d));
    assert_eq!(f["parent"]["type"], "folder");
    assert_eq!(f["parent"]["id"], "0");
    assert_eq!(f["content_modified_at"], "2020-01-02T11:04:05+00:00");
    for k in ["created_at", "modified_at", "content_created_at"] {
        assert!(f[k].is_string(), "{k}");
    }
    let id = f["id"].as_str().unwrap();

    let got = body_json(ctx.get_json(&ctx.api(&format!("/files/{id}"))).await).await;
    assert_eq!(&got, f);
    assert_eq!(ctx.download(id, None).await, d);

    // A single range.
    let resp = ctx
        .req(Method::GET, &ctx.api(&format!("/files/{id}/content")))
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &d[10..20]);

    let c = ctx.emu.counters();
    assert_eq!(c.files_created, 1);
    assert_eq!(c.direct_uploads, 1);
    assert_eq!(c.direct_upload_bytes, 5000);
    assert_eq!(c.requests_for(box_emulator::Operation::UploadFile), 1);
    assert_eq!(c.requests_for(box_emulator::Operation::DownloadFile), 2);
}

#[tokio::test]
async fn fields_query_limits_the_answer() {
    let ctx = Ctx::small().await;
    let resp = ctx
        .req(
            Method::POST,
            &ctx.upload("/files/content?fields=size,created_at"),
        )
        .multipart(Ctx::form(
            json!({"name": "a.txt", "parent": {"id": "0"}}),
            "a.txt",
            b"abc",
        ))
        .send()
        .await
        .unwrap();
    let v = expect_status(resp, 201).await;
    let f = v["entries"][0].as_object().unwrap();
    for k in [
        "type",
        "id",
        "etag",
        "name",
        "sha1",
        "file_version",
        "size",
        "created_at",
    ] {
        assert!(f.contains_key(k), "missing {k}");
    }
    assert!(!f.contains_key("modified_at"));
    assert!(!f.contains_key("parent"));
}

#[tokio::test]
async fn new_version_bumps_version_and_keeps_the_old_one() {
    let ctx = Ctx::small().await;
    let v1 = test_data(100, 2);
    let v2 = test_data(300, 3);
    let f1 = ctx.put_file("0", "doc.txt", &v1).await;
    let id = f1["id"].as_str().unwrap();

    let resp = ctx
        .upload_version(id, json!({"name": "doc v2.txt"}), &v2, Some("0"))
        .await;
    let v = expect_status(resp, 200).await; // 200, not 201, for a version
    let f2 = &v["entries"][0];
    assert_eq!(f2["id"], id);
    assert_eq!(f2["version_number"], "2");
    assert_eq!(f2["etag"], "1");
    assert_eq!(f2["name"], "doc v2.txt");
    assert_eq!(f2["sha1"], sha1_hex(&v2));
    assert_ne!(f2["file_version"]["id"], f1["file_version"]["id"]);

    assert_eq!(ctx.download(id, None).await, v2);
    let old = f1["file_version"]["id"].as_str().unwrap();
    assert_eq!(ctx.download(id, Some(old)).await, v1);
    let versions = body_json(
        ctx.get_json(&ctx.api(&format!("/files/{id}/versions")))
            .await,
    )
    .await;
    assert_eq!(versions["total_count"], 1);
    assert_eq!(versions["entries"][0]["id"], old);

    // A stale etag fails; the file is unchanged.
    let resp = ctx.upload_version(id, json!({}), &v1, Some("0")).await;
    expect_error(resp, 412, "precondition_failed").await;
    assert_eq!(ctx.download(id, None).await, v2);
    // No if-match: accepted.
    expect_status(ctx.upload_version(id, json!({}), &v1, None).await, 200).await;
    // Unknown version id on download.
    let resp = ctx
        .get_json(&ctx.api(&format!("/files/{id}/content?version=1")))
        .await;
    expect_error(resp, 404, "not_found").await;
    assert_eq!(ctx.emu.counters().file_versions_created, 2);
}

#[tokio::test]
async fn version_of_missing_file() {
    let ctx = Ctx::small().await;
    expect_error(
        ctx.upload_version("999", json!({}), b"x", None).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        ctx.upload_version("999", json!({}), b"x", Some("0")).await,
        412,
        "precondition_failed",
    )
    .await;
}

#[tokio::test]
async fn content_md5_is_checked_as_sha1() {
    let ctx = Ctx::small().await;
    let d = test_data(2000, 4);
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/content"))
        .header("content-md5", sha1_hex(b"something else"))
        .multipart(Ctx::form(
            json!({"name": "a", "parent": {"id": "0"}}),
            "a",
            &d,
        ))
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "bad_digest").await;
    assert_eq!(ctx.emu.counters().files_created, 0);
    // The name is still free.
    ctx.put_file("0", "a", &d).await;
}

#[tokio::test]
async fn attributes_after_file_is_refused() {
    let ctx = Ctx::small().await;
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(test_data(3000, 5)).file_name("x"),
        )
        .text(
            "attributes",
            json!({"name": "x", "parent": {"id": "0"}}).to_string(),
        );
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/content"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "metadata_after_file_contents").await;

    let form = reqwest::multipart::Form::new().text(
        "attributes",
        json!({"name": "x", "parent": {"id": "0"}}).to_string(),
    );
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/content"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "bad_request").await;
    assert_eq!(ctx.emu.counters().files_created, 0);
}

#[tokio::test]
async fn folders_must_exist() {
    let ctx = Ctx::new(box_emulator::Config {
        folders: vec!["123".into()],
        ..small_config()
    })
    .await;
    expect_error(ctx.direct_upload("555", "a", b"x").await, 404, "not_found").await;
    let f = ctx.put_file("123", "a", b"x").await;
    assert_eq!(f["parent"]["id"], "123");
    assert_eq!(f["path_collection"]["total_count"], 2);
    assert!(ctx.emu.add_folder("555"));
    ctx.put_file("555", "a", b"x").await;
    let items = body_json(ctx.get_json(&ctx.api("/folders/555/items")).await).await;
    assert_eq!(items["total_count"], 1);
}

#[tokio::test]
async fn file_name_rules() {
    let ctx = Ctx::small().await;
    let long = "n".repeat(256);
    expect_error(
        ctx.direct_upload("0", &long, b"x").await,
        400,
        "item_name_too_long",
    )
    .await;
    for bad in ["a/b", "a\\b", " lead", "trail ", ".", "..", "tab\there", ""] {
        expect_error(
            ctx.direct_upload("0", bad, b"x").await,
            400,
            "item_name_invalid",
        )
        .await;
    }
    // Hyphens and other punctuation are fine (the guide's `-` is a documentation error).
    for ok in ["a-b.txt", "what?.txt", &"n".repeat(255)] {
        ctx.put_file("0", ok, b"x").await;
    }
}

#[tokio::test]
async fn names_are_unique_case_insensitively() {
    let ctx = Ctx::small().await;
    let d = test_data(10, 6);
    let f = ctx.put_file("0", "New File.txt", &d).await;
    let v = expect_error(
        ctx.direct_upload("0", "new file.TXT", b"y").await,
        409,
        "item_name_in_use",
    )
    .await;
    let c = &v["context_info"]["conflicts"];
    assert!(c.is_object(), "conflicts is a single object: {v}");
    assert_eq!(c["type"], "file");
    assert_eq!(c["id"], f["id"]);
    assert_eq!(c["sha1"], sha1_hex(&d));
    assert_eq!(c["file_version"]["type"], "file_version");
    assert_eq!(c["file_version"]["id"], f["file_version"]["id"]);
    assert_eq!(c["file_version"]["sha1"], sha1_hex(&d));
    assert_eq!(c["name"], "New File.txt");
    assert_eq!(c["etag"], "0");
    assert_eq!(c["sequence_id"], "0");
    // Same name in another folder is fine.
    ctx.emu.add_folder("7");
    ctx.put_file("7", "New File.txt", &d).await;
}

#[tokio::test]
async fn bearer_token_is_required() {
    let ctx = Ctx::small().await;
    let url = ctx.upload("/files/upload_sessions");
    let resp = ctx.http.post(&url).json(&json!({})).send().await.unwrap();
    let www = resp.headers().get("www-authenticate").cloned();
    expect_error(resp, 401, "unauthorized").await;
    assert!(www.unwrap().to_str().unwrap().starts_with("Bearer"));
    let resp = ctx
        .http
        .post(&url)
        .bearer_auth("wrong")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "unauthorized").await;
    let resp = ctx.http.get(ctx.api("/files/1")).send().await.unwrap();
    expect_error(resp, 401, "unauthorized").await;
    // Request ids differ.
    let a = ctx.http.get(ctx.api("/files/1")).send().await.unwrap();
    let b = ctx.http.get(ctx.api("/files/1")).send().await.unwrap();
    assert_ne!(a.headers()["box-request-id"], b.headers()["box-request-id"]);
}

#[tokio::test]
async fn preflight_checks_like_an_upload() {
    let ctx = Ctx::new(box_emulator::Config {
        max_file_size: Some(1000),
        ..small_config()
    })
    .await;
    let pre = |body: serde_json::Value| {
        ctx.req(Method::OPTIONS, &ctx.api("/files/content"))
            .json(&body)
            .send()
    };
    let v = expect_status(
        pre(json!({"name": "a.txt", "size": 10, "parent": {"id": "0"}}))
            .await
            .unwrap(),
        200,
    )
    .await;
    let url = v["upload_url"].as_str().unwrap();
    assert!(url.starts_with(&ctx.emu.upload_url()), "{url}");
    let token = v["upload_token"].as_str().unwrap();

    // The upload URL and token work for the upload.
    let resp = ctx
        .http
        .post(url)
        .bearer_auth(token)
        .multipart(Ctx::form(
            json!({"name": "a.txt", "parent": {"id": "0"}}),
            "a.txt",
            b"0123456789",
        ))
        .send()
        .await
        .unwrap();
    let f = expect_status(resp, 201).await;

    let v = expect_error(
        pre(json!({"name": "A.TXT", "size": 10, "parent": {"id": "0"}}))
            .await
            .unwrap(),
        409,
        "item_name_in_use",
    )
    .await;
    assert_eq!(v["context_info"]["conflicts"]["id"], f["entries"][0]["id"]);
    assert_eq!(
        v["context_info"]["conflicts"]["sha1"],
        sha1_hex(b"0123456789")
    );
    expect_error(
        pre(json!({"name": "b", "parent": {"id": "42"}}))
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    expect_error(
        pre(json!({"name": "b", "size": 1001})).await.unwrap(),
        403,
        "file_size_limit_exceeded",
    )
    .await;
    expect_error(
        pre(json!({"name": "b/c"})).await.unwrap(),
        400,
        "item_name_invalid",
    )
    .await;
    assert_eq!(
        ctx.emu
            .counters()
            .requests_for(box_emulator::Operation::Preflight),
        5
    );
}

#[tokio::test]
async fn direct_upload_size_limits() {
    let ctx = Ctx::new(box_emulator::Config {
        max_file_size: Some(1000),
        storage_limit: Some(1500),
        max_direct_upload_size: Some(900),
        ..small_config()
    })
    .await;
    expect_error(
        ctx.direct_upload("0", "a", &test_data(1001, 1)).await,
        403,
        "file_size_limit_exceeded",
    )
    .await;
    expect_error(
        ctx.direct_upload("0", "a", &test_data(901, 1)).await,
        413,
        "request_entity_too_large",
    )
    .await;
    ctx.put_file("0", "a", &test_data(800, 1)).await;
    expect_error(
        ctx.direct_upload("0", "b", &test_data(800, 1)).await,
        403,
        "storage_limit_exceeded",
    )
    .await;
    ctx.put_file("0", "b", &test_data(700, 1)).await;
}

/// Box serves direct uploads on the upload base only (`upload.box.com/api/2.0`); on the API
/// base (`api.box.com/2.0`) the emulator answers 404 not_found, before authentication, and
/// stores nothing. The preflight stays on the API base.
#[tokio::test]
async fn uploads_only_on_the_upload_base() {
    let ctx = Ctx::small().await;
    let f = ctx.put_file("0", "a.txt", b"one").await;
    let id = f["id"].as_str().unwrap();
    let form = || {
        Ctx::form(
            json!({"name": "b.txt", "parent": {"id": "0"}}),
            "b.txt",
            b"two",
        )
    };
    for url in [
        ctx.api("/files/content"),
        ctx.api(&format!("/files/{id}/content")),
    ] {
        let resp = ctx
            .req(Method::POST, &url)
            .multipart(form())
            .send()
            .await
            .unwrap();
        expect_error(resp, 404, "not_found").await;
        // Without a token too: the path is not served at all.
        let resp = ctx.http.post(&url).multipart(form()).send().await.unwrap();
        expect_error(resp, 404, "not_found").await;
    }
    let c = ctx.emu.counters();
    assert_eq!(c.files_created, 1);
    assert_eq!(c.file_versions_created, 0);
    assert_eq!(c.requests_for(box_emulator::Operation::UploadFile), 1);
    // The preflight is on the API base (and not on the upload base).
    let resp = ctx
        .req(Method::OPTIONS, &ctx.api("/files/content"))
        .json(&json!({"name": "c.txt", "parent": {"id": "0"}}))
        .send()
        .await
        .unwrap();
    expect_status(resp, 200).await;
    let resp = ctx
        .req(Method::OPTIONS, &ctx.upload("/files/content"))
        .json(&json!({"name": "c.txt", "parent": {"id": "0"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    // Uploads on the upload base work.
    ctx.put_file("0", "b.txt", b"two").await;
}

/// Box takes the file part of a direct upload whatever its field name, as long as
/// `attributes` comes first.
#[tokio::test]
async fn file_part_is_taken_whatever_its_name() {
    let ctx = Ctx::small().await;
    for (i, field) in ["content", "upload", "file1", "attributes_file"]
        .into_iter()
        .enumerate()
    {
        let name = format!("f{i}.bin");
        let data = test_data(1500 + i as u64, 30 + i as u64);
        let form = reqwest::multipart::Form::new()
            .text(
                "attributes",
                json!({"name": name, "parent": {"id": "0"}}).to_string(),
            )
            .part(
                field,
                reqwest::multipart::Part::bytes(data.clone()).file_name(name.clone()),
            );
        let resp = ctx
            .req(Method::POST, &ctx.upload("/files/content"))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let v = expect_status(resp, 201).await;
        let id = v["entries"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(v["entries"][0]["name"], name.as_str());
        assert_stored(&ctx.emu, &id, &data).await;
        // And a new version.
        let v2 = test_data(700, 40 + i as u64);
        let form = reqwest::multipart::Form::new()
            .text("attributes", json!({}).to_string())
            .part(field, reqwest::multipart::Part::bytes(v2.clone()));
        let resp = ctx
            .req(Method::POST, &ctx.upload(&format!("/files/{id}/content")))
            .multipart(form)
            .send()
            .await
            .unwrap();
        expect_status(resp, 200).await;
        assert_stored(&ctx.emu, &id, &v2).await;
    }
    // A part of another name before `attributes` is the file, so the attributes come after
    // it.
    let form = reqwest::multipart::Form::new()
        .text("content", "early bytes")
        .text(
            "attributes",
            json!({"name": "late.txt", "parent": {"id": "0"}}).to_string(),
        );
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/content"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "metadata_after_file_contents").await;
    // Two file parts: refused.
    let form = reqwest::multipart::Form::new()
        .text(
            "attributes",
            json!({"name": "two.txt", "parent": {"id": "0"}}).to_string(),
        )
        .text("file", "one")
        .text("content", "two");
    let resp = ctx
        .req(Method::POST, &ctx.upload("/files/content"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "bad_request").await;
    assert_eq!(ctx.emu.counters().files_created, 4);
}
