//! Stored-value decoding: any JSON (or Arrow IPC stream) read back as each type a Rust task can ask for decodes or
//! fails without a panic, and a value that decodes is stored and decoded again to itself.

#![no_main]

use arrow_array::RecordBatch;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use cloacina::Context;
use cloacina::values::ContextValue;
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

/// Reads `key` as `T`; what decodes must survive being stored and read again unchanged.
fn round_trip<T: ContextValue + PartialEq + std::fmt::Debug>(context: &Context) {
    let Ok(value) = context.get_as::<T>("value") else { return };
    let mut again = Context::new();
    if again.insert_as("value", &value).is_err() {
        return;
    }
    let read: T = again.get_as("value").expect("a value written by insert_as reads back");
    assert_eq!(read, value, "stored as {:?}", again.get("value"));
}

/// Reads `data` as the Arrow IPC stream of a stored table: it decodes or fails cleanly.
fn arrow_stream(data: &[u8]) {
    let mut context = Context::new();
    context.insert_as("bytes", &data.to_vec()).expect("bytes are storable");
    let bytes = context.get("bytes").cloned().expect("just inserted");
    let table = cloacina::values::tagged("pyarrow.Table", bytes);
    context.insert("table", table).expect("a tagged table is storable");
    if let Ok(batch) = context.get_as::<RecordBatch>("table") {
        let _ = batch.num_rows();
    }
}

fuzz_target!(|data: &[u8]| {
    // Inputs starting with 0xA7 are Arrow IPC streams; the rest JSON.
    if let Some((&0xA7, stream)) = data.split_first() {
        arrow_stream(stream);
        return;
    }
    let Ok(stored) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let mut context = Context::new();
    if context.insert("value", stored).is_err() {
        return;
    }
    round_trip::<DateTime<FixedOffset>>(&context);
    round_trip::<DateTime<Utc>>(&context);
    round_trip::<NaiveDateTime>(&context);
    round_trip::<NaiveDate>(&context);
    round_trip::<NaiveTime>(&context);
    round_trip::<TimeDelta>(&context);
    round_trip::<Uuid>(&context);
    round_trip::<rust_decimal::Decimal>(&context);
    round_trip::<Vec<u8>>(&context);
    let _ = context.get_as::<RecordBatch>("value");
});
