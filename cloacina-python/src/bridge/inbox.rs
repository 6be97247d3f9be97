//! Handing work to an event loop's thread without holding the GIL.
//!
//! Starting an attempt of an `async def` task needs Python only to call the function and schedule
//! its coroutine, which the loop's own thread can do while it holds the GIL anyway. An inbox lets
//! the runtime's workers queue that work and wake the loop with one byte on a socket the loop
//! watches (`add_reader`), instead of handing each attempt to a pool thread that takes the
//! GIL and calls `call_soon_threadsafe`: one thread hand-off less per attempt, no contention for
//! the GIL between that thread and the loop's, and one wake-up of the loop for every batch of
//! attempts that became ready together.
//!
//! The socket is a Unix socket pair where there are Unix sockets, else a pair of connected TCP
//! sockets on the loopback interface (as Python's `socket.socketpair` makes on Windows). A loop
//! that cannot watch a socket (asyncio's proactor loop, Windows' default) gets no inbox, and the
//! work takes the pool thread's way. Work still queued when the loop closes takes it too.

use std::io::{ErrorKind, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;

use crate::bridge::loops;
use crate::running::python_threads;

/// Where a job runs: on the loop whose inbox it was queued in, or (that loop having closed) on
/// whatever loop the execution's coroutines would be handed to from any thread.
pub enum Place<'a, 'py> {
    /// On this loop's thread, inside one of its callbacks.
    Loop(&'a Bound<'py, PyAny>),
    /// Anywhere: the job must hand its coroutine over thread-safely.
    Anywhere,
}

/// Work for a loop's thread.
pub type Job = Box<dyn for<'a, 'py> FnOnce(Python<'py>, Place<'a, 'py>) + Send>;

/// The jobs queued for one event loop and the socket that wakes it.
pub struct Inbox {
    state: Mutex<State>,
    /// The end the loop watches and drains.
    receiving: socket::Stream,
    /// The end a byte is written to when the first job is queued.
    waking: socket::Stream,
}

struct State {
    jobs: Vec<Job>,
    closed: bool,
}

impl Inbox {
    fn new() -> std::io::Result<Self> {
        let (receiving, waking) = socket::pair()?;
        receiving.set_nonblocking(true)?;
        waking.set_nonblocking(true)?;
        Ok(Self { state: Mutex::new(State { jobs: Vec::new(), closed: false }), receiving, waking })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `job` for the loop's thread; gives it back if the loop has closed.
    pub fn push(&self, job: Job) -> Result<(), Job> {
        let first = {
            let mut state = self.state();
            if state.closed {
                return Err(job);
            }
            state.jobs.push(job);
            state.jobs.len() == 1
        };
        if first {
            // A full socket means a wake-up is pending already; any other failure leaves the
            // job to the next wake-up, as the socket stays open while the inbox lives.
            let _ = (&self.waking).write(&[1]);
        }
        Ok(())
    }

    /// The jobs queued so far. The wake-up bytes are read first, so a job queued meanwhile
    /// either comes with these or writes a byte of its own.
    fn take(&self) -> Vec<Job> {
        let mut bytes = [0_u8; 64];
        loop {
            match (&self.receiving).read(&mut bytes) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        std::mem::take(&mut self.state().jobs)
    }

    /// Refuses further jobs; the ones still queued.
    fn close(&self) -> Vec<Job> {
        let mut state = self.state();
        state.closed = true;
        std::mem::take(&mut state.jobs)
    }

    /// Whether the loop has closed.
    pub fn is_closed(&self) -> bool {
        self.state().closed
    }
}

/// The callback a loop calls when its inbox's socket is readable. The loop's selector holds it
/// while the loop watches the socket; closing the loop drops it, which closes the inbox.
#[pyclass(module = "cloacina", name = "_Inbox", frozen, weakref)]
pub struct InboxReader {
    inbox: Arc<Inbox>,
}

#[pymethods]
impl InboxReader {
    /// Runs the queued jobs on the running loop's thread.
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let jobs = self.inbox.take();
        if jobs.is_empty() {
            return Ok(());
        }
        let event_loop = pyo3_async_runtimes::get_running_loop(py)?;
        for job in jobs {
            job(py, Place::Loop(&event_loop));
        }
        Ok(())
    }

    /// The file descriptor (on Windows, the socket handle) the loop watches.
    fn fileno(&self) -> u64 {
        socket::number(&self.inbox.receiving)
    }
}

impl Drop for InboxReader {
    fn drop(&mut self) {
        let jobs = self.inbox.close();
        if jobs.is_empty() || python_threads::is_exiting() {
            // At exit nothing waits for them: dropping a job ends its attempt's wait.
            return;
        }
        Python::attach(|py| {
            for job in jobs {
                job(py, Place::Anywhere);
            }
        });
    }
}

/// An inbox watched by `event_loop`: the one it has, or a new one. `None` if the loop cannot
/// watch a socket. `from_loop_thread` says whether this runs on the loop's own thread.
pub fn watched_by(py: Python<'_>, event_loop: &Bound<'_, PyAny>, from_loop_thread: bool) -> Option<Arc<Inbox>> {
    let attempt = || -> PyResult<Option<Arc<Inbox>>> {
        if let Ok(reader) = loops::bridge(py, "inbox_of")?.call1((event_loop,))?.cast_into::<InboxReader>() {
            let inbox = Arc::clone(&reader.get().inbox);
            return Ok((!inbox.is_closed()).then_some(inbox));
        }
        let inbox = Arc::new(Inbox::new()?);
        let reader = Bound::new(py, InboxReader { inbox: Arc::clone(&inbox) })?;
        let watching = loops::bridge(py, "watch")?.call1((event_loop, reader, from_loop_thread))?.is_truthy()?;
        Ok(watching.then_some(inbox))
    };
    attempt().unwrap_or_else(|error| {
        tracing::debug!(%error, "an event loop cannot watch an inbox; coroutines are handed to it from other threads");
        None
    })
}

/// The pair of connected sockets an inbox wakes its loop through.
#[cfg(unix)]
mod socket {
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    /// One end of the pair.
    pub type Stream = UnixStream;

    /// A new pair of connected sockets.
    pub fn pair() -> std::io::Result<(Stream, Stream)> {
        UnixStream::pair()
    }

    /// The number a selector watches for `stream`: its file descriptor.
    pub fn number(stream: &Stream) -> u64 {
        u64::try_from(stream.as_raw_fd()).unwrap_or_default()
    }
}

/// The pair of connected sockets an inbox wakes its loop through.
#[cfg(windows)]
mod socket {
    use std::net::{Ipv4Addr, TcpListener, TcpStream};

    /// One end of the pair.
    pub type Stream = TcpStream;

    /// A new pair of connected sockets: a listener on a free loopback port accepts the one
    /// connection made to it, and closes. A connection from anyone else is refused by checking
    /// that the accepted peer is the connecting end.
    pub fn pair() -> std::io::Result<(Stream, Stream)> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let connecting = TcpStream::connect(listener.local_addr()?)?;
        loop {
            let (accepted, peer) = listener.accept()?;
            if peer == connecting.local_addr()? {
                connecting.set_nodelay(true)?;
                return Ok((accepted, connecting));
            }
        }
    }

    /// The number a selector watches for `stream`: its socket handle.
    pub fn number(stream: &Stream) -> u64 {
        use std::os::windows::io::AsRawSocket;
        stream.as_raw_socket()
    }
}
