//! The test harness: a fresh store per test on each backend.

use std::future::Future;

use enamel_store::Store;

/// A backend to run a test on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated, empty store that cleans up after itself in [`TestStore::finish`].
pub struct TestStore {
    pub store: Store,
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
    pub async fn new(backend: Backend) -> Option<TestStore> {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("enamel-test-{tag}.db"));
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
    pub async fn finish(self) {
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
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
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
