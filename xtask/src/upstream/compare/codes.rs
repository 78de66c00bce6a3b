//! The error codes each side names for a response: ours from `x-error-codes`, Box's from
//! its prose and examples (the parent module's comment says which).

use std::collections::BTreeSet;

use serde_json::Value;

/// The `x-error-codes` of one of our responses.
pub(super) fn our_codes(response: &Value) -> BTreeSet<String> {
    response
        .get("x-error-codes")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|c| c.get("code")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The codes Box's description names for one response (see the module's comment).
pub(super) fn box_codes(response: &Value) -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    let description = response
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut paragraph_starts = true;
    for line in description.lines() {
        let starts = std::mem::replace(&mut paragraph_starts, line.trim().is_empty());
        let trimmed = line.trim_start();
        if let Some(item) = trimmed
            .strip_prefix("* ")
            .or_else(|| trimmed.strip_prefix("- "))
        {
            // A list item that starts with a code: `* `item_name_invalid`: ...`.
            if let Some(code) = leading_code(item.trim_start()) {
                codes.insert(code.to_string());
            }
        } else if starts && line == trimmed {
            // A paragraph that starts with a code and a colon, as Box's newer copies write
            // them: `` `item_name_in_use`: Returned if ... ``.
            if let Some(code) = leading_code(line).filter(|c| line[c.len() + 2..].starts_with(':'))
            {
                codes.insert(code.to_string());
            }
        }
    }
    let examples = response
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.values())
        .flat_map(|media| {
            let one = media.get("example").into_iter();
            let many = media
                .get("examples")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|m| m.values())
                .filter_map(|e| e.get("value"));
            one.chain(many)
        });
    for example in examples {
        if let Some(code) = example
            .get("code")
            .and_then(Value::as_str)
            .filter(|c| is_code(c))
        {
            codes.insert(code.to_string());
        }
    }
    codes
}

/// The code in backticks that `text` starts with, if any.
fn leading_code(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('`')?;
    rest.split('`')
        .next()
        .filter(|c| is_code(c) && rest.len() > c.len())
}

fn is_code(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_from_paragraphs_that_start_with_one_and_a_colon() {
        let response = serde_json::json!({
            "description": "`operation_blocked_temporary`: Returned if a folder is locked.\n\nThe operation can be retried.\n\n`item_name_in_use`: Returned if a folder\nhas the name; `not_at_start`: no.\n`mid_paragraph`: no.\n\n  `indented`: no.\n\n`no_colon` here."
        });
        let codes: Vec<String> = box_codes(&response).into_iter().collect();
        assert_eq!(codes, ["item_name_in_use", "operation_blocked_temporary"]);
    }

    #[test]
    fn codes_are_read_from_list_items_and_examples() {
        let response = serde_json::json!({
            "description": "Bad.\n\n* `missing_destination`: no folder\n* `item_name_invalid` when\n  the name is `bad_name` here\nAlso `not_a_list_item`.",
            "content": {"application/json": {"example": {"code": "from_example"}}}
        });
        let codes: Vec<String> = box_codes(&response).into_iter().collect();
        assert_eq!(
            codes,
            ["from_example", "item_name_invalid", "missing_destination"]
        );
    }
}
