//! The envelope of a synced row: what an adapter hands the store, and what the store gives
//! back.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{PracticeId, Record, Source, SourceKey};

/// One mapped PMS record, ready for the store. `data` names its references by PMS key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncRow<T> {
    /// The record's key in its PMS.
    pub source_id: SourceKey,
    /// The PMS's own change stamp, where it has one.
    pub source_updated_at: Option<DateTime<Utc>>,
    /// The mapped fields.
    pub data: T,
    /// The raw PMS payload, kept for audit and unmodelled fields.
    pub raw: Option<RawJson>,
}

/// A PMS payload as JSON text: compact (one string rather than a tree of values) and stored
/// as it came, without being serialised again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawJson(Box<str>);

impl RawJson {
    /// Text already known to be one JSON value (a slice of a parsed answer).
    pub fn from_text(text: &str) -> Self {
        Self(text.into())
    }

    /// A value's JSON text.
    pub fn from_value(value: &serde_json::Value) -> Self {
        Self(value.to_string().into_boxed_str())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Emitted as the JSON value it holds, not as a string.
        match serde_json::from_str::<serde_json::Value>(&self.0) {
            Ok(value) => value.serialize(serializer),
            Err(_) => serializer.serialize_str(&self.0),
        }
    }
}

impl<T> SyncRow<T> {
    /// A row without a change stamp or raw payload.
    pub fn new(source_id: SourceKey, data: T) -> Self {
        Self { source_id, source_updated_at: None, data, raw: None }
    }
}

/// The bookkeeping columns of a stored row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowMeta {
    /// The practice the row belongs to.
    pub practice_id: PracticeId,
    /// The PMS it came from.
    pub source: Source,
    /// Its key in that PMS.
    pub source_id: SourceKey,
    /// The PMS's change stamp.
    pub source_updated_at: Option<DateTime<Utc>>,
    /// Hash of the mapped fields, as last written.
    pub content_hash: i64,
    /// When the row's content was last written by a sync.
    pub synced_at: DateTime<Utc>,
    /// When a reconciliation found it gone from the PMS.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A row as stored: its id, bookkeeping and record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound = "T: Serialize")]
pub struct Stored<T: Record> {
    /// Internal id.
    pub id: T::Id,
    /// Bookkeeping.
    pub meta: RowMeta,
    /// The record, with references as internal ids.
    pub data: T,
}
