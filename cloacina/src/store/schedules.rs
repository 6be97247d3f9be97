//! The `schedules` table: cron schedules and their next ticks (see `crate::schedules`).

use diesel::prelude::*;

use super::connection::AnyConnection;
use super::schema::schedules;
use crate::error::StoreError;

/// A stored schedule.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = schedules)]
pub(crate) struct ScheduleRow {
    pub name: String,
    pub workflow_name: String,
    pub cron: String,
    pub timezone: String,
    /// The initial context of its executions, as JSON.
    pub context: String,
    pub catchup: String,
    /// 1 when paused.
    pub paused: i32,
    /// The first tick not yet handled (`i64::MAX` when the expression never fires again).
    pub next_fire_at: i64,
    pub last_fired_at: Option<i64>,
    pub last_execution_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A schedule's definition, as changed by creating it again under its name.
pub(crate) struct ScheduleDefinition<'a> {
    pub workflow_name: &'a str,
    pub cron: &'a str,
    pub timezone: &'a str,
    pub context: &'a str,
    pub catchup: &'a str,
    pub next_fire_at: i64,
}

/// The schedule named `name`.
pub(crate) fn find_schedule(connection: &mut AnyConnection, name: &str) -> Result<Option<ScheduleRow>, StoreError> {
    Ok(schedules::table.find(name).select(ScheduleRow::as_select()).first(connection).optional()?)
}

/// Every schedule, by name.
pub(crate) fn list_schedules(connection: &mut AnyConnection) -> Result<Vec<ScheduleRow>, StoreError> {
    Ok(schedules::table.order(schedules::name.asc()).select(ScheduleRow::as_select()).load(connection)?)
}

/// Stores a new schedule.
pub(crate) fn insert_schedule(connection: &mut AnyConnection, row: &ScheduleRow) -> Result<(), StoreError> {
    diesel::insert_into(schedules::table).values(row).execute(connection)?;
    Ok(())
}

/// Replaces a schedule's definition and next tick, keeping whether it is paused and what it
/// fired.
pub(crate) fn redefine_schedule(
    connection: &mut AnyConnection,
    name: &str,
    definition: &ScheduleDefinition<'_>,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = diesel::update(schedules::table.find(name))
        .set((
            schedules::workflow_name.eq(definition.workflow_name),
            schedules::cron.eq(definition.cron),
            schedules::timezone.eq(definition.timezone),
            schedules::context.eq(definition.context),
            schedules::catchup.eq(definition.catchup),
            schedules::next_fire_at.eq(definition.next_fire_at),
            schedules::updated_at.eq(now),
        ))
        .execute(connection)?;
    Ok(changed == 1)
}

/// Pauses a schedule, or resumes it with its next tick; false if there is no such schedule.
pub(crate) fn set_schedule_paused(
    connection: &mut AnyConnection,
    name: &str,
    paused: bool,
    next_fire_at: Option<i64>,
    now: i64,
) -> Result<bool, StoreError> {
    let target = schedules::table.find(name);
    let paused = i32::from(paused);
    let changed = match next_fire_at {
        Some(next) => diesel::update(target)
            .set((schedules::paused.eq(paused), schedules::next_fire_at.eq(next), schedules::updated_at.eq(now)))
            .execute(connection)?,
        None => diesel::update(target)
            .set((schedules::paused.eq(paused), schedules::updated_at.eq(now)))
            .execute(connection)?,
    };
    Ok(changed == 1)
}

/// Deletes a schedule; false if there is no such schedule.
pub(crate) fn delete_schedule(connection: &mut AnyConnection, name: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(schedules::table.find(name)).execute(connection)? == 1)
}

/// Schedules of these workflows, not paused, whose next tick is at or before `now`.
pub(crate) fn due_schedules(
    connection: &mut AnyConnection,
    workflows: &[String],
    now: i64,
) -> Result<Vec<ScheduleRow>, StoreError> {
    Ok(schedules::table
        .filter(schedules::paused.eq(0))
        .filter(schedules::next_fire_at.le(now))
        .filter(schedules::workflow_name.eq_any(workflows))
        .order(schedules::next_fire_at.asc())
        .select(ScheduleRow::as_select())
        .load(connection)?)
}

/// The earliest next tick of the schedules of these workflows that are not paused.
pub(crate) fn next_schedule_tick(
    connection: &mut AnyConnection,
    workflows: &[String],
) -> Result<Option<i64>, StoreError> {
    Ok(schedules::table
        .filter(schedules::paused.eq(0))
        .filter(schedules::workflow_name.eq_any(workflows))
        .select(diesel::dsl::min(schedules::next_fire_at))
        .first(connection)?)
}

/// Moves a schedule's next tick from `expected` to `next`, recording the execution started for
/// a tick if one was: false when another process moved it first (or it was paused meanwhile).
/// The first statement of the transaction that starts the tick's execution, so that on
/// PostgreSQL it holds the schedule's row until that commits.
pub(crate) fn advance_schedule(
    connection: &mut AnyConnection,
    name: &str,
    expected: i64,
    next: i64,
    fired: Option<(i64, &str)>,
    now: i64,
) -> Result<bool, StoreError> {
    let target = schedules::table
        .filter(schedules::name.eq(name))
        .filter(schedules::next_fire_at.eq(expected))
        .filter(schedules::paused.eq(0));
    let changed = match fired {
        Some((tick, execution_id)) => diesel::update(target)
            .set((
                schedules::next_fire_at.eq(next),
                schedules::last_fired_at.eq(tick),
                schedules::last_execution_id.eq(execution_id),
                schedules::updated_at.eq(now),
            ))
            .execute(connection)?,
        None => diesel::update(target)
            .set((schedules::next_fire_at.eq(next), schedules::updated_at.eq(now)))
            .execute(connection)?,
    };
    Ok(changed == 1)
}
