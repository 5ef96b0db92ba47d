//! Per-request dataloaders over the store: rows by id, children by parent (with the page
//! pushed into SQL) and child counts. Keys requested in the same tick are batched into one
//! statement per (table, link, page shape), so a request costs statements in proportion
//! to its depth, never to its number of rows.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use enamel_domain::{EntityId, PracticeId, Stored};
use enamel_store::{ChildPage, Link, Store, Table};

use crate::error::ApiError;

/// The store, seen by one request for one practice.
pub struct StoreLoader {
    pub(crate) store: Store,
    pub(crate) practice: PracticeId,
}

/// A request's loaders.
pub type Loaders = DataLoader<StoreLoader, async_graphql::dataloader::HashMapCache>;

/// Builds the loaders of one request. Keys asked for within `delay` of the first are
/// loaded together; rows are cached for the request (a row asked for twice is read once).
pub fn loaders(store: Store, practice: PracticeId, delay: std::time::Duration) -> Loaders {
    DataLoader::with_cache(
        StoreLoader { store, practice },
        tokio::spawn,
        async_graphql::dataloader::HashMapCache::default(),
    )
    .delay(delay)
}

/// A row by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ById<T>(pub T);

impl<T: Table> Loader<ById<T>> for StoreLoader {
    type Value = Arc<Stored<T::Record>>;
    type Error = ApiError;

    async fn load(&self, keys: &[ById<T>]) -> Result<HashMap<ById<T>, Self::Value>, Self::Error> {
        let ids: Vec<T> = keys.iter().map(|k| k.0).collect();
        let rows = self.store.get_many(self.practice, &ids).await?;
        Ok(rows.into_iter().map(|r| (ById(r.id), Arc::new(r))).collect())
    }
}

/// The children of one parent, one page.
pub struct Children<T, P> {
    /// The parent.
    pub parent: P,
    /// Through which column.
    pub link: Link<T, P>,
    /// Which page, in which order.
    pub page: ChildPage<T>,
}

impl<T, P: Copy> Clone for Children<T, P> {
    fn clone(&self) -> Self {
        Children { parent: self.parent, link: self.link, page: self.page }
    }
}

type Shape = (&'static str, &'static str, bool, Option<u64>, u64);

impl<T, P> Children<T, P> {
    fn shape(&self) -> Shape {
        (self.link.column(), self.page.sort.column(), self.page.descending, self.page.limit, self.page.offset)
    }
}

impl<T, P: PartialEq> PartialEq for Children<T, P> {
    fn eq(&self, other: &Self) -> bool {
        self.parent == other.parent && self.shape() == other.shape()
    }
}
impl<T, P: Eq> Eq for Children<T, P> {}
impl<T, P: Hash> Hash for Children<T, P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
        self.shape().hash(state);
    }
}

impl<T: Table, P: EntityId> Loader<Children<T, P>> for StoreLoader {
    type Value = Arc<Vec<Arc<Stored<T::Record>>>>;
    type Error = ApiError;

    async fn load(&self, keys: &[Children<T, P>]) -> Result<HashMap<Children<T, P>, Self::Value>, Self::Error> {
        // One statement per page shape (a query asks for few shapes; most for one).
        let mut shapes: HashMap<Shape, Vec<&Children<T, P>>> = HashMap::new();
        for key in keys {
            shapes.entry(key.shape()).or_default().push(key);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for group in shapes.into_values() {
            let first = group[0];
            let parents: Vec<P> = group.iter().map(|k| k.parent).collect();
            let rows = self.store.children_of(self.practice, first.link, &parents, first.page).await?;
            let mut by_parent: HashMap<P, Vec<Arc<Stored<T::Record>>>> = HashMap::new();
            for (parent, row) in rows {
                by_parent.entry(parent).or_default().push(Arc::new(row));
            }
            for key in group {
                let rows = by_parent.remove(&key.parent).unwrap_or_default();
                out.insert(key.clone(), Arc::new(rows));
            }
        }
        Ok(out)
    }
}

/// How many children one parent has.
pub struct ChildCount<T, P> {
    /// The parent.
    pub parent: P,
    /// Through which column.
    pub link: Link<T, P>,
}

impl<T, P: Copy> Clone for ChildCount<T, P> {
    fn clone(&self) -> Self {
        ChildCount { parent: self.parent, link: self.link }
    }
}
impl<T, P: PartialEq> PartialEq for ChildCount<T, P> {
    fn eq(&self, other: &Self) -> bool {
        self.parent == other.parent && self.link.column() == other.link.column()
    }
}
impl<T, P: Eq> Eq for ChildCount<T, P> {}
impl<T, P: Hash> Hash for ChildCount<T, P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parent.hash(state);
        self.link.column().hash(state);
    }
}

impl<T: Table, P: EntityId> Loader<ChildCount<T, P>> for StoreLoader {
    type Value = u64;
    type Error = ApiError;

    async fn load(&self, keys: &[ChildCount<T, P>]) -> Result<HashMap<ChildCount<T, P>, u64>, Self::Error> {
        let mut links: HashMap<&'static str, Vec<&ChildCount<T, P>>> = HashMap::new();
        for key in keys {
            links.entry(key.link.column()).or_default().push(key);
        }
        let mut out = HashMap::with_capacity(keys.len());
        for group in links.into_values() {
            let parents: Vec<P> = group.iter().map(|k| k.parent).collect();
            let counts: HashMap<P, u64> =
                self.store.count_children(self.practice, group[0].link, &parents).await?.into_iter().collect();
            for key in group {
                out.insert(key.clone(), counts.get(&key.parent).copied().unwrap_or(0));
            }
        }
        Ok(out)
    }
}
