//! PostgreSQL going away mid-run: every connection of the executor is terminated, repeatedly;
//! the run finishes once the database answers again, with no task failed by it.

use std::time::Duration;

use cloacina::{Context, ExecutionStatus, FunctionTask, TaskStatus, Workflow};
use diesel::{Connection, PgConnection, RunQueryDsl};

use crate::support::{Backend, TestDatabase};

/// Terminates every other session on the database the URL names.
fn terminate_sessions(url: &str) -> usize {
    #[derive(diesel::QueryableByName)]
    struct Terminated {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let mut admin = PgConnection::establish(url).expect("connect to the test database");
    diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS count FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .get_result::<Terminated>(&mut admin)
    .expect("terminate sessions")
    .count as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_its_connections_being_terminated() {
    let Some(database) = TestDatabase::create(Backend::Postgres).await else { return };
    let executor = database.executor().await;
    let chains = 4;
    let length = 12;
    let mut builder = Workflow::builder("outage");
    for chain in 0..chains {
        for step in 0..length {
            let id = format!("chain_{chain}_step_{step:02}");
            let task = FunctionTask::new(id.clone(), move |mut context: Context| {
                let id = id.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    context.insert(format!("done_{id}"), true)?;
                    Ok(context)
                }
            });
            let task = if step == 0 { task } else { task.depends_on([format!("chain_{chain}_step_{:02}", step - 1)]) };
            builder = builder.task(task);
        }
    }
    let handle = executor.start(builder.build().unwrap(), Context::new()).await.unwrap();

    let url = database.url.clone();
    let mut terminated = 0;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(120)).await;
        let url = url.clone();
        terminated += tokio::task::spawn_blocking(move || terminate_sessions(&url)).await.unwrap();
    }
    assert!(terminated > 0, "no session was terminated: the test did not test anything");

    let result = handle.wait_timeout(Duration::from_secs(60)).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert!(result.task_results.iter().all(|task| task.status == TaskStatus::Completed));
    assert_eq!(result.context.len(), chains * length);
    executor.shutdown().await;
}
