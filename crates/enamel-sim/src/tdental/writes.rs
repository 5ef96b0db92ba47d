//! TDental's login/refresh and the writes of README §5, validated like the ASP.NET API:
//! `POST /api/Appointments`, `PUT /api/Appointments/{id}`, `PATCH …/{id}/PatchState`,
//! `DELETE /api/Appointments/{id}`, `PUT /api/Partners/Customers`,
//! `POST /api/CustomerReceipts`, `PATCH /api/CustomerReceipts/{id}/PatchState`.
//! Every write lands in the write log and moves the row's internal change stamp.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value, json};

use super::{Params, Tenant, VN_OFFSET_HOURS, comb, resources, server_error, unix, validation, views};

use crate::rng::Rng;
use crate::rows::{Row, Val};
use crate::{Dataset, Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Seven days, in seconds (`exp − iat`).
const TOKEN_LIFETIME: i64 = 604_800;

const APPOINTMENT_STATES: &[&str] = &["confirmed", "waiting", "examination", "done", "cancel"];
const RECEIPT_STATES: &[&str] = &["waiting", "examination", "done"];

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(n);
    out
}

impl Tenant {
    /// Issues an access token for `user` at `now` (sim clock): an HS256-shaped JWT with
    /// TDental's claims; the signature is a deterministic 32-byte value (clients never
    /// verify it; the simulator checks tokens by lookup).
    fn issue(&mut self, user: &str, now: NaiveDateTime) -> String {
        self.sessions += 1;
        let iat = unix(now);
        let (name, partner, company) = self
            .get("applicationusers", user)
            .map(|u| {
                (u.row.str("userName").to_owned(), u.row.str("partnerId").to_owned(), u.row.str("companyId").to_owned())
            })
            .unwrap_or_default();
        let session = format!("{:040x}", (u128::from(self.sessions) * 0x9e37_79b9_7f4a_7c15) ^ u128::from(self.seed));
        let header = json!({"alg": "HS256", "typ": "JWT"});
        let claims = json!({
            "nameid": user,
            "unique_name": name,
            "company_id": company,
            "user_root": if name == "admin" { "True" } else { "False" },
            "partner_id": partner,
            "is_head_office": "False",
            "session_id": &session[..40.min(session.len())],
            "nbf": iat,
            "exp": iat + TOKEN_LIFETIME,
            "iat": iat,
        });
        let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
        let mut rng = Rng::new(self.seed, &input);
        let token = format!("{input}.{}", b64url(&random_bytes(&mut rng, 32)));
        self.tokens.insert(token.clone(), iat + TOKEN_LIFETIME);
        token
    }

    fn user_for(&self, user_name: &str) -> String {
        self.sets
            .get("applicationusers")
            .and_then(|t| t.iter().find(|(_, r)| r.row.str("userName").eq_ignore_ascii_case(user_name)))
            .map(|(k, _)| k.to_string())
            .unwrap_or_else(|| self.admin_id())
    }
}

/// `POST /api/Account/Login`: 200 always; `succeeded` says whether it worked.
pub(crate) fn login(shared: &Shared, body: Value) -> Response {
    let user_name = body.get("userName").and_then(Value::as_str).unwrap_or("");
    let password = body.get("password").and_then(Value::as_str).unwrap_or("");
    let config = &shared.config;
    if user_name != config.username || password != config.password {
        return axum::Json(json!({"succeeded": false, "message": "Tài khoản hoặc mật khẩu không đúng"}))
            .into_response();
    }
    let now = shared.clock.now();
    let mut data = shared.data.write().unwrap_or_else(|e| e.into_inner());
    let Dataset::Tdental(tenant) = &mut *data else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let user = tenant.user_for(user_name);
    let token = tenant.issue(&user, now);
    let mut rng = Rng::new(tenant.seed, &format!("refresh/{}", tenant.sessions));
    let refresh = STANDARD.encode(random_bytes(&mut rng, 32));
    tenant.refresh.insert(refresh.clone(), user.clone().into_boxed_str());
    let session: String = random_bytes(&mut rng, 20).iter().map(|b| format!("{b:02x}")).collect();
    let device: String = random_bytes(&mut rng, 15).iter().map(|b| char::from(b'a' + b % 26)).collect();
    let u = tenant.get("applicationusers", &user);
    let field = |k: &str| {
        u.map_or(Value::Null, |u| {
            let v = u.row.str(k);
            if v.is_empty() { Value::Null } else { Value::String(v.to_owned()) }
        })
    };
    let body = json!({
        "succeeded": true,
        "message": "Authentication succeeded",
        "token": token,
        "refreshToken": refresh,
        "tenantId": "tamdentist",
        "configs": null,
        "user": {
            "id": user,
            "name": field("name"),
            "userName": field("userName"),
            "partnerId": field("partnerId"),
            "phone": field("phoneNumber"),
            "email": null,
            "avatar": null,
            "companyId": field("companyId"),
        },
        "sessionId": session,
        "requiresTwoFactor": false,
        "userId": null,
        "deviceId": device,
    });
    axum::Json(body).into_response()
}

/// `POST /api/Account/Refresh {refreshToken}` → `{accessToken, refreshToken}`; 400 unknown.
pub(crate) fn refresh(shared: &Shared, body: Value) -> Response {
    let Some(token) = body.get("refreshToken").and_then(Value::as_str).map(str::to_owned) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let now = shared.clock.now();
    let mut data = shared.data.write().unwrap_or_else(|e| e.into_inner());
    let Dataset::Tdental(tenant) = &mut *data else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(user) = tenant.refresh.get(&token).cloned() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let access = tenant.issue(&user, now);
    axum::Json(json!({"accessToken": access, "refreshToken": token})).into_response()
}

/// A refused write: the response (boxed: responses are large).
type Refused = Box<Response>;

fn bad(field: &str, message: &str) -> Refused {
    Box::new(validation(field, message))
}

fn fields(body: &Value) -> Result<&Map<String, Value>, Refused> {
    body.as_object().ok_or_else(|| bad("$", "A non-empty request body is required."))
}

fn text(f: &Map<String, Value>, key: &str) -> Result<Option<String>, Refused> {
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(bad(&format!("$.{key}"), &format!("The JSON value could not be converted to {key}."))),
    }
}

fn guid(f: &Map<String, Value>, key: &str) -> Result<Option<String>, Refused> {
    match text(f, key)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => match uuid::Uuid::parse_str(&s) {
            Ok(u) => Ok(Some(u.hyphenated().to_string())),
            Err(_) => Err(bad(&format!("$.{key}"), "The JSON value could not be converted to System.Guid.")),
        },
    }
}

fn int(f: &Map<String, Value>, key: &str) -> Result<Option<i64>, Refused> {
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| bad(&format!("$.{key}"), "The JSON value could not be converted to System.Int32.")),
        Some(_) => Err(bad(&format!("$.{key}"), "The JSON value could not be converted to System.Int32.")),
    }
}

fn boolean(f: &Map<String, Value>, key: &str) -> Result<Option<bool>, Refused> {
    match f.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(&format!("$.{key}"), "The JSON value could not be converted to System.Boolean.")),
    }
}

/// A local wall-clock date-time: naive ISO (what the SPA sends), a bare date, or an
/// offset form converted to Vietnam time.
fn datetime(f: &Map<String, Value>, key: &str) -> Result<Option<NaiveDateTime>, Refused> {
    let Some(s) = text(f, key)? else { return Ok(None) };
    let s = s.trim();
    let parsed = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
        .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|d| d.naive_utc() + Duration::hours(VN_OFFSET_HOURS)));
    parsed
        .map(Some)
        .ok_or_else(|| bad(&format!("$.{key}"), "The JSON value could not be converted to System.DateTime."))
}

fn state(f: &Map<String, Value>, allowed: &[&str]) -> Result<Option<&'static str>, Refused> {
    match text(f, "state")? {
        None => Ok(None),
        Some(s) => APPOINTMENT_STATES
            .iter()
            .chain(RECEIPT_STATES)
            .find(|a| a.eq_ignore_ascii_case(&s) && allowed.contains(a))
            .map(|a| Some(*a))
            .ok_or_else(|| bad("state", &format!("The value '{s}' is not valid for State."))),
    }
}

fn required<T>(v: Option<T>, field: &str) -> Result<T, Refused> {
    v.ok_or_else(|| bad(field, &format!("The {field} field is required.")))
}

/// A foreign key that does not exist: EF's failed insert, as the 500 envelope.
fn missing_reference() -> Refused {
    Box::new(server_error(
        "An error occurred while saving the entity changes. See the inner exception for details.",
        "DbUpdateException",
    ))
}

fn status_of(r: &Response) -> u16 {
    r.status().as_u16()
}

fn finish(shared: &Shared, method: &str, path: &str, body: Value, response: Response) -> Response {
    shared.log_write(method, path, body, status_of(&response));
    response
}

fn with_tenant(shared: &Shared, f: impl FnOnce(&mut Tenant, NaiveDateTime) -> Result<Response, Refused>) -> Response {
    let now = shared.clock.now();
    let mut data = shared.data.write().unwrap_or_else(|e| e.into_inner());
    let Dataset::Tdental(tenant) = &mut *data else {
        return StatusCode::NOT_FOUND.into_response();
    };
    tenant.forget_lists();
    f(tenant, now).unwrap_or_else(|refused| *refused)
}

fn render(tenant: &Tenant, set: &str, id: &str, now: NaiveDateTime) -> Response {
    let params = Params(Vec::new());
    match (resources::by_name(set), tenant.sets.get(set).and_then(|t| t.get_key_value(id))) {
        (Some(r), Some((id, rec))) => {
            axum::Json(views::render(tenant, r, id, rec, false, now, &params)).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Applies an appointment body (`AppointmentDisplay`) to a row.
fn apply_appointment(tenant: &Tenant, f: &Map<String, Value>, row: &mut Row, creating: bool) -> Result<(), Refused> {
    let partner = guid(f, "partnerId")?;
    let company = guid(f, "companyId")?;
    let date = datetime(f, "date")?;
    let (partner, company, date) = if creating {
        (Some(required(partner, "PartnerId")?), Some(required(company, "CompanyId")?), Some(required(date, "Date")?))
    } else {
        (partner, company, date)
    };
    let doctor = guid(f, "doctorId")?;
    if partner.as_deref().is_some_and(|p| tenant.get("partners", p).is_none())
        || company.as_deref().is_some_and(|c| tenant.get("companies", c).is_none())
        || doctor.as_deref().is_some_and(|d| tenant.get("employees", d).is_none())
    {
        return Err(missing_reference());
    }
    let st = state(f, APPOINTMENT_STATES)?;
    let time_expected = int(f, "timeExpected")?;
    if let Some(p) = partner {
        row.set("partnerId", p);
    }
    if let Some(c) = company {
        row.set("companyId", c);
    }
    if let Some(d) = date {
        row.set("date", d);
    }
    if creating || f.contains_key("doctorId") {
        row.set("doctorId", doctor);
    }
    if let Some(s) = st {
        row.set("state", s);
    } else if creating {
        row.set("state", "confirmed");
    }
    if let Some(t) = time_expected {
        row.set("timeExpected", t);
    } else if creating {
        row.set("timeExpected", 30i64);
    }
    for key in ["note", "reason", "color"] {
        if creating || f.contains_key(key) {
            let v = text(f, key)?;
            let v = if key == "color" && v.is_none() { Some("0".to_owned()) } else { v };
            row.set(key, v);
        }
    }
    if let Some(b) = boolean(f, "isRepeatCustomer")? {
        row.set("isRepeatCustomer", b);
    } else if creating {
        row.set("isRepeatCustomer", false);
    }
    for key in ["saleOrderId", "dotKhamId"] {
        if creating || f.contains_key(key) {
            row.set(key, guid(f, key)?);
        }
    }
    Ok(())
}

pub(crate) fn create_appointment(shared: &Shared, path: &str, body: Value) -> Response {
    let response = with_tenant(shared, |tenant, now| {
        let f = fields(&body)?;
        let mut row = Row::new();
        apply_appointment(tenant, f, &mut row, true)?;
        let name = format!("AP{:05}", tenant.next_seq("appointments"));
        row.set("name", name);
        row.set("userId", tenant.admin_id());
        row.set("dateCreated", now);
        let mut rng =
            Rng::new(tenant.seed, &format!("appointment/{}", tenant.seq.get("appointments").copied().unwrap_or(0)));
        let id = comb(&mut rng, now);
        tenant.insert("appointments", id.clone(), now, row);
        Ok(render(tenant, "appointments", &id, now))
    });
    finish(shared, "POST", path, body, response)
}

pub(crate) fn update_appointment(shared: &Shared, path: &str, id: &str, body: Value) -> Response {
    let id = id.to_ascii_lowercase();
    let response = with_tenant(shared, |tenant, now| {
        let f = fields(&body)?;
        let Some(mut row) = tenant.get("appointments", &id).map(|r| r.row.clone()) else {
            return Ok(StatusCode::NOT_FOUND.into_response());
        };
        apply_appointment(tenant, f, &mut row, false)?;
        if let Some(rec) = tenant.sets.get_mut("appointments").and_then(|t| t.get_mut(id.as_str())) {
            rec.row = row;
            rec.updated = now;
        }
        Ok(render(tenant, "appointments", &id, now))
    });
    finish(shared, "PUT", path, body, response)
}

pub(crate) fn patch_appointment_state(shared: &Shared, path: &str, id: &str, body: Value) -> Response {
    let id = id.to_ascii_lowercase();
    let response = with_tenant(shared, |tenant, now| {
        let f = fields(&body)?;
        let st = required(state(f, APPOINTMENT_STATES)?, "State")?;
        let reason = text(f, "reason")?;
        let Some(rec) = tenant.sets.get_mut("appointments").and_then(|t| t.get_mut(id.as_str())) else {
            return Ok(StatusCode::NOT_FOUND.into_response());
        };
        rec.row.set("state", st);
        if f.contains_key("reason") {
            rec.row.set("reason", reason);
        }
        rec.updated = now;
        Ok(StatusCode::NO_CONTENT.into_response())
    });
    finish(shared, "PATCH", path, body, response)
}

pub(crate) fn delete_appointment(shared: &Shared, path: &str, id: &str) -> Response {
    let id = id.to_ascii_lowercase();
    let response = with_tenant(shared, |tenant, _| {
        Ok(match tenant.sets.get_mut("appointments").and_then(|t| t.remove(id.as_str())) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        })
    });
    finish(shared, "DELETE", path, Value::Null, response)
}

/// `PUT /api/Partners/Customers` (`CreateCustomerRequest` + `id`): contact fields → 204.
pub(crate) fn update_customer(shared: &Shared, path: &str, body: Value) -> Response {
    let response = with_tenant(shared, |tenant, now| {
        let f = fields(&body)?;
        let id = required(guid(f, "id")?, "Id")?;
        if f.contains_key("name") && text(f, "name")?.is_none_or(|n| n.trim().is_empty()) {
            return Err(bad("Name", "The Name field is required."));
        }
        let gender = match text(f, "gender")? {
            None => None,
            Some(g) if ["male", "female", "other"].contains(&g.as_str()) => Some(g),
            Some(g) => return Err(bad("Gender", &format!("The value '{g}' is not valid for Gender."))),
        };
        let mut updates: Vec<(&'static str, Val)> = Vec::new();
        for key in ["name", "phone", "email", "street", "comment", "jobTitle", "ref"] {
            if f.contains_key(key) {
                updates.push((key, text(f, key)?.map_or(Val::Null, Val::from)));
            }
        }
        for (key, obj) in [("cityName", "city"), ("districtName", "district"), ("wardName", "ward")] {
            if let Some(o) = f.get(obj).and_then(Value::as_object) {
                updates.push((key, text(o, "name")?.map_or(Val::Null, Val::from)));
            }
        }
        for key in ["birthYear", "birthMonth", "birthDay"] {
            if f.contains_key(key) {
                updates.push((key, int(f, key)?.map_or(Val::Null, Val::from)));
            }
        }
        for key in ["sourceId", "titleId"] {
            if f.contains_key(key) {
                let v = guid(f, key)?;
                let set = if key == "sourceId" { "partnersources" } else { "partnertitles" };
                if v.as_deref().is_some_and(|v| tenant.get(set, v).is_none()) {
                    return Err(missing_reference());
                }
                updates.push((key, v.map_or(Val::Null, Val::from)));
            }
        }
        if let Some(g) = gender {
            updates.push(("gender", Val::from(g)));
        }
        let Some(rec) = tenant.sets.get_mut("partners").and_then(|t| t.get_mut(id.as_str())) else {
            return Ok(StatusCode::NOT_FOUND.into_response());
        };
        for (k, v) in updates {
            rec.row.set(k, v);
        }
        rec.updated = now;
        Ok(StatusCode::NO_CONTENT.into_response())
    });
    finish(shared, "PUT", path, body, response)
}

/// `POST /api/CustomerReceipts` (`CustomerReceiptSave`) → the `CustomerReceiptBasic` row.
pub(crate) fn create_receipt(shared: &Shared, path: &str, body: Value) -> Response {
    let response = with_tenant(shared, |tenant, now| {
        let f = fields(&body)?;
        let partner = required(guid(f, "partnerId")?, "PartnerId")?;
        let company = required(guid(f, "companyId")?, "CompanyId")?;
        let waiting = required(datetime(f, "dateWaiting")?, "DateWaiting")?;
        let doctor = guid(f, "doctorId")?;
        if tenant.get("partners", &partner).is_none()
            || tenant.get("companies", &company).is_none()
            || doctor.as_deref().is_some_and(|d| tenant.get("employees", d).is_none())
        {
            return Err(missing_reference());
        }
        let st = state(f, RECEIPT_STATES)?.unwrap_or("waiting");
        let row = Row::new()
            .with("dateWaiting", waiting)
            .with("dateExamination", if st == "waiting" { Val::Null } else { Val::DateTime(now) })
            .with("dateDone", if st == "done" { Val::DateTime(now) } else { Val::Null })
            .with("doctorId", doctor)
            .with("partnerId", partner)
            .with("isRepeatCustomer", boolean(f, "isRepeatCustomer")?.unwrap_or(false))
            .with("isNoTreatment", boolean(f, "isNoTreatment")?.unwrap_or(false))
            .with("reason", text(f, "reason")?)
            .with("state", st)
            .with("note", text(f, "note")?)
            .with("companyId", company)
            .with("timeExpected", int(f, "timeExpected")?.unwrap_or(30))
            .with("userId", tenant.admin_id());
        let n = tenant.next_seq("customerreceipts");
        let mut rng = Rng::new(tenant.seed, &format!("receipt/{n}"));
        let id = comb(&mut rng, now);
        tenant.insert("customerreceipts", id.clone(), now, row);
        Ok(render(tenant, "customerreceipts", &id, now))
    });
    finish(shared, "POST", path, body, response)
}

/// `PATCH /api/CustomerReceipts/{id}/PatchState {state, dateExamination, dateDone,
/// isNoTreatment, reason}` → 204.
pub(crate) fn patch_receipt_state(shared: &Shared, path: &str, id: &str, body: Value) -> Response {
    let id = id.to_ascii_lowercase();
    let response = with_tenant(shared, |tenant, now| {
        let f = fields(&body)?;
        let st = required(state(f, RECEIPT_STATES)?, "State")?;
        let exam = datetime(f, "dateExamination")?;
        let done = datetime(f, "dateDone")?;
        let no_treatment = boolean(f, "isNoTreatment")?;
        let reason = text(f, "reason")?;
        let Some(rec) = tenant.sets.get_mut("customerreceipts").and_then(|t| t.get_mut(id.as_str())) else {
            return Ok(StatusCode::NOT_FOUND.into_response());
        };
        rec.row.set("state", st);
        if st != "waiting" {
            rec.row.set("dateExamination", exam.or_else(|| rec.row.datetime("dateExamination")).unwrap_or(now));
        }
        if st == "done" {
            rec.row.set("dateDone", done.unwrap_or(now));
        }
        if let Some(b) = no_treatment {
            rec.row.set("isNoTreatment", b);
        }
        if f.contains_key("reason") {
            rec.row.set("reason", reason);
        }
        rec.updated = now;
        Ok(StatusCode::NO_CONTENT.into_response())
    });
    finish(shared, "PATCH", path, body, response)
}
