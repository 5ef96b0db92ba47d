//! How a synced table is described to the generic code in [`crate::upsert`],
//! [`crate::read`] and [`crate::reconcile`], and the macro that describes one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::marker::PhantomData;

use enamel_domain::{EntityId, SourceKey};
use uuid::Uuid;

/// A synced table, named by the id type of its rows (`PatientId`, `ProcedureId`…).
pub trait Table: sealed::TableDef {}

/// A record an adapter can hand to [`crate::Tx::upsert`]: the `Keyed` form of a record.
pub trait Upsert: sealed::UpsertDef {}

/// A typed parent link: rows of `T` pointing at a `P` through one column.
/// Each table module lists its links (`appointment::BY_PATIENT`).
pub struct Link<T, P> {
    pub(crate) column: &'static str,
    _types: PhantomData<fn() -> (T, P)>,
}

impl<T, P> Link<T, P> {
    pub(crate) const fn new(column: &'static str) -> Self {
        Self { column, _types: PhantomData }
    }

    /// The column that holds the parent's id.
    pub fn column(&self) -> &'static str {
        self.column
    }
}

impl<T, P> Clone for Link<T, P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T, P> Copy for Link<T, P> {}

impl<T, P> std::fmt::Debug for Link<T, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Link({})", self.column)
    }
}

/// A typed sort key of table `T`. Each table module lists its keys
/// (`appointment::START_AT`); every sort breaks ties by id.
pub struct Sort<T> {
    pub(crate) column: &'static str,
    _table: PhantomData<fn() -> T>,
}

impl<T> Sort<T> {
    pub(crate) const fn new(column: &'static str) -> Self {
        Self { column, _table: PhantomData }
    }

    /// Creation order (ids are time-ordered UUIDs), for any table.
    pub fn by_id() -> Self {
        Self::new("id")
    }

    /// The column sorted on.
    pub fn column(&self) -> &'static str {
        self.column
    }
}

impl<T> Clone for Sort<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Sort<T> {}

impl<T> std::fmt::Debug for Sort<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sort({})", self.column)
    }
}

/// The PMS keys a batch refers to, by target table.
#[derive(Default)]
pub(crate) struct RefKeys<'a> {
    pub(crate) by_table: BTreeMap<&'static str, BTreeSet<&'a SourceKey>>,
}

impl<'a> RefKeys<'a> {
    pub(crate) fn add<I: EntityId>(&mut self, key: &'a SourceKey) {
        self.by_table.entry(I::ENTITY).or_default().insert(key);
    }

    pub(crate) fn add_opt<I: EntityId>(&mut self, key: Option<&'a SourceKey>) {
        if let Some(k) = key {
            self.add::<I>(k);
        }
    }
}

/// Internal ids of the keys in [`RefKeys`], by target table.
#[derive(Default)]
pub(crate) struct Resolved {
    pub(crate) by_table: HashMap<&'static str, HashMap<SourceKey, Uuid>>,
}

/// A reference whose target is not in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The referencing column.
    pub column: &'static str,
    /// The table referred to.
    pub target: &'static str,
    /// The PMS key that is missing.
    pub key: SourceKey,
}

impl Resolved {
    pub(crate) fn get<I: EntityId>(&self, column: &'static str, key: &SourceKey) -> Result<Uuid, Unresolved> {
        self.by_table.get(I::ENTITY).and_then(|m| m.get(key)).copied().ok_or_else(|| Unresolved {
            column,
            target: I::ENTITY,
            key: key.clone(),
        })
    }

    pub(crate) fn get_opt<I: EntityId>(
        &self,
        column: &'static str,
        key: Option<&SourceKey>,
    ) -> Result<Option<Uuid>, Unresolved> {
        key.map(|k| self.get::<I>(column, k)).transpose()
    }
}

/// The bookkeeping values of one row being written.
pub(crate) struct RowHead {
    pub(crate) id: Uuid,
    pub(crate) practice_id: Uuid,
    pub(crate) source: String,
    pub(crate) source_id: String,
    pub(crate) source_updated_at: Option<chrono::DateTime<chrono::Utc>>,
    pub(crate) content_hash: i64,
    pub(crate) synced_at: chrono::DateTime<chrono::Utc>,
}

/// The bookkeeping columns every synced table has.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Common {
    Id,
    PracticeId,
    Source,
    SourceId,
    SyncedAt,
    DeletedAt,
}

/// Sealed: implemented only by [`synced_table!`]; its helper types are crate-private.
pub(crate) mod sealed {
    #![allow(private_interfaces)]
    use enamel_domain::{EntityId, Record, Stored};
    use sea_orm::{
        ActiveModelBehavior, ActiveModelTrait, ColumnTrait, EntityTrait, FromQueryResult, IntoActiveModel, Iterable,
        ModelTrait,
    };
    use serde::Serialize;

    use super::{Common, RefKeys, Resolved, RowHead, Unresolved};
    use crate::Result;

    pub trait TableDef: EntityId {
        const TABLE: &'static str;
        type Record: Record<Id = Self>;
        type Column: ColumnTrait + Iterable + Copy + Send + Sync;
        type Entity: EntityTrait<Model = Self::Model, ActiveModel = Self::Active, Column = Self::Column>;
        type Model: ModelTrait<Entity = Self::Entity> + FromQueryResult + IntoActiveModel<Self::Active> + Send + Sync;
        type Active: ActiveModelTrait<Entity = Self::Entity> + ActiveModelBehavior + Send + Sync;

        fn column(c: Common) -> Self::Column;
        fn stored(m: Self::Model) -> Result<Stored<Self::Record>>;
    }

    pub trait UpsertDef: Serialize + Send + Sync + 'static {
        type Id: super::Table;
        fn collect_refs<'a>(&'a self, refs: &mut RefKeys<'a>);
        fn to_active(&self, head: RowHead, refs: &Resolved) -> Result<<Self::Id as TableDef>::Active, Unresolved>;
    }
}

/// Declares one synced table: its SeaORM entity (bookkeeping columns first, then
/// references, then fields), its conversions to and from the domain record, its typed
/// parent links and sort keys.
macro_rules! synced_table {
    (
        $(#[$doc:meta])*
        $module:ident: $table:literal, $id:ident, $rec:ident<K> {
            refs { $($rcol:ident: $rid:ident => $rlink:ident,)* }
            opt_refs { $($ocol:ident: $oid:ident => $olink:ident,)* }
            fields { $($fcol:ident: $fty:ty,)* }
            sorts { $($sname:ident = $scol:ident,)* }
        }
    ) => {
        synced_table!(@impl $(#[$doc])* $module, $table, $id, $rec<enamel_domain::Keyed>, $rec<enamel_domain::Linked>,
            [$($rcol: $rid => $rlink,)*] [$($ocol: $oid => $olink,)*] [$($fcol: $fty,)*] [$($sname = $scol,)*]);
    };
    (
        $(#[$doc:meta])*
        $module:ident: $table:literal, $id:ident, $rec:ident {
            fields { $($fcol:ident: $fty:ty,)* }
            sorts { $($sname:ident = $scol:ident,)* }
        }
    ) => {
        synced_table!(@impl $(#[$doc])* $module, $table, $id, $rec, $rec,
            [] [] [$($fcol: $fty,)*] [$($sname = $scol,)*]);
    };
    (@impl $(#[$doc:meta])* $module:ident, $table:literal, $id:ident, $keyed:ty, $linked:ty,
        [$($rcol:ident: $rid:ident => $rlink:ident,)*]
        [$($ocol:ident: $oid:ident => $olink:ident,)*]
        [$($fcol:ident: $fty:ty,)*]
        [$($sname:ident = $scol:ident,)*]
    ) => {
        $(#[$doc])*
        pub mod $module {
            #![allow(missing_docs, unreachable_pub, unused_imports, unused_variables, private_interfaces, clippy::enum_variant_names)]
            use enamel_domain::ids::*;
            use enamel_domain::records::*;
            use enamel_domain::{Stored, EntityId};
            use sea_orm::entity::prelude::*;
            use sea_orm::ActiveValue::Set;

            use crate::column::Col;
            use crate::table::{sealed, Common, Link, RefKeys, Resolved, RowHead, Sort, Unresolved};

            /// The row as SeaORM sees it.
            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key, auto_increment = false)]
                pub id: Uuid,
                pub practice_id: Uuid,
                pub source: String,
                pub source_id: String,
                pub source_updated_at: Option<DateTimeUtc>,
                pub content_hash: i64,
                pub synced_at: DateTimeUtc,
                pub deleted_at: Option<DateTimeUtc>,
                $(pub $rcol: Uuid,)*
                $(pub $ocol: Option<Uuid>,)*
                $(pub $fcol: $fty,)*
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}

            /// The stored form of the record.
            type LinkedRecord = $linked;

            $(
                /// Rows by this parent.
                pub const $rlink: Link<$id, $rid> = Link::new(stringify!($rcol));
            )*
            $(
                /// Rows by this parent.
                pub const $olink: Link<$id, $oid> = Link::new(stringify!($ocol));
            )*
            /// Creation order (ids are time-ordered).
            pub const ID: Sort<$id> = Sort::new("id");

            /// This table and its references: (column, target table).
            pub(crate) const REFERENCES: (&str, &[(&str, &str)]) = ($table, &[
                $((stringify!($rcol), <$rid as EntityId>::ENTITY),)*
                $((stringify!($ocol), <$oid as EntityId>::ENTITY),)*
            ]);
            $(
                /// Sort by this column.
                pub const $sname: Sort<$id> = Sort::new(stringify!($scol));
            )*

            impl sealed::TableDef for $id {
                const TABLE: &'static str = $table;
                type Record = $linked;
                type Column = Column;
                type Entity = Entity;
                type Model = Model;
                type Active = ActiveModel;

                fn column(c: Common) -> Column {
                    match c {
                        Common::Id => Column::Id,
                        Common::PracticeId => Column::PracticeId,
                        Common::Source => Column::Source,
                        Common::SourceId => Column::SourceId,
                        Common::SyncedAt => Column::SyncedAt,
                        Common::DeletedAt => Column::DeletedAt,
                    }
                }

                fn stored(m: Model) -> crate::Result<Stored<$linked>> {
                    let row = m.id;
                    let corrupt = |column: &'static str, reason: String| crate::StoreError::Corrupt { table: $table, column, row, reason };
                    let meta = crate::table::meta($table, row, m.practice_id, m.source, m.source_id, m.source_updated_at, m.content_hash, m.synced_at, m.deleted_at)?;
                    let data = LinkedRecord {
                        $($rcol: m.$rcol.into(),)*
                        $($ocol: m.$ocol.map(Into::into),)*
                        $($fcol: Col::<$fty>::from_col(m.$fcol).map_err(|r| corrupt(stringify!($fcol), r))?,)*
                    };
                    Ok(Stored { id: <$id>::from(row), meta, data })
                }
            }

            impl crate::Table for $id {}

            impl sealed::UpsertDef for $keyed {
                type Id = $id;

                #[allow(unused_variables)]
                fn collect_refs<'a>(&'a self, refs: &mut RefKeys<'a>) {
                    $(refs.add::<$rid>(&self.$rcol);)*
                    $(refs.add_opt::<$oid>(self.$ocol.as_ref());)*
                }

                #[allow(unused_variables)]
                fn to_active(&self, head: RowHead, refs: &Resolved) -> Result<ActiveModel, Unresolved> {
                    Ok(ActiveModel {
                        id: Set(head.id),
                        practice_id: Set(head.practice_id),
                        source: Set(head.source),
                        source_id: Set(head.source_id),
                        source_updated_at: Set(head.source_updated_at),
                        content_hash: Set(head.content_hash),
                        synced_at: Set(head.synced_at),
                        deleted_at: Set(None),
                        $($rcol: Set(refs.get::<$rid>(stringify!($rcol), &self.$rcol)?),)*
                        $($ocol: Set(refs.get_opt::<$oid>(stringify!($ocol), self.$ocol.as_ref())?),)*
                        $($fcol: Set(Col::<$fty>::to_col(&self.$fcol)),)*
                    })
                }
            }

            impl crate::Upsert for $keyed {}
        }
    };
}

pub(crate) use synced_table;

/// Builds a row's bookkeeping from its columns.
#[allow(clippy::too_many_arguments)]
pub(crate) fn meta(
    table: &'static str,
    row: Uuid,
    practice_id: Uuid,
    source: String,
    source_id: String,
    source_updated_at: Option<chrono::DateTime<chrono::Utc>>,
    content_hash: i64,
    synced_at: chrono::DateTime<chrono::Utc>,
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
) -> crate::Result<enamel_domain::RowMeta> {
    let corrupt = |column: &'static str, reason: String| crate::StoreError::Corrupt { table, column, row, reason };
    Ok(enamel_domain::RowMeta {
        practice_id: practice_id.into(),
        source: source.parse().map_err(|_| corrupt("source", format!("unknown source {source:?}")))?,
        source_id: SourceKey::parse(&source_id).map_err(|e| corrupt("source_id", e.to_string()))?,
        source_updated_at,
        content_hash,
        synced_at,
        deleted_at,
    })
}
