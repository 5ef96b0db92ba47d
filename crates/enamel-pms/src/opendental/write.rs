//! Write-backs to Open Dental ([`PmsWriter`] for [`OdClient`]).
//!
//! - Reschedule: `PUT /appointments/{AptNum}` (partial) with `AptDateTime`, `Op` and
//!   `ProvNum` when given, and the note (read first: PUT overwrites it) with the marker on a
//!   new line.
//! - Status: `PUT …/Confirm {"confirmVal":"Confirmed"}`; `PUT …/Break` with `breakType`
//!   `Missed` (break) or `Cancelled` (cancel), kept off the unscheduled list. These take no
//!   note: no marker.
//! - Note: `PUT …/Note` (Open Dental appends the line) with the marker after the note.
//! - Create: `POST /appointments` (an operatory is required; the length is a `Pattern` of
//!   `X`, one per 5 minutes) and `POST /commlogs`, the marker in the note; found again by
//!   listing the patient's rows for the marker.
//! - Contact: `PUT /patients/{PatNum}` (partial; `""` clears a field).
//!
//! Probes read the record: `DateTStamp` is the version (MySQL bumps it on every change).
//! Times go out as office-local `yyyy-MM-dd HH:mm:ss` in the configured time zone.

use chrono::{DateTime, Utc};
use enamel_domain::enums::{CommDirection, CommMode};
use enamel_domain::writeback::{AppointmentAction, ContactChange, PmsWrite};
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::OdClient;
use crate::http::{Accepted, send_once};
use crate::{Applied, PmsError, PmsWriter, Probe};

/// Open Dental's date-time format.
const FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// The longest appointment `Pattern` Open Dental takes (9 hours of 5-minute slots).
const MAX_PATTERN: u32 = 108;

impl PmsWriter for OdClient {
    fn probe<'a>(&'a self, write: &'a PmsWrite, marker: &'a str) -> BoxFuture<'a, Result<Probe, PmsError>> {
        Box::pin(self.probe_write(write, marker))
    }

    fn apply<'a>(&'a self, write: &'a PmsWrite, marker: &'a str) -> BoxFuture<'a, Result<Applied, PmsError>> {
        Box::pin(self.apply_write(write, marker))
    }
}

/// A key Open Dental numbers (`AptNum`, `PatNum`, `Op`…), refused before sending when it is
/// not one.
fn num(field: &str, key: &str) -> Result<i64, PmsError> {
    key.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| PmsError::Rejected { status: 0, message: format!("{field} is not an Open Dental key") })
}

/// A field as text: strings as sent, numbers printed (Open Dental sends some keys as strings).
fn text(row: &Value, key: &str) -> String {
    match row.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A field as a number, whether sent as a number or a numeric string.
fn int(row: &Value, key: &str) -> Option<i64> {
    match row.get(key) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The DateTStamp as sent, when there is one.
fn stamp(row: &Value) -> Option<String> {
    Some(text(row, "DateTStamp")).filter(|s| !s.is_empty())
}

/// `note` with `marker` on a new line (CR LF, as Open Dental joins note lines), unless the
/// marker is already there.
fn with_marker(note: &str, marker: &str) -> String {
    if note.contains(marker) {
        note.to_owned()
    } else if note.is_empty() {
        marker.to_owned()
    } else {
        format!("{note}\r\n{marker}")
    }
}

/// A note followed by the marker on the same line.
fn tagged(note: Option<&str>, marker: &str) -> String {
    match note.map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => format!("{note} {marker}"),
        None => marker.to_owned(),
    }
}

/// The commlog `Mode_` names (the API takes the enum's description text).
fn mode_name(mode: CommMode) -> &'static str {
    match mode {
        CommMode::None => "None",
        CommMode::Email => "Email",
        CommMode::Mail => "Mail",
        CommMode::Phone => "Phone",
        CommMode::InPerson => "In Person",
        CommMode::Text => "Text",
        CommMode::EmailAndText => "Email and Text",
        CommMode::PhoneAndText => "Phone and Text",
    }
}

fn direction_name(direction: CommDirection) -> &'static str {
    match direction {
        CommDirection::Neither => "Neither",
        CommDirection::Sent => "Sent",
        CommDirection::Received => "Received",
    }
}

/// The patient fields a contact change sets, by Open Dental name, with their new values.
fn patient_fields(contact: &ContactChange) -> Vec<(&'static str, &str)> {
    contact
        .fields()
        .into_iter()
        .map(|(field, value)| {
            let od = match field {
                "phone_home" => "HmPhone",
                "phone_work" => "WkPhone",
                "phone_mobile" => "WirelessPhone",
                "email" => "Email",
                "address_line1" => "Address",
                "address_line2" => "Address2",
                "city" => "City",
                "region" => "State",
                _ => "Zip",
            };
            (od, value)
        })
        .collect()
}

/// Whether a patient field holds `wanted`: phones compare by their digits (an office may
/// have Open Dental format numbers as `(503)555-1234`), the rest as trimmed text.
fn holds(row: &Value, field: &str, wanted: &str) -> bool {
    let have = text(row, field);
    if field.ends_with("Phone") {
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        digits(&have) == digits(wanted)
    } else {
        have.trim() == wanted.trim()
    }
}

/// The Open Dental appointment `Pattern` for a length: one `X` (provider time) per 5
/// minutes, rounded up.
fn pattern(minutes: u32) -> Result<String, PmsError> {
    let slots = minutes.div_ceil(5).max(1);
    if slots > MAX_PATTERN {
        return Err(PmsError::Rejected {
            status: 0,
            message: format!("Open Dental appointments last at most {} minutes", MAX_PATTERN * 5),
        });
    }
    Ok("X".repeat(slots as usize))
}

impl OdClient {
    /// A UTC instant as the office's wall clock, in Open Dental's format.
    fn local(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.config.time_zone).naive_local().format(FORMAT).to_string()
    }

    /// One record, or `None` when Open Dental answers 404.
    async fn record(&self, path: &str) -> Result<Option<Value>, PmsError> {
        crate::write::record(path, self.get(path, &[])).await
    }

    /// A record that must exist for a write to make sense.
    async fn existing(&self, path: &str) -> Result<Value, PmsError> {
        crate::write::existing(path, self.record(path).await?)
    }

    /// The first of a patient's rows (`appointments`, `commlogs`) whose note carries the
    /// marker: its key. Pages through the whole list.
    async fn find_marked(
        &self,
        resource: &str,
        pk: &str,
        patient: i64,
        marker: &str,
    ) -> Result<Option<String>, PmsError> {
        let limit = self.config.page_size();
        let mut offset = 0;
        loop {
            let query = [("PatNum", patient.to_string()), ("Limit", limit.to_string()), ("Offset", offset.to_string())];
            let rows = match self.get(resource, &query).await? {
                Value::Array(rows) => rows,
                _ => return Err(PmsError::Protocol(format!("{resource}: expected a JSON array"))),
            };
            if let Some(row) = rows.iter().find(|r| text(r, "Note").contains(marker)) {
                return Ok(Some(text(row, pk)).filter(|k| !k.is_empty()));
            }
            if rows.len() < limit {
                return Ok(None);
            }
            offset += rows.len();
        }
    }

    /// The name of an appointment's confirmation status: the `confirmed` label, or the name
    /// of its `Confirmed` definition when the label is absent.
    async fn confirmation(&self, row: &Value) -> Result<String, PmsError> {
        let label = text(row, "confirmed");
        if !label.is_empty() {
            return Ok(label);
        }
        let Some(def) = int(row, "Confirmed") else { return Ok(String::new()) };
        let defs = self.get("definitions", &[("Category", "2".to_owned())]).await?;
        Ok(defs
            .as_array()
            .and_then(|defs| defs.iter().find(|d| int(d, "DefNum") == Some(def)))
            .map(|d| text(d, "ItemName"))
            .unwrap_or_default())
    }

    async fn probe_write(&self, write: &PmsWrite, marker: &str) -> Result<Probe, PmsError> {
        let (path, row) = match write {
            PmsWrite::CreateAppointment { patient, .. } => {
                let key = self.find_marked("appointments", "AptNum", num("PatNum", patient)?, marker).await?;
                return Ok(Probe { exists: true, version: None, done: key.is_some(), created_key: key });
            }
            PmsWrite::CreateCommlog { patient, .. } => {
                let key = self.find_marked("commlogs", "CommlogNum", num("PatNum", patient)?, marker).await?;
                return Ok(Probe { exists: true, version: None, done: key.is_some(), created_key: key });
            }
            PmsWrite::RescheduleAppointment { appointment, .. }
            | PmsWrite::SetAppointmentStatus { appointment, .. }
            | PmsWrite::AddAppointmentNote { appointment, .. } => {
                let path = format!("appointments/{}", num("AptNum", appointment)?);
                let row = self.record(&path).await?;
                (path, row)
            }
            PmsWrite::UpdatePatientContact { patient, .. } => {
                let path = format!("patients/{}", num("PatNum", patient)?);
                let row = self.record(&path).await?;
                (path, row)
            }
        };
        let Some(row) = row else {
            tracing::info!(path, "write-back target is gone");
            return Ok(Probe::default());
        };
        let done = match write {
            PmsWrite::RescheduleAppointment { start_at, operatory, provider, .. } => {
                text(&row, "AptDateTime") == self.local(*start_at)
                    && operatory.as_deref().is_none_or(|op| int(&row, "Op") == op.trim().parse().ok())
                    && provider.as_deref().is_none_or(|p| int(&row, "ProvNum") == p.trim().parse().ok())
            }
            PmsWrite::SetAppointmentStatus { action, .. } => {
                let status = text(&row, "AptStatus");
                match action {
                    AppointmentAction::Confirm => self.confirmation(&row).await?.eq_ignore_ascii_case("Confirmed"),
                    AppointmentAction::Break => status == "Broken",
                    AppointmentAction::Cancel => status == "Broken" || status == "UnschedList",
                }
            }
            PmsWrite::AddAppointmentNote { .. } => text(&row, "Note").contains(marker),
            PmsWrite::UpdatePatientContact { contact, .. } => {
                patient_fields(contact).iter().all(|(field, wanted)| holds(&row, field, wanted))
            }
            PmsWrite::CreateAppointment { .. } | PmsWrite::CreateCommlog { .. } => false,
        };
        Ok(Probe { exists: true, version: stamp(&row), done, created_key: None })
    }

    /// Sends one write request (the Open Dental headers, one attempt).
    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Accepted, PmsError> {
        let url = format!("{}/{path}", self.config.base_url);
        let auth = format!("ODFHIR {}/{}", self.config.developer_key, self.config.customer_key);
        let request = self.http.request(method, url).header("Authorization", auth).json(&body);
        let accepted = send_once(&self.limiter, path, request).await?;
        tracing::info!(path, status = accepted.status, "Open Dental accepted a write");
        Ok(accepted)
    }

    /// Sends a create and reads the new record's key from the answer. A create accepted
    /// without a readable key is uncertain: a probe finds it by its marker.
    async fn create(&self, path: &str, pk: &str, body: Value) -> Result<Applied, PmsError> {
        let accepted = self.send(reqwest::Method::POST, path, body).await?;
        let key = Some(text(&accepted.body, pk)).filter(|k| !k.is_empty());
        match key {
            Some(key) => Ok(Applied { created_key: Some(key), status: accepted.status }),
            None => Err(PmsError::Uncertain {
                reason: format!("{path}: accepted (HTTP {}) without {pk} in the answer", accepted.status),
            }),
        }
    }

    async fn apply_write(&self, write: &PmsWrite, marker: &str) -> Result<Applied, PmsError> {
        use reqwest::Method;
        let accepted = match write {
            PmsWrite::RescheduleAppointment { appointment, start_at, operatory, provider } => {
                let path = format!("appointments/{}", num("AptNum", appointment)?);
                let mut body = Map::new();
                body.insert("AptDateTime".into(), json!(self.local(*start_at)));
                if let Some(op) = operatory {
                    body.insert("Op".into(), json!(num("Op", op)?));
                }
                if let Some(prov) = provider {
                    body.insert("ProvNum".into(), json!(num("ProvNum", prov)?));
                }
                // PUT overwrites the note: keep what it says and add the marker.
                let current = self.existing(&path).await?;
                body.insert("Note".into(), json!(with_marker(&text(&current, "Note"), marker)));
                self.send(Method::PUT, &path, Value::Object(body)).await?
            }
            PmsWrite::SetAppointmentStatus { appointment, action } => {
                let apt = num("AptNum", appointment)?;
                let (path, body) = match action {
                    AppointmentAction::Confirm => {
                        (format!("appointments/{apt}/Confirm"), json!({"confirmVal": "Confirmed"}))
                    }
                    AppointmentAction::Break => (
                        format!("appointments/{apt}/Break"),
                        json!({"sendToUnscheduledList": "false", "breakType": "Missed"}),
                    ),
                    AppointmentAction::Cancel => (
                        format!("appointments/{apt}/Break"),
                        json!({"sendToUnscheduledList": "false", "breakType": "Cancelled"}),
                    ),
                };
                self.send(Method::PUT, &path, body).await?
            }
            PmsWrite::AddAppointmentNote { appointment, note } => {
                let path = format!("appointments/{}/Note", num("AptNum", appointment)?);
                self.send(Method::PUT, &path, json!({"Note": tagged(Some(note), marker)})).await?
            }
            PmsWrite::CreateAppointment {
                patient,
                start_at,
                duration_minutes,
                operatory,
                provider,
                location,
                note,
            } => {
                let op = operatory.as_deref().ok_or_else(|| PmsError::Rejected {
                    status: 0,
                    message: "Open Dental needs an operatory to book an appointment".into(),
                })?;
                let mut body = Map::new();
                body.insert("PatNum".into(), json!(num("PatNum", patient)?));
                body.insert("Op".into(), json!(num("Op", op)?));
                body.insert("AptDateTime".into(), json!(self.local(*start_at)));
                body.insert("Pattern".into(), json!(pattern(*duration_minutes)?));
                if let Some(prov) = provider {
                    body.insert("ProvNum".into(), json!(num("ProvNum", prov)?));
                }
                if let Some(clinic) = location {
                    body.insert("ClinicNum".into(), json!(num("ClinicNum", clinic)?));
                }
                body.insert("Note".into(), json!(tagged(note.as_deref(), marker)));
                return self.create("appointments", "AptNum", Value::Object(body)).await;
            }
            PmsWrite::UpdatePatientContact { patient, contact } => {
                let path = format!("patients/{}", num("PatNum", patient)?);
                let fields = patient_fields(contact);
                if fields.is_empty() {
                    return Err(PmsError::Rejected { status: 0, message: "the contact change sets no field".into() });
                }
                let body: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect();
                self.send(Method::PUT, &path, Value::Object(body)).await?
            }
            PmsWrite::CreateCommlog { patient, note, mode, direction, communicated_at } => {
                let body = json!({
                    "PatNum": num("PatNum", patient)?,
                    "Note": tagged(Some(note), marker),
                    "CommDateTime": self.local(*communicated_at),
                    "Mode_": mode_name(*mode),
                    "SentOrReceived": direction_name(*direction),
                });
                return self.create("commlogs", "CommlogNum", body).await;
            }
        };
        Ok(Applied { created_key: None, status: accepted.status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_become_patterns_of_five_minute_slots() {
        assert_eq!(pattern(30).ok().as_deref(), Some("XXXXXX"));
        assert_eq!(pattern(32).ok().as_deref(), Some("XXXXXXX"));
        assert_eq!(pattern(0).ok().as_deref(), Some("X"));
        assert!(matches!(pattern(541), Err(PmsError::Rejected { status: 0, .. })));
    }

    #[test]
    fn markers_are_added_once() {
        assert_eq!(with_marker("", "[enamel:1]"), "[enamel:1]");
        assert_eq!(with_marker("Bring x-rays", "[enamel:1]"), "Bring x-rays\r\n[enamel:1]");
        assert_eq!(with_marker("Bring x-rays\r\n[enamel:1]", "[enamel:1]"), "Bring x-rays\r\n[enamel:1]");
        assert_eq!(tagged(Some(" Called "), "[enamel:1]"), "Called [enamel:1]");
        assert_eq!(tagged(None, "[enamel:1]"), "[enamel:1]");
    }

    #[test]
    fn phones_compare_by_digits() {
        let row = json!({"WirelessPhone": "(503)555-1234", "City": "Salem "});
        assert!(holds(&row, "WirelessPhone", "503-555-1234"));
        assert!(holds(&row, "City", "Salem"));
        assert!(!holds(&row, "Email", "a@b.c"));
        assert!(holds(&row, "Email", ""));
    }
}
