//! Arrow record batches in a context (the `arrow` feature): stored as an Arrow IPC stream under
//! the tag `pyarrow.Table`, which a Python task reads as a `pyarrow.Table`. A Python task's
//! `pyarrow.Table` or polars `DataFrame` reads back as one record batch.

use std::borrow::Cow;
use std::io::Cursor;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use serde_json::{Map, Value};

use super::{ContextValue, MARKER, binary_from_stored, binary_to_stored};
use crate::blobs::Blobs;

/// The tag a record batch is written under.
const TABLE: &str = "pyarrow.Table";

/// The tags of tables stored as a bare Arrow IPC stream, which read back as a record batch. (A
/// pandas frame's columns are stored named by position, with its labels beside them, so it is
/// not one of them.)
const TABLES: [&str; 2] = [TABLE, "polars.DataFrame"];

impl ContextValue for RecordBatch {
    const EXPECTED: &'static str = "an Arrow table (tag `pyarrow.Table` or `polars.DataFrame`)";

    fn to_stored(&self, blobs: &mut Blobs) -> Result<Value, String> {
        let mut stream = Vec::with_capacity(self.get_array_memory_size() + 1024);
        let unwritable = |error| format!("cannot be written as an Arrow IPC stream: {error}");
        let mut writer = StreamWriter::try_new(&mut stream, &self.schema()).map_err(unwritable)?;
        writer.write(self).map_err(unwritable)?;
        writer.finish().map_err(unwritable)?;
        drop(writer);
        let mut table = Map::with_capacity(2);
        table.insert(MARKER.to_owned(), Value::String(TABLE.to_owned()));
        table.insert("value".to_owned(), binary_to_stored("bytes", Cow::Owned(stream), Some(blobs))?);
        Ok(Value::Object(table))
    }

    fn from_stored(stored: &Value, blobs: &Blobs) -> Result<Option<Self>, String> {
        let Some(payload) = super::payload(stored, &TABLES) else { return Ok(None) };
        let Some(stream) = binary_from_stored(payload, &["bytes"], blobs)? else {
            return Err("its payload is not the bytes of an Arrow IPC stream".to_owned());
        };
        let reader = StreamReader::try_new(Cursor::new(&stream[..]), None)
            .map_err(|error| format!("its Arrow IPC stream cannot be read: {error}"))?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("its Arrow IPC stream cannot be read: {error}"))?;
        match batches.len() {
            0 => Ok(Some(RecordBatch::new_empty(schema))),
            1 => Ok(batches.into_iter().next()),
            _ => arrow_select::concat::concat_batches(&schema, &batches)
                .map(Some)
                .map_err(|error| format!("its record batches cannot be joined: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, Int64Array, StringArray};
    use serde_json::json;

    use super::*;
    use crate::blobs::INLINE_BINARY_BYTES;

    fn batch(rows: i64) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from_iter_values(0..rows)) as _),
            ("score", Arc::new(Float64Array::from_iter_values((0..rows).map(|row| row as f64 / 4.0))) as _),
            ("name", Arc::new(StringArray::from_iter_values((0..rows).map(|row| format!("row {row}")))) as _),
        ])
        .unwrap()
    }

    // 20,000 rows hold more than the JSON keeps inline; 3 rows less.
    const _: () = assert!(INLINE_BINARY_BYTES < 20_000 * 8);

    #[test]
    fn record_batches_round_trip_inline_and_beside_the_json() {
        for rows in [0, 3, 20_000] {
            let mut blobs = Blobs::default();
            let stored = batch(rows).to_stored(&mut blobs).unwrap();
            assert_eq!(stored[MARKER], json!("pyarrow.Table"));
            let beside = stored["value"].get("blob").is_some();
            assert_eq!(beside, rows == 20_000, "{rows} rows");
            assert_eq!(RecordBatch::from_stored(&stored, &blobs).unwrap(), Some(batch(rows)));
        }
    }

    #[test]
    fn other_values_are_not_tables_and_broken_streams_say_so() {
        let blobs = Blobs::default();
        assert_eq!(RecordBatch::from_stored(&json!({"a": 1}), &blobs).unwrap(), None);
        let pandas = json!({"$cloacina": "pandas.DataFrame", "value": {"$cloacina": "bytes", "value": ""}});
        assert_eq!(RecordBatch::from_stored(&pandas, &blobs).unwrap(), None);
        let broken = json!({"$cloacina": "pyarrow.Table", "value": {"$cloacina": "bytes", "value": "AAEC"}});
        let error = RecordBatch::from_stored(&broken, &blobs).unwrap_err();
        assert!(error.starts_with("its Arrow IPC stream cannot be read"), "{error}");
        let not_bytes = json!({"$cloacina": "pyarrow.Table", "value": [1, 2]});
        assert_eq!(
            RecordBatch::from_stored(&not_bytes, &blobs).unwrap_err(),
            "its payload is not the bytes of an Arrow IPC stream"
        );
    }
}
