//! The sync engine: copies a practice's PMS into the store and keeps it fresh.
//!
//! [`sync_stream`] runs one pass of one stream; [`sync_once`] runs every stream in
//! dependency order. Each page's upserts, quarantined rows and checkpoint commit in one
//! transaction (R4), so a crash anywhere resumes from the last committed page without loss
//! or duplicates (upserts are idempotent, R1). Incremental streams read from the PMS's own
//! clock (`serverDateTime`) minus a lookback overlap, inclusively (R2, R3); the durable
//! cursor advances only when a pass completes. A complete, uninterrupted full pass of a
//! reconciled stream soft-deletes the rows the PMS no longer has, unless that would delete
//! more than a configured share (then the run fails with the reason and nothing is
//! deleted). Every run is recorded in `sync_run`.
//!
//! The engine knows neither HTTP nor SQL: it drives a [`PmsClient`] and the store's API.
//! Loops (the scheduler) are thin shells over these step functions; tests drive them with
//! named [`FailPoint`]s.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use enamel_domain::ids::ConnectionId;
use enamel_domain::{PracticeId, Source, SourceKey, SyncCounts};
use enamel_pms::{Deletions, PageRequest, PmsClient, PmsError, StreamSpec};
use enamel_store::{QuarantineEntry, SoftDelete, Store, StoreError};
use serde::{Deserialize, Serialize};

mod schedule;
mod write;

pub use schedule::{
    PassEnd, Ran, RunNowError, Schedule, Scheduled, Scheduler, SchedulerFailHook, SchedulerFailPoint, StepReport,
};

/// Tunables.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Overlap re-read before the stored cursor on incremental streams.
    pub lookback: Duration,
    /// A reconciliation that would soft-delete more than this share of live rows is refused.
    pub max_delete_share: f64,
    /// Start new passes from the beginning even where a cursor allows an incremental read
    /// (a full pass also reconciles deletions).
    pub full: bool,
    /// Pages of an ordinary stream fetched together (in parallel after the first) and
    /// written in one transaction.
    pub pages_per_unit: usize,
    /// Parents of a per-parent stream fetched together and written in one transaction.
    pub parents_per_unit: usize,
    /// An incremental stream makes a full pass (re-reading everything and reconciling
    /// deletions) when its last one began this long before its last pass, by the PMS's
    /// clock: edits an incremental read cannot see (outside TDental's rolling window) and
    /// deletions are caught at least this often.
    pub sweep_every: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            lookback: Duration::from_secs(5 * 60),
            max_delete_share: 0.2,
            full: false,
            pages_per_unit: 8,
            parents_per_unit: 50,
            sweep_every: Duration::from_secs(86_400),
        }
    }
}

/// Where a test can make a sync fail, as if the process died there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailPoint {
    /// Before a page is fetched.
    BeforeFetch,
    /// After a page is fetched, before anything is written.
    AfterFetch,
    /// After a page and its checkpoint are committed.
    AfterCommit,
}

/// Decides whether to fail at a point: (point, stream, page number from 0).
pub type FailHook = Arc<dyn Fn(FailPoint, &str, usize) -> bool + Send + Sync>;

/// Told after each committed page: (stream, rows fetched so far in this pass).
pub type PageHook = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// Optional hooks into a sync: failure injection (tests) and progress (the CLI).
#[derive(Clone, Default)]
pub struct Hooks {
    /// Fail at named points.
    pub fail: Option<FailHook>,
    /// Progress after each committed page.
    pub on_page: Option<PageHook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").field("fail", &self.fail.is_some()).field("on_page", &self.on_page.is_some()).finish()
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The PMS failed (after retries).
    #[error("stream {stream}: {source}")]
    Pms {
        /// The stream.
        stream: String,
        /// The error.
        source: PmsError,
    },
    /// The store failed.
    #[error("stream {stream}: {source}")]
    Store {
        /// The stream.
        stream: String,
        /// The error.
        source: StoreError,
    },
    /// A reconciliation was refused by the mass-delete guard.
    #[error("stream {stream}: refusing to delete {would_delete} of {live} rows (more than the allowed share)")]
    MassDelete {
        /// The stream.
        stream: String,
        /// Rows it would delete.
        would_delete: u64,
        /// Live rows.
        live: u64,
    },
    /// A test asked the engine to die here.
    #[error("stream {stream}: injected failure at {point:?} on page {page}")]
    Injected {
        /// The stream.
        stream: String,
        /// Where.
        point: FailPoint,
        /// Which page.
        page: usize,
    },
}

/// The durable position of a stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// PMS clock at the start of the last complete pass.
    server_time: Option<NaiveDateTime>,
    /// PMS clock at the start of the last complete full pass (the last sweep).
    #[serde(default)]
    swept_at: Option<NaiveDateTime>,
}

impl Cursor {
    /// Where an incremental stream's next pass starts: `None` for a full pass (the first
    /// one, one asked for, or a sweep that is due).
    fn since(&self, config: &SyncConfig) -> Option<NaiveDateTime> {
        let last = self.server_time?;
        let swept = self.swept_at?;
        if config.full || (last - swept).to_std().is_ok_and(|gap| gap >= config.sweep_every) {
            return None;
        }
        Some(last - chrono::Duration::from_std(config.lookback).unwrap_or_default())
    }
}

/// Progress inside a pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Progress {
    /// For streams listed per parent: the index of the parent being read.
    #[serde(default)]
    parent_index: usize,
    offset: usize,
    since: Option<NaiveDateTime>,
    pass_server_time: Option<NaiveDateTime>,
}

/// What one stream's run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamOutcome {
    /// The stream.
    pub stream: String,
    /// Counts.
    pub counts: SyncCounts,
    /// Pages committed.
    pub pages: usize,
    /// The pass resumed an interrupted one.
    pub resumed: bool,
}

fn json<T: Serialize>(v: &T) -> Option<serde_json::Value> {
    serde_json::to_value(v).ok()
}

/// What a sync works on: the store, one PMS connection of one practice, tunables, hooks.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// The store.
    pub store: &'a Store,
    /// The PMS.
    pub client: &'a dyn PmsClient,
    /// The practice.
    pub practice: PracticeId,
    /// The connection (checkpoints and runs are kept per connection).
    pub connection: ConnectionId,
    /// Which PMS the rows come from.
    pub source: Source,
    /// Tunables.
    pub config: &'a SyncConfig,
    /// Hooks.
    pub hooks: &'a Hooks,
}

/// One pass of one stream, from its checkpoint to its end.
pub async fn sync_stream(target: Target<'_>, spec: &StreamSpec) -> Result<StreamOutcome, SyncError> {
    let Target { store, practice, connection, .. } = target;
    let stream = spec.name;
    let store_err = |source| SyncError::Store { stream: stream.to_owned(), source };
    let run = store.start_run(practice, connection, stream).await.map_err(store_err)?;
    let result = pass(target, spec).await;
    match &result {
        Ok(outcome) => store.finish_run(practice, run, outcome.counts, None).await.map_err(store_err)?,
        // An injected failure stands for a dead process: nobody records the run's end.
        Err(SyncError::Injected { .. }) => {}
        Err(e) => {
            let counts = SyncCounts::default();
            store.finish_run(practice, run, counts, Some(e.to_string())).await.map_err(store_err)?;
        }
    }
    result
}

async fn pass(target: Target<'_>, spec: &StreamSpec) -> Result<StreamOutcome, SyncError> {
    let Target { store, client, practice, connection, source, config, hooks } = target;
    let stream = spec.name;
    let store_err = |source| SyncError::Store { stream: stream.to_owned(), source };
    let injected = |point, page| -> Result<(), SyncError> {
        match &hooks.fail {
            Some(hook) if hook(point, stream, page) => {
                Err(SyncError::Injected { stream: stream.to_owned(), point, page })
            }
            _ => Ok(()),
        }
    };
    let checkpoint = store.checkpoint(practice, connection, stream).await.map_err(store_err)?;
    let cursor: Cursor = checkpoint
        .as_ref()
        .and_then(|c| c.cursor.clone())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let saved: Option<Progress> = checkpoint.and_then(|c| c.progress).and_then(|v| serde_json::from_value(v).ok());
    let resumed = saved.is_some();
    let mut progress = saved.unwrap_or_else(|| Progress {
        parent_index: 0,
        offset: 0,
        since: if spec.incremental { cursor.since(config) } else { None },
        pass_server_time: None,
    });
    // Only a whole, uninterrupted full pass knows every key.
    let mut keys: Option<HashSet<SourceKey>> =
        (spec.deletions == Deletions::Reconcile && progress.since.is_none() && !resumed).then(HashSet::new);
    let mut outcome = StreamOutcome { stream: stream.to_owned(), resumed, ..Default::default() };
    let mut guard_refusal = None;
    // Rows the store refused for a missing parent are re-read next pass: the durable cursor
    // does not move past them (rows the adapter could not map come back when edited).
    let mut refused_for_parents = false;
    // Streams listed per parent walk the parents already stored, in key order.
    let parents: Vec<Option<String>> = match spec.per_parent {
        Some((entity, _)) => write::parent_keys(store, practice, source, entity)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(Some)
            .collect(),
        None => vec![None],
    };
    let mut page_no = 0;
    // The next unit, fetched while the current one is written.
    let mut prefetched = None;
    loop {
        injected(FailPoint::BeforeFetch, page_no)?;
        let (mut page, parents_done) = match prefetched.take() {
            Some(unit) => unit?,
            None => fetch_unit(client, spec, &parents, &progress, config).await?,
        };
        // Offset paging over a list that changes can return a row twice: keep its last copy.
        for batch in &mut page.batches {
            batch.dedup_keys();
        }
        injected(FailPoint::AfterFetch, page_no)?;
        // The pass ends with the last page of the last parent.
        let pass_complete = page.complete && progress.parent_index + parents_done >= parents.len();
        progress.pass_server_time = progress.pass_server_time.or(page.server_time);
        outcome.counts.fetched += page.fetched as u64;
        if let Some(keys) = keys.as_mut() {
            keys.extend(page.keys.iter().filter_map(|k| SourceKey::parse(k).ok()));
        }
        if page.complete {
            progress.parent_index += parents_done;
            progress.offset = 0;
        } else {
            progress.offset = page.next_offset;
        }
        let write_unit = async {
            let tx = store.begin().await.map_err(store_err)?;
            let mut quarantine: Vec<QuarantineEntry> = page
                .quarantined
                .iter()
                .map(|q| QuarantineEntry {
                    stream: stream.to_owned(),
                    source_id: q.source_id.clone(),
                    reason: q.reason.clone(),
                    payload: q.payload.clone(),
                })
                .collect();
            let mut stored_keys = Vec::new();
            for batch in &page.batches {
                let report = write::write(&tx, practice, source, batch).await.map_err(store_err)?;
                outcome.counts.inserted += report.inserted;
                outcome.counts.updated += report.updated;
                outcome.counts.unchanged += report.unchanged;
                if batch.entity() == spec.entity {
                    // Keys stored now: neither refused by the store nor quarantined by the adapter.
                    let refused: HashSet<&str> = report
                        .rejected
                        .iter()
                        .map(|r| r.source_id.as_str())
                        .chain(page.quarantined.iter().filter_map(|q| q.source_id.as_deref()))
                        .collect();
                    stored_keys.extend(page.keys.iter().filter(|k| !refused.contains(k.as_str())).cloned());
                }
                refused_for_parents |= !report.rejected.is_empty();
                quarantine.extend(report.rejected.iter().map(|r| QuarantineEntry {
                    stream: stream.to_owned(),
                    source_id: Some(r.source_id.to_string()),
                    reason: r.to_string(),
                    payload: serde_json::Value::Null,
                }));
            }
            let mut reported: std::collections::BTreeMap<&str, Vec<SourceKey>> = std::collections::BTreeMap::new();
            for (entity, key) in &page.deleted {
                if let Ok(key) = SourceKey::parse(key) {
                    reported.entry(entity).or_default().push(key);
                }
            }
            for (entity, keys) in &reported {
                outcome.counts.deleted +=
                    write::delete_reported(&tx, practice, source, entity, keys).await.map_err(store_err)?;
            }
            outcome.counts.quarantined += quarantine.len() as u64;
            tx.quarantine(practice, connection, &quarantine).await.map_err(store_err)?;
            tx.resolve_quarantine(practice, connection, stream, &stored_keys).await.map_err(store_err)?;
            if pass_complete {
                if let Some(keys) = keys.as_ref() {
                    let reconciled = write::reconcile(
                        &tx,
                        practice,
                        source,
                        spec.entity,
                        spec.key_prefix,
                        keys,
                        config.max_delete_share,
                    )
                    .await
                    .map_err(store_err)?;
                    match reconciled {
                        Some(SoftDelete::Applied { deleted, .. }) => outcome.counts.deleted += deleted,
                        Some(SoftDelete::Refused { would_delete, live }) => guard_refusal = Some((would_delete, live)),
                        None => {}
                    }
                }
                let next = if refused_for_parents {
                    cursor.clone()
                } else {
                    let server_time = progress.pass_server_time.or(cursor.server_time);
                    let full = progress.since.is_none();
                    Cursor { server_time, swept_at: if full { server_time } else { cursor.swept_at } }
                };
                tx.save_checkpoint(practice, connection, stream, json(&next), None).await.map_err(store_err)?;
            } else {
                tx.save_checkpoint(practice, connection, stream, json(&cursor), json(&progress))
                    .await
                    .map_err(store_err)?;
            }
            tx.commit().await.map_err(store_err)
        };
        if pass_complete {
            write_unit.await?;
        } else {
            let (written, next) =
                futures::future::join(write_unit, fetch_unit(client, spec, &parents, &progress, config)).await;
            written?;
            prefetched = Some(next);
        }
        outcome.pages += 1;
        if let Some(on_page) = &hooks.on_page {
            on_page(stream, outcome.counts.fetched);
        }
        injected(FailPoint::AfterCommit, page_no)?;
        page_no += 1;
        if pass_complete {
            break;
        }
    }
    if let Some((would_delete, live)) = guard_refusal {
        return Err(SyncError::MassDelete { stream: stream.to_owned(), would_delete, live });
    }
    tracing::info!(%practice, %connection, stream, pages = outcome.pages, fetched = outcome.counts.fetched, "stream synced");
    Ok(outcome)
}

/// Requests in flight at once (the client's rate limiter still spaces them where the PMS
/// throttles).
const CONCURRENCY: usize = 8;

fn empty_page() -> enamel_pms::Page {
    enamel_pms::Page {
        batches: Vec::new(),
        quarantined: Vec::new(),
        deleted: Vec::new(),
        fetched: 0,
        keys: Vec::new(),
        complete: true,
        next_offset: 0,
        server_time: None,
    }
}

/// Adds a page's rows to a unit being assembled.
fn merge(into: &mut enamel_pms::Page, page: enamel_pms::Page) {
    for batch in page.batches {
        let mut rest = Some(batch);
        for existing in &mut into.batches {
            if let Some(b) = rest.take() {
                rest = existing.append(b);
            }
        }
        if let Some(b) = rest {
            into.batches.push(b);
        }
    }
    into.quarantined.extend(page.quarantined);
    into.deleted.extend(page.deleted);
    into.keys.extend(page.keys);
    into.fetched += page.fetched;
    into.server_time = into.server_time.or(page.server_time);
}

/// The next unit of work, merged into one page so that one transaction covers it: up to
/// `pages_per_unit` pages of an ordinary stream, or for streams listed per parent every page
/// of up to `parents_per_unit` parents; [`CONCURRENCY`] requests in flight. Returns the page
/// and how many parents it completes.
async fn fetch_unit(
    client: &dyn PmsClient,
    spec: &StreamSpec,
    parents: &[Option<String>],
    progress: &Progress,
    config: &SyncConfig,
) -> Result<(enamel_pms::Page, usize), SyncError> {
    use futures::StreamExt;
    let stream = spec.name;
    let pms_err = |source| SyncError::Pms { stream: stream.to_owned(), source };
    let request = |offset, parent: Option<String>| PageRequest { offset, since: progress.since, parent };
    let Some(first) = parents.get(progress.parent_index) else {
        // Past the last parent (or none at all): an empty last page.
        return Ok((empty_page(), 0));
    };
    if first.is_none() || progress.offset > 0 || spec.paged_parents {
        // An ordinary stream (or one parent's long list, or the rest of a parent interrupted
        // mid-way): the next page, and when it is full, up to `pages_per_unit` − 1 more
        // fetched in parallel and merged.
        let head = client.fetch(stream, request(progress.offset, first.clone())).await.map_err(pms_err)?;
        if head.complete || head.fetched == 0 {
            let done = usize::from(head.complete);
            return Ok((head, done));
        }
        let page_size = head.fetched;
        let offsets: Vec<usize> =
            (0..config.pages_per_unit.max(1) - 1).map(|i| head.next_offset + i * page_size).collect();
        let pages: Vec<Result<enamel_pms::Page, PmsError>> = futures::stream::iter(offsets)
            .map(|offset| client.fetch(stream, request(offset, first.clone())))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut unit = head;
        for page in pages {
            let page = page.map_err(pms_err)?;
            let (complete, next_offset) = (page.complete, page.next_offset);
            merge(&mut unit, page);
            unit.complete = complete;
            unit.next_offset = next_offset;
            if complete {
                break;
            }
        }
        let done = usize::from(unit.complete);
        return Ok((unit, done));
    }
    let chunk: Vec<String> =
        parents[progress.parent_index..].iter().take(config.parents_per_unit.max(1)).filter_map(Clone::clone).collect();
    let pages: Vec<Result<enamel_pms::Page, PmsError>> = futures::stream::iter(chunk.iter().cloned())
        .map(|parent| client.fetch(stream, request(0, Some(parent))))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut unit = empty_page();
    for (parent, page) in chunk.iter().zip(pages) {
        let mut page = page.map_err(pms_err)?;
        // A parent with more than a page of rows: the rest, in order.
        while !page.complete {
            let next = client.fetch(stream, request(page.next_offset, Some(parent.clone()))).await.map_err(pms_err)?;
            let complete = next.complete;
            let next_offset = next.next_offset;
            merge(&mut page, next);
            page.complete = complete;
            page.next_offset = next_offset;
        }
        merge(&mut unit, page);
    }
    Ok((unit, chunk.len()))
}

/// Every stream of the PMS once, in dependency order. A stream's failure is returned
/// with the outcomes of the streams before it; later streams do not run (they depend on it).
pub async fn sync_once(target: Target<'_>) -> Result<Vec<StreamOutcome>, (Vec<StreamOutcome>, SyncError)> {
    let mut done = Vec::new();
    for spec in target.client.streams() {
        match sync_stream(target, spec).await {
            Ok(outcome) => done.push(outcome),
            Err(e) => return Err((done, e)),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn at(hour: u32) -> Option<NaiveDateTime> {
        NaiveDate::from_ymd_opt(2026, 3, 2).and_then(|d| d.and_hms_opt(hour, 0, 0))
    }

    #[test]
    fn incremental_passes_sweep_when_the_last_sweep_is_old() {
        let config = SyncConfig { sweep_every: Duration::from_secs(6 * 3600), ..SyncConfig::default() };
        let never = Cursor { server_time: at(10), swept_at: None };
        assert_eq!(never.since(&config), None, "no sweep yet: a full pass");
        let recent = Cursor { server_time: at(10), swept_at: at(8) };
        assert_eq!(recent.since(&config), at(10).map(|t| t - chrono::Duration::minutes(5)), "from the lookback");
        let due = Cursor { server_time: at(15), swept_at: at(8) };
        assert_eq!(due.since(&config), None, "seven hours after the last sweep");
        let forced = SyncConfig { full: true, ..config };
        assert_eq!(recent.since(&forced), None);
    }
}
