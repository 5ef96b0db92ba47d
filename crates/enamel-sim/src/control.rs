//! The control routes (`/_sim/…`): the HTTP face of [`crate::Control`], for a simulator
//! running as its own process.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Control, FaultSpec, Shared};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/state", get(state))
        .route("/_sim/clock", post(advance))
        .route("/_sim/mutate", post(mutate))
        .route("/_sim/faults", get(faults).post(add_fault).delete(clear_faults))
        .route("/_sim/requests", get(requests))
        .route("/_sim/writes", get(writes))
}

async fn state(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let control = Control(shared.clone());
    Json(json!({
        "pms": shared.pms,
        "scale": shared.config.scale,
        "seed": shared.config.seed,
        "mode": shared.config.mode,
        "now": control.now().format("%Y-%m-%d %H:%M:%S").to_string(),
        "counts": control.counts(),
    }))
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance(State(shared): State<Arc<Shared>>, Json(body): Json<Advance>) -> Json<Value> {
    let now = Control(shared).advance(chrono::Duration::seconds(body.seconds));
    Json(json!({ "now": now.format("%Y-%m-%d %H:%M:%S").to_string() }))
}

#[derive(Deserialize)]
struct Mutate {
    per_stream: usize,
}

async fn mutate(State(shared): State<Arc<Shared>>, Json(body): Json<Mutate>) -> Json<Value> {
    Json(json!(Control(shared).mutate(body.per_stream)))
}

async fn faults(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(shared.faults.lock().unwrap_or_else(|e| e.into_inner()).list()))
}

async fn add_fault(State(shared): State<Arc<Shared>>, Json(spec): Json<FaultSpec>) -> Json<Value> {
    Control(shared).inject(spec.clone());
    Json(json!(spec))
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Control(shared).clear_faults();
    Json(json!([]))
}

async fn requests(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(Control(shared).requests()))
}

async fn writes(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(Control(shared).writes()))
}
