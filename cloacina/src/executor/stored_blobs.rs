//! Binary data of context values loaded from the executor's database when a reader asks for it
//! (see `crate::blobs`).

use std::sync::{Arc, Weak};

use tokio::runtime::{Handle, RuntimeFlavor};
use uuid::Uuid;

use super::engine::Engine;
use crate::blobs::BlobSource;
use crate::context::Context;
use crate::error::StoreError;
use crate::store;

/// Loads an execution's binary data from the database of the executor that read its context.
struct StoredBlobs {
    /// Not kept alive by the contexts it serves (a result may outlive its executor).
    engine: Weak<Engine>,
    execution_id: Uuid,
}

/// Lets `context`, a context of `execution_id` read by `engine`, load the binary data it does not
/// hold.
pub(crate) fn attach(engine: &Arc<Engine>, execution_id: Uuid, context: &mut Context) {
    context.set_blob_source(Arc::new(StoredBlobs { engine: Arc::downgrade(engine), execution_id }));
}

impl BlobSource for StoredBlobs {
    fn load(&self, digest: &str) -> Result<Arc<[u8]>, StoreError> {
        let engine = self.engine.upgrade().ok_or_else(|| {
            StoreError::Pool(
                "the executor that read this context has been dropped, so its binary data cannot be loaded; read \
                 the value while the executor exists"
                    .to_owned(),
            )
        })?;
        let (key, wanted) = (self.execution_id.to_string(), digest.to_owned());
        let read = engine.store.read(move |connection| store::load_blob(connection, &key, &wanted));
        let loaded = match Handle::try_current().map(|handle| handle.runtime_flavor()) {
            // A thread outside any runtime (a Python task's, the caller's): block on the read.
            Err(_) => engine.runtime.block_on(read),
            Ok(RuntimeFlavor::CurrentThread) => {
                return Err(StoreError::Internal(
                    "binary data cannot be loaded from inside a single-threaded tokio runtime; run the executor on a \
                     multi-threaded one"
                        .to_owned(),
                ));
            }
            Ok(_) => tokio::task::block_in_place(|| engine.runtime.block_on(read)),
        }?;
        loaded.map(Arc::from).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "execution `{}` has no binary data {digest}, which one of its values refers to",
                self.execution_id
            ))
        })
    }
}
