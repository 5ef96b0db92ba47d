//! Conversions between domain values and their column representation.

use chrono::{DateTime, Utc};
use enamel_domain::enums::*;
use enamel_domain::{Amount, PartialDate, ToothList, ToothScope};

/// A domain value stored in a column of type `S`.
pub(crate) trait Col<S>: Sized {
    /// The column value.
    fn to_col(&self) -> S;
    /// The domain value, or why the column value is not one.
    fn from_col(s: S) -> Result<Self, String>;
}

impl<T: Clone> Col<T> for T {
    fn to_col(&self) -> T {
        self.clone()
    }
    fn from_col(s: T) -> Result<T, String> {
        Ok(s)
    }
}

macro_rules! text_enums {
    ($($t:ty),* $(,)?) => {$(
        impl Col<String> for $t {
            fn to_col(&self) -> String {
                self.as_ref().to_owned()
            }
            fn from_col(s: String) -> Result<Self, String> {
                s.parse().map_err(|_| format!("unknown {} {s:?}", stringify!($t)))
            }
        }
    )*};
}

text_enums!(
    ProviderKind,
    Gender,
    PatientStatus,
    AppointmentStatus,
    CheckInState,
    VisitState,
    ProcedureStatus,
    TreatmentPlanKind,
    TreatmentPlanStatus,
    ClaimType,
    ClaimStatus,
    ClaimProcedureStatus,
    PaymentKind,
    PaymentStatus,
    ReferralDirection,
    ReferralSourceKind,
    ProcedureCodeKind,
    BenefitKind,
    CoverageLevel,
    BenefitPeriod,
    CommMode,
    CommDirection,
    InventoryKind,
    StockPickingKind,
    StockState,
    ToothScope,
);

impl Col<i64> for Amount {
    fn to_col(&self) -> i64 {
        self.minor()
    }
    fn from_col(s: i64) -> Result<Self, String> {
        Ok(Amount(s))
    }
}

impl Col<Option<i64>> for Option<Amount> {
    fn to_col(&self) -> Option<i64> {
        self.map(Amount::minor)
    }
    fn from_col(s: Option<i64>) -> Result<Self, String> {
        Ok(s.map(Amount))
    }
}

impl Col<String> for ToothList {
    fn to_col(&self) -> String {
        self.to_string()
    }
    fn from_col(s: String) -> Result<Self, String> {
        ToothList::parse_fdi(&s).map_err(|e| e.to_string())
    }
}

impl Col<Option<String>> for Option<PartialDate> {
    fn to_col(&self) -> Option<String> {
        self.map(|d| d.to_string())
    }
    fn from_col(s: Option<String>) -> Result<Self, String> {
        s.map(|s| PartialDate::parse(&s).map_err(|e| e.to_string())).transpose()
    }
}

/// A domain value read from a column's JSON value (a [`crate::TreeRow`]'s cells): the
/// column's value, then the same conversion the store's records are built with.
pub trait CellValue: Sized {
    /// The value, or why the cell does not hold one.
    fn from_cell(cell: &serde_json::Value) -> Result<Self, String>;
}

/// Domain values stored as they are.
macro_rules! cells_as_is {
    ($($t:ty),* $(,)?) => {$(
        impl CellValue for $t {
            fn from_cell(cell: &serde_json::Value) -> Result<Self, String> {
                serde::Deserialize::deserialize(cell).map_err(|e| e.to_string())
            }
        }
        impl CellValue for Option<$t> {
            fn from_cell(cell: &serde_json::Value) -> Result<Self, String> {
                serde::Deserialize::deserialize(cell).map_err(|e| e.to_string())
            }
        }
    )*};
}

cells_as_is!(String, bool, i16, i32, i64, f64, chrono::NaiveDate, DateTime<Utc>, uuid::Uuid, serde_json::Value);

/// Domain values stored as a column of type `S` (see [`Col`]).
macro_rules! cells_via {
    ($($t:ty => $s:ty),* $(,)?) => {$(
        impl CellValue for $t {
            fn from_cell(cell: &serde_json::Value) -> Result<Self, String> {
                let stored: $s = serde::Deserialize::deserialize(cell).map_err(|e| e.to_string())?;
                <$t as Col<$s>>::from_col(stored)
            }
        }
    )*};
}

cells_via!(
    Amount => i64,
    Option<Amount> => Option<i64>,
    ToothList => String,
    Option<PartialDate> => Option<String>,
    ProviderKind => String,
    Gender => String,
    PatientStatus => String,
    AppointmentStatus => String,
    CheckInState => String,
    VisitState => String,
    ProcedureStatus => String,
    TreatmentPlanKind => String,
    TreatmentPlanStatus => String,
    ClaimType => String,
    ClaimStatus => String,
    ClaimProcedureStatus => String,
    PaymentKind => String,
    PaymentStatus => String,
    ReferralDirection => String,
    ReferralSourceKind => String,
    ProcedureCodeKind => String,
    BenefitKind => String,
    CoverageLevel => String,
    BenefitPeriod => String,
    CommMode => String,
    CommDirection => String,
    InventoryKind => String,
    StockPickingKind => String,
    StockState => String,
    ToothScope => String,
);

/// The instant every row of one write is stamped with. Truncated to microseconds, the
/// precision PostgreSQL keeps, so that what is written reads back equal on both backends.
pub(crate) fn now() -> DateTime<Utc> {
    micros(Utc::now())
}

/// An instant at microsecond precision, as both databases keep instants.
pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_values_survive_their_columns() {
        let teeth = ToothList::parse_fdi("16 17 26").unwrap_or_default();
        assert_eq!(<ToothList as Col<String>>::from_col(teeth.to_col()), Ok(teeth));
        let date = PartialDate::parse("--/--/2003").ok();
        assert_eq!(<Option<PartialDate> as Col<Option<String>>>::from_col(date.to_col()), Ok(date));
        assert!(<ProcedureStatus as Col<String>>::from_col("bogus".to_owned()).is_err());
    }
}
