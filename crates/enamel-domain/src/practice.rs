//! Practices (tenants), their PMS connections and the record of sync runs.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::{ConnectionId, SyncRunId};
use crate::{Currency, PracticeId, Source};

/// A practice: the tenant every row belongs to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Practice {
    /// Id.
    pub id: PracticeId,
    /// Display name.
    pub name: String,
    /// The office time zone: PMS local times are converted with it.
    pub time_zone: chrono_tz::Tz,
    /// The currency amounts are in.
    pub currency: Currency,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A configured connection to one PMS. The credentials are an opaque, encrypted blob here.
#[derive(Clone, PartialEq, Serialize)]
pub struct PmsConnection {
    /// Id.
    pub id: ConnectionId,
    /// The practice.
    pub practice_id: PracticeId,
    /// Which PMS.
    pub kind: Source,
    /// The PMS's base URL.
    pub base_url: String,
    /// The API mode (`remote`, `local`), where the PMS has modes.
    pub mode: Option<String>,
    /// Encrypted credentials.
    #[serde(skip)]
    pub credentials: Option<Vec<u8>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for PmsConnection {
    /// Never prints the credentials, even encrypted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PmsConnection")
            .field("id", &self.id)
            .field("practice_id", &self.practice_id)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("mode", &self.mode)
            .field("credentials", &self.credentials.as_ref().map(|_| "<encrypted>"))
            .finish_non_exhaustive()
    }
}

/// How a sync run ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, strum::Display, strum::EnumString, strum::AsRefStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SyncRunStatus {
    /// Still running (or the process died during it).
    Running,
    /// Finished without error.
    Succeeded,
    /// Finished with an error.
    Failed,
}

/// Counts of one sync run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncCounts {
    /// Records fetched from the PMS.
    pub fetched: u64,
    /// Rows inserted.
    pub inserted: u64,
    /// Rows updated.
    pub updated: u64,
    /// Rows skipped as unchanged.
    pub unchanged: u64,
    /// Rows soft-deleted.
    pub deleted: u64,
    /// Records quarantined.
    pub quarantined: u64,
}

/// One recorded run of one stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncRun {
    /// Id.
    pub id: SyncRunId,
    /// The practice.
    pub practice_id: PracticeId,
    /// The connection synced.
    pub connection_id: ConnectionId,
    /// The stream (`appointments`, `Partners`…).
    pub stream: String,
    /// How it ended.
    pub status: SyncRunStatus,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Counts.
    pub counts: SyncCounts,
    /// The error, for a failed run.
    pub error: Option<String>,
}

/// The schedule and lease of one stream of one connection: which replica syncs it now (if
/// any, until `expires_at`), when it is next due, and how its last passes went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncLease {
    /// The practice.
    pub practice_id: PracticeId,
    /// The connection.
    pub connection_id: ConnectionId,
    /// The stream.
    pub stream: String,
    /// The replica holding the lease, while one does.
    pub holder: Option<String>,
    /// When the lease lapses unless renewed.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the stream is next due (`None`: now).
    pub next_due_at: Option<DateTime<Utc>>,
    /// When a pass last completed.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Passes failed in a row since the last success.
    pub failures: u32,
    /// The last failure's message.
    pub last_error: Option<String>,
}

impl SyncLease {
    /// Whether a replica holds it at `now`.
    pub fn is_held(&self, now: DateTime<Utc>) -> bool {
        self.holder.is_some() && self.expires_at.is_some_and(|at| at > now)
    }

    /// Whether it is due at `now`.
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.next_due_at.is_none_or(|at| at <= now)
    }
}

/// How a lease holder leaves a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRelease {
    /// When the stream is next due.
    pub next_due_at: DateTime<Utc>,
    /// `None` when the pass completed, else why it did not (abandoned passes at shutdown
    /// are not failures: pass `None` and `completed: false`).
    pub error: Option<String>,
    /// The pass completed.
    pub completed: bool,
}
