//! Deferred indexes: the secondary indexes of a synced table dropped while a first sync
//! loads it, with the statement that creates each again. A table filled from empty by one
//! pass is loaded faster without its lookup indexes (each one a B-tree insert per row, most
//! of them at random places) and indexed once at the end, from sorted data. The record is
//! written in the transaction that drops the indexes and removed in the one that creates
//! them again, so an index can be missing only while this table names it: whoever finds a
//! record left by a process that died creates the index from it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000011_deferred_index"
    }
}

#[derive(DeriveIden)]
enum SyncDeferredIndex {
    Table,
    IndexName,
    TableName,
    Definition,
    DeferredBy,
    DeferredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncDeferredIndex::Table)
                    .col(ColumnDef::new(SyncDeferredIndex::IndexName).text().not_null().primary_key())
                    .col(ColumnDef::new(SyncDeferredIndex::TableName).text().not_null())
                    .col(ColumnDef::new(SyncDeferredIndex::Definition).text().not_null())
                    .col(ColumnDef::new(SyncDeferredIndex::DeferredBy).text().not_null())
                    .col(ColumnDef::new(SyncDeferredIndex::DeferredAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    /// Creates every index still deferred before the record of them goes.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let rows = db
            .query_all(Statement::from_string(
                backend,
                "SELECT definition FROM sync_deferred_index ORDER BY index_name",
            ))
            .await?;
        for row in rows {
            let definition: String = row.try_get("", "definition")?;
            // As the catalog gave it (`CREATE INDEX name ON …`), unless one of that name exists.
            let definition = match definition.strip_prefix("CREATE INDEX ") {
                Some(rest) => format!("CREATE INDEX IF NOT EXISTS {rest}"),
                None => definition,
            };
            db.execute_unprepared(&definition).await?;
        }
        manager.drop_table(Table::drop().table(SyncDeferredIndex::Table).to_owned()).await
    }
}
