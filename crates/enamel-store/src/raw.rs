//! The last raw PMS payload of each synced row (`source_record`).
#![allow(unreachable_pub)]

use chrono::{DateTime, Utc};
use enamel_domain::PracticeId;
use sea_orm::ActiveValue::Set;
use sea_orm::DbBackend;
use sea_orm::entity::prelude::*;

use crate::sql::{OnConflictUpdate, Statements, insert_statements};

use crate::Result;

/// A stored raw payload.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "source_record")]
pub struct Model {
    /// The synced row's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub row_id: Uuid,
    /// The practice.
    pub practice_id: Uuid,
    /// The row's table.
    pub entity: String,
    /// The payload as the PMS sent it, as JSON text.
    pub payload: String,
    /// When it was stored.
    pub recorded_at: DateTimeUtc,
}

/// No relations are navigated through SeaORM.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The statements storing payloads by row id; `replace` when the rows may have one already
/// (changed rows), otherwise plain inserts (new rows). Each statement's rows are made when
/// it is built.
pub(crate) fn save_statements<'a>(
    backend: DbBackend,
    practice: PracticeId,
    entity: &'a str,
    rows: Vec<(Uuid, String)>,
    at: DateTime<Utc>,
    replace: bool,
) -> Result<Statements<'a>> {
    let rows = rows.into_iter().map(move |(row_id, payload)| ActiveModel {
        row_id: Set(row_id),
        practice_id: Set(practice.uuid()),
        entity: Set(entity.to_owned()),
        payload: Set(payload),
        recorded_at: Set(at),
    });
    let conflict = replace
        .then(|| OnConflictUpdate { key: vec![Column::RowId], update: vec![Column::Payload, Column::RecordedAt] });
    Ok(insert_statements::<Entity>(backend, rows, conflict)?)
}

pub(crate) async fn load<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    row_id: Uuid,
) -> Result<Option<serde_json::Value>> {
    let Some(m) = Entity::find_by_id(row_id).filter(Column::PracticeId.eq(practice.uuid())).one(db).await? else {
        return Ok(None);
    };
    serde_json::from_str(&m.payload).map(Some).map_err(|e| crate::StoreError::Corrupt {
        table: "source_record",
        column: "payload",
        row: row_id,
        reason: e.to_string(),
    })
}
