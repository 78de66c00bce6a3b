//! The field-by-field walk: every operation of ours against Box's operation of the same
//! method and path, and every path of ours against Box's other operations on it.
//!
//! Difference paths are relative to the operation: `server`, `param.<name>`, `body`,
//! `response.<status>` (`response.<status>.header.<name>` for a header), then one segment per
//! property (`.<name>`) and `[]` per array item: `response.200.part.sha1`. After the path
//! comes the kind: `extra` (ours has it, Box's does not), `missing` (the other way round),
//! `type`, `format`, `nullable`, `enum`, `enum <value> extra|missing`, `required`, `in`,
//! `style`, `explode`, `properties`, `one-of`, `discriminator`, `media-type`,
//! `schema extra|missing`, `code <code> extra|missing`, `server` and `security`.
//!
//! What is compared, and what is not:
//! - Schemas are compared after resolving `$ref` and merging `allOf`; `oneOf`/`anyOf` are
//!   compared branch by branch when both sides have the same number of branches; when only
//!   one side has them, the mismatch is reported once and the walk goes on into the single
//!   branch of the other side's type, if there is one. Constraints (`minimum`, `maximum`,
//!   `pattern`, lengths), `default`, `readOnly`, descriptions and examples are not compared:
//!   they are prose or limits, not the shape of a request or an answer.
//! - A free-form object (no properties) against an object with properties is one
//!   `properties` difference; the walk does not go into the listed properties.
//! - Security is compared only as "needs a token or not": the two documents name their
//!   schemes differently.
//! - Error codes: ours are `x-error-codes`; Box's description has no such field, and names
//!   codes only in Markdown prose. The codes read from Box's side are the list items of a
//!   response's description that start with a code in backticks (`` * `item_name_invalid` ``),
//!   its paragraphs that start with a code in backticks and a colon (`` `item_name_in_use`: ``,
//!   as Box's newer copies write them), and the `code` of a response's examples. A code
//!   mentioned anywhere else (the operation's
//!   own description, a sentence, the generic `ClientError.code` enum) is not read, so a
//!   status whose codes Box gives only in a sentence compares as "Box names none". Codes are
//!   compared only where both sides declare the status; a status only one side declares is
//!   one difference, whatever codes it carries.
//!
//! The walk is split by what it compares: `operations` (paths, servers, security), `parameters`,
//! `bodies` (request bodies and the media types of any content), `responses` (statuses,
//! headers) with `codes` (error codes), `schemas` over `flat` (a schema with `$ref` resolved
//! and `allOf` merged); `scope` decides where a difference lands and which note explains it.

mod bodies;
mod codes;
mod flat;
mod operations;
mod parameters;
mod responses;
mod schemas;
mod scope;

use std::collections::BTreeSet;

use serde_json::Value;

use super::doc::Doc;
use super::notes::Notes;
use super::Difference;

/// The walk's state: the two documents, our notes, and what it has found so far.
pub struct Walker<'a> {
    ours: &'a Doc,
    theirs: &'a Doc,
    notes: &'a Notes,
    pub out: Vec<Difference>,
    /// (pointer, diff) of every note that explained a difference.
    pub used: BTreeSet<(String, String)>,
    pub errors: Vec<String>,
    group: String,
    subject: String,
    /// (ours, Box) schema pointers being compared, against `$ref` cycles.
    stack: Vec<(String, String)>,
}

/// Deeper than this, a schema walk stops (both documents would have to nest this far).
const MAX_DEPTH: usize = 48;

impl<'a> Walker<'a> {
    pub fn new(ours: &'a Doc, theirs: &'a Doc, notes: &'a Notes) -> Self {
        Walker {
            ours,
            theirs,
            notes,
            out: Vec::new(),
            used: BTreeSet::new(),
            errors: Vec::new(),
            group: String::new(),
            subject: String::new(),
            stack: Vec::new(),
        }
    }
}

// Small readers and words the comparisons share.

/// A boolean field (`required`, `nullable`), false when absent.
fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn required_word(required: bool) -> &'static str {
    if required {
        "required"
    } else {
        "optional"
    }
}

fn nullable_word(nullable: bool) -> &'static str {
    if nullable {
        "nullable"
    } else {
        "not nullable"
    }
}

fn or_none(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

/// The innermost of a node's pointers (the one after every `$ref`).
fn last(ptrs: &[String]) -> &str {
    ptrs.last().map_or("", String::as_str)
}
