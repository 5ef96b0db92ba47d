//! Driving the `enamel` binary from tests: commands with a deadline, `enamel serve`
//! processes that are killed when dropped, and a store per test (SQLite file or a fresh
//! PostgreSQL database) removed afterwards.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A store backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How long one command may take before the test gives up on it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn enamel() -> &'static str {
    env!("CARGO_BIN_EXE_enamel")
}

pub fn postgres_required() -> bool {
    std::env::var("ENAMEL_REQUIRE_POSTGRES").is_ok_and(|v| v == "1" || v == "true")
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}

/// A child process that is killed (and reaped) when dropped, whatever happened.
pub struct Proc {
    pub child: Child,
    pub label: String,
}

impl Proc {
    /// Sends `signal` (`TERM`, `KILL`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(sent.is_ok_and(|s| s.success()), "{}: cannot send SIG{signal}", self.label);
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if started.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// What a finished command printed.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn describe(&self, label: &str) -> String {
        format!("{label}: {}\n--- stdout\n{}\n--- stderr\n{}", self.status, self.stdout, self.stderr)
    }
}

pub fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Runs `command` to completion (killing it after `timeout`) and returns what it printed.
pub fn run_command(mut command: Command, label: &str, timeout: Duration) -> Output {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().unwrap_or_else(|e| panic!("{label}: cannot start {command:?}: {e}"));
    let mut proc = Proc { child, label: label.to_owned() };
    let stdout = drain(proc.child.stdout.take());
    let stderr = drain(proc.child.stderr.take());
    let started = Instant::now();
    let status = loop {
        match proc.child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() > timeout => break None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("{}: waiting failed: {e}", proc.label),
        }
    };
    drop(proc);
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let Some(status) = status else {
        panic!("{label}: still running after {timeout:?}, killed\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    };
    Output { status, stdout, stderr }
}

/// Runs `command` and fails the test unless it succeeds; returns its standard output.
pub fn succeed(command: Command, label: &str, timeout: Duration) -> String {
    let out = run_command(command, label, timeout);
    assert!(out.status.success(), "{}", out.describe(label));
    out.stdout
}

/// An `enamel` command against this test's store.
pub struct Cli {
    pub database_url: String,
    pub master_key: String,
    /// More environment (configuration) for every command.
    pub env: Vec<(String, String)>,
}

impl Cli {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(enamel());
        command
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("ENAMEL_MASTER_KEY", &self.master_key)
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// `enamel connection add` of an Open Dental connection (local mode) to `api_url`.
    pub fn add_open_dental(&self, practice: &str, api_url: &str) -> String {
        self.run(&[
            "connection",
            "add",
            "--practice",
            practice,
            "--kind",
            "open-dental",
            "--base-url",
            api_url,
            "--developer-key",
            "dev-key",
            "--customer-key",
            "customer-key",
            "--mode",
            "local",
        ])
    }

    pub fn run(&self, args: &[&str]) -> String {
        succeed(self.command(args), &format!("enamel {}", args.join(" ")), COMMAND_TIMEOUT)
    }
}

/// The test's store: a temporary SQLite file or a fresh PostgreSQL database, removed when
/// dropped.
pub enum Database {
    File(PathBuf),
    Postgres(String),
}

impl Database {
    /// A store URL for `backend`, or `None` when PostgreSQL is unreachable and not required.
    pub fn new(backend: Backend) -> Option<(Database, String)> {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let path = std::env::temp_dir().join(format!("enamel-test-ext-{tag}.db"));
                let url = format!("sqlite://{}", path.display());
                Some((Database::File(path), url))
            }
            Backend::Postgres => {
                let server = std::env::var("ENAMEL_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
                let reachable = runtime().block_on(async {
                    let store = enamel_store::Store::connect(&server).await?;
                    store.close().await
                });
                if let Err(e) = reachable {
                    assert!(
                        !postgres_required(),
                        "PostgreSQL is required (ENAMEL_REQUIRE_POSTGRES) but unreachable: {e}"
                    );
                    eprintln!("note: PostgreSQL unreachable ({e}); skipping");
                    return None;
                }
                let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
                let url = format!("{base}/enamel_test_ext_{tag}");
                Some((Database::Postgres(url.clone()), url))
            }
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        match self {
            Database::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Database::Postgres(url) => {
                let dropped = runtime().block_on(enamel_store::Store::drop_postgres_database(url));
                if let Err(e) = dropped {
                    eprintln!("note: could not drop {}: {e}", enamel_store::redact_url(url));
                }
            }
        }
    }
}

/// `GET path` on `addr`: the status code and body.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// Starts `enamel serve` on a free port; returns the process, `host:port`, and its log
/// (standard error, complete once the process is gone).
pub fn serve(cli: &Cli) -> (Proc, String, JoinHandle<String>) {
    serve_with(cli.command(&["serve", "--listen", "127.0.0.1:0"]))
}

/// Starts `command` (an `enamel serve`) and waits until it answers `/healthz` and `/readyz`.
pub fn serve_with(mut command: Command) -> (Proc, String, JoinHandle<String>) {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().expect("enamel serve starts");
    let mut proc = Proc { child, label: "enamel serve".into() };
    let log = drain(proc.child.stderr.take());
    let stdout = proc.child.stdout.take().expect("serve's stdout");
    // It prints `graphql http://ADDR/graphql` once it accepts connections.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let addr = line
        .trim()
        .strip_prefix("graphql http://")
        .and_then(|rest| rest.strip_suffix("/graphql"))
        .unwrap_or_else(|| panic!("{}: expected `graphql http://ADDR/graphql`, got {line:?}", proc.label))
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match http_get(&addr, "/healthz") {
            Ok((200, body)) if body.trim() == "ok" => break,
            other => {
                if let Ok(Some(status)) = proc.child.try_wait() {
                    panic!("enamel serve exited ({status}) before /healthz answered");
                }
                assert!(Instant::now() < deadline, "/healthz never answered ok: {other:?}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let ready = http_get(&addr, "/readyz").expect("/readyz answers");
    assert_eq!(ready.0, 200, "/readyz: {ready:?}");
    (proc, addr, log)
}

/// `POST path` on `addr` with a JSON body and a bearer key: the status and the JSON answer.
pub fn http_post_json(
    addr: &str,
    path: &str,
    bearer: &str,
    body: &serde_json::Value,
) -> std::io::Result<(u16, serde_json::Value)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = body.to_string();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {bearer}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    Ok((status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null)))
}
