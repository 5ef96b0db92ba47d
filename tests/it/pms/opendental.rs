//! The Open Dental adapter against the Open Dental simulator: every stream maps, lands in
//! the store with every reference resolved, and throttling, retries and bad rows are
//! handled as the reliability guide asks.

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use enamel_domain::{Batch, Source};
use enamel_pms::limiter::Backoff;
use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
use enamel_pms::{Page, PageRequest, PmsClient, PmsError};
use enamel_sim::{FaultKind, FaultSpec, Mode, PmsKind, SimConfig, SimHandle};
use enamel_store::Store;

use crate::fixtures::practice;
use crate::support::backend_tests;

async fn office(mode: Mode, throttle: Option<Duration>) -> SimHandle {
    let mut config = SimConfig::new(PmsKind::OpenDental);
    config.mode = mode;
    config.throttle = throttle;
    enamel_sim::spawn(config, 0).await.expect("simulator starts")
}

fn client(sim: &SimHandle, mode: OdMode, interval: Duration) -> OdClient {
    let mut config = OdConfig::new(sim.api_url(), "dev-key", "customer-key", mode, chrono_tz::America::New_York);
    config.min_interval = interval;
    config.timeout = Duration::from_secs(5);
    config.backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(200), 5);
    OdClient::new(config).expect("client")
}

/// Every page of a stream.
async fn all_pages(client: &OdClient, stream: &str) -> Vec<Page> {
    let mut pages = Vec::new();
    let mut request = PageRequest::default();
    assert!(request.parent.is_none());
    loop {
        let page = client.fetch(stream, request.clone()).await.unwrap_or_else(|e| panic!("{stream}: {e}"));
        request.offset = page.next_offset;
        let done = page.complete;
        pages.push(page);
        if done {
            return pages;
        }
    }
}

async fn write(store: &Store, p: enamel_domain::PracticeId, batch: &Batch) -> Result<enamel_store::UpsertReport> {
    let source = Source::OpenDental;
    Ok(match batch {
        Batch::Locations(r) => store.upsert(p, source, r).await?,
        Batch::SourceReferences(r) => store.upsert(p, source, r).await?,
        Batch::FeeSchedules(r) => store.upsert(p, source, r).await?,
        Batch::ProcedureCodes(r) => store.upsert(p, source, r).await?,
        Batch::Providers(r) => store.upsert(p, source, r).await?,
        Batch::Operatories(r) => store.upsert(p, source, r).await?,
        Batch::Families(r) => store.upsert(p, source, r).await?,
        Batch::Patients(r) => store.upsert(p, source, r).await?,
        Batch::Appointments(r) => store.upsert(p, source, r).await?,
        Batch::CheckIns(r) => store.upsert(p, source, r).await?,
        Batch::Procedures(r) => store.upsert(p, source, r).await?,
        Batch::Fees(r) => store.upsert(p, source, r).await?,
        Batch::ReferralSources(r) => store.upsert(p, source, r).await?,
        Batch::PatientReferrals(r) => store.upsert(p, source, r).await?,
        Batch::InsuranceCarriers(r) => store.upsert(p, source, r).await?,
        Batch::InsurancePlans(r) => store.upsert(p, source, r).await?,
        Batch::InsuranceSubscribers(r) => store.upsert(p, source, r).await?,
        Batch::PatientPlans(r) => store.upsert(p, source, r).await?,
        Batch::Benefits(r) => store.upsert(p, source, r).await?,
        Batch::Claims(r) => store.upsert(p, source, r).await?,
        Batch::ClaimProcedures(r) => store.upsert(p, source, r).await?,
        Batch::Payments(r) => store.upsert(p, source, r).await?,
        Batch::PaymentAllocations(r) => store.upsert(p, source, r).await?,
        Batch::Commlogs(r) => store.upsert(p, source, r).await?,
        Batch::TreatmentPlans(r) => store.upsert(p, source, r).await?,
        other => anyhow::bail!("the Open Dental adapter does not produce {} yet", other.entity()),
    })
}

backend_tests!(every_stream_lands_with_every_reference_resolved);

async fn every_stream_lands_with_every_reference_resolved(store: Store) -> Result<()> {
    let sim = office(Mode::Local, None).await;
    let client = client(&sim, OdMode::Local, Duration::ZERO);
    let p = practice(&store, "Office").await;
    let counts = sim.control.counts();
    // Streams listed per parent (adjustments per patient…) are walked by the sync engine:
    // see tests/it/sync.
    for spec in client.streams().iter().filter(|s| s.per_parent.is_none()) {
        let pages = all_pages(&client, spec.name).await;
        let fetched: usize = pages.iter().map(|pg| pg.fetched).sum();
        ensure!(fetched == counts[spec.name], "{}: fetched {fetched} of {}", spec.name, counts[spec.name]);
        for page in &pages {
            ensure!(page.quarantined.is_empty(), "{}: {:?}", spec.name, page.quarantined.first().map(|q| &q.reason));
            for batch in &page.batches {
                let report = write(&store, p, batch).await?;
                ensure!(report.rejected.is_empty(), "{} {}: {}", spec.name, batch.entity(), report.rejected[0]);
            }
        }
        // A second pass changes nothing.
        for page in all_pages(&client, spec.name).await {
            for batch in &page.batches {
                let report = write(&store, p, batch).await?;
                ensure!(report.inserted + report.updated == 0, "{}: second pass wrote {report:?}", spec.name);
            }
        }
    }
    ensure!(store.check_references(p).await?.is_empty());
    let patients: Vec<enamel_domain::ids::PatientId> = store.live_ids(p).await?;
    ensure!(patients.len() == counts["patients"]);
    let families: Vec<enamel_domain::ids::FamilyId> = store.live_ids(p).await?;
    ensure!(!families.is_empty() && families.len() < patients.len(), "families group patients");
    Ok(())
}

#[tokio::test]
async fn a_bad_row_is_quarantined_and_the_rest_of_the_page_lands() {
    let sim = office(Mode::Local, None).await;
    let client = client(&sim, OdMode::Local, Duration::ZERO);
    sim.control.inject(FaultSpec::times(FaultKind::WrongType { field: "AptDateTime".into() }, 1));
    let page = client.fetch("appointments", PageRequest::default()).await.expect("page");
    assert_eq!(page.quarantined.len(), 1);
    assert!(page.quarantined[0].reason.contains("AptDateTime"), "{}", page.quarantined[0].reason);
    assert!(page.quarantined[0].source_id.is_some());
    let mapped: usize = page.batches.iter().filter(|b| b.entity() == "appointment").map(Batch::len).sum();
    assert_eq!(mapped + 1, page.fetched);
    sim.control.inject(FaultSpec::times(FaultKind::ExtraFields, 1));
    let page = client.fetch("appointments", PageRequest::default()).await.expect("page");
    assert!(page.quarantined.is_empty(), "unknown fields are kept in the raw payload, not refused");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_and_refusals_are_not() {
    let sim = office(Mode::Local, None).await;
    let client = client(&sim, OdMode::Local, Duration::ZERO);
    sim.control.inject(FaultSpec::times(FaultKind::TooManyRequests { retry_after_secs: 1 }, 1));
    let started = Instant::now();
    client.fetch("clinics", PageRequest::default()).await.expect("retried after Retry-After");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured");
    sim.control.inject(FaultSpec::times(FaultKind::ServerError, 2));
    sim.control.inject(FaultSpec::times(FaultKind::MalformedJson, 1));
    client.fetch("clinics", PageRequest::default()).await.expect("retried with backoff");
    sim.control.inject(FaultSpec::times(FaultKind::GatewayTimeout, 10));
    let exhausted = client.fetch("clinics", PageRequest::default()).await;
    assert!(matches!(exhausted, Err(PmsError::Unavailable { .. })), "{exhausted:?}");
    sim.control.clear_faults();
    let mut config = OdConfig::new(sim.api_url(), "dev-key", "wrong", OdMode::Local, chrono_tz::America::New_York);
    config.backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(1), 5);
    let refused = OdClient::new(config).expect("client").fetch("clinics", PageRequest::default()).await;
    assert_eq!(refused, Err(PmsError::Unauthorized { status: 401 }));
    let statuses: Vec<u16> = sim.control.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn the_limiter_keeps_a_remote_office_from_throttling_us() {
    let sim = office(Mode::Remote, Some(Duration::from_millis(150))).await;
    let client = client(&sim, OdMode::Remote, Duration::from_millis(160));
    let pages = all_pages(&client, "procedurelogs").await;
    assert!(pages.len() >= 4, "100-row pages in Remote mode");
    assert!(sim.control.requests().iter().all(|r| r.status == 200), "no 429 when we pace ourselves");
}

#[tokio::test]
async fn incremental_pages_bring_only_changed_rows() {
    let sim = office(Mode::Local, None).await;
    let client = client(&sim, OdMode::Local, Duration::ZERO);
    let first = client.fetch("appointments", PageRequest::default()).await.expect("page");
    let server_time = first.server_time.expect("appointments carry serverDateTime");
    sim.control.advance(chrono::Duration::minutes(5));
    let changed = sim.control.mutate(3);
    let next = client
        .fetch("appointments", PageRequest { offset: 0, since: Some(server_time), parent: None, known: None })
        .await
        .expect("page");
    assert!(next.fetched >= changed.inserted["appointments"], "{} rows for {changed:?}", next.fetched);
    assert!(next.fetched < first.fetched, "only rows stamped at or after the server time");
    // The bound is inclusive: a row stamped exactly at `serverDateTime` comes back (R2).
    let since_utc = chrono::TimeZone::from_local_datetime(&chrono_tz::America::New_York, &server_time)
        .earliest()
        .expect("valid")
        .to_utc();
    for batch in &next.batches {
        if let Batch::Appointments(rows) = batch {
            assert!(rows.iter().all(|r| r.source_updated_at.is_some_and(|t| t >= since_utc)));
        }
    }
}
