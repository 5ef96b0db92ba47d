//! Write-backs over GraphQL (DESIGN §5): the `propose…` mutations (one per kind, each with
//! an idempotency key and a reason), `approveWriteBack`, `rejectWriteBack`,
//! `cancelWriteBack`, the `writeBacks` and `writeBack` queries with their history, and the
//! `writeBackChanged` subscription.
//!
//! Scopes: proposing needs `propose`; approving and rejecting need `approve` (and a caller
//! other than the proposer); cancelling needs `propose` for one's own proposals or
//! `approve` for anyone's; reading write-backs needs any of `read`, `propose`, `approve`.

use std::sync::{Arc, Mutex};

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use enamel_domain::Scope;
use enamel_domain::ids::{AppointmentId, LocationId, OperatoryId, PatientId, ProviderId, WriteBackId};
use enamel_domain::writeback::{self as wb, AuditLink, Principal};
use enamel_store::{Store, WriteBackFilter};
use enamel_writeback::{ProposeRequest, WriteBackError, WriteBacks};
use futures::stream::{BoxStream, StreamExt};

use crate::connection::{Counted, page_args, page_of};
use crate::enums;
use crate::error::{ApiError, ApiResult, Code};
use crate::global_id::{decode_as, encode};
use crate::subscription::{PollInterval, Wake, watch};
use crate::types::Patient;
use crate::viewer::{Viewer, viewer};

/// The GraphQL type name of write-backs (and their global id prefix).
const NAME: &str = "WriteBack";

/// Where a write-back stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::writeback::WriteBackState")]
pub enum WriteBackState {
    /// Proposed; waiting for a person with the approve scope.
    PendingApproval,
    /// Approved; waiting for the executor (also between attempts after a transient failure).
    Approved,
    /// An executor is talking to the PMS.
    Applying,
    /// The PMS accepted the change.
    Applied,
    /// A later sync saw the change in the PMS.
    Confirmed,
    /// Refused by an approver.
    Rejected,
    /// Withdrawn before it ran.
    Cancelled,
    /// Its deadline passed before it ran.
    Expired,
    /// The PMS record changed since the proposal: nothing was written. Propose again.
    Conflict,
    /// Refused by the PMS or out of attempts: `lastError` says why (the dead letters).
    Failed,
    /// An attempt's outcome is unknown; the PMS is probed before anything is sent again.
    NeedsReconciliation,
}

/// What a write-back changes.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::writeback::WriteBackKind")]
pub enum WriteBackKind {
    /// Move an appointment.
    AppointmentReschedule,
    /// Confirm, break or cancel an appointment.
    AppointmentStatus,
    /// Add a note to an appointment.
    AppointmentNote,
    /// Book an appointment.
    AppointmentCreate,
    /// Change a patient's contact details.
    PatientContactUpdate,
    /// Record a communication with a patient.
    CommlogCreate,
}

/// A status change of an appointment.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::writeback::AppointmentAction")]
pub enum AppointmentAction {
    /// The patient confirmed.
    Confirm,
    /// The patient missed it (Open Dental "broken"; not on TDental).
    Break,
    /// Cancelled ahead of time.
    Cancel,
}

/// Who acted.
#[derive(SimpleObject, Debug, Clone)]
pub struct Actor {
    /// Stable id of the credential (`api_key:<uuid>`), the executor or the sync.
    pub id: String,
    /// Its label.
    pub name: String,
}

impl From<&Principal> for Actor {
    fn from(p: &Principal) -> Self {
        Actor { id: p.id.clone(), name: p.name.clone() }
    }
}

/// One transition of a write-back, as the append-only, hash-chained audit trail records it.
#[derive(SimpleObject, Debug, Clone)]
pub struct WriteBackEvent {
    /// Position in the practice's audit chain.
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (a credential id, `executor` or `sync`).
    pub actor: String,
    /// The state before (none for the proposal).
    pub from_state: Option<WriteBackState>,
    /// The state after.
    pub to_state: WriteBackState,
    /// Attempt number, PMS status, versions before and after, errors (ids only).
    pub detail: Json<serde_json::Value>,
    /// This row's hash (SHA-256 over its content and the previous row's hash).
    pub hash: String,
}

impl From<AuditLink> for WriteBackEvent {
    fn from(l: AuditLink) -> Self {
        WriteBackEvent {
            seq: l.seq,
            at: l.at,
            actor: l.actor,
            from_state: l.from_state.map(Into::into),
            to_state: l.to_state.into(),
            detail: Json(l.detail),
            hash: l.hash,
        }
    }
}

/// A change proposed to the PMS, behind human approval.
#[derive(Debug, Clone)]
pub struct WriteBack(pub wb::WriteBack);

/// The proposal as JSON, with internal ids turned into this API's global ids.
fn change_json(proposal: &wb::Proposal) -> serde_json::Value {
    let mut value = serde_json::to_value(proposal).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut value {
        let entries: Vec<(String, serde_json::Value)> = std::mem::take(map).into_iter().collect();
        for (key, v) in entries {
            let type_name = match key.as_str() {
                "appointment_id" => Some("Appointment"),
                "patient_id" => Some("Patient"),
                "operatory_id" => Some("Operatory"),
                "provider_id" => Some("Provider"),
                "location_id" => Some("Location"),
                _ => None,
            };
            let v = match (type_name, v.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok())) {
                (Some(t), Some(uuid)) => serde_json::Value::String(encode(t, uuid).0),
                _ => v,
            };
            map.insert(crate::plain::camel(&key), v);
        }
    }
    value
}

#[Object]
impl WriteBack {
    /// Global id.
    async fn id(&self) -> ID {
        encode(NAME, self.0.id.uuid())
    }

    /// What it changes.
    async fn kind(&self) -> WriteBackKind {
        self.0.proposal.kind().into()
    }

    /// Where it stands.
    async fn state(&self) -> WriteBackState {
        self.0.state.into()
    }

    /// The PMS it writes to.
    async fn source(&self) -> enums::Source {
        self.0.source.into()
    }

    /// The change as proposed (`kind` plus its fields; ids are this API's global ids).
    async fn change(&self, ctx: &Context<'_>) -> Json<serde_json::Value> {
        crate::phi::saw_patient(ctx, self.0.patient_id);
        Json(change_json(&self.0.proposal))
    }

    /// Why the proposer wants it.
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The proposer's idempotency key.
    async fn idempotency_key(&self) -> &str {
        &self.0.idempotency_key
    }

    /// The patient concerned (needs the `read` scope).
    async fn patient(&self, ctx: &Context<'_>) -> ApiResult<Option<Patient>> {
        crate::connection::load_opt(ctx, self.0.patient_id).await
    }

    /// Who proposed it.
    async fn proposed_by(&self) -> Actor {
        (&self.0.proposed_by).into()
    }

    /// Who approved, rejected or cancelled it.
    async fn decided_by(&self) -> Option<Actor> {
        self.0.decided_by.as_ref().map(Actor::from)
    }

    /// The rejection's reason.
    async fn decision_note(&self) -> Option<&str> {
        self.0.decision_note.as_deref()
    }

    /// After this it expires unless already sent.
    async fn deadline(&self) -> DateTime<Utc> {
        self.0.deadline
    }

    /// PMS attempts so far.
    async fn attempts(&self) -> i32 {
        i32::try_from(self.0.attempts).unwrap_or(i32::MAX)
    }

    /// When the next attempt is due (after a transient failure).
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        self.0.next_attempt_at
    }

    /// The last failure, for `FAILED`, `CONFLICT` and retries.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// The PMS's key of a record it created.
    async fn result_key(&self) -> Option<&str> {
        self.0.result_key.as_deref()
    }

    /// The PMS record's change stamp when it was proposed (the version an approval is for).
    async fn base_version(&self) -> Option<&str> {
        self.0.base_version.as_deref()
    }

    /// When the PMS accepted it.
    async fn applied_at(&self) -> Option<DateTime<Utc>> {
        self.0.applied_at
    }

    /// Proposed at.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Last changed at.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Every transition, oldest first, from the audit trail.
    async fn history(&self, ctx: &Context<'_>) -> ApiResult<Vec<WriteBackEvent>> {
        let v = watcher(ctx)?;
        crate::phi::saw_patient(ctx, self.0.patient_id);
        let links =
            ctx.data::<Store>()?.write_back_history(v.practice_id(), self.0.id).await.map_err(ApiError::from)?;
        Ok(links.into_iter().map(WriteBackEvent::from).collect())
    }
}

/// The viewer, who may see write-backs (`read`, `propose` or `approve`).
fn watcher<'a>(ctx: &Context<'a>) -> Result<&'a Viewer, ApiError> {
    let v = viewer(ctx)?;
    if [Scope::Read, Scope::Propose, Scope::Approve].into_iter().any(|s| v.has(s)) {
        Ok(v)
    } else {
        Err(ApiError::new(Code::Forbidden, "write-backs need the read, propose or approve scope"))
    }
}

fn principal(v: &Viewer) -> Principal {
    Principal { id: v.credential.clone(), name: v.name.clone() }
}

fn queue<'a>(ctx: &Context<'a>) -> Result<&'a WriteBacks, ApiError> {
    ctx.data_opt::<WriteBacks>()
        .ok_or_else(|| ApiError::new(Code::Internal, "write-backs are not enabled on this server"))
}

impl From<WriteBackError> for ApiError {
    fn from(e: WriteBackError) -> Self {
        match e {
            WriteBackError::NotFound(m) => ApiError::new(Code::NotFound, m),
            WriteBackError::Invalid(m) => ApiError::bad_input(m),
            WriteBackError::Forbidden(m) => ApiError::new(Code::Forbidden, m),
            WriteBackError::Conflict(m) => ApiError::new(Code::Conflict, m),
            WriteBackError::Pms(e) => ApiError::new(Code::PmsUnavailable, e.to_string()),
            WriteBackError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "write-back failure while serving GraphQL");
                ApiError::new(Code::Internal, "internal error")
            }
        }
    }
}

fn id_of<I: From<uuid::Uuid>>(id: &ID, type_name: &str) -> Result<I, ApiError> {
    decode_as(id, type_name).map(I::from)
}

fn opt_id<I: From<uuid::Uuid>>(id: Option<&ID>, type_name: &str) -> Result<Option<I>, ApiError> {
    id.map(|id| id_of(id, type_name)).transpose()
}

/// What every proposal carries.
#[derive(InputObject, Debug, Clone)]
pub struct ProposalMeta {
    /// Why (shown to the approver).
    pub reason: String,
    /// Your key for this request (1–255 characters, e.g. a UUID). Sending the same key with
    /// the same request returns the same write-back; with a different request it is refused
    /// with `CONFLICT`. Keys are kept with their write-backs (well beyond 24 hours).
    pub idempotency_key: String,
    /// Until when it may run (default 72 hours, and never after the appointment starts).
    pub deadline: Option<DateTime<Utc>>,
}

/// New contact details: a field left out stays as it is; an empty string clears it.
#[derive(InputObject, Debug, Clone, Default)]
pub struct ContactInput {
    /// Home phone.
    pub phone_home: Option<String>,
    /// Work phone.
    pub phone_work: Option<String>,
    /// Mobile phone.
    pub phone_mobile: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Street address.
    pub address_line1: Option<String>,
    /// Second address line.
    pub address_line2: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or province.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
}

/// An appointment to book.
#[derive(InputObject, Debug, Clone)]
pub struct NewAppointmentInput {
    /// The patient.
    pub patient_id: ID,
    /// Start.
    pub start_at: DateTime<Utc>,
    /// Length in minutes (a multiple of 5, up to 480).
    #[graphql(validator(minimum = 5, maximum = 480))]
    pub duration_minutes: i32,
    /// The chair (Open Dental needs one).
    pub operatory_id: Option<ID>,
    /// The provider.
    pub provider_id: Option<ID>,
    /// The clinic or branch (TDental needs one; default the patient's).
    pub location_id: Option<ID>,
    /// A note.
    pub note: Option<String>,
}

/// A communication to record.
#[derive(InputObject, Debug, Clone)]
pub struct NewCommlogInput {
    /// The patient.
    pub patient_id: ID,
    /// What was said.
    pub note: String,
    /// How.
    #[graphql(default_with = "enums::CommMode::None")]
    pub mode: enums::CommMode,
    /// Which way.
    #[graphql(default_with = "enums::CommDirection::Neither")]
    pub direction: enums::CommDirection,
    /// When (now when absent).
    pub communicated_at: Option<DateTime<Utc>>,
}

/// Changes: proposals and decisions.
pub struct Mutation;

async fn propose(ctx: &Context<'_>, proposal: wb::Proposal, meta: ProposalMeta) -> ApiResult<WriteBack> {
    let v = viewer(ctx)?;
    v.require(Scope::Propose)?;
    let request = ProposeRequest {
        proposal,
        reason: meta.reason,
        idempotency_key: meta.idempotency_key,
        deadline: meta.deadline,
    };
    let created = queue(ctx)?.propose(v.practice_id(), &principal(v), request).await.map_err(ApiError::from)?;
    Ok(WriteBack(created))
}

#[Object]
impl Mutation {
    /// Proposes moving an appointment to a new time, and optionally another chair and
    /// provider. Refused when the chair is taken, the appointment is not scheduled or it has
    /// started. Needs the `propose` scope.
    async fn propose_appointment_reschedule(
        &self,
        ctx: &Context<'_>,
        appointment_id: ID,
        start_at: DateTime<Utc>,
        operatory_id: Option<ID>,
        provider_id: Option<ID>,
        meta: ProposalMeta,
    ) -> ApiResult<WriteBack> {
        let proposal = wb::Proposal::AppointmentReschedule {
            appointment_id: id_of::<AppointmentId>(&appointment_id, "Appointment")?,
            start_at,
            operatory_id: opt_id::<OperatoryId>(operatory_id.as_ref(), "Operatory")?,
            provider_id: opt_id::<ProviderId>(provider_id.as_ref(), "Provider")?,
        };
        propose(ctx, proposal, meta).await
    }

    /// Proposes confirming, breaking (missed) or cancelling a scheduled appointment. Needs
    /// the `propose` scope.
    async fn propose_appointment_status(
        &self,
        ctx: &Context<'_>,
        appointment_id: ID,
        action: AppointmentAction,
        meta: ProposalMeta,
    ) -> ApiResult<WriteBack> {
        let proposal = wb::Proposal::AppointmentStatus {
            appointment_id: id_of::<AppointmentId>(&appointment_id, "Appointment")?,
            action: action.into(),
        };
        propose(ctx, proposal, meta).await
    }

    /// Proposes adding a note to an appointment (appended to its note, with a marker naming
    /// the write-back). Needs the `propose` scope.
    async fn propose_appointment_note(
        &self,
        ctx: &Context<'_>,
        appointment_id: ID,
        note: String,
        meta: ProposalMeta,
    ) -> ApiResult<WriteBack> {
        let proposal = wb::Proposal::AppointmentNote {
            appointment_id: id_of::<AppointmentId>(&appointment_id, "Appointment")?,
            note,
        };
        propose(ctx, proposal, meta).await
    }

    /// Proposes booking an appointment. Open Dental needs a chair (`operatoryId`); TDental a
    /// branch (`locationId`, default the patient's). Refused when the chair is taken. Needs
    /// the `propose` scope.
    async fn propose_appointment_create(
        &self,
        ctx: &Context<'_>,
        appointment: NewAppointmentInput,
        meta: ProposalMeta,
    ) -> ApiResult<WriteBack> {
        let a = appointment;
        let proposal = wb::Proposal::AppointmentCreate {
            patient_id: id_of::<PatientId>(&a.patient_id, "Patient")?,
            start_at: a.start_at,
            duration_minutes: u32::try_from(a.duration_minutes).unwrap_or(0),
            operatory_id: opt_id::<OperatoryId>(a.operatory_id.as_ref(), "Operatory")?,
            provider_id: opt_id::<ProviderId>(a.provider_id.as_ref(), "Provider")?,
            location_id: opt_id::<LocationId>(a.location_id.as_ref(), "Location")?,
            note: a.note,
        };
        propose(ctx, proposal, meta).await
    }

    /// Proposes new contact details for a patient. Needs the `propose` scope.
    async fn propose_patient_contact_update(
        &self,
        ctx: &Context<'_>,
        patient_id: ID,
        contact: ContactInput,
        meta: ProposalMeta,
    ) -> ApiResult<WriteBack> {
        let proposal = wb::Proposal::PatientContactUpdate {
            patient_id: id_of::<PatientId>(&patient_id, "Patient")?,
            contact: wb::ContactChange {
                phone_home: contact.phone_home,
                phone_work: contact.phone_work,
                phone_mobile: contact.phone_mobile,
                email: contact.email,
                address_line1: contact.address_line1,
                address_line2: contact.address_line2,
                city: contact.city,
                region: contact.region,
                postal_code: contact.postal_code,
            },
        };
        propose(ctx, proposal, meta).await
    }

    /// Proposes recording a communication with a patient (Open Dental only). Needs the
    /// `propose` scope.
    async fn propose_commlog_create(
        &self,
        ctx: &Context<'_>,
        commlog: NewCommlogInput,
        meta: ProposalMeta,
    ) -> ApiResult<WriteBack> {
        let proposal = wb::Proposal::CommlogCreate {
            patient_id: id_of::<PatientId>(&commlog.patient_id, "Patient")?,
            note: commlog.note,
            mode: commlog.mode.into(),
            direction: commlog.direction.into(),
            communicated_at: commlog.communicated_at,
        };
        propose(ctx, proposal, meta).await
    }

    /// Approves a pending write-back; the executor then applies it. The approver must not be
    /// its proposer. Approving again is a no-op. Needs the `approve` scope.
    async fn approve_write_back(&self, ctx: &Context<'_>, id: ID) -> ApiResult<WriteBack> {
        let v = viewer(ctx)?;
        v.require(Scope::Approve)?;
        let id = id_of::<WriteBackId>(&id, NAME)?;
        Ok(WriteBack(queue(ctx)?.approve(v.practice_id(), &principal(v), id).await.map_err(ApiError::from)?))
    }

    /// Rejects a pending write-back, with a reason; it never runs. Needs the `approve` scope.
    async fn reject_write_back(&self, ctx: &Context<'_>, id: ID, reason: String) -> ApiResult<WriteBack> {
        let v = viewer(ctx)?;
        v.require(Scope::Approve)?;
        let id = id_of::<WriteBackId>(&id, NAME)?;
        let done = queue(ctx)?.reject(v.practice_id(), &principal(v), id, &reason).await.map_err(ApiError::from)?;
        Ok(WriteBack(done))
    }

    /// Withdraws a write-back that has not started: the proposer may (`propose` scope), and
    /// so may any approver (`approve` scope). Cancelling again is a no-op.
    async fn cancel_write_back(&self, ctx: &Context<'_>, id: ID) -> ApiResult<WriteBack> {
        let v = viewer(ctx)?;
        if !v.has(Scope::Propose) && !v.has(Scope::Approve) {
            return Err(ApiError::new(Code::Forbidden, "cancelling needs the propose or approve scope").into());
        }
        let id = id_of::<WriteBackId>(&id, NAME)?;
        let done = queue(ctx)?
            .cancel(v.practice_id(), &principal(v), v.has(Scope::Approve), id)
            .await
            .map_err(ApiError::from)?;
        Ok(WriteBack(done))
    }
}

/// A page of write-backs.
pub type WriteBackConnection = Connection<crate::connection::Offset, WriteBack, Counted, EmptyFields>;

/// The `writeBacks` root field.
pub(crate) async fn list(
    ctx: &Context<'_>,
    states: Option<Vec<WriteBackState>>,
    kinds: Option<Vec<WriteBackKind>>,
    patient: Option<ID>,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<WriteBackConnection> {
    let v = watcher(ctx)?;
    let (offset, limit) = page_args(first, after.as_deref())?;
    let filter = WriteBackFilter {
        states: states.unwrap_or_default().into_iter().map(Into::into).collect(),
        kinds: kinds.unwrap_or_default().into_iter().map(Into::into).collect(),
        patient_id: opt_id::<PatientId>(patient.as_ref(), "Patient")?,
        updated_since: None,
    };
    let store = ctx.data::<Store>()?;
    let rows = store.write_backs(v.practice_id(), &filter, offset, limit + 1).await.map_err(ApiError::from)?;
    let total = store.count_write_backs(v.practice_id(), &filter).await.map_err(ApiError::from)?;
    Ok(page_of(rows.into_iter().map(WriteBack).collect(), offset, limit, total))
}

/// The `writeBack` root field.
pub(crate) async fn one(ctx: &Context<'_>, id: ID) -> ApiResult<WriteBack> {
    let v = watcher(ctx)?;
    let id = id_of::<WriteBackId>(&id, NAME)?;
    let found = ctx.data::<Store>()?.write_back(Some(v.practice_id()), id).await.map_err(ApiError::from)?;
    Ok(WriteBack(found))
}

/// How many write-backs one poll of `writeBackChanged` reads at most.
const CHANGE_WINDOW: u64 = 500;
/// How far each poll looks back before the newest change it has seen (instants of two
/// transactions committing out of order).
const OVERLAP: chrono::Duration = chrono::Duration::seconds(2);

/// The `writeBackChanged` subscription: every write-back of the practice as it changes
/// (proposed, decided, attempted…), from the moment of subscribing.
pub(crate) async fn changed(
    ctx: &Context<'_>,
    states: Option<Vec<WriteBackState>>,
) -> Result<BoxStream<'static, WriteBack>, async_graphql::Error> {
    let v = watcher(ctx)?;
    let practice = v.practice_id();
    let (credential, subject) = (v.credential.clone(), v.name.clone());
    let store = ctx.data::<Store>()?.clone();
    let audit_store = store.clone();
    let every = ctx.data::<PollInterval>()?.0;
    let start = Utc::now();
    let newest = Arc::new(Mutex::new(start));
    let fetch = move || {
        let store = store.clone();
        let newest = newest.clone();
        async move {
            let since = *newest.lock().unwrap_or_else(std::sync::PoisonError::into_inner) - OVERLAP;
            let rows = store.write_backs_changed_since(practice, since, CHANGE_WINDOW).await?;
            if let Some(last) = rows.iter().map(|w| w.updated_at).max() {
                let mut n = newest.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                *n = (*n).max(last);
            }
            Ok::<_, ApiError>(rows)
        }
    };
    let key = |w: &wb::WriteBack| w.id;
    let wake = Wake::new(&audit_store, enamel_store::Topic::WriteBack, practice);
    let rows = watch(every, wake, fetch, key, move |w: &wb::WriteBack| w.updated_at >= start).await?;
    let states: Vec<wb::WriteBackState> = states.unwrap_or_default().into_iter().map(Into::into).collect();
    // Each event names its patient: it is audited before it is sent, or not sent.
    Ok(rows
        .filter(move |w| std::future::ready(states.is_empty() || states.contains(&w.state)))
        .filter_map(move |w| {
            let (store, credential, subject) = (audit_store.clone(), credential.clone(), subject.clone());
            async move {
                let Some(patient) = w.patient_id else { return Some(WriteBack(w)) };
                let event = enamel_domain::PhiAccess {
                    id: uuid::Uuid::now_v7(),
                    practice_id: practice,
                    at: Utc::now(),
                    credential,
                    subject,
                    operation: "writeBackChanged".into(),
                    patient_ids: vec![patient],
                };
                match store.record_phi_access(&event).await {
                    Ok(()) => Some(WriteBack(w)),
                    Err(e) => {
                        tracing::error!(error = %e, write_back = %w.id, "a PHI access could not be audited; the event is withheld");
                        None
                    }
                }
            }
        })
        .boxed())
}
