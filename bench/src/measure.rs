//! Runs a child process and measures it: wall time, user and system CPU time and peak RSS of
//! that process only (not the bench, not the emulator).
//!
//! Two methods, chosen once per run:
//! - `gnu-time`: the child runs under GNU time (`/usr/bin/time -f '%U %S %M'`), which reads the
//!   kernel's exact figures from `wait4` (rusage of the child). Preferred.
//! - `proc`: without GNU time, the bench polls `/proc/PID/stat` and `/proc/PID/status` every
//!   few milliseconds: peak RSS is the last `VmHWM` seen before exit (a high-water mark, so it
//!   only misses a peak reached in the last milliseconds), CPU time is read from the zombie's
//!   `/proc/PID/stat` after it exited and before it is reaped (exact, in clock ticks).

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    GnuTime,
    Proc { clock_ticks: u64 },
}

impl Method {
    /// GNU time if `/usr/bin/time` is GNU time, else /proc polling.
    pub fn detect() -> Method {
        let gnu = Command::new("/usr/bin/time")
            .arg("--version")
            .output()
            .map(|o| {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                text.contains("GNU")
            })
            .unwrap_or(false);
        if gnu {
            return Method::GnuTime;
        }
        Method::Proc {
            clock_ticks: crate::emulator::clock_ticks(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Method::GnuTime => "GNU time (`/usr/bin/time -f '%U %S %M'`: user and system CPU and \
                                ru_maxrss of the client process from wait4)"
                .into(),
            Method::Proc { clock_ticks } => format!(
                "/proc polling (VmHWM sampled every 5 ms; user and system CPU from the exited \
                 process's /proc/PID/stat, {clock_ticks} ticks/s)"
            ),
        }
    }
}

/// A program and its arguments.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(OsString, OsString)>,
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_path_buf());
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }
}

/// What a measured child did.
#[derive(Debug, Clone)]
pub struct Measured {
    pub success: bool,
    pub wall_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    pub max_rss_kib: u64,
    pub stdout: String,
    pub stderr: String,
}

impl Measured {
    /// Stdout as one JSON object, or else its last line that is one.
    pub fn json(&self) -> Option<serde_json::Value> {
        if let Ok(v @ serde_json::Value::Object(_)) = serde_json::from_str(self.stdout.trim()) {
            return Some(v);
        }
        self.stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .and_then(|l| serde_json::from_str(l).ok())
    }
}

pub fn run(method: Method, cmd: &Cmd, scratch: &Path) -> Result<Measured, String> {
    match method {
        Method::GnuTime => run_gnu_time(cmd, scratch),
        Method::Proc { clock_ticks } => run_proc(cmd, clock_ticks),
    }
}

fn run_gnu_time(cmd: &Cmd, scratch: &Path) -> Result<Measured, String> {
    let report = scratch.join("time.out");
    let _ = std::fs::remove_file(&report);
    let mut command = Command::new("/usr/bin/time");
    command
        .arg("-f")
        .arg("%U %S %M")
        .arg("-o")
        .arg(&report)
        .arg(&cmd.program)
        .args(&cmd.args)
        .stdin(Stdio::null());
    if let Some(dir) = &cmd.cwd {
        command.current_dir(dir);
    }
    command.envs(cmd.env.iter().map(|(k, v)| (k, v)));
    let start = Instant::now();
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cmd.display()))?;
    let wall_s = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&report)
        .map_err(|e| format!("GNU time wrote no report for {}: {e}", cmd.display()))?;
    // A failed command adds "Command exited with non-zero status N" before the figures.
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let fields: Vec<&str> = line.split_whitespace().collect();
    let parse = |i: usize| -> Result<f64, String> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| format!("cannot read GNU time's report {text:?}"))
    };
    Ok(Measured {
        success: output.status.success(),
        wall_s,
        user_s: parse(0)?,
        sys_s: parse(1)?,
        max_rss_kib: parse(2)? as u64,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

fn run_proc(cmd: &Cmd, clock_ticks: u64) -> Result<Measured, String> {
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = &cmd.cwd {
        command.current_dir(dir);
    }
    command.envs(cmd.env.iter().map(|(k, v)| (k, v)));
    let start = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", cmd.display()))?;
    let pid = child.id();
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut out);
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stat_path = format!("/proc/{pid}/stat");
    let status_path = format!("/proc/{pid}/status");
    let mut hwm_kib = 0u64;
    let mut ticks = None;
    // The child is not reaped until we wait for it, so its /proc entry stays readable.
    while let Ok(stat) = std::fs::read_to_string(&stat_path) {
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            break;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let state = fields.first().copied().unwrap_or("");
        // Fields after the command name: state is field 3, utime 14, stime 15.
        let utime: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0);
        let stime: u64 = fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
        if state == "Z" || state == "X" {
            ticks = Some((utime, stime));
            break;
        }
        if let Ok(status) = std::fs::read_to_string(&status_path) {
            if let Some(v) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                hwm_kib = hwm_kib.max(v);
            }
        }
        ticks = Some((utime, stime));
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for {}: {e}", cmd.display()))?;
    let wall_s = start.elapsed().as_secs_f64();
    let (utime, stime) = ticks.unwrap_or((0, 0));
    Ok(Measured {
        success: status.success(),
        wall_s,
        user_s: utime as f64 / clock_ticks as f64,
        sys_s: stime as f64 / clock_ticks as f64,
        max_rss_kib: hwm_kib,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}
