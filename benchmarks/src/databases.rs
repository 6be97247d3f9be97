//! PostgreSQL databases for the runs: `run.py` creates a fresh one per measurement and drops it
//! afterwards (SQLite files it makes itself).

use diesel::{Connection, PgConnection, RunQueryDsl};

fn valid(name: &str) -> Result<(), String> {
    if !name.is_empty() && name.chars().all(|character| character.is_ascii_alphanumeric() || character == '_') {
        Ok(())
    } else {
        Err(format!("`{name}` is not a benchmark database name: use letters, digits and underscores"))
    }
}

async fn run(server: &str, statement: String) -> Result<(), Box<dyn std::error::Error>> {
    let server = server.to_owned();
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        let mut connection = PgConnection::establish(&server).map_err(|error| error.to_string())?;
        diesel::sql_query(statement).execute(&mut connection).map_err(|error| error.to_string())?;
        Ok(())
    })
    .await??;
    Ok(())
}

/// Creates the database `name` on the server at `server`.
pub async fn create(server: &str, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    valid(name)?;
    run(server, format!("CREATE DATABASE {name}")).await
}

/// Drops the database `name` on the server at `server`, disconnecting its sessions.
pub async fn drop(server: &str, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    valid(name)?;
    run(server, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await
}
