//! The TDental simulator against the real captures (`../shared/reference/tdental`).

use std::collections::BTreeSet;

use enamel_sim::{FaultKind, FaultSpec, PmsKind, SimConfig, SimHandle};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Answer, json_type};

/// A TDental simulator and a logged-in client.
struct Td {
    sim: SimHandle,
    http: reqwest::Client,
    token: String,
}

impl Td {
    async fn start(seed: u64) -> Td {
        let mut config = SimConfig::new(PmsKind::Tdental);
        config.seed = seed;
        let sim = enamel_sim::spawn(config, 0).await.expect("simulator starts");
        let http = reqwest::Client::new();
        let login: Value = http
            .post(format!("{}/api/Account/Login", sim.base_url))
            .json(&json!({"userName": "admin", "password": "admin", "rememberMe": false}))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert_eq!(login["succeeded"], json!(true), "{login}");
        let token = login["token"].as_str().expect("token").to_owned();
        Td { sim, http, token }
    }

    async fn send(&self, method: Method, path_and_query: &str, body: Option<Value>) -> Answer {
        let mut request =
            self.http.request(method, format!("{}{path_and_query}", self.sim.base_url)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("sent");
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap_or_default(),
        }
    }

    async fn get(&self, path_and_query: &str) -> Answer {
        self.send(Method::GET, path_and_query, None).await
    }

    /// The items of an envelope answer.
    async fn items(&self, path_and_query: &str) -> Vec<Value> {
        let answer = self.get(path_and_query).await;
        assert_eq!(answer.status, StatusCode::OK, "{path_and_query}: {}", answer.body);
        match answer.json() {
            Value::Object(o) => o
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_else(|| panic!("{path_and_query}: no items")),
            Value::Array(rows) => rows,
            other => panic!("{path_and_query}: {other}"),
        }
    }
}

/// A wide window that covers every generated business date.
const WINDOW: &str = "2015-01-01";
const WINDOW_END: &str = "2027-12-31";

fn sample(name: &str) -> Value {
    let path = format!("{}/../../shared/reference/tdental/{name}", env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("the TDental reference is needed at {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first row of a real answer (an envelope's items, a bare array, or the object itself).
fn first_row(answer: &Value) -> Option<&Value> {
    match answer {
        Value::Object(o) if o.contains_key("items") => o["items"].as_array().and_then(|a| a.first()),
        Value::Array(a) => a.first(),
        other => Some(other),
    }
}

/// Same field names; same JSON types wherever both sides are not null.
fn assert_same_shape(what: &str, real: &Value, ours: &Value) {
    let (Some(real), Some(ours)) = (real.as_object(), ours.as_object()) else {
        panic!("{what}: not objects");
    };
    let real_keys: BTreeSet<_> = real.keys().collect();
    let our_keys: BTreeSet<_> = ours.keys().collect();
    assert_eq!(our_keys, real_keys, "{what}: field names differ from the real capture");
    for (k, v) in real {
        if v.is_null() || ours[k].is_null() {
            continue;
        }
        assert_eq!(json_type(&ours[k]), json_type(v), "{what}.{k}: JSON type differs from the real capture");
    }
}

#[tokio::test]
async fn every_data_set_matches_the_real_captures() {
    let td = Td::start(1).await;
    let w = format!("dateTimeFrom={WINDOW}&dateTimeTo={WINDOW_END}");
    let d = format!("dateFrom={WINDOW}&dateTo={WINDOW_END}");
    let cases: Vec<(&str, String)> = vec![
        (
            "api-samples-2026-04/accountpayments.json",
            format!("/api/AccountPayments?limit=5&paymentDateFrom={WINDOW}&paymentDateTo={WINDOW_END}"),
        ),
        ("api-samples-2026-04/appointments.json", format!("/api/Appointments?limit=5&{w}")),
        ("api-samples-2026-04/aspnetusers.json", "/api/ApplicationUsers?limit=5".into()),
        ("api-samples-2026-04/companies.json", "/api/Companies?limit=5".into()),
        ("api-samples-2026-04/customerreceipts.json", format!("/api/CustomerReceipts?limit=5&{d}")),
        ("api-samples-2026-04/dotkhams.json", format!("/api/DotKhams?limit=5&{d}")),
        ("api-samples-2026-04/dotkhamsteps.json", "/api/DotKhamSteps".into()),
        ("api-samples-2026-04/employees.json", "/api/Employees?limit=5".into()),
        ("api-samples-2026-04/partners.json", "/api/Partners?limit=5".into()),
        (
            "api-samples-2026-04/partners_getpaged.json",
            "/api/Partners/GetPagedPartnersCustomer?limit=5&isActive=true".into(),
        ),
        ("api-samples-2026-04/productcategories.json", "/api/productcategories?limit=5".into()),
        ("api-samples-2026-04/products.json", "/api/Products?limit=5".into()),
        ("api-samples-2026-04/saleorderlines.json", format!("/api/SaleOrderLines?limit=5&{d}")),
        (
            "api-samples-2026-04/saleorders.json",
            format!("/api/SaleOrders?limit=5&dateOrderFrom={WINDOW}&dateOrderTo={WINDOW_END}"),
        ),
        ("api-captures-2026-02/api_Companies_GET_22.json", "/api/Companies?active=true".into()),
        ("api-captures-2026-02/api_ApplicationUsers_GET_31.json", "/api/ApplicationUsers?limit=20&offset=0".into()),
    ];
    for (file, path) in cases {
        let real = sample(file);
        let real = real.get("response_body").cloned().unwrap_or(real);
        let Some(real_row) = first_row(&real) else { continue };
        let ours = td.items(&path).await;
        let our_row = ours.first().unwrap_or_else(|| panic!("{path}: the simulator has no rows"));
        assert_same_shape(file, real_row, our_row);
    }
    // The fat customer profile.
    let id = td.items("/api/Partners/GetPagedPartnersCustomer?limit=1&isActive=true").await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let detail = td.get(&format!("/api/Partners/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert_same_shape("partner_detail", &sample("api-samples-2026-04/partner_detail.json"), &detail.json());
}

#[tokio::test]
async fn login_refresh_and_bearer_tokens_work_like_tdental() {
    let td = Td::start(1).await;
    let bad: Value = td
        .http
        .post(format!("{}/api/Account/Login", td.sim.base_url))
        .json(&json!({"userName": "admin", "password": "wrong", "rememberMe": false}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("a 200 with a body");
    assert_eq!(bad["succeeded"], json!(false));
    let no_token = td.http.get(format!("{}/api/Companies", td.sim.base_url)).send().await.expect("sent");
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    let forged =
        td.http.get(format!("{}/api/Companies", td.sim.base_url)).bearer_auth("a.b.c").send().await.expect("sent");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    // Case-insensitive routes.
    assert_eq!(td.get("/API/companies").await.status, StatusCode::OK);
    // The token expires after 7 days of simulated time.
    td.sim.control.advance(chrono::Duration::days(8));
    assert_eq!(td.get("/api/Companies").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn paging_windows_and_the_bare_array_follow_the_real_api() {
    let td = Td::start(1).await;
    // One side of a required window is an HTTP 500 with the TDental envelope.
    for path in [format!("/api/Appointments?dateTimeFrom={WINDOW}"), format!("/api/CustomerReceipts?dateFrom={WINDOW}")]
    {
        let answer = td.get(&path).await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(answer.json()["message"], json!("TDental Server Error"));
    }
    let all = td.get(&format!("/api/Appointments?limit=0&dateTimeFrom={WINDOW}&dateTimeTo={WINDOW_END}")).await.json();
    assert_eq!(all["limit"], json!(2147483647));
    let total = all["totalItems"].as_u64().expect("totalItems") as usize;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(total));
    let mut ids = Vec::new();
    let mut offset = 0;
    loop {
        let page = td
            .get(&format!("/api/Appointments?limit=37&offset={offset}&dateTimeFrom={WINDOW}&dateTimeTo={WINDOW_END}"))
            .await
            .json();
        assert_eq!(page["totalItems"].as_u64(), Some(total as u64));
        let items = page["items"].as_array().cloned().unwrap_or_default();
        ids.extend(items.iter().map(|a| a["id"].as_str().unwrap_or("").to_owned()));
        if items.len() < 37 {
            break;
        }
        offset += 37;
    }
    let unique: BTreeSet<_> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (total, total), "paging a static data set loses or repeats nothing");
    let steps = td.get("/api/DotKhamSteps?limit=1&offset=5").await.json();
    assert!(steps.as_array().is_some_and(|a| a.len() > 1), "DotKhamSteps is a bare array of the whole table");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_bytes() {
    let a = Td::start(9).await;
    let b = Td::start(9).await;
    for path in [
        "/api/Partners/GetPagedPartnersCustomer?limit=20&isActive=true",
        "/api/SaleOrderLines?limit=30&dateFrom=2015-01-01&dateTo=2027-12-31",
    ] {
        assert_eq!(a.get(path).await.body, b.get(path).await.body, "{path}");
    }
    assert_eq!(a.sim.control.mutate(3), b.sim.control.mutate(3));
}

#[tokio::test]
async fn faults_answer_with_the_tdental_error_envelope() {
    let td = Td::start(1).await;
    td.sim.control.inject(FaultSpec::times(FaultKind::ServerError, 1));
    let answer = td.get("/api/Companies").await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.json()["code"], json!(500));
    td.sim.control.inject(FaultSpec::times(FaultKind::MissingField { field: "id".into() }, 1));
    let items = td.items("/api/Companies").await;
    assert!(items[0].get("id").is_none() && items[1].get("id").is_some());
}
