//! A web page for Cloacina's executions, and the JSON API under it.
//!
//! Any process that can open the database serves it: [`Server::bind`] takes an executor (one
//! that runs no tasks is enough) and listens; the page lists executions, draws an execution's
//! task graph coloured by status with a timeline of its attempts, shows a task's attempts, logs,
//! output and input, and follows a running execution live. The page's files are built into the
//! binary. Every page is drawn from the JSON API under `/api` (described at `/api/openapi.json`),
//! which scripts may use too.
//!
//! Safe by default: it listens on a loopback address unless told otherwise, and then only with a
//! token ([`UiOptions::token`]); actions are POST requests that a page of another site cannot
//! send; [`UiOptions::read_only`] turns them off.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let executor = cloacina::UnifiedExecutor::with_config(
//!     "sqlite:///var/lib/app/runs.db",
//!     cloacina::ExecutorConfig { run_tasks: false, ..Default::default() },
//! )
//! .await?;
//! let server = cloacina_ui::Server::bind(executor, cloacina_ui::UiOptions::default()).await?;
//! println!("serving http://{}", server.local_address());
//! // Serves until the future given completes: here, never.
//! server.run(std::future::pending()).await?;
//! # Ok(())
//! # }
//! ```

mod api;
mod assets;
mod error;
mod security;
mod server;

pub use server::{DEFAULT_PORT, Server, TOKEN_VARIABLE, UiError, UiOptions, router};
/// What [`router`] takes to end live views when the program stops (tokio-util's).
pub use tokio_util::sync::CancellationToken;
