//! The asyncio bridge: coroutine tasks on event loops, and awaitables of the engine's futures.

pub mod awaitable;
pub mod awaiting;
pub mod coroutine;
pub mod inbox;
pub mod loops;
