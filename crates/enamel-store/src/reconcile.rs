//! Deletion inference: rows whose keys are absent from a complete pass are soft-deleted.

use std::collections::HashSet;

use enamel_domain::{PracticeId, Source, SourceKey};
use futures::StreamExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, StreamTrait};
use uuid::Uuid;

use crate::sql::uuid_in;
use crate::table::Common;
use crate::{Result, Table};

/// Ids per `UPDATE … WHERE id IN (…)`.
const ID_CHUNK: usize = 4_000;

/// The keys a complete pass saw, as a reconciliation asks for them.
pub trait KeySet: Sync {
    /// Whether the pass saw this key.
    fn contains_key(&self, key: &SourceKey) -> bool;
}

impl KeySet for HashSet<SourceKey> {
    fn contains_key(&self, key: &SourceKey) -> bool {
        self.contains(key)
    }
}

/// What a reconciliation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoftDelete {
    /// Rows absent from the key set were marked deleted.
    Applied {
        /// How many rows were marked deleted.
        deleted: u64,
        /// Live rows before the pass.
        live_before: u64,
    },
    /// More than the allowed share of live rows would have been deleted: nothing changed.
    Refused {
        /// How many rows would have been marked deleted.
        would_delete: u64,
        /// Live rows.
        live: u64,
    },
}

/// Whether the synced table `table` holds any row (live or deleted) of the practice from
/// `source` whose key starts with `scope`.
pub(crate) async fn any_in_scope<C: ConnectionTrait>(
    db: &C,
    table: &'static str,
    practice: PracticeId,
    source: Source,
    scope: &str,
) -> Result<bool> {
    use sea_orm::{DbBackend, Statement, Value};
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT 1 AS one FROM \"{table}\" WHERE practice_id = $1 AND source = $2 \
             AND substr(source_id, 1, $3) = $4 LIMIT 1"
        ),
        _ => format!(
            "SELECT 1 AS one FROM \"{table}\" WHERE practice_id = ? AND source = ? \
             AND substr(source_id, 1, ?) = ? LIMIT 1"
        ),
    };
    let values: [Value; 4] =
        [practice.uuid().into(), source.as_ref().into(), (scope.chars().count() as i32).into(), scope.into()];
    Ok(db.query_one(Statement::from_sql_and_values(backend, sql, values)).await?.is_some())
}

/// Marks deleted every live row of `T` from `source` whose key starts with `scope` (the
/// stream's key prefix, "" for all) and is not in `present` (the complete key set of a full
/// pass). Refuses, changing nothing, when that would delete more than `max_share` (0.0–1.0)
/// of the live rows in scope.
pub(crate) async fn soft_delete_absent<T: Table, C: ConnectionTrait + StreamTrait + Send>(
    db: &C,
    practice: PracticeId,
    source: Source,
    scope: &str,
    present: &(impl KeySet + ?Sized),
    max_share: f64,
) -> Result<SoftDelete> {
    // The live keys are streamed, not loaded: a table of 200,000 appointments would hold
    // every row at once, beside the pass's own key set.
    let mut live = T::Entity::find()
        .select_only()
        .column(T::column(Common::Id))
        .column(T::column(Common::SourceId))
        .filter(T::column(Common::PracticeId).eq(practice.uuid()))
        .filter(T::column(Common::Source).eq(source.as_ref()))
        .filter(T::column(Common::DeletedAt).is_null())
        .into_tuple::<(Uuid, String)>()
        .stream(db)
        .await?;
    let (mut live_before, mut absent) = (0_u64, Vec::new());
    while let Some(row) = live.next().await {
        let (id, key) = row?;
        if !key.starts_with(scope) {
            continue;
        }
        live_before += 1;
        if SourceKey::parse(&key).map_or(true, |k| !present.contains_key(&k)) {
            absent.push(id);
        }
    }
    drop(live);
    let would_delete = absent.len() as u64;
    if would_delete == 0 {
        return Ok(SoftDelete::Applied { deleted: 0, live_before });
    }
    if would_delete as f64 > max_share.clamp(0.0, 1.0) * live_before as f64 {
        return Ok(SoftDelete::Refused { would_delete, live: live_before });
    }
    let now = crate::column::now();
    let mut deleted = 0;
    for chunk in absent.chunks(ID_CHUNK) {
        let result = T::Entity::update_many()
            .col_expr(T::column(Common::DeletedAt), Expr::value(now))
            .col_expr(T::column(Common::SyncedAt), Expr::value(now))
            .filter(T::column(Common::PracticeId).eq(practice.uuid()))
            .filter(uuid_in(
                db.get_database_backend(),
                (T::Entity::default(), T::column(Common::Id)),
                chunk.iter().copied(),
            ))
            .exec(db)
            .await?;
        deleted += result.rows_affected;
    }
    Ok(SoftDelete::Applied { deleted, live_before })
}

/// Marks deleted the live rows of `T` from `source` with these keys (deletions the PMS
/// reports itself, such as Open Dental's appointment history). Returns how many.
pub(crate) async fn soft_delete_keys<T: Table, C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    source: Source,
    keys: &[SourceKey],
) -> Result<u64> {
    let now = crate::column::now();
    let mut deleted = 0;
    for chunk in keys.chunks(ID_CHUNK) {
        deleted += T::Entity::update_many()
            .col_expr(T::column(Common::DeletedAt), Expr::value(now))
            .col_expr(T::column(Common::SyncedAt), Expr::value(now))
            .filter(T::column(Common::PracticeId).eq(practice.uuid()))
            .filter(T::column(Common::Source).eq(source.as_ref()))
            .filter(T::column(Common::DeletedAt).is_null())
            .filter(T::column(Common::SourceId).is_in(chunk.iter().map(|k| k.as_str().to_owned())))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(deleted)
}
