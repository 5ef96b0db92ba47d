//! Proposals: validated against the store, checked against the PMS's capabilities,
//! resolved to PMS keys, stamped with the PMS record's current version, stored under the
//! proposer's idempotency key.

use chrono::{DateTime, Duration, Utc};
use enamel_domain::enums::AppointmentStatus;
use enamel_domain::ids::{AppointmentId, LocationId, OperatoryId, PatientId, ProviderId, WriteBackId};
use enamel_domain::records::{Appointment, Patient};
use enamel_domain::writeback::{AppointmentAction, ContactChange, PmsWrite, Principal, Proposal, WriteBack, marker};
use enamel_domain::{PracticeId, Source, Stored};
use enamel_store::{AppointmentFilter, ListPage, NewWriteBack, Proposed, Sort, Table};
use sha2::{Digest, Sha256};

use crate::{WriteBackError, WriteBacks};

/// A proposal as a caller sends it.
#[derive(Debug, Clone)]
pub struct ProposeRequest {
    /// The change.
    pub proposal: Proposal,
    /// Why (shown to the approver).
    pub reason: String,
    /// The caller's idempotency key (1–255 characters): the same key with the same request
    /// returns the same write-back; with another request it is refused.
    pub idempotency_key: String,
    /// Until when it may run (default: the approval window, capped at the appointment's
    /// start where that matters).
    pub deadline: Option<DateTime<Utc>>,
}

/// Longest appointment considered when looking for overlaps in a chair.
const LONGEST_APPOINTMENT: Duration = Duration::hours(12);

fn invalid(message: impl Into<String>) -> WriteBackError {
    WriteBackError::Invalid(message.into())
}

fn request_hash(request: &ProposeRequest) -> String {
    let body =
        serde_json::json!([request.proposal, request.reason.trim(), request.deadline.map(|d| d.timestamp_micros())]);
    Sha256::digest(body.to_string().as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn check_text(what: &str, text: &str, max: usize) -> Result<(), WriteBackError> {
    let n = text.trim().chars().count();
    if n == 0 || n > max {
        return Err(invalid(format!("{what} must have 1 to {max} characters")));
    }
    Ok(())
}

/// What resolving a proposal against the store found.
struct Resolved {
    source: Source,
    write: PmsWrite,
    patient_id: Option<PatientId>,
    /// The latest the change still makes sense.
    latest: Option<DateTime<Utc>>,
}

impl WriteBacks {
    /// Proposes a change. See [`ProposeRequest`]; the result is the stored write-back
    /// (`PENDING_APPROVAL`), or the earlier one for a repeated key.
    pub async fn propose(
        &self,
        practice: PracticeId,
        proposer: &Principal,
        request: ProposeRequest,
    ) -> Result<WriteBack, WriteBackError> {
        let key = request.idempotency_key.trim().to_owned();
        if key.is_empty() || key.chars().count() > 255 {
            return Err(invalid("the idempotency key must have 1 to 255 characters"));
        }
        check_text("the reason", &request.reason, 2000)?;
        let hash = request_hash(&request);
        // A retry finds its write-back without touching the PMS.
        if let Some((existing, existing_hash)) = self.store.write_back_by_key(practice, &proposer.id, &key).await? {
            return if existing_hash == hash {
                Ok(existing)
            } else {
                Err(WriteBackError::Conflict(format!(
                    "idempotency key {key:?} was already used for a different request"
                )))
            };
        }
        let now = self.now();
        let resolved = self.resolve(practice, &request.proposal, now).await?;
        if let Some(detail) = request.proposal.unsupported_detail(resolved.source) {
            return Err(invalid(format!(
                "{} cannot be applied to {}: {detail}",
                request.proposal.kind(),
                resolved.source
            )));
        }
        let window = Duration::from_std(self.config.approval_window).unwrap_or(Duration::hours(72));
        let mut deadline = request.deadline.unwrap_or(now + window);
        if let Some(latest) = resolved.latest {
            deadline = deadline.min(latest);
        }
        if deadline <= now {
            return Err(invalid("the deadline has passed (for an appointment: it has already started)"));
        }
        let id = WriteBackId::new();
        let base_version = if resolved.write.is_create() {
            None
        } else {
            let writer = self.pms.writer(practice, resolved.source).await?;
            let probe = writer.probe(&resolved.write, &marker(id)).await?;
            if !probe.exists {
                return Err(WriteBackError::NotFound("the record no longer exists in the PMS".into()));
            }
            if probe.done {
                return Err(invalid("the PMS already holds this change"));
            }
            probe.version
        };
        let new = NewWriteBack {
            id,
            practice_id: practice,
            source: resolved.source,
            proposal: request.proposal,
            write: resolved.write,
            base_version,
            patient_id: resolved.patient_id,
            reason: request.reason.trim().to_owned(),
            idempotency_key: key,
            request_hash: hash,
            proposed_by: proposer.clone(),
            deadline,
            at: now,
        };
        match self.store.propose_write_back(new).await? {
            Proposed::Created(w) | Proposed::Existing(w) => Ok(w),
        }
    }

    async fn live<T: Table>(
        &self,
        practice: PracticeId,
        id: T,
        what: &str,
    ) -> Result<Stored<T::Record>, WriteBackError> {
        match self.store.get(practice, id).await {
            Ok(row) if row.meta.deleted_at.is_none() => Ok(row),
            Ok(_) => Err(WriteBackError::NotFound(format!("{what} {id} was deleted in the PMS"))),
            Err(enamel_store::StoreError::NotFound { .. }) => {
                Err(WriteBackError::NotFound(format!("{what} {id} not found")))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A referenced row's PMS key, which must come from the same PMS.
    async fn key_of<T: Table>(
        &self,
        practice: PracticeId,
        id: Option<T>,
        source: Source,
        what: &str,
    ) -> Result<Option<String>, WriteBackError> {
        let Some(id) = id else { return Ok(None) };
        let row = self.live(practice, id, what).await?;
        if row.meta.source != source {
            return Err(invalid(format!("{what} {id} belongs to another PMS")));
        }
        Ok(Some(row.meta.source_id.to_string()))
    }

    async fn appointment(
        &self,
        practice: PracticeId,
        id: AppointmentId,
    ) -> Result<Stored<Appointment>, WriteBackError> {
        self.live(practice, id, "appointment").await
    }

    async fn patient(&self, practice: PracticeId, id: PatientId) -> Result<Stored<Patient>, WriteBackError> {
        self.live(practice, id, "patient").await
    }

    /// Refuses a time when another live appointment occupies the chair.
    async fn chair_is_free(
        &self,
        practice: PracticeId,
        operatory: OperatoryId,
        start: DateTime<Utc>,
        minutes: i64,
        except: Option<AppointmentId>,
    ) -> Result<(), WriteBackError> {
        let end = start + Duration::minutes(minutes);
        let filter = AppointmentFilter {
            starts_from: Some(start - LONGEST_APPOINTMENT),
            starts_before: Some(end),
            operatories: vec![operatory],
            statuses: vec![AppointmentStatus::Scheduled, AppointmentStatus::Arrived, AppointmentStatus::Complete],
            ..AppointmentFilter::default()
        };
        let page = ListPage { sort: Sort::<AppointmentId>::by_id(), descending: false, offset: 0, limit: 500 };
        let clash = self.store.list(practice, &filter, page).await?.into_iter().find(|a| {
            Some(a.id) != except
                && a.data.start_at < end
                && a.data.start_at + Duration::minutes(i64::from(a.data.duration_minutes)) > start
        });
        match clash {
            Some(other) => Err(WriteBackError::Conflict(format!(
                "operatory {operatory} is taken at that time by appointment {}",
                other.id
            ))),
            None => Ok(()),
        }
    }

    async fn resolve(
        &self,
        practice: PracticeId,
        proposal: &Proposal,
        now: DateTime<Utc>,
    ) -> Result<Resolved, WriteBackError> {
        Ok(match proposal {
            Proposal::AppointmentReschedule { appointment_id, start_at, operatory_id, provider_id } => {
                let apt = self.appointment(practice, *appointment_id).await?;
                let source = apt.meta.source;
                if *start_at <= now {
                    return Err(invalid("the new start must be in the future"));
                }
                if !matches!(apt.data.status, AppointmentStatus::Scheduled) {
                    return Err(invalid(format!(
                        "only a scheduled appointment can be moved (it is {})",
                        apt.data.status
                    )));
                }
                let operatory = self.key_of(practice, *operatory_id, source, "operatory").await?;
                let provider = self.key_of(practice, *provider_id, source, "provider").await?;
                if let Some(chair) = operatory_id.or(apt.data.operatory_id) {
                    let minutes = i64::from(apt.data.duration_minutes);
                    self.chair_is_free(practice, chair, *start_at, minutes, Some(*appointment_id)).await?;
                }
                Resolved {
                    source,
                    write: PmsWrite::RescheduleAppointment {
                        appointment: apt.meta.source_id.to_string(),
                        start_at: *start_at,
                        operatory,
                        provider,
                    },
                    patient_id: Some(apt.data.patient_id),
                    latest: Some(apt.data.start_at.min(*start_at)),
                }
            }
            Proposal::AppointmentStatus { appointment_id, action } => {
                let apt = self.appointment(practice, *appointment_id).await?;
                if !matches!(apt.data.status, AppointmentStatus::Scheduled) {
                    return Err(invalid(format!(
                        "only a scheduled appointment can be confirmed, broken or cancelled (it is {})",
                        apt.data.status
                    )));
                }
                let latest = match action {
                    AppointmentAction::Confirm | AppointmentAction::Cancel => Some(apt.data.start_at),
                    AppointmentAction::Break => None,
                };
                if *action == AppointmentAction::Break && apt.data.start_at > now {
                    return Err(invalid(
                        "an appointment can be marked missed only once it has started; cancel it instead",
                    ));
                }
                Resolved {
                    source: apt.meta.source,
                    write: PmsWrite::SetAppointmentStatus {
                        appointment: apt.meta.source_id.to_string(),
                        action: *action,
                    },
                    patient_id: Some(apt.data.patient_id),
                    latest,
                }
            }
            Proposal::AppointmentNote { appointment_id, note } => {
                check_text("the note", note, 2000)?;
                let apt = self.appointment(practice, *appointment_id).await?;
                Resolved {
                    source: apt.meta.source,
                    write: PmsWrite::AddAppointmentNote {
                        appointment: apt.meta.source_id.to_string(),
                        note: note.trim().to_owned(),
                    },
                    patient_id: Some(apt.data.patient_id),
                    latest: None,
                }
            }
            Proposal::AppointmentCreate {
                patient_id,
                start_at,
                duration_minutes,
                operatory_id,
                provider_id,
                location_id,
                note,
            } => {
                let patient = self.patient(practice, *patient_id).await?;
                let source = patient.meta.source;
                if *start_at <= now {
                    return Err(invalid("the start must be in the future"));
                }
                if *duration_minutes == 0 || *duration_minutes > 480 || duration_minutes % 5 != 0 {
                    return Err(invalid("the length must be a multiple of 5 minutes, up to 8 hours"));
                }
                if let Some(note) = note {
                    check_text("the note", note, 2000)?;
                }
                if source == Source::OpenDental && operatory_id.is_none() {
                    return Err(invalid("Open Dental books an appointment in a chair: give an operatory"));
                }
                let location_id: Option<LocationId> = location_id.or(patient.data.location_id);
                if source == Source::Tdental && location_id.is_none() {
                    return Err(invalid("TDental books an appointment at a branch: give a location"));
                }
                let operatory = self.key_of(practice, *operatory_id, source, "operatory").await?;
                let provider = self.key_of::<ProviderId>(practice, *provider_id, source, "provider").await?;
                let location = self.key_of(practice, location_id, source, "location").await?;
                if let Some(chair) = operatory_id {
                    self.chair_is_free(practice, *chair, *start_at, i64::from(*duration_minutes), None).await?;
                }
                Resolved {
                    source,
                    write: PmsWrite::CreateAppointment {
                        patient: patient.meta.source_id.to_string(),
                        start_at: *start_at,
                        duration_minutes: *duration_minutes,
                        operatory,
                        provider,
                        location,
                        note: note.as_ref().map(|n| n.trim().to_owned()),
                    },
                    patient_id: Some(*patient_id),
                    latest: Some(*start_at),
                }
            }
            Proposal::PatientContactUpdate { patient_id, contact } => {
                check_contact(contact)?;
                let patient = self.patient(practice, *patient_id).await?;
                Resolved {
                    source: patient.meta.source,
                    write: PmsWrite::UpdatePatientContact {
                        patient: patient.meta.source_id.to_string(),
                        contact: contact.clone(),
                    },
                    patient_id: Some(*patient_id),
                    latest: None,
                }
            }
            Proposal::CommlogCreate { patient_id, note, mode, direction, communicated_at } => {
                check_text("the note", note, 4000)?;
                let patient = self.patient(practice, *patient_id).await?;
                let at = communicated_at.unwrap_or(now);
                if at > now + Duration::minutes(5) {
                    return Err(invalid("a communication cannot be recorded in the future"));
                }
                Resolved {
                    source: patient.meta.source,
                    write: PmsWrite::CreateCommlog {
                        patient: patient.meta.source_id.to_string(),
                        note: note.trim().to_owned(),
                        mode: *mode,
                        direction: *direction,
                        communicated_at: at,
                    },
                    patient_id: Some(*patient_id),
                    latest: None,
                }
            }
        })
    }
}

/// Contact values that no PMS would take: none at all, a malformed e-mail or phone.
fn check_contact(contact: &ContactChange) -> Result<(), WriteBackError> {
    let fields = contact.fields();
    if fields.is_empty() {
        return Err(invalid("a contact update must change at least one field"));
    }
    for (name, value) in fields {
        if value.chars().count() > 255 {
            return Err(invalid(format!("{name} is longer than 255 characters")));
        }
        let ok = match name {
            "email" => value.is_empty() || (value.contains('@') && !value.contains(char::is_whitespace)),
            "phone_home" | "phone_work" | "phone_mobile" => {
                value.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
                    && (value.is_empty() || value.chars().filter(char::is_ascii_digit).count() >= 6)
            }
            _ => true,
        };
        if !ok {
            return Err(invalid(format!("{name} is not a valid value")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_updates_need_a_field_and_sane_values() {
        assert!(check_contact(&ContactChange::default()).is_err());
        let ok = ContactChange { phone_mobile: Some("+1 (503) 555-0100".into()), ..ContactChange::default() };
        assert!(check_contact(&ok).is_ok());
        let bad_phone = ContactChange { phone_mobile: Some("call me".into()), ..ContactChange::default() };
        assert!(check_contact(&bad_phone).is_err());
        let bad_mail = ContactChange { email: Some("nobody".into()), ..ContactChange::default() };
        assert!(check_contact(&bad_mail).is_err());
        let cleared = ContactChange { email: Some(String::new()), ..ContactChange::default() };
        assert!(check_contact(&cleared).is_ok());
    }

    #[test]
    fn the_request_digest_covers_the_change_reason_and_deadline() {
        let request = |reason: &str| ProposeRequest {
            proposal: Proposal::AppointmentNote {
                appointment_id: AppointmentId::from(uuid::Uuid::nil()),
                note: "x".into(),
            },
            reason: reason.into(),
            idempotency_key: "k".into(),
            deadline: None,
        };
        assert_eq!(request_hash(&request("a")), request_hash(&request(" a ")));
        assert_ne!(request_hash(&request("a")), request_hash(&request("b")));
        let mut later = request("a");
        later.deadline = Some(DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default());
        assert_ne!(request_hash(&request("a")), request_hash(&later));
        // The key is not part of the digest: it names the request.
        let mut other_key = request("a");
        other_key.idempotency_key = "other".into();
        assert_eq!(request_hash(&request("a")), request_hash(&other_key));
    }
}
