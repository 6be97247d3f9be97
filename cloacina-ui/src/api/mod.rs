//! The JSON API under `/api`, and its OpenAPI description at `/api/openapi.json`.

mod executions;
mod model;
mod stream;
mod workflows;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::error::{ApiError, ApiResult, ErrorBody, ErrorDetail};
use crate::server::AppState;
use model::InfoJson;

/// The API's description, from the handlers and types themselves.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cloacina",
        description = "Executions, their tasks, events and logs, workflows and schedules, as stored in a \
                       Cloacina database; and actions on executions (cancel, re-run)."
    ),
    paths(
        info,
        executions::list,
        executions::get_one,
        executions::task,
        executions::logs,
        executions::events,
        stream::stream,
        executions::cancel,
        executions::rerun,
        workflows::list,
        workflows::get_one,
        workflows::schedules,
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
struct Description;

/// The API's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/info", get(info))
        .route("/openapi.json", get(|| async { Json(Description::openapi()) }))
        .route("/executions", get(executions::list))
        .route("/executions/{id}", get(executions::get_one))
        .route("/executions/{id}/tasks/{task_id}", get(executions::task))
        .route("/executions/{id}/logs", get(executions::logs))
        .route("/executions/{id}/events", get(executions::events))
        .route("/executions/{id}/stream", get(stream::stream))
        .route("/executions/{id}/cancel", post(executions::cancel))
        .route("/executions/{id}/rerun", post(executions::rerun))
        .route("/workflows", get(workflows::list))
        .route("/workflows/{name}", get(workflows::get_one))
        .route("/schedules", get(workflows::schedules))
        .fallback(|| async { ApiError::not_found("no such API path: see /api/openapi.json") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
}

/// What the server is: its version, whether it is read-only, the database (without any
/// password) and the workflows it has definitions of.
#[utoipa::path(get, path = "/api/info", responses((status = 200, body = InfoJson)))]
async fn info(State(state): State<AppState>) -> ApiResult<InfoJson> {
    Ok(Json(InfoJson {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        read_only: state.read_only,
        database: state.executor.database().to_owned(),
        registered_workflows: state.executor.registry().names(),
    }))
}
