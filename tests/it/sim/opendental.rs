//! The Open Dental simulator against the official contract
//! (`../shared/reference/opendental`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use enamel_sim::{FaultKind, FaultSpec};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Od, shape};

/// The official example object of each resource, from the reference's appendix:
/// `#### Name — field reference (…)` followed by a JSON block.
fn official_examples() -> BTreeMap<String, Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/reference/opendental/README.md");
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("the Open Dental reference is needed at {path}: {e}"));
    let mut out = BTreeMap::new();
    for section in text.split("\n#### ").skip(1) {
        let Some((name, rest)) = section.split_once(" — field reference") else { continue };
        let Some(start) = rest.find("```json\n") else { continue };
        let body = &rest[start + 8..];
        let Some(end) = body.find("\n```") else { continue };
        let example: Value = serde_json::from_str(&body[..end]).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.insert(name.to_lowercase(), example);
    }
    out
}

#[tokio::test]
async fn every_resource_matches_its_official_example() {
    let od = Od::start(|_| {}).await;
    od.sim.control.mutate(3); // creates histappointments (deleted appointments)
    let examples = official_examples();
    assert!(examples.len() >= 25, "found only {} examples", examples.len());
    for (name, example) in &examples {
        let path = match name.as_str() {
            "patients" => "patients/1".to_owned(),
            "adjustments" => {
                let any = od.all("patients/Simple", 1000).await;
                let with_adj = any.iter().map(|p| p["PatNum"].as_i64().unwrap_or(0));
                let mut found = None;
                for pat in with_adj {
                    if !od.get(&format!("adjustments?PatNum={pat}")).await.rows().is_empty() {
                        found = Some(pat);
                        break;
                    }
                }
                format!("adjustments?PatNum={}", found.expect("some patient has adjustments"))
            }
            "treatplanattaches" | "proctps" => format!("{name}?TreatPlanNum=1"),
            _ => name.clone(),
        };
        let answer = od.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
        let object = match answer.json() {
            Value::Array(rows) => rows.into_iter().next().unwrap_or_else(|| panic!("{path}: empty")),
            one => one,
        };
        let want = shape(example);
        let got = shape(&object);
        let want_keys: BTreeSet<_> = want.keys().collect();
        let got_keys: BTreeSet<_> = got.keys().collect();
        assert_eq!(got_keys, want_keys, "{name}: field names differ from the official example");
        for (field, ty) in &want {
            assert_eq!(got[field], *ty, "{name}.{field}: JSON type differs from the official example");
        }
    }
}

#[tokio::test]
async fn paging_loses_and_repeats_nothing() {
    let od = Od::start(|_| {}).await;
    let everything = od.get("procedurelogs?Limit=1000").await.rows();
    assert!(everything.len() > 300, "small scale has a few hundred procedures");
    let ids = |rows: &[Value]| rows.iter().map(|r| r["ProcNum"].as_i64().unwrap_or(-1)).collect::<Vec<_>>();
    for limit in [1, 37, 100] {
        let paged = od.all("procedurelogs", limit).await;
        assert_eq!(ids(&paged), ids(&everything), "Limit={limit}");
    }
    // Local mode caps pages at 1,000, Remote at 100.
    let capped = od.get("procedurelogs?Limit=5000").await.rows();
    assert_eq!(capped.len(), everything.len().min(1000));
    let remote = Od::start(|c| {
        c.mode = enamel_sim::Mode::Remote;
        c.throttle = Some(Duration::from_millis(1));
    })
    .await;
    assert_eq!(remote.get("procedurelogs?Limit=500").await.rows().len(), 100);
    assert_eq!(remote.get("procedurelogs").await.rows().len(), 100, "the default page is the cap");
    let bad = od.get("procedurelogs?Limit=ten").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn change_filters_exist_only_where_the_api_has_them() {
    let od = Od::start(|_| {}).await;
    let before = od.sim.control.now();
    od.sim.control.advance(chrono::Duration::minutes(10));
    let changed = od.sim.control.mutate(4);
    let since = (before + chrono::Duration::minutes(5)).format("%Y-%m-%d %H:%M:%S").to_string();
    let rows = od.all(&format!("appointments?DateTStamp={since}"), 100).await;
    let expected = changed.updated["appointments"] + changed.inserted["appointments"];
    assert!(
        rows.len() >= changed.inserted["appointments"] && rows.len() <= expected,
        "{} rows, {changed:?}",
        rows.len()
    );
    assert!(rows.iter().all(|r| r["DateTStamp"].as_str().unwrap_or("") >= since.as_str()));
    assert!(
        rows.iter().all(|r| r["serverDateTime"] == json!(od.sim.control.now().format("%Y-%m-%d %H:%M:%S").to_string()))
    );
    // Operatories have no change filter: the parameter is ignored like any unknown one.
    let ops = od.get("operatories").await.rows();
    assert_eq!(od.get(&format!("operatories?DateTStamp={since}")).await.rows(), ops);
    // Claims filter on SecDateTEdit, not DateTStamp.
    let claims = od.all("claims", 1000).await;
    assert_eq!(od.all(&format!("claims?DateTStamp={since}"), 1000).await.len(), claims.len());
    assert!(od.all(&format!("claims?SecDateTEdit={since}"), 1000).await.len() < claims.len());
    let bad = od.get("appointments?DateTStamp=yesterday").await;
    assert_eq!(
        (bad.status, bad.json()),
        (StatusCode::BAD_REQUEST, json!("DateTStamp format must be yyyy-MM-dd HH:mm:ss"))
    );
    // Deleted appointments show up in the history, nowhere else.
    let deleted = od.all("histappointments?HistApptAction=Deleted", 100).await;
    assert_eq!(deleted.len(), changed.deleted["appointments"]);
    for h in &deleted {
        let apt = h["AptNum"].as_i64().unwrap_or(0);
        assert_eq!(od.get(&format!("appointments/{apt}")).await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn authentication_and_content_type_are_enforced() {
    let od = Od::start(|_| {}).await;
    let url = format!("{}/patients/Simple", od.sim.api_url());
    let none = od.http.get(&url).header("Content-Type", "application/json").send().await.expect("sent");
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let wrong = od
        .http
        .get(&url)
        .header("Authorization", "ODFHIR dev-key/someone-else")
        .header("Content-Type", "application/json")
        .send()
        .await
        .expect("sent");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let no_type = od.http.get(&url).header("Authorization", "ODFHIR dev-key/customer-key").send().await.expect("sent");
    assert_eq!(no_type.status(), StatusCode::BAD_REQUEST);
    assert_eq!(od.get("adjustments").await.json(), json!("PatNum is required."));
    assert_eq!(od.get("nonsense").await.status, StatusCode::NOT_FOUND);
    assert_eq!(od.get("patients/999999").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn remote_mode_throttles_per_customer_key() {
    let od = Od::start(|c| {
        c.mode = enamel_sim::Mode::Remote;
        c.throttle = Some(Duration::from_millis(400));
    })
    .await;
    assert_eq!(od.get("providers").await.status, StatusCode::OK);
    let throttled = od.get("providers").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(od.get("providers").await.status, StatusCode::OK);
}

#[tokio::test]
async fn every_fault_kind_can_be_injected() {
    let od = Od::start(|_| {}).await;
    let c = &od.sim.control;
    c.inject(FaultSpec::times(FaultKind::TooManyRequests { retry_after_secs: 7 }, 1));
    let a = od.get("providers").await;
    assert_eq!(
        (a.status, a.headers.get("retry-after").and_then(|v| v.to_str().ok())),
        (StatusCode::TOO_MANY_REQUESTS, Some("7"))
    );
    assert_eq!(od.get("providers").await.status, StatusCode::OK, "a counted fault is spent");
    c.inject(FaultSpec::times(FaultKind::ServerError, 1));
    assert_eq!(od.get("providers").await.status, StatusCode::INTERNAL_SERVER_ERROR);
    c.inject(FaultSpec::times(FaultKind::GatewayTimeout, 1).on("/api/v1/patients"));
    assert_eq!(od.get("providers").await.status, StatusCode::OK, "only on the named path");
    assert_eq!(od.get("patients/Simple").await.status, StatusCode::GATEWAY_TIMEOUT);
    c.inject(FaultSpec::times(FaultKind::Hang { millis: 2_000 }, 1));
    let hung = od
        .http
        .get(format!("{}/providers", od.sim.api_url()))
        .header("Authorization", "ODFHIR dev-key/customer-key")
        .header("Content-Type", "application/json")
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    c.inject(FaultSpec::times(FaultKind::Slow { millis: 150 }, 1));
    let started = std::time::Instant::now();
    assert_eq!(od.get("providers").await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
    c.inject(FaultSpec::times(FaultKind::DropConnection, 1));
    let dropped = od
        .http
        .get(format!("{}/providers", od.sim.api_url()))
        .header("Authorization", "ODFHIR dev-key/customer-key")
        .header("Content-Type", "application/json")
        .send()
        .await;
    let body = match dropped {
        Ok(r) => r.text().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(body.is_err(), "the connection drops mid-answer");
    c.inject(FaultSpec::times(FaultKind::MalformedJson, 1));
    assert!(serde_json::from_str::<Value>(&od.get("providers").await.body).is_err());
    c.inject(FaultSpec::times(FaultKind::MissingField { field: "ProvNum".into() }, 1));
    let rows = od.get("providers").await.rows();
    assert!(rows[0].get("ProvNum").is_none() && rows[1].get("ProvNum").is_some());
    c.inject(FaultSpec::times(FaultKind::WrongType { field: "ProvNum".into() }, 1));
    assert!(od.get("providers").await.rows()[0]["ProvNum"].is_object());
    c.inject(FaultSpec::times(FaultKind::ExtraFields, 1));
    assert!(od.get("providers").await.rows().iter().all(|r| r.get("zzUndocumentedField").is_some()));
    // By rate: about half of 200 requests, decided by the seed.
    c.inject(FaultSpec::rate(FaultKind::ServerError, 0.5).on("/api/v1/clinics"));
    let mut failed = 0;
    for _ in 0..200 {
        if od.get("clinics").await.status == StatusCode::INTERNAL_SERVER_ERROR {
            failed += 1;
        }
    }
    assert!((60..140).contains(&failed), "{failed} of 200 failed at rate 0.5");
    c.clear_faults();
    assert_eq!(od.get("clinics").await.status, StatusCode::OK);
    assert!(c.requests().iter().any(|r| r.status == 504 && r.path.ends_with("/patients/Simple")));
}

#[tokio::test]
async fn writes_are_validated_applied_and_logged() {
    let od = Od::start(|_| {}).await;
    let op = od.get("operatories").await.rows()[0]["OperatoryNum"].clone();
    let created = od
        .send(
            Method::POST,
            "appointments",
            Some(json!({"PatNum": 1, "Op": op, "AptDateTime": "2026-03-09 09:00:00", "Note": "booked by Enamel"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let apt = created.json()["AptNum"].as_i64().expect("AptNum");
    assert!(
        created
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.ends_with(&format!("/appointments/{apt}")))
    );
    assert_eq!(created.json()["serverDateTime"], json!(""));
    let missing =
        od.send(Method::POST, "appointments", Some(json!({"Op": op, "AptDateTime": "2026-03-09 09:00:00"}))).await;
    assert_eq!((missing.status, missing.json()), (StatusCode::BAD_REQUEST, json!("PatNum is required.")));
    let bad_time =
        od.send(Method::POST, "appointments", Some(json!({"PatNum": 1, "Op": op, "AptDateTime": "9am"}))).await;
    assert_eq!(bad_time.status, StatusCode::BAD_REQUEST);

    od.sim.control.advance(chrono::Duration::minutes(1));
    let moved =
        od.send(Method::PUT, &format!("appointments/{apt}"), Some(json!({"AptDateTime": "2026-03-10 11:30:00"}))).await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    assert_eq!(moved.json()["AptDateTime"], json!("2026-03-10 11:30:00"));
    assert_eq!(moved.json()["DateTStamp"], json!(od.sim.control.now().format("%Y-%m-%d %H:%M:%S").to_string()));
    assert_eq!(
        od.send(Method::PUT, &format!("appointments/{apt}/Confirm"), Some(json!({"confirmVal": "Confirmed"})))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(od.get(&format!("appointments/{apt}")).await.json()["confirmed"], json!("Confirmed"));
    let both = od
        .send(
            Method::PUT,
            &format!("appointments/{apt}/Confirm"),
            Some(json!({"confirmVal": "Confirmed", "defNum": 1})),
        )
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        od.send(Method::PUT, &format!("appointments/{apt}/Note"), Some(json!({"Note": "second line"}))).await.status,
        StatusCode::OK
    );
    assert_eq!(od.get(&format!("appointments/{apt}")).await.json()["Note"], json!("booked by Enamel\r\nsecond line"));
    let no_flag = od.send(Method::PUT, &format!("appointments/{apt}/Break"), Some(json!({}))).await;
    assert_eq!(no_flag.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        od.send(
            Method::PUT,
            &format!("appointments/{apt}/Break"),
            Some(json!({"sendToUnscheduledList": "false", "breakType": "Cancelled"}))
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(od.get(&format!("appointments/{apt}")).await.json()["AptStatus"], json!("Broken"));
    let again = od
        .send(Method::PUT, &format!("appointments/{apt}/Break"), Some(json!({"sendToUnscheduledList": "false"})))
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "only scheduled appointments break");

    let patient =
        od.send(Method::PUT, "patients/1", Some(json!({"WirelessPhone": "(503)555-0000", "Email": ""}))).await;
    assert_eq!(patient.status, StatusCode::OK, "{}", patient.body);
    assert_eq!(
        (patient.json()["WirelessPhone"].clone(), patient.json()["Email"].clone()),
        (json!("(503)555-0000"), json!(""))
    );
    assert_eq!(od.send(Method::PUT, "patients/1", Some(json!({"LName": ""}))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        od.send(Method::PUT, "patients/1", Some(json!({"State": "Oregon"}))).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        od.send(Method::PUT, "patients/424242", Some(json!({"Email": "a@b.c"}))).await.status,
        StatusCode::NOT_FOUND
    );

    let commlog = od
        .send(
            Method::POST,
            "commlogs",
            Some(json!({"PatNum": 1, "Note": "Called to confirm.", "Mode_": "Phone", "SentOrReceived": "Sent"})),
        )
        .await;
    assert_eq!(commlog.status, StatusCode::CREATED, "{}", commlog.body);
    assert_eq!(od.send(Method::POST, "commlogs", Some(json!({"PatNum": 1}))).await.status, StatusCode::BAD_REQUEST);

    let writes = od.sim.control.writes();
    assert_eq!(writes.len(), 16);
    assert_eq!(writes.iter().filter(|w| w.status < 300).count(), 7);
    assert!(writes.iter().any(|w| w.path.ends_with("/Confirm") && w.body["confirmVal"] == "Confirmed"));
}

#[tokio::test]
async fn the_same_seed_gives_the_same_bytes() {
    let a = Od::start(|c| c.seed = 42).await;
    let b = Od::start(|c| c.seed = 42).await;
    let other = Od::start(|c| c.seed = 43).await;
    for path in ["patients/Simple?Limit=50", "appointments?Limit=50&Offset=20", "claimprocs?Limit=20", "benefits"] {
        assert_eq!(a.get(path).await.body, b.get(path).await.body, "{path}");
    }
    assert_ne!(a.get("patients/Simple?Limit=50").await.body, other.get("patients/Simple?Limit=50").await.body);
    assert_eq!(a.sim.control.mutate(5), b.sim.control.mutate(5));
    assert_eq!(a.get("appointments?Limit=1000").await.body, b.get("appointments?Limit=1000").await.body);
}

#[tokio::test]
async fn the_control_routes_drive_a_simulator_over_http() {
    let od = Od::start(|_| {}).await;
    let url = |p: &str| format!("{}/_sim/{p}", od.sim.base_url);
    let post = |url: String, body: Value| {
        let request = od.http.post(url).json(&body);
        async move { request.send().await.expect("sent").json::<Value>().await.expect("json") }
    };
    let state: Value = od.http.get(url("state")).send().await.expect("sent").json().await.expect("json");
    assert_eq!((state["pms"].clone(), state["now"].clone()), (json!("open_dental"), json!("2026-03-02 10:00:00")));
    assert!(state["counts"]["patients"].as_u64().is_some_and(|n| n > 100));
    let now = post(url("clock"), json!({"seconds": 90})).await;
    assert_eq!(now["now"], json!("2026-03-02 10:01:30"));
    let changed = post(url("mutate"), json!({"per_stream": 2})).await;
    assert_eq!(changed["inserted"]["appointments"], json!(2));
    let fault = json!({"kind": "server_error", "count": 1, "path": "/api/v1/providers"});
    assert!(od.http.post(url("faults")).json(&fault).send().await.expect("sent").status().is_success());
    assert_eq!(od.get("providers").await.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(od.get("providers").await.status, StatusCode::OK);
    let log: Value = od.http.get(url("requests")).send().await.expect("sent").json().await.expect("json");
    assert_eq!(log.as_array().map(Vec::len), Some(2), "control routes are not logged: {log}");
}
