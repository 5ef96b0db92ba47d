//! Relay connections (`edges`, `node`, `pageInfo`, optional `totalCount`) for every list,
//! with opaque cursors. A page is pushed into SQL: nested lists per parent through the
//! children loader, root lists through the store's filtered list. `totalCount` costs one
//! more statement, and only when asked for.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Object, OutputType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use enamel_domain::{EntityId, Stored};
use enamel_store::{ChildPage, Filter, Link, ListPage, RecordOf, Sort, Store, Table};
use futures::future::BoxFuture;

use crate::error::{ApiError, ApiResult, Code};
use crate::loader::{ChildCount, Children};
use crate::viewer::{loaders, reader};

/// A schema type backed by rows of one table.
pub trait Entity: OutputType + Clone + Send + Sync + 'static {
    /// The table.
    type Id: Table;
    /// The GraphQL type name (also the global id prefix).
    const NAME: &'static str;
    /// Wraps a row.
    fn wrap(row: Arc<Stored<RecordOf<Self::Id>>>) -> Self;
    /// Whose data the row is (for the PHI access audit).
    fn owner_of(row: &Stored<RecordOf<Self::Id>>) -> crate::phi::Owner;
}

/// Wraps a row that goes into the response, noting its patient for the access audit.
pub(crate) fn returned<E: Entity>(ctx: &Context<'_>, row: Arc<Stored<RecordOf<E::Id>>>) -> E {
    crate::phi::saw(ctx, E::owner_of(&row));
    E::wrap(row)
}

/// A page of `E`.
pub type Conn<E> = Connection<Offset, E, TotalCount, EmptyFields>;

/// Items per page when `first` is not given.
pub const DEFAULT_PAGE: u64 = 20;
/// The largest `first` a list accepts.
pub const MAX_PAGE: u64 = 500;

type CountFn = Arc<dyn for<'a, 'b> Fn(&'a Context<'b>) -> BoxFuture<'a, Result<u64, ApiError>> + Send + Sync>;

/// The connection's extra field.
#[derive(Clone)]
pub struct TotalCount(CountFn);

#[Object]
impl TotalCount {
    /// How many items the whole list has (one more SQL statement; ask only when needed).
    async fn total_count(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        let n = (self.0)(ctx).await?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// An item's place in its list: the cursor of its edge. It is encoded (`o:<index>`,
/// base64url) only when a caller asks for `cursor`, not for every edge of every page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offset(u64);

impl async_graphql::connection::CursorType for Offset {
    /// The message (async-graphql's `Display` bound; our resolvers parse with
    /// [`page_args`], which answers `BAD_USER_INPUT`).
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        parse_cursor(s).map(Offset).map_err(|e| e.message)
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("o:{}", self.0))
    }
}

fn parse_cursor(text: &str) -> Result<u64, ApiError> {
    let invalid = || ApiError::bad_input(format!("{text:?} is not a cursor this API issued"));
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    text.strip_prefix("o:").and_then(|n| n.parse().ok()).ok_or_else(invalid)
}

/// `(offset, limit)` from `first` and `after`.
pub(crate) fn page_args(first: Option<i32>, after: Option<&str>) -> Result<(u64, u64), ApiError> {
    let limit = match first {
        None => DEFAULT_PAGE,
        Some(n) if n < 0 => return Err(ApiError::bad_input("first must not be negative")),
        Some(n) => u64::try_from(n).unwrap_or(0),
    };
    if limit > MAX_PAGE {
        return Err(ApiError::new(Code::LimitExceeded, format!("first may be at most {MAX_PAGE}")));
    }
    let offset = after.map(parse_cursor).transpose()?.map_or(0, |i| i + 1);
    Ok((offset, limit))
}

fn build<E: Entity>(
    ctx: &Context<'_>,
    rows: &[Arc<Stored<RecordOf<E::Id>>>],
    offset: u64,
    limit: u64,
    count: CountFn,
) -> Conn<E> {
    let has_next = rows.len() as u64 > limit;
    let mut conn = Connection::with_additional_fields(offset > 0, has_next, TotalCount(count));
    conn.edges.extend(
        rows.iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .enumerate()
            .map(|(i, row)| Edge::new(Offset(offset + i as u64), returned::<E>(ctx, row.clone()))),
    );
    conn
}

/// The extra field of connections over lists that are not tables of synced rows
/// (write-backs, access events): their size, counted with the page.
#[derive(async_graphql::SimpleObject, Debug, Clone)]
pub struct Counted {
    /// How many items the whole list has.
    pub total_count: i64,
}

/// A page of `T` at `offset`: `rows` holds up to `limit + 1` items (one more tells that a
/// next page exists), `total` the size of the whole list.
pub(crate) fn page_of<T: OutputType>(
    rows: Vec<T>,
    offset: u64,
    limit: u64,
    total: u64,
) -> Connection<Offset, T, Counted, EmptyFields> {
    let has_next = rows.len() as u64 > limit;
    let mut conn = Connection::with_additional_fields(
        offset > 0,
        has_next,
        Counted { total_count: i64::try_from(total).unwrap_or(i64::MAX) },
    );
    conn.edges.extend(
        rows.into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .enumerate()
            .map(|(i, row)| Edge::new(Offset(offset + i as u64), row)),
    );
    conn
}

/// A nested list: the children of `parent` through `link`, one page.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn children<E: Entity, P: EntityId>(
    ctx: &Context<'_>,
    parent: P,
    link: Link<E::Id, P>,
    sort: Sort<E::Id>,
    descending: bool,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<Conn<E>> {
    reader(ctx)?;
    let (offset, limit) = page_args(first, after.as_deref())?;
    let mut page = ChildPage::all(sort).first(limit + 1).skip(offset);
    page.descending = descending;
    let rows = loaders(ctx)?.load_one(Children { parent, link, page }).await?.unwrap_or_default();
    let count: CountFn = Arc::new(move |ctx| {
        Box::pin(async move { Ok(loaders(ctx)?.load_one(ChildCount { parent, link }).await?.unwrap_or(0)) })
    });
    Ok(build::<E>(ctx, &rows, offset, limit, count))
}

/// A root list: live rows matching `filter`, one page.
pub(crate) async fn list<E: Entity, F: Filter<Table = E::Id> + Clone + 'static>(
    ctx: &Context<'_>,
    filter: F,
    sort: Sort<E::Id>,
    descending: bool,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<Conn<E>> {
    let viewer = reader(ctx)?;
    let practice = viewer.practice_id();
    let (offset, limit) = page_args(first, after.as_deref())?;
    let store = ctx.data::<Store>()?;
    let page = ListPage { sort, descending, offset, limit: limit + 1 };
    let rows: Vec<_> =
        store.list(practice, &filter, page).await.map_err(ApiError::from)?.into_iter().map(Arc::new).collect();
    let count: CountFn = Arc::new(move |ctx| {
        let filter = filter.clone();
        Box::pin(async move {
            let store = ctx.data::<Store>().map_err(|_| ApiError::new(Code::Internal, "no store"))?;
            Ok(store.count(practice, &filter).await?)
        })
    });
    Ok(build::<E>(ctx, &rows, offset, limit, count))
}

/// The row with id `id`, through the request's loader.
pub(crate) async fn load<E: Entity>(ctx: &Context<'_>, id: E::Id) -> ApiResult<E> {
    reader(ctx)?;
    let row = loaders(ctx)?.load_one(crate::loader::ById(id)).await?;
    row.map(|row| returned::<E>(ctx, row)).ok_or_else(|| ApiError::not_found(E::NAME).into())
}

/// The row with id `id`, if any.
pub(crate) async fn load_opt<E: Entity>(ctx: &Context<'_>, id: Option<E::Id>) -> ApiResult<Option<E>> {
    // The scope first: an absent reference must not tell a caller without `read` anything.
    reader(ctx)?;
    match id {
        None => Ok(None),
        Some(id) => Ok(loaders(ctx)?.load_one(crate::loader::ById(id)).await?.map(|row| returned::<E>(ctx, row))),
    }
}
