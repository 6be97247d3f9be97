//! When each task of an execution became ready, and each of its attempts: when it started and
//! ended, on which worker, and how. Read from the execution's stored events (see
//! [`crate::EventKind`]), so it costs nothing while tasks run, and written out as a Chrome trace
//! (the JSON that Perfetto and `chrome://tracing` show as a timeline).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::executor::EventKind;
use crate::result::ExecutionResult;

/// How an attempt of a task ended, or that it has not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttemptStatus {
    /// Still running (when the result was read).
    Running,
    /// The task completed.
    Completed,
    /// The attempt failed (another may follow, by the task's retry policy).
    Failed,
    /// The worker running it stopped or lost its lease; the task went back to the queue.
    Abandoned,
    /// Its execution was cancelled while it ran.
    Cancelled,
}

impl AttemptStatus {
    /// The status as displayed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Abandoned => "Abandoned",
            Self::Cancelled => "Cancelled",
        }
    }
}

impl fmt::Display for AttemptStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One start of a task: when, where, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskAttempt {
    /// The attempt's number, as retry policies count (a start abandoned by a stopped worker is
    /// run again under the same number).
    pub number: u32,
    /// When the task became ready for this start (after its dependencies, a retry's delay, or
    /// a recovery), where known.
    pub ready_at: Option<DateTime<Utc>>,
    /// When a worker started it.
    pub started_at: DateTime<Utc>,
    /// When it ended; `None` while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    /// The worker that ran it: its executor's owner id (host, machine, process and a random
    /// part), where recorded.
    pub worker: Option<String>,
    /// How it ended.
    pub status: AttemptStatus,
    /// Its error, or why it was abandoned.
    pub error: Option<String>,
}

impl TaskAttempt {
    /// Time from its start to its end, once it has ended.
    pub fn duration(&self) -> Option<Duration> {
        (self.finished_at? - self.started_at).to_std().ok()
    }

    /// Time from when the task became ready for it to its start.
    pub fn wait(&self) -> Option<Duration> {
        (self.started_at - self.ready_at?).to_std().ok()
    }
}

/// A task's timings read from events: when it first became ready, and its attempts in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TaskTimings {
    pub ready_at: Option<DateTime<Utc>>,
    pub attempts: Vec<TaskAttempt>,
}

/// A task's event, as far as timings need it.
#[derive(Debug, Clone)]
pub(crate) struct TaskEvent {
    pub task_id: String,
    pub kind: EventKind,
    pub attempt: Option<u32>,
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

/// The timings of every task that has events, by task id, from an execution's task events in
/// order.
pub(crate) fn task_timings(events: impl IntoIterator<Item = TaskEvent>) -> HashMap<String, TaskTimings> {
    let mut tasks: HashMap<String, (TaskTimings, Option<DateTime<Utc>>)> = HashMap::new();
    for event in events {
        let (timings, ready) = match tasks.get_mut(&event.task_id) {
            Some(entry) => entry,
            None => tasks.entry(event.task_id).or_default(),
        };
        let open = timings.attempts.last_mut().filter(|attempt| attempt.status == AttemptStatus::Running);
        let (at, message) = (event.at, event.message);
        match event.kind {
            EventKind::TaskReady => {
                timings.ready_at.get_or_insert(at);
                *ready = Some(at);
                // A task made ready again while an attempt ran was recovered or released.
                end(open, at, AttemptStatus::Abandoned, message);
            }
            EventKind::TaskStarted => {
                let number = event.attempt.unwrap_or(timings.attempts.len() as u32 + 1);
                let ready_at = ready.take();
                timings.attempts.push(TaskAttempt {
                    number,
                    ready_at,
                    started_at: at,
                    finished_at: None,
                    worker: message,
                    status: AttemptStatus::Running,
                    error: None,
                })
            }
            EventKind::TaskCompleted => end(open, at, AttemptStatus::Completed, message),
            EventKind::TaskRetried => {
                end(open, at, AttemptStatus::Failed, message);
                // The retry is due after its delay; the time it became due is not recorded.
                *ready = None;
            }
            EventKind::TaskFailed => end(
                open,
                at,
                if event.attempt.is_some() { AttemptStatus::Failed } else { AttemptStatus::Abandoned },
                message,
            ),
            EventKind::TaskCancelled => end(open, at, AttemptStatus::Cancelled, message),
            // A mapped task has no attempts of its own: its instances do.
            EventKind::TaskSkipped
            | EventKind::TaskMapped
            | EventKind::ExecutionCreated
            | EventKind::ExecutionStarted
            | EventKind::ExecutionCompleted
            | EventKind::ExecutionFailed
            | EventKind::ExecutionCancelled => {}
        }
    }
    tasks.into_iter().map(|(task_id, (timings, _))| (task_id, timings)).collect()
}

/// Ends the attempt that is open, if one is.
fn end(open: Option<&mut TaskAttempt>, at: DateTime<Utc>, status: AttemptStatus, error: Option<String>) {
    if let Some(attempt) = open {
        attempt.finished_at = Some(at);
        attempt.status = status;
        attempt.error = error;
    }
}

impl ExecutionResult {
    /// The execution as a Chrome trace (the JSON object format that Perfetto and
    /// `chrome://tracing` read): one row per worker, one slice per attempt, named after the
    /// task, with the attempt's number, status, wait and error as arguments. An attempt still
    /// running is drawn up to `now`.
    pub fn chrome_trace(&self, now: DateTime<Utc>) -> Value {
        let mut workers: Vec<&str> = Vec::new();
        let mut slices = Vec::new();
        for task in &self.task_results {
            for attempt in &task.attempt_history {
                let worker = attempt.worker.as_deref().unwrap_or("unknown worker");
                let row = match workers.iter().position(|known| *known == worker) {
                    Some(row) => row,
                    None => {
                        workers.push(worker);
                        workers.len() - 1
                    }
                };
                let start = attempt.started_at.timestamp_micros();
                let end = attempt.finished_at.unwrap_or(now).timestamp_micros().max(start);
                slices.push(json!({
                    "name": task.task_id,
                    "cat": attempt.status.as_str(),
                    "ph": "X",
                    "pid": 1,
                    "tid": row + 1,
                    "ts": start,
                    "dur": end - start,
                    "args": {
                        "attempt": attempt.number,
                        "status": attempt.status.as_str(),
                        "wait_us": attempt.wait().map(|wait| wait.as_micros() as u64),
                        "error": attempt.error,
                    },
                }));
            }
        }
        let name = format!("{} {}", self.workflow_name, self.execution_id);
        let mut events = vec![json!({"name": "process_name", "ph": "M", "pid": 1, "args": {"name": name}})];
        events.extend(workers.iter().enumerate().map(|(row, worker)| {
            json!({"name": "thread_name", "ph": "M", "pid": 1, "tid": row + 1, "args": {"name": worker}})
        }));
        events.extend(slices);
        json!({"traceEvents": events, "displayTimeUnit": "ms"})
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn event(seconds: i64, kind: EventKind, attempt: Option<u32>, message: Option<&str>) -> TaskEvent {
        TaskEvent {
            task_id: "fetch".to_owned(),
            kind,
            attempt,
            message: message.map(str::to_owned),
            at: Utc.timestamp_opt(seconds, 0).unwrap(),
        }
    }

    #[test]
    fn attempts_are_read_from_events_in_order() {
        let events = [
            event(10, EventKind::TaskReady, None, None),
            event(12, EventKind::TaskStarted, Some(1), Some("worker-a")),
            event(13, EventKind::TaskRetried, Some(1), Some("timeout")),
            event(15, EventKind::TaskStarted, Some(2), Some("worker-b")),
            event(20, EventKind::TaskReady, None, Some("recovered: the lease of `worker-b` expired")),
            event(21, EventKind::TaskStarted, Some(2), Some("worker-a")),
            event(22, EventKind::TaskCompleted, Some(2), None),
        ];
        let timings = task_timings(events).remove("fetch").unwrap();
        let at = |seconds| Utc.timestamp_opt(seconds, 0).unwrap();
        assert_eq!(timings.ready_at, Some(at(10)));
        let summary: Vec<_> = timings
            .attempts
            .iter()
            .map(|attempt| (attempt.number, attempt.worker.as_deref(), attempt.status, attempt.duration()))
            .collect();
        assert_eq!(
            summary,
            [
                (1, Some("worker-a"), AttemptStatus::Failed, Some(Duration::from_secs(1))),
                (2, Some("worker-b"), AttemptStatus::Abandoned, Some(Duration::from_secs(5))),
                (2, Some("worker-a"), AttemptStatus::Completed, Some(Duration::from_secs(1))),
            ]
        );
        assert_eq!(timings.attempts[0].wait(), Some(Duration::from_secs(2)));
        assert_eq!(timings.attempts[1].wait(), None, "a retry's due time is not recorded");
        assert_eq!(timings.attempts[2].wait(), Some(Duration::from_secs(1)));
        assert_eq!(timings.attempts[0].error.as_deref(), Some("timeout"));
        assert!(timings.attempts[1].error.as_deref().unwrap().starts_with("recovered"));
    }

    #[test]
    fn an_attempt_without_an_end_is_running_and_one_cancelled_says_so() {
        let running = task_timings([event(1, EventKind::TaskStarted, Some(1), Some("w"))]).remove("fetch").unwrap();
        assert_eq!(running.attempts[0].status, AttemptStatus::Running);
        assert_eq!(running.attempts[0].duration(), None);
        let cancelled = task_timings([
            event(1, EventKind::TaskStarted, Some(1), Some("w")),
            event(2, EventKind::TaskCancelled, None, None),
        ])
        .remove("fetch")
        .unwrap();
        assert_eq!(cancelled.attempts[0].status, AttemptStatus::Cancelled);
    }
}
