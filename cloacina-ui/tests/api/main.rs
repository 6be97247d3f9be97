//! The JSON API, endpoint by endpoint, with good and bad input, on SQLite and PostgreSQL.

mod security;
mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use cloacina::{Context, ExecutionStatus, FunctionTask, NewSchedule, Workflow};
use cloacina_ui::UiOptions;
use serde_json::{Value, json};
use support::{Backend, Site, assert_error, failing, gate, noop, writing};

backend_tests!(
    executions_are_listed_a_page_at_a_time_and_filtered,
    an_execution_its_tasks_logs_and_events_are_answered,
    the_stream_sends_each_event_then_the_end,
    a_live_view_ends_when_the_program_stops,
    a_running_execution_is_cancelled_and_a_failed_one_rerun,
    workflows_and_schedules_are_answered,
    bad_input_is_answered_with_a_json_error,
);

async fn executions_are_listed_a_page_at_a_time_and_filtered(backend: Backend) {
    let Some(site) = Site::open(backend, UiOptions::default()).await else { return };
    let good = Workflow::builder("good").task(noop("a", &[])).build().unwrap();
    let bad = Workflow::builder("bad").task(failing("a", &[])).build().unwrap();
    let mut ids = Vec::new();
    for index in 0..7 {
        let workflow = if index % 3 == 0 { &bad } else { &good };
        ids.push(site.executor.execute(workflow.clone(), Context::new()).await.unwrap().execution_id.to_string());
    }
    ids.reverse();

    let mut seen = Vec::new();
    let mut path = "/api/executions?limit=3".to_owned();
    loop {
        let (status, page) = site.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let executions = page["executions"].as_array().unwrap();
        assert!(executions.len() <= 3);
        seen.extend(executions.iter().map(|execution| execution["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/executions?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "the pages hold every execution once, newest first");

    let (_, failed) = site.get("/api/executions?status=failed&workflow=bad").await;
    let failed = failed["executions"].as_array().unwrap();
    assert_eq!(failed.len(), 3);
    assert!(failed.iter().all(|execution| execution["status"] == "Failed" && execution["workflow"] == "bad"));
    assert_eq!(failed[0]["error"], "task `a` failed: it broke");
    let (_, first) = site.get("/api/executions?limit=1").await;
    let created = first["executions"][0]["created_at"].as_str().unwrap().to_owned();
    let encoded = created.replace('+', "%2B");
    let (_, since) = site.get(&format!("/api/executions?since={encoded}")).await;
    let (_, until) = site.get(&format!("/api/executions?until={encoded}&workflow=&status=")).await;
    assert_eq!(since["executions"].as_array().unwrap().len(), 1);
    assert_eq!(until["executions"].as_array().unwrap().len(), 6, "empty values count as absent");
    site.executor.shutdown().await;
}

async fn an_execution_its_tasks_logs_and_events_are_answered(backend: Backend) {
    let Some(site) = Site::open(backend, UiOptions::default()).await else { return };
    let logging = FunctionTask::new("report", |context: Context| async move {
        tracing::info!("reporting {} keys", context.len());
        Ok(context)
    })
    .depends_on(["load"]);
    let workflow = Workflow::builder("reporting")
        .task(writing("load", &[], "rows", json!([1, 2, 3])))
        .task(logging)
        .task(writing("note", &["report"], "note", json!("<script>alert(1)</script>")))
        .build()
        .unwrap();
    let initial = Context::from_value(json!({"day": "2026-12-05"})).unwrap();
    let id = site.executor.execute(workflow, initial).await.unwrap().execution_id;

    let (status, execution) = site.get(&format!("/api/executions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((execution["status"].as_str(), execution["workflow"].as_str()), (Some("Completed"), Some("reporting")));
    assert_eq!(execution["initial_context"], json!({"day": "2026-12-05"}));
    assert_eq!(execution["context"]["note"], "<script>alert(1)</script>", "values are data, given as they are");
    let tasks: Vec<&str> =
        execution["tasks"].as_array().unwrap().iter().map(|task| task["id"].as_str().unwrap()).collect();
    assert_eq!(tasks, ["load", "report", "note"]);
    let note = &execution["tasks"][2];
    assert_eq!(note["dependencies"], json!(["report"]));
    assert_eq!(note["attempt_history"][0]["status"], "Completed");
    assert_eq!(note["output"], json!({"note": "<script>alert(1)</script>"}));

    let (status, detail) = site.get(&format!("/api/executions/{id}/tasks/note")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["input"], json!({"day": "2026-12-05", "rows": [1, 2, 3]}), "the ancestors' writes");
    assert_eq!(detail["task"]["id"], "note");
    let (_, report) = site.get(&format!("/api/executions/{id}/tasks/report")).await;
    let messages: Vec<&str> =
        report["logs"].as_array().unwrap().iter().filter_map(|log| log["message"].as_str()).collect();
    assert_eq!(messages, ["reporting 2 keys"]);

    let (_, logs) = site.get(&format!("/api/executions/{id}/logs?task=report")).await;
    assert_eq!(logs["logs"][0]["level_name"], "INFO");
    let (_, none) = site.get(&format!("/api/executions/{id}/logs?task=load")).await;
    assert_eq!(none["logs"], json!([]));

    let (_, events) = site.get(&format!("/api/executions/{id}/events")).await;
    let events = events["events"].as_array().unwrap();
    let sequences: Vec<i64> = events.iter().map(|event| event["sequence"].as_i64().unwrap()).collect();
    assert_eq!(sequences, (1..=sequences.len() as i64).collect::<Vec<_>>());
    assert_eq!(events.first().unwrap()["kind"], "ExecutionCreated");
    assert_eq!(events.last().unwrap()["kind"], "ExecutionCompleted");
    let (_, later) = site.get(&format!("/api/executions/{id}/events?after=2&limit=2")).await;
    let later: Vec<i64> =
        later["events"].as_array().unwrap().iter().map(|event| event["sequence"].as_i64().unwrap()).collect();
    assert_eq!(later, [3, 4]);
    site.executor.shutdown().await;
}

/// A program serving the router stops: the live view of an execution that still runs ends
/// (without its `end` event), so that the program's graceful shutdown does not wait for it.
async fn a_live_view_ends_when_the_program_stops(backend: Backend) {
    let Some(site) = Site::open(backend, UiOptions::default()).await else { return };
    let (gate_task, open) = gate("gate");
    let workflow = Workflow::builder("held").task(gate_task).build().unwrap();
    let handle = site.executor.start(workflow, Context::new()).await.unwrap();
    let path = format!("/api/executions/{}/stream", handle.execution_id());
    let stopping = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        site.stopping.cancel();
    };
    // `request` fails the test if the answer does not end within its time limit.
    let ((status, _, body), ()) = tokio::join!(site.request(Method::GET, &path, &[]), stopping);
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains("event: end"), "the execution still runs: {text}");
    assert!(!site.executor.status(handle.execution_id()).await.unwrap().is_finished());
    open.send(()).unwrap();
    handle.wait().await.unwrap();
    site.executor.shutdown().await;
}

async fn the_stream_sends_each_event_then_the_end(backend: Backend) {
    let Some(site) = Site::open(backend, UiOptions::default()).await else { return };
    let (gate_task, open) = gate("gate");
    let workflow = Workflow::builder("gated").task(gate_task).task(noop("after", &["gate"])).build().unwrap();
    let handle = site.executor.start(workflow, Context::new()).await.unwrap();
    let id = handle.execution_id();
    // The stream is read while the execution runs: it ends only after the gate opens.
    let reading = {
        let path = format!("/api/executions/{id}/stream");
        let site = &site;
        async move { site.request(Method::GET, &path, &[]).await }
    };
    let opening = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        open.send(()).unwrap();
    };
    let ((status, headers, body), ()) = tokio::join!(reading, opening);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/event-stream");
    let text = String::from_utf8(body).unwrap();
    let kinds: Vec<Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str::<Value>(data).unwrap())
        .collect();
    let stored = site.executor.events(id).await.unwrap();
    assert_eq!(kinds.len(), stored.len() + 1, "every stored event, then the end: {text}");
    for (sent, event) in kinds.iter().zip(&stored) {
        assert_eq!(sent["kind"], event.kind.to_string());
    }
    assert_eq!(kinds.last().unwrap(), &json!({"status": "Completed"}));
    assert!(text.contains("event: end"), "{text}");

    // A browser that reconnects resumes after the last event it got.
    let last = stored.len().to_string();
    let (_, _, resumed) =
        site.request(Method::GET, &format!("/api/executions/{id}/stream"), &[("last-event-id", &last)]).await;
    let resumed = String::from_utf8(resumed).unwrap();
    assert_eq!(resumed.matches("data: ").count(), 1, "only the end: {resumed}");
    site.executor.shutdown().await;
}

async fn a_running_execution_is_cancelled_and_a_failed_one_rerun(backend: Backend) {
    let Some(site) = Site::open(backend, UiOptions::default()).await else { return };
    let waiting = FunctionTask::new("wait", |context: Context| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(context)
    });
    let slow = Workflow::builder("slow").task(waiting).build().unwrap();
    let handle = site.executor.start(slow, Context::new()).await.unwrap();
    let id = handle.execution_id();
    let (status, answer) = site.act(&format!("/api/executions/{id}/cancel")).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::OK, Some("Cancelled")));
    assert_eq!(handle.wait().await.unwrap().status, ExecutionStatus::Cancelled);
    let again = site.act(&format!("/api/executions/{id}/cancel")).await;
    assert_error(&again, StatusCode::CONFLICT, "conflict", "already finished");

    let flaky = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let first_fails = {
        let flaky = Arc::clone(&flaky);
        FunctionTask::new("fragile", move |context: Context| {
            let fail = flaky.swap(false, std::sync::atomic::Ordering::SeqCst);
            async move { if fail { Err(cloacina::TaskError::new("not yet")) } else { Ok(context) } }
        })
        .depends_on(["first"])
    };
    let workflow = Workflow::builder("fragile").task(noop("first", &[])).task(first_fails).build().unwrap();
    let failed = site.executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(failed.status, ExecutionStatus::Failed);
    let (status, created) = site.act(&format!("/api/executions/{}/rerun", failed.execution_id)).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let rerun: uuid::Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let result = site.executor.wait(rerun, Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!((result.status, result.rerun_of), (ExecutionStatus::Completed, Some(failed.execution_id)));
    let completed = site.act(&format!("/api/executions/{rerun}/rerun")).await;
    assert_error(&completed, StatusCode::CONFLICT, "conflict", "cannot be re-run");
    site.executor.shutdown().await;
}

async fn workflows_and_schedules_are_answered(backend: Backend) {
    let Some(site) = Site::open(backend, UiOptions::default()).await else { return };
    let first = Workflow::builder("shape").task(noop("a", &[])).task(noop("b", &["a"])).build().unwrap();
    site.executor.execute(first.clone(), Context::new()).await.unwrap();
    let second = Workflow::builder("shape")
        .description("the second shape")
        .task(noop("a", &[]))
        .task(noop("c", &["a"]))
        .build()
        .unwrap();
    site.executor.register(second.clone());
    let registered_only = Workflow::builder("idle").task(noop("x", &[])).build().unwrap();
    site.executor.register(registered_only);
    site.executor.schedule("shape", NewSchedule::new("0 3 * * *")).await.unwrap();

    let (status, workflows) = site.get("/api/workflows").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<(&str, bool)> = workflows["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|workflow| (workflow["name"].as_str().unwrap(), workflow["registered"].as_bool().unwrap()))
        .collect();
    assert_eq!(names, [("idle", true), ("shape", true)]);

    let (status, shape) = site.get("/api/workflows/shape").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shape["description"], "the second shape");
    let versions = shape["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        (versions[0]["version"].as_str(), versions[0]["executions"].as_u64()),
        (Some(second.version()), Some(0))
    );
    assert_eq!(versions[0]["graph"], json!({"a": [], "c": ["a"]}));
    assert_eq!((versions[1]["version"].as_str(), versions[1]["executions"].as_u64()), (Some(first.version()), Some(1)));
    assert_eq!(versions[1]["graph"], json!({"a": [], "b": ["a"]}), "from the stored execution");
    assert_eq!(shape["recent"].as_array().unwrap().len(), 1);

    let (_, schedules) = site.get("/api/schedules").await;
    assert_eq!(schedules["schedules"][0]["cron"], "0 3 * * *");
    assert_eq!(schedules["schedules"][0]["workflow"], "shape");
    site.executor.shutdown().await;
}

async fn bad_input_is_answered_with_a_json_error(backend: Backend) {
    let Some(site) = Site::open(backend, UiOptions::default()).await else { return };
    let id = site.finished_execution().await;
    let unknown = uuid::Uuid::new_v4();
    let cases: Vec<(String, StatusCode, &str, &str)> = vec![
        ("/api/executions?status=Done".into(), StatusCode::BAD_REQUEST, "bad_request", "Pending, Running"),
        ("/api/executions?limit=0".into(), StatusCode::BAD_REQUEST, "bad_request", "from 1 to 500"),
        ("/api/executions?limit=501".into(), StatusCode::BAD_REQUEST, "bad_request", "from 1 to 500"),
        ("/api/executions?limit=many".into(), StatusCode::BAD_REQUEST, "bad_request", "from 1 to 500"),
        ("/api/executions?since=yesterday".into(), StatusCode::BAD_REQUEST, "bad_request", "RFC 3339"),
        ("/api/executions?cursor=page-2".into(), StatusCode::BAD_REQUEST, "bad_request", "not a cursor"),
        ("/api/executions/12".into(), StatusCode::BAD_REQUEST, "bad_request", "not an execution id"),
        (format!("/api/executions/{unknown}"), StatusCode::NOT_FOUND, "not_found", "does not exist"),
        (format!("/api/executions/{unknown}/logs"), StatusCode::NOT_FOUND, "not_found", "does not exist"),
        (format!("/api/executions/{unknown}/events"), StatusCode::NOT_FOUND, "not_found", "does not exist"),
        (format!("/api/executions/{unknown}/stream"), StatusCode::NOT_FOUND, "not_found", "does not exist"),
        (format!("/api/executions/{id}/tasks/missing"), StatusCode::NOT_FOUND, "not_found", "has no task"),
        (format!("/api/executions/{id}/events?after=-1"), StatusCode::BAD_REQUEST, "bad_request", "sequence number"),
        (format!("/api/executions/{id}/events?limit=0"), StatusCode::BAD_REQUEST, "bad_request", "from 1 to 1000"),
        (format!("/api/executions/{id}/stream?after=-1"), StatusCode::BAD_REQUEST, "bad_request", "sequence number"),
        (format!("/api/executions/{id}/stream?after=x"), StatusCode::BAD_REQUEST, "bad_request", "sequence number"),
        ("/api/executions/12/tasks/a".into(), StatusCode::BAD_REQUEST, "bad_request", "not an execution id"),
        ("/api/workflows/nothing".into(), StatusCode::NOT_FOUND, "not_found", "no workflow"),
        // A NUL character, which PostgreSQL text cannot hold: no stored name has one.
        ("/api/workflows/a%00b".into(), StatusCode::NOT_FOUND, "not_found", "no workflow"),
        (format!("/api/executions/{id}/tasks/a%00"), StatusCode::NOT_FOUND, "not_found", "has no task"),
        ("/api/nowhere".into(), StatusCode::NOT_FOUND, "not_found", "openapi.json"),
    ];
    for (path, status, code, words) in cases {
        let answer = site.get(&path).await;
        assert_error(&answer, status, code, words);
    }
    for path in ["/api/executions?workflow=o%00ne".to_owned(), format!("/api/executions/{id}/logs?task=a%00")] {
        let (status, answer) = site.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        let listed = answer.get("executions").or_else(|| answer.get("logs")).and_then(Value::as_array);
        assert_eq!(listed.map(Vec::len), Some(0), "{path}: {answer}");
    }
    let (status, _, body) = site.request(Method::DELETE, "/api/executions", &[("x-cloacina-action", "1")]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"], "method_not_allowed");
    let missing = site.act(&format!("/api/executions/{unknown}/cancel")).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found", "does not exist");
    let missing = site.act(&format!("/api/executions/{unknown}/rerun")).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found", "does not exist");
    site.executor.shutdown().await;
}

#[tokio::test]
async fn the_openapi_description_names_every_route() {
    let site = Site::open(Backend::SqliteMemory, UiOptions::default()).await.unwrap();
    let (status, description) = site.get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(description["openapi"].as_str().unwrap().starts_with("3."));
    let paths: HashSet<&str> = description["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    let expected = [
        "/api/info",
        "/api/executions",
        "/api/executions/{id}",
        "/api/executions/{id}/tasks/{task_id}",
        "/api/executions/{id}/logs",
        "/api/executions/{id}/events",
        "/api/executions/{id}/stream",
        "/api/executions/{id}/cancel",
        "/api/executions/{id}/rerun",
        "/api/workflows",
        "/api/workflows/{name}",
        "/api/schedules",
    ];
    assert_eq!(paths, expected.into_iter().collect::<HashSet<_>>());
    let (_, info) = site.get("/api/info").await;
    assert_eq!((info["read_only"].as_bool(), info["version"].as_str()), (Some(false), Some(env!("CARGO_PKG_VERSION"))));
    site.executor.shutdown().await;
}
