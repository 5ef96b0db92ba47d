//! The TDental adapter: `https://<tenant>.tdental.vn/api/…` as the reference README
//! (`shared/reference/tdental/README.md`) records it.
//!
//! - Login `POST /api/Account/Login` answers 200 even when it fails (`succeeded:false` and a
//!   reason); the JWT lives 7 days. The client refreshes it a day before it expires
//!   (`/api/Account/Refresh`, falling back to a new login) and logs in again once on a 401.
//! - Lists answer `{offset, limit, totalItems, items, aggregates}`; `limit` is always sent
//!   (endpoint defaults differ: 0 = everything, 1, 20); a short page is the last (the
//!   `totalItems` of some lists is wrong). `/api/DotKhamSteps` is a bare array of the whole
//!   table: read once per pass and served a page at a time from that answer.
//! - No change stamps: an incremental pass re-reads a rolling business-date window around
//!   the PMS's clock (default 30 days back, 90 ahead), with both bounds where the API
//!   requires a pair; a full pass (the sync engine's periodic sweep) reads everything and
//!   infers deletions.
//! - List rows lack some foreign keys: lists without `companyId` are read branch by branch
//!   (the engine walks the stored branches), account payments and customers get their
//!   `/{id}` details, fetched a bounded number at a time; such a page's digest covers the
//!   list's answer and every detail, so an unchanged page is neither parsed nor mapped.
//! - Times are Vietnam local (UTC+7) except the customer's registration `date` (UTC).
//! - Write-backs ([`crate::PmsWriter`], in `write.rs`): README §5's appointment and customer
//!   writes, each sent once (a 401 logs in again and resends: nothing was processed).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use enamel_domain::Batch;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::digest::{Answer, read_answer};
use crate::limiter::{Backoff, RateLimiter};
use crate::{Deletions, Page, PageRequest, PmsClient, PmsError, Quarantined, StreamSpec};

mod map;
mod wire;
mod write;

use map::{CATEGORY, COMMISSION, GROUP, ORDER, QUOTE, ROLE, TITLE, USER};
use wire::Row;

/// The tenant's clock: Vietnam local time now. Tests set it to a simulator's clock.
pub type Clock = Arc<dyn Fn() -> NaiveDateTime + Send + Sync>;

/// How to reach one tenant.
#[derive(Clone)]
pub struct TdConfig {
    /// Site root, e.g. `https://tamdentist.tdental.vn`.
    pub base_url: String,
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// The tenant's time zone (Asia/Ho_Chi_Minh).
    pub time_zone: Tz,
    /// Rows per list page.
    pub page_size: usize,
    /// Detail requests in flight at once.
    pub detail_concurrency: usize,
    /// Days before the PMS clock an incremental pass re-reads.
    pub window_back_days: i64,
    /// Days after the PMS clock an incremental pass re-reads (future appointments change).
    pub window_ahead_days: i64,
    /// Fetch each customer's profile (`/api/Partners/{id}`: note, medical history, id number).
    pub partner_details: bool,
    /// Spacing between requests (TDental does not throttle; integrators keep ~2–3 req/s).
    pub min_interval: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retry policy for server errors and timeouts.
    pub backoff: Backoff,
    /// The tenant's clock.
    pub clock: Clock,
}

impl std::fmt::Debug for TdConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TdConfig")
            .field("base_url", &self.base_url)
            .field("page_size", &self.page_size)
            .field("window_back_days", &self.window_back_days)
            .field("window_ahead_days", &self.window_ahead_days)
            .finish_non_exhaustive()
    }
}

impl TdConfig {
    /// Defaults: 200-row pages, 16 details at a time, a window of 30 days back and 90
    /// ahead, customer profiles on, no spacing, 60 s timeout, up to 5 attempts with backoff
    /// from 500 ms to 20 s, the wall clock in Vietnam.
    pub fn new(base_url: impl Into<String>, username: impl Into<String>, password: impl Into<String>) -> Self {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            username: username.into(),
            password: password.into(),
            time_zone: tz,
            page_size: 200,
            detail_concurrency: 16,
            window_back_days: 30,
            window_ahead_days: 90,
            partner_details: true,
            min_interval: Duration::ZERO,
            timeout: Duration::from_secs(60),
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(20), 5),
            clock: Arc::new(move || chrono::Utc::now().with_timezone(&tz).naive_local()),
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
    spec("companies", "location", "", &[], HOUR),
    spec("productcategories", "source_reference", CATEGORY, &[], DAY),
    spec("products", "procedure_code", "", &["companies", "productcategories"], DAY),
    spec("partnertitles", "source_reference", TITLE, &[], DAY),
    spec("partnersources", "referral_source", "", &[], HOUR),
    spec("partnercategories", "patient_tag", "", &[], HOUR),
    spec("applicationroles", "source_reference", ROLE, &[], DAY),
    spec("resgroups", "source_reference", GROUP, &[], DAY),
    spec("commissions", "source_reference", COMMISSION, &["companies"], DAY),
    spec("applicationusers", "source_reference", USER, &["companies"], HOUR),
    spec("employees", "provider", "", &["companies"], QUARTER),
    spec("partners", "patient", "", &["companies", "partnersources", "partnercategories"], FIVE),
    spec("quotations", "treatment_plan", QUOTE, &["partners", "employees"], QUARTER),
    spec("appointments", "appointment", "", &["partners", "employees", "companies"], TWO),
    spec("customerreceipts", "check_in", "", &["partners", "employees", "companies", "appointments"], TWO),
    spec("saleorders", "treatment_plan", ORDER, &["partners", "employees", "companies"], FIVE),
    spec("saleorderlines", "procedure", "", &["saleorders", "products", "employees"], FIVE),
    spec("dotkhams", "visit", "", &["saleorders", "partners", "employees", "appointments"], FIVE),
    spec("dotkhamsteps", "visit_step", "", &["saleorderlines", "dotkhams"], HOUR),
    spec("accountpayments", "payment", "", &["partners", "companies"], FIVE),
    spec("saleorderpayments", "payment_allocation", "", &["accountpayments", "saleorders", "saleorderlines"], QUARTER),
    spec("stockpickings", "stock_picking", "", &["companies"], HOUR),
    spec("stockmoves", "stock_move", "", &["stockpickings", "products"], HOUR),
];

const fn spec(
    name: &'static str,
    entity: &'static str,
    key_prefix: &'static str,
    depends_on: &'static [&'static str],
    every: Duration,
) -> StreamSpec {
    let endpoint = endpoint(name);
    let per_company = endpoint.per_company;
    StreamSpec {
        name,
        entity,
        key_prefix,
        depends_on,
        incremental: endpoint.window.is_some(),
        deletions: Deletions::Reconcile,
        every,
        per_parent: if per_company { Some(("location", "companyId")) } else { None },
        paged_parents: per_company,
    }
}

/// A business-date window: (from parameter, to parameter, both bounds required).
#[derive(Debug, Clone, Copy)]
struct Window {
    from: &'static str,
    to: &'static str,
    paired: bool,
}

/// How a stream is read.
#[derive(Debug, Clone, Copy)]
struct Endpoint {
    /// List path below `/api/`.
    path: &'static str,
    /// Extra fixed query parameters.
    fixed: &'static [(&'static str, &'static str)],
    /// The business-date window, if the list has one.
    window: Option<Window>,
    /// The list rows lack `companyId`: read branch by branch.
    per_company: bool,
    /// Each row's `/{id}` detail is merged into it (path below `/api/`).
    detail: Option<&'static str>,
    /// The answer is a bare array of the whole table.
    bare: bool,
}

const fn plain(path: &'static str) -> Endpoint {
    Endpoint { path, fixed: &[], window: None, per_company: false, detail: None, bare: false }
}

const fn windowed(path: &'static str, from: &'static str, to: &'static str, paired: bool) -> Endpoint {
    Endpoint { window: Some(Window { from, to, paired }), ..plain(path) }
}

const fn endpoint(stream: &str) -> Endpoint {
    match stream.as_bytes() {
        b"companies" => plain("Companies"),
        b"productcategories" => plain("productcategories"),
        b"products" => plain("Products"),
        b"partnertitles" => plain("PartnerTitles"),
        b"partnersources" => plain("PartnerSources"),
        b"partnercategories" => plain("PartnerCategories"),
        b"applicationroles" => plain("ApplicationRoles"),
        b"resgroups" => plain("ResGroups"),
        b"commissions" => plain("Commissions"),
        b"applicationusers" => plain("ApplicationUsers"),
        b"employees" => plain("Employees"),
        b"partners" => Endpoint {
            fixed: &[("searchType", "All")],
            detail: Some("Partners"),
            ..windowed("Partners/GetPagedPartnersCustomer", "dateFrom", "dateTo", false)
        },
        b"quotations" => windowed("Quotations/GetPagedV2", "dateFrom", "dateTo", false),
        b"appointments" => windowed("Appointments", "dateTimeFrom", "dateTimeTo", true),
        b"customerreceipts" => {
            Endpoint { per_company: true, ..windowed("CustomerReceipts", "dateFrom", "dateTo", true) }
        }
        b"saleorders" => {
            Endpoint { per_company: true, ..windowed("SaleOrders", "dateOrderFrom", "dateOrderTo", false) }
        }
        b"saleorderlines" => Endpoint { per_company: true, ..windowed("SaleOrderLines", "dateFrom", "dateTo", false) },
        b"dotkhams" => Endpoint { per_company: true, ..windowed("DotKhams", "dateFrom", "dateTo", false) },
        b"dotkhamsteps" => Endpoint { bare: true, ..plain("DotKhamSteps") },
        b"accountpayments" => Endpoint {
            detail: Some("AccountPayments"),
            ..windowed("AccountPayments", "paymentDateFrom", "paymentDateTo", false)
        },
        b"saleorderpayments" => plain("SaleOrderPayments"),
        b"stockpickings" => windowed("StockPickings", "dateFrom", "dateTo", false),
        b"stockmoves" => plain("StockMoves"),
        _ => plain(""),
    }
}

/// A login: the bearer token and when it expires (Unix seconds), and the refresh token.
#[derive(Clone)]
struct Session {
    token: String,
    refresh: Option<String>,
    expires: i64,
}

/// A TDental tenant.
pub struct TdClient {
    http: reqwest::Client,
    config: TdConfig,
    limiter: RateLimiter,
    session: Mutex<Option<Session>>,
    /// The bare array being paged through (see [`Snapshot`]).
    snapshot: Mutex<Option<Arc<Snapshot>>>,
}

/// A bare array (the whole data set in one answer: 64,000 visit steps) as read at the start
/// of a pass, served a page of [`ROWS_AT_ONCE`] rows at a time so that a unit holds its
/// pages' rows, not the data set's. A pass asks for its first page alone, which reads the
/// array again; later pages are slices of that answer (a pass resumed in another process
/// reads it again, as offset paging over a changing list would). Dropped after the last page.
struct Snapshot {
    path: &'static str,
    body: Box<RawValue>,
    /// Each row's bytes in `body`.
    rows: Vec<std::ops::Range<usize>>,
}

impl std::fmt::Debug for TdClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TdClient").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Renew a token this long before it expires.
const RENEW_BEFORE: i64 = 86_400;

impl TdClient {
    /// A client for one tenant (one login).
    pub fn new(config: TdConfig) -> Result<Self, PmsError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| PmsError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            limiter: RateLimiter::new(config.min_interval),
            config,
            session: Mutex::new(None),
            snapshot: Mutex::new(None),
        })
    }

    /// The tenant clock as Unix seconds.
    fn now_unix(&self) -> i64 {
        let local = (self.config.clock)();
        crate::opendental::to_utc(self.config.time_zone, local).timestamp()
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/{path}", self.config.base_url)
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, PmsError> {
        let url = self.url(path);
        crate::http::json_with_retries(&self.limiter, &self.config.backoff, path, || self.http.post(&url).json(&body))
            .await
    }

    /// Logs in (`succeeded:false` is a refusal with the PMS's reason).
    async fn login(&self) -> Result<Session, PmsError> {
        let body = json!({ "userName": self.config.username, "password": self.config.password, "rememberMe": false });
        let answer = self.post("Account/Login", body).await?;
        if answer.get("succeeded").and_then(Value::as_bool) != Some(true) {
            let message = answer.get("message").and_then(Value::as_str).unwrap_or("no reason given").to_owned();
            if answer.get("requiresTwoFactor").and_then(Value::as_bool) == Some(true) {
                return Err(PmsError::LoginFailed { message: "the account requires two-factor authentication".into() });
            }
            return Err(PmsError::LoginFailed { message });
        }
        let token = answer
            .get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| PmsError::Protocol("the login succeeded without a token".into()))?
            .to_owned();
        let refresh = answer.get("refreshToken").and_then(Value::as_str).map(str::to_owned);
        tracing::info!(base_url = %self.config.base_url, "logged in to TDental");
        let expires = self.expiry(&token).unwrap_or_else(|| self.now_unix() + RENEW_BEFORE * 2);
        Ok(Session { expires, token, refresh })
    }

    /// When a token just received expires by our clock: its lifetime (`exp − iat`) from now,
    /// so that a PMS clock set differently from ours neither expires it early nor late.
    fn expiry(&self, token: &str) -> Option<i64> {
        let (exp, iat) = jwt_times(token)?;
        Some(match iat {
            Some(iat) if exp > iat => self.now_unix() + (exp - iat),
            _ => exp,
        })
    }

    /// Trades the refresh token for a new access token.
    async fn refresh(&self, session: &Session) -> Option<Session> {
        let refresh = session.refresh.clone()?;
        let answer = self.post("Account/Refresh", json!({ "refreshToken": refresh })).await.ok()?;
        let token = answer.get("accessToken").and_then(Value::as_str).filter(|t| !t.is_empty())?.to_owned();
        let refresh = answer.get("refreshToken").and_then(Value::as_str).map(str::to_owned).or(Some(refresh));
        let expires = self.expiry(&token)?;
        (expires - self.now_unix() > RENEW_BEFORE).then_some(Session { token, refresh, expires })
    }

    /// A token valid for at least a day more: the current one, a refreshed one or a new login.
    async fn token(&self, stale: Option<&str>) -> Result<String, PmsError> {
        let mut session = self.session.lock().await;
        let now = self.now_unix();
        let usable = session.as_ref().filter(|s| s.expires - now > RENEW_BEFORE && Some(s.token.as_str()) != stale);
        if let Some(s) = usable {
            return Ok(s.token.clone());
        }
        let renewed = match session.as_ref() {
            Some(old) if Some(old.token.as_str()) != stale => self.refresh(old).await,
            _ => None,
        };
        let next = match renewed {
            Some(s) => s,
            None => self.login().await?,
        };
        let token = next.token.clone();
        *session = Some(next);
        Ok(token)
    }

    /// GETs a path below `/api/`, logging in again once when the token is refused.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, PmsError> {
        self.get_with(path, query, |bytes| serde_json::from_slice::<Value>(bytes)).await
    }

    /// [`TdClient::get`], reading the answer's bytes with `decode` (retried when it refuses).
    async fn get_with<T, E: std::fmt::Display>(
        &self,
        path: &str,
        query: &[(&str, String)],
        decode: impl Fn(&[u8]) -> Result<T, E>,
    ) -> Result<T, PmsError> {
        let url = self.url(path);
        let mut stale = None;
        loop {
            let token = self.token(stale.as_deref()).await?;
            let sent = crate::http::answer_with_retries(
                &self.limiter,
                &self.config.backoff,
                path,
                || self.http.get(&url).bearer_auth(&token).query(query),
                &decode,
            )
            .await;
            match sent {
                Err(PmsError::Unauthorized { .. }) if stale.is_none() => {
                    tracing::info!(path, "TDental refused the token; logging in again");
                    stale = Some(token);
                }
                other => return other,
            }
        }
    }

    /// The window of an incremental pass: from the pass's `since` (or now, if earlier)
    /// minus the days back, to now plus the days ahead.
    fn window(&self, since: NaiveDateTime) -> (NaiveDate, NaiveDate) {
        let now = (self.config.clock)();
        let from = since.min(now).date() - chrono::Duration::days(self.config.window_back_days);
        let to = now.date() + chrono::Duration::days(self.config.window_ahead_days);
        (from, to)
    }

    async fn fetch_page(&self, spec: &'static StreamSpec, request: PageRequest) -> Result<Page, PmsError> {
        let stream = spec.name;
        let ep = endpoint(stream);
        let server_time = Some((self.config.clock)());
        let limit = self.config.page_size.max(1);
        // Rows completed by their `/{id}` details: the page is the list's answer and theirs.
        let with_details = ep.detail.is_some() && (stream != "partners" || self.config.partner_details);
        let salt = crate::digest::Salt {
            stream,
            limit,
            time_zone: self.config.time_zone.name(),
            base_url: &self.config.base_url,
        };
        let unchanged = || Page {
            batches: Vec::new(),
            quarantined: Vec::new(),
            deleted: Vec::new(),
            fetched: 0,
            keys: Vec::new(),
            complete: false,
            next_offset: request.offset,
            server_time,
            digest: None,
            same_as_known: true,
        };
        let prefix = spec.key_prefix;
        let tz = self.config.time_zone;
        let page_of = move |fetched: usize, complete: bool, digest| Page {
            batches: Vec::new(),
            quarantined: Vec::new(),
            deleted: Vec::new(),
            fetched,
            keys: Vec::new(),
            complete,
            next_offset: request.offset + fetched,
            server_time,
            digest,
            same_as_known: false,
        };
        let mut query: Vec<(&str, String)> = Vec::new();
        if !ep.bare {
            query.push(("offset", request.offset.to_string()));
            query.push(("limit", limit.to_string()));
        }
        query.extend(ep.fixed.iter().map(|(k, v)| (*k, (*v).to_owned())));
        if let Some(w) = ep.window {
            let bounds = match request.since {
                Some(since) => Some(self.window(since)),
                // A full pass of a list that needs both bounds: all of time (dates
                // before 1900 are typing mistakes, and must be seen to be quarantined).
                None if w.paired => NaiveDate::from_ymd_opt(1, 1, 1).zip(NaiveDate::from_ymd_opt(9999, 12, 31)),
                None => None,
            };
            if let Some((from, to)) = bounds {
                query.push((w.from, from.format("%Y-%m-%d").to_string()));
                query.push((w.to, to.format("%Y-%m-%d").to_string()));
            }
        }
        if let (true, Some(company)) = (ep.per_company, &request.parent) {
            query.push(("companyId", company.clone()));
        }
        if ep.bare {
            let snapshot = self.snapshot(ep.path, &query, request.offset).await?;
            let total = snapshot.rows.len();
            let (from, to) = (request.offset.min(total), request.offset.saturating_add(ROWS_AT_ONCE).min(total));
            if to == total {
                // The pass's last page: the answer is not needed any more.
                let mut held = self.snapshot.lock().await;
                if held.as_ref().is_some_and(|held| Arc::ptr_eq(held, &snapshot)) {
                    *held = None;
                }
            }
            let span = match snapshot.rows.get(from..to) {
                Some([first, .., last]) => first.start..last.end,
                Some([only]) => only.clone(),
                _ => 0..0,
            };
            let salt = crate::digest::Salt { limit: ROWS_AT_ONCE, ..salt };
            let d = crate::digest::digest(salt, &snapshot.body.get().as_bytes()[span], None).0;
            if request.known == Some(d) {
                return Ok(unchanged());
            }
            if from == to {
                return Ok(page_of(0, true, Some(d)));
            }
            return off_thread(ep.path, move || {
                let body = snapshot.body.get();
                let texts: Vec<&str> = snapshot.rows[from..to].iter().map(|r| &body[r.clone()]).collect();
                let mut page = page_of(texts.len(), to == total, Some(d));
                map_texts((stream, prefix, tz), &texts, None, &mut page)?;
                Ok(page)
            })
            .await;
        }
        if !with_details {
            // Rows as the answer sent them: parsed and mapped off the async threads, a chunk
            // at a time, each row's text kept as its payload unless a branch is added to it.
            let (d, body) = self.answer::<Box<RawValue>>(ep.path, &query, salt, request.known).await?;
            let Some(body) = body else { return Ok(unchanged()) };
            let company = request.parent.clone().filter(|_| ep.per_company);
            return off_thread(ep.path, move || {
                let texts: Vec<&str> = row_texts(ep.path, &body, false)?.iter().map(|t| t.get()).collect();
                let mut page = page_of(texts.len(), texts.len() < limit, Some(d));
                map_texts((stream, prefix, tz), &texts, company.as_deref(), &mut page)?;
                Ok(page)
            })
            .await;
        }
        // Rows completed by their details: the page's digest covers the list's answer and
        // every detail, so an unchanged page is neither parsed nor mapped (the details are
        // still asked for: TDental says nowhere that a customer changed).
        let read = |bytes: &[u8]| {
            let digest = crate::digest::digest(salt, bytes, None).0;
            serde_json::from_slice::<Box<RawValue>>(bytes).map(|body| (digest, body))
        };
        let (list_digest, body) = self.get_with(ep.path, &query, read).await?;
        let detail_path = ep.detail.unwrap_or_default();
        let ids: Vec<Option<String>> = row_texts(ep.path, &body, false)?.iter().map(|text| row_id(text)).collect();
        let details = self.details(detail_path, ids).await?;
        let d = crate::digest::with_parts(
            list_digest,
            details.iter().map(|d| match d {
                Detail::None => Some(&b""[..]),
                Detail::Gone => None,
                Detail::Text(text) => Some(text.get().as_bytes()),
            }),
        );
        if request.known == Some(d) {
            return Ok(unchanged());
        }
        let company = request.parent.clone().filter(|_| ep.per_company);
        off_thread(ep.path, move || {
            let texts: Vec<&str> = row_texts(ep.path, &body, false)?.iter().map(|t| t.get()).collect();
            let mut page = page_of(texts.len(), texts.len() < limit, Some(d));
            let company = company.as_deref().map(branch).transpose()?;
            let mut rows = Vec::with_capacity(texts.len());
            for (text, detail) in texts.into_iter().zip(&details) {
                if matches!(detail, Detail::Gone) {
                    continue;
                }
                let Some(mut row) = read_row(stream, text, &mut page) else { continue };
                if let Some(company) = &company {
                    row.fill(Cow::Borrowed("companyId"), company);
                }
                // A detail that is not an object adds nothing.
                if let Detail::Text(text) = detail
                    && let Ok(detail) = Row::parse(text.get())
                {
                    row.complete_with(detail);
                }
                rows.push(row);
            }
            page.keys = keys_of(&rows, prefix).collect();
            map_rows(stream, &rows, tz, &mut page);
            Ok(page)
        })
        .await
    }

    /// The bare array at `path`: read again for a pass's first page (offset 0) or when none
    /// is held, else the one read for the pass's first page.
    async fn snapshot(
        &self,
        path: &'static str,
        query: &[(&str, String)],
        offset: usize,
    ) -> Result<Arc<Snapshot>, PmsError> {
        let mut held = self.snapshot.lock().await;
        if let Some(snapshot) = held.as_ref().filter(|s| offset > 0 && s.path == path) {
            return Ok(snapshot.clone());
        }
        let body = self.get_with(path, query, |bytes| serde_json::from_slice::<Box<RawValue>>(bytes)).await?;
        let start = body.get().as_ptr() as usize;
        let rows = row_texts(path, &body, true)?
            .iter()
            .map(|t| {
                let at = t.get().as_ptr() as usize - start;
                at..at + t.get().len()
            })
            .collect();
        let snapshot = Arc::new(Snapshot { path, body, rows });
        *held = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// A list's answer and its digest; no body when the digest is `known` (unchanged).
    async fn answer<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        salt: crate::digest::Salt<'_>,
        known: Option<enamel_domain::PageDigest>,
    ) -> Result<(enamel_domain::PageDigest, Option<T>), PmsError> {
        match self.get_with(path, query, |bytes| read_answer::<T>(salt, bytes, None, known)).await? {
            Answer::Same { digest, .. } => Ok((digest, None)),
            Answer::Body { digest, body } => Ok((digest, Some(body))),
        }
    }

    /// Each row's `/{id}` detail as sent, a bounded number at a time.
    async fn details(&self, path: &str, ids: Vec<Option<String>>) -> Result<Vec<Detail>, PmsError> {
        futures::stream::iter(ids)
            .map(|id| async move {
                let Some(id) = id else { return Ok(Detail::None) };
                let read = |bytes: &[u8]| serde_json::from_slice::<Box<RawValue>>(bytes);
                match self.get_with(&format!("{path}/{id}"), &[], read).await {
                    Ok(text) => Ok(Detail::Text(text)),
                    Err(PmsError::Rejected { status: 404, .. }) => Ok(Detail::Gone),
                    Err(e) => Err(e),
                }
            })
            .buffered(self.config.detail_concurrency.max(1))
            .try_collect()
            .await
    }
}

/// Reads a page on the blocking pool: parsing and mapping are CPU work, and other requests
/// and the previous unit's write go on meanwhile.
async fn off_thread(
    path: &'static str,
    read: impl FnOnce() -> Result<Page, PmsError> + Send + 'static,
) -> Result<Page, PmsError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| PmsError::Protocol(format!("{path}: reading the page failed: {e}")))?
}

/// Reads and maps rows' texts into the page, [`ROWS_AT_ONCE`] at a time, each row's text
/// kept as its payload (with the branch a per-branch list was asked for, `company`, added
/// to a row that does not name one).
fn map_texts(
    (stream, prefix, tz): (&'static str, &str, Tz),
    texts: &[&str],
    company: Option<&str>,
    page: &mut Page,
) -> Result<(), PmsError> {
    let company = company.map(branch).transpose()?;
    for chunk in texts.chunks(ROWS_AT_ONCE) {
        let mut rows: Vec<Row<'_>> = chunk.iter().filter_map(|text| read_row(stream, text, page)).collect();
        if let Some(company) = &company {
            for row in &mut rows {
                row.fill(Cow::Borrowed("companyId"), company);
            }
        }
        page.keys.extend(keys_of(&rows, prefix));
        map_rows(stream, &rows, tz, page);
    }
    Ok(())
}

/// A branch's id as the JSON value added to the rows of its list.
fn branch(company: &str) -> Result<Box<RawValue>, PmsError> {
    serde_json::value::to_raw_value(company).map_err(|e| PmsError::Protocol(format!("branch {company}: {e}")))
}

/// A row read from its text; one that is not an object is quarantined, with its reason.
fn read_row<'t>(stream: &'static str, text: &'t str, page: &mut Page) -> Option<Row<'t>> {
    match Row::parse(text) {
        Ok(row) => Some(row),
        Err(reason) => {
            let payload = serde_json::from_str(text).unwrap_or(Value::Null);
            page.quarantined.push(Quarantined { stream, source_id: None, reason, payload });
            None
        }
    }
}

/// A list row's `/{id}` detail.
enum Detail {
    /// The row has no id to ask with: it stays as listed.
    None,
    /// The detail is gone (404): the row was deleted meanwhile, and leaves the page.
    Gone,
    /// The detail's text.
    Text(Box<RawValue>),
}

/// A row's `id`, when it is a text.
fn row_id(text: &RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<Value>,
    }
    let id = serde_json::from_str::<Id>(text.get()).ok()?.id?;
    id.as_str().map(str::to_owned)
}

fn protocol(path: &str, expected: &str, got: &Value) -> PmsError {
    let s: String = got.to_string().chars().take(80).collect();
    PmsError::Protocol(format!("{path}: expected {expected}, got {s}"))
}

/// The `exp` and `iat` claims of a JWT (not verified: only the PMS can, and it does).
fn jwt_times(token: &str) -> Option<(i64, Option<i64>)> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims = serde_json::from_slice::<Value>(&bytes).ok()?;
    Some((claims.get("exp")?.as_i64()?, claims.get("iat").and_then(Value::as_i64)))
}

/// Rows of an answer parsed into JSON values at once (see [`TdClient::fetch_page`]).
const ROWS_AT_ONCE: usize = 1_000;

/// Each row's text in an answer: a bare array, or a list envelope's `items`.
fn row_texts<'b>(path: &str, body: &'b RawValue, bare: bool) -> Result<Vec<&'b RawValue>, PmsError> {
    #[derive(serde::Deserialize)]
    struct Envelope<'b> {
        #[serde(borrow)]
        items: Vec<&'b RawValue>,
    }
    let texts = if bare {
        serde_json::from_str::<Vec<&RawValue>>(body.get()).ok()
    } else {
        serde_json::from_str::<Envelope<'_>>(body.get()).ok().map(|e| e.items)
    };
    texts.ok_or_else(|| {
        let got: Value = serde_json::from_str(body.get()).unwrap_or(Value::Null);
        let expected = match (&got, bare) {
            (_, true) => "a JSON array",
            (Value::Object(_), false) => "a list envelope with items",
            _ => "a list envelope",
        };
        protocol(path, expected, &got)
    })
}

/// The keys of a page's rows, with the stream's prefix.
fn keys_of<'a>(rows: &'a [Row<'_>], prefix: &'a str) -> impl Iterator<Item = String> + 'a {
    rows.iter()
        .filter_map(|r| r.string("id"))
        .filter(|id| !id.trim().is_empty())
        .map(move |id| format!("{prefix}{}", id.trim()))
}

/// Maps rows into the page's batches (after those already there); a row that does not map
/// is quarantined with its reason. A mapped row's payload is its text as the answer sent
/// it, with the fields it was given.
fn map_rows(stream: &'static str, rows: &[Row<'_>], tz: Tz, page: &mut Page) {
    let mut quarantine = |row: &Row<'_>, reason: String| {
        let source_id = row.string("id").map(Cow::into_owned);
        page.quarantined.push(Quarantined { stream, source_id, reason, payload: row.to_value() });
    };
    macro_rules! simple {
        ($variant:ident, $f:expr) => {{
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                match $f(r) {
                    Ok(mut mapped) => {
                        mapped.raw = Some(r.payload());
                        out.push(mapped)
                    }
                    Err(reason) => quarantine(r, reason),
                }
            }
            vec![Batch::$variant(out)]
        }};
    }
    let reference = |prefix: &'static str, kind: &'static str| move |r: &Row<'_>| map::reference(r, tz, prefix, kind);
    let batches = match stream {
        "companies" => simple!(Locations, |r| map::company(r, tz)),
        "productcategories" => simple!(SourceReferences, reference(CATEGORY, "product_category")),
        "partnertitles" => simple!(SourceReferences, reference(TITLE, "partner_title")),
        "applicationroles" => simple!(SourceReferences, reference(ROLE, "role")),
        "resgroups" => simple!(SourceReferences, reference(GROUP, "group")),
        "commissions" => simple!(SourceReferences, reference(COMMISSION, "commission")),
        "applicationusers" => simple!(SourceReferences, reference(USER, "application_user")),
        "partnersources" => simple!(ReferralSources, |r| map::partner_source(r, tz)),
        "partnercategories" => simple!(PatientTags, |r| map::partner_category(r, tz)),
        "employees" => simple!(Providers, |r| map::employee(r, tz)),
        "quotations" => simple!(TreatmentPlans, |r| map::quotation(r, tz)),
        "appointments" => simple!(Appointments, |r| map::appointment(r, tz)),
        "customerreceipts" => simple!(CheckIns, |r| map::customer_receipt(r, tz)),
        "saleorders" => simple!(TreatmentPlans, |r| map::sale_order(r, tz)),
        "saleorderlines" => simple!(Procedures, |r| map::sale_order_line(r, tz)),
        "dotkhams" => simple!(Visits, |r| map::dot_kham(r, tz)),
        "dotkhamsteps" => simple!(VisitSteps, |r| map::dot_kham_step(r, tz)),
        "accountpayments" => simple!(Payments, |r| map::account_payment(r, tz)),
        "saleorderpayments" => simple!(PaymentAllocations, |r| map::sale_order_payment(r, tz)),
        "stockpickings" => simple!(StockPickings, |r| map::stock_picking(r, tz)),
        "stockmoves" => simple!(StockMoves, |r| map::stock_move(r, tz)),
        "products" => {
            let (mut codes, mut goods) = (Vec::new(), Vec::new());
            for r in rows {
                match map::product(r, tz) {
                    Ok(map::Product::Service(mut code)) => {
                        code.raw = Some(r.payload());
                        codes.push(code)
                    }
                    Ok(map::Product::Goods(mut item)) => {
                        item.raw = Some(r.payload());
                        goods.push(item)
                    }
                    Err(reason) => quarantine(r, reason),
                }
            }
            vec![Batch::ProcedureCodes(codes), Batch::InventoryItems(goods)]
        }
        "partners" => {
            let (mut patients, mut tags) = (Vec::with_capacity(rows.len()), Vec::new());
            for r in rows {
                match map::partner(r, tz) {
                    Ok((mut patient, assigned)) => {
                        patient.raw = Some(r.payload());
                        patients.push(patient);
                        tags.extend(assigned);
                    }
                    Err(reason) => quarantine(r, reason),
                }
            }
            vec![Batch::Patients(patients), Batch::PatientTagAssignments(tags)]
        }
        _ => Vec::new(),
    };
    for batch in batches {
        let mut rest = Some(batch);
        for existing in &mut page.batches {
            if let Some(b) = rest.take() {
                rest = existing.append(b);
            }
        }
        page.batches.extend(rest);
    }
}

impl PmsClient for TdClient {
    fn streams(&self) -> &'static [StreamSpec] {
        STREAMS
    }

    fn fetch<'a>(&'a self, stream: &'a str, request: PageRequest) -> BoxFuture<'a, Result<Page, PmsError>> {
        Box::pin(async move { self.fetch_page(crate::find_stream(STREAMS, stream)?, request).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_come_after_what_they_depend_on() {
        for (i, s) in STREAMS.iter().enumerate() {
            for dep in s.depends_on {
                let at = STREAMS.iter().position(|d| d.name == *dep);
                assert!(at.is_some_and(|at| at < i), "{} depends on {dep}", s.name);
            }
            let ep = endpoint(s.name);
            assert!(!ep.path.is_empty(), "{} has an endpoint", s.name);
            // A bare array is mapped a chunk at a time, as it came: nothing is added to it.
            assert!(!ep.bare || (ep.detail.is_none() && !ep.per_company), "{} is a bare array", s.name);
        }
    }

    #[test]
    fn reads_the_times_of_a_jwt() {
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"nameid":"u","exp":1775604800,"iat":1775000000}"#);
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{claims}.sig");
        assert_eq!(jwt_times(&token), Some((1_775_604_800, Some(1_775_000_000))));
        assert_eq!(jwt_times("not a token"), None);
        // A PMS whose clock is a month behind ours: the token still lives seven days.
        let mut config = TdConfig::new("http://pms", "u", "p");
        config.clock = Arc::new(|| chrono::DateTime::from_timestamp(1_777_600_000, 0).unwrap_or_default().naive_utc());
        let client = TdClient::new(config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client.expiry(&token).map(|e| e - client.now_unix()), Some(604_800));
    }
}
