//! Batched reads for dataloaders: rows by id, and children by parent id with an optional
//! per-parent limit and order, each one SQL statement per batch.

use enamel_domain::{EntityId, PracticeId, Source, SourceKey, Stored};
use sea_orm::sea_query::{Alias, Asterisk, Expr, Order, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::sql::uuid_in;

use crate::table::{Common, Link, Sort};
use crate::{Result, Table};

/// Which children to read for each parent, and in which order.
#[derive(Debug)]
pub struct ChildPage<T> {
    /// At most this many children per parent.
    pub limit: Option<u64>,
    /// Skip this many children of each parent first (used with `limit`).
    pub offset: u64,
    /// The order (ties broken by id).
    pub sort: Sort<T>,
    /// Newest / largest first.
    pub descending: bool,
}

impl<T> Clone for ChildPage<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ChildPage<T> {}

impl<T> ChildPage<T> {
    /// Every child, ascending by `sort`.
    pub fn all(sort: Sort<T>) -> Self {
        Self { limit: None, offset: 0, sort, descending: false }
    }

    /// At most `n` children per parent.
    pub fn first(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skip the first `n` children of each parent.
    pub fn skip(mut self, n: u64) -> Self {
        self.offset = n;
        self
    }

    /// Descending order.
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }
}

/// Rows by id, within the practice. Soft-deleted rows are returned too (their
/// `meta.deleted_at` says so): a reference to a row the PMS removed still resolves.
pub(crate) async fn by_ids<T: Table, C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    ids: &[T],
) -> Result<Vec<Stored<T::Record>>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let models = T::Entity::find()
        .filter(T::column(Common::PracticeId).eq(practice.uuid()))
        .filter(uuid_in(
            db.get_database_backend(),
            (T::Entity::default(), T::column(Common::Id)),
            ids.iter().map(|id| id.uuid()),
        ))
        .all(db)
        .await?;
    models.into_iter().map(T::stored).collect()
}

pub(crate) async fn by_source_id<T: Table, C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    source: Source,
    key: &SourceKey,
) -> Result<Option<Stored<T::Record>>> {
    T::Entity::find()
        .filter(T::column(Common::PracticeId).eq(practice.uuid()))
        .filter(T::column(Common::Source).eq(source.as_ref()))
        .filter(T::column(Common::SourceId).eq(key.as_str()))
        .one(db)
        .await?
        .map(T::stored)
        .transpose()
}

pub(crate) async fn live_ids<T: Table, C: ConnectionTrait>(db: &C, practice: PracticeId) -> Result<Vec<T>> {
    let ids: Vec<uuid::Uuid> = T::Entity::find()
        .select_only()
        .column(T::column(Common::Id))
        .filter(T::column(Common::PracticeId).eq(practice.uuid()))
        .filter(T::column(Common::DeletedAt).is_null())
        .order_by_asc(T::column(Common::Id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().map(T::from).collect())
}

pub(crate) async fn fingerprint<T: Table, C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    source: Source,
) -> Result<Vec<(String, i64, bool)>> {
    let rows: Vec<(String, i64, Option<chrono::DateTime<chrono::Utc>>)> = T::Entity::find()
        .select_only()
        .column(T::column(Common::SourceId))
        .expr(sea_orm::sea_query::Expr::col(sea_orm::sea_query::Alias::new("content_hash")))
        .column(T::column(Common::DeletedAt))
        .filter(T::column(Common::PracticeId).eq(practice.uuid()))
        .filter(T::column(Common::Source).eq(source.as_ref()))
        .order_by_asc(T::column(Common::SourceId))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(k, h, d)| (k, h, d.is_some())).collect())
}

/// Live (not soft-deleted) children of the given parents, grouped by parent in the order
/// of `page`, at most `page.limit` per parent. One statement.
pub(crate) async fn children<T: Table, P: EntityId, C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    link: Link<T, P>,
    parents: &[P],
    page: ChildPage<T>,
) -> Result<Vec<Stored<T::Record>>> {
    if parents.is_empty() || page.limit == Some(0) {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let stmt = children_statement::<T>(backend, practice, link.column, parents.iter().map(|p| p.uuid()), page);
    let models = T::Entity::find().from_raw_sql(backend.build(&stmt)).all(db).await?;
    models.into_iter().map(T::stored).collect()
}

/// Like [`children`], each row with its parent's id.
pub(crate) async fn children_of<T: Table, P: EntityId, C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    link: Link<T, P>,
    parents: &[P],
    page: ChildPage<T>,
) -> Result<Vec<(P, Stored<T::Record>)>> {
    use sea_orm::{Iterable, ModelTrait};
    if parents.is_empty() || page.limit == Some(0) {
        return Ok(Vec::new());
    }
    let column = T::Column::iter()
        .find(|c| sea_orm::IdenStatic::as_str(c) == link.column)
        .ok_or_else(|| crate::StoreError::Invalid(format!("{} has no column {}", T::TABLE, link.column)))?;
    let backend = db.get_database_backend();
    let stmt = children_statement::<T>(backend, practice, link.column, parents.iter().map(|p| p.uuid()), page);
    let models = T::Entity::find().from_raw_sql(backend.build(&stmt)).all(db).await?;
    models
        .into_iter()
        .filter_map(|m| {
            let parent = match m.get(column) {
                sea_orm::Value::Uuid(Some(u)) => Some(P::from(*u)),
                _ => None,
            }?;
            Some(T::stored(m).map(|row| (parent, row)))
        })
        .collect()
}

fn children_statement<T: Table>(
    backend: DbBackend,
    practice: PracticeId,
    parent_column: &'static str,
    parents: impl Iterator<Item = uuid::Uuid>,
    page: ChildPage<T>,
) -> SelectStatement {
    let dir = if page.descending { "DESC" } else { "ASC" };
    let order = |sort: &str| format!("(\"{sort}\" IS NULL), \"{sort}\" {dir}, \"id\" {dir}");
    let mut inner = Query::select();
    inner
        .column(Asterisk)
        .from(Alias::new(T::TABLE))
        .and_where(Expr::col(Alias::new("practice_id")).eq(practice.uuid()))
        .and_where(uuid_in(backend, Alias::new(parent_column), parents))
        .and_where(Expr::col(Alias::new("deleted_at")).is_null());
    let Some(limit) = page.limit.or((page.offset > 0).then_some(u64::MAX / 2)) else {
        let sort_order = if page.descending { Order::Desc } else { Order::Asc };
        inner
            .order_by(Alias::new(parent_column), Order::Asc)
            .order_by_expr(Expr::cust(format!("(\"{}\" IS NULL)", page.sort.column)), Order::Asc)
            .order_by(Alias::new(page.sort.column), sort_order.clone())
            .order_by(Alias::new("id"), sort_order);
        return inner;
    };
    // NULLs last on both backends; the outer order by rank keeps each parent's order.
    inner.expr_as(
        Expr::cust(format!(
            "ROW_NUMBER() OVER (PARTITION BY \"{parent_column}\" ORDER BY {})",
            order(page.sort.column)
        )),
        Alias::new("enamel_rank"),
    );
    Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new("enamel_rank")).gt(page.offset))
        .and_where(Expr::col(Alias::new("enamel_rank")).lte(page.offset.saturating_add(limit)))
        .order_by(Alias::new(parent_column), Order::Asc)
        .order_by(Alias::new("enamel_rank"), Order::Asc)
        .to_owned()
}

/// How many live children each parent has through `link`: (parent, count) for parents
/// with at least one. One statement.
pub(crate) async fn count_children<T: Table, P: EntityId, C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    link: Link<T, P>,
    parents: &[P],
) -> Result<Vec<(P, u64)>> {
    if parents.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let parent = Alias::new(link.column);
    let stmt = Query::select()
        .column(parent.clone())
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from(Alias::new(T::TABLE))
        .and_where(Expr::col(Alias::new("practice_id")).eq(practice.uuid()))
        .and_where(uuid_in(backend, parent.clone(), parents.iter().map(|p| p.uuid())))
        .and_where(Expr::col(Alias::new("deleted_at")).is_null())
        .group_by_col(parent)
        .to_owned();
    let rows = db.query_all(backend.build(&stmt)).await?;
    rows.iter()
        .map(|row| {
            let id: uuid::Uuid = row.try_get("", link.column)?;
            let n: i64 = row.try_get("", "n")?;
            Ok((P::from(id), u64::try_from(n).unwrap_or(0)))
        })
        .collect()
}
