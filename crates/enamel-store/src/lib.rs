//! Enamel's store: the canonical model in SQLite or PostgreSQL.
//!
//! This crate owns the SeaORM entities ([`tables`]) and every statement Enamel runs. It is
//! practice-scoped by construction: every read and write takes a [`PracticeId`], and every
//! reference given as a PMS key is resolved within that practice and source only.
//!
//! - [`Store`] connects, migrates and reads; [`Tx`] is a caller-controlled transaction that
//!   writes (a sync page's upserts and its checkpoint commit together).
//! - Upserts are batched and idempotent: unchanged rows (same content hash) are skipped.
//! - Reads are batched for dataloaders: rows by id, children by parent with a per-parent
//!   limit pushed into SQL; one statement per batch.
//!
//! It knows nothing of HTTP, GraphQL or any PMS wire format. Only this crate and the
//! migrations crate depend on `sea-orm`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use enamel_domain::ids::{ConnectionId, SyncRunId, WriteBackId};
use enamel_domain::writeback::{AuditLink, WriteBack};
use enamel_domain::{
    EntityId, PageMemo, PmsConnection, Practice, PracticeId, Source, SourceKey, Stored, SyncCounts, SyncRow, SyncRun,
};
use enamel_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait,
};

mod api_key;
mod changes;
mod column;
mod deferred_index;
mod error;
mod integrity;
mod key_ids;
mod page_memo;
mod phi_access;
mod practice;
mod quarantine;
mod raw;
mod read;
mod reconcile;
mod search;
mod sql;
mod sync_lease;
mod sync_state;
mod table;
pub mod tables;
mod tree;
mod upsert;
mod wal;
mod write_back;

pub use changes::{Change, Topic};
pub use column::CellValue;
pub use deferred_index::DeferredIndex;
pub use error::{Result, StoreError, redact_url};
pub use integrity::DanglingReferences;
pub use phi_access::PhiAccessFilter;
pub use practice::{NewConnection, NewPractice};
pub use quarantine::{QuarantineEntry, Quarantined};
pub use read::ChildPage;
pub use reconcile::{KeySet, SoftDelete};
pub use search::{
    All, AppointmentFilter, ClaimFilter, Filter, ListPage, PatientFilter, PaymentFilter, ProcedureCodeFilter,
    ProcedureFilter,
};
pub use sync_lease::LeaseToken;
pub use sync_state::Checkpoint;
pub use table::{Link, Sort, Table, Unresolved, Upsert};
pub use tree::{TreeNode, TreeRoot, TreeRow, TreeValue};

/// The record type of the rows of table `T` (`RecordOf<PatientId>` = `Patient`).
pub type RecordOf<T> = <T as table::sealed::TableDef>::Record;
pub use upsert::{Absent, Prepared, Rejected, UpsertReport, content_hash};
pub use write_back::{Expect, NewWriteBack, Proposed, Transition, WriteBackFilter};

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (the embedded default).
    Sqlite,
    /// PostgreSQL (for scale-out).
    Postgres,
}

/// Counts the SQL statements a store runs, for tests and diagnostics.
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    /// Statements run since the counter was installed or last reset.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Starts counting from zero.
    pub fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// A connection pool to the store's database.
#[derive(Debug, Clone)]
pub struct Store {
    db: DatabaseConnection,
    backend: Backend,
    /// SQLite has one writer at a time, and a transaction that read before writing fails
    /// (without waiting) when another writer committed in between. Writers of one process
    /// therefore queue here; PostgreSQL needs no such lock.
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// On a SQLite file, the pool of one connection [`Store::begin`]'s transactions run on:
    /// SQLite drops a connection's page cache whenever another connection has written, so
    /// transactions spread over the pool began cold, reading the indexes they update back
    /// from the file; the one writer keeps them cached from one page's transaction to the
    /// next. `None` (PostgreSQL, in-memory SQLite): transactions take any connection.
    tx_db: Option<DatabaseConnection>,
    /// With `tx_db`: checkpoints of the WAL on the pool, started by the writer's commits.
    checkpointer: Option<Arc<wal::Checkpointer>>,
    /// Change notifications (see [`Store::changes`]).
    changes: Arc<changes::Changes>,
    /// Ids of PMS keys already stored, for references.
    key_ids: Arc<key_ids::KeyIds>,
}

/// The PostgreSQL advisory lock key serialising migrations ("enamel" in ASCII).
const MIGRATION_LOCK: i64 = 0x656e_616d_656c;

/// The default store: a SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://enamel.db?mode=rwc";

impl Store {
    /// Connects to `sqlite://…` or `postgres://…`. SQLite runs in WAL mode with foreign
    /// keys on; a file URL without `mode=` is created when missing.
    pub async fn connect(url: &str) -> Result<Store> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl { url: redact_url(url) });
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") && !url.contains(":memory:") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        if backend == Backend::Postgres {
            // One direct connection first, so that an unreachable server or a refused login
            // is one clear error at once, not a pool timing out after retries.
            use sea_orm::sqlx::Connection as _;
            let unreachable = |reason: String| StoreError::Unreachable { url: redact_url(&url), reason };
            match tokio::time::timeout(Duration::from_secs(10), sea_orm::sqlx::PgConnection::connect(&url)).await {
                Ok(Ok(probe)) => {
                    let _ = probe.close().await;
                }
                Ok(Err(e)) => return Err(unreachable(e.to_string())),
                Err(_) => return Err(unreachable("no answer within 10 s".to_owned())),
            }
        }
        /// Prepared statements the SQLite writer connection keeps.
        const WRITER_STATEMENTS: usize = 16;
        let options = |max_connections: u32, writer: bool| {
            let mut options = ConnectOptions::new(url.clone());
            options
                .sqlx_logging(false)
                .connect_timeout(Duration::from_secs(10))
                .acquire_timeout(Duration::from_secs(30))
                .max_connections(max_connections);
            if backend == Backend::Sqlite {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                options.min_connections(1).map_sqlx_sqlite_opts(move |o| {
                    o.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .foreign_keys(true)
                        .busy_timeout(Duration::from_secs(10))
                        // The writer's statements are inserts of up to 4,000 values, one per
                        // table and row count: each prepared one holds a large program, and
                        // sqlx's default of 100 of them cost the TDental sync 20–35 MiB.
                        .statement_cache_capacity(if writer { WRITER_STATEMENTS } else { 100 })
                        // 32 MiB of page cache for the writer (the default is 2 MiB): a first
                        // sync inserts keys all over the unique index (64 MiB was no faster).
                        // The default 2 MiB for each pooled reader: the operating system
                        // caches the file behind them, and a reader's cache lives as long as
                        // the writer does not commit, so with the sync's longer transactions
                        // four 32 MiB caches filled up (25–45 MiB more peak memory in a
                        // TDental first sync, and no faster than 2 MiB ones).
                        .pragma("cache_size", if writer { "-32768" } else { "-2048" })
                        .pragma("temp_store", "memory")
                        .pragma("wal_autocheckpoint", if writer { wal::WRITER_AUTOCHECKPOINT } else { "1000" })
                });
            }
            options
        };
        // PostgreSQL keeps the server's plan cache for reads and writes alike: planning cost
        // more than running the graph's small indexed reads, and in page transactions the
        // foreign key check on `practice_id` (a query per inserted row) was replanned per
        // row under `force_custom_plan`. The sync's key look-ups need no custom plans: they
        // probe the unique index per key (`sql::rows_by_keys`), whatever the statistics.
        let db = Database::connect(options(if backend == Backend::Sqlite { 4 } else { 16 }, false)).await?;
        let tx_db = match backend {
            // An in-memory database exists once per connection: its writes share the pool.
            Backend::Sqlite if !url.contains(":memory:") && !url.contains("mode=memory") => {
                Some(Database::connect(options(1, true)).await?)
            }
            _ => None,
        };
        let writer = (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        let checkpointer = tx_db.is_some().then(|| wal::Checkpointer::new(db.clone()));
        Ok(Store { db, backend, writer, tx_db, checkpointer, changes: Arc::default(), key_ids: Arc::default() })
    }

    /// Creates the PostgreSQL database named by `url` when it does not exist, connecting to
    /// the server's `postgres` database to do so. Database names are limited to letters,
    /// digits and underscores.
    pub async fn create_postgres_database(url: &str) -> Result<()> {
        let (admin, name) = postgres_admin_url(url)?;
        let admin = Store::connect(&admin).await?;
        let exists = admin
            .db
            .query_one(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT 1 FROM pg_database WHERE datname = $1",
                [name.clone().into()],
            ))
            .await?
            .is_some();
        if !exists {
            admin.db.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
        }
        admin.close().await
    }

    /// Drops the PostgreSQL database named by `url`, disconnecting its other sessions.
    pub async fn drop_postgres_database(url: &str) -> Result<()> {
        let (admin, name) = postgres_admin_url(url)?;
        let admin = Store::connect(&admin).await?;
        admin.db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await?;
        admin.close().await
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every pending migration. On PostgreSQL, replicas starting together migrate
    /// one at a time (a session advisory lock): the first applies, the others find nothing
    /// pending.
    pub async fn migrate(&self) -> Result<()> {
        let _writer = self.write_guard().await;
        if self.backend != Backend::Postgres {
            Migrator::up(&self.db, None).await?;
            return Ok(());
        }
        use sea_orm::sqlx::Connection as _;
        let sqlx_err = |e| sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e));
        // One session holds the lock while the migrator works on the pool.
        let mut session = self.db.get_postgres_connection_pool().acquire().await.map_err(sqlx_err)?;
        sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *session)
            .await
            .map_err(sqlx_err)?;
        let result = Migrator::up(&self.db, None).await;
        let unlocked =
            sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *session).await;
        if unlocked.is_err() {
            // Closing the session releases the lock.
            let _ = session.detach().close().await;
        }
        result?;
        Ok(())
    }

    /// A receiver of change notifications from now on: write-backs and sync runs of any
    /// practice, written by this process or (on PostgreSQL, through `LISTEN/NOTIFY`) by any
    /// replica. Hints only: a lagging receiver loses some (see [`Change`]).
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.changes.subscribe(&self.db)
    }

    /// Commits `tx`, announcing `change` to every replica.
    async fn commit_announcing(&self, tx: Tx, change: Change) -> Result<()> {
        if self.backend == Backend::Postgres {
            changes::notify_in(&tx.open.txn, change).await?;
            tx.commit().await
        } else {
            tx.commit().await?;
            self.changes.announce(change);
            Ok(())
        }
    }

    /// Announces a change already committed (statements outside a transaction).
    async fn announce(&self, change: Change) -> Result<()> {
        if self.backend == Backend::Postgres {
            changes::notify_in(&self.db, change).await
        } else {
            self.changes.announce(change);
            Ok(())
        }
    }

    /// Marks a stream's runs still recorded as running failed with `reason`, once the
    /// caller holds the stream's lease (so they belong to a replica that died or gave the
    /// stream up). Returns how many.
    pub async fn close_interrupted_runs(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        stream: &str,
        reason: &str,
    ) -> Result<u64> {
        let closed = {
            let _writer = self.write_guard().await;
            sync_state::close_interrupted(&self.db, practice, connection, stream, reason).await?
        };
        if closed > 0 {
            self.announce(Change { topic: Topic::SyncRun, practice: Some(practice) }).await?;
        }
        Ok(closed)
    }

    /// How many write-backs are in each state, across practices (every state, zeros too).
    pub async fn write_back_state_counts(&self) -> Result<Vec<(enamel_domain::writeback::WriteBackState, u64)>> {
        write_back::state_counts(&self.db).await
    }

    /// Every stream's lease and schedule, of one connection or of all.
    pub async fn sync_leases(&self, connection: Option<ConnectionId>) -> Result<Vec<enamel_domain::SyncLease>> {
        sync_lease::leases(&self.db, connection).await
    }

    /// Takes a stream's lease for `ttl` unless another replica holds it (`None` then).
    pub async fn acquire_sync_lease(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        stream: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<LeaseToken>> {
        let tx = self.begin().await?;
        let token = sync_lease::acquire(&tx.open.txn, practice, connection, stream, holder, ttl).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Extends a held lease by `ttl` from now; `false` when it is no longer held with `token`.
    pub async fn renew_sync_lease(
        &self,
        connection: ConnectionId,
        stream: &str,
        token: LeaseToken,
        ttl: Duration,
    ) -> Result<bool> {
        let _writer = self.write_guard().await;
        sync_lease::renew(&self.db, connection, stream, token, ttl).await
    }

    /// Releases a held lease with the stream's next due time and the pass's outcome; `false`
    /// when it was no longer held with `token`.
    pub async fn release_sync_lease(
        &self,
        connection: ConnectionId,
        stream: &str,
        token: LeaseToken,
        how: &enamel_domain::LeaseRelease,
    ) -> Result<bool> {
        let _writer = self.write_guard().await;
        sync_lease::release(&self.db, connection, stream, token, how).await
    }

    /// Reverts every migration (drops the schema). For tests and operators.
    pub async fn migrate_down_all(&self) -> Result<()> {
        self.down(None).await
    }

    /// Undoes the last `steps` migrations (tests of a migration with data in place).
    pub async fn migrate_down(&self, steps: u32) -> Result<()> {
        self.down(Some(steps)).await
    }

    async fn down(&self, steps: Option<u32>) -> Result<()> {
        let _writer = self.write_guard().await;
        Migrator::down(&self.db, steps).await?;
        Ok(())
    }

    /// Names of migrations not yet applied.
    pub async fn pending_migrations(&self) -> Result<Vec<String>> {
        Ok(Migrator::get_pending_migrations(&self.db).await?.iter().map(|m| m.name().to_owned()).collect())
    }

    /// A textual description of the schema (tables, columns, indexes, constraints), sorted:
    /// two stores with equal descriptions have the same schema.
    pub async fn schema_description(&self) -> Result<Vec<String>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') AS line FROM sqlite_master \
                 WHERE name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations' ORDER BY 1"
            }
            Backend::Postgres => {
                "SELECT line FROM ( \
                   SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable AS line \
                     FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations' \
                   UNION ALL SELECT 'index ' || tablename || ': ' || indexdef FROM pg_indexes \
                     WHERE schemaname = current_schema() AND tablename <> 'seaql_migrations' \
                   UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ': ' || pg_get_constraintdef(oid) FROM pg_constraint \
                     WHERE connamespace = current_schema()::regnamespace AND conrelid::regclass::text <> 'seaql_migrations' \
                 ) s ORDER BY 1"
            }
        };
        let rows = self.db.query_all(Statement::from_string(self.db_backend(), sql)).await?;
        rows.iter().map(|r| r.try_get::<String>("", "line").map_err(StoreError::from)).collect()
    }

    /// Starts counting the statements this store runs (replaces any earlier counter).
    pub fn count_statements(&mut self) -> StatementCounter {
        let counter = StatementCounter::default();
        let c = counter.0.clone();
        self.db.set_metric_callback(move |_| {
            c.fetch_add(1, Ordering::Relaxed);
        });
        counter
    }

    fn db_backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Begins a transaction: writes go through it and land together on [`Tx::commit`].
    pub async fn begin(&self) -> Result<Tx> {
        let guard = self.write_guard().await;
        // `BEGIN` runs in a task of its own, to its end even when the caller stops waiting:
        // sqlx counts a transaction only once the server has answered, so a `begin` dropped
        // in between would hand its connection back to the pool inside a transaction that
        // nothing rolls back, and that connection's later writes would never commit. Done,
        // an unwanted transaction is dropped in the task and rolled back.
        let db = self.tx_db.as_ref().unwrap_or(&self.db).clone();
        let txn = tokio::spawn(async move { db.begin().await })
            .await
            .map_err(|e| StoreError::Invalid(format!("beginning a transaction failed: {e}")))??;
        Ok(Tx {
            open: Arc::new(Open { txn, _writer: guard }),
            checkpointer: self.checkpointer.clone(),
            key_ids: Arc::clone(&self.key_ids),
            learnt: key_ids::Learnt::default(),
            failed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Waits for this process's turn to write (SQLite only).
    async fn write_guard(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    /// Closes the pool.
    pub async fn close(self) -> Result<()> {
        if let Some(tx_db) = self.tx_db {
            tx_db.close().await?;
        }
        self.db.close().await?;
        Ok(())
    }

    // Configuration.

    /// Creates a practice.
    pub async fn create_practice(&self, new: NewPractice) -> Result<Practice> {
        let _writer = self.write_guard().await;
        practice::create_practice(&self.db, new).await
    }

    /// One practice.
    pub async fn practice(&self, id: PracticeId) -> Result<Practice> {
        practice::practice(&self.db, id).await
    }

    /// Every practice (the tenant registry: for operators, never for API callers).
    pub async fn practices(&self) -> Result<Vec<Practice>> {
        practice::practices(&self.db).await
    }

    /// Adds a PMS connection to a practice.
    pub async fn add_connection(&self, practice_id: PracticeId, new: NewConnection) -> Result<PmsConnection> {
        let _writer = self.write_guard().await;
        practice::add_connection(&self.db, practice_id, new).await
    }

    /// Points a connection at a new base URL (and API mode).
    pub async fn set_connection_endpoint(
        &self,
        practice_id: PracticeId,
        id: ConnectionId,
        base_url: &str,
        mode: Option<&str>,
    ) -> Result<PmsConnection> {
        let _writer = self.write_guard().await;
        practice::set_endpoint(&self.db, practice_id, id, base_url, mode).await
    }

    /// Replaces connections' credential blobs, all in one transaction (a key rotation
    /// lands whole or not at all).
    pub async fn replace_credentials(&self, blobs: Vec<(PracticeId, ConnectionId, Vec<u8>)>) -> Result<usize> {
        let tx = self.begin().await?;
        let n = blobs.len();
        for (practice, id, blob) in blobs {
            practice::set_credentials(&tx.open.txn, practice, id, blob).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// A practice's connections.
    pub async fn connections(&self, practice_id: PracticeId) -> Result<Vec<PmsConnection>> {
        practice::connections(&self.db, practice_id).await
    }

    /// One connection of a practice.
    pub async fn connection(&self, practice_id: PracticeId, id: ConnectionId) -> Result<PmsConnection> {
        practice::connection(&self.db, practice_id, id).await
    }

    // Write-backs.

    /// Stores a proposal (state `PENDING_APPROVAL`, with its first audit row). The same
    /// proposer's idempotency key with the same request digest returns the earlier
    /// write-back; with another digest it is [`StoreError::KeyReused`]. Concurrent duplicates
    /// resolve to one row (the unique key decides).
    pub async fn propose_write_back(&self, new: NewWriteBack) -> Result<Proposed> {
        let same = |(existing, hash): (WriteBack, String)| {
            if hash == new.request_hash {
                Ok(Proposed::Existing(existing))
            } else {
                Err(StoreError::KeyReused { key: new.idempotency_key.clone() })
            }
        };
        let key = (new.practice_id, new.proposed_by.id.as_str(), new.idempotency_key.as_str());
        if let Some(found) = write_back::by_key(&self.db, key.0, key.1, key.2).await? {
            return same(found);
        }
        let tx = self.begin().await?;
        match write_back::insert(&tx.open.txn, &new).await? {
            Some(created) => {
                self.commit_announcing(tx, Change { topic: Topic::WriteBack, practice: Some(new.practice_id) }).await?;
                Ok(Proposed::Created(created))
            }
            None => {
                tx.rollback().await?;
                let found = write_back::by_key(&self.db, key.0, key.1, key.2).await?.ok_or_else(|| {
                    StoreError::NotFound { entity: "write_back", id: format!("key {:?}", new.idempotency_key) }
                })?;
                same(found)
            }
        }
    }

    /// Moves a write-back to another state in one transaction with its audit row, if it is
    /// in one of `expect.states` (and, for an executor, still holds its lease); otherwise
    /// [`StoreError::StateConflict`] and nothing changes. `practice` scopes the lookup (callers);
    /// the executor, which works across practices, passes none.
    pub async fn transition_write_back(
        &self,
        practice: Option<PracticeId>,
        id: WriteBackId,
        expect: Expect<'_>,
        transition: &Transition,
    ) -> Result<WriteBack> {
        let tx = self.begin().await?;
        let after = write_back::transition(&tx.open.txn, practice, id, expect, transition).await?;
        self.commit_announcing(tx, Change { topic: Topic::WriteBack, practice: Some(after.practice_id) }).await?;
        Ok(after)
    }

    /// Claims the next due write-back (approved, or awaiting reconciliation, with its next
    /// attempt due by `now`): `APPLYING` under a lease held by `owner` until `lease_until`,
    /// one attempt counted. `None` when nothing is due, or when another claimer won the row.
    pub async fn claim_write_back(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<WriteBack>> {
        let tx = self.begin().await?;
        let Some(id) = write_back::next_due(&tx.open.txn, now).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let mut t = Transition::new(enamel_domain::writeback::WriteBackState::Applying, owner, now);
        t.claim = Some((owner.to_owned(), lease_until));
        t.detail = serde_json::json!({ "lease_until": lease_until.to_rfc3339() });
        let states = [
            enamel_domain::writeback::WriteBackState::Approved,
            enamel_domain::writeback::WriteBackState::NeedsReconciliation,
        ];
        match write_back::transition(&tx.open.txn, None, id, Expect { states: &states, lease_owner: None }, &t).await {
            Ok(claimed) => {
                self.commit_announcing(tx, Change { topic: Topic::WriteBack, practice: Some(claimed.practice_id) })
                    .await?;
                Ok(Some(claimed))
            }
            Err(StoreError::StateConflict { .. }) => {
                tx.rollback().await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Write-backs in `states` whose lease (`lease = true`) or deadline ran out before `now`,
    /// across practices.
    pub async fn overdue_write_backs(
        &self,
        states: &[enamel_domain::writeback::WriteBackState],
        lease: bool,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<WriteBackId>> {
        write_back::overdue(&self.db, states, lease, now, limit).await
    }

    /// The write-back a proposer's idempotency key names, with its request digest.
    pub async fn write_back_by_key(
        &self,
        practice: PracticeId,
        proposer: &str,
        key: &str,
    ) -> Result<Option<(WriteBack, String)>> {
        write_back::by_key(&self.db, practice, proposer, key).await
    }

    /// One write-back of the practice (`None`: any practice, for the executor).
    pub async fn write_back(&self, practice: Option<PracticeId>, id: WriteBackId) -> Result<WriteBack> {
        write_back::get(&self.db, practice, id).await
    }

    /// A page of the practice's write-backs, newest first.
    pub async fn write_backs(
        &self,
        practice: PracticeId,
        filter: &WriteBackFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<WriteBack>> {
        write_back::list(&self.db, practice, filter, offset, limit).await
    }

    /// How many write-backs match.
    pub async fn count_write_backs(&self, practice: PracticeId, filter: &WriteBackFilter) -> Result<u64> {
        write_back::count(&self.db, practice, filter).await
    }

    /// Write-backs changed at or after `since`, oldest change first.
    pub async fn write_backs_changed_since(
        &self,
        practice: PracticeId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<WriteBack>> {
        write_back::changed_since(&self.db, practice, since, limit).await
    }

    /// A write-back's audit rows (its full history), in order.
    pub async fn write_back_history(&self, practice: PracticeId, id: WriteBackId) -> Result<Vec<AuditLink>> {
        write_back::history(&self.db, practice, id).await
    }

    /// Up to `limit` rows of a practice's audit chain from position `from`, in order.
    pub async fn audit_chain(&self, practice: PracticeId, from: i64, limit: u64) -> Result<Vec<AuditLink>> {
        write_back::chain(&self.db, practice, from, limit).await
    }

    /// Every audit chain's end as its head records it: (practice, last position, last hash).
    pub async fn audit_chain_heads(&self) -> Result<Vec<(PracticeId, i64, String)>> {
        write_back::chain_heads(&self.db).await
    }

    /// Runs SQL as given, outside any model: for operators' repair scripts and for tests
    /// that must act as an intruder with direct database access (tampering with the audit
    /// trail). Never reachable from the API.
    pub async fn execute_sql(&self, sql: &str) -> Result<()> {
        let _writer = self.write_guard().await;
        self.db.execute_unprepared(sql).await?;
        Ok(())
    }

    // Deferred indexes (see the `deferred_index` module).

    /// Drops the lookup indexes (`ix_…`) of a synced table that has no row at all, of any
    /// practice, recording in the same transaction how to create each again; `by` names the
    /// deferrer (the sync's connection and stream). A first sync loads such a table faster
    /// and then calls [`Store::restore_indexes`]. Returns the names dropped: none when the
    /// table has rows or nothing is left to drop. An error (on PostgreSQL, the table's lock
    /// not granted within 5 s) drops nothing.
    pub async fn defer_indexes(&self, table: &str, by: &str) -> Result<Vec<String>> {
        let table = deferred_index::synced_table(table)?;
        // Most tables have rows: told without a transaction (nor, on SQLite, the writer).
        if deferred_index::has_rows(&self.db, table).await? {
            return Ok(Vec::new());
        }
        let tx = self.begin().await?;
        let deferred = deferred_index::defer(&tx.open.txn, table, by).await;
        tx.settle(deferred).await
    }

    /// Creates again, in one transaction, the indexes `by` deferred on `table`, and forgets
    /// them. Returns their names (none when nothing was deferred).
    pub async fn restore_indexes(&self, table: &str, by: &str) -> Result<Vec<String>> {
        self.restore_recorded(Some(table), Some(by)).await
    }

    /// Creates again every index recorded as deferred, whoever deferred it: those a process
    /// that died left behind. `enamel serve` calls it at start-up; a first sync still running
    /// elsewhere only loses the speed of its deferral.
    pub async fn restore_all_indexes(&self) -> Result<Vec<String>> {
        self.restore_recorded(None, None).await
    }

    async fn restore_recorded(&self, table: Option<&str>, by: Option<&str>) -> Result<Vec<String>> {
        // Most calls find nothing: no transaction then.
        if deferred_index::recorded(&self.db, table, by).await?.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.begin().await?;
        let work = async {
            let recorded = deferred_index::recorded(&tx.open.txn, table, by).await?;
            for (index, definition) in &recorded {
                deferred_index::restore(&tx.open.txn, index, definition).await?;
            }
            Ok::<_, StoreError>(recorded.into_iter().map(|(index, _)| index.name).collect())
        };
        let restored = work.await;
        tx.settle(restored).await
    }

    /// The indexes recorded as deferred, by name.
    pub async fn deferred_indexes(&self) -> Result<Vec<DeferredIndex>> {
        Ok(deferred_index::recorded(&self.db, None, None).await?.into_iter().map(|(index, _)| index).collect())
    }

    /// The names of a synced table's lookup indexes as the database has them now.
    pub async fn lookup_indexes(&self, table: &str) -> Result<Vec<String>> {
        let table = deferred_index::synced_table(table)?;
        Ok(deferred_index::lookup_indexes(&self.db, table).await?.into_iter().map(|(name, _)| name).collect())
    }

    // PHI access events.

    /// Records that a response returned these patients' data (the API calls it before it
    /// answers; if it fails, the answer is an error).
    pub async fn record_phi_access(&self, event: &enamel_domain::PhiAccess) -> Result<()> {
        self.record_phi_accesses(std::slice::from_ref(event)).await
    }

    /// Records several access events in one statement: all of them or, on an error, none.
    pub async fn record_phi_accesses(&self, events: &[enamel_domain::PhiAccess]) -> Result<()> {
        let _writer = self.write_guard().await;
        phi_access::record(&self.db, events).await
    }

    /// A page of the practice's access events, newest first.
    pub async fn phi_accesses(
        &self,
        practice: PracticeId,
        filter: &PhiAccessFilter,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<enamel_domain::PhiAccess>> {
        phi_access::list(&self.db, practice, filter, offset, limit).await
    }

    /// How many access events match.
    pub async fn count_phi_accesses(&self, practice: PracticeId, filter: &PhiAccessFilter) -> Result<u64> {
        phi_access::count(&self.db, practice, filter).await
    }

    // API keys.

    /// Creates an API key for the practice; returns it with its token, which is shown
    /// only now (the store keeps a hash).
    pub async fn create_api_key(
        &self,
        practice: PracticeId,
        name: &str,
        scopes: &[enamel_domain::Scope],
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(enamel_domain::ApiKey, String)> {
        let _writer = self.write_guard().await;
        api_key::create(&self.db, practice, name, scopes, expires_at).await
    }

    /// The key a bearer token names, when its secret matches (expired and revoked keys
    /// included: check [`enamel_domain::ApiKey::is_usable`]).
    pub async fn authenticate(&self, token: &str) -> Result<Option<enamel_domain::ApiKey>> {
        api_key::authenticate(&self.db, token).await
    }

    /// The practice's API keys, oldest first.
    pub async fn api_keys(&self, practice: PracticeId) -> Result<Vec<enamel_domain::ApiKey>> {
        api_key::list(&self.db, practice).await
    }

    /// Revokes a key (idempotent).
    pub async fn revoke_api_key(
        &self,
        practice: PracticeId,
        id: enamel_domain::ids::ApiKeyId,
    ) -> Result<enamel_domain::ApiKey> {
        let _writer = self.write_guard().await;
        api_key::revoke(&self.db, practice, id).await
    }

    // Synced rows.

    /// Prepares an upsert outside any transaction, through the pool's connections: reads
    /// the stored hashes and referenced ids and builds the rows, so that a transaction
    /// only writes ([`Tx::write_prepared`]). What is read is what is committed now: the
    /// caller prepares beside a transaction only rows that it cannot affect (other keys,
    /// and no references into the tables it writes: see [`tables::refers_to`]).
    pub async fn prepare_upsert<R: Upsert>(
        &self,
        practice: PracticeId,
        source: Source,
        rows: &[SyncRow<R>],
    ) -> Result<Prepared> {
        upsert::prepare(&self.db, &self.key_ids, practice, source, rows, &upsert::none_absent).await
    }

    /// As [`Store::prepare_upsert`], told which keys are certainly not stored: their rows
    /// are not looked for, and rows with them are new. A first sync into a scope that held
    /// no row knows the keys it has not written yet. A key wrongly said absent makes the
    /// write fail on the unique key, never store a row twice.
    pub async fn prepare_upsert_absent<R: Upsert>(
        &self,
        practice: PracticeId,
        source: Source,
        rows: &[SyncRow<R>],
        absent: &Absent<'_>,
    ) -> Result<Prepared> {
        upsert::prepare(&self.db, &self.key_ids, practice, source, rows, absent).await
    }

    /// Upserts a batch in its own transaction. See [`Tx::upsert`].
    pub async fn upsert<R: Upsert>(
        &self,
        practice: PracticeId,
        source: Source,
        rows: &[SyncRow<R>],
    ) -> Result<UpsertReport> {
        let tx = self.begin().await?;
        let report = tx.upsert(practice, source, rows).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Rows by id within the practice, soft-deleted ones included; ids from another
    /// practice or unknown ids are simply absent. One statement.
    pub async fn get_many<T: Table>(&self, practice: PracticeId, ids: &[T]) -> Result<Vec<Stored<T::Record>>> {
        read::by_ids(&self.db, practice, ids).await
    }

    /// A tree of rows in one statement: `root`, the rows `node` says it leads to, and so
    /// on down (see [`TreeNode`]). Rows are read as [`Store::get_many`] and
    /// [`Store::children`] read them.
    pub async fn tree(&self, practice: PracticeId, root: TreeRoot, node: &TreeNode) -> Result<Vec<TreeRow>> {
        tree::read(&self.db, practice.uuid(), root, node).await
    }

    /// One row by id within the practice.
    pub async fn get<T: Table>(&self, practice: PracticeId, id: T) -> Result<Stored<T::Record>> {
        read::by_ids(&self.db, practice, &[id])
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound { entity: T::ENTITY, id: id.to_string() })
    }

    /// The row with this PMS key, deleted or not.
    pub async fn find_by_source_id<T: Table>(
        &self,
        practice: PracticeId,
        source: Source,
        key: &SourceKey,
    ) -> Result<Option<Stored<T::Record>>> {
        read::by_source_id::<T, _>(&self.db, practice, source, key).await
    }

    /// Ids of every live row of `T` in the practice, in creation order. Meant for small
    /// tables, reconciliation and tests: it reads the whole id column.
    pub async fn live_ids<T: Table>(&self, practice: PracticeId) -> Result<Vec<T>> {
        read::live_ids::<T, _>(&self.db, practice).await
    }

    /// Live children of the given parents through `link`, grouped by parent, ordered and
    /// limited per parent by `page`. One statement.
    pub async fn children<T: Table, P: EntityId>(
        &self,
        practice: PracticeId,
        link: Link<T, P>,
        parents: &[P],
        page: ChildPage<T>,
    ) -> Result<Vec<Stored<T::Record>>> {
        read::children(&self.db, practice, link, parents, page).await
    }

    /// Like [`Store::children`], each row paired with its parent's id (what a dataloader
    /// needs to hand each parent its rows). One statement.
    pub async fn children_of<T: Table, P: EntityId>(
        &self,
        practice: PracticeId,
        link: Link<T, P>,
        parents: &[P],
        page: ChildPage<T>,
    ) -> Result<Vec<(P, Stored<T::Record>)>> {
        read::children_of(&self.db, practice, link, parents, page).await
    }

    /// How many live children each parent has through `link` (parents without children
    /// are absent). One statement.
    pub async fn count_children<T: Table, P: EntityId>(
        &self,
        practice: PracticeId,
        link: Link<T, P>,
        parents: &[P],
    ) -> Result<Vec<(P, u64)>> {
        read::count_children(&self.db, practice, link, parents).await
    }

    /// One page of the live rows matching `filter`. One statement.
    pub async fn list<F: Filter>(
        &self,
        practice: PracticeId,
        filter: &F,
        page: ListPage<F::Table>,
    ) -> Result<Vec<Stored<<F::Table as table::sealed::TableDef>::Record>>> {
        search::list(&self.db, practice, filter, page).await
    }

    /// How many live rows match `filter`. One statement.
    pub async fn count<F: Filter>(&self, practice: PracticeId, filter: &F) -> Result<u64> {
        search::count(&self.db, practice, filter).await
    }

    /// The last raw PMS payload of a row.
    pub async fn raw_payload<T: Table>(&self, practice: PracticeId, id: T) -> Result<Option<serde_json::Value>> {
        raw::load(&self.db, practice, id.uuid()).await
    }

    /// References of the practice's rows that do not point at a row of the same practice:
    /// empty when the store is consistent. One statement per reference column.
    pub async fn check_references(&self, practice: PracticeId) -> Result<Vec<DanglingReferences>> {
        integrity::check(&self.db, practice).await
    }

    // Sync state.

    /// The practice's quarantined source rows, most recent first.
    pub async fn quarantined(&self, practice: PracticeId, limit: u64) -> Result<Vec<Quarantined>> {
        quarantine::list(&self.db, practice, limit).await
    }

    /// Whether the synced table `table` holds any row, live or deleted, of the practice from
    /// `source` whose key starts with `scope` (a stream's key prefix, "" for all). A full
    /// pass over a scope that held none has nothing to reconcile: every row in it then is
    /// one the pass wrote.
    pub async fn any_in_scope(&self, table: &str, practice: PracticeId, source: Source, scope: &str) -> Result<bool> {
        let table = deferred_index::synced_table(table)?;
        reconcile::any_in_scope(&self.db, table, practice, source, scope).await
    }

    /// Whether a stream of a connection has quarantined rows that no sync has stored since.
    pub async fn has_unresolved_quarantine(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        stream: &str,
    ) -> Result<bool> {
        quarantine::any_unresolved(&self.db, practice, connection, stream).await
    }

    /// Every row of `T` from `source` as (PMS key, content hash, deleted), in key order: a
    /// fingerprint for comparing two copies of the same data.
    pub async fn fingerprint<T: Table>(
        &self,
        practice: PracticeId,
        source: Source,
    ) -> Result<Vec<(String, i64, bool)>> {
        read::fingerprint::<T, _>(&self.db, practice, source).await
    }

    /// A stream's checkpoint.
    pub async fn checkpoint(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        stream: &str,
    ) -> Result<Option<Checkpoint>> {
        sync_state::checkpoint(&self.db, practice, connection, stream).await
    }

    /// What is remembered of a stream's pages (see [`PageMemo`]). Memos that do not read
    /// back are left out.
    pub async fn page_memos(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        stream: &str,
    ) -> Result<Vec<PageMemo>> {
        page_memo::load(&self.db, practice, connection, stream).await
    }

    /// Records the start of a sync run.
    pub async fn start_run(&self, practice: PracticeId, connection: ConnectionId, stream: &str) -> Result<SyncRunId> {
        let id = {
            let _writer = self.write_guard().await;
            sync_state::start_run(&self.db, practice, connection, stream).await?
        };
        self.announce(Change { topic: Topic::SyncRun, practice: Some(practice) }).await?;
        Ok(id)
    }

    /// Records the end of a sync run: failed when `error` is set.
    pub async fn finish_run(
        &self,
        practice: PracticeId,
        run: SyncRunId,
        counts: SyncCounts,
        error: Option<String>,
    ) -> Result<()> {
        {
            let _writer = self.write_guard().await;
            sync_state::finish_run(&self.db, practice, run, counts, error).await?;
        }
        self.announce(Change { topic: Topic::SyncRun, practice: Some(practice) }).await
    }

    /// The practice's most recent sync runs, newest first.
    pub async fn sync_runs(&self, practice: PracticeId, limit: u64) -> Result<Vec<SyncRun>> {
        sync_state::runs(&self.db, practice, limit).await
    }
}

/// Splits a PostgreSQL URL into the URL of the server's `postgres` database and the
/// database name.
fn postgres_admin_url(url: &str) -> Result<(String, String)> {
    let invalid = || StoreError::UnsupportedUrl { url: redact_url(url) };
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, name) = base.rsplit_once('/').ok_or_else(invalid)?;
    if !server.contains("://") || name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(invalid());
    }
    let admin = match query {
        Some(q) => format!("{server}/postgres?{q}"),
        None => format!("{server}/postgres"),
    };
    Ok((admin, name.to_owned()))
}

/// A transaction the caller controls. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    /// Shared with a batch's statements while they run on a task of their own
    /// ([`Tx::write_prepared`]).
    open: Arc<Open>,
    checkpointer: Option<Arc<wal::Checkpointer>>,
    key_ids: Arc<key_ids::KeyIds>,
    /// Ids learnt in this transaction, shared with the store's later ones when it commits.
    learnt: key_ids::Learnt,
    /// A batch's statements failed part-way: the transaction can only roll back. (On SQLite
    /// a failed `INSERT OR FAIL` keeps the rows it wrote before the failure.)
    failed: std::sync::atomic::AtomicBool,
}

/// An open transaction and, on SQLite, the one writer's lock, released after it ends.
struct Open {
    txn: DatabaseTransaction,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Open {
    /// The transaction back from the tasks that wrote in it (they are done once their
    /// writes returned).
    fn take(open: Arc<Open>) -> Result<Open> {
        Arc::try_unwrap(open).map_err(|_| StoreError::Invalid("a batch is still being written".into()))
    }
}

impl Tx {
    /// Upserts a batch of mapped rows keyed on (`source`, `source_id`): unchanged rows are
    /// skipped, references are resolved within the practice and source, and rows whose
    /// references do not resolve are rejected (reported, not written) while the rest land.
    /// A key repeated in the batch counts once (the last occurrence wins).
    pub async fn upsert<R: Upsert>(
        &self,
        practice: PracticeId,
        source: Source,
        rows: &[SyncRow<R>],
    ) -> Result<UpsertReport> {
        let prepared =
            upsert::prepare(&self.open.txn, &self.key_ids, practice, source, rows, &upsert::none_absent).await?;
        self.write_prepared(prepared).await
    }

    /// Writes a batch prepared by [`Store::prepare_upsert`]. Rows new when it was prepared
    /// are inserted without looking for a conflict: if another transaction stored one of
    /// their keys meanwhile, this one fails on the unique key rather than write it twice.
    ///
    /// The statements are built and run on a task of their own, so that they keep the
    /// database busy while the caller's task does other work (the sync prepares the next
    /// unit meanwhile). Dropped before they are done, they run to their end and the
    /// transaction then rolls back.
    pub async fn write_prepared(&self, prepared: Prepared) -> Result<UpsertReport> {
        let open = Arc::clone(&self.open);
        let written = upsert::write_prepared(&self.learnt, prepared, |statements| async move {
            tokio::spawn(async move { sql::pipelined(&open.txn, statements).await })
                .await
                .map_err(|e| StoreError::Invalid(format!("writing a batch failed: {e}")))?
                .map_err(StoreError::from)
        })
        .await;
        if written.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        written
    }

    /// Soft-deletes the live rows of `T` from `source` whose keys start with `scope` ("" for
    /// all; streams sharing a table keep their keys under a prefix) and are not in `present`,
    /// the complete key set of a full pass, unless that exceeds `max_share` of those rows.
    pub async fn soft_delete_absent<T: Table>(
        &self,
        practice: PracticeId,
        source: Source,
        scope: &str,
        present: &(impl KeySet + ?Sized),
        max_share: f64,
    ) -> Result<SoftDelete> {
        reconcile::soft_delete_absent::<T, _>(&self.open.txn, practice, source, scope, present, max_share).await
    }

    /// Soft-deletes the live rows of `T` from `source` with these PMS keys (deletions the PMS
    /// reports itself). Returns how many were live.
    pub async fn soft_delete_keys<T: Table>(
        &self,
        practice: PracticeId,
        source: Source,
        keys: &[SourceKey],
    ) -> Result<u64> {
        reconcile::soft_delete_keys::<T, _>(&self.open.txn, practice, source, keys).await
    }

    /// Saves a stream's checkpoint; it lands with the rest of the transaction.
    pub async fn save_checkpoint(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        stream: &str,
        cursor: Option<serde_json::Value>,
        progress: Option<serde_json::Value>,
    ) -> Result<()> {
        sync_state::save_checkpoint(&self.open.txn, practice, connection, stream, cursor, progress).await
    }

    /// Quarantines rows that could not be mapped or stored; it lands with the transaction.
    pub async fn quarantine(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        entries: &[QuarantineEntry],
    ) -> Result<()> {
        quarantine::record(&self.open.txn, practice, connection, entries).await
    }

    /// Marks quarantined keys of a stream resolved, once they have been stored.
    pub async fn resolve_quarantine(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        stream: &str,
        keys: &[String],
    ) -> Result<u64> {
        quarantine::resolve(&self.open.txn, practice, connection, stream, keys).await
    }

    /// Remembers pages whose rows all landed in this transaction (see [`PageMemo`]),
    /// replacing what was remembered of the same pages.
    pub async fn save_page_memos(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        stream: &str,
        memos: &[PageMemo],
    ) -> Result<()> {
        page_memo::save(&self.open.txn, practice, connection, stream, memos).await
    }

    /// Forgets what was remembered of these pages of a stream (all of them when `pages` is
    /// `None`): their next answers are read in full. Returns how many memos there were.
    pub async fn forget_page_memos(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        stream: &str,
        pages: Option<&[String]>,
    ) -> Result<u64> {
        page_memo::forget(&self.open.txn, practice, connection, stream, pages).await
    }

    /// Reads a stream's checkpoint inside the transaction.
    pub async fn checkpoint(
        &self,
        practice: PracticeId,
        connection: ConnectionId,
        stream: &str,
    ) -> Result<Option<Checkpoint>> {
        sync_state::checkpoint(&self.open.txn, practice, connection, stream).await
    }

    /// Commits; a transaction in which a batch failed to write rolls back instead, with an
    /// error.
    pub async fn commit(self) -> Result<()> {
        let open = Open::take(self.open)?;
        if self.failed.load(Ordering::Relaxed) {
            open.txn.rollback().await?;
            return Err(StoreError::Invalid("a batch failed to write in this transaction: it was rolled back".into()));
        }
        open.txn.commit().await?;
        self.key_ids.share(self.learnt);
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.nudge();
        }
        Ok(())
    }

    /// Commits if the work done in it succeeded, else rolls back; returns its outcome.
    async fn settle<T>(self, outcome: Result<T>) -> Result<T> {
        match outcome {
            Ok(value) => {
                self.commit().await?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.rollback().await;
                Err(e)
            }
        }
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<()> {
        let open = Open::take(self.open)?;
        open.txn.rollback().await?;
        Ok(())
    }
}
