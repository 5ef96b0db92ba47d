//! A batch of mapped rows of one canonical entity: what a PMS adapter hands the sync
//! engine for one page, in the order the store must write them.

use crate::records::*;
use crate::row::SyncRow;

macro_rules! batches {
    ($($(#[$doc:meta])* $variant:ident($ty:ty) => $entity:literal,)*) => {
        /// Mapped rows of one canonical entity.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Batch {
            $($(#[$doc])* $variant(Vec<SyncRow<$ty>>),)*
        }

        impl Batch {
            /// The canonical entity (table) of the rows.
            pub fn entity(&self) -> &'static str {
                match self {
                    $(Batch::$variant(_) => $entity,)*
                }
            }

            /// How many rows.
            pub fn len(&self) -> usize {
                match self {
                    $(Batch::$variant(rows) => rows.len(),)*
                }
            }

            /// The rows' PMS keys, in order.
            pub fn keys(&self) -> Vec<&crate::SourceKey> {
                match self {
                    $(Batch::$variant(rows) => rows.iter().map(|r| &r.source_id).collect(),)*
                }
            }

            /// Whether there are no rows.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// Keeps one row per PMS key, the last one seen (offset paging over a list that
            /// changes meanwhile can return a row twice), in the order of first appearance.
            pub fn dedup_keys(&mut self) {
                match self {
                    $(Batch::$variant(rows) => dedup_last(rows),)*
                }
            }

            /// Appends the rows of a batch of the same entity; gives `other` back otherwise.
            pub fn append(&mut self, other: Batch) -> Option<Batch> {
                match (self, other) {
                    $((Batch::$variant(rows), Batch::$variant(more)) => {
                        rows.extend(more);
                        None
                    })*
                    (_, other) => Some(other),
                }
            }
        }
    };
}

fn dedup_last<T>(rows: &mut Vec<SyncRow<T>>) {
    let keep: Vec<bool> = {
        let mut seen = std::collections::HashSet::with_capacity(rows.len());
        let mut keep: Vec<bool> = rows.iter().rev().map(|r| seen.insert(&r.source_id)).collect();
        keep.reverse();
        keep
    };
    if keep.iter().all(|k| *k) {
        return;
    }
    let mut i = 0;
    rows.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

batches! {
    /// Clinics and branches.
    Locations(Location) => "location",
    /// Fee schedules.
    FeeSchedules(FeeSchedule) => "fee_schedule",
    /// Providers.
    Providers(Provider<Keyed>) => "provider",
    /// Operatories.
    Operatories(Operatory<Keyed>) => "operatory",
    /// Families.
    Families(Family) => "family",
    /// Referral sources.
    ReferralSources(ReferralSource) => "referral_source",
    /// Patients.
    Patients(Patient<Keyed>) => "patient",
    /// Patient tags.
    PatientTags(PatientTag) => "patient_tag",
    /// Tags on patients.
    PatientTagAssignments(PatientTagAssignment<Keyed>) => "patient_tag_assignment",
    /// Referrals of patients.
    PatientReferrals(PatientReferral<Keyed>) => "patient_referral",
    /// Procedure codes.
    ProcedureCodes(ProcedureCode) => "procedure_code",
    /// Appointments.
    Appointments(Appointment<Keyed>) => "appointment",
    /// Check-ins.
    CheckIns(CheckIn<Keyed>) => "check_in",
    /// Treatment plans.
    TreatmentPlans(TreatmentPlan<Keyed>) => "treatment_plan",
    /// Procedures.
    Procedures(Procedure<Keyed>) => "procedure",
    /// Visits.
    Visits(Visit<Keyed>) => "visit",
    /// Visit steps.
    VisitSteps(VisitStep<Keyed>) => "visit_step",
    /// Treatment plan items.
    TreatmentPlanItems(TreatmentPlanItem<Keyed>) => "treatment_plan_item",
    /// Insurance carriers.
    InsuranceCarriers(InsuranceCarrier) => "insurance_carrier",
    /// Insurance plans.
    InsurancePlans(InsurancePlan<Keyed>) => "insurance_plan",
    /// Insurance subscribers.
    InsuranceSubscribers(InsuranceSubscriber<Keyed>) => "insurance_subscriber",
    /// Patients' plans.
    PatientPlans(PatientPlan<Keyed>) => "patient_plan",
    /// Benefits.
    Benefits(Benefit<Keyed>) => "benefit",
    /// Claims.
    Claims(Claim<Keyed>) => "claim",
    /// Claim procedures.
    ClaimProcedures(ClaimProcedure<Keyed>) => "claim_procedure",
    /// Payments.
    Payments(Payment<Keyed>) => "payment",
    /// Payment allocations.
    PaymentAllocations(PaymentAllocation<Keyed>) => "payment_allocation",
    /// Adjustments.
    Adjustments(Adjustment<Keyed>) => "adjustment",
    /// Fees.
    Fees(Fee<Keyed>) => "fee",
    /// Communication logs.
    Commlogs(Commlog<Keyed>) => "commlog",
    /// Inventory items.
    InventoryItems(InventoryItem) => "inventory_item",
    /// Stock pickings.
    StockPickings(StockPicking<Keyed>) => "stock_picking",
    /// Stock moves.
    StockMoves(StockMove<Keyed>) => "stock_move",
    /// Source references.
    SourceReferences(SourceReference) => "source_reference",
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceKey;

    #[test]
    fn a_key_seen_twice_keeps_its_last_row() {
        let row = |k: &str, name: &str| SyncRow {
            source_id: SourceKey::parse(k).unwrap_or_else(|e| panic!("{e}")),
            source_updated_at: None,
            data: PatientTag { name: name.into(), color: None },
            raw: None,
        };
        let mut batch = Batch::PatientTags(vec![row("a", "old"), row("b", "b"), row("a", "new")]);
        batch.dedup_keys();
        let Batch::PatientTags(rows) = batch else { panic!("same variant") };
        let names: Vec<&str> = rows.iter().map(|r| r.data.name.as_str()).collect();
        assert_eq!(names, ["b", "new"]);
    }
}
