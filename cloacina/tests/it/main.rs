//! Integration tests of the engine. Every store and executor test runs against an in-memory
//! SQLite database, a SQLite file and PostgreSQL (see `support.rs` for how PostgreSQL is found).

mod support;

mod bad_input;
mod cancellation;
mod capacity;
mod concurrency;
mod elsewhere;
mod events;
mod failures;
mod keys;
mod leases;
mod lifecycle;
mod logs;
mod macros;
mod mapping;
mod ordering;
mod outage;
mod queries;
mod redefinition;
mod reruns;
mod schedules;
mod tenants;
mod timeline;
mod values;
