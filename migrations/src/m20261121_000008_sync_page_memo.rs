//! Page memos: for each (connection, stream, page) whose rows all landed, the digest of the
//! PMS's answer and the keys it held. A later pass that gets the same answer for that page
//! takes its keys from here instead of parsing and comparing its rows again. Written in the
//! same transaction as the page's rows, so a memo never outlives what it vouches for.

use sea_orm_migration::prelude::*;

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000008_sync_page_memo"
    }
}

#[derive(DeriveIden)]
enum SyncPageMemo {
    Table,
    ConnectionId,
    Stream,
    Page,
    PracticeId,
    Digest,
    Keys,
    Complete,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SyncPageMemo::Table)
                    .col(ColumnDef::new(SyncPageMemo::ConnectionId).uuid().not_null())
                    .col(ColumnDef::new(SyncPageMemo::Stream).text().not_null())
                    .col(ColumnDef::new(SyncPageMemo::Page).text().not_null())
                    .col(ColumnDef::new(SyncPageMemo::PracticeId).uuid().not_null())
                    .col(ColumnDef::new(SyncPageMemo::Digest).text().not_null())
                    .col(ColumnDef::new(SyncPageMemo::Keys).text().not_null())
                    .col(ColumnDef::new(SyncPageMemo::Complete).boolean().not_null())
                    .primary_key(
                        Index::create()
                            .col(SyncPageMemo::ConnectionId)
                            .col(SyncPageMemo::Stream)
                            .col(SyncPageMemo::Page),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sync_page_memo_connection_id")
                            .from(SyncPageMemo::Table, SyncPageMemo::ConnectionId)
                            .to(Alias::new("pms_connection"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SyncPageMemo::Table).to_owned()).await
    }
}
