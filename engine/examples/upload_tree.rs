//! Uploads a local directory into a Box folder and prints what became of each file.
//!
//! ```sh
//! cargo run -p box-uploads --example upload_tree -- [DIR] [FOLDER_ID]
//! ```

mod common;

use box_uploads::tree::{FileOutcome, OnConflict, TreeUpload};
use box_uploads::upload::{UploadErrorKind, Uploader};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = match args.next() {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            let d = std::env::temp_dir().join("box-uploads-example-tree");
            std::fs::create_dir_all(d.join("sub"))?;
            common::write_sample(&d.join("a.txt"), 1000, 1)?;
            common::write_sample(&d.join("sub/b.txt"), 2000, 2)?;
            d
        }
    };
    let folder = args.next().unwrap_or_else(|| "0".into());
    let uploader = Uploader::new(common::client_from_env()?);

    let report = uploader
        .upload_tree(TreeUpload::new(&dir, folder).on_conflict(OnConflict::Version))
        .await?;
    for file in &report.files {
        match &file.outcome {
            FileOutcome::Failed(e) => match e.kind() {
                UploadErrorKind::Conflict { existing, .. } => {
                    println!(
                        "{}: the name is held by {} {}",
                        file.path, existing.kind, existing.id
                    )
                }
                kind => println!("{}: failed: {kind}", file.path),
            },
            outcome => println!("{}: {outcome:?}", file.path),
        }
    }
    println!(
        "{} uploaded, {} skipped, {} failed",
        report.uploaded(),
        report.skipped(),
        report.failed()
    );
    Ok(())
}
