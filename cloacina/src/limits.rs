//! The limits the engine enforces, in one place.
//!
//! Each exists so that whatever is accepted can be stored, read back and acted on by every
//! backend: a longer name would not fit PostgreSQL's indexes, a deeper value could not be read
//! back by the JSON parser, a longer duration would overflow the clocks it is added to. A value
//! past a limit is refused where it is given, with an error naming the setting and the limit.

use std::time::Duration;

/// The longest duration any setting, timeout or retry delay accepts: 365 days.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The longest `sqlite_busy_timeout`: one day (SQLite takes it in milliseconds, as a 32-bit
/// integer).
pub const MAX_SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The most tasks one executor runs at once.
pub const MAX_CONCURRENT_TASKS: usize = 100_000;

/// The most database connections one executor's pool opens.
pub const MAX_POOL_SIZE: usize = 1_000;

/// How deeply lists and objects may nest inside one context value: `[[1]]` nests 2 levels.
///
/// Stored data nests two levels more (the context or the task's delta around the value), which
/// stays well within what the JSON parser reads back (128 levels).
pub const MAX_NESTING_DEPTH: usize = 100;

/// The most bytes one binary value (bytes, an array's or a table's data) may hold: 512 MiB.
pub const MAX_BINARY_BYTES: usize = 512 * 1024 * 1024;

/// The longest workflow name or task id, in characters (at most 4 bytes each in UTF-8, so a
/// name always fits PostgreSQL's index entries).
pub const MAX_NAME_LENGTH: usize = 255;

/// The longest error message stored for an attempt, in bytes; a longer one is cut, with a note
/// saying how much was left out.
pub const MAX_ERROR_BYTES: usize = 64 * 1024;

/// The duration as a count of microseconds, saturating (for adding to stored times).
pub(crate) fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// Checks that `name` is a valid workflow name or task id; `what` says which, for the message.
///
/// A name is 1 to [`MAX_NAME_LENGTH`] characters, not only whitespace, without control
/// characters (NUL, newlines, tabs, ...).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("is empty".to_owned());
    }
    let length = name.chars().count();
    if length > MAX_NAME_LENGTH {
        return Err(format!("is {length} characters long; the limit is {MAX_NAME_LENGTH}"));
    }
    if let Some(control) = name.chars().find(|character| character.is_control()) {
        return Err(format!("contains the control character {}; use printable characters", control.escape_unicode()));
    }
    Ok(())
}

/// A name as shown in messages: control characters escaped, cut after 60 characters.
pub(crate) fn shown(name: &str) -> String {
    let escaped: String = name.escape_debug().collect();
    match escaped.char_indices().nth(60) {
        Some((end, _)) => format!("{}...", &escaped[..end]),
        None => escaped,
    }
}

/// How deeply lists and objects nest in `value` (a scalar is 0, `[[1]]` is 2), counted without
/// recursion; stops counting past [`MAX_NESTING_DEPTH`].
pub fn nesting_depth(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    let mut deepest = 0;
    let mut pending: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        let depth = depth + 1;
        deepest = deepest.max(depth);
        if deepest > MAX_NESTING_DEPTH {
            return deepest;
        }
        pending.extend(children.filter(|child| child.is_array() || child.is_object()).map(|child| (child, depth)));
    }
    deepest
}

/// An error message made safe to store: NUL characters (which PostgreSQL cannot store in text)
/// become `\0`, and a message longer than [`MAX_ERROR_BYTES`] is cut at a character boundary
/// with a note saying how many bytes were left out.
pub fn sanitize_message(message: &str) -> String {
    let cleaned = if message.contains('\0') { message.replace('\0', "\\0") } else { message.to_owned() };
    if cleaned.len() <= MAX_ERROR_BYTES {
        return cleaned;
    }
    let mut end = MAX_ERROR_BYTES - 128;
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n... [cut: {} more bytes not stored]", &cleaned[..end], cleaned.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("nightly_etl.v2 (eu)").is_ok());
        assert!(check_name(&"é".repeat(MAX_NAME_LENGTH)).is_ok());
        assert_eq!(check_name(" "), Err("is empty".to_owned()));
        assert_eq!(
            check_name(&"a".repeat(MAX_NAME_LENGTH + 1)),
            Err(format!("is {} characters long; the limit is 255", MAX_NAME_LENGTH + 1))
        );
        assert_eq!(
            check_name("bad\0name"),
            Err("contains the control character \\u{0}; use printable characters".to_owned())
        );
        assert!(check_name("two\nlines").is_err());
    }

    #[test]
    fn messages_lose_nul_and_are_cut_with_a_note() {
        assert_eq!(sanitize_message("junk \0 end"), "junk \\0 end");
        let long = "é".repeat(MAX_ERROR_BYTES);
        let cut = sanitize_message(&long);
        assert!(cut.len() <= MAX_ERROR_BYTES, "{}", cut.len());
        assert!(cut.ends_with("more bytes not stored]"), "{}", &cut[cut.len() - 60..]);
        let kept = cut.split("\n... [cut: ").next().unwrap().len();
        assert!(cut.contains(&format!("[cut: {} more bytes", long.len() - kept)));
    }

    #[test]
    fn nesting_is_counted_without_recursion() {
        use serde_json::{Value, json};
        assert_eq!(nesting_depth(&json!(1)), 0);
        assert_eq!(nesting_depth(&json!([[1], {"a": {"b": []}}])), 4);
        let mut deep = Value::Null;
        for _ in 0..10_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(nesting_depth(&deep), MAX_NESTING_DEPTH + 1);
        // Dropping it recursively would overflow a small stack: take it apart first.
        while let Value::Array(mut items) = deep {
            deep = items.pop().unwrap_or_default();
        }
    }

    #[test]
    fn names_are_shown_escaped_and_short() {
        assert_eq!(shown("a\0b"), "a\\0b");
        assert_eq!(shown(&"x".repeat(100)), format!("{}...", "x".repeat(60)));
    }

    #[test]
    fn durations_saturate_as_micros() {
        assert_eq!(micros(Duration::from_millis(3)), 3_000);
        assert_eq!(micros(Duration::MAX), i64::MAX);
    }
}
