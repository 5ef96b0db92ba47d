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

/// A fingerprint of one PMS answer (one page of one stream), computed by the adapter over
/// the bytes it maps, salted with everything else the mapping depends on (the adapter's
/// code, the stream, the page size, the office time zone). Two answers with the same digest
/// map to the same rows, so a page whose digest has not changed since its rows last landed
/// need not be parsed or written again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageDigest(pub u128);

impl std::fmt::Display for PageDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl std::str::FromStr for PageDigest {
    type Err = crate::ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || crate::ParseError::new("page digest", s, "expected 32 hexadecimal digits");
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u128::from_str_radix(s, 16).map(Self).map_err(|_| bad())
    }
}

/// What the sync remembers of one page whose rows all landed (none quarantined, none
/// refused): its digest, the PMS keys it held, and whether it was the last page. When the
/// same page comes back with the same digest, these stand in for its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageMemo {
    /// Where the page is in its stream: its offset, after its parent's key for streams
    /// listed per parent (`"1337/0"`).
    pub page: String,
    /// The answer's digest.
    pub digest: PageDigest,
    /// The PMS keys of its rows, in order.
    pub keys: Vec<String>,
    /// It was the last page (of its parent).
    pub complete: bool,
}

#[cfg(test)]
mod page_digest_tests {
    use super::PageDigest;

    #[test]
    fn a_digest_reads_back_from_its_text() {
        let digest = PageDigest(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        assert_eq!(digest.to_string(), "0123456789abcdef0011223344556677");
        assert_eq!(digest.to_string().parse::<PageDigest>(), Ok(digest));
        assert_eq!(PageDigest(1).to_string().parse::<PageDigest>(), Ok(PageDigest(1)));
        assert!("12".parse::<PageDigest>().is_err());
        assert!("0123456789abcdef001122334455667g".parse::<PageDigest>().is_err());
    }
}
