//! Cross-process wake-ups on PostgreSQL: `NOTIFY` sent with the transaction that makes work
//! ready or ends an execution, and a `LISTEN`ing connection that reads them.
//!
//! Payloads are `{schema}|ready` and `{schema}|finished|{execution id}|{status}`; the schema
//! (the connection's `current_schema()`) keeps tenants sharing a database apart.

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{PgConnection, RunQueryDsl};
use uuid::Uuid;

use super::connection::{AnyConnection, ConnectionTarget};
use super::statement::{Statement, sql};
use crate::error::StoreError;
use crate::result::ExecutionStatus;

/// The channel every executor listens on.
const CHANNEL: &str = "cloacina";

sql! {
    /// Sends each payload of a JSON array, prefixed with the connection's schema (PostgreSQL).
    SendNotifications = "SELECT pg_notify('cloacina', current_schema() || '|' || value) \
                         FROM jsonb_array_elements_text(CAST(? AS jsonb)) AS value";
}

/// What another process may need to hear about.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    /// Work was made ready that the sending process did not claim.
    Ready,
    /// An execution ended.
    Finished {
        /// The execution.
        execution_id: Uuid,
        /// How it ended.
        status: ExecutionStatus,
    },
}

impl Notification {
    fn encode(&self) -> String {
        match self {
            Self::Ready => "ready".to_owned(),
            Self::Finished { execution_id, status } => format!("finished|{execution_id}|{status}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split('|');
        match (parts.next()?, parts.next(), parts.next()) {
            ("ready", None, None) => Some(Self::Ready),
            ("finished", Some(id), Some(status)) => {
                Some(Self::Finished { execution_id: Uuid::parse_str(id).ok()?, status: status.parse().ok()? })
            }
            _ => None,
        }
    }
}

/// Sends notifications with the current transaction (they are delivered when it commits).
/// SQLite has no other processes to tell; nothing is sent there.
pub(crate) fn notify(connection: &mut AnyConnection, notifications: &[Notification]) -> Result<(), StoreError> {
    if notifications.is_empty() || matches!(connection, AnyConnection::Sqlite(_)) {
        return Ok(());
    }
    let payloads: Vec<String> = notifications.iter().map(Notification::encode).collect();
    Statement::<SendNotifications>::new().list(&payloads).execute(connection)?;
    Ok(())
}

/// A connection `LISTEN`ing for this store's notifications.
pub struct Listener {
    connection: PgConnection,
    prefix: String,
}

impl Listener {
    /// Connects, takes the advisory lock that tells other processes `owner` is alive (held as
    /// long as this connection), and starts listening; `None` for SQLite.
    pub(crate) fn connect(target: &ConnectionTarget, owner: &str) -> Result<Option<Self>, StoreError> {
        let AnyConnection::Postgres(mut connection) = target.establish()? else {
            return Ok(None);
        };
        let schema = diesel::sql_query("SELECT current_schema() AS schema").get_result::<Schema>(&mut connection)?;
        super::leases::lock_owner(&mut connection, owner)?;
        connection.batch_execute(&format!("LISTEN {CHANNEL}"))?;
        Ok(Some(Self { connection, prefix: format!("{}|", schema.schema) }))
    }

    /// The notifications received since the last call, for this store's schema; never blocks.
    pub fn receive(&mut self) -> Result<Vec<Notification>, StoreError> {
        let mut received = Vec::new();
        for notification in self.connection.notifications_iter() {
            let notification = notification?;
            if let Some(payload) = notification.payload.strip_prefix(&self.prefix)
                && let Some(decoded) = Notification::decode(payload)
            {
                received.push(decoded);
            }
        }
        Ok(received)
    }
}

#[derive(diesel::QueryableByName)]
struct Schema {
    #[diesel(sql_type = Text)]
    schema: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let finished = Notification::Finished { execution_id: Uuid::new_v4(), status: ExecutionStatus::Cancelled };
        for notification in [Notification::Ready, finished] {
            assert_eq!(Notification::decode(&notification.encode()), Some(notification));
        }
        assert_eq!(Notification::decode("finished|not-a-uuid|Completed"), None);
        assert_eq!(Notification::decode("something else"), None);
    }
}
