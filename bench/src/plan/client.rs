//! The clients a case can measure, and one case: a client, a file and its settings.

use serde::{Deserialize, Serialize};

use crate::defaults;
use crate::files::human_size;
use crate::profile;

/// Which client a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    Floor,
    Engine,
    Cli,
    Boxsdk,
    /// boxsdk 3.x's chunked uploader (its default 5 threads).
    Boxsdk3,
    Node,
}

/// Every uploader, in the order of the tables.
pub const CLIENTS: [Client; 5] = [
    Client::Engine,
    Client::Cli,
    Client::Boxsdk3,
    Client::Boxsdk,
    Client::Node,
];

impl Client {
    pub fn label(self) -> &'static str {
        match self {
            Client::Floor => "SHA-1 x2 floor",
            Client::Engine => "box-uploads (library)",
            Client::Cli => "box-upload CLI",
            Client::Boxsdk => "boxsdk (Python)",
            Client::Boxsdk3 => "boxsdk 3 chunked (Python)",
            Client::Node => "box-node-sdk",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Client::Floor => "floor",
            Client::Engine => "engine",
            Client::Cli => "cli",
            Client::Boxsdk => "boxsdk",
            Client::Boxsdk3 => "boxsdk3",
            Client::Node => "node",
        }
    }

    /// This project's engine (library or CLI): its memory bound and settings apply.
    pub fn ours(self) -> bool {
        matches!(self, Client::Engine | Client::Cli)
    }

    /// Another project's uploader, the competition of the targets.
    pub fn peer(self) -> bool {
        matches!(self, Client::Boxsdk | Client::Boxsdk3 | Client::Node)
    }

    /// Uploads one part at a time: its time is the profile's `conn` rate, so it gets fewer
    /// runs on shaped profiles.
    pub fn sequential(self) -> bool {
        matches!(self, Client::Boxsdk | Client::Node)
    }
}

/// One case: a client, a file, and the settings.
#[derive(Debug, Clone)]
pub struct CaseSpec {
    /// [`profile::LOOPBACK`] or a shaped profile's name.
    pub profile: &'static str,
    pub client: Client,
    pub size: u64,
    /// Part size forced on the emulator (`--part-size`); `None`: the emulator's default.
    pub part_size: Option<u64>,
    /// Engine concurrency, pinned; `None`: the engine's default (adaptive).
    pub concurrency: Option<usize>,
    /// Engine memory cap; `None`: the engine's default.
    pub memory_cap: Option<u64>,
    pub runs: usize,
}

impl CaseSpec {
    /// A loopback case at every default: `runs` runs.
    pub fn new(client: Client, size: u64, runs: usize) -> CaseSpec {
        CaseSpec {
            profile: profile::LOOPBACK,
            client,
            size,
            part_size: None,
            concurrency: None,
            memory_cap: None,
            runs,
        }
    }

    pub fn effective_part_size(&self) -> u64 {
        defaults::emulator_part_size(self.size, self.part_size)
    }

    /// `auto` (the engine's default), the pinned number, or `-` for the other clients.
    fn concurrency_label(&self) -> String {
        match (self.client.ours(), self.concurrency) {
            (false, _) => "-".into(),
            (true, None) => "auto".into(),
            (true, Some(c)) => c.to_string(),
        }
    }

    /// Cases with the same key measure the same thing; a sweep reuses earlier figures.
    pub fn key(&self) -> String {
        let key = format!(
            "{}/{}/part={}/conc={}",
            self.client.short(),
            self.size,
            self.effective_part_size(),
            self.concurrency_label()
        );
        if self.profile == profile::LOOPBACK {
            key
        } else {
            format!("{}/{key}", self.profile)
        }
    }

    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} {} {} part {}",
            self.profile,
            self.client.short(),
            human_size(self.size),
            human_size(self.effective_part_size())
        );
        if self.client.ours() {
            s.push_str(" conc ");
            s.push_str(&self.concurrency_label());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{GIB, MIB};

    #[test]
    fn keys_name_profile_client_size_part_and_concurrency() {
        let c = CaseSpec::new(Client::Engine, GIB, 3);
        assert_eq!(c.key(), format!("engine/{GIB}/part={}/conc=auto", 32 * MIB));
        let pinned = CaseSpec {
            profile: "wan",
            concurrency: Some(4),
            ..c.clone()
        };
        assert_eq!(
            pinned.key(),
            format!("wan/engine/{GIB}/part={}/conc=4", 32 * MIB)
        );
        let sdk = CaseSpec::new(Client::Boxsdk, 256 * MIB, 1);
        assert_eq!(
            sdk.key(),
            format!("boxsdk/{}/part={}/conc=-", 256 * MIB, 8 * MIB)
        );
    }
}
