//! Resumes an upload after a crash: the first run is stopped part-way (`pause`, as a crash
//! would leave it), the second, with the same state file, sends only the missing parts.
//!
//! ```sh
//! cargo run -p box-uploads --example resume
//! ```

mod common;

use box_uploads::upload::{ProgressEvent, Upload, UploadConfig, Uploader};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir();
    let path = dir.join("box-uploads-example-resume.bin");
    let state = dir.join("box-uploads-example-resume.upload");
    common::write_sample(&path, 64 * 1024 * 1024, 3)?;

    let mut config = UploadConfig::default();
    config.chunked_cutoff = 20_000_000; // chunked, so that there are parts to resume
    let uploader = Uploader::with_config(common::client_from_env()?, config);
    let name = format!(
        "resume-{}.bin",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let upload = || {
        Upload::new_file("0", &name)
            .from_path(&path)
            .state_file(&state)
    };

    let handle = uploader.start_upload(upload());
    let mut progress = handle.progress();
    progress.wait_for(|p| p.parts_done >= 1).await?;
    let session = progress.borrow().session_id.clone();
    if let Some(file) = handle.pause().await? {
        println!("committed before the pause: {}", file.id);
        return Ok(());
    }
    println!(
        "paused in session {session:?}; the state file is {}",
        state.display()
    );

    let handle = uploader.start_upload(upload());
    let mut events = handle.events();
    let file = handle.join().await?;
    // What the second run found stored: the parts it did not send again.
    let mut resumed = None;
    while let Ok(event) = events.try_recv() {
        if let ProgressEvent::SessionResumed {
            session_id,
            parts_stored,
        } = event
        {
            resumed = Some((session_id, parts_stored));
        }
    }
    match resumed {
        Some((session, stored)) => println!(
            "resumed session {session} with {stored} part(s) already stored; stored file {}",
            file.id
        ),
        None => println!("stored file {} (nothing to resume)", file.id),
    }
    Ok(())
}
