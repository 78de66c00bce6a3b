//! A 2xx answer the spec does not list is still a success: the server did the write, so the
//! generated client must not report an error (a caller would upload again). Each test calls the
//! generated API against a raw HTTP/1.1 server on 127.0.0.1 that gives one fixed answer.

use box_uploads::api::operations::{
    AbortUploadSessionRequest, CommitUploadSessionRequest, CommitUploadSessionResponse,
    CreateUploadSessionRequest,
};
use box_uploads::models::{CommitUploadSessionBody, CreateUploadSessionBody};
use box_uploads::runtime::Core;
use box_uploads::{Client, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SESSION_ID: &str = "F971964745A5CD0C001BBE4E58196BFD";

fn session_json() -> String {
    let path = format!(
        "{}/tests/examples/create_upload_session_201.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Starts a server on 127.0.0.1 that answers every request with `status` and `body`, and returns
/// its base URL.
async fn answer_with(status: u16, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, status, body.clone()));
        }
    });
    url
}

/// Reads one request (head, then `content-length` bytes) and writes the answer.
async fn serve(mut stream: TcpStream, status: u16, body: String) {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut received = buf.len() - head_end;
    while received < length {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => received += n,
        }
    }
    let answer = format!(
        "HTTP/1.1 {status} Whatever\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A client whose every server is `url`.
fn client(url: &str) -> Client {
    let core = Core::builder()
        .bearer_token("test-token")
        .server("api", url)
        .server("upload", url)
        .server("upload_session", url)
        .build()
        .expect("builds");
    Client::new(core)
}

fn create_session() -> CreateUploadSessionRequest {
    CreateUploadSessionRequest::new(CreateUploadSessionBody {
        folder_id: "0".into(),
        file_size: 104_857_600,
        file_name: "big.bin".into(),
    })
}

#[tokio::test]
async fn a_200_to_an_operation_documented_201_is_the_decoded_success() {
    let url = answer_with(200, session_json()).await;
    let session = client(&url)
        .create_upload_session(create_session())
        .await
        .expect("a 200 is a success");
    assert_eq!(session.id.as_deref(), Some(SESSION_ID));
    assert_eq!(session.total_parts, Some(1000));
}

#[tokio::test]
async fn an_empty_2xx_where_a_body_is_documented_is_a_decode_error_naming_the_status() {
    let url = answer_with(204, String::new()).await;
    match client(&url).create_upload_session(create_session()).await {
        Err(Error::Decode(d)) => {
            assert_eq!(d.status, 204);
            assert!(d.to_string().contains("HTTP 204"), "{d}");
            assert!(d.to_string().contains("empty"), "{d}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn any_2xx_to_an_operation_documented_204_is_success() {
    for status in [200, 202] {
        let url = answer_with(status, r#"{"ignored": true}"#.into()).await;
        let request = AbortUploadSessionRequest::new(SESSION_ID)
            .with_endpoint(format!("{url}/files/upload_sessions/{SESSION_ID}"));
        client(&url)
            .abort_upload_session(request)
            .await
            .unwrap_or_else(|e| panic!("HTTP {status} is a success: {e:?}"));
    }
}

#[tokio::test]
async fn an_undocumented_2xx_to_commit_is_committed_never_an_error() {
    let files = r#"{"total_count": 1, "entries": [{"id": "12345", "type": "file", "etag": "1"}]}"#;
    let url = answer_with(200, files.into()).await;
    let request = CommitUploadSessionRequest::new(
        SESSION_ID,
        "sha=fpRyg5eVQletdZqEKaFlqwBXJzM=",
        CommitUploadSessionBody {
            parts: Vec::new(),
            attributes: None,
        },
    )
    .with_endpoint(format!("{url}/files/upload_sessions/{SESSION_ID}/commit"));
    match client(&url).commit_upload_session(request).await {
        Ok(CommitUploadSessionResponse::Committed(files)) => {
            assert_eq!(files.total_count, Some(1));
        }
        other => panic!("expected Committed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_non_2xx_answer_is_still_an_api_error() {
    let url = answer_with(
        409,
        r#"{"type": "error", "status": 409, "code": "item_name_in_use", "message": "taken"}"#
            .into(),
    )
    .await;
    match client(&url).create_upload_session(create_session()).await {
        Err(Error::Api(e)) => assert_eq!(box_uploads::OperationError::status(&e), 409),
        other => panic!("expected an API error, got {other:?}"),
    }
}
