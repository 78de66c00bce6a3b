//! What every example shares: a client for the Box (or `box-upload emulator`) the environment
//! names, and a file of test data to upload.

use box_uploads::{Client, ClientBuilder};

/// A client from `BOX_TOKEN`, and `BOX_API_URL` / `BOX_UPLOAD_URL` when set (the lines
/// `box-upload emulator` prints); Box itself when the URLs are unset.
pub fn client_from_env() -> Result<Client, Box<dyn std::error::Error>> {
    let token = std::env::var("BOX_TOKEN")
        .map_err(|_| "set BOX_TOKEN (and BOX_API_URL, BOX_UPLOAD_URL for the emulator)")?;
    let mut builder = ClientBuilder::new().token(token);
    if let Ok(url) = std::env::var("BOX_API_URL") {
        builder = builder.api_url(url);
    }
    if let Ok(url) = std::env::var("BOX_UPLOAD_URL") {
        builder = builder.upload_url(url);
    }
    Ok(builder.build()?)
}

/// Writes `len` bytes of varied content to `path` (a stand-in for the service's own file).
#[allow(dead_code)] // not every example writes one
pub fn write_sample(path: &std::path::Path, len: usize, seed: u8) -> std::io::Result<()> {
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    std::fs::write(path, data)
}
