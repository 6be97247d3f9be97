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
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};

use crate::calls;
use crate::python_threads;

/// The logger the engine's records go to.
pub const LOGGER: &str = "cloacina";

/// The most detailed level passed on: 0 none, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
static LEVEL: AtomicU8 = AtomicU8::new(2);

/// Where the layer sends records; the delivery thread starts with the first one.
static RECORDS: OnceLock<Sender<Record>> = OnceLock::new();

/// One event, ready for `logging`.
struct Record {
    level: Level,
    target: String,
    message: String,
}

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

/// Installs the subscriber (unless the process already has one).
pub fn install() {
    let subscriber = tracing_subscriber::registry().with(ToPython);
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

/// The layer that sends events to the delivery thread.
struct ToPython;

impl<S: Subscriber> Layer<S> for ToPython {
    fn enabled(&self, metadata: &Metadata<'_>, _context: LayerContext<'_, S>) -> bool {
        rank(metadata.level()) <= LEVEL.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _context: LayerContext<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        let metadata = event.metadata();
        let record = Record { level: *metadata.level(), target: metadata.target().to_owned(), message: text.finish() };
        // The delivery thread only ends with the process.
        let _ = records().send(record);
    }
}

/// The sender to the delivery thread, started on first use.
fn records() -> &'static Sender<Record> {
    RECORDS.get_or_init(|| {
        let (sender, receiver) = mpsc::channel();
        let started = std::thread::Builder::new().name("cloacina-logging".to_owned()).spawn(move || deliver(receiver));
        if let Err(error) = started {
            eprintln!("cloacina: cannot start the thread that passes engine logs to Python: {error}");
        }
        sender
    })
}

/// Hands each record to `logging`, until the interpreter exits.
fn deliver(receiver: Receiver<Record>) {
    while let Ok(record) = receiver.recv() {
        // Counted before looking: exit waits for a call in flight, so none attaches too late.
        let _in_flight = calls::begin(Arc::default());
        if python_threads::is_exiting() {
            return;
        }
        Python::attach(|py| {
            if let Err(error) = log(py, &record) {
                error.write_unraisable(py, None);
            }
        });
    }
}

/// `logging.getLogger("cloacina").log(level, "%s", message, extra={"engine_target": target})`.
fn log(py: Python<'_>, record: &Record) -> PyResult<()> {
    static LOGGER_OBJECT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let logger = LOGGER_OBJECT
        .get_or_try_init(py, || py.import("logging")?.call_method1("getLogger", (LOGGER,)).map(Bound::unbind))?
        .bind(py);
    let extra = pyo3::types::PyDict::new(py);
    extra.set_item("engine_target", &record.target)?;
    let keywords = pyo3::types::PyDict::new(py);
    keywords.set_item("extra", extra)?;
    logger.call_method("log", (python_level(&record.level), "%s", &record.message), Some(&keywords))?;
    Ok(())
}

/// An event's message followed by its other fields, `key=value` each.
#[derive(Default)]
struct Text {
    message: String,
    fields: String,
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
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
