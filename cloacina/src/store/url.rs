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

/// A PostgreSQL connection URL, checked and split into the parts the engine reports.
///
/// Messages show it only as [`describe`](DatabaseUrl::describe) or its `Debug` form, which hide
/// the password wherever the URL holds one (after the user name, or as `?password=`).
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    /// The URL handed to libpq (well formed: libpq has nothing in it to complain about, and so
    /// nothing to echo back).
    connection: String,
    /// `host:port`, for messages.
    address: String,
    /// The URL with every password replaced by `***`, for messages.
    redacted: String,
    /// The passwords it holds, as written and decoded, to scrub from the driver's messages.
    secrets: Vec<String>,
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

    /// The URL with every password replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
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

    /// `message` with every password of this URL replaced by `***` (for the driver's messages).
    pub fn scrub(&self, message: &str) -> String {
        self.secrets.iter().fold(message.to_owned(), |message, secret| message.replace(secret.as_str(), "***"))
    }
}

/// Whether text is a URL scheme: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// How a URL that cannot be parsed is shown: its scheme only, as the rest may hold a password.
fn unparsed(scheme: &str) -> String {
    format!("`{scheme}://...` (the rest not shown: it may hold a password)")
}

impl DatabaseUrl {
    /// Parses a URL of one of the accepted forms (see [`crate::error::ACCEPTED_URL_FORMS`]).
    ///
    /// An error never shows a password: a URL that cannot be parsed is shown by its scheme only.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let text = text.trim();
        let scheme_and_rest = text.split_once(':').filter(|(scheme, _)| is_scheme(scheme));
        let Some((scheme, rest)) = scheme_and_rest else {
            // Without a scheme it may be anything, a libpq `key=value` string with a password
            // say: only a plain path is shown.
            let plain = text.chars().all(|c| c.is_ascii_alphanumeric() || "._-/~".contains(c));
            let shown = if plain { format!("`{text}`") } else { "(not shown: it may hold a password)".to_owned() };
            return Err(StoreError::InvalidUrl { url: shown, reason: "it has no scheme".to_owned() });
        };
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => {
                parse_sqlite(rest).map_err(|reason| StoreError::InvalidUrl { url: format!("`{text}`"), reason })
            }
            "postgres" | "postgresql" => parse_postgres(&scheme, text)
                .map_err(|reason| StoreError::InvalidUrl { url: unparsed(&scheme), reason }),
            other => Err(StoreError::InvalidUrl {
                url: unparsed(other),
                reason: format!("the scheme `{other}` is not supported"),
            }),
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

/// The advice for a URL that does not parse.
const ENCODE_SPECIAL_CHARACTERS: &str = "percent-encode special characters in the user name and password \
     (`%` as `%25`, `/` as `%2F`, `@` as `%40`, `:` as `%3A`, `?` as `%3F`, `#` as `%23`)";

/// The query parameters libpq reads a password from.
const PASSWORD_PARAMETERS: [&str; 2] = ["password", "sslpassword"];

fn parse_postgres(scheme: &str, text: &str) -> Result<DatabaseUrl, String> {
    if !text[scheme.len() + 1..].starts_with("//") {
        return Err(format!("a PostgreSQL URL starts with `{scheme}://`"));
    }
    // An `@` after the first `?` or `#` of a URL whose authority has none: a user name or
    // password with an unencoded `?` or `#`, which would put the password in the query.
    let after_slashes = &text[scheme.len() + 3..];
    let authority_end = after_slashes.find(['/', '?', '#']).unwrap_or(after_slashes.len());
    let (authority, remainder) = after_slashes.split_at(authority_end);
    if !authority.contains('@') && remainder.find(['?', '#']).is_some_and(|start| remainder[start..].contains('@')) {
        return Err(format!(
            "an `@` follows the query or fragment, as when the user name or password holds an unencoded `?` or \
             `#`; {ENCODE_SPECIAL_CHARACTERS}"
        ));
    }
    let mut parsed = url::Url::parse(text)
        .map_err(|error| format!("it is not a valid URL ({error}); {ENCODE_SPECIAL_CHARACTERS}"))?;
    if parsed.cannot_be_a_base() || parsed.fragment().is_some() {
        return Err(format!("it is not a valid URL; {ENCODE_SPECIAL_CHARACTERS}"));
    }
    let password = parsed.password().map(str::to_owned);
    let mut secrets = Vec::new();
    if let Some(password) = &password {
        let decoded = decoded("the password", password)?;
        secrets.extend([password.clone(), decoded]);
    }
    decoded("the user name", parsed.username())?;
    let database = parsed.path().trim_start_matches('/').to_owned();
    if database.contains('/') || database.contains('@') {
        // A password with an unencoded `/` ends up here: the path is not shown.
        return Err(format!("the path after the host is not a database name; {ENCODE_SPECIAL_CHARACTERS}"));
    }
    decoded("the database name", &database)?;
    let host = match parsed.host_str() {
        Some(host) if !host.is_empty() => host.to_owned(),
        _ => "localhost".to_owned(),
    };
    let port = parsed.port().unwrap_or(5432);
    // `schema` is the engine's parameter, not libpq's: it is taken out of the URL handed on.
    let mut schema = None;
    let mut others: Vec<(String, String)> = Vec::new();
    for (key, value) in parsed.query_pairs() {
        if value.contains('\0') || key.contains('\0') {
            return Err("a query parameter contains a NUL byte (`%00`), which PostgreSQL cannot take".to_owned());
        }
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            // libpq's parameter names are lowercase words joined by `_`. Anything else is most
            // likely the rest of a user name or password after an unencoded `?`: not shown.
            return Err(format!(
                "a query parameter's name is not a connection parameter (those are lowercase words joined \
                 by `_`, like `sslmode`); {ENCODE_SPECIAL_CHARACTERS}"
            ));
        }
        if key == "schema" {
            schema = Some(value.into_owned());
        } else {
            if PASSWORD_PARAMETERS.contains(&key.as_ref()) && !value.is_empty() {
                secrets.push(value.clone().into_owned());
            }
            others.push((key.into_owned(), value.into_owned()));
        }
    }
    if let Some(name) = &schema {
        validate_schema(name)?;
    }
    if others.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(&others);
    }
    let connection = parsed.to_string();
    let mut shown = parsed;
    if password.is_some() {
        let _ = shown.set_password(Some("***"));
    }
    if !others.is_empty() {
        let redacted = others.iter().map(|(key, value)| {
            let value = if PASSWORD_PARAMETERS.contains(&key.as_str()) { "***" } else { value.as_str() };
            (key.as_str(), value)
        });
        shown.query_pairs_mut().clear().extend_pairs(redacted);
    }
    // Longer secrets first, so that one containing another is hidden whole.
    secrets.retain(|secret| secret.chars().count() >= 3);
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    Ok(DatabaseUrl::Postgres(PostgresUrl {
        connection,
        address: format!("{host}:{port}"),
        redacted: shown.to_string().replace("%2A%2A%2A", "***"),
        secrets,
        schema,
    }))
}

/// A percent-encoded part of a URL, decoded; refused if a `%` starts no encoded byte, or if it
/// holds a NUL byte. `what` names the part; its value is never shown.
fn decoded(what: &str, text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        let encodes_a_byte = |offset: usize| bytes.get(index + offset).is_some_and(u8::is_ascii_hexdigit);
        if byte == b'%' && !(encodes_a_byte(1) && encodes_a_byte(2)) {
            return Err(format!("{what} has a `%` that starts no percent-encoded byte; write a literal `%` as `%25`"));
        }
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(text).collect();
    if decoded.contains(&0) {
        return Err(format!("{what} contains a NUL byte (`%00`), which PostgreSQL cannot take"));
    }
    Ok(String::from_utf8_lossy(&decoded).into_owned())
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
        formatter.write_str(&self.redacted)
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
            assert_eq!(format!("{url:?}"), text.replace("secret", "***"));
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
    fn an_unencoded_question_mark_before_the_password_does_not_show_it() {
        // The `?` in the user name starts the query: `p:secret@db/x` would be a parameter name,
        // which libpq's own error would repeat.
        for text in [
            "postgresql://ap?p:secret@db/x",
            "postgresql://a?c=x:secret@db/x",
            "postgresql://a#b:secret@db/x",
            "postgresql://app@db/x?Secret=1",
            "postgresql://app@db/x?=1",
        ] {
            let message = DatabaseUrl::parse(text).unwrap_err().to_string();
            assert!(message.contains("percent-encode special characters"), "{message}");
            assert!(!message.to_lowercase().contains("secret"), "{message}");
        }
        assert!(DatabaseUrl::parse("postgresql://app@db/x?target_session_attrs=any&sslmode=require").is_ok());
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

    /// Every way of writing a password, well or badly: no message shows it.
    #[test]
    fn no_message_shows_a_password() {
        let refused = [
            ("postgresql://app:pa%ss-secret@db/runs", "the password has a `%` that starts no percent-encoded byte"),
            ("postgresql://app:pa/ss-secret@db/runs", "it is not a valid URL"),
            ("postgresql:app:secret-word@db/runs", "a PostgreSQL URL starts with `postgresql://`"),
            ("postgres:/app:secret-word@db/runs", "a PostgreSQL URL starts with `postgres://`"),
            ("postgresql://app:se%00cret-word@db/runs", "the password contains a NUL byte (`%00`)"),
            ("postgresql://app@db/runs?password=se%00cret-word", "a query parameter contains a NUL byte"),
            ("postgresql://app:secret-word@db/runs#part", "it is not a valid URL"),
            ("mysql://app:secret-word@db/runs", "the scheme `mysql` is not supported"),
            ("app:secret-word@db", "the scheme `app` is not supported"),
            ("app-secret-word@db", "it has no scheme"),
            ("host=db password=secret-word", "it has no scheme"),
            ("password=secret-word;host=x:5432", "it has no scheme"),
            ("postgresql://app:2024/secret-word@db/runs", "the path after the host is not a database name"),
            ("postgresql://app:2024/secret-word@db", "the path after the host is not a database name"),
        ];
        for (text, reason) in refused {
            let message = DatabaseUrl::parse(text).unwrap_err().to_string();
            assert!(message.contains(reason), "{text}: {message}");
            assert!(!message.contains("secret") && !message.contains("cret-word"), "{text}: {message}");
        }
        let accepted = [
            ("postgresql://app:s%25ecret-word@db/runs", "postgresql://app:***@db/runs", "s%ecret-word"),
            (
                "postgresql://app@db/runs?password=secret-word&sslmode=disable",
                "postgresql://app@db/runs?password=***&sslmode=disable",
                "secret-word",
            ),
            (
                "postgresql://app:secret-word@db/runs?sslpassword=secret-key",
                "postgresql://app:***@db/runs?sslpassword=***",
                "secret-key",
            ),
        ];
        for (text, shown, password) in accepted {
            let DatabaseUrl::Postgres(url) = DatabaseUrl::parse(text).unwrap() else { panic!("PostgreSQL") };
            assert_eq!(format!("{url:?}"), shown);
            let scrubbed = url.scrub(&format!("could not connect with `{text}` (password {password})"));
            assert!(!scrubbed.contains("secret") && !scrubbed.contains("ecret-"), "{scrubbed}");
        }
    }
}
