//! The checks `workflow!` makes on the tasks it gathered: duplicate ids, dependencies no listed
//! task provides, and cycles. Messages read like the engine's.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::LitStr;

/// One gathered task.
pub struct Node {
    pub id: LitStr,
    pub dependencies: Vec<LitStr>,
    /// Where the task is listed in `tasks: [...]`.
    pub listed: Span,
}

/// Every problem of the graph, each at the span of the code to fix. In an `open` graph (one that
/// also has tasks known only when it runs: Python tasks) a dependency no listed task provides
/// may be one of those; the engine checks it when the workflow is built.
pub fn check(workflow: &str, nodes: &[Node], open: bool) -> Result<(), syn::Error> {
    let mut errors: Vec<syn::Error> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (position, node) in nodes.iter().enumerate() {
        if node.id.value().is_empty() {
            errors.push(syn::Error::new(node.id.span(), "a task id must not be empty"));
        } else if index.insert(node.id.value(), position).is_some() {
            errors.push(syn::Error::new(
                node.listed,
                format!(
                    "workflow `{workflow}` has two tasks with the id `{}`; task ids must be unique",
                    node.id.value()
                ),
            ));
        }
    }
    for node in nodes {
        for dependency in &node.dependencies {
            if !open && !index.contains_key(&dependency.value()) {
                let suggestion = closest(
                    &dependency.value(),
                    nodes.iter().map(|n| n.id.value()).filter(|id| *id != node.id.value()),
                )
                .map(|id| format!("; did you mean `{id}`?"))
                .unwrap_or_default();
                errors.push(syn::Error::new(
                    dependency.span(),
                    format!(
                        "task `{}` depends on `{}`, which is not a task of workflow `{workflow}`{suggestion}",
                        node.id.value(),
                        dependency.value()
                    ),
                ));
            }
        }
    }
    if errors.is_empty()
        && let Some(cycle) = find_cycle(nodes, &index)
    {
        let first = &nodes[index[&cycle[0]]];
        errors.push(syn::Error::new(
            first.listed,
            format!("workflow `{workflow}` has a dependency cycle: {}", cycle.join(" -> ")),
        ));
    }
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(()),
        Some(mut first) => {
            errors.for_each(|error| first.combine(error));
            Err(first)
        }
    }
}

/// The listed id closest to `wanted`, if it is close enough to be a likely misspelling: at most
/// two edits away, or a third of `wanted`'s length.
fn closest(wanted: &str, candidates: impl Iterator<Item = String>) -> Option<String> {
    let limit = (wanted.chars().count() / 3).max(2);
    candidates
        .map(|candidate| (strsim::damerau_levenshtein(wanted, &candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, id)| id)
}

/// A cycle as ids in execution order (`a -> b`: `b` depends on `a`), starting at its smallest id
/// and closed by repeating it.
fn find_cycle(nodes: &[Node], index: &HashMap<String, usize>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unvisited,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::Unvisited; nodes.len()];
    let mut starts: Vec<usize> = (0..nodes.len()).collect();
    starts.sort_by_key(|&position| nodes[position].id.value());
    for start in starts {
        if marks[start] != Mark::Unvisited {
            continue;
        }
        let mut path = vec![start];
        let mut cursors = vec![0_usize];
        marks[start] = Mark::OnPath;
        while let Some(&current) = path.last() {
            let cursor = cursors.last_mut()?;
            match nodes[current].dependencies.get(*cursor) {
                Some(dependency) => {
                    *cursor += 1;
                    // Not a gathered task: a task of an open graph's, which the engine checks.
                    let Some(&target) = index.get(&dependency.value()) else { continue };
                    match marks[target] {
                        Mark::OnPath => {
                            let from = path.iter().position(|&p| p == target)?;
                            let mut cycle: Vec<String> =
                                path[from..].iter().rev().map(|&p| nodes[p].id.value()).collect();
                            let smallest = (0..cycle.len()).min_by_key(|&i| cycle[i].clone()).unwrap_or(0);
                            cycle.rotate_left(smallest);
                            cycle.push(cycle[0].clone());
                            return Some(cycle);
                        }
                        Mark::Unvisited => {
                            marks[target] = Mark::OnPath;
                            path.push(target);
                            cursors.push(0);
                        }
                        Mark::Done => {}
                    }
                }
                None => {
                    marks[current] = Mark::Done;
                    path.pop();
                    cursors.pop();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, dependencies: &[&str]) -> Node {
        let literal = |text: &str| LitStr::new(text, Span::call_site());
        Node {
            id: literal(id),
            dependencies: dependencies.iter().map(|d| literal(d)).collect(),
            listed: Span::call_site(),
        }
    }

    #[test]
    fn a_missing_dependency_suggests_the_closest_id() {
        let error = check("etl", &[node("extract", &[]), node("load", &["extrct"])], false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "task `load` depends on `extrct`, which is not a task of workflow `etl`; did you mean `extract`?"
        );
    }

    #[test]
    fn a_missing_dependency_like_no_task_suggests_none() {
        let error = check("etl", &[node("extract", &[]), node("load", &["publish"])], false).unwrap_err();
        assert_eq!(error.to_string(), "task `load` depends on `publish`, which is not a task of workflow `etl`");
    }

    #[test]
    fn a_cycle_is_named_as_a_path() {
        let error = check("loop", &[node("b", &["a"]), node("c", &["b"]), node("a", &["c"])], false).unwrap_err();
        assert_eq!(error.to_string(), "workflow `loop` has a dependency cycle: a -> b -> c -> a");
    }

    #[test]
    fn a_duplicate_id_is_refused() {
        let error = check("twice", &[node("a", &[]), node("a", &[])], false).unwrap_err();
        assert!(error.to_string().contains("two tasks with the id `a`"));
        assert!(check("fine", &[node("a", &[]), node("b", &["a"])], false).is_ok());
    }

    #[test]
    fn an_open_graph_leaves_unknown_dependencies_to_the_engine() {
        let nodes = [node("extract", &[]), node("load", &["clean"]), node("report", &["load", "clean"])];
        assert!(check("hybrid", &nodes, true).is_ok());
        let cycle = [node("a", &["b", "python_task"]), node("b", &["a"])];
        let error = check("hybrid", &cycle, true).unwrap_err();
        assert_eq!(error.to_string(), "workflow `hybrid` has a dependency cycle: a -> b -> a");
    }
}
