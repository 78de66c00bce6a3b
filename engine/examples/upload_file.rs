//! Uploads one file, shows its progress, and acts on the error's kind: a name already in use
//! becomes a new version of the file that holds it.
//!
//! ```sh
//! box-upload emulator          # in another terminal; paste the `export` line it prints
//! cargo run -p box-uploads --example upload_file -- [PATH] [FOLDER_ID]
//! ```

mod common;

use box_uploads::upload::{Upload, UploadErrorKind, Uploader};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = match args.next() {
        Some(p) => std::path::PathBuf::from(p),
        None => {
            let p = std::env::temp_dir().join("box-uploads-example.bin");
            common::write_sample(&p, 3 * 1024 * 1024, 1)?;
            p
        }
    };
    let folder = args.next().unwrap_or_else(|| "0".into());
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("the path has no file name")?
        .to_string();
    let uploader = Uploader::new(common::client_from_env()?);

    let handle = uploader.start_upload(Upload::new_file(&folder, &name).from_path(&path));
    let mut progress = handle.progress();
    let watcher = tokio::spawn(async move {
        while progress.changed().await.is_ok() {
            let p = progress.borrow().clone();
            eprintln!("{:?}: {} / {} bytes", p.phase, p.bytes_done, p.total_bytes);
        }
    });
    let result = handle.join().await;
    watcher.abort();

    let file = match result {
        Ok(file) => file,
        // The name is taken: upload a new version of the file that holds it.
        Err(e) => match e.kind() {
            UploadErrorKind::Conflict { existing, .. } if existing.kind == "file" => {
                eprintln!(
                    "{name} exists as file {}: uploading a new version",
                    existing.id
                );
                uploader
                    .upload(Upload::new_version(&existing.id).from_path(&path))
                    .await?
            }
            UploadErrorKind::NotFound { missing, .. } => {
                return Err(format!("{missing} does not exist").into())
            }
            UploadErrorKind::CredentialsRefused { .. } => {
                return Err("Box refused the token: get a new one".into())
            }
            _ => return Err(e.into()),
        },
    };
    println!(
        "stored as file {} ({:?} bytes, sha1 {:?})",
        file.id, file.size, file.sha1
    );
    Ok(())
}
