//! Folders: create (`POST /2.0/folders`), read (`GET /2.0/folders/{id}`), list
//! (`GET /2.0/folders/{id}/items`, offset and marker paging, `fields`), uploads into
//! subfolders, name conflicts across files and folders, persistence, and the tree helpers.

use crate::common::*;
use box_emulator::Config;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

impl Ctx {
    async fn create_folder_resp(&self, body: Value) -> reqwest::Response {
        self.req(Method::POST, &self.api("/folders"))
            .json(&body)
            .send()
            .await
            .expect("send")
    }

    /// A folder that must be created; returns the Folder.
    async fn mkdir(&self, parent: &str, name: &str) -> Value {
        expect_status(
            self.create_folder_resp(json!({"name": name, "parent": {"id": parent}}))
                .await,
            201,
        )
        .await
    }

    async fn items(&self, folder: &str, query: &str) -> Value {
        expect_status(
            self.get_json(&self.api(&format!("/folders/{folder}/items{query}")))
                .await,
            200,
        )
        .await
    }
}

fn names(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test]
async fn create_folder_answers_a_folder() {
    let ctx = Ctx::small().await;
    let a = ctx.mkdir("0", "Photos").await;
    assert_eq!(a["type"], "folder");
    let id = a["id"].as_str().unwrap().to_string();
    assert!(id.chars().all(|c| c.is_ascii_digit()) && id != "0", "{a}");
    assert_eq!(a["name"], "Photos");
    assert_eq!(a["etag"], "0");
    assert_eq!(a["sequence_id"], "0");
    assert_eq!(a["parent"]["type"], "folder");
    assert_eq!(a["parent"]["id"], "0");
    assert_eq!(a["path_collection"]["total_count"], 1);
    assert_eq!(a["path_collection"]["entries"][0]["id"], "0");
    assert_eq!(a["path_collection"]["entries"][0]["name"], "All Files");
    assert!(
        a["created_at"].is_string() && a["modified_at"].is_string(),
        "{a}"
    );
    assert_eq!(a["size"], 0);
    assert_eq!(a["item_status"], "active");
    assert_eq!(a["item_collection"]["total_count"], 0);

    // A subfolder, and files in it: path_collection, parent and size follow.
    let b = ctx.mkdir(&id, "2024").await;
    let bid = b["id"].as_str().unwrap();
    assert_eq!(b["parent"]["id"], id.as_str());
    let path: Vec<&str> = b["path_collection"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["0", id.as_str()]);
    let f = ctx.put_file(bid, "x.jpg", b"12345").await;
    assert_eq!(f["parent"]["id"], bid);
    assert_eq!(f["path_collection"]["total_count"], 3);
    assert_eq!(f["path_collection"]["entries"][2]["id"], bid);
    ctx.chunked_upload(&id, "big.bin", &test_data(3000, 1))
        .await;

    let got = expect_status(ctx.get_json(&ctx.api(&format!("/folders/{id}"))).await, 200).await;
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["size"], 3005);
    assert_eq!(got["item_collection"]["total_count"], 2);
    assert_eq!(got["item_collection"]["entries"][0]["type"], "folder");
    assert_eq!(got["item_collection"]["entries"][1]["name"], "big.bin");

    let c = ctx.emu.counters();
    assert_eq!(c.folders_created, 2);
    assert_eq!(c.requests_for(box_emulator::Operation::CreateFolder), 2);
    assert_eq!(c.requests_for(box_emulator::Operation::GetFolder), 1);
}

#[tokio::test]
async fn get_root_folder() {
    let ctx = Ctx::small().await;
    ctx.mkdir("0", "a").await;
    ctx.put_file("0", "b", b"xy").await;
    let root = expect_status(ctx.get_json(&ctx.api("/folders/0")).await, 200).await;
    assert_eq!(root["type"], "folder");
    assert_eq!(root["id"], "0");
    assert_eq!(root["name"], "All Files");
    assert_eq!(root["parent"], Value::Null);
    assert_eq!(root["etag"], Value::Null);
    assert_eq!(root["path_collection"]["total_count"], 0);
    assert_eq!(root["size"], 2);
    assert_eq!(root["item_collection"]["total_count"], 2);
    // `fields`: the mini fields plus the ones asked for.
    let v = expect_status(ctx.get_json(&ctx.api("/folders/0?fields=size")).await, 200).await;
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["type", "id", "sequence_id", "etag", "name", "size"])
    );
    for id in ["123", "abc", "00x"] {
        expect_error(
            ctx.get_json(&ctx.api(&format!("/folders/{id}"))).await,
            404,
            "not_found",
        )
        .await;
    }
}

#[tokio::test]
async fn create_folder_errors() {
    let ctx = Ctx::small().await;
    for (body, status, code) in [
        (json!({"parent": {"id": "0"}}), 400, "bad_request"),
        (
            json!({"name": 5, "parent": {"id": "0"}}),
            400,
            "bad_request",
        ),
        (json!({"name": "a"}), 400, "bad_request"),
        (json!({"name": "a", "parent": "0"}), 400, "bad_request"),
        (json!({"name": "a", "parent": {}}), 400, "bad_request"),
        (
            json!({"name": "a/b", "parent": {"id": "0"}}),
            400,
            "item_name_invalid",
        ),
        (
            json!({"name": "..", "parent": {"id": "0"}}),
            400,
            "item_name_invalid",
        ),
        (
            json!({"name": "", "parent": {"id": "0"}}),
            400,
            "item_name_invalid",
        ),
        (
            json!({"name": " a", "parent": {"id": "0"}}),
            400,
            "item_name_invalid",
        ),
        (
            json!({"name": "x".repeat(256), "parent": {"id": "0"}}),
            400,
            "item_name_too_long",
        ),
        (
            json!({"name": "a", "parent": {"id": "999"}}),
            404,
            "not_found",
        ),
        (
            json!({"name": "a", "parent": {"id": "nope"}}),
            404,
            "not_found",
        ),
    ] {
        expect_error(ctx.create_folder_resp(body).await, status, code).await;
    }
    let resp = ctx
        .req(Method::POST, &ctx.api("/folders"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(resp, 400, "bad_request").await;
    // 255 characters is fine, and a numeric parent id is accepted.
    ctx.create_folder_resp(json!({"name": "x".repeat(255), "parent": {"id": 0}}))
        .await;
    assert_eq!(ctx.emu.counters().folders_created, 1);
    // Without a token: 401.
    let resp = ctx
        .http
        .post(ctx.api("/folders"))
        .json(&json!({"name": "z", "parent": {"id": "0"}}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 401, "unauthorized").await;
}

#[tokio::test]
async fn names_are_unique_across_files_and_folders_case_insensitively() {
    let ctx = Ctx::small().await;
    let docs = ctx.mkdir("0", "Docs").await;
    let docs_id = docs["id"].as_str().unwrap();

    // Folder vs folder.
    let v = expect_error(
        ctx.create_folder_resp(json!({"name": "DOCS", "parent": {"id": "0"}}))
            .await,
        409,
        "item_name_in_use",
    )
    .await;
    let conflicts = v["context_info"]["conflicts"].as_array().expect("array");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0]["type"], "folder");
    assert_eq!(conflicts[0]["id"], docs_id);
    assert_eq!(conflicts[0]["name"], "Docs");
    assert_eq!(conflicts[0]["etag"], "0");
    assert_eq!(conflicts[0]["sequence_id"], "0");

    // Folder vs an existing file.
    let data = b"hello";
    let f = ctx.put_file("0", "Notes.txt", data).await;
    let v = expect_error(
        ctx.create_folder_resp(json!({"name": "notes.TXT", "parent": {"id": "0"}}))
            .await,
        409,
        "item_name_in_use",
    )
    .await;
    let c = &v["context_info"]["conflicts"][0];
    assert_eq!(c["type"], "file");
    assert_eq!(c["id"], f["id"]);
    assert_eq!(c["sha1"], sha1_hex(data));
    assert_eq!(c["file_version"]["id"], f["file_version"]["id"]);
    assert_eq!(c["etag"], "0");
    assert_eq!(c["sequence_id"], "0");

    // A file vs an existing folder: direct upload, session, preflight.
    let v = expect_error(
        ctx.direct_upload("0", "docs", data).await,
        409,
        "item_name_in_use",
    )
    .await;
    assert_eq!(v["context_info"]["conflicts"]["type"], "folder");
    assert_eq!(v["context_info"]["conflicts"]["id"], docs_id);
    expect_error(
        ctx.create_session("0", "dOcS", 5000).await,
        409,
        "item_name_in_use",
    )
    .await;
    let resp = ctx
        .req(Method::OPTIONS, &ctx.api("/files/content"))
        .json(&json!({"name": "DOCS", "parent": {"id": "0"}}))
        .send()
        .await
        .unwrap();
    expect_error(resp, 409, "item_name_in_use").await;
    // Renaming a file onto a folder's name with a new version.
    let resp = ctx
        .upload_version(
            f["id"].as_str().unwrap(),
            json!({"name": "Docs"}),
            b"v2",
            None,
        )
        .await;
    expect_error(resp, 409, "item_name_in_use").await;

    // The same names are free in another folder.
    ctx.mkdir(docs_id, "Docs").await;
    ctx.put_file(docs_id, "notes.txt", data).await;
    assert_eq!(ctx.emu.counters().folders_created, 2);
}

#[tokio::test]
async fn uploads_into_subfolders() {
    let ctx = Ctx::small().await;
    let a = ctx.mkdir("0", "a").await;
    let a_id = a["id"].as_str().unwrap().to_string();
    let b = ctx.mkdir(&a_id, "b").await;
    let b_id = b["id"].as_str().unwrap().to_string();

    let small = test_data(100, 1);
    let big = test_data(5000, 2);
    let f1 = ctx.put_file(&a_id, "one.bin", &small).await;
    assert_eq!(f1["parent"]["id"], a_id.as_str());
    let f2 = ctx.chunked_upload(&b_id, "two.bin", &big).await;
    assert_eq!(f2["parent"]["id"], b_id.as_str());
    assert_stored(&ctx.emu, f2["id"].as_str().unwrap(), &big).await;
    // A new version of a file in a subfolder stays there.
    let v = expect_status(
        ctx.upload_version(f1["id"].as_str().unwrap(), json!({}), b"new", None)
            .await,
        200,
    )
    .await;
    assert_eq!(v["entries"][0]["parent"]["id"], a_id.as_str());

    // Missing folders: 404 for a direct upload; a session's unknown folder_id keeps its
    // `404 invalid_parameter`.
    expect_error(
        ctx.direct_upload("987654", "x", b"x").await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        ctx.create_session("987654", "x", 5000).await,
        404,
        "invalid_parameter",
    )
    .await;

    // The tree helper sees both files by path.
    let tree = ctx.emu.tree("0").await.unwrap();
    assert_eq!(
        tree.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a/b/two.bin", "a/one.bin"]
    );
    assert_eq!(tree["a/one.bin"], (3, sha1_hex(b"new")));
    assert_eq!(tree["a/b/two.bin"], (5000, sha1_hex(&big)));
    let sub = ctx.emu.tree(&a_id).await.unwrap();
    assert!(sub.contains_key("b/two.bin") && sub.contains_key("one.bin"));
    assert_eq!(
        ctx.emu.tree_folders("0").unwrap(),
        BTreeSet::from(["a".to_string(), "a/b".to_string()])
    );
    assert!(ctx.emu.tree("424242").await.is_none());

    // Against a local directory.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    std::fs::write(dir.path().join("a/one.bin"), b"new").unwrap();
    std::fs::write(dir.path().join("a/b/two.bin"), &big).unwrap();
    assert_tree_matches(&ctx.emu, "0", dir.path()).await;
}

#[tokio::test]
async fn listing_entries_and_fields() {
    let ctx = Ctx::small().await;
    let data = b"abc";
    let f = ctx.put_file("0", "b.txt", data).await;
    let d = ctx.mkdir("0", "z-folder").await;
    ctx.put_file("0", "A.txt", b"1").await;

    // Folders first, then files by name (case-insensitively); mini fields only.
    let page = ctx.items("0", "").await;
    assert_eq!(names(&page), ["z-folder", "A.txt", "b.txt"]);
    assert_eq!(page["total_count"], 3);
    assert_eq!(page["offset"], 0);
    assert_eq!(page["limit"], 100);
    assert_eq!(page["order"][0]["by"], "type");
    let folder = &page["entries"][0];
    assert_eq!(
        folder,
        &json!({"type": "folder", "id": d["id"], "sequence_id": "0", "etag": "0", "name": "z-folder"})
    );
    let file = &page["entries"][2];
    let keys: BTreeSet<&str> = file
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "type",
            "id",
            "sequence_id",
            "etag",
            "name",
            "sha1",
            "file_version"
        ])
    );
    assert_eq!(file["id"], f["id"]);
    assert_eq!(file["sha1"], sha1_hex(data));

    // `fields`: the mini fields plus those asked for.
    let page = ctx
        .items(
            "0",
            "?fields=sha1,size,modified_at,content_modified_at,name,type,id,etag,file_version",
        )
        .await;
    let file = &page["entries"][2];
    assert_eq!(file["size"], 3);
    assert_eq!(file["sha1"], sha1_hex(data));
    assert!(file["modified_at"].is_string());
    assert!(file["content_modified_at"].is_string());
    assert!(file.get("created_at").is_none());
    assert!(file.get("path_collection").is_none());
    let folder = &page["entries"][0];
    assert!(folder["modified_at"].is_string());
    assert!(folder.get("sha1").is_none());
    let page = ctx.items("0", "?fields=size").await;
    assert_eq!(page["entries"][2]["size"], 3);
    assert!(page["entries"][2].get("modified_at").is_none());

    // Errors.
    expect_error(
        ctx.get_json(&ctx.api("/folders/31337/items")).await,
        404,
        "not_found",
    )
    .await;
    let v = expect_error(
        ctx.get_json(&ctx.api("/folders/0/items?offset=10001"))
            .await,
        400,
        "bad_request",
    )
    .await;
    assert_eq!(v["context_info"]["errors"][0]["name"], "offset");
    for q in ["?limit=0", "?limit=x", "?usemarker=maybe"] {
        expect_error(
            ctx.get_json(&ctx.api(&format!("/folders/0/items{q}")))
                .await,
            400,
            "bad_request",
        )
        .await;
    }
    expect_error(
        ctx.get_json(&ctx.api("/folders/0/items?usemarker=true&marker=%21%21"))
            .await,
        400,
        "bad_request",
    )
    .await;
    // A limit above 1000 is clamped.
    assert_eq!(ctx.items("0", "?limit=5000").await["limit"], 1000);
}

#[tokio::test]
async fn offset_and_marker_paging() {
    let ctx = Ctx::small().await;
    let mut expected = Vec::new();
    for i in 0..4 {
        ctx.mkdir("0", &format!("dir{i}")).await;
        expected.push(format!("dir{i}"));
    }
    for i in 0..9 {
        ctx.put_file("0", &format!("file{i:02}"), &[i as u8]).await;
        expected.push(format!("file{i:02}"));
    }

    // Offset paging.
    let mut got = Vec::new();
    let mut offset = 0;
    loop {
        let page = ctx.items("0", &format!("?limit=5&offset={offset}")).await;
        assert_eq!(page["total_count"], 13);
        assert_eq!(page["limit"], 5);
        assert_eq!(page["offset"], offset);
        let n = names(&page);
        if n.is_empty() {
            break;
        }
        assert!(n.len() <= 5);
        offset += n.len() as u64;
        got.extend(n);
    }
    assert_eq!(got, expected);

    // Marker paging.
    let mut got = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &marker {
            None => "?usemarker=true&limit=4".to_string(),
            Some(m) => format!("?usemarker=true&limit=4&marker={m}"),
        };
        let page = ctx.items("0", &q).await;
        pages += 1;
        assert_eq!(page["limit"], 4);
        assert!(page.get("total_count").is_none(), "{page}");
        got.extend(names(&page));
        match page["next_marker"].as_str() {
            Some(m) => marker = Some(m.to_string()),
            None => {
                assert_eq!(page["next_marker"], Value::Null);
                break;
            }
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(got, expected);
    // `marker=0` is the first page too; `prev_marker` leads back.
    let first = ctx.items("0", "?usemarker=true&limit=4&marker=0").await;
    assert_eq!(names(&first), expected[..4]);
    assert_eq!(first["prev_marker"], Value::Null);
    let second = ctx
        .items(
            "0",
            &format!(
                "?usemarker=true&limit=4&marker={}",
                first["next_marker"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(names(&second), expected[4..8]);
    let back = ctx
        .items(
            "0",
            &format!(
                "?usemarker=true&limit=4&marker={}",
                second["prev_marker"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(names(&back), expected[..4]);

    // A marker survives an insertion before it: nothing is repeated or skipped.
    let first = ctx.items("0", "?usemarker=true&limit=6").await;
    let m = first["next_marker"].as_str().unwrap().to_string();
    ctx.put_file("0", "aaa", b"new").await;
    let rest = ctx
        .items("0", &format!("?usemarker=true&limit=1000&marker={m}"))
        .await;
    let mut all = names(&first);
    all.extend(names(&rest));
    assert_eq!(all, expected);
}

#[tokio::test]
async fn folders_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: Some(dir.path().to_path_buf()),
        ..small_config()
    };
    let ctx = Ctx::new(config.clone()).await;
    let a = ctx.mkdir("0", "kept").await;
    let a_id = a["id"].as_str().unwrap().to_string();
    let b = ctx.mkdir(&a_id, "inner").await;
    let b_id = b["id"].as_str().unwrap().to_string();
    ctx.put_file(&b_id, "f.txt", b"data").await;
    let before = ctx.emu.tree("0").await.unwrap();
    ctx.emu.shutdown().await;

    let ctx = Ctx::new(config).await;
    assert_eq!(ctx.emu.tree("0").await.unwrap(), before);
    let got = expect_status(
        ctx.get_json(&ctx.api(&format!("/folders/{b_id}"))).await,
        200,
    )
    .await;
    assert_eq!(got["name"], "inner");
    assert_eq!(got["parent"]["id"], a_id.as_str());
    // Names still conflict, and new ids do not collide with the old ones.
    expect_error(
        ctx.create_folder_resp(json!({"name": "KEPT", "parent": {"id": "0"}}))
            .await,
        409,
        "item_name_in_use",
    )
    .await;
    let c = ctx.mkdir("0", "new").await;
    let c_id: u64 = c["id"].as_str().unwrap().parse().unwrap();
    assert!(c_id > b_id.parse::<u64>().unwrap());
    let f = ctx.put_file(&a_id, "g.txt", b"x").await;
    assert!(f["id"].as_str().unwrap().parse::<u64>().unwrap() > c_id);
}

#[tokio::test]
async fn configured_folders_are_reachable_but_not_listed() {
    let ctx = Ctx::new(Config {
        folders: vec!["123".into()],
        ..small_config()
    })
    .await;
    assert_eq!(ctx.items("0", "").await["total_count"], 0);
    let sub = ctx.mkdir("123", "sub").await;
    assert_eq!(sub["path_collection"]["total_count"], 2);
    ctx.put_file(sub["id"].as_str().unwrap(), "f", b"1").await;
    assert_eq!(names(&ctx.items("123", "").await), ["sub"]);
    assert_eq!(
        ctx.emu
            .tree("123")
            .await
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["sub/f"]
    );
    // "Folder 123" is not a name held in the root.
    ctx.mkdir("0", "Folder 123").await;
}

#[tokio::test]
async fn bytes_received_counts_file_content() {
    let ctx = Ctx::small().await;
    let d = test_data(3000, 4);
    ctx.put_file("0", "a", &d[..1000]).await;
    ctx.chunked_upload("0", "b", &d).await;
    let c = ctx.emu.counters();
    assert_eq!(c.file_bytes_received, 4000);
    // Listing, reading and creating folders send no file bytes.
    ctx.reset_and_browse().await;
    assert_eq!(ctx.emu.counters().file_bytes_received, 0);
    // A refused upload still counts what was read.
    expect_error(
        ctx.req(Method::POST, &ctx.upload("/files/content"))
            .header("content-md5", "0000000000000000000000000000000000000000")
            .multipart(Ctx::form(
                json!({"name": "c", "parent": {"id": "0"}}),
                "c",
                &d[..10],
            ))
            .send()
            .await
            .unwrap(),
        400,
        "bad_digest",
    )
    .await;
    assert_eq!(ctx.emu.counters().file_bytes_received, 10);
}

impl Ctx {
    async fn reset_and_browse(&self) {
        self.emu.reset_counters();
        self.items("0", "?fields=sha1,size").await;
        self.mkdir("0", "d").await;
        expect_status(self.get_json(&self.api("/folders/0")).await, 200).await;
    }
}

#[tokio::test]
async fn binary_serves_folders() {
    let p = Process::spawn("tok", &[]);
    let http = http();
    let resp = http
        .post(format!("{}/2.0/folders", p.base))
        .bearer_auth("tok")
        .json(&json!({"name": "x", "parent": {"id": "0"}}))
        .send()
        .await
        .unwrap();
    let v = expect_status(resp, 201).await;
    assert_eq!(v["name"], "x");
    let c = p.counters().await;
    assert_eq!(c["folders_created"], 1);
    assert_eq!(c["file_bytes_received"], 0);
    assert_eq!(c["requests"]["create_folder"], 1);
}
