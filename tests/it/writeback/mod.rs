//! The write-back queue against the simulators, on both backends: approval rules,
//! idempotency, conflicts, crash recovery, concurrent executors, retries, confirmation by
//! sync and the audit trail. What reached the PMS is read from the simulator's write log.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use chrono::{DateTime, TimeZone, Utc};
use enamel_domain::enums::{AppointmentStatus, CommDirection, CommMode, PatientStatus};
use enamel_domain::ids::*;
use enamel_domain::writeback::{AppointmentAction, ContactChange, Principal, Proposal, WriteBackState, marker};
use enamel_domain::{PracticeId, Source};
use enamel_pms::PmsWriter;
use enamel_pms::limiter::Backoff;
use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
use enamel_pms::tdental::{TdClient, TdConfig};
use enamel_sim::{FaultKind, FaultSpec, Mode, PmsKind, SimConfig, SimHandle};
use enamel_store::{AppointmentFilter, ListPage, NewConnection, PatientFilter, Sort, Store};
use enamel_sync::{Hooks, SyncConfig, Target, sync_once};
use enamel_writeback::{Config, FailPoint, FixedDirectory, Outcome, ProposeRequest, WriteBackError, WriteBacks};

use crate::support::backend_tests;

mod graphql;

backend_tests!(
    nothing_reaches_the_pms_without_an_approval,
    idempotency_keys_return_the_same_write_back_or_refuse_another_request,
    a_record_changed_after_the_proposal_is_a_conflict_and_nothing_is_written,
    a_crash_after_the_pms_accepted_a_create_recovers_to_exactly_one_record,
    four_executors_apply_a_thousand_write_backs_exactly_once,
    failures_are_retried_with_backoff_then_fail_and_a_late_success_is_not_repeated,
    applied_changes_are_confirmed_by_the_next_sync_and_an_edited_audit_row_is_found,
    tdental_write_backs_apply_and_unsupported_kinds_are_refused_at_proposal,
);

/// A synced simulated office and a queue writing to it.
pub(crate) struct Office {
    pub(crate) sim: SimHandle,
    pub(crate) practice: PracticeId,
    pub(crate) queue: WriteBacks,
    pub(crate) tz: chrono_tz::Tz,
    pub(crate) od: Option<Arc<OdClient>>,
    connection: ConnectionId,
}

pub(crate) fn proposer() -> Principal {
    Principal { id: "api_key:proposer".into(), name: "ai-service".into() }
}

pub(crate) fn approver() -> Principal {
    Principal { id: "api_key:approver".into(), name: "front-desk".into() }
}

/// Fast retries, a short lease, three attempts.
fn test_config() -> Config {
    Config {
        lease: Duration::from_secs(60),
        max_attempts: 3,
        retry_base: Duration::from_millis(1),
        retry_cap: Duration::from_millis(5),
        ..Config::default()
    }
}

/// The queue's clock: the simulator's office clock in UTC, plus the real time elapsed since
/// the test started (so backoff delays pass; advancing the simulator moves it too).
fn clock(sim: &SimHandle, tz: chrono_tz::Tz) -> enamel_writeback::Clock {
    let control = sim.control.clone();
    let started = std::time::Instant::now();
    Arc::new(move || {
        let office = tz.from_local_datetime(&control.now()).earliest().map(|t| t.with_timezone(&Utc));
        office.unwrap_or_else(Utc::now) + chrono::Duration::from_std(started.elapsed()).unwrap_or_default()
    })
}

pub(crate) async fn open_dental(store: &Store) -> Result<Office> {
    open_dental_with(store, test_config(), None).await
}

async fn open_dental_with(store: &Store, config: Config, fail: Option<enamel_writeback::FailHook>) -> Result<Office> {
    let mut sim_config = SimConfig::new(PmsKind::OpenDental);
    sim_config.mode = Mode::Local;
    let sim = enamel_sim::spawn(sim_config, 0).await?;
    let tz = chrono_tz::America::New_York;
    let mut od = OdConfig::new(sim.api_url(), "dev-key", "customer-key", OdMode::Local, tz);
    od.timeout = Duration::from_millis(800);
    od.backoff = Backoff::new(Duration::from_millis(2), Duration::from_millis(10), 3);
    let client = Arc::new(OdClient::new(od)?);
    let practice = crate::fixtures::practice(store, "Write-back office").await;
    let connection = store
        .add_connection(
            practice,
            NewConnection {
                kind: Source::OpenDental,
                base_url: sim.api_url(),
                mode: Some("local".into()),
                credentials: None,
            },
        )
        .await?
        .id;
    let office = Office {
        queue: queue(store, practice, Source::OpenDental, client.clone(), &sim, tz, config, fail),
        sim,
        practice,
        tz,
        od: Some(client),
        connection,
    };
    office.sync(store).await?;
    Ok(office)
}

#[allow(clippy::too_many_arguments)]
fn queue(
    store: &Store,
    practice: PracticeId,
    source: Source,
    writer: Arc<dyn PmsWriter>,
    sim: &SimHandle,
    tz: chrono_tz::Tz,
    config: Config,
    fail: Option<enamel_writeback::FailHook>,
) -> WriteBacks {
    let writers = FixedDirectory(HashMap::from([((practice, source), writer)]));
    let mut q = WriteBacks::new(store.clone(), Arc::new(writers)).with_config(config).with_clock(clock(sim, tz));
    if let Some(hook) = fail {
        q = q.with_fail_hook(hook);
    }
    q
}

impl Office {
    async fn sync(&self, store: &Store) -> Result<()> {
        let client = self.od.as_ref().context("an Open Dental office")?;
        let config = SyncConfig::default();
        let hooks = Hooks::default();
        let target = Target {
            store,
            client: client.as_ref(),
            practice: self.practice,
            connection: self.connection,
            source: Source::OpenDental,
            config: &config,
            hooks: &hooks,
        };
        sync_once(target).await.map_err(|(_, e)| e)?;
        Ok(())
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.tz
            .from_local_datetime(&self.sim.control.now())
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    /// Scheduled appointments in chairs, starting at least a day from now.
    pub(crate) async fn future_appointments(&self, store: &Store, n: usize) -> Result<Vec<AppointmentId>> {
        let filter = AppointmentFilter {
            starts_from: Some(self.now() + chrono::Duration::days(1)),
            statuses: vec![AppointmentStatus::Scheduled],
            ..AppointmentFilter::default()
        };
        let page = ListPage { sort: Sort::<AppointmentId>::by_id(), descending: false, offset: 0, limit: 500 };
        let rows = store.list(self.practice, &filter, page).await?;
        // In a chair, and not yet confirmed (a confirmation must change something).
        let ids: Vec<AppointmentId> = rows
            .into_iter()
            .filter(|a| a.data.operatory_id.is_some())
            .filter(|a| !a.data.confirmation.as_deref().is_some_and(|c| c.eq_ignore_ascii_case("confirmed")))
            .map(|a| a.id)
            .take(n)
            .collect();
        ensure!(ids.len() == n, "the simulator has only {} future appointments", ids.len());
        Ok(ids)
    }

    pub(crate) async fn patients(&self, store: &Store, n: usize) -> Result<Vec<PatientId>> {
        let filter = PatientFilter { statuses: vec![PatientStatus::Active], ..PatientFilter::default() };
        let page = ListPage { sort: Sort::<PatientId>::by_id(), descending: false, offset: 0, limit: n as u64 };
        let ids: Vec<PatientId> = store.list(self.practice, &filter, page).await?.into_iter().map(|p| p.id).collect();
        ensure!(ids.len() == n, "the simulator has only {} active patients", ids.len());
        Ok(ids)
    }

    /// Writes the simulator received, as (method, path, status).
    fn writes(&self) -> Vec<(String, String, u16)> {
        self.sim.control.writes().into_iter().map(|w| (w.method, w.path, w.status)).collect()
    }

    /// Commlogs in the simulator whose note carries `mark`.
    async fn commlogs_marked(&self, mark: &str) -> Result<usize> {
        let rows: Vec<serde_json::Value> = reqwest::Client::new()
            .get(format!("{}/commlogs", self.sim.api_url()))
            .header("Authorization", "ODFHIR dev-key/customer-key")
            .header("Content-Type", "application/json")
            .query(&[("Limit", "100000")])
            .send()
            .await?
            .json()
            .await?;
        Ok(rows.iter().filter(|r| r["Note"].as_str().is_some_and(|n| n.contains(mark))).count())
    }
}

fn request(proposal: Proposal, key: &str) -> ProposeRequest {
    ProposeRequest { proposal, reason: "the patient asked".into(), idempotency_key: key.into(), deadline: None }
}

fn commlog(patient: PatientId, note: &str) -> Proposal {
    Proposal::CommlogCreate {
        patient_id: patient,
        note: note.into(),
        mode: CommMode::Phone,
        direction: CommDirection::Received,
        communicated_at: None,
    }
}

/// A free slot far after the simulated data: `n` hours into day 400.
fn free_slot(office: &Office, n: i64) -> DateTime<Utc> {
    let day = office.now() + chrono::Duration::days(400);
    day.date_naive().and_hms_opt(0, 0, 0).map_or(day, |d| d.and_utc()) + chrono::Duration::hours(n)
}

async fn drain(queue: &WriteBacks, executor: &str) -> Result<Vec<enamel_writeback::Execution>> {
    let mut done = Vec::new();
    while let Some(e) = queue.try_execute_next(executor).await? {
        done.push(e);
    }
    Ok(done)
}

async fn nothing_reaches_the_pms_without_an_approval(store: Store) -> Result<()> {
    let office = open_dental(&store).await?;
    let q = &office.queue;
    let p = office.practice;
    let apts = office.future_appointments(&store, 3).await?;
    let patients = office.patients(&store, 1).await?;

    let move_it = q
        .propose(
            p,
            &proposer(),
            request(
                Proposal::AppointmentReschedule {
                    appointment_id: apts[0],
                    start_at: free_slot(&office, 1),
                    operatory_id: None,
                    provider_id: None,
                },
                "k1",
            ),
        )
        .await?;
    let note = q
        .propose(
            p,
            &proposer(),
            request(Proposal::AppointmentNote { appointment_id: apts[1], note: "Bring x-rays".into() }, "k2"),
        )
        .await?;
    let mut soon = request(commlog(patients[0], "Called about the bill"), "k3");
    soon.deadline = Some(office.now() + chrono::Duration::minutes(1));
    let expiring = q.propose(p, &proposer(), soon).await?;
    let status = q
        .propose(
            p,
            &proposer(),
            request(Proposal::AppointmentStatus { appointment_id: apts[2], action: AppointmentAction::Confirm }, "k4"),
        )
        .await?;
    for w in [&move_it, &note, &expiring, &status] {
        ensure!(w.state == WriteBackState::PendingApproval, "{:?}", w.state);
    }

    // Whatever runs, nothing pending is sent.
    ensure!(drain(q, "executor-a").await?.is_empty());
    ensure!(office.writes().is_empty(), "writes without approval: {:?}", office.writes());

    // The proposer cannot approve (nor reject) their own proposal.
    ensure!(matches!(q.approve(p, &proposer(), move_it.id).await, Err(WriteBackError::Forbidden(_))));
    ensure!(matches!(q.reject(p, &proposer(), move_it.id, "no").await, Err(WriteBackError::Forbidden(_))));

    // Rejected, cancelled and expired write-backs never run.
    let rejected = q.reject(p, &approver(), move_it.id, "the patient called back").await?;
    ensure!(rejected.state == WriteBackState::Rejected);
    let cancelled = q.cancel(p, &proposer(), false, note.id).await?;
    ensure!(cancelled.state == WriteBackState::Cancelled);
    let stranger = Principal { id: "api_key:stranger".into(), name: "other".into() };
    ensure!(matches!(q.cancel(p, &stranger, false, status.id).await, Err(WriteBackError::Forbidden(_))));
    office.sim.control.advance(chrono::Duration::minutes(2));
    ensure!(drain(q, "executor-a").await?.is_empty());
    let expired = q.get(p, expiring.id).await?;
    ensure!(expired.state == WriteBackState::Expired, "{:?}", expired.state);
    for id in [move_it.id, note.id, expiring.id] {
        ensure!(
            matches!(q.approve(p, &approver(), id).await, Err(WriteBackError::Conflict(_))),
            "approved a closed one"
        );
    }
    ensure!(drain(q, "executor-a").await?.is_empty());
    ensure!(office.writes().is_empty(), "writes: {:?}", office.writes());

    // Approved, it runs once, and the trail shows every step.
    let approved = q.approve(p, &approver(), status.id).await?;
    ensure!(approved.state == WriteBackState::Approved && approved.decided_by == Some(approver()));
    ensure!(
        q.approve(p, &approver(), status.id).await?.state == WriteBackState::Approved,
        "approving twice is a no-op"
    );
    let ran = drain(q, "executor-a").await?;
    ensure!(ran.len() == 1 && ran[0].outcome == Outcome::Applied, "{ran:?}");
    let writes = office.writes();
    ensure!(writes.len() == 1 && writes[0].1.ends_with("/Confirm") && writes[0].2 == 200, "{writes:?}");
    let history = store.write_back_history(p, status.id).await?;
    let path: Vec<WriteBackState> = history.iter().map(|h| h.to_state).collect();
    ensure!(
        path == [
            WriteBackState::PendingApproval,
            WriteBackState::Approved,
            WriteBackState::Applying,
            WriteBackState::Applied
        ],
        "{path:?}"
    );
    ensure!(history[1].actor == approver().id && history[0].actor == proposer().id);
    let report = enamel_writeback::verify_audit(&store).await?;
    ensure!(report.broken.is_empty() && report.rows == 10, "{report:?}");
    Ok(())
}

async fn idempotency_keys_return_the_same_write_back_or_refuse_another_request(store: Store) -> Result<()> {
    let office = open_dental(&store).await?;
    let (q, p) = (&office.queue, office.practice);
    let patient = office.patients(&store, 1).await?[0];
    let first = q.propose(p, &proposer(), request(commlog(patient, "Left a message"), "same-key")).await?;
    let again = q.propose(p, &proposer(), request(commlog(patient, "Left a message"), "same-key")).await?;
    ensure!(first.id == again.id && first == again);
    let other = q.propose(p, &proposer(), request(commlog(patient, "Something else"), "same-key")).await;
    ensure!(matches!(other, Err(WriteBackError::Conflict(ref m)) if m.contains("same-key")), "{other:?}");
    // Another caller's key space is its own.
    let theirs = q.propose(p, &approver(), request(commlog(patient, "Something else"), "same-key")).await?;
    ensure!(theirs.id != first.id);

    // Concurrent duplicates: one write-back, identical answers.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(
                async move { q.propose(p, &proposer(), request(commlog(patient, "Concurrent"), "race")).await },
            )
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await??.id);
    }
    ids.dedup();
    ensure!(ids.len() == 1, "{ids:?}");
    let filter = enamel_store::WriteBackFilter::default();
    ensure!(store.count_write_backs(p, &filter).await? == 3);
    ensure!(matches!(
        q.propose(p, &proposer(), request(commlog(patient, "x"), "")).await,
        Err(WriteBackError::Invalid(_))
    ));
    Ok(())
}

async fn a_record_changed_after_the_proposal_is_a_conflict_and_nothing_is_written(store: Store) -> Result<()> {
    let office = open_dental(&store).await?;
    let (q, p) = (&office.queue, office.practice);
    let apt = office.future_appointments(&store, 1).await?[0];
    let proposal = Proposal::AppointmentReschedule {
        appointment_id: apt,
        start_at: free_slot(&office, 2),
        operatory_id: None,
        provider_id: None,
    };
    let wb = q.propose(p, &proposer(), request(proposal, "move")).await?;
    ensure!(wb.base_version.is_some());

    // Someone edits the appointment in the PMS (a minute later).
    office.sim.control.advance(chrono::Duration::minutes(1));
    let key = store.get(p, apt).await?.meta.source_id;
    let edit = reqwest::Client::new()
        .put(format!("{}/appointments/{key}", office.sim.api_url()))
        .header("Authorization", "ODFHIR dev-key/customer-key")
        .json(&serde_json::json!({"Note": "changed at the desk"}))
        .send()
        .await?;
    ensure!(edit.status().is_success());
    let before = office.writes();

    q.approve(p, &approver(), wb.id).await?;
    let ran = drain(q, "executor").await?;
    ensure!(ran.len() == 1 && ran[0].outcome == Outcome::Conflict, "{ran:?}");
    let after = q.get(p, wb.id).await?;
    ensure!(after.state == WriteBackState::Conflict && after.last_error.is_some());
    ensure!(office.writes() == before, "the executor wrote over a change it did not see");
    Ok(())
}

async fn a_crash_after_the_pms_accepted_a_create_recovers_to_exactly_one_record(store: Store) -> Result<()> {
    let crashed = Arc::new(AtomicBool::new(false));
    let once = crashed.clone();
    let hook: enamel_writeback::FailHook =
        Arc::new(move |point, _| point == FailPoint::AfterApply && !once.swap(true, Ordering::SeqCst));
    let office = open_dental_with(&store, test_config(), Some(hook)).await?;
    let (q, p) = (&office.queue, office.practice);
    let patient = office.patients(&store, 1).await?[0];
    let wb = q.propose(p, &proposer(), request(commlog(patient, "Asked for a callback"), "crash")).await?;
    q.approve(p, &approver(), wb.id).await?;

    let first = q.try_execute_next("doomed").await;
    ensure!(matches!(first, Err(WriteBackError::Injected(FailPoint::AfterApply))), "{first:?}");
    ensure!(crashed.load(Ordering::SeqCst));
    ensure!(q.get(p, wb.id).await?.state == WriteBackState::Applying);
    // The lease still holds: no one else touches it.
    ensure!(q.try_execute_next("survivor").await?.is_none());

    // The lease runs out: reconciliation probes before anything is sent again.
    office.sim.control.advance(chrono::Duration::minutes(5));
    let ran = drain(q, "survivor").await?;
    ensure!(ran.len() == 1 && ran[0].outcome == Outcome::AlreadyApplied, "{ran:?}");
    let done = q.get(p, wb.id).await?;
    ensure!(done.state == WriteBackState::Applied && done.result_key.is_some(), "{done:?}");
    let path: Vec<WriteBackState> = store.write_back_history(p, wb.id).await?.iter().map(|h| h.to_state).collect();
    ensure!(path.contains(&WriteBackState::NeedsReconciliation), "{path:?}");
    ensure!(office.commlogs_marked(&marker(wb.id)).await? == 1);
    let posts = office.writes().iter().filter(|w| w.0 == "POST").count();
    ensure!(posts == 1, "{posts} POSTs");
    Ok(())
}

async fn four_executors_apply_a_thousand_write_backs_exactly_once(store: Store) -> Result<()> {
    const N: usize = 1000;
    let office = open_dental(&store).await?;
    let (q, p) = (&office.queue, office.practice);
    let patients = office.patients(&store, 50).await?;
    let mut ids = Vec::with_capacity(N);
    for i in 0..N {
        let wb = q
            .propose(
                p,
                &proposer(),
                request(commlog(patients[i % patients.len()], &format!("Note {i}")), &format!("bulk-{i}")),
            )
            .await?;
        q.approve(p, &approver(), wb.id).await?;
        ids.push(wb.id);
    }
    let executors: Vec<_> = (0..4)
        .map(|n| {
            let q = q.clone();
            tokio::spawn(async move { drain(&q, &format!("executor-{n}")).await })
        })
        .collect();
    let mut by_executor = Vec::new();
    for e in executors {
        by_executor.push(e.await??);
    }
    let attempts: usize = by_executor.iter().map(Vec::len).sum();
    ensure!(attempts == N, "{attempts} attempts for {N} write-backs");
    ensure!(by_executor.iter().filter(|runs| !runs.is_empty()).count() >= 2, "the executors did not share the work");
    let filter = enamel_store::WriteBackFilter { states: vec![WriteBackState::Applied], ..Default::default() };
    ensure!(store.count_write_backs(p, &filter).await? == N as u64);
    let posts: Vec<_> = office.sim.control.writes().into_iter().filter(|w| w.method == "POST").collect();
    ensure!(posts.len() == N && posts.iter().all(|w| w.status == 201), "{} POSTs", posts.len());
    let mut per_marker: BTreeMap<String, usize> = BTreeMap::new();
    for w in &posts {
        let note = w.body["Note"].as_str().unwrap_or_default();
        let start = note.find("[enamel:").context("a marker in every note")?;
        *per_marker.entry(note[start..].to_owned()).or_default() += 1;
    }
    ensure!(per_marker.len() == N && per_marker.values().all(|n| *n == 1));
    ensure!(ids.iter().all(|id| per_marker.contains_key(&marker(*id))));
    ensure!(enamel_writeback::verify_audit(&store).await?.broken.is_empty());
    Ok(())
}

async fn failures_are_retried_with_backoff_then_fail_and_a_late_success_is_not_repeated(store: Store) -> Result<()> {
    let office = open_dental(&store).await?;
    let (q, p) = (&office.queue, office.practice);
    let patients = office.patients(&store, 4).await?;
    let control = &office.sim.control;

    // A server that keeps failing: three attempts, then FAILED with the last error.
    control.inject(FaultSpec::rate(FaultKind::ServerError, 1.0).on("/api/v1/commlogs").method("POST"));
    let doomed = q.propose(p, &proposer(), request(commlog(patients[0], "Never lands"), "doomed")).await?;
    q.approve(p, &approver(), doomed.id).await?;
    let mut outcomes = Vec::new();
    for _ in 0..20 {
        match q.try_execute_next("executor").await? {
            Some(e) => outcomes.push(e.outcome),
            None => tokio::time::sleep(Duration::from_millis(10)).await,
        }
        if outcomes.len() == 3 {
            break;
        }
    }
    ensure!(outcomes == [Outcome::Retry, Outcome::Retry, Outcome::Failed], "{outcomes:?}");
    let failed = q.get(p, doomed.id).await?;
    ensure!(failed.state == WriteBackState::Failed && failed.attempts == 3, "{failed:?}");
    ensure!(failed.last_error.as_deref().is_some_and(|e| e.contains("500")), "{:?}", failed.last_error);
    control.clear_faults();
    tokio::time::sleep(Duration::from_millis(20)).await;
    ensure!(q.try_execute_next("executor").await?.is_none(), "a failed write-back ran again");
    ensure!(office.commlogs_marked(&marker(doomed.id)).await? == 0);

    // One 500, then success: applied on the second attempt.
    control.inject(FaultSpec::times(FaultKind::ServerError, 1).on("/api/v1/commlogs").method("POST"));
    let flaky = q.propose(p, &proposer(), request(commlog(patients[1], "Second time lucky"), "flaky")).await?;
    q.approve(p, &approver(), flaky.id).await?;
    let first = q.try_execute_next("executor").await?.context("due")?;
    ensure!(first.outcome == Outcome::Retry && first.write_back.state == WriteBackState::Approved);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = q.try_execute_next("executor").await?.context("due again")?;
    ensure!(second.outcome == Outcome::Applied && second.write_back.attempts == 2, "{second:?}");
    ensure!(office.commlogs_marked(&marker(flaky.id)).await? == 1);

    // The PMS takes the write but answers after the client gave up: the outcome is unknown,
    // the next attempt probes, finds it and sends nothing.
    control.inject(FaultSpec::times(FaultKind::LateAnswer { millis: 1500 }, 1).on("/api/v1/commlogs").method("POST"));
    let late = q.propose(p, &proposer(), request(commlog(patients[2], "Slow network"), "late")).await?;
    q.approve(p, &approver(), late.id).await?;
    let first = q.try_execute_next("executor").await?.context("due")?;
    ensure!(
        first.outcome == Outcome::Reconcile && first.write_back.state == WriteBackState::NeedsReconciliation,
        "{first:?}"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let second = q.try_execute_next("executor").await?.context("due again")?;
    ensure!(
        second.outcome == Outcome::AlreadyApplied && second.write_back.state == WriteBackState::Applied,
        "{second:?}"
    );
    ensure!(office.commlogs_marked(&marker(late.id)).await? == 1, "the late success was repeated");

    // The PMS refuses the request as invalid: no retry.
    let contact = ContactChange { region: Some("oregon".into()), ..ContactChange::default() };
    let invalid = q
        .propose(
            p,
            &proposer(),
            request(Proposal::PatientContactUpdate { patient_id: patients[3], contact }, "bad-state"),
        )
        .await?;
    q.approve(p, &approver(), invalid.id).await?;
    let refused = q.try_execute_next("executor").await?.context("due")?;
    ensure!(refused.outcome == Outcome::Failed && refused.write_back.attempts == 1, "{refused:?}");
    ensure!(refused.write_back.last_error.as_deref().is_some_and(|e| e.contains("400")), "{refused:?}");
    Ok(())
}

async fn applied_changes_are_confirmed_by_the_next_sync_and_an_edited_audit_row_is_found(store: Store) -> Result<()> {
    let office = open_dental(&store).await?;
    let (q, p) = (&office.queue, office.practice);
    let apt = office.future_appointments(&store, 1).await?[0];
    let patient = office.patients(&store, 1).await?[0];
    let start = free_slot(&office, 5);
    let moved = q
        .propose(
            p,
            &proposer(),
            request(
                Proposal::AppointmentReschedule {
                    appointment_id: apt,
                    start_at: start,
                    operatory_id: None,
                    provider_id: None,
                },
                "move",
            ),
        )
        .await?;
    let contact = ContactChange {
        phone_mobile: Some("(503) 555-0142".into()),
        email: Some("new@example.com".into()),
        ..ContactChange::default()
    };
    let updated = q
        .propose(p, &proposer(), request(Proposal::PatientContactUpdate { patient_id: patient, contact }, "contact"))
        .await?;
    let logged = q.propose(p, &proposer(), request(commlog(patient, "Confirmed the new time"), "log")).await?;
    for w in [&moved, &updated, &logged] {
        q.approve(p, &approver(), w.id).await?;
    }
    ensure!(drain(q, "executor").await?.iter().all(|e| e.outcome == Outcome::Applied));
    ensure!(q.confirm_synced(p).await? == 0, "confirmed before any sync saw the change");

    office.sim.control.advance(chrono::Duration::minutes(1));
    office.sync(&store).await?;
    ensure!(q.confirm_synced(p).await? == 3);
    for w in [&moved, &updated, &logged] {
        ensure!(q.get(p, w.id).await?.state == WriteBackState::Confirmed);
    }
    ensure!(store.get(p, apt).await?.data.start_at == start);

    // The trail verifies; the application cannot edit it; an intruder who can is found.
    let clean = enamel_writeback::verify_audit(&store).await?;
    ensure!(clean.broken.is_empty() && clean.rows == 15, "{clean:?}");
    ensure!(store.execute_sql("UPDATE write_back_audit SET actor = 'mallory' WHERE seq = 2").await.is_err());
    ensure!(store.execute_sql("DELETE FROM write_back_audit WHERE seq = 2").await.is_err());
    let drop_trigger = match store.backend() {
        enamel_store::Backend::Sqlite => "DROP TRIGGER write_back_audit_no_update",
        enamel_store::Backend::Postgres => "DROP TRIGGER write_back_audit_no_update ON write_back_audit",
    };
    store.execute_sql(drop_trigger).await?;
    store.execute_sql("UPDATE write_back_audit SET actor = 'mallory' WHERE seq = 5").await?;
    let report = enamel_writeback::verify_audit(&store).await?;
    ensure!(report.broken.len() == 1 && report.broken[0].seq == 5 && report.broken[0].practice_id == p, "{report:?}");
    Ok(())
}

async fn tdental_write_backs_apply_and_unsupported_kinds_are_refused_at_proposal(store: Store) -> Result<()> {
    let sim = enamel_sim::spawn(SimConfig::new(PmsKind::Tdental), 0).await?;
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    let mut config = TdConfig::new(sim.api_url(), "admin", "admin");
    config.backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(50), 3);
    let control = sim.control.clone();
    config.clock = Arc::new(move || control.now());
    let client = Arc::new(TdClient::new(config)?);
    let practice = store
        .create_practice(enamel_store::NewPractice {
            name: "Nha khoa".into(),
            time_zone: tz,
            currency: enamel_domain::Currency::Vnd,
        })
        .await?
        .id;
    let connection = store
        .add_connection(
            practice,
            NewConnection { kind: Source::Tdental, base_url: sim.api_url(), mode: None, credentials: None },
        )
        .await?
        .id;
    let sync_config = SyncConfig::default();
    let hooks = Hooks::default();
    let target = Target {
        store: &store,
        client: client.as_ref(),
        practice,
        connection,
        source: Source::Tdental,
        config: &sync_config,
        hooks: &hooks,
    };
    sync_once(target).await.map_err(|(_, e)| e)?;
    let q = queue(&store, practice, Source::Tdental, client.clone(), &sim, tz, test_config(), None);
    let office = Office { sim, practice, queue: q.clone(), tz, od: None, connection };
    let p = practice;

    let patient = office.patients(&store, 1).await?[0];
    let branch = *store.live_ids::<LocationId>(p).await?.first().context("a branch")?;
    let refused = q.propose(p, &proposer(), request(commlog(patient, "Gọi điện"), "commlog")).await;
    ensure!(
        matches!(refused, Err(WriteBackError::Invalid(ref m)) if m.contains("TDental") || m.contains("tdental")),
        "{refused:?}"
    );
    let filter = AppointmentFilter {
        starts_from: Some(office.now() + chrono::Duration::days(1)),
        statuses: vec![AppointmentStatus::Scheduled],
        ..AppointmentFilter::default()
    };
    let page = ListPage { sort: Sort::<AppointmentId>::by_id(), descending: false, offset: 0, limit: 3 };
    let apts: Vec<AppointmentId> = store.list(p, &filter, page).await?.into_iter().map(|a| a.id).collect();
    ensure!(apts.len() == 3, "{} future TDental appointments", apts.len());
    let broken = q
        .propose(
            p,
            &proposer(),
            request(Proposal::AppointmentStatus { appointment_id: apts[0], action: AppointmentAction::Break }, "break"),
        )
        .await;
    ensure!(matches!(broken, Err(WriteBackError::Invalid(_))), "{broken:?}");
    ensure!(office.writes().is_empty());

    let proposals = [
        Proposal::AppointmentReschedule {
            appointment_id: apts[0],
            start_at: free_slot(&office, 3),
            operatory_id: None,
            provider_id: None,
        },
        Proposal::AppointmentStatus { appointment_id: apts[1], action: AppointmentAction::Cancel },
        Proposal::AppointmentNote { appointment_id: apts[2], note: "Mang phim X-quang".into() },
        Proposal::PatientContactUpdate {
            patient_id: patient,
            contact: ContactChange { phone_mobile: Some("0901 234 567".into()), ..ContactChange::default() },
        },
        Proposal::AppointmentCreate {
            patient_id: patient,
            start_at: free_slot(&office, 6),
            duration_minutes: 30,
            operatory_id: None,
            provider_id: None,
            location_id: Some(branch),
            note: Some("Khám định kỳ".into()),
        },
    ];
    for (i, proposal) in proposals.into_iter().enumerate() {
        let wb = q.propose(p, &proposer(), request(proposal, &format!("td-{i}"))).await?;
        q.approve(p, &approver(), wb.id).await?;
    }
    let ran = drain(&q, "executor").await?;
    ensure!(ran.len() == 5 && ran.iter().all(|e| e.outcome == Outcome::Applied), "{ran:?}");
    let writes = office.writes();
    ensure!(writes.len() == 5 && writes.iter().all(|w| (200..300).contains(&w.2)), "{writes:?}");
    Ok(())
}
