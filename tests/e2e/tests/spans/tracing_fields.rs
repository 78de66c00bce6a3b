//! The engine's `tracing` output as a service's subscriber sees it: a chunked upload, one of
//! whose part sends is answered 500, logs under an `upload` span naming the file and (once
//! opened) the session, with a `part` span per part carrying its offset, and the retry as an
//! event with separate `operation`, `attempt` and `reason` fields inside a part's span; the
//! token appears in no field.
//!
//! The subscriber is built on tracing's own `Subscriber` trait (no tracing-subscriber), set as
//! this thread's default: the test runs on a current-thread runtime, so the upload's tasks log
//! through it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::common::*;
use box_uploads::upload::Upload;

/// A span as recorded: its name, its fields (recorded later ones appended) and its parent.
#[derive(Debug, Clone)]
struct SpanRec {
    name: String,
    metadata: &'static Metadata<'static>,
    fields: Vec<(String, String)>,
    parent: Option<u64>,
}

impl SpanRec {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An event as recorded: its fields and the span it was logged in.
#[derive(Debug, Clone)]
struct EventRec {
    fields: Vec<(String, String)>,
    span: Option<u64>,
}

impl EventRec {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Log {
    spans: HashMap<u64, SpanRec>,
    events: Vec<EventRec>,
}

#[derive(Clone, Default)]
struct Capture {
    log: Arc<Mutex<Log>>,
    next: Arc<AtomicU64>,
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn current() -> Option<u64> {
    STACK.with(|s| s.borrow().last().copied())
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

impl Capture {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Subscriber for Capture {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::always()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        let parent = match span.parent() {
            Some(p) => Some(p.into_u64()),
            None if span.is_contextual() => current(),
            None => None,
        };
        let rec = SpanRec {
            name: span.metadata().name().to_string(),
            metadata: span.metadata(),
            fields,
            parent,
        };
        self.log().spans.insert(id, rec);
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Vec::new();
        values.record(&mut Fields(&mut fields));
        if let Some(rec) = self.log().spans.get_mut(&span.into_u64()) {
            rec.fields.extend(fields);
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let span = match event.parent() {
            Some(p) => Some(p.into_u64()),
            None if event.is_contextual() => current(),
            None => None,
        };
        self.log().events.push(EventRec { fields, span });
    }
    /// What `Span::current()` asks (the engine records the size and the session this way).
    fn current_span(&self) -> tracing_core::span::Current {
        match current().and_then(|id| self.log().spans.get(&id).map(|s| (id, s.metadata))) {
            Some((id, metadata)) => tracing_core::span::Current::new(Id::from_u64(id), metadata),
            None => tracing_core::span::Current::none(),
        }
    }
    fn enter(&self, span: &Id) {
        STACK.with(|s| s.borrow_mut().push(span.into_u64()));
    }
    fn exit(&self, span: &Id) {
        STACK.with(|s| {
            let mut s = s.borrow_mut();
            if let Some(i) = s.iter().rposition(|&id| id == span.into_u64()) {
                s.remove(i);
            }
        });
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_chunked_upload_logs_its_file_session_and_parts_as_span_fields() {
    const PART: u64 = 64 * KIB;
    const PARTS: u64 = 4;
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(capture.clone());
    // Other tests of this binary run uploads on other threads, where no subscriber listens: a
    // callsite they registered while this subscriber was being set may have cached "never".
    // Asking every callsite again, now that this subscriber is registered, makes its interest
    // count (tracing keeps one interest per callsite for all threads).
    tracing_core::callsite::rebuild_interest_cache();
    let emu = start(small_config()).await;
    let data = test_data(PARTS * PART, 11);
    // Every part send fails until one 500 was answered: then the faults stop.
    emu.set_faults(FaultConfig {
        part_500_before_store: 1.0,
        ..Default::default()
    });
    let handle = uploader(&emu, 1).start_upload(
        Upload::new_file("0", "traced.bin").from_bytes(bytes::Bytes::from(data.clone())),
    );
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while emu.counters().injected.part_500_before_store == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    emu.set_faults(FaultConfig::default());
    assert!(waited.is_ok(), "no part was answered 500");
    let file = handle.join().await.expect("the upload succeeds");
    assert_eq!(file.size, Some((PARTS * PART) as i64));

    let log = capture.log();
    // The upload's span: the file, the folder, the size, and the session recorded once opened.
    let (&upload_id, upload) = log
        .spans
        .iter()
        .find(|(_, s)| s.name == "upload" && s.field("file") == Some("traced.bin"))
        .expect("an upload span naming the file");
    assert_eq!(upload.field("folder_id"), Some("0"), "{upload:?}");
    assert_eq!(
        upload.field("size"),
        Some((PARTS * PART).to_string().as_str())
    );
    let session = upload.field("session_id").expect("the session id recorded");
    assert!(!session.is_empty(), "{upload:?}");

    // A part span per part, under the upload's span, with its offset, size and index.
    let parts: Vec<(u64, &SpanRec)> = log
        .spans
        .iter()
        .filter(|(_, s)| s.name == "part")
        .map(|(&id, s)| (id, s))
        .collect();
    assert!(parts.len() >= PARTS as usize, "{parts:?}");
    let mut offsets: Vec<String> = parts
        .iter()
        .map(|(_, s)| {
            assert_eq!(s.parent, Some(upload_id), "{s:?}");
            assert_eq!(s.field("size"), Some(PART.to_string().as_str()), "{s:?}");
            assert!(s.field("index").is_some(), "{s:?}");
            s.field("offset").expect("an offset").to_string()
        })
        .collect();
    offsets.sort_by_key(|o| o.parse::<u64>().unwrap_or(u64::MAX));
    offsets.dedup();
    let expected: Vec<String> = (0..PARTS).map(|i| (i * PART).to_string()).collect();
    assert_eq!(offsets, expected);

    // The commit under a span of its own, under the upload's.
    assert!(
        log.spans
            .values()
            .any(|s| s.name == "commit" && s.parent == Some(upload_id)),
        "no commit span"
    );

    // The 500 as a retry event with separate fields, inside a part's span.
    let part_ids: Vec<u64> = parts.iter().map(|(id, _)| *id).collect();
    let retry = log
        .events
        .iter()
        .find(|e| e.field("operation") == Some("upload_part") && e.field("reason").is_some())
        .expect("a retry event of upload_part");
    assert!(
        retry.span.is_some_and(|s| part_ids.contains(&s)),
        "{retry:?}"
    );
    assert!(retry.field("attempt").is_some(), "{retry:?}");
    assert!(retry.field("wait_ms").is_some(), "{retry:?}");
    assert!(
        retry.field("reason").is_some_and(|r| r.contains("500")),
        "{retry:?}"
    );
    assert!(
        retry
            .field("message")
            .is_some_and(|m| m.contains("upload_part")),
        "{retry:?}"
    );

    // No secret in any field.
    let token = emu.token();
    let everything = log
        .spans
        .values()
        .flat_map(|s| s.fields.iter())
        .chain(log.events.iter().flat_map(|e| e.fields.iter()));
    for (name, value) in everything {
        assert!(!value.contains(token), "the token in field {name}: {value}");
    }
}
