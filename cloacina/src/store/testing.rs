//! Stores for the store's own tests: a SQLite file, and PostgreSQL when it is configured.

use diesel::RunQueryDsl;

use super::{DatabaseUrl, NewExecutionRow, Store, StoreOptions};

/// The tests' store options: the defaults, but for the wait for a connection, scaled by
/// `CLOACINA_TEST_TIME_SCALE` (a whole number, 1 when unset). Under valgrind (`make leak-check`),
/// niced and beside other checks, connecting to PostgreSQL can take longer than the default's
/// 30 seconds, and the test would fail on the wait, not on what it tests.
fn test_options() -> StoreOptions {
    let scale = std::env::var("CLOACINA_TEST_TIME_SCALE").ok().and_then(|value| value.parse::<u32>().ok());
    let defaults = StoreOptions::default();
    StoreOptions { connection_timeout: defaults.connection_timeout * scale.unwrap_or(1).max(1), ..defaults }
}

/// A store on a SQLite file, and on PostgreSQL (in a schema of its own) when
/// `CLOACINA_TEST_POSTGRES_URL` names a server, which `CLOACINA_REQUIRE_POSTGRES=1` requires.
pub(crate) async fn stores(directory: &tempfile::TempDir) -> Vec<(Store, Option<String>)> {
    let file = DatabaseUrl::parse(&format!("sqlite:///{}", directory.path().join("store.db").display()));
    let mut stores = vec![(Store::open(&file.unwrap(), &test_options()).await.unwrap(), None)];
    if let Some((store, schema)) = postgres_store().await {
        stores.push((store, Some(schema)));
    }
    stores
}

/// A store on PostgreSQL in a schema of its own, with the schema's name; `None` when PostgreSQL
/// is not configured (a failure when `CLOACINA_REQUIRE_POSTGRES=1`).
pub(crate) async fn postgres_store() -> Option<(Store, String)> {
    match std::env::var("CLOACINA_TEST_POSTGRES_URL") {
        Ok(server) if !server.is_empty() => {
            let schema = format!("cloacina_store_{}", uuid::Uuid::new_v4().simple());
            let DatabaseUrl::Postgres(postgres) = DatabaseUrl::parse(&server).unwrap() else {
                panic!("CLOACINA_TEST_POSTGRES_URL is not a PostgreSQL URL");
            };
            let url = DatabaseUrl::Postgres(postgres.with_schema(&schema).unwrap());
            Some((Store::open(&url, &test_options()).await.unwrap(), schema))
        }
        _ if std::env::var("CLOACINA_REQUIRE_POSTGRES").is_ok_and(|value| value == "1") => {
            panic!("CLOACINA_REQUIRE_POSTGRES=1 but CLOACINA_TEST_POSTGRES_URL is not set")
        }
        _ => None,
    }
}

/// Drops a test's PostgreSQL schema.
pub(crate) async fn drop_schema(store: &Store, schema: Option<String>) {
    if let Some(schema) = schema {
        let drop = format!("DROP SCHEMA {schema} CASCADE");
        store.write(move |connection| Ok(diesel::sql_query(&drop).execute(connection)?)).await.unwrap();
    }
}

/// A running execution's row, `id`, of workflow `w` version `v` (shape `s`) with `tasks` tasks
/// left.
pub(crate) fn execution_row(id: &str, tasks: i32) -> NewExecutionRow {
    NewExecutionRow {
        id: id.to_owned(),
        workflow_name: "w".into(),
        workflow_version: "v".into(),
        status: "Running".into(),
        context: "{}".into(),
        remaining_tasks: tasks,
        created_at: 1,
        workflow_shape: "s".into(),
        rerun_of: None,
        workflow_graph: String::new(),
        trace_context: None,
        execution_key: None,
    }
}
