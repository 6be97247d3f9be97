//! Statements with fixed SQL text, prepared once per connection and reused.
//!
//! Diesel reuses a prepared statement only when its SQL cannot vary; its `UPDATE` builder,
//! `IN (...)` lists and raw `sql_query` never qualify, so each run would be parsed and planned
//! again. The engine's hot path therefore uses [`Statement`]: SQL text fixed at compile time
//! (one text for both backends where they agree), bound values in order, and lists passed as
//! one JSON array, expanded by `json_each` (SQLite) or `jsonb_array_elements_text` (PostgreSQL).

use std::marker::PhantomData;

use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Binary, Integer, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};

use super::connection::{AnyConnection, MultiBackend};

/// The SQL of a statement, with `?` where each bound value goes (and nowhere else).
pub(crate) trait Sql: Send + 'static {
    /// The text for SQLite.
    const SQLITE: &'static str;
    /// The text for PostgreSQL.
    const POSTGRES: &'static str;

    /// The text for a backend cut at each `?`, worked out once: Diesel walks a statement on
    /// every run to collect its bound values.
    fn pieces(postgres: bool) -> &'static [&'static str];
}

/// Declares a statement's SQL: one text for both backends, or one per backend.
macro_rules! sql {
    ($(#[$doc:meta])* $name:ident = $text:expr;) => {
        $crate::store::statement::sql!($(#[$doc])* $name { sqlite: $text, postgres: $text });
    };
    ($(#[$doc:meta])* $name:ident { sqlite: $sqlite:expr, postgres: $postgres:expr $(,)? }) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl $crate::store::statement::Sql for $name {
            const SQLITE: &'static str = $sqlite;
            const POSTGRES: &'static str = $postgres;

            fn pieces(postgres: bool) -> &'static [&'static str] {
                static SQLITE: ::std::sync::OnceLock<Vec<&'static str>> = ::std::sync::OnceLock::new();
                static POSTGRES: ::std::sync::OnceLock<Vec<&'static str>> = ::std::sync::OnceLock::new();
                if postgres {
                    POSTGRES.get_or_init(|| <Self as $crate::store::statement::Sql>::POSTGRES.split('?').collect())
                } else {
                    SQLITE.get_or_init(|| <Self as $crate::store::statement::Sql>::SQLITE.split('?').collect())
                }
            }
        }
    };
}
pub(crate) use sql;

/// Membership in a list bound as one JSON array of strings: `column` followed by this.
///
/// PostgreSQL gets `= ANY(ARRAY(...))`: the array is computed once and the column's index is
/// searched for each item, where `IN (SELECT ...)` would be planned as a semi-join that reads
/// every row matching the rest of the condition (all the tasks of an execution, and their dead
/// versions). SQLite plans a statement over `json_each(?)` again whenever the value is bound, so
/// on the hot path lists are for PostgreSQL, and SQLite runs one-item statements instead.
macro_rules! json_list {
    (sqlite) => {
        " IN (SELECT value FROM json_each(?))"
    };
    (postgres) => {
        " = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST(? AS jsonb))))"
    };
}
pub(crate) use json_list;

/// The database's clock in microseconds since the Unix epoch (PostgreSQL). Leases are stamped
/// and compared by it there, so that hosts whose clocks disagree agree on when a lease runs out.
macro_rules! database_now {
    () => {
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)"
    };
}
pub(crate) use database_now;

/// One bound value: kept inline, not boxed, as a hop binds some forty of them.
enum Value {
    Text(String),
    OptionalText(Option<String>),
    Big(i64),
    /// A 64-bit integer whose value depends on the backend.
    PerBackend {
        sqlite: i64,
        postgres: i64,
    },
    Int(i32),
    OptionalInt(Option<i32>),
    /// Binary data, shared with the value it belongs to rather than copied.
    Binary(std::sync::Arc<[u8]>),
}

impl Value {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        match self {
            Self::Text(value) => out.push_bind_param::<Text, String>(value),
            Self::OptionalText(value) => out.push_bind_param::<Nullable<Text>, Option<String>>(value),
            Self::Big(value) => out.push_bind_param::<BigInt, i64>(value),
            Self::PerBackend { sqlite, postgres } => {
                let value = if matches!(out.backend(), MultiBackend::Postgres(_)) { postgres } else { sqlite };
                out.push_bind_param::<BigInt, i64>(value)
            }
            Self::Int(value) => out.push_bind_param::<Integer, i32>(value),
            Self::OptionalInt(value) => out.push_bind_param::<Nullable<Integer>, Option<i32>>(value),
            Self::Binary(value) => out.push_bind_param::<Binary, [u8]>(value),
        }
    }
}

/// A statement of `S`'s SQL with its bound values; `ST` is the SQL type of the rows it returns.
pub(crate) struct Statement<S, ST = ()> {
    binds: Vec<Value>,
    _sql: PhantomData<fn() -> (S, ST)>,
}

impl<S: Sql> Statement<S> {
    /// A statement with no value bound yet.
    pub fn new() -> Self {
        // As many as the SQLite text has places for (the PostgreSQL text has as many).
        Self { binds: Vec::with_capacity(S::pieces(false).len() - 1), _sql: PhantomData }
    }
}

impl<S: Sql, ST> Statement<S, ST> {
    /// Declares the SQL types of the rows the statement returns (`RETURNING` or `SELECT`).
    pub fn returning<Row>(self) -> Statement<S, Row> {
        Statement { binds: self.binds, _sql: PhantomData }
    }

    fn bind(mut self, value: Value) -> Self {
        self.binds.push(value);
        self
    }

    /// Binds text.
    pub fn text(self, value: impl Into<String>) -> Self {
        self.bind(Value::Text(value.into()))
    }

    /// Binds text or `NULL`.
    pub fn optional_text(self, value: Option<impl Into<String>>) -> Self {
        self.bind(Value::OptionalText(value.map(Into::into)))
    }

    /// Binds a 64-bit integer.
    pub fn big(self, value: i64) -> Self {
        self.bind(Value::Big(value))
    }

    /// Binds a 64-bit integer that differs by backend: for a value the SQLite text uses as it is
    /// where the PostgreSQL text adds it to something of the database's (its clock, say).
    pub fn big_per_backend(self, sqlite: i64, postgres: i64) -> Self {
        self.bind(Value::PerBackend { sqlite, postgres })
    }

    /// Binds a 32-bit integer or `NULL`.
    pub fn optional_int(self, value: Option<i32>) -> Self {
        self.bind(Value::OptionalInt(value))
    }

    /// Binds a 32-bit integer.
    pub fn int(self, value: i32) -> Self {
        self.bind(Value::Int(value))
    }

    /// Binds binary data.
    pub fn binary(self, value: &std::sync::Arc<[u8]>) -> Self {
        self.bind(Value::Binary(std::sync::Arc::clone(value)))
    }

    /// Binds a list of strings as a JSON array (for [`json_list!`]).
    pub fn list<I, V>(self, values: I) -> Self
    where
        I: IntoIterator<Item = V>,
        V: AsRef<str>,
    {
        let values: Vec<String> = values.into_iter().map(|value| value.as_ref().to_owned()).collect();
        self.text(serde_json::Value::from(values).to_string())
    }

    /// Binds a JSON document.
    pub fn json(self, value: &serde_json::Value) -> Self {
        self.text(value.to_string())
    }
}

impl<S: Sql, ST> QueryFragment<MultiBackend> for Statement<S, ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let postgres = matches!(out.backend(), MultiBackend::Postgres(_));
        let (first, rest) = S::pieces(postgres).split_first().expect("split yields at least one piece");
        let sql = || if postgres { S::POSTGRES } else { S::SQLITE };
        if rest.len() != self.binds.len() {
            let problem = if rest.len() > self.binds.len() { "too few" } else { "too many" };
            let message = format!("{problem} values bound for: {}", sql());
            return Err(diesel::result::Error::QueryBuilderError(message.into()));
        }
        out.push_sql(first);
        for (piece, bind) in rest.iter().zip(&self.binds) {
            bind.push(&mut out)?;
            out.push_sql(piece);
        }
        Ok(())
    }
}

impl<S: Sql, ST: 'static> QueryId for Statement<S, ST> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S, ST> Query for Statement<S, ST> {
    type SqlType = ST;
}

impl<S, ST> RunQueryDsl<AnyConnection> for Statement<S, ST> {}

#[cfg(test)]
mod tests {
    use diesel::sql_types::{BigInt, Text};
    use diesel::{Connection, RunQueryDsl, SqliteConnection};

    use super::*;

    sql! {
        /// Echoes its values back, one row per list item.
        Echo {
            sqlite: concat!("SELECT value, ? + 1 FROM json_each(?) WHERE value", json_list!(sqlite)),
            postgres: concat!("SELECT value, ? + 1 FROM jsonb_array_elements_text(?) AS value WHERE value", json_list!(postgres)),
        }
    }

    #[test]
    fn binds_values_in_order_and_reuses_the_prepared_statement() {
        let mut connection = AnyConnection::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        for _ in 0..2 {
            let rows: Vec<(String, i64)> = Statement::<Echo>::new()
                .big(41)
                .list(["a", "b", "c"])
                .list(["c", "a"])
                .returning::<(Text, BigInt)>()
                .load(&mut connection)
                .unwrap();
            assert_eq!(rows, [("a".to_owned(), 42), ("c".to_owned(), 42)]);
        }
    }

    #[test]
    fn a_missing_value_is_an_error_not_a_crash() {
        let mut connection = AnyConnection::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        let error =
            Statement::<Echo>::new().big(1).returning::<(Text, BigInt)>().load::<(String, i64)>(&mut connection);
        assert!(error.unwrap_err().to_string().contains("too few values bound"));
    }
}
