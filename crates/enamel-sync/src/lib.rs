//! The sync engine: copies a practice's PMS into the store and keeps it fresh.
//!
//! [`sync_stream`] runs one pass of one stream; [`sync_once`] runs every stream in
//! dependency order, streams that do not depend on each other side by side. Each page's
//! upserts, quarantined rows and checkpoint commit in one transaction (R4), so a crash
//! anywhere resumes from the last committed page without loss or duplicates (upserts are
//! idempotent, R1). Consecutive units of a pass may share that transaction, up to
//! [`SyncConfig::rows_per_transaction`] rows and [`SyncConfig::transaction_time`]: a crash
//! then re-reads at most the units of the transaction it interrupted. Incremental streams
//! read from the PMS's own clock (`serverDateTime`) minus a lookback overlap, inclusively
//! (R2, R3); the durable cursor advances only when a pass completes. A complete,
//! uninterrupted full pass of a reconciled stream soft-deletes the rows the PMS no longer
//! has, unless that would delete more than a configured share (then the run fails with the
//! reason and nothing is deleted). Every run is recorded in `sync_run`.
//!
//! The engine knows neither HTTP nor SQL: it drives a [`PmsClient`] and the store's API.
//! Loops (the scheduler) are thin shells over these step functions; tests drive them with
//! named [`FailPoint`]s.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use enamel_domain::ids::ConnectionId;
use enamel_domain::{PageMemo, PracticeId, Source, SourceKey, SyncCounts};
use enamel_pms::{Deletions, PageRequest, PmsClient, PmsError, StreamSpec};
use enamel_store::{QuarantineEntry, SoftDelete, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::write::Footprint;

mod order;
mod schedule;
mod write;

pub use order::in_dependency_order;
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
    /// written in one transaction, at most…
    pub pages_per_unit: usize,
    /// …and no more than make this many rows: Open Dental's 1,000-row pages 4 at a time,
    /// TDental's 200-row pages 4 at a time (8 held 20–40 MiB more for no more speed).
    /// Rows in flight are most of a sync's memory.
    pub rows_per_unit: usize,
    /// Parents of a per-parent stream fetched together and written in one transaction.
    pub parents_per_unit: usize,
    /// Units share one transaction while it holds fewer than this many rows (fetched or
    /// remembered)… (0: every unit commits alone.) Each unit's checkpoint is written in the
    /// transaction with its rows, so a crash rolls back to the last commit and resumes from
    /// there. Fewer, larger commits write each index page touched by random keys once per
    /// commit instead of once per unit: SQLite's write-ahead log shrinks accordingly (a
    /// fifth less CPU in a TDental first sync; PostgreSQL gains nothing measurable).
    pub rows_per_transaction: usize,
    /// …and while it is younger than this. A transaction also commits when the next unit
    /// is not fetched by then, so a slow PMS never keeps it (and on SQLite the one writer)
    /// waiting.
    pub transaction_time: Duration,
    /// An incremental stream makes a full pass (re-reading everything and reconciling
    /// deletions) when its last one began this long before its last pass, by the PMS's
    /// clock: edits an incremental read cannot see (outside TDental's rolling window) and
    /// deletions are caught at least this often.
    pub sweep_every: Duration,
    /// Take a page whose answer has the digest it had when its rows last landed (see
    /// [`enamel_domain::PageMemo`]) from what was remembered of it, without parsing or
    /// comparing its rows again. Off, every page of a full read is mapped and compared.
    pub reuse_unchanged_pages: bool,
    /// Streams synced at once by [`sync_once`] (each after the streams it depends on); 1 is
    /// the declared order, one stream at a time. `None`: as many as the store writes well
    /// at once ([`streams_at_once`]).
    pub streams_at_once: Option<usize>,
    /// A pass whose stream's table has no row at all (a first sync) sets its lookup
    /// indexes aside and creates them again when it ends
    /// ([`enamel_store::Store::defer_indexes`]): building an index once from sorted rows
    /// costs less than inserting every row into it.
    pub defer_indexes: bool,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            lookback: Duration::from_secs(5 * 60),
            max_delete_share: 0.2,
            full: false,
            pages_per_unit: 4,
            rows_per_unit: 4_000,
            parents_per_unit: 50,
            rows_per_transaction: 10_000,
            transaction_time: Duration::from_secs(1),
            sweep_every: Duration::from_secs(86_400),
            reuse_unchanged_pages: true,
            streams_at_once: None,
            defer_indexes: true,
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
    /// After a page and its checkpoint are written in their transaction, before it commits
    /// (when the transaction takes further pages, or commits once the next is fetched).
    AfterWrite,
    /// After a page and its checkpoint are committed (with the pages before it that shared
    /// their transaction).
    AfterCommit,
}

/// Decides whether to fail at a point: (point, stream, page number from 0).
pub type FailHook = Arc<dyn Fn(FailPoint, &str, usize) -> bool + Send + Sync>;

/// Told after each page written: (stream, rows fetched so far in this pass).
pub type PageHook = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// Optional hooks into a sync: failure injection (tests) and progress (the CLI).
#[derive(Clone, Default)]
pub struct Hooks {
    /// Fail at named points.
    pub fail: Option<FailHook>,
    /// Progress after each page written (its transaction may commit later).
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
    /// The last complete pass was a full one that reconciled deletions: every live row of
    /// the stream was in one of its pages (and so in their memos).
    #[serde(default)]
    reconciled: bool,
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
    /// Units committed (a unit is one or more pages, or the pages of several parents).
    pub pages: usize,
    /// Pages whose answer was unchanged since their rows last landed: taken as remembered,
    /// without parsing or comparing their rows.
    pub pages_reused: usize,
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
    let deferred = defer_indexes(target, spec).await.map_err(store_err)?;
    let run = store.start_run(practice, connection, stream).await.map_err(store_err)?;
    let mut result = pass(target, spec).await;
    // An injected failure stands for a dead process: its indexes stay deferred, for the
    // stream's next pass to create.
    if deferred && !matches!(result, Err(SyncError::Injected { .. })) {
        let restored = store.restore_indexes(spec.entity, &deferrer(target, spec)).await;
        match (&result, restored) {
            (_, Ok(names)) => {
                tracing::info!(%connection, stream, table = spec.entity, indexes = names.len(), "lookup indexes created")
            }
            (Ok(_), Err(e)) => result = Err(store_err(e)),
            (Err(_), Err(e)) => tracing::error!(%connection, stream, error = %e, "deferred indexes not created again"),
        }
    }
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

/// A key as a first fill remembers it has read it: equal keys hash equal, and a rare
/// collision only makes a key be looked for in the store.
fn key_hash(key: &SourceKey) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    key.as_str().hash(&mut hasher);
    hasher.finish()
}

/// Who defers a stream's indexes: its connection and name (one pass of it runs at a time).
fn deferrer(target: Target<'_>, spec: &StreamSpec) -> String {
    format!("{}/{}", target.connection, spec.name)
}

/// Before a pass: creates the indexes an earlier pass of the stream deferred and did not
/// create again (its process died), then, if the stream's table has no row at all, defers
/// its lookup indexes. Returns whether it deferred. Failing to defer is not an error: the
/// pass goes on with the indexes.
async fn defer_indexes(target: Target<'_>, spec: &StreamSpec) -> Result<bool, StoreError> {
    let Target { store, connection, config, .. } = target;
    if enamel_store::tables::synced(spec.entity).is_none() {
        return Ok(false);
    }
    let by = deferrer(target, spec);
    let left = store.restore_indexes(spec.entity, &by).await?;
    if !left.is_empty() {
        tracing::warn!(%connection, stream = spec.name, indexes = left.len(), "created indexes an interrupted pass had deferred");
    }
    if !config.defer_indexes {
        return Ok(false);
    }
    match store.defer_indexes(spec.entity, &by).await {
        Ok(names) if names.is_empty() => Ok(false),
        Ok(names) => {
            tracing::info!(%connection, stream = spec.name, table = spec.entity, indexes = names.len(), "lookup indexes deferred for a first load");
            Ok(true)
        }
        Err(e) => {
            tracing::warn!(%connection, stream = spec.name, error = %e, "lookup indexes not deferred");
            Ok(false)
        }
    }
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
    let reconciling = spec.deletions == Deletions::Reconcile && progress.since.is_none() && !resumed;
    // A full pass into a scope without rows (a first sync) has nothing to reconcile: the
    // stream's rows are written only by its passes, one at a time, so every row in its
    // scope at the end is one this pass read. Its keys need not be kept; instead it keeps
    // (hashed) those it has read so far, and the stored rows of the others are not looked
    // for: they cannot be stored.
    let first_fill = reconciling
        && enamel_store::tables::synced(spec.entity).is_some()
        && !store.any_in_scope(spec.entity, practice, source, spec.key_prefix).await.map_err(store_err)?;
    let mut keys: Option<HashSet<SourceKey>> = (reconciling && !first_fill).then(HashSet::new);
    let read_so_far: Option<std::sync::Mutex<HashSet<u64>>> = first_fill.then(Default::default);
    let read_so_far = read_so_far.as_ref();
    let mut outcome = StreamOutcome { stream: stream.to_owned(), resumed, ..Default::default() };
    let mut guard_refusal = None;
    // Whether the stream may have quarantined rows a stored key resolves: those left by
    // earlier passes, or any this pass adds (only this stream's passes quarantine its rows,
    // one at a time). Without any, stored keys are not looked for in the quarantine.
    let mut may_resolve = store.has_unresolved_quarantine(practice, connection, stream).await.map_err(store_err)?;
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
    // What is remembered of the pages of a full read: an unchanged answer stands in for
    // its rows. Incremental reads change with their window; they are always read in full.
    let memos: HashMap<String, PageMemo> = if progress.since.is_none() && config.reuse_unchanged_pages {
        store
            .page_memos(practice, connection, stream)
            .await
            .map_err(store_err)?
            .into_iter()
            .map(|memo| (memo.page.clone(), memo))
            .collect()
    } else {
        HashMap::new()
    };
    // Pages read in this pass: at the end of a whole one, memos of pages that no longer
    // exist are forgotten.
    let mut visited: Option<HashSet<String>> = (!resumed && !memos.is_empty()).then(HashSet::new);
    // Whether every page of the pass so far was taken as remembered, and which those were.
    let mut every_page_same = !memos.is_empty();
    let mut reused: Vec<String> = Vec::new();
    let reading = Reading { client, spec, parents: &parents, config, memos: &memos };
    let mut page_no = 0;
    // The next unit, fetched and prepared while the current one is written.
    let mut prefetched = None;
    // The transaction open across units (see `SyncConfig::rows_per_transaction`): when it
    // began, the rows of its units, and what they write (the next unit is prepared beside
    // all of them, none committed yet).
    let mut open: Option<enamel_store::Tx> = None;
    let mut opened_at = Instant::now();
    let mut open_rows: u64 = 0;
    let mut beside = Arc::new(Footprint::default());
    let ready = |progress: Progress, beside: Arc<Footprint>| async move {
        let (mut unit, parents_done) = reading.unit(&progress).await?;
        // Offset paging over a list that changes can return a row twice: keep its last copy.
        for batch in &mut unit.page.batches {
            batch.dedup_keys();
        }
        // The batches that what is being written cannot affect are prepared now, outside
        // its transaction: that one then only writes them.
        let mut prepared = Vec::new();
        for batch in &unit.page.batches[..beside.preparable(&unit.page.batches)] {
            let ready = match read_so_far {
                Some(read) if batch.entity() == spec.entity => {
                    let absent = |key: &SourceKey| {
                        key.as_str().starts_with(spec.key_prefix)
                            && !read.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&key_hash(key))
                    };
                    write::prepare_absent(store, practice, source, batch, &absent).await
                }
                _ => write::prepare(store, practice, source, batch).await,
            };
            prepared.push(ready.map_err(store_err)?);
        }
        if let Some(read) = read_so_far {
            let mut read = read.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for batch in unit.page.batches.iter().filter(|b| b.entity() == spec.entity) {
                read.extend(batch.keys().into_iter().map(key_hash));
            }
        }
        Ok::<_, SyncError>((unit, parents_done, prepared))
    };
    loop {
        injected(FailPoint::BeforeFetch, page_no)?;
        let (unit, parents_done, prepared) = match prefetched.take() {
            Some(unit) => unit?,
            None => ready(progress.clone(), Arc::default()).await?,
        };
        let Unit { page, fresh, mut unremembered, same_pages, same_rows } = unit;
        // Batches from this one on are prepared in the transaction.
        let prepared_here = prepared.len();
        every_page_same &= fresh.is_empty() && unremembered.is_empty() && page.fetched == 0;
        if let Some(visited) = visited.as_mut() {
            visited.extend(fresh.iter().map(|m| m.page.clone()));
            visited.extend(unremembered.iter().cloned());
            visited.extend(same_pages.iter().cloned());
        }
        injected(FailPoint::AfterFetch, page_no)?;
        // The pass ends with the last page of the last parent.
        let pass_complete = page.complete && progress.parent_index + parents_done >= parents.len();
        progress.pass_server_time = progress.pass_server_time.or(page.server_time);
        outcome.counts.fetched += page.fetched as u64 + same_rows;
        outcome.counts.unchanged += same_rows;
        outcome.pages_reused += same_pages.len();
        if let Some(keys) = keys.as_mut() {
            keys.extend(page.keys.iter().filter_map(|k| SourceKey::parse(k).ok()));
        }
        reused.extend(same_pages);
        if page.complete {
            progress.parent_index += parents_done;
            progress.offset = 0;
        } else {
            progress.offset = page.next_offset;
        }
        let unit_rows = page.fetched as u64 + same_rows;
        let continued = open.take();
        if continued.is_none() {
            opened_at = Instant::now();
        }
        let write_unit = async {
            let tx = match continued {
                Some(tx) => tx,
                None => store.begin().await.map_err(store_err)?,
            };
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
            let mut refused_here = false;
            let mut prepared = prepared.into_iter();
            for batch in &page.batches {
                let report = match prepared.next() {
                    Some(ready) => tx.write_prepared(ready).await,
                    None => write::write(&tx, practice, source, batch).await,
                }
                .map_err(store_err)?;
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
                refused_here |= !report.rejected.is_empty();
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
                let deleted = write::delete_reported(&tx, practice, source, entity, keys).await.map_err(store_err)?;
                outcome.counts.deleted += deleted;
                if deleted > 0 {
                    // A row the PMS reports deleted may still sit in a remembered page of
                    // the stream that lists it: that page must be read again to tell.
                    for other in client.streams().iter().filter(|s| s.entity == *entity && s.name != stream) {
                        tx.forget_page_memos(practice, connection, other.name, None).await.map_err(store_err)?;
                    }
                }
            }
            refused_for_parents |= refused_here;
            // Pages whose rows all landed are remembered; a page with a row refused or
            // quarantined is read in full again next time (its row may land then).
            let remembered = if refused_here {
                unremembered.extend(fresh.iter().map(|m| m.page.clone()));
                &[][..]
            } else {
                &fresh[..]
            };
            tx.save_page_memos(practice, connection, stream, remembered).await.map_err(store_err)?;
            if pass_complete && let Some(visited) = visited.as_ref() {
                unremembered.extend(memos.keys().filter(|page| !visited.contains(*page)).cloned());
            }
            if !unremembered.is_empty() {
                tx.forget_page_memos(practice, connection, stream, Some(&unremembered)).await.map_err(store_err)?;
            }
            outcome.counts.quarantined += quarantine.len() as u64;
            tx.quarantine(practice, connection, &quarantine).await.map_err(store_err)?;
            if may_resolve {
                tx.resolve_quarantine(practice, connection, stream, &stored_keys).await.map_err(store_err)?;
            }
            may_resolve |= !quarantine.is_empty();
            if pass_complete {
                // Whether every live row of the stream is now in a page of this pass.
                let mut reconciled = first_fill;
                if let Some(keys) = keys.take() {
                    if every_page_same && !reused.is_empty() && cursor.reconciled {
                        // Every page is the one whose rows last landed, and the pass that
                        // remembered them left no live row outside them: nothing to delete.
                        reconciled = true;
                    } else {
                        // The remembered pages' keys are looked up where the memos hold
                        // them, not copied (200,000 appointments' keys twice would be
                        // 30 MB).
                        let present = Present {
                            read: &keys,
                            remembered: reused
                                .iter()
                                .filter_map(|page| memos.get(page))
                                .flat_map(|m| m.keys.iter().map(|k| k.trim()))
                                .collect(),
                        };
                        let outcome_of = write::reconcile(
                            &tx,
                            practice,
                            source,
                            spec.entity,
                            spec.key_prefix,
                            &present,
                            config.max_delete_share,
                        )
                        .await
                        .map_err(store_err)?;
                        match outcome_of {
                            Some(SoftDelete::Applied { deleted, .. }) => {
                                outcome.counts.deleted += deleted;
                                reconciled = true;
                            }
                            Some(SoftDelete::Refused { would_delete, live }) => {
                                guard_refusal = Some((would_delete, live));
                            }
                            None => {}
                        }
                    }
                }
                let next = if refused_for_parents {
                    Cursor { reconciled: false, ..cursor.clone() }
                } else {
                    let server_time = progress.pass_server_time.or(cursor.server_time);
                    let full = progress.since.is_none();
                    Cursor {
                        server_time,
                        swept_at: if full { server_time } else { cursor.swept_at },
                        // An incremental pass that wrote a row may have made it live
                        // outside every remembered page: the next full pass reconciles.
                        reconciled: if full {
                            reconciled
                        } else {
                            cursor.reconciled && outcome.counts.inserted + outcome.counts.updated == 0
                        },
                    }
                };
                tx.save_checkpoint(practice, connection, stream, json(&next), None).await.map_err(store_err)?;
            } else {
                tx.save_checkpoint(practice, connection, stream, json(&cursor), json(&progress))
                    .await
                    .map_err(store_err)?;
            }
            Ok::<_, SyncError>(tx)
        };
        let commit = |tx: enamel_store::Tx| async move { tx.commit().await.map_err(store_err) };
        let committed = if pass_complete {
            let tx = write_unit.await?;
            injected(FailPoint::AfterWrite, page_no)?;
            commit(tx).await?;
            true
        } else {
            // The next unit is fetched and prepared while this one is written.
            Arc::make_mut(&mut beside).absorb(Footprint::of(&page, prepared_here));
            let mut next = std::pin::pin!(ready(progress.clone(), Arc::clone(&beside)));
            let mut write_unit = std::pin::pin!(write_unit);
            let (written, fetched) = match futures::future::select(write_unit.as_mut(), next.as_mut()).await {
                futures::future::Either::Left((written, _)) => (written, None),
                futures::future::Either::Right((fetched, _)) => (write_unit.as_mut().await, Some(fetched)),
            };
            open_rows += unit_rows;
            let due = open_rows >= config.rows_per_transaction as u64 || opened_at.elapsed() >= config.transaction_time;
            // The transaction commits when it is due, or when the next unit is not fetched
            // before it would be: it is never held open waiting on the PMS.
            let written = match written.and_then(|tx| injected(FailPoint::AfterWrite, page_no).map(|()| tx)) {
                Ok(tx) => tx,
                Err(e) => {
                    if fetched.is_none() {
                        let _ = next.as_mut().await;
                    }
                    return Err(e);
                }
            };
            let (fetched, tx) = match fetched {
                Some(fetched) => (fetched, Some(written)),
                None => {
                    let left =
                        if due { Duration::ZERO } else { config.transaction_time.saturating_sub(opened_at.elapsed()) };
                    match tokio::time::timeout(left, next.as_mut()).await {
                        Ok(fetched) => (fetched, Some(written)),
                        Err(_) => {
                            let (done, fetched) = futures::future::join(commit(written), next.as_mut()).await;
                            done?;
                            (fetched, None)
                        }
                    }
                }
            };
            prefetched = Some(fetched);
            match tx {
                Some(tx) if due => {
                    commit(tx).await?;
                    true
                }
                Some(tx) => {
                    open = Some(tx);
                    false
                }
                None => true,
            }
        };
        if committed {
            open_rows = 0;
            beside = Arc::new(Footprint::default());
        }
        outcome.pages += 1;
        if let Some(on_page) = &hooks.on_page {
            on_page(stream, outcome.counts.fetched);
        }
        if committed {
            injected(FailPoint::AfterCommit, page_no)?;
        }
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

/// Pages requested at once (the client's rate limiter still spaces them where the PMS
/// throttles).
const CONCURRENCY: usize = 8;

/// Parents' lists requested at once when each was remembered: a pass asks for one list per
/// parent (a patient's adjustments), mostly unchanged, so round trips bound it, not rows.
const REMEMBERED_CONCURRENCY: usize = 32;

/// Pages of an ordinary stream one unit takes at most while its pages are remembered
/// unchanged: such a page holds no rows in memory, and a unit is one transaction.
const REMEMBERED_PAGES_PER_UNIT: usize = 64;

/// Parents a unit of a per-parent stream takes at most while their answers are remembered
/// unchanged.
const REMEMBERED_PARENTS_PER_UNIT: usize = 1_000;

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
        digest: None,
        same_as_known: false,
    }
}

/// One unit of work: the rows of the pages read in full, merged into one page, and what
/// stands in for the pages whose answers were remembered.
#[derive(Debug)]
struct Unit {
    /// The pages read in full, merged: their rows and keys.
    page: enamel_pms::Page,
    /// Memos for the pages read in full, to save if their rows all land.
    fresh: Vec<PageMemo>,
    /// Pages read in full that cannot be remembered (a row quarantined).
    unremembered: Vec<String>,
    /// The remembered pages whose answers were unchanged.
    same_pages: Vec<String>,
    /// Rows in those pages.
    same_rows: u64,
}

impl Unit {
    fn new() -> Self {
        Self { page: empty_page(), fresh: Vec::new(), unremembered: Vec::new(), same_pages: Vec::new(), same_rows: 0 }
    }

    /// Whether every page taken so far was remembered unchanged: the unit holds no rows.
    fn all_remembered(&self) -> bool {
        self.page.fetched == 0 && self.fresh.is_empty() && self.unremembered.is_empty() && !self.same_pages.is_empty()
    }

    /// Adds one page's answer (see [`Reading::page`]), which becomes the unit's last page.
    fn add(&mut self, answer: Answer) {
        let Answer { page, key, same } = answer;
        let (complete, next_offset) = (page.complete, page.next_offset);
        match same {
            Some(rows) => {
                self.same_rows += rows as u64;
                self.page.server_time = self.page.server_time.or(page.server_time);
                self.same_pages.push(key);
            }
            None => {
                match page.digest {
                    Some(digest) if page.quarantined.is_empty() => self.fresh.push(PageMemo {
                        page: key,
                        digest,
                        keys: page.keys.clone(),
                        complete: page.complete,
                    }),
                    Some(_) => self.unremembered.push(key),
                    None => {}
                }
                merge(&mut self.page, page);
            }
        }
        self.page.complete = complete;
        self.page.next_offset = next_offset;
    }
}

/// One page's answer: the page, where it is, and for an unchanged remembered page, its
/// rows (its keys are in the memo).
struct Answer {
    page: enamel_pms::Page,
    key: String,
    same: Option<usize>,
}

impl Answer {
    /// Rows in the page.
    fn rows(&self) -> usize {
        self.same.unwrap_or(self.page.fetched)
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

/// The keys a complete pass saw: those of the rows it read, and those its remembered
/// pages stand for.
struct Present<'a> {
    read: &'a HashSet<SourceKey>,
    remembered: HashSet<&'a str>,
}

impl enamel_store::KeySet for Present<'_> {
    fn contains_key(&self, key: &SourceKey) -> bool {
        self.read.contains(key) || self.remembered.contains(key.as_str())
    }
}

/// Where a page is in its stream, as its memo names it: its offset, after its parent's key
/// for streams listed per parent (`"1337/0"`).
fn page_key(parent: Option<&str>, offset: usize) -> String {
    match parent {
        Some(parent) => format!("{parent}/{offset}"),
        None => offset.to_string(),
    }
}

/// Reads a stream's units from the PMS, with what is remembered of its pages.
#[derive(Clone, Copy)]
struct Reading<'a> {
    client: &'a dyn PmsClient,
    spec: &'a StreamSpec,
    parents: &'a [Option<String>],
    config: &'a SyncConfig,
    memos: &'a HashMap<String, PageMemo>,
}

impl Reading<'_> {
    fn pms_err(&self, source: PmsError) -> SyncError {
        SyncError::Pms { stream: self.spec.name.to_owned(), source }
    }

    /// One page. A remembered page whose answer is unchanged comes back with the length
    /// and end that were remembered of it (its keys stay in the memo).
    async fn page(
        &self,
        since: Option<NaiveDateTime>,
        offset: usize,
        parent: Option<String>,
    ) -> Result<Answer, SyncError> {
        let key = page_key(parent.as_deref(), offset);
        let memo = self.memos.get(&key);
        let request = PageRequest { offset, since, parent, known: memo.map(|m| m.digest) };
        let mut page = self.client.fetch(self.spec.name, request).await.map_err(|e| self.pms_err(e))?;
        let same = match (memo, page.same_as_known) {
            (Some(memo), true) => {
                page.complete = memo.complete;
                page.next_offset = offset + memo.keys.len();
                Some(memo.keys.len())
            }
            (None, true) => {
                let reason = "the client answered a page as unchanged without a known digest".to_owned();
                return Err(self.pms_err(PmsError::Protocol(reason)));
            }
            (_, false) => None,
        };
        Ok(Answer { page, key, same })
    }

    /// The next unit of work: up to `pages_per_unit` pages (and `rows_per_unit` rows) of an
    /// ordinary stream, or for streams listed per parent every page of up to
    /// `parents_per_unit` parents ([`CONCURRENCY`] requests in flight,
    /// [`REMEMBERED_CONCURRENCY`] for parents whose lists were remembered); more while every
    /// page so far was remembered unchanged. Returns the unit and how many parents it
    /// completes.
    async fn unit(&self, progress: &Progress) -> Result<(Unit, usize), SyncError> {
        use futures::StreamExt;
        let (parents, config, since) = (self.parents, self.config, progress.since);
        let mut unit = Unit::new();
        let Some(first) = parents.get(progress.parent_index) else {
            // Past the last parent (or none at all): an empty last page.
            return Ok((unit, 0));
        };
        if first.is_none() || progress.offset > 0 || self.spec.paged_parents {
            // An ordinary stream (or one parent's long list, or the rest of a parent
            // interrupted mid-way): the next page, and when it is full, up to
            // `pages_per_unit` − 1 more fetched in parallel.
            let head = self.page(since, progress.offset, first.clone()).await?;
            let (complete, rows) = (head.page.complete, head.rows());
            unit.add(head);
            if complete || rows == 0 {
                unit.page.complete = complete;
                return Ok((unit, usize::from(complete)));
            }
            let pages = (config.rows_per_unit / rows).clamp(1, config.pages_per_unit.max(1));
            // The first wave completes the head's; while every page so far was remembered
            // unchanged (they hold no rows), further waves join the unit, up to
            // `REMEMBERED_PAGES_PER_UNIT` pages: rows in flight stay those of one wave.
            let mut wave = pages - 1;
            loop {
                let start = unit.page.next_offset;
                let offsets: Vec<usize> = (0..wave).map(|i| start + i * rows).collect();
                let answers: Vec<Result<Answer, SyncError>> = futures::stream::iter(offsets)
                    .map(|offset| self.page(since, offset, first.clone()))
                    .buffered(CONCURRENCY)
                    .collect()
                    .await;
                for answer in answers {
                    let answer = answer?;
                    let complete = answer.page.complete;
                    unit.add(answer);
                    if complete {
                        break;
                    }
                }
                let taken = unit.same_pages.len() + unit.fresh.len() + unit.unremembered.len();
                if unit.page.complete || !unit.all_remembered() || taken >= REMEMBERED_PAGES_PER_UNIT {
                    break;
                }
                wave = pages.min(REMEMBERED_PAGES_PER_UNIT - taken);
            }
            let done = usize::from(unit.page.complete);
            return Ok((unit, done));
        }
        // Waves of `parents_per_unit` parents; while every answer so far was remembered
        // unchanged, further waves join the unit, up to `REMEMBERED_PARENTS_PER_UNIT`.
        let mut taken = 0;
        loop {
            let chunk: Vec<String> = parents[progress.parent_index + taken..]
                .iter()
                .take(config.parents_per_unit.max(1))
                .filter_map(Clone::clone)
                .collect();
            taken += chunk.len();
            let remembered = chunk.iter().all(|parent| self.memos.contains_key(&page_key(Some(parent), 0)));
            let at_once = if remembered { REMEMBERED_CONCURRENCY } else { CONCURRENCY };
            let answers: Vec<Result<Answer, SyncError>> = futures::stream::iter(chunk.iter().cloned())
                .map(|parent| self.page(since, 0, Some(parent)))
                .buffered(at_once)
                .collect()
                .await;
            for (parent, answer) in chunk.iter().zip(answers) {
                let mut answer = answer?;
                // A parent with more than a page of rows: the rest, in order.
                loop {
                    let (complete, next_offset) = (answer.page.complete, answer.page.next_offset);
                    unit.add(answer);
                    if complete {
                        break;
                    }
                    answer = self.page(since, next_offset, Some(parent.clone())).await?;
                }
            }
            let more = progress.parent_index + taken < parents.len()
                && taken + config.parents_per_unit.max(1) <= REMEMBERED_PARENTS_PER_UNIT;
            if chunk.is_empty() || !more || !unit.all_remembered() {
                break;
            }
        }
        unit.page.complete = true;
        Ok((unit, taken))
    }
}

/// Every stream of the PMS once, in dependency order, [`SyncConfig::streams_at_once`] at a
/// time. A stream's failure is returned with the outcomes of the streams that finished;
/// no stream starts after it (see [`in_dependency_order`]).
pub async fn sync_once(target: Target<'_>) -> Result<Vec<StreamOutcome>, (Vec<StreamOutcome>, SyncError)> {
    let specs: Vec<&StreamSpec> = target.client.streams().iter().collect();
    let at_once = streams_at_once(target.store, target.config);
    in_dependency_order(&specs, at_once, |spec| sync_stream(target, spec)).await
}

/// Streams to sync at once: [`SyncConfig::streams_at_once`], or by default two on
/// PostgreSQL (two transactions write on two cores while the sync maps the next pages:
/// 1.3× the records per second of one at a time, BENCHMARKS.md) and one on SQLite (one
/// writer per database is the bound there: a second stream only holds more rows in memory).
pub fn streams_at_once(store: &Store, config: &SyncConfig) -> usize {
    config.streams_at_once.unwrap_or(match store.backend() {
        enamel_store::Backend::Postgres => 2,
        _ => 1,
    })
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
        let never = Cursor { server_time: at(10), swept_at: None, reconciled: false };
        assert_eq!(never.since(&config), None, "no sweep yet: a full pass");
        let recent = Cursor { server_time: at(10), swept_at: at(8), reconciled: false };
        assert_eq!(recent.since(&config), at(10).map(|t| t - chrono::Duration::minutes(5)), "from the lookback");
        let due = Cursor { server_time: at(15), swept_at: at(8), reconciled: false };
        assert_eq!(due.since(&config), None, "seven hours after the last sweep");
        let forced = SyncConfig { full: true, ..config };
        assert_eq!(recent.since(&forced), None);
    }
}
