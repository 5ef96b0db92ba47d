//! The TDental adapter and the sync engine against the TDental simulator, on both backends.
//! The expected values are read from the simulator over plain HTTP (its own JSON), never
//! through the adapter under test.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use chrono::NaiveDateTime;
use enamel_domain::ids::*;
use enamel_domain::{Currency, EntityId, PracticeId, Source, SyncRunStatus};
use enamel_pms::PmsError;
use enamel_pms::limiter::Backoff;
use enamel_pms::tdental::{TdClient, TdConfig};
use enamel_sim::{PmsKind, SimConfig, SimHandle};
use enamel_store::{NewConnection, NewPractice, Store, Table};
use enamel_sync::{Hooks, SyncConfig, SyncError, Target, sync_once};
use serde_json::{Value, json};

use crate::support::backend_tests;

async fn tenant() -> SimHandle {
    enamel_sim::spawn(SimConfig::new(PmsKind::Tdental), 0).await.expect("simulator starts")
}

/// A client on the simulator's clock (or on `clock`, to disagree with it).
fn client_with(sim: &SimHandle, password: &str, clock: Option<NaiveDateTime>) -> TdClient {
    let mut config = TdConfig::new(sim.api_url(), "admin", password);
    config.backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(50), 3);
    let control = sim.control.clone();
    config.clock = match clock {
        Some(fixed) => Arc::new(move || fixed),
        None => Arc::new(move || control.now()),
    };
    TdClient::new(config).expect("client")
}

fn client(sim: &SimHandle) -> TdClient {
    client_with(sim, "admin", None)
}

/// A client asking for pages of 20 rows: many units per stream.
fn small_pages(sim: &SimHandle) -> Result<TdClient> {
    let mut config = TdConfig::new(sim.api_url(), "admin", "admin");
    let control = sim.control.clone();
    config.clock = Arc::new(move || control.now());
    config.page_size = 20;
    Ok(TdClient::new(config)?)
}

async fn connected(store: &Store, name: &str) -> Result<(PracticeId, ConnectionId)> {
    let p = store
        .create_practice(NewPractice {
            name: name.to_owned(),
            time_zone: chrono_tz::Asia::Ho_Chi_Minh,
            currency: Currency::Vnd,
        })
        .await?
        .id;
    let c = store
        .add_connection(
            p,
            NewConnection { kind: Source::Tdental, base_url: "http://sim".into(), mode: None, credentials: None },
        )
        .await?;
    Ok((p, c.id))
}

fn target<'a>(
    store: &'a Store,
    client: &'a TdClient,
    (practice, connection): (PracticeId, ConnectionId),
    config: &'a SyncConfig,
    hooks: &'a Hooks,
) -> Target<'a> {
    Target { store, client, practice, connection, source: Source::Tdental, config, hooks }
}

async fn sync(
    store: &Store,
    client: &TdClient,
    at: (PracticeId, ConnectionId),
    config: &SyncConfig,
) -> Result<Vec<enamel_sync::StreamOutcome>> {
    sync_once(target(store, client, at, config, &Hooks::default())).await.map_err(|(_, e)| e.into())
}

/// Reads the simulator's own rows: a whole list (`limit=0`), by data set.
struct Raw {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Raw {
    async fn login(sim: &SimHandle) -> Result<Raw> {
        let http = reqwest::Client::new();
        let base = sim.api_url();
        let answer: Value = http
            .post(format!("{base}/api/Account/Login"))
            .json(&json!({"userName": "admin", "password": "admin", "rememberMe": false}))
            .send()
            .await?
            .json()
            .await?;
        let token = answer["token"].as_str().context("a token")?.to_owned();
        Ok(Raw { http, base, token })
    }

    async fn list(&self, path: &str) -> Result<Vec<Value>> {
        let answer: Value = self
            .http
            .get(format!("{}/api/{path}", self.base))
            .bearer_auth(&self.token)
            .query(&[("limit", "0"), ("offset", "0")])
            .send()
            .await?
            .json()
            .await?;
        Ok(match answer {
            Value::Array(rows) => rows,
            mut envelope => envelope["items"].take().as_array().cloned().context("items")?,
        })
    }
}

/// Internal id → PMS key of every row of a table.
async fn keys_of<T: Table + EntityId>(store: &Store, p: PracticeId) -> Result<HashMap<T, String>> {
    let ids: Vec<T> = store.live_ids(p).await?;
    let rows = store.get_many::<T>(p, &ids).await?;
    Ok(rows.into_iter().map(|r| (r.id, r.meta.source_id.as_str().to_owned())).collect())
}

/// PMS key → stored row.
async fn by_key<T: Table + EntityId>(
    store: &Store,
    p: PracticeId,
) -> Result<HashMap<String, enamel_domain::Stored<T::Record>>> {
    let ids: Vec<T> = store.live_ids(p).await?;
    let rows = store.get_many::<T>(p, &ids).await?;
    Ok(rows.into_iter().map(|r| (r.meta.source_id.as_str().to_owned(), r)).collect())
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or("").trim().to_owned()
}

/// Live rows of every table the TDental streams fill, as (key, hash).
async fn fingerprint(store: &Store, p: PracticeId) -> Result<BTreeMap<&'static str, Vec<(String, i64)>>> {
    async fn live<T: Table>(store: &Store, p: PracticeId) -> Result<Vec<(String, i64)>> {
        let rows = store.fingerprint::<T>(p, Source::Tdental).await?;
        Ok(rows.into_iter().filter(|(_, _, deleted)| !deleted).map(|(k, h, _)| (k, h)).collect())
    }
    Ok(BTreeMap::from([
        ("location", live::<LocationId>(store, p).await?),
        ("source_reference", live::<SourceReferenceId>(store, p).await?),
        ("procedure_code", live::<ProcedureCodeId>(store, p).await?),
        ("inventory_item", live::<InventoryItemId>(store, p).await?),
        ("referral_source", live::<ReferralSourceId>(store, p).await?),
        ("patient_tag", live::<PatientTagId>(store, p).await?),
        ("provider", live::<ProviderId>(store, p).await?),
        ("patient", live::<PatientId>(store, p).await?),
        ("patient_tag_assignment", live::<PatientTagAssignmentId>(store, p).await?),
        ("treatment_plan", live::<TreatmentPlanId>(store, p).await?),
        ("appointment", live::<AppointmentId>(store, p).await?),
        ("check_in", live::<CheckInId>(store, p).await?),
        ("procedure", live::<ProcedureId>(store, p).await?),
        ("visit", live::<VisitId>(store, p).await?),
        ("visit_step", live::<VisitStepId>(store, p).await?),
        ("payment", live::<PaymentId>(store, p).await?),
        ("payment_allocation", live::<PaymentAllocationId>(store, p).await?),
        ("stock_picking", live::<StockPickingId>(store, p).await?),
        ("stock_move", live::<StockMoveId>(store, p).await?),
    ]))
}

backend_tests!(
    a_full_sync_equals_the_tenant_and_a_second_changes_nothing,
    the_cycle_catches_edits_in_its_window_and_the_sweep_the_rest,
    expired_tokens_renew_and_bad_passwords_fail_clearly,
    open_dental_and_tdental_practices_stay_isolated,
    a_crash_mid_branch_resumes_to_the_same_store,
    a_transaction_commits_rather_than_wait_on_a_slow_pms,
    a_first_sync_builds_lookup_indexes_once_its_rows_are_in,
);

/// A first sync into empty tables sets their lookup indexes aside and creates them when
/// each stream's pass ends. A process that dies mid-pass leaves them recorded, and the
/// stream's next pass creates them. A second practice's first sync, into tables that have
/// rows, keeps them. Both end with the schema as migrated and the same rows.
async fn a_first_sync_builds_lookup_indexes_once_its_rows_are_in(store: Store) -> Result<()> {
    use enamel_sync::{FailHook, FailPoint};
    let sim = tenant().await;
    let client = small_pages(&sim)?;
    let config = SyncConfig { pages_per_unit: 1, rows_per_transaction: 0, ..SyncConfig::default() };
    let migrated = store.schema_description().await?;
    let crash: FailHook = Arc::new(|p, s, n| p == FailPoint::AfterCommit && s == "appointments" && n >= 2);
    let crash_hooks = Hooks { fail: Some(crash), on_page: None };

    let first = connected(&store, "First").await?;
    let crashed = sync_once(target(&store, &client, first, &config, &crash_hooks)).await;
    ensure!(matches!(crashed, Err((_, SyncError::Injected { .. }))), "the injected failure stops the sync");
    let by = format!("{}/appointments", first.1);
    let deferred = store.deferred_indexes().await?;
    let of_appointments: Vec<_> = deferred.iter().filter(|d| d.table == "appointment").collect();
    ensure!(!of_appointments.is_empty() && of_appointments.iter().all(|d| d.by == by), "{deferred:?}");
    ensure!(store.lookup_indexes("appointment").await?.is_empty(), "appointment's lookup indexes are set aside");
    ensure!(!store.lookup_indexes("patient").await?.is_empty(), "a finished stream created its indexes again");
    sync(&store, &client, first, &config).await?;
    ensure!(store.deferred_indexes().await?.is_empty(), "nothing is left deferred");
    ensure!(store.schema_description().await? == migrated, "the schema is as migrated");

    let second = connected(&store, "Second").await?;
    let crashed = sync_once(target(&store, &client, second, &config, &crash_hooks)).await;
    ensure!(matches!(crashed, Err((_, SyncError::Injected { .. }))), "the injected failure stops the sync");
    ensure!(store.deferred_indexes().await?.is_empty(), "tables with rows keep their indexes");
    ensure!(store.schema_description().await? == migrated);
    sync(&store, &client, second, &config).await?;
    ensure!(fingerprint(&store, first.0).await? == fingerprint(&store, second.0).await?, "the two copies differ");
    Ok(())
}

/// Units share a transaction, but not while the PMS keeps the next one waiting: the open
/// transaction commits at its deadline (on SQLite it holds the one writer).
async fn a_transaction_commits_rather_than_wait_on_a_slow_pms(store: Store) -> Result<()> {
    use enamel_sim::faults::{FaultKind, FaultSpec};
    use enamel_sync::{FailHook, FailPoint, PageHook};
    let sim = tenant().await;
    let client = small_pages(&sim)?;
    // Never due by rows; due by time only well after a few small units are written.
    let deadline = Duration::from_secs(1);
    let sync_config = SyncConfig {
        pages_per_unit: 1,
        rows_per_transaction: usize::MAX,
        transaction_time: deadline,
        ..SyncConfig::default()
    };
    let at = connected(&store, "Slow").await?;
    // Once the first unit of appointments is written (and the second fetched), the next
    // page answers four times later than the deadline.
    let slowed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let faults = sim.control.clone();
    let on_page: PageHook = Arc::new(move |stream, _| {
        if stream == "appointments" && !slowed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            faults.inject(FaultSpec::times(FaultKind::Slow { millis: 4_000 }, 1).on("/api/Appointments"));
        }
    });
    let commits: Arc<std::sync::Mutex<Vec<usize>>> = Arc::default();
    let seen = Arc::clone(&commits);
    let fail: FailHook = Arc::new(move |point, stream, page| {
        if point == FailPoint::AfterCommit && stream == "appointments" {
            seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(page);
        }
        false
    });
    let started = std::time::Instant::now();
    sync_once(target(&store, &client, at, &sync_config, &Hooks { fail: Some(fail), on_page: Some(on_page) }))
        .await
        .map_err(|(_, e)| e)?;
    ensure!(started.elapsed() >= Duration::from_secs(4), "the slow answer was served");
    let commits = commits.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    // The transaction holding unit 1 commits at its deadline while unit 2 is fetched, not
    // with unit 2 once it comes (a machine slow enough to make unit 0's transaction due by
    // itself commits after unit 0 too).
    ensure!(commits.contains(&1) && commits.len() >= 2, "appointments committed after units {commits:?}");
    Ok(())
}

async fn a_crash_mid_branch_resumes_to_the_same_store(store: Store) -> Result<()> {
    use enamel_sync::{FailHook, FailPoint};
    let sim = tenant().await;
    // Small pages, one page per unit: branches span several units.
    let client = small_pages(&sim)?;
    // Units share transactions of at least 50 rows (three 20-row pages), committed by rows
    // alone (never by time here), so a crash can fall between a group's commits.
    let sync_config = SyncConfig {
        pages_per_unit: 1,
        rows_per_transaction: 50,
        transaction_time: Duration::from_secs(3_600),
        ..SyncConfig::default()
    };
    let clean = connected(&store, "Clean").await?;
    // Units written and transactions committed, counted through the hook that never fails.
    let counted: Arc<std::sync::Mutex<HashMap<FailPoint, usize>>> = Arc::default();
    let counter = Arc::clone(&counted);
    let count: FailHook = Arc::new(move |p, s, _| {
        if s == "customerreceipts" {
            *counter.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(p).or_default() += 1;
        }
        false
    });
    sync_once(target(&store, &client, clean, &sync_config, &Hooks { fail: Some(count), on_page: None }))
        .await
        .map_err(|(_, e)| e)?;
    let counted = counted.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let (written, commits) = (counted[&FailPoint::AfterWrite], counted[&FailPoint::AfterCommit]);
    ensure!(written >= 6 && commits >= 2 && commits * 2 < written, "{written} units in {commits} transactions");
    let want = fingerprint(&store, clean.0).await?;
    for (point, stream, page) in [
        // The first commit at or after the third unit, and a unit written in a transaction
        // that never commits (the group's earlier units roll back with it).
        (FailPoint::AfterCommit, "customerreceipts", 2),
        (FailPoint::AfterWrite, "customerreceipts", 4),
        (FailPoint::AfterFetch, "saleorderlines", 3),
        (FailPoint::BeforeFetch, "partners", 1),
    ] {
        let at = connected(&store, &format!("{point:?} {stream}")).await?;
        let hook: FailHook = Arc::new(move |p, s, n| p == point && s == stream && n >= page);
        let hooks = Hooks { fail: Some(hook), on_page: None };
        let crashed = sync_once(target(&store, &client, at, &sync_config, &hooks)).await;
        ensure!(matches!(crashed, Err((_, SyncError::Injected { .. }))), "the injected failure stops the sync");
        sync(&store, &client, at, &sync_config).await?;
        ensure!(fingerprint(&store, at.0).await? == want, "{point:?} at {stream}: the store differs from a clean sync");
    }
    Ok(())
}

async fn a_full_sync_equals_the_tenant_and_a_second_changes_nothing(store: Store) -> Result<()> {
    let sim = tenant().await;
    let client = client(&sim);
    let at = connected(&store, "Nha khoa").await?;
    let p = at.0;
    let config = SyncConfig::default();
    let first = sync(&store, &client, at, &config).await?;
    let counts = sim.control.counts();
    ensure!(first.len() == 23, "every data set is a stream: {}", first.len());
    for o in &first {
        ensure!(
            o.counts.fetched as usize == counts[&o.stream],
            "{}: {:?} vs {}",
            o.stream,
            o.counts,
            counts[&o.stream]
        );
    }
    // Only impossible values are quarantined, each with its reason.
    let quarantined = store.quarantined(p, 1000).await?;
    ensure!(quarantined.iter().all(|q| q.stream == "appointments" && q.reason.contains("is impossible (year 1224)")));
    let raw = Raw::login(&sim).await?;

    // Every appointment's customer and branch, its time in UTC, its state kept.
    let apts = raw.list("Appointments").await?;
    let stored = by_key::<AppointmentId>(&store, p).await?;
    let patients = keys_of::<PatientId>(&store, p).await?;
    let locations = keys_of::<LocationId>(&store, p).await?;
    ensure!(
        stored.len() + quarantined.len() == apts.len(),
        "{} + {} vs {}",
        stored.len(),
        quarantined.len(),
        apts.len()
    );
    for a in &apts {
        let date = text(a, "date");
        let Some(s) = stored.get(&text(a, "id")) else {
            ensure!(date.starts_with("1224-"), "appointment {} missing", text(a, "id"));
            continue;
        };
        ensure!(patients.get(&s.data.patient_id) == Some(&text(a, "partnerId")), "customer of {}", text(a, "id"));
        ensure!(s.data.location_id.and_then(|l| locations.get(&l)) == Some(&text(a, "companyId")));
        let local = NaiveDateTime::parse_from_str(&date, "%Y-%m-%dT%H:%M:%S%.f")?;
        ensure!(s.data.start_at.naive_utc() == local - chrono::Duration::hours(7), "{date} is Vietnam time");
        ensure!(s.data.status_source == text(a, "state"));
    }
    // Each row's payload is the row as the tenant sent it.
    for a in apts.iter().take(25) {
        if let Some(s) = stored.get(&text(a, "id")) {
            ensure!(store.raw_payload(p, s.id).await?.as_ref() == Some(a), "payload of {}", text(a, "id"));
        }
    }

    // Every order line's order, product and teeth (FDI from the text, the text kept).
    let lines = raw.list("SaleOrderLines").await?;
    let stored = by_key::<ProcedureId>(&store, p).await?;
    let plans = keys_of::<TreatmentPlanId>(&store, p).await?;
    let codes = keys_of::<ProcedureCodeId>(&store, p).await?;
    ensure!(stored.len() == lines.len());
    let mut with_teeth = 0;
    for l in &lines {
        let s = stored.get(&text(l, "id")).context("line stored")?;
        let order = format!("order:{}", text(l, "orderId"));
        ensure!(s.data.treatment_plan_id.and_then(|t| plans.get(&t)) == Some(&order));
        ensure!(s.data.procedure_code_id.and_then(|c| codes.get(&c)) == Some(&text(l, "productId")));
        let diagnostic = text(l, "diagnostic");
        if text(l, "toothType") == "manual" {
            let want = enamel_domain::ToothList::scan_free_text(&diagnostic);
            ensure!(s.data.teeth == want, "teeth of {}: {} vs {diagnostic:?}", text(l, "id"), s.data.teeth);
            with_teeth += usize::from(!want.is_empty());
        } else {
            ensure!(s.data.teeth.is_empty() && s.data.tooth_scope != enamel_domain::ToothScope::Teeth);
        }
        ensure!(s.data.tooth_text.as_deref().unwrap_or("") == diagnostic);
        let fee = l["priceSubTotal"].as_f64().context("price")?;
        ensure!(s.data.fee.0 == fee.round() as i64, "VND has no minor unit");
    }
    ensure!(with_teeth > 0, "some lines name teeth");

    // Every allocation's payment and order.
    let sops = raw.list("SaleOrderPayments").await?;
    let stored = by_key::<PaymentAllocationId>(&store, p).await?;
    let payments = keys_of::<PaymentId>(&store, p).await?;
    ensure!(stored.len() == sops.len());
    for sop in &sops {
        let s = stored.get(&text(sop, "id")).context("allocation stored")?;
        let order = format!("order:{}", text(sop, "orderId"));
        ensure!(s.data.treatment_plan_id.and_then(|t| plans.get(&t)) == Some(&order));
        let paid = sop["payments"].get(0).map(|p| text(p, "id"));
        ensure!(s.data.payment_id.and_then(|x| payments.get(&x)).cloned() == paid, "payment of {}", text(sop, "id"));
    }

    // Partial birth dates and registration times as the tenant gives them.
    let customers = raw.list("Partners/GetPagedPartnersCustomer").await?;
    let stored = by_key::<PatientId>(&store, p).await?;
    let mut partial = 0;
    for c in &customers {
        let s = stored.get(&text(c, "id")).context("customer stored")?;
        let dob = text(c, "dateOfBirth");
        if dob.starts_with("--/--/") {
            partial += 1;
            ensure!(s.data.birth_date.is_some_and(|d| d.month().is_none() && d.year().is_some()), "{dob}");
        }
        ensure!(s.data.chart_number.as_deref() == Some(text(c, "ref").as_str()).filter(|r| !r.is_empty()));
    }
    ensure!(partial > 0, "some birth dates are year-only");
    // A customer's payload is the listed row completed by its profile.
    for c in customers.iter().take(25) {
        let s = stored.get(&text(c, "id")).context("customer stored")?;
        let payload = store.raw_payload(p, s.id).await?.context("a customer's payload")?;
        let (listed, kept) = (c.as_object().context("a row")?, payload.as_object().context("an object")?);
        for (k, v) in listed.iter().filter(|(_, v)| !v.is_null()) {
            ensure!(kept.get(k) == Some(v), "{k} of customer {}", text(c, "id"));
        }
        ensure!(kept.len() > listed.len(), "customer {} has its profile's fields", text(c, "id"));
    }
    // Check-ins are listed per branch, without one: a check-in's payload is the row as
    // listed with its branch added.
    let receipts = raw.list("CustomerReceipts").await?;
    let stored = by_key::<CheckInId>(&store, p).await?;
    for r in receipts.iter().take(25) {
        let s = stored.get(&text(r, "id")).context("check-in stored")?;
        let branch = s.data.location_id.and_then(|l| locations.get(&l)).context("a branch")?;
        let mut want = r.clone();
        ensure!(want.get("companyId").is_none_or(Value::is_null), "listed without a branch");
        want["companyId"] = json!(branch);
        ensure!(store.raw_payload(p, s.id).await?.as_ref() == Some(&want), "payload of check-in {}", text(r, "id"));
    }
    ensure!(store.check_references(p).await?.is_empty());

    let second = sync(&store, &client, at, &config).await?;
    for o in &second {
        ensure!(o.counts.inserted + o.counts.updated + o.counts.deleted == 0, "{}: {:?}", o.stream, o.counts);
    }
    // Lists read whole again answer as before: taken as remembered. A sweep reads every list
    // whole: the pages of rows completed by their details are remembered too (their
    // digests cover the details).
    let reused = |outcomes: &[enamel_sync::StreamOutcome], s: &str| {
        outcomes.iter().find(|o| o.stream == s).map_or(0, |o| o.pages_reused)
    };
    ensure!(reused(&second, "productcategories") > 0);
    let sweep_config = SyncConfig { sweep_every: Duration::ZERO, ..config.clone() };
    let sweep = sync(&store, &client, at, &sweep_config).await?;
    for o in &sweep {
        ensure!(o.counts.inserted + o.counts.updated + o.counts.deleted == 0, "{}: {:?}", o.stream, o.counts);
    }
    ensure!(reused(&sweep, "accountpayments") > 0 && reused(&sweep, "partners") > 0);
    let runs = store.sync_runs(p, 100).await?;
    ensure!(runs.len() == 69 && runs.iter().all(|r| r.status == SyncRunStatus::Succeeded));
    Ok(())
}

async fn the_cycle_catches_edits_in_its_window_and_the_sweep_the_rest(store: Store) -> Result<()> {
    let sim = tenant().await;
    let client = client(&sim);
    let at = connected(&store, "Cycled").await?;
    let p = at.0;
    let config = SyncConfig::default();
    sync(&store, &client, at, &config).await?;
    let before = sim.control.now();
    sim.control.advance(chrono::Duration::hours(1));
    let changed = sim.control.mutate(10);

    // The cycle: rolling windows only (30 days back, 90 ahead), no deletions inferred.
    let cycle = sync(&store, &client, at, &config).await?;
    let of = |outcomes: &[enamel_sync::StreamOutcome], s: &str| {
        outcomes.iter().find(|o| o.stream == s).map(|o| o.counts).unwrap_or_default()
    };
    let appointments = of(&cycle, "appointments");
    ensure!(appointments.fetched < sim.control.counts()["appointments"] as u64, "a window, not everything");
    ensure!(appointments.inserted as usize == changed.inserted["appointments"], "new bookings: {appointments:?}");
    ensure!(appointments.deleted == 0, "a window cannot tell deletions");

    // Against a clean copy: what the cycle missed lies outside its window.
    let clean = connected(&store, "Clean").await?;
    sync(&store, &client, clean, &config).await?;
    let want = fingerprint(&store, clean.0).await?;
    let got = fingerprint(&store, p).await?;
    let wanted: HashMap<&str, i64> = want["appointment"].iter().map(|(k, h)| (k.as_str(), *h)).collect();
    let clean_apts = by_key::<AppointmentId>(&store, clean.0).await?;
    let from = (before - chrono::Duration::days(30)).date();
    let to = (sim.control.now() + chrono::Duration::days(90)).date();
    let mut missed = 0;
    for (key, hash) in &got["appointment"] {
        match wanted.get(key.as_str()) {
            None => missed += 1, // deleted in the PMS: the sweep will tell
            Some(h) if h != hash => {
                let s = clean_apts.get(key).context("in the clean copy")?;
                let day = (s.data.start_at + chrono::Duration::hours(7)).date_naive();
                ensure!(day < from || day > to, "appointment {key} on {day} is inside the window but was missed");
                missed += 1;
            }
            Some(_) => {}
        }
    }
    ensure!(missed > 0, "the mutation touched rows outside the window");
    ensure!(got != want, "the cycle alone leaves the store behind");

    // The sweep: everything, deletions inferred, the store equals a clean copy.
    let sweep_config = SyncConfig { sweep_every: Duration::ZERO, max_delete_share: 0.5, ..SyncConfig::default() };
    let sweep = sync(&store, &client, at, &sweep_config).await?;
    ensure!(
        of(&sweep, "appointments").deleted as usize == changed.deleted["appointments"],
        "{:?}",
        of(&sweep, "appointments")
    );
    ensure!(of(&sweep, "appointments").fetched == sim.control.counts()["appointments"] as u64);
    ensure!(fingerprint(&store, p).await? == want, "after the sweep the store equals a clean sync");
    let deleted = store.fingerprint::<AppointmentId>(p, Source::Tdental).await?.into_iter().filter(|r| r.2).count();
    ensure!(deleted == changed.deleted["appointments"], "deletions are soft: {deleted}");
    ensure!(store.check_references(p).await?.is_empty());
    Ok(())
}

async fn expired_tokens_renew_and_bad_passwords_fail_clearly(store: Store) -> Result<()> {
    let sim = tenant().await;

    // A wrong password: a clear error, a failed run, nothing written.
    let at = connected(&store, "Wrong password").await?;
    let wrong = client_with(&sim, "not-the-password", None);
    let (done, error) = sync_once(target(&store, &wrong, at, &SyncConfig::default(), &Hooks::default()))
        .await
        .err()
        .context("the login is refused")?;
    ensure!(done.is_empty());
    match &error {
        SyncError::Pms { source: PmsError::LoginFailed { message }, .. } => {
            ensure!(message.contains("không đúng"), "the PMS's reason is kept: {message}");
        }
        other => anyhow::bail!("expected a refused login, got {other}"),
    }
    ensure!(store.live_ids::<LocationId>(at.0).await?.is_empty());
    let runs = store.sync_runs(at.0, 10).await?;
    ensure!(
        runs.iter().any(|r| r.status == SyncRunStatus::Failed
            && r.error.as_deref().is_some_and(|e| e.contains("refused the login")))
    );

    // The right one: a sync, then the clock moves past the token's seven days while our
    // clock lags (the PMS says 401): the client logs in again and nothing is lost.
    let at = connected(&store, "Tenant").await?;
    let lagging = client_with(&sim, "admin", Some(sim.control.now()));
    sync(&store, &lagging, at, &SyncConfig::default()).await?;
    let patients = store.live_ids::<PatientId>(at.0).await?.len();
    sim.control.advance(chrono::Duration::days(8));
    let logins = |sim: &SimHandle| {
        sim.control.requests().iter().filter(|r| r.path.eq_ignore_ascii_case("/api/Account/Login")).count()
    };
    let before = logins(&sim);
    let full = SyncConfig { full: true, ..SyncConfig::default() };
    sync(&store, &lagging, at, &full).await?;
    let requests = sim.control.requests();
    ensure!(requests.iter().any(|r| r.status == 401), "the PMS refused the old token");
    ensure!(logins(&sim) == before + 1, "one new login");
    ensure!(store.live_ids::<PatientId>(at.0).await?.len() == patients, "nothing lost");

    // On the PMS's clock the client renews a day before expiry, without a 401.
    let fresh = client(&sim);
    sync(&store, &fresh, at, &SyncConfig::default()).await?;
    let refused = sim.control.requests().iter().filter(|r| r.status == 401).count();
    sim.control.advance(chrono::Duration::days(6) + chrono::Duration::hours(12));
    sync(&store, &fresh, at, &SyncConfig::default()).await?;
    let after = sim.control.requests();
    ensure!(after.iter().filter(|r| r.status == 401).count() == refused, "renewed before it expired");
    ensure!(after.iter().any(|r| r.path.eq_ignore_ascii_case("/api/Account/Refresh")), "through the refresh token");
    Ok(())
}

async fn open_dental_and_tdental_practices_stay_isolated(store: Store) -> Result<()> {
    use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
    let td = tenant().await;
    let mut od_config = SimConfig::new(PmsKind::OpenDental);
    od_config.mode = enamel_sim::Mode::Local;
    let od = enamel_sim::spawn(od_config, 0).await.context("Open Dental simulator")?;

    let td_at = connected(&store, "Nha khoa").await?;
    sync(&store, &client(&td), td_at, &SyncConfig::default()).await?;
    let od_practice = crate::fixtures::practice(&store, "Dental Office").await;
    let od_conn = store
        .add_connection(
            od_practice,
            NewConnection {
                kind: Source::OpenDental,
                base_url: od.api_url(),
                mode: Some("local".into()),
                credentials: None,
            },
        )
        .await?
        .id;
    let od_client = OdClient::new(OdConfig::new(
        od.api_url(),
        "dev-key",
        "customer-key",
        OdMode::Local,
        chrono_tz::America::New_York,
    ))?;
    let od_target = Target {
        store: &store,
        client: &od_client,
        practice: od_practice,
        connection: od_conn,
        source: Source::OpenDental,
        config: &SyncConfig::default(),
        hooks: &Hooks::default(),
    };
    sync_once(od_target).await.map_err(|(_, e)| e)?;

    let td_patients: Vec<PatientId> = store.live_ids(td_at.0).await?;
    let od_patients: Vec<PatientId> = store.live_ids(od_practice).await?;
    ensure!(td_patients.len() == td.control.counts()["partners"]);
    ensure!(od_patients.len() == od.control.counts()["patients"]);
    ensure!(
        store.get_many::<PatientId>(td_at.0, &od_patients).await?.is_empty(),
        "no Open Dental patient in TDental's practice"
    );
    ensure!(store.check_references(td_at.0).await?.is_empty() && store.check_references(od_practice).await?.is_empty());

    // Through the graph: each key sees its own practice, in its own currency.
    let api = enamel_graphql::Api::new(store.clone(), enamel_graphql::Options::default());
    let viewer = |practice| {
        let store = store.clone();
        async move {
            Ok::<_, anyhow::Error>(enamel_graphql::Viewer {
                practice: store.practice(practice).await?,
                credential: "api_key:test".into(),
                name: "test".into(),
                scopes: vec![enamel_domain::Scope::Read],
            })
        }
    };
    let od_patient = store.get::<PatientId>(od_practice, od_patients[0]).await?;
    let od_node = enamel_graphql::global_id::encode("Patient", od_patient.id.0).0;
    let query = r#"query($id: ID!) { patients(first: 1) { totalCount edges { node { lastName balance { currency } } } } node(id: $id) { id } }"#;
    let request: enamel_graphql::Request =
        serde_json::from_value(json!({"query": query, "variables": {"id": od_node}}))?;
    let answer = api.execute(request, Some(viewer(td_at.0).await?)).await.to_json();
    ensure!(answer["errors"][0]["extensions"]["code"] == "NOT_FOUND", "{answer}");
    ensure!(answer["errors"].as_array().is_some_and(|e| e.len() == 1), "{answer}");
    ensure!(answer["data"]["patients"]["totalCount"] == json!(td_patients.len()), "{answer}");
    ensure!(answer["data"]["patients"]["edges"][0]["node"]["balance"]["currency"] == json!("VND"), "{answer}");
    ensure!(answer["data"]["node"].is_null(), "another practice's id answers nothing: {answer}");
    let request: enamel_graphql::Request =
        serde_json::from_value(json!({"query": query, "variables": {"id": od_node}}))?;
    let answer = api.execute(request, Some(viewer(od_practice).await?)).await.to_json();
    ensure!(answer["data"]["node"]["id"] == json!(od_node), "{answer}");
    ensure!(answer["data"]["patients"]["totalCount"] == json!(od_patients.len()));
    Ok(())
}

/// Visit steps come as one bare array of every row. The adapter reads it once per pass, at
/// the pass's first page, and serves it a page of 1,000 rows at a time (a unit holds its
/// pages' rows, not 64,000). At `clinic` scale (3,500 steps): every row once, in the
/// simulator's order, one request for the whole pass; the same page again is taken as
/// unchanged by its digest; a page past the end is empty and complete.
#[tokio::test]
async fn a_bare_array_is_read_once_and_served_a_page_at_a_time() -> Result<()> {
    use enamel_domain::Batch;
    use enamel_pms::{PageRequest, PmsClient};
    let mut config = SimConfig::new(PmsKind::Tdental);
    config.scale = enamel_sim::Scale::Clinic;
    let sim = enamel_sim::spawn(config, 0).await.context("simulator")?;
    let expected: Vec<String> =
        Raw::login(&sim).await?.list("DotKhamSteps").await?.iter().map(|r| text(r, "id")).collect();
    ensure!(expected.len() > 2_000, "{} steps: too few for several pages", expected.len());
    let asked = |sim: &SimHandle| sim.control.requests().iter().filter(|r| r.path == "/api/DotKhamSteps").count();
    let before = asked(&sim);
    let client = client(&sim);
    let request = |offset, known| PageRequest { offset, since: None, parent: None, known };
    let (mut keys, mut mapped, mut pages) = (Vec::new(), Vec::new(), Vec::new());
    let mut offset = 0;
    loop {
        let page = client.fetch("dotkhamsteps", request(offset, None)).await?;
        ensure!(page.fetched <= 1_000 && page.quarantined.is_empty(), "{page:?}");
        let [Batch::VisitSteps(rows)] = page.batches.as_slice() else {
            anyhow::bail!("one batch of visit steps, got {} batches", page.batches.len());
        };
        mapped.extend(rows.iter().map(|r| r.source_id.to_string()));
        keys.extend(page.keys.iter().cloned());
        pages.push((offset, page.digest));
        offset = page.next_offset;
        if page.complete {
            break;
        }
    }
    ensure!(pages.len() == expected.len().div_ceil(1_000), "{} pages", pages.len());
    ensure!(keys == expected && mapped == expected, "every row mapped once, in order");
    ensure!(asked(&sim) - before == 1, "the array is read once per pass");
    // Again, from the first page: read again, and a remembered page is taken as unchanged.
    let (second, known) = pages[1];
    let first = client.fetch("dotkhamsteps", request(0, pages[0].1)).await?;
    ensure!(first.same_as_known && first.batches.is_empty(), "{first:?}");
    let again = client.fetch("dotkhamsteps", request(second, known)).await?;
    ensure!(again.same_as_known && again.batches.is_empty(), "{again:?}");
    ensure!(asked(&sim) - before == 2, "read again for the second pass only");
    // A page past the array is empty and complete.
    let past = client.fetch("dotkhamsteps", request(expected.len(), None)).await?;
    ensure!(past.fetched == 0 && past.complete && past.batches.is_empty(), "{past:?}");
    Ok(())
}

/// Customers are completed by their `/{id}` profiles: a page's digest covers the list's
/// answer and every profile, so the same page again is taken as unchanged without being
/// mapped, and a change that only a profile shows (a customer's title) is read again.
#[tokio::test]
async fn a_page_with_details_is_remembered_until_a_detail_changes() -> Result<()> {
    use enamel_domain::Batch;
    use enamel_pms::{PageRequest, PmsClient};
    let sim = tenant().await;
    let client = client(&sim);
    let raw = Raw::login(&sim).await?;
    let request = |known| PageRequest { offset: 0, since: None, parent: None, known };
    let page = client.fetch("partners", request(None)).await?;
    let customer = match page.batches.first() {
        Some(Batch::Patients(rows)) => rows.first().map(|r| r.source_id.to_string()).context("a customer")?,
        other => anyhow::bail!("customers first, got {other:?}"),
    };
    ensure!(page.digest.is_some() && !page.same_as_known);
    let again = client.fetch("partners", request(page.digest)).await?;
    ensure!(again.same_as_known && again.batches.is_empty(), "{again:?}");

    // Another title for the customer: the profile shows it, the list row does not.
    let profile = |id: String| {
        let raw = &raw;
        async move {
            let url = format!("{}/api/Partners/{id}", raw.base);
            Ok::<Value, anyhow::Error>(raw.http.get(url).bearer_auth(&raw.token).send().await?.json().await?)
        }
    };
    let listed = |rows: Vec<Value>| rows.into_iter().find(|r| text(r, "id") == customer);
    let list_before = listed(raw.list("Partners/GetPagedPartnersCustomer").await?);
    ensure!(list_before.is_some(), "the customer is listed");
    let title = text(&profile(customer.clone()).await?, "titleId");
    let other = raw.list("PartnerTitles").await?.iter().map(|t| text(t, "id")).find(|t| *t != title);
    let other = other.context("another title")?;
    let put = raw
        .http
        .put(format!("{}/api/Partners/Customers", raw.base))
        .bearer_auth(&raw.token)
        .json(&json!({"id": customer, "titleId": other}))
        .send()
        .await?;
    ensure!(put.status().is_success(), "{}", put.status());
    ensure!(text(&profile(customer.clone()).await?, "titleId") == other);
    ensure!(listed(raw.list("Partners/GetPagedPartnersCustomer").await?) == list_before, "the list row is the same");

    let changed = client.fetch("partners", request(page.digest)).await?;
    ensure!(!changed.same_as_known && changed.digest != page.digest, "{:?}", changed.digest);
    let Some(Batch::Patients(rows)) = changed.batches.first() else { anyhow::bail!("customers mapped again") };
    let row = rows.iter().find(|r| r.source_id.to_string() == customer).context("the customer")?;
    let payload: Value = serde_json::from_str(row.raw.as_ref().context("a payload")?.as_str())?;
    ensure!(text(&payload, "titleId") == other, "the profile's title: {payload}");
    Ok(())
}

/// A payment whose detail is gone (404: deleted since the list was read) leaves its page,
/// and the page's digest is not the one of the page with it; a detail the PMS fails to
/// give fails the whole page with the PMS's answer, so that no row of it lands half-read.
#[tokio::test]
async fn a_detail_gone_leaves_its_page_and_a_detail_failing_fails_it() -> Result<()> {
    use enamel_domain::Batch;
    use enamel_pms::{Page, PageRequest, PmsClient};
    use enamel_sim::{FaultKind, FaultSpec};
    let sim = tenant().await;
    let client = client(&sim);
    let request = |known| PageRequest { offset: 0, since: None, parent: None, known };
    let payments = |page: &Page| -> Vec<String> {
        match page.batches.first() {
            Some(Batch::Payments(rows)) => rows.iter().map(|r| r.source_id.to_string()).collect(),
            _ => Vec::new(),
        }
    };
    let whole = client.fetch("accountpayments", request(None)).await?;
    let listed = payments(&whole);
    let gone = listed.get(1).context("two payments on the first page")?.clone();

    sim.control.inject(FaultSpec::times(FaultKind::NotFound, 1).on(&format!("/api/AccountPayments/{gone}")));
    let holed = client.fetch("accountpayments", request(whole.digest)).await?;
    let expected: Vec<String> = listed.iter().filter(|p| **p != gone).cloned().collect();
    ensure!(payments(&holed) == expected, "the payment whose detail is gone leaves the page");
    ensure!(!holed.keys.contains(&gone) && holed.keys.len() == whole.keys.len() - 1, "{:?}", holed.keys);
    ensure!(holed.fetched == whole.fetched && !holed.same_as_known && holed.digest != whole.digest);
    // Back again: not the page without it.
    let again = client.fetch("accountpayments", request(holed.digest)).await?;
    ensure!(!again.same_as_known && payments(&again) == listed);

    sim.control.inject(FaultSpec::times(FaultKind::ServerError, 10).on(&format!("/api/AccountPayments/{gone}")));
    let failed = client.fetch("accountpayments", request(None)).await;
    ensure!(
        matches!(&failed, Err(PmsError::Unavailable { .. }) | Err(PmsError::Rejected { status: 500, .. })),
        "{failed:?}"
    );
    sim.control.clear_faults();
    let healed = client.fetch("accountpayments", request(None)).await?;
    ensure!(payments(&healed) == listed && healed.digest == whole.digest);
    Ok(())
}
