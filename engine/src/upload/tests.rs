//! Engine tests against an in-memory fake of the API with fault injection. (The end-to-end tests
//! against box-emulator live in tests/e2e.)

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::calls::fake_answers::{answer, answer_with};
use super::calls::*;
use super::engine::Engine;
use super::progress::{CountedBody, ProgressEvent};
use super::{Concurrency, RetryPolicy, Upload, UploadConfig, UploadErrorKind};
use crate::digest::{Sha1Digest, Sha512Digest};

#[derive(Debug, Clone, PartialEq, Eq)]
struct FakeFile {
    id: String,
    size: u64,
    sha1: String,
    etag: String,
    name: String,
}

#[derive(Default)]
struct FakeSession {
    file_size: u64,
    target: Option<Target>,
    parts: BTreeMap<u64, (PartRecord, Bytes)>,
}

#[derive(Default)]
struct Faults {
    part_500_before_storing: u32,
    part_500_after_storing: u32,
    part_429: u32,
    commit_202: u32,
    commit_parts_mismatch: u32,
    direct_500_after_storing: u32,
    /// Fail every commit with 412 (stale etag).
    commit_412: bool,
    /// Offsets of parts whose next upload is answered 401 (an expired token), once each.
    part_401: std::collections::BTreeSet<u64>,
    /// Direct uploads answered 401 before storing.
    direct_401: u32,
    /// Direct uploads answered `409 name_temporarily_reserved` before storing.
    direct_409_reserved: u32,
    /// Commits answered `409 operation_blocked_temporary` before committing.
    commit_409_blocked: u32,
    /// Commits that store the file, then lose the answer (a broken connection).
    commit_drop_after_store: u32,
    /// Commits that store the file, then fail for good (as a crash after the commit would).
    commit_store_then_fatal: u32,
    /// `get_session` answers `410 upload_failed` (a broken session).
    session_upload_failed: bool,
    /// Direct uploads answered `500` without storing anything.
    direct_500_before_storing: u32,
    /// get-file-info calls answered `500` before answering.
    info_500: u32,
    /// Direct uploads where, before ours arrives, someone else stores a new version of the
    /// file (other content, a new etag); ours is then answered `500` without being stored.
    other_writer_then_500: u32,
    /// Plans asking about more parts than this are refused `413`.
    plan_max_parts: Option<usize>,
    /// Plans answered, then the answer lost (a broken connection).
    plan_lost: u32,
    /// Every plan refused `400` (a server without part reuse).
    plan_refused: bool,
    /// As Box's 10.18 SDKs read it: a commit whose every part is reused answers 202 for ever
    /// and makes no version (the file did not change).
    unchanged_202: bool,
}

#[derive(Default)]
struct Counters {
    lookups: u32,
    part_puts: u32,
    list_calls: u32,
    commits: u32,
    aborts: u32,
    creates: u32,
    /// New versions stored (direct or committed).
    versions: u32,
    /// get-file-info calls.
    infos: u32,
    /// The number of parts of each plan request answered.
    plan_batches: Vec<usize>,
    /// Plan requests, answered or not.
    plan_calls: u32,
    /// Parts stored that were sent with a `sha-512=` digest.
    sha512_puts: u32,
    /// The last commit's parts list.
    last_commit: Vec<CommitPart>,
}

#[derive(Default)]
struct FakeState {
    part_size: u64,
    sessions: HashMap<String, FakeSession>,
    files: HashMap<String, (String, Bytes)>,
    next_id: u32,
    faults: Faults,
    counters: Counters,
    /// What `can_refresh_credentials` answers.
    renewable_credentials: bool,
    /// The etag every existing file has: an `if_match` other than it is answered 412.
    etag: String,
    /// The dates the last commit or direct upload carried.
    last_dates: Option<Option<FileDates>>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

fn endpoints(id: &str) -> SessionEndpoints {
    SessionEndpoints {
        upload_part: format!("{id}|put"),
        commit: format!("{id}|commit"),
        abort: format!("{id}|abort"),
        list_parts: format!("{id}|list"),
        status: format!("{id}|status"),
        plan: format!("{id}|plan"),
    }
}

fn sid(url: &str) -> String {
    url.split('|').next().unwrap_or_default().to_string()
}

impl Fake {
    fn new(part_size: u64) -> Self {
        let fake = Fake::default();
        fake.with(|s| {
            s.part_size = part_size;
            s.etag = "2".into();
        });
        fake
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        let mut guard = self.0.lock().expect("fake state lock");
        f(&mut guard)
    }

    fn file(&self, id: &str) -> Option<Bytes> {
        self.with(|s| s.files.get(id).map(|(_, b)| b.clone()))
    }

    fn store_file(s: &mut FakeState, name: &str, data: Bytes) -> FakeFile {
        s.next_id += 1;
        let id = format!("F{}", s.next_id);
        s.files.insert(id.clone(), (name.to_string(), data));
        Fake::file_of(s, &id).expect("just stored")
    }

    /// Stores `data` as the new version of `file_id` (made if missing), renamed to `name` if
    /// given; the etag changes.
    fn store_version(
        s: &mut FakeState,
        file_id: &str,
        name: Option<&str>,
        data: Bytes,
    ) -> FakeFile {
        let name = name
            .map(str::to_owned)
            .or_else(|| s.files.get(file_id).map(|(n, _)| n.clone()))
            .unwrap_or_else(|| file_id.to_string());
        s.files.insert(file_id.to_string(), (name, data));
        s.counters.versions += 1;
        s.etag = (s.etag.parse::<u32>().unwrap_or(0) + 1).to_string();
        Fake::file_of(s, file_id).expect("just stored")
    }

    fn file_of(s: &FakeState, id: &str) -> Option<FakeFile> {
        let (name, data) = s.files.get(id)?;
        Some(FakeFile {
            id: id.to_string(),
            size: data.len() as u64,
            sha1: Sha1Digest::of(data).hex(),
            etag: s.etag.clone(),
            name: name.clone(),
        })
    }

    fn conflict_for(s: &FakeState, name: &str) -> Option<serde_json::Value> {
        s.files.iter().find(|(_, (n, _))| n == name).map(|(id, (_, data))| {
            serde_json::json!({"type": "file", "id": id, "sha1": Sha1Digest::of(data).hex(), "size": data.len()})
        })
    }
}

fn session_info(id: &str, part_size: u64, file_size: u64) -> SessionInfo {
    SessionInfo {
        id: id.to_string(),
        part_size,
        total_parts: Some(file_size.div_ceil(part_size)),
        expires_at: None,
        endpoints: endpoints(id),
    }
}

impl UploadCalls for Fake {
    type File = FakeFile;

    async fn create_session(
        &self,
        target: &Target,
        file_size: u64,
    ) -> Result<SessionInfo, CallError> {
        self.with(|s| {
            s.counters.creates += 1;
            s.next_id += 1;
            let id = format!("S{}", s.next_id);
            s.sessions.insert(
                id.clone(),
                FakeSession {
                    file_size,
                    target: Some(target.clone()),
                    parts: BTreeMap::new(),
                },
            );
            Ok(session_info(&id, s.part_size, file_size))
        })
    }

    async fn get_session(&self, status_url: &str) -> Result<SessionInfo, CallError> {
        let id = sid(status_url);
        self.with(|s| match s.sessions.get(&id) {
            Some(_) if s.faults.session_upload_failed => Err(answer(410, Some("upload_failed"))),
            Some(sess) => Ok(session_info(&id, s.part_size, sess.file_size)),
            None => Err(answer(404, Some("not_found"))),
        })
    }

    async fn upload_part(
        &self,
        url: &str,
        body: CountedBody,
        content_range: String,
        digest: String,
    ) -> Result<PartRecord, CallError> {
        let data = body
            .collect()
            .await
            .map_err(|e| CallError::new(CallErrorKind::Connection, e.to_string()))?;
        tokio::task::yield_now().await;
        let id = sid(url);
        self.with(|s| {
            s.counters.part_puts += 1;
            if s.faults.part_429 > 0 {
                s.faults.part_429 -= 1;
                return Err(answer_with(
                    429,
                    Some("rate_limit_exceeded"),
                    Some("0"),
                    None,
                ));
            }
            if s.faults.part_500_before_storing > 0 {
                s.faults.part_500_before_storing -= 1;
                return Err(answer(500, None));
            }
            let (first, rest) = content_range
                .trim_start_matches("bytes ")
                .split_once('-')
                .expect("range");
            let offset: u64 = first.parse().expect("offset");
            let _ = rest;
            if s.faults.part_401.remove(&offset) {
                return Err(answer(401, None));
            }
            let sha1 = Sha1Digest::of(&data);
            if digest.starts_with("sha-512=") {
                assert_eq!(
                    digest,
                    Sha512Digest::of(&data).header(),
                    "the part's SHA-512"
                );
                s.counters.sha512_puts += 1;
            } else {
                assert_eq!(digest, sha1.header(), "digest header is the part's SHA-1");
            }
            let part_size = s.part_size;
            let sess = s
                .sessions
                .get_mut(&id)
                .ok_or_else(|| answer(404, Some("not_found")))?;
            if let Some((existing, _)) = sess.parts.get(&offset) {
                return Err(answer_with(
                    416,
                    Some("range_overlaps_existing_part"),
                    None,
                    Some(serde_json::json!({ "conflicting_part": existing })),
                ));
            }
            let record = PartRecord {
                part_id: format!("P{}", offset / part_size),
                offset,
                size: data.len() as u64,
                sha1: sha1.hex().to_uppercase(),
            };
            sess.parts.insert(offset, (record.clone(), data));
            if s.faults.part_500_after_storing > 0 {
                s.faults.part_500_after_storing -= 1;
                return Err(answer(500, None));
            }
            Ok(record)
        })
    }

    async fn list_parts(&self, url: &str, offset: u64, limit: u64) -> Result<PartsPage, CallError> {
        let id = sid(url);
        self.with(|s| {
            s.counters.list_calls += 1;
            let sess = s
                .sessions
                .get(&id)
                .ok_or_else(|| answer(404, Some("not_found")))?;
            // Small pages, to exercise pagination.
            let limit = limit.min(2);
            let entries: Vec<PartRecord> = sess
                .parts
                .values()
                .map(|(r, _)| r.clone())
                .skip(offset as usize)
                .take(limit as usize)
                .collect();
            Ok(PartsPage {
                entries,
                total_count: Some(sess.parts.len() as u64),
            })
        })
    }

    async fn commit(
        &self,
        url: &str,
        parts: Vec<CommitPart>,
        digest: String,
        if_match: Option<String>,
        dates: Option<FileDates>,
    ) -> Result<CommitOutcome<FakeFile>, CallError> {
        let id = sid(url);
        self.with(|s| {
            s.counters.commits += 1;
            s.counters.last_commit = parts.clone();
            let with_sha512 = parts.iter().filter(|p| p.sha512.is_some()).count();
            assert!(
                with_sha512 == 0 || with_sha512 == parts.len(),
                "sha512 on every entry or on none"
            );
            if s.faults.unchanged_202 && parts.iter().all(|p| p.part_id.starts_with('H')) {
                return Ok(CommitOutcome::Pending {
                    retry_after: Some(Duration::from_millis(1)),
                });
            }
            s.last_dates = Some(dates);
            if s.faults.commit_412 || if_match.is_some_and(|e| e != s.etag) {
                return Err(answer(412, Some("precondition_failed")));
            }
            if s.faults.commit_409_blocked > 0 {
                s.faults.commit_409_blocked -= 1;
                return Err(answer(409, Some("operation_blocked_temporary")));
            }
            if s.faults.commit_202 > 0 {
                s.faults.commit_202 -= 1;
                return Ok(CommitOutcome::Pending {
                    retry_after: Some(Duration::from_millis(1)),
                });
            }
            if s.faults.commit_parts_mismatch > 0 {
                s.faults.commit_parts_mismatch -= 1;
                return Err(answer(400, Some("parts_mismatch")));
            }
            let sess = s
                .sessions
                .remove(&id)
                .ok_or_else(|| answer(404, Some("not_found")))?;
            let offsets: Vec<u64> = parts.iter().map(|p| p.offset).collect();
            let mut sorted = offsets.clone();
            sorted.sort_unstable();
            assert_eq!(offsets, sorted, "parts in offset order");
            let reused: Vec<&CommitPart> = parts
                .iter()
                .filter(|p| p.part_id.starts_with('H'))
                .collect();
            assert_eq!(
                parts.len(),
                sess.parts.len() + reused.len(),
                "every part listed"
            );
            let held = match &sess.target {
                Some(Target::NewVersion { file_id, .. }) => {
                    s.files.get(file_id).map(|f| f.1.clone())
                }
                _ => None,
            };
            let mut data = Vec::with_capacity(sess.file_size as usize);
            for p in &parts {
                match sess.parts.get(&p.offset) {
                    Some((record, bytes)) if record.part_id == p.part_id => {
                        assert!(p.sha1.is_some(), "a part sent is listed with its SHA-1");
                        data.extend_from_slice(bytes)
                    }
                    _ => {
                        assert_eq!(p.part_id, format!("H{}", p.offset), "a reused part's id");
                        assert_eq!(p.sha1, None, "a reused part is listed by id alone");
                        let held = held.as_ref().expect("a version's parts to reuse");
                        let end = (p.offset + p.size) as usize;
                        data.extend_from_slice(&held[p.offset as usize..end]);
                    }
                }
            }
            assert_eq!(digest, Sha1Digest::of(&data).header(), "whole-file digest");
            let name = match sess.target {
                Some(Target::NewFile { name, .. }) => name,
                Some(Target::NewVersion { file_id, name }) => {
                    let file = Fake::store_version(s, &file_id, name.as_deref(), Bytes::from(data));
                    if s.faults.commit_drop_after_store > 0 {
                        s.faults.commit_drop_after_store -= 1;
                        return Err(CallError::new(CallErrorKind::Connection, "reset"));
                    }
                    return Ok(CommitOutcome::Committed(file));
                }
                None => "file".into(),
            };
            if let Some(conflict) = Fake::conflict_for(s, &name) {
                return Err(answer_with(
                    409,
                    Some("item_name_in_use"),
                    None,
                    Some(serde_json::json!({ "conflicts": conflict })),
                ));
            }
            let file = Fake::store_file(s, &name, Bytes::from(data));
            if s.faults.commit_drop_after_store > 0 {
                s.faults.commit_drop_after_store -= 1;
                return Err(CallError::new(CallErrorKind::Connection, "reset"));
            }
            if s.faults.commit_store_then_fatal > 0 {
                s.faults.commit_store_then_fatal -= 1;
                return Err(answer(400, Some("crashed")));
            }
            Ok(CommitOutcome::Committed(file))
        })
    }

    async fn plan(&self, url: &str, parts: Vec<PlanEntry>) -> Result<Vec<PlanEntry>, CallError> {
        let id = sid(url);
        self.with(|s| {
            s.counters.plan_calls += 1;
            if s.faults.plan_refused {
                return Err(answer(400, Some("bad_request")));
            }
            if s.faults.plan_max_parts.is_some_and(|max| parts.len() > max) {
                return Err(answer(413, Some("request_entity_too_large")));
            }
            let sess = s
                .sessions
                .get(&id)
                .ok_or_else(|| answer(404, Some("not_found")))?;
            let held = match &sess.target {
                Some(Target::NewVersion { file_id, .. }) => {
                    s.files.get(file_id).map(|f| f.1.clone())
                }
                _ => None,
            };
            // A hit: the file's content holds the same bytes at the same place.
            let answered = parts
                .into_iter()
                .map(|mut p| {
                    let end = (p.offset + p.size) as usize;
                    let same = held.as_ref().is_some_and(|h| {
                        h.len() >= end
                            && Sha512Digest::of(&h[p.offset as usize..end]).hex() == p.sha512
                    });
                    p.part_id = same.then(|| format!("H{}", p.offset));
                    p
                })
                .collect::<Vec<_>>();
            s.counters.plan_batches.push(answered.len());
            if s.faults.plan_lost > 0 {
                s.faults.plan_lost -= 1;
                return Err(CallError::new(CallErrorKind::Connection, "reset"));
            }
            Ok(answered)
        })
    }

    async fn abort(&self, url: &str) -> Result<(), CallError> {
        let id = sid(url);
        self.with(|s| {
            s.counters.aborts += 1;
            s.sessions.remove(&id);
            Ok(())
        })
    }

    async fn upload_direct(
        &self,
        target: &Target,
        body: CountedBody,
        sha1: Sha1Digest,
        if_match: Option<String>,
        dates: Option<FileDates>,
    ) -> Result<FakeFile, CallError> {
        let data = body
            .collect()
            .await
            .map_err(|e| CallError::new(CallErrorKind::Connection, e.to_string()))?;
        assert_eq!(sha1, Sha1Digest::of(&data));
        self.with(|s| {
            s.last_dates = Some(dates);
            if s.faults.direct_401 > 0 {
                s.faults.direct_401 -= 1;
                return Err(answer(401, None));
            }
            if s.faults.direct_500_before_storing > 0 {
                s.faults.direct_500_before_storing -= 1;
                return Err(answer(500, None));
            }
            if let (Target::NewVersion { file_id, .. }, true) =
                (target, s.faults.other_writer_then_500 > 0)
            {
                s.faults.other_writer_then_500 -= 1;
                Fake::store_version(s, file_id, None, Bytes::from_static(b"someone else's"));
                return Err(answer(500, None));
            }
            if if_match.is_some_and(|e| e != s.etag) {
                return Err(answer(412, Some("precondition_failed")));
            }
            if s.faults.direct_409_reserved > 0 {
                s.faults.direct_409_reserved -= 1;
                return Err(answer(409, Some("name_temporarily_reserved")));
            }
            let file = match target {
                Target::NewFile { name, .. } => {
                    if let Some(conflict) = Fake::conflict_for(s, name) {
                        return Err(answer_with(
                            409,
                            Some("item_name_in_use"),
                            None,
                            Some(serde_json::json!({ "conflicts": conflict })),
                        ));
                    }
                    Fake::store_file(s, name, data)
                }
                Target::NewVersion { file_id, name } => {
                    Fake::store_version(s, file_id, name.as_deref(), data)
                }
            };
            if s.faults.direct_500_after_storing > 0 {
                s.faults.direct_500_after_storing -= 1;
                return Err(answer(503, Some("unavailable")));
            }
            Ok(file)
        })
    }

    async fn existing_item(
        &self,
        target: &Target,
        _size: u64,
    ) -> Result<Option<serde_json::Value>, CallError> {
        let Target::NewFile { name, .. } = target else {
            return Ok(None);
        };
        self.with(|s| {
            s.counters.lookups += 1;
            Ok(Fake::conflict_for(s, name))
        })
    }

    async fn file_info(&self, file_id: &str) -> Result<FakeFile, CallError> {
        self.with(|s| {
            s.counters.infos += 1;
            if s.faults.info_500 > 0 {
                s.faults.info_500 -= 1;
                return Err(answer(500, None));
            }
            Fake::file_of(s, file_id).ok_or_else(|| answer(404, Some("not_found")))
        })
    }

    fn file_facts(file: &FakeFile) -> FileFacts {
        FileFacts {
            id: file.id.clone(),
            size: Some(file.size),
            sha1: Some(file.sha1.clone()),
            etag: Some(file.etag.clone()),
            name: Some(file.name.clone()),
        }
    }

    fn file_from_conflict(conflict: &serde_json::Value, _size: u64) -> Option<FakeFile> {
        Some(FakeFile {
            id: conflict.get("id")?.as_str()?.to_string(),
            size: conflict.get("size")?.as_u64()?,
            sha1: conflict.get("sha1")?.as_str()?.to_string(),
            etag: String::new(),
            name: String::new(),
        })
    }

    fn can_refresh_credentials(&self) -> bool {
        self.with(|s| s.renewable_credentials)
    }
}

fn engine(fake: &Fake) -> Engine<Fake> {
    let config = UploadConfig {
        chunked_cutoff: 1000,
        min_chunked_size: 1,
        concurrency: Concurrency::Fixed(3),
        retry: RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            deadline: Duration::from_secs(30),
        },
        parts_mismatch_max_wait: Duration::from_millis(5),
        ..UploadConfig::default()
    };
    Engine::new(fake.clone(), config)
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) % 253) as u8).collect()
}

mod reuse;

#[tokio::test]
async fn chunked_upload_stores_exact_bytes_for_awkward_sizes() {
    for len in [1001usize, 1024, 3 * 1024, 3 * 1024 + 1, 10_000] {
        let fake = Fake::new(1024);
        let content = data(len);
        let file = engine(&fake)
            .start(Upload::new_file("0", format!("f{len}")).from_bytes(content.clone()))
            .join()
            .await
            .expect("uploads");
        assert_eq!(
            fake.file(&file.id).as_deref(),
            Some(&content[..]),
            "len {len}"
        );
    }
}

#[tokio::test]
async fn small_and_empty_files_go_direct() {
    for len in [0usize, 1, 1000] {
        let fake = Fake::new(1024);
        let content = data(len);
        let file = engine(&fake)
            .start(Upload::new_file("0", format!("d{len}")).from_bytes(content.clone()))
            .join()
            .await
            .expect("uploads");
        assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
        assert_eq!(
            fake.with(|s| s.counters.creates),
            0,
            "no session below the cutoff"
        );
    }
}

#[tokio::test]
async fn ambiguous_part_failure_is_checked_in_list_parts_not_resent() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.part_500_after_storing = 2);
    let content = data(5 * 1024);
    let handle = engine(&fake).start(Upload::new_file("0", "a").from_bytes(content.clone()));
    let progress = handle.progress();
    let file = handle.join().await.expect("uploads");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    assert_eq!(fake.with(|s| s.counters.part_puts), 5, "no part sent twice");
    assert!(fake.with(|s| s.counters.list_calls) >= 2);
    assert_eq!(progress.borrow().retries, 2);
}

#[tokio::test]
async fn transient_faults_are_retried_and_commit_waits_out_202_and_parts_mismatch() {
    let fake = Fake::new(1024);
    fake.with(|s| {
        s.faults.part_500_before_storing = 2;
        s.faults.part_429 = 2;
        s.faults.commit_202 = 5;
        s.faults.commit_parts_mismatch = 1;
    });
    let content = data(4 * 1024 + 7);
    let handle = engine(&fake).start(Upload::new_file("0", "b").from_bytes(content.clone()));
    let mut events = handle.events();
    let file = handle.join().await.expect("uploads");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    let mut pending = 0;
    let mut retries = 0;
    while let Ok(e) = events.try_recv() {
        match e {
            ProgressEvent::CommitPending { .. } => pending += 1,
            ProgressEvent::Retry { .. } => retries += 1,
            _ => {}
        }
    }
    assert_eq!(pending, 5);
    assert_eq!(retries, 5, "2 x 500, 2 x 429, 1 x parts_mismatch");
}

#[tokio::test]
async fn parts_answered_401_are_sent_again_when_the_token_was_renewed() {
    let fake = Fake::new(1024);
    // Every part in flight (3) meets the expired token once; the retry budget is 5 attempts,
    // so 401 retries must not spend it either.
    fake.with(|s| {
        s.renewable_credentials = true;
        s.faults.part_401 = [0, 1024, 2048].into();
    });
    let content = data(6 * 1024);
    let file = engine(&fake)
        .start(Upload::new_file("0", "p401").from_bytes(content.clone()))
        .join()
        .await
        .expect("uploads");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    assert_eq!(fake.with(|s| s.counters.part_puts), 6 + 3);
    assert_eq!(fake.with(|s| s.counters.aborts), 0);
}

#[tokio::test]
async fn a_direct_upload_answered_401_is_sent_again_from_its_bytes() {
    let fake = Fake::new(1024);
    fake.with(|s| {
        s.renewable_credentials = true;
        s.faults.direct_401 = 1;
    });
    let content = data(700);
    let file = engine(&fake)
        .start(Upload::new_file("0", "d401").from_bytes(content.clone()))
        .join()
        .await
        .expect("uploads");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
}

#[tokio::test]
async fn a_401_with_credentials_that_cannot_renew_fails_at_once() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.part_401 = [1024].into());
    let err = engine(&fake)
        .start(Upload::new_file("0", "fixed").from_bytes(data(3 * 1024)))
        .join()
        .await
        .expect_err("a fixed token was refused");
    assert_eq!(err.status(), Some(401));
    assert!(
        matches!(err.kind(), UploadErrorKind::Api { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(
        fake.with(|s| s.counters.aborts),
        1,
        "the session is discarded"
    );
}

#[tokio::test]
async fn wrong_source_length_fails_and_aborts_the_session() {
    let fake = Fake::new(1024);
    let err = engine(&fake)
        .start(Upload::new_file("0", "short").from_reader(std::io::Cursor::new(data(3000)), 4000))
        .join()
        .await
        .expect_err("short source");
    assert_eq!(
        err.kind(),
        &UploadErrorKind::SourceTooShort {
            declared: 4000,
            got: 3000,
        },
        "{err}"
    );
    assert!(err.session_id().is_some());
    assert_eq!(
        fake.with(|s| (s.files.len(), s.counters.aborts, s.sessions.len())),
        (0, 1, 0)
    );

    let err = engine(&fake)
        .start(Upload::new_file("0", "long").from_reader(std::io::Cursor::new(data(4001)), 4000))
        .join()
        .await
        .expect_err("long source");
    assert!(
        matches!(err.kind(), UploadErrorKind::SourceTooLong { .. }),
        "{err}"
    );
    let err = engine(&fake)
        .start(Upload::new_file("0", "long-direct").from_reader(std::io::Cursor::new(data(11)), 10))
        .join()
        .await
        .expect_err("long direct source");
    assert!(
        matches!(err.kind(), UploadErrorKind::SourceTooLong { .. }),
        "{err}"
    );
    assert_eq!(fake.with(|s| s.files.len()), 0, "nothing committed");
}

#[tokio::test]
async fn stale_etag_fails_with_412_and_no_file() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.commit_412 = true);
    let err = engine(&fake)
        .start(
            Upload::new_version("F9")
                .if_match("1")
                .from_bytes(data(3000)),
        )
        .join()
        .await
        .expect_err("412");
    assert!(err.is_precondition_failed(), "{err}");
    assert_eq!(fake.with(|s| s.counters.commits), 1, "412 is not retried");
}

#[tokio::test]
async fn direct_upload_answered_5xx_after_storing_is_recognised_by_sha1() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.direct_500_after_storing = 1);
    let content = data(500);
    let file = engine(&fake)
        .start(Upload::new_file("0", "same").from_bytes(content.clone()))
        .join()
        .await
        .expect("uploads");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    assert_eq!(fake.with(|s| s.files.len()), 1);

    // Without an earlier ambiguous failure, a name clash stays an error even with equal content.
    let err = engine(&fake)
        .start(Upload::new_file("0", "same").from_bytes(content))
        .join()
        .await
        .expect_err("name in use");
    assert_eq!(err.code(), Some("item_name_in_use"));
}

#[tokio::test]
async fn resume_uploads_only_missing_parts_and_refuses_a_changed_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("src.bin");
    let state = dir.path().join("state.json");
    let content = data(6 * 1024);
    std::fs::write(&path, &content).expect("write");
    let fake = Fake::new(1024);

    // First run: fail for good after some parts (a 400 on part puts is fatal).
    fake.with(|s| s.faults.part_500_before_storing = 0);
    let eng = engine(&fake);
    // Simulate an interrupted upload: create a session and store 3 parts by hand.
    let session = fake
        .create_session(
            &Target::NewFile {
                folder_id: "0".into(),
                name: "r".into(),
            },
            6 * 1024,
        )
        .await
        .expect("session");
    for i in 0..3u64 {
        let part = Bytes::copy_from_slice(&content[(i * 1024) as usize..((i + 1) * 1024) as usize]);
        let sha = Sha1Digest::of(&part);
        let body = CountedBody::new(part, None, Arc::default());
        fake.upload_part(
            &session.endpoints.upload_part,
            body,
            format!("bytes {}-{}/6144", i * 1024, i * 1024 + 1023),
            sha.header(),
        )
        .await
        .expect("part");
    }
    let meta = std::fs::metadata(&path).expect("meta");
    let st = super::resume::UploadState {
        version: super::resume::FORMAT_VERSION,
        target: Target::NewFile {
            folder_id: "0".into(),
            name: "r".into(),
        },
        session_id: session.id.clone(),
        endpoints: session.endpoints.clone(),
        part_size: 1024,
        file_size: 6 * 1024,
        session_expires_at: None,
        source: Some(super::identity::SourceIdentity::from_metadata(&path, &meta)),
        parts: vec![],
        plan: vec![],
        sha1: None,
    };
    super::resume::save(&state, &st).expect("state");
    let puts_before = fake.with(|s| s.counters.part_puts);
    let file = eng
        .start(
            Upload::new_file("0", "r")
                .from_path(&path)
                .state_file(&state),
        )
        .join()
        .await
        .expect("resumes");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    assert_eq!(
        fake.with(|s| s.counters.part_puts) - puts_before,
        3,
        "only the 3 missing parts"
    );
    assert!(!state.exists(), "state file removed after commit");

    // A changed source is refused.
    super::resume::save(&state, &st).expect("state");
    std::fs::write(&path, data(6 * 1024 + 1)).expect("rewrite");
    let err = eng
        .start(
            Upload::new_file("0", "r")
                .from_path(&path)
                .state_file(&state),
        )
        .join()
        .await
        .expect_err("changed");
    assert!(
        matches!(err.kind(), UploadErrorKind::SourceChanged { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn abort_discards_the_session() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.commit_202 = 1_000_000);
    let handle = engine(&fake).start(
        Upload::new_file("0", "x")
            .from_bytes(data(4096))
            .commit_deadline(Duration::from_secs(60))
            .retry_policy(RetryPolicy::default()),
    );
    let mut progress = handle.progress();
    let _ = progress.wait_for(|p| p.commit_waits > 2).await;
    let outcome = handle.abort().await.expect("aborts");
    assert!(outcome.is_none());
    assert_eq!(
        fake.with(|s| (s.counters.aborts, s.sessions.len(), s.files.len())),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn commit_retries_on_202_until_its_deadline_then_fails_with_the_session() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.commit_202 = u32::MAX);
    let handle = engine(&fake).start(
        Upload::new_file("0", "slow")
            .from_bytes(data(3000))
            .commit_deadline(Duration::from_millis(300)),
    );
    let progress = handle.progress();
    let err = handle.join().await.expect_err("deadline");
    match err.kind() {
        UploadErrorKind::CommitTimeout { pending, .. } => {
            assert!(*pending >= 2, "waited out several 202s");
            assert!(err.session_id().is_some_and(|id| !id.is_empty()));
        }
        _ => panic!("expected CommitTimeout, got {err}"),
    }
    assert!(progress.borrow().commit_waits >= 2);
    assert_eq!(fake.with(|s| (s.files.len(), s.counters.aborts)), (0, 1));
}

#[tokio::test]
async fn temporary_409s_are_waited_out_on_direct_and_commit() {
    let fake = Fake::new(1024);
    fake.with(|s| {
        s.faults.direct_409_reserved = 2;
        s.faults.commit_409_blocked = 2;
    });
    let direct = engine(&fake)
        .start(Upload::new_file("0", "d").from_bytes(data(500)))
        .join()
        .await
        .expect("name_temporarily_reserved is waited out");
    assert_eq!(fake.file(&direct.id).as_deref(), Some(&data(500)[..]));
    let chunked = engine(&fake)
        .start(Upload::new_file("0", "c").from_bytes(data(3000)))
        .join()
        .await
        .expect("operation_blocked_temporary is waited out");
    assert_eq!(fake.file(&chunked.id).as_deref(), Some(&data(3000)[..]));
    assert_eq!(fake.with(|s| s.counters.commits), 3);
}

#[tokio::test]
async fn temporary_409s_stay_inside_the_retry_budget() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.direct_409_reserved = 100);
    let err = engine(&fake)
        .start(Upload::new_file("0", "d").from_bytes(data(500)))
        .join()
        .await
        .expect_err("the budget is 5 attempts");
    assert_eq!(err.code(), Some("name_temporarily_reserved"));
    assert_eq!(fake.with(|s| s.faults.direct_409_reserved), 95);
}

#[tokio::test]
async fn a_commit_whose_answer_was_lost_is_found_by_the_session_status_and_the_name() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.commit_drop_after_store = 1);
    let content = data(3000);
    let file = engine(&fake)
        .start(Upload::new_file("0", "lost").from_bytes(content.clone()))
        .join()
        .await
        .expect("the stored file is the upload's");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    assert_eq!(
        fake.with(|s| (s.files.len(), s.counters.commits, s.counters.lookups)),
        (1, 1, 1),
        "found by name and SHA-1, not committed again"
    );
}

#[tokio::test]
async fn a_direct_upload_whose_last_answer_was_lost_is_looked_up_before_giving_up() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.direct_500_after_storing = 1);
    let content = data(500);
    let file = engine(&fake)
        .start(
            Upload::new_file("0", "once")
                .from_bytes(content.clone())
                .retry_policy(RetryPolicy::none()),
        )
        .join()
        .await
        .expect("found although no attempt is left");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    assert_eq!(fake.with(|s| s.files.len()), 1);
}

/// A fake holding file `F9` ("v.bin", etag "2").
fn fake_with_f9() -> Fake {
    let fake = Fake::new(1024);
    fake.with(|s| {
        s.files.insert(
            "F9".into(),
            ("v.bin".into(), Bytes::from_static(b"old content")),
        )
    });
    fake
}

#[tokio::test]
async fn a_new_version_whose_answer_was_lost_is_found_by_get_file_info_not_sent_again() {
    // Direct (500 after storing) and chunked (commit dropped after storing), with and without
    // if_match: the retry must neither answer 412 (our own write changed the etag) nor store a
    // second version.
    for (len, if_match) in [(500usize, true), (500, false), (3000, true), (3000, false)] {
        let fake = fake_with_f9();
        fake.with(|s| {
            s.faults.direct_500_after_storing = 1;
            s.faults.commit_drop_after_store = 1;
        });
        let content = data(len);
        let mut upload = Upload::new_version("F9").from_bytes(content.clone());
        if if_match {
            upload = upload.if_match("2");
        }
        let file = engine(&fake)
            .start(upload)
            .join()
            .await
            .unwrap_or_else(|e| panic!("len {len}, if_match {if_match}: {e}"));
        assert_eq!(file.id, "F9");
        assert_eq!(file.sha1, Sha1Digest::of(&content).hex());
        assert_eq!(fake.file("F9").as_deref(), Some(&content[..]));
        assert_eq!(
            fake.with(|s| s.counters.versions),
            1,
            "len {len}, if_match {if_match}: one version"
        );
        assert!(fake.with(|s| s.counters.infos) >= 1);
    }
}

#[tokio::test]
async fn a_412_after_a_lost_answer_is_success_when_the_file_holds_our_version() {
    // The look before the retry fails (get-file-info answers 500 until the upload's retries
    // are spent), so the retry is sent and answered 412: our lost write changed the etag.
    for len in [500usize, 3000] {
        let fake = fake_with_f9();
        fake.with(|s| {
            s.faults.direct_500_after_storing = 1;
            s.faults.commit_drop_after_store = 1;
            s.faults.info_500 = 5;
        });
        let content = data(len);
        let file = engine(&fake)
            .start(
                Upload::new_version("F9")
                    .if_match("2")
                    .from_bytes(content.clone()),
            )
            .join()
            .await
            .unwrap_or_else(|e| panic!("len {len}: {e}"));
        assert_eq!(file.sha1, Sha1Digest::of(&content).hex(), "len {len}");
        assert_eq!(fake.with(|s| s.counters.versions), 1, "len {len}");
    }
}

#[tokio::test]
async fn a_412_after_a_lost_answer_stays_a_412_when_someone_else_changed_the_file() {
    let fake = fake_with_f9();
    fake.with(|s| s.faults.other_writer_then_500 = 1);
    let err = engine(&fake)
        .start(
            Upload::new_version("F9")
                .if_match("2")
                .from_bytes(data(500)),
        )
        .join()
        .await
        .expect_err("someone else's version is not ours");
    assert!(err.is_precondition_failed(), "{err}");
    assert_eq!(fake.file("F9").as_deref(), Some(&b"someone else's"[..]));
    assert!(
        fake.with(|s| s.counters.infos) >= 1,
        "looked before giving up"
    );
}

#[tokio::test]
async fn a_version_renamed_elsewhere_is_not_taken_for_ours() {
    // The first answer is lost (nothing was stored), and the file already holds our content
    // under another name than the one our upload gives it: not our write (which would have
    // renamed it), so the upload is sent again.
    let content = data(500);
    let fake = fake_with_f9();
    fake.with(|s| {
        s.files
            .insert("F9".into(), ("v.bin".into(), Bytes::from(content.clone())));
        s.faults.direct_500_before_storing = 1;
    });
    let file = engine(&fake)
        .start(
            Upload::new_version("F9")
                .rename("w.bin")
                .from_bytes(content.clone()),
        )
        .join()
        .await
        .expect("uploads");
    assert_eq!(file.name, "w.bin");
    assert_eq!(
        fake.with(|s| (s.counters.versions, s.counters.infos)),
        (1, 1)
    );
}

#[tokio::test]
async fn a_new_file_found_by_its_conflict_is_read_whole_with_get_file_info() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.direct_500_after_storing = 1);
    let content = data(500);
    let file = engine(&fake)
        .start(Upload::new_file("0", "whole").from_bytes(content.clone()))
        .join()
        .await
        .expect("uploads");
    assert_eq!(file.name, "whole", "the file as get-file-info gives it");
    assert_eq!(fake.with(|s| (s.files.len(), s.counters.infos)), (1, 1));

    // Without get-file-info, the conflict itself.
    let fake = Fake::new(1024);
    fake.with(|s| {
        s.faults.direct_500_after_storing = 1;
        s.faults.info_500 = 5;
    });
    let file = engine(&fake)
        .start(Upload::new_file("0", "whole").from_bytes(content.clone()))
        .join()
        .await
        .expect("uploads");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    assert_eq!(fake.with(|s| s.files.len()), 1);
}

#[tokio::test]
async fn parts_mismatch_is_retried_patiently_and_the_patience_is_configurable() {
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.commit_parts_mismatch = 12);
    engine(&fake)
        .start(Upload::new_file("0", "pm").from_bytes(data(3000)))
        .join()
        .await
        .expect("12 parts_mismatch answers are waited out");
    assert_eq!(fake.with(|s| s.counters.commits), 13);

    let fake = Fake::new(1024);
    fake.with(|s| s.faults.commit_parts_mismatch = 3);
    let config = UploadConfig {
        parts_mismatch_retries: 2,
        ..engine(&fake).config.as_ref().clone()
    };
    let err = Engine::new(fake.clone(), config)
        .start(Upload::new_file("0", "pm").from_bytes(data(3000)))
        .join()
        .await
        .expect_err("only 2 tolerated");
    assert_eq!(err.code(), Some("parts_mismatch"));
    assert_eq!(fake.with(|s| s.counters.commits), 3);
}

#[tokio::test]
async fn file_dates_go_with_direct_and_chunked_uploads_unless_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mtime = std::time::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let expected: chrono::DateTime<chrono::FixedOffset> =
        chrono::DateTime::<chrono::Utc>::from(mtime).fixed_offset();
    for len in [500usize, 3000] {
        let path = dir.path().join(format!("dated{len}"));
        std::fs::write(&path, data(len)).expect("write");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(mtime))
            .expect("set mtime");
        let fake = Fake::new(1024);
        engine(&fake)
            .start(Upload::new_file("0", "a").from_path(&path))
            .join()
            .await
            .expect("uploads");
        let sent = fake.with(|s| s.last_dates).expect("called").expect("dates");
        assert_eq!(sent.modified, Some(expected), "len {len}");
        let created = std::fs::metadata(&path).and_then(|m| m.created()).ok();
        assert_eq!(sent.created.is_some(), created.is_some(), "len {len}");

        // A new version carries no creation time.
        engine(&fake)
            .start(Upload::new_version("F9").from_path(&path))
            .join()
            .await
            .expect("uploads");
        let sent = fake.with(|s| s.last_dates).expect("called").expect("dates");
        assert_eq!((sent.modified, sent.created), (Some(expected), None));

        engine(&fake)
            .start(
                Upload::new_file("0", "b")
                    .from_path(&path)
                    .preserve_dates(false),
            )
            .join()
            .await
            .expect("uploads");
        assert_eq!(fake.with(|s| s.last_dates), Some(None), "turned off");
        engine(&fake)
            .start(Upload::new_file("0", "c").from_bytes(data(len)))
            .join()
            .await
            .expect("uploads");
        assert_eq!(
            fake.with(|s| s.last_dates),
            Some(None),
            "bytes have no dates"
        );
    }
}

#[tokio::test]
async fn if_match_is_answered_alike_on_direct_and_chunked_uploads() {
    for len in [500usize, 3000] {
        let fake = Fake::new(1024);
        let err = engine(&fake)
            .start(
                Upload::new_version("F9")
                    .if_match("1")
                    .from_bytes(data(len)),
            )
            .join()
            .await
            .expect_err("stale etag");
        assert!(err.is_precondition_failed(), "len {len}: {err}");
        assert_eq!(err.code(), Some("precondition_failed"), "len {len}");
        assert!(fake.with(|s| s.files.is_empty()), "len {len}");

        engine(&fake)
            .start(
                Upload::new_version("F9")
                    .if_match("2")
                    .from_bytes(data(len)),
            )
            .join()
            .await
            .expect("current etag");

        // The public builder has no `if_match` for a new file (a compile_fail doctest on
        // `Upload` shows it); the engine refuses one all the same.
        let mut upload = Upload::new_file("0", "n").from_bytes(data(len));
        upload.if_match = Some("2".into());
        let err = engine(&fake)
            .start(upload)
            .join()
            .await
            .expect_err("no etag for a new file");
        assert!(
            matches!(err.kind(), UploadErrorKind::InvalidInput { .. }),
            "len {len}: {err}"
        );
    }
}

/// A state file for `content` at `path`, naming `session` with no parts.
fn state_for(
    path: &std::path::Path,
    session: &SessionInfo,
    name: &str,
) -> super::resume::UploadState {
    let meta = std::fs::metadata(path).expect("meta");
    super::resume::UploadState {
        version: super::resume::FORMAT_VERSION,
        target: Target::NewFile {
            folder_id: "0".into(),
            name: name.into(),
        },
        session_id: session.id.clone(),
        endpoints: session.endpoints.clone(),
        part_size: session.part_size,
        file_size: meta.len(),
        session_expires_at: None,
        source: Some(super::identity::SourceIdentity::from_metadata(path, &meta)),
        parts: vec![],
        plan: vec![],
        sha1: None,
    }
}

#[tokio::test]
async fn a_broken_session_is_restarted_and_a_restart_aborts_the_old_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("src.bin");
    let state = dir.path().join("state.json");
    let content = data(3000);
    std::fs::write(&path, &content).expect("write");
    let target = Target::NewFile {
        folder_id: "0".into(),
        name: "r".into(),
    };

    // 410 upload_failed: a new session.
    let fake = Fake::new(1024);
    let old = fake.create_session(&target, 3000).await.expect("session");
    super::resume::save(&state, &state_for(&path, &old, "r")).expect("state");
    fake.with(|s| s.faults.session_upload_failed = true);
    let file = engine(&fake)
        .start(
            Upload::new_file("0", "r")
                .from_path(&path)
                .state_file(&state),
        )
        .join()
        .await
        .expect("a new session");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    assert_eq!(fake.with(|s| s.counters.creates), 2);

    // A session that cannot be resumed (another part size) is aborted before the new one.
    let fake = Fake::new(1024);
    let old = fake.create_session(&target, 3000).await.expect("session");
    super::resume::save(&state, &state_for(&path, &old, "r")).expect("state");
    fake.with(|s| s.part_size = 2048);
    let file = engine(&fake)
        .start(
            Upload::new_file("0", "r")
                .from_path(&path)
                .state_file(&state),
        )
        .join()
        .await
        .expect("a new session");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    assert_eq!(
        fake.with(|s| (s.counters.creates, s.counters.aborts, s.sessions.len())),
        (2, 1, 0),
        "the old session aborted"
    );
}

#[tokio::test]
async fn a_crash_after_the_commit_is_recovered_by_the_recorded_sha1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("src.bin");
    let state = dir.path().join("state.json");
    let content = data(3000);
    std::fs::write(&path, &content).expect("write");
    let fake = Fake::new(1024);
    fake.with(|s| s.faults.commit_store_then_fatal = 1);
    let upload = || {
        Upload::new_file("0", "c")
            .from_path(&path)
            .state_file(&state)
    };
    engine(&fake)
        .start(upload())
        .join()
        .await
        .expect_err("the commit's answer is an error although the file is stored");
    assert!(state.exists(), "the state file is kept");
    let recorded = super::resume::load(&state).expect("loads").expect("state");
    assert_eq!(recorded.sha1, Some(Sha1Digest::of(&content).hex()));

    let file = engine(&fake)
        .start(upload())
        .join()
        .await
        .expect("the committed file");
    assert_eq!(fake.file(&file.id).as_deref(), Some(&content[..]));
    assert_eq!(
        fake.with(|s| (s.files.len(), s.counters.creates)),
        (1, 1),
        "no new session"
    );
    assert!(!state.exists(), "state file removed");
}
