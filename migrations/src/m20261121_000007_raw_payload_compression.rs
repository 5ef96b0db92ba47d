//! Raw payloads compressed on PostgreSQL. A synced row's raw payload is about 1 KB of JSON,
//! under the 2 KB at which PostgreSQL compresses a row by default, so every payload was
//! written (heap and WAL) whole. Rows of `source_record` over 128 bytes are now compressed
//! inline with LZ4. SQLite has no column compression: nothing changes there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000007_raw_payload_compression"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE source_record ALTER COLUMN payload SET COMPRESSION lz4").await?;
        db.execute_unprepared("ALTER TABLE source_record SET (toast_tuple_target = 128)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE source_record ALTER COLUMN payload SET COMPRESSION default").await?;
        db.execute_unprepared("ALTER TABLE source_record RESET (toast_tuple_target)").await?;
        Ok(())
    }
}
