//! Graph checks and orderings over task ids: duplicates, missing dependencies, cycles, and the
//! deterministic topological order (ties broken by task id).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::error::WorkflowError;

/// One task as the graph sees it: its id and the ids it depends on.
pub(crate) struct GraphNode<'a> {
    pub id: &'a str,
    pub dependencies: &'a [String],
}

/// Checks the graph and returns the positions of `nodes` in topological order.
///
/// Among tasks that are ready at the same time, the smaller id comes first, so the order depends
/// only on the structure, never on the order the tasks were listed in.
pub(crate) fn topological_order(workflow: &str, nodes: &[GraphNode<'_>]) -> Result<Vec<usize>, WorkflowError> {
    let index = index_by_id(workflow, nodes)?;
    check_dependencies_exist(workflow, nodes, &index)?;

    let mut remaining: Vec<usize> = nodes.iter().map(|node| unique(node.dependencies).len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (position, node) in nodes.iter().enumerate() {
        for dependency in unique(node.dependencies) {
            dependents[index[dependency.as_str()]].push(position);
        }
    }

    let mut ready: BTreeSet<(&str, usize)> = nodes
        .iter()
        .enumerate()
        .filter(|(position, _)| remaining[*position] == 0)
        .map(|(position, node)| (node.id, position))
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some((_, position)) = ready.pop_first() {
        order.push(position);
        for &dependent in &dependents[position] {
            remaining[dependent] -= 1;
            if remaining[dependent] == 0 {
                ready.insert((nodes[dependent].id, dependent));
            }
        }
    }
    if order.len() < nodes.len() {
        return Err(WorkflowError::Cycle { workflow: workflow.to_owned(), path: find_cycle(nodes, &index) });
    }
    Ok(order)
}

/// The dependencies of a node without repeats, in the order first declared.
pub(crate) fn unique(dependencies: &[String]) -> Vec<&String> {
    let mut seen = HashSet::new();
    dependencies.iter().filter(|dependency| seen.insert(dependency.as_str())).collect()
}

fn index_by_id<'a>(workflow: &str, nodes: &[GraphNode<'a>]) -> Result<HashMap<&'a str, usize>, WorkflowError> {
    let mut index = HashMap::with_capacity(nodes.len());
    for (position, node) in nodes.iter().enumerate() {
        if node.id.is_empty() {
            return Err(WorkflowError::EmptyTaskId { workflow: workflow.to_owned() });
        }
        if index.insert(node.id, position).is_some() {
            return Err(WorkflowError::DuplicateTask { workflow: workflow.to_owned(), task: node.id.to_owned() });
        }
    }
    Ok(index)
}

fn check_dependencies_exist(
    workflow: &str,
    nodes: &[GraphNode<'_>],
    index: &HashMap<&str, usize>,
) -> Result<(), WorkflowError> {
    for node in nodes {
        if let Some(missing) = node.dependencies.iter().find(|d| !index.contains_key(d.as_str())) {
            return Err(WorkflowError::MissingDependency {
                workflow: workflow.to_owned(),
                task: node.id.to_owned(),
                dependency: missing.clone(),
                suggestion: closest_id(missing, nodes.iter().map(|n| n.id).filter(|id| *id != node.id)),
            });
        }
    }
    Ok(())
}

/// The candidate closest to `wanted` by edit distance, ties broken by id.
pub(crate) fn closest_id<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    candidates
        .map(|candidate| (strsim::damerau_levenshtein(wanted, candidate), candidate))
        .filter(|&(distance, _)| distance <= likely_typo(wanted))
        .min()
        .map(|(_, candidate)| candidate.to_owned())
}

/// The most edits a misspelling of `wanted` is taken to have: two, or a third of its length.
fn likely_typo(wanted: &str) -> usize {
    (wanted.chars().count() / 3).max(2)
}

/// A cycle as a path of ids in execution order (`a -> b` means `b` depends on `a`), closed by
/// repeating its first id.
fn find_cycle(nodes: &[GraphNode<'_>], index: &HashMap<&str, usize>) -> Vec<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Unvisited,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::Unvisited; nodes.len()];
    let mut starts: Vec<usize> = (0..nodes.len()).collect();
    starts.sort_by_key(|&position| nodes[position].id);

    // Walk dependency edges depth first; the first edge back onto the current path closes a cycle.
    for start in starts {
        if marks[start] != Mark::Unvisited {
            continue;
        }
        let mut path: Vec<usize> = vec![start];
        let mut next_edge: Vec<usize> = vec![0];
        marks[start] = Mark::OnPath;
        while let Some(&current) = path.last() {
            let edge = next_edge.last_mut().expect("one cursor per path entry");
            let dependencies = unique(nodes[current].dependencies);
            if let Some(dependency) = dependencies.get(*edge) {
                *edge += 1;
                let target = index[dependency.as_str()];
                match marks[target] {
                    Mark::OnPath => {
                        let from = path.iter().position(|&p| p == target).expect("target is on the path");
                        // The path runs from dependents to dependencies; reverse it into execution order.
                        let mut cycle: Vec<String> =
                            path[from..].iter().rev().map(|&p| nodes[p].id.to_owned()).collect();
                        // Start at the smallest id so the message does not depend on where the walk began.
                        let smallest = (0..cycle.len()).min_by_key(|&i| &cycle[i]).unwrap_or(0);
                        cycle.rotate_left(smallest);
                        cycle.push(cycle[0].clone());
                        return cycle;
                    }
                    Mark::Unvisited => {
                        marks[target] = Mark::OnPath;
                        path.push(target);
                        next_edge.push(0);
                    }
                    Mark::Done => {}
                }
            } else {
                marks[current] = Mark::Done;
                path.pop();
                next_edge.pop();
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&'static str, &[&'static str])]) -> Vec<(String, Vec<String>)> {
        edges
            .iter()
            .map(|(id, dependencies)| (id.to_string(), dependencies.iter().map(|d| d.to_string()).collect()))
            .collect()
    }

    fn order(edges: &[(&'static str, &[&'static str])]) -> Result<Vec<String>, WorkflowError> {
        let owned = graph(edges);
        let nodes: Vec<_> = owned.iter().map(|(id, dependencies)| GraphNode { id, dependencies }).collect();
        topological_order("test", &nodes).map(|order| order.into_iter().map(|p| owned[p].0.clone()).collect())
    }

    #[test]
    fn ties_are_broken_by_id_whatever_the_listing_order() {
        let expected = ["root", "a", "b", "c", "join"];
        let listed =
            order(&[("join", &["c", "a", "b"]), ("c", &["root"]), ("b", &["root"]), ("a", &["root"]), ("root", &[])]);
        assert_eq!(listed.unwrap(), expected);
        let reversed =
            order(&[("root", &[]), ("a", &["root"]), ("b", &["root"]), ("c", &["root"]), ("join", &["a", "b", "c"])]);
        assert_eq!(reversed.unwrap(), expected);
    }

    #[test]
    fn a_cycle_is_named_as_a_path() {
        let error = order(&[("a", &["c"]), ("b", &["a"]), ("c", &["b"]), ("d", &[])]).unwrap_err();
        assert_eq!(error.to_string(), "workflow `test` has a dependency cycle: a -> b -> c -> a");
    }

    #[test]
    fn a_self_dependency_is_a_cycle() {
        let error = order(&[("a", &["a"])]).unwrap_err();
        assert!(matches!(error, WorkflowError::Cycle { ref path, .. } if path == &["a", "a"]));
    }

    #[test]
    fn a_missing_dependency_suggests_the_closest_id() {
        let error = order(&[("extract", &[]), ("transform", &["extrct"])]).unwrap_err();
        assert_eq!(
            error,
            WorkflowError::MissingDependency {
                workflow: "test".into(),
                task: "transform".into(),
                dependency: "extrct".into(),
                suggestion: Some("extract".into()),
            }
        );
    }

    #[test]
    fn a_missing_dependency_like_no_task_suggests_none() {
        let error = order(&[("extract", &[]), ("transform", &["publish"])]).unwrap_err();
        assert!(matches!(error, WorkflowError::MissingDependency { suggestion: None, .. }), "{error:?}");
        assert!(!error.to_string().contains("did you mean"), "{error}");
    }

    #[test]
    fn duplicates_and_repeated_dependencies() {
        assert!(matches!(
            order(&[("a", &[]), ("a", &[])]).unwrap_err(),
            WorkflowError::DuplicateTask { ref task, .. } if task == "a"
        ));
        assert_eq!(order(&[("a", &[]), ("b", &["a", "a"])]).unwrap(), ["a", "b"]);
    }
}
