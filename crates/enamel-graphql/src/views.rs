//! Derived views (ledger, balance, A/R aging, coverage estimates, fee lookup, treatment
//! plan totals) and the AI context, over the pure computations of `enamel_domain::views`.
//! Their inputs are loaded through the request's dataloaders, so a list of 200 patients'
//! balances costs the same statements as one.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_graphql::{Context, Enum, SimpleObject};
use chrono::{Datelike, NaiveDate, Utc};
use enamel_domain::enums::{AppointmentStatus, BenefitKind, ClaimProcedureStatus, CoverageLevel};
use enamel_domain::ids::*;
use enamel_domain::views::{self as dv, LedgerSource};
use enamel_domain::{Amount, Currency, EntityId, Scope, Stored, records as r};
use enamel_store::{ChildPage, Link, RecordOf, Sort, Table, tables};

use crate::connection::Entity;
use crate::error::{ApiError, ApiResult};
use crate::loader::{ById, Children};
use crate::present::Money;
use crate::types::Patient;
use crate::viewer::{currency, loaders, reader, viewer};

type Rows<T> = Vec<Arc<Stored<RecordOf<T>>>>;

/// A patient for a caller holding `read` or `context` (the patient's fields then check
/// `read` themselves; `context` checks either).
pub(crate) async fn patient_for_context(ctx: &Context<'_>, id: PatientId) -> ApiResult<Patient> {
    let row = loaders(ctx)?.load_one(ById(id)).await?;
    row.map(|row| crate::connection::returned::<Patient>(ctx, row))
        .ok_or_else(|| ApiError::not_found(Patient::NAME).into())
}

/// Every live child of each parent (no limit), through the loader.
pub(crate) async fn all_children<T: Table, P: EntityId>(
    ctx: &Context<'_>,
    link: Link<T, P>,
    sort: Sort<T>,
    parents: &[P],
) -> ApiResult<Rows<T>> {
    let keys: Vec<Children<T, P>> =
        parents.iter().map(|&parent| Children { parent, link, page: ChildPage::all(sort) }).collect();
    let found = loaders(ctx)?.load_many(keys).await?;
    let mut out = Vec::new();
    for rows in found.into_values() {
        out.extend(rows.iter().cloned());
    }
    Ok(out)
}

/// Rows by id, through the loader.
pub(crate) async fn by_ids<T: Table>(
    ctx: &Context<'_>,
    ids: impl IntoIterator<Item = T>,
) -> ApiResult<HashMap<T, Arc<Stored<RecordOf<T>>>>> {
    let keys: Vec<ById<T>> = ids.into_iter().map(ById).collect();
    let found = loaders(ctx)?.load_many(keys).await?;
    Ok(found.into_iter().map(|(k, v)| (k.0, v)).collect())
}

fn owned<R: Clone + enamel_domain::Record>(rows: &[Arc<Stored<R>>]) -> Vec<Stored<R>> {
    rows.iter().map(|r| (**r).clone()).collect()
}

/// The practice's "today", in its office time zone.
pub(crate) fn today(ctx: &Context<'_>) -> NaiveDate {
    let tz = ctx.data_opt::<crate::Viewer>().map_or(chrono_tz::UTC, |v| v.practice.time_zone);
    now(ctx).with_timezone(&tz).date_naive()
}

/// Now, or the instant the API was pinned to.
pub(crate) fn now(ctx: &Context<'_>) -> chrono::DateTime<Utc> {
    ctx.data_opt::<crate::Now>().and_then(|n| n.0).unwrap_or_else(Utc::now)
}

// Ledger.

/// What a ledger line is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::views::LedgerEntryKind")]
pub enum LedgerKind {
    /// A completed procedure.
    Charge,
    /// An adjustment (positive adds to the balance).
    Adjustment,
    /// A patient payment (allocation).
    PatientPayment,
    /// An insurance payment on a claim procedure.
    InsurancePayment,
    /// An insurance write-off.
    WriteOff,
}

/// One ledger line.
#[derive(SimpleObject, Debug, Clone)]
pub struct LedgerLine {
    /// Date.
    pub on: NaiveDate,
    /// What it is.
    pub kind: LedgerKind,
    /// Global id of the row behind it (procedure, allocation, claim procedure, adjustment).
    pub source_id: async_graphql::ID,
    /// The patient it belongs to (global id).
    pub patient_id: Option<async_graphql::ID>,
    /// Positive charges, negative credits.
    pub amount: Money,
    /// Running balance after this line.
    pub balance: Money,
    /// Short description.
    pub description: String,
}

/// A ledger with its running balance.
#[derive(SimpleObject, Debug, Clone)]
pub struct LedgerView {
    /// Lines in date order.
    pub entries: Vec<LedgerLine>,
    /// Total charges.
    pub charges: Money,
    /// Total credits (positive).
    pub credits: Money,
    /// Balance: charges minus credits.
    pub balance: Money,
}

/// A/R aging: what is owed, by the age of the charges it comes from (payments applied to
/// the oldest charges first).
#[derive(SimpleObject, Debug, Clone)]
pub struct AgingView {
    /// As of this date.
    pub as_of: NaiveDate,
    /// Charges 0–30 days old.
    #[graphql(name = "days0To30")]
    pub days_0_30: Money,
    /// 31–60 days.
    #[graphql(name = "days31To60")]
    pub days_31_60: Money,
    /// 61–90 days.
    #[graphql(name = "days61To90")]
    pub days_61_90: Money,
    /// Over 90 days.
    pub days_over_90: Money,
    /// Credit not applied to any charge (positive).
    pub unapplied_credit: Money,
    /// Buckets minus unapplied credit: the balance as of the date.
    pub total: Money,
}

impl AgingView {
    pub(crate) fn of(a: &dv::Aging, as_of: NaiveDate, cur: Currency) -> Self {
        AgingView {
            as_of,
            days_0_30: Money::of(a.days_0_30, cur),
            days_31_60: Money::of(a.days_31_60, cur),
            days_61_90: Money::of(a.days_61_90, cur),
            days_over_90: Money::of(a.days_over_90, cur),
            unapplied_credit: Money::of(a.unapplied_credit, cur),
            total: Money::of(a.total, cur),
        }
    }
}

fn source_gid(s: &LedgerSource) -> async_graphql::ID {
    match s {
        LedgerSource::Procedure(id) => crate::global_id::encode("Procedure", id.uuid()),
        LedgerSource::Allocation(id) => crate::global_id::encode("PaymentAllocation", id.uuid()),
        LedgerSource::ClaimProcedure(id) => crate::global_id::encode("ClaimProcedure", id.uuid()),
        LedgerSource::Adjustment(id) => crate::global_id::encode("Adjustment", id.uuid()),
    }
}

/// The ledger rows of some patients, loaded in one batch per table.
pub(crate) struct LedgerRows {
    procedures: Vec<Stored<r::Procedure>>,
    adjustments: Vec<Stored<r::Adjustment>>,
    allocations: Vec<Stored<r::PaymentAllocation>>,
    payments: Vec<Stored<r::Payment>>,
    claim_procedures: Vec<Stored<r::ClaimProcedure>>,
}

impl LedgerRows {
    pub(crate) async fn load(ctx: &Context<'_>, patients: &[PatientId]) -> ApiResult<LedgerRows> {
        let (procedures, adjustments, allocations, claim_procedures) = futures::try_join!(
            all_children(ctx, tables::procedure::BY_PATIENT, tables::procedure::PERFORMED_ON, patients),
            all_children(ctx, tables::adjustment::BY_PATIENT, tables::adjustment::ADJUSTED_ON, patients),
            all_children(
                ctx,
                tables::payment_allocation::BY_PATIENT,
                tables::payment_allocation::ALLOCATED_ON,
                patients
            ),
            all_children(ctx, tables::claim_procedure::BY_PATIENT, tables::claim_procedure::SERVICE_DATE, patients),
        )?;
        let payment_ids: BTreeSet<PaymentId> = allocations.iter().filter_map(|a| a.data.payment_id).collect();
        let payments = by_ids(ctx, payment_ids).await?;
        Ok(LedgerRows {
            procedures: owned(&procedures),
            adjustments: owned(&adjustments),
            allocations: owned(&allocations),
            payments: payments.into_values().map(|p| (*p).clone()).collect(),
            claim_procedures: owned(&claim_procedures),
        })
    }

    pub(crate) fn ledger(&self) -> dv::Ledger {
        dv::ledger(&dv::LedgerInput {
            procedures: &self.procedures,
            adjustments: &self.adjustments,
            allocations: &self.allocations,
            payments: &self.payments,
            claim_procedures: &self.claim_procedures,
        })
    }
}

pub(crate) fn ledger_view(l: &dv::Ledger, cur: Currency) -> LedgerView {
    LedgerView {
        entries: l
            .entries
            .iter()
            .map(|e| LedgerLine {
                on: e.on,
                kind: e.kind.into(),
                source_id: source_gid(&e.source),
                patient_id: e.patient_id.map(|p| crate::global_id::encode("Patient", p.uuid())),
                amount: Money::of(e.amount, cur),
                balance: Money::of(e.balance, cur),
                description: e.description.clone(),
            })
            .collect(),
        charges: Money::of(l.charges, cur),
        credits: Money::of(l.credits, cur),
        balance: Money::of(l.balance, cur),
    }
}

/// The members of a family (live patients).
pub(crate) async fn family_members(ctx: &Context<'_>, family: FamilyId) -> ApiResult<Rows<PatientId>> {
    all_children(ctx, tables::patient::BY_FAMILY, tables::patient::LAST_NAME, &[family]).await
}

// Coverage.

/// One plan's part of a coverage estimate.
#[derive(SimpleObject, Debug, Clone)]
pub struct PlanEstimateView {
    /// 1 primary, 2 secondary…
    pub ordinal: i32,
    /// The plan (global id).
    pub plan_id: async_graphql::ID,
    /// Coverage percentage used.
    pub percent: Option<i32>,
    /// Deductible applied to this procedure.
    pub deductible_applied: Money,
    /// Deductible still to meet before this procedure.
    pub deductible_remaining_before: Money,
    /// Annual maximum still available before this procedure (null: no maximum).
    pub annual_max_remaining_before: Option<Money>,
    /// What this plan pays.
    pub insurance_portion: Money,
    /// Why it pays less than the percentage (`ANNUAL_MAXIMUM_LIMITED`, `FREQUENCY_LIMIT_REACHED`…).
    pub limitations: Vec<String>,
}

/// What insurance and the patient would pay for a procedure.
#[derive(SimpleObject, Debug, Clone)]
pub struct CoverageEstimateView {
    /// The fee estimated.
    pub fee: Money,
    /// Where the fee came from (`SCHEDULE`, `CODE_DEFAULT`, `GIVEN`).
    pub fee_basis: String,
    /// Each plan, in order.
    pub plans: Vec<PlanEstimateView>,
    /// Total insurance portion.
    pub insurance_portion: Money,
    /// Patient portion.
    pub patient_portion: Money,
}

/// The patient's insurance, gathered for estimates and the context.
pub(crate) struct Coverage {
    /// (patient plan, subscriber, plan, carrier, benefits) in ordinal order.
    pub(crate) plans: Vec<CoveragePlan>,
    /// The patient's earlier claim procedures, with their procedure's code and category.
    pub(crate) history: Vec<(InsurancePlanId, dv::BenefitUse)>,
}

pub(crate) struct CoveragePlan {
    pub(crate) patient_plan: Arc<Stored<r::PatientPlan>>,
    pub(crate) plan: Arc<Stored<r::InsurancePlan>>,
    pub(crate) carrier: Option<Arc<Stored<r::InsuranceCarrier>>>,
    pub(crate) benefits: Vec<Stored<r::Benefit>>,
}

impl Coverage {
    pub(crate) async fn load(ctx: &Context<'_>, patient: PatientId, on: NaiveDate) -> ApiResult<Coverage> {
        let patients = [patient];
        let (patient_plans, claim_procs) = futures::try_join!(
            all_children(ctx, tables::patient_plan::BY_PATIENT, tables::patient_plan::ORDINAL, &patients),
            all_children(ctx, tables::claim_procedure::BY_PATIENT, tables::claim_procedure::SERVICE_DATE, &patients),
        )?;
        let subscribers = by_ids(ctx, patient_plans.iter().map(|p| p.data.subscriber_id)).await?;
        // Active enrolments only.
        let active: Vec<_> = patient_plans
            .iter()
            .filter(|pp| {
                subscribers.get(&pp.data.subscriber_id).is_some_and(|s| {
                    s.data.effective_on.is_none_or(|d| d <= on) && s.data.terminated_on.is_none_or(|d| d >= on)
                })
            })
            .cloned()
            .collect();
        let plan_ids: Vec<InsurancePlanId> =
            active.iter().filter_map(|pp| subscribers.get(&pp.data.subscriber_id).map(|s| s.data.plan_id)).collect();
        let pp_ids: Vec<PatientPlanId> = active.iter().map(|p| p.id).collect();
        let proc_ids: BTreeSet<ProcedureId> = claim_procs.iter().filter_map(|c| c.data.procedure_id).collect();
        let (plans, plan_benefits, pp_benefits, procedures) = futures::try_join!(
            by_ids(ctx, plan_ids.iter().copied()),
            all_children(ctx, tables::benefit::BY_PLAN, tables::benefit::KIND, &plan_ids),
            all_children(ctx, tables::benefit::BY_PATIENT_PLAN, tables::benefit::KIND, &pp_ids),
            by_ids(ctx, proc_ids),
        )?;
        let code_ids: BTreeSet<ProcedureCodeId> =
            procedures.values().filter_map(|p| p.data.procedure_code_id).collect();
        let (carriers, codes) = futures::try_join!(
            by_ids(ctx, plans.values().map(|p| p.data.carrier_id).collect::<BTreeSet<_>>()),
            by_ids(ctx, code_ids),
        )?;
        let mut out = Vec::new();
        for pp in active {
            let Some(sub) = subscribers.get(&pp.data.subscriber_id) else { continue };
            let Some(plan) = plans.get(&sub.data.plan_id) else { continue };
            let benefits = plan_benefits
                .iter()
                .filter(|b| b.data.plan_id == Some(plan.id) && b.data.patient_plan_id.is_none())
                .chain(pp_benefits.iter().filter(|b| b.data.patient_plan_id == Some(pp.id)))
                .map(|b| (**b).clone())
                .collect();
            out.push(CoveragePlan {
                carrier: carriers.get(&plan.data.carrier_id).cloned(),
                plan: plan.clone(),
                patient_plan: pp,
                benefits,
            });
        }
        let history = claim_procs
            .iter()
            .filter(|c| c.meta.deleted_at.is_none() && !matches!(c.data.status, ClaimProcedureStatus::Preauth))
            .filter_map(|c| {
                let plan = c.data.plan_id?;
                let on = c.data.service_date?;
                let code = c.data.procedure_id.and_then(|p| procedures.get(&p)).and_then(|p| p.data.procedure_code_id);
                let category = code.and_then(|c| codes.get(&c)).and_then(|c| c.data.coverage_category.clone());
                let paid = if matches!(
                    c.data.status,
                    ClaimProcedureStatus::Received
                        | ClaimProcedureStatus::Supplemental
                        | ClaimProcedureStatus::CapComplete
                ) {
                    c.data.insurance_paid
                } else {
                    c.data.insurance_estimate
                };
                Some((
                    plan,
                    dv::BenefitUse {
                        on,
                        procedure_code_id: code,
                        coverage_category: category,
                        insurance_paid: paid,
                        deductible_applied: c.data.deductible_applied,
                    },
                ))
            })
            .collect();
        Ok(Coverage { plans: out, history })
    }

    fn history_of(&self, plan: InsurancePlanId) -> Vec<dv::BenefitUse> {
        self.history.iter().filter(|(p, _)| *p == plan).map(|(_, u)| u.clone()).collect()
    }

    pub(crate) fn estimate(
        &self,
        code: &r::ProcedureCode,
        code_id: ProcedureCodeId,
        fee: Amount,
        on: NaiveDate,
    ) -> dv::CoverageEstimate {
        let histories: Vec<Vec<dv::BenefitUse>> = self.plans.iter().map(|p| self.history_of(p.plan.id)).collect();
        let inputs: Vec<dv::CoverageInput<'_>> = self
            .plans
            .iter()
            .zip(&histories)
            .map(|(p, h)| dv::CoverageInput {
                ordinal: p.patient_plan.data.ordinal,
                plan_id: p.plan.id,
                benefit_year_start_month: p.plan.data.benefit_year_start_month,
                benefits: &p.benefits,
                history: h,
            })
            .collect();
        let request = dv::CoverageRequest {
            procedure_code_id: code_id,
            coverage_category: code.coverage_category.as_deref(),
            fee,
            service_date: on,
        };
        dv::estimate_coverage(&request, &inputs)
    }

    /// Annual maximum, used this benefit year and what remains, per plan.
    pub(crate) fn remaining(&self, plan: &CoveragePlan, on: NaiveDate) -> (Option<Amount>, Amount, Amount, Amount) {
        let general = |kind: BenefitKind| {
            plan.benefits
                .iter()
                .filter(|b| {
                    b.data.kind == kind
                        && b.data.procedure_code_id.is_none()
                        && b.data.coverage_category.is_none()
                        && matches!(b.data.coverage_level, CoverageLevel::Individual | CoverageLevel::None)
                })
                .filter_map(|b| b.data.amount)
                .max()
        };
        let start = dv::benefit_year_start(on, plan.plan.data.benefit_year_start_month);
        let this_year: Vec<_> =
            self.history_of(plan.plan.id).into_iter().filter(|u| u.on >= start && u.on <= on).collect();
        let used: Amount = this_year.iter().map(|u| u.insurance_paid).sum();
        let deductible_met: Amount = this_year.iter().map(|u| u.deductible_applied).sum();
        let max = general(BenefitKind::AnnualMaximum);
        let deductible = general(BenefitKind::Deductible).unwrap_or(Amount::ZERO);
        (max, used, deductible, (deductible - deductible_met).max(Amount::ZERO))
    }
}

pub(crate) fn estimate_view(e: &dv::CoverageEstimate, basis: &str, cur: Currency) -> CoverageEstimateView {
    CoverageEstimateView {
        fee: Money::of(e.fee, cur),
        fee_basis: basis.to_owned(),
        plans: e
            .plans
            .iter()
            .map(|p| PlanEstimateView {
                ordinal: i32::from(p.ordinal),
                plan_id: crate::global_id::encode("InsurancePlan", p.plan_id.uuid()),
                percent: p.percent.map(i32::from),
                deductible_applied: Money::of(p.deductible_applied, cur),
                deductible_remaining_before: Money::of(p.deductible_remaining_before, cur),
                annual_max_remaining_before: p.annual_max_remaining_before.map(|m| Money::of(m, cur)),
                insurance_portion: Money::of(p.insurance_portion, cur),
                limitations: p.limitations.iter().map(|l| l.as_str().to_owned()).collect(),
            })
            .collect(),
        insurance_portion: Money::of(e.insurance_portion, cur),
        patient_portion: Money::of(e.patient_portion, cur),
    }
}

// Fees.

/// A fee and where it came from.
#[derive(SimpleObject, Debug, Clone)]
pub struct FeeView {
    /// The fee.
    pub amount: Money,
    /// `SCHEDULE` or `CODE_DEFAULT`.
    pub basis: String,
    /// The schedule it came from (global id).
    pub fee_schedule_id: Option<async_graphql::ID>,
}

/// The fee of `code` for `patient`: the primary plan's schedule, then the patient's, the
/// primary provider's, else the code's default fee.
pub(crate) async fn patient_fee(
    ctx: &Context<'_>,
    patient: &Stored<r::Patient>,
    coverage: Option<&Coverage>,
    code_id: ProcedureCodeId,
    code: &r::ProcedureCode,
) -> ApiResult<Option<dv::FeeQuote>> {
    let mut schedules = Vec::new();
    if let Some(plan) = coverage.and_then(|c| c.plans.first()) {
        schedules.extend(plan.plan.data.fee_schedule_id);
    }
    schedules.extend(patient.data.fee_schedule_id);
    if let Some(provider) = patient.data.primary_provider_id
        && let Some(p) = by_ids(ctx, [provider]).await?.get(&provider)
    {
        schedules.extend(p.data.fee_schedule_id);
    }
    let fees = all_children(ctx, tables::fee::BY_PROCEDURE_CODE, tables::fee::AMOUNT, &[code_id]).await?;
    let fees = owned(&fees);
    Ok(dv::fee_for(
        code_id,
        &schedules,
        &fees,
        patient.data.location_id,
        patient.data.primary_provider_id,
        code.default_fee,
    ))
}

pub(crate) fn fee_view(q: &dv::FeeQuote, cur: Currency) -> FeeView {
    FeeView {
        amount: Money::of(q.amount, cur),
        basis: match q.basis {
            dv::FeeBasis::Schedule => "SCHEDULE",
            dv::FeeBasis::CodeDefault => "CODE_DEFAULT",
        }
        .to_owned(),
        fee_schedule_id: q.fee_schedule_id.map(|f| crate::global_id::encode("FeeSchedule", f.uuid())),
    }
}

// Treatment plan totals.

/// Totals of a treatment plan.
#[derive(SimpleObject, Debug, Clone)]
pub struct PlanTotalsView {
    /// Sum of fees.
    pub fee: Money,
    /// Sum of discounts.
    pub discount: Money,
    /// Insurance estimate (as the PMS saved it per item).
    pub insurance_estimate: Money,
    /// Fee minus discount minus insurance.
    pub patient_portion: Money,
    /// Paid towards the plan (payment allocations to it).
    pub paid: Money,
    /// Patient portion minus paid (negative: overpaid).
    pub residual: Money,
}

pub(crate) async fn plan_totals(ctx: &Context<'_>, plan: TreatmentPlanId) -> ApiResult<PlanTotalsView> {
    reader(ctx)?;
    let plans = [plan];
    let (items, allocations) = futures::try_join!(
        all_children(
            ctx,
            tables::treatment_plan_item::BY_TREATMENT_PLAN,
            tables::treatment_plan_item::SORT_ORDER,
            &plans
        ),
        all_children(
            ctx,
            tables::payment_allocation::BY_TREATMENT_PLAN,
            tables::payment_allocation::ALLOCATED_ON,
            &plans
        ),
    )?;
    let paid: Amount = allocations.iter().map(|a| a.data.amount).sum();
    let t = dv::plan_totals(&owned(&items), &[], paid);
    let cur = currency(ctx);
    Ok(PlanTotalsView {
        fee: Money::of(t.fee, cur),
        discount: Money::of(t.discount, cur),
        insurance_estimate: Money::of(t.insurance_estimate, cur),
        patient_portion: Money::of(t.patient_portion, cur),
        paid: Money::of(t.paid, cur),
        residual: Money::of(t.residual, cur),
    })
}

// Visits.

type AppointmentRow = Arc<Stored<r::Appointment>>;

pub(crate) async fn appointments_of(ctx: &Context<'_>, patient: PatientId) -> ApiResult<Rows<AppointmentId>> {
    all_children(ctx, tables::appointment::BY_PATIENT, tables::appointment::START_AT, &[patient]).await
}

/// The next scheduled appointment from now, and the last completed one.
pub(crate) fn next_and_last(
    appointments: &Rows<AppointmentId>,
    now: chrono::DateTime<Utc>,
) -> (Option<AppointmentRow>, Option<AppointmentRow>) {
    let next = appointments
        .iter()
        .filter(|a| a.data.start_at >= now && matches!(a.data.status, AppointmentStatus::Scheduled))
        .min_by_key(|a| a.data.start_at)
        .cloned();
    let last = appointments
        .iter()
        .filter(|a| a.data.start_at < now && matches!(a.data.status, AppointmentStatus::Complete))
        .max_by_key(|a| a.data.start_at)
        .cloned();
    (next, last)
}

/// The caller must hold `read`, or `context` for the context field.
pub(crate) fn context_reader(ctx: &Context<'_>) -> Result<bool, ApiError> {
    let v = viewer(ctx)?;
    if v.has(Scope::Read) {
        return Ok(true);
    }
    v.require(Scope::Context)?;
    Ok(false)
}

/// Age band of a birth year, as of a date (`0-12`, `13-17`, `18-34`, `35-49`, `50-64`, `65+`).
pub(crate) fn age_band(birth: Option<enamel_domain::PartialDate>, on: NaiveDate) -> Option<String> {
    let year = i32::from(birth?.year()?);
    let mut age = on.year() - year;
    if let (Some(m), Some(d)) = (birth?.month(), birth?.day())
        && (u32::from(m), u32::from(d)) > (on.month(), on.day())
    {
        age -= 1;
    }
    Some(
        match age {
            a if a < 0 => return None,
            0..=12 => "0-12",
            13..=17 => "13-17",
            18..=34 => "18-34",
            35..=49 => "35-49",
            50..=64 => "50-64",
            _ => "65+",
        }
        .to_owned(),
    )
}

// Resolvers behind the entity types' computed fields.

pub(crate) async fn ledger_of(ctx: &Context<'_>, patients: &[PatientId]) -> ApiResult<dv::Ledger> {
    reader(ctx)?;
    Ok(LedgerRows::load(ctx, patients).await?.ledger())
}

/// The family's members, each noted for the access audit: what is computed over them (the
/// family's ledger, balance, aging) shows every member's data.
pub(crate) async fn member_ids(ctx: &Context<'_>, family: FamilyId) -> ApiResult<Vec<PatientId>> {
    let members: Vec<PatientId> = family_members(ctx, family).await?.iter().map(|p| p.id).collect();
    for &member in &members {
        crate::phi::saw(ctx, crate::phi::Owner::Patient(member));
    }
    Ok(members)
}

pub(crate) fn aging_view(ctx: &Context<'_>, ledger: &dv::Ledger, as_of: Option<NaiveDate>) -> AgingView {
    let as_of = as_of.unwrap_or_else(|| today(ctx));
    AgingView::of(&dv::aging(&ledger.entries, as_of), as_of, currency(ctx))
}

pub(crate) async fn tags(ctx: &Context<'_>, patient: PatientId) -> ApiResult<Vec<crate::types::PatientTag>> {
    reader(ctx)?;
    let links =
        all_children(ctx, tables::patient_tag_assignment::BY_PATIENT, tables::patient_tag_assignment::ID, &[patient])
            .await?;
    let tags = by_ids(ctx, links.iter().map(|l| l.data.tag_id)).await?;
    let mut out: Vec<_> = tags.into_values().collect();
    out.sort_by(|a, b| a.data.name.cmp(&b.data.name));
    Ok(out.into_iter().map(crate::types::PatientTag::wrap).collect())
}

pub(crate) async fn next_or_last(
    ctx: &Context<'_>,
    patient: PatientId,
    next: bool,
) -> ApiResult<Option<crate::types::Appointment>> {
    reader(ctx)?;
    let appointments = appointments_of(ctx, patient).await?;
    let (n, l) = next_and_last(&appointments, now(ctx));
    Ok(if next { n } else { l }.map(crate::types::Appointment::wrap))
}

async fn code_row(
    ctx: &Context<'_>,
    id: &async_graphql::ID,
) -> ApiResult<(ProcedureCodeId, Arc<Stored<r::ProcedureCode>>)> {
    let code_id = ProcedureCodeId::from(crate::global_id::decode_as(id, "ProcedureCode")?);
    let row = by_ids(ctx, [code_id]).await?.remove(&code_id).ok_or_else(|| ApiError::not_found("ProcedureCode"))?;
    Ok((code_id, row))
}

pub(crate) async fn fee_of(
    ctx: &Context<'_>,
    patient: &Stored<r::Patient>,
    procedure_code: &async_graphql::ID,
) -> ApiResult<Option<FeeView>> {
    reader(ctx)?;
    let (code_id, code) = code_row(ctx, procedure_code).await?;
    let coverage = Coverage::load(ctx, patient.id, today(ctx)).await?;
    let quote = patient_fee(ctx, patient, Some(&coverage), code_id, &code.data).await?;
    Ok(quote.map(|q| fee_view(&q, currency(ctx))))
}

pub(crate) async fn coverage_estimate(
    ctx: &Context<'_>,
    patient: &Stored<r::Patient>,
    procedure_code: &async_graphql::ID,
    fee: Option<String>,
    on: Option<NaiveDate>,
) -> ApiResult<CoverageEstimateView> {
    reader(ctx)?;
    let cur = currency(ctx);
    let on = on.unwrap_or_else(|| today(ctx));
    let (code_id, code) = code_row(ctx, procedure_code).await?;
    let coverage = Coverage::load(ctx, patient.id, on).await?;
    let (fee, basis) = match fee {
        Some(text) => {
            let amount =
                cur.parse_amount(text.trim()).map_err(|e| ApiError::bad_input(format!("fee {text:?}: {e}")))?;
            if amount < Amount::ZERO {
                return Err(ApiError::bad_input("fee must not be negative").into());
            }
            (amount, "GIVEN")
        }
        None => match patient_fee(ctx, patient, Some(&coverage), code_id, &code.data).await? {
            Some(q) => (q.amount, if q.basis == dv::FeeBasis::Schedule { "SCHEDULE" } else { "CODE_DEFAULT" }),
            None => {
                return Err(ApiError::bad_input(format!("no fee is known for {}: pass `fee`", code.data.code)).into());
            }
        },
    };
    let estimate = coverage.estimate(&code.data, code_id, fee, on);
    Ok(estimate_view(&estimate, basis, cur))
}

async fn everything<T: Table>(ctx: &Context<'_>) -> ApiResult<Vec<Stored<RecordOf<T>>>> {
    let v = reader(ctx)?;
    let store = ctx.data::<enamel_store::Store>()?;
    let page =
        enamel_store::ListPage { sort: Sort::<T>::by_id(), descending: false, offset: 0, limit: i64::MAX as u64 };
    Ok(store.list(v.practice_id(), &enamel_store::All::<T>::rows(), page).await.map_err(ApiError::from)?)
}

/// The practice's A/R aging: each family's aging (payments to its oldest charges first),
/// summed. Reads the practice's ledger tables whole (one statement each).
pub(crate) async fn practice_aging(ctx: &Context<'_>, as_of: Option<NaiveDate>) -> ApiResult<(AgingView, i32)> {
    let as_of = as_of.unwrap_or_else(|| today(ctx));
    let (patients, procedures, adjustments, allocations, payments, claim_procedures) = futures::try_join!(
        everything::<PatientId>(ctx),
        everything::<ProcedureId>(ctx),
        everything::<AdjustmentId>(ctx),
        everything::<PaymentAllocationId>(ctx),
        everything::<PaymentId>(ctx),
        everything::<ClaimProcedureId>(ctx),
    )?;
    // Families by patient; a patient without a family is a family of one.
    let family_of: HashMap<PatientId, uuid::Uuid> =
        patients.iter().map(|p| (p.id, p.data.family_id.map_or(p.id.uuid(), |f| f.uuid()))).collect();
    let payer: HashMap<PaymentId, Option<PatientId>> = payments.iter().map(|p| (p.id, p.data.patient_id)).collect();
    #[derive(Default)]
    struct Family {
        procedures: Vec<Stored<r::Procedure>>,
        adjustments: Vec<Stored<r::Adjustment>>,
        allocations: Vec<Stored<r::PaymentAllocation>>,
        claim_procedures: Vec<Stored<r::ClaimProcedure>>,
    }
    let mut families: HashMap<uuid::Uuid, Family> = HashMap::new();
    let fam = |p: Option<PatientId>| p.and_then(|p| family_of.get(&p).copied());
    for p in procedures {
        if let Some(f) = fam(Some(p.data.patient_id)) {
            families.entry(f).or_default().procedures.push(p);
        }
    }
    for a in adjustments {
        if let Some(f) = fam(Some(a.data.patient_id)) {
            families.entry(f).or_default().adjustments.push(a);
        }
    }
    for a in allocations {
        let patient = a.data.patient_id.or_else(|| a.data.payment_id.and_then(|p| payer.get(&p).copied().flatten()));
        if let Some(f) = fam(patient) {
            families.entry(f).or_default().allocations.push(a);
        }
    }
    for c in claim_procedures {
        if let Some(f) = fam(Some(c.data.patient_id)) {
            families.entry(f).or_default().claim_procedures.push(c);
        }
    }
    let total: dv::Aging = families
        .values()
        .map(|f| {
            let l = dv::ledger(&dv::LedgerInput {
                procedures: &f.procedures,
                adjustments: &f.adjustments,
                allocations: &f.allocations,
                payments: &payments,
                claim_procedures: &f.claim_procedures,
            });
            dv::aging(&l.entries, as_of)
        })
        .sum();
    let count = i32::try_from(families.len()).unwrap_or(i32::MAX);
    Ok((AgingView::of(&total, as_of, currency(ctx)), count))
}
