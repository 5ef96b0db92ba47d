//! Quarantined source rows: a row a PMS sent that could not be mapped or stored, with the
//! reason, kept for review instead of being silently dropped. One row per (connection,
//! stream, source key); a later successful sync of the key resolves it.

use sea_orm_migration::prelude::*;

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000002_sync_quarantine"
    }
}

#[derive(DeriveIden)]
enum SyncQuarantine {
    Table,
    Id,
    PracticeId,
    ConnectionId,
    Stream,
    SourceId,
    Reason,
    Payload,
    FirstSeenAt,
    LastSeenAt,
    ResolvedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncQuarantine::Table)
                    .col(ColumnDef::new(SyncQuarantine::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(SyncQuarantine::PracticeId).uuid().not_null())
                    .col(ColumnDef::new(SyncQuarantine::ConnectionId).uuid().not_null())
                    .col(ColumnDef::new(SyncQuarantine::Stream).text().not_null())
                    .col(ColumnDef::new(SyncQuarantine::SourceId).text().not_null())
                    .col(ColumnDef::new(SyncQuarantine::Reason).text().not_null())
                    .col(ColumnDef::new(SyncQuarantine::Payload).text().not_null())
                    .col(ColumnDef::new(SyncQuarantine::FirstSeenAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(SyncQuarantine::LastSeenAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(SyncQuarantine::ResolvedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sync_quarantine_practice_id")
                            .from(SyncQuarantine::Table, SyncQuarantine::PracticeId)
                            .to(Alias::new("practice"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sync_quarantine_connection_id")
                            .from(SyncQuarantine::Table, SyncQuarantine::ConnectionId)
                            .to(Alias::new("pms_connection"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_sync_quarantine_connection_id_stream_source_id")
                    .table(SyncQuarantine::Table)
                    .col(SyncQuarantine::ConnectionId)
                    .col(SyncQuarantine::Stream)
                    .col(SyncQuarantine::SourceId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sync_quarantine_practice_id")
                    .table(SyncQuarantine::Table)
                    .col(SyncQuarantine::PracticeId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SyncQuarantine::Table).to_owned()).await
    }
}
