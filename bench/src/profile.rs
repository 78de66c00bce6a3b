//! Network profiles: the emulator's `--net` shaping each part of the run measures under. The
//! `link` rate is the physical limit of the profile: the targets are fractions of it and every
//! throughput plot of the profile draws it.

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
}

/// Loopback: no shaping at all (the emulator's default).
pub const LOOPBACK: &str = "loopback";

/// The shaped profiles, in the order they run.
pub const SHAPED: [Profile; 2] = [
    // A fast, nearby WAN. The sequential SDKs move `conn` = 12 MiB/s: 1 GiB takes them
    // about 90 s, 256 MiB about 22 s; 1 GiB is the size nearer a minute, and its 32 MiB
    // parts are what Box hands out for big files.
    Profile {
        name: "wan",
        rtt_ms: 40,
        conn_mib_s: 12,
        link_mib_s: 120,
        size: GIB,
        quick_size: 64 * MIB,
    },
    // A far, slower link. At `conn` = 4 MiB/s 256 MiB takes a sequential SDK about 70 s
    // (64 s of transfer and a 150 ms round trip per 8 MiB part); 1 GiB would take 4.5 min.
    Profile {
        name: "far",
        rtt_ms: 150,
        conn_mib_s: 4,
        link_mib_s: 40,
        size: 256 * MIB,
        // The engine uploads files up to its chunked cutoff (`DEFAULT_CHUNKED_CUTOFF`, 50 MiB)
        // in one request: the smallest chunked file.
        quick_size: 64 * MIB,
    },
];

/// Every profile name `--profile` accepts.
pub fn names() -> Vec<&'static str> {
    std::iter::once(LOOPBACK)
        .chain(SHAPED.iter().map(|p| p.name))
        .collect()
}

pub fn shaped(name: &str) -> Option<Profile> {
    SHAPED.iter().copied().find(|p| p.name == name)
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
        assert_eq!(names(), vec!["loopback", "wan", "far"]);
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
