//! `patient.context`: a compact, stable summary of a patient for language models, as
//! structured fields and as a ready text block. A caller with only the `context` scope
//! gets it without identifiers (no last name, SSN, address, phone or e-mail: none of them
//! are part of the context at all) and without free-text notes beyond communications'
//! first line.

use async_graphql::{Context, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use enamel_domain::enums::ProcedureStatus;
use enamel_domain::{Amount, Currency, Stored, records as r};
use enamel_store::tables;

use crate::error::ApiResult;
use crate::present::{Money, Present};
use crate::views::{
    AgingView, Coverage, LedgerRows, all_children, appointments_of, by_ids, context_reader, next_and_last, today,
};

/// Version of the context's shape; bumped when a field changes meaning.
pub const CONTEXT_VERSION: i32 = 1;
const RECENT_COMMUNICATIONS: usize = 5;
const OPEN_TREATMENT_ITEMS: usize = 10;

/// An active insurance coverage with what remains of its benefits.
#[derive(SimpleObject, Debug, Clone)]
pub struct ContextInsurance {
    /// 1 primary, 2 secondary…
    pub ordinal: i32,
    /// Carrier name.
    pub carrier: Option<String>,
    /// Plan type (PPO…).
    pub plan_type: Option<String>,
    /// Annual maximum (null: none recorded).
    pub annual_maximum: Option<Money>,
    /// Insurance paid or estimated this benefit year.
    pub used_this_year: Money,
    /// What remains of the annual maximum (null: no maximum).
    pub remaining: Option<Money>,
    /// Individual deductible.
    pub deductible: Money,
    /// Deductible still to meet this benefit year.
    pub deductible_remaining: Money,
}

/// A visit: date and what was done or planned.
#[derive(SimpleObject, Debug, Clone)]
pub struct ContextVisit {
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// Status (`SCHEDULED`, `COMPLETE`…).
    pub status: crate::enums::AppointmentStatus,
    /// Procedure codes and descriptions.
    pub procedures: Vec<String>,
}

/// A planned procedure not yet done, with its estimate.
#[derive(SimpleObject, Debug, Clone)]
pub struct ContextTreatment {
    /// Code (`D2740`).
    pub code: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Teeth (FDI).
    pub teeth: Vec<i32>,
    /// Fee.
    pub fee: Money,
    /// Insurance estimate.
    pub insurance_estimate: Money,
    /// Patient portion.
    pub patient_portion: Money,
}

/// A recent communication.
#[derive(SimpleObject, Debug, Clone)]
pub struct ContextCommunication {
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// How (`PHONE`, `TEXT`…).
    pub mode: crate::enums::CommMode,
    /// Which way.
    pub direction: crate::enums::CommDirection,
    /// Type label.
    pub kind: Option<String>,
    /// First line of the note, at most 160 characters.
    pub summary: Option<String>,
}

/// The patient's context for a language model.
#[derive(SimpleObject, Debug, Clone)]
pub struct PatientContext {
    /// Shape version (currently 1).
    pub version: i32,
    /// As of this date (practice time zone).
    pub as_of: NaiveDate,
    /// First (or preferred) name, for addressing the patient.
    pub first_name: String,
    /// Age band (`0-12`, `13-17`, `18-34`, `35-49`, `50-64`, `65+`).
    pub age_band: Option<String>,
    /// Canonical status.
    pub status: crate::enums::PatientStatus,
    /// Active insurance in order.
    pub insurance: Vec<ContextInsurance>,
    /// The patient's balance.
    pub balance: Money,
    /// The patient's A/R aging.
    pub aging: AgingView,
    /// The last completed visit.
    pub last_visit: Option<ContextVisit>,
    /// The next scheduled visit.
    pub next_visit: Option<ContextVisit>,
    /// Planned treatment not yet done, with estimates (at most 10 items).
    pub open_treatment: Vec<ContextTreatment>,
    /// Sum of the open treatment's patient portions.
    pub open_treatment_patient_portion: Money,
    /// The latest communications (at most 5).
    pub recent_communications: Vec<ContextCommunication>,
    /// All of the above as a short text block, ready for a prompt.
    pub text: String,
}

fn first_line(note: Option<&str>) -> Option<String> {
    let line = note?.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(160).collect())
}

async fn visit(
    ctx: &Context<'_>,
    appointment: Option<&std::sync::Arc<Stored<r::Appointment>>>,
) -> ApiResult<Option<ContextVisit>> {
    let Some(a) = appointment else { return Ok(None) };
    let procs = all_children(ctx, tables::procedure::BY_APPOINTMENT, tables::procedure::PERFORMED_ON, &[a.id]).await?;
    let codes = by_ids(ctx, procs.iter().filter_map(|p| p.data.procedure_code_id)).await?;
    let mut procedures: Vec<String> = procs
        .iter()
        .filter_map(|p| p.data.procedure_code_id.and_then(|c| codes.get(&c)))
        .map(|c| format!("{} {}", c.data.code, c.data.description))
        .collect();
    procedures.sort();
    Ok(Some(ContextVisit { at: a.data.start_at, status: a.data.status.into(), procedures }))
}

fn money(a: Amount, cur: Currency) -> Money {
    Money::of(a, cur)
}

/// Builds the context of a patient.
pub(crate) async fn patient_context(ctx: &Context<'_>, patient: &Stored<r::Patient>) -> ApiResult<PatientContext> {
    context_reader(ctx)?;
    let cur = crate::viewer::currency(ctx);
    let as_of = today(ctx);
    let id = patient.id;
    let ids = [id];
    let (rows, coverage, appointments, commlogs, procedures) = futures::try_join!(
        LedgerRows::load(ctx, &ids),
        Coverage::load(ctx, id, as_of),
        appointments_of(ctx, id),
        all_children(ctx, tables::commlog::BY_PATIENT, tables::commlog::COMMUNICATED_AT, &ids),
        all_children(ctx, tables::procedure::BY_PATIENT, tables::procedure::PERFORMED_ON, &ids),
    )?;
    let ledger = rows.ledger();
    let aging = enamel_domain::views::aging(&ledger.entries, as_of);
    let insurance: Vec<ContextInsurance> = coverage
        .plans
        .iter()
        .map(|p| {
            let (max, used, deductible, deductible_remaining) = coverage.remaining(p, as_of);
            ContextInsurance {
                ordinal: i32::from(p.patient_plan.data.ordinal),
                carrier: p.carrier.as_ref().map(|c| c.data.name.clone()),
                plan_type: p.plan.data.plan_type.clone(),
                annual_maximum: max.map(|m| money(m, cur)),
                used_this_year: money(used, cur),
                remaining: max.map(|m| money((m - used).max(Amount::ZERO), cur)),
                deductible: money(deductible, cur),
                deductible_remaining: money(deductible_remaining, cur),
            }
        })
        .collect();
    let (next, last) = next_and_last(&appointments, crate::views::now(ctx));
    let (next_visit, last_visit) = futures::try_join!(visit(ctx, next.as_ref()), visit(ctx, last.as_ref()))?;

    // Open treatment: planned procedures, oldest plan first, with live estimates.
    let mut planned: Vec<_> = procedures
        .iter()
        .filter(|p| matches!(p.data.status, ProcedureStatus::Planned | ProcedureStatus::InProgress))
        .collect();
    planned.sort_by_key(|p| (p.data.performed_on, p.id));
    let codes = by_ids(ctx, planned.iter().filter_map(|p| p.data.procedure_code_id)).await?;
    let mut open_treatment = Vec::new();
    let mut open_portion = Amount::ZERO;
    for p in planned.iter().take(OPEN_TREATMENT_ITEMS) {
        let code = p.data.procedure_code_id.and_then(|c| codes.get(&c).map(|row| (c, row)));
        let fee = enamel_domain::views::procedure_charge(&p.data);
        let (insurance_estimate, patient_portion) = match code {
            Some((code_id, row)) => {
                let e = coverage.estimate(&row.data, code_id, fee, as_of);
                (e.insurance_portion, e.patient_portion)
            }
            None => (Amount::ZERO, fee),
        };
        open_portion = open_portion + patient_portion;
        open_treatment.push(ContextTreatment {
            code: code.map(|(_, c)| c.data.code.clone()),
            description: code.map(|(_, c)| c.data.description.clone()),
            teeth: p.data.teeth.present(cur),
            fee: money(fee, cur),
            insurance_estimate: money(insurance_estimate, cur),
            patient_portion: money(patient_portion, cur),
        });
    }

    let mut recent: Vec<_> = commlogs.iter().collect();
    recent.sort_by_key(|c| std::cmp::Reverse((c.data.communicated_at, c.id)));
    let recent_communications: Vec<ContextCommunication> = recent
        .iter()
        .take(RECENT_COMMUNICATIONS)
        .map(|c| ContextCommunication {
            at: c.data.communicated_at,
            mode: c.data.mode.into(),
            direction: c.data.direction.into(),
            kind: c.data.kind.clone(),
            summary: first_line(c.data.note.as_deref()),
        })
        .collect();

    let first_name = patient
        .data
        .preferred_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| patient.data.first_name.clone());
    let mut context = PatientContext {
        version: CONTEXT_VERSION,
        as_of,
        first_name,
        age_band: crate::views::age_band(patient.data.birth_date, as_of),
        status: patient.data.status.into(),
        insurance,
        balance: money(ledger.balance, cur),
        aging: AgingView::of(&aging, as_of, cur),
        last_visit,
        next_visit,
        open_treatment,
        open_treatment_patient_portion: money(open_portion, cur),
        recent_communications,
        text: String::new(),
    };
    context.text = render(&context, cur);
    Ok(context)
}

fn render(c: &PatientContext, cur: Currency) -> String {
    use std::fmt::Write;
    let mut t = String::new();
    let code = cur.as_ref().to_uppercase();
    let m = |x: &Money| format!("{} {code}", x.amount);
    let _ = writeln!(t, "Patient context as of {} (v{}):", c.as_of, c.version);
    let _ = writeln!(
        t,
        "- Patient: {}, age {}, status {:?}.",
        c.first_name,
        c.age_band.as_deref().unwrap_or("unknown"),
        c.status
    );
    if c.insurance.is_empty() {
        let _ = writeln!(t, "- Insurance: none active.");
    }
    for i in &c.insurance {
        let _ = writeln!(
            t,
            "- Insurance #{}: {}{}; remaining benefits {}; deductible remaining {}.",
            i.ordinal,
            i.carrier.as_deref().unwrap_or("unknown carrier"),
            i.plan_type.as_deref().map(|p| format!(" ({p})")).unwrap_or_default(),
            i.remaining.as_ref().map_or_else(|| "no annual maximum".to_owned(), m),
            m(&i.deductible_remaining),
        );
    }
    let a = &c.aging;
    let _ = writeln!(
        t,
        "- Balance: {} (0-30: {}, 31-60: {}, 61-90: {}, 90+: {}).",
        m(&c.balance),
        a.days_0_30.amount,
        a.days_31_60.amount,
        a.days_61_90.amount,
        a.days_over_90.amount
    );
    let visit = |label: &str, v: &Option<ContextVisit>, t: &mut String| match v {
        Some(v) => {
            let procs =
                if v.procedures.is_empty() { "no procedures recorded".to_owned() } else { v.procedures.join(", ") };
            let _ = writeln!(t, "- {label}: {} ({procs}).", v.at.format("%Y-%m-%d %H:%M UTC"));
        }
        None => {
            let _ = writeln!(t, "- {label}: none.");
        }
    };
    visit("Last visit", &c.last_visit, &mut t);
    visit("Next visit", &c.next_visit, &mut t);
    if c.open_treatment.is_empty() {
        let _ = writeln!(t, "- Open treatment: none.");
    } else {
        let _ = writeln!(t, "- Open treatment (patient portion {} in all):", m(&c.open_treatment_patient_portion));
        for o in &c.open_treatment {
            let teeth = if o.teeth.is_empty() {
                String::new()
            } else {
                format!(" teeth {}", o.teeth.iter().map(i32::to_string).collect::<Vec<_>>().join(","))
            };
            let _ = writeln!(
                t,
                "  - {} {}{teeth}: fee {}, insurance {}, patient {}.",
                o.code.as_deref().unwrap_or("?"),
                o.description.as_deref().unwrap_or(""),
                m(&o.fee),
                m(&o.insurance_estimate),
                m(&o.patient_portion)
            );
        }
    }
    if c.recent_communications.is_empty() {
        let _ = writeln!(t, "- Recent communications: none.");
    } else {
        let _ = writeln!(t, "- Recent communications:");
        for r in &c.recent_communications {
            let _ = writeln!(
                t,
                "  - {} {:?} {:?}{}{}",
                r.at.format("%Y-%m-%d"),
                r.mode,
                r.direction,
                r.kind.as_deref().map(|k| format!(" [{k}]")).unwrap_or_default(),
                r.summary.as_deref().map(|s| format!(": {s}")).unwrap_or_default()
            );
        }
    }
    t
}
