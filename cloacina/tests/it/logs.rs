//! Task logs: what a task logs during an attempt is stored with that attempt and read back.
//! (The test binary's subscriber includes `TaskLogLayer`; see `support.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cloacina::{
    Backoff, Context, ExecutorConfig, FunctionTask, LogLevel, RetryPolicy, TaskError, TaskStatus, Workflow,
};

use crate::support::{TestDatabase, noop, test_config};

crate::backend_tests!(
    each_attempt_keeps_what_it_logged,
    the_level_kept_is_the_task_s_or_the_executor_s,
    a_timed_out_attempt_keeps_what_it_logged_before,
);

/// `(task, attempt, level, logger, message)` of each entry.
fn described(entries: &[cloacina::LogEntry]) -> Vec<(String, u32, String, String, String)> {
    entries
        .iter()
        .map(|entry| {
            let record = &entry.record;
            (
                entry.task_id.clone(),
                entry.attempt,
                record.level_name.clone(),
                record.logger.clone(),
                record.message.clone(),
            )
        })
        .collect()
}

fn entry(task: &str, attempt: u32, level: &str, logger: &str, message: &str) -> (String, u32, String, String, String) {
    (task.to_owned(), attempt, level.to_owned(), logger.to_owned(), message.to_owned())
}

async fn each_attempt_keeps_what_it_logged(database: TestDatabase) {
    let executor = database.executor().await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let flaky = FunctionTask::new("flaky", move |context: Context| {
        let call = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            tracing::info!(target: "etl::flaky", call, "starting");
            tracing::debug!(target: "etl::flaky", "not kept at INFO");
            // The engine's own targets are never task logs.
            tracing::warn!(target: "cloacina::mine", "not a task log");
            tokio::task::yield_now().await;
            if call == 1 {
                tracing::error!(target: "etl::flaky", "giving up on this attempt");
                return Err(TaskError::new("first attempt fails"));
            }
            context.attempt().unwrap().log.log(LogLevel::WARNING, "direct", "written through the attempt's log");
            Ok(context)
        }
    })
    .depends_on(["quiet"])
    .retry(RetryPolicy::attempts(2).with_backoff(Backoff::Fixed).with_initial_delay(Duration::from_millis(10)));
    let workflow = Workflow::builder("logged").task(noop("quiet", &[])).task(flaky).build().unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.task("flaky").unwrap().status, TaskStatus::Completed);

    let expected = [
        entry("flaky", 1, "INFO", "etl::flaky", "starting call=1"),
        entry("flaky", 1, "ERROR", "etl::flaky", "giving up on this attempt"),
        entry("flaky", 2, "INFO", "etl::flaky", "starting call=2"),
        entry("flaky", 2, "WARNING", "direct", "written through the attempt's log"),
    ];
    assert_eq!(described(&result.task("flaky").unwrap().logs), expected);
    assert!(result.task("quiet").unwrap().logs.is_empty());
    assert_eq!(described(&executor.logs(result.execution_id, None).await.unwrap()), expected);
    assert_eq!(described(&executor.logs(result.execution_id, Some("flaky")).await.unwrap()), expected);
    assert!(executor.logs(result.execution_id, Some("quiet")).await.unwrap().is_empty());
    // Records are in time order within an attempt, and carry their time.
    let logs = &result.task("flaky").unwrap().logs;
    assert!(logs[0].record.time <= logs[1].record.time && logs[1].record.time <= result.finished_at.unwrap());
    executor.shutdown().await;
}

/// A task logging one record of each level from DEBUG to ERROR.
fn chatty(id: &str) -> FunctionTask {
    FunctionTask::new(id, |context: Context| async move {
        tracing::debug!(target: "chatty", "debug");
        tracing::info!(target: "chatty", "info");
        tracing::warn!(target: "chatty", "warning");
        tracing::error!(target: "chatty", "error");
        Ok(context)
    })
}

async fn the_level_kept_is_the_task_s_or_the_executor_s(database: TestDatabase) {
    let executor = database.executor_with(ExecutorConfig { task_log_level: LogLevel::WARNING, ..test_config() }).await;
    let workflow = Workflow::builder("levels")
        .task(chatty("default"))
        .task(chatty("detailed").log_level(LogLevel::DEBUG))
        .task(chatty("silent").log_level(LogLevel::OFF))
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    let messages = |task: &str| -> Vec<String> {
        result.task(task).unwrap().logs.iter().map(|entry| entry.record.message.clone()).collect()
    };
    assert_eq!(messages("default"), ["warning", "error"]);
    assert_eq!(messages("detailed"), ["debug", "info", "warning", "error"]);
    assert!(messages("silent").is_empty());
    executor.shutdown().await;
}

async fn a_timed_out_attempt_keeps_what_it_logged_before(database: TestDatabase) {
    let executor = database.executor().await;
    let slow = FunctionTask::new("slow", |context: Context| async move {
        tracing::info!(target: "slow", "before the wait");
        tokio::time::sleep(Duration::from_secs(30)).await;
        tracing::info!(target: "slow", "never reached");
        Ok(context)
    })
    .timeout(Duration::from_millis(200));
    let workflow = Workflow::builder("timed_out").task(slow).build().unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    let task = result.task("slow").unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(described(&task.logs), [entry("slow", 1, "INFO", "slow", "before the wait")]);
    executor.shutdown().await;
}
