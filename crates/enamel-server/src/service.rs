//! `enamel serve`: the API, the sync scheduler and the write-back executor in one process,
//! supervised, observable, and stopped within a bound.
//!
//! - Start: the configuration is valid (checked before this), the master key is there
//!   (sync and write-back open PMS credentials with it), the store answers and its schema
//!   is current, the address can be bound — else one clear message and exit status 1.
//! - Tasks: the scheduler and the executor run under [`supervise`]: a task that fails or
//!   panics is logged, counted (`enamel_task_restarts_total`) and restarted with backoff;
//!   the HTTP server ending on its own ends the process with its error.
//! - Stop (SIGTERM, Ctrl-C): no new work is taken; in-flight requests, the sync page and
//!   the write-back attempt have `shutdown_grace` to finish, after which they are abandoned.
//!   Both resume safely: pages commit with their checkpoints and a released (or lapsed)
//!   lease lets the next holder resume; an abandoned write-back's lease lapses and it is
//!   reconciled (probed) before anything is sent again.
//! - Replicas: any number over one PostgreSQL. Streams are leased per (connection,
//!   stream), write-backs claimed with `SKIP LOCKED`, subscription changes fan out through
//!   `LISTEN/NOTIFY` (the store's change notifications).

#![allow(clippy::print_stdout)]

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use enamel_store::Store;
use enamel_sync::Scheduler;
use enamel_writeback::WriteBacks;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

use crate::config::Config;
use crate::connections::StoredConnections;
use crate::secrets::MasterKey;

/// Runs `enamel serve` until SIGTERM or Ctrl-C.
pub(crate) async fn serve(config: Config) -> Result<()> {
    let needs_key = config.sync.enabled || config.writeback.enabled;
    let key = match &config.master_key {
        Some(text) => Some(MasterKey::parse(text.expose()).context("master_key (ENAMEL_MASTER_KEY)")?),
        None if needs_key => bail!(
            "ENAMEL_MASTER_KEY is not set: `enamel serve` needs the master key to open PMS credentials for sync and \
             write-back (or serve the API alone with --no-sync --no-writeback)"
        ),
        None => None,
    };
    let store = crate::commands::open_migrated(config.database_url.expose()).await?;
    // Lookup indexes a first sync deferred and a process that died never created again.
    let restored = store.restore_all_indexes().await.context("creating deferred indexes again")?;
    if !restored.is_empty() {
        tracing::warn!(indexes = ?restored, "created lookup indexes an interrupted first sync had deferred");
    }
    let holder = crate::writeback::replica_name();
    let directory = key.map(|key| Arc::new(StoredConnections::new(store.clone(), key, config.pms_settings())));
    let queue = directory.as_ref().map(|d| {
        let settings = enamel_writeback::Config { lease: config.writeback.lease, ..Default::default() };
        WriteBacks::new(store.clone(), d.clone()).with_config(settings)
    });
    let api = api(&config, &store, queue.clone());
    let http_config = http_config(&config, &store)?;
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.http.listen))?;
    let bound = listener.local_addr()?;

    let (stop, stopped) = watch::channel(false);
    let router = crate::http::router(api, store.clone(), http_config);
    let mut http = tokio::spawn({
        let stopped = stopped.clone();
        async move {
            axum::serve(listener, router).with_graceful_shutdown(wait(stopped)).await.context("the HTTP server failed")
        }
    });
    let mut tasks = Vec::new();
    if let (Some(directory), true) = (&directory, config.sync.enabled) {
        let mut scheduler = Scheduler::new(store.clone(), holder.clone());
        scheduler.schedule = config.schedule();
        scheduler.config = config.sync_engine();
        let (directory, queue, tick) = (directory.clone(), queue.clone(), config.sync.tick);
        let stopped = stopped.clone();
        tasks.push(tokio::spawn(supervise("sync-scheduler", stopped.clone(), move || {
            scheduler_loop(scheduler.clone(), directory.clone(), queue.clone(), tick, stopped.clone())
        })));
    }
    if let (Some(queue), true) = (&queue, config.writeback.enabled) {
        let (queue, idle, holder) = (queue.clone(), config.writeback.idle, holder.clone());
        let stopped = stopped.clone();
        tasks.push(tokio::spawn(supervise("write-back-executor", stopped.clone(), move || {
            let (queue, holder, stopped) = (queue.clone(), holder.clone(), stopped.clone());
            async move {
                enamel_writeback::run_executor(queue, holder, idle, wait(stopped)).await;
                Ok(())
            }
        })));
    }
    tracing::info!(%bound, replica = holder, sync = config.sync.enabled, writeback = config.writeback.enabled, "serving");
    println!("graphql http://{bound}/graphql");

    let early = tokio::select! {
        () = shutdown_signal() => None,
        ended = &mut http => Some(ended),
    };
    let _ = stop.send(true);
    if let Some(ended) = early {
        return match ended {
            Ok(Ok(())) => bail!("the HTTP server stopped on its own"),
            Ok(Err(e)) => Err(e),
            Err(e) => bail!("the HTTP server panicked: {e}"),
        };
    }
    let grace = config.shutdown_grace;
    let started = Instant::now();
    let drained = tokio::time::timeout(grace, async {
        let _ = (&mut http).await;
        for task in tasks {
            let _ = task.await;
        }
    })
    .await;
    match drained {
        Ok(()) => tracing::info!(millis = started.elapsed().as_millis() as u64, "stopped"),
        Err(_) => tracing::warn!(
            grace_seconds = grace.as_secs(),
            "shutdown grace ran out: abandoning in-flight work (it resumes on the next start or another replica)"
        ),
    }
    Ok(())
}

/// Resolves once `stopped` turns true.
async fn wait(mut stopped: watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here.
    let _ = stopped.wait_for(|s| *s).await.map(|_| ());
}

/// SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

fn api(config: &Config, store: &Store, queue: Option<WriteBacks>) -> enamel_graphql::Api {
    let options = enamel_graphql::Options {
        introspection: config.http.introspection,
        poll_interval: Some(config.http.subscription_poll),
        ..Default::default()
    };
    match queue {
        Some(q) => enamel_graphql::Api::with_write_backs(store.clone(), options, q),
        None => enamel_graphql::Api::new(store.clone(), options),
    }
}

fn http_config(config: &Config, store: &Store) -> Result<crate::http::HttpConfig> {
    let audience = config.jwt.audience.as_deref();
    let jwt = match (&config.jwt.hs256_secret, &config.jwt.rs256_public_key) {
        (Some(secret), _) => Some(crate::http::JwtConfig::hs256(secret.expose().as_bytes(), audience)?),
        (None, Some(path)) => {
            let pem =
                std::fs::read(path).with_context(|| format!("jwt.rs256_public_key: cannot read {}", path.display()))?;
            Some(crate::http::JwtConfig::rs256(&pem, audience)?)
        }
        (None, None) => None,
    };
    Ok(crate::http::HttpConfig {
        graphiql: config.http.graphiql,
        body_limit: config.http.body_limit,
        timeout: config.http.request_timeout,
        max_concurrent: config.http.max_concurrent_requests,
        rate_limit: crate::http::RateLimit::per_second(config.http.rate_limit),
        jwt,
        metrics: Some(metrics_renderer(store.clone())),
        ..Default::default()
    })
}

/// Runs `make()`'s task until `stopped`; when it fails, panics or ends on its own first, logs
/// it, counts it and starts it again after a backoff (1 s doubling to 1 min; reset after a
/// minute of running).
pub(crate) async fn supervise<F, Fut>(name: &'static str, stopped: watch::Receiver<bool>, mut make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = Instant::now();
        let ended = tokio::spawn(make()).await;
        if *stopped.borrow() {
            return;
        }
        match ended {
            Ok(Ok(())) => tracing::error!(task = name, "task ended on its own; restarting it"),
            Ok(Err(e)) => tracing::error!(task = name, error = %format!("{e:#}"), "task failed; restarting it"),
            Err(e) => tracing::error!(task = name, error = %e, "task panicked; restarting it"),
        }
        metrics::counter!("enamel_task_restarts_total", "task" => name).increment(1);
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        tokio::select! {
            () = wait(stopped.clone()) => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

/// The scheduler's loop, a thin shell over [`Scheduler::step`]: every `tick`, the due
/// streams of every openable connection; applied write-backs of the practices synced are
/// confirmed.
async fn scheduler_loop(
    scheduler: Scheduler,
    directory: Arc<StoredConnections>,
    queue: Option<WriteBacks>,
    tick: Duration,
    stopped: watch::Receiver<bool>,
) -> Result<()> {
    loop {
        if *stopped.borrow() {
            return Ok(());
        }
        let connections = directory.scheduled().await.context("cannot list the PMS connections")?;
        let report = scheduler.step(&connections, &stopped).await;
        for ran in &report.ran {
            tracing::info!(connection = %ran.connection, stream = ran.stream, end = ?short(&ran.end), seconds = ran.seconds, "sync pass");
        }
        if let Some(queue) = &queue {
            for practice in report.synced_practices() {
                match queue.confirm_synced(practice).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(%practice, confirmed = n, "write-backs confirmed by the sync"),
                    Err(e) => tracing::warn!(%practice, error = %e, "cannot confirm write-backs"),
                }
            }
        }
        tokio::select! {
            () = wait(stopped.clone()) => return Ok(()),
            () = tokio::time::sleep(tick) => {}
        }
    }
}

/// A pass's end for the log (no counts of records: those are metrics).
fn short(end: &enamel_sync::PassEnd) -> String {
    match end {
        enamel_sync::PassEnd::Completed(o) => format!("completed ({} fetched)", o.counts.fetched),
        enamel_sync::PassEnd::Failed(e) => format!("failed: {e}"),
        other => format!("{other:?}"),
    }
}

/// The process's Prometheus recorder (installed once).
fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "cannot install the metrics recorder; /metrics shows store gauges only");
                None
            }
        })
        .as_ref()
}

/// `/metrics`: the recorder's counters and histograms, then gauges read from the store —
/// sync lag and failures per stream, leases held, write-backs by state.
fn metrics_renderer(store: Store) -> crate::http::MetricsRenderer {
    let handle = prometheus();
    crate::http::MetricsRenderer(Arc::new(move || {
        let store = store.clone();
        Box::pin(async move {
            let mut out = handle.map(PrometheusHandle::render).unwrap_or_default();
            match store_gauges(&store).await {
                Ok(text) => out.push_str(&text),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the store's gauges for /metrics");
                    out.push_str("# the store's gauges are unavailable\nenamel_store_up 0\n");
                }
            }
            out
        })
    }))
}

async fn store_gauges(store: &Store) -> Result<String> {
    use std::fmt::Write as _;
    let now = chrono::Utc::now();
    let mut out = String::from("# TYPE enamel_store_up gauge\nenamel_store_up 1\n");
    out.push_str("# HELP enamel_sync_lag_seconds Seconds since the stream's last completed pass.\n");
    out.push_str("# TYPE enamel_sync_lag_seconds gauge\n");
    let leases = store.sync_leases(None).await?;
    for l in &leases {
        if let Some(at) = l.last_success_at {
            let lag = (now - at).num_milliseconds() as f64 / 1000.0;
            writeln!(
                out,
                "enamel_sync_lag_seconds{{connection=\"{}\",stream=\"{}\"}} {lag}",
                l.connection_id, l.stream
            )?;
        }
    }
    out.push_str("# HELP enamel_sync_failures Failed passes in a row per stream.\n# TYPE enamel_sync_failures gauge\n");
    for l in &leases {
        writeln!(
            out,
            "enamel_sync_failures{{connection=\"{}\",stream=\"{}\"}} {}",
            l.connection_id, l.stream, l.failures
        )?;
    }
    out.push_str("# HELP enamel_sync_leases_held Streams being synced now (by any replica).\n");
    writeln!(
        out,
        "# TYPE enamel_sync_leases_held gauge\nenamel_sync_leases_held {}",
        leases.iter().filter(|l| l.is_held(now)).count()
    )?;
    out.push_str("# HELP enamel_write_backs Write-backs by state.\n# TYPE enamel_write_backs gauge\n");
    for (state, n) in store.write_back_state_counts().await? {
        writeln!(out, "enamel_write_backs{{state=\"{state}\"}} {n}")?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_failing_or_panicking_task_is_restarted_until_the_stop() -> Result<()> {
        let runs = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = watch::channel(false);
        let supervised = tokio::spawn(supervise("test-task", stopped.clone(), {
            let (runs, stopped) = (runs.clone(), stopped.clone());
            move || {
                let n = runs.fetch_add(1, Ordering::SeqCst);
                let stopped = stopped.clone();
                async move {
                    match n {
                        0 => panic!("the first run panics"),
                        1 => bail!("the second run fails"),
                        _ => {
                            wait(stopped).await;
                            Ok(())
                        }
                    }
                }
            }
        }));
        let started = Instant::now();
        while runs.load(Ordering::SeqCst) < 3 {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(10), "not restarted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Backoff: 1 s after the panic, 2 s after the failure.
        anyhow::ensure!(started.elapsed() >= Duration::from_secs(3), "{:?}", started.elapsed());
        stop.send(true)?;
        tokio::time::timeout(Duration::from_secs(2), supervised).await??;
        anyhow::ensure!(runs.load(Ordering::SeqCst) == 3, "not restarted after the stop");
        Ok(())
    }
}
