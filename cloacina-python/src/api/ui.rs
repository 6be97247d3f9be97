//! `UnifiedExecutor.serve_ui`: the web page for executions (the `cloacina-ui` crate), served
//! from Python until Ctrl-C or the executor's shutdown.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use cloacina::UnifiedExecutor;
use cloacina_ui::{Server, UiError, UiOptions};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

use crate::exceptions::{ErrorKind, error};
use crate::running::runtime::{block_on, block_on_interruptibly, runtime};

/// How the page is served, as Python passed it.
pub struct Serving {
    pub host: String,
    pub port: u16,
    pub read_only: bool,
    pub token: Option<String>,
    /// Called with the page's address once it is listening.
    pub ready: Option<Py<PyAny>>,
}

/// Serves the page over `executor`'s database until Ctrl-C (which stops it and re-raises
/// `KeyboardInterrupt`) or until the executor shuts down.
pub fn serve(py: Python<'_>, executor: UnifiedExecutor, serving: Serving) -> PyResult<()> {
    let Serving { host, port, read_only, token, ready } = serving;
    let ip = match host.as_str() {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        other => other.parse::<IpAddr>().map_err(|_| {
            error(ErrorKind::Validation, format!("host {other:?} is not an IP address (such as 127.0.0.1 or 0.0.0.0)"))
        })?,
    };
    let options = UiOptions { address: SocketAddr::new(ip, port), read_only, token, ..UiOptions::default() };
    let closed = executor.clone();
    let server = block_on(py, Server::bind(executor, options)).map_err(|problem| match problem {
        UiError::Bind { .. } | UiError::Serve(_) => PyOSError::new_err(problem.to_string()),
        other => error(ErrorKind::Validation, other.to_string()),
    })?;
    let address = server.local_address();
    if let Some(ready) = ready {
        ready.call1(py, (format!("http://{address}/"),))?;
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = runtime().spawn(server.run(async move {
        tokio::select! {
            _ = stopped => {}
            _ = closed.closed() => {}
        }
    }));
    let mut serving = Box::pin(serving);
    match block_on_interruptibly(py, &mut serving) {
        Ok(finished) => finished
            .map_err(|panicked| PyOSError::new_err(format!("serving the page stopped: {panicked}")))?
            .map_err(|problem| PyOSError::new_err(problem.to_string())),
        Err(interrupted) => {
            let _ = stop.send(());
            let _ = block_on(py, serving);
            Err(interrupted)
        }
    }
}
