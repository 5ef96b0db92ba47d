//! The write-back queue (DESIGN §5): callers propose changes to the PMS, a person approves
//! them, and only then does Enamel write — once, never over a change it did not see, with a
//! hash-chained trail of every transition.
//!
//! - [`WriteBacks::propose`] validates a [`Proposal`] against the store (the appointment
//!   exists, the chair is free…), checks the PMS's capability matrix, resolves PMS keys,
//!   reads the PMS record's change stamp (the base an approval is for) and stores the
//!   proposal under the caller's idempotency key.
//! - [`WriteBacks::approve`], [`WriteBacks::reject`], [`WriteBacks::cancel`]: decisions. The
//!   approver is never the proposer (checked here and by a database constraint).
//! - [`WriteBacks::try_execute_next`] is the executor's step: expire leases and deadlines,
//!   claim one due write-back under a lease, probe the PMS, compare stamps, write once,
//!   record the outcome. [`run_executor`] is the loop, a thin shell over it.
//! - [`WriteBacks::confirm_synced`] turns `APPLIED` into `CONFIRMED` once a sync has
//!   stored the change.
//! - [`verify_audit`] checks every practice's audit chain.
//!
//! It knows neither HTTP nor SQL: the store and the PMS clients do.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use enamel_domain::PracticeId;
use enamel_domain::Source;
use enamel_domain::ids::WriteBackId;
use enamel_domain::writeback::{BrokenLink, Principal, WriteBack, WriteBackState};
use enamel_pms::{PmsError, PmsWriter};
use enamel_store::{Expect, Store, StoreError, Transition, WriteBackFilter};
use futures::future::BoxFuture;

mod confirm;
mod execute;
mod propose;

pub use execute::{Execution, Outcome, backoff_delay};
pub use propose::ProposeRequest;

/// Finds the PMS client that writes for a practice's connection to `source`.
pub trait PmsDirectory: Send + Sync {
    /// The writer, or why there is none (no such connection, credentials unreadable).
    fn writer(&self, practice: PracticeId, source: Source) -> BoxFuture<'_, Result<Arc<dyn PmsWriter>, PmsError>>;
}

/// Writers known up front, by (practice, PMS): the demo's simulators, tests.
pub struct FixedDirectory(pub std::collections::HashMap<(PracticeId, Source), Arc<dyn PmsWriter>>);

impl PmsDirectory for FixedDirectory {
    fn writer(&self, practice: PracticeId, source: Source) -> BoxFuture<'_, Result<Arc<dyn PmsWriter>, PmsError>> {
        let found = self.0.get(&(practice, source)).cloned();
        Box::pin(async move {
            found.ok_or_else(|| PmsError::NotConfigured(format!("practice {practice} has no {source} connection")))
        })
    }
}

/// What can go wrong with a write-back request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteBackError {
    /// The write-back, or a record it names, does not exist in this practice.
    #[error("{0}")]
    NotFound(String),
    /// The request is not acceptable as given (validation against the store, the
    /// capability matrix, a passed deadline).
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this (approving their own proposal).
    #[error("{0}")]
    Forbidden(String),
    /// The write-back's state does not allow this, or an idempotency key was reused with
    /// another request.
    #[error("{0}")]
    Conflict(String),
    /// The PMS could not be reached to read the record's current version.
    #[error("the PMS could not be read: {0}")]
    Pms(#[from] PmsError),
    /// The store failed.
    #[error("store error: {0}")]
    Store(StoreError),
    /// A failure injected by a test at a named point (the executor "crashed").
    #[error("injected failure at {0:?}")]
    Injected(FailPoint),
}

impl From<StoreError> for WriteBackError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, id } => Self::NotFound(format!("{entity} {id} not found")),
            StoreError::StateConflict { .. } | StoreError::KeyReused { .. } => Self::Conflict(e.to_string()),
            StoreError::Invalid(m) => Self::Invalid(m),
            other => Self::Store(other),
        }
    }
}

/// Points where a test can make the executor "crash" (return without recording anything
/// further; the write-back stays `APPLYING` until its lease expires).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// Right after the claim committed.
    AfterClaim,
    /// After the PMS was probed, before anything was sent.
    AfterProbe,
    /// After the PMS accepted the write, before the outcome is recorded.
    AfterApply,
}

/// Decides whether to fail at a point, for a write-back.
pub type FailHook = Arc<dyn Fn(FailPoint, WriteBackId) -> bool + Send + Sync>;

/// The queue's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a claim holds a write-back; an executor that has not finished by then is
    /// presumed dead and the write-back awaits reconciliation. Longer than a PMS request's
    /// timeout.
    pub lease: Duration,
    /// PMS attempts before `FAILED`.
    pub max_attempts: u32,
    /// Backoff base: attempt n waits a random time up to `min(cap, base · 2^(n−1))`.
    pub retry_base: Duration,
    /// Backoff cap.
    pub retry_cap: Duration,
    /// Default time a proposal waits for approval and execution.
    pub approval_window: Duration,
    /// Most write-backs a sweep expires per step.
    pub sweep_limit: u64,
}

impl Default for Config {
    /// A 2-minute lease, 6 attempts with full jitter from 2 s up to 5 min, 72 hours to
    /// approve (capped at the appointment's start where one is concerned).
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(120),
            max_attempts: 6,
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(300),
            approval_window: Duration::from_secs(72 * 3600),
            sweep_limit: 100,
        }
    }
}

/// The clock the queue reads (tests move it).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The write-back queue over one store.
#[derive(Clone)]
pub struct WriteBacks {
    store: Store,
    pms: Arc<dyn PmsDirectory>,
    config: Config,
    clock: Clock,
    fail: Option<FailHook>,
}

impl std::fmt::Debug for WriteBacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBacks").field("config", &self.config).finish_non_exhaustive()
    }
}

impl WriteBacks {
    /// A queue with default settings and the wall clock.
    pub fn new(store: Store, pms: Arc<dyn PmsDirectory>) -> Self {
        Self { store, pms, config: Config::default(), clock: Arc::new(Utc::now), fail: None }
    }

    /// With other settings.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// With another clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// With failure injection (tests).
    pub fn with_fail_hook(mut self, hook: FailHook) -> Self {
        self.fail = Some(hook);
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    fn injected(&self, point: FailPoint, id: WriteBackId) -> Result<(), WriteBackError> {
        match &self.fail {
            Some(hook) if hook(point, id) => Err(WriteBackError::Injected(point)),
            _ => Ok(()),
        }
    }

    /// Approves a pending write-back. The approver must not be its proposer; approving
    /// twice by the same approver is a no-op that returns the write-back.
    pub async fn approve(
        &self,
        practice: PracticeId,
        approver: &Principal,
        id: WriteBackId,
    ) -> Result<WriteBack, WriteBackError> {
        let current = self.store.write_back(Some(practice), id).await?;
        if current.proposed_by.id == approver.id {
            return Err(WriteBackError::Forbidden(
                "a write-back must be approved by someone other than its proposer".into(),
            ));
        }
        if current.state != WriteBackState::PendingApproval
            && current.decided_by.as_ref().is_some_and(|d| d.id == approver.id)
            && !matches!(current.state, WriteBackState::Rejected | WriteBackState::Cancelled)
        {
            return Ok(current);
        }
        let mut t = Transition::new(WriteBackState::Approved, &approver.id, self.now());
        t.decided_by = Some(approver.clone());
        t.next_attempt_at = Some(self.now());
        let expect = Expect { states: &[WriteBackState::PendingApproval], lease_owner: None };
        Ok(self.store.transition_write_back(Some(practice), id, expect, &t).await?)
    }

    /// Rejects a pending write-back, with a reason. A proposer withdraws with
    /// [`WriteBacks::cancel`] instead.
    pub async fn reject(
        &self,
        practice: PracticeId,
        approver: &Principal,
        id: WriteBackId,
        note: &str,
    ) -> Result<WriteBack, WriteBackError> {
        let current = self.store.write_back(Some(practice), id).await?;
        if current.proposed_by.id == approver.id {
            return Err(WriteBackError::Forbidden(
                "the proposer withdraws a write-back with cancel, not reject".into(),
            ));
        }
        if current.state == WriteBackState::Rejected && current.decided_by.as_ref().is_some_and(|d| d.id == approver.id)
        {
            return Ok(current);
        }
        let note = note.trim();
        if note.is_empty() || note.chars().count() > 2000 {
            return Err(WriteBackError::Invalid("a rejection needs a reason of 1 to 2000 characters".into()));
        }
        let mut t = Transition::new(WriteBackState::Rejected, &approver.id, self.now());
        t.decided_by = Some(approver.clone());
        t.decision_note = Some(note.to_owned());
        let expect = Expect { states: &[WriteBackState::PendingApproval], lease_owner: None };
        Ok(self.store.transition_write_back(Some(practice), id, expect, &t).await?)
    }

    /// Cancels a write-back that has not started: its proposer may, and so may an approver
    /// (`may_cancel_others`). Cancelling twice is a no-op.
    pub async fn cancel(
        &self,
        practice: PracticeId,
        caller: &Principal,
        may_cancel_others: bool,
        id: WriteBackId,
    ) -> Result<WriteBack, WriteBackError> {
        let current = self.store.write_back(Some(practice), id).await?;
        if current.proposed_by.id != caller.id && !may_cancel_others {
            return Err(WriteBackError::Forbidden(
                "only the proposer, or a caller with the approve scope, may cancel a write-back".into(),
            ));
        }
        if current.state == WriteBackState::Cancelled {
            return Ok(current);
        }
        let mut t = Transition::new(WriteBackState::Cancelled, &caller.id, self.now());
        t.decided_by = Some(caller.clone());
        let expect = Expect { states: &[WriteBackState::PendingApproval, WriteBackState::Approved], lease_owner: None };
        self.store.transition_write_back(Some(practice), id, expect, &t).await.map_err(|e| match e {
            StoreError::StateConflict { state, .. } => WriteBackError::Conflict(format!(
                "write-back {id} is {state}: only a pending or approved one can be cancelled"
            )),
            other => other.into(),
        })
    }

    /// One write-back of the practice.
    pub async fn get(&self, practice: PracticeId, id: WriteBackId) -> Result<WriteBack, WriteBackError> {
        Ok(self.store.write_back(Some(practice), id).await?)
    }

    /// A page of the practice's write-backs, newest first.
    pub async fn list(
        &self,
        practice: PracticeId,
        filter: &WriteBackFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<WriteBack>, WriteBackError> {
        Ok(self.store.write_backs(practice, filter, offset, limit).await?)
    }
}

/// What [`verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Practices whose chains were checked.
    pub chains: usize,
    /// Rows checked.
    pub rows: usize,
    /// The first broken link of each broken chain.
    pub broken: Vec<BrokenLink>,
}

/// Checks every practice's audit chain: positions without gaps, each row pointing at its
/// predecessor's hash, each hash matching its row, and the chain reaching the end its head
/// records (rows removed from the end are detected too). Reads in pages.
pub async fn verify_audit(store: &Store) -> Result<AuditReport, StoreError> {
    const PAGE: u64 = 5000;
    let mut report = AuditReport { chains: 0, rows: 0, broken: Vec::new() };
    for (practice, head_seq, head_hash) in store.audit_chain_heads().await? {
        report.chains += 1;
        let mut verifier = enamel_domain::writeback::ChainVerifier::new(practice);
        let mut from = 1;
        let broken = loop {
            let page = store.audit_chain(practice, from, PAGE).await?;
            if let Err(b) = verifier.extend(&page) {
                break Some(b);
            }
            report.rows += page.len();
            if (page.len() as u64) < PAGE {
                break verifier.finish(head_seq, &head_hash).err();
            }
            from += PAGE as i64;
        };
        report.broken.extend(broken);
    }
    Ok(report)
}

/// The executor loop: a thin shell over [`WriteBacks::try_execute_next`]. Runs due
/// write-backs back to back, sleeps `idle` when none is due, logs (ids only) and keeps
/// going after errors, and stops when `shutdown` resolves (after the write-back in hand).
pub async fn run_executor(
    queue: WriteBacks,
    executor: String,
    idle: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    loop {
        let pause = match queue.try_execute_next(&executor).await {
            Ok(Some(done)) => {
                tracing::info!(write_back = %done.write_back.id, state = %done.write_back.state, outcome = ?done.outcome, "write-back attempt recorded");
                Duration::ZERO
            }
            Ok(None) => idle,
            Err(e) => {
                tracing::warn!(error = %e, "write-back executor step failed");
                idle
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
}
