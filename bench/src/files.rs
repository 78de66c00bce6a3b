//! Test files: pseudo-random (incompressible) bytes from a fixed seed per size, generated once
//! under `target/bench/files` and reused while their size and marker match.

use std::io::Write as _;
use std::path::{Path, PathBuf};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// The path of the test file of `size` bytes, generating it if needed.
pub fn ensure(dir: &Path, size: u64) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(format!("data-{}.bin", human_size(size).replace(' ', "")));
    let marker = path.with_extension("bin.done");
    let fine = std::fs::metadata(&path)
        .map(|m| m.len() == size)
        .unwrap_or(false)
        && std::fs::read_to_string(&marker)
            .map(|s| s.trim() == size.to_string())
            .unwrap_or(false);
    if fine {
        return Ok(path);
    }
    let _ = std::fs::remove_file(&marker);
    eprintln!("  generating {} ({})", path.display(), human_size(size));
    let file = std::fs::File::create(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(8 << 20, file);
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ size;
    let mut block = vec![0u8; 8 << 20];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            // xorshift64*: fast, incompressible enough for an upload benchmark.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n])
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        left -= n as u64;
    }
    out.flush()
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::fs::write(&marker, size.to_string())
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(path)
}

/// `64 MiB`, `1 GiB`, `1.5 GiB`, `12345 B`.
pub fn human_size(bytes: u64) -> String {
    if bytes >= GIB && bytes % (GIB / 4) == 0 {
        let g = bytes as f64 / GIB as f64;
        if g.fract() == 0.0 {
            format!("{} GiB", g as u64)
        } else {
            format!("{g} GiB")
        }
    } else if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} B")
    }
}

/// Parses `64MiB`, `1GiB`, `512KiB`, `1000000` as the emulator's flags do
/// ([`box_emulator::units::parse_size`]: `MiB` binary, `MB` decimal, `64M` refused).
pub fn parse_size(s: &str) -> Result<u64, String> {
    box_emulator::units::parse_size(s)
}
