//! The PHI access audit: every response that returns patient data writes one event naming
//! exactly the patients returned, in the request; if it cannot be written, the response is
//! an error. `auditEvents` (the admin scope) reads them.

use std::collections::BTreeSet;

use anyhow::{Context as _, Result, ensure};
use enamel_domain::Scope;
use enamel_domain::ids::{AppointmentId, PatientId};
use enamel_graphql::{Api, Options, Request, Viewer};
use enamel_store::{PhiAccessFilter, Store};
use serde_json::{Value, json};

use crate::support::backend_tests;
use crate::writeback::open_dental;

backend_tests!(responses_with_patient_data_are_audited_with_exactly_the_patients_returned);

async fn run(api: &Api, viewer: &Viewer, query: &str) -> Value {
    let request = Request { query: query.to_owned(), operation_name: None, variables: json!({}) };
    api.execute(request, Some(viewer.clone())).await.to_json()
}

fn uuid_of(global: &Value) -> Result<uuid::Uuid> {
    let text = global.as_str().context("an id")?;
    Ok(enamel_graphql::global_id::decode(text).map_err(|e| anyhow::anyhow!(e.message))?.1)
}

async fn responses_with_patient_data_are_audited_with_exactly_the_patients_returned(store: Store) -> Result<()> {
    let office = open_dental(&store).await?;
    let p = office.practice;
    let api = Api::new(store.clone(), Options::default());
    let viewer = |name: &str, scopes: &[Scope]| {
        let store = store.clone();
        let (name, scopes) = (name.to_owned(), scopes.to_vec());
        async move {
            Ok::<_, anyhow::Error>(Viewer {
                practice: store.practice(p).await?,
                credential: format!("api_key:{name}"),
                name,
                scopes,
            })
        }
    };
    let frontend = viewer("frontend", &[Scope::Read]).await?;
    let admin = viewer("admin", &[Scope::Admin]).await?;
    let events = |filter: PhiAccessFilter| {
        let store = store.clone();
        async move { store.phi_accesses(p, &filter, 0, 100).await }
    };

    // Patients listed by name: exactly those, under the operation's name.
    let resp =
        run(&api, &frontend, "query ThreePatients { patients(first: 3) { edges { node { id firstName } } } }").await;
    ensure!(resp.get("errors").is_none(), "{resp:#}");
    let listed: BTreeSet<uuid::Uuid> = resp["data"]["patients"]["edges"]
        .as_array()
        .context("edges")?
        .iter()
        .map(|e| uuid_of(&e["node"]["id"]))
        .collect::<Result<_>>()?;
    ensure!(listed.len() == 3);
    let logged = events(PhiAccessFilter::default()).await?;
    ensure!(logged.len() == 1, "{logged:?}");
    let event = &logged[0];
    ensure!(
        event.operation == "ThreePatients" && event.credential == "api_key:frontend" && event.subject == "frontend"
    );
    let named: BTreeSet<uuid::Uuid> = event.patient_ids.iter().map(|id| id.uuid()).collect();
    ensure!(named == listed, "audited {named:?}, returned {listed:?}");

    // Appointments without their patient object still carry their patients' data.
    let resp = run(&api, &frontend, "{ appointments(first: 6) { edges { node { id startAt note } } } }").await;
    ensure!(resp.get("errors").is_none(), "{resp:#}");
    let mut owners = BTreeSet::new();
    for edge in resp["data"]["appointments"]["edges"].as_array().context("edges")? {
        let id = AppointmentId::from(uuid_of(&edge["node"]["id"])?);
        owners.insert(store.get(p, id).await?.data.patient_id);
    }
    let logged = events(PhiAccessFilter::default()).await?;
    ensure!(logged.len() == 2 && logged[0].operation == "query", "{logged:?}");
    let named: BTreeSet<PatientId> = logged[0].patient_ids.iter().copied().collect();
    ensure!(named == owners, "audited {named:?}, returned {owners:?}");

    // A family's balance is its members' data: every member is named.
    let member = PatientId::from(*listed.iter().next().context("a patient")?);
    let family = store.get(p, member).await?.data.family_id.context("a family")?;
    let family_id = enamel_graphql::global_id::encode("Family", family.uuid()).0;
    let resp = run(&api, &frontend, &format!("{{ family(id: \"{family_id}\") {{ balance {{ amount }} }} }}")).await;
    ensure!(resp.get("errors").is_none(), "{resp:#}");
    let mut members = BTreeSet::new();
    for id in store.live_ids::<PatientId>(p).await? {
        if store.get(p, id).await?.data.family_id == Some(family) {
            members.insert(id);
        }
    }
    let logged = events(PhiAccessFilter::default()).await?;
    ensure!(logged.len() == 3, "{logged:?}");
    let named: BTreeSet<PatientId> = logged[0].patient_ids.iter().copied().collect();
    ensure!(!members.is_empty() && named == members, "audited {named:?}, family {members:?}");

    // Nothing about patients: nothing audited.
    let resp = run(&api, &frontend, "{ procedureCodes(first: 3) { edges { node { code } } } practice { name } }").await;
    ensure!(resp.get("errors").is_none(), "{resp:#}");
    ensure!(events(PhiAccessFilter::default()).await?.len() == 3);

    // The admin reads them, filtered by patient; others may not.
    let one = *listed.iter().next().context("a patient")?;
    let patient_id = enamel_graphql::global_id::encode("Patient", one).0;
    let query = format!(
        "{{ auditEvents(filter: {{ patient: \"{patient_id}\" }}) {{ totalCount edges {{ node {{ operation credential patients }} }} }} }}"
    );
    let resp = run(&api, &admin, &query).await;
    let conn = &resp["data"]["auditEvents"];
    // Newest first: the family's balance (the patient is a member), then the three patients.
    ensure!(conn["totalCount"] == 2 && conn["edges"][1]["node"]["operation"] == "ThreePatients", "{resp:#}");
    ensure!(conn["edges"][1]["node"]["patients"].as_array().is_some_and(|a| a.len() == 3), "{resp:#}");
    let refused = run(&api, &frontend, "{ auditEvents { totalCount } }").await;
    ensure!(refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", "{refused:#}");

    // A family object alone shows no member's data; its guarantor is one patient's.
    let mut guarantor = None;
    for &id in &members {
        if store.get(p, id).await?.data.is_guarantor {
            guarantor = Some(id);
        }
    }
    let guarantor = guarantor.context("the family has a guarantor")?;
    let before = events(PhiAccessFilter::default()).await?.len();
    let resp = run(&api, &frontend, &format!("{{ family(id: \"{family_id}\") {{ id guarantor {{ id }} }} }}")).await;
    ensure!(resp.get("errors").is_none(), "{resp:#}");
    let logged = events(PhiAccessFilter::default()).await?;
    ensure!(logged.len() == before + 1, "{logged:?}");
    ensure!(logged[0].patient_ids == vec![guarantor], "audited {:?}, guarantor {guarantor}", logged[0].patient_ids);
    let resp = run(&api, &frontend, &format!("{{ family(id: \"{family_id}\") {{ id }} }}")).await;
    ensure!(resp.get("errors").is_none(), "{resp:#}");
    ensure!(events(PhiAccessFilter::default()).await?.len() == before + 1, "a bare family was audited");

    // No audit, no data.
    store.execute_sql("DROP TABLE phi_access").await?;
    let resp = run(&api, &frontend, "{ patients(first: 2) { edges { node { firstName lastName } } } }").await;
    ensure!(resp.get("data").is_none_or(Value::is_null), "data returned without an audit: {resp:#}");
    ensure!(resp["errors"][0]["extensions"]["code"] == "INTERNAL", "{resp:#}");
    // A response without patient data needs no audit.
    let resp = run(&api, &frontend, "{ practice { name } }").await;
    ensure!(resp.get("errors").is_none(), "{resp:#}");
    Ok(())
}
