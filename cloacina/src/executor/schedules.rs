//! Schedules on the executor: storing them, and serving them. Every executor runs a loop that
//! starts the due ticks of the schedules of the workflows it has registered (see
//! [`crate::schedules`]), waking at the next tick, when a schedule changes here, and every
//! refresh interval for schedules changed by other processes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;
use uuid::Uuid;

use super::engine::Engine;
use super::events::parse_id;
use super::inputs::parse_context;
use super::scheduler::{self, Transition};
use super::{UnifiedExecutor, WorkflowRef, worker};
use crate::context::Context;
use crate::error::{ExecutorError, ScheduleError, StoreError};
use crate::schedules::{
    Catchup, CronTimes, NewSchedule, SCHEDULED_AT_KEY, Schedule, check_name, plan, tick_key, tick_value,
};
use crate::store::{self, ScheduleDefinition, ScheduleRow, now_micros, to_datetime};

/// The least and the most time between looks at the schedules for changes made by other
/// processes (the executor's poll interval, within these bounds). A schedule declared elsewhere
/// starts its first tick up to this late (well within the minute a tick may be late under
/// `skip`); the ticks after it are waited for exactly.
const REFRESH_BOUNDS: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(60));

/// How often schedules no running executor serves are looked for, to be reported.
const OVERDUE_CHECK: Duration = Duration::from_secs(60);

/// A stored next tick that never comes: the expression fires no more.
const NEVER: i64 = i64::MAX;

impl UnifiedExecutor {
    /// Stores a schedule that starts `workflow` at each tick of its cron expression, and
    /// returns it. Under a name already used, the schedule is updated if its definition
    /// differs (its next tick counted from now; paused or not as it was) and returned as it
    /// is otherwise, so that a program may declare its schedules each time it starts.
    ///
    /// The workflow need not be registered here: any running executor that has it registered
    /// starts its ticks.
    pub async fn schedule(
        &self,
        workflow: impl Into<WorkflowRef>,
        schedule: NewSchedule,
    ) -> Result<Schedule, ExecutorError> {
        let workflow_name = match workflow.into() {
            WorkflowRef::Name(name) => name,
            WorkflowRef::Workflow(workflow) => self.register(workflow).name().to_owned(),
        };
        let NewSchedule { cron, timezone, context, catchup, name } = schedule;
        let name = name.unwrap_or_else(|| workflow_name.clone());
        check_name(&name)?;
        let times = CronTimes::parse(&cron, &timezone)?;
        context.check_storable()?;
        if let Some((key, _)) = context.written_blobs().first() {
            return Err(ScheduleError::BinaryContext { key: key.clone() }.into());
        }
        let context = serde_json::to_string(context.as_map())
            .map_err(|error| ExecutorError::Store(StoreError::Corrupt(error.to_string())))?;
        let row = self
            .engine
            .store
            .write(move |connection| {
                let now = now_micros();
                let next_fire_at = times.after(to_datetime(now)).map_or(NEVER, |next| next.timestamp_micros());
                let definition = ScheduleDefinition {
                    workflow_name: &workflow_name,
                    cron: &cron,
                    timezone: &timezone,
                    context: &context,
                    catchup: catchup.as_str(),
                    next_fire_at,
                };
                match store::find_schedule(connection, &name)? {
                    Some(existing) if same_definition(&existing, &definition) => return Ok(existing),
                    Some(_) => {
                        store::redefine_schedule(connection, &name, &definition, now)?;
                    }
                    None => store::insert_schedule(
                        connection,
                        &ScheduleRow {
                            name: name.clone(),
                            workflow_name: workflow_name.clone(),
                            cron: cron.clone(),
                            timezone: timezone.clone(),
                            context: context.clone(),
                            catchup: catchup.as_str().to_owned(),
                            paused: 0,
                            next_fire_at,
                            last_fired_at: None,
                            last_execution_id: None,
                            created_at: now,
                            updated_at: now,
                        },
                    )?,
                }
                store::find_schedule(connection, &name)?
                    .ok_or_else(|| StoreError::Corrupt(format!("schedule `{name}` vanished as it was stored")))
            })
            .await?;
        self.engine.schedules_changed.notify_one();
        Ok(to_schedule(row)?)
    }

    /// Every schedule in the database, by name.
    pub async fn list_schedules(&self) -> Result<Vec<Schedule>, ExecutorError> {
        let rows = self.engine.store.read(store::list_schedules).await?;
        Ok(rows.into_iter().map(to_schedule).collect::<Result<_, _>>()?)
    }

    /// The schedule named `name`.
    pub async fn get_schedule(&self, name: &str) -> Result<Schedule, ExecutorError> {
        let wanted = name.to_owned();
        let row = self.engine.store.read(move |connection| store::find_schedule(connection, &wanted)).await?;
        let row = row.ok_or_else(|| ScheduleError::NotFound(name.to_owned()))?;
        Ok(to_schedule(row)?)
    }

    /// Pauses a schedule: it starts nothing until resumed. Returns it as it is now.
    pub async fn pause_schedule(&self, name: &str) -> Result<Schedule, ExecutorError> {
        let wanted = name.to_owned();
        let changed = self
            .engine
            .store
            .write(move |connection| store::set_schedule_paused(connection, &wanted, true, None, now_micros()))
            .await?;
        self.changed(name, changed).await
    }

    /// Resumes a paused schedule from its next tick after now: the ticks it missed while
    /// paused are not started. Returns it as it is now.
    pub async fn resume_schedule(&self, name: &str) -> Result<Schedule, ExecutorError> {
        let times = self.get_schedule(name).await?.times()?;
        let wanted = name.to_owned();
        let changed = self
            .engine
            .store
            .write(move |connection| {
                let now = now_micros();
                let next = times.after(to_datetime(now)).map_or(NEVER, |next| next.timestamp_micros());
                store::set_schedule_paused(connection, &wanted, false, Some(next), now)
            })
            .await?;
        self.changed(name, changed).await
    }

    /// Deletes a schedule. The executions it started are kept.
    pub async fn delete_schedule(&self, name: &str) -> Result<(), ExecutorError> {
        let wanted = name.to_owned();
        let deleted = self.engine.store.write(move |connection| store::delete_schedule(connection, &wanted)).await?;
        if !deleted {
            return Err(ScheduleError::NotFound(name.to_owned()).into());
        }
        self.engine.schedules_changed.notify_one();
        Ok(())
    }

    async fn changed(&self, name: &str, changed: bool) -> Result<Schedule, ExecutorError> {
        if !changed {
            return Err(ScheduleError::NotFound(name.to_owned()).into());
        }
        self.engine.schedules_changed.notify_one();
        self.get_schedule(name).await
    }
}

fn same_definition(row: &ScheduleRow, definition: &ScheduleDefinition<'_>) -> bool {
    row.workflow_name == definition.workflow_name
        && row.cron == definition.cron
        && row.timezone == definition.timezone
        && row.context == definition.context
        && row.catchup == definition.catchup
}

/// A stored schedule as the API shows it.
fn to_schedule(row: ScheduleRow) -> Result<Schedule, StoreError> {
    let corrupt = |error: ScheduleError| StoreError::Corrupt(format!("schedule `{}`: {error}", row.name));
    Ok(Schedule {
        catchup: row.catchup.parse::<Catchup>().map_err(corrupt)?,
        context: Context::from_map(parse_context(&row.context)?),
        paused: row.paused != 0,
        next_fire_at: (row.next_fire_at != NEVER).then(|| to_datetime(row.next_fire_at)),
        last_fired_at: row.last_fired_at.map(to_datetime),
        last_execution_id: row.last_execution_id.as_deref().map(parse_id).transpose()?,
        created_at: to_datetime(row.created_at),
        updated_at: to_datetime(row.updated_at),
        name: row.name,
        workflow_name: row.workflow_name,
        cron: row.cron,
        timezone: row.timezone,
    })
}

/// Starts the due ticks of the schedules of the workflows registered here, until the executor
/// stops.
pub(crate) async fn serve(engine: Arc<Engine>) {
    let refresh = engine.config.poll_interval.clamp(REFRESH_BOUNDS.0, REFRESH_BOUNDS.1);
    let mut overdue = Overdue::default();
    loop {
        if engine.stopping.is_cancelled() {
            return;
        }
        let mut wake_at = Instant::now() + refresh;
        let names = engine.registry.names();
        if !names.is_empty() {
            match fire_due(&engine, &names).await {
                // A tick still due after this pass is another process's to start (or could
                // not be started): looked at again after the refresh interval.
                Ok(Some(next)) if next > now_micros() => {
                    let until = Duration::from_micros((next - now_micros()).max(0) as u64);
                    wake_at = wake_at.min(Instant::now() + until);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "could not start the due ticks of schedules; trying again"),
            }
        }
        overdue.report(&engine, &names).await;
        tokio::select! {
            _ = engine.stopping.cancelled() => return,
            _ = engine.schedules_changed.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
}

/// Starts every due tick of these workflows' schedules; returns their earliest next tick.
async fn fire_due(engine: &Arc<Engine>, names: &[String]) -> Result<Option<i64>, StoreError> {
    let now = Utc::now();
    let wanted = names.to_vec();
    let due =
        engine.store.read(move |connection| store::due_schedules(connection, &wanted, now.timestamp_micros())).await?;
    for row in due {
        let name = row.name.clone();
        if let Err(error) = fire_schedule(engine, row, now).await {
            tracing::warn!(schedule = name, %error, "could not start a due tick of the schedule; trying again");
        }
    }
    let wanted = names.to_vec();
    engine.store.read(move |connection| store::next_schedule_tick(connection, &wanted)).await
}

/// Starts what a due schedule's catch-up policy makes of its due ticks, and moves its next tick
/// past them.
async fn fire_schedule(engine: &Arc<Engine>, row: ScheduleRow, now: DateTime<Utc>) -> Result<(), ExecutorError> {
    let times = CronTimes::parse(&row.cron, &row.timezone)?;
    let catchup: Catchup = row.catchup.parse()?;
    let firing = plan(&times, to_datetime(row.next_fire_at), now, catchup);
    if firing.missed > 0 {
        tracing::warn!(
            schedule = row.name,
            workflow = row.workflow_name,
            missed = firing.missed,
            %catchup,
            "the schedule missed ticks while no executor served it; started as its catch-up policy says"
        );
    }
    let next = firing.next.map_or(NEVER, |next| next.timestamp_micros());
    let mut expected = row.next_fire_at;
    if firing.ticks.is_empty() {
        let name = row.name.clone();
        engine
            .store
            .write(move |connection| store::advance_schedule(connection, &name, expected, next, None, now_micros()))
            .await?;
        return Ok(());
    }
    for (index, &tick) in firing.ticks.iter().enumerate() {
        let after = firing.ticks.get(index + 1).map_or(next, |tick| tick.timestamp_micros());
        if !fire_tick(engine, &row, &times, tick, expected, after).await? {
            // Another process started this tick (and moves the schedule on).
            return Ok(());
        }
        expected = after;
    }
    Ok(())
}

/// Starts the execution of one tick and moves the schedule's next tick from `expected` to
/// `after`, in one transaction; false if another process had moved it.
async fn fire_tick(
    engine: &Arc<Engine>,
    row: &ScheduleRow,
    times: &CronTimes,
    tick: DateTime<Utc>,
    expected: i64,
    after: i64,
) -> Result<bool, ExecutorError> {
    let Some(workflow) = engine.registry.get(&row.workflow_name) else {
        // Unregistered since the schedule was read.
        return Ok(false);
    };
    let mut context = parse_context(&row.context)?;
    context.insert(SCHEDULED_AT_KEY.to_owned(), tick_value(tick, times));
    let context_json = serde_json::to_string(&context).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let key = tick_key(&row.name, tick);
    let execution_id = Uuid::now_v7();
    let permits = engine.take_permits(engine.config.max_concurrent_tasks);
    let request = engine.claim_request(permits.len());
    let name = row.name.clone();
    let started = engine
        .commit(move |connection| {
            // Started already (under the tick's key, by hand): the tick is handled.
            let existing = store::find_by_key(connection, workflow.name(), &key)?.map(|(id, _)| id);
            let id = existing.clone().unwrap_or_else(|| execution_id.to_string());
            let fired = Some((tick.timestamp_micros(), id.as_str()));
            if !store::advance_schedule(connection, &name, expected, after, fired, now_micros())? {
                return Ok((None, Transition::default()));
            }
            if existing.is_some() {
                return Ok((Some(Vec::new()), Transition::default()));
            }
            let creation = scheduler::Creation {
                execution_id,
                context_json: &context_json,
                blobs: &[],
                trace_context: None,
                key: Some(&key),
                start_at: None,
            };
            let (claimed, transition) =
                scheduler::create_execution(connection, &workflow, &creation, Utc::now(), &request)?;
            Ok((Some(claimed), transition))
        })
        .await?;
    match started {
        Some(claimed) => {
            tracing::info!(schedule = row.name, workflow = row.workflow_name, %execution_id, tick = %tick, "schedule started an execution");
            worker::start_claimed(engine, claimed, permits);
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Schedules reported as served by no running executor, by name and next tick, so that each is
/// reported once per tick it waits on.
#[derive(Default)]
struct Overdue {
    reported: HashSet<(String, i64)>,
    checked: Option<Instant>,
}

impl Overdue {
    /// Logs the schedules of workflows not registered here whose next tick is long past: no
    /// running executor has their workflow registered.
    async fn report(&mut self, engine: &Engine, names: &[String]) {
        if self.checked.is_some_and(|checked| checked.elapsed() < OVERDUE_CHECK) {
            return;
        }
        self.checked = Some(Instant::now());
        let Ok(rows) = engine.store.read(store::list_schedules).await else { return };
        let now = Utc::now();
        for schedule in rows.into_iter().filter_map(|row| to_schedule(row).ok()) {
            if names.contains(&schedule.workflow_name) || !schedule.is_overdue(now) {
                continue;
            }
            let next = schedule.next_fire_at.map_or(NEVER, |next| next.timestamp_micros());
            if self.reported.insert((schedule.name.clone(), next)) {
                tracing::warn!(
                    schedule = schedule.name,
                    workflow = schedule.workflow_name,
                    due = %schedule.next_fire_at.unwrap_or_default(),
                    "a schedule's tick is overdue: no running executor has its workflow registered; register it in \
                     an executor (a worker) to start its executions"
                );
            }
        }
    }
}
