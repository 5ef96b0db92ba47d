//! How domain values appear in the schema: money with its currency, partial dates as text,
//! teeth as FDI numbers, enums as their SCREAMING_CASE mirrors.

use async_graphql::{Json, OutputType, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use enamel_domain::{Amount, Currency, PartialDate, ToothList};

use crate::enums;

/// An amount of money.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct Money {
    /// Decimal amount without a currency sign (`"123.45"`, `"-0.05"`, `"150000"`).
    pub amount: String,
    /// ISO 4217 currency code (`USD`, `VND`).
    pub currency: String,
    /// The amount in minor units (cents for USD; VND has none).
    pub minor_units: i64,
}

impl Money {
    /// Formats an amount in a currency.
    pub fn of(amount: Amount, currency: Currency) -> Money {
        Money {
            amount: amount.with(currency).to_string(),
            currency: currency.as_ref().to_uppercase(),
            minor_units: amount.minor(),
        }
    }
}

/// A domain value as its schema value. Money needs the practice currency.
pub(crate) trait Present {
    /// The schema type.
    type Out: OutputType;
    /// Converts.
    fn present(&self, currency: Currency) -> Self::Out;
}

macro_rules! as_is {
    ($($t:ty),*) => {$(
        impl Present for $t {
            type Out = $t;
            fn present(&self, _: Currency) -> $t {
                self.clone()
            }
        }
    )*};
}

as_is!(String, bool, i32, f64, NaiveDate, DateTime<Utc>);

impl Present for i16 {
    type Out = i32;
    fn present(&self, _: Currency) -> i32 {
        i32::from(*self)
    }
}

impl<T: Present> Present for Option<T> {
    type Out = Option<T::Out>;
    fn present(&self, currency: Currency) -> Self::Out {
        self.as_ref().map(|v| v.present(currency))
    }
}

impl Present for Amount {
    type Out = Money;
    fn present(&self, currency: Currency) -> Money {
        Money::of(*self, currency)
    }
}

impl Present for PartialDate {
    type Out = String;
    /// ISO-8601 where complete (`2003-04-05`); `2003`, `2003-04` or `--04-05` when partial.
    fn present(&self, _: Currency) -> String {
        match (self.year(), self.month(), self.day()) {
            (Some(y), Some(m), Some(d)) => format!("{y:04}-{m:02}-{d:02}"),
            (Some(y), Some(m), None) => format!("{y:04}-{m:02}"),
            (Some(y), None, _) => format!("{y:04}"),
            (None, Some(m), Some(d)) => format!("--{m:02}-{d:02}"),
            (None, Some(m), None) => format!("--{m:02}"),
            (None, None, _) => self.to_string(),
        }
    }
}

impl Present for ToothList {
    type Out = Vec<i32>;
    fn present(&self, _: Currency) -> Vec<i32> {
        self.teeth().iter().map(|t| i32::from(t.number())).collect()
    }
}

impl Present for serde_json::Value {
    type Out = Json<serde_json::Value>;
    fn present(&self, _: Currency) -> Self::Out {
        Json(self.clone())
    }
}

macro_rules! mirrored {
    ($($name:ident => $path:path),* $(,)?) => {$(
        impl Present for $path {
            type Out = enums::$name;
            fn present(&self, _: Currency) -> enums::$name {
                (*self).into()
            }
        }

        impl crate::plain::PlainOut for enums::$name {
            fn write(&self, sub: &[(String, String)], out: &mut Vec<u8>) -> Option<()> {
                crate::plain::write_value(self, sub, out)
            }
        }
    )*};
}

mirrored! {
    ProviderKind => enamel_domain::enums::ProviderKind,
    Gender => enamel_domain::enums::Gender,
    PatientStatus => enamel_domain::enums::PatientStatus,
    AppointmentStatus => enamel_domain::enums::AppointmentStatus,
    CheckInState => enamel_domain::enums::CheckInState,
    VisitState => enamel_domain::enums::VisitState,
    ProcedureStatus => enamel_domain::enums::ProcedureStatus,
    TreatmentPlanKind => enamel_domain::enums::TreatmentPlanKind,
    TreatmentPlanStatus => enamel_domain::enums::TreatmentPlanStatus,
    ClaimType => enamel_domain::enums::ClaimType,
    ClaimStatus => enamel_domain::enums::ClaimStatus,
    ClaimProcedureStatus => enamel_domain::enums::ClaimProcedureStatus,
    PaymentKind => enamel_domain::enums::PaymentKind,
    PaymentStatus => enamel_domain::enums::PaymentStatus,
    ReferralDirection => enamel_domain::enums::ReferralDirection,
    ReferralSourceKind => enamel_domain::enums::ReferralSourceKind,
    ProcedureCodeKind => enamel_domain::enums::ProcedureCodeKind,
    BenefitKind => enamel_domain::enums::BenefitKind,
    CoverageLevel => enamel_domain::enums::CoverageLevel,
    BenefitPeriod => enamel_domain::enums::BenefitPeriod,
    CommMode => enamel_domain::enums::CommMode,
    CommDirection => enamel_domain::enums::CommDirection,
    InventoryKind => enamel_domain::enums::InventoryKind,
    StockPickingKind => enamel_domain::enums::StockPickingKind,
    StockState => enamel_domain::enums::StockState,
    ToothScope => enamel_domain::ToothScope,
    Source => enamel_domain::Source,
}
