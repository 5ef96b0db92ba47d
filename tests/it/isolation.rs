//! Property: two practices synced from identical offices (every PMS key shared) — random
//! GraphQL queries, `node` lookups and mutations with one practice's credential never
//! return or touch the other's data. Every id in every answer is checked against the store.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail, ensure};
use enamel_domain::ids::*;
use enamel_domain::writeback::Proposal;
use enamel_domain::{EntityId, PracticeId, Scope, Source};
use enamel_graphql::{Api, Options, Request, Viewer};
use enamel_pms::PmsWriter;
use enamel_store::{Store, WriteBackFilter};
use enamel_writeback::{FixedDirectory, ProposeRequest, WriteBacks};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::support::backend_tests;
use crate::writeback::{open_dental, proposer};

backend_tests!(no_query_node_lookup_or_mutation_crosses_practices);

/// One operation a practice-A caller tries.
#[derive(Debug, Clone)]
enum Op {
    /// A root list with a nested selection.
    List { root: usize, nested: usize, first: u8 },
    /// `node(id:)` of the `n`-th sampled row of A (`own`) or B.
    Node { own: bool, n: usize },
    /// `patient(id:)` with a nested selection.
    Patient { own: bool, n: usize, nested: usize },
    /// A proposal naming a row of B.
    ProposeOnOther { n: usize },
    /// Approving or cancelling B's write-back.
    DecideOther { cancel: bool },
}

const ROOTS: &[&str] = &["patients", "appointments", "procedures", "claims", "payments", "writeBacks"];

/// Nested selections per root (by index in ROOTS), each asking for ids along references.
fn nested(root: &str, n: usize) -> &'static str {
    const PATIENT: &[&str] = &[
        "id firstName family { id members(first: 3) { edges { node { id } } } }",
        "id appointments(first: 2) { edges { node { id provider { id } operatory { id location { id } } procedures(first: 2) { edges { node { id procedureCode { id } } } } } } }",
        "id claims(first: 2) { edges { node { id claimProcedures(first: 2) { edges { node { id procedure { id } } } } } } }",
        "id payments(first: 2) { edges { node { id allocations(first: 2) { edges { node { id } } } } } } balance { amount }",
        "id patientPlans(first: 2) { edges { node { id subscriber { id plan { id carrier { id } } } } } }",
    ];
    const APPOINTMENT: &[&str] = &[
        "id patient { id family { id } } provider { id }",
        "id operatory { id } procedures(first: 3) { edges { node { id patient { id } } } }",
    ];
    const OTHER: &[&str] = &["id patient { id }", "id"];
    let options = match root {
        "patients" => PATIENT,
        "appointments" => APPOINTMENT,
        _ => OTHER,
    };
    options[n % options.len()]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..ROOTS.len(), 0..5_usize, 1..6_u8).prop_map(|(root, nested, first)| Op::List { root, nested, first }),
        (any::<bool>(), 0..64_usize).prop_map(|(own, n)| Op::Node { own, n }),
        (any::<bool>(), 0..64_usize, 0..5_usize).prop_map(|(own, n, nested)| Op::Patient { own, n, nested }),
        (0..64_usize).prop_map(|n| Op::ProposeOnOther { n }),
        any::<bool>().prop_map(|cancel| Op::DecideOther { cancel }),
    ]
}

/// Every string under an `id` key, anywhere in `value`.
fn ids(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("id", Value::String(s)) => out.push(s.clone()),
                    _ => ids(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| ids(v, out)),
        _ => {}
    }
}

/// Whether the object a global id names belongs to `practice`.
async fn owned(store: &Store, practice: PracticeId, id: &str) -> Result<bool> {
    let (type_name, uuid) = enamel_graphql::global_id::decode(id).map_err(|e| anyhow::anyhow!(e.message))?;
    macro_rules! check {
        ($($name:literal => $id:ident),* $(,)?) => {
            match type_name.as_str() {
                $($name => store.get(practice, $id::from(uuid)).await.is_ok(),)*
                "WriteBack" => store.write_back(Some(practice), WriteBackId::from(uuid)).await.is_ok(),
                other => bail!("the test does not know how to check a {other}"),
            }
        };
    }
    Ok(check! {
        "Patient" => PatientId, "Family" => FamilyId, "Appointment" => AppointmentId, "Provider" => ProviderId,
        "Operatory" => OperatoryId, "Location" => LocationId, "Procedure" => ProcedureId,
        "ProcedureCode" => ProcedureCodeId, "Claim" => ClaimId, "ClaimProcedure" => ClaimProcedureId,
        "Payment" => PaymentId, "PaymentAllocation" => PaymentAllocationId, "PatientPlan" => PatientPlanId,
        "InsuranceSubscriber" => InsuranceSubscriberId, "InsurancePlan" => InsurancePlanId,
        "InsuranceCarrier" => InsuranceCarrierId,
    })
}

struct World {
    store: Store,
    api: Api,
    viewer: Viewer,
    a: PracticeId,
    b: PracticeId,
    patients: HashMap<bool, Vec<PatientId>>,
    appointments: Vec<AppointmentId>,
    other_write_back: WriteBackId,
}

async fn run(world: &World, query: &str, variables: Value) -> Value {
    let request = Request { query: query.to_owned(), operation_name: None, variables };
    world.api.execute(request, Some(world.viewer.clone())).await.to_json()
}

fn gid(type_name: &str, id: impl EntityId) -> String {
    enamel_graphql::global_id::encode(type_name, id.uuid()).0
}

async fn apply(world: &World, op: &Op) -> Result<()> {
    let (a, b) = (world.a, world.b);
    let resp = match op {
        Op::List { root, nested: n, first } => {
            let root = ROOTS[*root];
            let query = format!("{{ {root}(first: {first}) {{ edges {{ node {{ {} }} }} }} }}", nested(root, *n));
            run(world, &query, json!({})).await
        }
        Op::Node { own, n } => {
            let list = &world.patients[own];
            let id = gid("Patient", list[n % list.len()]);
            let resp =
                run(world, "query($id: ID!) { node(id: $id) { id ... on Patient { firstName } } }", json!({"id": id}))
                    .await;
            if !own {
                ensure!(resp["data"]["node"].is_null(), "another practice's node answered: {resp}");
                ensure!(resp["errors"][0]["extensions"]["code"] == "NOT_FOUND", "{resp}");
            }
            resp
        }
        Op::Patient { own, n, nested: k } => {
            let list = &world.patients[own];
            let id = gid("Patient", list[n % list.len()]);
            let query = format!("query($id: ID!) {{ patient(id: $id) {{ {} }} }}", nested("patients", *k));
            let resp = run(world, &query, json!({"id": id})).await;
            if !own {
                ensure!(resp["data"]["patient"].is_null(), "another practice's patient answered: {resp}");
                ensure!(resp["errors"][0]["extensions"]["code"] == "NOT_FOUND", "{resp}");
            }
            resp
        }
        Op::ProposeOnOther { n } => {
            let before = world.store.count_write_backs(b, &WriteBackFilter::default()).await?;
            let id = gid("Appointment", world.appointments[n % world.appointments.len()]);
            let query = "mutation($id: ID!, $k: String!) { proposeAppointmentNote(appointmentId: $id, note: \"x\", meta: {reason: \"r\", idempotencyKey: $k}) { id } }";
            let resp = run(world, query, json!({"id": id, "k": format!("cross-{n}")})).await;
            ensure!(resp["errors"][0]["extensions"]["code"] == "NOT_FOUND", "{resp}");
            ensure!(world.store.count_write_backs(b, &WriteBackFilter::default()).await? == before);
            ensure!(
                world.store.count_write_backs(a, &WriteBackFilter::default()).await? == 0,
                "a write-back was stored"
            );
            resp
        }
        Op::DecideOther { cancel } => {
            let id = gid("WriteBack", world.other_write_back);
            let field = if *cancel { "cancelWriteBack" } else { "approveWriteBack" };
            let resp =
                run(world, &format!("mutation($id: ID!) {{ {field}(id: $id) {{ id state }} }}"), json!({"id": id}))
                    .await;
            ensure!(resp["errors"][0]["extensions"]["code"] == "NOT_FOUND", "{resp}");
            let wb = world.store.write_back(Some(b), world.other_write_back).await?;
            ensure!(wb.state == enamel_domain::writeback::WriteBackState::PendingApproval, "{:?}", wb.state);
            resp
        }
    };
    let mut found = Vec::new();
    ids(&resp, &mut found);
    for id in found {
        ensure!(owned(&world.store, a, &id).await?, "{id} is not practice A's, in {op:?}: {resp}");
    }
    // Nothing of B in the messages either.
    let text = resp.to_string();
    for p in &world.patients[&false] {
        ensure!(!text.contains(&p.to_string()) && !text.contains(&gid("Patient", *p)), "B's patient in {resp}");
    }
    Ok(())
}

async fn no_query_node_lookup_or_mutation_crosses_practices(store: Store) -> Result<()> {
    let office_a = open_dental(&store).await?;
    let office_b = open_dental(&store).await?;
    let (a, b) = (office_a.practice, office_b.practice);
    let writer = |o: &crate::writeback::Office| -> Result<Arc<dyn PmsWriter>> {
        Ok(o.od.clone().context("an Open Dental office")?)
    };
    let writers = FixedDirectory(HashMap::from([
        ((a, Source::OpenDental), writer(&office_a)?),
        ((b, Source::OpenDental), writer(&office_b)?),
    ]));
    let queue = WriteBacks::new(store.clone(), Arc::new(writers));
    let api = Api::with_write_backs(store.clone(), Options::default(), queue.clone());
    let viewer = Viewer {
        practice: store.practice(a).await?,
        credential: "api_key:a".into(),
        name: "a".into(),
        scopes: vec![Scope::Read, Scope::Propose, Scope::Approve],
    };
    let sample = |p: PracticeId| {
        let store = store.clone();
        async move { Ok::<_, anyhow::Error>(store.live_ids::<PatientId>(p).await?.into_iter().take(64).collect::<Vec<_>>()) }
    };
    let patients = HashMap::from([(true, sample(a).await?), (false, sample(b).await?)]);
    let appointments: Vec<AppointmentId> = store.live_ids(b).await?.into_iter().take(64).collect();
    // The offices are identical: every PMS key of B is also one of A.
    ensure!(store.check_references(a).await?.is_empty() && patients[&true].len() == patients[&false].len());
    let first_b = patients[&false][0];
    let key = store.get(b, first_b).await?.meta.source_id;
    ensure!(store.find_by_source_id::<PatientId>(a, Source::OpenDental, &key).await?.is_some(), "shared keys");
    let other = queue
        .propose(
            b,
            &proposer(),
            ProposeRequest {
                proposal: Proposal::CommlogCreate {
                    patient_id: first_b,
                    note: "B's own".into(),
                    mode: enamel_domain::enums::CommMode::Phone,
                    direction: enamel_domain::enums::CommDirection::Sent,
                    communicated_at: None,
                },
                reason: "b".into(),
                idempotency_key: "b-1".into(),
                deadline: None,
            },
        )
        .await?;
    let world = World { store: store.clone(), api, viewer, a, b, patients, appointments, other_write_back: other.id };

    let mut runner = TestRunner::new(Config { cases: 12, failure_persistence: None, ..Config::default() });
    let strategy = proptest::collection::vec(op(), 1..10);
    let handle = tokio::runtime::Handle::current();
    let result = runner.run(&strategy, |ops| {
        let outcome = tokio::task::block_in_place(|| {
            handle.block_on(async {
                for op in &ops {
                    apply(&world, op).await?;
                }
                Ok::<_, anyhow::Error>(())
            })
        });
        outcome.map_err(|e| TestCaseError::fail(format!("{e:#}")))
    });
    result.map_err(|e| anyhow::anyhow!("{e}"))
}
