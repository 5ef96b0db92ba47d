//! API keys: created with a random secret that is returned once and stored only as its
//! SHA-256 hash; a token is `enm_<prefix>_<secret>`, the prefix finds the row.

use chrono::{DateTime, Utc};
use enamel_domain::ids::ApiKeyId;
use enamel_domain::{ApiKey, PracticeId, Scope};
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

/// The `api_key` table.
pub mod api_key_entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_key")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub practice_id: Uuid,
        pub name: String,
        pub prefix: String,
        pub secret_hash: String,
        pub scopes: String,
        pub created_at: DateTimeUtc,
        pub expires_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use api_key_entity as entity;

const TOKEN_PREFIX: &str = "enm_";

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn random_hex(bytes: usize) -> String {
    // UUID v4 draws from the operating system's CSPRNG; 122 random bits each.
    let mut out = String::new();
    while out.len() < bytes * 2 {
        out.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    out.truncate(bytes * 2);
    out
}

fn from_model(m: entity::Model) -> Result<ApiKey> {
    let scopes = Scope::parse_list(&m.scopes).map_err(|reason| StoreError::Corrupt {
        table: "api_key",
        column: "scopes",
        row: m.id,
        reason,
    })?;
    Ok(ApiKey {
        id: m.id.into(),
        practice_id: m.practice_id.into(),
        name: m.name,
        prefix: format!("{TOKEN_PREFIX}{}", m.prefix),
        scopes,
        created_at: m.created_at,
        expires_at: m.expires_at,
        revoked_at: m.revoked_at,
    })
}

pub(crate) async fn create<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    name: &str,
    scopes: &[Scope],
    expires_at: Option<DateTime<Utc>>,
) -> Result<(ApiKey, String)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid("an API key needs a name".into()));
    }
    if scopes.is_empty() {
        return Err(StoreError::Invalid("an API key needs at least one scope".into()));
    }
    crate::practice::practice(db, practice).await?;
    let prefix = random_hex(6);
    let secret = random_hex(24);
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let model = entity::ActiveModel {
        id: Set(ApiKeyId::new().uuid()),
        practice_id: Set(practice.uuid()),
        name: Set(name.to_owned()),
        prefix: Set(prefix.clone()),
        secret_hash: Set(hash(&secret)),
        scopes: Set(Scope::join(&scopes)),
        created_at: Set(crate::column::now()),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((from_model(model)?, format!("{TOKEN_PREFIX}{prefix}_{secret}")))
}

/// The key a token names, if the token's secret matches; usable or not (the caller
/// decides, with [`ApiKey::is_usable`], and says why it refuses).
pub(crate) async fn authenticate<C: ConnectionTrait>(db: &C, token: &str) -> Result<Option<ApiKey>> {
    let Some((prefix, secret)) = token.strip_prefix(TOKEN_PREFIX).and_then(|t| t.split_once('_')) else {
        return Ok(None);
    };
    let Some(model) = entity::Entity::find().filter(entity::Column::Prefix.eq(prefix)).one(db).await? else {
        return Ok(None);
    };
    // Both sides are digests: comparing them leaks nothing useful about the secret.
    if model.secret_hash != hash(secret) {
        return Ok(None);
    }
    from_model(model).map(Some)
}

pub(crate) async fn list<C: ConnectionTrait>(db: &C, practice: PracticeId) -> Result<Vec<ApiKey>> {
    entity::Entity::find()
        .filter(entity::Column::PracticeId.eq(practice.uuid()))
        .order_by_asc(entity::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(from_model)
        .collect()
}

pub(crate) async fn revoke<C: ConnectionTrait>(db: &C, practice: PracticeId, id: ApiKeyId) -> Result<ApiKey> {
    let existing = entity::Entity::find_by_id(id.uuid())
        .filter(entity::Column::PracticeId.eq(practice.uuid()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound { entity: "api_key", id: id.to_string() })?;
    if existing.revoked_at.is_some() {
        return from_model(existing);
    }
    let model =
        entity::ActiveModel { id: Set(existing.id), revoked_at: Set(Some(crate::column::now())), ..Default::default() }
            .update(db)
            .await?;
    from_model(model)
}
