//! `box-upload put` uploads and prints the file; failures exit with their code (3 no
//! credentials, 4 not found) and one line.

use std::process::Stdio;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_prints_the_committed_file_as_json() {
    let emu = start(config(MIB)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hello.txt");
    let data = test_data(3 * MIB + 5, 3);
    std::fs::write(&file, &data).expect("write");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{}\n", emu.token())).expect("token");

    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(&file)
        .args([
            "--folder",
            "0",
            "--json",
            "--chunked-cutoff",
            "1048576",
            "--min-chunked-size",
            "1",
        ])
        .arg("--token-file")
        .arg(&token_file)
        .args([
            "--api-url",
            &emu.api_url(),
            "--upload-url",
            &emu.upload_url(),
        ]);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["name"], "hello.txt");
    assert_eq!(json["sha1"].as_str(), Some(sha1_hex(&data).as_str()));
    assert_stored(&emu, json["id"].as_str().expect("id"), &data).await;
    assert_eq!(emu.counters().sessions_committed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_exit_non_zero_with_one_line() {
    let emu = start(config(MIB)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"hello").expect("write");

    // No token.
    let mut cmd = box_upload();
    cmd.arg("put").arg(&file).args([
        "--folder",
        "0",
        "--api-url",
        &emu.api_url(),
        "--upload-url",
        &emu.upload_url(),
    ]);
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(3), "no credentials: exit 3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("BOX_TOKEN"), "{stderr}");

    // A folder that does not exist: the API's answer, on one line.
    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(&file)
        .args([
            "--folder",
            "999",
            "--api-url",
            &emu.api_url(),
            "--upload-url",
            &emu.upload_url(),
        ])
        .env("BOX_TOKEN", emu.token());
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
        .await
        .expect("join");
    assert_eq!(out.status.code(), Some(4), "a missing folder: exit 4");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");

    // A missing file.
    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(dir.path().join("missing"))
        .args(["--folder", "0"])
        .env("BOX_TOKEN", "t");
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(4), "a missing file: exit 4");
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
    assert_eq!(emu.counters().files_created, 0);
}

#[test]
fn the_embedded_emulator_prints_a_ready_to_paste_command_that_works() {
    use std::io::{BufRead as _, BufReader};

    // The emulator makes its data directory under TMPDIR; SIGKILL leaves it behind, so it goes
    // where this test removes it.
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut emulator = box_upload()
        .args(["emulator", "--token", "demo-token"])
        .env("TMPDIR", scratch.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    let stdout = emulator.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut paste = None;
    for line in lines.by_ref() {
        let line = line.expect("line");
        if line.trim_start().starts_with("export ") {
            paste = Some(line.trim().to_string());
            break;
        }
    }
    let paste = paste.expect("an export BOX_API_URL=... line");
    // export BOX_API_URL=URL BOX_UPLOAD_URL=URL BOX_TOKEN=demo-token
    let vars: Vec<(&str, &str)> = paste
        .split_whitespace()
        .skip(1)
        .filter_map(|w| w.split_once('='))
        .collect();
    let names: Vec<&str> = vars.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["BOX_API_URL", "BOX_UPLOAD_URL", "BOX_TOKEN"],
        "{paste}"
    );
    assert_eq!(vars[2].1, "demo-token", "{paste}");

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("try.txt");
    std::fs::write(&file, b"hello from the emulator").expect("write");
    let out = box_upload()
        .arg("put")
        .arg(&file)
        .args(["--folder", "0", "--json"])
        .envs(vars.iter().copied())
        .output()
        .expect("put");
    let _ = emulator.kill();
    let _ = emulator.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["size"], 23);
    assert_eq!(
        json["sha1"].as_str(),
        Some(sha1_hex(b"hello from the emulator").as_str())
    );
}

/// The file's modification time goes to Box as `content_modified_at`, on a direct and on a
/// chunked upload, unless `--no-preserve-dates`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_keeps_the_file_dates_unless_told_not_to() {
    let emu = start(config(MIB)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
    for (i, len) in [1000u64, 3 * MIB].into_iter().enumerate() {
        let file = dir.path().join(format!("dated{i}.bin"));
        std::fs::write(&file, test_data(len, 9)).expect("write");
        std::fs::File::options()
            .write(true)
            .open(&file)
            .and_then(|f| f.set_modified(mtime))
            .expect("mtime");
        for (no_dates, name) in [(false, "kept"), (true, "dropped")] {
            let mut cmd = box_upload();
            cmd.arg("put")
                .arg(&file)
                .args(["--folder", "0", "--json", "--name", &format!("{name}{i}")])
                .args(["--chunked-cutoff", "1048576", "--min-chunked-size", "1"])
                .args([
                    "--api-url",
                    &emu.api_url(),
                    "--upload-url",
                    &emu.upload_url(),
                ])
                .env("BOX_TOKEN", emu.token());
            if no_dates {
                cmd.arg("--no-preserve-dates");
            }
            let out = tokio::task::spawn_blocking(move || cmd.output().expect("run"))
                .await
                .expect("join");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            let modified = json["content_modified_at"].as_str().expect("a date");
            let modified = box_uploads::runtime::chrono::DateTime::parse_from_rfc3339(modified)
                .expect("rfc 3339");
            assert_eq!(
                modified.timestamp() == 1_500_000_000,
                !no_dates,
                "len {len}, --no-preserve-dates {no_dates}: {modified}"
            );
        }
    }
}
