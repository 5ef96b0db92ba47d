//! The plain executor answers a document async-graphql has answered before, byte for byte
//! the same, and audits the same patients; anything it does not know stays with
//! async-graphql.

use super::*;
use enamel_store::PhiAccessFilter;

/// Every stored field of a patient and of what hangs off it, with aliases, `__typename`,
/// `nodes`, `pageInfo`, default and empty pages, null references and money.
const EVERYTHING: &str = r#"
query Everything($id: ID!, $few: Int) {
  patient(id: $id) {
    __typename id isGuarantor chartNumber firstName lastName middleName preferredName gender
    birthDate status statusSource phoneHome phoneWork phoneMobile email addressLine1
    addressLine2 city region postalCode ssn firstVisitOn registeredAt note
    family { id guarantor { id firstName } members(first: 3) { pageInfo { hasNextPage hasPreviousPage } nodes { id lastName } } }
    primaryProvider {
      id kind firstName lastName abbreviation specialty isHidden
      location { id name abbreviation phone address isHidden }
      feeSchedule { id }
    }
    location { id name }
    referralSource { id }
    feeSchedule { id }
    appointments(first: $few) {
      pageInfo { hasNextPage }
      edges { node {
        id startAt durationMinutes status statusSource confirmation note isNewPatient procedureSummary
        patient { id } provider { id } hygienist { id } location { id }
        operatory { id name abbreviation isHygiene isHidden sortOrder }
        procedures { edges { node {
          id status statusSource performedOn teeth toothScope toothText surfaces quantity
          fee { amount currency minorUnits __typename } discount { amount } diagnosis
          appointment { id } provider { id } location { id } treatmentPlan { id }
          procedureCode {
            id code description abbreviation kind category coverageCategory
            defaultFee { amount currency } durationMinutes isHidden
          }
        } } }
      } }
    }
    patientPlans(first: 5) { edges { node {
      id ordinal relationship isPending
      subscriber {
        id memberId effectiveOn terminatedOn subscriber { id firstName }
        plan {
          id groupName groupNumber planType benefitYearStartMonth note isHidden
          carrier { id name } feeSchedule { id }
        }
      }
    } } }
    none: procedures(first: 0) { pageInfo { hasNextPage } edges { node { id } } }
    twoProcedures: procedures(first: 2) { nodes { id status } }
  }
}"#;

const LIST: &str = r#"
query List {
  patients(first: 7) {
    pageInfo { hasNextPage hasPreviousPage }
    nodes { id lastName firstName family { id } appointments(first: 1) { nodes { startAt } } }
  }
  first20: patients { edges { node { id } } }
}"#;

/// Documents async-graphql keeps: computed fields, cursors, counts, fragments, `after`.
const NOT_PLAIN: &[&str] = &[
    "query($id: ID!) { patient(id: $id) { firstName balance { amount } } }",
    "query($id: ID!) { patient(id: $id) { source { system key } } }",
    "query($id: ID!) { patient(id: $id) { appointments(first: 2) { totalCount } } }",
    "query($id: ID!) { patient(id: $id) { appointments(first: 2) { edges { cursor } } } }",
    "query($id: ID!) { patient(id: $id) { ...F } } fragment F on Patient { firstName }",
    "query($id: ID!) { patient(id: $id) { firstName @include(if: true) } }",
    "{ patients(first: 2, after: \"bzow\") { nodes { id } } }",
    "{ patients(first: 2, search: \"a\") { nodes { id } } }",
];

async fn body(api: &Api, viewer: &Viewer, query: &str, operation: Option<&str>, variables: &Value) -> String {
    let request =
        Request { query: query.to_owned(), operation_name: operation.map(str::to_owned), variables: variables.clone() };
    api.execute(request, Some(viewer.clone())).await.into_body()
}

async fn last_audited(store: &Store, practice: PracticeId) -> Result<Vec<PatientId>> {
    let events = store.phi_accesses(practice, &PhiAccessFilter::default(), 0, 1).await?;
    Ok(events.into_iter().next().map(|e| e.patient_ids).unwrap_or_default())
}

async fn the_plain_executor_answers_as_async_graphql_does(store: Store) -> Result<()> {
    let practice = synced_office(&store).await?;
    let api = api(&store);
    let v = viewer(&store, practice, &[Scope::Read]).await?;
    let (patient, _) = showcase_patient(&store, practice).await?;
    let id = gid("Patient", patient);
    let bench = |name: &str| {
        let path = format!("{}/../bench/graphql/queries/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).with_context(|| path)
    };
    let plain: Vec<(String, Option<&str>, Value)> = vec![
        (EVERYTHING.to_owned(), None, json!({ "id": id, "few": 4 })),
        (EVERYTHING.to_owned(), Some("Everything"), json!({ "id": id })),
        (LIST.to_owned(), Some("List"), json!({})),
        (bench("enamel-a.graphql")?, None, json!({ "id": id })),
        (bench("enamel-b.graphql")?, None, json!({})),
        // Rows of a page that shows none of them are audited all the same.
        ("{ patients(first: 3) { pageInfo { hasNextPage } } }".to_owned(), None, json!({})),
    ];
    for (query, operation, variables) in &plain {
        let before = api.plain_answers();
        let slow = body(&api, &v, query, *operation, variables).await;
        ensure!(!slow.contains("\"errors\""), "async-graphql failed: {slow}");
        ensure!(api.plain_answers() == before, "a document never answered went to the plain executor");
        let slow_audit = last_audited(&store, practice).await?;
        let events = store.count_phi_accesses(practice, &PhiAccessFilter::default()).await?;
        let fast = body(&api, &v, query, *operation, variables).await;
        let written = store.count_phi_accesses(practice, &PhiAccessFilter::default()).await? - events;
        ensure!(written == 1, "the plain answer wrote {written} access events");
        ensure!(api.plain_answers() == before + 1, "the plain executor did not answer {query}");
        // async-graphql 7.2 puts an object's fields in the order they resolved, not in
        // the order asked (its `FuturesUnordered`); the plain executor keeps the order
        // asked, so the answers are compared as JSON.
        let (s, f): (Value, Value) = (serde_json::from_str(&slow)?, serde_json::from_str(&fast)?);
        ensure!(f == s, "the answers differ:\nasync-graphql: {slow}\nplain:         {fast}");
        ensure!(!slow_audit.is_empty(), "the answer was audited");
        ensure!(last_audited(&store, practice).await? == slow_audit, "the same patients are audited");
    }
    // A family with members (the showcase patient's is one) lists them, and the root
    // patient is audited even when nothing else of theirs is returned.
    let some = body(&api, &v, EVERYTHING, None, &json!({ "id": id, "few": 4 })).await;
    let asked = [
        "__typename",
        "id",
        "isGuarantor",
        "chartNumber",
        "firstName",
        "lastName",
        "middleName",
        "preferredName",
        "gender",
        "birthDate",
        "status",
        "statusSource",
        "phoneHome",
        "phoneWork",
        "phoneMobile",
        "email",
        "addressLine1",
        "addressLine2",
        "city",
        "region",
        "postalCode",
        "ssn",
        "firstVisitOn",
        "registeredAt",
        "note",
        "family",
        "primaryProvider",
        "location",
        "referralSource",
        "feeSchedule",
        "appointments",
        "patientPlans",
        "none",
        "twoProcedures",
    ];
    ensure!(keys_at(&some, 3) == asked, "the patient's fields come in the order asked: {some}");
    let some: Value = serde_json::from_str(&some)?;
    ensure!(some["data"]["patient"]["family"]["members"]["nodes"].as_array().is_some_and(|m| !m.is_empty()));
    ensure!(some["data"]["patient"]["appointments"]["edges"].as_array().is_some_and(|a| !a.is_empty()));
    let bare = "query($id: ID!) { patient(id: $id) { firstName } }";
    for _ in 0..2 {
        body(&api, &v, bare, None, &json!({ "id": id })).await;
        ensure!(last_audited(&store, practice).await? == vec![patient], "the patient asked for is audited");
    }

    // Other variables for a vetted document: an unknown patient, a bad id, a page too
    // large. async-graphql answers each, with its error.
    let answered = api.plain_answers();
    let unknown = body(&api, &v, EVERYTHING, None, &json!({ "id": gid("Patient", PatientId::new()), "few": 1 })).await;
    ensure!(unknown.contains("NOT_FOUND"), "{unknown}");
    let bad = body(&api, &v, EVERYTHING, None, &json!({ "id": "nope", "few": 1 })).await;
    ensure!(bad.contains("BAD_USER_INPUT"), "{bad}");
    let large = body(&api, &v, EVERYTHING, None, &json!({ "id": id, "few": 501 })).await;
    ensure!(large.contains("LIMIT_EXCEEDED"), "{large}");
    ensure!(api.plain_answers() == answered, "errors are async-graphql's to report");

    // Documents the plain executor does not know stay with async-graphql.
    for query in NOT_PLAIN {
        for _ in 0..2 {
            let answer = body(&api, &v, query, None, &json!({ "id": id })).await;
            ensure!(!answer.contains("\"errors\""), "{query}: {answer}");
        }
    }
    ensure!(api.plain_answers() == answered, "a document that is not plain was answered plainly");

    // A caller without `read` is never answered plainly.
    let context_only = viewer(&store, practice, &[Scope::Context]).await?;
    let denied = body(&api, &context_only, EVERYTHING, None, &json!({ "id": id })).await;
    ensure!(denied.contains("FORBIDDEN"), "{denied}");
    ensure!(api.plain_answers() == answered);
    Ok(())
}

/// The keys of the objects `depth` levels deep in a JSON text, in the order written.
fn keys_at(json: &str, depth: usize) -> Vec<String> {
    let (mut level, mut keys, mut chars) = (0, Vec::new(), json.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => level += 1,
            '}' | ']' => level -= 1,
            '"' => {
                let mut text = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => text.extend(chars.next()),
                        '"' => break,
                        c => text.push(c),
                    }
                }
                if level == depth && chars.peek() == Some(&':') {
                    keys.push(text);
                }
            }
            _ => {}
        }
    }
    keys
}

backend_tests!(the_plain_executor_answers_as_async_graphql_does);
