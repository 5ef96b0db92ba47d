//! PHI access events: one row per API response that returned patient data — who (the
//! credential and its label), which practice, which operation, which patients, when —
//! written in the same request as the response (a response whose event cannot be written
//! is an error, not data).

use sea_orm_migration::prelude::*;

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000005_phi_access"
    }
}

#[derive(DeriveIden)]
enum PhiAccess {
    Table,
    Id,
    PracticeId,
    At,
    Credential,
    Subject,
    Operation,
    PatientIds,
    PatientCount,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PhiAccess::Table)
                    .col(ColumnDef::new(PhiAccess::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(PhiAccess::PracticeId).uuid().not_null())
                    .col(ColumnDef::new(PhiAccess::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(PhiAccess::Credential).text().not_null())
                    .col(ColumnDef::new(PhiAccess::Subject).text().not_null())
                    .col(ColumnDef::new(PhiAccess::Operation).text().not_null())
                    .col(ColumnDef::new(PhiAccess::PatientIds).text().not_null())
                    .col(ColumnDef::new(PhiAccess::PatientCount).integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_phi_access_practice_id")
                            .from(PhiAccess::Table, PhiAccess::PracticeId)
                            .to(Alias::new("practice"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_phi_access_practice_at")
                    .table(PhiAccess::Table)
                    .col(PhiAccess::PracticeId)
                    .col(PhiAccess::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PhiAccess::Table).to_owned()).await
    }
}
