//! Credentials never reach logs, errors or responses: the `enamel` binary is driven the way
//! an operator drives it — migrate, practice, connections to both simulators (one with a
//! wrong password), sync (including failures: a wrong master key, a refused login, an
//! unreachable PMS), API keys, `serve` answering good, malformed, unknown, revoked and
//! expired keys — with debug logging on, and everything it printed (standard output,
//! standard error, HTTP answers) is searched for every secret. The API token may appear
//! only where it is handed out: `apikey create`'s standard output.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use enamel_sim::{Mode, PmsKind, SimConfig};

const MASTER_KEY_BYTES: [u8; 32] = [0x5a; 32];
const DEVELOPER_KEY: &str = "devkey-Zq81xT";
const CUSTOMER_KEY: &str = "custkey-Pw93vM";
const TD_PASSWORD: &str = "pw-Rk27sY-secret";

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn enamel(db: &str, master_key: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_enamel"));
    cmd.args(args)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "debug")
        .env("ENAMEL_LOG_FORMAT", "json")
        .env_remove("ENAMEL_MASTER_KEY");
    if let Some(k) = master_key {
        cmd.env("ENAMEL_MASTER_KEY", k);
    }
    let out = cmd.output().expect("the enamel binary runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One HTTP/1.1 POST of a GraphQL body; the whole answer (status line, headers, body).
fn post(addr: &str, token: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

#[test]
fn no_credential_appears_in_logs_errors_or_answers() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (od, td) = runtime.block_on(async {
        let mut od = SimConfig::new(PmsKind::OpenDental);
        od.mode = Mode::Local;
        od.developer_key = DEVELOPER_KEY.into();
        od.customer_key = CUSTOMER_KEY.into();
        let mut td = SimConfig::new(PmsKind::Tdental);
        td.password = TD_PASSWORD.into();
        (enamel_sim::spawn(od, 0).await.expect("sim"), enamel_sim::spawn(td, 0).await.expect("sim"))
    });
    let dir = std::env::temp_dir().join(format!("enamel-secrets-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = format!("sqlite://{}?mode=rwc", dir.join("e.db").display());
    let key = base64::engine::general_purpose::STANDARD.encode(MASTER_KEY_BYTES);
    let wrong_key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let mut everything = Vec::new();
    let mut record = |label: &str, run: &Run| everything.push(format!("== {label}\n{}\n{}", run.stdout, run.stderr));

    let run = enamel(&db, None, &["migrate"]);
    assert!(run.ok, "{}", run.stderr);
    record("migrate", &run);
    let run = enamel(&db, None, &["practice", "add", "--name", "Secret Smiles"]);
    assert!(run.ok, "{}", run.stderr);
    record("practice add", &run);
    let practice =
        run.stdout.split_whitespace().find(|w| uuid::Uuid::parse_str(w).is_ok()).expect("a practice id").to_owned();

    let od_api = od.api_url();
    let add_od = [
        "connection",
        "add",
        "--practice",
        &practice,
        "--kind",
        "open-dental",
        "--base-url",
        &od_api,
        "--developer-key",
        DEVELOPER_KEY,
        "--customer-key",
        CUSTOMER_KEY,
        "--mode",
        "local",
    ];
    let run = enamel(&db, Some(&key), &add_od);
    assert!(run.ok, "{}", run.stderr);
    record("connection add open-dental", &run);
    let run = enamel(&db, Some(&key), &["connection", "list", "--practice", &practice]);
    assert!(run.ok, "{}", run.stderr);
    record("connection list", &run);
    let run = enamel(&db, Some(&key), &["sync", "--practice", &practice, "--json"]);
    assert!(run.ok, "{}", run.stderr);
    record("sync", &run);
    let run = enamel(&db, Some(&wrong_key), &["sync", "--practice", &practice]);
    assert!(!run.ok);
    record("sync with a wrong master key", &run);

    // A TDental connection whose password the PMS refuses, and an unreachable one.
    let td_api = td.api_url();
    let add_td = [
        "connection",
        "add",
        "--practice",
        &practice,
        "--kind",
        "tdental",
        "--base-url",
        &td_api,
        "--username",
        "admin",
        "--password",
        TD_PASSWORD,
    ];
    let run = enamel(&db, Some(&key), &add_td);
    assert!(run.ok, "{}", run.stderr);
    record("connection add tdental", &run);
    td.control.inject(enamel_sim::FaultSpec::times(enamel_sim::FaultKind::ServerError, 1000).on("/api/Account"));
    let run = enamel(&db, Some(&key), &["sync", "--practice", &practice]);
    assert!(!run.ok, "the TDental login failed");
    record("sync with a failing login", &run);
    td.control.clear_faults();
    let run = enamel(&db, Some(&key), &["secrets", "rotate", "--new-master-key", &wrong_key]);
    assert!(run.ok, "{}", run.stderr);
    record("secrets rotate", &run);
    let first_key = key;
    let key = wrong_key.clone();

    // API keys: the token is shown once, by `apikey create`.
    let run =
        enamel(&db, None, &["apikey", "create", "--practice", &practice, "--name", "frontend", "--scopes", "read"]);
    assert!(run.ok, "{}", run.stderr);
    let token = run.stdout.split_whitespace().find(|w| w.starts_with("enm_")).expect("a token").to_owned();
    let created = format!("{}\n{}", run.stdout, run.stderr);
    let run = enamel(&db, None, &["apikey", "create", "--practice", &practice, "--name", "old", "--scopes", "read"]);
    let revoked_token = run.stdout.split_whitespace().find(|w| w.starts_with("enm_")).expect("a token").to_owned();
    let run = enamel(&db, None, &["apikey", "list", "--practice", &practice]);
    assert!(run.ok);
    record("apikey list", &run);
    let id = run
        .stdout
        .lines()
        .find(|l| l.contains("old"))
        .and_then(|l| l.split_whitespace().find(|w| uuid::Uuid::parse_str(w).is_ok()))
        .expect("the old key's id")
        .to_owned();
    let run = enamel(&db, None, &["apikey", "revoke", "--practice", &practice, "--id", &id]);
    assert!(run.ok, "{}", run.stderr);
    record("apikey revoke", &run);

    // The server, answering every kind of credential.
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_enamel"))
        .args(["serve", "--listen", &addr])
        .env("DATABASE_URL", &db)
        .env("RUST_LOG", "debug")
        .env("ENAMEL_LOG_FORMAT", "json")
        .env("ENAMEL_MASTER_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let query = r#"{"query":"{ patients(first: 2) { edges { node { firstName } } } }"}"#;
    let mut answers = Vec::new();
    for t in [token.as_str(), revoked_token.as_str(), "enm_000000000000_nothing", "garbage", &token[..token.len() - 2]]
    {
        answers.push(post(&addr, t, query));
    }
    assert!(answers[0].contains("firstName"), "{}", answers[0]);
    assert!(answers[1..].iter().all(|a| a.contains("UNAUTHENTICATED")), "{answers:?}");
    let _ = server.kill();
    let output = server.wait_with_output().expect("the server's output");
    // One JSON access line per request, with its request id (ids and statuses, no values).
    let serve_log = String::from_utf8_lossy(&output.stderr);
    let access: Vec<&str> = serve_log.lines().filter(|l| l.contains(r#""message":"request""#)).collect();
    assert!(access.len() >= answers.len(), "an access line per request:\n{serve_log}");
    assert!(access.iter().all(|l| l.contains(r#""request_id":"#) && l.contains(r#""status":"#)), "{access:?}");
    everything.push(format!(
        "== serve\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ));
    everything.extend(answers);

    let all = everything.join("\n");
    assert!(all.contains("\"level\""), "debug logs were captured");
    let secrets = [DEVELOPER_KEY, CUSTOMER_KEY, TD_PASSWORD, &first_key, &key, &token[4..], &revoked_token[4..]];
    for secret in secrets {
        assert!(!all.contains(secret), "a secret leaked: {secret:?} in\n{}", excerpt(&all, secret));
    }
    // The token is shown exactly where it is handed out.
    assert!(created.contains(&token));
    let _ = std::fs::remove_dir_all(&dir);
}

fn excerpt(all: &str, secret: &str) -> String {
    let at = all.find(secret).unwrap_or(0);
    let start = all[..at].char_indices().rev().nth(300).map_or(0, |(i, _)| i);
    all[start..].chars().take(700).collect()
}
