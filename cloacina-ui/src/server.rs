//! Listening: the options, the checks made before listening, and the router.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use cloacina::UnifiedExecutor;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{api, assets, security};

/// The port the page is served on unless told otherwise.
pub const DEFAULT_PORT: u16 = 8490;

/// The environment variable the command line reads the token from.
pub const TOKEN_VARIABLE: &str = "CLOACINA_UI_TOKEN";

/// The shortest token accepted.
const MIN_TOKEN_LENGTH: usize = 16;

/// How the page is served.
#[derive(Debug, Clone)]
pub struct UiOptions {
    /// Where to listen: `127.0.0.1:8490` by default. An address other than a loopback one needs
    /// a token.
    pub address: SocketAddr,
    /// Turns the actions (cancel, re-run) off.
    pub read_only: bool,
    /// The token every request must carry (as `Authorization: Bearer <token>`, or in the cookie
    /// the page sets when opened as `/?token=<token>`). Required to listen on any address other
    /// than a loopback one; optional on loopback.
    pub token: Option<String>,
    /// How often a live view looks for new events of an execution other processes run.
    pub poll_interval: Duration,
}

impl Default for UiOptions {
    fn default() -> Self {
        Self {
            address: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            read_only: false,
            token: None,
            poll_interval: Duration::from_millis(200),
        }
    }
}

/// Why the page cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// Asked to listen beyond this machine without a token.
    #[error(
        "refusing to serve on {0} without a token: anyone who can reach it could see every execution and act on \
         them; set {TOKEN_VARIABLE} to a secret of at least {MIN_TOKEN_LENGTH} characters, or listen on 127.0.0.1"
    )]
    TokenRequired(SocketAddr),
    /// The token is too short to be a secret.
    #[error("the token is too short: use at least {MIN_TOKEN_LENGTH} characters (e.g. `openssl rand -hex 16`)")]
    WeakToken,
    /// The address cannot be listened on.
    #[error("cannot listen on {address}: {source}; is another program using the port? choose another with --port")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why not.
        source: std::io::Error,
    },
    /// Serving stopped with an error.
    #[error("serving the page failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// What every request handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    /// Reads the database and acts on executions.
    pub executor: UnifiedExecutor,
    /// Whether actions are turned off.
    pub read_only: bool,
    /// The token requests must carry, if any.
    pub token: Option<Arc<str>>,
    /// How often a live view looks for new events.
    pub poll_interval: Duration,
    /// Cancelled when the server stops: live views end, so that open requests can finish.
    pub stopping: CancellationToken,
}

/// The page and its API for `executor`, as a router to serve or to nest in a program's own.
/// The checks [`Server::bind`] makes on the address are the caller's to make.
///
/// Cancel `stopping` when the program shuts down: live views of executions still running end
/// then, so that a graceful shutdown (`axum::serve(...).with_graceful_shutdown`) does not wait
/// for those executions to finish.
pub fn router(executor: UnifiedExecutor, options: &UiOptions, stopping: CancellationToken) -> Router {
    let state = AppState {
        executor,
        read_only: options.read_only,
        token: options.token.as_deref().map(Arc::from),
        poll_interval: options.poll_interval,
        stopping,
    };
    Router::new()
        .nest("/api", api::routes())
        .merge(assets::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::guard))
        .with_state(state)
}

/// The page, listening.
pub struct Server {
    listener: TcpListener,
    router: Router,
    address: SocketAddr,
    stopping: CancellationToken,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Server").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Server {
    /// Checks the options and listens. An address beyond loopback needs a token of at least 16
    /// characters; port 0 picks a free port ([`local_address`](Self::local_address) says which).
    pub async fn bind(executor: UnifiedExecutor, options: UiOptions) -> Result<Self, UiError> {
        match options.token.as_deref() {
            Some(token) if token.chars().count() < MIN_TOKEN_LENGTH => return Err(UiError::WeakToken),
            None if !options.address.ip().is_loopback() => return Err(UiError::TokenRequired(options.address)),
            _ => {}
        }
        let listener = TcpListener::bind(options.address)
            .await
            .map_err(|source| UiError::Bind { address: options.address, source })?;
        let address = listener.local_addr()?;
        let stopping = CancellationToken::new();
        let router = router(executor, &options, stopping.clone());
        Ok(Self { listener, router, address, stopping })
    }

    /// The address listened on.
    pub fn local_address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then lets open requests finish (live views end).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), UiError> {
        let stopping = self.stopping.clone();
        let shutdown = async move {
            shutdown.await;
            stopping.cancel();
        };
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await?;
        Ok(())
    }
}
