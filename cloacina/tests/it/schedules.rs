//! Cron schedules and delayed starts: each tick starts one execution, whoever serves it.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use cloacina::{
    Catchup, Context, ExecutionFilter, ExecutionStatus, ExecutorError, NewSchedule, ScheduleError, StartOptions,
    UnifiedExecutor, Workflow,
};

use crate::support::{TestDatabase, noop, wall_time_bound};

crate::backend_tests!(
    an_every_second_schedule_starts_one_execution_per_tick,
    schedules_are_declared_paused_resumed_and_deleted,
    bad_schedules_are_refused_with_the_fix,
    a_delayed_start_waits_until_its_time,
    an_executor_that_runs_no_schedules_starts_no_tick
);

/// What needs the database to outlive an executor: a file or a server.
mod lasting {
    use super::{a_delayed_start_survives_a_restart, missed_ticks_follow_the_catchup_policy};

    crate::shared_backend_tests!(missed_ticks_follow_the_catchup_policy, a_delayed_start_survives_a_restart);
}

fn report() -> Workflow {
    Workflow::builder("report").task(noop("write", &[])).build().unwrap()
}

/// The ticks of the executions started for `workflow`, from their keys, oldest first.
async fn ticks(executor: &UnifiedExecutor, workflow: &str) -> Vec<DateTime<Utc>> {
    let listed = executor.list_executions(ExecutionFilter::new().workflow(workflow).limit(10_000)).await.unwrap();
    let mut ticks = Vec::new();
    for summary in listed {
        let result = executor.get_execution(summary.execution_id).await.unwrap();
        let key = result.key.expect("a scheduled execution has a key");
        // `schedule:<name>:<tick in UTC>`.
        let tick = DateTime::parse_from_rfc3339(&key[key.len() - 20..]).unwrap().to_utc();
        let stored = result.context.get("scheduled_at").expect("the tick is in the context");
        assert_eq!(stored["$cloacina"], "datetime");
        assert_eq!(DateTime::parse_from_rfc3339(stored["value"].as_str().unwrap()).unwrap().to_utc(), tick);
        ticks.push(tick);
    }
    ticks.sort();
    ticks
}

/// The ticks of `workflow` once there are more than `count`: a tick due every second may start
/// late on a loaded machine, so this waits for it (up to 10 s, scaled by `wall_time_bound`)
/// instead of sleeping a fixed time. Panics with `what` when none comes.
async fn ticks_beyond(executor: &UnifiedExecutor, workflow: &str, count: usize, what: &str) -> Vec<DateTime<Utc>> {
    let bound = wall_time_bound(Duration::from_secs(10));
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let found = ticks(executor, workflow).await;
        if found.len() > count {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {} ticks, none more in {bound:?}", found.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn an_every_second_schedule_starts_one_execution_per_tick(database: TestDatabase) {
    // Two executors serve it (one, shared, on a private in-memory database).
    let first = database.executor().await;
    let memory = database.url.contains(":memory:");
    let second = if memory { first.clone() } else { database.executor().await };
    first.register(report());
    second.register(report());
    let schedule = first.schedule("report", NewSchedule::new("* * * * * *").catchup(Catchup::All)).await.unwrap();
    assert_eq!((schedule.name.as_str(), schedule.paused), ("report", false));
    tokio::time::sleep(Duration::from_millis(5_200)).await;
    first.pause_schedule("report").await.unwrap();
    // Ticks already started finish; no tick is started twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ticks = ticks(&first, "report").await;
    assert!(ticks.len() >= 4, "about five ticks in five seconds: {ticks:?}");
    let unique: BTreeSet<_> = ticks.iter().collect();
    assert_eq!(unique.len(), ticks.len(), "one execution per tick: {ticks:?}");
    assert!(ticks.windows(2).all(|pair| pair[1] - pair[0] == chrono::Duration::seconds(1)), "every tick: {ticks:?}");
    assert!(ticks.iter().all(|tick| tick.nanosecond() == 0));
    let stored = first.get_schedule("report").await.unwrap();
    assert_eq!(stored.last_fired_at, ticks.last().copied());
    first.shutdown().await;
    second.shutdown().await;
}

async fn schedules_are_declared_paused_resumed_and_deleted(database: TestDatabase) {
    let executor = database.executor().await;
    executor.register(report());
    let context = Context::from_value(serde_json::json!({"recipients": ["ops"]})).unwrap();
    let declared = NewSchedule::new("0 2 * * *").timezone("Europe/Paris").context(context.clone()).name("nightly");
    let first = executor.schedule("report", declared.clone()).await.unwrap();
    // Declared again as it is: the same schedule, unchanged.
    let again = executor.schedule("report", declared.clone()).await.unwrap();
    assert_eq!(again, first);
    let next = first.next_fire_at.unwrap();
    assert_eq!(next.with_timezone(&chrono_tz::Europe::Paris).hour(), 2);
    let upcoming = first.next_fire_times(3, Utc::now()).unwrap();
    assert_eq!(upcoming[0], next);
    assert!(upcoming.windows(2).all(|pair| pair[1] > pair[0]));
    // Declared with another expression: updated in place.
    let changed = executor.schedule("report", declared.clone().catchup(Catchup::Latest)).await.unwrap();
    assert_eq!((changed.catchup, changed.created_at), (Catchup::Latest, first.created_at));
    let paused = executor.pause_schedule("nightly").await.unwrap();
    assert!(paused.paused);
    assert!(executor.schedule("report", declared.clone().catchup(Catchup::Latest)).await.unwrap().paused);
    assert!(!executor.resume_schedule("nightly").await.unwrap().paused);
    let every_second = executor.schedule("report", NewSchedule::new("* * * * * *").name("often")).await.unwrap();
    let names: Vec<_> = executor.list_schedules().await.unwrap().into_iter().map(|schedule| schedule.name).collect();
    assert_eq!(names, ["nightly", "often"]);
    // A paused schedule starts nothing; resumed, it starts from its next tick.
    ticks_beyond(&executor, "report", 0, "it runs before the pause").await;
    executor.pause_schedule("often").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = ticks(&executor, "report").await.len();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(ticks(&executor, "report").await.len(), before, "nothing while paused");
    let resumed_at = Utc::now();
    executor.resume_schedule("often").await.unwrap();
    let after = ticks_beyond(&executor, "report", before, "it runs again once resumed").await;
    assert!(after[before..].iter().all(|&tick| tick > resumed_at), "ticks missed while paused are not started");
    executor.delete_schedule("often").await.unwrap();
    let error = executor.get_schedule("often").await.unwrap_err();
    assert!(matches!(error, ExecutorError::Schedule(ScheduleError::NotFound(_))), "{error}");
    assert_eq!(error.to_string(), "no schedule is named `often`");
    assert!(matches!(
        executor.delete_schedule("often").await,
        Err(ExecutorError::Schedule(ScheduleError::NotFound(_)))
    ));
    assert!(matches!(executor.pause_schedule("often").await, Err(ExecutorError::Schedule(ScheduleError::NotFound(_)))));
    assert_eq!(every_second.workflow_name, "report");
    executor.shutdown().await;
}

async fn bad_schedules_are_refused_with_the_fix(database: TestDatabase) {
    let executor = database.executor().await;
    for (schedule, message) in [
        (NewSchedule::new("* * *"), "cron expression `* * *` has 3 fields; write five"),
        (NewSchedule::new("0 25 * * *"), "cron expression `0 25 * * *`"),
        (NewSchedule::new("0 2 * * *").timezone("Europe/Pariss"), "time zone `Europe/Pariss` is unknown"),
        (NewSchedule::new("0 2 * * *").name(""), "schedule name \"\" is empty"),
    ] {
        let error = executor.schedule("report", schedule).await.unwrap_err();
        assert!(error.to_string().starts_with(message), "{error}");
    }
    assert!(executor.list_schedules().await.unwrap().is_empty(), "nothing was stored");
    executor.shutdown().await;
}

/// Moves a schedule's next tick back, as if no executor had served it for that long.
async fn go_down_for(database: &TestDatabase, name: &str, downtime: chrono::Duration) {
    let back = downtime.num_microseconds().unwrap();
    database
        .execute_sql(&format!("UPDATE schedules SET next_fire_at = next_fire_at - {back} WHERE name = '{name}'"))
        .await;
}

async fn missed_ticks_follow_the_catchup_policy(database: TestDatabase) {
    // Declared while no executor serves the workflow (this one has not registered it).
    let executor = database.executor().await;
    // Daily at the minute two hours ago: its latest tick is long past, more than its grace.
    let earlier = Utc::now() - chrono::Duration::hours(2);
    let cron = format!("{} {} * * *", earlier.minute(), earlier.hour());
    for (name, catchup) in [("skip", Catchup::Skip), ("latest", Catchup::Latest), ("all", Catchup::All)] {
        let workflow = Workflow::builder(name).task(noop("write", &[])).build().unwrap();
        executor.schedule(name, NewSchedule::new(&cron).catchup(catchup)).await.unwrap();
        // Three days without an executor: the three daily ticks before now were missed.
        go_down_for(&database, name, chrono::Duration::days(3)).await;
        let before = executor.get_schedule(name).await.unwrap().next_fire_at.unwrap();
        assert!(before < Utc::now() - chrono::Duration::days(2));
        executor.register(workflow);
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let latest_tick = executor.get_schedule("all").await.unwrap().times().unwrap().at_or_before(Utc::now()).unwrap();
    assert_eq!(ticks(&executor, "skip").await, Vec::<DateTime<Utc>>::new(), "skip starts no missed tick");
    assert_eq!(ticks(&executor, "latest").await, vec![latest_tick], "latest starts the most recent");
    let day = chrono::Duration::days(1);
    assert_eq!(
        ticks(&executor, "all").await,
        vec![latest_tick - day - day, latest_tick - day, latest_tick],
        "all starts each, oldest first"
    );
    for name in ["skip", "latest", "all"] {
        let schedule = executor.get_schedule(name).await.unwrap();
        assert!(schedule.next_fire_at.unwrap() > Utc::now(), "{name} goes on with its next tick");
    }
    executor.shutdown().await;
}

async fn a_delayed_start_waits_until_its_time(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = executor.register(report());
    let start_at = Utc::now() + chrono::Duration::milliseconds(1_500);
    let options = StartOptions { start_at: Some(start_at), ..StartOptions::default() };
    let handle =
        executor.start_with(UnifiedExecutor::new_execution_id(), &workflow, Context::new(), options).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(executor.status(handle.execution_id()).await.unwrap(), ExecutionStatus::Pending);
    let result = handle.wait_timeout(Duration::from_secs(20)).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed);
    let started = result.task_results[0].started_at.unwrap();
    assert!(started >= start_at, "started {started}, due {start_at}");
    // Woken for it, not found by the 5-second fallback poll.
    assert!(started - start_at < chrono::Duration::seconds(2), "started {started}, due {start_at}");
    let created = &executor.events(handle.execution_id()).await.unwrap()[0];
    assert!(created.message.as_deref().unwrap().starts_with("starts at "), "{created:?}");
    executor.shutdown().await;
}

async fn a_delayed_start_survives_a_restart(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = executor.register(report());
    let start_at = Utc::now() + chrono::Duration::milliseconds(1_500);
    let options = StartOptions { start_at: Some(start_at), ..StartOptions::default() };
    let id = UnifiedExecutor::new_execution_id();
    executor.start_with(id, &workflow, Context::new(), options).await.unwrap();
    executor.shutdown().await;
    // Another executor, started later, starts it when it is due.
    let restarted = database.executor().await;
    restarted.register(report());
    let result = restarted.wait(id, Some(Duration::from_secs(20))).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed);
    let started = result.task_results[0].started_at.unwrap();
    assert!(started >= start_at && started - start_at < chrono::Duration::seconds(2), "started {started}");
    restarted.shutdown().await;
}

/// An executor told not to run schedules (a command, the web page) starts no tick of a
/// registered workflow's schedule; one that runs them does.
async fn an_executor_that_runs_no_schedules_starts_no_tick(database: TestDatabase) {
    let config = cloacina::ExecutorConfig { run_schedules: false, ..crate::support::test_config() };
    let looking = database.executor_with(config).await;
    looking.register(report());
    looking.schedule("report", NewSchedule::new("* * * * * *").catchup(Catchup::All)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert!(ticks(&looking, "report").await.is_empty(), "a tick was started by an executor that runs no schedules");
    if !database.url.contains(":memory:") {
        let running = database.executor().await;
        running.register(report());
        tokio::time::sleep(Duration::from_millis(2_300)).await;
        running.pause_schedule("report").await.unwrap();
        assert!(!ticks(&looking, "report").await.is_empty(), "the executor that runs schedules started none");
        running.shutdown().await;
    }
    looking.shutdown().await;
}
