//! PHI access events: who saw which patients, one row per response that returned patient
//! data. Written by the API in the request that returns the data.

use chrono::{DateTime, Utc};
use enamel_domain::ids::PatientId;
use enamel_domain::{PhiAccess, PracticeId};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{Result, StoreError};

/// The `phi_access` table.
pub mod phi_access_entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "phi_access")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub practice_id: Uuid,
        pub at: DateTimeUtc,
        pub credential: String,
        pub subject: String,
        pub operation: String,
        pub patient_ids: String,
        pub patient_count: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use phi_access_entity as entity;

/// Filters for reading access events.
#[derive(Debug, Clone, Default)]
pub struct PhiAccessFilter {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// By this credential (`api_key:<uuid>`).
    pub credential: Option<String>,
    /// Naming this patient.
    pub patient_id: Option<PatientId>,
}

fn from_model(m: entity::Model) -> Result<PhiAccess> {
    let patient_ids = if m.patient_ids.is_empty() {
        Vec::new()
    } else {
        m.patient_ids.split(',').map(|s| s.parse::<PatientId>()).collect::<std::result::Result<Vec<_>, _>>().map_err(
            |e| StoreError::Corrupt { table: "phi_access", column: "patient_ids", row: m.id, reason: e.to_string() },
        )?
    };
    Ok(PhiAccess {
        id: m.id,
        practice_id: m.practice_id.into(),
        at: m.at,
        credential: m.credential,
        subject: m.subject,
        operation: m.operation,
        patient_ids,
    })
}

/// Writes the events in one statement (none: nothing).
pub(crate) async fn record<C: ConnectionTrait>(db: &C, events: &[PhiAccess]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let models = events.iter().map(|event| {
        let mut ids: Vec<String> = event.patient_ids.iter().map(ToString::to_string).collect();
        ids.sort();
        ids.dedup();
        entity::ActiveModel {
            id: Set(event.id),
            practice_id: Set(event.practice_id.uuid()),
            at: Set(crate::column::micros(event.at)),
            credential: Set(event.credential.clone()),
            subject: Set(event.subject.clone()),
            operation: Set(event.operation.chars().take(200).collect()),
            patient_count: Set(i32::try_from(ids.len()).unwrap_or(i32::MAX)),
            patient_ids: Set(ids.join(",")),
        }
    });
    entity::Entity::insert_many(models).exec_without_returning(db).await?;
    Ok(())
}

fn filtered(practice: PracticeId, filter: &PhiAccessFilter) -> sea_orm::Select<entity::Entity> {
    let mut query = entity::Entity::find().filter(entity::Column::PracticeId.eq(practice.uuid()));
    if let Some(from) = filter.from {
        query = query.filter(entity::Column::At.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(entity::Column::At.lt(to));
    }
    if let Some(c) = &filter.credential {
        query = query.filter(entity::Column::Credential.eq(c.clone()));
    }
    if let Some(p) = filter.patient_id {
        // Ids are fixed-width UUIDs joined by commas: a substring match is exact.
        query = query.filter(entity::Column::PatientIds.contains(p.to_string()));
    }
    query
}

pub(crate) async fn list<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    filter: &PhiAccessFilter,
    offset: u64,
    limit: u64,
) -> Result<Vec<PhiAccess>> {
    filtered(practice, filter)
        .order_by_desc(entity::Column::At)
        .order_by_desc(entity::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_model)
        .collect()
}

pub(crate) async fn count<C: ConnectionTrait>(db: &C, practice: PracticeId, filter: &PhiAccessFilter) -> Result<u64> {
    Ok(filtered(practice, filter).count(db).await?)
}
