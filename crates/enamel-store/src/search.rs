//! Filtered, ordered, paged lists of one table: what the GraphQL query roots read
//! (`patients`, `appointments`, `claims`…). Each filter is a typed struct that becomes one
//! SQL condition; a page is one statement and its total count another.

use chrono::{DateTime, NaiveDate, Utc};
use enamel_domain::enums::{
    AppointmentStatus, ClaimStatus, PatientStatus, PaymentKind, ProcedureCodeKind, ProcedureStatus,
};
use enamel_domain::ids::*;
use enamel_domain::{PracticeId, Stored};
use sea_orm::sea_query::{Alias, Cond, Condition, Expr, Func, NullOrdering, Order, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait};

use crate::sql::uuid_in;
use crate::table::Sort;
use crate::{Result, Table};

/// A typed filter on the rows of one table.
pub trait Filter: Send + Sync {
    /// The table filtered.
    type Table: Table;

    /// The condition, on top of "this practice, not deleted".
    fn condition(&self, backend: DbBackend) -> Condition;
}

/// One page of a list: skip `offset` rows, then at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct ListPage<T> {
    /// The order (ties broken by id, in the same direction).
    pub sort: Sort<T>,
    /// Largest first.
    pub descending: bool,
    /// Rows skipped.
    pub offset: u64,
    /// Rows returned at most.
    pub limit: u64,
}

fn col(name: &str) -> Expr {
    Expr::col(Alias::new(name))
}

/// `column` contains `needle`, ignoring ASCII case.
fn contains(column: &str, needle: &str) -> SimpleExpr {
    let pattern = format!("%{}%", escape_like(&needle.to_lowercase()));
    Expr::expr(Func::lower(col(column))).like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\'))
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// `column`'s digits contain `digits` (phones are stored as the PMS formats them).
fn digits_contain(column: &str, digits: &str) -> SimpleExpr {
    let stripped = ["(", ")", "-", " ", ".", "+"]
        .iter()
        .fold(format!("COALESCE(\"{column}\", '')"), |acc, ch| format!("REPLACE({acc}, '{ch}', '')"));
    Expr::cust_with_values(format!("{stripped} LIKE ?"), [format!("%{digits}%")])
}

fn strings<T: AsRef<str>>(values: &[T]) -> Vec<String> {
    values.iter().map(|v| v.as_ref().to_owned()).collect()
}

fn ids_in<I: enamel_domain::EntityId>(backend: DbBackend, column: &str, ids: &[I]) -> SimpleExpr {
    uuid_in(backend, Alias::new(column), ids.iter().map(|i| i.uuid()))
}

/// Patients: free-text search and facets.
#[derive(Debug, Clone, Default)]
pub struct PatientFilter {
    /// Matches first, last, preferred name or chart number (case-insensitive substring),
    /// or, when it has 3 or more digits, any phone number's digits.
    pub search: Option<String>,
    /// Any of these statuses.
    pub statuses: Vec<PatientStatus>,
    /// Primary provider is one of these.
    pub providers: Vec<ProviderId>,
    /// Home location is one of these.
    pub locations: Vec<LocationId>,
    /// Written by a sync at or after this instant.
    pub updated_since: Option<DateTime<Utc>>,
}

impl Filter for PatientFilter {
    type Table = PatientId;

    fn condition(&self, backend: DbBackend) -> Condition {
        let mut cond = Cond::all();
        if let Some(text) = self.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let mut any = Cond::any();
            for term_col in ["first_name", "last_name", "preferred_name", "chart_number"] {
                any = any.add(contains(term_col, text));
            }
            // "Ana Smith": every word must match some name column.
            let words: Vec<&str> = text.split_whitespace().collect();
            if words.len() > 1 {
                let mut all = Cond::all();
                for w in &words {
                    all = all.add(Cond::any().add(contains("first_name", w)).add(contains("last_name", w)));
                }
                any = any.add(all);
            }
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 3 && text.chars().all(|c| c.is_ascii_digit() || "()-+. ".contains(c)) {
                for phone in ["phone_home", "phone_work", "phone_mobile"] {
                    any = any.add(digits_contain(phone, &digits));
                }
            }
            cond = cond.add(any);
        }
        if !self.statuses.is_empty() {
            cond = cond.add(col("status").is_in(strings(&self.statuses)));
        }
        if !self.providers.is_empty() {
            cond = cond.add(ids_in(backend, "primary_provider_id", &self.providers));
        }
        if !self.locations.is_empty() {
            cond = cond.add(ids_in(backend, "location_id", &self.locations));
        }
        if let Some(since) = self.updated_since {
            cond = cond.add(col("synced_at").gte(since));
        }
        cond
    }
}

/// Appointments: a time range and facets.
#[derive(Debug, Clone, Default)]
pub struct AppointmentFilter {
    /// Starting at or after.
    pub starts_from: Option<DateTime<Utc>>,
    /// Starting before.
    pub starts_before: Option<DateTime<Utc>>,
    /// Any of these patients.
    pub patients: Vec<PatientId>,
    /// Dentist or hygienist is one of these.
    pub providers: Vec<ProviderId>,
    /// Any of these operatories.
    pub operatories: Vec<OperatoryId>,
    /// Any of these locations.
    pub locations: Vec<LocationId>,
    /// Any of these statuses.
    pub statuses: Vec<AppointmentStatus>,
}

impl Filter for AppointmentFilter {
    type Table = AppointmentId;

    fn condition(&self, backend: DbBackend) -> Condition {
        let mut cond = Cond::all();
        if let Some(from) = self.starts_from {
            cond = cond.add(col("start_at").gte(from));
        }
        if let Some(before) = self.starts_before {
            cond = cond.add(col("start_at").lt(before));
        }
        if !self.patients.is_empty() {
            cond = cond.add(ids_in(backend, "patient_id", &self.patients));
        }
        if !self.providers.is_empty() {
            cond = cond.add(Cond::any().add(ids_in(backend, "provider_id", &self.providers)).add(ids_in(
                backend,
                "hygienist_id",
                &self.providers,
            )));
        }
        if !self.operatories.is_empty() {
            cond = cond.add(ids_in(backend, "operatory_id", &self.operatories));
        }
        if !self.locations.is_empty() {
            cond = cond.add(ids_in(backend, "location_id", &self.locations));
        }
        if !self.statuses.is_empty() {
            cond = cond.add(col("status").is_in(strings(&self.statuses)));
        }
        cond
    }
}

/// Procedure codes: search and kind.
#[derive(Debug, Clone, Default)]
pub struct ProcedureCodeFilter {
    /// Matches the code, description or abbreviation (case-insensitive substring).
    pub search: Option<String>,
    /// Exactly these codes (`D0120`).
    pub codes: Vec<String>,
    /// CDT or service.
    pub kinds: Vec<ProcedureCodeKind>,
    /// Include codes hidden in the PMS.
    pub include_hidden: bool,
}

impl Filter for ProcedureCodeFilter {
    type Table = ProcedureCodeId;

    fn condition(&self, _backend: DbBackend) -> Condition {
        let mut cond = Cond::all();
        if let Some(text) = self.search.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            cond = cond.add(
                Cond::any()
                    .add(contains("code", text))
                    .add(contains("description", text))
                    .add(contains("abbreviation", text)),
            );
        }
        if !self.codes.is_empty() {
            cond = cond.add(col("code").is_in(self.codes.clone()));
        }
        if !self.kinds.is_empty() {
            cond = cond.add(col("kind").is_in(strings(&self.kinds)));
        }
        if !self.include_hidden {
            cond = cond.add(col("is_hidden").eq(false));
        }
        cond
    }
}

/// Rows of any of `patients` (all when empty) whose `column` holds one of `values` (any
/// when empty), dated within `from..=to` in `date_column`: the shape of the procedure,
/// claim and payment filters.
fn patient_value_dates(
    backend: DbBackend,
    patients: &[PatientId],
    (column, values): (&str, Vec<String>),
    (date_column, from, to): (&str, Option<NaiveDate>, Option<NaiveDate>),
) -> Condition {
    let mut cond = Cond::all();
    if !patients.is_empty() {
        cond = cond.add(ids_in(backend, "patient_id", patients));
    }
    if !values.is_empty() {
        cond = cond.add(col(column).is_in(values));
    }
    if let Some(from) = from {
        cond = cond.add(col(date_column).gte(from));
    }
    if let Some(to) = to {
        cond = cond.add(col(date_column).lte(to));
    }
    cond
}

/// Procedures: patient, status and date range.
#[derive(Debug, Clone, Default)]
pub struct ProcedureFilter {
    /// Any of these patients.
    pub patients: Vec<PatientId>,
    /// Any of these statuses.
    pub statuses: Vec<ProcedureStatus>,
    /// Performed on or after.
    pub from: Option<NaiveDate>,
    /// Performed on or before.
    pub to: Option<NaiveDate>,
}

impl Filter for ProcedureFilter {
    type Table = ProcedureId;

    fn condition(&self, backend: DbBackend) -> Condition {
        patient_value_dates(
            backend,
            &self.patients,
            ("status", strings(&self.statuses)),
            ("performed_on", self.from, self.to),
        )
    }
}

/// Claims: patient, status and service dates.
#[derive(Debug, Clone, Default)]
pub struct ClaimFilter {
    /// Any of these patients.
    pub patients: Vec<PatientId>,
    /// Any of these statuses.
    pub statuses: Vec<ClaimStatus>,
    /// Service on or after.
    pub from: Option<NaiveDate>,
    /// Service on or before.
    pub to: Option<NaiveDate>,
}

impl Filter for ClaimFilter {
    type Table = ClaimId;

    fn condition(&self, backend: DbBackend) -> Condition {
        patient_value_dates(
            backend,
            &self.patients,
            ("status", strings(&self.statuses)),
            ("service_date", self.from, self.to),
        )
    }
}

/// Payments: payer, kind and dates.
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    /// Any of these paying patients.
    pub patients: Vec<PatientId>,
    /// Any of these kinds.
    pub kinds: Vec<PaymentKind>,
    /// Paid on or after.
    pub from: Option<NaiveDate>,
    /// Paid on or before.
    pub to: Option<NaiveDate>,
}

impl Filter for PaymentFilter {
    type Table = PaymentId;

    fn condition(&self, backend: DbBackend) -> Condition {
        patient_value_dates(backend, &self.patients, ("kind", strings(&self.kinds)), ("paid_on", self.from, self.to))
    }
}

/// Every live row of a table (small tables: locations, providers, operatories…).
#[derive(Debug, Clone, Copy, Default)]
pub struct All<T>(std::marker::PhantomData<fn() -> T>);

impl<T> All<T> {
    /// No condition.
    pub fn rows() -> Self {
        All(std::marker::PhantomData)
    }
}

impl<T: Table> Filter for All<T> {
    type Table = T;

    fn condition(&self, _backend: DbBackend) -> Condition {
        Cond::all()
    }
}

fn scoped<F: Filter>(backend: DbBackend, practice: PracticeId, filter: &F) -> Condition {
    Cond::all()
        .add(col("practice_id").eq(practice.uuid()))
        .add(col("deleted_at").is_null())
        .add(filter.condition(backend))
}

/// One page of the live rows matching `filter`, in `page` order. One statement.
pub(crate) async fn list<F: Filter, C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    filter: &F,
    page: ListPage<F::Table>,
) -> Result<Vec<Stored<<F::Table as crate::table::sealed::TableDef>::Record>>> {
    let backend = db.get_database_backend();
    let dir = if page.descending { Order::Desc } else { Order::Asc };
    let mut query = Query::select();
    query
        .column(sea_orm::sea_query::Asterisk)
        .from(Alias::new(<F::Table as crate::table::sealed::TableDef>::TABLE))
        .cond_where(scoped(backend, practice, filter));
    // Rows without a value sort last either way. PostgreSQL says so directly, which keeps
    // the `(practice_id, column)` index usable (ascending is its native order: a sort key
    // `(column IS NULL)` made it sort the whole table for every page); SQLite needs the key.
    if backend == DbBackend::Postgres {
        query.order_by_with_nulls(Alias::new(page.sort.column), dir.clone(), NullOrdering::Last);
    } else {
        query
            .order_by_expr(Expr::cust(format!("(\"{}\" IS NULL)", page.sort.column)), Order::Asc)
            .order_by(Alias::new(page.sort.column), dir.clone());
    }
    let stmt = query.order_by(Alias::new("id"), dir).limit(page.limit).offset(page.offset).to_owned();
    let models =
        <F::Table as crate::table::sealed::TableDef>::Entity::find().from_raw_sql(backend.build(&stmt)).all(db).await?;
    models.into_iter().map(<F::Table as crate::table::sealed::TableDef>::stored).collect()
}

/// How many live rows match `filter`. One statement.
pub(crate) async fn count<F: Filter, C: ConnectionTrait>(db: &C, practice: PracticeId, filter: &F) -> Result<u64> {
    let backend = db.get_database_backend();
    let stmt = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
        .from(Alias::new(<F::Table as crate::table::sealed::TableDef>::TABLE))
        .cond_where(scoped(backend, practice, filter))
        .to_owned();
    let row = db.query_one(backend.build(&stmt)).await?;
    let n: i64 = match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
