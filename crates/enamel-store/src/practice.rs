//! Practices and PMS connections: the configuration tables.

use enamel_domain::ids::ConnectionId;
use enamel_domain::{Currency, PmsConnection, Practice, PracticeId, Source};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::{Result, StoreError};

/// The `practice` table.
pub mod practice_entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "practice")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub time_zone: String,
        pub currency: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `pms_connection` table.
pub mod connection_entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "pms_connection")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub practice_id: Uuid,
        pub kind: String,
        pub base_url: String,
        pub mode: Option<String>,
        pub credentials: Option<Vec<u8>>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A practice to create.
#[derive(Debug, Clone)]
pub struct NewPractice {
    /// Display name (not empty).
    pub name: String,
    /// Office time zone.
    pub time_zone: chrono_tz::Tz,
    /// Currency.
    pub currency: Currency,
}

/// A PMS connection to create.
#[derive(Clone)]
pub struct NewConnection {
    /// Which PMS.
    pub kind: Source,
    /// Base URL.
    pub base_url: String,
    /// API mode.
    pub mode: Option<String>,
    /// Encrypted credentials.
    pub credentials: Option<Vec<u8>>,
}

fn practice_from(m: practice_entity::Model) -> Result<Practice> {
    let corrupt =
        |column: &'static str, reason: String| StoreError::Corrupt { table: "practice", column, row: m.id, reason };
    Ok(Practice {
        id: m.id.into(),
        time_zone: m
            .time_zone
            .parse()
            .map_err(|_| corrupt("time_zone", format!("unknown time zone {:?}", m.time_zone)))?,
        currency: m.currency.parse().map_err(|_| corrupt("currency", format!("unknown currency {:?}", m.currency)))?,
        name: m.name,
        created_at: m.created_at,
    })
}

fn connection_from(m: connection_entity::Model) -> Result<PmsConnection> {
    let kind = m.kind.parse().map_err(|_| StoreError::Corrupt {
        table: "pms_connection",
        column: "kind",
        row: m.id,
        reason: format!("unknown PMS kind {:?}", m.kind),
    })?;
    Ok(PmsConnection {
        id: m.id.into(),
        practice_id: m.practice_id.into(),
        kind,
        base_url: m.base_url,
        mode: m.mode,
        credentials: m.credentials,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub(crate) async fn create_practice<C: ConnectionTrait>(db: &C, new: NewPractice) -> Result<Practice> {
    let name = new.name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid("a practice needs a name".into()));
    }
    let model = practice_entity::ActiveModel {
        id: Set(PracticeId::new().uuid()),
        name: Set(name.to_owned()),
        time_zone: Set(new.time_zone.name().to_owned()),
        currency: Set(new.currency.as_ref().to_owned()),
        created_at: Set(crate::column::now()),
    }
    .insert(db)
    .await?;
    practice_from(model)
}

pub(crate) async fn practice<C: ConnectionTrait>(db: &C, id: PracticeId) -> Result<Practice> {
    let model = practice_entity::Entity::find_by_id(id.uuid())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound { entity: "practice", id: id.to_string() })?;
    practice_from(model)
}

pub(crate) async fn practices<C: ConnectionTrait>(db: &C) -> Result<Vec<Practice>> {
    practice_entity::Entity::find()
        .order_by_asc(practice_entity::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(practice_from)
        .collect()
}

pub(crate) async fn add_connection<C: ConnectionTrait>(
    db: &C,
    practice_id: PracticeId,
    new: NewConnection,
) -> Result<PmsConnection> {
    practice(db, practice_id).await?;
    let now = crate::column::now();
    let model = connection_entity::ActiveModel {
        id: Set(ConnectionId::new().uuid()),
        practice_id: Set(practice_id.uuid()),
        kind: Set(new.kind.as_ref().to_owned()),
        base_url: Set(new.base_url),
        mode: Set(new.mode),
        credentials: Set(new.credentials),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    connection_from(model)
}

pub(crate) async fn connections<C: ConnectionTrait>(db: &C, practice_id: PracticeId) -> Result<Vec<PmsConnection>> {
    connection_entity::Entity::find()
        .filter(connection_entity::Column::PracticeId.eq(practice_id.uuid()))
        .order_by_asc(connection_entity::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(connection_from)
        .collect()
}

pub(crate) async fn connection<C: ConnectionTrait>(
    db: &C,
    practice_id: PracticeId,
    id: ConnectionId,
) -> Result<PmsConnection> {
    let model = connection_entity::Entity::find_by_id(Uuid::from(id))
        .filter(connection_entity::Column::PracticeId.eq(practice_id.uuid()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound { entity: "pms_connection", id: id.to_string() })?;
    connection_from(model)
}

pub(crate) async fn set_endpoint<C: ConnectionTrait>(
    db: &C,
    practice_id: PracticeId,
    id: ConnectionId,
    base_url: &str,
    mode: Option<&str>,
) -> Result<PmsConnection> {
    let existing = connection(db, practice_id, id).await?;
    let model = connection_entity::ActiveModel {
        id: Set(Uuid::from(id)),
        base_url: Set(base_url.to_owned()),
        mode: Set(mode.map(str::to_owned).or(existing.mode)),
        updated_at: Set(crate::column::now()),
        ..Default::default()
    }
    .update(db)
    .await?;
    connection_from(model)
}

/// Replaces the credentials blob of a practice's connection.
pub(crate) async fn set_credentials<C: ConnectionTrait>(
    db: &C,
    practice_id: PracticeId,
    id: ConnectionId,
    blob: Vec<u8>,
) -> Result<()> {
    connection(db, practice_id, id).await?;
    connection_entity::ActiveModel {
        id: Set(Uuid::from(id)),
        credentials: Set(Some(blob)),
        updated_at: Set(crate::column::now()),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}
