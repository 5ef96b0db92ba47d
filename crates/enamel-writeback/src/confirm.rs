//! `APPLIED` → `CONFIRMED`: a sync has stored the change the PMS accepted.

use enamel_domain::enums::AppointmentStatus;
use enamel_domain::ids::{AppointmentId, CommlogId, PatientId};
use enamel_domain::records::Patient;
use enamel_domain::writeback::{
    AppointmentAction, ContactChange, PmsWrite, Proposal, WriteBack, WriteBackState, marker,
};
use enamel_domain::{PracticeId, SourceKey};
use enamel_store::{Expect, StoreError, Transition, WriteBackFilter};
use serde_json::json;

use crate::{WriteBackError, WriteBacks};

const PAGE: u64 = 200;

fn key(key: &Option<String>) -> Option<SourceKey> {
    key.clone().and_then(|k| SourceKey::try_from(k).ok())
}

impl WriteBacks {
    /// Confirms the practice's applied write-backs whose change the store now holds (call
    /// it after a sync). Returns how many were confirmed.
    pub async fn confirm_synced(&self, practice: PracticeId) -> Result<usize, WriteBackError> {
        let filter = WriteBackFilter { states: vec![WriteBackState::Applied], ..WriteBackFilter::default() };
        let mut confirmed = 0;
        let mut offset = 0;
        loop {
            // Confirmed rows leave the filter: the offset counts only those that stay.
            let page = self.store.write_backs(practice, &filter, offset, PAGE).await?;
            let full = page.len() as u64 == PAGE;
            for wb in page {
                let Some(row) = self.seen_by_sync(practice, &wb).await? else {
                    offset += 1;
                    continue;
                };
                let t = Transition::new(WriteBackState::Confirmed, "sync", self.now()).detail(json!({ "row_id": row }));
                let expect = Expect { states: &[WriteBackState::Applied], lease_owner: None };
                match self.store.transition_write_back(Some(practice), wb.id, expect, &t).await {
                    Ok(_) => confirmed += 1,
                    Err(StoreError::StateConflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if !full {
                break;
            }
        }
        Ok(confirmed)
    }

    /// The id of the stored row that shows the change, if the store shows it.
    async fn seen_by_sync(&self, practice: PracticeId, wb: &WriteBack) -> Result<Option<String>, WriteBackError> {
        let synced_since_applied =
            |synced: chrono::DateTime<chrono::Utc>| wb.applied_at.is_some_and(|applied| synced >= applied);
        let store = &self.store;
        Ok(match (&wb.proposal, &wb.write) {
            (Proposal::AppointmentReschedule { appointment_id, start_at, operatory_id, provider_id }, _) => {
                let row = store.get(practice, *appointment_id).await?;
                let holds = row.data.start_at == *start_at
                    && operatory_id.is_none_or(|o| row.data.operatory_id == Some(o))
                    && provider_id.is_none_or(|p| row.data.provider_id == Some(p));
                holds.then(|| row.id.to_string())
            }
            (Proposal::AppointmentStatus { appointment_id, action }, _) => {
                let row = store.get(practice, *appointment_id).await?;
                let holds = match action {
                    AppointmentAction::Confirm => synced_since_applied(row.meta.synced_at),
                    AppointmentAction::Break => {
                        matches!(row.data.status, AppointmentStatus::Broken | AppointmentStatus::Unscheduled)
                    }
                    AppointmentAction::Cancel => matches!(
                        row.data.status,
                        AppointmentStatus::Cancelled | AppointmentStatus::Broken | AppointmentStatus::Unscheduled
                    ),
                };
                holds.then(|| row.id.to_string())
            }
            (Proposal::AppointmentNote { appointment_id, .. }, _) => {
                let row = store.get::<AppointmentId>(practice, *appointment_id).await?;
                row.data.note.as_deref().is_some_and(|n| n.contains(&marker(wb.id))).then(|| row.id.to_string())
            }
            (Proposal::AppointmentCreate { .. }, _) => match key(&wb.result_key) {
                Some(key) => store
                    .find_by_source_id::<AppointmentId>(practice, wb.source, &key)
                    .await?
                    .map(|row| row.id.to_string()),
                None => None,
            },
            (Proposal::CommlogCreate { .. }, _) => match key(&wb.result_key) {
                Some(key) => {
                    store.find_by_source_id::<CommlogId>(practice, wb.source, &key).await?.map(|row| row.id.to_string())
                }
                None => None,
            },
            (Proposal::PatientContactUpdate { patient_id, contact }, PmsWrite::UpdatePatientContact { .. }) => {
                let row = store.get::<PatientId>(practice, *patient_id).await?;
                holds_contact(&row.data, contact).then(|| row.id.to_string())
            }
            (Proposal::PatientContactUpdate { .. }, _) => None,
        })
    }
}

/// Whether the stored patient shows every field the change sets (an empty value: cleared).
fn holds_contact(patient: &Patient, contact: &ContactChange) -> bool {
    contact.fields().into_iter().all(|(name, value)| {
        let stored = match name {
            "phone_home" => &patient.phone_home,
            "phone_work" => &patient.phone_work,
            "phone_mobile" => &patient.phone_mobile,
            "email" => &patient.email,
            "address_line1" => &patient.address_line1,
            "address_line2" => &patient.address_line2,
            "city" => &patient.city,
            "region" => &patient.region,
            "postal_code" => &patient.postal_code,
            _ => return false,
        };
        stored.as_deref().unwrap_or("") == value
    })
}
