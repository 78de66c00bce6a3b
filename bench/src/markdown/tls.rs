//! The HTTPS sections: the side-by-side file over HTTPS on loopback, and what TLS costs each
//! client in CPU against the same client, file and profile over plain HTTP.

use std::fmt::{self, Write as _};

use super::{loopback, show};
use crate::files::human_size;
use crate::plan::Client;
use crate::profile;
use crate::results::{CaseResult, Results};

/// `loopback-tls`'s table, then the TLS cost of every HTTPS profile with its plain twin.
pub fn section(md: &mut String, r: &Results) -> fmt::Result {
    let profiles = r.profile_runs();
    if !profiles.iter().any(|p| p.tls) {
        return Ok(());
    }
    let tls_cases = r.group(profile::LOOPBACK_TLS);
    if !tls_cases.is_empty() {
        writeln!(
            md,
            "## `loopback-tls`: side by side over HTTPS, {} file\n",
            human_size(r.headline_size)
        )?;
        writeln!(
            md,
            "The loopback side-by-side file again, with the emulator serving HTTPS (rustls, ALPN \
             `h2` and `http/1.1`) with a certificate of a throwaway CA that every client trusts. \
             \"Conns / h1 / h2\" are the emulator's counters of the client's TCP connections \
             and of its requests over HTTP/1.1 and HTTP/2.\n"
        )?;
        loopback::side_by_side(md, r, &tls_cases)?;
    }
    cost(md, r)
}

/// Client CPU per GiB over HTTPS against plain HTTP: same client, file and shaping.
fn cost(md: &mut String, r: &Results) -> fmt::Result {
    let rows = cost_rows(r);
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(md, "## What TLS costs the client\n")?;
    writeln!(
        md,
        "Client CPU (user + system) per GiB of the same client on the same file under the \
         same shaping, over HTTPS and over plain HTTP (medians). On loopback nothing else \
         limits the clients, so the difference is the CPU of encryption, the handshake and \
         the HTTP version the client negotiated.\n"
    )?;
    writeln!(
        md,
        "| Profiles | File | Client | Plain CPU s/GiB | TLS CPU s/GiB | TLS / plain |\n\
         | --- | ---: | --- | ---: | ---: | ---: |"
    )?;
    for (tls, plain) in rows {
        let ratio = match (plain.cpu_s_per_gib, tls.cpu_s_per_gib) {
            (Some(p), Some(t)) => format!("{:.2}x", t.median / p.median),
            _ => "–".into(),
        };
        writeln!(
            md,
            "| `{}` vs `{}` | {} | {} | {} | {} | {ratio} |",
            tls.profile,
            plain.profile,
            human_size(tls.size),
            tls.label(),
            show(plain.cpu_s_per_gib, 2),
            show(tls.cpu_s_per_gib, 2)
        )?;
    }
    writeln!(md)
}

/// Each HTTPS case with the plain case of the same client, file and settings.
pub fn cost_rows(r: &Results) -> Vec<(&CaseResult, &CaseResult)> {
    r.cases
        .iter()
        .filter(|c| c.client != Client::Floor)
        .filter_map(|tls| {
            let plain = profile::plain_twin(&tls.profile)?;
            let twin = r.cases.iter().find(|c| {
                c.profile == plain
                    && c.client == tls.client
                    && c.size == tls.size
                    && c.part_size == tls.part_size
                    && c.concurrency == tls.concurrency
                    && c.memory_cap == tls.memory_cap
            })?;
            Some((tls, twin))
        })
        .collect()
}
