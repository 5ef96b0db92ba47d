//! Checks that references between synced rows hold: each points at an existing row of the
//! same practice. The schema does not declare these as foreign key constraints (see the
//! migration's docs); this check is what proves the store keeps them.

use enamel_domain::PracticeId;
use sea_orm::{ConnectionTrait, Statement, Value};

use crate::Result;

/// References of one column that do not resolve to a row of the same practice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DanglingReferences {
    /// The referencing table.
    pub table: &'static str,
    /// The referencing column.
    pub column: &'static str,
    /// The table referred to.
    pub target: &'static str,
    /// How many rows dangle.
    pub rows: u64,
}

pub(crate) async fn check<C: ConnectionTrait>(db: &C, practice: PracticeId) -> Result<Vec<DanglingReferences>> {
    let backend = db.get_database_backend();
    let mut out = Vec::new();
    for (table, refs) in crate::tables::ALL {
        for (column, target) in *refs {
            let placeholder = if backend == sea_orm::DbBackend::Postgres { "$1" } else { "?" };
            let sql = format!(
                "SELECT COUNT(*) AS n FROM \"{table}\" t WHERE t.practice_id = {placeholder} AND t.\"{column}\" IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM \"{target}\" x WHERE x.id = t.\"{column}\" AND x.practice_id = t.practice_id)"
            );
            let row =
                db.query_one(Statement::from_sql_and_values(backend, sql, [Value::from(practice.uuid())])).await?;
            let n: i64 = match row {
                Some(r) => r.try_get("", "n")?,
                None => 0,
            };
            if n > 0 {
                out.push(DanglingReferences { table, column, target, rows: u64::try_from(n).unwrap_or(0) });
            }
        }
    }
    Ok(out)
}
