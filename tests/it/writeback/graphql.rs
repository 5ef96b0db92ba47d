//! Write-backs over GraphQL: scopes, self-approval, idempotency and history, as callers see
//! them (error codes included).

use anyhow::{Result, ensure};
use enamel_domain::Scope;
use enamel_graphql::{Api, Options, Request, Viewer};
use serde_json::{Value, json};

use super::{Office, open_dental};
use crate::support::backend_tests;

backend_tests!(write_backs_over_graphql_follow_the_scopes_and_the_approval_rules);

async fn viewer(store: &enamel_store::Store, office: &Office, who: &str, scopes: &[Scope]) -> Result<Viewer> {
    Ok(Viewer {
        practice: store.practice(office.practice).await?,
        credential: format!("api_key:{who}"),
        name: who.into(),
        scopes: scopes.to_vec(),
    })
}

async fn run(api: &Api, viewer: &Viewer, query: &str, variables: Value) -> Value {
    let request = Request { query: query.to_owned(), operation_name: None, variables };
    api.execute(request, Some(viewer.clone())).await.to_json()
}

fn code(resp: &Value) -> Option<&str> {
    resp["errors"][0]["extensions"]["code"].as_str()
}

const PROPOSE: &str = "mutation($p: ID!, $key: String!, $note: String!) {
  proposeCommlogCreate(commlog: { patientId: $p, note: $note, mode: PHONE, direction: RECEIVED },
                       meta: { reason: \"asked by phone\", idempotencyKey: $key }) {
    id state kind proposedBy { id } change
  }
}";

async fn write_backs_over_graphql_follow_the_scopes_and_the_approval_rules(store: enamel_store::Store) -> Result<()> {
    let office = open_dental(&store).await?;
    let api = Api::with_write_backs(store.clone(), Options::default(), office.queue.clone());
    let reader = viewer(&store, &office, "reader", &[Scope::Read]).await?;
    let ai = viewer(&store, &office, "ai", &[Scope::Read, Scope::Propose]).await?;
    let both = viewer(&store, &office, "both", &[Scope::Read, Scope::Propose, Scope::Approve]).await?;
    let desk = viewer(&store, &office, "desk", &[Scope::Approve]).await?;
    let context_only = viewer(&store, &office, "llm", &[Scope::Context]).await?;
    let patient = office.patients(&store, 1).await?[0];
    let patient_id = enamel_graphql::global_id::encode("Patient", patient.uuid()).0;
    let vars = |key: &str, note: &str| json!({"p": patient_id, "key": key, "note": note});

    let refused = run(&api, &reader, PROPOSE, vars("k", "hello")).await;
    ensure!(code(&refused) == Some("FORBIDDEN"), "{refused:#}");

    let proposed = run(&api, &ai, PROPOSE, vars("k", "hello")).await;
    let wb = &proposed["data"]["proposeCommlogCreate"];
    ensure!(wb["state"] == "PENDING_APPROVAL" && wb["kind"] == "COMMLOG_CREATE", "{proposed:#}");
    ensure!(wb["proposedBy"]["id"] == "api_key:ai" && wb["change"]["patientId"] == patient_id, "{proposed:#}");
    let id = wb["id"].as_str().unwrap_or_default().to_owned();
    let again = run(&api, &ai, PROPOSE, vars("k", "hello")).await;
    ensure!(again["data"]["proposeCommlogCreate"]["id"] == id.as_str(), "{again:#}");
    let reused = run(&api, &ai, PROPOSE, vars("k", "another note")).await;
    ensure!(code(&reused) == Some("CONFLICT"), "{reused:#}");
    let unknown = run(&api, &ai, PROPOSE, json!({"p": "bm9wZQ", "key": "x", "note": "n"})).await;
    ensure!(code(&unknown) == Some("BAD_USER_INPUT"), "{unknown:#}");

    let approve = "mutation($id: ID!) { approveWriteBack(id: $id) { state decidedBy { id } } }";
    let no_scope = run(&api, &ai, approve, json!({"id": id})).await;
    ensure!(code(&no_scope) == Some("FORBIDDEN"), "{no_scope:#}");
    let own = run(&api, &both, PROPOSE, vars("mine", "my own")).await;
    let own_id = own["data"]["proposeCommlogCreate"]["id"].clone();
    let self_approval = run(&api, &both, approve, json!({"id": own_id})).await;
    ensure!(code(&self_approval) == Some("FORBIDDEN"), "{self_approval:#}");
    let approved = run(&api, &desk, approve, json!({"id": id})).await;
    ensure!(approved["data"]["approveWriteBack"]["state"] == "APPROVED", "{approved:#}");
    ensure!(approved["data"]["approveWriteBack"]["decidedBy"]["id"] == "api_key:desk");
    let reject = "mutation($id: ID!) { rejectWriteBack(id: $id, reason: \"not now\") { state } }";
    let late = run(&api, &desk, reject, json!({"id": id})).await;
    ensure!(code(&late) == Some("CONFLICT"), "{late:#}");
    let cancel = "mutation($id: ID!) { cancelWriteBack(id: $id) { state } }";
    let cancelled = run(&api, &both, cancel, json!({"id": own_id})).await;
    ensure!(cancelled["data"]["cancelWriteBack"]["state"] == "CANCELLED", "{cancelled:#}");

    let list = "{ writeBacks(state: [APPROVED]) { totalCount edges { node { id history { toState actor hash } } } } }";
    let listed = run(&api, &desk, list, json!({})).await;
    let conn = &listed["data"]["writeBacks"];
    ensure!(conn["totalCount"] == 1 && conn["edges"][0]["node"]["id"] == id.as_str(), "{listed:#}");
    let history = &conn["edges"][0]["node"]["history"];
    ensure!(history[0]["toState"] == "PENDING_APPROVAL" && history[0]["actor"] == "api_key:ai", "{listed:#}");
    ensure!(history[1]["toState"] == "APPROVED" && history[1]["actor"] == "api_key:desk", "{listed:#}");
    let hidden = run(&api, &context_only, list, json!({})).await;
    ensure!(code(&hidden) == Some("FORBIDDEN"), "{hidden:#}");
    let one =
        run(&api, &reader, "query($id: ID!) { writeBack(id: $id) { state patient { id } } }", json!({"id": id})).await;
    ensure!(one["data"]["writeBack"]["patient"]["id"] == patient_id.as_str(), "{one:#}");
    Ok(())
}
