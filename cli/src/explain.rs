//! Failures in the user's words: what failed, where (the path, the Box id, the host), why, and
//! what to do next; with the exit code from `exit_code`. Operation names, request ids and the
//! whole chain of causes are details, shown with `-v` (and in `--json`).

use std::error::Error as StdError;
use std::path::PathBuf;

use box_uploads::upload::{SizeLimit, UploadErrorKind};

use crate::exit_code::{exit_for, facts_of, Classified, Exit, Facts, TreeFacet};
use crate::output::one_line;

/// What the command was about, to say where a failure happened.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scene {
    pub(crate) path: PathBuf,
    pub(crate) folder: Option<String>,
    pub(crate) version_of: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) if_match: Option<String>,
    pub(crate) state: Option<PathBuf>,
    pub(crate) api_url: String,
    pub(crate) upload_url: String,
    /// Where the credentials came from, by name (`BOX_TOKEN`, `--token-file PATH`...).
    pub(crate) credentials: String,
}

/// A failure as it is told.
#[derive(Debug)]
pub(crate) struct Explained {
    pub(crate) exit: Exit,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    pub(crate) facts: Facts,
    /// Every cause, once, for `-v`.
    pub(crate) chain: String,
}

impl Explained {
    /// The message and the hint on one line.
    pub(crate) fn line(&self) -> String {
        match &self.hint {
            Some(hint) => format!("{}; {hint}", self.message),
            None => self.message.clone(),
        }
    }

    /// Operation, attempts, request id, upload session and the causes: what `-v` adds.
    pub(crate) fn details(&self) -> String {
        let f = &self.facts;
        let mut parts = Vec::new();
        if let Some(op) = f.operation {
            parts.push(format!("operation {op}"));
        }
        if let Some(n) = f.attempts {
            parts.push(format!("{n} attempt(s)"));
        }
        if let Some(id) = &f.request_id {
            parts.push(format!("request id {id}"));
        }
        if let Some(id) = &f.session_id {
            parts.push(format!("upload session {id}"));
        }
        parts.push(format!("causes: {}", self.chain));
        parts.join(", ")
    }

    /// `{"error": {...}}` for `--json`.
    pub(crate) fn json(&self) -> serde_json::Value {
        let f = &self.facts;
        serde_json::json!({"error": {
            "exit_code": self.exit.code(),
            "kind": self.exit.name(),
            "message": self.message,
            "hint": self.hint,
            "status": f.status,
            "code": f.code,
            "request_id": f.request_id,
            "operation": f.operation,
            "session_id": f.session_id,
            "causes": self.chain,
        }})
    }
}

/// Explains `err`; `scene` says what the command was about (none before the options are read).
pub(crate) fn explain(err: &(dyn StdError + 'static), scene: Option<&Scene>) -> Explained {
    let facts = facts_of(err);
    let exit = exit_for(&facts);
    let chain = plain_chain(err);
    let default_scene = Scene::default();
    let s = scene.unwrap_or(&default_scene);
    let (message, hint) = words(err, exit, &facts, &chain, s);
    Explained {
        exit,
        message,
        hint,
        facts,
        chain,
    }
}

/// The message and the hint for each kind of failure.
fn words(
    err: &(dyn StdError + 'static),
    exit: Exit,
    f: &Facts,
    chain: &str,
    s: &Scene,
) -> (String, Option<String>) {
    if let Some(c) = find::<Classified>(err) {
        return (c.text.clone(), c.hint.clone());
    }
    let http = http_note(f);
    let credentials = if s.credentials.is_empty() {
        "the credentials".to_string()
    } else {
        s.credentials.clone()
    };
    match exit {
        Exit::Refused if f.status == Some(403) => (
            format!("Box refused access{} ({http})", target_words(f, s)),
            Some(format!(
                "the account behind {credentials} may not upload there; --as-user ID acts for \
                 another user, if the app may"
            )),
        ),
        Exit::Refused if f.status == Some(401) && f.credentials.is_none() => (
            format!("Box refused the access token ({http})"),
            Some(format!(
                "check {credentials}: the token is wrong, or expired (a developer token lasts an \
                 hour)"
            )),
        ),
        Exit::Refused => (chain.to_string(), Some(format!("check {credentials}"))),
        Exit::NotFound if f.status == Some(404) => not_found(f, s, &http),
        Exit::GaveUp => gave_up(f, s, chain, &http),
        Exit::Conflict if f.status == Some(412) => (
            format!(
                "file {} changed on Box since etag {} ({http})",
                s.version_of.as_deref().unwrap_or("?"),
                s.if_match.as_deref().unwrap_or("?")
            ),
            Some("read its current etag, or leave out --if-match to upload anyway".into()),
        ),
        Exit::Conflict
            if f.status.is_none() && matches!(f.upload, Some(UploadErrorKind::Conflict { .. })) =>
        {
            refused_by_policy(f, s)
        }
        Exit::Conflict if f.status == Some(409) => {
            let existing = f
                .conflict_id
                .as_deref()
                .map(|id| format!(" (file {id})"))
                .unwrap_or_default();
            (
                format!(
                    "folder {} already holds {}{existing} ({http})",
                    s.folder.as_deref().unwrap_or("?"),
                    box_name(s)
                ),
                Some(format!(
                    "--version-of {} uploads it as a new version; --name NAME under another name",
                    f.conflict_id.as_deref().unwrap_or("FILE_ID")
                )),
            )
        }
        Exit::Conflict if f.tree == Some(TreeFacet::FileConflict) => (
            chain.to_string(),
            Some("--on-conflict version, rename or skip settles it".into()),
        ),
        Exit::SourceChanged => {
            let resumed = chain.contains("since the interrupted upload");
            let hint = match (&s.state, resumed) {
                (Some(state), true) => {
                    format!("delete {} to upload the file as it is now", state.display())
                }
                _ => "run the command again once nothing writes to the file".to_string(),
            };
            (format!("{}: {chain}", s.path.display()), Some(hint))
        }
        Exit::TooLarge => too_large(f, s, chain, &http),
        Exit::Interrupted => ("interrupted".to_string(), None),
        _ => match &f.upload {
            // The engine's detail shows its own types; the user needs what to do.
            Some(UploadErrorKind::StateFile { path, detail })
                if detail.starts_with("it records an upload to") =>
            {
                (
                    format!(
                        "the state file {} is for another upload (another folder, name or file)",
                        path.display()
                    ),
                    Some("give another --state, or delete this one to start over".into()),
                )
            }
            _ => (chain.to_string(), None),
        },
    }
}

/// A 404 from Box: a session, a file or a folder.
fn not_found(f: &Facts, s: &Scene, http: &str) -> (String, Option<String>) {
    if f.operation.is_some_and(is_session_operation) && f.session_id.is_some() {
        return (
            format!("the upload session is gone ({http})"),
            Some("run the command again to start a new one".into()),
        );
    }
    if let (Some(file), None) = (&s.version_of, tree_folder(f)) {
        return (
            format!("Box has no file {file} that this account can see ({http})"),
            Some(
                "--version-of takes the file's id, the number at the end of its web address \
                 (https://app.box.com/file/123 is 123)"
                    .into(),
            ),
        );
    }
    let folder = tree_folder(f)
        .or(s.folder.as_deref())
        .unwrap_or("?")
        .to_string();
    (
        format!("Box has no folder {folder} that this account can see ({http})"),
        Some(
            "--folder takes the folder's id, the number at the end of its web address \
             (https://app.box.com/folder/123 is 123); 0 is the root folder"
                .into(),
        ),
    )
}

/// The file is over a limit: both sizes, and what can be done.
fn too_large(f: &Facts, s: &Scene, chain: &str, http: &str) -> (String, Option<String>) {
    let path = s.path.display();
    let Some(UploadErrorKind::TooLarge { size, limit, .. }) = &f.upload else {
        return (format!("{path}: {chain}"), None);
    };
    let is = format!("{path} is {} ({size} bytes)", size_words(*size));
    match limit {
        SizeLimit::MaxUploadSize(max) => (
            format!(
                "{is}; this Box user may upload at most {} ({max} bytes)",
                size_words(*max)
            ),
            Some("the limit comes with the account's Box plan; nothing was sent".into()),
        ),
        SizeLimit::Storage => (
            format!("{is}; the Box account's storage is full ({http})"),
            Some("free space on Box, or ask the account's admin for more".into()),
        ),
        SizeLimit::Request => (
            format!("{is}, too large for one request ({http})"),
            Some("a lower --chunked-cutoff sends it in parts".into()),
        ),
        _ => (
            format!("{is}; this Box user may not upload a file this large ({http})"),
            Some("the limit comes with the account's Box plan".into()),
        ),
    }
}

/// A size for people: `6.2 GiB`, `5 GiB`, `100 bytes`.
fn size_words(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let (mut value, mut unit) = (bytes as f64 / 1024.0, 0);
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {}", UNITS[unit])
}

/// Transient failures outlasted the retries: name the host, or the token endpoint.
fn gave_up(f: &Facts, s: &Scene, chain: &str, http: &str) -> (String, Option<String>) {
    let attempts = f
        .attempts
        .map(|n| format!("; gave up after {n} attempt(s)"))
        .unwrap_or_default();
    let retries = "try again later; --retries N tries longer".to_string();
    // A TLS handshake refused for the server's certificate: retrying will not help, trusting
    // its CA (a proxy's, an emulator's) will.
    let untrusted = untrusted_certificate(chain).then(|| UNTRUSTED_HINT.to_string());
    if f.credentials.is_some() {
        return (
            format!("cannot get an access token: {chain}"),
            untrusted.or(Some(retries)),
        );
    }
    let url = match f.operation {
        Some(op) if is_upload_host_operation(op) => &s.upload_url,
        _ => &s.api_url,
    };
    if f.status.is_some() {
        return (
            format!("Box kept failing at {url} ({http}){attempts}"),
            Some(retries),
        );
    }
    if f.call.is_some() {
        return (
            format!("cannot reach {url} ({chain}){attempts}"),
            untrusted.or(Some(
                "check the address (--api-url and --upload-url, or BOX_API_URL and \
                 BOX_UPLOAD_URL) and the network; --retries N tries longer"
                    .into(),
            )),
        );
    }
    (chain.to_string(), Some(retries))
}

/// What to do when the server's certificate is not trusted.
const UNTRUSTED_HINT: &str = "the server's certificate is not trusted: if it is signed by a \
     private CA (a proxy's, an emulator's), trust that CA with --ca-cert FILE or BOX_CA_CERT";

/// Whether the failure's words are rustls refusing the server's certificate (reqwest keeps
/// the TLS error's type private, so its text is what there is).
fn untrusted_certificate(chain: &str) -> bool {
    chain.contains("invalid peer certificate")
}

/// ` to folder 0`, ` to file 12`, or nothing.
fn target_words(f: &Facts, s: &Scene) -> String {
    match (tree_folder(f), &s.version_of, &s.folder) {
        (Some(folder), _, _) => format!(" to folder {folder}"),
        (None, Some(file), _) => format!(" to file {file}"),
        (None, None, Some(folder)) => format!(" to folder {folder}"),
        _ => String::new(),
    }
}

fn tree_folder(f: &Facts) -> Option<&str> {
    match &f.tree {
        Some(TreeFacet::Folder(id)) => Some(id),
        _ => None,
    }
}

/// The name the file has in Box.
/// `--on-conflict fail` (or a folder holding the name) refused a new file before sending: the
/// item named by id and name, and the option that goes ahead.
fn refused_by_policy(f: &Facts, s: &Scene) -> (String, Option<String>) {
    let Some(UploadErrorKind::Conflict { existing, .. }) = &f.upload else {
        return ("the name is in use".into(), None);
    };
    let folder = s.folder.as_deref().unwrap_or("?");
    if existing.kind == "file" {
        (
            format!(
                "folder {folder} already holds {:?} as file {} with other content \
                 (--on-conflict fail)",
                existing.name, existing.id
            ),
            Some(
                "--on-conflict version uploads it as a new version of that file, rename under \
                 a free name, skip leaves it"
                    .into(),
            ),
        )
    } else {
        (
            format!(
                "folder {folder} holds a {} named {:?} ({} {})",
                existing.kind, existing.name, existing.kind, existing.id
            ),
            Some("--on-conflict rename uploads the file under a free name; or pass --name".into()),
        )
    }
}

fn box_name(s: &Scene) -> String {
    s.name.clone().unwrap_or_else(|| {
        s.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| s.path.display().to_string())
    })
}

/// `HTTP 404 not_found`, `HTTP 502`, or `no answer`.
fn http_note(f: &Facts) -> String {
    match (f.status, &f.code) {
        (Some(s), Some(code)) => format!("HTTP {s} {code}"),
        (Some(s), None) => format!("HTTP {s}"),
        _ => "no answer".to_string(),
    }
}

/// Operations on an upload session (its URLs are on the upload host).
fn is_session_operation(op: &str) -> bool {
    matches!(
        op,
        "upload_part"
            | "commit_upload_session"
            | "list_upload_parts"
            | "get_upload_session"
            | "abort_upload_session"
    )
}

/// Operations sent to the upload host.
fn is_upload_host_operation(op: &str) -> bool {
    is_session_operation(op)
        || matches!(
            op,
            "upload_file"
                | "upload_file_version"
                | "create_upload_session"
                | "create_upload_session_for_file"
        )
}

/// The first error of type `T` in the chain.
fn find<'e, T: StdError + 'static>(err: &'e (dyn StdError + 'static)) -> Option<&'e T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        next = e.source();
    }
    None
}

/// The causes on one line, each once: the engine's "operation failed after N attempt(s)" and
/// "the upload failed" sentences are left out (they name internals; `-v` shows the operation),
/// and a cause already said by the error before it is not said again.
pub(crate) fn plain_chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        next = e.source();
        let internal = e
            .downcast_ref::<box_uploads::upload::UploadError>()
            .is_some_and(|u| u.operation().is_some())
            || matches!(
                e.downcast_ref::<box_uploads::tree::TreeFileError>(),
                Some(box_uploads::tree::TreeFileError::Upload(_))
            );
        if internal && next.is_some() {
            continue;
        }
        let text = one_line(&e.to_string());
        if text.is_empty() || parts.last().is_some_and(|last| last.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot listen on 127.0.0.1:8080: {}", self.0)
        }
    }
    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_said_by_its_error_is_not_said_twice() {
        let io = std::io::Error::from_raw_os_error(98);
        let e = Outer(io);
        let line = plain_chain(&e);
        assert_eq!(line.matches("os error 98").count(), 1, "{line}");
    }

    #[test]
    fn a_source_change_names_the_file_and_what_to_do() {
        let e = box_uploads::upload::UploadError::from(
            box_uploads::upload::UploadErrorKind::SourceChanged {
                detail: "during the upload (its size changed)".into(),
            },
        );
        let scene = Scene {
            path: "big.iso".into(),
            ..Scene::default()
        };
        let x = explain(&e, Some(&scene));
        assert_eq!(x.exit, Exit::SourceChanged);
        assert!(
            x.message.starts_with("big.iso: the source changed during"),
            "{x:?}"
        );
        assert!(x.hint.as_deref().is_some_and(|h| h.contains("again")));
        let json = x.json();
        assert_eq!(json["error"]["exit_code"], 7);
        assert_eq!(json["error"]["kind"], "source_changed");
    }

    #[test]
    fn an_untrusted_certificate_points_at_ca_cert() {
        let f = Facts {
            call: Some(box_uploads::upload::CallErrorKind::Connect),
            ..Facts::default()
        };
        let scene = Scene {
            api_url: "https://127.0.0.1:1/2.0".into(),
            ..Scene::default()
        };
        let chain = "could not connect: invalid peer certificate: UnknownIssuer";
        let (message, hint) = gave_up(&f, &scene, chain, "");
        assert!(message.contains("127.0.0.1"), "{message}");
        assert!(hint.as_deref().is_some_and(|h| h.contains("--ca-cert")));
        let (_, hint) = gave_up(&f, &scene, "could not connect: refused", "");
        assert!(hint.as_deref().is_some_and(|h| h.contains("--api-url")));
        let creds = Facts {
            credentials: Some(box_uploads::runtime::CredentialsErrorKind::Unavailable),
            ..f
        };
        let (_, hint) = gave_up(&creds, &scene, chain, "");
        assert!(hint.as_deref().is_some_and(|h| h.contains("BOX_CA_CERT")));
    }

    #[test]
    fn a_state_file_for_another_upload_shows_no_debug_output() {
        let e = box_uploads::upload::UploadError::from(UploadErrorKind::StateFile {
            path: "big.upload".into(),
            detail: "it records an upload to NewFile { folder_id: \"0\", name: \"a\" }, not \
                     NewFile { folder_id: \"0\", name: \"b\" }; use another state file"
                .into(),
        });
        let x = explain(&e, None);
        assert!(!x.line().contains("NewFile"), "{}", x.line());
        assert!(x.line().contains("big.upload"), "{}", x.line());
        assert!(
            x.details().contains("NewFile"),
            "-v keeps it: {}",
            x.details()
        );
    }
}
