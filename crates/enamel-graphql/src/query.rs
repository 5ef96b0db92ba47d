//! The query root (DESIGN §4).

// Query roots take one argument per filter; the `Object` macro expands each into a method.
#![allow(clippy::too_many_arguments)]

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use enamel_domain::ids::*;
use enamel_domain::{Scope, enums as d};
use enamel_store::{
    All, AppointmentFilter, ClaimFilter, PatientFilter, PaymentFilter, ProcedureCodeFilter, ProcedureFilter, Store,
    tables,
};

use crate::connection::{Conn, list, load};
use crate::enums;
use crate::error::{ApiError, ApiResult};
use crate::global_id::decode_as;
use crate::node::{Node, node};
use crate::types::*;
use crate::viewer::{reader, viewer};

/// Reads.
pub struct Query;

fn ids<I: EntityId>(type_name: &str, ids: Option<Vec<ID>>) -> Result<Vec<I>, ApiError> {
    ids.unwrap_or_default().iter().map(|id| decode_as(id, type_name).map(I::from)).collect()
}

fn statuses<G: Copy, D: From<G>>(values: Option<Vec<G>>) -> Vec<D> {
    values.unwrap_or_default().into_iter().map(D::from).collect()
}

/// The caller.
#[derive(SimpleObject)]
pub struct ViewerInfo {
    /// The credential's name.
    pub name: String,
    /// What it may do (`read`, `context`, `propose`, `approve`, `admin`).
    pub scopes: Vec<String>,
    /// The practice it is bound to.
    pub practice: PracticeInfo,
}

/// A practice: the tenant every object belongs to.
#[derive(SimpleObject, Clone)]
#[graphql(complex, name = "Practice")]
pub struct PracticeInfo {
    /// Opaque id.
    pub id: ID,
    /// Name.
    pub name: String,
    /// Office time zone (IANA name).
    pub time_zone: String,
    /// Currency of every amount (ISO 4217).
    pub currency: String,
}

/// How one stream of one PMS connection last synced.
#[derive(SimpleObject)]
pub struct StreamStatus {
    /// The stream (`patients`, `Appointments`…).
    pub stream: String,
    /// The last run.
    pub last_run: SyncRunInfo,
}

/// The practice's A/R aging.
#[derive(SimpleObject)]
pub struct PracticeAging {
    /// The buckets, summed over families.
    pub aging: crate::views::AgingView,
    /// How many families (with any ledger rows) were aged.
    pub families: i32,
}

/// Outcome of a sync run.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enamel_domain::SyncRunStatus")]
pub enum SyncRunStatus {
    /// Still running (or interrupted).
    Running,
    /// Finished.
    Succeeded,
    /// Failed with an error.
    Failed,
}

/// One run of one sync stream.
#[derive(SimpleObject)]
#[graphql(name = "SyncRun")]
pub struct SyncRunInfo {
    /// The stream.
    pub stream: String,
    /// Outcome.
    pub status: SyncRunStatus,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Records read from the PMS.
    pub fetched: i64,
    /// New rows.
    pub inserted: i64,
    /// Changed rows.
    pub updated: i64,
    /// Rows that had not changed.
    pub unchanged: i64,
    /// Rows soft-deleted.
    pub deleted: i64,
    /// Rows set aside with a reason.
    pub quarantined: i64,
    /// The error, for a failed run.
    pub error: Option<String>,
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl From<enamel_domain::SyncRun> for SyncRunInfo {
    fn from(r: enamel_domain::SyncRun) -> Self {
        SyncRunInfo {
            stream: r.stream,
            status: r.status.into(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            fetched: as_i64(r.counts.fetched),
            inserted: as_i64(r.counts.inserted),
            updated: as_i64(r.counts.updated),
            unchanged: as_i64(r.counts.unchanged),
            deleted: as_i64(r.counts.deleted),
            quarantined: as_i64(r.counts.quarantined),
            error: r.error,
        }
    }
}

impl PracticeInfo {
    pub(crate) fn of(p: &enamel_domain::Practice) -> Self {
        PracticeInfo {
            id: crate::global_id::encode("Practice", p.id.uuid()),
            name: p.name.clone(),
            time_zone: p.time_zone.name().to_owned(),
            currency: p.currency.as_ref().to_uppercase(),
        }
    }
}

#[async_graphql::ComplexObject]
impl PracticeInfo {
    /// The last run of every synced stream.
    async fn sync_status(&self, ctx: &Context<'_>) -> ApiResult<Vec<StreamStatus>> {
        let v = reader(ctx)?;
        let runs = ctx.data::<Store>()?.sync_runs(v.practice_id(), 1000).await.map_err(ApiError::from)?;
        let mut seen = std::collections::BTreeMap::new();
        for run in runs {
            seen.entry(run.stream.clone()).or_insert(run);
        }
        Ok(seen.into_iter().map(|(stream, run)| StreamStatus { stream, last_run: run.into() }).collect())
    }

    /// Clinics and branches.
    async fn locations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Location>> {
        list(ctx, All::<LocationId>::rows(), tables::location::NAME, false, first, after).await
    }

    /// Dentists, hygienists and staff.
    async fn providers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Provider>> {
        list(ctx, All::<ProviderId>::rows(), tables::provider::LAST_NAME, false, first, after).await
    }

    /// Chairs, in schedule order.
    async fn operatories(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Operatory>> {
        list(ctx, All::<OperatoryId>::rows(), tables::operatory::SORT_ORDER, false, first, after).await
    }

    /// Fee schedules.
    async fn fee_schedules(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<FeeSchedule>> {
        list(ctx, All::<FeeScheduleId>::rows(), tables::fee_schedule::NAME, false, first, after).await
    }

    /// Insurance carriers.
    async fn insurance_carriers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<InsuranceCarrier>> {
        list(ctx, All::<InsuranceCarrierId>::rows(), tables::insurance_carrier::NAME, false, first, after).await
    }
}

#[Object]
impl Query {
    /// The caller: credential name, scopes and practice.
    async fn viewer(&self, ctx: &Context<'_>) -> ApiResult<ViewerInfo> {
        let v = viewer(ctx)?;
        Ok(ViewerInfo {
            name: v.name.clone(),
            scopes: v.scopes.iter().map(|s| s.to_string()).collect(),
            practice: PracticeInfo::of(&v.practice),
        })
    }

    /// The caller's practice, with its sync status.
    async fn practice(&self, ctx: &Context<'_>) -> ApiResult<PracticeInfo> {
        Ok(PracticeInfo::of(&reader(ctx)?.practice))
    }

    /// Any object by its global id. An id that names nothing in the caller's practice
    /// (another practice's included) answers null with `NOT_FOUND`.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Node>> {
        reader(ctx)?;
        match node(ctx, &id).await? {
            Some(found) => Ok(Some(found)),
            None => Err(ApiError::not_found("object").into()),
        }
    }

    /// A patient by id.
    async fn patient(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Patient> {
        let uuid = decode_as(&id, "Patient")?;
        let v = viewer(ctx)?;
        if !v.has(Scope::Read) && !v.has(Scope::Context) {
            v.require(Scope::Read)?;
        }
        crate::views::patient_for_context(ctx, PatientId::from(uuid)).await
    }

    /// Patients: search by name, phone or chart number; filter by status, provider,
    /// location and last change. Ordered by last name.
    #[allow(clippy::too_many_arguments)]
    async fn patients(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Name, chart number, or phone digits.")] search: Option<String>,
        status: Option<Vec<enums::PatientStatus>>,
        #[graphql(desc = "Primary provider ids.")] provider: Option<Vec<ID>>,
        #[graphql(desc = "Location ids.")] location: Option<Vec<ID>>,
        #[graphql(desc = "Only patients a sync wrote at or after this instant.")] updated_since: Option<DateTime<Utc>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Patient>> {
        let filter = PatientFilter {
            search,
            statuses: statuses::<_, d::PatientStatus>(status),
            providers: ids("Provider", provider)?,
            locations: ids("Location", location)?,
            updated_since,
        };
        list(ctx, filter, tables::patient::LAST_NAME, false, first, after).await
    }

    /// Appointments in a time range, by provider, operatory, location, status. Ordered by
    /// start time.
    #[allow(clippy::too_many_arguments)]
    async fn appointments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Starting at or after (UTC).")] from: Option<DateTime<Utc>>,
        #[graphql(desc = "Starting before (UTC).")] to: Option<DateTime<Utc>>,
        #[graphql(desc = "Patient ids.")] patient: Option<Vec<ID>>,
        #[graphql(desc = "Provider ids (dentist or hygienist).")] provider: Option<Vec<ID>>,
        #[graphql(desc = "Operatory ids.")] operatory: Option<Vec<ID>>,
        #[graphql(desc = "Location ids.")] location: Option<Vec<ID>>,
        status: Option<Vec<enums::AppointmentStatus>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Appointment>> {
        if let (Some(f), Some(t)) = (from, to)
            && t < f
        {
            return Err(ApiError::bad_input("`to` is before `from`").into());
        }
        let filter = AppointmentFilter {
            starts_from: from,
            starts_before: to,
            patients: ids("Patient", patient)?,
            providers: ids("Provider", provider)?,
            operatories: ids("Operatory", operatory)?,
            locations: ids("Location", location)?,
            statuses: statuses::<_, d::AppointmentStatus>(status),
        };
        list(ctx, filter, tables::appointment::START_AT, false, first, after).await
    }

    /// Procedure codes: search by code or description. Ordered by code.
    async fn procedure_codes(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        #[graphql(desc = "Exact codes (`D0120`).")] code: Option<Vec<String>>,
        kind: Option<Vec<enums::ProcedureCodeKind>>,
        #[graphql(default = false)] include_hidden: bool,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<ProcedureCode>> {
        let filter = ProcedureCodeFilter {
            search,
            codes: code.unwrap_or_default(),
            kinds: statuses::<_, d::ProcedureCodeKind>(kind),
            include_hidden,
        };
        list(ctx, filter, tables::procedure_code::CODE, false, first, after).await
    }

    /// Procedures by patient, status and date. Newest first.
    async fn procedures(
        &self,
        ctx: &Context<'_>,
        patient: Option<Vec<ID>>,
        status: Option<Vec<enums::ProcedureStatus>>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Procedure>> {
        let filter = ProcedureFilter {
            patients: ids("Patient", patient)?,
            statuses: statuses::<_, d::ProcedureStatus>(status),
            from,
            to,
        };
        list(ctx, filter, tables::procedure::PERFORMED_ON, true, first, after).await
    }

    /// Claims by patient, status and service date. Newest first.
    async fn claims(
        &self,
        ctx: &Context<'_>,
        patient: Option<Vec<ID>>,
        status: Option<Vec<enums::ClaimStatus>>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Claim>> {
        let filter = ClaimFilter {
            patients: ids("Patient", patient)?,
            statuses: statuses::<_, d::ClaimStatus>(status),
            from,
            to,
        };
        list(ctx, filter, tables::claim::SERVICE_DATE, true, first, after).await
    }

    /// Payments by payer, kind and date. Newest first.
    async fn payments(
        &self,
        ctx: &Context<'_>,
        patient: Option<Vec<ID>>,
        kind: Option<Vec<enums::PaymentKind>>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<Conn<Payment>> {
        let filter =
            PaymentFilter { patients: ids("Patient", patient)?, kinds: statuses::<_, d::PaymentKind>(kind), from, to };
        list(ctx, filter, tables::payment::PAID_ON, true, first, after).await
    }

    /// A family by id.
    async fn family(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Family> {
        load(ctx, FamilyId::from(decode_as(&id, "Family")?)).await
    }

    /// The practice's A/R aging: every family's aging summed (payments applied to each
    /// family's oldest charges first).
    async fn ar_aging(&self, ctx: &Context<'_>, as_of: Option<NaiveDate>) -> ApiResult<PracticeAging> {
        let (aging, families) = crate::views::practice_aging(ctx, as_of).await?;
        Ok(PracticeAging { aging, families })
    }

    /// Write-backs of the practice, newest first, by state, kind and patient. Needs the
    /// `read`, `propose` or `approve` scope.
    async fn write_backs(
        &self,
        ctx: &Context<'_>,
        state: Option<Vec<crate::writeback::WriteBackState>>,
        kind: Option<Vec<crate::writeback::WriteBackKind>>,
        patient: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<crate::writeback::WriteBackConnection> {
        crate::writeback::list(ctx, state, kind, patient, first, after).await
    }

    /// One write-back, with its full history. Needs the `read`, `propose` or `approve` scope.
    async fn write_back(&self, ctx: &Context<'_>, id: ID) -> ApiResult<crate::writeback::WriteBack> {
        crate::writeback::one(ctx, id).await
    }

    /// Who saw which patients: one event per response that returned patient data, newest
    /// first, by time range, credential and patient. Needs the `admin` scope.
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<crate::phi::AuditEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> ApiResult<crate::phi::AuditEventConnection> {
        crate::phi::events(ctx, filter.unwrap_or_default(), first, after).await
    }

    /// The most recent sync runs, newest first.
    async fn sync_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 500))] first: i32,
    ) -> ApiResult<Vec<SyncRunInfo>> {
        let v = reader(ctx)?;
        let runs = ctx
            .data::<Store>()?
            .sync_runs(v.practice_id(), u64::try_from(first).unwrap_or(50))
            .await
            .map_err(ApiError::from)?;
        Ok(runs.into_iter().map(SyncRunInfo::from).collect())
    }
}
