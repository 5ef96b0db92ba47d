//! The scheduler: runs each (connection, stream) when it is due, under a lease, so that any
//! number of replicas over one database sync every stream and never one stream twice at once.
//!
//! [`Scheduler::step`] is the step function (tests drive it; `enamel serve` loops over it):
//! for each connection, the streams in dependency order; a stream runs when it is due and
//! its lease can be taken. Until a stream has completed a first pass, the streams after it
//! wait for it (they depend on it); afterwards a stream another replica is syncing, or one
//! whose pass failed, is skipped and the walk goes on (a row whose parent has not landed
//! yet is refused and read again next pass, so later streams never need to wait).
//! While a pass runs the lease is renewed every third of its length; a pass whose lease
//! could not be renewed in time (another replica took the stream over) is abandoned, as is
//! one running when the scheduler is told to stop. Abandoning is safe: pages commit with
//! their checkpoints, so the next holder resumes from the last committed page.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use enamel_domain::ids::ConnectionId;
use enamel_domain::{LeaseRelease, PracticeId, Source, SyncLease};
use enamel_pms::{PmsClient, StreamSpec};
use enamel_store::{LeaseToken, Store, StoreError};
use tokio::sync::watch;

use crate::{Hooks, StreamOutcome, SyncConfig, Target, sync_stream};

/// Why [`Scheduler::run_now`] did not run a stream.
#[derive(Debug, thiserror::Error)]
pub enum RunNowError {
    /// A replica kept the stream's lease for the whole wait.
    #[error("stream {stream} is being synced by {holder}; try again when it finishes")]
    Held {
        /// The stream.
        stream: String,
        /// Who holds it.
        holder: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// When streams run and how long a replica holds one.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Time between the start of a stream's passes, unless the stream has its own.
    pub every: Duration,
    /// Per-stream intervals, by stream name.
    pub streams: HashMap<String, Duration>,
    /// How long a lease lasts without renewal; a dead replica's streams are taken over
    /// after this.
    pub lease: Duration,
    /// After a failed pass the stream waits this long, doubled per failure in a row…
    pub retry_base: Duration,
    /// …up to this.
    pub retry_cap: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            every: Duration::from_secs(300),
            streams: HashMap::new(),
            lease: Duration::from_secs(30),
            retry_base: Duration::from_secs(10),
            retry_cap: Duration::from_secs(600),
        }
    }
}

impl Schedule {
    /// The interval of `stream`.
    pub fn every(&self, stream: &str) -> Duration {
        self.streams.get(stream).copied().unwrap_or(self.every)
    }

    /// How long a stream waits after `failures` failed passes in a row.
    pub fn retry_after(&self, failures: u32) -> Duration {
        self.retry_base.saturating_mul(1 << failures.min(16)).min(self.retry_cap)
    }
}

/// One connection to schedule, with its opened PMS client.
#[derive(Clone)]
pub struct Scheduled {
    /// The practice.
    pub practice: PracticeId,
    /// The connection.
    pub connection: ConnectionId,
    /// Its PMS.
    pub source: Source,
    /// Its client.
    pub client: Arc<dyn PmsClient>,
}

/// Where a test can make the scheduler stop as if its process died there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchedulerFailPoint {
    /// After taking a stream's lease, before syncing (the lease stays taken until it lapses).
    AfterAcquire,
    /// After a pass, before releasing its lease.
    BeforeRelease,
}

/// Decides whether to die at a point: (point, stream).
pub type SchedulerFailHook = Arc<dyn Fn(SchedulerFailPoint, &str) -> bool + Send + Sync>;

/// How one pass under a lease ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PassEnd {
    /// The pass completed.
    Completed(StreamOutcome),
    /// The pass failed; the stream waits (backoff) and is retried.
    Failed(String),
    /// The scheduler was told to stop mid-pass: abandoned, the lease released, due at once.
    Stopped,
    /// The lease could not be renewed in time: abandoned to whoever holds it now.
    LeaseLost,
    /// A fail point stopped the scheduler (tests): the lease is left to lapse.
    Died(SchedulerFailPoint),
}

/// One pass the step ran.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    /// The practice.
    pub practice: PracticeId,
    /// The connection.
    pub connection: ConnectionId,
    /// The stream.
    pub stream: String,
    /// How it ended.
    pub end: PassEnd,
    /// Wall time.
    pub seconds: f64,
}

/// What [`Scheduler::step`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepReport {
    /// The passes run, in order.
    pub ran: Vec<Ran>,
    /// Streams skipped because another replica holds them: (connection, stream).
    pub held_elsewhere: Vec<(ConnectionId, String)>,
}

impl StepReport {
    /// Practices with a pass that completed in this step.
    pub fn synced_practices(&self) -> Vec<PracticeId> {
        let mut out: Vec<PracticeId> =
            self.ran.iter().filter(|r| matches!(r.end, PassEnd::Completed(_))).map(|r| r.practice).collect();
        out.sort_by_key(|p| p.uuid());
        out.dedup();
        out
    }
}

/// A replica's scheduler.
#[derive(Clone)]
pub struct Scheduler {
    /// The store.
    pub store: Store,
    /// This replica's name in leases and request tags (`host:pid`).
    pub holder: String,
    /// Schedules and leases.
    pub schedule: Schedule,
    /// Sync tunables.
    pub config: SyncConfig,
    /// Sync hooks (failure injection, progress).
    pub hooks: Hooks,
    /// Scheduler failure injection (tests).
    pub fail: Option<SchedulerFailHook>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("holder", &self.holder)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler for `holder` with default schedule, tunables and no hooks.
    pub fn new(store: Store, holder: impl Into<String>) -> Self {
        Scheduler {
            store,
            holder: holder.into(),
            schedule: Schedule::default(),
            config: SyncConfig::default(),
            hooks: Hooks::default(),
            fail: None,
        }
    }

    fn dies_at(&self, point: SchedulerFailPoint, stream: &str) -> bool {
        self.fail.as_ref().is_some_and(|f| f(point, stream))
    }

    /// Runs every due stream of `connections` this replica can lease, until done or `stop`
    /// turns true. Store errors reading leases end the step for that connection (logged);
    /// a fail point ends the whole step.
    pub async fn step(&self, connections: &[Scheduled], stop: &watch::Receiver<bool>) -> StepReport {
        let mut report = StepReport::default();
        for scheduled in connections {
            if *stop.borrow() {
                break;
            }
            if let Err(e) = self.step_connection(scheduled, stop, &mut report).await {
                tracing::warn!(connection = %scheduled.connection, error = %e, "cannot schedule a connection's streams");
            }
            if report.ran.last().is_some_and(|r| matches!(r.end, PassEnd::Died(_))) {
                break;
            }
        }
        report
    }

    async fn step_connection(
        &self,
        scheduled: &Scheduled,
        stop: &watch::Receiver<bool>,
        report: &mut StepReport,
    ) -> Result<(), StoreError> {
        let read = || async {
            let leases = self.store.sync_leases(Some(scheduled.connection)).await?;
            Ok::<HashMap<String, SyncLease>, StoreError>(leases.into_iter().map(|l| (l.stream.clone(), l)).collect())
        };
        let mut leases = read().await?;
        for spec in scheduled.client.streams() {
            if *stop.borrow() {
                return Ok(());
            }
            let now = Utc::now();
            let lease = leases.get(spec.name);
            let completed_before = lease.is_some_and(|l| l.last_success_at.is_some());
            if lease.is_some_and(|l| l.is_held(now) && l.holder.as_deref() != Some(&self.holder)) {
                report.held_elsewhere.push((scheduled.connection, spec.name.to_owned()));
                if completed_before {
                    continue;
                }
                return Ok(());
            }
            if lease.is_some_and(|l| !l.is_due(now)) {
                if completed_before {
                    continue;
                }
                // Never completed and backing off: the streams after it wait for it.
                return Ok(());
            }
            let ttl = self.schedule.lease;
            let Some(token) = self
                .store
                .acquire_sync_lease(scheduled.practice, scheduled.connection, spec.name, &self.holder, ttl)
                .await?
            else {
                report.held_elsewhere.push((scheduled.connection, spec.name.to_owned()));
                if completed_before {
                    continue;
                }
                return Ok(());
            };
            let failures = lease.map_or(0, |l| l.failures);
            let started = std::time::Instant::now();
            let end = self.run_leased(scheduled, spec, token, failures, stop).await?;
            let go_on = matches!(end, PassEnd::Completed(_)) || (completed_before && matches!(end, PassEnd::Failed(_)));
            let died = matches!(end, PassEnd::Died(_));
            record_metrics(spec.name, &end, started.elapsed());
            report.ran.push(Ran {
                practice: scheduled.practice,
                connection: scheduled.connection,
                stream: spec.name.to_owned(),
                end,
                seconds: started.elapsed().as_secs_f64(),
            });
            if !go_on || died {
                return Ok(());
            }
            // A pass takes time: what other replicas did meanwhile decides what is due next.
            leases = read().await?;
        }
        Ok(())
    }

    /// One pass of `spec` now, whether due or not (an operator's `enamel sync`), under its
    /// lease like any replica's: waits up to `wait` for a replica holding it to finish, then
    /// fails with [`RunNowError::Held`].
    pub async fn run_now(
        &self,
        scheduled: &Scheduled,
        spec: &StreamSpec,
        wait: Duration,
        stop: &watch::Receiver<bool>,
    ) -> Result<PassEnd, RunNowError> {
        let deadline = tokio::time::Instant::now() + wait;
        let (practice, connection) = (scheduled.practice, scheduled.connection);
        let token = loop {
            let ttl = self.schedule.lease;
            if let Some(token) =
                self.store.acquire_sync_lease(practice, connection, spec.name, &self.holder, ttl).await?
            {
                break token;
            }
            if tokio::time::Instant::now() >= deadline {
                let holder = self
                    .store
                    .sync_leases(Some(connection))
                    .await?
                    .into_iter()
                    .find(|l| l.stream == spec.name)
                    .and_then(|l| l.holder)
                    .unwrap_or_default();
                return Err(RunNowError::Held { stream: spec.name.to_owned(), holder });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let failures = self
            .store
            .sync_leases(Some(connection))
            .await?
            .into_iter()
            .find(|l| l.stream == spec.name)
            .map_or(0, |l| l.failures);
        let started = std::time::Instant::now();
        let end = self.run_leased(scheduled, spec, token, failures, stop).await?;
        record_metrics(spec.name, &end, started.elapsed());
        Ok(end)
    }

    /// One pass of a stream whose lease is held: renews it while the pass runs, releases it
    /// with the next due time.
    async fn run_leased(
        &self,
        scheduled: &Scheduled,
        spec: &StreamSpec,
        token: LeaseToken,
        failures: u32,
        stop: &watch::Receiver<bool>,
    ) -> Result<PassEnd, StoreError> {
        let (store, connection, stream) = (&self.store, scheduled.connection, spec.name);
        if self.dies_at(SchedulerFailPoint::AfterAcquire, stream) {
            return Ok(PassEnd::Died(SchedulerFailPoint::AfterAcquire));
        }
        // Whatever run is still recorded as running belongs to a holder that is gone.
        store
            .close_interrupted_runs(scheduled.practice, connection, stream, "interrupted: its replica stopped or died")
            .await?;
        let target = Target {
            store,
            client: scheduled.client.as_ref(),
            practice: scheduled.practice,
            connection,
            source: scheduled.source,
            config: &self.config,
            hooks: &self.hooks,
        };
        let tag = format!("{}/{stream}/{}", self.holder, token.0);
        let mut work = Box::pin(enamel_pms::tagged(tag, sync_stream(target, spec)));
        let ttl = self.schedule.lease;
        let mut beat = tokio::time::interval(ttl / 3);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        beat.tick().await;
        let mut held_until = tokio::time::Instant::now() + ttl;
        let mut stop = stop.clone();
        // A renewal in progress. It is polled beside the pass, never instead of it: on SQLite
        // the renewal waits for the one writer, which the pass may hold in a page transaction.
        let mut renewing = None;
        let end = loop {
            tokio::select! {
                result = &mut work => break match result {
                    Ok(outcome) => PassEnd::Completed(outcome),
                    Err(e) => PassEnd::Failed(e.to_string()),
                },
                () = stopped(&mut stop) => break PassEnd::Stopped,
                _ = beat.tick(), if renewing.is_none() => {
                    renewing = Some(Box::pin(store.renew_sync_lease(connection, stream, token, ttl)));
                }
                Some(renewed) = futures::future::OptionFuture::from(renewing.as_mut()), if renewing.is_some() => {
                    renewing = None;
                    match renewed {
                        Ok(true) => held_until = tokio::time::Instant::now() + ttl,
                        Ok(false) => break PassEnd::LeaseLost,
                        Err(e) if tokio::time::Instant::now() >= held_until => {
                            tracing::warn!(%connection, stream, error = %e, "cannot renew a sync lease before it lapsed");
                            break PassEnd::LeaseLost;
                        }
                        Err(e) => tracing::warn!(%connection, stream, error = %e, "cannot renew a sync lease; retrying"),
                    }
                }
            }
        };
        // A renewal still waiting (for SQLite's writer, say) is abandoned before the release
        // below, which needs that writer too. The pass's future is dropped here if it did not
        // finish: an open page transaction rolls back, committed pages stay with their
        // checkpoints.
        drop(renewing);
        drop(work);
        if self.dies_at(SchedulerFailPoint::BeforeRelease, stream) {
            return Ok(PassEnd::Died(SchedulerFailPoint::BeforeRelease));
        }
        let now = Utc::now();
        let after = |d: Duration| now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let how = match &end {
            PassEnd::Completed(_) => {
                LeaseRelease { next_due_at: after(self.schedule.every(stream)), error: None, completed: true }
            }
            PassEnd::Failed(error) => LeaseRelease {
                next_due_at: after(self.schedule.retry_after(failures)),
                error: Some(error.clone()),
                completed: false,
            },
            PassEnd::Stopped => {
                store
                    .close_interrupted_runs(scheduled.practice, connection, stream, "interrupted: shutting down")
                    .await?;
                LeaseRelease { next_due_at: now, error: None, completed: false }
            }
            PassEnd::LeaseLost | PassEnd::Died(_) => {
                tracing::warn!(%connection, stream, "a sync lease lapsed during the pass; abandoned it to its new holder");
                return Ok(end);
            }
        };
        if !store.release_sync_lease(connection, stream, token, &how).await? {
            tracing::warn!(%connection, stream, "a sync lease lapsed before it was released");
        }
        Ok(end)
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// `enamel_sync_records_total{stream, change}`, `enamel_sync_passes_total{stream, end}` and
/// `enamel_sync_pass_seconds{stream}`.
fn record_metrics(stream: &str, end: &PassEnd, took: Duration) {
    let stream = stream.to_owned();
    let label = match end {
        PassEnd::Completed(o) => {
            let c = o.counts;
            for (change, n) in [
                ("fetched", c.fetched),
                ("inserted", c.inserted),
                ("updated", c.updated),
                ("unchanged", c.unchanged),
                ("deleted", c.deleted),
                ("quarantined", c.quarantined),
            ] {
                metrics::counter!("enamel_sync_records_total", "stream" => stream.clone(), "change" => change)
                    .increment(n);
            }
            "completed"
        }
        PassEnd::Failed(_) => "failed",
        PassEnd::Stopped => "stopped",
        PassEnd::LeaseLost => "lease_lost",
        PassEnd::Died(_) => "died",
    };
    metrics::counter!("enamel_sync_passes_total", "stream" => stream.clone(), "end" => label).increment(1);
    metrics::histogram!("enamel_sync_pass_seconds", "stream" => stream).record(took.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_doubling_up_to_the_cap() {
        let s =
            Schedule { retry_base: Duration::from_secs(10), retry_cap: Duration::from_secs(60), ..Schedule::default() };
        let waits: Vec<u64> = (0..5).map(|n| s.retry_after(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60]);
        assert_eq!(s.retry_after(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn streams_keep_their_own_interval() {
        let mut s = Schedule::default();
        s.streams.insert("appointments".into(), Duration::from_secs(60));
        assert_eq!(s.every("appointments"), Duration::from_secs(60));
        assert_eq!(s.every("patients"), Schedule::default().every);
    }
}
