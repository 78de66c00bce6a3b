//! An upload that survives an emulator restart: parts sent before the restart are kept on
//! disk, the session URLs stay valid (same port, same data directory), and the upload is
//! finished and committed after it.

use crate::common::*;
use std::net::SocketAddr;
use tempfile::TempDir;

fn persistent_config(dir: &TempDir, listen: SocketAddr) -> Config {
    Config {
        listen,
        data_dir: Some(dir.path().to_path_buf()),
        part_size: Some(MIB),
        min_chunked_size: 1,
        ..Default::default()
    }
}

/// Starts on `addr` again, or, if that port was taken meanwhile, on a new one.
async fn restart(dir: &TempDir, addr: SocketAddr) -> (Emulator, bool) {
    match Emulator::start(persistent_config(dir, addr)).await {
        Ok(emu) => (emu, true),
        Err(e) => {
            eprintln!("port {addr} not available again ({e}); restarting on a new port");
            let any = SocketAddr::from(([127, 0, 0, 1], 0));
            (start(persistent_config(dir, any)).await, false)
        }
    }
}

#[tokio::test]
async fn upload_completes_across_an_emulator_restart() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let emu = start(persistent_config(
        &dir,
        SocketAddr::from(([127, 0, 0, 1], 0)),
    ))
    .await;
    let addr = emu.local_addr();
    let pattern = TestData::new(40);
    let total = 5 * MIB + 12_345;
    let content = pattern.bytes(0, total);

    let c = client(&emu);
    let s = create_session(&c, "0", "restarted.bin", total).await;
    let mut ep = Endpoints::of(&s);
    assert_eq!(ep.total_parts, 6);
    let before = vec![
        put_part(&c, &ep, &content, 3).await,
        put_part(&c, &ep, &content, 0).await,
    ];
    emu.shutdown().await;

    let (emu, same_port) = restart(&dir, addr).await;
    let c = client(&emu);
    if !same_port {
        // The old URLs name the old port: take fresh ones from a status call at the built URL.
        let s = c
            .get_upload_session(GetUploadSessionRequest::new(&ep.id))
            .await
            .expect("status after restart");
        ep = Endpoints::of(&s);
    }

    // The session and both parts survived.
    let st = c
        .get_upload_session(GetUploadSessionRequest::new(&ep.id).with_endpoint(&ep.status))
        .await
        .expect("status after restart");
    assert_eq!(st.num_parts_processed, Some(2));
    assert_eq!(st.total_parts, Some(6));
    assert_eq!(emu.open_sessions(), vec![ep.id.clone()]);
    let listed = c
        .list_upload_parts(ListUploadPartsRequest::new(&ep.id).with_endpoint(&ep.list_parts))
        .await
        .expect("list after restart")
        .entries
        .unwrap();
    let mut expected = before.clone();
    expected.sort_by_key(|p| p.offset);
    assert_eq!(listed, expected);

    // A stored part is still immutable.
    let (first, len) = ep.part_range(3, total);
    let slice = &content[first as usize..(first + len) as usize];
    let api = expect_api!(
        c.upload_part(
            UploadPartRequest::new(
                &ep.id,
                digest(slice),
                content_range(first, len, total),
                Body::from_bytes(slice.to_vec()),
            )
            .with_endpoint(&ep.upload_part),
        )
        .await,
        UploadPartError::RangeOverlapsExistingPart,
        416,
        "range_overlaps_existing_part"
    );
    assert_eq!(conflicting_part(&api), before[0]);

    // Finish and commit after the restart.
    let mut parts = before;
    for i in [5, 1, 4, 2] {
        parts.push(put_part(&c, &ep, &content, i).await);
    }
    parts.sort_by_key(|p| p.offset);
    let f = commit(&c, &ep, &sha1(&content), parts).await;
    assert_eq!(f.size, Some(total as i64));
    assert_eq!(f.sha1.as_deref(), Some(sha1_hex(&content).as_str()));
    assert_stored(&emu, &f.id, &content).await;
    emu.shutdown().await;

    // And the committed file outlives another restart.
    let (emu, _) = restart(&dir, addr).await;
    assert!(emu.open_sessions().is_empty());
    assert_stored(&emu, &f.id, &content).await;
    emu.shutdown().await;
}
