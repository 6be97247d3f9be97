//! The Python API: the classes and functions of `cloacina._native`.

pub mod context;
pub mod events;
pub mod executor;
pub mod handle;
pub mod logs;
pub mod result;
pub mod retry;
pub mod schedule;
pub mod task;
pub mod timeline;
pub mod trigger;
pub mod ui;
pub mod workflow;
