//! Writing a batch to its table, and reconciling a table against a complete key set.

use enamel_domain::ids::*;
use enamel_domain::{Batch, PracticeId, Source, SourceKey};
use enamel_store::{SoftDelete, Tx, UpsertReport};

macro_rules! dispatch {
    ($batch:expr, $tx:expr, $practice:expr, $source:expr, [$($variant:ident),* $(,)?]) => {
        match $batch {
            $(Batch::$variant(rows) => $tx.upsert($practice, $source, rows).await,)*
        }
    };
}

/// Upserts a batch into its table.
pub(crate) async fn write(
    tx: &Tx,
    practice: PracticeId,
    source: Source,
    batch: &Batch,
) -> enamel_store::Result<UpsertReport> {
    dispatch!(
        batch,
        tx,
        practice,
        source,
        [
            Locations,
            FeeSchedules,
            Providers,
            Operatories,
            Families,
            ReferralSources,
            Patients,
            PatientTags,
            PatientTagAssignments,
            PatientReferrals,
            ProcedureCodes,
            Appointments,
            CheckIns,
            TreatmentPlans,
            Procedures,
            Visits,
            VisitSteps,
            TreatmentPlanItems,
            InsuranceCarriers,
            InsurancePlans,
            InsuranceSubscribers,
            PatientPlans,
            Benefits,
            Claims,
            ClaimProcedures,
            Payments,
            PaymentAllocations,
            Adjustments,
            Fees,
            Commlogs,
            InventoryItems,
            StockPickings,
            StockMoves,
            SourceReferences,
        ]
    )
}

/// Soft-deletes the rows of `entity` whose keys are not in `keys` (see `Tx::soft_delete_absent`).
pub(crate) async fn reconcile(
    tx: &Tx,
    practice: PracticeId,
    source: Source,
    entity: &str,
    scope: &str,
    keys: &impl enamel_store::KeySet,
    max_share: f64,
) -> enamel_store::Result<Option<SoftDelete>> {
    macro_rules! by_entity {
        ($($name:literal => $id:ty,)*) => {
            match entity {
                $($name => Some(tx.soft_delete_absent::<$id>(practice, source, scope, keys, max_share).await?),)*
                _ => None,
            }
        };
    }
    Ok(by_entity! {
        "location" => LocationId,
        "fee_schedule" => FeeScheduleId,
        "provider" => ProviderId,
        "operatory" => OperatoryId,
        "referral_source" => ReferralSourceId,
        "patient_tag" => PatientTagId,
        "patient_tag_assignment" => PatientTagAssignmentId,
        "patient_referral" => PatientReferralId,
        "procedure_code" => ProcedureCodeId,
        "appointment" => AppointmentId,
        "treatment_plan" => TreatmentPlanId,
        "treatment_plan_item" => TreatmentPlanItemId,
        "insurance_carrier" => InsuranceCarrierId,
        "insurance_plan" => InsurancePlanId,
        "insurance_subscriber" => InsuranceSubscriberId,
        "patient_plan" => PatientPlanId,
        "benefit" => BenefitId,
        "claim" => ClaimId,
        "claim_procedure" => ClaimProcedureId,
        "payment" => PaymentId,
        "payment_allocation" => PaymentAllocationId,
        "adjustment" => AdjustmentId,
        "fee" => FeeId,
        "commlog" => CommlogId,
        "inventory_item" => InventoryItemId,
        "stock_picking" => StockPickingId,
        "stock_move" => StockMoveId,
        "source_reference" => SourceReferenceId,
    })
}

/// Soft-deletes rows the PMS reported deleted, by entity.
pub(crate) async fn delete_reported(
    tx: &Tx,
    practice: PracticeId,
    source: Source,
    entity: &str,
    keys: &[SourceKey],
) -> enamel_store::Result<u64> {
    Ok(match entity {
        "appointment" => tx.soft_delete_keys::<AppointmentId>(practice, source, keys).await?,
        "procedure" => tx.soft_delete_keys::<ProcedureId>(practice, source, keys).await?,
        "patient" => tx.soft_delete_keys::<PatientId>(practice, source, keys).await?,
        _ => 0,
    })
}

/// Live PMS keys of the parent entity of a per-parent stream, in key order.
pub(crate) async fn parent_keys(
    store: &enamel_store::Store,
    practice: PracticeId,
    source: Source,
    entity: &str,
) -> enamel_store::Result<Vec<String>> {
    let rows = match entity {
        "patient" => store.fingerprint::<PatientId>(practice, source).await?,
        "treatment_plan" => store.fingerprint::<TreatmentPlanId>(practice, source).await?,
        "appointment" => store.fingerprint::<AppointmentId>(practice, source).await?,
        "claim" => store.fingerprint::<ClaimId>(practice, source).await?,
        "location" => store.fingerprint::<LocationId>(practice, source).await?,
        other => return Err(enamel_store::StoreError::Invalid(format!("no parent list for entity {other}"))),
    };
    Ok(rows.into_iter().filter(|(_, _, deleted)| !deleted).map(|(key, _, _)| key).collect())
}
