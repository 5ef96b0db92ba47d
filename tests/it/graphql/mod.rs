//! The GraphQL API over a synced simulator office and hand-built fixtures, on both
//! backends: snapshots of representative queries, statement counts, error codes, scopes
//! and practice isolation.

use anyhow::{Context as _, Result, ensure};
use chrono::{TimeZone, Utc};
use enamel_domain::ids::*;
use enamel_domain::{PracticeId, Scope, Source, SourceKey};
use enamel_graphql::{Api, Options, Request, Viewer};
use enamel_pms::opendental::{OdClient, OdConfig, OdMode};
use enamel_sim::{Mode, PmsKind, SimConfig};
use enamel_store::{NewConnection, Store};
use enamel_sync::{Hooks, SyncConfig, Target, sync_once};
use serde_json::{Value, json};

use crate::fixtures::{self, key, practice};
use crate::support::backend_tests;

mod plain;

/// The instant the views treat as "now": the simulated office's clock.
fn pinned_now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).unwrap()
}

fn api(store: &Store) -> Api {
    // A generous batching window: a debug build on a loaded 2-core machine can take more
    // than the default 2 ms to walk 200 siblings, and the counts must not depend on timing.
    let batch_delay = Some(std::time::Duration::from_millis(40));
    Api::new(store.clone(), Options { now: Some(pinned_now()), batch_delay, ..Default::default() })
}

async fn viewer(store: &Store, practice: PracticeId, scopes: &[Scope]) -> Result<Viewer> {
    Ok(Viewer {
        practice: store.practice(practice).await?,
        credential: "api_key:test".into(),
        name: "test".into(),
        scopes: scopes.to_vec(),
    })
}

/// Runs a query; returns the whole response (`data` and `errors`).
async fn run(api: &Api, viewer: Option<Viewer>, query: &str, variables: Value) -> Value {
    let request = Request { query: query.to_owned(), operation_name: None, variables };
    api.execute(request, viewer).await.to_json()
}

/// Runs a query that must succeed; returns `data`.
async fn data(api: &Api, viewer: &Viewer, query: &str, variables: Value) -> Result<Value> {
    let resp = run(api, Some(viewer.clone()), query, variables).await;
    ensure!(resp.get("errors").is_none(), "query failed: {resp:#}");
    Ok(resp["data"].clone())
}

fn first_error_code(resp: &Value) -> Option<&str> {
    resp["errors"][0]["extensions"]["code"].as_str()
}

/// A synced small Open Dental office (150 patients, deterministic).
async fn synced_office(store: &Store) -> Result<PracticeId> {
    let mut config = SimConfig::new(PmsKind::OpenDental);
    config.mode = Mode::Local;
    let sim = enamel_sim::spawn(config, 0).await?;
    let practice = practice(store, "GraphQL office").await;
    let connection = store
        .add_connection(
            practice,
            NewConnection {
                kind: Source::OpenDental,
                base_url: sim.api_url(),
                mode: Some("local".into()),
                credentials: None,
            },
        )
        .await?;
    let client = OdClient::new(OdConfig::new(
        sim.api_url(),
        "dev-key",
        "customer-key",
        OdMode::Local,
        chrono_tz::America::New_York,
    ))?;
    let config = SyncConfig::default();
    let hooks = Hooks::default();
    let target = Target {
        store,
        client: &client,
        practice,
        connection: connection.id,
        source: Source::OpenDental,
        config: &config,
        hooks: &hooks,
    };
    sync_once(target).await.map_err(|(_, e)| anyhow::anyhow!("sync: {e:#}"))?;
    Ok(practice)
}

fn gid(type_name: &str, id: impl EntityId) -> String {
    enamel_graphql::global_id::encode(type_name, id.uuid()).0
}

const DEEP_PATIENT: &str = r#"
query($id: ID!) {
  patient(id: $id) {
    firstName lastName chartNumber gender status birthDate
    source { system key }
    family {
      guarantor { firstName lastName }
      members(first: 10) { totalCount edges { node { firstName isGuarantor } } }
      balance { amount currency }
    }
    appointments(first: 3) {
      totalCount
      pageInfo { hasNextPage }
      edges { cursor node {
        startAt durationMinutes status confirmation
        provider { firstName lastName kind }
        operatory { name }
        location { name }
        procedures(first: 5) { edges { node {
          status performedOn teeth surfaces fee { amount currency }
          procedureCode { code description coverageCategory }
        } } }
      } }
    }
    patientPlans(first: 3) { edges { node {
      ordinal relationship
      subscriber { memberId subscriber { firstName } plan {
        groupName planType benefitYearStartMonth
        carrier { name }
        benefits(first: 8) { edges { node { kind coverageCategory percent amount { amount } quantity period coverageLevel } } }
      } }
    } } }
    claims(first: 3) { edges { node {
      status claimType serviceDate feeBilled { amount } insurancePaid { amount }
      claimProcedures(first: 5) { edges { node { status feeBilled { amount } insurancePaid { amount } procedure { procedureCode { code } } } } }
    } } }
    balance { amount currency }
    aging(asOf: "2026-03-02") { daysOver90 { amount } days0To30 { amount } total { amount } unappliedCredit { amount } }
    ledger { charges { amount } credits { amount } balance { amount } entries { on kind amount { amount } balance { amount } description } }
  }
}"#;

const DAY_VIEW: &str = r#"
query($from: DateTime!, $to: DateTime!) {
  appointments(from: $from, to: $to, first: 50) {
    totalCount
    edges { node {
      startAt durationMinutes status
      patient { firstName lastName }
      provider { abbreviation }
      operatory { name }
      procedures(first: 10) { edges { node { procedureCode { code } fee { amount } } } }
    } }
  }
}"#;

const TREATMENT_PLAN: &str = r#"
query($id: ID!) {
  node(id: $id) {
    ... on TreatmentPlan {
      kind status name planDate
      patient { firstName }
      totals { fee { amount } discount { amount } insuranceEstimate { amount } patientPortion { amount } paid { amount } residual { amount } }
      items(first: 20) { edges { node {
        sortOrder priority teeth fee { amount } insuranceEstimate { amount } patientPortion { amount }
        procedureCode { code description }
        procedure { status procedureCode { code } }
      } } }
    }
  }
}"#;

const CONTEXT: &str = r#"
query($id: ID!) {
  patient(id: $id) {
    context {
      version asOf firstName ageBand status
      insurance { ordinal carrier planType annualMaximum { amount } usedThisYear { amount } remaining { amount } deductible { amount } deductibleRemaining { amount } }
      balance { amount }
      aging { days0To30 { amount } days31To60 { amount } days61To90 { amount } daysOver90 { amount } total { amount } }
      lastVisit { at status procedures }
      nextVisit { at status procedures }
      openTreatment { code description teeth fee { amount } insuranceEstimate { amount } patientPortion { amount } }
      openTreatmentPatientPortion { amount }
      recentCommunications { at mode direction kind summary }
      text
    }
  }
}"#;

/// A patient of the office who has insurance, claims and a treatment plan: the first
/// such guarantor by PMS key, so the choice is the same on every backend and run.
async fn showcase_patient(store: &Store, practice: PracticeId) -> Result<(PatientId, TreatmentPlanId)> {
    for n in 1..=150 {
        let Some(p) = store.find_by_source_id::<PatientId>(practice, Source::OpenDental, &key(n)).await? else {
            continue;
        };
        let plans = store
            .children(
                practice,
                enamel_store::tables::patient_plan::BY_PATIENT,
                &[p.id],
                enamel_store::ChildPage::all(enamel_store::tables::patient_plan::ORDINAL),
            )
            .await?;
        let tps = store
            .children(
                practice,
                enamel_store::tables::treatment_plan::BY_PATIENT,
                &[p.id],
                enamel_store::ChildPage::all(enamel_store::tables::treatment_plan::PLAN_DATE),
            )
            .await?;
        let claims = store
            .children(
                practice,
                enamel_store::tables::claim::BY_PATIENT,
                &[p.id],
                enamel_store::ChildPage::all(enamel_store::tables::claim::SERVICE_DATE),
            )
            .await?;
        if !plans.is_empty()
            && !claims.is_empty()
            && let Some(tp) = tps.first()
        {
            return Ok((p.id, tp.id));
        }
    }
    anyhow::bail!("no patient with insurance, claims and a treatment plan in the office")
}

/// Snapshots are shared by both backends: the same answer from SQLite and PostgreSQL.
fn snapshot(name: &str, value: &Value) {
    insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!(name, value, {
            ".**.cursor" => "[cursor]",
        });
    });
}

async fn representative_queries(store: Store) -> Result<()> {
    let practice = synced_office(&store).await?;
    let api = api(&store);
    let v = viewer(&store, practice, &[Scope::Read]).await?;
    let (patient, plan) = showcase_patient(&store, practice).await?;

    let deep = data(&api, &v, DEEP_PATIENT, json!({ "id": gid("Patient", patient) })).await?;
    snapshot("deep_patient", &deep);

    let day = data(&api, &v, DAY_VIEW, json!({ "from": "2026-03-02T00:00:00Z", "to": "2026-03-03T00:00:00Z" })).await?;
    ensure!(day["appointments"]["totalCount"].as_i64().unwrap_or(0) > 0, "the day has appointments: {day}");
    snapshot("appointment_day", &day);

    let tp = data(&api, &v, TREATMENT_PLAN, json!({ "id": gid("TreatmentPlan", plan) })).await?;
    snapshot("treatment_plan", &tp);

    let ctx = data(&api, &v, CONTEXT, json!({ "id": gid("Patient", patient) })).await?;
    snapshot("patient_context", &ctx);
    Ok(())
}

/// 200 patients, each in a family of one, with 3 appointments of 2 procedures with codes.
async fn fixture_office(store: &Store) -> Result<PracticeId> {
    use enamel_domain::SyncRow;
    use enamel_domain::records::{Family, ProcedureCode};
    let practice = practice(store, "Fixtures").await;
    let codes: Vec<_> = (1..=5)
        .map(|n| {
            SyncRow::new(
                key(format!("C{n}")),
                ProcedureCode {
                    code: format!("D{n:04}"),
                    description: format!("Code {n}"),
                    abbreviation: None,
                    kind: enamel_domain::enums::ProcedureCodeKind::Cdt,
                    category: None,
                    coverage_category: Some("Basic".into()),
                    default_fee: Some(enamel_domain::Amount(10_000)),
                    duration_minutes: Some(30),
                    is_hidden: false,
                },
            )
        })
        .collect();
    store.upsert(practice, Source::OpenDental, &codes).await?;
    let families: Vec<_> = (1..=200).map(|n| SyncRow::new(key(n), Family {})).collect();
    store.upsert(practice, Source::OpenDental, &families).await?;
    let patients: Vec<_> = (1..=200)
        .map(|n| {
            let mut p = fixtures::patient(n);
            p.data.family_id = Some(key(n));
            p
        })
        .collect();
    store.upsert(practice, Source::OpenDental, &patients).await?;
    let mut appointments = Vec::new();
    let mut procedures = Vec::new();
    for n in 1..=200u32 {
        for a in 0..3u32 {
            let appt = n * 10 + a;
            appointments.push(fixtures::appointment(appt, n, i64::from(a) * 24));
            for p in 0..2u32 {
                let mut proc = fixtures::procedure(appt * 10 + p, n, Some(appt));
                proc.data.procedure_code_id = Some(key(format!("C{}", 1 + (appt + p) % 5)));
                procedures.push(proc);
            }
        }
    }
    store.upsert(practice, Source::OpenDental, &appointments).await?;
    store.upsert(practice, Source::OpenDental, &procedures).await?;
    Ok(practice)
}

const DEEP_LIST: &str = r#"
query($n: Int!) {
  patients(first: $n) {
    edges { node {
      firstName
      family { members(first: 5) { edges { node { firstName } } } }
      appointments(first: 5) { edges { node {
        startAt
        procedures(first: 3) { edges { node { fee { amount } procedureCode { code } } } }
      } } }
      balance { amount }
    } }
  }
}"#;

async fn statements_depend_on_depth_only(mut store: Store) -> Result<()> {
    let practice = fixture_office(&store).await?;
    let counter = store.count_statements();
    // A wider batching window than the other tests: on a 2-core machine busy compiling, a
    // debug build can take longer than 40 ms to walk 200 siblings and split a batch.
    let delay = Some(std::time::Duration::from_millis(300));
    let api = Api::new(store.clone(), Options { now: Some(pinned_now()), batch_delay: delay, ..Default::default() });
    let v = viewer(&store, practice, &[Scope::Read]).await?;
    let mut counts = Vec::new();
    for n in [1, 200] {
        counter.reset();
        let d = data(&api, &v, DEEP_LIST, json!({ "n": n })).await?;
        let edges = d["patients"]["edges"].as_array().map_or(0, Vec::len);
        ensure!(edges == n as usize, "{n} patients asked, {edges} returned");
        counts.push(counter.get());
    }
    ensure!(counts[0] == counts[1], "statements for 1 and 200 patients differ: {counts:?}");
    ensure!(counts[0] <= 16, "the deep list costs {} statements", counts[0]);

    // Without the computed balance the document is plain: once async-graphql has answered
    // it, the plain executor reads the whole tree in one statement, plus the audit's write.
    let plain = DEEP_LIST.replace("balance { amount }", "");
    data(&api, &v, &plain, json!({ "n": 1 })).await?;
    let mut counts = Vec::new();
    for n in [1, 200] {
        let answered = api.plain_answers();
        counter.reset();
        let d = data(&api, &v, &plain, json!({ "n": n })).await?;
        let edges = d["patients"]["edges"].as_array().map_or(0, Vec::len);
        ensure!(edges == n as usize, "{n} patients asked, {edges} returned");
        ensure!(api.plain_answers() == answered + 1, "the plain executor answered");
        counts.push(counter.get());
    }
    ensure!(counts[0] == counts[1], "plain statements for 1 and 200 patients differ: {counts:?}");
    ensure!(counts[0] <= 2, "a plain deep list costs {} statements", counts[0]);
    Ok(())
}

async fn errors_scopes_and_isolation(store: Store) -> Result<()> {
    let practice_a = fixture_office(&store).await?;
    let practice_b = practice(&store, "Other practice").await;
    let api = api(&store);
    let reader = viewer(&store, practice_a, &[Scope::Read]).await?;
    let patient =
        store.find_by_source_id::<PatientId>(practice_a, Source::OpenDental, &key(1)).await?.context("patient 1")?;
    let id = gid("Patient", patient.id);

    // No credential.
    let resp = run(&api, None, "{ patients { edges { node { firstName } } } }", json!({})).await;
    ensure!(first_error_code(&resp) == Some("UNAUTHENTICATED"), "{resp}");

    // The context scope reads the context, never the patient's identifiers.
    let ai = viewer(&store, practice_a, &[Scope::Context]).await?;
    let resp =
        run(&api, Some(ai.clone()), "query($id: ID!) { patient(id: $id) { lastName } }", json!({ "id": id })).await;
    ensure!(first_error_code(&resp) == Some("FORBIDDEN"), "{resp}");
    let resp =
        run(&api, Some(ai), "query($id: ID!) { patient(id: $id) { context { firstName text } } }", json!({ "id": id }))
            .await;
    ensure!(resp.get("errors").is_none(), "{resp}");
    let text = resp["data"]["patient"]["context"]["text"].as_str().unwrap_or_default();
    ensure!(!text.contains("Last1"), "the context names the last name: {text}");

    // Bad input and limits.
    let resp = run(&api, Some(reader.clone()), r#"{ patient(id: "nonsense") { firstName } }"#, json!({})).await;
    ensure!(first_error_code(&resp) == Some("BAD_USER_INPUT"), "{resp}");
    let resp =
        run(&api, Some(reader.clone()), "{ patients(first: 100000) { edges { node { firstName } } } }", json!({}))
            .await;
    ensure!(first_error_code(&resp) == Some("LIMIT_EXCEEDED"), "{resp}");
    let aliases: String = (0..40).map(|i| format!("a{i}: viewer {{ name }} ")).collect();
    let resp = run(&api, Some(reader.clone()), &format!("{{ {aliases} }}"), json!({})).await;
    ensure!(first_error_code(&resp) == Some("LIMIT_EXCEEDED"), "{resp}");
    let deep = "{ patients { edges { node { family { members { edges { node { family { members { edges { node { family { members { edges { node { firstName } } } } } } } } } } } } } } } }";
    let resp = run(&api, Some(reader.clone()), deep, json!({})).await;
    ensure!(resp.get("errors").is_some(), "depth limit: {resp}");
    let resp = run(&api, Some(reader.clone()), "{ __schema { types { name } } }", json!({})).await;
    ensure!(resp["data"]["__schema"].is_null(), "introspection is off by default: {resp}");

    // Another practice's key sees nothing of practice A, even with its ids.
    let other = viewer(&store, practice_b, &[Scope::Read]).await?;
    let resp = run(&api, Some(other.clone()), "query($id: ID!) { node(id: $id) { id } }", json!({ "id": id })).await;
    ensure!(resp["data"]["node"].is_null(), "practice B sees practice A's patient: {resp}");
    ensure!(first_error_code(&resp) == Some("NOT_FOUND"), "{resp}");
    let d = data(&api, &other, "{ patients { totalCount } }", json!({})).await?;
    ensure!(d["patients"]["totalCount"] == 0, "{d}");
    let resp = run(&api, Some(other), "query($id: ID!) { patient(id: $id) { firstName } }", json!({ "id": id })).await;
    ensure!(first_error_code(&resp) == Some("NOT_FOUND"), "{resp}");

    // Search by name, chart number and phone digits; pagination is stable.
    let d = data(&api, &reader, r#"{ patients(search: "last12", first: 50) { totalCount } }"#, json!({})).await?;
    ensure!(d["patients"]["totalCount"].as_i64() == Some(11), "Last12 and Last120..129: {d}");
    let d =
        data(&api, &reader, r#"{ patients(search: "C00007") { edges { node { chartNumber } } } }"#, json!({})).await?;
    ensure!(d["patients"]["edges"][0]["node"]["chartNumber"] == "C00007", "{d}");
    let page1 = data(
        &api,
        &reader,
        "{ patients(first: 2) { pageInfo { hasNextPage endCursor } edges { node { id } } } }",
        json!({}),
    )
    .await?;
    let after = page1["patients"]["pageInfo"]["endCursor"].clone();
    let page2 = data(
        &api,
        &reader,
        "query($a: String) { patients(first: 2, after: $a) { pageInfo { hasPreviousPage } edges { node { id } } } }",
        json!({ "a": after }),
    )
    .await?;
    ensure!(page2["patients"]["pageInfo"]["hasPreviousPage"] == true, "{page2}");
    ensure!(page1["patients"]["edges"][1] != page2["patients"]["edges"][0], "pages overlap");
    let _ = SourceKey::parse("x");
    // Errors async-graphql raises itself carry a code from the same table.
    let deep = "{ patients { edges { node { family { members { edges { node { family { members { edges { node { family { members { edges { node { firstName } } } } } } } } } } } } } } } }";
    let resp = run(&api, Some(reader.clone()), deep, json!({})).await;
    ensure!(first_error_code(&resp) == Some("LIMIT_EXCEEDED"), "{resp}");
    let resp = run(&api, Some(reader.clone()), "{ patients { edges { node { noSuchField } } } }", json!({})).await;
    ensure!(first_error_code(&resp) == Some("BAD_USER_INPUT"), "{resp}");
    Ok(())
}

backend_tests!(
    representative_queries,
    statements_depend_on_depth_only,
    errors_scopes_and_isolation,
    a_hand_built_family_has_the_worked_ledger_and_aging,
);

/// A guarantor and a child, worked by hand (as of 2026-03-02):
///
/// | date | who | what | amount | running |
/// |---|---|---|---:|---:|
/// | 2025-11-15 | child | procedure | 50.00 | 50.00 |
/// | 2026-01-01 | guarantor | procedure | 100.00 | 150.00 |
/// | 2026-02-01 | child | discount adjustment | −10.00 | 140.00 |
/// | 2026-02-20 | guarantor | procedure | 200.00 | 340.00 |
/// | 2026-02-25 | guarantor | payment | −120.00 | 220.00 |
///
/// Aging pays the 130.00 of credits to the oldest charges first: the 50.00 (107 days
/// old), then 80.00 of the 100.00 (60 days): 0–30 200.00, 31–60 20.00, 61–90 0, over 90 0.
async fn a_hand_built_family_has_the_worked_ledger_and_aging(store: Store) -> Result<()> {
    use enamel_domain::enums::{PaymentKind, PaymentStatus};
    use enamel_domain::records::{Adjustment, Family, Payment, PaymentAllocation};
    use enamel_domain::{Amount, SyncRow};
    let p = practice(&store, "Hand-built").await;
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).context("date");
    store.upsert(p, Source::OpenDental, &[SyncRow::new(key("F"), Family {})]).await?;
    let mut guarantor = fixtures::patient(1);
    guarantor.data.family_id = Some(key("F"));
    let mut child = fixtures::patient(2);
    child.data.family_id = Some(key("F"));
    child.data.is_guarantor = false;
    store.upsert(p, Source::OpenDental, &[guarantor, child]).await?;
    let procedure = |n, patient, on, fee| -> Result<_> {
        let mut row = fixtures::procedure(n, patient, None);
        row.data.performed_on = Some(on);
        row.data.fee = Amount(fee);
        Ok(row)
    };
    let procedures = [
        procedure(10, 2, day(2025, 11, 15)?, 5_000)?,
        procedure(11, 1, day(2026, 1, 1)?, 10_000)?,
        procedure(12, 1, day(2026, 2, 20)?, 20_000)?,
    ];
    store.upsert(p, Source::OpenDental, &procedures).await?;
    let payment = Payment {
        patient_id: Some(key(1)),
        location_id: None,
        paid_on: day(2026, 2, 25)?,
        amount: Amount(12_000),
        method: Some("Check".into()),
        kind: PaymentKind::Patient,
        status: PaymentStatus::Posted,
        reference: None,
        note: None,
    };
    store.upsert(p, Source::OpenDental, &[SyncRow::new(key("P1"), payment)]).await?;
    let allocation = PaymentAllocation {
        payment_id: Some(key("P1")),
        patient_id: Some(key(1)),
        procedure_id: None,
        provider_id: None,
        treatment_plan_id: None,
        amount: Amount(12_000),
        allocated_on: Some(day(2026, 2, 25)?),
    };
    store.upsert(p, Source::OpenDental, &[SyncRow::new(key("S1"), allocation)]).await?;
    let adjustment = Adjustment {
        patient_id: key(2),
        procedure_id: None,
        provider_id: None,
        location_id: None,
        adjusted_on: day(2026, 2, 1)?,
        amount: Amount(-1_000),
        kind: Some("Discount".into()),
        note: None,
    };
    store.upsert(p, Source::OpenDental, &[SyncRow::new(key("A1"), adjustment)]).await?;

    let family = store.find_by_source_id::<FamilyId>(p, Source::OpenDental, &key("F")).await?.context("family")?;
    let api = api(&store);
    let v = viewer(&store, p, &[Scope::Read]).await?;
    let query = r#"query($id: ID!) { family(id: $id) {
        balance { amount currency }
        ledger { charges { amount } credits { amount } balance { amount }
                 entries { on kind amount { amount } balance { amount } } }
        aging(asOf: "2026-03-02") { days0To30 { amount } days31To60 { amount } days61To90 { amount }
                                    daysOver90 { amount } unappliedCredit { amount } total { amount } }
        members(first: 5) { edges { node { chartNumber balance { amount } aging(asOf: "2026-03-02") { daysOver90 { amount } total { amount } } } } }
    } }"#;
    let d = data(&api, &v, query, json!({ "id": gid("Family", family.id) })).await?;
    let f = &d["family"];
    let amount = |v: &Value| v["amount"].clone();
    ensure!(f["balance"] == json!({"amount": "220.00", "currency": "USD"}), "{f:#}");
    let ledger = &f["ledger"];
    ensure!(
        (amount(&ledger["charges"]), amount(&ledger["credits"])) == (json!("350.00"), json!("130.00")),
        "{ledger:#}"
    );
    let lines: Vec<(String, String, String, String)> = ledger["entries"]
        .as_array()
        .context("entries")?
        .iter()
        .map(|e| {
            let t = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (t(&e["on"]), t(&e["kind"]), t(&e["amount"]["amount"]), t(&e["balance"]["amount"]))
        })
        .collect();
    let want = [
        ("2025-11-15", "CHARGE", "50.00", "50.00"),
        ("2026-01-01", "CHARGE", "100.00", "150.00"),
        ("2026-02-01", "ADJUSTMENT", "-10.00", "140.00"),
        ("2026-02-20", "CHARGE", "200.00", "340.00"),
        ("2026-02-25", "PATIENT_PAYMENT", "-120.00", "220.00"),
    ];
    let want: Vec<(String, String, String, String)> =
        want.iter().map(|(a, b, c, d)| ((*a).into(), (*b).into(), (*c).into(), (*d).into())).collect();
    ensure!(lines == want, "{lines:#?}");
    let aging = &f["aging"];
    let buckets: Vec<Value> = ["days0To30", "days31To60", "days61To90", "daysOver90", "unappliedCredit", "total"]
        .iter()
        .map(|b| amount(&aging[*b]))
        .collect();
    ensure!(
        buckets == [json!("200.00"), json!("20.00"), json!("0.00"), json!("0.00"), json!("0.00"), json!("220.00")],
        "{aging:#}"
    );
    // Each member alone: the guarantor owes 180.00 (all under 30 days after the payment
    // takes the older charge); the child 40.00, over 90 days.
    let members = f["members"]["edges"].as_array().context("members")?;
    let of = |chart: &str| members.iter().map(|e| &e["node"]).find(|n| n["chartNumber"] == json!(chart)).cloned();
    let g = of("C00001").context("guarantor")?;
    let c = of("C00002").context("child")?;
    ensure!(amount(&g["balance"]) == json!("180.00") && amount(&c["balance"]) == json!("40.00"), "{members:#?}");
    ensure!(amount(&c["aging"]["daysOver90"]) == json!("40.00") && amount(&c["aging"]["total"]) == json!("40.00"));
    Ok(())
}

#[test]
fn committed_schema_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let current = enamel_graphql::sdl();
    if committed != current {
        if std::env::var("ENAMEL_UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
            std::fs::write(path, &current).unwrap();
        } else {
            panic!(
                "schema.graphql is stale: run `enamel schema > schema.graphql` (or ENAMEL_UPDATE_SCHEMA=1 cargo test)"
            );
        }
    }
}
