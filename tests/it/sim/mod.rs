//! The PMS simulators, driven over real HTTP: contracts, paging, change filters, auth,
//! throttling, faults, writes and determinism.

mod opendental;
mod tdental;

use std::collections::BTreeMap;

use enamel_sim::{Mode, PmsKind, SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::Value;

/// An Open Dental simulator and a client that speaks to it.
pub struct Od {
    pub sim: SimHandle,
    pub http: reqwest::Client,
}

/// One answer: status, headers, body text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn rows(&self) -> Vec<Value> {
        match self.json() {
            Value::Array(rows) => rows,
            other => panic!("expected an array, got {other}"),
        }
    }
}

impl Od {
    /// A small-scale office in Local mode (no throttle) unless `tweak` says otherwise.
    pub async fn start(tweak: impl FnOnce(&mut SimConfig)) -> Od {
        let mut config = SimConfig::new(PmsKind::OpenDental);
        config.mode = Mode::Local;
        tweak(&mut config);
        let sim = enamel_sim::spawn(config, 0).await.expect("simulator starts");
        Od { sim, http: reqwest::Client::new() }
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}/{path}", self.sim.api_url()))
            .header("Authorization", "ODFHIR dev-key/customer-key")
            .header("Content-Type", "application/json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.expect("request sent");
        Answer {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap_or_default(),
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// Every row of a list, paged with `Limit`.
    pub async fn all(&self, path: &str, limit: usize) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        loop {
            let page = self.get(&format!("{path}{sep}Limit={limit}&Offset={}", out.len())).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            let rows = page.rows();
            let n = rows.len();
            out.extend(rows);
            if n < limit {
                return out;
            }
        }
    }
}

/// The JSON type of a value, for conformance checks.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Field name → JSON type of an object.
pub fn shape(v: &Value) -> BTreeMap<String, &'static str> {
    v.as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), json_type(v))).collect()).unwrap_or_default()
}
