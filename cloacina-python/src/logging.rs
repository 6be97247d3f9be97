//! The engine's log records, handed to Python's `logging` under the logger `cloacina`.
//!
//! The engine logs through `tracing`. A subscriber installed when the module is imported turns
//! each event at or above the `cloacina` logger's level into a record, and a thread of its own
//! hands the records to `logging`, in order, with the GIL: no runtime thread ever waits for the GIL
//! to log. The logger's level is read when an executor is created, so a level set before that
//! (`logging.getLogger("cloacina").setLevel(logging.DEBUG)`) takes effect.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use cloacina::TaskLogLayer;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context as LayerContext, Filter, SubscriberExt};

use crate::running::calls;
use crate::running::python_threads;

/// The logger the engine's records go to.
pub const LOGGER: &str = "cloacina";

/// The most detailed level passed on: 0 none, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
static LEVEL: AtomicU8 = AtomicU8::new(2);

/// Where the layer sends records; the delivery thread starts with the first one.
static RECORDS: OnceLock<Outbox> = OnceLock::new();

/// Records waiting for the delivery thread at most: past that, records are left out (and
/// counted), rather than held in memory without limit while Python's logging falls behind.
const WAITING_RECORDS: usize = 10_000;

/// The records on their way to the delivery thread, and how many were left out.
struct Outbox {
    sender: SyncSender<Record>,
    dropped: AtomicU64,
}

impl Outbox {
    /// Hands a record on, or counts it as left out when the queue is full.
    fn offer(&self, record: Record) {
        if let Err(TrySendError::Full(_)) = self.sender.try_send(record) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many records were left out since the last call.
    fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }
}

/// One event, ready for `logging`.
struct Record {
    level: Level,
    target: String,
    message: String,
    /// The fields that name what the record is about (see [`ATTRIBUTES`]), as record attributes.
    attributes: Vec<(&'static str, String)>,
}

/// Event fields that become attributes of the `logging` record too, so that a formatter or a
/// log shipper gets them as fields: what execution, workflow, task and attempt it is about.
const ATTRIBUTES: [&str; 4] = ["execution_id", "workflow", "task_id", "attempt"];

/// `tracing`'s levels as numbers, most severe first.
fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// The `logging` level of a `tracing` level.
fn python_level(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// The most detailed `tracing` level a `logging` level lets through.
fn rank_for_python_level(level: i64) -> u8 {
    match level {
        ..=5 => 5,
        6..=10 => 4,
        11..=20 => 3,
        21..=30 => 2,
        31..=40 => 1,
        _ => 0,
    }
}

/// Installs the subscriber (unless the process already has one): the engine's records to
/// `logging`, at the `cloacina` logger's level, and the events of Rust tasks run in this
/// process to their attempts' logs (`cloacina::TaskLogLayer`), each layer with its own filter.
pub fn install() {
    let subscriber =
        tracing_subscriber::registry().with(ToPython.with_filter(AtLoggerLevel)).with(TaskLogLayer::filtered());
    // Another global subscriber (an embedding Rust program's) keeps its place.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Passes on the engine's records at the `cloacina` logger's effective level from now on.
pub fn follow_logger_level(py: Python<'_>) {
    let level = py
        .import("logging")
        .and_then(|logging| logging.call_method1("getLogger", (LOGGER,)))
        .and_then(|logger| logger.call_method0("getEffectiveLevel"))
        .and_then(|level| level.extract::<i64>());
    if let Ok(level) = level {
        let rank = rank_for_python_level(level);
        if LEVEL.swap(rank, Ordering::Relaxed) != rank {
            tracing::callsite::rebuild_interest_cache();
        }
    }
}

/// The filter of [`ToPython`]: events at the `cloacina` logger's level.
struct AtLoggerLevel;

impl AtLoggerLevel {
    fn passes(metadata: &Metadata<'_>) -> bool {
        rank(metadata.level()) <= LEVEL.load(Ordering::Relaxed)
    }
}

impl<S> Filter<S> for AtLoggerLevel {
    fn enabled(&self, metadata: &Metadata<'_>, _context: &LayerContext<'_, S>) -> bool {
        Self::passes(metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Worked out again when the level changes (`rebuild_interest_cache`).
        if Self::passes(metadata) { Interest::always() } else { Interest::never() }
    }
}

/// The layer that sends events to the delivery thread.
struct ToPython;

impl<S: Subscriber> Layer<S> for ToPython {
    fn on_event(&self, event: &Event<'_>, _context: LayerContext<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        let metadata = event.metadata();
        let attributes = std::mem::take(&mut text.attributes);
        let record = Record {
            level: *metadata.level(),
            target: metadata.target().to_owned(),
            message: text.finish(),
            attributes,
        };
        records().offer(record);
    }
}

/// The records on their way to the delivery thread, which starts on first use.
fn records() -> &'static Outbox {
    RECORDS.get_or_init(|| {
        let (sender, receiver) = mpsc::sync_channel(WAITING_RECORDS);
        let started = std::thread::Builder::new().name("cloacina-logging".to_owned()).spawn(move || deliver(receiver));
        if let Err(error) = started {
            eprintln!("cloacina: cannot start the thread that passes engine logs to Python: {error}");
        }
        Outbox { sender, dropped: AtomicU64::new(0) }
    })
}

/// Hands each record to `logging`, until the interpreter exits; says so when records were left
/// out.
fn deliver(receiver: Receiver<Record>) {
    while let Ok(record) = receiver.recv() {
        // Counted before looking: exit waits for a call in flight, so none attaches too late.
        let _in_flight = calls::begin(Arc::default());
        if python_threads::is_exiting() {
            return;
        }
        let dropped = records().take_dropped();
        Python::attach(|py| {
            let mut result = log(py, &record);
            if dropped > 0 {
                result = result.and(log(py, &left_out(dropped)));
            }
            if let Err(error) = result {
                error.write_unraisable(py, None);
            }
        });
    }
}

/// The record that says how many records were left out.
fn left_out(count: u64) -> Record {
    Record {
        level: Level::WARN,
        target: "cloacina::logging".to_owned(),
        message: format!(
            "{count} engine log records were left out: they came faster than Python's logging handled them \
             (at most {WAITING_RECORDS} wait)"
        ),
        attributes: Vec::new(),
    }
}

/// `logging.getLogger("cloacina").log(level, "%s", message, extra={"engine_target": target, ...})`,
/// with the record's attributes in `extra` too.
fn log(py: Python<'_>, record: &Record) -> PyResult<()> {
    static LOGGER_OBJECT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let logger = LOGGER_OBJECT
        .get_or_try_init(py, || py.import("logging")?.call_method1("getLogger", (LOGGER,)).map(Bound::unbind))?
        .bind(py);
    let extra = pyo3::types::PyDict::new(py);
    extra.set_item("engine_target", &record.target)?;
    // Each attribute on every record (`None` where the event is about no such thing), so that
    // a formatter may name them all.
    for name in ATTRIBUTES {
        let value = record.attributes.iter().find(|(attribute, _)| *attribute == name).map(|(_, value)| value);
        extra.set_item(name, value)?;
    }
    let keywords = pyo3::types::PyDict::new(py);
    keywords.set_item("extra", extra)?;
    logger.call_method("log", (python_level(&record.level), "%s", &record.message), Some(&keywords))?;
    Ok(())
}

/// An event's message followed by its other fields, `key=value` each; the fields named in
/// [`ATTRIBUTES`] are also kept apart.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
    attributes: Vec<(&'static str, String)>,
}

impl Text {
    fn keep_attribute(&mut self, field: &Field, value: impl FnOnce() -> String) {
        if let Some(name) = ATTRIBUTES.iter().find(|name| **name == field.name()) {
            self.attributes.push((name, value()));
        }
    }
}

impl Text {
    fn finish(self) -> String {
        if self.fields.is_empty() { self.message } else { format!("{} ({})", self.message, self.fields.trim_start()) }
    }
}

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.keep_attribute(field, || value.to_owned());
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.keep_attribute(field, || format!("{value:?}"));
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_past_the_limit_are_counted_not_kept() {
        let (sender, receiver) = mpsc::sync_channel(2);
        let outbox = Outbox { sender, dropped: AtomicU64::new(0) };
        let record = || Record {
            level: Level::INFO,
            target: "test".to_owned(),
            message: "hello".to_owned(),
            attributes: Vec::new(),
        };
        for _ in 0..5 {
            outbox.offer(record());
        }
        assert_eq!(receiver.try_iter().count(), 2);
        assert_eq!(outbox.take_dropped(), 3);
        assert_eq!(outbox.take_dropped(), 0);
        assert!(left_out(3).message.starts_with("3 engine log records were left out"));
    }

    #[test]
    fn fields_naming_an_execution_task_or_attempt_become_attributes() {
        struct Collect(std::sync::Mutex<Vec<Text>>);
        impl<S: Subscriber> Layer<S> for &'static Collect {
            fn on_event(&self, event: &Event<'_>, _context: LayerContext<'_, S>) {
                let mut text = Text::default();
                event.record(&mut text);
                self.0.lock().unwrap().push(text);
            }
        }
        let collect: &'static Collect = Box::leak(Box::new(Collect(std::sync::Mutex::default())));
        let subscriber = tracing_subscriber::registry().with(collect);
        tracing::subscriber::with_default(subscriber, || {
            let execution_id = uuid::Uuid::nil();
            tracing::warn!(%execution_id, task_id = "load", attempt = 2, rows = 7, "retrying");
        });
        let mut texts = collect.0.lock().unwrap();
        let mut text = texts.pop().unwrap();
        let attributes = std::mem::take(&mut text.attributes);
        assert_eq!(
            attributes,
            [
                ("execution_id", "00000000-0000-0000-0000-000000000000".to_owned()),
                ("task_id", "load".to_owned()),
                ("attempt", "2".to_owned()),
            ]
        );
        assert_eq!(
            text.finish(),
            "retrying (execution_id=00000000-0000-0000-0000-000000000000 task_id=load attempt=2 rows=7)"
        );
    }

    #[test]
    fn python_levels_map_to_the_most_detailed_level_they_let_through() {
        assert_eq!(rank_for_python_level(0), 5);
        assert_eq!(rank_for_python_level(10), rank(&Level::DEBUG));
        assert_eq!(rank_for_python_level(20), rank(&Level::INFO));
        assert_eq!(rank_for_python_level(30), rank(&Level::WARN));
        assert_eq!(rank_for_python_level(40), rank(&Level::ERROR));
        assert_eq!(rank_for_python_level(50), 0);
        for level in [Level::ERROR, Level::WARN, Level::INFO, Level::DEBUG, Level::TRACE] {
            assert_eq!(rank_for_python_level(i64::from(python_level(&level))), rank(&level));
        }
    }
}
