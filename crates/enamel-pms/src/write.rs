//! Writes to a PMS, as the write-back executor drives them.
//!
//! The executor never sends blindly. It first [`PmsWriter::probe`]s: the record's current
//! change stamp (compared with the one seen at proposal: a change since means conflict),
//! whether the desired state already holds (an earlier attempt landed), and for creates
//! whether a record carrying the write-back's marker exists. Only then does it
//! [`PmsWriter::apply`], exactly one HTTP request per attempt (no transport retries here: a
//! retried POST could create twice; retries belong to the executor, which probes first).

use std::future::Future;

use enamel_domain::writeback::PmsWrite;
use futures::future::BoxFuture;
use serde_json::Value;

use crate::PmsError;

/// What the PMS holds now, as far as one write is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// The record the write changes exists (always true for creates: the patient exists).
    pub exists: bool,
    /// Its change stamp: Open Dental's `DateTStamp`; for TDental, which exposes none, a
    /// fingerprint of the fields a write-back can change. None for creates.
    pub version: Option<String>,
    /// The desired state already holds (updates), or a record carrying the marker exists
    /// (creates).
    pub done: bool,
    /// A create found by its marker: the new record's PMS key.
    pub created_key: Option<String>,
}

/// What an accepted write produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// A created record's PMS key.
    pub created_key: Option<String>,
    /// The HTTP status the PMS answered.
    pub status: u16,
}

/// A PMS, as the write-back executor sees it.
pub trait PmsWriter: Send + Sync {
    /// Reads what the PMS holds for `write`. `marker` is the write-back's marker
    /// ([`enamel_domain::writeback::marker`]), searched for by creates and notes.
    fn probe<'a>(&'a self, write: &'a PmsWrite, marker: &'a str) -> BoxFuture<'a, Result<Probe, PmsError>>;

    /// Sends `write` once, carrying `marker` in the record's note where the PMS has one.
    /// [`PmsError::Uncertain`] means the request may have reached the PMS (a timeout or a
    /// connection lost after sending): probe before any retry.
    fn apply<'a>(&'a self, write: &'a PmsWrite, marker: &'a str) -> BoxFuture<'a, Result<Applied, PmsError>>;
}

/// The record a GET of `path` answered, or `None` when the PMS answered 404.
pub(crate) async fn record(
    path: &str,
    get: impl Future<Output = Result<Value, PmsError>>,
) -> Result<Option<Value>, PmsError> {
    match get.await {
        Ok(row) if row.is_object() => Ok(Some(row)),
        Ok(_) => Err(PmsError::Protocol(format!("{path}: expected a JSON object"))),
        Err(PmsError::Rejected { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The record a write needs, or a refusal naming it.
pub(crate) fn existing(path: &str, record: Option<Value>) -> Result<Value, PmsError> {
    record.ok_or_else(|| PmsError::Rejected { status: 404, message: format!("{path} does not exist") })
}
