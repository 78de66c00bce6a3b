//! Parts through the generated client against box-emulator: `upload_part` (the
//! `{"part": ...}` wrapper, streamed bodies, any order, in parallel) and `list_upload_parts`
//! (offset paging), and a 100 MiB file uploaded out of order and in parallel.

use crate::common::*;
use futures_util::StreamExt as _;
use sha1::{Digest as _, Sha1};
use std::sync::Arc;

/// Box answers a part wrapped in `part` (the generated `UploadedPart.part` is `None` if the
/// server sends the bare object): id, offset, size and the hex SHA-1 of the bytes.
#[tokio::test]
async fn upload_part_answers_the_part_wrapper() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let content = test_data(64 * KIB + 500, 20);
    let s = create_session(&c, "0", "wrapped.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);

    let last = &content[64 * KIB as usize..];
    let uploaded = c
        .upload_part(
            UploadPartRequest::new(
                &ep.id,
                digest(last),
                content_range(64 * KIB, last.len() as u64, content.len() as u64),
                Body::from_bytes(last.to_vec()),
            )
            .with_endpoint(&ep.upload_part),
        )
        .await
        .expect("upload_part");
    let part = uploaded.part.expect("answer wrapped in {\"part\": ...}");
    assert_eq!(part.offset, Some(64 * KIB as i64));
    assert_eq!(part.size, Some(500));
    assert_eq!(part.sha1.as_deref(), Some(sha1_hex(last).as_str()));
    let part_id = part.part_id.clone().expect("part_id");
    assert!(!part_id.is_empty());

    // The same answer on the wire, read raw: `part` is the only member.
    let first = &content[..64 * KIB as usize];
    let resp = http()
        .put(&ep.upload_part)
        .bearer_auth(emu.token())
        .header("digest", digest(first))
        .header(
            "content-range",
            content_range(0, first.len() as u64, content.len() as u64),
        )
        .body(first.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), vec!["part"], "{v}");
    assert_eq!(v["part"]["sha1"], sha1_hex(first));
    assert_ne!(v["part"]["part_id"], part_id.as_str());

    let c = emu.counters();
    assert_eq!(c.parts_stored, 2);
    assert_eq!(c.part_bytes_stored, content.len() as u64);
}

/// A part body of unknown length (chunked transfer encoding, generated as it is sent) is
/// accepted when its bytes match the range and the digest.
#[tokio::test]
async fn upload_part_streams_a_body_of_unknown_length() {
    let emu = start(Config {
        part_size: Some(MIB),
        min_chunked_size: 1,
        ..Default::default()
    })
    .await;
    let c = client(&emu);
    let pattern = TestData::new(21);
    let total = 2 * MIB + 777;
    let s = create_session(&c, "0", "streamed.bin", total).await;
    let ep = Endpoints::of(&s);
    let mut parts = Vec::new();
    for i in 0..ep.total_parts {
        let (first, len) = ep.part_range(i, total);
        let uploaded = c
            .upload_part(
                UploadPartRequest::new(
                    &ep.id,
                    digest_of(&pattern.sha1(first, len)),
                    content_range(first, len, total),
                    Body::from_stream(stream(pattern, first, len), None),
                )
                .with_endpoint(&ep.upload_part),
            )
            .await
            .expect("upload_part");
        parts.push(uploaded.part.unwrap());
    }
    let f = commit(&c, &ep, &pattern.sha1(0, total), parts).await;
    assert_stored(&emu, &f.id, &pattern.bytes(0, total)).await;
}

/// Parts uploaded in any order are listed by offset; `offset` and `limit` page through them
/// and are echoed; once every part is in, `total_count` is the number of parts.
#[tokio::test]
async fn list_upload_parts_pages_by_offset() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let content = test_data(5 * 64 * KIB + 1, 22);
    let s = create_session(&c, "0", "listed.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);
    assert_eq!(ep.total_parts, 6);
    let empty = c
        .list_upload_parts(ListUploadPartsRequest::new(&ep.id).with_endpoint(&ep.list_parts))
        .await
        .expect("list");
    assert_eq!(empty.entries.as_deref(), Some(&[][..]));

    let mut uploaded = Vec::new();
    for i in [5, 3, 1, 0, 2, 4] {
        uploaded.push(put_part(&c, &ep, &content, i).await);
    }
    uploaded.sort_by_key(|p| p.offset);

    let mut listed = Vec::new();
    for offset in [0, 2, 4] {
        let page = c
            .list_upload_parts(
                ListUploadPartsRequest::new(&ep.id)
                    .with_endpoint(&ep.list_parts)
                    .with_offset(offset)
                    .with_limit(2),
            )
            .await
            .expect("list page");
        assert_eq!(page.offset, Some(offset));
        assert_eq!(page.limit, Some(2));
        assert_eq!(page.total_count, Some(6));
        let order = page.order.clone().expect("order");
        assert_eq!(order[0].by.as_deref(), Some("offset"));
        assert_eq!(order[0].direction, Some(PaginationOrderDirection::Asc));
        let entries = page.entries.expect("entries");
        assert_eq!(entries.len(), 2);
        listed.extend(entries);
    }
    assert_eq!(listed, uploaded);

    // Past the end: an empty page. Without paging: everything; at the built URL: the same.
    let past = c
        .list_upload_parts(
            ListUploadPartsRequest::new(&ep.id)
                .with_endpoint(&ep.list_parts)
                .with_offset(6),
        )
        .await
        .expect("list past the end");
    assert_eq!(past.entries.map(|e| e.len()), Some(0));
    let all = c
        .list_upload_parts(ListUploadPartsRequest::new(&ep.id))
        .await
        .expect("list at the built URL");
    assert_eq!(all.entries.as_ref(), Some(&uploaded));

    let f = commit(&c, &ep, &sha1(&content), all.entries.unwrap()).await;
    assert_stored(&emu, &f.id, &content).await;
}

/// spec/box-uploads.yaml (OffsetPagination.total_count): "one more than the offset of the last
/// entry of the whole list"; for parts, the parts received so far, equal to `total_parts` once
/// every part is in.
#[tokio::test]
async fn list_upload_parts_total_count_counts_the_parts_received() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let content = test_data(3 * 64 * KIB, 23);
    let s = create_session(&c, "0", "expected.bin", content.len() as u64).await;
    let ep = Endpoints::of(&s);
    put_part(&c, &ep, &content, 1).await;
    let list = |c: Client| {
        let ep = ep.list_parts.clone();
        let id = ep_id(&s);
        async move {
            c.list_upload_parts(ListUploadPartsRequest::new(&id).with_endpoint(&ep))
                .await
                .expect("list")
        }
    };
    let page = list(c.clone()).await;
    assert_eq!(page.entries.map(|e| e.len()), Some(1));
    assert_eq!(page.total_count, Some(1));
    put_part(&c, &ep, &content, 0).await;
    put_part(&c, &ep, &content, 2).await;
    let page = list(c.clone()).await;
    assert_eq!(page.total_count, s.total_parts.map(i64::from));
}

fn ep_id(s: &box_uploads::models::UploadSession) -> String {
    s.id.clone().expect("session id")
}

/// 100 MiB with Box's part size (8 MiB, 13 parts). Parts 12 and 5 go first, one after the
/// other (so the server holds the end of the file before its start); the other 11 are then
/// sent by tokio tasks spawned in a shuffled order that all wait on one barrier, so they are
/// in flight together. Bodies are generated as they stream: no copy of the file is kept.
/// The commit's file is downloaded and compared chunk by chunk and by SHA-1.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_mib_out_of_order_and_in_parallel() {
    const TOTAL: u64 = 100 * MIB;
    let emu = start(Config::default()).await;
    let c = client(&emu);
    let pattern = TestData::new(100);
    let s = create_session(&c, "0", "hundred.bin", TOTAL).await;
    let ep = Arc::new(Endpoints::of(&s));
    assert_eq!(ep.part_size, 8 * MIB);
    assert_eq!(ep.total_parts, 13);

    let send = move |c: Client, ep: Arc<Endpoints>, index: u64| async move {
        let (first, len) = ep.part_range(index, TOTAL);
        let part = c
            .upload_part(
                UploadPartRequest::new(
                    &ep.id,
                    digest_of(&pattern.sha1(first, len)),
                    content_range(first, len, TOTAL),
                    Body::from_stream(stream(pattern, first, len), Some(len)),
                )
                .with_endpoint(&ep.upload_part),
            )
            .await
            .unwrap_or_else(|e| panic!("part {index}: {e:?}"))
            .part
            .expect("part");
        assert_eq!(part.offset, Some(first as i64));
        assert_eq!(part.size, Some(len as i64));
        part
    };

    let mut parts = vec![
        send(c.clone(), ep.clone(), 12).await,
        send(c.clone(), ep.clone(), 5).await,
    ];
    let listed = c
        .list_upload_parts(ListUploadPartsRequest::new(&ep.id).with_endpoint(&ep.list_parts))
        .await
        .expect("list");
    let offsets: Vec<_> = listed
        .entries
        .unwrap()
        .iter()
        .map(|p| p.offset.unwrap())
        .collect();
    assert_eq!(offsets, vec![(5 * 8 * MIB) as i64, (12 * 8 * MIB) as i64]);

    let mut rest: Vec<u64> = (0..13).filter(|i| *i != 12 && *i != 5).collect();
    fastrand::Rng::with_seed(7).shuffle(&mut rest);
    assert!(rest.windows(2).any(|w| w[0] > w[1]), "{rest:?}");
    let barrier = Arc::new(tokio::sync::Barrier::new(rest.len()));
    let tasks: Vec<_> = rest
        .iter()
        .map(|&i| {
            let (c, ep, barrier) = (c.clone(), ep.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                send(c, ep, i).await
            })
        })
        .collect();
    for t in tasks {
        parts.push(t.await.expect("part task"));
    }
    parts.sort_by_key(|p| p.offset);

    let got = c
        .get_upload_session(GetUploadSessionRequest::new(&ep.id).with_endpoint(&ep.status))
        .await
        .expect("status");
    assert_eq!(got.num_parts_processed, Some(13));

    let whole = pattern.sha1(0, TOTAL);
    let f = commit(&c, &ep, &whole, parts).await;
    assert_eq!(f.size, Some(TOTAL as i64));
    assert_eq!(f.sha1.as_deref(), Some(hex(&whole).as_str()));

    // Download, streamed: compare every chunk with the pattern, and the SHA-1.
    let resp = http()
        .get(format!("{}/files/{}/content", emu.api_url(), f.id))
        .bearer_auth(emu.token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut hasher = Sha1::new();
    let mut offset = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("download chunk");
        assert!(
            chunk[..] == pattern.bytes(offset, chunk.len() as u64)[..],
            "downloaded bytes differ in [{offset}, {})",
            offset + chunk.len() as u64
        );
        hasher.update(&chunk);
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, TOTAL);
    let downloaded: [u8; 20] = hasher.finalize().into();
    assert_eq!(downloaded, whole);

    let counters = emu.counters();
    assert_eq!(counters.parts_stored, 13);
    assert_eq!(counters.part_bytes_stored, TOTAL);
    assert_eq!(counters.committed_bytes, TOTAL);
    assert_eq!(counters.sessions_committed, 1);
}
