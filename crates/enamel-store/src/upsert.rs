//! Batched, idempotent upserts keyed on (`practice_id`, `source`, `source_id`).
//!
//! One call reads the stored content hashes of the batch in one statement per chunk,
//! skips rows whose hash is unchanged, resolves references given as PMS keys in one
//! statement per target table, and writes new and changed rows with multi-row
//! `INSERT … ON CONFLICT DO UPDATE`. A row that reappears after a soft delete is revived.

use std::collections::HashMap;

use enamel_domain::{PracticeId, Source, SourceKey, SyncRow};
use sea_orm::{ConnectionTrait, DbBackend, IdenStatic, Iterable};
use serde::Serialize;
use uuid::Uuid;

use crate::key_ids::{KeyIds, Learnt, Scope};
use crate::sql::{OnConflictUpdate, Statements, insert_statements, rows_by_keys};
use crate::table::sealed::{TableDef, UpsertDef};
use crate::table::{Common, RefKeys, Resolved, RowHead, Unresolved};
use crate::{Result, StoreError, raw};

/// Keys per `IN (…)` list: well under SQLite's and PostgreSQL's parameter limits.
const KEY_CHUNK: usize = 4_000;

/// What one upsert did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertReport {
    /// Rows that were not in the store.
    pub inserted: u64,
    /// Rows whose content changed (or that came back after a soft delete).
    pub updated: u64,
    /// Rows whose content hash was unchanged: not written.
    pub unchanged: u64,
    /// Rows not written, with why. The rest of the batch is written.
    pub rejected: Vec<Rejected>,
}

impl UpsertReport {
    /// Adds another report's counts to this one.
    pub fn absorb(&mut self, other: UpsertReport) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected.extend(other.rejected);
    }
}

/// A row the store refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The row's PMS key.
    pub source_id: SourceKey,
    /// Why.
    pub reason: Unresolved,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "row {} refers through {} to {} {} which is not in the store",
            self.source_id, self.reason.column, self.reason.target, self.reason.key
        )
    }
}

/// The content hash of a record's mapped fields (xxh3 of its JSON form).
pub fn content_hash<T: Serialize>(data: &T) -> Result<i64> {
    let bytes = serde_json::to_vec(data).map_err(|e| StoreError::Invalid(format!("record does not serialize: {e}")))?;
    Ok(xxhash_rust::xxh3::xxh3_64(&bytes) as i64)
}

/// Tells keys certainly not stored (their rows are not looked for) from the others.
pub type Absent<'a> = dyn Fn(&SourceKey) -> bool + Sync + 'a;

/// No key is known to be absent.
pub(crate) fn none_absent(_: &SourceKey) -> bool {
    false
}

struct Existing {
    id: Uuid,
    hash: i64,
    deleted: bool,
}

/// Ids the store already knows, and where a preparation notes what it learns.
struct KnownIds<'a> {
    shared: &'a KeyIds,
    learnt: &'a Learnt,
}

/// A batch decided and made ready to write: which rows are new, changed or unchanged, their
/// references resolved, their rows and payloads built. Preparing only reads, so it may run
/// outside the transaction that writes ([`crate::Store::prepare_upsert`]) while another
/// transaction writes, when nothing that transaction writes can change what was read (see
/// [`crate::tables::refers_to`]); the writing ([`crate::Tx::write_prepared`]) is then all that
/// remains inside it.
pub struct Prepared {
    table: &'static str,
    scope: Option<Scope>,
    report: UpsertReport,
    /// Ids read while preparing, shared when the writing transaction commits.
    learnt: Learnt,
    /// Ids given to new rows: learnt once their statements have run.
    inserted: Vec<(SourceKey, Uuid)>,
    statements: Statements<'static>,
}

impl Prepared {
    /// A batch with nothing to write.
    fn nothing(table: &'static str, scope: Option<Scope>, report: UpsertReport, learnt: Learnt) -> Prepared {
        Prepared { table, scope, report, learnt, inserted: Vec::new(), statements: Box::new(std::iter::empty()) }
    }
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("table", &self.table).field("report", &self.report).finish_non_exhaustive()
    }
}

/// Reads what a batch needs (stored hashes, referenced ids) through `db` and builds what to
/// write. `shared` is the store's memory of ids.
pub(crate) async fn prepare<R, C>(
    db: &C,
    shared: &KeyIds,
    practice: PracticeId,
    source: Source,
    rows: &[SyncRow<R>],
    absent: &Absent<'_>,
) -> Result<Prepared>
where
    R: UpsertDef,
    C: ConnectionTrait,
{
    let table = <R::Id as TableDef>::TABLE;
    let learnt = Learnt::default();
    let known = KnownIds { shared, learnt: &learnt };
    let mut report = UpsertReport::default();
    let backend = db.get_database_backend();
    let rows = last_of_each_key(rows);
    if rows.is_empty() {
        return Ok(Prepared::nothing(table, None, report, learnt));
    }
    let scope = Scope { practice, source, table };
    // The rows' hashes are computed here while the database looks up the stored ones.
    let (existing, hashes) = futures::future::join(existing::<R::Id, C>(db, practice, source, &rows, absent), async {
        rows.iter().map(|row| content_hash(&row.data)).collect::<Result<Vec<i64>>>()
    })
    .await;
    let (existing, hashes) = (existing?, hashes?);
    known.learnt.note(scope, existing.iter().map(|(key, e)| (key.as_str(), e.id)));

    // Decide what to write.
    let mut to_write = Vec::with_capacity(rows.len());
    for (row, hash) in rows.iter().copied().zip(hashes) {
        match existing.get(row.source_id.as_str()) {
            Some(e) if e.hash == hash && !e.deleted => report.unchanged += 1,
            Some(e) => to_write.push((row, hash, e.id, false)),
            None => to_write.push((row, hash, Uuid::now_v7(), true)),
        }
    }
    if to_write.is_empty() {
        return Ok(Prepared::nothing(table, Some(scope), report, learnt));
    }

    // Resolve references.
    let mut keys = RefKeys::default();
    for (row, ..) in to_write.iter() {
        row.data.collect_refs(&mut keys);
    }
    let resolved = resolve(db, &known, practice, source, &keys).await?;

    let synced_at = crate::column::now();
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    // A new row's payload is new too: a plain insert, no conflict to look for.
    let (mut new_raws, mut changed_raws) = (Vec::new(), Vec::new());
    let mut inserted = Vec::new();
    for (row, hash, id, is_new) in to_write {
        let head = RowHead {
            id,
            practice_id: practice.uuid(),
            source: source.as_ref().to_owned(),
            source_id: row.source_id.as_str().to_owned(),
            source_updated_at: row.source_updated_at,
            content_hash: hash,
            synced_at,
        };
        match row.data.to_active(head, &resolved) {
            Ok(active) => {
                if is_new {
                    inserts.push(active);
                    report.inserted += 1;
                    inserted.push((row.source_id.clone(), id));
                } else {
                    updates.push(active);
                    report.updated += 1;
                }
                if let Some(payload) = &row.raw {
                    if is_new { &mut new_raws } else { &mut changed_raws }.push((id, payload.as_str().to_owned()));
                }
            }
            Err(reason) => report.rejected.push(Rejected { source_id: row.source_id.clone(), reason }),
        }
    }
    // One pipeline: each statement is built while the one before runs.
    let statements = write_statements::<R::Id>(backend, inserts, false)?
        .chain(write_statements::<R::Id>(backend, updates, true)?)
        .chain(raw::save_statements(backend, practice, table, new_raws, synced_at, false)?)
        .chain(raw::save_statements(backend, practice, table, changed_raws, synced_at, true)?);
    Ok(Prepared { table, scope: Some(scope), report, learnt, inserted, statements: Box::new(statements) })
}

/// Writes a prepared batch in `db` (a transaction); what it learnt goes to `learnt`.
pub(crate) async fn write_prepared<F, Fut>(learnt: &Learnt, prepared: Prepared, run: F) -> Result<UpsertReport>
where
    F: FnOnce(Statements<'static>) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let Prepared { scope, report, learnt: read, inserted, statements, .. } = prepared;
    run(statements).await?;
    learnt.absorb(read);
    if let Some(scope) = scope {
        learnt.note(scope, inserted.iter().map(|(key, id)| (key.as_str(), *id)));
    }
    Ok(report)
}

/// Keeps the last row of each key, in first-seen order (a page may repeat a row).
fn last_of_each_key<R>(rows: &[SyncRow<R>]) -> Vec<&SyncRow<R>> {
    let mut slot: HashMap<&SourceKey, usize> = HashMap::with_capacity(rows.len());
    let mut out: Vec<&SyncRow<R>> = Vec::with_capacity(rows.len());
    for row in rows {
        match slot.get(&row.source_id) {
            Some(&i) => out[i] = row,
            None => {
                slot.insert(&row.source_id, out.len());
                out.push(row);
            }
        }
    }
    out
}

async fn existing<T: TableDef, C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    source: Source,
    rows: &[&SyncRow<impl Sized>],
    absent: &Absent<'_>,
) -> Result<HashMap<String, Existing>> {
    let mut out = HashMap::with_capacity(rows.len());
    let keys: Vec<&str> = rows.iter().filter(|r| !absent(&r.source_id)).map(|r| r.source_id.as_str()).collect();
    for chunk in keys.chunks(KEY_CHUNK) {
        let found = rows_by_keys(
            db,
            T::TABLE,
            &["id", "source_id", "content_hash", "deleted_at"],
            practice.uuid(),
            source.as_ref(),
            chunk,
        )
        .await?;
        for row in found {
            let deleted_at: Option<chrono::DateTime<chrono::Utc>> = row.try_get("", "deleted_at")?;
            out.insert(
                row.try_get("", "source_id")?,
                Existing {
                    id: row.try_get("", "id")?,
                    hash: row.try_get("", "content_hash")?,
                    deleted: deleted_at.is_some(),
                },
            );
        }
    }
    Ok(out)
}

/// Looks up the internal ids of referenced PMS keys, always within the practice and source:
/// those the store already knows without a statement, the rest in one statement per target
/// table (and per few thousand keys).
async fn resolve<C: ConnectionTrait>(
    db: &C,
    known: &KnownIds<'_>,
    practice: PracticeId,
    source: Source,
    keys: &RefKeys<'_>,
) -> Result<Resolved> {
    let mut resolved = Resolved::default();
    for (table, wanted) in &keys.by_table {
        let scope = Scope { practice, source, table };
        let found = resolved.by_table.entry(table).or_default();
        let missing = known.shared.lookup(scope, wanted.iter().copied(), found);
        let missing: Vec<&str> = missing.iter().map(|k| k.as_str()).collect();
        let mut learnt = Vec::new();
        for chunk in missing.chunks(KEY_CHUNK) {
            for row in rows_by_keys(db, table, &["source_id", "id"], practice.uuid(), source.as_ref(), chunk).await? {
                let key: String = row.try_get("", "source_id")?;
                let id: Uuid = row.try_get("", "id")?;
                let key = SourceKey::parse(&key).map_err(|e| StoreError::Corrupt {
                    table,
                    column: "source_id",
                    row: id,
                    reason: e.to_string(),
                })?;
                learnt.push((key.clone(), id));
                found.insert(key, id);
            }
        }
        known.learnt.note(scope, learnt.iter().map(|(key, id)| (key.as_str(), *id)));
    }
    Ok(resolved)
}

/// The statements writing rows in multi-row statements. New rows (absent from the lookup a
/// moment ago, in this transaction) are plain inserts; a concurrent writer of the same keys
/// makes the transaction fail on the unique key rather than write twice. Changed rows are
/// `INSERT … ON CONFLICT DO UPDATE` of every column but the id and key.
fn write_statements<'a, T: TableDef>(
    backend: DbBackend,
    actives: Vec<T::Active>,
    existing: bool,
) -> Result<Statements<'a>> {
    let conflict = existing.then(|| {
        let key: Vec<T::Column> = [Common::PracticeId, Common::Source, Common::SourceId].map(T::column).into();
        let id = T::column(Common::Id);
        let fixed: Vec<&str> = key.iter().chain([&id]).map(|c| c.as_str()).collect();
        let update = T::Column::iter().filter(|c| !fixed.contains(&c.as_str())).collect();
        OnConflictUpdate { key, update }
    });
    Ok(insert_statements::<T::Entity>(backend, actives, conflict)?)
}
