//! The scope matrix (README "Scopes"): every query root and mutation of the committed
//! schema, run by a credential holding exactly one scope — allowed (no `FORBIDDEN`) or
//! `FORBIDDEN`, as documented — and the fields of the objects a narrow scope can reach:
//! a patient under `context` (only `id` and `context`), a write-back under `propose` (all
//! but `patient`). A root or mutation added to the schema without a row here fails the test.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result, bail, ensure};
use enamel_domain::writeback::{Principal, Proposal};
use enamel_domain::{EntityId, Scope};
use enamel_graphql::{Api, Options, Request, Viewer};
use enamel_store::Store;
use enamel_writeback::ProposeRequest;
use serde_json::{Value, json};
use strum::IntoEnumIterator;

use crate::support::backend_tests;
use crate::writeback::{Office, open_dental};

backend_tests!(every_root_and_mutation_answers_each_scope_as_documented);

use Scope::{Admin, Approve, Context, Propose, Read};

/// Who may use each root field and mutation.
fn documented() -> BTreeMap<&'static str, &'static [Scope]> {
    const ANY: &[Scope] = &[Read, Context, Propose, Approve, Admin];
    const READ: &[Scope] = &[Read];
    BTreeMap::from([
        ("viewer", ANY),
        ("practice", READ),
        ("node", READ),
        ("patient", &[Read, Context][..]),
        ("patients", READ),
        ("appointments", READ),
        ("procedureCodes", READ),
        ("procedures", READ),
        ("claims", READ),
        ("payments", READ),
        ("family", READ),
        ("arAging", READ),
        ("syncRuns", READ),
        ("writeBacks", &[Read, Propose, Approve][..]),
        ("writeBack", &[Read, Propose, Approve][..]),
        ("auditEvents", &[Admin][..]),
        ("proposeAppointmentReschedule", &[Propose][..]),
        ("proposeAppointmentStatus", &[Propose][..]),
        ("proposeAppointmentNote", &[Propose][..]),
        ("proposeAppointmentCreate", &[Propose][..]),
        ("proposePatientContactUpdate", &[Propose][..]),
        ("proposeCommlogCreate", &[Propose][..]),
        ("approveWriteBack", &[Approve][..]),
        ("rejectWriteBack", &[Approve][..]),
        ("cancelWriteBack", &[Propose, Approve][..]),
    ])
}

/// The field names of `type <name>` in the committed schema.
fn schema_fields(type_name: &str) -> Result<BTreeSet<String>> {
    let sdl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))?;
    let start = sdl.find(&format!("\ntype {type_name} ")).context("the type")?;
    let body = &sdl[start..];
    let body = &body[body.find('{').context("{")? + 1..body.find("\n}").context("}")?];
    let mut fields = BTreeSet::new();
    let mut in_description = false;
    for line in body.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("\"\"\"") {
            // `"""` opens or closes a block; `"""text"""` is a whole one.
            if trimmed == "\"\"\"" || !(trimmed.len() > 6 && trimmed.ends_with("\"\"\"")) {
                in_description = !in_description;
            }
            continue;
        }
        if in_description || !line.starts_with('\t') || line.starts_with("\t\t") {
            continue;
        }
        let name: String = trimmed.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            fields.insert(name);
        }
    }
    Ok(fields)
}

struct Fixture {
    patient: String,
    appointments: Vec<String>,
    operatory: String,
    family: String,
    slot: String,
}

fn gid(type_name: &str, id: impl EntityId) -> String {
    enamel_graphql::global_id::encode(type_name, id.uuid()).0
}

/// A write-back of someone else's (for approve and reject), or the caller's (cancel).
async fn pending(office: &Office, store: &Store, by: &str, key: &str) -> Result<String> {
    let patient = office.patients(store, 1).await?[0];
    let proposal = Proposal::CommlogCreate {
        patient_id: patient,
        note: "fixture".into(),
        mode: enamel_domain::enums::CommMode::Phone,
        direction: enamel_domain::enums::CommDirection::Sent,
        communicated_at: None,
    };
    let request = ProposeRequest { proposal, reason: "fixture".into(), idempotency_key: key.into(), deadline: None };
    let principal = Principal { id: by.into(), name: by.into() };
    Ok(gid("WriteBack", office.queue.propose(office.practice, &principal, request).await?.id))
}

/// A runnable request for `field` (valid arguments), for a caller named `who`.
async fn sample(
    field: &str,
    f: &Fixture,
    office: &Office,
    store: &Store,
    who: &str,
    n: usize,
) -> Result<(String, Value)> {
    let meta = |k: &str| json!({"reason": "matrix", "idempotencyKey": format!("{k}-{n}")});
    let q = |s: &str| s.to_owned();
    Ok(match field {
        "viewer" => (q("{ viewer { name } }"), json!({})),
        "practice" => (q("{ practice { name } }"), json!({})),
        "node" => (q("query($id: ID!) { node(id: $id) { id } }"), json!({"id": f.patient})),
        "patient" => (q("query($id: ID!) { patient(id: $id) { id } }"), json!({"id": f.patient})),
        "patients" => (q("{ patients(first: 1) { edges { node { id } } } }"), json!({})),
        "appointments" => (q("{ appointments(first: 1) { edges { node { id } } } }"), json!({})),
        "procedureCodes" => (q("{ procedureCodes(first: 1) { edges { node { id } } } }"), json!({})),
        "procedures" => (q("{ procedures(first: 1) { edges { node { id } } } }"), json!({})),
        "claims" => (q("{ claims(first: 1) { edges { node { id } } } }"), json!({})),
        "payments" => (q("{ payments(first: 1) { edges { node { id } } } }"), json!({})),
        "family" => (q("query($id: ID!) { family(id: $id) { id } }"), json!({"id": f.family})),
        "arAging" => (q("{ arAging { families } }"), json!({})),
        "syncRuns" => (q("{ syncRuns(first: 1) { stream } }"), json!({})),
        "writeBacks" => (q("{ writeBacks(first: 1) { totalCount } }"), json!({})),
        "writeBack" => {
            let id = pending(office, store, "api_key:someone", &format!("read-{who}-{n}")).await?;
            (q("query($id: ID!) { writeBack(id: $id) { state } }"), json!({"id": id}))
        }
        "auditEvents" => (q("{ auditEvents(first: 1) { totalCount } }"), json!({})),
        "proposeAppointmentReschedule" => (
            q(
                "mutation($a: ID!, $t: DateTime!, $m: ProposalMeta!) { proposeAppointmentReschedule(appointmentId: $a, startAt: $t, meta: $m) { id } }",
            ),
            json!({"a": f.appointments[0], "t": f.slot, "m": meta("move")}),
        ),
        "proposeAppointmentStatus" => (
            q(
                "mutation($a: ID!, $m: ProposalMeta!) { proposeAppointmentStatus(appointmentId: $a, action: CANCEL, meta: $m) { id } }",
            ),
            json!({"a": f.appointments[1], "m": meta("status")}),
        ),
        "proposeAppointmentNote" => (
            q(
                "mutation($a: ID!, $m: ProposalMeta!) { proposeAppointmentNote(appointmentId: $a, note: \"n\", meta: $m) { id } }",
            ),
            json!({"a": f.appointments[2], "m": meta("note")}),
        ),
        "proposeAppointmentCreate" => (
            q(
                "mutation($p: ID!, $o: ID!, $t: DateTime!, $m: ProposalMeta!) { proposeAppointmentCreate(appointment: {patientId: $p, operatoryId: $o, startAt: $t, durationMinutes: 30}, meta: $m) { id } }",
            ),
            json!({"p": f.patient, "o": f.operatory, "t": f.slot, "m": meta("create")}),
        ),
        "proposePatientContactUpdate" => (
            q(
                "mutation($p: ID!, $m: ProposalMeta!) { proposePatientContactUpdate(patientId: $p, contact: {email: \"a@b.example\"}, meta: $m) { id } }",
            ),
            json!({"p": f.patient, "m": meta("contact")}),
        ),
        "proposeCommlogCreate" => (
            q(
                "mutation($p: ID!, $m: ProposalMeta!) { proposeCommlogCreate(commlog: {patientId: $p, note: \"n\"}, meta: $m) { id } }",
            ),
            json!({"p": f.patient, "m": meta("commlog")}),
        ),
        "approveWriteBack" | "rejectWriteBack" => {
            let id = pending(office, store, "api_key:someone", &format!("{field}-{who}-{n}")).await?;
            let query = if field == "approveWriteBack" {
                "mutation($id: ID!) { approveWriteBack(id: $id) { state } }"
            } else {
                "mutation($id: ID!) { rejectWriteBack(id: $id, reason: \"no\") { state } }"
            };
            (q(query), json!({"id": id}))
        }
        "cancelWriteBack" => {
            // The proposer cancels their own; an approver anyone's.
            let id = pending(office, store, &format!("api_key:{who}"), &format!("cancel-{n}")).await?;
            (q("mutation($id: ID!) { cancelWriteBack(id: $id) { state } }"), json!({"id": id}))
        }
        other => bail!("no sample request for {other}: add it with its documented scopes"),
    })
}

async fn run(api: &Api, viewer: &Viewer, query: &str, variables: Value) -> Value {
    let request = Request { query: query.to_owned(), operation_name: None, variables };
    api.execute(request, Some(viewer.clone())).await.to_json()
}

async fn every_root_and_mutation_answers_each_scope_as_documented(store: Store) -> Result<()> {
    let office = open_dental(&store).await?;
    let p = office.practice;
    let api = Api::with_write_backs(store.clone(), Options::default(), office.queue.clone());
    let apts = office.future_appointments(&store, 3).await?;
    let apt = store.get(p, apts[0]).await?;
    let patient = store.get(p, office.patients(&store, 1).await?[0]).await?;
    let day = office.now() + chrono::Duration::days(500);
    let fixture = Fixture {
        patient: gid("Patient", patient.id),
        appointments: apts.iter().map(|a| gid("Appointment", *a)).collect(),
        operatory: gid("Operatory", apt.data.operatory_id.context("a chair")?),
        family: gid("Family", patient.data.family_id.context("a family")?),
        slot: day.to_rfc3339(),
    };
    let table = documented();
    let mut expected: BTreeSet<String> = schema_fields("Query")?;
    expected.extend(schema_fields("Mutation")?);
    let documented_names: BTreeSet<String> = table.keys().map(|k| (*k).to_owned()).collect();
    ensure!(expected == documented_names, "schema vs matrix: {expected:?} vs {documented_names:?}");

    let mut wrong = Vec::new();
    for (n, (field, allowed)) in table.iter().enumerate() {
        for scope in Scope::iter() {
            let who = format!("{scope}-only");
            let viewer = Viewer {
                practice: store.practice(p).await?,
                credential: format!("api_key:{who}"),
                name: who.clone(),
                scopes: vec![scope],
            };
            let (query, variables) = sample(field, &fixture, &office, &store, &who, n).await?;
            let resp = run(&api, &viewer, &query, variables).await;
            let forbidden =
                resp["errors"].as_array().is_some_and(|e| e.iter().any(|e| e["extensions"]["code"] == "FORBIDDEN"));
            let ok = resp.get("errors").is_none() && !resp["data"][field].is_null();
            let should = allowed.contains(&scope);
            if (should && !ok) || (!should && !forbidden) {
                wrong.push(format!(
                    "{field} with {scope}: expected {}, got {resp}",
                    if should { "allowed" } else { "FORBIDDEN" }
                ));
            }
        }
    }
    ensure!(wrong.is_empty(), "{} cells differ:\n{}", wrong.len(), wrong.join("\n"));

    // What a narrow scope reaches: a patient under `context` shows only its id and context.
    let context = Viewer {
        practice: store.practice(p).await?,
        credential: "api_key:llm".into(),
        name: "llm".into(),
        scopes: vec![Context],
    };
    let mut checked = 0;
    for field in schema_fields("Patient")? {
        let query = |selection: &str| format!("query($id: ID!) {{ patient(id: $id) {{ {field}{selection} }} }}");
        let vars = json!({"id": fixture.patient});
        // A scalar as is; an object or list with a sub-selection.
        let mut resp = run(&api, &context, &query(""), vars.clone()).await;
        if resp["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" {
            resp = run(&api, &context, &query(" { __typename }"), vars).await;
        }
        let code = resp["errors"][0]["extensions"]["code"].as_str().unwrap_or("");
        let allowed = matches!(field.as_str(), "id" | "context");
        // Fields that need arguments or sub-selections answer BAD_USER_INPUT before scopes
        // are looked at; every other field must be FORBIDDEN unless allowed.
        if code == "BAD_USER_INPUT" {
            continue;
        }
        ensure!(allowed == (code.is_empty()), "patient.{field} under context: {resp}");
        ensure!(allowed || code == "FORBIDDEN", "patient.{field} under context: {resp}");
        checked += 1;
    }
    ensure!(checked >= 40, "only {checked} patient fields checked");

    // A write-back under `propose` shows every field but its patient (that needs `read`).
    let ai = Viewer { credential: "api_key:ai".into(), name: "ai".into(), scopes: vec![Propose], ..context };
    let id = pending(&office, &store, "api_key:ai", "fields").await?;
    for field in schema_fields("WriteBack")? {
        let query = |selection: &str| format!("query($id: ID!) {{ writeBack(id: $id) {{ {field}{selection} }} }}");
        let mut resp = run(&api, &ai, &query(""), json!({"id": id})).await;
        if resp["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" {
            resp = run(&api, &ai, &query(" { __typename }"), json!({"id": id})).await;
        }
        let code = resp["errors"][0]["extensions"]["code"].as_str().unwrap_or("");
        let expected = if field == "patient" { "FORBIDDEN" } else { "" };
        ensure!(code == expected, "writeBack.{field} under propose: {resp}");
    }
    Ok(())
}
