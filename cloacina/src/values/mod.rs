//! Context values that are not plain JSON, in the stored form every language shares.
//!
//! Plain JSON values are stored as themselves. Every other value (a datetime, a UUID, a
//! decimal, bytes, a tuple, a dataclass, a table, ...) is a JSON object whose [`MARKER`] key
//! holds a tag naming the kind of value and whose `"value"` key holds its payload; the whole
//! format is described in `docs/content/reference/value-format.md`. [`ContextValue`] reads and writes the tags a Rust
//! task is likely to exchange with a Python one, through [`Context::get_as`] and
//! [`Context::insert_as`]; with the `arrow` feature that includes Arrow record batches, which
//! Python reads as `pyarrow.Table`s.
//!
//! [`Context::get_as`]: crate::Context::get_as
//! [`Context::insert_as`]: crate::Context::insert_as

#[cfg(feature = "arrow")]
mod arrow;

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::blobs::{self, Blobs, INLINE_BINARY_BYTES};
use crate::limits::MAX_BINARY_BYTES;

/// The key that marks a JSON object as a tagged value.
pub const MARKER: &str = "$cloacina";

/// A tagged value: `{"$cloacina": tag, "value": payload}`.
pub fn tagged(tag: &str, payload: Value) -> Value {
    let mut map = Map::with_capacity(2);
    map.insert(MARKER.to_owned(), Value::String(tag.to_owned()));
    map.insert("value".to_owned(), payload);
    Value::Object(map)
}

/// The tag of a tagged value, or `None` for plain JSON.
pub fn tag_of(value: &Value) -> Option<&str> {
    value.as_object()?.get(MARKER)?.as_str()
}

/// The payload of a value tagged with one of `tags`.
fn payload<'a>(value: &'a Value, tags: &[&str]) -> Option<&'a Value> {
    let tag = tag_of(value)?;
    tags.contains(&tag).then(|| value.get("value")).flatten()
}

/// The stored form of binary data under `tag` (`"bytes"`): base64 in the JSON up to
/// [`INLINE_BINARY_BYTES`], kept in `blobs` beside the JSON past that (see [`crate::blobs`]);
/// always in the JSON when there are no `blobs` to keep it in.
///
/// Fails, saying why and what to do, when the data is longer than [`MAX_BINARY_BYTES`]: the
/// message is the predicate of a sentence about the value (`"is 600000000 bytes long; ..."`).
pub fn binary_to_stored(tag: &str, data: Cow<'_, [u8]>, blobs: Option<&mut Blobs>) -> Result<Value, String> {
    let size = data.len();
    if size > MAX_BINARY_BYTES {
        return Err(format!(
            "is {size} bytes long; the most one value may hold is {MAX_BINARY_BYTES} bytes (512 MiB): split it into \
             several values, or keep it in a file and store the file's path"
        ));
    }
    match blobs {
        Some(blobs) if size > INLINE_BINARY_BYTES => {
            let digest = blobs.add(data.into_owned());
            Ok(blobs::reference(tag, &digest, size))
        }
        _ => Ok(tagged(tag, Value::String(BASE64.encode(&data)))),
    }
}

/// The data of the binary value whose tagged object is `map`, whether in the JSON (base64) or
/// kept beside it (loaded through `blobs`); `Ok(None)` when its payload is not base64 text.
///
/// Fails, saying why, when kept data cannot be loaded.
pub fn binary_data(map: &Map<String, Value>, blobs: &Blobs) -> Result<Option<Arc<[u8]>>, String> {
    if let Some(digest) = blobs::referenced(map) {
        return blobs.get(digest).map(Some).map_err(|error| error.to_string());
    }
    let text = map.get("value").and_then(Value::as_str);
    Ok(text.and_then(|text| BASE64.decode(text).ok()).map(Arc::from))
}

/// The data of a binary value tagged with one of `tags` (see [`binary_data`]); `Ok(None)` when
/// the value is not one of them.
pub fn binary_from_stored(stored: &Value, tags: &[&str], blobs: &Blobs) -> Result<Option<Arc<[u8]>>, String> {
    match stored.as_object() {
        Some(map) if tag_of(stored).is_some_and(|tag| tags.contains(&tag)) => binary_data(map, blobs),
        _ => Ok(None),
    }
}

/// A Rust type with a stored form that Python reads back as the matching Python type.
pub trait ContextValue: Sized {
    /// What the stored value must be, for messages (`"a datetime with a UTC offset"`).
    const EXPECTED: &'static str;

    /// The stored form. Binary data goes through [`binary_to_stored`], which keeps large data
    /// in `blobs` (stored with the task's output). Fails when the value cannot be stored, saying
    /// why as the predicate of a sentence about the value (`"is ... bytes long; ..."`).
    fn to_stored(&self, blobs: &mut Blobs) -> Result<Value, String>;

    /// The value of a stored form, or `Ok(None)` when it is not one of this type. Binary data
    /// kept beside the JSON is loaded through `blobs`. Fails, saying why, when the value is of
    /// this type but cannot be read.
    fn from_stored(stored: &Value, blobs: &Blobs) -> Result<Option<Self>, String>;
}

/// The stored forms that hold no binary data: a JSON value of their own, read back without
/// the context's binary data.
trait JsonValue: Sized {
    const EXPECTED: &'static str;

    fn to_json(&self) -> Value;

    fn from_json(stored: &Value) -> Option<Self>;
}

/// [`ContextValue`] for types that are also [`JsonValue`]s.
macro_rules! json_context_values {
    ($($type:ty),* $(,)?) => {$(
        impl ContextValue for $type {
            const EXPECTED: &'static str = <$type as JsonValue>::EXPECTED;

            fn to_stored(&self, _blobs: &mut Blobs) -> Result<Value, String> {
                Ok(self.to_json())
            }

            fn from_stored(stored: &Value, _blobs: &Blobs) -> Result<Option<Self>, String> {
                Ok(Self::from_json(stored))
            }
        }
    )*};
}

json_context_values!(
    DateTime<FixedOffset>,
    DateTime<Utc>,
    NaiveDateTime,
    NaiveDate,
    NaiveTime,
    TimeDelta,
    Uuid,
    rust_decimal::Decimal,
);

/// Python's `isoformat()` of a time of day: microseconds only when there are any.
fn time_text(time: &NaiveTime) -> String {
    let micros = time.nanosecond() / 1_000;
    if micros == 0 { time.format("%H:%M:%S").to_string() } else { format!("{}.{micros:06}", time.format("%H:%M:%S")) }
}

fn datetime_text(datetime: &NaiveDateTime) -> String {
    format!("{}T{}", datetime.date().format("%Y-%m-%d"), time_text(&datetime.time()))
}

fn text<'a>(stored: &'a Value, tags: &[&str]) -> Option<&'a str> {
    payload(stored, tags)?.as_str()
}

impl JsonValue for DateTime<FixedOffset> {
    const EXPECTED: &'static str = "a datetime with a UTC offset (tag `datetime`)";

    fn to_json(&self) -> Value {
        tagged("datetime", Value::String(format!("{}{}", datetime_text(&self.naive_local()), self.offset())))
    }

    fn from_json(stored: &Value) -> Option<Self> {
        DateTime::parse_from_rfc3339(text(stored, &["datetime"])?).ok()
    }
}

impl JsonValue for DateTime<Utc> {
    const EXPECTED: &'static str = "a datetime with a UTC offset (tag `datetime`)";

    fn to_json(&self) -> Value {
        self.fixed_offset().to_json()
    }

    fn from_json(stored: &Value) -> Option<Self> {
        DateTime::<FixedOffset>::from_json(stored).map(|datetime| datetime.to_utc())
    }
}

impl JsonValue for NaiveDateTime {
    const EXPECTED: &'static str = "a datetime without a UTC offset (tag `datetime`)";

    fn to_json(&self) -> Value {
        tagged("datetime", Value::String(datetime_text(self)))
    }

    fn from_json(stored: &Value) -> Option<Self> {
        NaiveDateTime::parse_from_str(text(stored, &["datetime"])?, "%Y-%m-%dT%H:%M:%S%.f").ok()
    }
}

impl JsonValue for NaiveDate {
    const EXPECTED: &'static str = "a date (tag `date`)";

    fn to_json(&self) -> Value {
        tagged("date", Value::String(self.format("%Y-%m-%d").to_string()))
    }

    fn from_json(stored: &Value) -> Option<Self> {
        NaiveDate::from_str(text(stored, &["date"])?).ok()
    }
}

impl JsonValue for NaiveTime {
    const EXPECTED: &'static str = "a time of day without a UTC offset (tag `time`)";

    fn to_json(&self) -> Value {
        tagged("time", Value::String(time_text(self)))
    }

    fn from_json(stored: &Value) -> Option<Self> {
        NaiveTime::parse_from_str(text(stored, &["time"])?, "%H:%M:%S%.f").ok()
    }
}

impl JsonValue for TimeDelta {
    const EXPECTED: &'static str = "a duration (tag `timedelta`)";

    fn to_json(&self) -> Value {
        // Python's normal form: whole days (possibly negative), then 0 <= seconds < 86400 and
        // 0 <= microseconds < 1_000_000.
        let micros = self.num_microseconds().unwrap_or(i64::MAX);
        let (days, rest) = (micros.div_euclid(86_400_000_000), micros.rem_euclid(86_400_000_000));
        tagged("timedelta", serde_json::json!([days, rest / 1_000_000, rest % 1_000_000]))
    }

    fn from_json(stored: &Value) -> Option<Self> {
        let parts = payload(stored, &["timedelta"])?.as_array()?;
        let [days, seconds, micros] = parts.as_slice() else { return None };
        let micros = days
            .as_i64()?
            .checked_mul(86_400_000_000)?
            .checked_add(seconds.as_i64()? * 1_000_000 + micros.as_i64()?)?;
        Some(TimeDelta::microseconds(micros))
    }
}

impl JsonValue for Uuid {
    const EXPECTED: &'static str = "a UUID (tag `uuid`)";

    fn to_json(&self) -> Value {
        tagged("uuid", Value::String(self.hyphenated().to_string()))
    }

    fn from_json(stored: &Value) -> Option<Self> {
        Uuid::parse_str(text(stored, &["uuid"])?).ok()
    }
}

impl JsonValue for rust_decimal::Decimal {
    const EXPECTED: &'static str = "a finite decimal of at most 28 digits (tag `decimal`)";

    fn to_json(&self) -> Value {
        tagged("decimal", Value::String(self.to_string()))
    }

    fn from_json(stored: &Value) -> Option<Self> {
        let text = text(stored, &["decimal"])?;
        if text.contains(['e', 'E']) {
            rust_decimal::Decimal::from_scientific(text).ok()
        } else {
            rust_decimal::Decimal::from_str_exact(text).ok()
        }
    }
}

impl ContextValue for Vec<u8> {
    const EXPECTED: &'static str = "bytes (tag `bytes` or `bytearray`)";

    fn to_stored(&self, blobs: &mut Blobs) -> Result<Value, String> {
        binary_to_stored("bytes", Cow::Borrowed(self), Some(blobs))
    }

    fn from_stored(stored: &Value, blobs: &Blobs) -> Result<Option<Self>, String> {
        Ok(binary_from_stored(stored, &["bytes", "bytearray"], blobs)?.map(|data| data.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip<T: ContextValue + PartialEq + std::fmt::Debug>(value: T) -> Value {
        let mut blobs = Blobs::default();
        let stored = value.to_stored(&mut blobs).unwrap();
        assert_eq!(T::from_stored(&stored, &blobs).unwrap(), Some(value));
        stored
    }

    /// The value of a stored form that holds no binary data kept beside the JSON.
    fn read<T: ContextValue>(stored: &Value) -> Option<T> {
        T::from_stored(stored, &Blobs::default()).unwrap()
    }

    #[test]
    fn datetimes_are_stored_as_python_writes_them() {
        let aware = DateTime::parse_from_rfc3339("2026-07-14T12:00:00.250+02:00").unwrap();
        assert_eq!(round_trip(aware), json!({"$cloacina": "datetime", "value": "2026-07-14T12:00:00.250000+02:00"}));
        let utc = DateTime::parse_from_rfc3339("2026-12-03T15:00:00Z").unwrap().to_utc();
        assert_eq!(round_trip(utc)["value"], "2026-12-03T15:00:00+00:00");
        let naive = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap().and_hms_micro_opt(3, 4, 5, 6).unwrap();
        assert_eq!(round_trip(naive)["value"], "2026-01-02T03:04:05.000006");
        assert_eq!(round_trip(naive.date())["value"], "2026-01-02");
        assert_eq!(round_trip(naive.time())["value"], "03:04:05.000006");
    }

    #[test]
    fn a_naive_datetime_is_not_an_aware_one() {
        let naive = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap().and_hms_opt(3, 4, 5).unwrap().to_json();
        assert_eq!(read::<DateTime<Utc>>(&naive), None);
    }

    #[test]
    fn durations_use_pythons_normal_form() {
        let stored = round_trip(TimeDelta::microseconds(-1));
        assert_eq!(stored["value"], json!([-1, 86_399, 999_999]));
        round_trip(TimeDelta::days(3) + TimeDelta::seconds(7));
    }

    #[test]
    fn uuids_decimals_and_bytes_round_trip() {
        let id = Uuid::parse_str("a8098c1a-f86e-11da-bd1a-00112444be1e").unwrap();
        assert_eq!(round_trip(id)["value"], "a8098c1a-f86e-11da-bd1a-00112444be1e");
        let amount = rust_decimal::Decimal::from_str_exact("1234.5000").unwrap();
        assert_eq!(round_trip(amount)["value"], "1234.5000");
        assert_eq!(
            read::<rust_decimal::Decimal>(&tagged("decimal", json!("1.20E+5"))),
            Some(rust_decimal::Decimal::from(120_000))
        );
        assert_eq!(read::<rust_decimal::Decimal>(&tagged("decimal", json!("NaN"))), None);
        assert_eq!(round_trip(vec![0u8, 255, 7])["value"], "AP8H");
        assert_eq!(read::<Vec<u8>>(&tagged("bytearray", json!("AP8H"))), Some(vec![0, 255, 7]));
    }

    #[test]
    fn plain_json_and_other_tags_are_not_typed_values() {
        assert_eq!(read::<Uuid>(&json!("a8098c1a-f86e-11da-bd1a-00112444be1e")), None);
        assert_eq!(read::<Uuid>(&tagged("decimal", json!("1"))), None);
        assert_eq!(tag_of(&json!({"$cloacina": "tuple", "value": []})), Some("tuple"));
        assert_eq!(tag_of(&json!({"other": 1})), None);
    }
}
