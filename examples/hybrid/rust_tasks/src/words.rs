//! The tasks: counting the words of a set of documents (the CPU-heavy step, also written in
//! Python in `../../steps.py` to compare) and picking the most frequent ones.

use std::collections::HashMap;

use chrono::Utc;
use cloacina::{Context, TaskError, task};
use serde_json::{Map, Value};

/// Counts every word of the `documents` (a list of strings), lower-cased, into `counts` (an
/// object of word to count), and the words in all into `total_words`.
#[task(dependencies = ["load_documents"])]
pub async fn count_words(context: &mut Context) -> Result<(), TaskError> {
    let documents = context
        .get("documents")
        .and_then(Value::as_array)
        .ok_or_else(|| TaskError::permanent("`documents` must be a list of strings"))?;
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut total = 0_u64;
    for document in documents.iter().filter_map(Value::as_str) {
        for word in document.split(|character: char| !character.is_alphanumeric()).filter(|word| !word.is_empty()) {
            *counts.entry(word.to_lowercase()).or_default() += 1;
            total += 1;
        }
    }
    let counts: Map<String, Value> = counts.into_iter().map(|(word, count)| (word, Value::from(count))).collect();
    context.set("counts", Value::Object(counts));
    context.set("total_words", total);
    Ok(())
}

/// The `top` (default 10) most frequent words of `counts`, most frequent first (ties by word),
/// as `top_words`, with the time they were picked as `ranked_at` (a datetime in Python).
#[task(dependencies = ["count_words"])]
pub async fn top_words(context: &mut Context) -> Result<(), TaskError> {
    let limit = context.get("top").and_then(Value::as_u64).unwrap_or(10);
    let counts = context
        .get("counts")
        .and_then(Value::as_object)
        .ok_or_else(|| TaskError::permanent("`counts` is missing: `count_words` writes it"))?;
    let mut ranked: Vec<(&String, u64)> =
        counts.iter().filter_map(|(word, count)| Some((word, count.as_u64()?))).collect();
    ranked.sort_by(|left, right| right.1.cmp(&left.1).then_with(|| left.0.cmp(right.0)));
    let top: Vec<Value> = ranked
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|(word, count)| serde_json::json!([word, count]))
        .collect();
    context.set("top_words", top);
    context.set_as("ranked_at", &Utc::now())?;
    Ok(())
}
