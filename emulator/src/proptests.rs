//! Property tests of everything the emulator parses from clients: a part's `content-range`
//! and `digest` headers, the download `range` header, `offset`/`limit` query values, the
//! multipart reader (boundary, part headers, part data in any chunking), JSON bodies and the
//! `attributes` part, file names, etags, `content-md5` and the fault config of
//! `PUT /_emulator/faults`.
//!
//! Each parser gets a round trip (format, then parse, gives the same values) and is fed
//! malformed and arbitrary input, which must be refused with the Box error the handler
//! answers (status and code), never a panic. The functions tested are the ones the handlers
//! call, so the error checked here is the one a client gets.

use crate::api::direct::parse_attributes;
use crate::api::download::parse_range;
use crate::api::request::{
    json_value_count, parse_json_object, query_pairs, query_u64, JSON_MAX_VALUES,
};
use crate::api::sessions::create::{file_name_field, file_size_field};
use crate::api::sessions::headers::{digest_header, part_slot, PartSlot};
use crate::body::BodyStream;
use crate::config::FaultConfig;
use crate::error::ApiError;
use crate::multipart::{
    boundary_from_content_type, parse_content_disposition, Multipart, MultipartError, PartInfo,
};
use crate::util::{
    b64, check_file_name, etag_matches, hex, parse_content_range, parse_digest_header,
    parse_hex_sha1, parse_rfc3339, parse_u64_digits, rfc3339, ContentRange, DigestError,
    NameProblem,
};
use axum::http::Uri;
use bytes::Bytes;
use chrono::Timelike as _;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Largest number Box's int64 fields carry.
const I64_MAX: u64 = i64::MAX as u64;

fn status_code(e: &ApiError) -> (u16, &str) {
    (e.status.as_u16(), e.code.as_str())
}

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Strings built from the characters these headers are made of, plus a few hostile ones,
/// so that random strings often come close to valid.
fn header_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![
                "bytes", "BYTES", "bytes ", " ", "-", "/", "*", "0", "1", "9", "10", "1023",
                "1024", "18446744073709551615", "18446744073709551616", "9223372036854775807",
                "9223372036854775808", "99999999999999999999", "-1", "+1", "sha", "SHA", "=",
                "==", ",", "md5", "AAAA", "\t", "\u{0}", "é", "0x10", "1e3", "1.5",
            ])
            .prop_map(String::from),
            1 => "\\PC{0,4}",
        ],
        0..12,
    )
    .prop_map(|v| v.concat())
}

/// Mutates a string: deletes, inserts or replaces one character.
fn mutate(s: &str, op: u8, at: usize, c: char) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let at = if chars.is_empty() {
        0
    } else {
        at % (chars.len() + 1)
    };
    match op % 3 {
        0 if at < chars.len() => {
            chars.remove(at);
        }
        1 if at < chars.len() => chars[at] = c,
        _ => chars.insert(at, c),
    }
    chars.into_iter().collect()
}

fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '-', '/', ' ', '*', '+', '0', '9', 'x', 'e', '.', ',', '=', '\0', '\t', '\u{7f}',
            '\u{fffd}', '９',
        ]),
        any::<char>(),
    ]
}

// ---------------------------------------------------------------------------------------
// content-range

fn valid_range() -> impl Strategy<Value = ContentRange> {
    (1..=I64_MAX)
        .prop_flat_map(|total| (0..total, Just(total)))
        .prop_flat_map(|(first, total)| (Just(first), first..total, Just(total)))
        .prop_map(|(first, last, total)| ContentRange { first, last, total })
}

fn format_range(r: &ContentRange) -> String {
    format!("bytes {}-{}/{}", r.first, r.last, r.total)
}

/// A session (file size, part size) and one of its parts, as Box's clients send it.
fn session_and_part() -> impl Strategy<Value = (u64, u64, u64)> {
    prop_oneof![
        (1..=I64_MAX, 1..=I64_MAX),
        (1..200_000u64, 1..5_000u64),
        (1..=I64_MAX, 1..=4u64).prop_map(|(size, p)| (size, size.div_ceil(p))),
    ]
    .prop_filter("at most 100000 parts", |(size, part)| {
        size.div_ceil(*part) <= 100_000
    })
    .prop_flat_map(|(size, part)| (Just(size), Just(part), 0..size.div_ceil(part)))
}

proptest! {
    #![proptest_config(cfg(512))]

    #[test]
    fn content_range_round_trips(r in valid_range(), upper in any::<bool>(), pad in 0usize..3) {
        prop_assert_eq!(parse_content_range(&format_range(&r)), Some(r));
        let sp = " ".repeat(pad);
        let unit = if upper { "BYTES" } else { "bytes" };
        let loose = format!("{sp}{unit} {sp}{}-{}/{}{sp}", r.first, r.last, r.total);
        prop_assert_eq!(parse_content_range(&loose), Some(r));
    }

    #[test]
    fn content_range_accepts_only_ordered_in_bounds_ranges(s in header_soup()) {
        if let Some(r) = parse_content_range(&s) {
            prop_assert!(r.first <= r.last && r.last < r.total, "{s:?} -> {r:?}");
            prop_assert!(r.total <= 9_999_999_999_999_999_999);
            prop_assert_eq!(parse_content_range(&format_range(&r)), Some(r));
        }
    }

    #[test]
    fn content_range_refuses_disordered_and_overflowing_numbers(
        a in any::<u64>(), b in any::<u64>(), t in any::<u64>(),
        big in "[1-9][0-9]{19,40}",
        neg in 1u64..1000,
    ) {
        let s = format!("bytes {a}-{b}/{t}");
        let ok = a <= b && b < t && t <= 9_999_999_999_999_999_999;
        prop_assert_eq!(parse_content_range(&s).is_some(), ok, "{}", s);
        for bad in [
            format!("bytes {big}-{b}/{t}"),
            format!("bytes {a}-{big}/{t}"),
            format!("bytes {a}-{b}/{big}"),
            format!("bytes -{neg}-{b}/{t}"),
            format!("bytes {a}--{neg}/{t}"),
            format!("bytes {a}-{b}/-{neg}"),
            format!("bytes {a}-{b}/*"),
            format!("bytes */{t}"),
            format!("bytes {a}-{b}"),
            format!("{a}-{b}/{t}"),
            format!("items {a}-{b}/{t}"),
            format!("bytes +{a}-{b}/{t}"),
            format!("bytes {a} -{b}/{t}"),
            format!("bytes {a}-{b}/{t}, bytes {a}-{b}/{t}"),
        ] {
            prop_assert_eq!(parse_content_range(&bad), None, "{}", bad);
        }
    }

    /// A part exactly where the session expects it is accepted, with the right index.
    #[test]
    fn part_slot_accepts_every_expected_part((size, part, index) in session_and_part(),
                                             send_length in any::<bool>()) {
        let first = index * part;
        let len = part.min(size - first);
        let header = format!("bytes {first}-{}/{size}", first + len - 1);
        let cl = len.to_string();
        let got = part_slot(Some(&header), send_length.then_some(cl.as_str()), size, part);
        prop_assert_eq!(got.ok(), Some(PartSlot { first, size: len, index }));
    }

    /// Any other content-range is a 416 range_not_satisfiable (400 bad_request when the
    /// header is missing, 400 request_size_mismatch when only content-length disagrees).
    #[test]
    fn part_slot_refuses_the_rest_with_box_errors(
        (size, part, index) in session_and_part(),
        op in any::<u8>(), at in any::<usize>(), c in hostile_char(),
        soup in header_soup(),
        length in prop::option::of(prop_oneof!["[0-9]{1,25}", "\\PC{0,6}"]),
    ) {
        let first = index * part;
        let len = part.min(size - first);
        let valid = format!("bytes {first}-{}/{size}", first + len - 1);
        for header in [mutate(&valid, op, at, c), soup.clone()] {
            match part_slot(Some(&header), length.as_deref(), size, part) {
                Ok(slot) => {
                    // Only a header naming this exact part (or another real part) passes.
                    let r = parse_content_range(&header).expect("accepted header parses");
                    prop_assert_eq!(r.total, size);
                    prop_assert_eq!(r.first % part, 0);
                    prop_assert_eq!(slot.size, part.min(size - r.first));
                    prop_assert_eq!(slot.index, r.first / part);
                    prop_assert_eq!(length.as_deref().map(|l| l.trim().parse::<u64>().ok()),
                                    length.as_ref().map(|_| Some(slot.size)));
                }
                Err(e) => {
                    let sc = status_code(&e);
                    prop_assert!(
                        sc == (416, "range_not_satisfiable")
                            || (length.is_some() && sc == (400, "request_size_mismatch")),
                        "{header:?} -> {sc:?}"
                    );
                    if sc.0 == 400 {
                        prop_assert!(parse_content_range(&header).is_some());
                    }
                }
            }
        }
        let missing = part_slot(None, None, size, part).unwrap_err();
        prop_assert_eq!(status_code(&missing), (400, "bad_request"));
    }

    /// Totals other than the file size, however large, are refused.
    #[test]
    fn part_slot_refuses_other_totals((size, part, index) in session_and_part(),
                                      total in prop_oneof![any::<u64>(), Just(u64::MAX),
                                                           Just(I64_MAX), Just(I64_MAX + 1)]) {
        prop_assume!(total != size);
        let first = index * part;
        let len = part.min(size - first);
        let header = format!("bytes {first}-{}/{total}", first + len - 1);
        let e = part_slot(Some(&header), None, size, part).unwrap_err();
        prop_assert_eq!(status_code(&e), (416, "range_not_satisfiable"));
    }
}

// ---------------------------------------------------------------------------------------
// digest

proptest! {
    #![proptest_config(cfg(512))]

    #[test]
    fn digest_round_trips(sha in any::<[u8; 20]>(), upper in any::<bool>(), pad in any::<bool>(),
                          other in prop::option::of("[a-z0-9-]{1,8}=[A-Za-z0-9+/=]{0,20}")) {
        let mut v = b64(&sha);
        if !pad {
            v = v.trim_end_matches('=').to_string();
        }
        let item = format!("{}={v}", if upper { "SHA" } else { "sha" });
        let header = match &other {
            Some(o) if !o.to_ascii_lowercase().starts_with("sha=") => format!("{o}, {item}"),
            _ => item,
        };
        prop_assert_eq!(parse_digest_header(&header), Ok(sha));
        prop_assert_eq!(digest_header(Some(&header), "part").ok(), Some(sha));
    }

    #[test]
    fn digest_refuses_other_lengths_with_400(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assume!(bytes.len() != 20);
        let header = format!("sha={}", b64(&bytes));
        prop_assert_eq!(parse_digest_header(&header), Err(DigestError::BadBase64));
        let e = digest_header(Some(&header), "part").unwrap_err();
        prop_assert_eq!(status_code(&e), (400, "bad_request"));
    }

    /// Whatever the header, the answer is the SHA-1 it carries or a 400 bad_request.
    #[test]
    fn digest_refuses_malformed_with_400(sha in any::<[u8; 20]>(), soup in header_soup(),
                                         op in any::<u8>(), at in any::<usize>(),
                                         c in hostile_char()) {
        let valid = format!("sha={}", b64(&sha));
        for header in [mutate(&valid, op, at, c), soup.clone()] {
            match digest_header(Some(&header), "part") {
                Ok(d) => prop_assert_eq!(parse_digest_header(&header), Ok(d)),
                Err(e) => prop_assert_eq!(status_code(&e), (400, "bad_request"), "{:?}", header),
            }
        }
        let e = digest_header(None, "part").unwrap_err();
        prop_assert_eq!(status_code(&e), (400, "bad_request"));
    }

    #[test]
    fn content_md5_hex_round_trips(sha in any::<[u8; 20]>(), upper in any::<bool>(),
                                   junk in "\\PC{0,45}") {
        let h = if upper { hex(&sha).to_uppercase() } else { hex(&sha) };
        prop_assert_eq!(parse_hex_sha1(&h), Some(sha));
        if let Some(d) = parse_hex_sha1(&junk) {
            prop_assert_eq!(hex(&d), junk.trim().to_ascii_lowercase());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Download range, query values, etags

proptest! {
    #![proptest_config(cfg(512))]

    #[test]
    fn download_range_round_trips(len in 1..=I64_MAX, a in any::<u64>(), b in any::<u64>(),
                                  n in 1..=I64_MAX) {
        let (a, b) = (a % len, b % len);
        let (a, b) = (a.min(b), a.max(b));
        prop_assert_eq!(parse_range(&format!("bytes={a}-{b}"), len), Some(Ok((a, b))));
        prop_assert_eq!(parse_range(&format!("bytes={a}-"), len), Some(Ok((a, len - 1))));
        prop_assert_eq!(parse_range(&format!("bytes=-{n}"), len),
                        Some(Ok((len.saturating_sub(n), len - 1))));
    }

    #[test]
    fn download_range_stays_inside_the_file(h in header_soup(), len in prop_oneof![
        Just(0u64), Just(1), 0..5000u64, Just(I64_MAX), Just(u64::MAX)]) {
        let h2 = format!("bytes={}", h.trim_start_matches("bytes"));
        for header in [h, h2] {
            if let Some(Ok((a, b))) = parse_range(&header, len) {
                prop_assert!(a <= b && b < len, "{header:?} on {len}: {a}-{b}");
            }
        }
    }

    /// `offset` and `limit` take a decimal of at most 19 digits; anything else (negative,
    /// overflowing, fractional, exponent, hex, words) is a 400 bad_request.
    #[test]
    fn query_numbers_round_trip(n in any::<u64>(), pad in "[ ]{0,2}") {
        let text = format!("{pad}{n}{pad}");
        let q = serde_urlencoded::to_string([("offset", text.as_str())]).unwrap();
        let uri: Uri = format!("/x?{q}").parse().unwrap();
        let got = query_u64(&query_pairs(&uri), "offset", 7);
        if n.to_string().len() <= 19 {
            prop_assert_eq!(got.ok(), Some(n));
        } else {
            let e = got.unwrap_err();
            prop_assert_eq!(status_code(&e), (400, "bad_request"));
        }
        let uri: Uri = "/x?limit=5".parse().unwrap();
        prop_assert_eq!(query_u64(&query_pairs(&uri), "offset", 7).ok(), Some(7));
    }

    #[test]
    fn query_numbers_refuse_the_rest_with_400(v in prop_oneof![
        header_soup(),
        (1u64..).prop_map(|n| format!("-{n}")),
        "[1-9][0-9]{19,30}",
        "[0-9]{1,5}\\.[0-9]{1,3}",
        "[0-9]e[0-9]{1,3}",
        "0x[0-9a-f]{1,8}",
        Just(String::new()),
    ]) {
        let q = serde_urlencoded::to_string([("offset", v.as_str()), ("limit", v.as_str())]).unwrap();
        let uri: Uri = format!("/x?{q}").parse().unwrap();
        let pairs = query_pairs(&uri);
        for key in ["offset", "limit"] {
            match query_u64(&pairs, key, 0) {
                Ok(n) => prop_assert_eq!(parse_u64_digits(v.trim()), Some(n)),
                Err(e) => {
                    prop_assert_eq!(status_code(&e), (400, "bad_request"));
                    prop_assert_eq!(parse_u64_digits(v.trim()), None);
                }
            }
        }
    }

    /// Arbitrary raw query strings never panic.
    #[test]
    fn raw_queries_never_panic(q in "[ -~]{0,64}") {
        let encoded: String = q.chars().map(|c| match c {
            ' ' | '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}' | '#' => '+',
            c => c,
        }).collect();
        if let Ok(uri) = format!("/x?{encoded}").parse::<Uri>() {
            let pairs = query_pairs(&uri);
            let _ = query_u64(&pairs, "offset", 0);
            let _ = crate::api::request::fields_param(&pairs);
        }
    }

    #[test]
    fn etags_match_in_every_form(e in any::<u64>(), other in any::<u64>()) {
        let e = e.to_string();
        for h in [e.clone(), format!("\"{e}\""), format!("W/\"{e}\""), format!("\"0\", \"{e}\""), "*".into()] {
            prop_assert!(etag_matches(&h, &e), "{}", h);
        }
        let other = other.to_string();
        prop_assume!(other != e);
        let quoted = format!("\"{other}\"");
        prop_assert!(!etag_matches(&quoted, &e));
    }
}

// ---------------------------------------------------------------------------------------
// File names

/// Names Box accepts: no `/`, `\`, control characters, leading/trailing spaces, not `.`/`..`.
fn valid_name() -> impl Strategy<Value = String> {
    "[^/\\\\\\p{Cc} ][^/\\\\\\p{Cc}]{0,253}[^/\\\\\\p{Cc} ]|[^/\\\\\\p{Cc} .]"
        .prop_filter("at most 255 characters, not . or ..", |s| {
            s.chars().count() <= 255 && s != "." && s != ".."
        })
}

proptest! {
    #![proptest_config(cfg(256))]

    #[test]
    fn valid_names_are_accepted(name in valid_name()) {
        prop_assert_eq!(check_file_name(&name), Ok(()));
        let m = json!({"file_name": name}).as_object().unwrap().clone();
        prop_assert_eq!(file_name_field(&m, true).ok().flatten(), Some(name));
    }

    /// Path separators, `..`, NUL and control characters anywhere, or more than 255
    /// characters, are refused as item_name_invalid / item_name_too_long (400).
    #[test]
    fn hostile_names_are_refused(
        name in valid_name(),
        evil in prop::sample::select(vec!["/", "\\", "../", "..\\", "/..", "\0", "\n", "\r",
                                          "\t", "\u{1b}", "\u{7f}", "\u{85}", "\u{9f}"]),
        at in any::<usize>(),
        long in 256usize..12_000,
    ) {
        let chars: Vec<char> = name.chars().collect();
        let at = at % (chars.len() + 1);
        let bad: String = chars[..at].iter().chain(evil.chars().collect::<Vec<_>>().iter())
            .chain(chars[at..].iter()).collect();
        let too_long = "a".repeat(long);
        for (n, code) in [(bad.as_str(), "item_name_invalid"), (".", "item_name_invalid"),
                          ("..", "item_name_invalid"), ("", "item_name_invalid"),
                          (too_long.as_str(), "item_name_too_long")] {
            let expect_long = n.chars().count() > 255;
            match check_file_name(n) {
                Ok(()) => prop_assert!(false, "{:?} accepted", n),
                Err(NameProblem::TooLong) => prop_assert!(expect_long),
                Err(NameProblem::Invalid(_)) => prop_assert!(!expect_long),
            }
            let m = json!({"file_name": n}).as_object().unwrap().clone();
            let e = file_name_field(&m, true).unwrap_err();
            let want = if expect_long { "item_name_too_long" } else { code };
            prop_assert_eq!(status_code(&e), (400, want));
        }
    }

    #[test]
    fn any_name_never_panics(name in "\\PC{0,300}|\\p{Cc}{0,3}") {
        if check_file_name(&name).is_ok() {
            prop_assert!(!name.contains(['/', '\\']) && !name.chars().any(char::is_control));
            prop_assert!(name != "." && name != ".." && !name.is_empty());
        }
    }
}

// ---------------------------------------------------------------------------------------
// JSON bodies

/// Arbitrary JSON values, keys and strings included.
fn json_value() -> impl Strategy<Value = Value> {
    json_tree(true)
}

/// JSON values; without floats, which serde_json does not always read back to the last bit.
fn json_tree(floats: bool) -> impl Strategy<Value = Value> {
    let float = any::<f64>()
        .prop_filter("finite", |f| f.is_finite())
        .prop_map(move |f| if floats { json!(f) } else { Value::Null });
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        float,
        "\\PC{0,12}|[\",\\[\\]{}\\\\]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("\\PC{0,8}|[\",\\[{]{1,3}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// (values, empty containers) of a JSON tree.
fn census(v: &Value) -> (usize, usize) {
    let (kids, empty): (Vec<&Value>, bool) = match v {
        Value::Array(a) => (a.iter().collect(), a.is_empty()),
        Value::Object(m) => (m.values().collect(), m.is_empty()),
        _ => (Vec::new(), false),
    };
    kids.iter()
        .map(|k| census(k))
        .fold((1, usize::from(empty)), |(n, e), (kn, ke)| (n + kn, e + ke))
}

/// A `file_size` as a client may send it: a number of any shape, or something else.
fn file_size_json() -> impl Strategy<Value = (String, Option<u64>)> {
    prop_oneof![
        (0..=I64_MAX).prop_map(|n| (n.to_string(), Some(n))),
        (I64_MAX + 1..=u64::MAX).prop_map(|n| (n.to_string(), None)),
        (1..=u64::MAX).prop_map(|n| (format!("-{n}"), None)),
        Just(("18446744073709551616".to_string(), None)),
        Just(("1e30".to_string(), None)),
        Just(("-0.0".to_string(), None)),
        Just(("1.5".to_string(), None)),
        Just(("1e3".to_string(), None)),
        Just(("\"100\"".to_string(), None)),
        Just(("[100]".to_string(), None)),
        Just(("{}".to_string(), None)),
        Just(("true".to_string(), None)),
        Just(("99999999999999999999999999999999".to_string(), None)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite() && f.fract() != 0.0)
            .prop_map(|f| (format!("{f:?}"), None)),
    ]
}

proptest! {
    #![proptest_config(cfg(128))]

    /// The value count that guards memory is exact: every value plus every empty container.
    #[test]
    fn json_value_count_counts_values(v in json_value(), pretty in any::<bool>()) {
        let text = if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
        let (values, empty) = census(&v);
        prop_assert_eq!(json_value_count(text.as_bytes()), values + empty);
    }

    #[test]
    fn json_objects_round_trip(v in json_tree(false)) {
        let obj = json!({"k": v});
        let text = serde_json::to_vec(&obj).unwrap();
        let m = parse_json_object(&text, usize::MAX).unwrap();
        prop_assert_eq!(Value::Object(m), obj);
    }

    /// Arbitrary bytes, mutated JSON and non-objects: an object or a 400 bad_request.
    #[test]
    fn json_bodies_never_panic(v in json_value(), bytes in prop::collection::vec(any::<u8>(), 0..64),
                               op in any::<u8>(), at in any::<usize>(), c in hostile_char()) {
        let text = serde_json::to_string(&json!({"a": v})).unwrap();
        let mutated = mutate(&text, op, at, c);
        for data in [text.as_bytes(), mutated.as_bytes(), &bytes] {
            match parse_json_object(data, JSON_MAX_VALUES) {
                Ok(_) => {}
                Err(e) => prop_assert_eq!(status_code(&e), (400, "bad_request")),
            }
        }
        if !v.is_object() {
            let e = parse_json_object(serde_json::to_string(&v).unwrap().as_bytes(), JSON_MAX_VALUES);
            let e = e.unwrap_err();
            prop_assert_eq!(status_code(&e), (400, "bad_request"));
        }
    }

    #[test]
    fn deep_or_wide_json_is_a_400(depth in 129usize..120_000, width in JSON_MAX_VALUES..60_000,
                                  bracket in prop::sample::select(vec![("[", "]"), ("{\"a\":", "}")])) {
        let (open, close) = bracket;
        let deep = format!("{{\"a\":{}{}}}", open.repeat(depth), close.repeat(depth));
        let e = parse_json_object(deep.as_bytes(), JSON_MAX_VALUES).unwrap_err();
        prop_assert_eq!(status_code(&e), (400, "bad_request"));
        let wide = format!("{{\"a\":[{}0]}}", "0,".repeat(width));
        let e = parse_json_object(wide.as_bytes(), JSON_MAX_VALUES).unwrap_err();
        prop_assert_eq!(status_code(&e), (400, "bad_request"));
        let e = parse_attributes(wide.as_bytes(), false).err().unwrap();
        prop_assert_eq!(status_code(&e), (400, "bad_request"));
    }

    /// `file_size`: a non-negative int64 at or above the chunked minimum, else the Box code
    /// for the case (missing_file_size, invalid_file_size, file_size_too_small), all 400.
    #[test]
    fn file_size_field_rules((text, want) in file_size_json(), min in prop_oneof![Just(0u64), Just(1), any::<u64>()]) {
        let m = parse_json_object(format!("{{\"file_size\": {text}}}").as_bytes(), JSON_MAX_VALUES).unwrap();
        match (file_size_field(min, &m), want) {
            (Ok(n), Some(w)) => prop_assert!(n == w && n >= min),
            (Err(e), Some(w)) => {
                prop_assert!(w < min);
                prop_assert_eq!(status_code(&e), (400, "file_size_too_small"));
            }
            (Err(e), None) => prop_assert_eq!(status_code(&e), (400, "invalid_file_size"), "{}", text),
            (Ok(n), None) => prop_assert!(false, "{} accepted as {}", text, n),
        }
        let e = file_size_field(min, &Map::new()).unwrap_err();
        prop_assert_eq!(status_code(&e), (400, "missing_file_size"));
    }

    /// The `attributes` part: a valid one round-trips; anything else is one of the errors a
    /// direct upload answers, never a panic.
    #[test]
    fn attributes_round_trip(name in valid_name(), folder in "[0-9]{1,20}",
                             numeric in any::<bool>(), t in timestamp()) {
        let parent = if numeric { json!(folder.parse::<u64>().ok()) } else { json!(folder) };
        prop_assume!(!parent.is_null());
        let text = json!({"name": name, "parent": {"id": parent},
                          "content_created_at": t, "content_modified_at": t}).to_string();
        if parse_rfc3339(&t).is_none() {
            let e = parse_attributes(text.as_bytes(), false).err().unwrap();
            prop_assert_eq!(status_code(&e), (400, "bad_request"));
            return Ok(());
        }
        let a = parse_attributes(text.as_bytes(), false).unwrap();
        let expect_folder = if numeric { folder.parse::<u64>().unwrap().to_string() } else { folder };
        prop_assert_eq!(a.name, Some(name));
        prop_assert_eq!(a.folder_id, Some(expect_folder));
        prop_assert_eq!(a.content_created_at, parse_rfc3339(&t));
        prop_assert!(a.content_modified_at.is_some());
    }

    #[test]
    fn attributes_never_panic(v in json_value(), name in prop_oneof![json_value(), "\\PC{0,300}".prop_map(Value::String)],
                              parent in json_value(), op in any::<u8>(), at in any::<usize>(),
                              c in hostile_char(), for_version in any::<bool>()) {
        let text = json!({"name": name, "parent": {"id": parent}, "x": v}).to_string();
        let mutated = mutate(&text, op, at, c);
        for data in [text.as_str(), mutated.as_str()] {
            if let Err(e) = parse_attributes(data.as_bytes(), for_version) {
                let sc = status_code(&e);
                prop_assert!(matches!(sc, (400, "bad_request") | (400, "item_name_invalid")
                    | (400, "item_name_too_long") | (404, "not_found")), "{data} -> {sc:?}");
            }
        }
    }

    /// Any date-time accepted from a client survives being stored and read back (the file
    /// records are JSON on disk), and prints as RFC 3339 that parses to the same instant
    /// (so a client can read it back); one whose UTC year is not 0000 to 9999 is refused.
    #[test]
    fn accepted_timestamps_persist(t in timestamp()) {
        let fixed = chrono::DateTime::parse_from_rfc3339(&t).unwrap();
        let utc_year = chrono::Datelike::year(&fixed.with_timezone(&chrono::Utc));
        prop_assert_eq!(parse_rfc3339(&t).is_some(), (0..=9999).contains(&utc_year), "{}", t);
        if let Some(dt) = parse_rfc3339(&t) {
            let stored = serde_json::to_string(&dt).unwrap();
            let back: chrono::DateTime<chrono::Utc> = serde_json::from_str(&stored)
                .map_err(|e| TestCaseError::fail(format!("{t} stored as {stored}: {e}")))?;
            prop_assert_eq!(back, dt);
            // Answers carry whole seconds, as Box's do.
            let whole = dt.with_nanosecond(0).unwrap();
            prop_assert_eq!(parse_rfc3339(&rfc3339(dt)), Some(whole), "{}", rfc3339(dt));
        }
    }

    /// `PUT /_emulator/faults`: any JSON is a valid config (probabilities in [0, 1], latency
    /// at most an hour) or refused, never a panic.
    #[test]
    fn fault_config_json_never_panics(v in json_value(), p in any::<f64>(), lat in any::<u64>(),
                                      spec in "\\PC{0,24}") {
        let mut candidates = vec![v];
        candidates.push(json!({"part_500_before_store": if p.is_finite() { json!(p) } else { json!(0.5) },
                                "latency_ms": lat}));
        for c in candidates {
            if let Ok(f) = serde_json::from_value::<FaultConfig>(c) {
                if let Ok(f) = f.clone().validated() {
                    prop_assert!((0.0..=1.0).contains(&f.part_500_before_store));
                    prop_assert!(f.latency_ms <= 3_600_000);
                }
                let f = f.clamped();
                prop_assert!((0.0..=1.0).contains(&f.part_500_before_store));
                prop_assert!(f.latency_ms <= 3_600_000);
            }
        }
        let _ = FaultConfig::from_specs([spec.as_str()]);
    }
}

/// RFC 3339 date-times across the whole range a client can send: years 0000 to 9999 and
/// offsets up to ±23:59, with and without fractions.
fn timestamp() -> impl Strategy<Value = String> {
    (
        prop_oneof![0u32..=9999, Just(0), Just(9999)],
        prop_oneof![(1u32..=12, 1u32..=28), Just((1, 1)), Just((12, 31))],
        0u32..24,
        0u32..60,
        0u32..60,
        prop::option::of(0u32..1_000_000_000),
        prop_oneof![
            Just("Z".to_string()),
            (any::<bool>(), 0u32..24, 0u32..60)
                .prop_map(|(neg, h, m)| format!("{}{h:02}:{m:02}", if neg { '-' } else { '+' })),
        ],
    )
        .prop_map(|(y, (mo, d), h, mi, s, frac, off)| {
            let frac = frac.map(|f| format!(".{f:09}")).unwrap_or_default();
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}")
        })
}

// ---------------------------------------------------------------------------------------
// Multipart

/// RFC 2046 boundary characters (no trailing space).
fn boundary() -> impl Strategy<Value = String> {
    "[A-Za-z0-9'()+_,./:=?-][A-Za-z0-9'()+_,./:=? -]{0,68}[A-Za-z0-9'()+_,./:=?-]"
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Runs `f` on a fresh single-threaded runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Parses a whole multipart body delivered in the given chunks.
async fn parse_multipart(
    chunks: Vec<Bytes>,
    boundary: &str,
) -> Result<Vec<(PartInfo, Vec<u8>)>, MultipartError> {
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let mut bs = BodyStream::new(axum::body::Body::from_stream(stream));
    let mut mp = Multipart::new(&mut bs, boundary);
    let mut out = Vec::new();
    while let Some(info) = mp.next_part().await? {
        let mut data = Vec::new();
        while let Some(c) = mp.next_chunk().await? {
            data.extend_from_slice(&c);
        }
        out.push((info, data));
    }
    Ok(out)
}

fn chunked(body: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.push(0);
    points.push(body.len());
    points.sort_unstable();
    points.dedup();
    points
        .windows(2)
        .map(|w| Bytes::copy_from_slice(&body[w[0]..w[1]]))
        .collect()
}

/// A part's content: bytes biased towards CR, LF and dashes so delimiter look-alikes occur.
fn part_data() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<u8>(),
            1 => prop::sample::select(b"\r\n-".to_vec()),
        ],
        0..600,
    )
}

type Parts = Vec<(String, Option<String>, Vec<u8>)>;

fn encode_multipart(boundary: &str, parts: &Parts, preamble: &[u8]) -> Vec<u8> {
    let mut body = preamble.to_vec();
    if !preamble.is_empty() {
        body.extend_from_slice(b"\r\n");
    }
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut cd = format!("Content-Disposition: form-data; name={}", quote(name));
        if let Some(f) = filename {
            cd.push_str(&format!("; filename={}", quote(f)));
        }
        body.extend_from_slice(cd.as_bytes());
        body.extend_from_slice(b"\r\nContent-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--").as_bytes());
    body
}

proptest! {
    #![proptest_config(cfg(256))]

    #[test]
    fn boundary_round_trips(b in boundary(), quoted in any::<bool>(), charset in any::<bool>()) {
        let needs_quotes = b.contains([' ', '(', ')', ',', '/', ':', '=', '?']);
        let value = if quoted || needs_quotes { format!("\"{b}\"") } else { b.clone() };
        let extra = if charset { "; charset=utf-8" } else { "" };
        let ct = format!("multipart/form-data{extra}; boundary={value}");
        prop_assert_eq!(boundary_from_content_type(&ct), Some(b.clone()));
        prop_assert_eq!(boundary_from_content_type(&format!("application/json; boundary={value}")), None);
    }

    #[test]
    fn content_type_never_panics(ct in "\\PC{0,80}") {
        if let Some(b) = boundary_from_content_type(&ct) {
            prop_assert!(!b.is_empty() && b.len() <= 200);
        }
    }

    #[test]
    fn content_disposition_round_trips(name in "\\PC{0,40}", filename in prop::option::of("\\PC{0,40}")) {
        let mut v = format!("form-data; name={}", quote(&name));
        if let Some(f) = &filename {
            v.push_str(&format!("; filename={}", quote(f)));
        }
        prop_assert_eq!(parse_content_disposition(&v), (Some(name), filename));
    }

    #[test]
    fn content_disposition_never_panics(v in "\\PC{0,80}|[\"\\\\;= a-z]{0,40}") {
        let _ = parse_content_disposition(&v);
    }

    /// Parts come back exactly as sent, however the body is split into chunks.
    #[test]
    fn multipart_round_trips(
        b in boundary(),
        parts in prop::collection::vec(("[a-z_]{1,12}", prop::option::of("\\PC{0,20}"), part_data()), 0..4),
        preamble in prop::collection::vec(any::<u8>(), 0..40),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let delimiter = format!("\r\n--{b}");
        prop_assume!(parts.iter().all(|(_, _, d)| {
            let mut with_crlf = b"\r\n".to_vec();
            with_crlf.extend_from_slice(d);
            with_crlf.extend_from_slice(b"\r\n");
            memchr::memmem::find(&with_crlf[..with_crlf.len() - 2], delimiter.as_bytes()).is_none()
        }));
        let mut pre = b"\r\n".to_vec();
        pre.extend_from_slice(&preamble);
        prop_assume!(memchr::memmem::find(&pre, delimiter.as_bytes()).is_none());

        let body = encode_multipart(&b, &parts, &preamble);
        let got = block_on(parse_multipart(chunked(&body, &cuts), &b)).unwrap();
        prop_assert_eq!(got.len(), parts.len());
        for ((info, data), (name, filename, sent)) in got.iter().zip(&parts) {
            prop_assert_eq!(info.name.as_ref(), Some(name));
            prop_assert_eq!(&info.filename, filename);
            prop_assert_eq!(info.content_type.as_deref(), Some("application/octet-stream"));
            prop_assert_eq!(data, sent);
        }
    }

    /// A body cut off anywhere before its close delimiter is malformed (400 bad_request).
    #[test]
    fn truncated_multipart_is_refused(
        parts in prop::collection::vec(("[a-z]{1,8}", Just(None::<String>), part_data()), 1..3),
        cut in any::<usize>(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let b = "XyZ-boundary";
        prop_assume!(parts.iter().all(|(_, _, d)| memchr::memmem::find(d, b"--XyZ").is_none()));
        let body = encode_multipart(b, &parts, b"");
        let cut = cut % body.len();
        let r = block_on(parse_multipart(chunked(&body[..cut], &cuts), b));
        prop_assert!(matches!(r, Err(MultipartError::Malformed(_))), "cut at {cut}: {r:?}");
    }

    /// Arbitrary and mutated bodies parse or are malformed; never a panic, never a hang.
    #[test]
    fn multipart_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        parts in prop::collection::vec(("[a-z]{1,8}", prop::option::of("\\PC{0,8}"), part_data()), 0..3),
        op in any::<u8>(), at in any::<usize>(), c in hostile_char(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
    ) {
        let b = "b";
        let body = encode_multipart(b, &parts, b"");
        let text = String::from_utf8_lossy(&body).into_owned();
        let mutated = mutate(&text, op, at, c).into_bytes();
        let mut prefixed = b"--b\r\n".to_vec();
        prefixed.extend_from_slice(&bytes);
        for input in [bytes.clone(), mutated, prefixed] {
            let r = block_on(parse_multipart(chunked(&input, &cuts), b));
            prop_assert!(!matches!(r, Err(MultipartError::Body(_))), "{r:?}");
        }
    }
}

#[test]
fn malformed_multipart_maps_to_400() {
    let e = crate::api::direct::multipart_error(MultipartError::Malformed("x"));
    assert_eq!(status_code(&e), (400, "bad_request"));
}

#[test]
fn timestamps_outside_rfc3339_years_are_refused() {
    for t in ["9999-12-31T23:59:59-00:01", "0000-01-01T00:00:00+00:01"] {
        assert_eq!(parse_rfc3339(t), None, "{t}");
    }
    for t in [
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "0000-01-01T00:00:00-23:59",
    ] {
        let dt = parse_rfc3339(t).expect(t);
        assert_eq!(parse_rfc3339(&rfc3339(dt)), Some(dt), "{t}");
    }
}
