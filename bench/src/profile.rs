//! Network profiles: the emulator's `--net` shaping each part of the run measures under, over
//! plain HTTP or HTTPS (the `-tls` twin of each: the same shaping and file, the emulator
//! serving TLS with a throwaway certificate every client trusts). The `link` rate is the
//! physical limit of the profile: the targets are fractions of it and every throughput plot of
//! the profile draws it.

use crate::files::{human_size, GIB, MIB};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// Round trip per request, milliseconds.
    pub rtt_ms: u64,
    /// Per-connection rate, MiB/s (each way).
    pub conn_mib_s: u64,
    /// All connections together, MiB/s (each way): the physical limit.
    pub link_mib_s: u64,
    /// The file of the full run, and of `--quick`.
    pub size: u64,
    pub quick_size: u64,
    /// HTTPS (the emulator with `--tls-cert`), as Box serves.
    pub tls: bool,
}

/// Loopback: no shaping at all (the emulator's default).
pub const LOOPBACK: &str = "loopback";
/// Loopback over HTTPS: the side-by-side file, every client, no shaping.
pub const LOOPBACK_TLS: &str = "loopback-tls";

/// A fast, nearby WAN. The sequential SDKs move `conn` = 12 MiB/s: 1 GiB takes them about
/// 90 s, 256 MiB about 22 s; 1 GiB is the size nearer a minute, and its 32 MiB parts are what
/// Box hands out for big files.
const WAN: Profile = Profile {
    name: "wan",
    rtt_ms: 40,
    conn_mib_s: 12,
    link_mib_s: 120,
    size: GIB,
    quick_size: 64 * MIB,
    tls: false,
};

/// A far, slower link. At `conn` = 4 MiB/s 256 MiB takes a sequential SDK about 70 s (64 s of
/// transfer and a 150 ms round trip per 8 MiB part); 1 GiB would take 4.5 min.
const FAR: Profile = Profile {
    name: "far",
    rtt_ms: 150,
    conn_mib_s: 4,
    link_mib_s: 40,
    size: 256 * MIB,
    // The engine uploads files up to its chunked cutoff (`DEFAULT_CHUNKED_CUTOFF`, 50 MiB) in
    // one request: the smallest chunked file.
    quick_size: 64 * MIB,
    tls: false,
};

/// The shaped profiles, in the order they run: each plain one, then its HTTPS twin.
pub const SHAPED: [Profile; 4] = [
    WAN,
    Profile {
        name: "wan-tls",
        tls: true,
        ..WAN
    },
    FAR,
    Profile {
        name: "far-tls",
        tls: true,
        ..FAR
    },
];

/// Every profile name `--profile` accepts.
pub fn names() -> Vec<&'static str> {
    [LOOPBACK, LOOPBACK_TLS]
        .into_iter()
        .chain(SHAPED.iter().map(|p| p.name))
        .collect()
}

pub fn shaped(name: &str) -> Option<Profile> {
    SHAPED.iter().copied().find(|p| p.name == name)
}

/// Whether the profile of this name serves HTTPS.
pub fn is_tls(name: &str) -> bool {
    name == LOOPBACK_TLS || shaped(name).is_some_and(|p| p.tls)
}

/// The plain-HTTP twin of an HTTPS profile (`wan-tls` -> `wan`); `None` for a plain one.
pub fn plain_twin(name: &str) -> Option<&str> {
    name.strip_suffix("-tls").filter(|_| is_tls(name))
}

impl Profile {
    /// The emulator's `--net` value.
    pub fn net_spec(&self) -> String {
        format!(
            "rtt={}ms,conn={}MiB/s,link={}MiB/s",
            self.rtt_ms, self.conn_mib_s, self.link_mib_s
        )
    }

    /// Why this size: what the slowest (sequential) client needs for it, for the report.
    pub fn size_reason(&self, size: u64) -> String {
        let part = crate::defaults::emulator_part_size(size, None);
        let parts = size.div_ceil(part);
        let secs = size as f64 / (self.conn_mib_s * MIB) as f64
            + parts as f64 * self.rtt_ms as f64 / 1000.0;
        format!(
            "{}: a sequential SDK moves one {} part at a time at `conn` = {} MiB/s plus a {} ms \
             round trip per part, about {:.0} s; parallel clients need at least {} parts in \
             flight to fill `link`",
            human_size(size),
            human_size(part),
            self.conn_mib_s,
            self.rtt_ms,
            secs,
            self.link_mib_s.div_ceil(self.conn_mib_s)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_spec_is_what_the_emulator_parses() {
        let wan = shaped("wan").unwrap();
        assert_eq!(wan.net_spec(), "rtt=40ms,conn=12MiB/s,link=120MiB/s");
        assert_eq!(
            shaped("far").unwrap().net_spec(),
            "rtt=150ms,conn=4MiB/s,link=40MiB/s"
        );
        assert_eq!(
            names(),
            vec![
                "loopback",
                "loopback-tls",
                "wan",
                "wan-tls",
                "far",
                "far-tls"
            ]
        );
    }

    #[test]
    fn tls_twins_shape_like_their_plain_profile() {
        for p in SHAPED.iter().filter(|p| p.tls) {
            let plain = shaped(plain_twin(p.name).unwrap()).unwrap();
            assert!(!plain.tls);
            assert_eq!(p.net_spec(), plain.net_spec());
            assert_eq!((p.size, p.quick_size), (plain.size, plain.quick_size));
        }
        assert!(is_tls(LOOPBACK_TLS) && !is_tls(LOOPBACK));
        assert_eq!(plain_twin(LOOPBACK_TLS), Some(LOOPBACK));
        assert_eq!(plain_twin("wan"), None);
    }

    #[test]
    fn quick_files_are_chunked_by_the_engine() {
        for p in SHAPED {
            assert!(
                p.quick_size > box_uploads::upload::DEFAULT_CHUNKED_CUTOFF,
                "{}",
                p.name
            );
        }
    }
}
