//! Deferred indexes (`sync_deferred_index`): the lookup indexes of a synced table set aside
//! while a first sync fills it from empty, and created again when it is done.
//!
//! Every lookup index (`ix_…`: a reference's parent, a sort key) costs a B-tree insert per
//! row written, most of them at random places in the index; creating the index once the
//! rows are in sorts them and writes it in one go. Only the lookup indexes are deferred:
//! the primary key and the unique key (`practice_id`, `source`, `source_id`) stay, since the
//! sync's own look-ups and conflict checks go through them.
//!
//! Safety rests on three rules:
//! - An index is deferred only on a table with no row at all (of any practice): nobody
//!   loses a fast path they had. The check and the drops happen under a lock that waits for
//!   every writer of the table (PostgreSQL: `ACCESS EXCLUSIVE`; SQLite: the one writer).
//! - The definition of each dropped index, read from the database's catalog, is recorded in
//!   the transaction that drops it, and removed in the transaction that creates it again:
//!   an index is missing only while this table says how to make it.
//! - Deferring is an optimisation that may fail or be refused (a lock not granted within a
//!   few seconds); creating again is not: a pass that deferred creates the indexes when it
//!   ends, a pass finds and creates the ones its stream left when its process died, and
//!   [`crate::Store::restore_all_indexes`] creates any left at all (at start-up).

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement, Value};

use crate::{Result, StoreError};

/// A lock not granted within this long means someone is using the table: no deferral.
const LOCK_TIMEOUT: &str = "5s";

/// An index set aside, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredIndex {
    /// The index's name (`ix_appointment_practice_id_patient_id`).
    pub name: String,
    /// The table it belongs to.
    pub table: String,
    /// Who deferred it (the sync's connection and stream).
    pub by: String,
}

/// Checks that `table` is a synced table: its name goes into statements as an identifier.
pub(crate) fn synced_table(table: &str) -> Result<&'static str> {
    crate::tables::synced(table).ok_or_else(|| StoreError::Invalid(format!("{table} is not a synced table")))
}

/// The lookup indexes of `table` as the database has them now: (name, definition), by name.
pub(crate) async fn lookup_indexes<C: ConnectionTrait>(db: &C, table: &str) -> Result<Vec<(String, String)>> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT indexname AS name, indexdef AS definition FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename = $1 AND indexname LIKE 'ix\\_%' ORDER BY 1"
        }
        _ => {
            "SELECT name, sql AS definition FROM sqlite_master \
             WHERE type = 'index' AND tbl_name = ? AND name LIKE 'ix\\_%' ESCAPE '\\' ORDER BY 1"
        }
    };
    let rows = db.query_all(Statement::from_sql_and_values(backend, sql, [Value::from(table)])).await?;
    rows.iter().map(|r| Ok((r.try_get("", "name")?, r.try_get("", "definition")?))).collect()
}

/// Whether `table` holds any row at all.
pub(crate) async fn has_rows<C: ConnectionTrait>(db: &C, table: &'static str) -> Result<bool> {
    let sql = format!("SELECT 1 AS one FROM \"{table}\" LIMIT 1");
    Ok(db.query_one(Statement::from_string(db.get_database_backend(), sql)).await?.is_some())
}

/// In `txn`: drops the lookup indexes of `table` if it has no row, recording them for `by`.
/// Returns the names dropped (none when the table has rows or its indexes are already gone).
pub(crate) async fn defer(txn: &DatabaseTransaction, table: &'static str, by: &str) -> Result<Vec<String>> {
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")).await?;
        txn.execute_unprepared(&format!("LOCK TABLE \"{table}\" IN ACCESS EXCLUSIVE MODE")).await?;
    }
    // Again under the lock: a writer may have stored a row since the caller looked.
    if has_rows(txn, table).await? {
        return Ok(Vec::new());
    }
    let indexes = lookup_indexes(txn, table).await?;
    let now = crate::column::now();
    let insert = match backend {
        DbBackend::Postgres => {
            "INSERT INTO sync_deferred_index (index_name, table_name, definition, deferred_by, deferred_at) \
             VALUES ($1, $2, $3, $4, $5)"
        }
        _ => {
            "INSERT INTO sync_deferred_index (index_name, table_name, definition, deferred_by, deferred_at) \
             VALUES (?, ?, ?, ?, ?)"
        }
    };
    for (name, definition) in &indexes {
        let values: [Value; 5] =
            [name.as_str().into(), table.into(), definition.as_str().into(), by.into(), now.into()];
        txn.execute(Statement::from_sql_and_values(backend, insert, values)).await?;
        txn.execute_unprepared(&format!("DROP INDEX \"{name}\"")).await?;
    }
    Ok(indexes.into_iter().map(|(name, _)| name).collect())
}

/// The indexes recorded as deferred: all, or those of one table, or of one table by one
/// deferrer.
pub(crate) async fn recorded<C: ConnectionTrait>(
    db: &C,
    table: Option<&str>,
    by: Option<&str>,
) -> Result<Vec<(DeferredIndex, String)>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all(Statement::from_string(
            backend,
            "SELECT index_name, table_name, definition, deferred_by FROM sync_deferred_index ORDER BY index_name",
        ))
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let index = DeferredIndex {
            name: row.try_get("", "index_name")?,
            table: row.try_get("", "table_name")?,
            by: row.try_get("", "deferred_by")?,
        };
        if table.is_some_and(|t| t != index.table) || by.is_some_and(|b| b != index.by) {
            continue;
        }
        out.push((index, row.try_get("", "definition")?));
    }
    Ok(out)
}

/// In `txn`: creates the index again from its definition (unless an index of that name
/// exists: someone made it by hand) and forgets the record.
pub(crate) async fn restore(txn: &DatabaseTransaction, index: &DeferredIndex, definition: &str) -> Result<()> {
    let backend = txn.get_database_backend();
    let present = lookup_indexes(txn, &index.table).await?.into_iter().any(|(name, _)| name == index.name);
    if !present {
        txn.execute_unprepared(definition).await?;
    }
    let delete = match backend {
        DbBackend::Postgres => "DELETE FROM sync_deferred_index WHERE index_name = $1",
        _ => "DELETE FROM sync_deferred_index WHERE index_name = ?",
    };
    txn.execute(Statement::from_sql_and_values(backend, delete, [Value::from(index.name.as_str())])).await?;
    Ok(())
}
