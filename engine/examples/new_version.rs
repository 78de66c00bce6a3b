//! Uploads a file, then a new version of it only if nobody changed it meanwhile (`if_match`
//! with the etag we saw), under a new name.
//!
//! ```sh
//! cargo run -p box-uploads --example new_version
//! ```

mod common;

use box_uploads::upload::{Upload, Uploader};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uploader = Uploader::new(common::client_from_env()?);
    let name = format!(
        "example-{}.txt",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let first = uploader
        .upload(Upload::new_file("0", &name).from_bytes("first version\n"))
        .await?;
    let etag = first.etag.clone().ok_or("the file has no etag")?;

    let second = uploader
        .upload(
            Upload::new_version(&first.id)
                .if_match(etag)
                .rename(format!("v2-{name}"))
                .from_bytes("second version\n"),
        )
        .await;
    match second {
        Ok(file) => println!(
            "file {} is now {:?}, etag {:?}",
            file.id, file.name, file.etag
        ),
        Err(e) if e.is_precondition_failed() => println!("someone else changed it first"),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
