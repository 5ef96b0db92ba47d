//! Read-side views computed from stored rows: ledgers, A/R aging, fee lookup, insurance
//! coverage estimates and treatment plan totals.
//!
//! Everything here is a pure function of the rows the caller passes in: no I/O, no clock.
//! Money is integer minor units ([`Amount`](crate::Amount)); where a percentage is taken
//! ([`percent_of`]) the result is rounded half away from zero on the minor unit.
//! Soft-deleted rows (`meta.deleted_at` set) are ignored throughout.

pub mod aging;
pub mod coverage;
pub mod fees;
pub mod ledger;
pub mod plan_totals;

#[cfg(test)]
mod test_support;

pub use aging::{Aging, aging};
pub use coverage::{
    BenefitUse, CoverageEstimate, CoverageInput, CoverageRequest, Limitation, PlanEstimate, benefit_year_start,
    estimate_coverage, percent_of,
};
pub use fees::{FeeBasis, FeeQuote, fee_for};
pub use ledger::{Ledger, LedgerEntry, LedgerEntryKind, LedgerInput, LedgerSource, ledger, procedure_charge};
pub use plan_totals::{PlanTotals, plan_totals};

use crate::row::RowMeta;

/// Whether a row is still present in its PMS (not soft-deleted by a reconciliation).
fn is_live(meta: &RowMeta) -> bool {
    meta.deleted_at.is_none()
}
