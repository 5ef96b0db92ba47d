//! TDental rows → canonical records. Each function maps one row or says why it cannot.
//! States map to canonical values and keep the PMS's own; an unknown state is a reason to
//! quarantine, never a silent default.

use chrono_tz::Tz;
use enamel_domain::enums::*;
use enamel_domain::records::*;
use enamel_domain::{Amount, SourceKey, SyncRow, ToothList, ToothScope};

use super::wire::{Field, Row, Td, elements, prefixed};

type R<T> = Result<T, String>;

/// Key prefixes of streams that share a canonical table.
pub(crate) const ORDER: &str = "order:";
pub(crate) const QUOTE: &str = "quote:";
pub(crate) const CATEGORY: &str = "category:";
pub(crate) const TITLE: &str = "title:";
pub(crate) const ROLE: &str = "role:";
pub(crate) const GROUP: &str = "group:";
pub(crate) const COMMISSION: &str = "commission:";
pub(crate) const USER: &str = "user:";

/// A mapped row of the page. Its payload is left to `map_rows`, which has the row's text
/// as the answer sent it (no need to serialise the parsed row again).
fn row<T>(key: SourceKey, data: T) -> SyncRow<T> {
    SyncRow { source_id: key, source_updated_at: None, data, raw: None }
}

/// A row inside another (a customer's tag), with its own payload.
fn inner_row<T>(key: SourceKey, raw: &Row<'_>, data: T) -> SyncRow<T> {
    SyncRow { raw: Some(raw.payload()), ..row(key, data) }
}

fn unknown(field: &str, value: &str) -> String {
    format!("{field} {value:?} is not a known value")
}

fn order_ref(w: &Td<'_>, key: &str) -> R<Option<SourceKey>> {
    w.reference(key)?.map(|k| prefixed(ORDER, &k)).transpose()
}

pub(crate) fn company(v: &Row<'_>, tz: Tz) -> R<SyncRow<Location>> {
    let w = Td::new(v, tz);
    let phone = w.opt_text("phone")?.or(w.opt_text("hotline")?);
    Ok(row(
        w.id()?,
        Location {
            name: w.text("name")?,
            abbreviation: None,
            phone,
            address: w.opt_text("address")?,
            is_hidden: !w.flag("active", true)?,
        },
    ))
}

/// A typed reference row (`category`, `partner_title`, `role`, `group`, `commission`,
/// `application_user`): the name, a code where the PMS has one, the rest as payload.
pub(crate) fn reference(v: &Row<'_>, tz: Tz, prefix: &str, kind: &str) -> R<SyncRow<SourceReference>> {
    let w = Td::new(v, tz);
    let code = match kind {
        "application_user" => w.opt_text("userName")?,
        "commission" => w.opt_text("type")?,
        "product_category" => w.opt_text("completeName")?,
        _ => None,
    };
    Ok(row(
        w.prefixed_id(prefix)?,
        SourceReference {
            kind: kind.to_owned(),
            name: w.text("name")?,
            code,
            is_hidden: !w.flag("active", true)?,
            payload: v.to_value(),
        },
    ))
}

/// A product: a service is a procedure code, goods are inventory items.
pub(crate) enum Product {
    Service(SyncRow<ProcedureCode>),
    Goods(SyncRow<InventoryItem>),
}

pub(crate) fn product(v: &Row<'_>, tz: Tz) -> R<Product> {
    let w = Td::new(v, tz);
    let id = w.id()?;
    let name = w.text("name")?;
    let code = w.opt_text("defaultCode")?;
    let category = w.opt_text("categName")?;
    let active = w.flag("active", true)?;
    let kind2 = w.text("type2")?;
    let kind = if kind2.is_empty() { w.text("type")? } else { kind2 };
    Ok(match kind.as_str() {
        "service" => Product::Service(row(
            id.clone(),
            ProcedureCode {
                code: code.unwrap_or_else(|| id.as_str().to_owned()),
                description: name,
                abbreviation: None,
                kind: ProcedureCodeKind::Service,
                category,
                coverage_category: None,
                default_fee: w.money("listPrice")?,
                duration_minutes: None,
                is_hidden: !active,
            },
        )),
        other => {
            let kind = match other {
                "product" => InventoryKind::Product,
                "consu" => InventoryKind::Consumable,
                "medicine" => InventoryKind::Medicine,
                "labo" | "labo_attach" => InventoryKind::Lab,
                _ => return Err(unknown("type2", other)),
            };
            Product::Goods(row(
                id,
                InventoryItem {
                    code,
                    name,
                    category,
                    unit: w.opt_text("uomName")?,
                    kind,
                    list_price: w.money("listPrice")?,
                    cost: w.money("purchasePrice")?,
                    is_active: active,
                },
            ))
        }
    })
}

pub(crate) fn partner_source(v: &Row<'_>, tz: Tz) -> R<SyncRow<ReferralSource>> {
    let w = Td::new(v, tz);
    let person = w.flag("isCollaborators", false)?;
    Ok(row(
        w.id()?,
        ReferralSource {
            name: w.text("name")?,
            kind: if person { ReferralSourceKind::Person } else { ReferralSourceKind::Channel },
            specialty: None,
            phone: None,
            email: None,
            is_hidden: !w.flag("isActive", true)?,
        },
    ))
}

pub(crate) fn partner_category(v: &Row<'_>, tz: Tz) -> R<SyncRow<PatientTag>> {
    let w = Td::new(v, tz);
    Ok(row(w.id()?, PatientTag { name: w.text("name")?, color: w.opt_text("color")? }))
}

pub(crate) fn employee(v: &Row<'_>, tz: Tz) -> R<SyncRow<Provider<Keyed>>> {
    let w = Td::new(v, tz);
    let kind = if w.flag("isDoctor", false)? {
        ProviderKind::Dentist
    } else if w.flag("isAssistant", false)? {
        ProviderKind::Assistant
    } else {
        ProviderKind::Staff
    };
    Ok(row(
        w.id()?,
        Provider {
            kind,
            first_name: String::new(),
            last_name: w.text("name")?,
            abbreviation: w.opt_text("ref")?,
            specialty: w.opt_text("hrJobName")?,
            location_id: w.reference("companyId")?,
            fee_schedule_id: None,
            is_hidden: !w.flag("active", true)?,
        },
    ))
}

/// A customer and the tags on them.
pub(crate) type Customer = (SyncRow<Patient<Keyed>>, Vec<SyncRow<PatientTagAssignment<Keyed>>>);

/// A customer row (with its profile merged in, when fetched) and its tags.
pub(crate) fn partner(v: &Row<'_>, tz: Tz) -> R<Customer> {
    let w = Td::new(v, tz);
    let id = w.id()?;
    let gender = match w.text("gender")?.as_str() {
        "male" | "Nam" => Gender::Male,
        "female" | "Nữ" => Gender::Female,
        "other" | "Khác" => Gender::Other,
        "" => Gender::Unknown,
        other => return Err(unknown("gender", other)),
    };
    let active = w.flag("active", true)?;
    // The fat profile (merged in by the client) has the note and the medical history.
    let note = [w.opt_text("note")?, w.opt_text("comment")?, w.opt_text("medicalHistory")?]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n");
    let patient = Patient {
        family_id: None,
        is_guarantor: false,
        chart_number: w.opt_text("ref")?,
        first_name: String::new(),
        last_name: w.text("name")?,
        middle_name: None,
        preferred_name: None,
        gender,
        birth_date: w.birth_date()?,
        status: if active { PatientStatus::Active } else { PatientStatus::Inactive },
        status_source: if active { "active" } else { "inactive" }.to_owned(),
        phone_home: None,
        phone_work: None,
        phone_mobile: w.opt_text("phone")?,
        email: w.opt_text("email")?,
        address_line1: w.opt_text("street")?,
        address_line2: w.opt_text("wardName")?.or(w.opt_text("wardNameV2")?),
        city: w.opt_text("cityName")?.or(w.opt_text("cityNameV2")?),
        region: w.opt_text("districtName")?,
        postal_code: None,
        ssn: w.opt_text("identityNumber")?,
        primary_provider_id: None,
        location_id: w.reference("companyId")?,
        fee_schedule_id: None,
        referral_source_id: w.reference("sourceId")?,
        first_visit_on: None,
        registered_at: w.utc("date")?,
        note: (!note.is_empty()).then_some(note),
    };
    let mut tags = Vec::new();
    for c in w.objects("categories")?.unwrap_or_default() {
        let tag = Td::new(&c, tz).id()?;
        let key = SourceKey::parse(format!("{}:{}", id.as_str(), tag.as_str())).map_err(|e| e.to_string())?;
        tags.push(inner_row(key, &c, PatientTagAssignment { patient_id: id.clone(), tag_id: tag }));
    }
    Ok((row(id, patient), tags))
}

pub(crate) fn appointment(v: &Row<'_>, tz: Tz) -> R<SyncRow<Appointment<Keyed>>> {
    let w = Td::new(v, tz);
    let state = w.text("state")?;
    let status = match state.as_str() {
        "confirmed" | "draft" => AppointmentStatus::Scheduled,
        "waiting" | "arrived" | "examination" => AppointmentStatus::Arrived,
        "done" => AppointmentStatus::Complete,
        "cancel" => AppointmentStatus::Cancelled,
        "expired" => AppointmentStatus::Broken,
        other => return Err(unknown("state", other)),
    };
    let minutes = w.int("timeExpected")?.unwrap_or(0);
    Ok(row(
        w.id()?,
        Appointment {
            patient_id: w.required_reference("partnerId")?,
            provider_id: w.reference("doctorId")?,
            hygienist_id: None,
            operatory_id: None,
            location_id: w.reference("companyId")?,
            start_at: w.required_instant("date")?,
            duration_minutes: i32::try_from(minutes).map_err(|_| format!("timeExpected {minutes} is out of range"))?,
            status,
            status_source: state,
            confirmation: None,
            note: w.opt_text("note")?,
            is_new_patient: !w.flag("isRepeatCustomer", true)?,
            procedure_summary: w.opt_text("reason")?,
        },
    ))
}

pub(crate) fn customer_receipt(v: &Row<'_>, tz: Tz) -> R<SyncRow<CheckIn<Keyed>>> {
    let w = Td::new(v, tz);
    let state_source = w.text("state")?;
    let state = match state_source.as_str() {
        "waiting" => CheckInState::Waiting,
        "examination" => CheckInState::Examination,
        "done" => CheckInState::Done,
        other => return Err(unknown("state", other)),
    };
    let note = [w.opt_text("note")?, w.opt_text("reason")?].into_iter().flatten().collect::<Vec<_>>().join("\n");
    Ok(row(
        w.id()?,
        CheckIn {
            patient_id: w.required_reference("partnerId")?,
            appointment_id: w.reference("appointmentId")?,
            location_id: w.reference("companyId")?,
            provider_id: w.reference("doctorId")?,
            state,
            state_source,
            waiting_at: w.instant("dateWaiting")?,
            examination_at: w.instant("dateExamination")?,
            done_at: w.instant("dateDone")?,
            note: (!note.is_empty()).then_some(note),
        },
    ))
}

fn order_status(state: &str) -> R<TreatmentPlanStatus> {
    Ok(match state {
        "draft" => TreatmentPlanStatus::Draft,
        "sale" => TreatmentPlanStatus::InProgress,
        "done" => TreatmentPlanStatus::Done,
        "cancel" => TreatmentPlanStatus::Cancelled,
        other => return Err(unknown("state", other)),
    })
}

pub(crate) fn sale_order(v: &Row<'_>, tz: Tz) -> R<SyncRow<TreatmentPlan<Keyed>>> {
    let w = Td::new(v, tz);
    let state = w.text("state")?;
    Ok(row(
        w.prefixed_id(ORDER)?,
        TreatmentPlan {
            patient_id: w.required_reference("partnerId")?,
            kind: TreatmentPlanKind::TreatmentOrder,
            status: order_status(&state)?,
            status_source: state,
            name: w.opt_text("name")?,
            note: w.opt_text("note")?,
            plan_date: w.date("dateOrder")?,
            provider_id: w.reference("doctorId")?,
            location_id: w.reference("companyId")?,
            amount_total: w.money("amountTotal")?,
            amount_paid: w.money("totalPaid")?,
            amount_residual: w.money("residual")?,
        },
    ))
}

pub(crate) fn quotation(v: &Row<'_>, tz: Tz) -> R<SyncRow<TreatmentPlan<Keyed>>> {
    let w = Td::new(v, tz);
    // `state` is null in real rows; `stateDisplay` says whether the quote is still valid.
    let display = w.text("stateDisplay")?;
    let state = w.opt_text("state")?.unwrap_or_else(|| display.clone());
    let status = match (w.reference("orderId")?.is_some(), display.as_str()) {
        (true, _) => TreatmentPlanStatus::Done,
        (false, "còn hạn") => TreatmentPlanStatus::Active,
        (false, "hết hạn") => TreatmentPlanStatus::Inactive,
        (false, "") => TreatmentPlanStatus::Saved,
        (false, other) => return Err(unknown("stateDisplay", other)),
    };
    Ok(row(
        w.prefixed_id(QUOTE)?,
        TreatmentPlan {
            patient_id: w.required_reference("partnerId")?,
            kind: TreatmentPlanKind::Quote,
            status,
            status_source: state,
            name: w.opt_text("name")?,
            note: w.opt_text("note")?,
            plan_date: w.date("dateQuotation")?,
            provider_id: w.reference("employeeId")?,
            location_id: w.reference("companyId")?,
            amount_total: w.money("totalAmount")?,
            amount_paid: None,
            amount_residual: None,
        },
    ))
}

/// Teeth of an order line: the structured tooth links when the row has them, else the jaw
/// of `toothType`, else FDI numbers found in `toothRange` or `diagnostic`; the text is kept.
fn line_teeth(w: &Td<'_>) -> R<(ToothList, ToothScope, Option<String>)> {
    let range = w.opt_text("toothRange")?;
    let diagnostic = w.opt_text("diagnostic")?;
    let text = range.clone().or_else(|| diagnostic.clone());
    let scope = match w.text("toothType")?.as_str() {
        "manual" | "" => ToothScope::Teeth,
        "whole_jaw" => return Ok((ToothList::default(), ToothScope::WholeMouth, text)),
        "upper_jaw" => return Ok((ToothList::default(), ToothScope::UpperJaw, text)),
        "lower_jaw" => return Ok((ToothList::default(), ToothScope::LowerJaw, text)),
        other => return Err(unknown("toothType", other)),
    };
    if let Some(Field::Array(teeth)) = w.field("teeth")
        && let teeth = elements(teeth)
        && !teeth.is_empty()
    {
        // Links that are not objects, or have no name, name no tooth.
        let name = |t: &serde_json::value::RawValue| Td::new(&Row::parse(t.get()).ok()?, w.tz).opt_text("name").ok()?;
        let names: Vec<String> = teeth.into_iter().filter_map(name).collect();
        let list = ToothList::parse_fdi(&names.join(" ")).map_err(|e| format!("teeth: {e}"))?;
        return Ok((list, scope, text.or(Some(names.join(" ")))));
    }
    let list = match &range {
        Some(r) => ToothList::parse_fdi(r).unwrap_or_else(|_| ToothList::scan_free_text(r)),
        None => diagnostic.as_deref().map(ToothList::scan_free_text).unwrap_or_default(),
    };
    Ok((list, scope, text))
}

pub(crate) fn sale_order_line(v: &Row<'_>, tz: Tz) -> R<SyncRow<Procedure<Keyed>>> {
    let w = Td::new(v, tz);
    let state = w.text("state")?;
    let status = match state.as_str() {
        "draft" => ProcedureStatus::Planned,
        "sale" => ProcedureStatus::InProgress,
        "done" => ProcedureStatus::Completed,
        "cancel" => ProcedureStatus::Cancelled,
        other => return Err(unknown("state", other)),
    };
    let (teeth, tooth_scope, tooth_text) = line_teeth(&w)?;
    let quantity = w.number("productUOMQty")?.unwrap_or(1.0);
    let fee = w.money("priceSubTotal")?.or(w.money("priceTotal")?).unwrap_or(Amount::ZERO);
    let gross = w.money("priceUnit")?.map(|u| Amount((u.0 as f64 * quantity).round() as i64));
    let discount = gross.map_or(Amount::ZERO, |g| Amount((g.0 - fee.0).max(0)));
    Ok(row(
        w.id()?,
        Procedure {
            patient_id: w.required_reference("orderPartnerId")?,
            appointment_id: None,
            procedure_code_id: w.reference("productId")?,
            provider_id: w.reference("employeeId")?,
            location_id: w.reference("companyId")?,
            treatment_plan_id: order_ref(&w, "orderId")?,
            status,
            status_source: state,
            performed_on: w.date("date")?,
            teeth,
            tooth_scope,
            tooth_text,
            surfaces: None,
            quantity,
            fee,
            discount,
            diagnosis: w.opt_text("diagnostic")?,
        },
    ))
}

pub(crate) fn dot_kham(v: &Row<'_>, tz: Tz) -> R<SyncRow<Visit<Keyed>>> {
    let w = Td::new(v, tz);
    let state_source = w.text("state")?;
    let state = match state_source.as_str() {
        "draft" => VisitState::Draft,
        "confirmed" => VisitState::Confirmed,
        "done" => VisitState::Done,
        "cancel" => VisitState::Cancelled,
        other => return Err(unknown("state", other)),
    };
    Ok(row(
        w.id()?,
        Visit {
            patient_id: w.required_reference("partnerId")?,
            treatment_plan_id: order_ref(&w, "saleOrderId")?,
            appointment_id: w.reference("appointmentId")?,
            provider_id: w.reference("doctorId")?,
            assistant_id: w.reference("assistantId")?,
            location_id: w.reference("companyId")?,
            visited_at: w.required_instant("date")?,
            state,
            state_source,
            reason: w.opt_text("reason")?,
            note: w.opt_text("note")?,
        },
    ))
}

pub(crate) fn dot_kham_step(v: &Row<'_>, tz: Tz) -> R<SyncRow<VisitStep<Keyed>>> {
    let w = Td::new(v, tz);
    let order = w.int("order")?.unwrap_or(0);
    Ok(row(
        w.id()?,
        VisitStep {
            visit_id: w.reference("dotKhamId")?,
            procedure_id: w.reference("saleLineId")?,
            treatment_plan_id: order_ref(&w, "saleOrderId")?,
            name: w.text("name")?,
            is_done: w.flag("isDone", false)?,
            sort_order: i32::try_from(order).map_err(|_| format!("order {order} is out of range"))?,
            created_at: w.instant("dateCreated")?,
        },
    ))
}

pub(crate) fn account_payment(v: &Row<'_>, tz: Tz) -> R<SyncRow<Payment<Keyed>>> {
    let w = Td::new(v, tz);
    let payment_type = w.text("paymentType")?;
    let partner_type = w.text("partnerType")?;
    let journal_type = w.opt_text("journalType")?.or(journal(&w, "type")?);
    let kind = match (partner_type.as_str(), payment_type.as_str(), journal_type.as_deref()) {
        (_, "outbound", _) => PaymentKind::Refund,
        ("insurance", _, _) | (_, _, Some("insurance")) => PaymentKind::Insurance,
        (_, _, Some("advance")) => PaymentKind::Deposit,
        (_, "inbound" | "transfer", _) => PaymentKind::Patient,
        (_, other, _) => return Err(unknown("paymentType", other)),
    };
    let status = match w.text("state")?.as_str() {
        "posted" => PaymentStatus::Posted,
        "draft" => PaymentStatus::Draft,
        "cancel" => PaymentStatus::Cancelled,
        other => return Err(unknown("state", other)),
    };
    let amount = w.money_or_zero("amount")?;
    let amount = if payment_type == "outbound" { Amount(-amount.0.abs()) } else { amount };
    // Only customers are patients; suppliers and employees are paid too.
    let patient_id = if partner_type == "customer" { w.reference("partnerId")? } else { None };
    let method = w.opt_text("journalName")?.or(journal(&w, "name")?);
    Ok(row(
        w.id()?,
        Payment {
            patient_id,
            location_id: w.reference("companyId")?,
            paid_on: w.date("paymentDate")?.ok_or("paymentDate is missing")?,
            amount,
            method,
            kind,
            status,
            reference: w.opt_text("name")?,
            note: w.opt_text("communication")?,
        },
    ))
}

/// A text field of a payment's `journal` object, when it has one.
fn journal(w: &Td<'_>, key: &str) -> R<Option<String>> {
    match w.field("journal") {
        Some(Field::Object(journal)) => Td::new(&Row::parse(journal.get())?, w.tz).opt_text(key),
        _ => Ok(None),
    }
}

/// A sale-order payment: one allocation of an account payment to an order (and to its
/// line when it pays exactly one).
pub(crate) fn sale_order_payment(v: &Row<'_>, tz: Tz) -> R<SyncRow<PaymentAllocation<Keyed>>> {
    let w = Td::new(v, tz);
    // The id of a list field's first item; with `only`, when it is the only one.
    let first_id = |key: &str, only: bool| -> R<Option<SourceKey>> {
        let Some(Field::Array(items)) = w.field(key) else { return Ok(None) };
        match elements(items).as_slice() {
            [first, rest @ ..] if rest.is_empty() || !only => Td::new(&Row::parse(first.get())?, tz).reference("id"),
            _ => Ok(None),
        }
    };
    let payment_id = first_id("payments", false)?;
    Ok(row(
        w.id()?,
        PaymentAllocation {
            payment_id,
            patient_id: w.reference("partnerId")?,
            procedure_id: first_id("saleOrderLines", true)?,
            provider_id: None,
            treatment_plan_id: order_ref(&w, "orderId")?,
            amount: w.money_or_zero("amount")?,
            allocated_on: w.date("date")?,
        },
    ))
}

fn stock_state(state: &str) -> R<StockState> {
    Ok(match state {
        "draft" => StockState::Draft,
        "confirmed" | "assigned" | "waiting" => StockState::Confirmed,
        "done" => StockState::Done,
        "cancel" => StockState::Cancelled,
        other => return Err(unknown("state", other)),
    })
}

pub(crate) fn stock_picking(v: &Row<'_>, tz: Tz) -> R<SyncRow<StockPicking<Keyed>>> {
    let w = Td::new(v, tz);
    let name = w.opt_text("name")?;
    let kind = match (w.text("type")?.as_str(), name.as_deref().unwrap_or("")) {
        ("incoming", _) => StockPickingKind::Incoming,
        ("outgoing", _) => StockPickingKind::Outgoing,
        ("internal", _) => StockPickingKind::Internal,
        (_, n) if n.contains("/IN/") => StockPickingKind::Incoming,
        (_, n) if n.contains("/OUT/") => StockPickingKind::Outgoing,
        _ => StockPickingKind::Internal,
    };
    let state_source = w.text("state")?;
    Ok(row(
        w.id()?,
        StockPicking {
            name,
            kind,
            state: stock_state(&state_source)?,
            state_source,
            location_id: w.reference("companyId")?,
            scheduled_at: w.instant("date")?,
            done_at: w.instant("dateDone")?,
            note: w.opt_text("note")?,
        },
    ))
}

pub(crate) fn stock_move(v: &Row<'_>, tz: Tz) -> R<SyncRow<StockMove<Keyed>>> {
    let w = Td::new(v, tz);
    Ok(row(
        w.id()?,
        StockMove {
            picking_id: w.reference("pickingId")?,
            inventory_item_id: w.reference("productId")?,
            name: w.opt_text("name")?.or(w.opt_text("productName")?),
            quantity: w.number("productUomQty")?.or(w.number("productQty")?).unwrap_or(0.0),
            unit_price: w.money("priceUnit")?,
            state: stock_state(&w.text("state")?)?,
            moved_at: w.instant("dateDone")?.or(w.instant("date")?),
        },
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const VN: Tz = chrono_tz::Asia::Ho_Chi_Minh;

    /// Maps a row given as a value, read from its text as the client reads it.
    fn on<T>(v: &serde_json::Value, map: impl Fn(&Row<'_>, Tz) -> R<T>) -> R<T> {
        let text = v.to_string();
        map(&Row::parse(&text)?, VN)
    }

    #[test]
    fn order_line_teeth_come_from_links_jaws_or_text() {
        let mut line = json!({"id": "099d83f0-cf61-41d2-8ba6-b42b00ce806c", "date": "2026-04-13T00:00:00",
            "state": "sale", "orderPartnerId": "48effc50-6ca2-4e95-a494-b42b00cc8cf7",
            "orderId": "0c4b5480-5050-40a7-8343-b42b00ce806b", "productId": "468fa1df-5ebb-4aa6-82cf-b05b00a64ed3",
            "diagnostic": "37 38", "productUOMQty": 2.0, "priceUnit": 350000.0, "priceSubTotal": 700000.0,
            "priceTotal": 700000.0, "toothType": "manual", "toothRange": null});
        let mapped = on(&line, sale_order_line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mapped.data.teeth.to_string(), "37,38");
        assert_eq!(mapped.data.tooth_text.as_deref(), Some("37 38"));
        assert_eq!((mapped.data.fee, mapped.data.discount), (Amount(700_000), Amount::ZERO));
        assert_eq!(
            mapped.data.treatment_plan_id.map(|k| k.as_str().to_owned()).as_deref(),
            Some("order:0c4b5480-5050-40a7-8343-b42b00ce806b")
        );
        line["toothType"] = json!("upper_jaw");
        let jaw = on(&line, sale_order_line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((jaw.data.tooth_scope, jaw.data.teeth.is_empty()), (ToothScope::UpperJaw, true));
        line["toothType"] = json!("manual");
        line["teeth"] = json!([{"id": "t1", "name": "16"}, {"id": "t2", "name": "17"}]);
        let linked = on(&line, sale_order_line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(linked.data.teeth.to_string(), "16,17");
        line["state"] = json!("weird");
        assert!(on(&line, sale_order_line).is_err_and(|e| e.contains("state \"weird\"")));
    }

    #[test]
    fn impossible_appointment_dates_are_refused_with_the_reason() {
        let apt = json!({"id": "bd65594d-ed22-41c8-8c16-b237007d1cd4", "date": "1224-07-15T12:00:00",
            "timeExpected": 30, "state": "confirmed", "partnerId": "a82f4ea4-3f7b-4e0a-95dc-b13d008576fc"});
        assert!(on(&apt, appointment).is_err_and(|e| e.contains("year 1224")));
    }

    #[test]
    fn outbound_payments_are_negative_and_suppliers_are_not_patients() {
        let p = json!({"id": "533de2e7-c57b-4ab7-988a-b42b00cefe1c", "paymentDate": "2026-04-13T00:00:00",
            "partnerType": "supplier", "paymentType": "outbound", "journalName": "Tiền mặt", "state": "posted",
            "amount": 800000.0, "partnerId": "48effc50-6ca2-4e95-a494-b42b00cc8cf7"});
        let mapped = on(&p, account_payment).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((mapped.data.amount, mapped.data.kind), (Amount(-800_000), PaymentKind::Refund));
        assert!(mapped.data.patient_id.is_none());
    }
}
