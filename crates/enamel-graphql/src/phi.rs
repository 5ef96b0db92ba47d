//! PHI access auditing: every object of a patient-bearing row that a request returns is
//! noted here (its patient), and [`crate::Api::execute`] writes one access event per
//! response that returned any — before answering; if the event cannot be written, the
//! answer is an error instead of the data.
//!
//! Objects reach a response only through the connection helpers (`load`, `load_opt`, pages
//! of lists), which call [`saw`]; write-backs note their patient where they expose it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use enamel_domain::PracticeId;
use enamel_domain::Scope;
use enamel_store::{PhiAccessFilter, Store};

use crate::connection::{Counted, page_args, page_of};
use crate::error::{ApiError, ApiResult};
use crate::global_id::{decode_as, encode};
use crate::viewer::viewer;
use enamel_domain::ids::{PatientId, TreatmentPlanId, VisitId};
use enamel_domain::records as r;
use enamel_domain::{Record, Stored};

/// Whose data a returned row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Not patient data.
    Nobody,
    /// This patient's.
    Patient(PatientId),
    /// The patient of this treatment plan (its items, its visit steps).
    Plan(TreatmentPlanId),
    /// The patient of this visit (its steps).
    Visit(VisitId),
}

/// The owners of what one request returned (request data).
#[derive(Debug, Clone, Default)]
pub(crate) struct PhiSeen(Arc<Mutex<Seen>>);

#[derive(Debug, Default)]
struct Seen {
    patients: BTreeSet<PatientId>,
    plans: BTreeSet<TreatmentPlanId>,
    visits: BTreeSet<VisitId>,
}

impl PhiSeen {
    /// The patients whose data was returned, sorted: those noted directly, and the
    /// patients of the plans and visits noted (read from the store).
    pub(crate) async fn patients(&self, store: &Store, practice: PracticeId) -> enamel_store::Result<Vec<PatientId>> {
        let (mut patients, plans, visits) = match self.0.lock() {
            Ok(s) => (
                s.patients.clone(),
                s.plans.iter().copied().collect::<Vec<_>>(),
                s.visits.iter().copied().collect::<Vec<_>>(),
            ),
            Err(_) => return Ok(Vec::new()),
        };
        if !plans.is_empty() {
            patients.extend(store.get_many(practice, &plans).await?.into_iter().map(|p| p.data.patient_id));
        }
        if !visits.is_empty() {
            patients.extend(store.get_many(practice, &visits).await?.into_iter().map(|v| v.data.patient_id));
        }
        Ok(patients.into_iter().collect())
    }
}

/// Notes that the response carries data of `owner`.
pub(crate) fn saw(ctx: &Context<'_>, owner: Owner) {
    if let Some(seen) = ctx.data_opt::<PhiSeen>() {
        seen.note(owner);
    }
}

impl PhiSeen {
    /// Notes that the response carries data of `owner`.
    pub(crate) fn note(&self, owner: Owner) {
        let Ok(mut s) = self.0.lock() else { return };
        match owner {
            Owner::Nobody => {}
            Owner::Patient(p) => {
                s.patients.insert(p);
            }
            Owner::Plan(p) => {
                s.plans.insert(p);
            }
            Owner::Visit(v) => {
                s.visits.insert(v);
            }
        }
    }
}

/// Notes a patient, if any.
pub(crate) fn saw_patient(ctx: &Context<'_>, patient: Option<PatientId>) {
    if let Some(p) = patient {
        saw(ctx, Owner::Patient(p));
    }
}

/// Which column of a row names its patient, for readers of single columns (the plain
/// executor); it must say what [`PatientOf::owner_of`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// Not patient data.
    Nobody,
    /// The row is a patient: its own id.
    Itself,
    /// This column holds the patient's id (null: nobody's).
    Patient(&'static str),
    /// The patient is found through another row (a plan, a visit).
    Indirect,
}

/// Whose data a stored row is.
pub trait PatientOf: Record + Sized {
    /// Where the owner is.
    const HOLDER: Holder = Holder::Nobody;

    /// Its owner.
    fn owner_of(_row: &Stored<Self>) -> Owner {
        Owner::Nobody
    }
}

impl PatientOf for r::Patient {
    const HOLDER: Holder = Holder::Itself;
    fn owner_of(row: &Stored<Self>) -> Owner {
        Owner::Patient(row.id)
    }
}

impl PatientOf for r::InsuranceSubscriber {
    const HOLDER: Holder = Holder::Patient("subscriber_patient_id");
    fn owner_of(row: &Stored<Self>) -> Owner {
        Owner::Patient(row.data.subscriber_patient_id)
    }
}

/// A family row holds no member's data (an id and where it came from): the fields that
/// show members' data note them — `guarantor` and `members` each patient they return, the
/// ledger, balance and aging every member (`views::member_ids`).
impl PatientOf for r::Family {}

impl PatientOf for r::TreatmentPlanItem {
    const HOLDER: Holder = Holder::Indirect;
    fn owner_of(row: &Stored<Self>) -> Owner {
        Owner::Plan(row.data.treatment_plan_id)
    }
}

impl PatientOf for r::VisitStep {
    const HOLDER: Holder = Holder::Indirect;
    fn owner_of(row: &Stored<Self>) -> Owner {
        match (row.data.visit_id, row.data.treatment_plan_id) {
            (Some(v), _) => Owner::Visit(v),
            (None, Some(p)) => Owner::Plan(p),
            (None, None) => Owner::Nobody,
        }
    }
}

macro_rules! of_patient {
    (required: $($req:ident),*; optional: $($opt:ident),*; none: $($none:ident),* $(;)?) => {
        $(impl PatientOf for r::$req {
            const HOLDER: Holder = Holder::Patient("patient_id");
            fn owner_of(row: &Stored<Self>) -> Owner {
                Owner::Patient(row.data.patient_id)
            }
        })*
        $(impl PatientOf for r::$opt {
            const HOLDER: Holder = Holder::Patient("patient_id");
            fn owner_of(row: &Stored<Self>) -> Owner {
                row.data.patient_id.map_or(Owner::Nobody, Owner::Patient)
            }
        })*
        $(impl PatientOf for r::$none {})*
    };
}

of_patient! {
    required: PatientTagAssignment, PatientReferral, Appointment, CheckIn, Visit, Procedure, TreatmentPlan,
        PatientPlan, Claim, ClaimProcedure, Adjustment, Commlog;
    optional: Payment, PaymentAllocation;
    none: Location, Provider, Operatory, PatientTag, ReferralSource, ProcedureCode, InsuranceCarrier, InsurancePlan,
        Benefit, FeeSchedule, Fee, InventoryItem, StockPicking, StockMove, SourceReference;
}

/// One response that returned patient data: who saw which patients, when.
#[derive(SimpleObject, Debug, Clone)]
pub struct AuditEvent {
    /// The event's id.
    pub id: String,
    /// When the response was sent.
    pub at: DateTime<Utc>,
    /// The credential's stable id (`api_key:<uuid>`).
    pub credential: String,
    /// The credential's label.
    pub subject: String,
    /// The GraphQL operation's name (or `query`/`mutation` when unnamed).
    pub operation: String,
    /// The patients whose data the response returned (global ids).
    pub patients: Vec<ID>,
}

/// A page of access events.
pub type AuditEventConnection = Connection<crate::connection::Offset, AuditEvent, Counted, EmptyFields>;

/// Which access events to list.
#[derive(InputObject, Debug, Clone, Default)]
pub struct AuditEventFilter {
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// By this credential (`api_key:<uuid>`).
    pub credential: Option<String>,
    /// Naming this patient.
    pub patient: Option<ID>,
}

/// The `auditEvents` root field (the `admin` scope).
pub(crate) async fn events(
    ctx: &Context<'_>,
    filter: AuditEventFilter,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<AuditEventConnection> {
    let v = viewer(ctx)?;
    v.require(Scope::Admin)?;
    let (offset, limit) = page_args(first, after.as_deref())?;
    let patient_id = filter.patient.map(|p| decode_as(&p, "Patient").map(PatientId::from)).transpose()?;
    let filter = PhiAccessFilter { from: filter.from, to: filter.to, credential: filter.credential, patient_id };
    let store = ctx.data::<Store>()?;
    let rows = store.phi_accesses(v.practice_id(), &filter, offset, limit + 1).await.map_err(ApiError::from)?;
    let total = store.count_phi_accesses(v.practice_id(), &filter).await.map_err(ApiError::from)?;
    let rows = rows
        .into_iter()
        .map(|e| AuditEvent {
            id: e.id.to_string(),
            at: e.at,
            credential: e.credential,
            subject: e.subject,
            operation: e.operation,
            patients: e.patient_ids.into_iter().map(|p| encode("Patient", p.uuid())).collect(),
        })
        .collect();
    Ok(page_of(rows, offset, limit, total))
}
