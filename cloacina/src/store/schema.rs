//! Diesel's view of the tables (see `migrations/`). Times are microseconds since the Unix epoch.

#![allow(missing_docs)]

diesel::table! {
    executions (id) {
        id -> Text,
        workflow_name -> Text,
        workflow_version -> Text,
        status -> Text,
        context -> Text,
        error -> Nullable<Text>,
        remaining_tasks -> Integer,
        created_at -> BigInt,
        started_at -> Nullable<BigInt>,
        finished_at -> Nullable<BigInt>,
        workflow_shape -> Text,
        event_count -> BigInt,
        rerun_of -> Nullable<Text>,
        workflow_graph -> Text,
        trace_context -> Nullable<Text>,
        execution_key -> Nullable<Text>,
    }
}

diesel::table! {
    task_executions (execution_id, task_id) {
        execution_id -> Text,
        task_id -> Text,
        position -> Integer,
        workflow_name -> Text,
        status -> Text,
        waiting_on -> Integer,
        failed_dependencies -> Integer,
        skipped_dependencies -> Integer,
        attempt -> Integer,
        ready_at -> Nullable<BigInt>,
        retry_at -> Nullable<BigInt>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<BigInt>,
        recoveries -> Integer,
        error -> Nullable<Text>,
        started_at -> Nullable<BigInt>,
        finished_at -> Nullable<BigInt>,
        workflow_version -> Text,
        concurrency_key -> Nullable<Text>,
        concurrency_limit -> Nullable<Integer>,
        map_index -> Nullable<Integer>,
        map_count -> Nullable<Integer>,
    }
}

diesel::table! {
    task_outputs (execution_id, task_id) {
        execution_id -> Text,
        task_id -> Text,
        delta -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    execution_events (id) {
        id -> BigInt,
        execution_id -> Text,
        task_id -> Nullable<Text>,
        kind -> Text,
        attempt -> Nullable<Integer>,
        message -> Nullable<Text>,
        created_at -> BigInt,
        sequence -> BigInt,
    }
}

diesel::table! {
    task_logs (execution_id, task_id, attempt, created_at) {
        execution_id -> Text,
        task_id -> Text,
        attempt -> Integer,
        records -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    schedules (name) {
        name -> Text,
        workflow_name -> Text,
        cron -> Text,
        timezone -> Text,
        context -> Text,
        catchup -> Text,
        paused -> Integer,
        next_fire_at -> BigInt,
        last_fired_at -> Nullable<BigInt>,
        last_execution_id -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(executions, task_executions, task_outputs, execution_events, task_logs);
