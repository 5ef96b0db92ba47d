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

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use enamel_sim::{Mode, PmsKind, SimConfig};
use serde_json::Value;

#[allow(dead_code, unreachable_pub)]
#[path = "support/process.rs"]
mod process;
use process::{Backend, COMMAND_TIMEOUT, Cli, Database, enamel, repo_root, run_command, runtime, serve};

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

/// How long creating the virtualenv and installing `gql` may take.
const PIP_TIMEOUT: Duration = Duration::from_secs(600);

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
    let cli = Cli { database_url: url, master_key, env: Vec::new() };

    match backend {
        Backend::Sqlite => cli.run(&["migrate"]),
        Backend::Postgres => cli.run(&["migrate", "--create-database"]),
    };
    let practice = cli.run(&["practice", "add", "--name", "Outside Client Dental", "--time-zone", "America/New_York"]);
    let practice = practice.trim();
    assert!(practice.parse::<uuid::Uuid>().is_ok(), "`practice add` printed {practice:?}, not an id");
    let api_url = sim.api_url();
    cli.add_open_dental(practice, &api_url);
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
