//! Write-backs: changes a caller proposes to the PMS, a person approves, and Enamel then
//! applies (DESIGN §5).
//!
//! - [`Proposal`] is what a caller asks for, in internal ids; [`PmsWrite`] is the same change
//!   as the PMS sees it (its keys), resolved once at proposal time and stored.
//! - [`WriteBackState`] is the state machine; [`WriteBackState::can_become`] is its one table
//!   of allowed transitions.
//! - [`WriteBackKind::supported_by`] is the capability matrix per PMS.
//! - [`AuditLink`] is one row of the append-only, hash-chained audit trail: each row's hash
//!   covers its content and the previous row's hash, so an edited or removed row breaks
//!   every later link ([`verify_chain`] names the first).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::enums::{CommDirection, CommMode};
use crate::ids::{AppointmentId, LocationId, OperatoryId, PatientId, ProviderId, WriteBackId};
use crate::{PracticeId, Source};

macro_rules! screaming_enums {
    ($($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident,)* })*) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            strum::Display, strum::EnumString, strum::AsRefStr, strum::EnumIter,
        )]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        #[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }
    )*};
}

screaming_enums! {
    /// Where a write-back stands.
    WriteBackState {
        /// Proposed; waiting for a person with the approve scope.
        PendingApproval,
        /// Approved; waiting for the executor (also after a transient failure, until the
        /// next attempt is due).
        Approved,
        /// An executor holds it under a lease and is talking to the PMS.
        Applying,
        /// The PMS accepted the change.
        Applied,
        /// A later sync saw the change in the PMS.
        Confirmed,
        /// A person refused it.
        Rejected,
        /// The proposer (or an approver) withdrew it before it ran.
        Cancelled,
        /// Its deadline passed before it ran (a reschedule after the appointment started).
        Expired,
        /// The PMS record changed since the proposal: nothing was written.
        Conflict,
        /// Attempts exhausted, or the PMS refused it; the last error says why.
        Failed,
        /// An attempt's outcome is unknown (a timeout mid-send, an executor that died):
        /// the PMS is probed before anything is sent again.
        NeedsReconciliation,
    }

    /// What a write-back changes.
    WriteBackKind {
        /// Move an appointment: time, and optionally chair and provider.
        AppointmentReschedule,
        /// Confirm, break or cancel an appointment.
        AppointmentStatus,
        /// Add a note to an appointment.
        AppointmentNote,
        /// Book a new appointment.
        AppointmentCreate,
        /// Change a patient's phone numbers, e-mail or address.
        PatientContactUpdate,
        /// Record a communication with a patient.
        CommlogCreate,
    }

    /// A status change of an appointment.
    AppointmentAction {
        /// The patient confirmed.
        Confirm,
        /// The patient missed it (Open Dental "broken").
        Break,
        /// Cancelled ahead of time.
        Cancel,
    }
}

impl WriteBackState {
    /// Every state, in declaration order.
    pub fn all() -> impl Iterator<Item = WriteBackState> {
        <WriteBackState as strum::IntoEnumIterator>::iter()
    }

    /// No transition leaves this state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Confirmed | Self::Rejected | Self::Cancelled | Self::Expired | Self::Conflict | Self::Failed
        )
    }

    /// A person may still decide (approve, reject, cancel).
    pub fn is_open(self) -> bool {
        matches!(self, Self::PendingApproval | Self::Approved)
    }

    /// Whether the state machine allows `self → next`. Every state change goes through this
    /// one table.
    pub fn can_become(self, next: WriteBackState) -> bool {
        use WriteBackState::*;
        matches!(
            (self, next),
            (PendingApproval, Approved | Rejected | Cancelled | Expired)
                | (Approved, Applying | Cancelled | Expired)
                | (Applying, Applied | Approved | Conflict | Failed | NeedsReconciliation | Expired)
                | (NeedsReconciliation, Applying | Failed)
                | (Applied, Confirmed)
        )
    }
}

impl WriteBackKind {
    /// The capability matrix: whether the PMS's API can apply this kind at all. Finer
    /// limits (TDental has no chairs and no "broken" status) are checked per proposal by
    /// [`Proposal::unsupported_detail`].
    pub fn supported_by(self, source: Source) -> bool {
        match source {
            Source::OpenDental => true,
            Source::Tdental => !matches!(self, Self::CommlogCreate),
        }
    }

    /// Creates a new PMS record (not naturally idempotent: found again by its marker).
    pub fn is_create(self) -> bool {
        matches!(self, Self::AppointmentCreate | Self::CommlogCreate)
    }
}

/// New contact details; `Some("")` clears a field, `None` leaves it alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactChange {
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
    /// State or province (two capital letters for Open Dental).
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
}

impl ContactChange {
    /// The fields it sets, by canonical name, in a fixed order.
    pub fn fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("phone_home", &self.phone_home),
            ("phone_work", &self.phone_work),
            ("phone_mobile", &self.phone_mobile),
            ("email", &self.email),
            ("address_line1", &self.address_line1),
            ("address_line2", &self.address_line2),
            ("city", &self.city),
            ("region", &self.region),
            ("postal_code", &self.postal_code),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }
}

/// A change as a caller proposes it, in internal ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Proposal {
    /// Move an appointment.
    AppointmentReschedule {
        /// The appointment.
        appointment_id: AppointmentId,
        /// The new start, UTC.
        start_at: DateTime<Utc>,
        /// The new chair (unchanged when absent).
        operatory_id: Option<OperatoryId>,
        /// The new provider (unchanged when absent).
        provider_id: Option<ProviderId>,
    },
    /// Confirm, break or cancel an appointment.
    AppointmentStatus {
        /// The appointment.
        appointment_id: AppointmentId,
        /// What happens to it.
        action: AppointmentAction,
    },
    /// Add a note to an appointment.
    AppointmentNote {
        /// The appointment.
        appointment_id: AppointmentId,
        /// The note (appended to what the appointment already says).
        note: String,
    },
    /// Book an appointment.
    AppointmentCreate {
        /// The patient.
        patient_id: PatientId,
        /// Start, UTC.
        start_at: DateTime<Utc>,
        /// Length in minutes (a multiple of 5).
        duration_minutes: u32,
        /// The chair (Open Dental needs one).
        operatory_id: Option<OperatoryId>,
        /// The provider.
        provider_id: Option<ProviderId>,
        /// The clinic (TDental needs one; Open Dental takes the chair's).
        location_id: Option<LocationId>,
        /// A note.
        note: Option<String>,
    },
    /// Change a patient's contact details.
    PatientContactUpdate {
        /// The patient.
        patient_id: PatientId,
        /// The new values.
        contact: ContactChange,
    },
    /// Record a communication.
    CommlogCreate {
        /// The patient.
        patient_id: PatientId,
        /// What was said.
        note: String,
        /// How.
        mode: CommMode,
        /// Which way.
        direction: CommDirection,
        /// When (now when absent).
        communicated_at: Option<DateTime<Utc>>,
    },
}

impl Proposal {
    /// Its kind.
    pub fn kind(&self) -> WriteBackKind {
        match self {
            Self::AppointmentReschedule { .. } => WriteBackKind::AppointmentReschedule,
            Self::AppointmentStatus { .. } => WriteBackKind::AppointmentStatus,
            Self::AppointmentNote { .. } => WriteBackKind::AppointmentNote,
            Self::AppointmentCreate { .. } => WriteBackKind::AppointmentCreate,
            Self::PatientContactUpdate { .. } => WriteBackKind::PatientContactUpdate,
            Self::CommlogCreate { .. } => WriteBackKind::CommlogCreate,
        }
    }

    /// The appointment it changes, if any.
    pub fn appointment_id(&self) -> Option<AppointmentId> {
        match self {
            Self::AppointmentReschedule { appointment_id, .. }
            | Self::AppointmentStatus { appointment_id, .. }
            | Self::AppointmentNote { appointment_id, .. } => Some(*appointment_id),
            _ => None,
        }
    }

    /// Why this PMS cannot apply this particular proposal, beyond the kind matrix.
    pub fn unsupported_detail(&self, source: Source) -> Option<&'static str> {
        if !self.kind().supported_by(source) {
            return Some("this PMS's API cannot apply this kind of change");
        }
        match (source, self) {
            (Source::Tdental, Self::AppointmentReschedule { operatory_id: Some(_), .. })
            | (Source::Tdental, Self::AppointmentCreate { operatory_id: Some(_), .. }) => {
                Some("TDental has no chairs: leave the operatory out")
            }
            (Source::Tdental, Self::AppointmentStatus { action: AppointmentAction::Break, .. }) => {
                Some("TDental has no broken status: cancel the appointment instead")
            }
            (
                Source::Tdental,
                Self::PatientContactUpdate { contact: ContactChange { phone_home: Some(_), .. }, .. }
                | Self::PatientContactUpdate { contact: ContactChange { phone_work: Some(_), .. }, .. }
                | Self::PatientContactUpdate { contact: ContactChange { address_line2: Some(_), .. }, .. }
                | Self::PatientContactUpdate { contact: ContactChange { postal_code: Some(_), .. }, .. }
                | Self::PatientContactUpdate { contact: ContactChange { region: Some(_), .. }, .. },
            ) => Some("TDental customers have one phone, an e-mail, a street and a city only"),
            _ => None,
        }
    }
}

/// A change as the PMS sees it: its keys, UTC times (the adapter converts to the office's
/// local time). Resolved from a [`Proposal`] once, at proposal time, and stored with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum PmsWrite {
    /// Move an appointment.
    RescheduleAppointment {
        /// Its PMS key.
        appointment: String,
        /// New start, UTC.
        start_at: DateTime<Utc>,
        /// New chair's key.
        operatory: Option<String>,
        /// New provider's key.
        provider: Option<String>,
    },
    /// Confirm, break or cancel.
    SetAppointmentStatus {
        /// Its PMS key.
        appointment: String,
        /// What happens.
        action: AppointmentAction,
    },
    /// Append a note.
    AddAppointmentNote {
        /// Its PMS key.
        appointment: String,
        /// The note.
        note: String,
    },
    /// Book an appointment.
    CreateAppointment {
        /// The patient's key.
        patient: String,
        /// Start, UTC.
        start_at: DateTime<Utc>,
        /// Minutes.
        duration_minutes: u32,
        /// Chair key.
        operatory: Option<String>,
        /// Provider key.
        provider: Option<String>,
        /// Clinic key.
        location: Option<String>,
        /// Note.
        note: Option<String>,
    },
    /// Change contact details.
    UpdatePatientContact {
        /// The patient's key.
        patient: String,
        /// The new values.
        contact: ContactChange,
    },
    /// Record a communication.
    CreateCommlog {
        /// The patient's key.
        patient: String,
        /// The note.
        note: String,
        /// How.
        mode: CommMode,
        /// Which way.
        direction: CommDirection,
        /// When, UTC.
        communicated_at: DateTime<Utc>,
    },
}

impl PmsWrite {
    /// Creates a record (found again by its marker after an uncertain attempt).
    pub fn is_create(&self) -> bool {
        matches!(self, Self::CreateAppointment { .. } | Self::CreateCommlog { .. })
    }
}

/// The marker a write carries in the PMS record's note, naming the write-back, so that a
/// retry can find an earlier success and staff can see where a change came from.
pub fn marker(id: WriteBackId) -> String {
    format!("[enamel:{}]", id.uuid().simple())
}

/// Who acted: a credential's id and its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Stable id (`api_key:<uuid>`).
    pub id: String,
    /// Human label.
    pub name: String,
}

/// A write-back as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteBack {
    /// Its id.
    pub id: WriteBackId,
    /// The practice.
    pub practice_id: PracticeId,
    /// The PMS it writes to.
    pub source: Source,
    /// Where it stands.
    pub state: WriteBackState,
    /// What was asked.
    pub proposal: Proposal,
    /// The same, in PMS keys.
    pub write: PmsWrite,
    /// The PMS record's change stamp (or fingerprint) seen at proposal; none for creates.
    pub base_version: Option<String>,
    /// The patient concerned.
    pub patient_id: Option<PatientId>,
    /// Why the proposer wants it.
    pub reason: String,
    /// The proposer's idempotency key.
    pub idempotency_key: String,
    /// Who proposed it.
    pub proposed_by: Principal,
    /// Who approved, rejected or cancelled it.
    pub decided_by: Option<Principal>,
    /// The decider's note (a rejection's reason).
    pub decision_note: Option<String>,
    /// After this it expires unless already sent.
    pub deadline: DateTime<Utc>,
    /// PMS attempts so far.
    pub attempts: u32,
    /// Not before this (backoff after a transient failure).
    pub next_attempt_at: DateTime<Utc>,
    /// The last failure.
    pub last_error: Option<String>,
    /// The PMS key of a created record.
    pub result_key: Option<String>,
    /// When the PMS accepted it.
    pub applied_at: Option<DateTime<Utc>>,
    /// Proposed.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One audit row: a transition of one write-back (or a proposal), chained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditLink {
    /// Position in the practice's chain, from 1.
    pub seq: i64,
    /// The practice.
    pub practice_id: PracticeId,
    /// The write-back.
    pub write_back_id: WriteBackId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (a principal id).
    pub actor: String,
    /// State before (none for the proposal).
    pub from_state: Option<WriteBackState>,
    /// State after.
    pub to_state: WriteBackState,
    /// What else matters: attempt, PMS status, versions, error. Ids only, never PHI.
    pub detail: serde_json::Value,
    /// The previous row's hash (64 zeros for the first).
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
}

/// The hash before the first row of a chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl AuditLink {
    /// The hash of a row's content chained to `prev_hash`: SHA-256 over a fixed, unambiguous
    /// serialisation (instants at microsecond precision, as both databases keep them).
    pub fn compute_hash(&self) -> String {
        let content = serde_json::json!([
            self.seq,
            self.practice_id.to_string(),
            self.write_back_id.to_string(),
            self.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            self.actor,
            self.from_state.map(|s| s.to_string()),
            self.to_state.to_string(),
            self.detail,
            self.prev_hash,
        ]);
        Sha256::digest(content.to_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain of practice {practice_id} broken at row {seq}: {reason}")]
pub struct BrokenLink {
    /// The practice.
    pub practice_id: PracticeId,
    /// The row's position.
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}

/// Checks one practice's chain page by page, in order: positions without gaps, each row
/// pointing at the previous hash, each hash matching its content.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    practice_id: PracticeId,
    prev: String,
    next_seq: i64,
}

impl ChainVerifier {
    /// Before the first row.
    pub fn new(practice_id: PracticeId) -> Self {
        Self { practice_id, prev: GENESIS_HASH.to_owned(), next_seq: 1 }
    }

    /// Checks the next rows.
    pub fn extend(&mut self, links: &[AuditLink]) -> Result<(), BrokenLink> {
        for link in links {
            let broken = |reason: String| BrokenLink { practice_id: self.practice_id, seq: link.seq, reason };
            if link.seq != self.next_seq {
                return Err(broken(format!("expected row {} (a row is missing)", self.next_seq)));
            }
            if link.prev_hash != self.prev {
                return Err(broken("it does not point at the previous row's hash".into()));
            }
            if link.compute_hash() != link.hash {
                return Err(broken("its content does not match its hash (edited)".into()));
            }
            self.prev = link.hash.clone();
            self.next_seq += 1;
        }
        Ok(())
    }

    /// Rows checked so far.
    pub fn rows(&self) -> usize {
        usize::try_from(self.next_seq - 1).unwrap_or(0)
    }

    /// Ends the check against the chain's recorded end: rows removed from the end of the
    /// chain leave it short of its head.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<usize, BrokenLink> {
        let last = self.next_seq - 1;
        if last != head_seq || self.prev != head_hash {
            return Err(BrokenLink {
                practice_id: self.practice_id,
                seq: last + 1,
                reason: format!("the chain ends at row {last} but its head records row {head_seq}"),
            });
        }
        Ok(self.rows())
    }
}

/// Checks a whole chain held in memory.
pub fn verify_chain(practice_id: PracticeId, links: &[AuditLink]) -> Result<usize, BrokenLink> {
    let mut verifier = ChainVerifier::new(practice_id);
    verifier.extend(links)?;
    Ok(verifier.rows())
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn terminal_states_have_no_way_out_and_every_state_is_reachable() {
        for from in WriteBackState::iter() {
            for to in WriteBackState::iter() {
                if from.is_terminal() {
                    assert!(!from.can_become(to), "{from} is terminal but may become {to}");
                }
            }
        }
        for to in WriteBackState::iter().filter(|s| *s != WriteBackState::PendingApproval) {
            assert!(WriteBackState::iter().any(|from| from.can_become(to)), "{to} is unreachable");
        }
        // Nothing reaches the PMS without an approval: the only way into APPLYING is from
        // APPROVED or a reconciliation, and the only way into those is through APPROVED.
        assert!(!WriteBackState::PendingApproval.can_become(WriteBackState::Applying));
        assert!(!WriteBackState::PendingApproval.can_become(WriteBackState::NeedsReconciliation));
    }

    #[test]
    fn names_round_trip_as_screaming_snake_case() {
        assert_eq!(WriteBackState::NeedsReconciliation.to_string(), "NEEDS_RECONCILIATION");
        assert_eq!("PENDING_APPROVAL".parse::<WriteBackState>(), Ok(WriteBackState::PendingApproval));
        assert_eq!(WriteBackKind::PatientContactUpdate.to_string(), "PATIENT_CONTACT_UPDATE");
    }

    #[test]
    fn capability_matrix_refuses_tdental_commlogs_chairs_and_breaks() {
        assert!(!WriteBackKind::CommlogCreate.supported_by(Source::Tdental));
        assert!(WriteBackKind::iter().all(|k| k.supported_by(Source::OpenDental)));
        let status = |action| Proposal::AppointmentStatus { appointment_id: AppointmentId::new(), action };
        assert!(status(AppointmentAction::Break).unsupported_detail(Source::Tdental).is_some());
        assert!(status(AppointmentAction::Cancel).unsupported_detail(Source::Tdental).is_none());
        assert!(status(AppointmentAction::Break).unsupported_detail(Source::OpenDental).is_none());
    }

    fn chain(n: usize) -> (PracticeId, Vec<AuditLink>) {
        let practice_id = PracticeId::new();
        let wb = WriteBackId::new();
        let mut prev = GENESIS_HASH.to_owned();
        let mut links = Vec::new();
        for i in 0..n {
            let mut link = AuditLink {
                seq: i as i64 + 1,
                practice_id,
                write_back_id: wb,
                at: DateTime::from_timestamp(1_700_000_000 + i as i64, 123_456_000).unwrap_or_default(),
                actor: "executor".into(),
                from_state: Some(WriteBackState::Approved),
                to_state: WriteBackState::Applying,
                detail: serde_json::json!({"attempt": i}),
                prev_hash: prev.clone(),
                hash: String::new(),
            };
            link.hash = link.compute_hash();
            prev = link.hash.clone();
            links.push(link);
        }
        (practice_id, links)
    }

    #[test]
    fn a_chain_verifies_and_names_its_first_broken_link() {
        let (practice, mut links) = chain(5);
        assert_eq!(verify_chain(practice, &links), Ok(5));
        links[2].actor = "someone else".into();
        let broken = verify_chain(practice, &links).expect_err("broken");
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("edited"), "{broken}");

        let (practice, mut links) = chain(4);
        links.remove(1);
        assert_eq!(verify_chain(practice, &links).expect_err("broken").seq, 3);

        // Re-hashing an edited row does not help: the next row points at the old hash.
        let (practice, mut links) = chain(4);
        links[1].detail = serde_json::json!({"attempt": 99});
        links[1].hash = links[1].compute_hash();
        let broken = verify_chain(practice, &links).expect_err("broken");
        assert_eq!(broken.seq, 3);
        assert!(broken.reason.contains("previous"), "{broken}");

        // Rows cut from the end leave the chain short of its head.
        let (practice, links) = chain(4);
        let head = links[3].hash.clone();
        let mut verifier = ChainVerifier::new(practice);
        assert_eq!(verifier.extend(&links[..3]), Ok(()));
        assert_eq!(verifier.finish(4, &head).expect_err("short").seq, 4);
    }

    #[test]
    fn markers_name_the_write_back_uniquely() {
        let a = WriteBackId::new();
        let b = WriteBackId::new();
        assert_ne!(marker(a), marker(b));
        assert!(marker(a).starts_with("[enamel:") && marker(a).len() == 41);
    }
}
