//! The content version of a workflow: a SHA-256 over a canonical description of its structure.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::TaskNode;
use crate::mapping::Mapping;

/// Hashes the workflow's name and, per task in topological order, its id, its dependencies'
/// ids, retry policy, timeout and trigger rule, and its mapping where it has one.
pub(super) fn content_version(name: &str, nodes: &[TaskNode]) -> String {
    let tasks: Vec<_> = nodes
        .iter()
        .map(|node| {
            let mut task = json!({
                "id": node.id,
                "dependencies": node.dependencies.iter().map(|&d| nodes[d].id.as_str()).collect::<Vec<_>>(),
                "retry_policy": node.retry_policy,
                "timeout_ms": node.timeout.map(|t| t.as_millis() as u64),
                "trigger_rule": node.trigger_rule,
            });
            if let Some(mapping) = &node.mapping {
                task["mapping"] = mapping_description(mapping);
            }
            task
        })
        .collect();
    let canonical = json!({ "name": name, "tasks": tasks }).to_string();
    sha256_hex(&canonical)
}

/// Hashes the workflow's shape: per task in topological order, its id and its dependencies'
/// ids, and the list a mapped task maps over with its `max_parallel`. Two versions with the same shape differ only in
/// settings (retries, timeouts, trigger rules), so an execution of one can be run with the other.
pub(super) fn content_shape(nodes: &[TaskNode]) -> String {
    let tasks: Vec<_> = nodes
        .iter()
        .map(|node| {
            let dependencies: Vec<&str> = node.dependencies.iter().map(|&d| nodes[d].id.as_str()).collect();
            match &node.mapping {
                // Its rows differ from an unmapped task's (it has instances), and which of them
                // are made ready as others finish depends on its bound.
                Some(Mapping { key, max_parallel: Some(limit), .. }) => json!([node.id, dependencies, key, limit]),
                Some(mapping) => json!([node.id, dependencies, mapping.key]),
                None => json!([node.id, dependencies]),
            }
        })
        .collect();
    sha256_hex(&serde_json::Value::Array(tasks).to_string())
}

/// A mapping as hashed into the version.
fn mapping_description(mapping: &Mapping) -> serde_json::Value {
    json!({"key": mapping.key, "max_parallel": mapping.max_parallel, "outputs": mapping.outputs})
}

fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Context, FunctionTask, Workflow};

    #[test]
    fn a_version_is_the_sha256_of_the_canonical_structure() {
        let workflow = Workflow::builder("pinned")
            .task(FunctionTask::new("only", |context: Context| async move { Ok(context) }))
            .build()
            .unwrap();
        // The same workflow has this version in every build: executions stored by one release
        // are recognised by the next.
        assert_eq!(workflow.version(), "09fd722ccac0f8f3fac5af041da4e1397aa536141608f79338315df8a99c0b7b");
        // The well-known digest of "abc", so that the algorithm is SHA-256 and not another.
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
