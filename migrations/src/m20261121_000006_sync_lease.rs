//! Sync leases and schedules: one row per (connection, stream) naming the replica that
//! holds the stream (until `expires_at`), when it is next due, and how its last passes went.
//! Replicas of `enamel serve` over one database take a stream only by a conditional update
//! of this row, so exactly one syncs it at a time.

use sea_orm_migration::prelude::*;

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000006_sync_lease"
    }
}

#[derive(DeriveIden)]
enum SyncLease {
    Table,
    ConnectionId,
    Stream,
    PracticeId,
    Holder,
    Token,
    ExpiresAt,
    NextDueAt,
    LastSuccessAt,
    Failures,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncLease::Table)
                    .col(ColumnDef::new(SyncLease::ConnectionId).uuid().not_null())
                    .col(ColumnDef::new(SyncLease::Stream).text().not_null())
                    .col(ColumnDef::new(SyncLease::PracticeId).uuid().not_null())
                    .col(ColumnDef::new(SyncLease::Holder).text())
                    .col(ColumnDef::new(SyncLease::Token).uuid())
                    .col(ColumnDef::new(SyncLease::ExpiresAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(SyncLease::NextDueAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(SyncLease::LastSuccessAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(SyncLease::Failures).integer().not_null().default(0))
                    .col(ColumnDef::new(SyncLease::LastError).text())
                    .primary_key(Index::create().col(SyncLease::ConnectionId).col(SyncLease::Stream))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sync_lease_connection_id")
                            .from(SyncLease::Table, SyncLease::ConnectionId)
                            .to(Alias::new("pms_connection"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SyncLease::Table).to_owned()).await
    }
}
