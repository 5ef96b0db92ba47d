//! Synced rows and raw payloads without a per-row practice check.
//!
//! On PostgreSQL a foreign key is a trigger that runs a query per inserted row
//! (`SELECT 1 FROM practice WHERE id = $1 FOR KEY SHARE`), and every such query locks the
//! practice's one row: a full sync inserts two rows per record (the row and its raw
//! payload), so the two checks took ~15 % of the database's time in a TDental full sync,
//! and transactions writing at once share that lock through multixacts. The practice of
//! a synced row is the practice of the sync that writes it, which exists (the connection
//! it syncs through still holds its own cascading foreign key), and `Store::check_references`
//! counts rows whose practice is gone, as it counts dangling references.
//!
//! SQLite kept the constraints here (dropping one there means rebuilding the table);
//! migration 10 drops them there too.
//!
//! On both backends the index (`practice_id`, `entity`) of `source_record` goes: nothing
//! reads payloads by entity (a payload is read by its row's id), and each index is one more
//! B-tree insert per synced row.
//!
//! Going down restores the constraints; it fails while rows of a practice
//! that is gone remain (`Store::check_references` lists them).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m20261121_000001_canonical_model::synced_table_names;

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000009_synced_rows_unchecked_practice"
    }
}

/// The tables whose practice foreign key goes on PostgreSQL.
fn tables() -> impl Iterator<Item = &'static str> {
    synced_table_names().chain(["source_record"])
}

const PAYLOAD_INDEX: &str = "ix_source_record_practice_id_entity";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(PAYLOAD_INDEX).table(Alias::new("source_record")).to_owned()).await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in tables() {
            db.execute_unprepared(&format!("ALTER TABLE \"{table}\" DROP CONSTRAINT \"fk_{table}_practice_id\""))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            for table in tables() {
                db.execute_unprepared(&format!(
                    "ALTER TABLE \"{table}\" ADD CONSTRAINT \"fk_{table}_practice_id\" FOREIGN KEY (\"practice_id\") \
                     REFERENCES \"practice\" (\"id\") ON DELETE CASCADE"
                ))
                .await?;
            }
        }
        manager
            .create_index(
                Index::create()
                    .name(PAYLOAD_INDEX)
                    .table(Alias::new("source_record"))
                    .col(Alias::new("practice_id"))
                    .col(Alias::new("entity"))
                    .to_owned(),
            )
            .await
    }
}
