//! Page memos (`sync_page_memo`): what the sync remembers of each page whose rows all landed,
//! so that the same answer next time stands in for its rows (see [`PageMemo`]).
//!
//! A memo is a cache of work already done, never a source of data: one that does not read
//! back is ignored (the page is then read in full and the memo written again).

use enamel_domain::ids::ConnectionId;
use enamel_domain::{PageMemo, PracticeId};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::Result;

/// The `sync_page_memo` table.
pub mod entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "sync_page_memo")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub connection_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub stream: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub page: String,
        pub practice_id: Uuid,
        pub digest: String,
        pub keys: String,
        pub complete: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::Column as Col;

/// Memos written per statement.
const CHUNK: usize = 50;

pub(crate) async fn load<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    stream: &str,
) -> Result<Vec<PageMemo>> {
    let rows = entity::Entity::find()
        .filter(Col::PracticeId.eq(practice.uuid()))
        .filter(Col::ConnectionId.eq(uuid::Uuid::from(connection)))
        .filter(Col::Stream.eq(stream))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|m| {
            let digest = m.digest.parse().ok();
            let keys = serde_json::from_str::<Vec<String>>(&m.keys).ok();
            match (digest, keys) {
                (Some(digest), Some(keys)) => Some(PageMemo { page: m.page, digest, keys, complete: m.complete }),
                _ => {
                    tracing::warn!(%connection, stream, page = %m.page, "page memo does not read back; ignored");
                    None
                }
            }
        })
        .collect())
}

pub(crate) async fn save<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    stream: &str,
    memos: &[PageMemo],
) -> Result<()> {
    for chunk in memos.chunks(CHUNK) {
        let rows = chunk.iter().map(|memo| entity::ActiveModel {
            connection_id: Set(connection.into()),
            stream: Set(stream.to_owned()),
            page: Set(memo.page.clone()),
            practice_id: Set(practice.uuid()),
            digest: Set(memo.digest.to_string()),
            keys: Set(serde_json::to_string(&memo.keys).unwrap_or_else(|_| "[]".to_owned())),
            complete: Set(memo.complete),
        });
        entity::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([Col::ConnectionId, Col::Stream, Col::Page])
                    .update_columns([Col::Digest, Col::Keys, Col::Complete])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Forgets the memos of these pages of a stream, or all of the stream's when `pages` is
/// `None`. Returns how many.
pub(crate) async fn forget<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    connection: ConnectionId,
    stream: &str,
    pages: Option<&[String]>,
) -> Result<u64> {
    let delete = || {
        entity::Entity::delete_many()
            .filter(Col::PracticeId.eq(practice.uuid()))
            .filter(Col::ConnectionId.eq(uuid::Uuid::from(connection)))
            .filter(Col::Stream.eq(stream))
    };
    let Some(pages) = pages else {
        return Ok(delete().exec(db).await?.rows_affected);
    };
    let mut forgotten = 0;
    for chunk in pages.chunks(1_000) {
        forgotten += delete().filter(Col::Page.is_in(chunk.iter().cloned())).exec(db).await?.rows_affected;
    }
    Ok(forgotten)
}
