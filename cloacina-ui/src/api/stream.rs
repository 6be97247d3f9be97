//! An execution's events as they are stored, over Server-Sent Events: what makes a page follow
//! a running execution without reloading.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use uuid::Uuid;

use super::executions::execution_id;
use super::model::{EventJson, StatusJson};
use crate::error::{ApiError, ErrorBody};
use crate::server::AppState;

/// Events read per query.
const PAGE: i64 = 256;

/// Where to start.
#[derive(Debug, Deserialize)]
pub(crate) struct AfterQuery {
    /// Only events after this sequence number.
    after: Option<String>,
}

/// Where a stream is.
struct Following {
    state: AppState,
    execution_id: Uuid,
    /// The sequence number of the last event sent.
    after: i64,
    /// Whether the stream has ended.
    ended: bool,
}

/// The execution's stored events from the start (or after the `Last-Event-ID` a reconnecting
/// browser sends), then each new one as it is stored; once the execution has finished and its
/// last event was sent, an `end` event with its status, and the stream closes.
#[utoipa::path(
    get,
    path = "/api/executions/{id}/stream",
    params(
        ("id" = Uuid, Path, description = "The execution's id"),
        ("last-event-id" = Option<String>, Header, description = "Resume after this event's sequence number"),
        ("after" = Option<i64>, Query, description = "Start after this event's sequence number (the header wins)")
    ),
    responses(
        (status = 200, content_type = "text/event-stream", description = "`execution-event` events (data: an event as /events answers it; id: its sequence number), then one `end` event (data: the final status)"),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    query: Result<Query<AfterQuery>, QueryRejection>,
) -> Response {
    let execution_id = match execution_id(id) {
        Ok(id) => id,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = state.executor.status(execution_id).await {
        return ApiError::from(error).into_response();
    }
    let Ok(Query(query)) = query else {
        return ApiError::bad_request("after must be a sequence number (0 or more)").into_response();
    };
    let asked = query.after.as_deref().map(str::trim).filter(|text| !text.is_empty());
    let after = match asked.map(|text| text.parse::<i64>()) {
        None => 0,
        Some(Ok(after)) if after >= 0 => after,
        Some(_) => return ApiError::bad_request("after must be a sequence number (0 or more)").into_response(),
    };
    let after = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<i64>().ok())
        .filter(|after| *after >= 0)
        .unwrap_or(after);
    let following = Following { state, execution_id, after, ended: false };
    Sse::new(events(following)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

fn events(following: Following) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    stream::unfold(following, |mut following| async move {
        let batch = next_batch(&mut following).await?;
        Some((stream::iter(batch.into_iter().map(Ok)), following))
    })
    .flatten()
}

/// The next events to send: new stored events, or the end; `None` once ended (or when the
/// server stops). Waits while there is nothing new.
async fn next_batch(following: &mut Following) -> Option<Vec<SseEvent>> {
    let (executor, id) = (&following.state.executor, following.execution_id);
    loop {
        if following.ended || following.state.stopping.is_cancelled() {
            return None;
        }
        // The status is read before the events: if it says finished, every event was stored
        // before the read, and an empty read after it means none is left.
        let status = match executor.status(id).await {
            Ok(status) => status,
            Err(error) => return Some(vec![failure(following, &error.to_string())]),
        };
        match executor.events_after(id, following.after, PAGE).await {
            Ok(events) if !events.is_empty() => {
                following.after = events.last().and_then(|event| event.sequence).unwrap_or(following.after);
                return Some(events.iter().map(|event| sse_event(&EventJson::from(event))).collect());
            }
            Ok(_) if status.is_finished() => {
                following.ended = true;
                let end = StatusJson { status: status.to_string() };
                return Some(vec![SseEvent::default().event("end").json_data(end).unwrap_or_default()]);
            }
            Ok(_) => {}
            Err(error) => return Some(vec![failure(following, &error.to_string())]),
        }
        tokio::select! {
            _ = tokio::time::sleep(following.state.poll_interval) => {}
            _ = following.state.stopping.cancelled() => return None,
        }
    }
}

fn sse_event(event: &EventJson) -> SseEvent {
    let message = SseEvent::default().event("execution-event").json_data(event).unwrap_or_default();
    match event.sequence {
        Some(sequence) => message.id(sequence.to_string()),
        None => message,
    }
}

/// Ends the stream with a `stream-error` event (the browser reconnects, resuming after the last
/// event it got).
fn failure(following: &mut Following, message: &str) -> SseEvent {
    following.ended = true;
    tracing::warn!(execution_id = %following.execution_id, %message, "a live view of an execution failed");
    SseEvent::default().event("stream-error").data(message.replace(['\r', '\n'], " "))
}
