//! Digests as Box wants them. SHA-1: `sha=<base64 of the 20 raw bytes>` in the `digest` header,
//! hex in answers (`sha1` fields) and in `content-md5`. SHA-512 (part reuse): lowercase hex in a
//! plan and a commit's parts, `sha-512=<base64 of the 64 raw bytes>` (RFC 5843) on a part.

use base64::Engine as _;
use sha1::{Digest as _, Sha1};
use sha2::Sha512;

/// Lower-case hex of `bytes`.
fn hex_of(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// A SHA-1 value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha1Digest(pub [u8; 20]);

impl std::fmt::Debug for Sha1Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sha1Digest({})", self.hex())
    }
}

impl std::fmt::Display for Sha1Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

impl Sha1Digest {
    /// The SHA-1 of `data`.
    pub fn of(data: &[u8]) -> Self {
        Sha1Digest(Sha1::digest(data).into())
    }

    /// The SHA-1 of everything `reader` yields, and how many bytes that was (read in 256 KiB
    /// pieces): the one place a whole file is hashed outside the upload's ordered pass.
    pub fn of_reader(mut reader: impl std::io::Read) -> std::io::Result<(u64, Self)> {
        let mut h = Sha1::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            let k = reader.read(&mut buf)?;
            if k == 0 {
                break;
            }
            n += k as u64;
            h.update(&buf[..k]);
        }
        Ok((n, Sha1Digest(h.finalize().into())))
    }

    /// Lower-case hex, as Box returns it.
    pub fn hex(&self) -> String {
        hex_of(&self.0)
    }

    /// The `digest` header value: `sha=` and the base64 of the raw bytes.
    pub fn header(&self) -> String {
        format!(
            "sha={}",
            base64::engine::general_purpose::STANDARD.encode(self.0)
        )
    }

    /// The digest written as 40 hex digits (any case), if `hex` is one.
    pub(crate) fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.trim().as_bytes();
        if hex.len() != 40 {
            return None;
        }
        let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let mut out = [0u8; 20];
        for (i, pair) in hex.chunks(2).enumerate() {
            out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
        }
        Some(Sha1Digest(out))
    }

    /// Whether `hex` (any case, surrounding spaces ignored) is this digest.
    pub fn matches_hex(&self, hex: &str) -> bool {
        let hex = hex.trim();
        hex.len() == 40 && hex.eq_ignore_ascii_case(&self.hex())
    }
}

/// A part's SHA-512, by which Box's plan matches it with a part it holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Sha512Digest(pub [u8; 64]);

impl std::fmt::Debug for Sha512Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sha512Digest({})", self.hex())
    }
}

impl Sha512Digest {
    /// The SHA-512 of `data`.
    pub(crate) fn of(data: &[u8]) -> Self {
        Sha512Digest(Sha512::digest(data).into())
    }

    /// 128 lower-case hex digits, as a plan and a commit take it.
    pub(crate) fn hex(&self) -> String {
        hex_of(&self.0)
    }

    /// The part's `digest` header value: `sha-512=` and the base64 of the raw bytes.
    pub(crate) fn header(&self) -> String {
        format!(
            "sha-512={}",
            base64::engine::general_purpose::STANDARD.encode(self.0)
        )
    }
}

/// A part's hashes from the ordered pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartHashes {
    pub sha1: Sha1Digest,
    /// Only when parts may be reused (a new version).
    pub sha512: Option<Sha512Digest>,
}

/// A part's own SHA-1 being computed piece by piece ([`OrderedHasher::feed_with`]).
#[derive(Default)]
pub(crate) struct PartSha1(Sha1);

impl PartSha1 {
    /// Feeds the next piece (to this SHA-1 alone).
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The SHA-1 of the pieces fed.
    pub(crate) fn finish(self) -> Sha1Digest {
        Sha1Digest(self.0.finalize().into())
    }
}

/// Hashes a file in offset order and each of its parts, reading every byte once: the same
/// slice feeds every hasher, a cache-sized block at a time.
pub(crate) struct OrderedHasher {
    whole: Sha1,
    bytes: u64,
    /// Whether each part's SHA-512 is computed too.
    sha512: bool,
}

/// Blocks this large stay in L2 while both hashers read them.
const BLOCK: usize = 64 * 1024;

/// Parts from this size get their SHA-512 on a thread of their own (a thread costs tens of
/// microseconds; 1 MiB of SHA-512 about two milliseconds).
const PARALLEL_FROM: usize = 1 << 20;

impl OrderedHasher {
    /// A hasher of SHA-1s, and of each part's SHA-512 too when `sha512`.
    pub(crate) fn new(sha512: bool) -> Self {
        OrderedHasher {
            whole: Sha1::new(),
            bytes: 0,
            sha512,
        }
    }

    /// Feeds the next part (which must follow the previous one in the file) and returns its own
    /// hashes: for a part whose bytes are not kept (see [`OrderedHasher::feed`] for the others).
    ///
    /// A part's SHA-512 is computed on a second thread while this one computes the SHA-1s: in
    /// software SHA-512 costs about as much as both SHA-1s (which have CPU instructions on most
    /// machines), so the part is hashed in about half the time when a second core is free. A
    /// part too small to be worth a thread is hashed on this one.
    pub(crate) fn part(&mut self, data: &[u8]) -> PartHashes {
        let sha512 = match self.sha512 {
            false => None,
            true if data.len() < PARALLEL_FROM => Some(Sha512Digest::of(data)),
            true => {
                let (sha1, sha512) = std::thread::scope(|scope| {
                    let long = scope.spawn(|| Sha512Digest::of(data));
                    let sha1 = self.sha1s(data);
                    // A panic in the hasher is a bug; hash on this thread rather than fail.
                    (sha1, long.join().unwrap_or_else(|_| Sha512Digest::of(data)))
                });
                return PartHashes {
                    sha1,
                    sha512: Some(sha512),
                };
            }
        };
        PartHashes {
            sha1: self.sha1s(data),
            sha512,
        }
    }

    /// Whether each part's SHA-512 is asked for.
    pub(crate) fn wants_sha512(&self) -> bool {
        self.sha512
    }

    /// Feeds the next part to the whole-file SHA-1 only: for a part whose bytes are kept, its
    /// SHA-512 is computed beside the pass and its own SHA-1 only if it is sent.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        for block in data.chunks(BLOCK) {
            self.whole.update(block);
        }
        self.bytes += data.len() as u64;
    }

    /// Feeds `data` to the whole-file SHA-1 and returns its own SHA-1, reading it once.
    fn sha1s(&mut self, data: &[u8]) -> Sha1Digest {
        let mut part = PartSha1::default();
        self.feed_with(&mut part, data);
        part.finish()
    }

    /// Feeds the next piece of a part to the whole-file SHA-1 and to the part's own `part`
    /// SHA-1, reading it once: a part read in pieces is hashed piece by piece while each piece
    /// is still in the cache it was just read into.
    pub(crate) fn feed_with(&mut self, part: &mut PartSha1, data: &[u8]) {
        for block in data.chunks(BLOCK) {
            self.whole.update(block);
            part.0.update(block);
        }
        self.bytes += data.len() as u64;
    }

    /// Bytes hashed so far.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The SHA-1 of everything fed.
    pub(crate) fn finish(self) -> Sha1Digest {
        Sha1Digest(self.whole.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_base64_of_raw_bytes() {
        // `printf abc | openssl sha1 -binary | base64`
        let d = Sha1Digest::of(b"abc");
        assert_eq!(d.hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(d.header(), "sha=qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
    }

    #[test]
    fn sha512_is_lowercase_hex_and_an_rfc_5843_header() {
        // `printf abc | openssl sha512`
        let d = Sha512Digest::of(b"abc");
        assert_eq!(
            d.hex(),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        assert!(d
            .header()
            .starts_with("sha-512=3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05oh"));
        let mut h = OrderedHasher::new(false);
        assert_eq!(h.part(b"abc").sha512, None, "only when asked for");
    }

    #[test]
    fn hex_comparison_ignores_case_and_rejects_prefixes() {
        let d = Sha1Digest::of(b"abc");
        assert!(d.matches_hex("A9993E364706816ABA3E25717850C26C9CD0D89D"));
        assert!(!d.matches_hex("a9993e36"));
        assert!(!d.matches_hex(""));
    }

    #[test]
    fn ordered_hasher_matches_one_shot_hashes() {
        // Parts hashed on one thread, and parts whose SHA-512 has a thread of its own.
        for part_size in [100_003, PARALLEL_FROM + 7] {
            let len = 3 * part_size as u32 + 11;
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for sha512 in [true, false] {
                let mut h = OrderedHasher::new(sha512);
                let mut parts = Vec::new();
                for chunk in data.chunks(part_size) {
                    let expected = PartHashes {
                        sha1: Sha1Digest::of(chunk),
                        sha512: sha512.then(|| Sha512Digest::of(chunk)),
                    };
                    parts.push((h.part(chunk), expected));
                }
                assert_eq!(parts.len(), 4);
                assert!(parts.iter().all(|(a, b)| a == b), "part size {part_size}");
                assert_eq!(h.bytes(), u64::from(len));
                assert_eq!(h.finish(), Sha1Digest::of(&data));
            }
        }
    }

    #[test]
    fn parts_fed_without_their_own_hashes_still_make_the_whole_file_sha1() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut h = OrderedHasher::new(true);
        assert!(h.wants_sha512());
        for (i, chunk) in data.chunks(3_000).enumerate() {
            if i % 2 == 0 {
                h.feed(chunk);
            } else {
                assert_eq!(h.part(chunk).sha1, Sha1Digest::of(chunk));
            }
        }
        assert_eq!(h.bytes(), 10_000);
        assert_eq!(h.finish(), Sha1Digest::of(&data));
    }

    #[test]
    fn empty_input_has_the_empty_sha1() {
        assert_eq!(
            OrderedHasher::new(false).finish().hex(),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }
}
