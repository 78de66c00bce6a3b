//! A SHA-1 whose running state can be kept at a 64-byte boundary and resumed later: a
//! version records the state after each of its parts, so the commit of a later version that
//! reuses every part up to some offset hashes the file from there on, not from its start.
//!
//! The blocks are the `sha1` crate's (`sha1::compress`, the same SHA-NI or software backend
//! as `sha1::Sha1`); that crate keeps its state private, so the buffering, the padding
//! (FIPS 180-4, 5.1.1) and the saved state are here.

use sha1::digest::generic_array::GenericArray;

/// One SHA-1 block as `sha1::compress` takes it.
type Block = GenericArray<u8, sha1::digest::typenum::U64>;

/// SHA-1 processes 64-byte blocks.
const BLOCK: usize = 64;

/// Blocks handed to `sha1::compress` at once (copied into an array of its block type).
const BATCH: usize = 16;

/// SHA-1's initial chaining value.
const INIT: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// SHA-1's chaining value after a whole number of blocks, and how many bytes it covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sha1State {
    h: [u32; 5],
    len: u64,
}

impl Sha1State {
    /// The five words as 40 lowercase hex digits (the length is kept by the caller: it is
    /// where the part that carries the state ends).
    pub fn to_hex(self) -> String {
        self.h.iter().map(|w| format!("{w:08x}")).collect()
    }

    /// The state saved by [`Sha1State::to_hex`] after the first `len` bytes of a file;
    /// `None` unless it is 40 hex digits and `len` a whole number of blocks.
    pub fn from_hex(hex: &str, len: u64) -> Option<Sha1State> {
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || len % BLOCK as u64 != 0
        {
            return None;
        }
        let mut h = [0u32; 5];
        for (i, w) in h.iter_mut().enumerate() {
            *w = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
        }
        Some(Sha1State { h, len })
    }
}

/// A streaming SHA-1 that can start from a [`Sha1State`] and tell its own state at every
/// block boundary.
#[derive(Clone)]
pub(crate) struct ResumableSha1 {
    h: [u32; 5],
    /// Bytes already compressed (a whole number of blocks).
    done: u64,
    buf: [u8; BLOCK],
    pos: usize,
}

impl ResumableSha1 {
    /// The SHA-1 of nothing yet.
    pub fn new() -> ResumableSha1 {
        ResumableSha1::resume(Sha1State { h: INIT, len: 0 })
    }

    /// Goes on from `state`, as if the bytes it covers had just been hashed.
    pub fn resume(state: Sha1State) -> ResumableSha1 {
        ResumableSha1 {
            h: state.h,
            done: state.len,
            buf: [0; BLOCK],
            pos: 0,
        }
    }

    /// Bytes hashed so far (those of the state resumed from included).
    pub fn len(&self) -> u64 {
        self.done + self.pos as u64
    }

    /// The state now, if the bytes hashed so far are a whole number of blocks.
    pub fn state(&self) -> Option<Sha1State> {
        (self.pos == 0).then_some(Sha1State {
            h: self.h,
            len: self.done,
        })
    }

    pub fn update(&mut self, mut data: &[u8]) {
        if self.pos > 0 {
            let take = (BLOCK - self.pos).min(data.len());
            self.buf[self.pos..self.pos + take].copy_from_slice(&data[..take]);
            self.pos += take;
            data = &data[take..];
            if self.pos < BLOCK {
                return;
            }
            let block = Block::clone_from_slice(&self.buf);
            self.compress(std::slice::from_ref(&block));
            self.pos = 0;
        }
        let mut blocks = data.chunks_exact(BLOCK);
        let mut batch = [Block::default(); BATCH];
        loop {
            let mut n = 0;
            for (dst, src) in batch.iter_mut().zip(&mut blocks) {
                dst.copy_from_slice(src);
                n += 1;
            }
            if n == 0 {
                break;
            }
            self.compress(&batch[..n]);
        }
        let rest = blocks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.pos = rest.len();
    }

    fn compress(&mut self, blocks: &[Block]) {
        sha1::compress(&mut self.h, blocks);
        self.done += (blocks.len() * BLOCK) as u64;
    }

    /// The digest: the bytes hashed, then `0x80`, zeros and the length in bits.
    pub fn finish(mut self) -> [u8; 20] {
        let bits = self.len().wrapping_mul(8);
        let mut last = [0u8; BLOCK];
        last[..self.pos].copy_from_slice(&self.buf[..self.pos]);
        last[self.pos] = 0x80;
        if self.pos >= BLOCK - 8 {
            sha1::compress(&mut self.h, &[Block::clone_from_slice(&last)]);
            last = [0; BLOCK];
        }
        last[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
        sha1::compress(&mut self.h, &[Block::clone_from_slice(&last)]);
        let mut out = [0u8; 20];
        for (o, w) in out.chunks_exact_mut(4).zip(self.h) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha1::{Digest as _, Sha1};

    fn reference(data: &[u8]) -> [u8; 20] {
        Sha1::digest(data).into()
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 131 % 251) as u8).collect()
    }

    #[test]
    fn matches_the_sha1_crate_at_every_length_and_split() {
        for n in [
            0,
            1,
            55,
            56,
            63,
            64,
            65,
            119,
            120,
            128,
            1000,
            64 * BATCH + 3,
            9000,
        ] {
            let d = data(n);
            let mut whole = ResumableSha1::new();
            whole.update(&d);
            assert_eq!(whole.len(), n as u64);
            assert_eq!(whole.finish(), reference(&d), "length {n}");
            for cut in [0, 1, 63, 64, n / 2, n] {
                let cut = cut.min(n);
                let mut h = ResumableSha1::new();
                h.update(&d[..cut]);
                h.update(&d[cut..]);
                assert_eq!(h.finish(), reference(&d), "length {n} cut at {cut}");
            }
        }
    }

    #[test]
    fn a_state_saved_at_a_block_boundary_resumes_to_the_same_digest() {
        let d = data(5000);
        for cut in [0, 64, 1024, 4992] {
            let mut h = ResumableSha1::new();
            h.update(&d[..cut]);
            let saved = h.state().expect("a block boundary");
            assert_eq!(ResumableSha1::resume(saved).len(), cut as u64);
            let hex = saved.to_hex();
            assert_eq!(hex.len(), 40);
            let back = Sha1State::from_hex(&hex, cut as u64).expect("parses");
            assert_eq!(back, saved);
            let mut resumed = ResumableSha1::resume(back);
            resumed.update(&d[cut..]);
            assert_eq!(resumed.len(), 5000);
            assert_eq!(resumed.finish(), reference(&d), "resumed at {cut}");
        }
    }

    #[test]
    fn no_state_inside_a_block_and_no_bad_state_parses() {
        let mut h = ResumableSha1::new();
        h.update(&data(100));
        assert_eq!(h.state(), None);
        let hex = "0123456789abcdef0123456789abcdef01234567";
        assert!(Sha1State::from_hex(hex, 128).is_some());
        assert_eq!(Sha1State::from_hex(hex, 100), None);
        assert_eq!(Sha1State::from_hex(&hex[1..], 128), None);
        assert_eq!(Sha1State::from_hex(&hex.replace('0', "g"), 128), None);
        assert_eq!(Sha1State::from_hex(&format!("+{}", &hex[1..]), 128), None);
    }
}
