//! The sync engine against the Open Dental simulator, on both backends.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use enamel_domain::ids::*;
use enamel_domain::{PracticeId, Source, SyncRunStatus};
use enamel_pms::PmsClient;
use enamel_pms::limiter::Backoff;
use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
use enamel_sim::{FaultKind, FaultSpec, Mode, PmsKind, SimConfig, SimHandle};
use enamel_store::{NewConnection, Store};
use enamel_sync::{FailHook, FailPoint, Hooks, SyncConfig, Target, sync_once};

use crate::fixtures::practice;
use crate::support::backend_tests;

mod schedule;

/// A Remote-mode office (100-row pages) whose throttle the client respects.
async fn office() -> SimHandle {
    let mut config = SimConfig::new(PmsKind::OpenDental);
    config.mode = Mode::Remote;
    config.throttle = Some(Duration::from_millis(1));
    enamel_sim::spawn(config, 0).await.expect("simulator starts")
}

fn client(sim: &SimHandle) -> OdClient {
    let mut config =
        OdConfig::new(sim.api_url(), "dev-key", "customer-key", OdMode::Remote, chrono_tz::America::New_York);
    config.min_interval = Duration::from_millis(2);
    config.backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(50), 5);
    OdClient::new(config).expect("client")
}

async fn connected(store: &Store, name: &str) -> Result<(PracticeId, ConnectionId)> {
    let p = practice(store, name).await;
    let c = store
        .add_connection(
            p,
            NewConnection {
                kind: Source::OpenDental,
                base_url: "http://sim".into(),
                mode: Some("remote".into()),
                credentials: None,
            },
        )
        .await?;
    Ok((p, c.id))
}

fn target<'a>(
    store: &'a Store,
    client: &'a OdClient,
    practice: PracticeId,
    connection: ConnectionId,
    config: &'a SyncConfig,
    hooks: &'a Hooks,
) -> Target<'a> {
    Target { store, client, practice, connection, source: Source::OpenDental, config, hooks }
}

/// Every table the Open Dental streams fill, as (key, hash, deleted) per row.
async fn fingerprint(store: &Store, p: PracticeId) -> Result<Vec<Vec<(String, i64, bool)>>> {
    let s = Source::OpenDental;
    Ok(vec![
        store.fingerprint::<LocationId>(p, s).await?,
        store.fingerprint::<SourceReferenceId>(p, s).await?,
        store.fingerprint::<FeeScheduleId>(p, s).await?,
        store.fingerprint::<ProcedureCodeId>(p, s).await?,
        store.fingerprint::<ProviderId>(p, s).await?,
        store.fingerprint::<OperatoryId>(p, s).await?,
        store.fingerprint::<FamilyId>(p, s).await?,
        store.fingerprint::<PatientId>(p, s).await?,
        store.fingerprint::<AppointmentId>(p, s).await?,
        store.fingerprint::<CheckInId>(p, s).await?,
        store.fingerprint::<ProcedureId>(p, s).await?,
        store.fingerprint::<FeeId>(p, s).await?,
        store.fingerprint::<ReferralSourceId>(p, s).await?,
        store.fingerprint::<PatientReferralId>(p, s).await?,
        store.fingerprint::<InsuranceCarrierId>(p, s).await?,
        store.fingerprint::<InsurancePlanId>(p, s).await?,
        store.fingerprint::<InsuranceSubscriberId>(p, s).await?,
        store.fingerprint::<PatientPlanId>(p, s).await?,
        store.fingerprint::<BenefitId>(p, s).await?,
        store.fingerprint::<TreatmentPlanId>(p, s).await?,
        store.fingerprint::<ClaimId>(p, s).await?,
        store.fingerprint::<ClaimProcedureId>(p, s).await?,
        store.fingerprint::<PaymentId>(p, s).await?,
        store.fingerprint::<PaymentAllocationId>(p, s).await?,
        store.fingerprint::<CommlogId>(p, s).await?,
        store.fingerprint::<AdjustmentId>(p, s).await?,
        store.fingerprint::<TreatmentPlanItemId>(p, s).await?,
    ])
}

backend_tests!(
    a_first_sync_copies_the_office_and_a_second_changes_nothing,
    a_crash_at_any_failure_point_resumes_to_the_same_store,
    changes_in_the_pms_reach_the_store_incrementally,
    a_mass_deletion_is_refused_and_changes_nothing,
    bad_rows_are_quarantined_with_their_reason,
    unchanged_pages_are_taken_as_remembered_and_change_nothing,
    streams_side_by_side_land_like_streams_one_at_a_time,
    remembered_pages_are_taken_many_to_a_unit,
);

async fn a_first_sync_copies_the_office_and_a_second_changes_nothing(store: Store) -> Result<()> {
    let sim = office().await;
    let client = client(&sim);
    let (p, c) = connected(&store, "Office").await?;
    let config = SyncConfig::default();
    let first = sync_once(target(&store, &client, p, c, &config, &Hooks::default())).await.map_err(|(_, e)| e)?;
    let counts = sim.control.counts();
    for outcome in &first {
        ensure!(outcome.counts.fetched as usize == counts[&outcome.stream], "{}: {:?}", outcome.stream, outcome.counts);
        ensure!(outcome.counts.quarantined == 0, "{}: {:?}", outcome.stream, outcome.counts);
    }
    ensure!(store.check_references(p).await?.is_empty());
    let second = sync_once(target(&store, &client, p, c, &config, &Hooks::default())).await.map_err(|(_, e)| e)?;
    for outcome in &second {
        ensure!(
            outcome.counts.inserted + outcome.counts.updated + outcome.counts.deleted == 0,
            "{}: {:?}",
            outcome.stream,
            outcome.counts
        );
    }
    let runs = store.sync_runs(p, 100).await?;
    ensure!(runs.len() == 2 * client.streams().len() && runs.iter().all(|r| r.status == SyncRunStatus::Succeeded));
    Ok(())
}

async fn a_crash_at_any_failure_point_resumes_to_the_same_store(store: Store) -> Result<()> {
    let sim = office().await;
    let client = client(&sim);
    // One page (ten parents) per unit and per transaction: many of them, so crashes fall
    // mid-pass.
    let config =
        SyncConfig { pages_per_unit: 1, parents_per_unit: 10, rows_per_transaction: 0, ..SyncConfig::default() };
    let (clean, clean_conn) = connected(&store, "Clean").await?;
    sync_once(target(&store, &client, clean, clean_conn, &config, &Hooks::default())).await.map_err(|(_, e)| e)?;
    let want = fingerprint(&store, clean).await?;
    for point in [FailPoint::BeforeFetch, FailPoint::AfterFetch, FailPoint::AfterWrite, FailPoint::AfterCommit] {
        for (stream, page) in [
            ("patients", 1),
            ("procedurelogs", 2),
            ("clinics", 0),
            ("claimprocs", 1),
            ("commlogs", 0),
            ("adjustments", 1),
            ("proctps", 0),
        ] {
            let (p, c) = connected(&store, &format!("{point:?} {stream} {page}")).await?;
            let hook: FailHook = Arc::new(move |at, s, n| at == point && s == stream && n == page);
            let hooks = Hooks { fail: Some(hook), on_page: None };
            let crashed = sync_once(target(&store, &client, p, c, &config, &hooks)).await;
            let (_, error) = crashed.err().context("the injected failure stops the sync")?;
            ensure!(matches!(error, enamel_sync::SyncError::Injected { .. }), "{error}");
            sync_once(target(&store, &client, p, c, &config, &Hooks::default())).await.map_err(|(_, e)| e)?;
            ensure!(
                fingerprint(&store, p).await? == want,
                "{point:?} at {stream} page {page}: the store differs from a clean sync"
            );
            ensure!(store.check_references(p).await?.is_empty());
        }
    }
    Ok(())
}

async fn changes_in_the_pms_reach_the_store_incrementally(store: Store) -> Result<()> {
    let sim = office().await;
    let client = client(&sim);
    // A small office: five deletions are a large share of a small table.
    let config = SyncConfig { max_delete_share: 0.5, ..SyncConfig::default() };
    let (p, c) = connected(&store, "Office").await?;
    sync_once(target(&store, &client, p, c, &config, &Hooks::default())).await.map_err(|(_, e)| e)?;
    let before: Vec<AppointmentId> = store.live_ids(p).await?;
    sim.control.advance(chrono::Duration::minutes(30));
    let changed = sim.control.mutate(5);
    let outcomes = sync_once(target(&store, &client, p, c, &config, &Hooks::default())).await.map_err(|(_, e)| e)?;
    let of = |stream: &str| outcomes.iter().find(|o| o.stream == stream).map(|o| o.counts).unwrap_or_default();
    ensure!(
        of("appointments").fetched < sim.control.counts()["appointments"] as u64,
        "an incremental pass reads only changes"
    );
    ensure!(of("appointments").updated > 0, "{:?}", of("appointments"));
    let after: Vec<AppointmentId> = store.live_ids(p).await?;
    let (inserted, deleted) = (changed.inserted["appointments"], changed.deleted["appointments"]);
    ensure!(
        after.len() == before.len() + inserted - deleted,
        "appointments: {} + {inserted} - {deleted} ≠ {}",
        before.len(),
        after.len()
    );
    ensure!(after.len() == sim.control.counts()["appointments"], "the store has exactly the PMS's appointments");
    // Deleted appointments come from the appointment history.
    ensure!(of("histappointments").deleted as usize == deleted, "{:?}", of("histappointments"));
    // Hard deletes in the PMS become soft deletes after a complete pass.
    for (stream, table) in [("paysplits", "paysplits"), ("commlogs", "commlogs"), ("refattaches", "refattaches")] {
        ensure!(of(stream).deleted as usize == changed.deleted[table], "{stream}: {:?} vs {changed:?}", of(stream));
    }
    let paysplits: Vec<PaymentAllocationId> = store.live_ids(p).await?;
    ensure!(paysplits.len() == sim.control.counts()["paysplits"]);
    ensure!(store.check_references(p).await?.is_empty());
    Ok(())
}

async fn a_mass_deletion_is_refused_and_changes_nothing(store: Store) -> Result<()> {
    let sim = office().await;
    let client = client(&sim);
    let (p, c) = connected(&store, "Office").await?;
    sync_once(target(&store, &client, p, c, &SyncConfig::default(), &Hooks::default())).await.map_err(|(_, e)| e)?;
    let before: Vec<PatientReferralId> = store.live_ids(p).await?;
    sim.control.mutate(5); // deletes 5 of the ~15 referral attachments: over the 20 % guard
    let (done, error) = sync_once(target(&store, &client, p, c, &SyncConfig::default(), &Hooks::default()))
        .await
        .err()
        .context("the guard stops the sync")?;
    ensure!(matches!(error, enamel_sync::SyncError::MassDelete { .. }), "{error}");
    ensure!(done.iter().all(|o| o.stream != "refattaches"));
    let after: Vec<PatientReferralId> = store.live_ids(p).await?;
    ensure!(after == before, "a refused reconciliation deletes nothing");
    let failed = store
        .sync_runs(p, 100)
        .await?
        .into_iter()
        .find(|r| r.stream == "refattaches" && r.status == SyncRunStatus::Failed);
    ensure!(failed.is_some_and(|r| r.error.is_some_and(|e| e.contains("refusing to delete"))), "the run records why");
    Ok(())
}

async fn bad_rows_are_quarantined_with_their_reason(store: Store) -> Result<()> {
    let sim = office().await;
    let client = client(&sim);
    let config = SyncConfig::default();
    let (p, c) = connected(&store, "Office").await?;
    sim.control
        .inject(FaultSpec::times(FaultKind::WrongType { field: "AptDateTime".into() }, 1).on("/api/v1/appointments"));
    let outcomes = sync_once(target(&store, &client, p, c, &config, &Hooks::default())).await.map_err(|(_, e)| e)?;
    let appointments = outcomes.iter().find(|o| o.stream == "appointments").context("appointments")?;
    ensure!(appointments.counts.quarantined == 1, "{:?}", appointments.counts);
    let quarantined = store.quarantined(p, 100).await?;
    let bad = quarantined.iter().find(|q| q.stream == "appointments").context("the bad appointment")?;
    ensure!(bad.reason.contains("AptDateTime") && bad.resolved_at.is_none(), "{bad:?}");
    // A pass looks for stored keys in the quarantine only where it holds some of its stream's.
    ensure!(store.has_unresolved_quarantine(p, c, "appointments").await?);
    ensure!(!store.has_unresolved_quarantine(p, c, "patients").await?);
    // Its procedures cannot land without it: quarantined too, saying why; the rest landed.
    let dependents: Vec<_> = quarantined.iter().filter(|q| q.stream == "procedurelogs").collect();
    ensure!(
        dependents
            .iter()
            .all(|q| q.reason.contains(&format!("appointment {} which is not in the store", bad.source_id)))
    );
    let procedures = outcomes.iter().find(|o| o.stream == "procedurelogs").context("procedurelogs")?;
    ensure!(procedures.counts.inserted as usize + dependents.len() == sim.control.counts()["procedurelogs"]);
    ensure!(store.check_references(p).await?.is_empty());
    // The fault is over: a full pass reads the pages that held refused rows again (they
    // were not remembered), and every row lands.
    let full = SyncConfig { full: true, ..SyncConfig::default() };
    sync_once(target(&store, &client, p, c, &full, &Hooks::default())).await.map_err(|(_, e)| e)?;
    ensure!(store.quarantined(p, 100).await?.iter().all(|q| q.resolved_at.is_some()), "every refusal resolved");
    ensure!(!store.has_unresolved_quarantine(p, c, "appointments").await?);
    let stored: Vec<ProcedureId> = store.live_ids(p).await?;
    ensure!(stored.len() == sim.control.counts()["procedurelogs"]);
    Ok(())
}

/// What two practices synced from one office hold, table by table, without the practice.
async fn same_rows(store: &Store, a: PracticeId, b: PracticeId) -> Result<()> {
    let (a, b) = (fingerprint(store, a).await?, fingerprint(store, b).await?);
    for (table, (a, b)) in a.iter().zip(&b).enumerate() {
        ensure!(a == b, "table {table} differs: {} vs {} rows", a.len(), b.len());
    }
    Ok(())
}

async fn unchanged_pages_are_taken_as_remembered_and_change_nothing(store: Store) -> Result<()> {
    let sim = office().await;
    let client = client(&sim);
    let config = SyncConfig { max_delete_share: 0.5, ..SyncConfig::default() };
    let full = SyncConfig { full: true, ..config.clone() };
    let reread = SyncConfig { reuse_unchanged_pages: false, ..full.clone() };
    let (p, c) = connected(&store, "Remembers").await?;
    let (q, d) = connected(&store, "Rereads").await?;
    sync_once(target(&store, &client, p, c, &config, &Hooks::default())).await.map_err(|(_, e)| e)?;
    sync_once(target(&store, &client, q, d, &config, &Hooks::default())).await.map_err(|(_, e)| e)?;
    // Nothing changed, the clock moved: every page of a full pass is taken as remembered,
    // its rows counted as fetched and unchanged.
    sim.control.advance(chrono::Duration::minutes(30));
    let again = sync_once(target(&store, &client, p, c, &full, &Hooks::default())).await.map_err(|(_, e)| e)?;
    let counts = sim.control.counts();
    for o in &again {
        ensure!(o.counts.fetched as usize == counts[&o.stream], "{}: {:?}", o.stream, o.counts);
        ensure!(o.counts.unchanged == o.counts.fetched, "{}: {:?}", o.stream, o.counts);
        ensure!(o.pages_reused > 0, "{}: no page taken as remembered", o.stream);
    }
    // The office changes (edits, inserts, hard deletes across the streams): pages that
    // changed are read in full, the rest taken as remembered, and the store ends exactly
    // like one that read every row.
    sim.control.advance(chrono::Duration::minutes(30));
    sim.control.mutate(5);
    let changed = sync_once(target(&store, &client, p, c, &full, &Hooks::default())).await.map_err(|(_, e)| e)?;
    sync_once(target(&store, &client, q, d, &reread, &Hooks::default())).await.map_err(|(_, e)| e)?;
    same_rows(&store, p, q).await?;
    let written: u64 = changed.iter().map(|o| o.counts.inserted + o.counts.updated + o.counts.deleted).sum();
    let reused: usize = changed.iter().map(|o| o.pages_reused).sum();
    ensure!(written > 0 && reused > 0, "{written} rows written, {reused} pages reused");
    // Appointments the history reports deleted: the appointment pages that may list them
    // are forgotten, to be read in full next time.
    ensure!(store.page_memos(p, c, "appointments").await?.is_empty());
    ensure!(!store.page_memos(p, c, "claimprocs").await?.is_empty());
    // And once more, nothing changed: nothing is written.
    let quiet = sync_once(target(&store, &client, p, c, &full, &Hooks::default())).await.map_err(|(_, e)| e)?;
    for o in &quiet {
        ensure!(o.counts.inserted + o.counts.updated + o.counts.deleted == 0, "{}: {:?}", o.stream, o.counts);
    }
    same_rows(&store, p, q).await?;
    ensure!(store.check_references(p).await?.is_empty());
    Ok(())
}

async fn remembered_pages_are_taken_many_to_a_unit(store: Store) -> Result<()> {
    let sim = office().await;
    let client = client(&sim);
    // Small units: one 100-row page of an ordinary stream, two parents of a per-parent one.
    let small = SyncConfig {
        max_delete_share: 0.5,
        pages_per_unit: 1,
        rows_per_unit: usize::MAX,
        parents_per_unit: 2,
        ..SyncConfig::default()
    };
    let full = SyncConfig { full: true, ..small.clone() };
    let reread = SyncConfig { reuse_unchanged_pages: false, ..full.clone() };
    let (p, c) = connected(&store, "Remembers").await?;
    let (q, d) = connected(&store, "Rereads").await?;
    let first = sync_once(target(&store, &client, p, c, &small, &Hooks::default())).await.map_err(|(_, e)| e)?;
    sync_once(target(&store, &client, q, d, &small, &Hooks::default())).await.map_err(|(_, e)| e)?;
    // Nothing changed: a unit goes on taking pages (parents) while they are remembered
    // unchanged, so a pass takes far fewer units (transactions) than the first one did.
    sim.control.advance(chrono::Duration::minutes(30));
    let again = sync_once(target(&store, &client, p, c, &full, &Hooks::default())).await.map_err(|(_, e)| e)?;
    let units = |outcomes: &[enamel_sync::StreamOutcome], stream: &str| {
        outcomes.iter().find(|o| o.stream == stream).map_or(0, |o| o.pages)
    };
    let counts = sim.control.counts();
    for (stream, listed) in [("procedurelogs", counts["procedurelogs"] / 100), ("adjustments", counts["patients"] / 2)]
    {
        let (before, after) = (units(&first, stream), units(&again, stream));
        ensure!(before >= listed && listed >= 5, "{stream}: {before} units for {listed} pages or parent pairs");
        ensure!(after * 4 <= before, "{stream}: {before} units, then {after} over remembered pages");
    }
    for o in &again {
        ensure!(o.counts.unchanged == o.counts.fetched, "{}: {:?}", o.stream, o.counts);
        ensure!(o.counts.fetched as usize == counts[&o.stream], "{}: {:?}", o.stream, o.counts);
    }
    // The office changes: a unit stops growing at the first page read in full, and the
    // store ends exactly like one that read every row.
    sim.control.advance(chrono::Duration::minutes(30));
    sim.control.mutate(5);
    let changed = sync_once(target(&store, &client, p, c, &full, &Hooks::default())).await.map_err(|(_, e)| e)?;
    sync_once(target(&store, &client, q, d, &reread, &Hooks::default())).await.map_err(|(_, e)| e)?;
    let written: u64 = changed.iter().map(|o| o.counts.inserted + o.counts.updated + o.counts.deleted).sum();
    ensure!(written > 0, "the changes were written");
    same_rows(&store, p, q).await?;
    ensure!(store.check_references(p).await?.is_empty());
    Ok(())
}

async fn streams_side_by_side_land_like_streams_one_at_a_time(store: Store) -> Result<()> {
    let sim = office().await;
    let client = client(&sim);
    let one = SyncConfig { max_delete_share: 0.5, streams_at_once: Some(1), ..SyncConfig::default() };
    let four = SyncConfig { streams_at_once: Some(4), ..one.clone() };
    let (p, c) = connected(&store, "One at a time").await?;
    let (q, d) = connected(&store, "Four at a time").await?;
    // Four streams at once: each still starts after the streams whose rows it refers to,
    // so no row is refused for a parent that has not landed yet.
    for config in [&one, &four] {
        let (practice, connection) = if config.streams_at_once == Some(1) { (p, c) } else { (q, d) };
        let outcomes = sync_once(target(&store, &client, practice, connection, config, &Hooks::default()))
            .await
            .map_err(|(_, e)| e)?;
        ensure!(outcomes.len() == client.streams().len(), "every stream ran once");
        let names: Vec<&str> = outcomes.iter().map(|o| o.stream.as_str()).collect();
        let declared: Vec<&str> = client.streams().iter().map(|s| s.name).collect();
        ensure!(names == declared, "outcomes in declared order: {names:?}");
        for o in &outcomes {
            ensure!(o.counts.quarantined == 0, "{}: {:?}", o.stream, o.counts);
        }
    }
    same_rows(&store, p, q).await?;
    ensure!(store.check_references(q).await?.is_empty());
    // And after the office changes, incremental passes side by side too.
    sim.control.advance(chrono::Duration::minutes(30));
    sim.control.mutate(5);
    sync_once(target(&store, &client, p, c, &one, &Hooks::default())).await.map_err(|(_, e)| e)?;
    sync_once(target(&store, &client, q, d, &four, &Hooks::default())).await.map_err(|(_, e)| e)?;
    same_rows(&store, p, q).await?;
    ensure!(store.check_references(q).await?.is_empty());
    Ok(())
}
