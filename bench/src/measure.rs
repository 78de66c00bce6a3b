//! Runs a child process and measures it: wall time, user and system CPU time and peak RSS of
//! that process only (not the bench, not the emulator).
//!
//! Two methods, chosen once per run:
//! - `gnu-time`: the child runs under GNU time (`/usr/bin/time -f '%U %S %M'`), which reads the
//!   kernel's figures from `wait4` (rusage of the child); peak RSS is its `%M`. GNU time prints
//!   CPU in 10 ms steps only, so where bash is found GNU time itself runs under bash's `time`
//!   (`TIMEFORMAT='%3U %3S'`), which reads `getrusage(RUSAGE_CHILDREN)` and prints
//!   milliseconds: the CPU figure is then the child's plus GNU time's own (about 1 ms). Preferred.
//! - `proc`: without GNU time, the bench polls `/proc/PID/stat` and `/proc/PID/status` every
//!   few milliseconds: peak RSS is the last `VmHWM` seen before exit (a high-water mark, so it
//!   only misses a peak reached in the last milliseconds), CPU time is read from the zombie's
//!   `/proc/PID/stat` after it exited and before it is reaped (in clock ticks: 10 ms steps).

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
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

    /// How CPU and peak RSS are measured, for the report's method section (it says how
    /// precise the CPU figures are).
    pub fn describe(&self) -> String {
        match self {
            Method::GnuTime if bash_time().is_some() => {
                "bash's `time` (`TIMEFORMAT='%3U %3S'`: user and system CPU to the millisecond \
                 from getrusage(RUSAGE_CHILDREN), the kernel's microsecond figures; they include \
                 GNU time's own start-up, about 1 ms per process, floor included) around GNU time \
                 (`/usr/bin/time -f '%U %S %M'`, read for %M only: ru_maxrss of the client \
                 process from wait4)"
                    .into()
            }
            Method::GnuTime => "GNU time (`/usr/bin/time -f '%U %S %M'`: user and system CPU and \
                                ru_maxrss of the client process from wait4; CPU in 10 ms steps, \
                                as bash was not found for its millisecond `time`)"
                .into(),
            Method::Proc { clock_ticks } => format!(
                "/proc polling (VmHWM sampled every 5 ms; user and system CPU from the exited \
                 process's /proc/PID/stat, in steps of one clock tick, {clock_ticks} ticks/s)"
            ),
        }
    }
}

/// The bash script that times a command (`$2...`) and writes user and system CPU in
/// milliseconds to the file `$1`; the command's own stderr goes where the script's went.
///
/// The figure includes GNU time's own CPU (about 1 ms here: 100 runs of `/usr/bin/time true`
/// took 1.9 ms each against 0.9 ms for `true` alone). It is reported as measured rather than
/// less a constant: the constant would be an estimate of its own, varying with the machine
/// and its caches, and every measured process (the hash floor too) carries the same overhead,
/// so the ratios between them move by well under 1% even at 64 MiB (about 0.1 s of CPU).
const BASH_TIME: &str =
    r#"report=$1; shift; TIMEFORMAT='%3U %3S'; { time "$@" 2>&3 3>&-; } 3>&2 2>"$report""#;

/// The bash found on PATH whose `time` prints milliseconds, looked up once.
fn bash_time() -> Option<&'static Path> {
    static BASH: OnceLock<Option<PathBuf>> = OnceLock::new();
    BASH.get_or_init(|| {
        let path = std::env::var_os("PATH")?;
        let bash = std::env::split_paths(&path)
            .map(|dir| dir.join("bash"))
            .find(|p| p.is_file())?;
        // Proves the whole mechanism: the script runs and its report reads as two figures.
        let probe = Command::new(&bash)
            .env_remove("BASH_ENV")
            .args(["-c", "TIMEFORMAT='%3U %3S'; time :"])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let report = String::from_utf8_lossy(&probe.stderr);
        (probe.status.success() && figures(&report, 2).is_some()).then_some(bash)
    })
    .as_deref()
}

/// The numbers on the last non-empty line of a timing report, if it has at least `n`.
/// GNU time writes "Command exited with non-zero status N" before its figures when the
/// command failed; bash writes its decimal point as the locale's (a comma in some).
fn figures(report: &str, n: usize) -> Option<Vec<f64>> {
    let line = report.lines().rev().find(|l| !l.trim().is_empty())?;
    let values = line
        .split_whitespace()
        .take(n)
        .map(|f| f.replace(',', ".").parse::<f64>().ok())
        .collect::<Option<Vec<f64>>>()?;
    (values.len() == n).then_some(values)
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
    let gnu_report = scratch.join("time.out");
    let bash_report = scratch.join("cpu.out");
    let _ = std::fs::remove_file(&gnu_report);
    let _ = std::fs::remove_file(&bash_report);
    let bash = bash_time();
    let mut command = match bash {
        Some(bash) => {
            let mut c = Command::new(bash);
            c.env_remove("BASH_ENV")
                .arg("-c")
                .arg(BASH_TIME)
                .arg("bench-time")
                .arg(&bash_report)
                .arg("/usr/bin/time");
            c
        }
        None => Command::new("/usr/bin/time"),
    };
    command
        .arg("-f")
        .arg("%U %S %M")
        .arg("-o")
        .arg(&gnu_report)
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
    let read = |path: &Path, n: usize, who: &str| -> Result<Vec<f64>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{who} wrote no report for {}: {e}", cmd.display()))?;
        figures(&text, n).ok_or_else(|| format!("cannot read {who}'s report {text:?}"))
    };
    let gnu = read(&gnu_report, 3, "GNU time")?;
    let cpu = match bash {
        Some(_) => read(&bash_report, 2, "bash's time")?,
        None => gnu[..2].to_vec(),
    };
    Ok(Measured {
        success: output.status.success(),
        wall_s,
        user_s: cpu[0],
        sys_s: cpu[1],
        max_rss_kib: gnu[2] as u64,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A shell that spins until its own CPU time (utime + stime in /proc, which the kernel
    /// scales to the exact runtime) reaches 5 ticks, 50 ms: the same work on any machine.
    fn burn_50_ms() -> Cmd {
        Cmd::new("sh").arg("-c").arg(
            "while :; do read -r s < /proc/$$/stat; set -- $s; \
             [ $((${14} + ${15})) -ge 5 ] && exit 0; done",
        )
    }

    /// A directory for the timing reports of one test.
    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bench-{test}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    }

    #[test]
    fn reads_bash_and_gnu_time_reports() {
        assert_eq!(figures("0.123 0.004\n", 2), Some(vec![0.123, 0.004]));
        assert_eq!(figures("0,123 0,004\n", 2), Some(vec![0.123, 0.004]));
        assert_eq!(
            figures(
                "Command exited with non-zero status 3\n0.12 0.01 4096\n\n",
                3
            ),
            Some(vec![0.12, 0.01, 4096.0])
        );
        assert_eq!(figures("0.123\n", 2), None);
        assert_eq!(figures("", 2), None);
        assert_eq!(figures("real 0.1\n", 2), None);
    }

    #[test]
    fn the_gnu_time_method_measures_cpu_and_passes_status_and_output_through() {
        if Method::detect() != Method::GnuTime {
            eprintln!("GNU time is not installed: its method is not tested here");
            return;
        }
        let dir = scratch("gnu-time");
        let m = run(Method::GnuTime, &burn_50_ms(), &dir).unwrap();
        assert!(m.success, "{m:?}");
        let cpu = m.user_s + m.sys_s;
        assert!(
            (0.02..1.0).contains(&cpu),
            "{cpu} s for 50 ms of CPU: {m:?}"
        );
        assert!(m.max_rss_kib > 0, "{m:?}");
        let failing = Cmd::new("sh")
            .arg("-c")
            .arg("echo out; echo err >&2; exit 3");
        let m = run(Method::GnuTime, &failing, &dir).unwrap();
        assert!(!m.success);
        assert_eq!(m.stdout, "out\n");
        assert_eq!(
            m.stderr, "err\n",
            "the command's stderr only, no timing report"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_proc_method_measures_cpu_and_passes_status_and_output_through() {
        let method = Method::Proc {
            clock_ticks: crate::emulator::clock_ticks(),
        };
        let dir = scratch("proc");
        let m = run(method, &burn_50_ms(), &dir).unwrap();
        assert!(m.success, "{m:?}");
        let cpu = m.user_s + m.sys_s;
        assert!(
            (0.02..1.0).contains(&cpu),
            "{cpu} s for 50 ms of CPU: {m:?}"
        );
        let failing = Cmd::new("sh")
            .arg("-c")
            .arg("echo out; echo err >&2; exit 3");
        let m = run(method, &failing, &dir).unwrap();
        assert!(!m.success);
        assert_eq!(m.stdout, "out\n");
        assert_eq!(m.stderr, "err\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
