//! A restarted emulator on the same data directory keeps files and open sessions.

use crate::common::*;
use serde_json::json;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "box-emulator-test-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test]
async fn restart_keeps_files_versions_and_open_sessions() {
    let dir = temp_dir("restart");
    let config = box_emulator::Config {
        data_dir: Some(dir.clone()),
        folders: vec!["77".into()],
        ..small_config()
    };
    let v1 = test_data(700, 1);
    let v2 = test_data(900, 2);
    let big = test_data(4000, 3);
    let (direct, chunked, session, first_parts) = {
        let ctx = Ctx::new(config.clone()).await;
        let direct = ctx.put_file("77", "direct.txt", &v1).await;
        let id = direct["id"].as_str().unwrap();
        expect_status(ctx.upload_version(id, json!({}), &v2, None).await, 200).await;
        let chunked = ctx.chunked_upload("0", "chunked.bin", &big).await;
        let s = ctx.new_session("0", "open.bin", big.len() as u64).await;
        let mut parts = Vec::new();
        for i in 0..2 {
            let chunk = &big[i * 1024..(i + 1) * 1024];
            parts.push(
                expect_status(ctx.put_part(&s, (i * 1024) as u64, chunk, 4000).await, 200).await
                    ["part"]
                    .clone(),
            );
        }
        ctx.emu.shutdown().await;
        (direct, chunked, s, parts)
    };
    assert!(dir.join("files").is_dir(), "a configured data dir is kept");

    let ctx = Ctx::new(config.clone()).await;
    let id = direct["id"].as_str().unwrap();
    let f = body_json(ctx.get_json(&ctx.api(&format!("/files/{id}"))).await).await;
    assert_eq!(f["version_number"], "2");
    assert_eq!(f["parent"]["id"], "77");
    assert_eq!(ctx.download(id, None).await, v2);
    assert_eq!(
        ctx.download(id, direct["file_version"]["id"].as_str())
            .await,
        v1
    );
    assert_eq!(
        ctx.download(chunked["id"].as_str().unwrap(), None).await,
        big
    );
    // Names are still taken.
    expect_error(
        ctx.direct_upload("77", "DIRECT.txt", b"x").await,
        409,
        "item_name_in_use",
    )
    .await;

    // The open session has its parts and can be finished. Its endpoints (which name the
    // old port) are rebuilt from the new status.
    let sid = session["id"].as_str().unwrap();
    assert_eq!(ctx.emu.open_sessions(), vec![sid.to_string()]);
    let st = body_json(
        ctx.get_json(&ctx.upload(&format!("/files/upload_sessions/{sid}")))
            .await,
    )
    .await;
    assert_eq!(st["num_parts_processed"], 2);
    let list = body_json(
        ctx.get_json(st["session_endpoints"]["list_parts"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(list["entries"], json!(first_parts));
    let mut parts = first_parts.clone();
    for i in 2..4 {
        let chunk = &big[i * 1024..((i + 1) * 1024).min(4000)];
        parts.push(
            expect_status(ctx.put_part(&st, (i * 1024) as u64, chunk, 4000).await, 200).await
                ["part"]
                .clone(),
        );
    }
    // Re-uploading a part stored before the restart still conflicts.
    expect_error(
        ctx.put_part(&st, 0, &big[..1024], 4000).await,
        416,
        "range_overlaps_existing_part",
    )
    .await;
    let v = expect_status(ctx.commit(&st, &parts, &big).await, 201).await;
    let new_id = v["entries"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(ctx.download(&new_id, None).await, big);
    // Ids are not reused after a restart.
    assert_ne!(new_id, chunked["id"].as_str().unwrap());
    let s2 = ctx.new_session("0", "another", 10).await;
    assert_ne!(s2["id"], session["id"]);
    ctx.emu.shutdown().await;

    // Nothing was buffered in tmp/.
    let tmp: Vec<_> = std::fs::read_dir(dir.join("tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn temporary_data_dir_is_removed() {
    let ctx = Ctx::small().await;
    let dir = ctx.emu.data_dir().to_path_buf();
    ctx.put_file("0", "a", b"abc").await;
    assert!(dir.exists());
    ctx.emu.shutdown().await;
    assert!(!dir.exists());
}

#[tokio::test]
async fn torn_writes_are_ignored_on_restart() {
    let dir = temp_dir("torn");
    let config = box_emulator::Config {
        data_dir: Some(dir.clone()),
        ..small_config()
    };
    let big = test_data(3000, 9);
    let sid = {
        let ctx = Ctx::new(config.clone()).await;
        let s = ctx.new_session("0", "t", 3000).await;
        expect_status(ctx.put_part(&s, 0, &big[..1024], 3000).await, 200).await;
        ctx.emu.shutdown().await;
        s["id"].as_str().unwrap().to_string()
    };
    // Simulate a crash: a part whose data landed without its metadata, garbage in tmp/,
    // and a half-written file record.
    let parts = dir.join("sessions").join(&sid).join("parts");
    std::fs::write(parts.join("1.bin"), &big[1024..2048]).unwrap();
    std::fs::write(dir.join("tmp").join("leftover"), b"junk").unwrap();
    std::fs::write(dir.join("files").join("5.json"), b"{\"id\": ").unwrap();
    let ctx = Ctx::new(config).await;
    let list = body_json(
        ctx.get_json(&ctx.upload(&format!("/files/upload_sessions/{sid}/parts")))
            .await,
    )
    .await;
    assert_eq!(list["total_count"], 1);
    assert!(!parts.join("1.bin").exists());
    assert!(!dir.join("tmp").join("leftover").exists());
    ctx.emu.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A session whose data file is gone (lost, or left by a layout that kept each part in its
/// own `parts/<index>.bin`) keeps none of its parts: their bytes cannot be trusted, so their
/// records go, stray part files are removed, and the upload is finished by sending the parts
/// again.
#[tokio::test]
async fn a_session_without_its_data_file_keeps_no_parts() {
    let dir = temp_dir("lost-data");
    let config = box_emulator::Config {
        data_dir: Some(dir.clone()),
        ..small_config()
    };
    let big = test_data(3000, 12);
    let s = {
        let ctx = Ctx::new(config.clone()).await;
        let s = ctx.new_session("0", "lost.bin", 3000).await;
        for i in 0..2 {
            let chunk = &big[i * 1024..(i + 1) * 1024];
            expect_status(ctx.put_part(&s, (i * 1024) as u64, chunk, 3000).await, 200).await;
        }
        ctx.emu.shutdown().await;
        s
    };
    let sdir = dir.join("sessions").join(s["id"].as_str().unwrap());
    std::fs::remove_file(sdir.join("data")).unwrap();
    std::fs::write(sdir.join("parts/0.bin"), &big[..1024]).unwrap();
    std::fs::write(sdir.join("parts/2.bin"), &big[2048..]).unwrap();

    let ctx = Ctx::new(config).await;
    // The endpoints name the new address.
    let sid = s["id"].as_str().unwrap();
    let s = body_json(
        ctx.get_json(&ctx.upload(&format!("/files/upload_sessions/{sid}")))
            .await,
    )
    .await;
    assert_eq!(s["num_parts_processed"], 0);
    let list = body_json(
        ctx.get_json(s["session_endpoints"]["list_parts"].as_str().unwrap())
            .await,
    )
    .await;
    assert_eq!(list["entries"], json!([]));
    for i in 0..3 {
        assert!(!sdir.join(format!("parts/{i}.bin")).exists());
        assert!(!sdir.join(format!("parts/{i}.json")).exists());
    }
    assert_eq!(std::fs::metadata(sdir.join("data")).unwrap().len(), 3000);
    let mut parts = Vec::new();
    for i in 0..3 {
        let chunk = &big[i * 1024..((i + 1) * 1024).min(3000)];
        parts.push(
            expect_status(ctx.put_part(&s, (i * 1024) as u64, chunk, 3000).await, 200).await
                ["part"]
                .clone(),
        );
    }
    let v = expect_status(ctx.commit(&s, &parts, &big).await, 201).await;
    let id = v["entries"][0]["id"].as_str().unwrap();
    assert_eq!(ctx.download(id, None).await, big);
    ctx.emu.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
