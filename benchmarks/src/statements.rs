//! Counting the SQL statements the engine runs (every query, `BEGIN` and `COMMIT` included),
//! through Diesel's instrumentation of every connection this process opens.
//! `CLOACINA_BENCH_PRINT_STATEMENTS=1` also prints each statement to stderr.

use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};

static STATEMENTS: AtomicU64 = AtomicU64::new(0);

/// Counts statements; with `print`, also writes each to stderr.
struct Counter {
    print: bool,
}

impl Instrumentation for Counter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            STATEMENTS.fetch_add(1, Ordering::Relaxed);
            if self.print {
                eprintln!("statement: {query}");
            }
        }
    }
}

fn counter() -> Option<Box<dyn Instrumentation>> {
    let print = std::env::var_os("CLOACINA_BENCH_PRINT_STATEMENTS").is_some_and(|value| value == "1");
    Some(Box::new(Counter { print }))
}

/// Counts the statements of every connection opened from now on.
pub fn count() -> Result<(), diesel::result::Error> {
    set_default_instrumentation(counter)
}

/// The statements started so far.
pub fn so_far() -> u64 {
    STATEMENTS.load(Ordering::Relaxed)
}
