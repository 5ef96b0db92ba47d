//! Quarantined source rows: kept with their reason until a later sync maps them.

use chrono::{DateTime, Utc};
use enamel_domain::PracticeId;
use enamel_domain::ids::ConnectionId;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::Result;

/// The `sync_quarantine` table.
pub mod entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sync_quarantine")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub practice_id: Uuid,
        pub connection_id: Uuid,
        pub stream: String,
        pub source_id: String,
        pub reason: String,
        pub payload: String,
        pub first_seen_at: DateTimeUtc,
        pub last_seen_at: DateTimeUtc,
        pub resolved_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A row to quarantine.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineEntry {
    /// The stream it came from.
    pub stream: String,
    /// Its PMS key; rows whose key cannot be read are keyed by a hash of their payload.
    pub source_id: Option<String>,
    /// Why it was refused.
    pub reason: String,
    /// The row as the PMS sent it.
    pub payload: serde_json::Value,
}

/// A quarantined row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    /// The stream.
    pub stream: String,
    /// The PMS key (or `unkeyed:…`).
    pub source_id: String,
    /// Why.
    pub reason: String,
    /// First time seen.
    pub first_seen_at: DateTime<Utc>,
    /// Last time seen.
    pub last_seen_at: DateTime<Utc>,
    /// When a later sync stored it.
    pub resolved_at: Option<DateTime<Utc>>,
}

fn key_of(entry: &QuarantineEntry) -> String {
    entry
        .source_id
        .clone()
        .unwrap_or_else(|| format!("unkeyed:{:016x}", xxhash_rust::xxh3::xxh3_64(entry.payload.to_string().as_bytes())))
}

pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    entries: &[QuarantineEntry],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    crate::practice::connection(db, practice, connection).await?;
    let now = crate::column::now();
    let rows: Vec<entity::ActiveModel> = entries
        .iter()
        .map(|e| entity::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            practice_id: Set(practice.uuid()),
            connection_id: Set(connection.uuid()),
            stream: Set(e.stream.clone()),
            source_id: Set(key_of(e)),
            reason: Set(e.reason.clone()),
            payload: Set(e.payload.to_string()),
            first_seen_at: Set(now),
            last_seen_at: Set(now),
            resolved_at: Set(None),
        })
        .collect();
    use entity::Column as C;
    for chunk in rows.chunks(1000) {
        entity::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([C::ConnectionId, C::Stream, C::SourceId])
                    .update_columns([C::Reason, C::Payload, C::LastSeenAt, C::ResolvedAt])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Marks quarantined keys of a stream resolved (they have now been stored).
pub(crate) async fn resolve<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    stream: &str,
    keys: &[String],
) -> Result<u64> {
    if keys.is_empty() {
        return Ok(0);
    }
    use entity::Column as C;
    let mut resolved = 0;
    for chunk in keys.chunks(2000) {
        resolved += entity::Entity::update_many()
            .col_expr(C::ResolvedAt, Expr::value(crate::column::now()))
            .filter(C::PracticeId.eq(practice.uuid()))
            .filter(C::ConnectionId.eq(connection.uuid()))
            .filter(C::Stream.eq(stream))
            .filter(C::ResolvedAt.is_null())
            .filter(C::SourceId.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(resolved)
}

/// Whether a stream has quarantined rows not yet resolved.
pub(crate) async fn any_unresolved<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    stream: &str,
) -> Result<bool> {
    use entity::Column as C;
    let found = entity::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::PracticeId.eq(practice.uuid()))
        .filter(C::ConnectionId.eq(connection.uuid()))
        .filter(C::Stream.eq(stream))
        .filter(C::ResolvedAt.is_null())
        .into_tuple::<uuid::Uuid>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

pub(crate) async fn list<C: ConnectionTrait>(db: &C, practice: PracticeId, limit: u64) -> Result<Vec<Quarantined>> {
    use entity::Column as C;
    Ok(entity::Entity::find()
        .filter(C::PracticeId.eq(practice.uuid()))
        .order_by_desc(C::LastSeenAt)
        .order_by_asc(C::SourceId)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|m| Quarantined {
            stream: m.stream,
            source_id: m.source_id,
            reason: m.reason,
            first_seen_at: m.first_seen_at,
            last_seen_at: m.last_seen_at,
            resolved_at: m.resolved_at,
        })
        .collect())
}
