//! Checks that references between synced rows hold: each points at an existing row of the
//! same practice, and the practice itself exists. The schema does not declare these as
//! foreign key constraints (see the migrations' docs); this check is what proves the store
//! keeps them.

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
    let placeholder = if backend == sea_orm::DbBackend::Postgres { "$1" } else { "?" };
    let count = |sql: String| async move {
        let row = db.query_one(Statement::from_sql_and_values(backend, sql, [Value::from(practice.uuid())])).await?;
        Ok::<u64, crate::StoreError>(match row {
            Some(r) => u64::try_from(r.try_get::<i64>("", "n")?).unwrap_or(0),
            None => 0,
        })
    };
    let mut out = Vec::new();
    // Rows of a practice that is gone (synced rows and payloads declare no constraint for
    // it: see migrations 9 and 10).
    if count(format!("SELECT COUNT(*) AS n FROM practice WHERE id = {placeholder}")).await? == 0 {
        let tables = crate::tables::ALL.iter().map(|(table, _)| *table).chain(["source_record"]);
        for table in tables {
            let rows =
                count(format!("SELECT COUNT(*) AS n FROM \"{table}\" WHERE practice_id = {placeholder}")).await?;
            if rows > 0 {
                out.push(DanglingReferences { table, column: "practice_id", target: "practice", rows });
            }
        }
    }
    for (table, refs) in crate::tables::ALL {
        for (column, target) in *refs {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM \"{table}\" t WHERE t.practice_id = {placeholder} AND t.\"{column}\" IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM \"{target}\" x WHERE x.id = t.\"{column}\" AND x.practice_id = t.practice_id)"
            );
            let rows = count(sql).await?;
            if rows > 0 {
                out.push(DanglingReferences { table, column, target, rows });
            }
        }
    }
    Ok(out)
}
