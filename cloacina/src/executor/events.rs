//! Events: every state change of an execution, persisted with the change and broadcast in-process.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::StoreError;
use crate::store::{EventRow, NewEventRow, to_datetime};

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// The execution was created.
    ExecutionCreated,
    /// The execution's first task started.
    ExecutionStarted,
    /// Every task finished and none failed.
    ExecutionCompleted,
    /// Every task finished and one failed.
    ExecutionFailed,
    /// The execution was cancelled.
    ExecutionCancelled,
    /// A task's dependencies finished and its trigger rule holds: it may run.
    TaskReady,
    /// A mapped task read its list: it runs once per element (the message says how many).
    TaskMapped,
    /// An attempt of a task started.
    TaskStarted,
    /// An attempt failed and another is scheduled.
    TaskRetried,
    /// A task completed.
    TaskCompleted,
    /// A task failed for good.
    TaskFailed,
    /// A task was skipped because its trigger rule did not hold.
    TaskSkipped,
    /// A task was cancelled with its execution.
    TaskCancelled,
}

impl EventKind {
    const ALL: [EventKind; 13] = [
        Self::ExecutionCreated,
        Self::ExecutionStarted,
        Self::ExecutionCompleted,
        Self::ExecutionFailed,
        Self::ExecutionCancelled,
        Self::TaskReady,
        Self::TaskMapped,
        Self::TaskStarted,
        Self::TaskRetried,
        Self::TaskCompleted,
        Self::TaskFailed,
        Self::TaskSkipped,
        Self::TaskCancelled,
    ];

    /// The kind as stored and displayed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExecutionCreated => "ExecutionCreated",
            Self::ExecutionStarted => "ExecutionStarted",
            Self::ExecutionCompleted => "ExecutionCompleted",
            Self::ExecutionFailed => "ExecutionFailed",
            Self::ExecutionCancelled => "ExecutionCancelled",
            Self::TaskReady => "TaskReady",
            Self::TaskMapped => "TaskMapped",
            Self::TaskStarted => "TaskStarted",
            Self::TaskRetried => "TaskRetried",
            Self::TaskCompleted => "TaskCompleted",
            Self::TaskFailed => "TaskFailed",
            Self::TaskSkipped => "TaskSkipped",
            Self::TaskCancelled => "TaskCancelled",
        }
    }

    /// True for the events that end an execution.
    pub fn ends_execution(self) -> bool {
        matches!(self, Self::ExecutionCompleted | Self::ExecutionFailed | Self::ExecutionCancelled)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text).ok_or_else(|| format!("unknown event kind `{text}`"))
    }
}

/// One state change of an execution or of one of its tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The execution.
    pub execution_id: Uuid,
    /// The task, for task events.
    pub task_id: Option<String>,
    /// What changed.
    pub kind: EventKind,
    /// The attempt, for task events about an attempt.
    pub attempt: Option<u32>,
    /// An error or a reason, where there is one; for `TaskStarted`, the worker that runs the
    /// attempt (its executor's [owner id](crate::UnifiedExecutor::owner_id)).
    pub message: Option<String>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Its place in the execution's stored log (1, 2, 3, ... in the order the events committed,
    /// without gaps), for events read from the database; `None` for events broadcast as they
    /// are committed.
    pub sequence: Option<i64>,
}

impl Event {
    pub(crate) fn to_row(&self) -> NewEventRow {
        NewEventRow {
            execution_id: self.execution_id.to_string(),
            task_id: self.task_id.clone(),
            kind: self.kind.as_str().to_owned(),
            attempt: self.attempt.map(|attempt| attempt as i32),
            message: self.message.clone(),
            created_at: self.at.timestamp_micros(),
        }
    }

    pub(crate) fn from_row(row: EventRow) -> Result<Self, StoreError> {
        Ok(Self {
            execution_id: parse_id(&row.execution_id)?,
            task_id: row.task_id,
            kind: row.kind.parse().map_err(StoreError::Corrupt)?,
            attempt: row.attempt.map(|attempt| attempt.max(0) as u32),
            message: row.message,
            at: to_datetime(row.created_at),
            sequence: Some(row.sequence),
        })
    }
}

/// Parses a stored execution id.
pub(crate) fn parse_id(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|error| StoreError::Corrupt(format!("execution id `{text}`: {error}")))
}

/// Events gathered inside a transaction, persisted with it and broadcast after it commits.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    events: Vec<Event>,
    at: DateTime<Utc>,
}

impl EventLog {
    /// A log stamping every event with `at`, at the microsecond precision it is stored with.
    pub fn at(at: DateTime<Utc>) -> Self {
        Self { events: Vec::new(), at: to_datetime(at.timestamp_micros()) }
    }

    /// The time the events are stamped with, in microseconds since the epoch.
    pub fn micros(&self) -> i64 {
        self.at.timestamp_micros()
    }

    /// Records an execution event.
    pub fn execution(&mut self, execution_id: Uuid, kind: EventKind, message: Option<String>) {
        self.push(execution_id, None, kind, None, message);
    }

    /// Records a task event.
    pub fn task(
        &mut self,
        execution_id: Uuid,
        task_id: &str,
        kind: EventKind,
        attempt: Option<u32>,
        message: Option<String>,
    ) {
        self.push(execution_id, Some(task_id.to_owned()), kind, attempt, message);
    }

    fn push(
        &mut self,
        execution_id: Uuid,
        task_id: Option<String>,
        kind: EventKind,
        attempt: Option<u32>,
        message: Option<String>,
    ) {
        self.events.push(Event { execution_id, task_id, kind, attempt, message, at: self.at, sequence: None });
    }

    /// Drops the events of this kind logged so far.
    pub fn forget(&mut self, kind: EventKind) {
        self.events.retain(|event| event.kind != kind);
    }

    /// How many events of each execution are logged.
    pub fn counts(&self) -> HashMap<Uuid, usize> {
        let mut counts = HashMap::new();
        for event in &self.events {
            *counts.entry(event.execution_id).or_default() += 1;
        }
        counts
    }

    /// The rows to insert.
    pub fn rows(&self) -> Vec<NewEventRow> {
        self.events.iter().map(Event::to_row).collect()
    }

    /// The events, in the order recorded.
    pub fn into_events(self) -> Vec<Event> {
        self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_text() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), kind);
        }
        assert!("Exploded".parse::<EventKind>().is_err());
    }
}
