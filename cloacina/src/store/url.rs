//! Database URLs: which backend, and where.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::StoreError;

/// Where an executor keeps its executions.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:///:memory:`: a private database that lives as long as the executor.
    SqliteMemory,
    /// `sqlite:///relative.db` or `sqlite:////absolute.db`: a database file.
    SqliteFile(PathBuf),
    /// `postgresql://user:password@host:port/database`.
    Postgres(PostgresUrl),
}

/// A PostgreSQL connection URL, split into the parts the engine reports.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    /// The URL handed to libpq.
    connection: String,
    /// `host:port`, for messages.
    address: String,
    /// The schema the executor keeps its tables in (`?schema=` in the URL).
    schema: Option<String>,
}

impl PostgresUrl {
    /// The URL handed to the driver.
    pub fn connection_string(&self) -> &str {
        &self.connection
    }

    /// `host:port`, as shown in messages.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The schema named by `?schema=`, if any.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// The URL with the schema set (checked like `?schema=`).
    pub fn with_schema(mut self, schema: &str) -> Result<Self, String> {
        validate_schema(schema)?;
        self.schema = Some(schema.to_owned());
        Ok(self)
    }
}

impl DatabaseUrl {
    /// Parses a URL of one of the accepted forms (see [`crate::error::ACCEPTED_URL_FORMS`]).
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidUrl { url: redact(text), reason: reason.to_owned() };
        let text = text.trim();
        let Some((scheme, rest)) = text.split_once(':') else {
            return Err(invalid("it has no scheme"));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => parse_sqlite(rest).map_err(|reason| invalid(&reason)),
            "postgres" | "postgresql" => parse_postgres(text).map_err(|reason| invalid(&reason)),
            other => Err(invalid(&format!("the scheme `{other}` is not supported"))),
        }
    }

    /// A short description of the database for messages, without any password.
    pub fn describe(&self) -> String {
        match self {
            Self::SqliteMemory => "an in-memory SQLite database".to_owned(),
            Self::SqliteFile(path) => format!("the SQLite file `{}`", path.display()),
            Self::Postgres(url) => format!("PostgreSQL at {}", url.address),
        }
    }

    /// True for the SQLite backends.
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::SqliteMemory | Self::SqliteFile(_))
    }
}

fn parse_sqlite(rest: &str) -> Result<DatabaseUrl, String> {
    if rest == ":memory:" {
        return Ok(DatabaseUrl::SqliteMemory);
    }
    let Some(path) = rest.strip_prefix("///") else {
        return Err("a SQLite URL starts with `sqlite:///` (three slashes, then the path)".to_owned());
    };
    if path.contains('?') {
        return Err("SQLite URLs take no query parameters; set options in the executor configuration".to_owned());
    }
    match path {
        "" => Err("the SQLite path is empty".to_owned()),
        ":memory:" => Ok(DatabaseUrl::SqliteMemory),
        // `sqlite:////absolute` leaves `/absolute`; `sqlite:///relative` leaves `relative`.
        path => Ok(DatabaseUrl::SqliteFile(PathBuf::from(path))),
    }
}

fn parse_postgres(text: &str) -> Result<DatabaseUrl, String> {
    let mut parsed = url::Url::parse(text).map_err(|error| format!("it is not a valid URL ({error})"))?;
    let host = match parsed.host_str() {
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => "localhost".to_owned(),
    };
    let database = parsed.path().trim_start_matches('/');
    if database.contains('/') {
        return Err(format!("`{database}` is not a database name"));
    }
    let port = parsed.port().unwrap_or(5432);
    // `schema` is the engine's parameter, not libpq's: it is taken out of the URL handed on.
    let mut schema = None;
    let others: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(key, value)| {
            if key == "schema" {
                schema = Some(value.into_owned());
                None
            } else {
                Some((key.into_owned(), value.into_owned()))
            }
        })
        .collect();
    if let Some(name) = &schema {
        validate_schema(name)?;
    }
    let connection = if schema.is_some() {
        if others.is_empty() {
            parsed.set_query(None);
        } else {
            parsed.query_pairs_mut().clear().extend_pairs(others);
        }
        parsed.to_string()
    } else {
        text.to_owned()
    };
    Ok(DatabaseUrl::Postgres(PostgresUrl { connection, address: format!("{host}:{port}"), schema }))
}

/// Checks a schema name: lowercase letters, digits and `_`, not starting with a digit or `pg_`,
/// at most 63 characters (PostgreSQL's limit).
pub fn validate_schema(name: &str) -> Result<(), String> {
    let valid_characters = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let valid_start = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if name.is_empty() || name.len() > 63 || !valid_characters || !valid_start || name.starts_with("pg_") {
        return Err(format!(
            "`{name}` is not a valid schema name; use 1 to 63 lowercase letters, digits and `_`, \
             starting with a letter or `_` (and not `pg_`)"
        ));
    }
    Ok(())
}

/// The URL with its password replaced by `***`; works on malformed URLs too.
pub(crate) fn redact(text: &str) -> String {
    let Some(scheme_end) = text.find("://").map(|index| index + 3) else {
        return text.to_owned();
    };
    let rest = &text[scheme_end..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    match authority.rfind('@').and_then(|at| authority[..at].find(':').map(|colon| (colon, at))) {
        Some((colon, at)) => format!("{}{}:***{}", &text[..scheme_end], &authority[..colon], &rest[at..]),
        None => text.to_owned(),
    }
}

impl FromStr for DatabaseUrl {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.describe())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&redact(&self.connection))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms() {
        assert_eq!(DatabaseUrl::parse("sqlite:///:memory:").unwrap(), DatabaseUrl::SqliteMemory);
        assert_eq!(
            DatabaseUrl::parse("sqlite:///data/runs.db").unwrap(),
            DatabaseUrl::SqliteFile("data/runs.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:////var/lib/runs.db").unwrap(),
            DatabaseUrl::SqliteFile("/var/lib/runs.db".into())
        );
    }

    #[test]
    fn postgres_forms() {
        for text in ["postgresql://user:secret@db.internal:6543/app", "postgres://user:secret@db.internal:6543/app"] {
            let DatabaseUrl::Postgres(url) = DatabaseUrl::parse(text).unwrap() else {
                panic!("{text} is PostgreSQL");
            };
            assert_eq!(url.address(), "db.internal:6543");
            assert_eq!(url.connection_string(), text);
            assert!(!format!("{url:?}").contains("secret"));
        }
        let DatabaseUrl::Postgres(url) = DatabaseUrl::parse("postgresql:///app").unwrap() else {
            panic!("PostgreSQL");
        };
        assert_eq!(url.address(), "localhost:5432");
        assert_eq!(url.schema(), None);
    }

    #[test]
    fn the_schema_parameter_is_taken_out_of_the_connection_url() {
        let DatabaseUrl::Postgres(url) =
            DatabaseUrl::parse("postgresql://u@h/app?sslmode=disable&schema=tenant_a").unwrap()
        else {
            panic!("PostgreSQL");
        };
        assert_eq!(url.schema(), Some("tenant_a"));
        assert_eq!(url.connection_string(), "postgresql://u@h/app?sslmode=disable");
        let DatabaseUrl::Postgres(only) = DatabaseUrl::parse("postgresql://u@h/app?schema=b").unwrap() else {
            panic!("PostgreSQL");
        };
        assert_eq!(only.connection_string(), "postgresql://u@h/app");
        for bad in ["Tenant", "1st", "pg_catalog", "a-b", "x\"; DROP TABLE executions; --", ""] {
            let message = DatabaseUrl::parse(&format!("postgresql://u@h/app?schema={bad}")).unwrap_err().to_string();
            assert!(message.contains("is not a valid schema name"), "{message}");
        }
    }

    #[test]
    fn bad_urls_name_the_accepted_forms() {
        for (text, reason) in [
            ("mysql://localhost/db", "the scheme `mysql` is not supported"),
            ("runs.db", "it has no scheme"),
            ("sqlite://runs.db", "three slashes"),
            ("sqlite:///runs.db?mode=ro", "no query parameters"),
            ("postgresql://user:secret@[bad/db", "not a valid URL"),
        ] {
            let message = DatabaseUrl::parse(text).unwrap_err().to_string();
            assert!(message.contains(reason), "{message}");
            assert!(message.contains("sqlite:///:memory:"), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
    }
}
