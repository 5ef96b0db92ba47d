//! Sync checkpoints (per connection and stream) and the record of sync runs.

use chrono::{DateTime, Utc};
use enamel_domain::ids::{ConnectionId, SyncRunId};
use enamel_domain::{PracticeId, SyncCounts, SyncRun, SyncRunStatus};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{Result, StoreError};

/// The `sync_checkpoint` table.
pub mod checkpoint_entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sync_checkpoint")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub connection_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub stream: String,
        pub practice_id: Uuid,
        pub cursor: Option<Json>,
        pub progress: Option<Json>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `sync_run` table.
pub mod run_entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sync_run")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub practice_id: Uuid,
        pub connection_id: Uuid,
        pub stream: String,
        pub status: String,
        pub started_at: DateTimeUtc,
        pub finished_at: Option<DateTimeUtc>,
        pub fetched: i64,
        pub inserted: i64,
        pub updated: i64,
        pub unchanged: i64,
        pub deleted: i64,
        pub quarantined: i64,
        pub error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A stream's saved position.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The durable incremental cursor (advanced only at the end of a complete pass).
    pub cursor: Option<serde_json::Value>,
    /// Progress inside the running pass (page offset, window), cleared when it completes.
    pub progress: Option<serde_json::Value>,
    /// When it was written.
    pub updated_at: DateTime<Utc>,
}

pub(crate) async fn save_checkpoint<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    stream: &str,
    cursor: Option<serde_json::Value>,
    progress: Option<serde_json::Value>,
) -> Result<()> {
    // The connection must belong to the practice.
    crate::practice::connection(db, practice, connection).await?;
    let row = checkpoint_entity::ActiveModel {
        connection_id: Set(connection.into()),
        stream: Set(stream.to_owned()),
        practice_id: Set(practice.uuid()),
        cursor: Set(cursor),
        progress: Set(progress),
        updated_at: Set(crate::column::now()),
    };
    use checkpoint_entity::Column as C;
    checkpoint_entity::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([C::ConnectionId, C::Stream])
                .update_columns([C::Cursor, C::Progress, C::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub(crate) async fn checkpoint<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    stream: &str,
) -> Result<Option<Checkpoint>> {
    use checkpoint_entity::Column as Col;
    Ok(checkpoint_entity::Entity::find()
        .filter(Col::PracticeId.eq(practice.uuid()))
        .filter(Col::ConnectionId.eq(uuid::Uuid::from(connection)))
        .filter(Col::Stream.eq(stream))
        .one(db)
        .await?
        .map(|m| Checkpoint { cursor: m.cursor, progress: m.progress, updated_at: m.updated_at }))
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) async fn start_run<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    stream: &str,
) -> Result<SyncRunId> {
    crate::practice::connection(db, practice, connection).await?;
    let id = SyncRunId::new();
    run_entity::ActiveModel {
        id: Set(id.into()),
        practice_id: Set(practice.uuid()),
        connection_id: Set(connection.into()),
        stream: Set(stream.to_owned()),
        status: Set(SyncRunStatus::Running.as_ref().to_owned()),
        started_at: Set(crate::column::now()),
        finished_at: Set(None),
        fetched: Set(0),
        inserted: Set(0),
        updated: Set(0),
        unchanged: Set(0),
        deleted: Set(0),
        quarantined: Set(0),
        error: Set(None),
    }
    .insert(db)
    .await?;
    Ok(id)
}

pub(crate) async fn finish_run<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    run: SyncRunId,
    counts: SyncCounts,
    error: Option<String>,
) -> Result<()> {
    use run_entity::Column as Col;
    let status = if error.is_some() { SyncRunStatus::Failed } else { SyncRunStatus::Succeeded };
    let result = run_entity::Entity::update_many()
        .set(run_entity::ActiveModel {
            status: Set(status.as_ref().to_owned()),
            finished_at: Set(Some(crate::column::now())),
            fetched: Set(count(counts.fetched)),
            inserted: Set(count(counts.inserted)),
            updated: Set(count(counts.updated)),
            unchanged: Set(count(counts.unchanged)),
            deleted: Set(count(counts.deleted)),
            quarantined: Set(count(counts.quarantined)),
            error: Set(error),
            ..Default::default()
        })
        .filter(Col::Id.eq(uuid::Uuid::from(run)))
        .filter(Col::PracticeId.eq(practice.uuid()))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::NotFound { entity: "sync_run", id: run.to_string() });
    }
    Ok(())
}

fn run_from(m: run_entity::Model) -> Result<SyncRun> {
    let status = m.status.parse().map_err(|_| StoreError::Corrupt {
        table: "sync_run",
        column: "status",
        row: m.id,
        reason: format!("unknown status {:?}", m.status),
    })?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(SyncRun {
        id: m.id.into(),
        practice_id: m.practice_id.into(),
        connection_id: m.connection_id.into(),
        stream: m.stream,
        status,
        started_at: m.started_at,
        finished_at: m.finished_at,
        counts: SyncCounts {
            fetched: n(m.fetched),
            inserted: n(m.inserted),
            updated: n(m.updated),
            unchanged: n(m.unchanged),
            deleted: n(m.deleted),
            quarantined: n(m.quarantined),
        },
        error: m.error,
    })
}

pub(crate) async fn runs<C: ConnectionTrait>(db: &C, practice: PracticeId, limit: u64) -> Result<Vec<SyncRun>> {
    use run_entity::Column as Col;
    run_entity::Entity::find()
        .filter(Col::PracticeId.eq(practice.uuid()))
        .order_by_desc(Col::StartedAt)
        .order_by_desc(Col::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(run_from)
        .collect()
}

/// Marks the still-running runs of a stream failed with `reason`: their process died or
/// gave the stream up (the caller holds the stream's lease, so nobody else runs it).
pub(crate) async fn close_interrupted<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    stream: &str,
    reason: &str,
) -> Result<u64> {
    use run_entity::Column as Col;
    let result = run_entity::Entity::update_many()
        .set(run_entity::ActiveModel {
            status: Set(SyncRunStatus::Failed.as_ref().to_owned()),
            finished_at: Set(Some(crate::column::now())),
            error: Set(Some(reason.to_owned())),
            ..Default::default()
        })
        .filter(Col::PracticeId.eq(practice.uuid()))
        .filter(Col::ConnectionId.eq(uuid::Uuid::from(connection)))
        .filter(Col::Stream.eq(stream))
        .filter(Col::Status.eq(SyncRunStatus::Running.as_ref()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
