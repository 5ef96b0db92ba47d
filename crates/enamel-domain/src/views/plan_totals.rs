//! Treatment plan totals: fee, discount, insurance, patient portion and what is left to pay.

use std::collections::HashMap;

use serde::Serialize;

use super::is_live;
use crate::ids::TreatmentPlanItemId;
use crate::records::TreatmentPlanItem;
use crate::{Amount, Stored};

/// The money of a treatment plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PlanTotals {
    /// The sum of the item fees.
    pub fee: Amount,
    /// The sum of the item discounts.
    pub discount: Amount,
    /// The sum of the items' insurance estimates.
    pub insurance_estimate: Amount,
    /// `fee - discount - insurance_estimate`. Not clamped: it is negative when the
    /// estimates exceed the discounted fee.
    pub patient_portion: Amount,
    /// What the patient has paid towards the plan.
    pub paid: Amount,
    /// `patient_portion - paid`: still to pay, or, when negative, overpaid.
    pub residual: Amount,
}

/// Totals of a treatment plan's items.
///
/// An item's insurance estimate is its live estimate from `estimates` when one is given
/// (`Some`), else the estimate the PMS saved on the item, else zero. Soft-deleted items are
/// ignored. `paid` is what the patient paid towards the plan; the residual is not floored,
/// so an overpaid plan has a negative residual.
pub fn plan_totals(
    items: &[Stored<TreatmentPlanItem>],
    estimates: &[(TreatmentPlanItemId, Option<Amount>)],
    paid: Amount,
) -> PlanTotals {
    let live: HashMap<TreatmentPlanItemId, Amount> =
        estimates.iter().filter_map(|(id, estimate)| estimate.map(|e| (*id, e))).collect();
    let items: Vec<_> = items.iter().filter(|i| is_live(&i.meta)).collect();
    let fee: Amount = items.iter().map(|i| i.data.fee).sum();
    let discount: Amount = items.iter().map(|i| i.data.discount).sum();
    let insurance_estimate: Amount =
        items.iter().map(|i| live.get(&i.id).copied().or(i.data.insurance_estimate).unwrap_or(Amount::ZERO)).sum();
    let patient_portion = fee - discount - insurance_estimate;
    PlanTotals { fee, discount, insurance_estimate, patient_portion, paid, residual: patient_portion - paid }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToothList;
    use crate::views::test_support::{deleted, id, stored_n, usd};

    fn item(n: u128, fee: &str, discount: &str, saved_estimate: Option<&str>) -> Stored<TreatmentPlanItem> {
        stored_n(
            n,
            TreatmentPlanItem {
                treatment_plan_id: id(1),
                procedure_id: None,
                procedure_code_id: None,
                description: None,
                teeth: ToothList::default(),
                tooth_text: None,
                priority: None,
                sort_order: 0,
                fee: usd(fee),
                discount: usd(discount),
                insurance_estimate: saved_estimate.map(usd),
                patient_portion: None,
            },
        )
    }

    fn items() -> Vec<Stored<TreatmentPlanItem>> {
        vec![
            item(1, "1000.00", "100.00", Some("300.00")),
            item(2, "200.00", "0", Some("120.00")),
            item(3, "50.00", "5.00", None),
            deleted(item(4, "999.00", "0", Some("999.00"))),
        ]
    }

    #[test]
    fn sums_fees_discounts_and_saved_estimates() {
        let totals = plan_totals(&items(), &[], usd("200.00"));
        assert_eq!(
            totals,
            PlanTotals {
                fee: usd("1250.00"),
                discount: usd("105.00"),
                insurance_estimate: usd("420.00"),
                patient_portion: usd("725.00"),
                paid: usd("200.00"),
                residual: usd("525.00"),
            }
        );
    }

    #[test]
    fn live_estimates_replace_saved_ones() {
        let estimates = [(id(1), Some(usd("450.00"))), (id(2), None), (id(3), Some(usd("40.00")))];
        let totals = plan_totals(&items(), &estimates, Amount::ZERO);
        assert_eq!(totals.insurance_estimate, usd("610.00")); // 450 + saved 120 + 40
        assert_eq!(totals.patient_portion, usd("535.00")); // 1250 - 105 - 610
        assert_eq!(totals.residual, usd("535.00"));
    }

    #[test]
    fn an_overpaid_plan_has_a_negative_residual() {
        let totals = plan_totals(&items(), &[], usd("800.00"));
        assert_eq!(totals.residual, usd("-75.00"));
        assert_eq!(plan_totals(&[], &[], Amount::ZERO), PlanTotals::default());
    }
}
