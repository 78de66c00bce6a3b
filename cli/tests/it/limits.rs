//! `put FILE` of a file over the Box user's upload limit (the emulator's `max_file_size` is the
//! user's `max_upload_size`): exits 8 naming the path and both sizes, with nothing sent,
//! direct or chunked; `--json` says `too_large`.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_of_a_file_over_the_users_limit_exits_8_naming_both_sizes() {
    let mut config = config(256 * KIB);
    config.max_file_size = Some(MIB);
    let emu = start(config).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("backup.tar");
    std::fs::write(&file, test_data(2 * MIB, 1)).expect("write");

    for cutoff in ["50MiB", "512KiB"] {
        let out = run(put_to(&emu, &file, cutoff)).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(8), "{cutoff}: {stderr}");
        for part in [
            file.display().to_string().as_str(),
            "2 MiB (2097152 bytes)",
            "1 MiB (1048576 bytes)",
        ] {
            assert!(stderr.contains(part), "{cutoff}: {part:?} in {stderr}");
        }
        let c = emu.counters();
        assert_eq!(c.file_bytes_received, 0, "{cutoff}: no byte sent");
        assert_eq!(
            (c.files_created, c.sessions_created),
            (0, 0),
            "{cutoff}: nothing made"
        );
    }

    let mut cmd = put_to(&emu, &file, "512KiB");
    cmd.arg("--json");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(8));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = all
        .lines()
        .find(|l| l.contains("\"error\""))
        .unwrap_or_else(|| panic!("an error object in {all}"));
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
    assert_eq!(v["error"]["kind"], "too_large", "{v}");
    assert_eq!(v["error"]["exit_code"], 8, "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("2097152 bytes") && message.contains("1048576 bytes"),
        "{v}"
    );

    // Under the limit it goes.
    let small = dir.path().join("small.bin");
    std::fs::write(&small, test_data(100 * KIB, 2)).expect("write");
    let out = run(put_to(&emu, &small, "512KiB")).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    emu.shutdown().await;
}
