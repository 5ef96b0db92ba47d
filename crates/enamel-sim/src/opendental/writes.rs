//! Open Dental writes the write-back queue needs, validated like the API documents them:
//! `POST /appointments`, `PUT /appointments/{AptNum}` (partial), `…/Confirm`, `…/Break`,
//! `…/Note`, `PUT /patients/{PatNum}` (partial), `POST /commlogs`. Each bumps the row's
//! change stamp and lands in the write log.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use super::{Office, error, resources};
use crate::rows::{Row, Val};
use crate::{Dataset, Shared};

type Fields = Map<String, Value>;

/// A failed validation: status and message.
struct Refusal(StatusCode, String);

fn bad(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, message.into())
}

fn not_found(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::NOT_FOUND, message.into())
}

/// An integer sent as a number or a numeric string.
fn int(fields: &Fields, key: &str) -> Result<Option<i64>, Refusal> {
    match fields.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(format!("{key} is invalid."))),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(format!("{key} is invalid."))),
        Some(_) => Err(bad(format!("{key} is invalid."))),
    }
}

fn text(fields: &Fields, key: &str) -> Result<Option<String>, Refusal> {
    match fields.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{key} must be a string."))),
    }
}

fn boolean(fields: &Fields, key: &str) -> Result<Option<bool>, Refusal> {
    match text(fields, key)? {
        None => Ok(None),
        Some(s) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(s) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(bad(format!("{key} must be either \"true\" or \"false\"."))),
    }
}

fn datetime(fields: &Fields, key: &str) -> Result<Option<NaiveDateTime>, Refusal> {
    match text(fields, key)? {
        None => Ok(None),
        Some(s) => NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S")
            .map(Some)
            .map_err(|_| bad(format!("{key} format must be yyyy-MM-dd HH:mm:ss"))),
    }
}

fn one_of(fields: &Fields, key: &str, allowed: &[&str]) -> Result<Option<String>, Refusal> {
    match text(fields, key)? {
        None => Ok(None),
        Some(s) => match allowed.iter().find(|a| a.eq_ignore_ascii_case(&s)) {
            Some(a) => Ok(Some((*a).to_owned())),
            None => Err(bad(format!("{key} is invalid. Valid values are: {}.", allowed.join(", ")))),
        },
    }
}

fn exists(office: &Office, resource: &str, pk: i64) -> bool {
    office.tables.get(resource).is_some_and(|t| t.rows.contains_key(&pk))
}

fn body_fields(body: &[u8]) -> Result<Fields, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad("The request body must be a JSON object.")),
        Err(_) => Err(bad("The request body is not valid JSON.")),
    }
}

/// Runs a write under the data lock, logs it, and turns a refusal into its answer.
fn write(
    shared: &Shared,
    method: &str,
    path: &str,
    body: &[u8],
    apply: impl FnOnce(&mut Office, &Fields, NaiveDateTime) -> Result<Response, Refusal>,
) -> Response {
    let logged = serde_json::from_slice::<Value>(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    let now = chrono::Timelike::with_nanosecond(&shared.clock.now(), 0).unwrap_or_else(|| shared.clock.now());
    let result = body_fields(body).and_then(|fields| {
        let mut data = shared.data.write().unwrap_or_else(|e| e.into_inner());
        let Dataset::OpenDental(office) = &mut *data else {
            return Err(not_found("Resource not found."));
        };
        office.forget_indexes();
        apply(office, &fields, now)
    });
    let response = match result {
        Ok(response) => response,
        Err(Refusal(status, message)) => error(status, &message),
    };
    shared.log_write(method, path, logged, response.status().as_u16());
    response
}

fn created(office: &Office, resource: &str, pk: i64, base: &str) -> Response {
    let Some(r) = resources::find(resource) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Some(row) = office.tables.get(resource).and_then(|t| t.rows.get(&pk)) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut value = office.render_row(r, row, None);
    blank_stamps(&mut value, r.server_time);
    let mut response = (StatusCode::CREATED, axum::Json(value)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/api/v1/{resource}/{pk}")) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// POST and PUT answers carry `serverDateTime` as `""`.
fn blank_stamps(value: &mut Value, server_time: bool) {
    if let Value::Object(obj) = value
        && server_time
    {
        obj.insert("serverDateTime".into(), Value::String(String::new()));
    }
}

fn updated(office: &Office, resource: &str, pk: i64) -> Response {
    let (Some(r), Some(row)) = (resources::find(resource), office.tables.get(resource).and_then(|t| t.rows.get(&pk)))
    else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut value = office.render_row(r, row, None);
    blank_stamps(&mut value, r.server_time);
    axum::Json(value).into_response()
}

const APT_STATUS_POST: &[&str] = &["Scheduled", "Complete", "UnschedList", "PtNote", "PtNoteCompleted"];
const APT_STATUS_PUT: &[&str] =
    &["Scheduled", "Complete", "UnschedList", "Broken", "Planned", "PtNote", "PtNoteCompleted"];

fn base_url(shared: &Shared) -> String {
    let _ = shared;
    "https://api.opendental.com".to_owned()
}

pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    Path(resource): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let path = format!("/api/v1/{resource}");
    let base = base_url(&shared);
    match resource.to_ascii_lowercase().as_str() {
        "appointments" => write(&shared, "POST", &path, &body, |office, f, now| {
            let pat = int(f, "PatNum")?.ok_or_else(|| bad("PatNum is required."))?;
            let op = int(f, "Op")?.ok_or_else(|| bad("Op is required."))?;
            let at = datetime(f, "AptDateTime")?.ok_or_else(|| bad("AptDateTime is required."))?;
            if !exists(office, "patients", pat) {
                return Err(bad("PatNum is invalid."));
            }
            let Some(op_row) = office.tables["operatories"].rows.get(&op).cloned() else {
                return Err(bad("Op is invalid."));
            };
            let status = one_of(f, "AptStatus", APT_STATUS_POST)?.unwrap_or_else(|| "Scheduled".into());
            let patient = office.tables["patients"].rows.get(&pat).cloned().unwrap_or_default();
            let prov = int(f, "ProvNum")?.unwrap_or_else(|| patient.int("PriProv"));
            if !exists(office, "providers", prov) {
                return Err(bad("ProvNum is invalid."));
            }
            let pattern = text(f, "Pattern")?.unwrap_or_else(|| "/XX/".into());
            if pattern.is_empty() || !pattern.chars().all(|c| c == 'X' || c == '/') || pattern.len() > 108 {
                return Err(bad("Pattern is invalid."));
            }
            let confirmed = office.tables["definitions"]
                .rows
                .values()
                .find(|d| d.int("Category") == 2)
                .map_or(0, |d| d.int("DefNum"));
            let apt = office.next_pk("appointments");
            let row = Row::new()
                .with("AptNum", apt)
                .with("PatNum", pat)
                .with("AptStatus", status)
                .with("Pattern", pattern)
                .with("Confirmed", int(f, "Confirmed")?.unwrap_or(confirmed))
                .with("Op", op)
                .with("Note", text(f, "Note")?.unwrap_or_default())
                .with("ProvNum", prov)
                .with("ProvHyg", int(f, "ProvHyg")?.unwrap_or(0))
                .with("AptDateTime", at)
                .with("ClinicNum", int(f, "ClinicNum")?.unwrap_or_else(|| op_row.int("ClinicNum")))
                .with("IsHygiene", boolean(f, "IsHygiene")?.unwrap_or(false))
                .with("IsNewPatient", boolean(f, "IsNewPatient")?.unwrap_or(false))
                .with("Priority", one_of(f, "Priority", &["Normal", "ASAP"])?.unwrap_or_else(|| "Normal".into()))
                .with("DateTStamp", now)
                .with("SecDateTEntry", now)
                .with("DateTimeArrived", super::generate::no_datetime())
                .with("DateTimeSeated", super::generate::no_datetime())
                .with("DateTimeDismissed", super::generate::no_datetime());
            office.tables.entry("appointments").or_default().rows.insert(apt, row);
            Ok(created(office, "appointments", apt, &base))
        }),
        "commlogs" => write(&shared, "POST", &path, &body, |office, f, now| {
            let pat = int(f, "PatNum")?.ok_or_else(|| bad("PatNum is required."))?;
            let note = text(f, "Note")?.ok_or_else(|| bad("Note is required."))?;
            if !exists(office, "patients", pat) {
                return Err(bad("PatNum is invalid."));
            }
            let defs = &office.tables["definitions"];
            let comm_type = match (int(f, "CommType")?, text(f, "commType")?) {
                (Some(n), _) => defs
                    .rows
                    .get(&n)
                    .filter(|d| d.int("Category") == 27)
                    .map(|d| (n, d.str("ItemName").to_owned()))
                    .ok_or_else(|| bad("CommType is invalid."))?,
                (None, Some(name)) => defs
                    .rows
                    .values()
                    .find(|d| d.int("Category") == 27 && d.str("ItemName").eq_ignore_ascii_case(&name))
                    .map(|d| (d.int("DefNum"), d.str("ItemName").to_owned()))
                    .ok_or_else(|| bad("commType is invalid."))?,
                (None, None) => defs
                    .rows
                    .values()
                    .find(|d| d.int("Category") == 27)
                    .map(|d| (d.int("DefNum"), d.str("ItemName").to_owned()))
                    .unwrap_or_default(),
            };
            let when = datetime(f, "CommDateTime")?.unwrap_or(now);
            let id = office.next_pk("commlogs");
            let row = Row::new()
                .with("CommlogNum", id)
                .with("PatNum", pat)
                .with("CommDateTime", when)
                .with("CommType", comm_type.0.to_string())
                .with("commType", comm_type.1)
                .with("Note", note)
                .with(
                    "Mode_",
                    one_of(
                        f,
                        "Mode_",
                        &["None", "Email", "Mail", "Phone", "In Person", "Text", "Email and Text", "Phone and Text"],
                    )?
                    .unwrap_or_else(|| "None".into()),
                )
                .with(
                    "SentOrReceived",
                    one_of(f, "SentOrReceived", &["Neither", "Sent", "Received"])?.unwrap_or_else(|| "Neither".into()),
                )
                .with("UserNum", 0)
                .with("DateTStamp", now)
                .with("CommSource", "ProgramLink")
                .with("ProgramNum", 0)
                .with("DateTEntry", now)
                .with("ReferralNum", 0);
            office.tables.entry("commlogs").or_default().rows.insert(id, row);
            Ok(created(office, "commlogs", id, &base))
        }),
        _ => write(&shared, "POST", &path, &body, |_, _, _| Err(not_found("Resource not found."))),
    }
}

fn parse_pk(id: &str, what: &str) -> Result<i64, Refusal> {
    id.parse().map_err(|_| bad(format!("{what} is invalid.")))
}

pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    Path((resource, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let path = format!("/api/v1/{resource}/{id}");
    match resource.to_ascii_lowercase().as_str() {
        "appointments" => write(&shared, "PUT", &path, &body, |office, f, now| {
            let apt = parse_pk(&id, "AptNum")?;
            let mut row = office.tables["appointments"]
                .rows
                .get(&apt)
                .cloned()
                .ok_or_else(|| not_found("Appointment not found."))?;
            if let Some(status) = one_of(f, "AptStatus", APT_STATUS_PUT)? {
                row.set("AptStatus", status);
            }
            if let Some(at) = datetime(f, "AptDateTime")? {
                row.set("AptDateTime", at);
            }
            if let Some(op) = int(f, "Op")? {
                let op_row = office.tables["operatories"].rows.get(&op).ok_or_else(|| bad("Op is invalid."))?;
                row.set("Op", op);
                if int(f, "ClinicNum")?.is_none() {
                    row.set("ClinicNum", op_row.int("ClinicNum"));
                }
            }
            for key in ["ProvNum", "ProvHyg"] {
                if let Some(p) = int(f, key)? {
                    if p != 0 && !exists(office, "providers", p) {
                        return Err(bad(format!("{key} is invalid.")));
                    }
                    row.set(if key == "ProvNum" { "ProvNum" } else { "ProvHyg" }, p);
                }
            }
            if let Some(c) = int(f, "Confirmed")? {
                row.set("Confirmed", c);
            }
            if let Some(c) = int(f, "ClinicNum")? {
                row.set("ClinicNum", c);
            }
            if let Some(note) = text(f, "Note")? {
                row.set("Note", note);
            }
            if let Some(p) = text(f, "Pattern")? {
                row.set("Pattern", p);
            }
            if let Some(h) = boolean(f, "IsHygiene")? {
                row.set("IsHygiene", h);
            }
            row.set("DateTStamp", now);
            office.tables.entry("appointments").or_default().rows.insert(apt, row);
            Ok(updated(office, "appointments", apt))
        }),
        "patients" => write(&shared, "PUT", &path, &body, |office, f, now| {
            let pat = parse_pk(&id, "PatNum")?;
            let mut row =
                office.tables["patients"].rows.get(&pat).cloned().ok_or_else(|| not_found("Patient not found."))?;
            if row.str("PatStatus") == "Deleted" {
                return Err(bad("Deleted patients cannot be modified."));
            }
            for key in ["LName", "FName"] {
                if let Some(v) = text(f, key)? {
                    if v.trim().is_empty() {
                        return Err(bad(format!("{key} cannot be blank.")));
                    }
                    row.set(if key == "LName" { "LName" } else { "FName" }, v);
                }
            }
            const TEXT: &[&str] = &[
                "MiddleI",
                "Preferred",
                "Address",
                "Address2",
                "City",
                "HmPhone",
                "WkPhone",
                "WirelessPhone",
                "Email",
                "ChartNumber",
            ];
            for key in TEXT {
                if let Some(v) = text(f, key)? {
                    if *key == "Email" && !v.is_empty() && !v.contains('@') {
                        return Err(bad("Email is invalid."));
                    }
                    row.set(key, v);
                }
            }
            if let Some(state) = text(f, "State")? {
                if !(state.is_empty() || state.len() == 2 && state.chars().all(|c| c.is_ascii_uppercase())) {
                    return Err(bad("State must be two capital letters."));
                }
                row.set("State", state);
            }
            if let Some(zip) = text(f, "Zip")? {
                let digits: String = zip.chars().filter(char::is_ascii_digit).collect();
                if !(zip.is_empty() || digits.len() == 5 || digits.len() == 9) {
                    return Err(bad("Zip is invalid."));
                }
                row.set("Zip", zip);
            }
            if let Some(g) = one_of(f, "Gender", &["Male", "Female", "Unknown", "Other"])? {
                row.set("Gender", g);
            }
            if let Some(s) =
                one_of(f, "PatStatus", &["Patient", "NonPatient", "Inactive", "Archived", "Deceased", "Prospective"])?
            {
                row.set("PatStatus", s);
            }
            if let Some(b) = text(f, "Birthdate")? {
                let d = chrono::NaiveDate::parse_from_str(&b, "%Y-%m-%d")
                    .map_err(|_| bad("Birthdate format must be yyyy-MM-dd"))?;
                row.set("Birthdate", Val::Date(d));
            }
            row.set("DateTStamp", now);
            office.tables.entry("patients").or_default().rows.insert(pat, row);
            Ok(updated(office, "patients", pat))
        }),
        _ => write(&shared, "PUT", &path, &body, |_, _, _| Err(not_found("Resource not found."))),
    }
}

pub(crate) async fn action(
    State(shared): State<Arc<Shared>>,
    Path((resource, id, action)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let path = format!("/api/v1/{resource}/{id}/{action}");
    if !resource.eq_ignore_ascii_case("appointments") {
        return write(&shared, "PUT", &path, &body, |_, _, _| Err(not_found("Resource not found.")));
    }
    let action = action.to_ascii_lowercase();
    write(&shared, "PUT", &path, &body, |office, f, now| {
        let apt = parse_pk(&id, "AptNum")?;
        let mut row =
            office.tables["appointments"].rows.get(&apt).cloned().ok_or_else(|| not_found("Appointment not found."))?;
        match action.as_str() {
            "confirm" => {
                let def = match (text(f, "confirmVal")?, int(f, "defNum")?) {
                    (Some(_), Some(_)) | (None, None) => {
                        return Err(bad("Exactly one of confirmVal or defNum is required."));
                    }
                    (Some(v), None) => {
                        let wanted = match v.as_str() {
                            "None" => "Not Called",
                            "Sent" => "Left Msg",
                            "Confirmed" => "Confirmed",
                            "Not Accepted" => "Unconfirmed",
                            "Failed" => "Unconfirmed",
                            _ => {
                                return Err(bad(
                                    "confirmVal is invalid. Valid values are: None, Sent, Confirmed, Not Accepted, Failed.",
                                ));
                            }
                        };
                        office.tables["definitions"]
                            .rows
                            .values()
                            .find(|d| d.int("Category") == 2 && d.str("ItemName") == wanted)
                            .cloned()
                    }
                    (None, Some(n)) => {
                        office.tables["definitions"].rows.get(&n).filter(|d| d.int("Category") == 2).cloned()
                    }
                };
                let def = def.ok_or_else(|| bad("defNum is invalid."))?;
                row.set("Confirmed", def.int("DefNum"));
                row.set("confirmed", def.str("ItemName").to_owned());
            }
            "break" => {
                let to_list =
                    boolean(f, "sendToUnscheduledList")?.ok_or_else(|| bad("sendToUnscheduledList is required."))?;
                one_of(f, "breakType", &["Missed", "Cancelled"])?;
                if row.str("AptStatus") != "Scheduled" {
                    return Err(bad("Only scheduled appointments can be broken."));
                }
                row.set("AptStatus", if to_list { "UnschedList" } else { "Broken" });
            }
            "note" => {
                let note = text(f, "Note")?.ok_or_else(|| bad("Note is required."))?;
                let old = row.str("Note").to_owned();
                row.set("Note", if old.is_empty() { note } else { format!("{old}\r\n{note}") });
            }
            _ => return Err(not_found("Resource not found.")),
        }
        row.set("DateTStamp", now);
        office.tables.entry("appointments").or_default().rows.insert(apt, row);
        Ok(StatusCode::OK.into_response())
    })
}
