//! Writing a batch to its table, and reconciling a table against a complete key set.

use std::collections::{HashMap, HashSet};

use enamel_domain::ids::*;
use enamel_domain::{Batch, PracticeId, Source, SourceKey};
use enamel_store::{Prepared, SoftDelete, Store, Tx, UpsertReport};

/// Calls `$on.$method(practice, source, rows[, extra])` with the rows of whichever [`Batch`] it is.
macro_rules! dispatch {
    ($batch:expr, $on:expr, $method:ident, $practice:expr, $source:expr $(, $extra:expr)?) => {
        dispatch!(@ $batch, $on, $method, $practice, $source, [
            Locations, FeeSchedules, Providers, Operatories, Families, ReferralSources, Patients,
            PatientTags, PatientTagAssignments, PatientReferrals, ProcedureCodes, Appointments,
            CheckIns, TreatmentPlans, Procedures, Visits, VisitSteps, TreatmentPlanItems,
            InsuranceCarriers, InsurancePlans, InsuranceSubscribers, PatientPlans, Benefits, Claims,
            ClaimProcedures, Payments, PaymentAllocations, Adjustments, Fees, Commlogs,
            InventoryItems, StockPickings, StockMoves, SourceReferences,
        ] $(, $extra)?)
    };
    (@ $batch:expr, $on:expr, $method:ident, $practice:expr, $source:expr, [$($variant:ident),* $(,)?]) => {
        match $batch {
            $(Batch::$variant(rows) => $on.$method($practice, $source, rows).await,)*
        }
    };
    (@ $batch:expr, $on:expr, $method:ident, $practice:expr, $source:expr, [$($variant:ident),* $(,)?], $extra:expr) => {
        match $batch {
            $(Batch::$variant(rows) => $on.$method($practice, $source, rows, $extra).await,)*
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
    dispatch!(batch, tx, upsert, practice, source)
}

/// Prepares a batch's upsert outside a transaction (see [`Store::prepare_upsert`]).
pub(crate) async fn prepare(
    store: &Store,
    practice: PracticeId,
    source: Source,
    batch: &Batch,
) -> enamel_store::Result<Prepared> {
    dispatch!(batch, store, prepare_upsert, practice, source)
}

/// As [`prepare`], told which keys are certainly not stored (see
/// [`Store::prepare_upsert_absent`]).
pub(crate) async fn prepare_absent(
    store: &Store,
    practice: PracticeId,
    source: Source,
    batch: &Batch,
    absent: &enamel_store::Absent<'_>,
) -> enamel_store::Result<Prepared> {
    dispatch!(batch, store, prepare_upsert_absent, practice, source, absent)
}

/// What the units being written (in one transaction, not committed yet) may change: the
/// tables of their batches and their keys, whether they delete rows the PMS reported
/// deleted, and whether they prepare some of their batches in their transaction.
#[derive(Debug, Default, Clone)]
pub(crate) struct Footprint {
    keys: HashMap<&'static str, HashSet<SourceKey>>,
    deletes: bool,
    /// Some of its batches are prepared in its transaction, so their new rows get their
    /// ids then: a unit prepared beside it would get earlier ones, and lists order rows of
    /// equal sort keys by id (their order in the PMS).
    prepares_inside: bool,
}

impl Footprint {
    /// The footprint of a unit, of whose batches the first `prepared` were prepared before
    /// its transaction.
    pub(crate) fn of(page: &enamel_pms::Page, prepared: usize) -> Footprint {
        let mut keys: HashMap<&'static str, HashSet<SourceKey>> = HashMap::new();
        for batch in &page.batches {
            keys.entry(batch.entity()).or_default().extend(batch.keys().into_iter().cloned());
        }
        Footprint { keys, deletes: !page.deleted.is_empty(), prepares_inside: prepared < page.batches.len() }
    }

    /// Adds what another unit of the same transaction may change.
    pub(crate) fn absorb(&mut self, other: Footprint) {
        for (table, keys) in other.keys {
            self.keys.entry(table).or_default().extend(keys);
        }
        self.deletes |= other.deletes;
        self.prepares_inside |= other.prepares_inside;
    }

    /// How many of `batches`, from the first, can be prepared while a unit with this
    /// footprint is written: while nothing it writes can change what preparing them reads.
    /// A batch qualifies when none of its keys is in that unit, when its rows refer to no
    /// table that unit or an earlier batch of its own writes (those rows are not committed
    /// yet), and when no earlier batch of its own writes its table. The rest are prepared in
    /// their transaction, after the batches before them are written.
    pub(crate) fn preparable(&self, batches: &[Batch]) -> usize {
        if self.deletes || self.prepares_inside {
            return 0;
        }
        let mut written: HashSet<&str> = self.keys.keys().copied().collect();
        let mut own: HashSet<&str> = HashSet::new();
        for (i, batch) in batches.iter().enumerate() {
            let table = batch.entity();
            let clashes = enamel_store::tables::refers_to(table).any(|target| written.contains(target))
                || own.contains(table)
                || self.keys.get(table).is_some_and(|keys| batch.keys().into_iter().any(|k| keys.contains(k)));
            if clashes {
                return i;
            }
            written.insert(table);
            own.insert(table);
        }
        batches.len()
    }
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

#[cfg(test)]
mod tests {
    use enamel_domain::records::{Family, PatientTag, PatientTagAssignment};
    use enamel_domain::{Keyed, SyncRow};

    use super::*;

    fn key(k: &str) -> SourceKey {
        SourceKey::parse(k).unwrap_or_else(|e| panic!("{e}"))
    }

    fn row<T>(k: &str, data: T) -> SyncRow<T> {
        SyncRow { source_id: key(k), source_updated_at: None, data, raw: None }
    }

    fn tags(keys: &[&str]) -> Batch {
        Batch::PatientTags(keys.iter().map(|k| row(k, PatientTag { name: (*k).into(), color: None })).collect())
    }

    fn families(keys: &[&str]) -> Batch {
        Batch::Families(keys.iter().map(|k| row(k, Family {})).collect())
    }

    /// Assignments of tag `k` to patient `k`.
    fn assignments(keys: &[&str]) -> Batch {
        Batch::PatientTagAssignments(
            keys.iter().map(|k| row(k, PatientTagAssignment::<Keyed> { patient_id: key(k), tag_id: key(k) })).collect(),
        )
    }

    /// A unit writing these batches, the first `prepared` of them prepared beforehand.
    fn unit(batches: Vec<Batch>, deleted: &[&str], prepared: usize) -> Footprint {
        let page = enamel_pms::Page {
            batches,
            quarantined: Vec::new(),
            deleted: deleted.iter().map(|k| ("patient", (*k).to_owned())).collect(),
            fetched: 0,
            keys: Vec::new(),
            complete: false,
            next_offset: 0,
            server_time: None,
            digest: None,
            same_as_known: false,
        };
        Footprint::of(&page, prepared)
    }

    #[test]
    fn batches_are_prepared_beside_a_unit_only_when_it_cannot_change_what_they_read() {
        let nothing = Footprint::default();
        let writing_tags = unit(vec![tags(&["a", "b"])], &[], 1);
        let writing_families = unit(vec![families(&["a"])], &[], 1);
        // Nothing being written: every batch, up to one that refers to an earlier one's
        // table (its rows are not written yet) or writes the same table again.
        assert_eq!(nothing.preparable(&[tags(&["a"]), families(&["a"])]), 2);
        assert_eq!(nothing.preparable(&[tags(&["a"]), assignments(&["a"])]), 1);
        assert_eq!(nothing.preparable(&[tags(&["a"]), tags(&["b"])]), 1);
        // Other keys of the table being written: prepared.
        assert_eq!(writing_tags.preparable(&[tags(&["c", "d"])]), 1);
        // A key being written: its stored state is about to change.
        assert_eq!(writing_tags.preparable(&[tags(&["c", "b"])]), 0);
        // Rows referring to the table being written: what they refer to may be in it.
        assert_eq!(writing_tags.preparable(&[assignments(&["c"])]), 0);
        assert_eq!(writing_families.preparable(&[tags(&["a"]), assignments(&["a"])]), 1);
        // A unit that prepares a batch in its transaction gives its new rows ids then: a
        // unit prepared beside it would get earlier ones.
        assert_eq!(unit(vec![families(&["a"]), tags(&["b"])], &[], 1).preparable(&[tags(&["c"])]), 0);
        // A unit that deletes rows the PMS reported deleted: nothing.
        assert_eq!(unit(vec![families(&["z"])], &["7"], 1).preparable(&[tags(&["a"])]), 0);
    }
}
