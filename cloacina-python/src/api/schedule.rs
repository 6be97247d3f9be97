//! `Schedule`: a cron schedule stored in the database, and what the executor's schedule
//! methods share.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cloacina::{Catchup, ExecutorError, NewSchedule, Schedule, UnifiedExecutor, WorkflowRef};
use pyo3::prelude::*;

use crate::api::context::PyContext;
use crate::exceptions::{BindingResult, ErrorKind, error};
use crate::running::runtime::block_on;
use crate::values::{Reading, quoted};

/// A cron schedule: its workflow starts at each tick of its expression, in its time zone.
#[pyclass(module = "cloacina", name = "Schedule", frozen)]
pub struct PySchedule {
    executor: UnifiedExecutor,
    inner: Mutex<Schedule>,
    reading: Reading,
}

impl PySchedule {
    /// A schedule as stored, whose methods act through `executor`.
    pub fn new(executor: UnifiedExecutor, inner: Schedule, reading: Reading) -> Self {
        Self { executor, inner: Mutex::new(inner), reading }
    }

    fn state(&self) -> Schedule {
        self.read(Schedule::clone)
    }

    /// Reads the schedule as it is now, without copying it (its context may be large).
    fn read<T>(&self, reader: impl FnOnce(&Schedule) -> T) -> T {
        reader(&self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn replace(&self, schedule: Schedule) {
        *self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = schedule;
    }

    /// A time in the schedule's zone, as Python gets it (an aware datetime in that
    /// `zoneinfo.ZoneInfo` zone).
    fn local(&self, time: DateTime<Utc>) -> DateTime<Tz> {
        let zone: Tz = self.read(|state| state.timezone.parse().unwrap_or(Tz::UTC));
        time.with_timezone(&zone)
    }
}

#[pymethods]
impl PySchedule {
    /// Its name, unique in the database.
    #[getter]
    fn name(&self) -> String {
        self.read(|state| state.name.clone())
    }

    /// The name of the workflow it starts.
    #[getter]
    fn workflow(&self) -> String {
        self.read(|state| state.workflow_name.clone())
    }

    /// Its cron expression.
    #[getter]
    fn cron(&self) -> String {
        self.read(|state| state.cron.clone())
    }

    /// The IANA time zone its expression is read in.
    #[getter]
    fn timezone(&self) -> String {
        self.read(|state| state.timezone.clone())
    }

    /// What happens to ticks missed while no executor served it: `"skip"`, `"latest"` or `"all"`.
    #[getter]
    fn catchup(&self) -> &'static str {
        self.read(|state| state.catchup.as_str())
    }

    /// The initial context of the executions it starts (each also gets `scheduled_at`).
    #[getter]
    fn context(&self) -> PyContext {
        PyContext::wrap(self.read(|state| state.context.clone()), self.reading)
    }

    /// Whether it is paused.
    #[getter]
    fn paused(&self) -> bool {
        self.read(|state| state.paused)
    }

    /// Its next tick, in its time zone; `None` if its expression never fires again.
    #[getter]
    fn next_fire_at(&self) -> Option<DateTime<Tz>> {
        self.read(|state| state.next_fire_at).map(|time| self.local(time))
    }

    /// The tick of the last execution it started, in its time zone.
    #[getter]
    fn last_fired_at(&self) -> Option<DateTime<Tz>> {
        self.read(|state| state.last_fired_at).map(|time| self.local(time))
    }

    /// The id of the last execution it started.
    #[getter]
    fn last_execution_id(&self) -> Option<String> {
        self.read(|state| state.last_execution_id.map(|id| id.to_string()))
    }

    /// When it was created (UTC).
    #[getter]
    fn created_at(&self) -> DateTime<Utc> {
        self.read(|state| state.created_at)
    }

    /// Whether its next tick is more than a minute past while it is not paused: no running
    /// executor has its workflow registered.
    #[getter]
    fn overdue(&self) -> bool {
        self.read(|state| state.is_overdue(Utc::now()))
    }

    /// Its next `count` ticks from now, in its time zone (paused or not).
    #[pyo3(signature = (count = 5))]
    fn next_fire_times(&self, count: usize) -> BindingResult<Vec<DateTime<Tz>>> {
        let times =
            self.read(|state| state.next_fire_times(count.min(10_000), Utc::now())).map_err(ExecutorError::from)?;
        Ok(times.into_iter().map(|time| self.local(time)).collect())
    }

    /// Pauses it: it starts nothing until resumed.
    fn pause(&self, py: Python<'_>) -> BindingResult<()> {
        let (executor, name) = (self.executor.clone(), self.read(|state| state.name.clone()));
        self.replace(block_on(py, async move { executor.pause_schedule(&name).await })?);
        Ok(())
    }

    /// Resumes it from its next tick after now; ticks missed while paused are not started.
    fn resume(&self, py: Python<'_>) -> BindingResult<()> {
        let (executor, name) = (self.executor.clone(), self.read(|state| state.name.clone()));
        self.replace(block_on(py, async move { executor.resume_schedule(&name).await })?);
        Ok(())
    }

    /// Deletes it; the executions it started are kept.
    fn delete(&self, py: Python<'_>) -> BindingResult<()> {
        let (executor, name) = (self.executor.clone(), self.read(|state| state.name.clone()));
        block_on(py, async move { executor.delete_schedule(&name).await })?;
        Ok(())
    }

    /// Reads it again from the database (another process may have changed it).
    fn refresh(&self, py: Python<'_>) -> BindingResult<()> {
        let (executor, name) = (self.executor.clone(), self.read(|state| state.name.clone()));
        self.replace(block_on(py, async move { executor.get_schedule(&name).await })?);
        Ok(())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let state = self.state();
        Ok(format!(
            "Schedule(name={}, workflow={}, cron={}, timezone={}, paused={})",
            quoted(py, &state.name)?,
            quoted(py, &state.workflow_name)?,
            quoted(py, &state.cron)?,
            quoted(py, &state.timezone)?,
            if state.paused { "True" } else { "False" }
        ))
    }
}

/// Stores a schedule (see `UnifiedExecutor.schedule`).
pub fn schedule(
    py: Python<'_>,
    executor: &UnifiedExecutor,
    workflow: WorkflowRef,
    declared: NewSchedule,
    reading: Reading,
) -> BindingResult<PySchedule> {
    let (runner, executor) = (executor.clone(), executor.clone());
    let stored = block_on(py, async move { runner.schedule(workflow, declared).await })?;
    Ok(PySchedule::new(executor, stored, reading))
}

/// Every schedule in the database, by name.
pub fn list(py: Python<'_>, executor: &UnifiedExecutor, reading: Reading) -> BindingResult<Vec<PySchedule>> {
    let runner = executor.clone();
    let stored = block_on(py, async move { runner.list_schedules().await })?;
    Ok(stored.into_iter().map(|schedule| PySchedule::new(executor.clone(), schedule, reading)).collect())
}

/// The schedule named `name`.
pub fn get(py: Python<'_>, executor: &UnifiedExecutor, name: String, reading: Reading) -> BindingResult<PySchedule> {
    let runner = executor.clone();
    let stored = block_on(py, async move { runner.get_schedule(&name).await })?;
    Ok(PySchedule::new(executor.clone(), stored, reading))
}

/// A catch-up policy by name.
pub fn catchup(text: &str) -> BindingResult<Catchup> {
    text.parse::<Catchup>().map_err(|problem| error(ErrorKind::Validation, problem.to_string()).into())
}
