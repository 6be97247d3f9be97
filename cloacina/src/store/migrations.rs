//! The schema, embedded per backend and applied when a store opens.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::connection::AnyConnection;
use crate::error::StoreError;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// An arbitrary constant that names the advisory lock held while PostgreSQL migrations run.
const POSTGRES_MIGRATION_LOCK: i64 = 0x636c_6f61_6369_6e61;

/// Applies pending migrations. Several processes opening the same database at once take turns:
/// SQLite through its write lock, PostgreSQL through an advisory lock.
pub(super) fn run(connection: &mut AnyConnection) -> Result<(), StoreError> {
    let failed = |error: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(error.to_string());
    match connection {
        AnyConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
            match sqlite.run_pending_migrations(SQLITE) {
                Ok(_) => Ok(AnsiTransactionManager::commit_transaction(sqlite)?),
                Err(error) => {
                    let _ = AnsiTransactionManager::rollback_transaction(sqlite);
                    Err(failed(error))
                }
            }
        }
        AnyConnection::Postgres(postgres) => postgres.transaction(|postgres| {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({POSTGRES_MIGRATION_LOCK})")).execute(postgres)?;
            create_schema(postgres)?;
            postgres.run_pending_migrations(POSTGRES).map(|_| ()).map_err(failed)
        }),
    }
}

/// Creates the connection's schema (the first of its `search_path`) if it does not exist. The
/// name is only ever a bound value: `format('%I')` quotes it inside the database.
fn create_schema(postgres: &mut diesel::PgConnection) -> Result<(), StoreError> {
    diesel::sql_query(
        "CREATE OR REPLACE FUNCTION pg_temp.cloacina_create_schema(name text) RETURNS void LANGUAGE plpgsql AS \
         $$ BEGIN EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', name); END $$",
    )
    .execute(postgres)?;
    diesel::sql_query(
        "SELECT pg_temp.cloacina_create_schema(current_setting('search_path')) \
         WHERE current_setting('search_path') NOT LIKE '%,%' AND current_setting('search_path') NOT LIKE '%$%'",
    )
    .execute(postgres)?;
    Ok(())
}
