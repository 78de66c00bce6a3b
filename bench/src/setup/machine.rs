//! The machine the run measured on, and its load.

use std::process::Command;

use serde::{Deserialize, Serialize};

use super::Paths;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub nproc: String,
    pub cpu_model: String,
    pub memory: String,
    pub kernel: String,
    pub rustc: String,
    pub git: String,
    pub date: String,
    pub load_average_at_start: String,
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

pub fn load_average_1m() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

pub fn machine(paths: &Paths) -> Machine {
    let cpu_model = command_line("lscpu", &[])
        .lines()
        .find_map(|l| l.strip_prefix("Model name:"))
        .map(|m| m.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let kib: f64 = m
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib / (1024.0 * 1024.0)))
        })
        .unwrap_or_else(|| "unknown".into());
    let rev = command_line(
        "git",
        &[
            "-C",
            &paths.root.to_string_lossy(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    let dirty = !command_line(
        "git",
        &["-C", &paths.root.to_string_lossy(), "status", "--porcelain"],
    )
    .is_empty();
    Machine {
        nproc: command_line("nproc", &[]),
        cpu_model,
        memory,
        kernel: command_line("uname", &["-srm"]),
        rustc: command_line("rustc", &["--version"]),
        git: if dirty {
            format!("{rev} with uncommitted changes")
        } else {
            rev
        },
        date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        load_average_at_start: load_average(),
    }
}
