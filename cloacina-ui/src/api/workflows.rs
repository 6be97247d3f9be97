//! Workflows (registered in the serving process, or seen in stored executions) and schedules.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use cloacina::{ExecutionFilter, Workflow};
use serde_json::{Map, Value};

use super::model::{ScheduleJson, SchedulesJson, SummaryJson, VersionJson, WorkflowJson, WorkflowsJson};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::server::AppState;

/// Executions a workflow's page lists.
const RECENT: usize = 20;

/// Every workflow: those the serving process has definitions of and those stored executions
/// ran, by name, with their versions.
#[utoipa::path(get, path = "/api/workflows", responses((status = 200, body = WorkflowsJson)))]
pub(crate) async fn list(State(state): State<AppState>) -> ApiResult<WorkflowsJson> {
    let registry = state.executor.registry();
    let mut workflows: BTreeMap<String, WorkflowJson> = registry
        .names()
        .into_iter()
        .map(|name| {
            (
                name.clone(),
                WorkflowJson { name, registered: true, description: None, versions: Vec::new(), recent: None },
            )
        })
        .collect();
    for version in state.executor.workflow_versions(None).await? {
        let name = version.workflow_name.clone();
        let entry = workflows.entry(name.clone()).or_insert_with(|| WorkflowJson {
            name,
            registered: false,
            description: None,
            versions: Vec::new(),
            recent: None,
        });
        entry.versions.push(VersionJson::from(&version));
    }
    for workflow in workflows.values_mut() {
        if let Some(definition) = registry.get(&workflow.name) {
            workflow.description = definition.description().map(str::to_owned);
            add_registered_version(workflow, &definition, false);
        }
    }
    Ok(Json(WorkflowsJson { workflows: workflows.into_values().collect() }))
}

/// A workflow: its versions with their task graphs, and its latest executions.
#[utoipa::path(
    get,
    path = "/api/workflows/{name}",
    params(("name" = String, Path, description = "The workflow's name")),
    responses((status = 200, body = WorkflowJson), (status = 404, body = ErrorBody))
)]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> ApiResult<WorkflowJson> {
    let Path(name) = name.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let definition = state.executor.registry().get(&name);
    let stored = state.executor.workflow_versions(Some(&name)).await?;
    if definition.is_none() && stored.is_empty() {
        let shown: String = name.chars().take(80).collect();
        return Err(ApiError::not_found(format!(
            "no workflow {shown:?}: none is registered here under that name and no stored execution ran one"
        )));
    }
    let mut workflow = WorkflowJson {
        name: name.clone(),
        registered: definition.is_some(),
        description: definition.as_ref().and_then(|definition| definition.description().map(str::to_owned)),
        versions: Vec::new(),
        recent: None,
    };
    for version in &stored {
        let mut json = VersionJson::from(version);
        json.graph = state.executor.workflow_graph(&name, &version.version).await?.map(graph_json);
        workflow.versions.push(json);
    }
    if let Some(definition) = &definition {
        add_registered_version(&mut workflow, definition, true);
        for version in workflow.versions.iter_mut().filter(|version| version.graph.is_none()) {
            if let Some(kept) = state.executor.registry().get_version(&name, &version.version) {
                version.graph = Some(registered_graph(&kept));
            }
        }
    }
    let recent = state.executor.list_executions(ExecutionFilter::new().workflow(name).limit(RECENT)).await?;
    workflow.recent = Some(recent.iter().map(SummaryJson::from).collect());
    Ok(Json(workflow))
}

/// The schedules stored in the database.
#[utoipa::path(get, path = "/api/schedules", responses((status = 200, body = SchedulesJson)))]
pub(crate) async fn schedules(State(state): State<AppState>) -> ApiResult<SchedulesJson> {
    let schedules = state.executor.list_schedules().await?;
    Ok(Json(SchedulesJson { schedules: schedules.iter().map(ScheduleJson::from).collect() }))
}

/// Adds the registered definition's version when no stored execution ran it yet (first, as the
/// newest), with its graph if asked.
fn add_registered_version(workflow: &mut WorkflowJson, definition: &Workflow, with_graph: bool) {
    if workflow.versions.iter().any(|version| version.version == definition.version()) {
        return;
    }
    let version = VersionJson {
        version: definition.version().to_owned(),
        executions: 0,
        first_created_at: None,
        last_created_at: None,
        graph: with_graph.then(|| registered_graph(definition)),
    };
    workflow.versions.insert(0, version);
}

/// A registered definition's graph, as executions store it.
fn registered_graph(definition: &Workflow) -> Map<String, Value> {
    match serde_json::from_str::<Value>(definition.dependency_listing()) {
        Ok(Value::Object(graph)) => graph,
        _ => Map::new(),
    }
}

/// A stored graph as a JSON object from task id to dependencies, in the order the tasks run.
fn graph_json(graph: Vec<(String, Vec<String>)>) -> Map<String, Value> {
    graph
        .into_iter()
        .map(|(task, dependencies)| (task, Value::Array(dependencies.into_iter().map(Value::String).collect())))
        .collect()
}
