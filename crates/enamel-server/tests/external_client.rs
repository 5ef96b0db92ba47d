//! README.md's example query, and a few more a frontend would send, through an outside
//! GraphQL client (`gql` from PyPI, `tests/external/readme_queries.py`) against a running
//! `enamel serve`, set up the way an operator would: `enamel migrate`, `practice add`,
//! `connection add` to an Open Dental simulator, `sync`, `apikey create`, `serve`.
//!
//! Runs on SQLite (`sqlite::readme_queries_with_gql`) and on PostgreSQL
//! (`postgres::readme_queries_with_gql`, a fresh `enamel_test_ext_…` database, skipped when
//! unreachable unless `ENAMEL_REQUIRE_POSTGRES=1`). The Python side runs in a virtualenv
//! made on first use under `target/external-venv` from `tests/external/requirements.txt`;
//! without `python3` (with `venv`) or PyPI the test fails, it never skips.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine;
use enamel_sim::{Mode, PmsKind, SimConfig};
use serde_json::Value;

mod sqlite {
    #[test]
    fn readme_queries_with_gql() {
        super::run(super::Backend::Sqlite);
    }
}

mod postgres {
    #[test]
    fn readme_queries_with_gql() {
        super::run(super::Backend::Postgres);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// How long one command may take before the test gives up on it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long creating the virtualenv and installing `gql` may take.
const PIP_TIMEOUT: Duration = Duration::from_secs(600);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn enamel() -> &'static str {
    env!("CARGO_BIN_EXE_enamel")
}

fn postgres_required() -> bool {
    std::env::var("ENAMEL_REQUIRE_POSTGRES").is_ok_and(|v| v == "1" || v == "true")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a tokio runtime")
}

/// A child process that is killed (and reaped) when dropped, whatever happened.
struct Proc {
    child: Child,
    label: String,
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
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Output {
    fn describe(&self, label: &str) -> String {
        format!("{label}: {}\n--- stdout\n{}\n--- stderr\n{}", self.status, self.stdout, self.stderr)
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
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
fn run_command(mut command: Command, label: &str, timeout: Duration) -> Output {
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
fn succeed(command: Command, label: &str, timeout: Duration) -> String {
    let out = run_command(command, label, timeout);
    assert!(out.status.success(), "{}", out.describe(label));
    out.stdout
}

/// An `enamel` command against this test's store.
struct Cli {
    database_url: String,
    master_key: String,
}

impl Cli {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(enamel());
        command
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("ENAMEL_MASTER_KEY", &self.master_key)
            .env("RUST_LOG", "warn")
            .env_remove("ENAMEL_LISTEN");
        command
    }

    fn run(&self, args: &[&str]) -> String {
        succeed(self.command(args), &format!("enamel {}", args.join(" ")), COMMAND_TIMEOUT)
    }
}

/// The test's store: a temporary SQLite file or a fresh PostgreSQL database, removed when
/// dropped.
enum Database {
    File(PathBuf),
    Postgres(String),
}

impl Database {
    /// A store URL for `backend`, or `None` when PostgreSQL is unreachable and not required.
    fn new(backend: Backend) -> Option<(Database, String)> {
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

/// `target/external-venv`'s Python with `gql` installed from `tests/external/requirements.txt`,
/// made on first use and reused while the requirements are unchanged.
fn venv_python() -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _only_one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let requirements = repo_root().join("tests/external/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements.display()));
    // …/target/debug/enamel → …/target
    let target = Path::new(enamel()).parent().and_then(Path::parent).expect("the binary lives in target/<profile>");
    let venv = target.join("external-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return python;
    }
    let help = "the external-client test needs python3 with the venv module and pip, and access to PyPI \
                (it installs tests/external/requirements.txt into target/external-venv)";
    if let Err(e) = Command::new("python3").arg("--version").stdout(Stdio::null()).status() {
        panic!("{help}: cannot run python3 ({e})");
    }
    // The stamp is written last: a half-made venv is made again.
    let _ = std::fs::remove_dir_all(&venv);
    let mut make = Command::new("python3");
    make.args(["-m", "venv"]).arg(&venv);
    let out = run_command(make, "python3 -m venv", PIP_TIMEOUT);
    assert!(out.status.success(), "{help}\n{}", out.describe("python3 -m venv"));
    let mut install = Command::new(&python);
    install
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "-r"])
        .arg(&requirements);
    let out = run_command(install, "pip install", PIP_TIMEOUT);
    assert!(out.status.success(), "{help}\n{}", out.describe("pip install -r tests/external/requirements.txt"));
    std::fs::write(&stamp, &wanted).expect("write the venv's stamp");
    python
}

/// `GET path` on `addr`: the status code and body.
fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
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
fn serve(cli: &Cli) -> (Proc, String, JoinHandle<String>) {
    let mut command = cli.command(&["serve", "--listen", "127.0.0.1:0"]);
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

fn run(backend: Backend) {
    let started = Instant::now();
    let python = venv_python();
    let Some((database, url)) = Database::new(backend) else {
        return;
    };
    let rt = runtime();
    let mut config = SimConfig::new(PmsKind::OpenDental);
    config.mode = Mode::Local;
    let sim = rt.block_on(enamel_sim::spawn(config, 0)).expect("the Open Dental simulator starts");
    let counts = sim.control.counts();
    let master_key = base64::engine::general_purpose::STANDARD
        .encode([uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat());
    let cli = Cli { database_url: url, master_key };

    match backend {
        Backend::Sqlite => cli.run(&["migrate"]),
        Backend::Postgres => cli.run(&["migrate", "--create-database"]),
    };
    let practice = cli.run(&["practice", "add", "--name", "Outside Client Dental", "--time-zone", "America/New_York"]);
    let practice = practice.trim();
    assert!(practice.parse::<uuid::Uuid>().is_ok(), "`practice add` printed {practice:?}, not an id");
    let api_url = sim.api_url();
    cli.run(&[
        "connection",
        "add",
        "--practice",
        practice,
        "--kind",
        "open-dental",
        "--base-url",
        &api_url,
        "--developer-key",
        "dev-key",
        "--customer-key",
        "customer-key",
        "--mode",
        "local",
    ]);
    let report: Value = serde_json::from_str(&cli.run(&["sync", "--practice", practice, "--json"]))
        .expect("`sync --json` prints one JSON object");
    assert!(report["error"].is_null(), "the sync failed: {report}");
    let streams = report["connections"][0]["streams"].as_array().expect("streams in the sync report");
    assert!(!streams.is_empty(), "the sync ran no stream: {report}");
    for s in streams {
        let name = s["stream"].as_str().unwrap_or_default();
        assert_eq!(s["quarantined"], 0, "{name} quarantined rows: {s}");
        let expected = counts.get(name).unwrap_or_else(|| panic!("the simulator has no stream {name:?}"));
        assert_eq!(s["fetched"].as_u64(), Some(*expected as u64), "{name}: fetched {s}, the office has {expected}");
    }
    let key = cli.run(&["apikey", "create", "--practice", practice, "--name", "ext", "--scopes", "read,context"]);
    let key = key.trim();
    assert!(!key.is_empty() && !key.contains(char::is_whitespace), "`apikey create` printed {key:?}");

    let (server, addr, server_log) = serve(&cli);
    let expected =
        |stream: &str| counts.get(stream).copied().unwrap_or_else(|| panic!("the simulator has no {stream}"));
    let (patients, appointments, procedures) =
        (expected("patients"), expected("appointments"), expected("procedurelogs"));
    let mut script = Command::new(&python);
    script
        .arg(repo_root().join("tests/external/readme_queries.py"))
        .arg(format!("http://{addr}/graphql"))
        .arg(key)
        .args(["--patients", &patients.to_string()])
        .args(["--appointments", &appointments.to_string()])
        .args(["--procedures", &procedures.to_string()]);
    let out = run_command(script, "readme_queries.py", COMMAND_TIMEOUT);
    drop(server);
    let server_log = server_log.join().unwrap_or_default();
    assert!(
        out.status.success(),
        "{}\n--- enamel serve's log\n{server_log}",
        out.describe("tests/external/readme_queries.py")
    );
    let summary: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("the script's summary is not JSON ({e}): {}", out.stdout));
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["patients"].as_u64(), Some(patients as u64), "{summary}");
    assert_eq!(summary["appointments"].as_u64(), Some(appointments as u64), "{summary}");
    assert_eq!(summary["procedures"].as_u64(), Some(procedures as u64), "{summary}");
    assert!(summary["readme"]["totalCount"].as_u64().is_some_and(|n| n > 0), "{summary}");
    assert!(summary["readme"]["appointments"].as_u64().is_some_and(|n| n > 0), "{summary}");
    assert_eq!(summary["unauthenticated"]["no key"], 401, "{summary}");
    assert_eq!(summary["unauthenticated"]["wrong key"], 401, "{summary}");
    assert!(summary["checks"].as_u64().is_some_and(|n| n >= 100), "too few checks ran: {summary}");
    eprintln!("{backend:?}: {summary} in {:.1} s", started.elapsed().as_secs_f64());
    drop(sim);
    drop(database);
}
