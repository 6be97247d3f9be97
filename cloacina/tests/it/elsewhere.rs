//! Tasks that run outside the engine's threads and take their attempts through `Task::start`:
//! their results come back from another thread, a dropped completion fails the attempt, a
//! stopped attempt's canceller is called, and a declined attempt runs through `execute`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloacina::{
    Canceller, Completion, Context, Declined, ExecutionStatus, Task, TaskError, TaskStatus, Workflow, async_trait,
};
use serde_json::json;

use crate::support::{TestDatabase, noop};

crate::backend_tests!(
    a_task_started_elsewhere_finishes_from_its_own_thread,
    a_dropped_completion_fails_the_attempt,
    cancelling_calls_the_canceller_and_records_nothing_more,
    a_declined_attempt_runs_through_execute
);

/// What a [`Remote`] task does with an attempt it is handed.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Writes `ran_on_own_thread` from a thread of its own.
    Finish,
    /// Drops the completion without calling it.
    Drop,
    /// Keeps the completion until cancelled, then answers.
    WaitForCancel,
    /// Declines every attempt.
    Decline,
}

/// A task run on threads of its own, counting what the engine asked of it.
struct Remote {
    id: String,
    dependencies: Vec<String>,
    behaviour: Behaviour,
    started: Arc<AtomicUsize>,
    executed: Arc<AtomicUsize>,
    cancelled: Arc<AtomicUsize>,
    /// The completion a `WaitForCancel` attempt keeps.
    kept: Arc<Mutex<Option<Completion>>>,
}

impl Remote {
    fn new(id: &str, dependencies: &[&str], behaviour: Behaviour) -> Self {
        Self {
            id: id.to_owned(),
            dependencies: dependencies.iter().map(|dependency| (*dependency).to_owned()).collect(),
            behaviour,
            started: Arc::default(),
            executed: Arc::default(),
            cancelled: Arc::default(),
            kept: Arc::default(),
        }
    }
}

#[async_trait]
impl Task for Remote {
    fn id(&self) -> &str {
        &self.id
    }

    fn dependencies(&self) -> &[String] {
        &self.dependencies
    }

    async fn execute(&self, mut context: Context) -> Result<Context, TaskError> {
        self.executed.fetch_add(1, Ordering::SeqCst);
        context.set("executed", json!(true));
        Ok(context)
    }

    fn starts_elsewhere(&self) -> bool {
        true
    }

    fn start(&self, mut context: Context, done: Completion) -> Result<Canceller, Box<Declined>> {
        if let Behaviour::Decline = self.behaviour {
            return Err(Box::new(Declined { context, done }));
        }
        self.started.fetch_add(1, Ordering::SeqCst);
        match self.behaviour {
            Behaviour::Finish => {
                std::thread::spawn(move || {
                    context.set("ran_on_own_thread", json!(true));
                    done(Ok(context));
                });
            }
            Behaviour::Drop => {
                std::thread::spawn(move || drop(done));
            }
            Behaviour::WaitForCancel | Behaviour::Decline => {
                *self.kept.lock().unwrap() = Some(done);
            }
        }
        let (cancelled, kept) = (Arc::clone(&self.cancelled), Arc::clone(&self.kept));
        Ok(Box::new(move || {
            cancelled.fetch_add(1, Ordering::SeqCst);
            if let Some(done) = kept.lock().unwrap().take() {
                done(Err(TaskError::new("stopped")));
            }
        }))
    }
}

async fn a_task_started_elsewhere_finishes_from_its_own_thread(database: TestDatabase) {
    let executor = database.executor().await;
    let (first, second) =
        (Remote::new("first", &[], Behaviour::Finish), Remote::new("second", &["first"], Behaviour::Finish));
    let (started, executed) = (Arc::clone(&second.started), Arc::clone(&second.executed));
    let workflow =
        Workflow::builder("elsewhere").task(first).task(second).task(noop("last", &["second"])).build().unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.context.get("ran_on_own_thread"), Some(&json!(true)));
    // The dependent, found ready when its dependency was recorded, was handed over there.
    assert_eq!((started.load(Ordering::SeqCst), executed.load(Ordering::SeqCst)), (1, 0));
    executor.shutdown().await;
}

async fn a_dropped_completion_fails_the_attempt(database: TestDatabase) {
    let executor = database.executor().await;
    let workflow = Workflow::builder("dropped")
        .task(noop("first", &[]))
        .task(Remote::new("lost", &["first"], Behaviour::Drop))
        .build()
        .unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Failed);
    let lost = result.task("lost").unwrap();
    assert_eq!(lost.status, TaskStatus::Failed);
    assert!(lost.error.as_deref().unwrap_or_default().contains("ended without a result"), "{:?}", lost.error);
    executor.shutdown().await;
}

async fn cancelling_calls_the_canceller_and_records_nothing_more(database: TestDatabase) {
    let executor = database.executor().await;
    let waiting = Remote::new("waiting", &["first"], Behaviour::WaitForCancel);
    let (started, cancelled) = (Arc::clone(&waiting.started), Arc::clone(&waiting.cancelled));
    let workflow = Workflow::builder("cancelled").task(noop("first", &[])).task(waiting).build().unwrap();
    let handle = executor.start(workflow, Context::new()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while started.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(started.load(Ordering::SeqCst), 1, "the attempt was not handed over");
    assert_eq!(handle.cancel().await.unwrap(), ExecutionStatus::Cancelled);
    assert_eq!(cancelled.load(Ordering::SeqCst), 1);
    let result = handle.wait().await.unwrap();
    assert_eq!(result.task("waiting").unwrap().status, TaskStatus::Cancelled);
    // The answer the canceller gave is not recorded: the attempt stays cancelled.
    assert_eq!(result.task("waiting").unwrap().error, None);
    assert!(executor.running_attempts().is_empty());
    executor.shutdown().await;
}

async fn a_declined_attempt_runs_through_execute(database: TestDatabase) {
    let executor = database.executor().await;
    let declining = Remote::new("declining", &["first"], Behaviour::Decline);
    let executed = Arc::clone(&declining.executed);
    let workflow = Workflow::builder("declined").task(noop("first", &[])).task(declining).build().unwrap();
    let result = executor.execute(workflow, Context::new()).await.unwrap();
    assert_eq!(result.status, ExecutionStatus::Completed, "{:?}", result.error);
    assert_eq!(result.context.get("executed"), Some(&json!(true)));
    assert_eq!(executed.load(Ordering::SeqCst), 1);
    executor.shutdown().await;
}
