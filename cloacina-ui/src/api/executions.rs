//! Executions: the listing, one execution whole, a task, logs, events; cancel and re-run.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use cloacina::{ExecutionCursor, ExecutionFilter, ExecutionStatus};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::model::{
    CreatedJson, EventJson, EventsJson, ExecutionJson, LogJson, LogsJson, PageJson, StatusJson, SummaryJson,
    TaskDetailJson, TaskJson, task_input,
};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::server::AppState;

/// Executions on a page unless `limit` says otherwise.
const DEFAULT_PAGE: usize = 50;

/// Executions on a page at most.
const MAX_PAGE: usize = 500;

/// Events answered at most per request.
const MAX_EVENTS: i64 = 1000;

/// Which executions to list. Empty values count as absent (as a form sends them).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only executions of this workflow.
    workflow: Option<String>,
    /// Only executions in this state: Pending, Running, Completed, Failed or Cancelled.
    status: Option<String>,
    /// Only executions created at or after this time (RFC 3339).
    since: Option<String>,
    /// Only executions created before this time (RFC 3339).
    until: Option<String>,
    /// At most this many (1 to 500; 50 by default).
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Executions, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/executions",
    params(ListQuery),
    responses((status = 200, body = PageJson), (status = 400, body = ErrorBody))
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<PageJson> {
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let size = match given(&query.limit) {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|size| (1..=MAX_PAGE).contains(size))
            .ok_or_else(|| ApiError::bad_request(format!("limit {text:?} is not a number from 1 to {MAX_PAGE}")))?,
    };
    let mut filter = ExecutionFilter::new().limit(size + 1);
    if let Some(workflow) = given(&query.workflow) {
        filter = filter.workflow(workflow);
    }
    if let Some(status) = given(&query.status) {
        filter = filter.status(parse_status(status)?);
    }
    if let Some(since) = given(&query.since) {
        filter = filter.created_since(parse_time("since", since)?);
    }
    if let Some(until) = given(&query.until) {
        filter = filter.created_before(parse_time("until", until)?);
    }
    if let Some(cursor) = given(&query.cursor) {
        filter =
            filter.after(cursor.parse::<ExecutionCursor>().map_err(|error| ApiError::bad_request(error.to_string()))?);
    }
    let mut executions = state.executor.list_executions(filter).await?;
    let more = executions.len() > size;
    executions.truncate(size);
    let next_cursor = more.then(|| executions.last().map(|last| ExecutionCursor::of(last).to_string())).flatten();
    Ok(Json(PageJson { executions: executions.iter().map(SummaryJson::from).collect(), next_cursor }))
}

/// An execution whole: its state, tasks with their attempts and outputs, and its initial and
/// current context.
#[utoipa::path(
    get,
    path = "/api/executions/{id}",
    params(("id" = Uuid, Path, description = "The execution's id")),
    responses((status = 200, body = ExecutionJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<ExecutionJson> {
    let id = execution_id(id)?;
    let result = state.executor.get_execution(id).await?;
    Ok(Json(ExecutionJson::from(&result)))
}

/// One task of an execution: its attempts, its input and what it logged.
#[utoipa::path(
    get,
    path = "/api/executions/{id}/tasks/{task_id}",
    params(
        ("id" = Uuid, Path, description = "The execution's id"),
        ("task_id" = String, Path, description = "The task's id (`name[index]` for an instance of a mapped task)")
    ),
    responses((status = 200, body = TaskDetailJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub(crate) async fn task(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<TaskDetailJson> {
    let Path((id, task_id)) = path.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let id = parse_id(&id)?;
    let result = state.executor.get_execution(id).await?;
    let Some(found) = result.task(&task_id) else {
        return Err(ApiError::not_found(format!("execution `{id}` has no task {task_id:?}")));
    };
    Ok(Json(TaskDetailJson {
        task: TaskJson::from(found),
        input: task_input(&result, &task_id),
        logs: found.logs.iter().map(LogJson::from).collect(),
    }))
}

/// Which logs to answer.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogsQuery {
    /// Only this task's.
    task: Option<String>,
}

/// What an execution's tasks logged, by task, attempt and time.
#[utoipa::path(
    get,
    path = "/api/executions/{id}/logs",
    params(("id" = Uuid, Path, description = "The execution's id"), LogsQuery),
    responses((status = 200, body = LogsJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub(crate) async fn logs(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<LogsQuery>, QueryRejection>,
) -> ApiResult<LogsJson> {
    let id = execution_id(id)?;
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    // An unknown execution is a 404, not an empty list.
    state.executor.status(id).await?;
    let entries = state.executor.logs(id, given(&query.task)).await?;
    Ok(Json(LogsJson { logs: entries.iter().map(LogJson::from).collect() }))
}

/// Which events to answer.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// Only events after this sequence number (0 by default: from the first).
    after: Option<String>,
    /// At most this many (1 to 1000; 1000 by default).
    limit: Option<String>,
}

/// An execution's stored events, in order.
#[utoipa::path(
    get,
    path = "/api/executions/{id}/events",
    params(("id" = Uuid, Path, description = "The execution's id"), EventsQuery),
    responses((status = 200, body = EventsJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub(crate) async fn events(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> ApiResult<EventsJson> {
    let id = execution_id(id)?;
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let after = match given(&query.after) {
        None => 0,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|after| *after >= 0)
            .ok_or_else(|| ApiError::bad_request(format!("after {text:?} is not a sequence number (0 or more)")))?,
    };
    let limit = match given(&query.limit) {
        None => MAX_EVENTS,
        Some(text) => {
            text.parse::<i64>().ok().filter(|limit| (1..=MAX_EVENTS).contains(limit)).ok_or_else(|| {
                ApiError::bad_request(format!("limit {text:?} is not a number from 1 to {MAX_EVENTS}"))
            })?
        }
    };
    state.executor.status(id).await?;
    let events = state.executor.events_after(id, after, limit).await?;
    Ok(Json(EventsJson { events: events.iter().map(EventJson::from).collect() }))
}

/// Cancels an execution that has not finished.
#[utoipa::path(
    post,
    path = "/api/executions/{id}/cancel",
    params(
        ("id" = Uuid, Path, description = "The execution's id"),
        ("x-cloacina-action" = String, Header, description = "Must be `1`")
    ),
    responses(
        (status = 200, body = StatusJson),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "It had already finished")
    )
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusJson> {
    let id = execution_id(id)?;
    let before = state.executor.status(id).await?;
    if before.is_finished() {
        return Err(ApiError::conflict(format!("execution `{id}` has already finished ({before})")));
    }
    let status = state.executor.cancel(id).await?;
    Ok(Json(StatusJson { status: status.to_string() }))
}

/// Re-runs a failed or cancelled execution from where it failed: a new execution that keeps
/// the outputs of the tasks that completed. The serving process must have the workflow's
/// definition (`--import`).
#[utoipa::path(
    post,
    path = "/api/executions/{id}/rerun",
    params(
        ("id" = Uuid, Path, description = "The execution's id"),
        ("x-cloacina-action" = String, Header, description = "Must be `1`")
    ),
    responses(
        (status = 200, body = CreatedJson),
        (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "It cannot be re-run (not failed or cancelled, or its workflow is not registered here)")
    )
)]
pub(crate) async fn rerun(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<CreatedJson> {
    let id = execution_id(id)?;
    let handle = state.executor.rerun(id).await?;
    Ok(Json(CreatedJson { id: handle.execution_id() }))
}

/// A query value, unless absent or empty.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|text| !text.is_empty())
}

/// The execution id of a path.
pub(crate) fn execution_id(path: Result<Path<String>, PathRejection>) -> Result<Uuid, ApiError> {
    let Path(text) = path.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    parse_id(&text)
}

fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| {
        let shown: String = text.chars().take(80).collect();
        ApiError::bad_request(format!("{shown:?} is not an execution id (a UUID such as 0193a5c2-...)"))
    })
}

fn parse_status(text: &str) -> Result<ExecutionStatus, ApiError> {
    const STATUSES: [ExecutionStatus; 5] = [
        ExecutionStatus::Pending,
        ExecutionStatus::Running,
        ExecutionStatus::Completed,
        ExecutionStatus::Failed,
        ExecutionStatus::Cancelled,
    ];
    STATUSES.into_iter().find(|status| status.as_str().eq_ignore_ascii_case(text)).ok_or_else(|| {
        ApiError::bad_request(format!("status {text:?} is not one of Pending, Running, Completed, Failed, Cancelled"))
    })
}

fn parse_time(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text).map(|time| time.with_timezone(&Utc)).map_err(|_| {
        ApiError::bad_request(format!("{name} {text:?} is not a time in RFC 3339 form, such as 2026-12-05T18:00:00Z"))
    })
}
