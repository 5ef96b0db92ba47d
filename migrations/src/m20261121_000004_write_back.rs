//! Write-backs (changes proposed to the PMS, behind human approval) and their audit trail.
//!
//! - `write_back`: one row per proposal; its state moves only through conditional updates
//!   (`… WHERE state = <expected>`), so two executors can never both claim it. The
//!   idempotency key is unique per (practice, proposer).
//! - `write_back_audit`: one append-only row per transition, hash-chained per practice
//!   (`prev_hash` → `hash`); triggers refuse UPDATE and DELETE on both backends.
//! - `write_back_audit_head`: the last position and hash of each practice's chain, locked
//!   (`SELECT … FOR UPDATE` on PostgreSQL) while a transition appends to the chain.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000004_write_back"
    }
}

#[derive(DeriveIden)]
enum WriteBack {
    Table,
    Id,
    PracticeId,
    Source,
    Kind,
    State,
    Proposal,
    PmsWrite,
    BaseVersion,
    PatientId,
    Reason,
    IdempotencyKey,
    RequestHash,
    ProposedBy,
    ProposedByName,
    DecidedBy,
    DecidedByName,
    DecisionNote,
    Deadline,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    ResultKey,
    AppliedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WriteBackAudit {
    Table,
    PracticeId,
    Seq,
    WriteBackId,
    At,
    Actor,
    FromState,
    ToState,
    Detail,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum WriteBackAuditHead {
    Table,
    PracticeId,
    Seq,
    Hash,
}

const PG_TRIGGER: &str = "\
CREATE FUNCTION write_back_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
BEGIN RAISE EXCEPTION 'write_back_audit is append-only'; END $$; \
CREATE TRIGGER write_back_audit_no_update BEFORE UPDATE OR DELETE ON write_back_audit \
FOR EACH ROW EXECUTE FUNCTION write_back_audit_append_only();";

const SQLITE_TRIGGERS: [&str; 2] = [
    "CREATE TRIGGER write_back_audit_no_update BEFORE UPDATE ON write_back_audit \
     BEGIN SELECT RAISE(ABORT, 'write_back_audit is append-only'); END",
    "CREATE TRIGGER write_back_audit_no_delete BEFORE DELETE ON write_back_audit \
     BEGIN SELECT RAISE(ABORT, 'write_back_audit is append-only'); END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let ts = |c: WriteBack| ColumnDef::new(c).timestamp_with_time_zone().not_null().to_owned();
        let ts_null = |c: WriteBack| ColumnDef::new(c).timestamp_with_time_zone().null().to_owned();
        let text = |c: WriteBack| ColumnDef::new(c).text().not_null().to_owned();
        let text_null = |c: WriteBack| ColumnDef::new(c).text().null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(WriteBack::Table)
                    .col(ColumnDef::new(WriteBack::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(WriteBack::PracticeId).uuid().not_null())
                    .col(text(WriteBack::Source))
                    .col(text(WriteBack::Kind))
                    .col(text(WriteBack::State))
                    .col(text(WriteBack::Proposal))
                    .col(text(WriteBack::PmsWrite))
                    .col(text_null(WriteBack::BaseVersion))
                    .col(ColumnDef::new(WriteBack::PatientId).uuid().null())
                    .col(text(WriteBack::Reason))
                    .col(text(WriteBack::IdempotencyKey))
                    .col(text(WriteBack::RequestHash))
                    .col(text(WriteBack::ProposedBy))
                    .col(text(WriteBack::ProposedByName))
                    .col(text_null(WriteBack::DecidedBy))
                    .col(text_null(WriteBack::DecidedByName))
                    .col(text_null(WriteBack::DecisionNote))
                    .col(ts(WriteBack::Deadline))
                    .col(ColumnDef::new(WriteBack::Attempts).integer().not_null())
                    .col(ts(WriteBack::NextAttemptAt))
                    .col(text_null(WriteBack::LeaseOwner))
                    .col(ts_null(WriteBack::LeaseUntil))
                    .col(text_null(WriteBack::LastError))
                    .col(text_null(WriteBack::ResultKey))
                    .col(ts_null(WriteBack::AppliedAt))
                    .col(ts(WriteBack::CreatedAt))
                    .col(ts(WriteBack::UpdatedAt))
                    .check(Expr::cust("decided_by IS NULL OR state = 'CANCELLED' OR decided_by <> proposed_by"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_write_back_practice_id")
                            .from(WriteBack::Table, WriteBack::PracticeId)
                            .to(Alias::new("practice"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_write_back_idempotency")
                    .table(WriteBack::Table)
                    .col(WriteBack::PracticeId)
                    .col(WriteBack::ProposedBy)
                    .col(WriteBack::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_write_back_due")
                    .table(WriteBack::Table)
                    .col(WriteBack::State)
                    .col(WriteBack::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_write_back_practice_updated")
                    .table(WriteBack::Table)
                    .col(WriteBack::PracticeId)
                    .col(WriteBack::UpdatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WriteBackAudit::Table)
                    .col(ColumnDef::new(WriteBackAudit::PracticeId).uuid().not_null())
                    .col(ColumnDef::new(WriteBackAudit::Seq).big_integer().not_null())
                    .col(ColumnDef::new(WriteBackAudit::WriteBackId).uuid().not_null())
                    .col(ColumnDef::new(WriteBackAudit::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(WriteBackAudit::Actor).text().not_null())
                    .col(ColumnDef::new(WriteBackAudit::FromState).text().null())
                    .col(ColumnDef::new(WriteBackAudit::ToState).text().not_null())
                    .col(ColumnDef::new(WriteBackAudit::Detail).text().not_null())
                    .col(ColumnDef::new(WriteBackAudit::PrevHash).text().not_null())
                    .col(ColumnDef::new(WriteBackAudit::Hash).text().not_null())
                    .primary_key(Index::create().col(WriteBackAudit::PracticeId).col(WriteBackAudit::Seq))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_write_back_audit_write_back_id")
                            .from(WriteBackAudit::Table, WriteBackAudit::WriteBackId)
                            .to(WriteBack::Table, WriteBack::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_write_back_audit_write_back_id")
                    .table(WriteBackAudit::Table)
                    .col(WriteBackAudit::WriteBackId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WriteBackAuditHead::Table)
                    .col(ColumnDef::new(WriteBackAuditHead::PracticeId).uuid().not_null().primary_key())
                    .col(ColumnDef::new(WriteBackAuditHead::Seq).big_integer().not_null())
                    .col(ColumnDef::new(WriteBackAuditHead::Hash).text().not_null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(PG_TRIGGER).await?;
            }
            _ => {
                for sql in SQLITE_TRIGGERS {
                    db.execute_unprepared(sql).await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WriteBackAuditHead::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(WriteBackAudit::Table).to_owned()).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS write_back_audit_append_only()")
                .await?;
        }
        manager.drop_table(Table::drop().table(WriteBack::Table).to_owned()).await
    }
}
