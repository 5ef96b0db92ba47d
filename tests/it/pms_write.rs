//! Write-backs through the adapters ([`PmsWriter`]) against the simulators: each write
//! lands as the PMS documents it, probes see it (before: not done; after: done, with a new
//! version), creates are found again by their marker, one write request per attempt, and
//! failures are told apart (unavailable, uncertain, rejected). Expected values are read from
//! the simulator over plain HTTP and from its write log, never through the adapter.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use enamel_domain::enums::{CommDirection, CommMode};
use enamel_domain::ids::WriteBackId;
use enamel_domain::writeback::{AppointmentAction, ContactChange, PmsWrite, marker};
use enamel_pms::limiter::Backoff;
use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
use enamel_pms::tdental::{TdClient, TdConfig};
use enamel_pms::{PmsError, PmsWriter, Probe};
use enamel_sim::{FaultKind, FaultSpec, Mode, PmsKind, SimConfig, SimHandle, WriteRecord};
use serde_json::{Value, json};

const NEW_YORK: Tz = chrono_tz::America::New_York;
const VIETNAM: Tz = chrono_tz::Asia::Ho_Chi_Minh;

fn new_marker() -> String {
    marker(WriteBackId::new())
}

/// An office-local time as UTC.
fn utc(tz: Tz, local: &str) -> DateTime<Utc> {
    let t = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S").unwrap();
    tz.from_local_datetime(&t).single().unwrap().with_timezone(&Utc)
}

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Applies `write` and returns the one write request it sent.
async fn apply_once(sim: &SimHandle, client: &dyn PmsWriter, write: &PmsWrite, marker: &str) -> (String, WriteRecord) {
    let before = sim.control.writes().len();
    let applied = client.apply(write, marker).await.unwrap_or_else(|e| panic!("{write:?}: {e}"));
    let writes = sim.control.writes();
    assert_eq!(writes.len(), before + 1, "exactly one write request per apply: {:?}", &writes[before..]);
    let record = writes[before].clone();
    assert!((200..300).contains(&record.status), "{record:?}");
    assert_eq!(applied.status, record.status);
    (applied.created_key.unwrap_or_default(), record)
}

/// Probes an update before and after `apply`: not done, then done with a new version.
async fn probe_around(sim: &SimHandle, client: &dyn PmsWriter, write: &PmsWrite, marker: &str) -> WriteRecord {
    let before = client.probe(write, marker).await.unwrap();
    assert!(before.exists && !before.done, "{write:?}: {before:?}");
    let version = before.version.clone().expect("a version");
    sim.control.advance(chrono::Duration::seconds(61));
    let (_, record) = apply_once(sim, client, write, marker).await;
    let after = client.probe(write, marker).await.unwrap();
    assert!(after.exists && after.done, "{write:?}: {after:?}");
    assert_ne!(after.version.as_deref(), Some(version.as_str()), "the version moved");
    assert_eq!(after.created_key, None);
    record
}

// ---------------------------------------------------------------------------------------
// Open Dental

async fn office() -> SimHandle {
    let mut config = SimConfig::new(PmsKind::OpenDental);
    config.mode = Mode::Local;
    enamel_sim::spawn(config, 0).await.expect("simulator starts")
}

fn od_client(sim: &SimHandle, timeout: Duration) -> OdClient {
    let mut config = OdConfig::new(sim.api_url(), "dev-key", "customer-key", OdMode::Local, NEW_YORK);
    config.timeout = timeout;
    config.backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(50), 3);
    OdClient::new(config).expect("client")
}

/// Reads the office over plain HTTP.
struct Od {
    http: reqwest::Client,
    base: String,
}

impl Od {
    fn new(sim: &SimHandle) -> Od {
        Od { http: reqwest::Client::new(), base: sim.api_url() }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        self.http
            .get(format!("{}/{path}", self.base))
            .header("Authorization", "ODFHIR dev-key/customer-key")
            .header("Content-Type", "application/json")
            .query(query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn list(&self, path: &str, query: &[(&str, &str)]) -> Vec<Value> {
        let mut q = query.to_vec();
        q.push(("Limit", "1000"));
        self.get(path, &q).await.as_array().cloned().unwrap()
    }

    /// Scheduled appointments in the future, by key.
    async fn upcoming(&self, now: NaiveDateTime) -> Vec<Value> {
        let now = now.format("%Y-%m-%d %H:%M:%S").to_string();
        let rows = self.list("appointments", &[("AptStatus", "Scheduled")]).await;
        let rows: Vec<Value> = rows.into_iter().filter(|r| text(r, "AptDateTime") > now).collect();
        assert!(rows.len() >= 3, "the office has upcoming appointments");
        rows
    }
}

#[tokio::test]
async fn open_dental_reschedule_moves_time_chair_and_provider_and_marks_the_note() {
    let sim = office().await;
    let client = od_client(&sim, Duration::from_secs(5));
    let od = Od::new(&sim);
    let apt = od.upcoming(sim.control.now()).await.remove(0);
    let key = text(&apt, "AptNum");
    let op = od
        .list("operatories", &[])
        .await
        .into_iter()
        .map(|o| text(&o, "OperatoryNum"))
        .find(|o| *o != text(&apt, "Op"))
        .unwrap();
    let prov = od
        .list("providers", &[])
        .await
        .into_iter()
        .map(|p| text(&p, "ProvNum"))
        .find(|p| *p != text(&apt, "ProvNum"))
        .unwrap();
    let mark = new_marker();
    let write = PmsWrite::RescheduleAppointment {
        appointment: key.clone(),
        start_at: utc(NEW_YORK, "2026-03-12 14:30:00"),
        operatory: Some(op.clone()),
        provider: Some(prov.clone()),
    };
    let record = probe_around(&sim, &client, &write, &mark).await;
    assert_eq!((record.method.as_str(), record.path.as_str()), ("PUT", format!("/api/v1/appointments/{key}").as_str()));
    // Local wall-clock time: 14:30 in New York is 18:30 UTC in March (EDT from the 8th).
    assert_eq!(record.body["AptDateTime"], "2026-03-12 14:30:00");
    assert_eq!(record.body["Op"].to_string(), op);
    assert_eq!(record.body["ProvNum"].to_string(), prov);

    let now = od.get(&format!("appointments/{key}"), &[]).await;
    assert_eq!(text(&now, "AptDateTime"), "2026-03-12 14:30:00");
    assert_eq!((text(&now, "Op"), text(&now, "ProvNum")), (op, prov));
    assert_eq!(text(&now, "Note"), mark, "the marker is the (empty) note's only line");
    assert_eq!(text(&now, "PatNum"), text(&apt, "PatNum"));

    // Applying again (after an uncertain attempt) keeps one marker in the note.
    client.apply(&write, &mark).await.unwrap();
    let again = od.get(&format!("appointments/{key}"), &[]).await;
    assert_eq!(text(&again, "Note").matches(&mark).count(), 1);
}

#[tokio::test]
async fn open_dental_status_changes_use_the_action_endpoints() {
    let sim = office().await;
    let client = od_client(&sim, Duration::from_secs(5));
    let od = Od::new(&sim);
    let upcoming = od.upcoming(sim.control.now()).await;
    let unconfirmed = upcoming.iter().find(|a| text(a, "confirmed") != "Confirmed").unwrap();
    let others: Vec<&Value> = upcoming.iter().filter(|a| a["AptNum"] != unconfirmed["AptNum"]).collect();
    let cases = [
        (unconfirmed, AppointmentAction::Confirm, "Confirm", json!({"confirmVal": "Confirmed"})),
        (
            others[0],
            AppointmentAction::Break,
            "Break",
            json!({"sendToUnscheduledList": "false", "breakType": "Missed"}),
        ),
        (
            others[1],
            AppointmentAction::Cancel,
            "Break",
            json!({"sendToUnscheduledList": "false", "breakType": "Cancelled"}),
        ),
    ];
    for (apt, action, endpoint, body) in cases {
        let key = text(apt, "AptNum");
        let write = PmsWrite::SetAppointmentStatus { appointment: key.clone(), action };
        let record = probe_around(&sim, &client, &write, &new_marker()).await;
        assert_eq!(record.path, format!("/api/v1/appointments/{key}/{endpoint}"));
        assert_eq!(record.body, body);
        let now = od.get(&format!("appointments/{key}"), &[]).await;
        match action {
            AppointmentAction::Confirm => assert_eq!(text(&now, "confirmed"), "Confirmed"),
            _ => assert_eq!(text(&now, "AptStatus"), "Broken"),
        }
    }
}

#[tokio::test]
async fn open_dental_notes_are_appended_with_the_marker() {
    let sim = office().await;
    let client = od_client(&sim, Duration::from_secs(5));
    let od = Od::new(&sim);
    let key = text(&od.upcoming(sim.control.now()).await[0], "AptNum");
    let mark = new_marker();
    let write =
        PmsWrite::AddAppointmentNote { appointment: key.clone(), note: "Patient asked for a call back.".into() };
    let record = probe_around(&sim, &client, &write, &mark).await;
    assert_eq!(record.path, format!("/api/v1/appointments/{key}/Note"));
    assert_eq!(record.body, json!({"Note": format!("Patient asked for a call back. {mark}")}));
    let now = od.get(&format!("appointments/{key}"), &[]).await;
    assert!(text(&now, "Note").ends_with(&format!("Patient asked for a call back. {mark}")));
}

/// A patient with an operatory, a provider and a clinic to book into.
async fn od_booking(od: &Od) -> (String, String, String, String) {
    let patient = od.list("patients/Simple", &[("PatStatus", "Patient")]).await.remove(0);
    let op = od.list("operatories", &[]).await.remove(0);
    let prov = od.list("providers", &[]).await.remove(0);
    (text(&patient, "PatNum"), text(&op, "OperatoryNum"), text(&prov, "ProvNum"), text(&op, "ClinicNum"))
}

fn od_create(patient: &str, op: Option<&str>, prov: &str, clinic: &str) -> PmsWrite {
    PmsWrite::CreateAppointment {
        patient: patient.into(),
        start_at: utc(NEW_YORK, "2026-03-20 09:00:00"),
        duration_minutes: 30,
        operatory: op.map(str::to_owned),
        provider: Some(prov.into()),
        location: Some(clinic.into()).filter(|c: &String| c != "0"),
        note: Some("New patient exam".into()),
    }
}

#[tokio::test]
async fn open_dental_creates_are_found_again_by_their_marker() {
    let sim = office().await;
    let client = od_client(&sim, Duration::from_secs(5));
    let od = Od::new(&sim);
    let (patient, op, prov, clinic) = od_booking(&od).await;
    let mark = new_marker();
    let write = od_create(&patient, Some(&op), &prov, &clinic);
    assert_eq!(client.probe(&write, &mark).await.unwrap(), Probe { exists: true, ..Probe::default() });
    let (key, record) = apply_once(&sim, &client, &write, &mark).await;
    assert_eq!((record.method.as_str(), record.path.as_str()), ("POST", "/api/v1/appointments"));
    assert_eq!(record.body["Pattern"], "XXXXXX");
    assert_eq!(record.body["AptDateTime"], "2026-03-20 09:00:00");
    let created = od.get(&format!("appointments/{key}"), &[]).await;
    assert_eq!((text(&created, "PatNum"), text(&created, "Op"), text(&created, "ProvNum")), (patient, op, prov));
    assert_eq!(text(&created, "Note"), format!("New patient exam {mark}"));
    assert_eq!(text(&created, "AptDateTime"), "2026-03-20 09:00:00");
    let probe = client.probe(&write, &mark).await.unwrap();
    assert_eq!(probe, Probe { exists: true, version: None, done: true, created_key: Some(key) });
    // Another write-back's marker is not found.
    assert!(!client.probe(&write, &new_marker()).await.unwrap().done);
}

#[tokio::test]
async fn open_dental_contact_updates_map_every_field() {
    let sim = office().await;
    let client = od_client(&sim, Duration::from_secs(5));
    let od = Od::new(&sim);
    let patient = od.list("patients/Simple", &[("PatStatus", "Patient")]).await.remove(1);
    let key = text(&patient, "PatNum");
    let contact = ContactChange {
        phone_home: Some("503-555-0101".into()),
        phone_work: Some(String::new()),
        phone_mobile: Some("503-555-0199".into()),
        email: Some("new.address@example.com".into()),
        address_line1: Some("12 Court St NE".into()),
        address_line2: Some("Apt 4".into()),
        city: Some("Salem".into()),
        region: Some("OR".into()),
        postal_code: Some("97301".into()),
    };
    let write = PmsWrite::UpdatePatientContact { patient: key.clone(), contact };
    let record = probe_around(&sim, &client, &write, &new_marker()).await;
    assert_eq!(record.path, format!("/api/v1/patients/{key}"));
    let now = od.get(&format!("patients/{key}"), &[]).await;
    for (field, value) in [
        ("HmPhone", "503-555-0101"),
        ("WkPhone", ""),
        ("WirelessPhone", "503-555-0199"),
        ("Email", "new.address@example.com"),
        ("Address", "12 Court St NE"),
        ("Address2", "Apt 4"),
        ("City", "Salem"),
        ("State", "OR"),
        ("Zip", "97301"),
    ] {
        assert_eq!(text(&now, field), value, "{field}");
        assert_eq!(record.body[field], value, "{field}");
    }
    assert_eq!(text(&now, "LName"), text(&patient, "LName"), "fields not sent are kept");
}

#[tokio::test]
async fn open_dental_commlogs_are_created_and_found_by_marker() {
    let sim = office().await;
    let client = od_client(&sim, Duration::from_secs(5));
    let od = Od::new(&sim);
    let patient = text(&od.list("patients/Simple", &[("PatStatus", "Patient")]).await[2], "PatNum");
    let mark = new_marker();
    let write = PmsWrite::CreateCommlog {
        patient: patient.clone(),
        note: "Reminded about the cleaning.".into(),
        mode: CommMode::PhoneAndText,
        direction: CommDirection::Sent,
        communicated_at: utc(NEW_YORK, "2026-03-02 09:15:00"),
    };
    assert!(!client.probe(&write, &mark).await.unwrap().done);
    let (key, record) = apply_once(&sim, &client, &write, &mark).await;
    assert_eq!(record.path, "/api/v1/commlogs");
    let created = od.get(&format!("commlogs/{key}"), &[]).await;
    assert_eq!(text(&created, "PatNum"), patient);
    assert_eq!(text(&created, "Note"), format!("Reminded about the cleaning. {mark}"));
    assert_eq!(text(&created, "Mode_"), "Phone and Text");
    assert_eq!(text(&created, "SentOrReceived"), "Sent");
    assert_eq!(text(&created, "CommDateTime"), "2026-03-02 09:15:00");
    let probe = client.probe(&write, &mark).await.unwrap();
    assert_eq!((probe.done, probe.created_key), (true, Some(key)));
}

#[tokio::test]
async fn open_dental_server_errors_are_unavailable_and_nothing_is_applied() {
    let sim = office().await;
    let client = od_client(&sim, Duration::from_secs(5));
    let od = Od::new(&sim);
    let (patient, op, prov, clinic) = od_booking(&od).await;
    let write = od_create(&patient, Some(&op), &prov, &clinic);
    let mark = new_marker();
    sim.control.inject(FaultSpec::times(FaultKind::ServerError, 1).on("/api/v1/appointments"));
    let err = client.apply(&write, &mark).await.unwrap_err();
    assert!(matches!(&err, PmsError::Unavailable { reason } if reason.contains("500")), "{err:?}");
    let posts: Vec<_> = sim.control.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 1, "not retried: {posts:?}");
    assert!(sim.control.writes().is_empty(), "nothing reached the office");
    assert!(!client.probe(&write, &mark).await.unwrap().done);
}

#[tokio::test]
async fn open_dental_a_create_answered_too_late_is_uncertain_and_the_probe_finds_it() {
    let sim = office().await;
    let client = od_client(&sim, Duration::from_millis(500));
    let od = Od::new(&sim);
    let (patient, op, prov, clinic) = od_booking(&od).await;
    let write = od_create(&patient, Some(&op), &prov, &clinic);
    let mark = new_marker();
    // The office books it at once but answers after the client gave up.
    let late = FaultSpec::times(FaultKind::LateAnswer { millis: 1500 }, 1).on("/api/v1/appointments").method("POST");
    sim.control.inject(late);
    let err = client.apply(&write, &mark).await.unwrap_err();
    assert!(matches!(err, PmsError::Uncertain { .. }), "{err:?}");
    let probe = client.probe(&write, &mark).await.unwrap();
    assert!(probe.done && probe.created_key.is_some(), "the probe finds the booking: {probe:?}");
    assert_eq!(sim.control.writes().len(), 1, "one booking");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(sim.control.writes().iter().filter(|w| w.method == "POST").count(), 1, "not resent");
}

#[tokio::test]
async fn open_dental_a_create_whose_answer_is_lost_is_uncertain_and_the_probe_finds_it() {
    let sim = office().await;
    let client = od_client(&sim, Duration::from_secs(5));
    let od = Od::new(&sim);
    let (patient, op, prov, clinic) = od_booking(&od).await;
    let write = od_create(&patient, Some(&op), &prov, &clinic);
    let mark = new_marker();
    // The office creates the appointment; its answer arrives cut short.
    sim.control.inject(FaultSpec::times(FaultKind::MalformedJson, 1).on("/api/v1/appointments"));
    let err = client.apply(&write, &mark).await.unwrap_err();
    assert!(matches!(&err, PmsError::Uncertain { reason } if reason.contains("AptNum")), "{err:?}");
    let writes = sim.control.writes();
    assert_eq!((writes.len(), writes[0].status), (1, 201));
    let probe = client.probe(&write, &mark).await.unwrap();
    assert!(probe.done, "{probe:?}");
    let key = probe.created_key.unwrap();
    let created = od.get(&format!("appointments/{key}"), &[]).await;
    assert_eq!(text(&created, "PatNum"), patient);
    assert!(text(&created, "Note").contains(&mark));
    let mine = od.list("appointments", &[("PatNum", &patient)]).await;
    assert_eq!(mine.iter().filter(|a| text(a, "Note").contains(&mark)).count(), 1, "created once");
}

#[tokio::test]
async fn open_dental_refusals_keep_the_message_and_local_refusals_send_nothing() {
    let sim = office().await;
    let client = od_client(&sim, Duration::from_secs(5));
    let od = Od::new(&sim);
    let (patient, _, prov, clinic) = od_booking(&od).await;

    let contact = ContactChange { region: Some("Oregon".into()), ..ContactChange::default() };
    let write = PmsWrite::UpdatePatientContact { patient: patient.clone(), contact };
    let err = client.apply(&write, &new_marker()).await.unwrap_err();
    assert_eq!(err, PmsError::Rejected { status: 400, message: "State must be two capital letters.".into() });

    let err = client.apply(&od_create(&patient, Some("999999"), &prov, &clinic), &new_marker()).await.unwrap_err();
    assert_eq!(err, PmsError::Rejected { status: 400, message: "Op is invalid.".into() });
    assert_eq!(sim.control.writes().len(), 2);

    // No chair: refused before sending.
    let err = client.apply(&od_create(&patient, None, &prov, &clinic), &new_marker()).await.unwrap_err();
    assert!(matches!(err, PmsError::Rejected { status: 0, .. }), "{err:?}");
    assert_eq!(sim.control.writes().len(), 2);

    // A missing appointment: the probe says so; the apply is refused by the office.
    let gone = PmsWrite::AddAppointmentNote { appointment: "999999".into(), note: "x".into() };
    assert_eq!(client.probe(&gone, &new_marker()).await.unwrap(), Probe::default());
    let err = client.apply(&gone, &new_marker()).await.unwrap_err();
    assert!(matches!(err, PmsError::Rejected { status: 404, .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------
// TDental

async fn tenant() -> SimHandle {
    enamel_sim::spawn(SimConfig::new(PmsKind::Tdental), 0).await.expect("simulator starts")
}

fn td_client(sim: &SimHandle, timeout: Duration) -> TdClient {
    let mut config = TdConfig::new(sim.api_url(), "admin", "admin");
    config.timeout = timeout;
    config.backoff = Backoff::new(Duration::from_millis(5), Duration::from_millis(50), 3);
    let control = sim.control.clone();
    config.clock = Arc::new(move || control.now());
    TdClient::new(config).expect("client")
}

/// Reads the tenant over plain HTTP.
struct Td {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Td {
    async fn login(sim: &SimHandle) -> Td {
        let http = reqwest::Client::new();
        let base = sim.api_url();
        let answer: Value = http
            .post(format!("{base}/api/Account/Login"))
            .json(&json!({"userName": "admin", "password": "admin", "rememberMe": false}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Td { http, base, token: text(&answer, "token") }
    }

    async fn get(&self, path: &str) -> Value {
        let response =
            self.http.get(format!("{}/api/{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap()
    }

    async fn list(&self, path: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        self.get(&format!("{path}{sep}limit=0")).await["items"].as_array().cloned().unwrap()
    }

    /// Confirmed appointments in the future.
    async fn upcoming(&self, now: NaiveDateTime) -> Vec<Value> {
        let now = now.format("%Y-%m-%dT%H:%M:%S").to_string();
        let rows = self.list("Appointments?state=confirmed").await;
        let rows: Vec<Value> = rows.into_iter().filter(|r| text(r, "date") > now).collect();
        assert!(rows.len() >= 3, "the tenant has upcoming appointments");
        rows
    }
}

#[tokio::test]
async fn tdental_reschedule_sends_the_whole_appointment_with_the_new_slot_and_doctor() {
    let sim = tenant().await;
    let client = td_client(&sim, Duration::from_secs(5));
    let td = Td::login(&sim).await;
    let apt = td.upcoming(sim.control.now()).await.remove(0);
    let id = text(&apt, "id");
    let before = td.get(&format!("Appointments/{id}")).await;
    let doctor =
        td.list("Employees").await.into_iter().map(|e| text(&e, "id")).find(|e| *e != text(&apt, "doctorId")).unwrap();
    let mark = new_marker();
    let write = PmsWrite::RescheduleAppointment {
        appointment: id.clone(),
        start_at: utc(VIETNAM, "2026-03-12 15:45:00"),
        operatory: None,
        provider: Some(doctor.clone()),
    };
    let record = probe_around(&sim, &client, &write, &mark).await;
    assert_eq!((record.method.as_str(), record.path.as_str()), ("PUT", format!("/api/Appointments/{id}").as_str()));
    assert_eq!(record.body["date"], "2026-03-12T15:45:00", "Vietnam wall clock, no offset");
    for kept in ["partnerId", "companyId", "timeExpected", "state", "reason", "color", "isRepeatCustomer"] {
        assert_eq!(record.body[kept], before[kept], "{kept} is sent back unchanged");
    }
    let now = td.get(&format!("Appointments/{id}")).await;
    assert_eq!(text(&now, "date"), "2026-03-12T15:45:00");
    assert_eq!(text(&now, "doctorId"), doctor);
    let note = text(&before, "note");
    let expected = if note.trim().is_empty() { mark.clone() } else { format!("{note}\n{mark}") };
    assert_eq!(text(&now, "note"), expected);
    for kept in ["partnerId", "companyId", "timeExpected", "state", "reason", "color", "isRepeatCustomer", "userId"] {
        assert_eq!(now[kept], before[kept], "{kept} is kept");
    }
}

#[tokio::test]
async fn tdental_status_changes_patch_the_state() {
    let sim = tenant().await;
    let client = td_client(&sim, Duration::from_secs(5));
    let td = Td::login(&sim).await;
    let confirmed = td.upcoming(sim.control.now()).await.remove(0);
    let other = td.list("Appointments?state=done,waiting,examination").await.remove(0);
    let mark = new_marker();

    let id = text(&confirmed, "id");
    let reason = td.get(&format!("Appointments/{id}")).await["reason"].clone();
    let cancel = PmsWrite::SetAppointmentStatus { appointment: id.clone(), action: AppointmentAction::Cancel };
    let record = probe_around(&sim, &client, &cancel, &mark).await;
    assert_eq!(
        (record.method.as_str(), record.path.as_str()),
        ("PATCH", format!("/api/Appointments/{id}/PatchState").as_str())
    );
    let expected = match reason.as_str().filter(|r| !r.trim().is_empty()) {
        Some(reason) => format!("{reason}\n{mark}"),
        None => mark.clone(),
    };
    assert_eq!(record.body, json!({"state": "cancel", "reason": expected}));
    let now = td.get(&format!("Appointments/{id}")).await;
    assert_eq!((text(&now, "state"), text(&now, "reason")), ("cancel".to_owned(), expected));

    let id = text(&other, "id");
    let confirm = PmsWrite::SetAppointmentStatus { appointment: id.clone(), action: AppointmentAction::Confirm };
    let reason = td.get(&format!("Appointments/{id}")).await["reason"].clone();
    let record = probe_around(&sim, &client, &confirm, &new_marker()).await;
    assert_eq!(record.body, json!({"state": "confirmed", "reason": reason}), "the reason is kept");
    let now = td.get(&format!("Appointments/{id}")).await;
    assert_eq!((&now["state"], &now["reason"]), (&json!("confirmed"), &reason));
}

#[tokio::test]
async fn tdental_notes_are_appended_with_the_marker() {
    let sim = tenant().await;
    let client = td_client(&sim, Duration::from_secs(5));
    let td = Td::login(&sim).await;
    let apt = td.upcoming(sim.control.now()).await.remove(1);
    let id = text(&apt, "id");
    let before = td.get(&format!("Appointments/{id}")).await;
    let mark = new_marker();
    let write = PmsWrite::AddAppointmentNote { appointment: id.clone(), note: "Khách hẹn gọi lại".into() };
    let record = probe_around(&sim, &client, &write, &mark).await;
    assert_eq!(record.path, format!("/api/Appointments/{id}"));
    let now = td.get(&format!("Appointments/{id}")).await;
    assert!(text(&now, "note").ends_with(&format!("Khách hẹn gọi lại {mark}")), "{}", text(&now, "note"));
    assert!(text(&now, "note").starts_with(text(&before, "note").trim()));
    assert_eq!(now["date"], before["date"]);
    assert_eq!(now["doctorId"], before["doctorId"]);
}

/// A customer, a branch and a doctor to book with.
async fn td_booking(td: &Td) -> (String, String, String) {
    let partner = td.list("Partners/GetPagedPartnersCustomer").await.remove(0);
    let company = td.list("Companies").await.remove(1);
    let doctor = td.list("Employees").await.remove(0);
    (text(&partner, "id"), text(&company, "id"), text(&doctor, "id"))
}

fn td_create(partner: &str, company: Option<&str>, doctor: &str) -> PmsWrite {
    PmsWrite::CreateAppointment {
        patient: partner.into(),
        start_at: utc(VIETNAM, "2026-03-20 10:00:00"),
        duration_minutes: 45,
        operatory: None,
        provider: Some(doctor.into()),
        location: company.map(str::to_owned),
        note: Some("Tư vấn niềng răng".into()),
    }
}

#[tokio::test]
async fn tdental_creates_are_found_again_by_their_marker() {
    let sim = tenant().await;
    let client = td_client(&sim, Duration::from_secs(5));
    let td = Td::login(&sim).await;
    let (partner, company, doctor) = td_booking(&td).await;
    let mark = new_marker();
    let write = td_create(&partner, Some(&company), &doctor);
    assert_eq!(client.probe(&write, &mark).await.unwrap(), Probe { exists: true, ..Probe::default() });
    let (key, record) = apply_once(&sim, &client, &write, &mark).await;
    assert_eq!((record.method.as_str(), record.path.as_str()), ("POST", "/api/Appointments"));
    let created = td.get(&format!("Appointments/{key}")).await;
    assert_eq!(
        (text(&created, "partnerId"), text(&created, "companyId"), text(&created, "doctorId")),
        (partner, company, doctor)
    );
    assert_eq!(text(&created, "date"), "2026-03-20T10:00:00");
    assert_eq!(created["timeExpected"], 45);
    assert_eq!(text(&created, "state"), "confirmed");
    assert_eq!(text(&created, "note"), format!("Tư vấn niềng răng {mark}"));
    let probe = client.probe(&write, &mark).await.unwrap();
    assert_eq!(probe, Probe { exists: true, version: None, done: true, created_key: Some(key) });
    assert!(!client.probe(&write, &new_marker()).await.unwrap().done);
}

#[tokio::test]
async fn tdental_contact_updates_send_the_whole_customer() {
    let sim = tenant().await;
    let client = td_client(&sim, Duration::from_secs(5));
    let td = Td::login(&sim).await;
    let partners = td.list("Partners/GetPagedPartnersCustomer").await;
    let partner = partners.iter().find(|p| !p["birthYear"].is_null() && !p["sourceId"].is_null()).unwrap();
    let id = text(partner, "id");
    let before = td.get(&format!("Partners/{id}")).await;
    let contact = ContactChange {
        phone_mobile: Some("0909123456".into()),
        email: Some("khach.moi@example.vn".into()),
        address_line1: Some("25 Lê Lợi".into()),
        city: Some("Thành phố Hà Nội".into()),
        ..ContactChange::default()
    };
    let write = PmsWrite::UpdatePatientContact { patient: id.clone(), contact };
    let record = probe_around(&sim, &client, &write, &new_marker()).await;
    assert_eq!((record.method.as_str(), record.path.as_str(), record.status), ("PUT", "/api/Partners/Customers", 204));
    assert_eq!(text(&record.body, "id"), id);
    let now = td.get(&format!("Partners/{id}")).await;
    assert_eq!(text(&now, "phone"), "0909123456");
    assert_eq!(text(&now, "email"), "khach.moi@example.vn");
    assert_eq!(text(&now, "street"), "25 Lê Lợi");
    assert_eq!(now["city"]["name"], "Thành phố Hà Nội");
    for kept in [
        "name",
        "ref",
        "gender",
        "birthYear",
        "birthMonth",
        "birthDay",
        "sourceId",
        "titleId",
        "jobTitle",
        "comment",
        "district",
        "ward",
    ] {
        assert_eq!(now[kept], before[kept], "{kept} is kept");
    }
}

#[tokio::test]
async fn tdental_refuses_what_it_cannot_do_without_a_request() {
    let sim = tenant().await;
    let client = td_client(&sim, Duration::from_secs(5));
    let td = Td::login(&sim).await;
    let (partner, _, doctor) = td_booking(&td).await;
    let apt = text(&td.upcoming(sim.control.now()).await[0], "id");
    let requests = sim.control.requests().len();
    let refused = [
        PmsWrite::CreateCommlog {
            patient: partner.clone(),
            note: "x".into(),
            mode: CommMode::Phone,
            direction: CommDirection::Sent,
            communicated_at: Utc::now(),
        },
        PmsWrite::SetAppointmentStatus { appointment: apt.clone(), action: AppointmentAction::Break },
        PmsWrite::RescheduleAppointment {
            appointment: apt,
            start_at: Utc::now(),
            operatory: Some("1".into()),
            provider: None,
        },
        PmsWrite::UpdatePatientContact {
            patient: partner.clone(),
            contact: ContactChange { postal_code: Some("70000".into()), ..ContactChange::default() },
        },
        td_create(&partner, None, &doctor),
    ];
    for write in &refused {
        let err = client.apply(write, &new_marker()).await.unwrap_err();
        assert!(matches!(&err, PmsError::Rejected { status: 0, .. }), "{write:?}: {err:?}");
        assert!(!err.to_string().contains(&partner), "no keys or PHI beyond the reason: {err}");
    }
    for write in &refused[..4] {
        assert!(client.probe(write, &new_marker()).await.is_err(), "{write:?}");
    }
    assert!(sim.control.writes().is_empty());
    assert_eq!(sim.control.requests().len(), requests, "not even a login");
}

#[tokio::test]
async fn tdental_server_errors_are_unavailable_and_nothing_is_applied() {
    let sim = tenant().await;
    let client = td_client(&sim, Duration::from_secs(5));
    let td = Td::login(&sim).await;
    let (partner, company, doctor) = td_booking(&td).await;
    let write = td_create(&partner, Some(&company), &doctor);
    let mark = new_marker();
    sim.control.inject(FaultSpec::times(FaultKind::ServerError, 1).on("/api/Appointments"));
    let err = client.apply(&write, &mark).await.unwrap_err();
    assert!(
        matches!(&err, PmsError::Unavailable { reason } if reason.contains("Nullable object must have a value.")),
        "{err:?}"
    );
    assert!(sim.control.writes().is_empty());
    assert!(!client.probe(&write, &mark).await.unwrap().done);
}

#[tokio::test]
async fn tdental_a_create_answered_too_late_is_uncertain_and_the_probe_finds_it() {
    let sim = tenant().await;
    let client = td_client(&sim, Duration::from_millis(500));
    let td = Td::login(&sim).await;
    let (partner, company, doctor) = td_booking(&td).await;
    let write = td_create(&partner, Some(&company), &doctor);
    let mark = new_marker();
    // Log in first: the fault must hit the create, not the login.
    assert!(!client.probe(&write, &mark).await.unwrap().done);
    let late = FaultSpec::times(FaultKind::LateAnswer { millis: 1500 }, 1).on("/api/Appointments").method("POST");
    sim.control.inject(late);
    let err = client.apply(&write, &mark).await.unwrap_err();
    assert!(matches!(err, PmsError::Uncertain { .. }), "{err:?}");
    let probe = client.probe(&write, &mark).await.unwrap();
    assert!(probe.done && probe.created_key.is_some(), "the probe finds the booking: {probe:?}");
    assert_eq!(sim.control.writes().len(), 1, "one booking");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(sim.control.writes().iter().filter(|w| w.method == "POST").count(), 1, "not resent");
}

#[tokio::test]
async fn tdental_a_create_whose_answer_is_lost_is_uncertain_and_the_probe_finds_it() {
    let sim = tenant().await;
    let client = td_client(&sim, Duration::from_secs(5));
    let td = Td::login(&sim).await;
    let (partner, company, doctor) = td_booking(&td).await;
    let write = td_create(&partner, Some(&company), &doctor);
    let mark = new_marker();
    assert!(!client.probe(&write, &mark).await.unwrap().done);
    sim.control.inject(FaultSpec::times(FaultKind::MalformedJson, 1).on("/api/Appointments"));
    let err = client.apply(&write, &mark).await.unwrap_err();
    assert!(matches!(err, PmsError::Uncertain { .. }), "{err:?}");
    let writes = sim.control.writes();
    assert_eq!((writes.len(), writes[0].status), (1, 200));
    let probe = client.probe(&write, &mark).await.unwrap();
    assert!(probe.done, "{probe:?}");
    let created = td.get(&format!("Appointments/{}", probe.created_key.unwrap())).await;
    assert_eq!(text(&created, "partnerId"), partner);
    assert!(text(&created, "note").contains(&mark));
}

#[tokio::test]
async fn tdental_validation_errors_are_rejected_with_the_message() {
    let sim = tenant().await;
    let client = td_client(&sim, Duration::from_secs(5));
    let td = Td::login(&sim).await;
    let (_, company, doctor) = td_booking(&td).await;
    let write = td_create("not-a-guid", Some(&company), &doctor);
    let err = client.apply(&write, &new_marker()).await.unwrap_err();
    assert_eq!(
        err,
        PmsError::Rejected {
            status: 400,
            message: "$.partnerId: The JSON value could not be converted to System.Guid.".into()
        }
    );
    assert_eq!(sim.control.writes().len(), 1);
    let gone =
        PmsWrite::AddAppointmentNote { appointment: "00000000-0000-4000-8000-000000000000".into(), note: "x".into() };
    assert_eq!(client.probe(&gone, &new_marker()).await.unwrap(), Probe::default());
}
