//! The databases benchmarked: a fresh SQLite file, and a fresh PostgreSQL database.

use diesel::{Connection, PgConnection, RunQueryDsl};

/// A database created for the run and removed afterwards.
pub struct BenchDatabase {
    /// The backend, for the table.
    pub name: &'static str,
    /// The executor URL.
    pub url: String,
    _directory: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl BenchDatabase {
    /// A SQLite file in a temporary directory.
    pub fn sqlite_file() -> std::io::Result<Self> {
        let directory = tempfile::tempdir()?;
        let url = format!("sqlite:///{}", directory.path().join("bench.db").display());
        Ok(Self { name: "sqlite-file", url, _directory: Some(directory), postgres: None })
    }

    /// A new database on the configured PostgreSQL server, if one is configured.
    pub async fn postgres() -> Result<Option<Self>, Box<dyn std::error::Error>> {
        let server = ["CLOACINA_BENCH_POSTGRES_URL", "CLOACINA_TEST_POSTGRES_URL"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()));
        let Some(server) = server else {
            return Ok(None);
        };
        let name = format!("cloacina_bench_{}", std::process::id());
        let admin = server.clone();
        let create = format!("CREATE DATABASE {name}");
        tokio::task::spawn_blocking(move || -> Result<(), String> {
            let mut connection = PgConnection::establish(&admin).map_err(|error| error.to_string())?;
            diesel::sql_query(create).execute(&mut connection).map_err(|error| error.to_string())?;
            Ok(())
        })
        .await??;
        let mut url = url::Url::parse(&server)?;
        url.set_path(&name);
        Ok(Some(Self { name: "postgresql", url: url.to_string(), _directory: None, postgres: Some((server, name)) }))
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if let Some((server, name)) = self.postgres.take()
            && let Ok(mut connection) = PgConnection::establish(&server)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut connection);
        }
    }
}
