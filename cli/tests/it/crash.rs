//! Crash tests.
//!
//! - The `box-upload` command line killed with SIGKILL at several seeded points of one upload
//!   and run again with the same `--state` file each time: the upload resumes its one session
//!   and commits content identical to the source.
//! - The emulator (a separate process: `box-upload emulator`) killed with SIGKILL mid-upload and
//!   restarted on the same port and data directory, twice, while the engine uploads with a retry
//!   policy that rides out the outage: the upload completes with identical content.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use box_uploads::upload::{RetryPolicy, Upload, UploadConfig, Uploader};
use box_uploads::ClientBuilder;
use tokio::io::AsyncWriteExt as _;

use crate::common::*;

const CONCURRENCY: u32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_killed_at_random_points_resumes_to_identical_content() {
    const SEED: u64 = 0x5eed_c4a5;
    const PART: u64 = 256 * KIB;
    const PARTS: u64 = 40;
    let mut rng = fastrand::Rng::with_seed(SEED);
    let emu = start(config(PART)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("crash.bin");
    let state = dir.path().join("crash.upload.json");
    let data = test_data(PARTS * PART - 7, SEED);
    std::fs::write(&file, &data).expect("write source");

    // Three kill points (parts stored on the server, then a random delay), seeded.
    let mut points: Vec<u64> = (0..3).map(|_| rng.u64(2..PARTS - 6)).collect();
    points.sort_unstable();
    let mut kills = 0;
    for (round, &point) in points.iter().enumerate() {
        emu.set_faults(FaultConfig {
            latency_ms: 40 + rng.u64(0..40),
            ..Default::default()
        });
        let delay = Duration::from_millis(rng.u64(0..120));
        let mut child = put(&emu, &file, &state, CONCURRENCY)
            .spawn()
            .expect("start box-upload");
        wait_for_parts(&emu, &mut child, point, &format!("round {round}")).await;
        tokio::time::sleep(delay).await;
        let finished = matches!(child.try_wait(), Ok(Some(_)));
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait");
        if finished {
            break;
        }
        assert!(!status.success(), "killed, not finished");
        kills += 1;
        assert!(
            state.exists(),
            "round {round}: the state file survives the kill"
        );
        eprintln!(
            "round {round}: killed after {} parts stored (+{delay:?})",
            emu.counters().parts_stored
        );
    }
    assert_eq!(kills, 3, "every kill happened mid-upload");

    // Let requests still inside the server finish, then run to the end without faults.
    tokio::time::sleep(Duration::from_millis(300)).await;
    emu.set_faults(FaultConfig::default());
    let mut cmd = put(&emu, &file, &state, CONCURRENCY);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run box-upload"))
        .await
        .expect("join");
    assert!(
        out.status.success(),
        "resumed run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints the file");
    let id = committed["id"].as_str().expect("file id");
    assert_stored(&emu, id, &data).await;
    let c = emu.counters();
    assert_eq!(
        c.sessions_created, 1,
        "every run resumed the first session: {c:?}"
    );
    assert_eq!((c.sessions_committed, c.files_created), (1, 1));
    assert!(emu.open_sessions().is_empty(), "no session left open");
    assert!(
        !state.exists(),
        "the state file is removed after the commit"
    );
}

/// `box-upload emulator` as a child process, so that it can be SIGKILLed.
struct EmulatorProcess {
    child: Child,
    base: String,
}

const EMU_TOKEN: &str = "crash-token";

impl EmulatorProcess {
    /// Starts on `listen` with `data_dir`; retries for a while when the port is still taken.
    fn start(listen: &str, data_dir: &Path) -> EmulatorProcess {
        let started = Instant::now();
        loop {
            let mut child = box_upload()
                .args(["emulator", "--listen", listen, "--token", EMU_TOKEN])
                .args(["--part-size", "1048576", "--data-dir"])
                .arg(data_dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the emulator");
            let stdout = child.stdout.take().expect("stdout");
            let mut lines = BufReader::new(stdout).lines();
            match lines.next() {
                Some(Ok(line)) if line.contains("listening on ") => {
                    let base = line
                        .split("listening on ")
                        .nth(1)
                        .expect("address")
                        .trim()
                        .to_string();
                    // Keep reading its stdout so that it never blocks on a full pipe.
                    std::thread::spawn(move || for _ in lines.by_ref() {});
                    return EmulatorProcess { child, base };
                }
                other => {
                    let _ = child.kill();
                    let out = child.wait_with_output().expect("emulator output");
                    assert!(
                        started.elapsed() < Duration::from_secs(20),
                        "the emulator did not start on {listen}: {other:?} {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    fn addr(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL the emulator");
        self.child.wait().expect("wait for the emulator");
    }

    async fn counters(&self) -> serde_json::Value {
        reqwest::get(format!("{}/_emulator/counters", self.base))
            .await
            .expect("counters")
            .json()
            .await
            .expect("counters json")
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_killed_and_restarted_mid_upload_the_upload_completes() {
    const SEED: u64 = 0xdead_5eed;
    // Above the emulator binary's 20,000,000-byte chunked minimum: 24 parts of 1 MiB.
    const SIZE: u64 = 24 * MIB - 1234;
    let mut rng = fastrand::Rng::with_seed(SEED);
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut emu = EmulatorProcess::start("127.0.0.1:0", data_dir.path());
    let addr = emu.addr();
    let data = test_data(SIZE, SEED);

    let client = ClientBuilder::new()
        .token(EMU_TOKEN)
        .api_url(format!("{}/2.0", emu.base))
        .upload_url(format!("{}/api/2.0", emu.base))
        .build()
        .expect("client");
    let mut config = UploadConfig::default();
    config.concurrency = 3.into();
    config.chunked_cutoff = MIB;
    config.retry = RetryPolicy {
        max_attempts: 100,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(250),
        deadline: Duration::from_secs(180),
    };
    config.commit_deadline = Duration::from_secs(120);
    let uploader = Uploader::with_config(client, config);

    // The content arrives slowly through a pipe, so the upload is still running when the
    // emulator is killed.
    let (mut writer, reader) = tokio::io::duplex(64 * 1024);
    let feed = {
        let data = data.clone();
        tokio::spawn(async move {
            for chunk in data.chunks(64 * 1024) {
                writer.write_all(chunk).await.expect("feed");
                tokio::time::sleep(Duration::from_millis(6)).await;
            }
            writer.shutdown().await.expect("close");
        })
    };
    let handle = uploader.start_upload(
        Upload::new_file("0", "survivor.bin")
            .from_reader(reader, SIZE)
            .keep_session_on_failure(true),
    );

    // Two kills at seeded points (parts stored by the current process).
    for round in 0..2 {
        let point = rng.u64(2..6);
        let started = Instant::now();
        loop {
            let stored = emu.counters().await["parts_stored"].as_u64().unwrap_or(0);
            if stored >= point {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "round {round}: no progress"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..100))).await;
        emu.kill();
        eprintln!("round {round}: emulator killed after {point}+ parts");
        // Down for a moment: the engine's calls fail and are retried meanwhile.
        tokio::time::sleep(Duration::from_millis(300 + rng.u64(0..400))).await;
        emu = EmulatorProcess::start(&addr, data_dir.path());
    }

    let file = match handle.join().await {
        Ok(file) => file,
        Err(e) => panic!("the upload did not survive the emulator restarts: {e:?}"),
    };
    feed.await.expect("feed task");
    assert_eq!(file.size, Some(SIZE as i64));
    assert_eq!(file.sha1.as_deref(), Some(sha1_hex(&data).as_str()));

    // Read it back from the restarted emulator.
    let stored = reqwest::Client::new()
        .get(format!("{}/2.0/files/{}/content", emu.base, file.id))
        .bearer_auth(EMU_TOKEN)
        .send()
        .await
        .expect("download");
    assert_eq!(stored.status().as_u16(), 200);
    let stored = stored.bytes().await.expect("body");
    assert_eq!(stored.len() as u64, SIZE);
    assert_eq!(sha1_hex(&stored), sha1_hex(&data));
    assert!(stored[..] == data[..], "stored bytes");
    let c = emu.counters().await;
    assert_eq!(c["sessions_committed"].as_u64(), Some(1), "{c}");
    assert_eq!(c["sessions_created"].as_u64(), Some(0), "{c}");
    emu.kill();
}
