//! The Open Dental adapter: the REST API (`/api/v1`) in Remote mode (100-row pages,
//! throttled per customer key) or Local / API Service mode (1,000-row pages).
//!
//! Requests carry `Authorization: ODFHIR {developer}/{customer}` and
//! `Content-Type: application/json`. One [`RateLimiter`] per client (one client per
//! customer key) spaces requests; 429s are retried after `Retry-After`, server errors,
//! timeouts and broken connections with jittered capped backoff.
//!
//! Write-backs ([`crate::PmsWriter`], in `write.rs`) send each write once, never retried.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use enamel_domain::{Batch, RawJson, SourceKey, SyncRow};
use futures::future::BoxFuture;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::digest::{Answer, read_answer};
use crate::limiter::{Backoff, RateLimiter};
use crate::{Deletions, Page, PageRequest, PmsClient, PmsError, Quarantined, StreamSpec};

mod map;
mod wire;
mod write;

pub(crate) use wire::to_utc;

/// Open Dental API mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OdMode {
    /// `api.opendental.com`: 100-row pages, throttled.
    Remote,
    /// Local API / API Service: 1,000-row pages, not throttled.
    Local,
}

/// How to reach one office.
#[derive(Clone)]
pub struct OdConfig {
    /// API root, e.g. `https://api.opendental.com/api/v1`.
    pub base_url: String,
    /// Developer key.
    pub developer_key: String,
    /// Customer key.
    pub customer_key: String,
    /// API mode.
    pub mode: OdMode,
    /// The office's time zone (Open Dental times carry none).
    pub time_zone: Tz,
    /// Spacing between requests (Remote: 1 s, or 5 s for a Read-All key; Local: none).
    pub min_interval: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retry policy for throttling, server errors and timeouts.
    pub backoff: Backoff,
}

impl std::fmt::Debug for OdConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OdConfig")
            .field("base_url", &self.base_url)
            .field("mode", &self.mode)
            .field("time_zone", &self.time_zone)
            .finish_non_exhaustive()
    }
}

impl OdConfig {
    /// Defaults for a mode: Remote spaces requests 1 s apart, Local not at all; 60 s
    /// timeout; up to 6 attempts with backoff from 500 ms to 30 s.
    pub fn new(
        base_url: impl Into<String>,
        developer_key: impl Into<String>,
        customer_key: impl Into<String>,
        mode: OdMode,
        time_zone: Tz,
    ) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            developer_key: developer_key.into(),
            customer_key: customer_key.into(),
            mode,
            time_zone,
            min_interval: if mode == OdMode::Remote { Duration::from_secs(1) } else { Duration::ZERO },
            timeout: Duration::from_secs(60),
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30), 6),
        }
    }

    fn page_size(&self) -> usize {
        match self.mode {
            OdMode::Remote => 100,
            OdMode::Local => 1000,
        }
    }
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);
const QUARTER: Duration = Duration::from_secs(15 * 60);
const FIVE: Duration = Duration::from_secs(5 * 60);
const TWO: Duration = Duration::from_secs(2 * 60);

/// The streams, in dependency order.
pub static STREAMS: &[StreamSpec] = &[
    spec("clinics", "location", &[], false, Deletions::Reconcile, HOUR),
    spec("definitions", "source_reference", &[], false, Deletions::Reconcile, HOUR),
    spec("covcats", "source_reference", &["definitions"], false, Deletions::Marked, HOUR),
    spec("feescheds", "fee_schedule", &[], false, Deletions::Reconcile, HOUR),
    spec("procedurecodes", "procedure_code", &["definitions"], true, Deletions::Marked, DAY),
    spec("providers", "provider", &["feescheds", "clinics"], true, Deletions::Marked, QUARTER),
    spec("operatories", "operatory", &["clinics", "providers"], false, Deletions::Reconcile, HOUR),
    spec("fees", "fee", &["feescheds", "procedurecodes", "clinics", "providers"], false, Deletions::Reconcile, DAY),
    spec("referrals", "referral_source", &[], false, Deletions::Marked, HOUR),
    spec("carriers", "insurance_carrier", &[], false, Deletions::Marked, HOUR),
    spec("insplans", "insurance_plan", &["carriers", "feescheds"], false, Deletions::Marked, QUARTER),
    spec("patients", "patient", &["providers", "clinics", "feescheds", "referrals"], true, Deletions::Marked, FIVE),
    spec("refattaches", "patient_referral", &["patients", "referrals"], true, Deletions::Reconcile, QUARTER),
    spec("inssubs", "insurance_subscriber", &["insplans", "patients"], true, Deletions::Reconcile, QUARTER),
    spec("patplans", "patient_plan", &["inssubs", "patients"], false, Deletions::Reconcile, QUARTER),
    spec("benefits", "benefit", &["insplans", "patplans", "procedurecodes"], false, Deletions::Reconcile, QUARTER),
    spec("appointments", "appointment", &["patients", "operatories"], true, Deletions::History, TWO),
    spec("histappointments", "appointment", &["appointments"], false, Deletions::Marked, TWO),
    spec("procedurelogs", "procedure", &["appointments", "procedurecodes"], true, Deletions::Marked, FIVE),
    spec("adjustments", "adjustment", &["patients", "procedurelogs"], false, Deletions::Reconcile, QUARTER),
    spec("treatplans", "treatment_plan", &["patients"], true, Deletions::Reconcile, QUARTER),
    spec(
        "treatplanattaches",
        "treatment_plan_item",
        &["treatplans", "procedurelogs"],
        false,
        Deletions::Reconcile,
        QUARTER,
    ),
    spec("proctps", "treatment_plan_item", &["treatplans", "procedurelogs"], false, Deletions::Reconcile, QUARTER),
    spec("claims", "claim", &["patients", "insplans", "inssubs", "providers"], true, Deletions::Reconcile, QUARTER),
    spec("claimprocs", "claim_procedure", &["claims", "procedurelogs"], false, Deletions::Reconcile, QUARTER),
    spec("payments", "payment", &["patients"], false, Deletions::Reconcile, FIVE),
    spec("paysplits", "payment_allocation", &["payments", "procedurelogs"], false, Deletions::Reconcile, FIVE),
    spec("commlogs", "commlog", &["patients"], true, Deletions::Reconcile, FIVE),
];

const fn spec(
    name: &'static str,
    entity: &'static str,
    depends_on: &'static [&'static str],
    incremental: bool,
    deletions: Deletions,
    every: Duration,
) -> StreamSpec {
    let key_prefix = match name.as_bytes() {
        b"definitions" => "definition:",
        b"covcats" => "covcat:",
        b"treatplanattaches" => "attach:",
        b"proctps" => "proctp:",
        _ => "",
    };
    let per_parent = match name.as_bytes() {
        b"adjustments" => Some(("patient", "PatNum")),
        b"treatplanattaches" | b"proctps" => Some(("treatment_plan", "TreatPlanNum")),
        _ => None,
    };
    StreamSpec { name, entity, key_prefix, depends_on, incremental, deletions, every, per_parent, paged_parents: false }
}

/// An Open Dental office.
#[derive(Debug)]
pub struct OdClient {
    http: reqwest::Client,
    config: OdConfig,
    limiter: RateLimiter,
    /// Pages parsed at once: one per core. More in flight would only hold more parsed
    /// trees in memory at the same time, not finish sooner.
    parsing: std::sync::Arc<tokio::sync::Semaphore>,
}

/// The path and change filter of a stream.
fn endpoint(stream: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match stream {
        "clinics" => ("clinics", None),
        "definitions" => ("definitions", None),
        "covcats" => ("covcats", None),
        "feescheds" => ("feescheds", None),
        "procedurecodes" => ("procedurecodes", Some("DateTStamp")),
        "providers" => ("providers", Some("DateTStamp")),
        "operatories" => ("operatories", None),
        "fees" => ("fees", None),
        "referrals" => ("referrals", None),
        "carriers" => ("carriers", None),
        "insplans" => ("insplans", None),
        "patients" => ("patients/Simple", Some("DateTStamp")),
        "refattaches" => ("refattaches", Some("DateTStamp")),
        "inssubs" => ("inssubs", Some("SecDateTEdit")),
        "patplans" => ("patplans", None),
        "benefits" => ("benefits", None),
        "appointments" => ("appointments", Some("DateTStamp")),
        "procedurelogs" => ("procedurelogs", Some("DateTStamp")),
        "treatplans" => ("treatplans", Some("SecDateTEdit")),
        "claims" => ("claims", Some("SecDateTEdit")),
        "claimprocs" => ("claimprocs", None),
        "payments" => ("payments", None),
        "paysplits" => ("paysplits", None),
        "commlogs" => ("commlogs", Some("DateTStamp")),
        "histappointments" => ("histappointments", None),
        "adjustments" => ("adjustments", None),
        "treatplanattaches" => ("treatplanattaches", None),
        "proctps" => ("proctps", None),
        _ => return None,
    })
}

impl OdClient {
    /// A client for one office (one customer key).
    pub fn new(config: OdConfig) -> Result<Self, PmsError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| PmsError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let parsing = std::sync::Arc::new(tokio::sync::Semaphore::new(cores));
        Ok(Self { http, limiter: RateLimiter::new(config.min_interval), config, parsing })
    }

    /// GETs a path under the API root, with throttling and retries.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, PmsError> {
        self.get_with(path, query, |bytes| serde_json::from_slice::<Value>(bytes)).await
    }

    /// GETs a path under the API root, reading the answer's bytes with `decode` (an answer
    /// it refuses is retried like one that is not JSON).
    async fn get_with<T, E: std::fmt::Display>(
        &self,
        path: &str,
        query: &[(&str, String)],
        decode: impl Fn(&[u8]) -> Result<T, E>,
    ) -> Result<T, PmsError> {
        let url = format!("{}/{path}", self.config.base_url);
        let auth = format!("ODFHIR {}/{}", self.config.developer_key, self.config.customer_key);
        crate::http::answer_with_retries(
            &self.limiter,
            &self.config.backoff,
            path,
            || {
                self.http
                    .get(&url)
                    .header("Authorization", &auth)
                    .header("Content-Type", "application/json")
                    .query(query)
            },
            decode,
        )
        .await
    }

    async fn fetch_page(&self, stream: &'static str, request: PageRequest) -> Result<Page, PmsError> {
        let (path, change_filter) = endpoint(stream).ok_or_else(|| PmsError::UnknownStream(stream.to_owned()))?;
        let limit = self.config.page_size();
        let mut query = vec![("Limit", limit.to_string()), ("Offset", request.offset.to_string())];
        if let (Some(param), Some(since)) = (change_filter, request.since) {
            query.push((param, since.format("%Y-%m-%d %H:%M:%S").to_string()));
        }
        if let (Some((_, param)), Some(parent)) =
            (STREAMS.iter().find(|s| s.name == stream).and_then(|s| s.per_parent), &request.parent)
        {
            query.push((param, parent.clone()));
        }
        if stream == "histappointments" {
            // Only deletions: the history of other changes adds nothing the appointments
            // stream does not already bring.
            query.push(("HistApptAction", "Deleted".to_owned()));
        }
        // The answer is read as text first, so that each row's raw payload is kept as sent
        // rather than rebuilt from a parsed tree, and digested: an answer with the digest
        // the caller knows maps to the rows it already has, and is not parsed at all.
        let salt = crate::digest::Salt {
            stream,
            limit,
            time_zone: self.config.time_zone.name(),
            base_url: &self.config.base_url,
        };
        let answer = self
            .get_with(path, &query, |bytes| {
                read_answer::<Box<RawValue>>(salt, bytes, Some("serverDateTime"), request.known)
            })
            .await?;
        let (digest, body) = match answer {
            Answer::Same { digest, volatile } => {
                let server_time = volatile.as_deref().and_then(parse_server_time);
                return Ok(Page {
                    batches: Vec::new(),
                    quarantined: Vec::new(),
                    deleted: Vec::new(),
                    fetched: 0,
                    keys: Vec::new(),
                    complete: false,
                    next_offset: request.offset,
                    server_time,
                    digest: Some(digest),
                    same_as_known: true,
                });
            }
            Answer::Body { digest, body } => (digest, body),
        };
        // Parsing and mapping the rows is CPU work: it runs off the async threads, so that
        // the next page's request and the previous unit's write go on meanwhile.
        let tz = self.config.time_zone;
        let offset = request.offset;
        let failed = |e: &dyn std::fmt::Display| PmsError::Protocol(format!("{path}: reading the page failed: {e}"));
        let permit = self.parsing.clone().acquire_owned().await.map_err(|e| failed(&e))?;
        let mut page = tokio::task::spawn_blocking(move || {
            let page = read_page(stream, path, &body, offset, limit, tz);
            drop(permit);
            page
        })
        .await
        .map_err(|e| failed(&e))??;
        page.digest = Some(digest);
        Ok(page)
    }
}

/// Parses and maps one page of rows (`limit` asked from `offset`).
fn read_page(
    stream: &'static str,
    path: &str,
    body: &RawValue,
    offset: usize,
    limit: usize,
    tz: Tz,
) -> Result<Page, PmsError> {
    let Ok(texts) = serde_json::from_str::<Vec<&RawValue>>(body.get()) else {
        let other: Value = serde_json::from_str(body.get()).unwrap_or(Value::Null);
        return Err(PmsError::Protocol(format!("{path}: expected a JSON array, got {}", short(&other))));
    };
    let rows = texts
        .iter()
        .map(|text| serde_json::from_str::<Value>(text.get()))
        .collect::<Result<Vec<Value>, _>>()
        .map_err(|e| PmsError::Protocol(format!("{path}: {e}")))?;
    let server_time =
        rows.iter().find_map(|r| r.get("serverDateTime").and_then(Value::as_str)).and_then(parse_server_time);
    let pk = pk_of(stream);
    let keys = rows
        .iter()
        .filter_map(|r| r.get(pk))
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .map(|k| match stream {
            "definitions" => format!("definition:{k}"),
            "covcats" => format!("covcat:{k}"),
            "treatplanattaches" => format!("attach:{k}"),
            "proctps" => format!("proctp:{k}"),
            _ => k,
        })
        .collect();
    let mut page = Page {
        batches: Vec::new(),
        quarantined: Vec::new(),
        deleted: Vec::new(),
        fetched: rows.len(),
        keys,
        complete: rows.len() < limit,
        next_offset: offset + rows.len(),
        server_time,
        digest: None,
        same_as_known: false,
    };
    map_rows(stream, &rows, &texts, tz, &mut page);
    Ok(page)
}

/// Open Dental's `serverDateTime` (the office's clock, no zone).
fn parse_server_time(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    s.chars().take(80).collect()
}

fn pk_of(stream: &str) -> &'static str {
    match stream {
        "clinics" => "ClinicNum",
        "definitions" => "DefNum",
        "covcats" => "CovCatNum",
        "feescheds" => "FeeSchedNum",
        "procedurecodes" => "CodeNum",
        "providers" => "ProvNum",
        "operatories" => "OperatoryNum",
        "fees" => "FeeNum",
        "referrals" => "ReferralNum",
        "carriers" => "CarrierNum",
        "insplans" => "PlanNum",
        "patients" => "PatNum",
        "refattaches" => "RefAttachNum",
        "inssubs" => "InsSubNum",
        "patplans" => "PatPlanNum",
        "benefits" => "BenefitNum",
        "appointments" => "AptNum",
        "treatplans" => "TreatPlanNum",
        "claims" => "ClaimNum",
        "claimprocs" => "ClaimProcNum",
        "payments" => "PayNum",
        "paysplits" => "SplitNum",
        "commlogs" => "CommlogNum",
        "histappointments" => "AptNum",
        "adjustments" => "AdjNum",
        "treatplanattaches" => "TreatPlanAttachNum",
        "proctps" => "ProcTPNum",
        _ => "ProcNum",
    }
}

/// Maps a page's rows (parsed, and their text as sent) into batches; a row that does not map
/// is quarantined with its reason.
fn map_rows(stream: &'static str, rows: &[Value], texts: &[&RawValue], tz: Tz, page: &mut Page) {
    let raw = |i: usize| texts.get(i).map(|t| RawJson::from_text(t.get()));
    let mut quarantine = |row: &Value, reason: String| {
        let source_id = row.get(pk_of(stream)).map(|v| v.to_string().trim_matches('"').to_owned());
        page.quarantined.push(Quarantined { stream, source_id, reason, payload: row.clone() });
    };
    macro_rules! simple {
        ($variant:ident, $f:path) => {{
            let mut out = Vec::with_capacity(rows.len());
            for (i, r) in rows.iter().enumerate() {
                match $f(r, tz) {
                    Ok(mapped) => out.push(SyncRow { raw: raw(i), ..mapped }),
                    Err(reason) => quarantine(r, reason),
                }
            }
            vec![Batch::$variant(out)]
        }};
    }
    let batches = match stream {
        "clinics" => simple!(Locations, map::clinic),
        "definitions" => simple!(SourceReferences, map::definition),
        "feescheds" => simple!(FeeSchedules, map::fee_schedule),
        "procedurecodes" => simple!(ProcedureCodes, map::procedure_code),
        "providers" => simple!(Providers, map::provider),
        "operatories" => simple!(Operatories, map::operatory),
        "procedurelogs" => simple!(Procedures, map::procedure),
        "covcats" => simple!(SourceReferences, map::covcat),
        "fees" => simple!(Fees, map::fee),
        "referrals" => simple!(ReferralSources, map::referral),
        "refattaches" => simple!(PatientReferrals, map::refattach),
        "carriers" => simple!(InsuranceCarriers, map::carrier),
        "insplans" => simple!(InsurancePlans, map::insplan),
        "inssubs" => simple!(InsuranceSubscribers, map::inssub),
        "patplans" => simple!(PatientPlans, map::patplan),
        "benefits" => simple!(Benefits, map::benefit),
        "claims" => simple!(Claims, map::claim),
        "claimprocs" => simple!(ClaimProcedures, map::claimproc),
        "payments" => simple!(Payments, map::payment),
        "paysplits" => simple!(PaymentAllocations, map::paysplit),
        "commlogs" => simple!(Commlogs, map::commlog),
        "treatplans" => simple!(TreatmentPlans, map::treatplan),
        "adjustments" => simple!(Adjustments, map::adjustment),
        "treatplanattaches" => simple!(TreatmentPlanItems, map::treatplanattach),
        "proctps" => simple!(TreatmentPlanItems, map::proctp),
        "histappointments" => {
            for r in rows {
                match r.get("AptNum").map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)) {
                    Some(key) if key.parse::<i64>().is_ok_and(|n| n > 0) => page.deleted.push(("appointment", key)),
                    _ => quarantine(r, "AptNum is missing or not a key".into()),
                }
            }
            Vec::new()
        }
        "patients" => {
            let mut families = Vec::new();
            let mut seen: BTreeSet<SourceKey> = BTreeSet::new();
            let mut patients = Vec::with_capacity(rows.len());
            for (i, r) in rows.iter().enumerate() {
                match map::patient(r, tz) {
                    Ok((family, patient)) => {
                        if seen.insert(family.source_id.clone()) {
                            families.push(family);
                        }
                        patients.push(SyncRow { raw: raw(i), ..patient });
                    }
                    Err(reason) => quarantine(r, reason),
                }
            }
            vec![Batch::Families(families), Batch::Patients(patients)]
        }
        "appointments" => {
            let mut appointments = Vec::with_capacity(rows.len());
            let mut check_ins = Vec::new();
            for (i, r) in rows.iter().enumerate() {
                match map::appointment(r, tz) {
                    Ok((appointment, check_in)) => {
                        appointments.push(SyncRow { raw: raw(i), ..appointment });
                        check_ins.extend(check_in);
                    }
                    Err(reason) => quarantine(r, reason),
                }
            }
            vec![Batch::Appointments(appointments), Batch::CheckIns(check_ins)]
        }
        _ => Vec::new(),
    };
    page.batches = batches;
}

impl PmsClient for OdClient {
    fn streams(&self) -> &'static [StreamSpec] {
        STREAMS
    }

    fn fetch<'a>(&'a self, stream: &'a str, request: PageRequest) -> BoxFuture<'a, Result<Page, PmsError>> {
        Box::pin(async move { self.fetch_page(crate::find_stream(STREAMS, stream)?.name, request).await })
    }
}
