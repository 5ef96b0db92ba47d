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
use enamel_domain::Scope;
use enamel_store::{PhiAccessFilter, Store};

use crate::connection::{Counted, page_args, page_of};
use crate::error::{ApiError, ApiResult};
use crate::global_id::{decode_as, encode};
use crate::viewer::viewer;
use enamel_domain::ids::PatientId;
use enamel_domain::records as r;
use enamel_domain::{Record, Stored};

/// The patients whose data one request returned (request data).
#[derive(Debug, Clone, Default)]
pub(crate) struct PhiSeen(Arc<Mutex<BTreeSet<PatientId>>>);

impl PhiSeen {
    /// The patients noted so far, sorted.
    pub(crate) fn patients(&self) -> Vec<PatientId> {
        self.0.lock().map(|s| s.iter().copied().collect()).unwrap_or_default()
    }
}

/// Notes that the response carries `patient`'s data.
pub(crate) fn saw(ctx: &Context<'_>, patient: Option<PatientId>) {
    if let (Some(p), Some(seen)) = (patient, ctx.data_opt::<PhiSeen>())
        && let Ok(mut set) = seen.0.lock()
    {
        set.insert(p);
    }
}

/// The patient a stored row belongs to, if it is patient data.
pub trait PatientOf: Record + Sized {
    /// Its patient.
    fn patient_of(_row: &Stored<Self>) -> Option<PatientId> {
        None
    }
}

impl PatientOf for r::Patient {
    fn patient_of(row: &Stored<Self>) -> Option<PatientId> {
        Some(row.id)
    }
}

impl PatientOf for r::InsuranceSubscriber {
    fn patient_of(row: &Stored<Self>) -> Option<PatientId> {
        Some(row.data.subscriber_patient_id)
    }
}

macro_rules! of_patient {
    (required: $($req:ident),*; optional: $($opt:ident),*; none: $($none:ident),* $(;)?) => {
        $(impl PatientOf for r::$req {
            fn patient_of(row: &Stored<Self>) -> Option<PatientId> {
                Some(row.data.patient_id)
            }
        })*
        $(impl PatientOf for r::$opt {
            fn patient_of(row: &Stored<Self>) -> Option<PatientId> {
                row.data.patient_id
            }
        })*
        $(impl PatientOf for r::$none {})*
    };
}

of_patient! {
    required: PatientTagAssignment, PatientReferral, Appointment, CheckIn, Visit, Procedure, TreatmentPlan,
        PatientPlan, Claim, ClaimProcedure, Adjustment, Commlog;
    optional: Payment, PaymentAllocation;
    none: Location, Provider, Operatory, Family, PatientTag, ReferralSource, ProcedureCode, VisitStep,
        TreatmentPlanItem, InsuranceCarrier, InsurancePlan, Benefit, FeeSchedule, Fee, InventoryItem, StockPicking,
        StockMove, SourceReference;
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
pub type AuditEventConnection = Connection<String, AuditEvent, Counted, EmptyFields>;

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
