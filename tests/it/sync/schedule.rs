//! The scheduler (leases per connection and stream) against the Open Dental simulator, on
//! both backends: replicas sharing a store never sync one stream at once (the simulator's
//! request log, tagged per pass, shows it), a dead holder's stream is taken over once its
//! lease lapses, and a stop abandons the pass resumably.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use enamel_domain::SyncRunStatus;
use enamel_sim::{FaultKind, FaultSpec};
use enamel_store::Store;
use enamel_sync::{Hooks, PassEnd, Schedule, Scheduled, Scheduler, SchedulerFailPoint, SyncConfig, sync_once};
use tokio::sync::watch;

use super::{client, connected, office, target};
use crate::support::backend_tests;

backend_tests!(
    replicas_never_sync_one_stream_at_once_and_the_store_equals_the_office,
    a_dead_holders_stream_is_taken_over_once_its_lease_lapses,
    a_stop_abandons_the_pass_and_the_next_holder_resumes_it,
);

fn replica(store: &Store, name: &str, lease: Duration) -> Scheduler {
    let mut s = Scheduler::new(store.clone(), name);
    s.schedule = Schedule { every: Duration::ZERO, lease, ..Schedule::default() };
    s
}

/// Every stream equals the office: a full pass fetches what the simulator has and changes
/// nothing.
async fn equals_the_office(store: &Store, scheduled: &Scheduled, sim: &enamel_sim::SimHandle) -> Result<()> {
    let client = client(sim);
    let config = SyncConfig { full: true, ..SyncConfig::default() };
    let hooks = Hooks::default();
    let check = target(store, &client, scheduled.practice, scheduled.connection, &config, &hooks);
    let outcomes = sync_once(check).await.map_err(|(_, e)| e)?;
    let counts = sim.control.counts();
    for o in &outcomes {
        let c = o.counts;
        ensure!(c.fetched as usize == counts[&o.stream], "{}: {c:?} against {}", o.stream, counts[&o.stream]);
        ensure!(c.inserted + c.updated + c.deleted + c.quarantined == 0, "{}: {c:?}", o.stream);
    }
    ensure!(store.check_references(scheduled.practice).await?.is_empty());
    Ok(())
}

async fn scheduled(store: &Store, sim: &enamel_sim::SimHandle) -> Result<Scheduled> {
    let (practice, connection) = connected(store, "Office").await?;
    Ok(Scheduled { practice, connection, source: enamel_domain::Source::OpenDental, client: Arc::new(client(sim)) })
}

async fn replicas_never_sync_one_stream_at_once_and_the_store_equals_the_office(store: Store) -> Result<()> {
    let sim = office().await;
    let mine = scheduled(&store, &sim).await?;
    let (_stop, stopped) = watch::channel(false);
    // Two replicas, each with its own client (its own limiter), stepping at once.
    let replicas = ["replica-a", "replica-b"].map(|name| {
        let scheduler = replica(&store, name, Duration::from_secs(5));
        let connection = Scheduled { client: Arc::new(client(&sim)), ..mine.clone() };
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let mut passes = 0;
            for _ in 0..200 {
                let report = scheduler.step(std::slice::from_ref(&connection), &stopped).await;
                passes += report.ran.len();
                if passes >= 60 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            passes
        })
    });
    let mut passes = Vec::new();
    for r in replicas {
        passes.push(r.await?);
    }
    ensure!(passes.iter().all(|p| *p > 0), "both replicas synced: {passes:?}");
    // Each pass's requests span an interval; passes of one stream never overlap.
    let mut spans: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for r in sim.control.requests() {
        let tag = r.tag.context("every sync request carries its pass's tag")?;
        let mut parts = tag.splitn(3, '/');
        let (holder, stream) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default().to_owned());
        let span = spans.entry((stream, tag.clone())).or_insert((r.started_ms, r.finished_ms));
        span.0 = span.0.min(r.started_ms);
        span.1 = span.1.max(r.finished_ms);
        ensure!(holder.starts_with("replica-"), "{tag}");
    }
    let holders: std::collections::HashSet<&str> = spans.keys().filter_map(|(_, tag)| tag.split('/').next()).collect();
    ensure!(holders.len() == 2, "both replicas sent requests: {holders:?}");
    let all: Vec<_> = spans.iter().collect();
    for (i, ((stream, tag), (from, to))) in all.iter().enumerate() {
        for ((other_stream, other_tag), (other_from, other_to)) in &all[i + 1..] {
            if stream == other_stream {
                ensure!(
                    to < other_from || other_to < from,
                    "{stream}: {tag} [{from}, {to}] overlaps {other_tag} [{other_from}, {other_to}]"
                );
            }
        }
    }
    for lease in store.sync_leases(Some(mine.connection)).await? {
        ensure!(lease.holder.is_none() && lease.last_success_at.is_some(), "{lease:?}");
    }
    equals_the_office(&store, &mine, &sim).await
}

async fn a_dead_holders_stream_is_taken_over_once_its_lease_lapses(store: Store) -> Result<()> {
    let sim = office().await;
    let mine = scheduled(&store, &sim).await?;
    let (_stop, stopped) = watch::channel(false);
    let lease = Duration::from_secs(2);
    let mut a = replica(&store, "replica-a", lease);
    a.schedule.every = Duration::from_secs(3600);
    a.fail = Some(Arc::new(|point, stream| point == SchedulerFailPoint::AfterAcquire && stream == "patients"));
    let died = a.step(std::slice::from_ref(&mine), &stopped).await;
    let last = died.ran.last().context("a ran")?;
    ensure!(last.stream == "patients" && last.end == PassEnd::Died(SchedulerFailPoint::AfterAcquire), "{died:?}");
    let streams: Vec<&str> = mine.client.streams().iter().map(|s| s.name).collect();
    let before = streams.iter().position(|s| *s == "patients").context("patients")?;
    ensure!(died.ran.len() == before + 1, "a synced the streams before patients: {died:?}");

    let mut b = replica(&store, "replica-b", lease);
    b.schedule.every = Duration::from_secs(3600);
    let waiting = b.step(std::slice::from_ref(&mine), &stopped).await;
    ensure!(waiting.ran.is_empty(), "b waits while a's lease holds: {waiting:?}");
    ensure!(waiting.held_elsewhere == vec![(mine.connection, "patients".to_owned())], "{waiting:?}");

    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    let took_over = b.step(std::slice::from_ref(&mine), &stopped).await;
    ensure!(took_over.ran.first().is_some_and(|r| r.stream == "patients"), "{took_over:?}");
    ensure!(took_over.ran.len() == streams.len() - before, "b synced patients and what follows: {took_over:?}");
    ensure!(took_over.ran.iter().all(|r| matches!(r.end, PassEnd::Completed(_))), "{took_over:?}");
    equals_the_office(&store, &mine, &sim).await
}

async fn a_stop_abandons_the_pass_and_the_next_holder_resumes_it(store: Store) -> Result<()> {
    let sim = office().await;
    let mine = scheduled(&store, &sim).await?;
    // Slow pages of patients, committed one by one: the stop comes after the first.
    sim.control.inject(FaultSpec::rate(FaultKind::Slow { millis: 500 }, 1.0).on("/api/v1/patients"));
    let (stop, stopped) = watch::channel(false);
    let mut a = replica(&store, "replica-a", Duration::from_secs(30));
    a.config.pages_per_unit = 1;
    a.config.rows_per_transaction = 0;
    let step = tokio::spawn({
        let (a, mine) = (a.clone(), mine.clone());
        async move { a.step(std::slice::from_ref(&mine), &stopped).await }
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let saved = store.checkpoint(mine.practice, mine.connection, "patients").await?;
        if saved.is_some_and(|c| c.progress.is_some()) {
            break;
        }
        ensure!(tokio::time::Instant::now() < deadline, "no page of patients was committed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = tokio::time::Instant::now();
    stop.send(true)?;
    let report = step.await?;
    ensure!(asked.elapsed() < Duration::from_secs(2), "the step stopped at once: {:?}", asked.elapsed());
    let last = report.ran.last().context("ran")?;
    ensure!(last.stream == "patients" && last.end == PassEnd::Stopped, "{report:?}");
    let lease = store
        .sync_leases(Some(mine.connection))
        .await?
        .into_iter()
        .find(|l| l.stream == "patients")
        .context("patients lease")?;
    ensure!(lease.holder.is_none() && lease.is_due(chrono::Utc::now()), "released and due: {lease:?}");
    let runs = store.sync_runs(mine.practice, 200).await?;
    let interrupted = runs.iter().find(|r| r.stream == "patients").context("a patients run")?;
    ensure!(
        interrupted.status == SyncRunStatus::Failed
            && interrupted.error.as_deref().is_some_and(|e| e.contains("shutting down")),
        "{interrupted:?}"
    );
    ensure!(store.checkpoint(mine.practice, mine.connection, "patients").await?.is_some(), "pages were committed");

    sim.control.clear_faults();
    let (_stop, stopped) = watch::channel(false);
    let mut b = replica(&store, "replica-b", Duration::from_secs(30));
    b.config.pages_per_unit = 1;
    let resumed = b.step(std::slice::from_ref(&mine), &stopped).await;
    let patients = resumed.ran.iter().find(|r| r.stream == "patients").context("b ran patients")?;
    ensure!(matches!(&patients.end, PassEnd::Completed(o) if o.resumed), "resumed from the checkpoint: {patients:?}");
    equals_the_office(&store, &mine, &sim).await
}
