//! What a new user meets: dry runs that write nothing, an exit code per kind of failure (2 to
//! 7), `--json` on failure, `-q` and `-v`, the `BOX_*_URL` variables, completions, and two
//! `box-upload emulator` at once.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::*;

/// `box-upload put FILE` into `emu` with the token in `BOX_TOKEN` and the URLs as options.
fn put_to(emu: &Emulator, file: &Path) -> Command {
    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(file)
        .args([
            "--api-url",
            &emu.api_url(),
            "--upload-url",
            &emu.upload_url(),
        ])
        .env("BOX_TOKEN", emu.token())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_of_a_file_writes_nothing_and_says_what_would_happen() {
    let emu = start(config(MIB)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("plan.txt");
    std::fs::write(&file, b"planned content").expect("write");

    // A new name: an upload, and nothing written.
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "-n"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("would upload"), "{stdout}");
    assert!(stdout.contains("in folder 0"), "{stdout}");
    assert_eq!(writes(&emu), [0; 7], "a dry run writes nothing");
    assert_eq!(emu.tree("0").await.expect("root"), Default::default());

    // Uploaded for real, then planned again: the name is taken, with this content: skipped.
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "--json"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let uploaded: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = uploaded["id"].as_str().expect("id").to_string();
    let before = writes(&emu);

    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "--dry-run", "--json"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["action"], "skip", "{plan}");
    assert_eq!(plan["file_id"], id.as_str(), "{plan}");
    let reason = plan["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("the same content"), "{plan}");
    // With other content and --on-conflict fail: the conflict a real run would stop on (6).
    std::fs::write(&file, b"planned CONTENT").expect("rewrite");
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "-n", "--json", "--on-conflict", "fail"]);
    let out = run(cmd).await;
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["action"], "conflict", "{plan}");
    assert_eq!(plan["existing_id"], id.as_str(), "{plan}");
    assert_eq!(plan["same_content"], false, "{plan}");
    assert_eq!(plan["exit_code"], 6, "{plan}");
    // With the default policy, a new version of it; renaming, a free name.
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "-n", "--json"]);
    let out = run(cmd).await;
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["action"], "version", "{plan}");
    assert_eq!(plan["file_id"], id.as_str(), "{plan}");
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "-n", "--on-conflict", "rename"]);
    let out = run(cmd).await;
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("would upload") && stdout.contains(" (1)"),
        "{stdout}"
    );

    // A new version of it, with a stale etag: the 412 a real run would meet.
    std::fs::write(&file, b"other content").expect("rewrite");
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--version-of", &id, "-n", "--json"]);
    let out = run(cmd).await;
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["action"], "version", "{plan}");
    assert_eq!(plan["same_content"], false, "{plan}");
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--version-of", &id, "--if-match", "stale", "-n"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("not stale"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(writes(&emu), before, "dry runs wrote nothing");
    assert_stored(&emu, &id, b"planned content").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_of_a_tree_writes_nothing_and_prints_the_plan() {
    let emu = start(config(MIB)).await;
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("tree");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("a.txt"), b"a").expect("write");
    std::fs::write(dir.join("sub/b.txt"), b"b").expect("write");
    let mut cmd = put_to(&emu, &dir);
    cmd.args(["--folder", "0", "--dry-run"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("dry run, 2 files"), "{stdout}");
    assert!(stdout.contains("upload 2"), "{stdout}");
    assert_eq!(writes(&emu), [0; 7], "a dry run writes nothing");
    assert!(emu.tree_folders("0").unwrap_or_default().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_failure_has_its_exit_code() {
    let emu = start(config(MIB)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"hello").expect("write");

    // 2: an option that does not apply to a file, and one clap does not know.
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "--exclude", "*.tmp"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--exclude applies to a directory"));
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "--no-such-option"]);
    assert_eq!(run(cmd).await.status.code(), Some(2));

    // 3: a token Box refuses; the message says which variable to check.
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0"])
        .env("BOX_TOKEN", "wrong-token-VALUE");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("check BOX_TOKEN"), "{stderr}");
    assert!(!stderr.contains("wrong-token-VALUE"), "{stderr}");

    // 4: a folder Box does not have, told how to find an id.
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "999"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no folder 999"), "{stderr}");
    assert!(stderr.contains("web address"), "{stderr}");
    assert!(
        !stderr.contains("upload_file"),
        "no operation names: {stderr}"
    );

    // 6: the name is taken with other content and --on-conflict fail; the message names the
    // file, the hint the option that goes ahead.
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "--json"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let name = file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let original = std::fs::read(&file).expect("read");
    std::fs::write(&file, b"other content for exit 6").expect("rewrite");
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "--on-conflict", "fail"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("file {id}")), "{stderr}");
    assert!(stderr.contains(&name), "{stderr}");
    assert!(stderr.contains("--on-conflict version"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    std::fs::write(&file, original).expect("restore");
    // 6 too: a stale etag.
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--version-of", &id, "--if-match", "stale"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));

    // 5: Box answers 502 to everything; two retries, then exit 5 naming the host. With -v,
    // each retry with its reason and wait.
    emu.set_faults(FaultConfig {
        request_502: 1.0,
        ..FaultConfig::default()
    });
    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "0", "--name", "b.txt", "--retries", "2", "-v"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    // Two retries of the first call: the name's lookup of the conflict policy (Box's
    // preflight check, on the API host).
    assert!(stderr.matches("retrying in").count() >= 2, "{stderr}");
    assert!(stderr.contains("HTTP 502"), "{stderr}");
    assert!(stderr.contains(&emu.api_url()), "names the host: {stderr}");
    assert!(stderr.contains("gave up after 3 attempt(s)"), "{stderr}");

    // A directory too: the listing of its folder is retried, each retry said with -v.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).expect("mkdir");
    std::fs::write(tree.join("c.txt"), b"c").expect("write");
    let mut cmd = put_to(&emu, &tree);
    cmd.args(["--folder", "0", "--retries", "1", "-v"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("retrying in"), "{stderr}");
    assert!(stderr.contains("HTTP 502"), "{stderr}");
    emu.set_faults(FaultConfig::default());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_host_is_named_and_exits_5() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"hello").expect("write");
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(&file)
        .args(["--folder", "0", "--retries", "1", "--json"])
        .env("BOX_API_URL", format!("{base}/2.0"))
        .env("BOX_UPLOAD_URL", format!("{base}/api/2.0"))
        .env("BOX_TOKEN", "t");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("cannot reach {base}")), "{stderr}");
    assert!(stderr.contains("BOX_API_URL"), "{stderr}");
    // The first failure to connect is said at once, not after the retries.
    assert!(stderr.contains("retrying"), "{stderr}");
    // --json: the failure as JSON on stdout.
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["error"]["exit_code"], 5, "{json}");
    assert_eq!(json["error"]["kind"], "gave_up", "{json}");
    assert!(json["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains(&base)));

    // A directory: its folder listing finds no server; said at once, then exit 5.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).expect("mkdir");
    std::fs::write(tree.join("b.txt"), b"b").expect("write");
    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(&tree)
        .args(["--folder", "0", "--retries", "1"])
        .env("BOX_API_URL", format!("{base}/2.0"))
        .env("BOX_UPLOAD_URL", format!("{base}/api/2.0"))
        .env("BOX_TOKEN", "t");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot reach {base}/2.0 (connect failed); retrying"
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_failures_print_json_and_quiet_successes_print_nothing() {
    let emu = start(config(MIB)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.txt");
    std::fs::write(&file, b"hello").expect("write");

    let mut cmd = put_to(&emu, &file);
    cmd.args(["--folder", "999", "--json"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(4));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(json["error"]["status"], 404, "{json}");
    assert_eq!(json["error"]["code"], "not_found", "{json}");
    assert_eq!(json["error"]["exit_code"], 4, "{json}");
    assert!(json["error"]["hint"].is_string(), "{json}");

    // The URLs from the environment, -q: nothing on stdout or stderr, and the file is there.
    let mut cmd = box_upload();
    cmd.arg("put")
        .arg(&file)
        .args(["--folder", "0", "-q"])
        .env("BOX_API_URL", emu.api_url())
        .env("BOX_UPLOAD_URL", emu.upload_url())
        .env("BOX_TOKEN", emu.token());
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(emu.counters().files_created, 1);
    emu.shutdown().await;
}

#[test]
fn completions_and_the_man_page_come_from_the_same_definitions() {
    let out = box_upload()
        .args(["completions", "bash"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let script = text(&out.stdout);
    assert!(script.contains("complete -F"), "{script}");
    assert!(script.contains("--dry-run"), "{script}");
    let out = box_upload().arg("man").output().expect("run");
    assert!(out.status.success());
    assert!(text(&out.stdout).contains(".TH box-upload"));
}

#[test]
fn two_emulators_run_at_once_on_free_ports() {
    use std::io::{BufRead as _, BufReader};

    let mut children = Vec::new();
    let mut urls = Vec::new();
    // Each emulator makes its data directory under TMPDIR; SIGKILL leaves it behind, so it goes
    // where this test removes it.
    let scratch = tempfile::tempdir().expect("tempdir");
    for _ in 0..2 {
        let mut child = box_upload()
            .arg("emulator")
            .env("TMPDIR", scratch.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start");
        let stdout = child.stdout.take().expect("stdout");
        let first = BufReader::new(stdout).lines().next();
        children.push(child);
        let line = first.and_then(Result::ok).unwrap_or_default();
        urls.push(line);
    }
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    for line in &urls {
        assert!(
            line.starts_with("box emulator listening on http://127.0.0.1:"),
            "{urls:?}"
        );
    }
    assert_ne!(urls[0], urls[1], "two ports");
}

/// 7: the file grows while its parts are sent (each request slowed down so that the test can
/// change it in between); nothing is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_changed_mid_upload_exits_7() {
    let emu = start(config(MIB)).await;
    emu.set_faults(FaultConfig {
        latency_ms: 300,
        ..FaultConfig::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("growing.bin");
    std::fs::write(&file, test_data(6 * MIB, 11)).expect("write");
    let mut child = put(&emu, &file, &dir.path().join("growing.upload"), 1)
        .spawn()
        .expect("start");
    wait_for_parts(&emu, &mut child, 1, "the changed source").await;
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut grown = test_data(6 * MIB, 11);
    grown.extend_from_slice(b"more");
    std::fs::write(&file, grown).expect("rewrite");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("growing.bin"), "names the file: {stderr}");
    assert!(stderr.contains("changed"), "{stderr}");
    assert_eq!(emu.counters().sessions_committed, 0, "nothing committed");
    emu.set_faults(FaultConfig::default());
}
