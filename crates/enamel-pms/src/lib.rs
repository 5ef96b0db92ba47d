//! PMS adapters: the [`PmsClient`] trait the sync engine drives, and one client per PMS.
//!
//! This crate is the only one that knows `reqwest` and the vendors' wire formats. It turns
//! a page of a PMS resource into [`Batch`]es of canonical records whose references are PMS
//! keys; rows it cannot map are [`Quarantined`] with a reason instead of failing the page.
//! It knows nothing of the store or GraphQL.

use std::time::Duration;

use chrono::NaiveDateTime;
use enamel_domain::{Batch, PageDigest};
use futures::future::BoxFuture;

mod digest;
pub mod error;
mod http;
pub mod limiter;
pub mod opendental;
mod row;
pub mod tdental;
pub mod write;

pub use error::PmsError;
pub use http::tagged;
pub use write::{Applied, PmsWriter, Probe};

/// How a stream notices deletions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletions {
    /// Rows are never removed (the PMS marks them, e.g. `PatStatus = Deleted`).
    Marked,
    /// Only a complete pass can tell: keys missing from it are soft-deleted.
    Reconcile,
    /// A history stream reports them (Open Dental `histappointments`).
    History,
}

/// One stream: a PMS resource synced into canonical entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSpec {
    /// Stable name (`appointments`).
    pub name: &'static str,
    /// The canonical entity of the stream's own rows (`appointment`); other entities a page
    /// produces (families of patients, check-ins of appointments) ride along.
    pub entity: &'static str,
    /// The prefix of the stream's keys where several streams share a table
    /// (`definition:`); empty otherwise. Reconciliation only looks at keys under it.
    pub key_prefix: &'static str,
    /// Streams whose rows this one refers to: synced first.
    pub depends_on: &'static [&'static str],
    /// The PMS can return only rows changed since a time.
    pub incremental: bool,
    /// How deletions are found.
    pub deletions: Deletions,
    /// Default schedule.
    pub every: Duration,
    /// The PMS lists this stream only per parent row: (parent entity, query parameter), e.g.
    /// Open Dental adjustments need a `PatNum`. The engine walks the parents it has stored.
    pub per_parent: Option<(&'static str, &'static str)>,
    /// Each parent's list is long (TDental rows per branch): the engine pages through one
    /// parent at a time, committing page by page, instead of reading many parents whole.
    pub paged_parents: bool,
}

/// Which page to fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows to skip.
    pub offset: usize,
    /// Only rows changed at or after this PMS-clock time (incremental streams).
    pub since: Option<NaiveDateTime>,
    /// The parent's PMS key, for streams listed per parent.
    pub parent: Option<String>,
    /// The digest this page's answer had when its rows last landed. An adapter that
    /// computes digests answers a page with the same digest with [`Page::same_as_known`]
    /// set and no rows, without parsing them.
    pub known: Option<PageDigest>,
}

/// A row the adapter could not map, kept for review.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    /// The stream.
    pub stream: &'static str,
    /// The row's PMS key, when it could be read.
    pub source_id: Option<String>,
    /// Why it was refused.
    pub reason: String,
    /// The row as the PMS sent it.
    pub payload: serde_json::Value,
}

/// One fetched page, mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Mapped rows, in the order the store must write them (parents first).
    pub batches: Vec<Batch>,
    /// Rows that could not be mapped.
    pub quarantined: Vec<Quarantined>,
    /// Rows the PMS reports deleted: (canonical entity, PMS key), e.g. from Open Dental's
    /// appointment history.
    pub deleted: Vec<(&'static str, String)>,
    /// Rows the PMS returned.
    pub fetched: usize,
    /// The PMS keys of every row returned (mapped or not): a complete pass's keys tell
    /// which stored rows the PMS no longer has.
    pub keys: Vec<String>,
    /// This was the last page.
    pub complete: bool,
    /// The offset of the next page.
    pub next_offset: usize,
    /// The PMS's clock when it answered, where it says (`serverDateTime`).
    pub server_time: Option<NaiveDateTime>,
    /// The answer's digest, where the adapter computes one (one request's answer, not a
    /// merged unit).
    pub digest: Option<PageDigest>,
    /// The answer had the digest of [`PageRequest::known`]: nothing was parsed, and
    /// `batches`, `quarantined`, `deleted`, `fetched`, `keys`, `complete` and `next_offset`
    /// are left empty for the caller to take from what it remembers of the page.
    pub same_as_known: bool,
}

/// The stream of `streams` named `name`.
pub fn find_stream(streams: &'static [StreamSpec], name: &str) -> Result<&'static StreamSpec, PmsError> {
    streams.iter().find(|s| s.name == name).ok_or_else(|| PmsError::UnknownStream(name.to_owned()))
}

/// A PMS, as the sync engine sees it.
pub trait PmsClient: Send + Sync {
    /// The streams, in dependency order.
    fn streams(&self) -> &'static [StreamSpec];

    /// Fetches and maps one page of a stream.
    fn fetch<'a>(&'a self, stream: &'a str, request: PageRequest) -> BoxFuture<'a, Result<Page, PmsError>>;
}
