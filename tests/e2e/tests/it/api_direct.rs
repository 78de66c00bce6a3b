//! Direct uploads through the generated client against box-emulator: `preflight_upload`,
//! `upload_file` and `upload_file_version`, checked by reading back what was stored.

use crate::common::*;
use box_uploads::runtime::chrono::DateTime;

/// Preflight answers with an upload URL on the emulator's upload host and an upload token;
/// the token is accepted for the upload itself; the stored bytes, hash and metadata are the
/// ones sent.
#[tokio::test]
async fn preflight_then_upload_file_with_the_upload_token() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let content = test_data(300_000, 1);

    let url = c
        .preflight_upload(PreflightUploadRequest::new(PreflightUploadBody {
            name: Some("Contract.pdf".into()),
            size: Some(content.len() as i64),
            parent: Some(PreflightUploadBodyParent {
                id: Some("0".into()),
            }),
        }))
        .await
        .expect("preflight");
    let upload_url = url.upload_url.expect("upload_url");
    assert!(
        upload_url.starts_with(&format!("{}/files/content", emu.upload_url())),
        "{upload_url}"
    );
    let token = url.upload_token.expect("upload_token");
    assert_ne!(token, emu.token());

    // A client holding only the preflight's upload token.
    let with_upload_token = client_with_token(&emu, &token);
    let created = DateTime::parse_from_rfc3339("2012-12-12T10:53:43-08:00").unwrap();
    let modified = DateTime::parse_from_rfc3339("2013-01-02T03:04:05+00:00").unwrap();
    let files = with_upload_token
        .upload_file(
            UploadFileRequest::new(
                UploadFileAttributes {
                    name: "Contract.pdf".into(),
                    parent: UploadFileAttributesParent { id: "0".into() },
                    content_created_at: Some(created),
                    content_modified_at: Some(modified),
                },
                FilePart::new(Body::from_bytes(content.clone())).with_file_name("Contract.pdf"),
            )
            .with_content_md5(sha1_hex(&content)),
        )
        .await
        .expect("upload_file");
    let f = only_entry(files);
    assert_eq!(f.name.as_deref(), Some("Contract.pdf"));
    assert_eq!(f.size, Some(content.len() as i64));
    assert_eq!(f.sha1.as_deref(), Some(sha1_hex(&content).as_str()));
    assert_eq!(f.parent.as_ref().map(|p| p.id.as_str()), Some("0"));
    assert_eq!(f.version_number.as_deref(), Some("1"));
    assert_eq!(f.extension.as_deref(), Some("pdf"));
    assert_eq!(f.content_created_at, Some(created));
    assert_eq!(f.content_modified_at, Some(modified));
    let v = f.file_version.as_ref().expect("file_version");
    assert_eq!(v.sha1, f.sha1);

    assert_stored(&emu, &f.id, &content).await;
    let c = emu.counters();
    assert_eq!(c.requests_for(Operation::Preflight), 1);
    assert_eq!(c.requests_for(Operation::UploadFile), 1);
    assert_eq!(c.direct_uploads, 1);
    assert_eq!(c.direct_upload_bytes, content.len() as u64);
    assert_eq!(c.files_created, 1);
}

/// `fields` is sent comma-separated and limits the answer to the mini fields plus those asked
/// for; files go to the folder named in `parent`.
#[tokio::test]
async fn upload_file_into_a_folder_with_fields() {
    let emu = start(Config {
        folders: vec!["123".into()],
        ..small_config()
    })
    .await;
    let c = client(&emu);
    let content = b"hello, box".to_vec();
    let files = c
        .upload_file(
            UploadFileRequest::new(
                UploadFileAttributes {
                    name: "hello.txt".into(),
                    parent: UploadFileAttributesParent { id: "123".into() },
                    content_created_at: None,
                    content_modified_at: None,
                },
                Body::from_bytes(content.clone()),
            )
            .with_fields(vec!["size".into(), "parent".into()]),
        )
        .await
        .expect("upload_file");
    let f = only_entry(files);
    assert_eq!(f.size, Some(content.len() as i64));
    assert_eq!(f.parent.as_ref().map(|p| p.id.as_str()), Some("123"));
    assert_eq!(f.sha1.as_deref(), Some(sha1_hex(&content).as_str()));
    // Not asked for, so not sent.
    assert_eq!(f.created_at, None);
    assert_eq!(f.version_number, None);
    assert_stored(&emu, &f.id, &content).await;

    // The folder listing shows it there, not in the root.
    let items: serde_json::Value = http()
        .get(format!("{}/folders/123/items", emu.api_url()))
        .bearer_auth(emu.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(items["total_count"], 1);
    assert_eq!(items["entries"][0]["id"], f.id.as_str());
}

/// A file part of unknown length goes out with chunked transfer encoding and is stored whole.
#[tokio::test]
async fn upload_file_streams_a_body_of_unknown_length() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let len = 3 * MIB + 12_345;
    let pattern = TestData::new(2);
    let files = c
        .upload_file(UploadFileRequest::new(
            UploadFileAttributes {
                name: "stream.bin".into(),
                parent: UploadFileAttributesParent { id: "0".into() },
                content_created_at: None,
                content_modified_at: None,
            },
            Body::from_stream(stream(pattern, 0, len), None),
        ))
        .await
        .expect("upload_file");
    let f = only_entry(files);
    assert_eq!(f.size, Some(len as i64));
    assert_eq!(f.sha1.as_deref(), Some(hex(&pattern.sha1(0, len)).as_str()));
    assert_stored(&emu, &f.id, &pattern.bytes(0, len)).await;
}

/// A new version keeps the file id, bumps the version and etag, renames when asked, answers
/// 200, and leaves the previous version readable by its version id.
#[tokio::test]
async fn upload_file_version_replaces_content_and_keeps_the_old_version() {
    let emu = start(small_config()).await;
    let c = client(&emu);
    let v1 = test_data(10_000, 3);
    let v2 = test_data(20_000, 4);
    let f1 = upload_file(&c, "0", "report.txt", &v1).await;
    let etag1 = f1.etag.clone().expect("etag");
    let old_version = f1.file_version.clone().expect("file_version").id;

    let modified = DateTime::parse_from_rfc3339("2020-02-02T02:02:02+00:00").unwrap();
    let files = c
        .upload_file_version(
            UploadFileVersionRequest::new(
                &f1.id,
                UploadFileVersionAttributes {
                    name: Some("report-v2.txt".into()),
                    content_modified_at: Some(modified),
                },
                Body::from_bytes(v2.clone()),
            )
            .with_if_match(&etag1)
            .with_content_md5(sha1_hex(&v2)),
        )
        .await
        .expect("upload_file_version");
    let f2 = only_entry(files);
    assert_eq!(f2.id, f1.id);
    assert_eq!(f2.name.as_deref(), Some("report-v2.txt"));
    assert_eq!(f2.size, Some(v2.len() as i64));
    assert_eq!(f2.sha1.as_deref(), Some(sha1_hex(&v2).as_str()));
    assert_eq!(f2.version_number.as_deref(), Some("2"));
    assert_eq!(f2.content_modified_at, Some(modified));
    assert_ne!(f2.etag.as_deref(), Some(etag1.as_str()));
    let new_version = f2.file_version.clone().expect("file_version").id;
    assert_ne!(new_version, old_version);

    // Without attributes (`{}`) the name is kept.
    let v3 = test_data(5_000, 5);
    let f3 = only_entry(
        c.upload_file_version(UploadFileVersionRequest::new(
            &f1.id,
            UploadFileVersionAttributes::default(),
            Body::from_bytes(v3.clone()),
        ))
        .await
        .expect("upload_file_version without attributes"),
    );
    assert_eq!(f3.name.as_deref(), Some("report-v2.txt"));
    assert_eq!(f3.version_number.as_deref(), Some("3"));

    assert_stored(&emu, &f1.id, &v3).await;
    assert_eq!(
        emu.file_content(&f1.id, Some(&new_version))
            .await
            .expect("stored version"),
        v2
    );
    assert_eq!(
        emu.file_content(&f1.id, Some(&old_version))
            .await
            .expect("stored version"),
        v1
    );
    let c = emu.counters();
    assert_eq!(c.files_created, 1);
    assert_eq!(c.file_versions_created, 2);
    assert_eq!(c.requests_for(Operation::UploadFileVersion), 2);
}
