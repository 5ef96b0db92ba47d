//! Hand-built rows for the views' unit tests.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::{Amount, Currency, PracticeId, Record, RowMeta, Source, SourceKey, Stored};

/// Bookkeeping of a live row.
pub(crate) fn meta() -> RowMeta {
    RowMeta {
        practice_id: PracticeId(Uuid::nil()),
        source: Source::OpenDental,
        source_id: SourceKey::from(1_i64),
        source_updated_at: None,
        content_hash: 0,
        synced_at: DateTime::<Utc>::UNIX_EPOCH,
        deleted_at: None,
    }
}

/// A live stored row with a fresh id.
pub(crate) fn stored<T: Record>(data: T) -> Stored<T> {
    Stored { id: T::Id::from(Uuid::now_v7()), meta: meta(), data }
}

/// A live stored row with the id `n` (ids sort by `n`).
pub(crate) fn stored_n<T: Record>(n: u128, data: T) -> Stored<T> {
    Stored { id: T::Id::from(Uuid::from_u128(n)), meta: meta(), data }
}

/// The same row, soft-deleted.
pub(crate) fn deleted<T: Record>(mut row: Stored<T>) -> Stored<T> {
    row.meta.deleted_at = Some(DateTime::<Utc>::UNIX_EPOCH);
    row
}

/// A date.
pub(crate) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a real date")
}

/// A US dollar amount from its decimal text.
pub(crate) fn usd(text: &str) -> Amount {
    Currency::Usd.parse_amount(text).expect("a decimal amount")
}

/// A typed id from a number.
pub(crate) fn id<I: From<Uuid>>(n: u128) -> I {
    I::from(Uuid::from_u128(n))
}
