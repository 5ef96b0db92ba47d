//! One schema type per canonical entity, declared with [`entity!`]: its fields (documented
//! as in the canonical model), its references (loaded through the request's dataloader),
//! its lists of children (Relay connections paged in SQL) and any computed fields.

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use crate::enums;

pub(crate) mod entities;
pub use entities::*;

/// Where a row came from.
#[derive(SimpleObject, Debug, Clone)]
pub struct SourceInfo {
    /// The PMS.
    pub system: enums::Source,
    /// The row's key in the PMS (`PatNum`, a TDental GUID…).
    pub key: String,
    /// The PMS's own change stamp, where it has one.
    pub updated_at: Option<DateTime<Utc>>,
    /// When a sync last wrote the row's content.
    pub synced_at: DateTime<Utc>,
    /// When a sync found the row gone from the PMS (it is kept, soft-deleted).
    pub deleted_at: Option<DateTime<Utc>>,
}

impl SourceInfo {
    pub(crate) fn of(meta: &enamel_domain::RowMeta) -> Self {
        SourceInfo {
            system: meta.source.into(),
            key: meta.source_id.as_str().to_owned(),
            updated_at: meta.source_updated_at,
            synced_at: meta.synced_at,
            deleted_at: meta.deleted_at,
        }
    }
}

/// Declares an entity's schema type. `extra { … }` adds hand-written resolvers to the same
/// object.
macro_rules! entity {
    (
        $(#[$doc:meta])*
        $name:ident($id:ident, $rec:ty) {
            fields { $( $(#[$fdoc:meta])* $field:ident: $fty:ty, )* }
            refs { $( $(#[$rdoc:meta])* $rname:ident: $rcol:ident => $rtarget:ident, )* }
            opt_refs { $( $(#[$odoc:meta])* $oname:ident: $ocol:ident => $otarget:ident, )* }
            lists { $( $(#[$ldoc:meta])* $lname:ident: $ltarget:ident via $lmod:ident::$llink:ident by $lsort:ident $ldir:ident, )* }
            extra { $($extra:tt)* }
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(pub(crate) std::sync::Arc<enamel_domain::Stored<$rec>>);

        impl crate::connection::Entity for $name {
            type Id = enamel_domain::ids::$id;
            const NAME: &'static str = stringify!($name);
            fn wrap(row: std::sync::Arc<enamel_domain::Stored<$rec>>) -> Self {
                $name(row)
            }
            fn owner_of(row: &enamel_domain::Stored<$rec>) -> crate::phi::Owner {
                <$rec as crate::phi::PatientOf>::owner_of(row)
            }
        }

        impl crate::plain::PlainEntity for $name {
            const HOLDER: crate::phi::Holder = <$rec as crate::phi::PatientOf>::HOLDER;

            fn fields() -> &'static crate::plain::Fields {
                static FIELDS: std::sync::OnceLock<crate::plain::Fields> = std::sync::OnceLock::new();
                FIELDS.get_or_init(|| crate::plain::Fields {
                    scalars: vec![$(
                        (
                            crate::plain::camel(stringify!($field)),
                            stringify!($field),
                            (|cell: &serde_json::Value, currency, sub: &[(String, String)], out: &mut Vec<u8>| {
                                let value = <$fty as enamel_store::CellValue>::from_cell(cell).ok()?;
                                crate::plain::PlainOut::write(&crate::present::Present::present(&value, currency), sub, out)
                            }) as crate::plain::WriteFn,
                        ),
                    )*],
                    refs: vec![
                        $((crate::plain::camel(stringify!($rname)), stringify!($rcol), false, crate::plain::object::<$rtarget> as crate::plain::PlanFn),)*
                        $((crate::plain::camel(stringify!($oname)), stringify!($ocol), true, crate::plain::object::<$otarget> as crate::plain::PlanFn),)*
                    ],
                    lists: vec![$(
                        (
                            crate::plain::camel(stringify!($lname)),
                            (|node: &mut enamel_store::TreeNode, limit, child| {
                                node.children(
                                    enamel_store::tables::$lmod::$llink,
                                    enamel_store::tables::$lmod::$lsort,
                                    entity!(@desc $ldir),
                                    limit,
                                    None,
                                    child,
                                )
                            }) as crate::plain::AddList,
                            crate::plain::object::<$ltarget> as crate::plain::PlanFn,
                        ),
                    )*],
                })
            }
        }

        #[async_graphql::Object]
        impl $name {
            /// Opaque global id (`node(id:)` finds the object by it).
            pub async fn id(&self) -> async_graphql::ID {
                crate::global_id::encode(stringify!($name), enamel_domain::EntityId::uuid(self.0.id))
            }

            /// Where the row came from and when it was synced.
            async fn source(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<crate::types::SourceInfo> {
                crate::viewer::reader(ctx)?;
                Ok(crate::types::SourceInfo::of(&self.0.meta))
            }

            $(
                $(#[$fdoc])*
                async fn $field(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<<$fty as crate::present::Present>::Out> {
                    crate::viewer::reader(ctx)?;
                    Ok(crate::present::Present::present(&self.0.data.$field, crate::viewer::currency(ctx)))
                }
            )*

            $(
                $(#[$rdoc])*
                async fn $rname(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<$rtarget> {
                    crate::connection::load::<$rtarget>(ctx, self.0.data.$rcol).await
                }
            )*

            $(
                $(#[$odoc])*
                async fn $oname(&self, ctx: &async_graphql::Context<'_>) -> crate::error::ApiResult<Option<$otarget>> {
                    crate::connection::load_opt::<$otarget>(ctx, self.0.data.$ocol).await
                }
            )*

            $(
                $(#[$ldoc])*
                async fn $lname(
                    &self,
                    ctx: &async_graphql::Context<'_>,
                    #[graphql(desc = "At most this many (default 20, at most 500).")] first: Option<i32>,
                    #[graphql(desc = "The cursor of the last item of the previous page.")] after: Option<String>,
                ) -> crate::error::ApiResult<crate::connection::Conn<$ltarget>> {
                    crate::connection::children::<$ltarget, _>(
                        ctx,
                        self.0.id,
                        enamel_store::tables::$lmod::$llink,
                        enamel_store::tables::$lmod::$lsort,
                        entity!(@desc $ldir),
                        first,
                        after,
                    )
                    .await
                }
            )*

            $($extra)*
        }
    };
    (@desc asc) => { false };
    (@desc desc) => { true };
}

pub(crate) use entity;
