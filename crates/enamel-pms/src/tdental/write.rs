//! Write-backs to TDental ([`PmsWriter`] for [`TdClient`]), README §5.
//!
//! - Reschedule and note: `PUT /api/Appointments/{id}` takes the whole `AppointmentDisplay`,
//!   so the body is the current detail (`GET /api/Appointments/{id}`) with `date`, `doctorId`
//!   or `note` changed; the marker goes on a new line of the note.
//! - Status: `PATCH /api/Appointments/{id}/PatchState` with `confirmed`, or `cancel` and the
//!   marker added to the reason (the current reason is read first and sent back: whether the
//!   API keeps an omitted reason is not documented). TDental has no "broken" status.
//! - Create: `POST /api/Appointments` (a branch is required), the marker in the note; found
//!   again by listing the customer's appointments over all dates and reading the notes.
//! - Contact: `PUT /api/Partners/Customers` takes the whole customer, so the body is the
//!   current profile (`GET /api/Partners/{id}`) with phone, e-mail, street and city changed.
//! - No communication log, no chairs, one phone: those writes are refused before any request.
//!
//! TDental exposes no change stamps: a probe's version is a fingerprint (64-bit FNV-1a, hex)
//! of the fields a write-back can change. Writes carry the bearer token; a 401 (the PMS
//! processed nothing) logs in again and sends once more.

use chrono::{DateTime, NaiveDateTime, Utc};
use enamel_domain::writeback::{AppointmentAction, ContactChange, PmsWrite};
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::TdClient;
use super::wire::parse_local;
use crate::http::{Accepted, send_once};
use crate::{Applied, PmsError, PmsWriter, Probe};

/// TDental's local date-time format for writes (no offset).
const FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// The first day of "every date", for lists that need both bounds (as full passes send).
const ALL_FROM: &str = "0001-01-01";
/// The last day of "every date".
const ALL_TO: &str = "9999-12-31";

/// The fields of an appointment detail carried into a full-body PUT (`AppointmentDisplay`,
/// plus the newer ones the 2026 detail shows); display fields computed at read time are
/// left out.
const APPOINTMENT_BODY: &[&str] = &[
    "id",
    "name",
    "date",
    "time",
    "timeExpected",
    "services",
    "serviceIds",
    "state",
    "reason",
    "partnerId",
    "companyId",
    "dotKhamId",
    "saleOrderId",
    "note",
    "doctorId",
    "isRepeatCustomer",
    "color",
    "leadId",
    "userId",
];

/// The fields of a customer profile carried into `PUT /api/Partners/Customers`
/// (`CreateCustomerRequest` + `id`, plus the 2025 address fields the profile shows).
const CUSTOMER_BODY: &[&str] = &[
    "id",
    "name",
    "phone",
    "ref",
    "gender",
    "street",
    "birthYear",
    "birthMonth",
    "birthDay",
    "comment",
    "jobTitle",
    "medicalHistory",
    "city",
    "district",
    "ward",
    "cityV2",
    "wardV2",
    "usedAddressV2",
    "sourceId",
    "titleId",
    "note",
    "email",
    "avatar",
    "date",
    "agentId",
];

/// The appointment fields a write-back can change: the fingerprint covers these.
const APPOINTMENT_VERSIONED: &[&str] = &["date", "state", "doctorId", "note", "partnerId", "companyId", "timeExpected"];

impl PmsWriter for TdClient {
    fn probe<'a>(&'a self, write: &'a PmsWrite, marker: &'a str) -> BoxFuture<'a, Result<Probe, PmsError>> {
        Box::pin(self.probe_write(write, marker))
    }

    fn apply<'a>(&'a self, write: &'a PmsWrite, marker: &'a str) -> BoxFuture<'a, Result<Applied, PmsError>> {
        Box::pin(self.apply_write(write, marker))
    }
}

/// A refusal before any request: TDental cannot do this.
fn unsupported(message: &str) -> PmsError {
    PmsError::Rejected { status: 0, message: message.to_owned() }
}

/// Why TDental cannot apply `write` at all, checked before any request.
fn refusal(write: &PmsWrite) -> Option<PmsError> {
    match write {
        PmsWrite::CreateCommlog { .. } => Some(unsupported("TDental has no communication log")),
        PmsWrite::SetAppointmentStatus { action: AppointmentAction::Break, .. } => {
            Some(unsupported("TDental has no broken status: cancel the appointment instead"))
        }
        PmsWrite::RescheduleAppointment { operatory: Some(_), .. }
        | PmsWrite::CreateAppointment { operatory: Some(_), .. } => {
            Some(unsupported("TDental has no chairs: leave the operatory out"))
        }
        PmsWrite::UpdatePatientContact { contact, .. }
            if contact.phone_home.is_some()
                || contact.phone_work.is_some()
                || contact.address_line2.is_some()
                || contact.region.is_some()
                || contact.postal_code.is_some() =>
        {
            Some(unsupported("TDental customers have one phone, an e-mail, a street and a city only"))
        }
        _ => None,
    }
}

/// A field as text; null and absent are empty.
fn text(row: &Value, key: &str) -> String {
    match row.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A GUID field, lowercased (TDental sends them lowercase; callers may not).
fn guid(row: &Value, key: &str) -> String {
    text(row, key).trim().to_ascii_lowercase()
}

/// A customer's city name: the `city` object's, or the flat `cityName`.
fn city(row: &Value) -> String {
    row.pointer("/city/name").and_then(Value::as_str).map_or_else(|| text(row, "cityName"), str::to_owned)
}

/// An appointment's slot, parsed (so that `…T09:30:00` and `…T09:30:00.000` agree).
fn slot(row: &Value) -> Option<NaiveDateTime> {
    parse_local(&text(row, "date"))
}

/// 64-bit FNV-1a, as 16 hex digits: stable across builds and platforms.
fn fnv(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The fingerprint of an appointment: its changeable fields, normalised (null = empty,
/// GUIDs lowercase, the slot parsed), as a JSON array.
fn appointment_version(row: &Value) -> String {
    let fields: Vec<String> = APPOINTMENT_VERSIONED
        .iter()
        .map(|key| match *key {
            "date" => slot(row).map(|t| t.format(FORMAT).to_string()).unwrap_or_else(|| text(row, "date")),
            "doctorId" | "partnerId" | "companyId" => guid(row, key),
            _ => text(row, key),
        })
        .collect();
    fnv(json!(fields).to_string().as_bytes())
}

/// The fingerprint of a customer: name, phone, e-mail, street and city name.
fn customer_version(row: &Value) -> String {
    let fields = [text(row, "name"), text(row, "phone"), text(row, "email"), text(row, "street"), city(row)];
    fnv(json!(fields).to_string().as_bytes())
}

/// The customer fields a contact change sets: (TDental field, new value).
fn customer_fields(contact: &ContactChange) -> Vec<(&'static str, &str)> {
    [
        ("phone", contact.phone_mobile.as_deref()),
        ("email", contact.email.as_deref()),
        ("street", contact.address_line1.as_deref()),
        ("city", contact.city.as_deref()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect()
}

/// Whether a customer field holds `wanted`: the phone by its digits, the rest as trimmed
/// text (null is empty).
fn holds(row: &Value, field: &str, wanted: &str) -> bool {
    match field {
        "phone" => {
            let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
            digits(&text(row, "phone")) == digits(wanted)
        }
        "city" => city(row).trim() == wanted.trim(),
        _ => text(row, field).trim() == wanted.trim(),
    }
}

/// A text value to send: `""` clears, sent as null.
fn nullable(value: &str) -> Value {
    if value.is_empty() { Value::Null } else { Value::String(value.to_owned()) }
}

/// `note` with `line` on a new line.
fn append(note: &str, line: &str) -> String {
    if note.trim().is_empty() { line.to_owned() } else { format!("{note}\n{line}") }
}

/// The carried-over fields of a detail.
fn carried(detail: &Value, fields: &[&str]) -> Map<String, Value> {
    fields.iter().filter_map(|k| detail.get(*k).map(|v| ((*k).to_owned(), v.clone()))).collect()
}

impl TdClient {
    /// A UTC instant as the tenant's wall clock.
    fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.config.time_zone).naive_local()
    }

    /// One record below `/api/`, or `None` when TDental answers 404.
    async fn record(&self, path: &str) -> Result<Option<Value>, PmsError> {
        crate::write::record(path, self.get(path, &[])).await
    }

    /// A record that must exist for a write to make sense.
    async fn existing(&self, path: &str) -> Result<Value, PmsError> {
        crate::write::existing(path, self.record(path).await?)
    }

    /// The customer's appointment whose note carries the marker: its id. Lists every date
    /// (the list needs both bounds) for the customer, page by page, and reads the notes
    /// itself rather than trusting what `search` covers.
    async fn find_marked(&self, partner: &str, marker: &str) -> Result<Option<String>, PmsError> {
        let limit = self.config.page_size.max(1);
        let mut offset = 0;
        loop {
            let query = [
                ("partnerId", partner.trim().to_ascii_lowercase()),
                ("dateTimeFrom", ALL_FROM.to_owned()),
                ("dateTimeTo", ALL_TO.to_owned()),
                ("offset", offset.to_string()),
                ("limit", limit.to_string()),
            ];
            let rows = match self.get("Appointments", &query).await? {
                Value::Object(mut envelope) => match envelope.remove("items") {
                    Some(Value::Array(rows)) => rows,
                    _ => return Err(PmsError::Protocol("Appointments: expected a list envelope with items".into())),
                },
                _ => return Err(PmsError::Protocol("Appointments: expected a list envelope".into())),
            };
            if let Some(row) = rows.iter().find(|r| text(r, "note").contains(marker)) {
                return Ok(Some(text(row, "id")).filter(|id| !id.is_empty()));
            }
            if rows.len() < limit {
                return Ok(None);
            }
            offset += rows.len();
        }
    }

    async fn probe_write(&self, write: &PmsWrite, marker: &str) -> Result<Probe, PmsError> {
        if let Some(refused) = refusal(write) {
            return Err(refused);
        }
        match write {
            PmsWrite::CreateAppointment { patient, .. } => {
                let key = self.find_marked(patient, marker).await?;
                Ok(Probe { exists: true, version: None, done: key.is_some(), created_key: key })
            }
            PmsWrite::RescheduleAppointment { appointment, .. }
            | PmsWrite::SetAppointmentStatus { appointment, .. }
            | PmsWrite::AddAppointmentNote { appointment, .. } => {
                let path = format!("Appointments/{}", appointment.trim());
                let Some(row) = self.record(&path).await? else {
                    tracing::info!(path, "write-back target is gone");
                    return Ok(Probe::default());
                };
                let done = match write {
                    PmsWrite::RescheduleAppointment { start_at, provider, .. } => {
                        slot(&row) == Some(self.local(*start_at))
                            && provider
                                .as_deref()
                                .is_none_or(|p| guid(&row, "doctorId") == p.trim().to_ascii_lowercase())
                    }
                    PmsWrite::SetAppointmentStatus { action, .. } => match action {
                        AppointmentAction::Confirm => text(&row, "state") == "confirmed",
                        _ => text(&row, "state") == "cancel",
                    },
                    _ => text(&row, "note").contains(marker),
                };
                Ok(Probe { exists: true, version: Some(appointment_version(&row)), done, created_key: None })
            }
            PmsWrite::UpdatePatientContact { patient, contact } => {
                let path = format!("Partners/{}", patient.trim());
                let Some(row) = self.record(&path).await? else {
                    tracing::info!(path, "write-back target is gone");
                    return Ok(Probe::default());
                };
                let done = customer_fields(contact).iter().all(|(field, wanted)| holds(&row, field, wanted));
                Ok(Probe { exists: true, version: Some(customer_version(&row)), done, created_key: None })
            }
            PmsWrite::CreateCommlog { .. } => Err(unsupported("TDental has no communication log")),
        }
    }

    /// Sends one write below `/api/` with the bearer token. A 401 means TDental processed
    /// nothing: log in again and send once more.
    async fn send(&self, method: reqwest::Method, path: &str, body: &Value) -> Result<Accepted, PmsError> {
        let url = self.url(path);
        let mut stale = None;
        loop {
            let token = self.token(stale.as_deref()).await?;
            let request = self.http.request(method.clone(), &url).bearer_auth(&token).json(body);
            match send_once(&self.limiter, path, request).await {
                Err(PmsError::Unauthorized { status: 401 }) if stale.is_none() => {
                    tracing::info!(path, "TDental refused the token on a write; logging in again");
                    stale = Some(token);
                }
                Ok(accepted) => {
                    tracing::info!(path, status = accepted.status, "TDental accepted a write");
                    return Ok(accepted);
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn apply_write(&self, write: &PmsWrite, marker: &str) -> Result<Applied, PmsError> {
        use reqwest::Method;
        if let Some(refused) = refusal(write) {
            return Err(refused);
        }
        let accepted = match write {
            PmsWrite::RescheduleAppointment { appointment, start_at, provider, .. } => {
                let path = format!("Appointments/{}", appointment.trim());
                let current = self.existing(&path).await?;
                let mut body = carried(&current, APPOINTMENT_BODY);
                body.insert("date".into(), json!(self.local(*start_at).format(FORMAT).to_string()));
                if let Some(doctor) = provider {
                    body.insert("doctorId".into(), json!(doctor.trim().to_ascii_lowercase()));
                }
                let note = text(&current, "note");
                if !note.contains(marker) {
                    body.insert("note".into(), json!(append(&note, marker)));
                }
                self.send(Method::PUT, &path, &Value::Object(body)).await?
            }
            PmsWrite::SetAppointmentStatus { appointment, action } => {
                // `reason` is the appointment's one reason field (what it is for, or why it
                // was cancelled): sent back as it is, with the marker on a cancellation.
                let current = self.existing(&format!("Appointments/{}", appointment.trim())).await?;
                let reason = text(&current, "reason");
                let body = match action {
                    AppointmentAction::Confirm => json!({"state": "confirmed", "reason": nullable(&reason)}),
                    _ if reason.contains(marker) => json!({"state": "cancel", "reason": reason}),
                    _ => json!({"state": "cancel", "reason": append(&reason, marker)}),
                };
                let path = format!("Appointments/{}/PatchState", appointment.trim());
                self.send(Method::PATCH, &path, &body).await?
            }
            PmsWrite::AddAppointmentNote { appointment, note } => {
                let path = format!("Appointments/{}", appointment.trim());
                let current = self.existing(&path).await?;
                let mut body = carried(&current, APPOINTMENT_BODY);
                let line = format!("{} {marker}", note.trim());
                body.insert("note".into(), json!(append(&text(&current, "note"), line.trim())));
                self.send(Method::PUT, &path, &Value::Object(body)).await?
            }
            PmsWrite::CreateAppointment { patient, start_at, duration_minutes, provider, location, note, .. } => {
                let company = location
                    .as_deref()
                    .ok_or_else(|| unsupported("TDental needs a branch (location) to book an appointment"))?;
                let note = match note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                    Some(note) => format!("{note} {marker}"),
                    None => marker.to_owned(),
                };
                let body = json!({
                    "date": self.local(*start_at).format(FORMAT).to_string(),
                    "timeExpected": duration_minutes,
                    "partnerId": patient.trim().to_ascii_lowercase(),
                    "companyId": company.trim().to_ascii_lowercase(),
                    "doctorId": provider.as_deref().map(|d| d.trim().to_ascii_lowercase()),
                    "state": "confirmed",
                    "note": note,
                    "reason": null,
                    "services": [],
                    "saleOrderId": null,
                    "dotKhamId": null,
                });
                let accepted = self.send(Method::POST, "Appointments", &body).await?;
                let key = Some(text(&accepted.body, "id")).filter(|k| !k.is_empty());
                return match key {
                    Some(key) => Ok(Applied { created_key: Some(key), status: accepted.status }),
                    None => Err(PmsError::Uncertain {
                        reason: format!(
                            "Appointments: accepted (HTTP {}) without an id in the answer",
                            accepted.status
                        ),
                    }),
                };
            }
            PmsWrite::UpdatePatientContact { patient, contact } => {
                let fields = customer_fields(contact);
                if fields.is_empty() {
                    return Err(unsupported("the contact change sets no field"));
                }
                let current = self.existing(&format!("Partners/{}", patient.trim())).await?;
                let mut body = carried(&current, CUSTOMER_BODY);
                if let Some(Value::Array(histories)) = current.get("histories") {
                    let ids: Vec<Value> = histories.iter().filter_map(|h| h.get("id").cloned()).collect();
                    body.insert("historyIds".into(), Value::Array(ids));
                }
                body.insert("id".into(), json!(patient.trim().to_ascii_lowercase()));
                for (field, value) in fields {
                    let value = match field {
                        "city" => json!({"code": null, "name": nullable(value)}),
                        _ => nullable(value),
                    };
                    body.insert(field.to_owned(), value);
                }
                self.send(Method::PUT, "Partners/Customers", &Value::Object(body)).await?
            }
            PmsWrite::CreateCommlog { .. } => return Err(unsupported("TDental has no communication log")),
        };
        Ok(Applied { created_key: None, status: accepted.status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_cover_only_changeable_fields() {
        let a = json!({"id": "x", "date": "2026-05-02T09:30:00", "state": "confirmed", "note": "n",
                       "partnerId": "P", "companyId": "c", "timeExpected": 30, "isLate": false});
        let mut b = a.clone();
        b["isLate"] = json!(true);
        b["partnerName"] = json!("someone");
        b["date"] = json!("2026-05-02T09:30:00.000");
        b["partnerId"] = json!("p");
        assert_eq!(appointment_version(&a), appointment_version(&b));
        b["note"] = json!("n [enamel:1]");
        assert_ne!(appointment_version(&a), appointment_version(&b));
        assert_eq!(appointment_version(&a).len(), 16);

        let c = json!({"name": "A", "phone": null, "city": {"code": null, "name": "Huế"}, "age": "23"});
        let mut d = c.clone();
        d["age"] = json!("24");
        d["phone"] = json!("");
        assert_eq!(customer_version(&c), customer_version(&d));
        d["city"] = json!({"code": null, "name": "Hà Nội"});
        assert_ne!(customer_version(&c), customer_version(&d));
    }

    #[test]
    fn unsupported_writes_are_refused_up_front() {
        let contact = ContactChange { postal_code: Some("70000".into()), ..ContactChange::default() };
        let write = PmsWrite::UpdatePatientContact { patient: "p".into(), contact };
        assert!(matches!(refusal(&write), Some(PmsError::Rejected { status: 0, .. })));
        let write = PmsWrite::SetAppointmentStatus { appointment: "a".into(), action: AppointmentAction::Cancel };
        assert!(refusal(&write).is_none());
    }
}
