//! `enamel sync` as an operator runs it: a first sync copies the office, stream by stream in
//! the JSON report; the configuration's sync section (here the mass-delete guard, set from
//! the environment) governs the command as it governs `enamel serve`.

use enamel_sim::{Mode, PmsKind, SimConfig};
use serde_json::Value;

#[allow(dead_code, unreachable_pub)]
#[path = "support/process.rs"]
mod process;
use process::{Backend, COMMAND_TIMEOUT, Cli, Database, Output, run_command, runtime};

mod sqlite {
    #[test]
    fn enamel_sync_copies_the_office_and_obeys_the_configured_delete_guard() {
        super::run(super::Backend::Sqlite);
    }
}

mod postgres {
    #[test]
    fn enamel_sync_copies_the_office_and_obeys_the_configured_delete_guard() {
        super::run(super::Backend::Postgres);
    }
}

/// `enamel sync --practice P --json [more…]` with `env` on top of the test's, whatever its
/// outcome (the guard test expects a refusal).
fn sync(cli: &Cli, practice: &str, more: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["sync", "--practice", practice, "--json"];
    args.extend_from_slice(more);
    let mut command = cli.command(&args);
    command.env_remove("ENAMEL_SYNC__MAX_DELETE_SHARE").envs(env.iter().copied());
    run_command(command, &format!("enamel {}", args.join(" ")), COMMAND_TIMEOUT)
}

/// The `--json` report's line for `stream`.
fn stream<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["connections"][0]["streams"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stream"] == name))
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

fn run(backend: Backend) {
    let Some((_database, database_url)) = Database::new(backend) else { return };
    // The simulator serves on this runtime: it lives as long as the test.
    let sim_runtime = runtime();
    let sim = sim_runtime.block_on(async {
        let mut config = SimConfig::new(PmsKind::OpenDental);
        config.mode = Mode::Local;
        // The keys `Cli::add_open_dental` stores.
        config.developer_key = "dev-key".into();
        config.customer_key = "customer-key".into();
        enamel_sim::spawn(config, 0).await.expect("sim")
    });
    let master_key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [0x3c; 32]);
    let cli = Cli { database_url, master_key, env: Vec::new() };
    match backend {
        Backend::Sqlite => cli.run(&["migrate"]),
        Backend::Postgres => cli.run(&["migrate", "--create-database"]),
    };
    let out = cli.run(&["practice", "add", "--name", "Guarded Smiles"]);
    let practice = out.split_whitespace().find(|w| uuid::Uuid::parse_str(w).is_ok()).expect("a practice id").to_owned();
    cli.add_open_dental(&practice, &sim.api_url());

    // A first sync: every stream of the office, each reported with what it did.
    let run = sync(&cli, &practice, &[], &[]);
    assert!(run.status.success(), "{}", run.describe("first sync"));
    let report: Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    assert_eq!(report["error"], Value::Null);
    let counts = sim.control.counts();
    let lines = report["connections"][0]["streams"].as_array().cloned().unwrap_or_default();
    assert_eq!(lines.len(), enamel_pms::opendental::STREAMS.len(), "every Open Dental stream: {report}");
    for line in &lines {
        let name = line["stream"].as_str().unwrap_or_default();
        assert_eq!(line["fetched"], counts[name] as u64, "{name}: {line}");
        assert_eq!(line["quarantined"], 0, "{name}: {line}");
    }

    // The office hard-deletes 5 of its ~15 referral attachments: more than the default
    // guard (20 %) allows, so a full pass refuses and says so…
    let changed = sim.control.mutate(5);
    let deleted = changed.deleted["refattaches"];
    assert!(deleted * 5 > counts["refattaches"], "{deleted} of {} deleted", counts["refattaches"]);
    let run = sync(&cli, &practice, &["--full"], &[]);
    assert!(!run.status.success(), "the guard refuses");
    let report: Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(error.contains("refusing to delete"), "{report}");
    // …and with the guard raised in the configuration, the same command deletes them.
    let raised = [("ENAMEL_SYNC__MAX_DELETE_SHARE", "0.9")];
    let run = sync(&cli, &practice, &["--full"], &raised);
    assert!(run.status.success(), "{}", run.describe("full sync, guard raised"));
    let report: Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    assert_eq!(stream(&report, "refattaches")["deleted"], deleted as u64, "{report}");
}
