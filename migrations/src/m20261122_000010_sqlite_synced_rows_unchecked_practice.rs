//! Synced rows and raw payloads without a practice foreign key on SQLite too.
//!
//! Migration 9 dropped the constraint on PostgreSQL. On SQLite its cost is not the probe
//! of the practice's key but what the constraint makes SQLite do around every multi-row
//! insert: an immediate foreign key means the statement may have to abort half-way, so
//! SQLite keeps a statement journal, a copy of every page the statement changes, to undo
//! it. In a TDental full sync that journal and the checks took about a third of the
//! writer's time spent running inserts (measured per stream, BENCHMARKS.md). Without
//! the constraint, and with the store's inserts saying `INSERT OR FAIL` (a failing statement
//! stops where it is, and the store then rolls its whole transaction back), no statement
//! journal is kept.
//!
//! SQLite cannot drop a constraint in place: each table is rebuilt from its own definition
//! without the clause (renamed aside, created again, copied, the old one dropped, its
//! indexes created again), one transaction per table. That copies every synced row once.
//! As on PostgreSQL, `Store::check_references` counts rows whose practice is gone.
//!
//! Going down rebuilds the tables with the constraint; it fails while rows of a practice
//! that is gone remain.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

use crate::m20261121_000001_canonical_model::synced_table_names;

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000010_sqlite_synced_rows_unchecked_practice"
    }
}

/// The constraint as migration 1 wrote it into each table's definition.
const CLAUSE: &str = ", FOREIGN KEY (\"practice_id\") REFERENCES \"practice\" (\"id\") ON DELETE CASCADE";

/// How a definition ends.
const END: &str = " )";

/// The tables rebuilt: as in migration 9.
fn tables() -> impl Iterator<Item = &'static str> {
    synced_table_names().chain(["source_record"])
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        for table in tables() {
            rebuild(manager, table, |sql| (sql.matches(CLAUSE).count() == 1).then(|| sql.replacen(CLAUSE, "", 1)))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        for table in tables() {
            rebuild(manager, table, |sql| {
                let at = sql.rfind(END).filter(|at| !sql.contains(CLAUSE) && at + END.len() == sql.len())?;
                Some(format!("{}{CLAUSE}{END}", &sql[..at]))
            })
            .await?;
        }
        Ok(())
    }
}

/// Rebuilds `table` with the definition `change` makes of its current one (`None`: not the
/// definition expected), keeping its rows and indexes, in one transaction.
async fn rebuild(
    manager: &SchemaManager<'_>,
    table: &str,
    change: impl Fn(&str) -> Option<String>,
) -> Result<(), DbErr> {
    let tx = manager.get_connection().begin().await?;
    let definitions = |kind: &str| {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
            [kind.into(), table.into()],
        )
    };
    let sql_of = |row: &sea_orm_migration::sea_orm::QueryResult| row.try_get::<String>("", "sql");
    let current = match tx.query_one(definitions("table")).await? {
        Some(row) => sql_of(&row)?,
        None => return Err(DbErr::Migration(format!("table {table} does not exist"))),
    };
    let indexes = tx.query_all(definitions("index")).await?.iter().map(sql_of).collect::<Result<Vec<_>, _>>()?;
    let Some(wanted) = change(&current) else {
        return Err(DbErr::Migration(format!("table {table} is not defined as expected: {current}")));
    };
    let aside = format!("{table}__before_rebuild");
    // Renamed aside first, so that the table is created again under its own name and its
    // stored definition is exactly `wanted`.
    tx.execute_unprepared(&format!("ALTER TABLE \"{table}\" RENAME TO \"{aside}\"")).await?;
    tx.execute_unprepared(&wanted).await?;
    tx.execute_unprepared(&format!("INSERT INTO \"{table}\" SELECT * FROM \"{aside}\"")).await?;
    tx.execute_unprepared(&format!("DROP TABLE \"{aside}\"")).await?;
    for index in &indexes {
        tx.execute_unprepared(index).await?;
    }
    tx.commit().await
}
