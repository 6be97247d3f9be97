//! The content version of a workflow: a SHA-256 over a canonical description of its structure.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::TaskNode;

/// Hashes the workflow's name and, per task in topological order, its id, its dependencies'
/// ids, retry policy, timeout and trigger rule.
pub(super) fn content_version(name: &str, nodes: &[TaskNode]) -> String {
    let tasks: Vec<_> = nodes
        .iter()
        .map(|node| {
            json!({
                "id": node.id,
                "dependencies": node.dependencies.iter().map(|&d| nodes[d].id.as_str()).collect::<Vec<_>>(),
                "retry_policy": node.retry_policy,
                "timeout_ms": node.timeout.map(|t| t.as_millis() as u64),
                "trigger_rule": node.trigger_rule,
            })
        })
        .collect();
    let canonical = json!({ "name": name, "tasks": tasks }).to_string();
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}
