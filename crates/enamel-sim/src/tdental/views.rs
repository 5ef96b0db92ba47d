//! Rows as TDental shows them: the stored fields on the captured template, plus the
//! denormalised display fields computed at read time (`partnerName`, `doctorName`,
//! `stateDisplay`, `isLate`, `displayName "[ref] name"`, embedded objects), restricted to
//! the fields the list row really has (details add the foreign keys lists lack).

use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value, json};

use super::resources::Resource;
use super::{Params, Rec, TdDialect, Tenant, iso};
use crate::rows::{Dialect, Val, render as render_row};

/// Which shape of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum View {
    /// The list row.
    List,
    /// The `/{id}` detail.
    Detail,
    /// `/api/Partners`: the slim `PartnerBasic`.
    PartnerSlim,
    /// `/api/Partners/{id}`: the fat profile.
    PartnerDetail,
}

pub(crate) fn render(
    t: &Tenant,
    r: &Resource,
    id: &str,
    rec: &Rec,
    detail: bool,
    now: NaiveDateTime,
    p: &Params,
) -> Value {
    let view = if detail { View::Detail } else { View::List };
    render_view(t, r, id, rec, view, now, p)
}

/// A row's text as last rendered, per view, with the day it was rendered for (a row shows
/// fields computed from the day, such as `isLate` and `age`). A real TDental server runs on
/// its own machine; the simulator shares the benchmark's, so it renders a row once per
/// version of the data instead of once per request. Emptied by every change to the data
/// (`Tenant::forget_lists`), since a row shows other rows' fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rendered([OnceLock<Box<DayText>>; 4]);

/// A row's text and the day it was rendered for.
type DayText = (NaiveDate, Box<str>);

/// Whether a row's text depends on the request's parameters, which the cache does not
/// key on. Every parameter `decorate` reads must be named here.
fn varies_with(r: &Resource, p: &Params) -> bool {
    match r.name {
        "applicationusers" => p.flag("includeEmp"),
        "partners" => p.has("columns"),
        _ => false,
    }
}

/// One row's text in one view: the cached text when it was rendered for the same day,
/// else rendered now (and kept, unless the parameters shape it).
pub(crate) fn text<'a>(
    t: &Tenant,
    r: &Resource,
    id: &str,
    rec: &'a Rec,
    view: View,
    now: NaiveDateTime,
    p: &Params,
) -> std::borrow::Cow<'a, str> {
    let day = now.date();
    let fresh = || serde_json::to_string(&render_view(t, r, id, rec, view, now, p)).unwrap_or_default();
    if varies_with(r, p) {
        return fresh().into();
    }
    let cached = rec.rendered.0[view as usize].get_or_init(|| Box::new((day, fresh().into_boxed_str())));
    if cached.0 == day { cached.1.as_ref().into() } else { fresh().into() }
}

type Obj = Map<String, Value>;

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn opt(v: &str) -> Value {
    if v.is_empty() { Value::Null } else { s(v) }
}

fn name_in(t: &Tenant, set: &str, id: &str) -> Value {
    t.get(set, id).map_or(Value::Null, |r| s(r.row.str("name")))
}

fn num(rec: &Rec, field: &str) -> f64 {
    match rec.row.get(field) {
        Some(Val::Num(v)) => *v,
        Some(Val::Int(v)) => *v as f64,
        _ => 0.0,
    }
}

fn display_name(rec: &Rec) -> String {
    let r = rec.row.str("ref");
    if r.is_empty() { rec.row.str("name").to_owned() } else { format!("[{r}] {}", rec.row.str("name")) }
}

/// Renders one row in one view.
pub(crate) fn render_view(
    t: &Tenant,
    r: &Resource,
    id: &str,
    rec: &Rec,
    view: View,
    now: NaiveDateTime,
    p: &Params,
) -> Value {
    let tpl_name = match view {
        View::PartnerSlim => "partners_slim",
        View::PartnerDetail => "partner_detail",
        _ => r.name,
    };
    let empty = Map::new();
    let tpl = t.template(tpl_name).unwrap_or(&empty);
    let Value::Object(mut obj) = render_row(&rec.row, tpl, &TdDialect) else {
        return Value::Null;
    };
    obj.insert("id".into(), s(id));
    decorate(t, r, id, rec, view, now, p, &mut obj);
    let detail = view == View::Detail;
    obj.retain(|k, _| k == "id" || tpl.contains_key(k) || (detail && r.hidden.contains(&k.as_str())));
    Value::Object(obj)
}

#[allow(clippy::too_many_arguments)]
fn decorate(t: &Tenant, r: &Resource, id: &str, rec: &Rec, view: View, now: NaiveDateTime, p: &Params, o: &mut Obj) {
    let row = &rec.row;
    let today = now.date();
    match r.name {
        "appointments" => {
            let state = row.str("state");
            let date = row.datetime("date");
            let late = state == "confirmed" && date.is_some_and(|d| d.date() < today);
            o.insert("aptState".into(), s(state));
            o.insert("isLate".into(), Value::Bool(late));
            o.insert("stateDisplay".into(), s(appointment_state(state, late)));
            o.insert("doctorName".into(), name_in(t, "employees", row.str("doctorId")));
            o.insert("userName".into(), name_in(t, "applicationusers", row.str("userId")));
            o.insert("companyName".into(), name_in(t, "companies", row.str("companyId")));
            partner_fields(t, row.str("partnerId"), o, "partner");
            if let Some(partner) = t.get("partners", row.str("partnerId")) {
                o.insert(
                    "partner".into(),
                    json!({
                        "id": row.str("partnerId"),
                        "name": partner.row.str("name"),
                        "displayName": display_name(partner),
                        "phone": partner.row.str("phone"),
                        "ref": partner.row.str("ref"),
                        "avatar": null,
                        "gender": partner.row.str("gender"),
                    }),
                );
            }
            o.insert("services".into(), json!([]));
            o.insert("serviceIds".into(), json!([]));
        }
        "customerreceipts" => {
            o.insert("doctorName".into(), name_in(t, "employees", row.str("doctorId")));
            partner_fields(t, row.str("partnerId"), o, "partner");
            if view == View::Detail {
                o.insert("products".into(), json!([]));
            }
        }
        "saleorders" => {
            let partner_id = row.str("partnerId");
            partner_fields(t, partner_id, o, "partner");
            if let Some(partner) = t.get("partners", partner_id) {
                o.insert("partner".into(), embedded_partner(t, partner_id, partner));
            }
            o.insert("stateDisplay".into(), s(order_state(row.str("state"))));
            o.insert("doctorName".into(), name_in(t, "employees", row.str("doctorId")));
            o.insert("companyName".into(), name_in(t, "companies", row.str("companyId")));
        }
        "saleorderlines" => {
            let partner_id = row.str("orderPartnerId");
            if let Some(partner) = t.get("partners", partner_id) {
                o.insert("orderPartnerName".into(), s(partner.row.str("name")));
                o.insert("orderPartnerDisplayName".into(), s(&display_name(partner)));
                o.insert("orderPartnerPhone".into(), opt(partner.row.str("phone")));
            }
            o.insert("orderName".into(), name_in(t, "saleorders", row.str("orderId")));
            if let Some(product) = t.get("products", row.str("productId")) {
                o.insert("productName".into(), s(product.row.str("name").trim()));
                o.insert("productCode".into(), s(product.row.str("defaultCode")));
                o.insert("productUOMName".into(), s(product.row.str("uomName")));
            }
            for (key, object, name) in [
                ("employeeId", "employee", "employeeName"),
                ("assistantId", "assistant", ""),
                ("counselorId", "counselor", ""),
            ] {
                let emp = row.str(key);
                let value = t.get("employees", emp).map_or(Value::Null, |e| {
                    json!({"id": emp, "name": e.row.str("name"), "partnerId": null, "hrJobName": null, "userId": null})
                });
                if !name.is_empty() {
                    o.insert(name.into(), value.get("name").cloned().unwrap_or(Value::Null));
                }
                o.insert(object.into(), value);
            }
            o.insert("stateDisplay".into(), s(order_state(row.str("state"))));
        }
        "dotkhams" => {
            if let Some(partner) = t.get("partners", row.str("partnerId")) {
                o.insert("partnerRef".into(), opt(partner.row.str("ref")));
                o.insert("partnerName".into(), s(partner.row.str("name")));
            }
            o.insert("doctorName".into(), name_in(t, "employees", row.str("doctorId")));
            o.insert("assistantName".into(), name_in(t, "employees", row.str("assistantId")));
            o.insert("assistantSecondaryName".into(), name_in(t, "employees", row.str("assistantSecondaryId")));
            let order = t.get("saleorders", row.str("saleOrderId"));
            o.insert("saleOrderName".into(), order.map_or(Value::Null, |r| s(r.row.str("name"))));
            o.insert("services".into(), order.map_or(Value::Null, |r| s(r.row.str("productNames"))));
            o.insert("lineIds".into(), json!([]));
        }
        "accountpayments" => payment_fields(t, rec, o),
        "saleorderpayments" => {
            o.insert("orderName".into(), name_in(t, "saleorders", row.str("orderId")));
            let lines: Vec<Value> = ids(row.get("lineIds"))
                .iter()
                .map(|l| json!({"id": l, "name": t.get("saleorderlines", l).map_or("", |r| r.row.str("name"))}))
                .collect();
            o.insert("saleOrderLines".into(), Value::Array(lines));
            let payments: Vec<Value> = ids(row.get("paymentIds"))
                .iter()
                .filter_map(|pid| {
                    let ap = t.get("accountpayments", pid)?;
                    let mut m = t.template("accountpayments").cloned().unwrap_or_default();
                    if let Value::Object(rendered) = render_row(&ap.row, &m, &TdDialect) {
                        m = rendered;
                    }
                    m.insert("id".into(), s(pid));
                    payment_fields(t, ap, &mut m);
                    let tpl = t.template("accountpayments");
                    m.retain(|k, _| k == "id" || tpl.is_some_and(|tp| tp.contains_key(k)));
                    Some(Value::Object(m))
                })
                .collect();
            o.insert("payments".into(), Value::Array(payments));
        }
        "employees" => {
            if let Some(company) = t.get("companies", row.str("companyId")) {
                // The embedded company says `active:false` even for active branches.
                let mut c = t.template("companies").cloned().unwrap_or_default();
                for key in ["hotline", "phone", "address", "addressV2"] {
                    c.insert(key.into(), Value::Null);
                }
                c.insert("id".into(), s(row.str("companyId")));
                c.insert("name".into(), s(company.row.str("name")));
                c.insert("active".into(), Value::Bool(false));
                o.insert("company".into(), Value::Object(c));
            }
            if view == View::Detail {
                o.insert("partner".into(), Value::Null);
            }
        }
        "products" => {
            o.insert("categName".into(), name_in(t, "productcategories", row.str("categId")));
            let company = row.str("companyId");
            o.insert("appliedCompanies".into(), json!([{"id": company, "name": name_in(t, "companies", company)}]));
        }
        "quotations" => {
            o.insert("employeeName".into(), name_in(t, "employees", row.str("employeeId")));
            o.insert("userName".into(), name_in(t, "applicationusers", row.str("userId")));
            o.insert("partnerName".into(), name_in(t, "partners", row.str("partnerId")));
            let order = name_in(t, "saleorders", row.str("orderId"));
            o.insert("orderName".into(), if order.is_null() { s("") } else { order });
            let valid = row.datetime("dateEndQuotation").is_none_or(|d| d.date() >= today);
            o.insert("stateDisplay".into(), s(if valid { "còn hạn" } else { "hết hạn" }));
        }
        "applicationusers" => {
            let employees: Vec<Value> = if p.flag("includeEmp") {
                t.sets
                    .get("employees")
                    .map(|e| {
                        e.iter()
                            .filter(|(_, r)| r.row.str("userId") == id)
                            .map(|(eid, r)| {
                                let mut m = t.template("employees").cloned().unwrap_or_default();
                                if let Value::Object(rendered) = render_row(&r.row, &m, &TdDialect) {
                                    m = rendered;
                                }
                                m.insert("id".into(), s(eid));
                                m.insert("company".into(), Value::Null);
                                m.remove("userId");
                                m.remove("partnerId");
                                Value::Object(m)
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            o.insert("employees".into(), Value::Array(employees));
            o.insert("teamMembers".into(), json!([]));
        }
        "stockpickings" => {
            o.insert("companyName".into(), name_in(t, "companies", row.str("companyId")));
        }
        "stockmoves" => {
            if let Some(product) = t.get("products", row.str("productId")) {
                let name = product.row.str("name");
                let code = product.row.str("defaultCode");
                o.insert("productName".into(), s(name));
                o.insert("productDefaultCode".into(), s(code));
                o.insert("productDisplayName".into(), s(&format!("[{code}] {name}")));
                o.insert("productCategType".into(), s(product.row.str("type")));
                o.insert("productUomName".into(), s(product.row.str("uomName")));
            }
        }
        "partners" => partner_view(t, id, rec, view, now, p, o),
        _ => {}
    }
}

fn ids(v: Option<&Val>) -> Vec<String> {
    match v {
        Some(Val::Json(j)) => {
            j.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

fn appointment_state(state: &str, late: bool) -> &'static str {
    match state {
        "confirmed" if late => "Quá hẹn",
        "confirmed" => "Đang hẹn",
        "waiting" => "Chờ khám",
        "examination" => "Đang khám",
        "done" => "Hoàn thành",
        "cancel" => "Hủy hẹn",
        _ => "",
    }
}

fn order_state(state: &str) -> &'static str {
    match state {
        "draft" => "Nháp",
        "sale" => "Đang điều trị",
        "done" => "Hoàn thành",
        "cancel" => "Ngừng điều trị",
        _ => "",
    }
}

/// `partnerName`, `partnerPhone`, `partnerRef`, `partnerDisplayName`, `partnerGender`.
fn partner_fields(t: &Tenant, partner_id: &str, o: &mut Obj, prefix: &str) {
    if let Some(partner) = t.get("partners", partner_id) {
        o.insert(format!("{prefix}Name"), s(partner.row.str("name")));
        o.insert(format!("{prefix}Phone"), opt(partner.row.str("phone")));
        o.insert(format!("{prefix}Ref"), opt(partner.row.str("ref")));
        o.insert(format!("{prefix}DisplayName"), s(&display_name(partner)));
        o.insert(format!("{prefix}Gender"), s(partner.row.str("gender")));
        o.insert(format!("{prefix}Avatar"), Value::Null);
    }
}

/// The partner embedded in sale-order rows: `PartnerBasic` with production's odd values
/// (`gender` as its display text, `active:false`, `dateCreated:null`, `ref:null`).
fn embedded_partner(t: &Tenant, id: &str, partner: &Rec) -> Value {
    let mut m = t.template("partners_slim").cloned().unwrap_or_default();
    for (k, v) in m.iter_mut() {
        *v = match v {
            Value::Number(_) => json!(0.0),
            Value::Array(_) => json!([]),
            _ => Value::Null,
        };
        if k == "appointmnetId" {
            *v = s("00000000-0000-0000-0000-000000000000");
        }
    }
    m.insert("id".into(), s(id));
    m.insert("name".into(), s(partner.row.str("name")));
    m.insert("displayName".into(), s(&display_name(partner)));
    m.insert("phone".into(), opt(partner.row.str("phone")));
    m.insert("gender".into(), s(gender_display(partner.row.str("gender"))));
    m.insert("address".into(), s(""));
    m.insert("addressV2".into(), s(""));
    m.insert("usedAddressV2".into(), Value::Bool(true));
    m.insert("age".into(), s(""));
    m.insert("dateOfBirth".into(), s(""));
    m.insert("active".into(), Value::Bool(false));
    m.insert("isCompany".into(), Value::Bool(false));
    m.insert("sendInvoiceBy".into(), s("none"));
    m.insert("balance".into(), Value::Null);
    Value::Object(m)
}

fn gender_display(g: &str) -> &'static str {
    match g {
        "male" => "Nam",
        "female" => "Nữ",
        _ => "Khác",
    }
}

fn payment_fields(t: &Tenant, rec: &Rec, o: &mut Obj) {
    let row = &rec.row;
    let journal = t.journals.iter().find(|j| *j.id == *row.str("journalId"));
    let display = |kind: &str| match kind {
        "cash" => "Tiền mặt",
        "bank" => "Ngân hàng",
        "advance" => "Tạm ứng",
        _ => "",
    };
    o.insert("partnerName".into(), name_in(t, "partners", row.str("partnerId")));
    match journal {
        Some(j) => {
            o.insert("journalName".into(), s(j.name));
            o.insert("journalType".into(), s(j.kind));
            o.insert(
                "journal".into(),
                json!({"id": &*j.id, "name": j.name, "type": j.kind, "accountNumber": null,
                       "displayType": display(j.kind), "bankAccount": null, "code": j.code}),
            );
        }
        None => {
            o.insert("journalName".into(), Value::Null);
            o.insert("journalType".into(), Value::Null);
            o.insert("journal".into(), Value::Null);
        }
    }
    let outbound = row.str("paymentType") == "outbound";
    o.insert("displayPaymentType".into(), s(if outbound { "Phiếu chi" } else { "Phiếu thu" }));
    let amount = num(rec, "amount");
    o.insert("amountSigned".into(), TdDialect.render(&Val::Num(if outbound { -amount } else { amount })));
    o.insert(
        "displayState".into(),
        s(match row.str("state") {
            "posted" => "Đã xác nhận",
            "cancel" => "Đã hủy",
            _ => "Nháp",
        }),
    );
}

fn date_of_birth(rec: &Rec) -> String {
    let part = |f: &str| match rec.row.get(f) {
        Some(Val::Int(v)) => Some(*v),
        _ => None,
    };
    let (d, m, y) = (part("birthDay"), part("birthMonth"), part("birthYear"));
    if d.is_none() && m.is_none() && y.is_none() {
        return String::new();
    }
    let show = |v: Option<i64>, dash: &str| v.map_or(dash.to_owned(), |v| v.to_string());
    format!("{}/{}/{}", show(d, "--"), show(m, "--"), show(y, "----"))
}

fn age(rec: &Rec, now: NaiveDateTime) -> String {
    match rec.row.get("birthYear") {
        Some(Val::Int(y)) => (i64::from(now.year()) - y).to_string(),
        _ => String::new(),
    }
}

fn address(rec: &Rec) -> String {
    ["street", "wardName", "districtName", "cityName"]
        .iter()
        .map(|f| rec.row.str(f))
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn categories(t: &Tenant, rec: &Rec) -> Value {
    Value::Array(
        ids(rec.row.get("categoryIds"))
            .iter()
            .filter_map(|c| {
                let cat = t.get("partnercategories", c)?;
                Some(json!({"id": c, "name": cat.row.str("name"), "completeName": cat.row.str("name"),
                            "color": cat.row.str("color")}))
            })
            .collect(),
    )
}

fn partner_view(t: &Tenant, id: &str, rec: &Rec, view: View, now: NaiveDateTime, p: &Params, o: &mut Obj) {
    let row = &rec.row;
    o.insert("dateOfBirth".into(), s(&date_of_birth(rec)));
    o.insert("age".into(), s(&age(rec, now)));
    o.insert("address".into(), s(&address(rec)));
    o.insert("categories".into(), categories(t, rec));
    let company = row.str("companyId");
    match view {
        View::List | View::Detail => {
            // GetPagedPartnersCustomer: roll-ups only when `columns=` asks for them.
            o.insert("displayName".into(), Value::Null);
            o.insert("genderDisplay".into(), s(gender_display(row.str("gender"))));
            if p.has("columns") {
                let orders: Vec<&Rec> = t
                    .orders_of
                    .get(id)
                    .map(|v| v.iter().filter_map(|oid| t.get("saleorders", oid)).collect())
                    .unwrap_or_default();
                let live: Vec<&&Rec> = orders.iter().filter(|r| r.row.str("state") != "cancel").collect();
                let residual: f64 = live.iter().map(|r| num(r, "residual")).sum();
                let total: f64 = live.iter().map(|r| num(r, "amountTotal")).sum();
                let paid: f64 = live.iter().map(|r| num(r, "totalPaid")).sum();
                o.insert("orderState".into(), s(row.str("treatmentStatus")));
                o.insert("orderResidual".into(), json!(residual));
                o.insert("totalDebit".into(), json!(residual));
                o.insert("amountTreatmentTotal".into(), json!(total));
                o.insert("amountRevenueTotal".into(), json!(paid));
                o.insert("companyName".into(), name_in(t, "companies", company));
                let last = orders.iter().filter_map(|r| r.row.datetime("dateOrder")).max();
                o.insert("saleOrderDate".into(), last.map_or(Value::Null, |d| s(&iso(d))));
            } else {
                for k in [
                    "orderState",
                    "orderResidual",
                    "totalDebit",
                    "amountTreatmentTotal",
                    "amountRevenueTotal",
                    "companyName",
                ] {
                    o.insert(k.into(), Value::Null);
                }
            }
            o.insert("amountBalance".into(), json!(0.0));
            o.insert("country".into(), Value::Null);
        }
        View::PartnerSlim => {
            o.insert("displayName".into(), s(&display_name(rec)));
            // `date` is a pre-formatted UTC string here.
            let date = row.datetime("date");
            o.insert("date".into(), date.map_or(Value::Null, |d| s(&d.format("%d/%m/%Y %H:%M:%S").to_string())));
            o.insert("source".into(), Value::Null);
            o.insert("companyName".into(), Value::Null);
            o.insert("debt".into(), json!(0.0));
            o.insert("debit".into(), json!(0.0));
            o.insert("credit".into(), json!(0.0));
            o.insert("countLine".into(), json!(t.orders_of.get(id).map_or(0, Vec::len) as f64));
            o.insert("appointmnetId".into(), s("00000000-0000-0000-0000-000000000000"));
        }
        View::PartnerDetail => {
            o.insert("displayName".into(), s(&display_name(rec)));
            o.insert("genderConvertcom".into(), s(gender_display(row.str("gender"))));
            o.insert("userSaleName".into(), name_in(t, "applicationusers", row.str("userId")));
            o.insert("companyName".into(), name_in(t, "companies", company));
            o.insert("orderState".into(), s(row.str("treatmentStatus")));
            let source_id = row.str("sourceId");
            o.insert(
                "source".into(),
                t.get("partnersources", source_id).map_or(Value::Null, |src| {
                    json!({"id": source_id, "name": src.row.str("name"), "type": src.row.str("type"),
                           "isCollaborators": false, "isActive": matches!(src.row.get("isActive"), Some(Val::Bool(true)))})
                }),
            );
            let title_id = row.str("titleId");
            o.insert(
                "title".into(),
                t.get("partnertitles", title_id)
                    .map_or(Value::Null, |x| json!({"id": title_id, "name": x.row.str("name")})),
            );
            let tag_names: Vec<String> = ids(row.get("categoryIds"))
                .iter()
                .filter_map(|c| t.get("partnercategories", c).map(|x| x.row.str("name").to_owned()))
                .collect();
            o.insert("tags".into(), s(&tag_names.join(", ")));
            o.insert("city".into(), json!({"code": null, "name": opt(row.str("cityName"))}));
            o.insert("district".into(), json!({"code": null, "name": opt(row.str("districtName"))}));
            o.insert("ward".into(), json!({"code": null, "name": opt(row.str("wardName"))}));
            o.insert("customer".into(), Value::Bool(true));
            o.insert("employee".into(), Value::Bool(false));
            o.insert("supplier".into(), Value::Bool(false));
            // The fat profile's `date` is the registration day (UTC), as a bare date.
            let date = row.datetime("date").map(|d| d.date().and_hms_opt(0, 0, 0).unwrap_or(d));
            o.insert("date".into(), date.map_or(Value::Null, |d| s(&iso(d))));
        }
    }
}
