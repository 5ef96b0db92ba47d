//! The executor's step: sweep, claim, probe, compare, write once, record.

use std::time::Duration;

use chrono::{DateTime, Utc};
use enamel_domain::writeback::{WriteBack, WriteBackState, marker};
use enamel_pms::{PmsError, PmsWriter, Probe};
use enamel_store::{Expect, StoreError, Transition};
use serde_json::json;

use crate::{FailPoint, WriteBackError, WriteBacks};

/// What one attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The PMS accepted the write.
    Applied,
    /// The PMS already held the change (an earlier, uncertain attempt landed): nothing sent.
    AlreadyApplied,
    /// The PMS record changed since the proposal: nothing sent.
    Conflict,
    /// A transient failure: another attempt is scheduled.
    Retry,
    /// The outcome is unknown: the PMS will be probed before anything is sent again.
    Reconcile,
    /// Refused by the PMS, or attempts exhausted.
    Failed,
    /// The deadline passed before it could be sent.
    Expired,
}

/// One executor step's result.
#[derive(Debug, Clone)]
pub struct Execution {
    /// The write-back after the attempt.
    pub write_back: WriteBack,
    /// What happened.
    pub outcome: Outcome,
}

/// Full-jitter backoff: a random delay in `[0, min(cap, base · 2^(attempt−1))]`.
/// `unit` is a random number in `[0, 1)`.
pub fn backoff_delay(base: Duration, cap: Duration, attempt: u32, unit: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    exp.min(cap).mul_f64(unit.clamp(0.0, 1.0))
}

fn random_unit() -> f64 {
    // UUID v4 carries 122 bits from the operating system's generator; 53 suffice.
    let bits = uuid::Uuid::new_v4().as_u128() >> 75;
    bits as f64 / (1u64 << 53) as f64
}

fn at_after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

/// How an attempt ended, before it is recorded.
type Ended = (Outcome, Transition);

impl WriteBacks {
    /// The executor's step: expires leases (→ `NEEDS_RECONCILIATION`) and deadlines
    /// (→ `EXPIRED`), then claims one due write-back under a lease and makes one attempt:
    /// probe the PMS; if the change is already there, `APPLIED`; if the record changed since
    /// the proposal, `CONFLICT` (nothing sent); if the deadline passed, `EXPIRED`; else send it
    /// once. Transient failures are retried later with jittered backoff up to the attempt
    /// limit, an unknown outcome is reconciled (probed) first, other refusals fail at once.
    /// `None` when nothing was due. `executor` names the caller in leases and audit rows.
    pub async fn try_execute_next(&self, executor: &str) -> Result<Option<Execution>, WriteBackError> {
        self.sweep().await?;
        let now = self.now();
        let owner = format!("{executor}/{}", uuid::Uuid::new_v4().simple());
        let until = at_after(now, self.config.lease);
        let Some(claimed) = self.store.claim_write_back(&owner, now, until).await? else {
            return Ok(None);
        };
        self.injected(FailPoint::AfterClaim, claimed.id)?;
        let (outcome, transition) = self.attempt(&claimed, &owner).await?;
        let expect = Expect { states: &[WriteBackState::Applying], lease_owner: Some(&owner) };
        let write_back = self.store.transition_write_back(None, claimed.id, expect, &transition).await?;
        Ok(Some(Execution { write_back, outcome }))
    }

    /// Moves write-backs whose executor died (lease expired) to reconciliation, and those
    /// nobody approved or ran in time to `EXPIRED`.
    pub async fn sweep(&self) -> Result<(), WriteBackError> {
        let now = self.now();
        let limit = self.config.sweep_limit;
        for id in self.store.overdue_write_backs(&[WriteBackState::Applying], true, now, limit).await? {
            let t = Transition::new(WriteBackState::NeedsReconciliation, "executor", now)
                .detail(json!({ "reason": "lease expired: the executor stopped mid-attempt" }));
            let expect = Expect { states: &[WriteBackState::Applying], lease_owner: None };
            ignore_lost_race(self.store.transition_write_back(None, id, expect, &t).await)?;
        }
        let open = [WriteBackState::PendingApproval, WriteBackState::Approved];
        for id in self.store.overdue_write_backs(&open, false, now, limit).await? {
            let t = Transition::new(WriteBackState::Expired, "executor", now)
                .detail(json!({ "reason": "the deadline passed before it ran" }));
            ignore_lost_race(
                self.store.transition_write_back(None, id, Expect { states: &open, lease_owner: None }, &t).await,
            )?;
        }
        Ok(())
    }

    async fn attempt(&self, wb: &WriteBack, owner: &str) -> Result<Ended, WriteBackError> {
        let mark = marker(wb.id);
        // The audit names the executor (and its claim) that made the attempt.
        let actor = owner.to_owned();
        let now = || self.now();
        let base = json!({ "attempt": wb.attempts, "lease": owner });
        let writer = match self.pms.writer(wb.practice_id, wb.source).await {
            Ok(w) => w,
            Err(e) => return Ok(self.failure(wb, e, &actor, base)),
        };
        let probe = match writer.probe(&wb.write, &mark).await {
            Ok(p) => p,
            Err(e) => return Ok(self.failure(wb, e, &actor, base)),
        };
        self.injected(FailPoint::AfterProbe, wb.id)?;
        let mut detail = base.clone();
        detail["version_before"] = json!(probe.version);
        if probe.done {
            let mut t = Transition::new(WriteBackState::Applied, &actor, now()).detail(detail);
            t.detail["already_in_pms"] = json!(true);
            t.result_key = probe.created_key.clone();
            t.applied = true;
            return Ok((Outcome::AlreadyApplied, t));
        }
        if !probe.exists {
            detail["error"] = json!("the record no longer exists in the PMS");
            let mut t = Transition::new(WriteBackState::Failed, &actor, now()).detail(detail);
            t.last_error = Some("the record no longer exists in the PMS".into());
            return Ok((Outcome::Failed, t));
        }
        if !wb.write.is_create() && probe.version != wb.base_version {
            detail["version_base"] = json!(wb.base_version);
            let mut t = Transition::new(WriteBackState::Conflict, &actor, now()).detail(detail);
            t.last_error = Some("the PMS record changed since the proposal; nothing was written".into());
            return Ok((Outcome::Conflict, t));
        }
        if now() > wb.deadline {
            let t = Transition::new(WriteBackState::Expired, &actor, now()).detail(detail);
            return Ok((Outcome::Expired, t));
        }
        match writer.apply(&wb.write, &mark).await {
            Ok(applied) => {
                self.injected(FailPoint::AfterApply, wb.id)?;
                detail["pms_status"] = json!(applied.status);
                if !wb.write.is_create() {
                    detail["verified"] = json!(verify(writer.as_ref(), wb, &mark).await);
                }
                let mut t = Transition::new(WriteBackState::Applied, &actor, now()).detail(detail);
                t.result_key = applied.created_key;
                t.applied = true;
                Ok((Outcome::Applied, t))
            }
            Err(e) => Ok(self.failure(wb, e, &actor, detail)),
        }
    }

    /// Records a failed attempt: retry later, reconcile first, or fail for good.
    fn failure(&self, wb: &WriteBack, error: PmsError, actor: &str, mut detail: serde_json::Value) -> Ended {
        let now = self.now();
        let message = error.to_string();
        detail["error"] = json!(message);
        let exhausted = wb.attempts >= self.config.max_attempts;
        let delay = backoff_delay(self.config.retry_base, self.config.retry_cap, wb.attempts, random_unit());
        let (state, outcome, wait) = match &error {
            _ if exhausted => (WriteBackState::Failed, Outcome::Failed, Duration::ZERO),
            PmsError::Uncertain { .. } => (WriteBackState::NeedsReconciliation, Outcome::Reconcile, delay),
            PmsError::Throttled { retry_after } => {
                (WriteBackState::Approved, Outcome::Retry, retry_after.unwrap_or_default().max(delay))
            }
            PmsError::Unavailable { .. } => (WriteBackState::Approved, Outcome::Retry, delay),
            _ => (WriteBackState::Failed, Outcome::Failed, Duration::ZERO),
        };
        if state != WriteBackState::Failed {
            detail["retry_in_ms"] = json!(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
        }
        let mut t = Transition::new(state, actor, now).detail(detail);
        t.last_error = Some(message);
        t.next_attempt_at = Some(at_after(now, wait));
        (outcome, t)
    }
}

/// After a write, reads the record again: does it hold the change? (A concurrent edit
/// between our read and our write would show here.) Errors count as unverified.
async fn verify(writer: &dyn PmsWriter, wb: &WriteBack, mark: &str) -> bool {
    matches!(writer.probe(&wb.write, mark).await, Ok(Probe { done: true, .. }))
}

/// A sweep that lost a race to another executor changes nothing.
fn ignore_lost_race(result: Result<WriteBack, StoreError>) -> Result<(), WriteBackError> {
    match result {
        Ok(_) | Err(StoreError::StateConflict { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_in_the_full_jitter_envelope() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(300);
        for attempt in 1..=12 {
            let ceiling = base.saturating_mul(1 << (attempt - 1)).min(cap);
            assert_eq!(backoff_delay(base, cap, attempt, 0.0), Duration::ZERO);
            assert!(backoff_delay(base, cap, attempt, 0.999_999) <= ceiling);
            assert!(backoff_delay(base, cap, attempt, 0.999_999) >= ceiling.mul_f64(0.999));
            for _ in 0..50 {
                assert!(backoff_delay(base, cap, attempt, random_unit()) <= ceiling);
            }
        }
        assert_eq!(backoff_delay(base, cap, 40, 1.0), cap);
        let units: Vec<f64> = (0..200).map(|_| random_unit()).collect();
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(units.iter().any(|u| *u < 0.5) && units.iter().any(|u| *u >= 0.5));
    }
}
