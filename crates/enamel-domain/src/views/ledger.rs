//! A patient's or family's ledger: charges, payments, insurance and adjustments in date
//! order, with a running balance.
//!
//! Amounts are signed from the practice's point of view: a positive amount is a charge
//! (raises what is owed), a negative one a credit.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::is_live;
use crate::enums::{ClaimProcedureStatus, PaymentKind, PaymentStatus, ProcedureStatus};
use crate::ids::{AdjustmentId, ClaimProcedureId, PatientId, PaymentAllocationId, PaymentId, ProcedureId};
use crate::records::{Adjustment, ClaimProcedure, Payment, PaymentAllocation, Procedure};
use crate::{Amount, Stored};

/// The rows a ledger is built from: those of one patient, or of every member of a family.
#[derive(Debug, Clone, Copy, Default)]
pub struct LedgerInput<'a> {
    /// Procedures; only completed ones are charged.
    pub procedures: &'a [Stored<Procedure>],
    /// Adjustments.
    pub adjustments: &'a [Stored<Adjustment>],
    /// Payment allocations (one credit each).
    pub allocations: &'a [Stored<PaymentAllocation>],
    /// The payments the allocations refer to (for their state, date and payer).
    pub payments: &'a [Stored<Payment>],
    /// Claim procedures; received ones bring insurance payments and write-offs.
    pub claim_procedures: &'a [Stored<ClaimProcedure>],
}

/// What a ledger entry records. The order of the variants is the order of entries on the
/// same day: charges first, then adjustments, then credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerEntryKind {
    /// A completed procedure.
    Charge,
    /// An adjustment, either way.
    Adjustment,
    /// A payment allocation (patient, guarantor, refund, deposit).
    PatientPayment,
    /// Insurance paid on a claim procedure.
    InsurancePayment,
    /// Insurance write-off on a claim procedure.
    WriteOff,
}

/// The row a ledger entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "entity", content = "id", rename_all = "snake_case")]
pub enum LedgerSource {
    /// A procedure (charge).
    Procedure(ProcedureId),
    /// A payment allocation (patient payment).
    Allocation(PaymentAllocationId),
    /// A claim procedure (insurance payment or write-off).
    ClaimProcedure(ClaimProcedureId),
    /// An adjustment.
    Adjustment(AdjustmentId),
}

/// One line of a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    /// The date it counts on.
    pub on: NaiveDate,
    /// What it is.
    pub kind: LedgerEntryKind,
    /// The patient it belongs to, where known (family ledgers mix patients).
    pub patient_id: Option<PatientId>,
    /// The row it comes from.
    pub source: LedgerSource,
    /// Signed amount: positive is a charge, negative a credit.
    pub amount: Amount,
    /// The running balance after this entry.
    pub balance: Amount,
    /// A short human description.
    pub description: String,
}

/// A ledger: its entries in order and its totals.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Ledger {
    /// Entries by date, then kind, then source id.
    pub entries: Vec<LedgerEntry>,
    /// The sum of the positive entries.
    pub charges: Amount,
    /// The sum of the negative entries, as a positive amount.
    pub credits: Amount,
    /// What is owed: `charges - credits` (negative when the account is in credit).
    pub balance: Amount,
}

impl Ledger {
    /// The balance at the end of `date`: every entry dated on or before it.
    pub fn balance_on(&self, date: NaiveDate) -> Amount {
        let after = self.entries.partition_point(|e| e.on <= date);
        after.checked_sub(1).and_then(|i| self.entries.get(i)).map_or(Amount::ZERO, |e| e.balance)
    }
}

/// Builds the ledger of the given rows.
///
/// - A completed, dated procedure is a charge of [`procedure_charge`].
/// - A payment allocation is a credit of its amount, unless its payment is cancelled or
///   soft-deleted; it is dated by `allocated_on`, else the payment's `paid_on`, and
///   skipped when neither is known. Allocations whose payment is not among `payments`
///   still count.
/// - A received (or supplemental, or completed capitation) claim procedure brings an
///   insurance payment credit and a write-off credit, each when non-zero, dated by
///   `paid_date`, else `service_date`, and skipped when neither is known.
/// - An adjustment counts as signed, on `adjusted_on`.
///
/// Soft-deleted rows are ignored. Entries are ordered by date, then kind (see
/// [`LedgerEntryKind`]), then source id, so the same rows always give the same ledger.
pub fn ledger(input: &LedgerInput<'_>) -> Ledger {
    let mut entries: Vec<LedgerEntry> = charges(input.procedures)
        .chain(adjustments(input.adjustments))
        .chain(patient_payments(input.allocations, input.payments))
        .chain(insurance(input.claim_procedures))
        .collect();
    entries.sort_by_key(|e| (e.on, e.kind, e.source));
    let mut balance = Amount::ZERO;
    for entry in &mut entries {
        balance = balance + entry.amount;
        entry.balance = balance;
    }
    let charges = entries.iter().map(|e| e.amount).filter(|a| *a > Amount::ZERO).sum();
    let credits = entries.iter().map(|e| e.amount).filter(|a| *a < Amount::ZERO).map(|a| Amount::ZERO - a).sum();
    Ledger { entries, charges, credits, balance }
}

/// What a procedure charges: `fee × quantity`, rounded half away from zero to the minor
/// unit, minus the discount. A quantity that is not a finite number counts as 1.
pub fn procedure_charge(procedure: &Procedure) -> Amount {
    let quantity = if procedure.quantity.is_finite() { procedure.quantity } else { 1.0 };
    let gross = if quantity == 1.0 {
        procedure.fee
    } else {
        // `f64::round` rounds half away from zero; `as` saturates at the i64 bounds.
        Amount((procedure.fee.minor() as f64 * quantity).round() as i64)
    };
    gross - procedure.discount
}

/// An entry whose running balance is filled in later.
fn entry(
    on: NaiveDate,
    kind: LedgerEntryKind,
    patient_id: Option<PatientId>,
    source: LedgerSource,
    amount: Amount,
    description: String,
) -> LedgerEntry {
    LedgerEntry { on, kind, patient_id, source, amount, balance: Amount::ZERO, description }
}

fn charges(procedures: &[Stored<Procedure>]) -> impl Iterator<Item = LedgerEntry> + '_ {
    procedures.iter().filter(|p| is_live(&p.meta) && p.data.status == ProcedureStatus::Completed).filter_map(|p| {
        Some(entry(
            p.data.performed_on?,
            LedgerEntryKind::Charge,
            Some(p.data.patient_id),
            LedgerSource::Procedure(p.id),
            procedure_charge(&p.data),
            p.data.diagnosis.clone().unwrap_or_else(|| "Procedure".to_owned()),
        ))
    })
}

fn adjustments(adjustments: &[Stored<Adjustment>]) -> impl Iterator<Item = LedgerEntry> + '_ {
    adjustments.iter().filter(|a| is_live(&a.meta)).map(|a| {
        entry(
            a.data.adjusted_on,
            LedgerEntryKind::Adjustment,
            Some(a.data.patient_id),
            LedgerSource::Adjustment(a.id),
            a.data.amount,
            a.data.kind.clone().unwrap_or_else(|| "Adjustment".to_owned()),
        )
    })
}

fn patient_payments<'a>(
    allocations: &'a [Stored<PaymentAllocation>],
    payments: &'a [Stored<Payment>],
) -> impl Iterator<Item = LedgerEntry> + 'a {
    let by_id: HashMap<PaymentId, &Stored<Payment>> = payments.iter().map(|p| (p.id, p)).collect();
    allocations.iter().filter(|a| is_live(&a.meta)).filter_map(move |a| {
        let payment = a.data.payment_id.and_then(|id| by_id.get(&id).copied());
        if payment.is_some_and(|p| !is_live(&p.meta) || p.data.status == PaymentStatus::Cancelled) {
            return None;
        }
        Some(entry(
            a.data.allocated_on.or(payment.map(|p| p.data.paid_on))?,
            LedgerEntryKind::PatientPayment,
            a.data.patient_id.or(payment.and_then(|p| p.data.patient_id)),
            LedgerSource::Allocation(a.id),
            Amount::ZERO - a.data.amount,
            payment.map_or_else(|| "Payment".to_owned(), |p| describe_payment(&p.data)),
        ))
    })
}

fn describe_payment(payment: &Payment) -> String {
    let what = match payment.kind {
        PaymentKind::Patient => "Payment",
        PaymentKind::Insurance => "Insurance payment",
        PaymentKind::Refund => "Refund",
        PaymentKind::Deposit => "Deposit",
    };
    match &payment.method {
        Some(method) => format!("{what} ({method})"),
        None => what.to_owned(),
    }
}

fn insurance(claim_procedures: &[Stored<ClaimProcedure>]) -> impl Iterator<Item = LedgerEntry> + '_ {
    claim_procedures.iter().filter(|c| is_live(&c.meta) && pays(c.data.status)).flat_map(|c| {
        let on = c.data.paid_date.or(c.data.service_date);
        let credit = |kind, amount: Amount, description: &str| {
            on.filter(|_| amount != Amount::ZERO).map(|on| {
                entry(
                    on,
                    kind,
                    Some(c.data.patient_id),
                    LedgerSource::ClaimProcedure(c.id),
                    Amount::ZERO - amount,
                    description.to_owned(),
                )
            })
        };
        [
            credit(LedgerEntryKind::InsurancePayment, c.data.insurance_paid, "Insurance payment"),
            credit(LedgerEntryKind::WriteOff, c.data.write_off, "Insurance write-off"),
        ]
        .into_iter()
        .flatten()
    })
}

/// Whether a claim procedure in this state carries money actually received.
fn pays(status: ClaimProcedureStatus) -> bool {
    matches!(
        status,
        ClaimProcedureStatus::Received | ClaimProcedureStatus::Supplemental | ClaimProcedureStatus::CapComplete
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ToothList;
    use crate::ToothScope;
    use crate::views::test_support::{day, deleted, id, stored_n, usd};

    fn procedure(patient: u128, status: ProcedureStatus, on: Option<NaiveDate>, fee: &str) -> Procedure {
        Procedure {
            patient_id: id(patient),
            appointment_id: None,
            procedure_code_id: None,
            provider_id: None,
            location_id: None,
            treatment_plan_id: None,
            status,
            status_source: "C".to_owned(),
            performed_on: on,
            teeth: ToothList::default(),
            tooth_scope: ToothScope::default(),
            tooth_text: None,
            surfaces: None,
            quantity: 1.0,
            fee: usd(fee),
            discount: Amount::ZERO,
            diagnosis: None,
        }
    }

    fn payment(status: PaymentStatus, on: NaiveDate) -> Payment {
        Payment {
            patient_id: Some(id(1)),
            location_id: None,
            paid_on: on,
            amount: usd("100.00"),
            method: Some("Cash".to_owned()),
            kind: PaymentKind::Patient,
            status,
            reference: None,
            note: None,
        }
    }

    fn allocation(payment: Option<u128>, on: Option<NaiveDate>, amount: &str) -> PaymentAllocation {
        PaymentAllocation {
            payment_id: payment.map(id),
            patient_id: None,
            procedure_id: None,
            provider_id: None,
            treatment_plan_id: None,
            amount: usd(amount),
            allocated_on: on,
        }
    }

    fn claim_procedure(status: ClaimProcedureStatus, paid: &str, write_off: &str) -> ClaimProcedure {
        ClaimProcedure {
            claim_id: None,
            procedure_id: None,
            patient_id: id(1),
            plan_id: None,
            provider_id: None,
            status,
            status_source: "1".to_owned(),
            fee_billed: usd("200.00"),
            insurance_estimate: Amount::ZERO,
            insurance_paid: usd(paid),
            deductible_applied: Amount::ZERO,
            write_off: usd(write_off),
            percentage: None,
            service_date: Some(day(2025, 1, 10)),
            paid_date: Some(day(2025, 2, 1)),
        }
    }

    fn adjustment(on: NaiveDate, amount: &str) -> Adjustment {
        Adjustment {
            patient_id: id(1),
            procedure_id: None,
            provider_id: None,
            location_id: None,
            adjusted_on: on,
            amount: usd(amount),
            kind: Some("Courtesy".to_owned()),
            note: None,
        }
    }

    fn amounts(ledger: &Ledger) -> Vec<(LedgerEntryKind, Amount, Amount)> {
        ledger.entries.iter().map(|e| (e.kind, e.amount, e.balance)).collect()
    }

    #[test]
    fn charges_only_completed_dated_live_procedures() {
        let procedures = [
            stored_n(1, procedure(1, ProcedureStatus::Completed, Some(day(2025, 1, 10)), "200.00")),
            stored_n(2, procedure(1, ProcedureStatus::Planned, Some(day(2025, 1, 10)), "999.00")),
            stored_n(3, procedure(1, ProcedureStatus::Completed, None, "999.00")),
            deleted(stored_n(4, procedure(1, ProcedureStatus::Completed, Some(day(2025, 1, 10)), "999.00"))),
        ];
        let ledger = ledger(&LedgerInput { procedures: &procedures, ..LedgerInput::default() });
        assert_eq!(amounts(&ledger), vec![(LedgerEntryKind::Charge, usd("200.00"), usd("200.00"))]);
        assert_eq!(ledger.entries[0].source, LedgerSource::Procedure(id(1)));
        assert_eq!(ledger.entries[0].patient_id, Some(id(1)));
        assert_eq!((ledger.charges, ledger.credits, ledger.balance), (usd("200.00"), Amount::ZERO, usd("200.00")));
    }

    #[test]
    fn procedure_charge_is_fee_times_quantity_rounded_minus_discount() {
        let mut p = procedure(1, ProcedureStatus::Completed, None, "33.33");
        p.quantity = 1.5; // 49.995 → 50.00 (half away from zero)
        p.discount = usd("5.00");
        assert_eq!(procedure_charge(&p), usd("45.00"));
        p.quantity = f64::NAN;
        assert_eq!(procedure_charge(&p), usd("28.33"));
        p.quantity = 2.0;
        assert_eq!(procedure_charge(&p), usd("61.66"));
    }

    #[test]
    fn payments_credit_unless_cancelled_and_fall_back_to_the_payment_date() {
        let payments = [
            stored_n(10, payment(PaymentStatus::Posted, day(2025, 1, 20))),
            stored_n(11, payment(PaymentStatus::Cancelled, day(2025, 1, 20))),
            deleted(stored_n(12, payment(PaymentStatus::Posted, day(2025, 1, 20)))),
        ];
        let allocations = [
            stored_n(1, allocation(Some(10), None, "60.00")),
            stored_n(2, allocation(Some(11), Some(day(2025, 1, 21)), "999.00")),
            stored_n(3, allocation(Some(12), Some(day(2025, 1, 21)), "999.00")),
            stored_n(4, allocation(Some(99), Some(day(2025, 1, 22)), "15.00")),
            stored_n(5, allocation(None, None, "999.00")),
        ];
        let ledger = ledger(&LedgerInput { allocations: &allocations, payments: &payments, ..LedgerInput::default() });
        assert_eq!(
            ledger.entries.iter().map(|e| (e.on, e.amount, e.source)).collect::<Vec<_>>(),
            vec![
                (day(2025, 1, 20), usd("-60.00"), LedgerSource::Allocation(id(1))),
                (day(2025, 1, 22), usd("-15.00"), LedgerSource::Allocation(id(4))),
            ]
        );
        assert_eq!(ledger.entries[0].patient_id, Some(id(1)), "payer of the payment");
        assert_eq!(ledger.entries[0].description, "Payment (Cash)");
        assert_eq!(ledger.entries[1].patient_id, None);
        assert_eq!((ledger.charges, ledger.credits, ledger.balance), (Amount::ZERO, usd("75.00"), usd("-75.00")));
    }

    #[test]
    fn received_claim_procedures_bring_insurance_and_write_off_credits() {
        let mut undated = claim_procedure(ClaimProcedureStatus::Received, "10.00", "0");
        undated.paid_date = None;
        undated.service_date = None;
        let mut unpaid_dated_by_service = claim_procedure(ClaimProcedureStatus::Supplemental, "5.00", "0");
        unpaid_dated_by_service.paid_date = None;
        let rows = [
            stored_n(1, claim_procedure(ClaimProcedureStatus::Received, "120.00", "30.00")),
            stored_n(2, claim_procedure(ClaimProcedureStatus::NotReceived, "999.00", "999.00")),
            stored_n(3, claim_procedure(ClaimProcedureStatus::Estimate, "999.00", "0")),
            stored_n(4, claim_procedure(ClaimProcedureStatus::CapComplete, "0", "7.00")),
            stored_n(5, undated),
            stored_n(6, unpaid_dated_by_service),
        ];
        let ledger = ledger(&LedgerInput { claim_procedures: &rows, ..LedgerInput::default() });
        assert_eq!(
            ledger.entries.iter().map(|e| (e.on, e.kind, e.amount, e.source)).collect::<Vec<_>>(),
            vec![
                (
                    day(2025, 1, 10),
                    LedgerEntryKind::InsurancePayment,
                    usd("-5.00"),
                    LedgerSource::ClaimProcedure(id(6))
                ),
                (
                    day(2025, 2, 1),
                    LedgerEntryKind::InsurancePayment,
                    usd("-120.00"),
                    LedgerSource::ClaimProcedure(id(1))
                ),
                (day(2025, 2, 1), LedgerEntryKind::WriteOff, usd("-30.00"), LedgerSource::ClaimProcedure(id(1))),
                (day(2025, 2, 1), LedgerEntryKind::WriteOff, usd("-7.00"), LedgerSource::ClaimProcedure(id(4))),
            ]
        );
    }

    #[test]
    fn orders_by_date_then_kind_then_source_with_a_running_balance() {
        let on = day(2025, 3, 1);
        let procedures = [
            stored_n(2, procedure(1, ProcedureStatus::Completed, Some(on), "100.00")),
            stored_n(1, procedure(2, ProcedureStatus::Completed, Some(on), "50.00")),
            stored_n(3, procedure(1, ProcedureStatus::Completed, Some(day(2025, 2, 1)), "10.00")),
        ];
        let adjustments = [stored_n(1, adjustment(on, "-20.00")), stored_n(2, adjustment(day(2025, 4, 1), "5.00"))];
        let allocations = [stored_n(1, allocation(None, Some(on), "30.00"))];
        let input = LedgerInput {
            procedures: &procedures,
            adjustments: &adjustments,
            allocations: &allocations,
            ..LedgerInput::default()
        };
        let ledger = ledger(&input);
        assert_eq!(
            amounts(&ledger),
            vec![
                (LedgerEntryKind::Charge, usd("10.00"), usd("10.00")),
                (LedgerEntryKind::Charge, usd("50.00"), usd("60.00")),
                (LedgerEntryKind::Charge, usd("100.00"), usd("160.00")),
                (LedgerEntryKind::Adjustment, usd("-20.00"), usd("140.00")),
                (LedgerEntryKind::PatientPayment, usd("-30.00"), usd("110.00")),
                (LedgerEntryKind::Adjustment, usd("5.00"), usd("115.00")),
            ]
        );
        assert_eq!(ledger.entries[1].source, LedgerSource::Procedure(id(1)));
        assert_eq!(ledger.entries[1].patient_id, Some(id(2)), "a family ledger keeps each patient");
        assert_eq!((ledger.charges, ledger.credits, ledger.balance), (usd("165.00"), usd("50.00"), usd("115.00")));

        // The same rows in another order give the same ledger.
        let reversed: Vec<_> = procedures.iter().rev().cloned().collect();
        assert_eq!(crate::views::ledger(&LedgerInput { procedures: &reversed, ..input }), ledger);
    }

    #[test]
    fn balance_on_a_date_counts_entries_up_to_that_day() {
        let procedures = [
            stored_n(1, procedure(1, ProcedureStatus::Completed, Some(day(2025, 1, 1)), "100.00")),
            stored_n(2, procedure(1, ProcedureStatus::Completed, Some(day(2025, 2, 1)), "50.00")),
        ];
        let allocations = [stored_n(1, allocation(None, Some(day(2025, 2, 1)), "30.00"))];
        let ledger =
            ledger(&LedgerInput { procedures: &procedures, allocations: &allocations, ..LedgerInput::default() });
        assert_eq!(ledger.balance_on(day(2024, 12, 31)), Amount::ZERO);
        assert_eq!(ledger.balance_on(day(2025, 1, 1)), usd("100.00"));
        assert_eq!(ledger.balance_on(day(2025, 1, 31)), usd("100.00"));
        assert_eq!(ledger.balance_on(day(2025, 2, 1)), usd("120.00"));
        assert_eq!(ledger.balance_on(day(2030, 1, 1)), ledger.balance);
    }

    #[test]
    fn kinds_and_sources_serialize_with_stable_names() {
        assert_eq!(serde_json::to_value(LedgerEntryKind::WriteOff).ok(), Some(serde_json::json!("write_off")));
        let source = serde_json::to_value(LedgerSource::Adjustment(id(1))).ok();
        assert_eq!(
            source,
            Some(serde_json::json!({"entity": "adjustment", "id": "00000000-0000-0000-0000-000000000001"}))
        );
    }
}
