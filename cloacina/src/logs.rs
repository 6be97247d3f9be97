//! Task logs: the records a task logs during an attempt, kept with that attempt.
//!
//! Each attempt gets an [`AttemptLog`] (in its context's [`Attempt`](crate::Attempt)), which
//! whatever runs the task fills: the Python package with the records of Python's `logging` (and
//! the task's `print`s when asked), and [`TaskLogLayer`] with the `tracing` events a Rust task
//! emits while it runs. When the attempt ends, its records are stored in the same transaction as
//! its end, and read back as [`LogEntry`]s (`UnifiedExecutor::logs`, `TaskResult::logs`).
//!
//! A log keeps records at or above a [`LogLevel`] (`ExecutorConfig::task_log_level`, or the
//! task's own, [`Task::log_level`](crate::Task::log_level)), and at most [`MAX_LOG_RECORDS`]
//! records and [`MAX_LOG_BYTES`] of text per attempt; past that, records are counted, not kept,
//! and a last record says how many were left out.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context as PollContext, Poll};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{Context as LayerContext, Filter, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::limits;

/// Records kept per attempt at most; later ones are counted and left out.
pub const MAX_LOG_RECORDS: usize = 1_000;

/// Bytes of log text (messages and logger names) kept per attempt at most.
pub const MAX_LOG_BYTES: usize = 1024 * 1024;

/// How severe a record is, on Python's `logging` scale (`DEBUG` 10, `INFO` 20, ...), which Rust's
/// `tracing` levels map onto (`TRACE` is 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LogLevel(pub u32);

impl LogLevel {
    /// `tracing`'s `TRACE`.
    pub const TRACE: Self = Self(5);
    /// Debugging detail.
    pub const DEBUG: Self = Self(10);
    /// The default level kept: what a task reports as it goes.
    pub const INFO: Self = Self(20);
    /// Something unexpected that the task went past.
    pub const WARNING: Self = Self(30);
    /// An error.
    pub const ERROR: Self = Self(40);
    /// A serious error.
    pub const CRITICAL: Self = Self(50);
    /// As a threshold: keep nothing.
    pub const OFF: Self = Self(u32::MAX);

    /// The level's name: Python's for its levels (`"WARNING"`), `"LEVEL 25"` for others.
    pub fn name(self) -> String {
        match self {
            Self::TRACE => "TRACE".to_owned(),
            Self::DEBUG => "DEBUG".to_owned(),
            Self::INFO => "INFO".to_owned(),
            Self::WARNING => "WARNING".to_owned(),
            Self::ERROR => "ERROR".to_owned(),
            Self::CRITICAL => "CRITICAL".to_owned(),
            Self::OFF => "OFF".to_owned(),
            Self(other) => format!("LEVEL {other}"),
        }
    }

    /// The level of a `tracing` event.
    pub fn of_tracing(level: tracing::Level) -> Self {
        match level {
            tracing::Level::ERROR => Self::ERROR,
            tracing::Level::WARN => Self::WARNING,
            tracing::Level::INFO => Self::INFO,
            tracing::Level::DEBUG => Self::DEBUG,
            tracing::Level::TRACE => Self::TRACE,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.name())
    }
}

impl std::str::FromStr for LogLevel {
    type Err = String;

    /// A level by name (any case; `WARN`, `FATAL` and `OFF` too) or by number.
    fn from_str(text: &str) -> Result<Self, String> {
        let level = match text.trim().to_ascii_uppercase().as_str() {
            "TRACE" => Self::TRACE,
            "DEBUG" => Self::DEBUG,
            "INFO" => Self::INFO,
            "WARNING" | "WARN" => Self::WARNING,
            "ERROR" => Self::ERROR,
            "CRITICAL" | "FATAL" => Self::CRITICAL,
            "OFF" | "NONE" => Self::OFF,
            other => match other.parse::<u32>() {
                Ok(number) => Self(number),
                Err(_) => {
                    return Err(format!(
                        "unknown log level {text:?}; use TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL, OFF or a number"
                    ));
                }
            },
        };
        Ok(level)
    }
}

/// One record a task logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// When it was logged.
    pub time: DateTime<Utc>,
    /// How severe it is.
    pub level: LogLevel,
    /// The level's name as the task's logging system calls it (`"INFO"`).
    pub level_name: String,
    /// The logger (Python) or target (`tracing`) it came from.
    pub logger: String,
    /// The message, formatted.
    pub message: String,
}

/// A stored record with the task and attempt it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The task that logged it.
    pub task_id: String,
    /// The attempt, counting from 1.
    pub attempt: u32,
    /// The record.
    #[serde(flatten)]
    pub record: LogRecord,
}

/// The records of one attempt, filled while it runs; cheap to clone (clones share the records).
/// A log whose level is [`LogLevel::OFF`] keeps nothing and costs nothing.
#[derive(Debug, Clone, Default)]
pub struct AttemptLog {
    shared: Option<Arc<Shared>>,
}

#[derive(Debug)]
struct Shared {
    level: LogLevel,
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    records: Vec<LogRecord>,
    bytes: usize,
    left_out: u64,
    /// Taken for storing: later records belong to no stored attempt.
    closed: bool,
}

impl AttemptLog {
    /// A log keeping records at or above `level`.
    pub fn new(level: LogLevel) -> Self {
        if level == LogLevel::OFF {
            return Self::off();
        }
        Self { shared: Some(Arc::new(Shared { level, kept: Mutex::default() })) }
    }

    /// A log that keeps nothing.
    pub fn off() -> Self {
        Self { shared: None }
    }

    /// The least severe level kept ([`LogLevel::OFF`] when nothing is).
    pub fn level(&self) -> LogLevel {
        self.shared.as_ref().map_or(LogLevel::OFF, |shared| shared.level)
    }

    /// Whether a record of `level` would be kept (the log may still be full).
    pub fn wants(&self, level: LogLevel) -> bool {
        level >= self.level() && level != LogLevel::OFF
    }

    /// Keeps a record, if its level is wanted and the log has room; the message and logger are
    /// made storable (no NUL; a very long message cut with a note).
    pub fn push(&self, record: LogRecord) {
        let Some(shared) = &self.shared else { return };
        if !self.wants(record.level) {
            return;
        }
        let mut kept = lock(&shared.kept);
        if kept.closed {
            return;
        }
        let record = LogRecord {
            message: limits::sanitize_message(&record.message),
            logger: limits::sanitize_message(&record.logger),
            level_name: limits::sanitize_message(&record.level_name),
            ..record
        };
        let size = record.message.len() + record.logger.len() + record.level_name.len();
        if kept.records.len() >= MAX_LOG_RECORDS || kept.bytes + size > MAX_LOG_BYTES {
            kept.left_out += 1;
            return;
        }
        kept.bytes += size;
        kept.records.push(record);
    }

    /// Keeps a record logged now.
    pub fn log(&self, level: LogLevel, logger: &str, message: impl Into<String>) {
        if self.wants(level) {
            self.push(LogRecord {
                time: Utc::now(),
                level,
                level_name: level.name(),
                logger: logger.to_owned(),
                message: message.into(),
            });
        }
    }

    /// The records kept, for storing (with a last record saying how many were left out, if
    /// any); the log keeps nothing afterwards.
    pub(crate) fn take(&self) -> Vec<LogRecord> {
        let Some(shared) = &self.shared else { return Vec::new() };
        let mut kept = lock(&shared.kept);
        kept.closed = true;
        let mut records = std::mem::take(&mut kept.records);
        if kept.left_out > 0 {
            records.push(LogRecord {
                time: Utc::now(),
                level: LogLevel::WARNING,
                level_name: LogLevel::WARNING.name(),
                logger: "cloacina".to_owned(),
                message: format!(
                    "{} more log records were left out: an attempt keeps at most {MAX_LOG_RECORDS} records and {} KiB",
                    kept.left_out,
                    MAX_LOG_BYTES / 1024
                ),
            });
        }
        records
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// The log of the attempt whose future this thread is polling.
    static CURRENT: RefCell<Option<AttemptLog>> = const { RefCell::new(None) };
}

/// The log of the attempt whose code runs on this thread now (a Rust task's future being
/// polled by the engine), if any.
pub fn current() -> Option<AttemptLog> {
    CURRENT.with(|current| current.borrow().clone())
}

/// A future that makes `log` the [`current`] log while it is polled.
pub(crate) struct Logging<F> {
    log: AttemptLog,
    inner: Pin<Box<F>>,
}

impl<F> Logging<F> {
    pub(crate) fn new(log: AttemptLog, inner: F) -> Self {
        Self { log, inner: Box::pin(inner) }
    }
}

impl<F: Future> Future for Logging<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, context: &mut PollContext<'_>) -> Poll<F::Output> {
        if self.log.shared.is_none() {
            return self.inner.as_mut().poll(context);
        }
        let previous = CURRENT.with(|current| current.replace(Some(self.log.clone())));
        // Restored even if the task panics (the engine turns that panic into a failed attempt).
        struct Restore(Option<AttemptLog>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|current| *current.borrow_mut() = previous);
            }
        }
        let _restore = Restore(previous);
        self.inner.as_mut().poll(context)
    }
}

/// A `tracing` layer that keeps the events a Rust task emits while the engine polls it in the
/// task's attempt log (the target becomes the record's logger, the fields other than `message`
/// are appended as `key=value`). Add it to the process's subscriber, best with its own filter
/// ([`TaskLogLayer::filtered`]), which lets through what attempts keep whatever the other
/// layers' filters say, and nothing of the engine's own:
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
///
/// tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer().with_filter(tracing_subscriber::filter::LevelFilter::WARN))
///     .with(cloacina::TaskLogLayer::filtered())
///     .init();
/// ```
///
/// Events of the engine itself (targets under `cloacina`) are not task logs and are left out.
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskLogLayer;

impl TaskLogLayer {
    /// The layer with its own filter, [`TaskEvents`].
    pub fn filtered<S>() -> Filtered<TaskLogLayer, TaskEvents, S>
    where
        S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    {
        TaskLogLayer.with_filter(TaskEvents)
    }
}

/// The per-layer filter of [`TaskLogLayer`]: every event but the engine's own, which it would
/// not keep anyway (so adding the layer never turns on the engine's detailed events).
#[derive(Debug, Clone, Copy, Default)]
pub struct TaskEvents;

impl<S> Filter<S> for TaskEvents {
    fn enabled(&self, metadata: &Metadata<'_>, _context: &LayerContext<'_, S>) -> bool {
        !is_engine(metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_engine(metadata) { Interest::never() } else { Interest::always() }
    }
}

/// Whether an event comes from the engine itself.
fn is_engine(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    target == "cloacina" || target.starts_with("cloacina::")
}

impl<S: Subscriber> Layer<S> for TaskLogLayer {
    fn on_event(&self, event: &Event<'_>, _context: LayerContext<'_, S>) {
        let metadata = event.metadata();
        if is_engine(metadata) {
            return;
        }
        let target = metadata.target();
        let level = LogLevel::of_tracing(*metadata.level());
        CURRENT.with(|current| {
            let current = current.borrow();
            let Some(log) = current.as_ref().filter(|log| log.wants(level)) else { return };
            let mut message = Message::default();
            event.record(&mut message);
            log.push(LogRecord {
                time: Utc::now(),
                level,
                level_name: level.name(),
                logger: target.to_owned(),
                message: message.finish(),
            });
        });
    }
}

/// An event's fields as one line: the message, then the other fields as `key=value`.
#[derive(Default)]
struct Message {
    message: String,
    fields: String,
}

impl Message {
    fn finish(self) -> String {
        match (self.message.is_empty(), self.fields.is_empty()) {
            (_, true) => self.message,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.message, self.fields),
        }
    }
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: LogLevel, message: &str) -> LogRecord {
        LogRecord {
            time: Utc::now(),
            level,
            level_name: level.name(),
            logger: "test".to_owned(),
            message: message.into(),
        }
    }

    #[test]
    fn levels_parse_by_name_and_number() {
        assert_eq!("info".parse::<LogLevel>(), Ok(LogLevel::INFO));
        assert_eq!("WARN".parse::<LogLevel>(), Ok(LogLevel::WARNING));
        assert_eq!("25".parse::<LogLevel>(), Ok(LogLevel(25)));
        assert_eq!(LogLevel(25).name(), "LEVEL 25");
        let error = "loud".parse::<LogLevel>().unwrap_err();
        assert!(error.contains("\"loud\"") && error.contains("WARNING"), "{error}");
    }

    #[test]
    fn a_log_keeps_records_at_or_above_its_level() {
        let log = AttemptLog::new(LogLevel::INFO);
        log.push(record(LogLevel::DEBUG, "detail"));
        log.push(record(LogLevel::INFO, "step"));
        log.push(record(LogLevel::ERROR, "bad\0byte"));
        let kept = log.take();
        assert_eq!(kept.iter().map(|record| record.message.as_str()).collect::<Vec<_>>(), ["step", "bad\\0byte"]);
        // Taken for storing, it keeps nothing more.
        log.push(record(LogLevel::ERROR, "late"));
        assert!(log.take().is_empty());
    }

    #[test]
    fn a_log_that_is_off_keeps_nothing() {
        let log = AttemptLog::new(LogLevel::OFF);
        log.log(LogLevel::CRITICAL, "test", "lost");
        assert!(!log.wants(LogLevel::CRITICAL));
        assert!(log.take().is_empty());
    }

    #[test]
    fn a_full_log_says_how_many_records_it_left_out() {
        let log = AttemptLog::new(LogLevel::DEBUG);
        for index in 0..MAX_LOG_RECORDS + 7 {
            log.log(LogLevel::INFO, "test", format!("record {index}"));
        }
        let kept = log.take();
        assert_eq!(kept.len(), MAX_LOG_RECORDS + 1);
        let marker = kept.last().unwrap();
        assert_eq!(marker.level, LogLevel::WARNING);
        assert!(marker.message.starts_with("7 more log records were left out"), "{}", marker.message);

        let log = AttemptLog::new(LogLevel::DEBUG);
        let big = "x".repeat(limits::MAX_ERROR_BYTES);
        for _ in 0..(MAX_LOG_BYTES / big.len()) + 3 {
            log.log(LogLevel::INFO, "test", big.clone());
        }
        let kept = log.take();
        assert!(kept.iter().map(|record| record.message.len()).sum::<usize>() <= MAX_LOG_BYTES + 1024);
        assert!(kept.last().unwrap().message.contains("more log records were left out"));
    }

    #[tokio::test]
    async fn the_layer_keeps_a_task_s_events_while_it_is_polled() {
        use tracing_subscriber::layer::SubscriberExt;

        let subscriber = tracing_subscriber::registry().with(TaskLogLayer);
        let _default = tracing::subscriber::set_default(subscriber);
        let log = AttemptLog::new(LogLevel::INFO);
        Logging::new(log.clone(), async {
            tracing::info!(target: "etl::load", rows = 3, "loaded");
            tracing::debug!("too detailed");
            tracing::warn!(target: "cloacina::executor", "the engine's own");
            tokio::task::yield_now().await;
            tracing::error!(target: "etl::load", "after a yield");
        })
        .await;
        tracing::error!(target: "etl::load", "outside the task");
        let kept = log.take();
        let lines: Vec<_> = kept.iter().map(|record| (record.logger.as_str(), record.message.as_str())).collect();
        assert_eq!(lines, [("etl::load", "loaded rows=3"), ("etl::load", "after a yield")]);
        assert_eq!(kept[1].level_name, "ERROR");
    }
}
