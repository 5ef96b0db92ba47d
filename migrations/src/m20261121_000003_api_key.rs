//! API keys: callers' credentials, bound to one practice, stored as a SHA-256 hash of the
//! secret (the token is shown once, when created).

use sea_orm_migration::prelude::*;

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000003_api_key"
    }
}

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    PracticeId,
    Name,
    Prefix,
    SecretHash,
    Scopes,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKey::Table)
                    .col(ColumnDef::new(ApiKey::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ApiKey::PracticeId).uuid().not_null())
                    .col(ColumnDef::new(ApiKey::Name).text().not_null())
                    .col(ColumnDef::new(ApiKey::Prefix).text().not_null())
                    .col(ColumnDef::new(ApiKey::SecretHash).text().not_null())
                    .col(ColumnDef::new(ApiKey::Scopes).text().not_null())
                    .col(ColumnDef::new(ApiKey::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(ApiKey::ExpiresAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(ApiKey::RevokedAt).timestamp_with_time_zone().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_key_practice_id")
                            .from(ApiKey::Table, ApiKey::PracticeId)
                            .to(Alias::new("practice"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ux_api_key_prefix").table(ApiKey::Table).col(ApiKey::Prefix).unique().to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("ix_api_key_practice_id").table(ApiKey::Table).col(ApiKey::PracticeId).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ApiKey::Table).to_owned()).await
    }
}
