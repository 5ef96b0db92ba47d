//! The harness of the HTTP and WebSocket tests: a fresh store per test on each backend
//! (as `tests/it/support.rs` does), the router over it, and fixtures made through the
//! store's API.

// Each test binary uses part of the harness.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, Result};
use enamel_domain::ids::ConnectionId;
use enamel_domain::{Currency, PracticeId, Scope, Source};
use enamel_graphql::{Api, Options};
use enamel_server::http::{HttpConfig, router, serve};
use enamel_store::{NewConnection, NewPractice, Store};

/// A backend to run a test on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated, empty store that cleans up after itself in [`TestStore::finish`].
struct TestStore {
    store: Store,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Database(String),
}

fn postgres_server() -> String {
    std::env::var("ENAMEL_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn postgres_required() -> bool {
    std::env::var("ENAMEL_REQUIRE_POSTGRES").is_ok_and(|v| v == "1" || v == "true")
}

impl TestStore {
    /// A fresh, migrated store, or `None` when PostgreSQL is unreachable and not required.
    async fn new(backend: Backend) -> Option<TestStore> {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("enamel-server-test-{tag}.db"));
                let store = Store::connect(&format!("sqlite://{}", path.display())).await.expect("open SQLite");
                store.migrate().await.expect("migrate SQLite");
                Some(TestStore { store, cleanup: Cleanup::File(path) })
            }
            Backend::Postgres => {
                let server = postgres_server();
                let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b).to_owned();
                let url = format!("{base}/enamel_test_{tag}");
                if let Err(e) = Store::create_postgres_database(&url).await {
                    assert!(
                        !postgres_required(),
                        "PostgreSQL is required (ENAMEL_REQUIRE_POSTGRES) but unreachable: {e}"
                    );
                    eprintln!("note: PostgreSQL unreachable ({e}); skipping");
                    return None;
                }
                let store = Store::connect(&url).await.expect("connect PostgreSQL");
                store.migrate().await.expect("migrate PostgreSQL");
                Some(TestStore { store, cleanup: Cleanup::Database(url) })
            }
        }
    }

    /// Closes the store and removes its file or database.
    async fn finish(self) {
        let _ = self.store.close().await;
        match self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Database(url) => {
                let _ = Store::drop_postgres_database(&url).await;
            }
        }
    }
}

/// Runs `test` against a fresh store of `backend`.
pub(crate) async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let Some(t) = TestStore::new(backend).await else {
        return;
    };
    let result = test(t.store.clone()).await;
    t.finish().await;
    if let Err(e) = result {
        panic!("{backend:?}: {e:?}");
    }
}

/// Declares each listed `async fn(Store) -> anyhow::Result<()>` as a test on SQLite
/// (`sqlite::name`) and on PostgreSQL (`postgres::name`).
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::run($crate::support::Backend::Sqlite, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::run($crate::support::Backend::Postgres, super::$name).await;
                }
            )*
        }
    };
}

pub(crate) use backend_tests;

/// A practice.
pub(crate) async fn practice(store: &Store, name: &str) -> Result<PracticeId> {
    let new = NewPractice { name: name.to_owned(), time_zone: chrono_tz::America::New_York, currency: Currency::Usd };
    Ok(store.create_practice(new).await?.id)
}

/// A practice with one (Open Dental) connection, as sync runs need.
pub(crate) async fn connected(store: &Store, name: &str) -> Result<(PracticeId, ConnectionId)> {
    let p = practice(store, name).await?;
    let new = NewConnection {
        kind: Source::OpenDental,
        base_url: "http://sim".into(),
        mode: Some("remote".into()),
        credentials: None,
    };
    Ok((p, store.add_connection(p, new).await?.id))
}

/// A new API key's token.
pub(crate) async fn key(store: &Store, practice: PracticeId, scopes: &[Scope]) -> Result<String> {
    Ok(store.create_api_key(practice, "test key", scopes, None).await?.1)
}

/// Options for tests: subscriptions poll every 50 ms.
pub(crate) fn options() -> Options {
    Options { poll_interval: Some(Duration::from_millis(50)), ..Default::default() }
}

/// The router over `store`.
pub(crate) fn app(store: &Store, options: Options, config: HttpConfig) -> axum::Router {
    router(Api::new(store.clone(), options), store.clone(), config)
}

/// A server on 127.0.0.1 (any port), stopped when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    /// Serves `app` until dropped.
    pub(crate) async fn start(app: axum::Router) -> Result<Server> {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, bound) = tokio::sync::oneshot::channel();
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            let on_ready = move |addr| {
                let _ = ready.send(addr);
            };
            if let Err(e) = serve(addr, app, on_ready, shutdown).await {
                eprintln!("test server failed: {e:#}");
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(10), bound).await.context("server start")??;
        Ok(Server { addr, stop: Some(stop) })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
