//! The canonical model of Enamel, shared by every other crate.
//!
//! This crate owns typed ids ([`ids`]), value objects ([`money`], [`date`], [`teeth`]),
//! the canonical enums ([`enums`]) and one record per canonical entity ([`records`]).
//! It knows nothing of databases, HTTP, GraphQL or any PMS wire format, and it performs no
//! I/O: everything here is plain data and pure functions, so it cannot fail for reasons
//! outside its inputs.
//!
//! Records are generic over a [`RefMode`]: a record built by a PMS adapter names its
//! foreign keys by the PMS's own keys ([`Keyed`]); the store resolves them and hands back
//! records whose foreign keys are internal ids ([`Linked`], the default).

pub mod auth;
pub mod batch;
pub mod date;
pub mod enums;
pub mod ids;
pub mod money;
pub mod practice;
pub mod records;
pub mod row;
pub mod teeth;
pub mod views;
pub mod writeback;

pub use auth::{ApiKey, PhiAccess, Scope};
pub use batch::Batch;
pub use date::PartialDate;
pub use ids::{EntityId, PracticeId, Source, SourceKey};
pub use money::{Amount, Currency, Money};
pub use practice::{LeaseRelease, PmsConnection, Practice, SyncCounts, SyncLease, SyncRun, SyncRunStatus};
pub use records::{Keyed, Linked, Record, RefMode};
pub use row::{PageDigest, PageMemo, RawJson, RowMeta, Stored, SyncRow};
pub use teeth::{Tooth, ToothList, ToothScope};

/// A value that failed to parse, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {input:?} ({reason})")]
pub struct ParseError {
    /// What kind of value was being parsed (`"tooth"`, `"amount"`, …).
    pub what: &'static str,
    /// The offending input, truncated to 64 characters.
    pub input: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, input: &str, reason: &'static str) -> Self {
        Self { what, input: input.chars().take(64).collect(), reason }
    }
}
