//! Enamel's schema migrations, applied in order by [`Migrator`].
//!
//! Migrations are frozen in time: they never import the store's entities, so editing an
//! entity can never change what an old migration does. Every migration is reversible, and
//! the store's tests run up → down → up on SQLite and PostgreSQL and compare schemas.
//! This crate and `enamel-store` are the only ones that know `sea-orm`.

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

mod m20261121_000001_canonical_model;
mod m20261121_000002_sync_quarantine;
mod m20261121_000003_api_key;
mod m20261121_000004_write_back;
mod m20261121_000005_phi_access;
mod m20261121_000006_sync_lease;
mod m20261121_000007_raw_payload_compression;
mod m20261121_000008_sync_page_memo;
mod m20261122_000009_synced_rows_unchecked_practice;
mod m20261122_000010_sqlite_synced_rows_unchecked_practice;
mod m20261207_000011_deferred_index;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_canonical_model::Migration),
            Box::new(m20261121_000002_sync_quarantine::Migration),
            Box::new(m20261121_000003_api_key::Migration),
            Box::new(m20261121_000004_write_back::Migration),
            Box::new(m20261121_000005_phi_access::Migration),
            Box::new(m20261121_000006_sync_lease::Migration),
            Box::new(m20261121_000007_raw_payload_compression::Migration),
            Box::new(m20261121_000008_sync_page_memo::Migration),
            Box::new(m20261122_000009_synced_rows_unchecked_practice::Migration),
            Box::new(m20261122_000010_sqlite_synced_rows_unchecked_practice::Migration),
            Box::new(m20261207_000011_deferred_index::Migration),
        ]
    }
}
