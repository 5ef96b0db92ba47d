//! The practices' stored PMS connections, opened with the master key: one client per
//! connection, shared by the sync scheduler and the write-back executor (so each credential
//! has one rate limiter), reopened after a while so that endpoint and credential changes
//! take effect. A connection that cannot be opened (a wrong master key, no credentials) is
//! skipped with its reason, logged once per reopening period, and never stops the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use enamel_domain::ids::ConnectionId;
use enamel_domain::{PracticeId, Source};
use enamel_pms::{PmsError, PmsWriter};
use enamel_store::{Store, StoreError};
use enamel_sync::Scheduled;
use enamel_writeback::PmsDirectory;
use futures::future::BoxFuture;

use crate::commands::{PmsHandle, client_for};
use crate::config::PmsSettings;
use crate::secrets::MasterKey;

/// How long an opened client (or the reason it could not be opened) is reused.
const CLIENT_TTL: Duration = Duration::from_secs(300);

type Opened = Result<Arc<PmsHandle>, String>;

/// The stored connections' clients.
pub(crate) struct StoredConnections {
    store: Store,
    key: MasterKey,
    settings: PmsSettings,
    clients: Mutex<HashMap<ConnectionId, (Instant, Opened)>>,
}

impl StoredConnections {
    pub(crate) fn new(store: Store, key: MasterKey, settings: PmsSettings) -> Self {
        Self { store, key, settings, clients: Mutex::new(HashMap::new()) }
    }

    /// The client of a connection, opened or from the cache.
    fn opened(&self, practice: &enamel_domain::Practice, connection: &enamel_domain::PmsConnection) -> Opened {
        if let Ok(cache) = self.clients.lock()
            && let Some((at, opened)) = cache.get(&connection.id)
            && at.elapsed() < CLIENT_TTL
        {
            return opened.clone();
        }
        let opened =
            client_for(connection, practice, &self.key, self.settings).map(Arc::new).map_err(|e| format!("{e:#}"));
        if let Err(reason) = &opened {
            tracing::error!(connection = %connection.id, practice = %practice.id, reason, "cannot open a PMS connection; its streams and write-backs wait");
        }
        if let Ok(mut cache) = self.clients.lock() {
            cache.insert(connection.id, (Instant::now(), opened.clone()));
        }
        opened
    }

    /// Every practice's connections that can be opened, for the scheduler.
    pub(crate) async fn scheduled(&self) -> Result<Vec<Scheduled>, StoreError> {
        let mut out = Vec::new();
        for practice in self.store.practices().await? {
            for connection in self.store.connections(practice.id).await? {
                if let Ok(handle) = self.opened(&practice, &connection) {
                    out.push(Scheduled {
                        practice: practice.id,
                        connection: connection.id,
                        source: connection.kind,
                        client: handle.shared_client(),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn writer_of(&self, practice: PracticeId, source: Source) -> Result<Arc<dyn PmsWriter>, PmsError> {
        let unavailable = |what: String| PmsError::NotConfigured(what);
        let p = self.store.practice(practice).await.map_err(|e| unavailable(e.to_string()))?;
        let connections = self.store.connections(practice).await.map_err(|e| unavailable(e.to_string()))?;
        let connection = connections
            .into_iter()
            .find(|c| c.kind == source)
            .ok_or_else(|| unavailable(format!("practice {practice} has no {source} connection")))?;
        let handle =
            self.opened(&p, &connection).map_err(|e| unavailable(format!("connection {}: {e}", connection.id)))?;
        Ok(handle.writer())
    }
}

impl PmsDirectory for StoredConnections {
    fn writer(&self, practice: PracticeId, source: Source) -> BoxFuture<'_, Result<Arc<dyn PmsWriter>, PmsError>> {
        Box::pin(self.writer_of(practice, source))
    }
}
