//! `enamel sync` as an operator runs it: a first sync copies the office, stream by stream in
//! the JSON report; the configuration's sync section (here the mass-delete guard, set from
//! the environment) governs the command as it governs `enamel serve`.

use std::process::Command;

use base64::Engine;
use enamel_sim::{Mode, PmsKind, SimConfig};
use serde_json::Value;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn enamel(db: &str, key: &str, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_enamel"));
    cmd.args(args).env("DATABASE_URL", db).env("ENAMEL_MASTER_KEY", key).env_remove("ENAMEL_SYNC__MAX_DELETE_SHARE");
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("the enamel binary runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The `--json` report's line for `stream`.
fn stream<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["connections"][0]["streams"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["stream"] == name))
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

#[test]
fn enamel_sync_copies_the_office_and_obeys_the_configured_delete_guard() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sim = runtime.block_on(async {
        let mut config = SimConfig::new(PmsKind::OpenDental);
        config.mode = Mode::Local;
        config.developer_key = "dev".into();
        config.customer_key = "cust".into();
        enamel_sim::spawn(config, 0).await.expect("sim")
    });
    let dir = std::env::temp_dir().join(format!("enamel-cli-sync-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = format!("sqlite://{}?mode=rwc", dir.join("e.db").display());
    let key = base64::engine::general_purpose::STANDARD.encode([0x3c; 32]);

    let run = enamel(&db, &key, &[], &["migrate"]);
    assert!(run.ok, "{}", run.stderr);
    let run = enamel(&db, &key, &[], &["practice", "add", "--name", "Guarded Smiles"]);
    assert!(run.ok, "{}", run.stderr);
    let practice =
        run.stdout.split_whitespace().find(|w| uuid::Uuid::parse_str(w).is_ok()).expect("a practice id").to_owned();
    let api = sim.api_url();
    let add = [
        "connection",
        "add",
        "--practice",
        &practice,
        "--kind",
        "open-dental",
        "--base-url",
        &api,
        "--developer-key",
        "dev",
        "--customer-key",
        "cust",
        "--mode",
        "local",
    ];
    let run = enamel(&db, &key, &[], &add);
    assert!(run.ok, "{}", run.stderr);

    // A first sync: every stream of the office, each reported with what it did.
    let run = enamel(&db, &key, &[], &["sync", "--practice", &practice, "--json"]);
    assert!(run.ok, "{}", run.stderr);
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
    let run = enamel(&db, &key, &[], &["sync", "--practice", &practice, "--full", "--json"]);
    assert!(!run.ok, "the guard refuses");
    let report: Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    let error = report["error"].as_str().unwrap_or_default();
    assert!(error.contains("refusing to delete"), "{report}");
    // …and with the guard raised in the configuration, the same command deletes them.
    let raised = [("ENAMEL_SYNC__MAX_DELETE_SHARE", "0.9")];
    let run = enamel(&db, &key, &raised, &["sync", "--practice", &practice, "--full", "--json"]);
    assert!(run.ok, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("one JSON object");
    assert_eq!(stream(&report, "refattaches")["deleted"], deleted as u64, "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
