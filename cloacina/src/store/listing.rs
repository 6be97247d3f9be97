//! Listing executions, newest first, a page at a time; and the workflow versions executions ran.
//!
//! Pages are cut by a keyset cursor, the (creation time, id) of the last execution shown, not by
//! an offset: the next page starts where the index says, however many executions came before,
//! and executions created meanwhile do not shift it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;
use uuid::Uuid;

use super::connection::AnyConnection;
use super::schema::executions;
use crate::error::StoreError;
use crate::result::{ExecutionStatus, ExecutionSummary};

/// Executions a listing returns at most when no limit is given.
pub const DEFAULT_LIMIT: usize = 100;

/// Which executions a listing returns: newest first (by creation time, then id), filtered, from
/// a cursor on.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// Only executions of this workflow.
    pub workflow_name: Option<String>,
    /// Only executions in this state.
    pub status: Option<ExecutionStatus>,
    /// Only executions created at or after this time.
    pub created_since: Option<DateTime<Utc>>,
    /// Only executions created before this time.
    pub created_before: Option<DateTime<Utc>>,
    /// Only executions listed after this one: the next page (see [`ExecutionCursor`]).
    pub after: Option<ExecutionCursor>,
    /// At most this many (100 when `None`).
    pub limit: Option<usize>,
}

impl ExecutionFilter {
    /// Every execution, newest first, up to the default limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only executions of this workflow.
    pub fn workflow(mut self, name: impl Into<String>) -> Self {
        self.workflow_name = Some(name.into());
        self
    }

    /// Only executions in this state.
    pub fn status(mut self, status: ExecutionStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Only executions created at or after `time`.
    pub fn created_since(mut self, time: DateTime<Utc>) -> Self {
        self.created_since = Some(time);
        self
    }

    /// Only executions created before `time`.
    pub fn created_before(mut self, time: DateTime<Utc>) -> Self {
        self.created_before = Some(time);
        self
    }

    /// Only executions listed after the one `cursor` marks: the page after a page that ended
    /// with it.
    pub fn after(mut self, cursor: ExecutionCursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// At most this many.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// A place in a listing of executions: the creation time and id of the last execution of a
/// page, from which [`ExecutionFilter::after`] lists the next.
///
/// Its text form (`Display`, `FromStr`) is meant to be handed to a client and back: the
/// creation time in microseconds since the epoch and the id, joined by `~`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutionCursor {
    /// The execution's creation time, in microseconds since the epoch.
    pub created_at: i64,
    /// The execution's id.
    pub execution_id: Uuid,
}

impl ExecutionCursor {
    /// The place of `summary` in a listing.
    pub fn of(summary: &ExecutionSummary) -> Self {
        Self { created_at: summary.created_at.timestamp_micros(), execution_id: summary.execution_id }
    }
}

impl fmt::Display for ExecutionCursor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}~{}", self.created_at, self.execution_id)
    }
}

/// A cursor's text that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a cursor of an execution listing: pass the next cursor a listing returned, unchanged")]
pub struct InvalidCursor(pub String);

impl FromStr for ExecutionCursor {
    type Err = InvalidCursor;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidCursor(text.chars().take(100).collect());
        let (time, id) = text.split_once('~').ok_or_else(invalid)?;
        let created_at = time.parse::<i64>().map_err(|_| invalid())?;
        let execution_id = Uuid::parse_str(id).map_err(|_| invalid())?;
        Ok(Self { created_at, execution_id })
    }
}

/// An execution without its context, for listings.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = executions)]
pub(crate) struct ExecutionSummaryRow {
    pub id: String,
    pub workflow_name: String,
    pub status: String,
    pub error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// The executions `filter` selects, newest first. Each filter has an index that serves it in
/// this order: (created_at, id), (workflow_name, created_at, id), (status, created_at, id).
pub(crate) fn list_executions(
    connection: &mut AnyConnection,
    filter: &ExecutionFilter,
) -> Result<Vec<ExecutionSummaryRow>, StoreError> {
    if filter.workflow_name.as_deref().is_some_and(|name| !super::can_be_stored(name)) {
        return Ok(Vec::new());
    }
    let limit = i64::try_from(filter.limit.unwrap_or(DEFAULT_LIMIT)).unwrap_or(i64::MAX);
    let mut query = executions::table
        .select(ExecutionSummaryRow::as_select())
        .order((executions::created_at.desc(), executions::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(name) = &filter.workflow_name {
        query = query.filter(executions::workflow_name.eq(name.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(executions::status.eq(status.as_str()));
    }
    if let Some(since) = filter.created_since {
        query = query.filter(executions::created_at.ge(since.timestamp_micros()));
    }
    if let Some(before) = filter.created_before {
        query = query.filter(executions::created_at.lt(before.timestamp_micros()));
    }
    if let Some(cursor) = filter.after {
        let id = cursor.execution_id.to_string();
        query = query.filter(
            executions::created_at
                .lt(cursor.created_at)
                .or(executions::created_at.eq(cursor.created_at).and(executions::id.lt(id))),
        );
    }
    Ok(query.load(connection)?)
}

/// A workflow version that executions ran: how many, when, and its task graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkflowVersionRow {
    pub workflow_name: String,
    pub workflow_version: String,
    pub executions: i64,
    pub first_created_at: i64,
    pub last_created_at: i64,
}

/// The workflow versions stored executions ran (of one workflow, or of all), newest last run
/// first.
pub(crate) fn workflow_versions(
    connection: &mut AnyConnection,
    workflow_name: Option<&str>,
) -> Result<Vec<WorkflowVersionRow>, StoreError> {
    if workflow_name.is_some_and(|name| !super::can_be_stored(name)) {
        return Ok(Vec::new());
    }
    let mut query = executions::table
        .group_by((executions::workflow_name, executions::workflow_version))
        .select((
            executions::workflow_name,
            executions::workflow_version,
            count_star(),
            min(executions::created_at),
            max(executions::created_at),
        ))
        .into_boxed();
    if let Some(name) = workflow_name {
        query = query.filter(executions::workflow_name.eq(name.to_owned()));
    }
    type Row = (String, String, i64, Option<i64>, Option<i64>);
    let mut versions: Vec<WorkflowVersionRow> = query
        .load::<Row>(connection)?
        .into_iter()
        .map(|(workflow_name, workflow_version, executions, first, last)| WorkflowVersionRow {
            workflow_name,
            workflow_version,
            executions,
            first_created_at: first.unwrap_or_default(),
            last_created_at: last.unwrap_or_default(),
        })
        .collect();
    versions.sort_by(|left, right| {
        right.last_created_at.cmp(&left.last_created_at).then_with(|| left.workflow_name.cmp(&right.workflow_name))
    });
    Ok(versions)
}

/// The task graph (as stored with each execution) of a workflow version, from its latest
/// execution; empty when none stored one.
pub(crate) fn version_graph(
    connection: &mut AnyConnection,
    workflow_name: &str,
    workflow_version: &str,
) -> Result<String, StoreError> {
    if !super::can_be_stored(workflow_name) || !super::can_be_stored(workflow_version) {
        return Ok(String::new());
    }
    Ok(executions::table
        .filter(executions::workflow_name.eq(workflow_name))
        .filter(executions::workflow_version.eq(workflow_version))
        .order((executions::created_at.desc(), executions::id.desc()))
        .select(executions::workflow_graph)
        .first::<String>(connection)
        .optional()?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_from_its_text_and_bad_text_is_refused() {
        let cursor = ExecutionCursor { created_at: 1_764_950_000_123_456, execution_id: Uuid::new_v4() };
        assert_eq!(cursor.to_string().parse::<ExecutionCursor>(), Ok(cursor));
        for bad in ["", "12", "x~00000000-0000-0000-0000-000000000000", "12~not-a-uuid", "~"] {
            let error = bad.parse::<ExecutionCursor>().unwrap_err();
            assert!(error.to_string().contains("not a cursor"), "{error}");
        }
    }
}
