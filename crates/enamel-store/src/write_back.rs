//! Write-backs and their hash-chained audit trail.
//!
//! Every state change is one transaction: read the row (locked on PostgreSQL), check the
//! state machine and the lease holder, update it conditionally (`WHERE state = <read>`),
//! and append one audit row chained to the practice's previous one. Claims pick a due row
//! with `FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the process's writer lock and the
//! conditional update make the claim race-free (another process's commit in between makes
//! the update match nothing, and the claim is simply retried).

use chrono::{DateTime, Utc};
use enamel_domain::ids::{PatientId, WriteBackId};
use enamel_domain::writeback::{
    AuditLink, GENESIS_HASH, PmsWrite, Principal, Proposal, WriteBack, WriteBackKind, WriteBackState,
};
use enamel_domain::{PracticeId, Source};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr,
};

use crate::column::micros;
use crate::{Result, StoreError};

/// The `write_back` table.
pub mod write_back_entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "write_back")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub practice_id: Uuid,
        pub source: String,
        pub kind: String,
        pub state: String,
        pub proposal: String,
        pub pms_write: String,
        pub base_version: Option<String>,
        pub patient_id: Option<Uuid>,
        pub reason: String,
        pub idempotency_key: String,
        pub request_hash: String,
        pub proposed_by: String,
        pub proposed_by_name: String,
        pub decided_by: Option<String>,
        pub decided_by_name: Option<String>,
        pub decision_note: Option<String>,
        pub deadline: DateTimeUtc,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub lease_owner: Option<String>,
        pub lease_until: Option<DateTimeUtc>,
        pub last_error: Option<String>,
        pub result_key: Option<String>,
        pub applied_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `write_back_audit` table (append-only).
pub mod audit_entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "write_back_audit")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub practice_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub write_back_id: Uuid,
        pub at: DateTimeUtc,
        pub actor: String,
        pub from_state: Option<String>,
        pub to_state: String,
        pub detail: String,
        pub prev_hash: String,
        pub hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `write_back_audit_head` table: each practice's chain end.
pub mod head_entity {
    #![allow(missing_docs, unreachable_pub)]
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "write_back_audit_head")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub practice_id: Uuid,
        pub seq: i64,
        pub hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use audit_entity as audit;
use head_entity as head;
use write_back_entity as wb;

/// A proposal to store.
#[derive(Debug, Clone)]
pub struct NewWriteBack {
    /// Its id (chosen by the caller: the PMS marker names it before it is stored).
    pub id: WriteBackId,
    /// The practice.
    pub practice_id: PracticeId,
    /// The PMS it writes to.
    pub source: Source,
    /// What was asked.
    pub proposal: Proposal,
    /// The same, in PMS keys.
    pub write: PmsWrite,
    /// The PMS record's stamp at proposal.
    pub base_version: Option<String>,
    /// The patient concerned.
    pub patient_id: Option<PatientId>,
    /// Why.
    pub reason: String,
    /// The proposer's idempotency key.
    pub idempotency_key: String,
    /// A digest of the request (proposal, reason, deadline): the same key must come with it.
    pub request_hash: String,
    /// Who.
    pub proposed_by: Principal,
    /// Expires after.
    pub deadline: DateTime<Utc>,
    /// Now.
    pub at: DateTime<Utc>,
}

/// What storing a proposal did.
#[derive(Debug, Clone)]
pub enum Proposed {
    /// A new write-back.
    Created(WriteBack),
    /// The key was used before with the same request: the earlier write-back.
    Existing(WriteBack),
}

/// One state change, with what changes beside the state.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The new state (must be allowed by [`WriteBackState::can_become`]).
    pub to: WriteBackState,
    /// Who (a principal id), for the audit row.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Audit detail: ids, attempt, PMS status, versions, errors. Never PHI.
    pub detail: serde_json::Value,
    /// Set the decider (approve, reject, cancel).
    pub decided_by: Option<Principal>,
    /// Set the decision note.
    pub decision_note: Option<String>,
    /// Set when the next attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Set the last error.
    pub last_error: Option<String>,
    /// Set a created record's key.
    pub result_key: Option<String>,
    /// Take a lease (owner, until) and count an attempt: a claim.
    pub claim: Option<(String, DateTime<Utc>)>,
    /// Record the time the PMS accepted it.
    pub applied: bool,
}

impl Transition {
    /// A bare transition.
    pub fn new(to: WriteBackState, actor: &str, at: DateTime<Utc>) -> Self {
        Self {
            to,
            actor: actor.to_owned(),
            at: micros(at),
            detail: serde_json::json!({}),
            decided_by: None,
            decision_note: None,
            next_attempt_at: None,
            last_error: None,
            result_key: None,
            claim: None,
            applied: false,
        }
    }

    /// With audit detail.
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Which state changes a caller expects to make: from these states, and (for an executor
/// finishing an attempt) only while holding this lease.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// Allowed current states.
    pub states: &'a [WriteBackState],
    /// The lease holder, when the change finishes a claimed attempt.
    pub lease_owner: Option<&'a str>,
}

/// Filters for listing write-backs.
#[derive(Debug, Clone, Default)]
pub struct WriteBackFilter {
    /// Any of these states (all when empty).
    pub states: Vec<WriteBackState>,
    /// Any of these kinds (all when empty).
    pub kinds: Vec<WriteBackKind>,
    /// Of this patient.
    pub patient_id: Option<PatientId>,
    /// Changed at or after.
    pub updated_since: Option<DateTime<Utc>>,
}

fn corrupt(column: &'static str, row: uuid::Uuid, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { table: "write_back", column, row, reason: reason.to_string() }
}

fn from_model(m: wb::Model) -> Result<WriteBack> {
    let principal =
        |id: Option<String>, name: Option<String>| id.map(|id| Principal { id, name: name.unwrap_or_default() });
    Ok(WriteBack {
        id: m.id.into(),
        practice_id: m.practice_id.into(),
        source: m.source.parse().map_err(|_| corrupt("source", m.id, &m.source))?,
        state: m.state.parse().map_err(|_| corrupt("state", m.id, &m.state))?,
        proposal: serde_json::from_str(&m.proposal).map_err(|e| corrupt("proposal", m.id, e))?,
        write: serde_json::from_str(&m.pms_write).map_err(|e| corrupt("pms_write", m.id, e))?,
        base_version: m.base_version,
        patient_id: m.patient_id.map(PatientId::from),
        reason: m.reason,
        idempotency_key: m.idempotency_key,
        proposed_by: Principal { id: m.proposed_by, name: m.proposed_by_name },
        decided_by: principal(m.decided_by, m.decided_by_name),
        decision_note: m.decision_note,
        deadline: m.deadline,
        attempts: u32::try_from(m.attempts).unwrap_or(0),
        next_attempt_at: m.next_attempt_at,
        last_error: m.last_error,
        result_key: m.result_key,
        applied_at: m.applied_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn link_from_model(m: audit::Model) -> Result<AuditLink> {
    let bad = |column: &'static str, reason: String| StoreError::Corrupt {
        table: "write_back_audit",
        column,
        row: m.write_back_id,
        reason,
    };
    Ok(AuditLink {
        seq: m.seq,
        practice_id: m.practice_id.into(),
        write_back_id: m.write_back_id.into(),
        at: m.at,
        actor: m.actor.clone(),
        from_state: match &m.from_state {
            Some(s) => Some(s.parse().map_err(|_| bad("from_state", s.clone()))?),
            None => None,
        },
        to_state: m.to_state.parse().map_err(|_| bad("to_state", m.to_state.clone()))?,
        detail: serde_json::from_str(&m.detail).map_err(|e| bad("detail", e.to_string()))?,
        prev_hash: m.prev_hash.clone(),
        hash: m.hash.clone(),
    })
}

/// Appends one audit row to the practice's chain, inside the caller's transaction. The
/// chain head is locked for the rest of the transaction, so appends never interleave.
async fn append_audit<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    write_back: WriteBackId,
    from: Option<WriteBackState>,
    t: &Transition,
) -> Result<AuditLink> {
    head::Entity::insert(head::ActiveModel {
        practice_id: Set(practice.uuid()),
        seq: Set(0),
        hash: Set(GENESIS_HASH.to_owned()),
    })
    .on_conflict(OnConflict::column(head::Column::PracticeId).do_nothing().to_owned())
    .do_nothing()
    .exec(db)
    .await?;
    let mut query = head::Entity::find_by_id(practice.uuid());
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock(LockType::Update);
    }
    let current = query
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound { entity: "write_back_audit_head", id: practice.to_string() })?;
    let mut link = AuditLink {
        seq: current.seq + 1,
        practice_id: practice,
        write_back_id: write_back,
        at: micros(t.at),
        actor: t.actor.clone(),
        from_state: from,
        to_state: t.to,
        detail: t.detail.clone(),
        prev_hash: current.hash,
        hash: String::new(),
    };
    link.hash = link.compute_hash();
    audit::ActiveModel {
        practice_id: Set(practice.uuid()),
        seq: Set(link.seq),
        write_back_id: Set(write_back.uuid()),
        at: Set(link.at),
        actor: Set(link.actor.clone()),
        from_state: Set(from.map(|s| s.to_string())),
        to_state: Set(link.to_state.to_string()),
        detail: Set(link.detail.to_string()),
        prev_hash: Set(link.prev_hash.clone()),
        hash: Set(link.hash.clone()),
    }
    .insert(db)
    .await?;
    head::Entity::update_many()
        .col_expr(head::Column::Seq, Expr::value(link.seq))
        .col_expr(head::Column::Hash, Expr::value(link.hash.clone()))
        .filter(head::Column::PracticeId.eq(practice.uuid()))
        .exec(db)
        .await?;
    Ok(link)
}

/// The write-back with this key from this proposer, with its request digest.
pub(crate) async fn by_key<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    proposer: &str,
    key: &str,
) -> Result<Option<(WriteBack, String)>> {
    let found = wb::Entity::find()
        .filter(wb::Column::PracticeId.eq(practice.uuid()))
        .filter(wb::Column::ProposedBy.eq(proposer))
        .filter(wb::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?;
    match found {
        Some(m) => {
            let hash = m.request_hash.clone();
            Ok(Some((from_model(m)?, hash)))
        }
        None => Ok(None),
    }
}

/// Inserts a proposal and its first audit row. A unique-key violation (a concurrent
/// duplicate) comes back as `Ok(None)`: the caller reads the winner.
pub(crate) async fn insert<C: ConnectionTrait>(db: &C, new: &NewWriteBack) -> Result<Option<WriteBack>> {
    let id = new.id;
    let at = micros(new.at);
    let json =
        |v: serde_json::Result<String>| v.map_err(|e| StoreError::Invalid(format!("unserialisable write-back: {e}")));
    let model = wb::ActiveModel {
        id: Set(id.uuid()),
        practice_id: Set(new.practice_id.uuid()),
        source: Set(new.source.to_string()),
        kind: Set(new.proposal.kind().to_string()),
        state: Set(WriteBackState::PendingApproval.to_string()),
        proposal: Set(json(serde_json::to_string(&new.proposal))?),
        pms_write: Set(json(serde_json::to_string(&new.write))?),
        base_version: Set(new.base_version.clone()),
        patient_id: Set(new.patient_id.map(PatientId::uuid)),
        reason: Set(new.reason.clone()),
        idempotency_key: Set(new.idempotency_key.clone()),
        request_hash: Set(new.request_hash.clone()),
        proposed_by: Set(new.proposed_by.id.clone()),
        proposed_by_name: Set(new.proposed_by.name.clone()),
        decided_by: Set(None),
        decided_by_name: Set(None),
        decision_note: Set(None),
        deadline: Set(micros(new.deadline)),
        attempts: Set(0),
        next_attempt_at: Set(at),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        result_key: Set(None),
        applied_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    };
    match model.insert(db).await {
        Ok(m) => {
            let t =
                Transition::new(WriteBackState::PendingApproval, &new.proposed_by.id, at).detail(serde_json::json!({
                    "kind": new.proposal.kind().to_string(),
                    "source": new.source.to_string(),
                    "patient_id": new.patient_id.map(|p| p.to_string()),
                    "base_version": new.base_version,
                }));
            append_audit(db, new.practice_id, id, None, &t).await?;
            Ok(Some(from_model(m)?))
        }
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Applies one transition: checks the current state (and lease), updates conditionally,
/// appends the audit row. The practice, when given, scopes the lookup.
pub(crate) async fn transition<C: ConnectionTrait>(
    db: &C,
    practice: Option<PracticeId>,
    id: WriteBackId,
    expect: Expect<'_>,
    t: &Transition,
) -> Result<WriteBack> {
    let mut query = wb::Entity::find_by_id(id.uuid());
    if let Some(p) = practice {
        query = query.filter(wb::Column::PracticeId.eq(p.uuid()));
    }
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock(LockType::Update);
    }
    let current =
        query.one(db).await?.ok_or_else(|| StoreError::NotFound { entity: "write_back", id: id.to_string() })?;
    let current = from_model(current)?;
    let state = current.state;
    if !expect.states.contains(&state) || !state.can_become(t.to) {
        return Err(StoreError::StateConflict {
            id: id.to_string(),
            state: state.to_string(),
            wanted: t.to.to_string(),
        });
    }
    let mut update = wb::Entity::update_many()
        .col_expr(wb::Column::State, Expr::value(t.to.to_string()))
        .col_expr(wb::Column::UpdatedAt, Expr::value(micros(t.at)))
        .filter(wb::Column::Id.eq(id.uuid()))
        .filter(wb::Column::State.eq(state.to_string()));
    if let Some(owner) = expect.lease_owner {
        update = update.filter(wb::Column::LeaseOwner.eq(owner));
    }
    if let Some(p) = &t.decided_by {
        update = update
            .col_expr(wb::Column::DecidedBy, Expr::value(p.id.clone()))
            .col_expr(wb::Column::DecidedByName, Expr::value(p.name.clone()));
    }
    if let Some(note) = &t.decision_note {
        update = update.col_expr(wb::Column::DecisionNote, Expr::value(note.clone()));
    }
    if let Some(next) = t.next_attempt_at {
        update = update.col_expr(wb::Column::NextAttemptAt, Expr::value(micros(next)));
    }
    if let Some(error) = &t.last_error {
        update = update.col_expr(wb::Column::LastError, Expr::value(error.clone()));
    }
    if let Some(key) = &t.result_key {
        update = update.col_expr(wb::Column::ResultKey, Expr::value(key.clone()));
    }
    if t.applied {
        update = update.col_expr(wb::Column::AppliedAt, Expr::value(micros(t.at)));
    }
    match &t.claim {
        Some((owner, until)) => {
            update = update
                .col_expr(wb::Column::LeaseOwner, Expr::value(owner.clone()))
                .col_expr(wb::Column::LeaseUntil, Expr::value(micros(*until)))
                .col_expr(wb::Column::Attempts, Expr::col(wb::Column::Attempts).add(1));
        }
        None if t.to != WriteBackState::Applying => {
            update = update
                .col_expr(wb::Column::LeaseOwner, Expr::value(Option::<String>::None))
                .col_expr(wb::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None));
        }
        None => {}
    }
    let result = update.exec(db).await?;
    if result.rows_affected != 1 {
        return Err(StoreError::StateConflict {
            id: id.to_string(),
            state: state.to_string(),
            wanted: t.to.to_string(),
        });
    }
    append_audit(db, current.practice_id, id, Some(state), t).await?;
    let after = wb::Entity::find_by_id(id.uuid())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NotFound { entity: "write_back", id: id.to_string() })?;
    from_model(after)
}

/// The next due write-back (approved, or awaiting reconciliation), locked and skipped by
/// other claimers on PostgreSQL.
pub(crate) async fn next_due<C: ConnectionTrait>(db: &C, now: DateTime<Utc>) -> Result<Option<WriteBackId>> {
    let mut query = wb::Entity::find()
        .select_only()
        .column(wb::Column::Id)
        .filter(
            wb::Column::State
                .is_in([WriteBackState::Approved.to_string(), WriteBackState::NeedsReconciliation.to_string()]),
        )
        .filter(wb::Column::NextAttemptAt.lte(micros(now)))
        .order_by_asc(wb::Column::NextAttemptAt)
        .order_by_asc(wb::Column::Id)
        .limit(1);
    if db.get_database_backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(query.into_tuple::<uuid::Uuid>().one(db).await?.map(WriteBackId::from))
}

/// Ids of write-backs in `states` whose `column` instant lies before `now` (expired leases,
/// passed deadlines), across practices, oldest first.
pub(crate) async fn overdue<C: ConnectionTrait>(
    db: &C,
    states: &[WriteBackState],
    lease: bool,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<WriteBackId>> {
    let column = if lease { wb::Column::LeaseUntil } else { wb::Column::Deadline };
    let ids = wb::Entity::find()
        .select_only()
        .column(wb::Column::Id)
        .filter(wb::Column::State.is_in(states.iter().map(ToString::to_string)))
        .filter(column.lt(micros(now)))
        .order_by_asc(column)
        .limit(limit)
        .into_tuple::<uuid::Uuid>()
        .all(db)
        .await?;
    Ok(ids.into_iter().map(WriteBackId::from).collect())
}

pub(crate) async fn get<C: ConnectionTrait>(
    db: &C,
    practice: Option<PracticeId>,
    id: WriteBackId,
) -> Result<WriteBack> {
    let mut query = wb::Entity::find_by_id(id.uuid());
    if let Some(p) = practice {
        query = query.filter(wb::Column::PracticeId.eq(p.uuid()));
    }
    let m = query.one(db).await?.ok_or_else(|| StoreError::NotFound { entity: "write_back", id: id.to_string() })?;
    from_model(m)
}

fn filtered(practice: PracticeId, filter: &WriteBackFilter) -> sea_orm::Select<wb::Entity> {
    let mut query = wb::Entity::find().filter(wb::Column::PracticeId.eq(practice.uuid()));
    if !filter.states.is_empty() {
        query = query.filter(wb::Column::State.is_in(filter.states.iter().map(ToString::to_string)));
    }
    if !filter.kinds.is_empty() {
        query = query.filter(wb::Column::Kind.is_in(filter.kinds.iter().map(ToString::to_string)));
    }
    if let Some(p) = filter.patient_id {
        query = query.filter(wb::Column::PatientId.eq(p.uuid()));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(wb::Column::UpdatedAt.gte(micros(since)));
    }
    query
}

pub(crate) async fn list<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    filter: &WriteBackFilter,
    offset: u64,
    limit: u64,
) -> Result<Vec<WriteBack>> {
    filtered(practice, filter)
        .order_by_desc(wb::Column::CreatedAt)
        .order_by_desc(wb::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_model)
        .collect()
}

pub(crate) async fn count<C: ConnectionTrait>(db: &C, practice: PracticeId, filter: &WriteBackFilter) -> Result<u64> {
    Ok(filtered(practice, filter).count(db).await?)
}

/// Write-backs changed at or after `since`, oldest change first (subscriptions).
pub(crate) async fn changed_since<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    since: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<WriteBack>> {
    wb::Entity::find()
        .filter(wb::Column::PracticeId.eq(practice.uuid()))
        .filter(wb::Column::UpdatedAt.gte(micros(since)))
        .order_by_asc(wb::Column::UpdatedAt)
        .order_by_asc(wb::Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(from_model)
        .collect()
}

/// One write-back's audit rows, in order.
pub(crate) async fn history<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    id: WriteBackId,
) -> Result<Vec<AuditLink>> {
    audit::Entity::find()
        .filter(audit::Column::PracticeId.eq(practice.uuid()))
        .filter(audit::Column::WriteBackId.eq(id.uuid()))
        .order_by_asc(audit::Column::Seq)
        .all(db)
        .await?
        .into_iter()
        .map(link_from_model)
        .collect()
}

/// Audit rows of a practice's chain from position `from` (inclusive), in order.
pub(crate) async fn chain<C: ConnectionTrait>(
    db: &C,
    practice: PracticeId,
    from: i64,
    limit: u64,
) -> Result<Vec<AuditLink>> {
    audit::Entity::find()
        .filter(audit::Column::PracticeId.eq(practice.uuid()))
        .filter(audit::Column::Seq.gte(from))
        .order_by_asc(audit::Column::Seq)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(link_from_model)
        .collect()
}

/// Practices that have an audit chain, with the position and hash of its end as recorded in
/// the head (a chain whose rows stop short of its head lost rows at the end).
pub(crate) async fn chain_heads<C: ConnectionTrait>(db: &C) -> Result<Vec<(PracticeId, i64, String)>> {
    Ok(head::Entity::find()
        .order_by_asc(head::Column::PracticeId)
        .all(db)
        .await?
        .into_iter()
        .map(|h| (PracticeId::from(h.practice_id), h.seq, h.hash))
        .collect())
}

/// How many write-backs are in each state (every state, zeros included), across practices.
pub(crate) async fn state_counts<C: ConnectionTrait>(db: &C) -> Result<Vec<(WriteBackState, u64)>> {
    use sea_orm::QuerySelect as _;
    let rows: Vec<(String, i64)> = write_back_entity::Entity::find()
        .select_only()
        .column(write_back_entity::Column::State)
        .column_as(Expr::col(write_back_entity::Column::Id).count(), "n")
        .group_by(write_back_entity::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    Ok(WriteBackState::all()
        .map(|state| {
            let n = rows.iter().find(|(s, _)| s == state.as_ref()).map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0));
            (state, n)
        })
        .collect())
}
