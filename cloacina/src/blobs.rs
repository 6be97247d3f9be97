//! Binary data kept beside context values.
//!
//! A binary payload (bytes, an array's `.npy` data, a table's Arrow IPC stream) larger than
//! [`INLINE_BINARY_BYTES`] is not written into the context's JSON. It is stored once per
//! execution in a table of its own, keyed by its SHA-256 digest, in the same transaction as the
//! task output or execution that refers to it, and the JSON holds a reference:
//!
//! ```json
//! {"$cloacina": "bytes", "blob": "<sha-256 in hex>", "size": 1048576}
//! ```
//!
//! A [`Context`](crate::Context) keeps the data it wrote and the data its ancestors wrote in this
//! process in memory ([`Blobs`]); anything else is loaded from the database only when a reader
//! asks for it, through the [`BlobSource`] the executor attaches.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::values::MARKER;

/// Binary payloads up to this size (64 KiB) are kept in the JSON (as base64); larger ones beside it.
pub const INLINE_BINARY_BYTES: usize = 64 * 1024;

/// The key of a reference's digest.
const BLOB: &str = "blob";

/// The SHA-256 digest of `data`, in lowercase hex: the key data is stored under.
pub fn digest(data: &[u8]) -> String {
    Sha256::digest(data).iter().fold(String::with_capacity(64), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// The reference stored in place of a `tag` value (`"bytes"`, `"bytearray"`) kept beside the
/// JSON.
pub fn reference(tag: &str, digest: &str, size: usize) -> Value {
    let mut map = Map::with_capacity(3);
    map.insert(MARKER.to_owned(), Value::String(tag.to_owned()));
    map.insert(BLOB.to_owned(), Value::String(digest.to_owned()));
    map.insert("size".to_owned(), Value::from(size));
    Value::Object(map)
}

/// The digest a tagged value refers to, when it is a reference.
pub fn referenced(map: &Map<String, Value>) -> Option<&str> {
    map.get(BLOB)?.as_str()
}

/// Every digest referenced anywhere inside `value` (walked without recursion).
fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                if map.contains_key(MARKER)
                    && let Some(digest) = referenced(map)
                {
                    found.push(digest);
                }
                pending.extend(map.values());
            }
            _ => {}
        }
    }
}

/// Loads stored data by digest: the database of the executor that read the context.
pub trait BlobSource: Send + Sync {
    /// The data stored under `digest`.
    fn load(&self, digest: &str) -> Result<Arc<[u8]>, StoreError>;
}

/// The binary data a context holds in memory, and where to load the rest from.
#[derive(Clone, Default)]
pub struct Blobs {
    /// Data by digest: written into this context, or by the tasks it was built from.
    kept: HashMap<String, Arc<[u8]>>,
    /// The digests of the data written into this context (not yet stored).
    added: Vec<String>,
    source: Option<Arc<dyn BlobSource>>,
}

impl fmt::Debug for Blobs {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Blobs")
            .field("kept", &self.kept.len())
            .field("added", &self.added.len())
            .field("source", &self.source.is_some())
            .finish()
    }
}

impl Blobs {
    /// Keeps data written into the context; returns its digest.
    pub fn add(&mut self, data: Vec<u8>) -> String {
        let digest = digest(&data);
        if !self.kept.contains_key(&digest) {
            self.kept.insert(digest.clone(), Arc::from(data));
            self.added.push(digest.clone());
        }
        digest
    }

    /// Keeps data written into the context under a digest computed already (by another module
    /// with this crate's [`digest`]), without hashing it again.
    pub fn add_digested(&mut self, digest: String, data: Arc<[u8]>) {
        debug_assert_eq!(digest, self::digest(&data), "the digest of data handed over");
        if !self.kept.contains_key(&digest) {
            self.kept.insert(digest.clone(), data);
            self.added.push(digest);
        }
    }

    /// Keeps data read or written elsewhere (another task's output), not to be stored again.
    pub(crate) fn keep(&mut self, digest: &str, data: &Arc<[u8]>) {
        self.kept.entry(digest.to_owned()).or_insert_with(|| Arc::clone(data));
    }

    /// The data stored under `digest`: from memory, or loaded through the source.
    pub fn get(&self, digest: &str) -> Result<Arc<[u8]>, StoreError> {
        if let Some(data) = self.kept.get(digest) {
            return Ok(Arc::clone(data));
        }
        match &self.source {
            Some(source) => source.load(digest),
            None => Err(StoreError::Corrupt(format!(
                "a context value refers to binary data ({digest}) that this context does not hold and has no \
                 database to load from"
            ))),
        }
    }

    /// Where data not held in memory is loaded from.
    pub fn set_source(&mut self, source: Arc<dyn BlobSource>) {
        self.source = Some(source);
    }

    /// The data written into this context that `values` still refer to, to store with them.
    pub(crate) fn written_for<'a>(&self, values: impl Iterator<Item = &'a Value>) -> Vec<(String, Arc<[u8]>)> {
        if self.added.is_empty() {
            return Vec::new();
        }
        let mut found = Vec::new();
        for value in values {
            references(value, &mut found);
        }
        self.added
            .iter()
            .filter(|digest| found.contains(&digest.as_str()))
            .filter_map(|digest| self.kept.get(digest).map(|data| (digest.clone(), Arc::clone(data))))
            .collect()
    }

    /// Forgets which data was written here: it has been stored (or handed over as a delta).
    pub(crate) fn clear_added(&mut self) {
        self.added.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_is_kept_once_under_its_digest() {
        let mut blobs = Blobs::default();
        let first = blobs.add(vec![1, 2, 3]);
        assert_eq!(first, "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81");
        assert_eq!(blobs.add(vec![1, 2, 3]), first);
        assert_eq!(&*blobs.get(&first).unwrap(), &[1, 2, 3]);
        assert_eq!(blobs.added, [first]);
    }

    #[test]
    fn only_data_still_referred_to_is_stored() {
        let mut blobs = Blobs::default();
        let kept = blobs.add(vec![1]);
        let dropped = blobs.add(vec![2]);
        let values = [json!({"nested": [reference("bytes", &kept, 1)]}), json!("plain")];
        let written = blobs.written_for(values.iter());
        assert_eq!(written.iter().map(|(digest, _)| digest.as_str()).collect::<Vec<_>>(), [kept.as_str()]);
        assert!(!written.iter().any(|(digest, _)| *digest == dropped));
    }

    #[test]
    fn data_neither_held_nor_loadable_is_an_error() {
        let error = Blobs::default().get("abc").unwrap_err();
        assert!(error.to_string().contains("binary data (abc) that this context does not hold"));
    }
}
