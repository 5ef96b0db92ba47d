//! Insurance coverage estimate for one procedure across a patient's coverages.
//!
//! Each plan's share follows its benefit rules:
//!
//! - **Percentage**: the most specific `Percentage` rule: one for the procedure code, else
//!   one for its coverage category (compared case-insensitively), else a rule with neither
//!   code nor category. None (or 0 %) → no coverage.
//! - **Benefit year**: starts on day 1 of the plan's start month on or before the service
//!   date (the calendar year when the month is 1 or not a month). `CalendarYear` and
//!   `ServiceYear` periods both count over it; `Lifetime` counts over all history.
//! - **Deductible**: the most specific individual `Deductible` rule (code, category,
//!   general). A scoped rule of amount 0 waives the deductible for its code or category.
//!   What remains is its amount minus every deductible applied in the history of its
//!   period, floored at 0; the procedure takes `min(remaining, fee)`.
//! - **Annual maximum**: the general individual `AnnualMaximum` rule; what remains is its
//!   amount minus the insurance paid in the history of its period, floored at 0. No rule →
//!   unlimited.
//! - **Frequency**: every `Frequency` rule for the code or the category. A rule allows
//!   `quantity` services per window; once the history holds that many services of the
//!   rule's code (or category) in the window, the plan pays nothing. Windows: the benefit
//!   year by default; the 12 months before the service date for `NumberInLast12Months`;
//!   all history for `Lifetime`. A `quantity_qualifier` of `Years` or `Months` reads as
//!   "one service per `quantity` years/months" (the window is that long, ending on the
//!   service date). Rules qualified `AgeLimit` are age limits, not frequencies, and are
//!   ignored.
//! - **Exclusion**: an `Exclusion` rule for the code or the category → the plan pays nothing.
//!
//! A plan's insurance portion is then `percent_of(fee − deductible, percent)`, capped by
//! the remaining annual maximum and by what earlier plans left unpaid (coordination of
//! benefits: a secondary plan pays at most the fee minus earlier plans' insurance). The
//! patient pays the rest of the fee.
//!
//! Not modelled: family-level deductibles and maxima (the history is one patient's),
//! category-specific maxima, co-payments and waiting periods. History rows dated after the
//! service date are ignored; rows on the service date count.

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;

use super::is_live;
use crate::enums::{BenefitKind, BenefitPeriod, CoverageLevel};
use crate::ids::{InsurancePlanId, ProcedureCodeId};
use crate::records::Benefit;
use crate::{Amount, Stored};

/// The procedure to estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoverageRequest<'a> {
    /// Its procedure code.
    pub procedure_code_id: ProcedureCodeId,
    /// Its code's insurance coverage category (`Preventive`, `Basic`, `Major`…).
    pub coverage_category: Option<&'a str>,
    /// The fee charged.
    pub fee: Amount,
    /// The date of service.
    pub service_date: NaiveDate,
}

/// One coverage of the patient, with what it needs to estimate.
#[derive(Debug, Clone, Copy)]
pub struct CoverageInput<'a> {
    /// Coverage order: 1 primary, 2 secondary…
    pub ordinal: i16,
    /// The insurance plan.
    pub plan_id: InsurancePlanId,
    /// First month of the plan's benefit year (1 = January).
    pub benefit_year_start_month: i16,
    /// The plan's benefit rules plus this patient plan's overrides. An override (a row
    /// with `patient_plan_id`) replaces plan rows of the same kind, coverage level, code
    /// and category. Soft-deleted rows are ignored.
    pub benefits: &'a [Stored<Benefit>],
    /// The patient's earlier insured procedures under this plan.
    pub history: &'a [BenefitUse],
}

/// An earlier insured procedure: what it used of a plan's benefits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BenefitUse {
    /// Date of service.
    pub on: NaiveDate,
    /// Its procedure code.
    pub procedure_code_id: Option<ProcedureCodeId>,
    /// Its code's coverage category.
    pub coverage_category: Option<String>,
    /// Insurance paid, or estimated when not yet paid.
    pub insurance_paid: Amount,
    /// Deductible applied.
    pub deductible_applied: Amount,
}

/// Why a plan pays less than its percentage of the fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Limitation {
    /// No percentage rule covers the procedure (or it covers 0 %).
    NoCoverage,
    /// An exclusion rule names the procedure's code or category.
    Excluded,
    /// Part of the fee went to the deductible.
    DeductibleApplied,
    /// The deductible is waived for this code or category.
    DeductibleWaived,
    /// The annual maximum was already used up.
    AnnualMaximumReached,
    /// The annual maximum capped the insurance portion.
    AnnualMaximumLimited,
    /// A frequency limit is reached: the plan pays nothing.
    FrequencyLimitReached,
    /// Earlier plans already cover the whole fee.
    NotCoveredAfterPrimary,
    /// Earlier plans' insurance capped this plan's portion.
    LimitedByEarlierPlans,
}

impl Limitation {
    /// A stable name (`ANNUAL_MAXIMUM_LIMITED`), as serialized.
    pub const fn as_str(self) -> &'static str {
        match self {
            Limitation::NoCoverage => "NO_COVERAGE",
            Limitation::Excluded => "EXCLUDED",
            Limitation::DeductibleApplied => "DEDUCTIBLE_APPLIED",
            Limitation::DeductibleWaived => "DEDUCTIBLE_WAIVED",
            Limitation::AnnualMaximumReached => "ANNUAL_MAXIMUM_REACHED",
            Limitation::AnnualMaximumLimited => "ANNUAL_MAXIMUM_LIMITED",
            Limitation::FrequencyLimitReached => "FREQUENCY_LIMIT_REACHED",
            Limitation::NotCoveredAfterPrimary => "NOT_COVERED_AFTER_PRIMARY",
            Limitation::LimitedByEarlierPlans => "LIMITED_BY_EARLIER_PLANS",
        }
    }
}

/// One plan's share of a procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanEstimate {
    /// Coverage order.
    pub ordinal: i16,
    /// The plan.
    pub plan_id: InsurancePlanId,
    /// The coverage percentage that applies (clamped to 0–100), if any.
    pub percent: Option<i16>,
    /// Deductible taken from this procedure.
    pub deductible_applied: Amount,
    /// Deductible left before this procedure (0 when none applies or it is waived).
    pub deductible_remaining_before: Amount,
    /// Annual maximum left before this procedure; `None` when unlimited.
    pub annual_max_remaining_before: Option<Amount>,
    /// What this plan is estimated to pay.
    pub insurance_portion: Amount,
    /// Why it pays less than its percentage of the fee, in the order they applied.
    pub limitations: Vec<Limitation>,
}

/// The estimate for one procedure across all coverages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageEstimate {
    /// The fee.
    pub fee: Amount,
    /// Each plan's share, by coverage order.
    pub plans: Vec<PlanEstimate>,
    /// What insurance pays in all.
    pub insurance_portion: Amount,
    /// What the patient pays: `fee - insurance_portion`.
    pub patient_portion: Amount,
}

/// Estimates what each coverage pays for a procedure (see the [module docs](self)).
///
/// Coverages are taken by `ordinal` (ties keep their order). A negative fee is covered by
/// nobody. Always `insurance_portion + patient_portion == fee`, and for a non-negative fee
/// `0 <= insurance_portion <= fee`.
pub fn estimate_coverage(request: &CoverageRequest<'_>, coverages: &[CoverageInput<'_>]) -> CoverageEstimate {
    let mut ordered: Vec<&CoverageInput<'_>> = coverages.iter().collect();
    ordered.sort_by_key(|c| c.ordinal);
    let billable = request.fee.max(Amount::ZERO);
    let mut insurance = Amount::ZERO;
    let plans = ordered
        .into_iter()
        .map(|coverage| {
            let plan = plan_estimate(request, coverage, billable, billable - insurance);
            insurance = insurance + plan.insurance_portion;
            plan
        })
        .collect();
    CoverageEstimate { fee: request.fee, plans, insurance_portion: insurance, patient_portion: request.fee - insurance }
}

/// The first day of the benefit year that contains `service_date`: day 1 of `start_month`
/// on or before it; 1 January when `start_month` is 1 or not a month (1–12).
pub fn benefit_year_start(service_date: NaiveDate, start_month: i16) -> NaiveDate {
    let year = service_date.year();
    let month = u32::try_from(start_month).ok().filter(|m| (2..=12).contains(m)).unwrap_or(1);
    let start_year = if service_date.month() >= month { year } else { year - 1 };
    NaiveDate::from_ymd_opt(start_year, month, 1).unwrap_or(NaiveDate::MIN)
}

/// `percent` % of `amount`, rounded half away from zero to the minor unit
/// (50 % of 0.05 is 0.03; 50 % of −0.05 is −0.03).
pub fn percent_of(amount: Amount, percent: i16) -> Amount {
    let product = i128::from(amount.minor()) * i128::from(percent);
    let (quotient, remainder) = (product / 100, product % 100);
    let rounded = if remainder.abs() * 2 >= 100 { quotient + product.signum() } else { quotient };
    Amount(i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX }))
}

/// One plan's share of `billable`, of which `unpaid` is left after earlier plans.
fn plan_estimate(
    request: &CoverageRequest<'_>,
    coverage: &CoverageInput<'_>,
    billable: Amount,
    unpaid: Amount,
) -> PlanEstimate {
    let rules = PlanRules::new(request, coverage);
    let deductible = rules.deductible();
    let mut estimate = PlanEstimate {
        ordinal: coverage.ordinal,
        plan_id: coverage.plan_id,
        percent: rules.percent(),
        deductible_applied: Amount::ZERO,
        deductible_remaining_before: deductible.remaining,
        annual_max_remaining_before: rules.annual_max_remaining(),
        insurance_portion: Amount::ZERO,
        limitations: Vec::new(),
    };
    let limits = &mut estimate.limitations;
    if rules.excluded() {
        limits.push(Limitation::Excluded);
        return estimate;
    }
    let Some(percent) = estimate.percent.filter(|p| *p > 0) else {
        limits.push(Limitation::NoCoverage);
        return estimate;
    };
    if rules.frequency_reached() {
        limits.push(Limitation::FrequencyLimitReached);
        return estimate;
    }
    if deductible.waived {
        limits.push(Limitation::DeductibleWaived);
    }
    let applied = deductible.remaining.min(billable);
    if applied > Amount::ZERO {
        limits.push(Limitation::DeductibleApplied);
    }
    let mut portion = percent_of(billable - applied, percent);
    if let Some(remaining) = estimate.annual_max_remaining_before
        && portion > remaining
    {
        limits.push(if remaining > Amount::ZERO {
            Limitation::AnnualMaximumLimited
        } else {
            Limitation::AnnualMaximumReached
        });
        portion = remaining;
    }
    if portion > unpaid {
        limits.push(if unpaid > Amount::ZERO {
            Limitation::LimitedByEarlierPlans
        } else {
            Limitation::NotCoveredAfterPrimary
        });
        portion = unpaid;
    }
    estimate.deductible_applied = applied;
    estimate.insurance_portion = portion;
    estimate
}

/// How closely a benefit rule targets the procedure; more specific rules win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    /// Neither code nor category.
    General,
    /// The procedure's coverage category.
    Category,
    /// The procedure's code.
    Code,
}

/// The deductible that applies to the procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deductible {
    /// What is left of it before the procedure.
    remaining: Amount,
    /// A scoped rule of amount 0 waives it.
    waived: bool,
}

/// One plan's effective rules, read for one procedure.
struct PlanRules<'r> {
    request: &'r CoverageRequest<'r>,
    benefits: Vec<&'r Benefit>,
    history: &'r [BenefitUse],
    year_start: NaiveDate,
}

impl<'r> PlanRules<'r> {
    fn new(request: &'r CoverageRequest<'r>, coverage: &'r CoverageInput<'r>) -> Self {
        Self {
            request,
            benefits: effective_benefits(coverage.benefits),
            history: coverage.history,
            year_start: benefit_year_start(request.service_date, coverage.benefit_year_start_month),
        }
    }

    /// The rules of one kind, with how closely each targets the procedure (rules for
    /// another code or category are left out).
    fn scoped(&self, kind: BenefitKind) -> impl Iterator<Item = (Scope, &'r Benefit)> + '_ {
        self.benefits.iter().filter(move |b| b.kind == kind).filter_map(|b| Some((self.scope_of(b)?, *b)))
    }

    fn scope_of(&self, b: &Benefit) -> Option<Scope> {
        match (b.procedure_code_id, b.coverage_category.as_deref()) {
            (Some(code), _) => (code == self.request.procedure_code_id).then_some(Scope::Code),
            (None, Some(category)) => {
                same_category(self.request.coverage_category, Some(category)).then_some(Scope::Category)
            }
            (None, None) => Some(Scope::General),
        }
    }

    fn percent(&self) -> Option<i16> {
        let rules = self.scoped(BenefitKind::Percentage).filter(|(_, b)| b.percent.is_some());
        most_specific(rules).and_then(|(_, b)| b.percent).map(|p| p.clamp(0, 100))
    }

    fn deductible(&self) -> Deductible {
        let rules = self.scoped(BenefitKind::Deductible).filter(|(_, b)| individual(b));
        let Some((scope, rule)) = most_specific(rules) else {
            return Deductible { remaining: Amount::ZERO, waived: false };
        };
        let amount = rule.amount.unwrap_or(Amount::ZERO);
        let used = self.used_since(self.period_start(rule.period), |u| u.deductible_applied);
        Deductible {
            remaining: (amount - used).max(Amount::ZERO),
            waived: scope != Scope::General && amount == Amount::ZERO,
        }
    }

    fn annual_max_remaining(&self) -> Option<Amount> {
        let (_, rule) = self
            .scoped(BenefitKind::AnnualMaximum)
            .find(|(scope, b)| *scope == Scope::General && individual(b) && b.amount.is_some())?;
        let used = self.used_since(self.period_start(rule.period), |u| u.insurance_paid);
        Some((rule.amount.unwrap_or(Amount::ZERO) - used).max(Amount::ZERO))
    }

    fn excluded(&self) -> bool {
        self.scoped(BenefitKind::Exclusion).any(|(scope, _)| scope != Scope::General)
    }

    fn frequency_reached(&self) -> bool {
        self.scoped(BenefitKind::Frequency).filter(|(scope, _)| *scope != Scope::General).any(|(_, rule)| {
            let Some((limit, from)) = frequency_window(rule, self.request.service_date, self.year_start) else {
                return false;
            };
            let done = self.counted(from).filter(|u| same_target(rule, u)).count();
            done >= limit
        })
    }

    /// Where a period of this kind starts for this procedure.
    fn period_start(&self, period: BenefitPeriod) -> NaiveDate {
        match period {
            BenefitPeriod::Lifetime => NaiveDate::MIN,
            _ => self.year_start,
        }
    }

    /// History rows from `from` up to the service date, both inclusive.
    fn counted(&self, from: NaiveDate) -> impl Iterator<Item = &'r BenefitUse> + '_ {
        self.history.iter().filter(move |u| u.on >= from && u.on <= self.request.service_date)
    }

    fn used_since(&self, from: NaiveDate, what: impl Fn(&BenefitUse) -> Amount) -> Amount {
        self.counted(from).map(what).sum()
    }
}

/// The most specific of some scoped rules (the first among equals).
fn most_specific<'b>(rules: impl Iterator<Item = (Scope, &'b Benefit)>) -> Option<(Scope, &'b Benefit)> {
    rules.fold(None, |best, (scope, b)| match best {
        Some((best_scope, _)) if best_scope >= scope => best,
        _ => Some((scope, b)),
    })
}

/// The plan rules with patient-plan overrides applied, without soft-deleted rows.
fn effective_benefits(rows: &[Stored<Benefit>]) -> Vec<&Benefit> {
    let live: Vec<&Benefit> = rows.iter().filter(|r| is_live(&r.meta)).map(|r| &r.data).collect();
    let overridden = |b: &Benefit| live.iter().any(|o| o.patient_plan_id.is_some() && same_rule(o, b));
    live.iter().copied().filter(|b| b.patient_plan_id.is_some() || !overridden(b)).collect()
}

/// Whether two rules are the same rule (one overriding the other).
fn same_rule(a: &Benefit, b: &Benefit) -> bool {
    a.kind == b.kind
        && a.coverage_level == b.coverage_level
        && a.procedure_code_id == b.procedure_code_id
        && same_category(a.coverage_category.as_deref(), b.coverage_category.as_deref())
}

/// Categories compare case-insensitively and ignoring surrounding white space; two missing
/// categories are the same.
fn same_category(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
        (None, None) => true,
        _ => false,
    }
}

/// Whether an amount rule is per person (family-level amounts are not modelled).
fn individual(b: &Benefit) -> bool {
    matches!(b.coverage_level, CoverageLevel::Individual | CoverageLevel::None)
}

/// Whether an earlier procedure counts towards a (code- or category-) scoped rule.
fn same_target(rule: &Benefit, used: &BenefitUse) -> bool {
    match rule.procedure_code_id {
        Some(code) => used.procedure_code_id == Some(code),
        None => same_category(rule.coverage_category.as_deref(), used.coverage_category.as_deref()),
    }
}

/// How many services a frequency rule allows, and from which day (inclusive) up to the
/// service date; `None` for a rule that is not a usable frequency.
fn frequency_window(rule: &Benefit, service_date: NaiveDate, year_start: NaiveDate) -> Option<(usize, NaiveDate)> {
    let quantity = u32::try_from(rule.quantity?).ok().filter(|q| *q > 0)?;
    let qualifier = rule.quantity_qualifier.as_deref().map(str::trim).unwrap_or_default();
    if qualifier.eq_ignore_ascii_case("AgeLimit") {
        None
    } else if qualifier.eq_ignore_ascii_case("Years") {
        Some((1, window_of_months(service_date, quantity.saturating_mul(12))))
    } else if qualifier.eq_ignore_ascii_case("Months") {
        Some((1, window_of_months(service_date, quantity)))
    } else {
        let count = usize::try_from(quantity).ok()?;
        let from = match rule.period {
            BenefitPeriod::NumberInLast12Months => window_of_months(service_date, 12),
            BenefitPeriod::Lifetime => NaiveDate::MIN,
            _ => year_start,
        };
        Some((count, from))
    }
}

/// The first day of the `months` months ending on `date`: the day after the same date
/// `months` months earlier (so a service exactly 12 months before is outside a 12-month
/// window).
fn window_of_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_sub_months(Months::new(months)).and_then(|d| d.succ_opt()).unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::views::test_support::{day, deleted, id, stored, usd};

    const PROPHY: u128 = 1110;
    const CROWN: u128 = 2740;
    const FILLING: u128 = 2391;
    const EXAM: u128 = 120;

    fn rule(kind: BenefitKind) -> Benefit {
        Benefit {
            plan_id: Some(id(1)),
            patient_plan_id: None,
            procedure_code_id: None,
            coverage_category: None,
            kind,
            coverage_level: CoverageLevel::None,
            period: BenefitPeriod::None,
            percent: None,
            amount: None,
            quantity: None,
            quantity_qualifier: None,
        }
    }

    fn percentage(category: &str, percent: i16) -> Benefit {
        Benefit {
            coverage_category: Some(category.to_owned()),
            percent: Some(percent),
            ..rule(BenefitKind::Percentage)
        }
    }

    fn deductible(category: Option<&str>, amount: &str) -> Benefit {
        Benefit {
            coverage_category: category.map(str::to_owned),
            coverage_level: CoverageLevel::Individual,
            period: BenefitPeriod::CalendarYear,
            amount: Some(usd(amount)),
            ..rule(BenefitKind::Deductible)
        }
    }

    fn annual_max(amount: &str) -> Benefit {
        Benefit {
            coverage_level: CoverageLevel::Individual,
            period: BenefitPeriod::CalendarYear,
            amount: Some(usd(amount)),
            ..rule(BenefitKind::AnnualMaximum)
        }
    }

    fn frequency(code: u128, quantity: i32, period: BenefitPeriod, qualifier: &str) -> Benefit {
        Benefit {
            procedure_code_id: Some(id(code)),
            period,
            quantity: Some(quantity),
            quantity_qualifier: Some(qualifier.to_owned()),
            ..rule(BenefitKind::Frequency)
        }
    }

    /// Preventive 100 %, Basic 80 %, Major 50 %, a $50 deductible waived for Preventive,
    /// a $1,500 annual maximum.
    fn standard_plan() -> Vec<Stored<Benefit>> {
        [
            percentage("Preventive", 100),
            percentage("Basic", 80),
            percentage("Major", 50),
            deductible(None, "50.00"),
            deductible(Some("Preventive"), "0"),
            annual_max("1500.00"),
            frequency(PROPHY, 2, BenefitPeriod::ServiceYear, "NumberOfServices"),
        ]
        .into_iter()
        .map(stored)
        .collect()
    }

    fn used(on: NaiveDate, code: u128, category: &str, paid: &str, deductible: &str) -> BenefitUse {
        BenefitUse {
            on,
            procedure_code_id: Some(id(code)),
            coverage_category: Some(category.to_owned()),
            insurance_paid: usd(paid),
            deductible_applied: usd(deductible),
        }
    }

    /// $1,200 of the maximum already paid this year, no deductible met.
    fn history_1200_paid() -> Vec<BenefitUse> {
        vec![used(day(2025, 2, 10), CROWN, "Major", "1200.00", "0")]
    }

    fn coverage<'a>(ordinal: i16, benefits: &'a [Stored<Benefit>], history: &'a [BenefitUse]) -> CoverageInput<'a> {
        CoverageInput {
            ordinal,
            plan_id: id(u128::from(ordinal.unsigned_abs())),
            benefit_year_start_month: 1,
            benefits,
            history,
        }
    }

    fn request<'a>(code: u128, category: &'a str, fee: &str, on: NaiveDate) -> CoverageRequest<'a> {
        CoverageRequest {
            procedure_code_id: id(code),
            coverage_category: Some(category),
            fee: usd(fee),
            service_date: on,
        }
    }

    fn assert_split(estimate: &CoverageEstimate, insurance: &str, patient: &str) {
        assert_eq!(
            (estimate.insurance_portion, estimate.patient_portion),
            (usd(insurance), usd(patient)),
            "{estimate:#?}"
        );
    }

    #[test]
    fn a_major_procedure_is_capped_by_the_annual_maximum() {
        let (benefits, history) = (standard_plan(), history_1200_paid());
        let estimate = estimate_coverage(
            &request(CROWN, "Major", "1000.00", day(2025, 5, 1)),
            &[coverage(1, &benefits, &history)],
        );
        assert_split(&estimate, "300.00", "700.00");
        let plan = &estimate.plans[0];
        assert_eq!(plan.percent, Some(50));
        assert_eq!(plan.deductible_applied, usd("50.00"));
        assert_eq!(plan.deductible_remaining_before, usd("50.00"));
        assert_eq!(plan.annual_max_remaining_before, Some(usd("300.00")));
        assert_eq!(plan.limitations, vec![Limitation::DeductibleApplied, Limitation::AnnualMaximumLimited]);
    }

    #[test]
    fn a_basic_procedure_pays_80_percent_after_the_deductible() {
        let (benefits, history) = (standard_plan(), history_1200_paid());
        let estimate = estimate_coverage(
            &request(FILLING, "Basic", "200.00", day(2025, 5, 1)),
            &[coverage(1, &benefits, &history)],
        );
        assert_split(&estimate, "120.00", "80.00");
        assert_eq!(estimate.plans[0].deductible_applied, usd("50.00"));
        assert_eq!(estimate.plans[0].limitations, vec![Limitation::DeductibleApplied]);
    }

    #[test]
    fn a_preventive_procedure_with_the_deductible_waived_is_covered_in_full() {
        let (benefits, history) = (standard_plan(), history_1200_paid());
        let estimate = estimate_coverage(
            &request(EXAM, "preventive", "100.00", day(2025, 5, 1)),
            &[coverage(1, &benefits, &history)],
        );
        assert_split(&estimate, "100.00", "0");
        let plan = &estimate.plans[0];
        assert_eq!((plan.percent, plan.deductible_applied), (Some(100), Amount::ZERO));
        assert_eq!(plan.limitations, vec![Limitation::DeductibleWaived]);
    }

    #[test]
    fn a_third_prophy_in_the_benefit_year_hits_the_frequency_limit() {
        let benefits = standard_plan();
        let history = vec![
            used(day(2024, 11, 1), PROPHY, "Preventive", "80.00", "0"), // last benefit year
            used(day(2025, 1, 15), PROPHY, "Preventive", "80.00", "0"),
            used(day(2025, 4, 15), PROPHY, "Preventive", "80.00", "0"),
        ];
        let on = day(2025, 10, 1);
        let estimate =
            estimate_coverage(&request(PROPHY, "Preventive", "80.00", on), &[coverage(1, &benefits, &history)]);
        assert_split(&estimate, "0", "80.00");
        assert_eq!(estimate.plans[0].limitations, vec![Limitation::FrequencyLimitReached]);

        // With only one prophy this year, the second is covered.
        let estimate =
            estimate_coverage(&request(PROPHY, "Preventive", "80.00", on), &[coverage(1, &benefits, &history[..2])]);
        assert_split(&estimate, "80.00", "0");
    }

    #[test]
    fn a_july_benefit_year_counts_from_the_first_of_july() {
        let benefits = standard_plan();
        let history = vec![
            used(day(2024, 6, 15), CROWN, "Major", "1000.00", "50.00"), // previous benefit year
            used(day(2024, 9, 1), CROWN, "Major", "1200.00", "0"),
        ];
        let july = CoverageInput { benefit_year_start_month: 7, ..coverage(1, &benefits, &history) };
        let march = day(2025, 3, 1);
        let estimate = estimate_coverage(&request(FILLING, "Basic", "200.00", march), &[july]);
        assert_split(&estimate, "120.00", "80.00");
        assert_eq!(estimate.plans[0].deductible_remaining_before, usd("50.00"));
        assert_eq!(estimate.plans[0].annual_max_remaining_before, Some(usd("300.00")));

        // In the next benefit year the maximum is whole again.
        let next_year = day(2025, 7, 1);
        let estimate = estimate_coverage(&request(CROWN, "Major", "1000.00", next_year), &[july]);
        assert_split(&estimate, "475.00", "525.00");
        assert_eq!(estimate.plans[0].annual_max_remaining_before, Some(usd("1500.00")));

        assert_eq!(benefit_year_start(day(2025, 3, 1), 7), day(2024, 7, 1));
        assert_eq!(benefit_year_start(day(2025, 7, 1), 7), day(2025, 7, 1));
        assert_eq!(benefit_year_start(day(2025, 12, 31), 7), day(2025, 7, 1));
        assert_eq!(benefit_year_start(day(2025, 3, 1), 1), day(2025, 1, 1));
        assert_eq!(benefit_year_start(day(2025, 3, 1), 13), day(2025, 1, 1));
        assert_eq!(benefit_year_start(day(2025, 3, 1), -4), day(2025, 1, 1));
    }

    #[test]
    fn a_secondary_plan_covers_what_the_primary_left() {
        let primary = standard_plan();
        let secondary: Vec<_> = [percentage("Major", 80)].into_iter().map(stored).collect();
        let crown = request(CROWN, "Major", "1000.00", day(2025, 5, 1));
        // Listed out of order: ordinals decide.
        let estimate = estimate_coverage(&crown, &[coverage(2, &secondary, &[]), coverage(1, &primary, &[])]);
        assert_split(&estimate, "1000.00", "0");
        assert_eq!(estimate.plans[0].ordinal, 1);
        assert_eq!(estimate.plans[0].insurance_portion, usd("475.00"));
        assert_eq!(estimate.plans[1].insurance_portion, usd("525.00")); // 80 % would be 800.00
        assert_eq!(estimate.plans[1].limitations, vec![Limitation::LimitedByEarlierPlans]);

        // A secondary paying less than what is left pays its own share.
        let secondary: Vec<_> = [percentage("Major", 30)].into_iter().map(stored).collect();
        let estimate = estimate_coverage(&crown, &[coverage(1, &primary, &[]), coverage(2, &secondary, &[])]);
        assert_split(&estimate, "775.00", "225.00");
        assert!(estimate.plans[1].limitations.is_empty());

        // Nothing is left after a primary that pays everything.
        let exam = request(EXAM, "Preventive", "100.00", day(2025, 5, 1));
        let secondary: Vec<_> = [percentage("Preventive", 100)].into_iter().map(stored).collect();
        let estimate = estimate_coverage(&exam, &[coverage(1, &primary, &[]), coverage(2, &secondary, &[])]);
        assert_split(&estimate, "100.00", "0");
        assert_eq!(estimate.plans[1].insurance_portion, Amount::ZERO);
        assert_eq!(estimate.plans[1].limitations, vec![Limitation::NotCoveredAfterPrimary]);
    }

    #[test]
    fn a_partly_met_deductible_takes_only_what_remains() {
        let benefits = standard_plan();
        let history = vec![
            used(day(2025, 1, 20), FILLING, "Basic", "100.00", "30.00"),
            used(day(2025, 12, 1), FILLING, "Basic", "100.00", "20.00"), // after the service date
        ];
        let estimate = estimate_coverage(
            &request(FILLING, "Basic", "200.00", day(2025, 3, 1)),
            &[coverage(1, &benefits, &history)],
        );
        assert_split(&estimate, "144.00", "56.00"); // 80 % of (200 − 20)
        let plan = &estimate.plans[0];
        assert_eq!((plan.deductible_remaining_before, plan.deductible_applied), (usd("20.00"), usd("20.00")));
        assert_eq!(plan.annual_max_remaining_before, Some(usd("1400.00")));

        // A fully met deductible applies nothing.
        let history = vec![used(day(2025, 1, 20), FILLING, "Basic", "100.00", "50.00")];
        let estimate = estimate_coverage(
            &request(FILLING, "Basic", "200.00", day(2025, 3, 1)),
            &[coverage(1, &benefits, &history)],
        );
        assert_split(&estimate, "160.00", "40.00");
        assert!(estimate.plans[0].limitations.is_empty());
    }

    #[test]
    fn a_used_up_maximum_pays_nothing() {
        let benefits = standard_plan();
        let history = vec![used(day(2025, 2, 1), CROWN, "Major", "1600.00", "50.00")];
        let estimate = estimate_coverage(
            &request(FILLING, "Basic", "200.00", day(2025, 3, 1)),
            &[coverage(1, &benefits, &history)],
        );
        assert_split(&estimate, "0", "200.00");
        assert_eq!(estimate.plans[0].annual_max_remaining_before, Some(Amount::ZERO));
        assert_eq!(estimate.plans[0].limitations, vec![Limitation::AnnualMaximumReached]);
    }

    #[test]
    fn no_percentage_rule_means_no_coverage() {
        let benefits = standard_plan();
        let implant = request(6010, "Implants", "3000.00", day(2025, 3, 1));
        let estimate = estimate_coverage(&implant, &[coverage(1, &benefits, &[])]);
        assert_split(&estimate, "0", "3000.00");
        let plan = &estimate.plans[0];
        assert_eq!((plan.percent, plan.deductible_applied), (None, Amount::ZERO));
        assert_eq!(plan.limitations, vec![Limitation::NoCoverage]);

        let no_category = CoverageRequest { coverage_category: None, ..implant };
        assert_eq!(estimate_coverage(&no_category, &[coverage(1, &benefits, &[])]).plans[0].percent, None);
        assert_split(&estimate_coverage(&implant, &[]), "0", "3000.00");
    }

    #[test]
    fn a_code_rule_beats_a_category_rule_which_beats_a_general_rule() {
        let mut benefits = standard_plan();
        benefits.push(stored(Benefit {
            procedure_code_id: Some(id(CROWN)),
            percent: Some(60),
            ..rule(BenefitKind::Percentage)
        }));
        benefits.push(stored(Benefit { percent: Some(10), ..rule(BenefitKind::Percentage) }));
        let percent_of_code = |code, category| {
            estimate_coverage(&request(code, category, "100.00", day(2025, 3, 1)), &[coverage(1, &benefits, &[])]).plans
                [0]
            .percent
        };
        assert_eq!(percent_of_code(CROWN, "Major"), Some(60));
        assert_eq!(percent_of_code(2750, "Major"), Some(50));
        assert_eq!(percent_of_code(6010, "Implants"), Some(10));
    }

    #[test]
    fn patient_plan_overrides_replace_the_plan_rule() {
        let mut benefits = standard_plan();
        benefits.push(stored(Benefit { patient_plan_id: Some(id(9)), ..percentage("BASIC", 50) }));
        benefits.push(stored(Benefit { patient_plan_id: Some(id(9)), ..deductible(None, "0") }));
        benefits.push(deleted(stored(Benefit { patient_plan_id: Some(id(9)), ..annual_max("1.00") })));
        let estimate =
            estimate_coverage(&request(FILLING, "Basic", "200.00", day(2025, 3, 1)), &[coverage(1, &benefits, &[])]);
        assert_split(&estimate, "100.00", "100.00");
        let plan = &estimate.plans[0];
        assert_eq!((plan.percent, plan.deductible_applied), (Some(50), Amount::ZERO));
        assert_eq!(plan.annual_max_remaining_before, Some(usd("1500.00")));
    }

    #[test]
    fn a_category_deductible_replaces_the_general_one() {
        let mut benefits = standard_plan();
        benefits.push(stored(deductible(Some("Major"), "100.00")));
        let estimate =
            estimate_coverage(&request(CROWN, "Major", "1000.00", day(2025, 3, 1)), &[coverage(1, &benefits, &[])]);
        assert_split(&estimate, "450.00", "550.00");
        assert_eq!(estimate.plans[0].deductible_applied, usd("100.00"));
    }

    #[test]
    fn frequency_windows_follow_the_rule_period_and_qualifier() {
        let on = day(2025, 6, 15);
        let estimate_with = |rule: Benefit, history: &[BenefitUse]| {
            let benefits: Vec<_> =
                [Benefit { procedure_code_id: Some(id(PROPHY)), ..percentage("Preventive", 100) }, rule]
                    .into_iter()
                    .map(stored)
                    .collect();
            estimate_coverage(&request(PROPHY, "Preventive", "80.00", on), &[coverage(1, &benefits, history)])
                .insurance_portion
        };
        let prophy = |on| used(on, PROPHY, "Preventive", "80.00", "0");

        // One in the last 12 months: exactly 12 months ago is outside the window.
        let last_12 = frequency(PROPHY, 1, BenefitPeriod::NumberInLast12Months, "NumberOfServices");
        assert_eq!(estimate_with(last_12.clone(), &[prophy(day(2024, 6, 15))]), usd("80.00"));
        assert_eq!(estimate_with(last_12, &[prophy(day(2024, 6, 16))]), Amount::ZERO);

        // One per 3 years.
        let every_3_years = frequency(PROPHY, 3, BenefitPeriod::Years, "Years");
        assert_eq!(estimate_with(every_3_years.clone(), &[prophy(day(2022, 6, 16))]), Amount::ZERO);
        assert_eq!(estimate_with(every_3_years, &[prophy(day(2022, 6, 15))]), usd("80.00"));

        // One per 6 months.
        let every_6_months = frequency(PROPHY, 6, BenefitPeriod::None, "Months");
        assert_eq!(estimate_with(every_6_months.clone(), &[prophy(day(2025, 1, 1))]), Amount::ZERO);
        assert_eq!(estimate_with(every_6_months, &[prophy(day(2024, 12, 15))]), usd("80.00"));

        // Lifetime: two ever.
        let lifetime = frequency(PROPHY, 2, BenefitPeriod::Lifetime, "NumberOfServices");
        assert_eq!(estimate_with(lifetime, &[prophy(day(2001, 1, 1)), prophy(day(2010, 1, 1))]), Amount::ZERO);

        // A category rule counts the category; an age limit is not a frequency.
        let category_rule = Benefit {
            coverage_category: Some("preventive".to_owned()),
            quantity: Some(1),
            ..rule(BenefitKind::Frequency)
        };
        assert_eq!(estimate_with(category_rule, &[used(day(2025, 2, 1), EXAM, "Preventive", "0", "0")]), Amount::ZERO);
        let age_limit = frequency(PROPHY, 1, BenefitPeriod::None, "AgeLimit");
        assert_eq!(estimate_with(age_limit, &[prophy(day(2025, 2, 1))]), usd("80.00"));
    }

    #[test]
    fn an_exclusion_pays_nothing() {
        let mut benefits = standard_plan();
        benefits.push(stored(Benefit { procedure_code_id: Some(id(CROWN)), ..rule(BenefitKind::Exclusion) }));
        let estimate =
            estimate_coverage(&request(CROWN, "Major", "1000.00", day(2025, 3, 1)), &[coverage(1, &benefits, &[])]);
        assert_split(&estimate, "0", "1000.00");
        assert_eq!(estimate.plans[0].limitations, vec![Limitation::Excluded]);
    }

    #[test]
    fn a_negative_fee_is_covered_by_nobody() {
        let benefits = standard_plan();
        let estimate =
            estimate_coverage(&request(EXAM, "Preventive", "-10.00", day(2025, 3, 1)), &[coverage(1, &benefits, &[])]);
        assert_split(&estimate, "0", "-10.00");
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        assert_eq!(percent_of(Amount(5), 50), Amount(3));
        assert_eq!(percent_of(Amount(-5), 50), Amount(-3));
        assert_eq!(percent_of(Amount(4), 50), Amount(2));
        assert_eq!(percent_of(Amount(333), 33), Amount(110)); // 109.89
        assert_eq!(percent_of(Amount(15_000), 80), Amount(12_000));
        assert_eq!(percent_of(Amount(i64::MAX), 100), Amount(i64::MAX));
    }

    #[test]
    fn limitations_have_stable_names() {
        let all = [
            Limitation::NoCoverage,
            Limitation::Excluded,
            Limitation::DeductibleApplied,
            Limitation::DeductibleWaived,
            Limitation::AnnualMaximumReached,
            Limitation::AnnualMaximumLimited,
            Limitation::FrequencyLimitReached,
            Limitation::NotCoveredAfterPrimary,
            Limitation::LimitedByEarlierPlans,
        ];
        for limitation in all {
            assert_eq!(serde_json::to_value(limitation).ok(), Some(serde_json::json!(limitation.as_str())));
        }
        assert_eq!(Limitation::AnnualMaximumLimited.as_str(), "ANNUAL_MAXIMUM_LIMITED");
    }

    proptest! {
        #[test]
        fn portions_add_up_to_the_fee(
            fee in 0_i64..500_000,
            percents in proptest::collection::vec(0_i16..=120, 1..4),
            deductible_amount in 0_i64..20_000,
            maximum in proptest::option::of(0_i64..300_000),
            paid in 0_i64..300_000,
            deductible_met in 0_i64..20_000,
            prior_services in 0_usize..4,
        ) {
            let plans: Vec<Vec<Stored<Benefit>>> = percents
                .iter()
                .map(|p| {
                    let mut rules = vec![
                        percentage("Basic", *p),
                        Benefit { amount: Some(Amount(deductible_amount)), ..deductible(None, "0") },
                        frequency(FILLING, 2, BenefitPeriod::CalendarYear, "NumberOfServices"),
                    ];
                    rules.extend(maximum.map(|m| Benefit { amount: Some(Amount(m)), ..annual_max("0") }));
                    rules.into_iter().map(stored).collect()
                })
                .collect();
            let history: Vec<_> = (0..prior_services)
                .map(|_| BenefitUse {
                    on: day(2025, 1, 2),
                    procedure_code_id: Some(id(FILLING)),
                    coverage_category: Some("Basic".to_owned()),
                    insurance_paid: Amount(paid),
                    deductible_applied: Amount(deductible_met),
                })
                .collect();
            let coverages: Vec<_> =
                plans.iter().zip(1..).map(|(benefits, ordinal)| coverage(ordinal, benefits, &history)).collect();
            let request = CoverageRequest { fee: Amount(fee), ..request(FILLING, "Basic", "0", day(2025, 6, 1)) };
            let estimate = estimate_coverage(&request, &coverages);
            prop_assert_eq!(estimate.insurance_portion + estimate.patient_portion, Amount(fee));
            prop_assert!(estimate.insurance_portion >= Amount::ZERO);
            prop_assert!(estimate.insurance_portion <= Amount(fee));
            let sum: Amount = estimate.plans.iter().map(|p| p.insurance_portion).sum();
            prop_assert_eq!(sum, estimate.insurance_portion);
            for plan in &estimate.plans {
                prop_assert!(plan.insurance_portion >= Amount::ZERO);
                if let Some(remaining) = plan.annual_max_remaining_before {
                    prop_assert!(plan.insurance_portion <= remaining);
                }
            }
        }
    }
}
