//! Sync leases and schedules (`sync_lease`): which replica syncs a (connection, stream) now,
//! and when the stream is next due.
//!
//! A replica takes a stream only with one conditional `UPDATE … WHERE holder IS NULL OR
//! expires_at <= now` (PostgreSQL re-checks the condition after locking the row, SQLite has
//! one writer), so two replicas can never both hold it. The holder renews before expiry and
//! releases with the next due time; a holder that dies simply stops renewing and the
//! stream is free again once `expires_at` passes. Times come from the replicas' clocks,
//! which must agree to well within a lease (NTP).

use std::time::Duration;

use chrono::{DateTime, Utc};
use enamel_domain::ids::ConnectionId;
use enamel_domain::{LeaseRelease, PracticeId, SyncLease};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use crate::Result;

/// The `sync_lease` table.
pub mod lease_entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sync_lease")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub connection_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub stream: String,
        pub practice_id: Uuid,
        pub holder: Option<String>,
        pub token: Option<Uuid>,
        pub expires_at: Option<DateTimeUtc>,
        pub next_due_at: Option<DateTimeUtc>,
        pub last_success_at: Option<DateTimeUtc>,
        pub failures: i32,
        pub last_error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use lease_entity::{Column as Col, Entity};

/// Proof of holding a lease: renewals and the release must present it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseToken(pub Uuid);

fn from_model(m: lease_entity::Model) -> SyncLease {
    SyncLease {
        practice_id: m.practice_id.into(),
        connection_id: m.connection_id.into(),
        stream: m.stream,
        holder: m.holder,
        expires_at: m.expires_at,
        next_due_at: m.next_due_at,
        last_success_at: m.last_success_at,
        failures: u32::try_from(m.failures).unwrap_or(0),
        last_error: m.last_error,
    }
}

fn after(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    crate::column::micros(now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX))
}

pub(crate) async fn leases<C: ConnectionTrait>(db: &C, connection: Option<ConnectionId>) -> Result<Vec<SyncLease>> {
    let mut query = Entity::find();
    if let Some(c) = connection {
        query = query.filter(Col::ConnectionId.eq(Uuid::from(c)));
    }
    let rows = query.order_by_asc(Col::ConnectionId).order_by_asc(Col::Stream).all(db).await?;
    Ok(rows.into_iter().map(from_model).collect())
}

/// Takes the lease when nobody holds it (or the holder's lapsed); `None` when another
/// replica holds it.
pub(crate) async fn acquire<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    stream: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<LeaseToken>> {
    crate::practice::connection(db, practice, connection).await?;
    let row = lease_entity::ActiveModel {
        connection_id: Set(connection.into()),
        stream: Set(stream.to_owned()),
        practice_id: Set(practice.uuid()),
        holder: Set(None),
        token: Set(None),
        expires_at: Set(None),
        next_due_at: Set(None),
        last_success_at: Set(None),
        failures: Set(0),
        last_error: Set(None),
    };
    Entity::insert(row)
        .on_conflict(OnConflict::columns([Col::ConnectionId, Col::Stream]).do_nothing().to_owned())
        .do_nothing()
        .exec_without_returning(db)
        .await?;
    let now = crate::column::now();
    let token = Uuid::now_v7();
    let taken = Entity::update_many()
        .col_expr(Col::Holder, Expr::value(holder.to_owned()))
        .col_expr(Col::Token, Expr::value(token))
        .col_expr(Col::ExpiresAt, Expr::value(after(now, ttl)))
        .filter(Col::ConnectionId.eq(Uuid::from(connection)))
        .filter(Col::Stream.eq(stream))
        .filter(Col::Holder.is_null().or(Col::ExpiresAt.is_null()).or(Col::ExpiresAt.lte(now)))
        .exec(db)
        .await?;
    Ok((taken.rows_affected == 1).then_some(LeaseToken(token)))
}

/// Extends a held lease; `false` when it is no longer ours (lapsed and taken over).
pub(crate) async fn renew<C: ConnectionTrait>(
    db: &C,
    connection: ConnectionId,
    stream: &str,
    token: LeaseToken,
    ttl: Duration,
) -> Result<bool> {
    let now = crate::column::now();
    let renewed = Entity::update_many()
        .col_expr(Col::ExpiresAt, Expr::value(after(now, ttl)))
        .filter(Col::ConnectionId.eq(Uuid::from(connection)))
        .filter(Col::Stream.eq(stream))
        .filter(Col::Token.eq(token.0))
        .exec(db)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// Gives the lease up with the stream's next due time and the pass's outcome; `false` when
/// it was no longer ours (nothing is changed then).
pub(crate) async fn release<C: ConnectionTrait>(
    db: &C,
    connection: ConnectionId,
    stream: &str,
    token: LeaseToken,
    how: &LeaseRelease,
) -> Result<bool> {
    let mut update = Entity::update_many()
        .col_expr(Col::Holder, Expr::value(Option::<String>::None))
        .col_expr(Col::Token, Expr::value(Option::<Uuid>::None))
        .col_expr(Col::ExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(Col::NextDueAt, Expr::value(crate::column::micros(how.next_due_at)));
    if how.completed {
        update = update
            .col_expr(Col::LastSuccessAt, Expr::value(crate::column::now()))
            .col_expr(Col::Failures, Expr::value(0))
            .col_expr(Col::LastError, Expr::value(Option::<String>::None));
    } else if let Some(error) = &how.error {
        update = update
            .col_expr(Col::Failures, Expr::col(Col::Failures).add(1))
            .col_expr(Col::LastError, Expr::value(error.clone()));
    }
    let released = update
        .filter(Col::ConnectionId.eq(Uuid::from(connection)))
        .filter(Col::Stream.eq(stream))
        .filter(Col::Token.eq(token.0))
        .exec(db)
        .await?;
    Ok(released.rows_affected == 1)
}
