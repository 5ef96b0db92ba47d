//! The Open Dental simulator: `/api/v1/…` as the official API documents it.
//!
//! - Auth: `Authorization: ODFHIR {developer}/{customer}`, else 401; `Content-Type:
//!   application/json` on every request, else 400.
//! - Lists: bare JSON arrays, `Limit`/`Offset` (cap 100 Remote, 1,000 Local), primary-key
//!   order; change filters (`DateTStamp`, `SecDateTEdit`) exactly where the API has them
//!   (elsewhere the parameter is ignored, as any unknown one); `serverDateTime` in the rows
//!   of the resources that carry it; required parameters (adjustments need `PatNum`).
//! - Wire types: enum names, `"true"`/`"false"`, `0001-01-01`, money as strings where the
//!   API sends strings — all from the documented objects in `templates/opendental`.
//! - Remote mode throttles per customer key (1 request/s, 1 per 5 s for a Read-All key)
//!   with 429 and `Retry-After`.
//! - Writes for every write-back kind, validated like the API, bumping change stamps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

use crate::rows::{Dialect, Row, Table, TextTemplate, Val, render, render_text, template, write_json};
use crate::{Dataset, Mode, Mutations, Scale, Shared};

mod generate;
pub(crate) mod resources;
mod writes;

use resources::{Filter, RESOURCES, Resource};

/// Open Dental's wire dialect.
pub(crate) struct OdDialect;

impl Dialect for OdDialect {
    fn render(&self, value: &Val) -> Value {
        match value {
            Val::Null => Value::String(String::new()),
            Val::Int(v) => Value::from(*v),
            Val::Num(v) => serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number),
            Val::Str(s) => Value::String(s.to_string()),
            Val::Bool(b) => Value::String(if *b { "true" } else { "false" }.into()),
            Val::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
            Val::DateTime(t) => Value::String(t.format("%Y-%m-%d %H:%M:%S").to_string()),
            Val::Json(v) => (**v).clone(),
        }
    }

    fn write(&self, value: &Val, out: &mut Vec<u8>) {
        use chrono::{Datelike as _, Timelike as _};
        use std::io::Write as _;
        // Writing into a `Vec` cannot fail.
        let _ = match value {
            Val::Null => out.write_all(b"\"\""),
            Val::Int(v) => write!(out, "{v}"),
            Val::Bool(b) => out.write_all(if *b { b"\"true\"" } else { b"\"false\"" }),
            Val::Date(d) => write!(out, "\"{:04}-{:02}-{:02}\"", d.year(), d.month(), d.day()),
            Val::DateTime(t) => write!(
                out,
                "\"{:04}-{:02}-{:02} {:02}:{:02}:{:02}\"",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            Val::Str(s) => {
                write_json(out, &**s);
                Ok(())
            }
            Val::Num(_) | Val::Json(_) => {
                write_json(out, &self.render(value));
                Ok(())
            }
        };
    }
}

/// A simulated Open Dental office.
#[derive(Debug)]
pub struct Office {
    pub(crate) tables: BTreeMap<&'static str, Table<i64>>,
    next: BTreeMap<&'static str, i64>,
    templates: BTreeMap<&'static str, Map<String, Value>>,
    /// The same templates with their values as JSON text, for pages.
    text_templates: BTreeMap<&'static str, TextTemplate>,
    throttle: BTreeMap<String, Instant>,
    /// Keys of a table's rows by the integer value of one field, built on first use by a
    /// list filtered on that field (adjustments per `PatNum`: one request per patient) and
    /// forgotten whenever the tables change ([`Office::forget_indexes`]).
    indexes: std::sync::Mutex<FieldIndexes>,
    /// Keys of each table's rows in key order, built on first use by an unfiltered list and
    /// forgotten like the indexes: a page at any offset starts there without walking the
    /// rows before it.
    orders: std::sync::Mutex<BTreeMap<&'static str, Arc<Vec<i64>>>>,
}

/// Field indexes by (table, field); `None` where the field is not an integer in every row.
type FieldIndexes = BTreeMap<(&'static str, &'static str), Option<Arc<FieldIndex>>>;

/// Row keys by a field's integer value, in key order.
type FieldIndex = BTreeMap<i64, Vec<i64>>;

impl Office {
    /// Generates an office.
    pub fn generate(scale: Scale, seed: u64, now: NaiveDateTime) -> Office {
        let (mut tables, next) = generate::generate(scale, seed, now);
        for r in RESOURCES {
            tables.entry(r.name).or_default();
        }
        let templates: BTreeMap<&'static str, Map<String, Value>> =
            RESOURCES.iter().map(|r| (r.name, template(r.template))).collect();
        let text_templates = templates.iter().map(|(name, t)| (*name, TextTemplate::new(t))).collect();
        Office {
            tables,
            next,
            templates,
            text_templates,
            throttle: BTreeMap::new(),
            indexes: std::sync::Mutex::default(),
            orders: std::sync::Mutex::default(),
        }
    }

    /// Forgets the field indexes (the tables are about to change).
    pub(crate) fn forget_indexes(&mut self) {
        self.indexes.get_mut().unwrap_or_else(|e| e.into_inner()).clear();
        self.orders.get_mut().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The keys of `table`'s rows, in key order.
    fn order(&self, table: &'static str) -> Arc<Vec<i64>> {
        let mut orders = self.orders.lock().unwrap_or_else(|e| e.into_inner());
        orders
            .entry(table)
            .or_insert_with(|| {
                Arc::new(self.tables.get(table).map(|t| t.rows.keys().copied().collect()).unwrap_or_default())
            })
            .clone()
    }

    /// The index of `table` by `field`, or `None` when some row holds a non-integer there
    /// (the list then scans).
    fn index(&self, table: &'static str, field: &'static str) -> Option<Arc<FieldIndex>> {
        let mut indexes = self.indexes.lock().unwrap_or_else(|e| e.into_inner());
        indexes
            .entry((table, field))
            .or_insert_with(|| {
                let mut index = FieldIndex::new();
                for (key, row) in &self.tables.get(table)?.rows {
                    match row.get(field) {
                        Some(Val::Int(v)) => index.entry(*v).or_default().push(*key),
                        None => {}
                        Some(_) => return None,
                    }
                }
                Some(Arc::new(index))
            })
            .clone()
    }

    /// Rows per resource.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        self.tables.iter().map(|(k, t)| ((*k).to_owned(), t.len())).collect()
    }

    pub(crate) fn next_pk(&mut self, resource: &'static str) -> i64 {
        let n = self.next.entry(resource).or_insert(0);
        *n += 1;
        *n
    }

    pub(crate) fn render_row(&self, resource: &Resource, row: &Row, now: Option<NaiveDateTime>) -> Value {
        let empty = Map::new();
        let tpl = self.templates.get(resource.name).unwrap_or(&empty);
        let mut value = render(row, tpl, &OdDialect);
        if let Value::Object(obj) = &mut value {
            match now {
                Some(now) if resource.server_time => {
                    obj.insert("serverDateTime".into(), Value::String(now.format("%Y-%m-%d %H:%M:%S").to_string()));
                }
                _ => {
                    obj.remove("serverDateTime");
                }
            }
        }
        value
    }

    /// Writes [`Office::render_row`]'s JSON text for a list page, with `server_time` (the
    /// clock's `serverDateTime`, where the resource carries it) and without the keys in `drop`.
    fn render_row_text(
        &self,
        resource: &Resource,
        row: &Row,
        server_time: Option<&str>,
        drop: &[&str],
        out: &mut Vec<u8>,
    ) {
        let empty = TextTemplate::default();
        let tpl = self.text_templates.get(resource.name).unwrap_or(&empty);
        match server_time {
            Some(now) if resource.server_time => {
                render_text(row, tpl, &OdDialect, Some(("serverDateTime", now)), drop, out)
            }
            _ => {
                let mut drop = drop.to_vec();
                drop.push("serverDateTime");
                render_text(row, tpl, &OdDialect, None, &drop, out);
            }
        }
    }

    /// Changes `per_stream` rows of every stream the way Open Dental does: updates bump
    /// `DateTStamp`/`SecDateTEdit`; appointments are hard-deleted (with a `Deleted`
    /// history row) and inserted; procedures are marked `D` rather than deleted; child
    /// rows without change filters are hard-deleted.
    pub(crate) fn mutate(&mut self, seed: u64, round: u64, now: NaiveDateTime, per_stream: usize) -> Mutations {
        self.forget_indexes();
        let mut rng = crate::rng::Rng::new(seed ^ round.wrapping_mul(0x9e37_79b9), "mutate");
        let mut out = Mutations::default();
        let now = now.with_nanosecond_zero();
        for r in RESOURCES {
            let keys: Vec<i64> = self.tables.get(r.name).map(|t| t.rows.keys().copied().collect()).unwrap_or_default();
            if keys.is_empty() {
                continue;
            }
            let mut updated = 0;
            for _ in 0..per_stream.min(keys.len()) {
                let key = keys[rng.index(keys.len())];
                if let Some(row) = self.tables.get_mut(r.name).and_then(|t| t.rows.get_mut(&key)) {
                    touch(r, row, now, &mut rng);
                    updated += 1;
                }
            }
            out.updated.insert(r.name.to_owned(), updated);
        }
        // Deletions and inserts where Open Dental really makes them.
        let apt_keys: Vec<i64> = self.tables["appointments"].rows.keys().copied().collect();
        let mut deleted = 0;
        for _ in 0..per_stream.min(apt_keys.len() / 2) {
            let key = apt_keys[rng.index(apt_keys.len())];
            if let Some(row) = self.tables.get_mut("appointments").and_then(|t| t.rows.remove(&key)) {
                let hist = self.next_pk("histappointments");
                let mut h = row.clone();
                h.set("HistApptNum", hist);
                h.set("HistUserNum", 1);
                h.set("HistDateTStamp", now);
                h.set("HistApptAction", "Deleted");
                h.set("ApptSource", "None");
                self.tables.entry("histappointments").or_default().rows.insert(hist, h);
                for p in self.tables.get_mut("procedurelogs").map(|t| t.rows.values_mut()).into_iter().flatten() {
                    if p.int("AptNum") == key {
                        p.set("AptNum", 0);
                        p.set("DateTStamp", now);
                    }
                }
                deleted += 1;
            }
        }
        out.deleted.insert("appointments".into(), deleted);
        let mut inserted = 0;
        for _ in 0..per_stream {
            let Some(template) =
                apt_keys.get(rng.index(apt_keys.len())).and_then(|k| self.tables["appointments"].rows.get(k)).cloned()
            else {
                break;
            };
            let apt = self.next_pk("appointments");
            let mut row = template;
            row.set("AptNum", apt);
            row.set("AptStatus", "Scheduled");
            row.set("AptDateTime", now + Duration::days(rng.range(1, 60)) + Duration::hours(rng.range(0, 6)));
            row.set("DateTStamp", now);
            row.set("SecDateTEntry", now);
            self.tables.entry("appointments").or_default().rows.insert(apt, row);
            inserted += 1;
        }
        out.inserted.insert("appointments".into(), inserted);
        let proc_keys: Vec<i64> = self.tables["procedurelogs"].rows.keys().copied().collect();
        let mut marked = 0;
        for _ in 0..per_stream.min(proc_keys.len() / 2) {
            let key = proc_keys[rng.index(proc_keys.len())];
            if let Some(p) = self.tables.get_mut("procedurelogs").and_then(|t| t.rows.get_mut(&key)) {
                p.set("ProcStatus", "D");
                p.set("AptNum", 0);
                p.set("DateTStamp", now);
                marked += 1;
            }
        }
        out.deleted.insert("procedurelogs".into(), marked);
        for name in ["paysplits", "commlogs", "refattaches"] {
            let keys: Vec<i64> = self.tables[name].rows.keys().copied().collect();
            let mut n = 0;
            for _ in 0..per_stream.min(keys.len() / 2) {
                if self.tables.get_mut(name).and_then(|t| t.rows.remove(&keys[rng.index(keys.len())])).is_some() {
                    n += 1;
                }
            }
            out.deleted.insert(name.into(), n);
        }
        out
    }
}

trait NoNanos {
    fn with_nanosecond_zero(self) -> Self;
}

impl NoNanos for NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        chrono::Timelike::with_nanosecond(&self, 0).unwrap_or(self)
    }
}

/// An edit a user might make, with the row's change stamp moved.
fn touch(r: &Resource, row: &mut Row, now: NaiveDateTime, rng: &mut crate::rng::Rng) {
    match r.name {
        "patients" => row.set("WirelessPhone", format!("(503)555-{:04}", rng.range(0, 9999))),
        "appointments" => row.set("Note", format!("Edited {}", now.format("%H:%M:%S"))),
        "procedurelogs" => row.set("Discount", (rng.range(0, 20) * 5) as f64),
        "commlogs" => row.set("Note", "Follow-up call logged."),
        "providers" => row.set("MI", "Q"),
        _ => {
            if let Some((field, Val::Str(_))) =
                row.fields().iter().find(|(k, v)| k.contains("Note") && matches!(v, Val::Str(_)))
            {
                let field = *field;
                row.set(field, format!("Updated {}", now.format("%Y-%m-%d")));
            }
        }
    }
    for f in ["DateTStamp", "SecDateTEdit"] {
        if row.get(f).is_some() || r.stamp.is_some_and(|(_, sf)| sf == f) {
            row.set(f, now);
        }
    }
}

/// An Open Dental error answer: a status and a JSON string explaining it.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(Value::String(message.to_owned()))).into_response()
}

pub(crate) fn routes(shared: Arc<Shared>) -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/{resource}", get(list).post(writes::create))
        .route("/api/v1/{resource}/{id}", get(single).put(writes::update))
        .route("/api/v1/{resource}/{id}/{action}", put(writes::action))
        .route_layer(axum::middleware::from_fn_with_state(shared, gatekeeper))
}

/// Authentication, content type and Remote-mode throttling, before any handler.
async fn gatekeeper(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let config = &shared.config;
    let expected = format!("ODFHIR {}/{}", config.developer_key, config.customer_key);
    let auth = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if auth.is_empty() {
        return error(StatusCode::UNAUTHORIZED, "Authorization header is missing.");
    }
    if auth != expected {
        return error(
            StatusCode::UNAUTHORIZED,
            "Invalid Authorization header: developer key or customer key is invalid or disabled.",
        );
    }
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !json {
        return error(StatusCode::BAD_REQUEST, "Content-Type must be application/json.");
    }
    if config.mode == Mode::Remote {
        let interval = config.throttle.unwrap_or(if config.read_only_key {
            StdDuration::from_secs(5)
        } else {
            StdDuration::from_secs(1)
        });
        let mut data = shared.data.write().unwrap_or_else(|e| e.into_inner());
        let Dataset::OpenDental(office) = &mut *data else {
            return error(StatusCode::NOT_FOUND, "Resource not found.");
        };
        let now = Instant::now();
        if let Some(last) = office.throttle.get(&config.customer_key) {
            let since = now.duration_since(*last);
            if since < interval {
                let wait = (interval - since).as_secs_f64().ceil().max(1.0) as u64;
                drop(data);
                let mut response =
                    error(StatusCode::TOO_MANY_REQUESTS, "Too many requests. Throttled per customer key.");
                if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return response;
            }
        }
        office.throttle.insert(config.customer_key.clone(), now);
    }
    next.run(request).await
}

/// The page size cap of the API mode.
fn page_cap(mode: Mode) -> usize {
    match mode {
        Mode::Remote => 100,
        Mode::Local => 1000,
    }
}

/// A query parameter, matched case-insensitively.
fn param<'a>(query: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Parses `yyyy-MM-dd HH:mm:ss` (or a bare date, as the documentation's examples send).
fn parse_stamp(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
}

fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn matches(row: &Row, filter: Filter, value: &str) -> Result<bool, String> {
    let day = |field| row.datetime(field).map(|t| t.date());
    Ok(match filter {
        Filter::Eq(field) => match row.get(field) {
            Some(Val::Int(v)) => value.parse::<i64>().map_err(|_| format!("{field} must be a number."))? == *v,
            Some(Val::Str(s)) => s.eq_ignore_ascii_case(value),
            Some(Val::Bool(b)) => value.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            _ => false,
        },
        Filter::Prefix(field) => row.str(field).to_lowercase().starts_with(&value.to_lowercase()),
        Filter::Day(field) | Filter::From(field) | Filter::To(field) | Filter::DateOnOrAfter(field) => {
            let wanted = parse_day(value).ok_or_else(|| "Dates must be in yyyy-MM-dd format.".to_owned())?;
            match (filter, day(field)) {
                (_, None) => false,
                (Filter::Day(_), Some(d)) => d == wanted,
                (Filter::From(_) | Filter::DateOnOrAfter(_), Some(d)) => d >= wanted,
                (_, Some(d)) => d <= wanted,
            }
        }
    })
}

async fn list(
    State(shared): State<Arc<Shared>>,
    Path(resource): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let Some(r) = resources::find(&resource) else {
        return error(StatusCode::NOT_FOUND, "Resource not found.");
    };
    if r.list_suffix.is_some() && r.name == "patients" {
        // GET /patients is the Select Patient search: fewer fields, no change stamp.
        return list_rows(&shared, r, &query, true);
    }
    list_rows(&shared, r, &query, false)
}

async fn single(
    State(shared): State<Arc<Shared>>,
    Path((resource, id)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let Some(r) = resources::find(&resource) else {
        return error(StatusCode::NOT_FOUND, "Resource not found.");
    };
    if r.list_suffix.is_some_and(|s| s.eq_ignore_ascii_case(&id)) {
        return list_rows(&shared, r, &query, false);
    }
    let Ok(pk) = id.parse::<i64>() else {
        return error(StatusCode::BAD_REQUEST, &format!("{} is not valid.", r.pk));
    };
    let data = shared.data.read().unwrap_or_else(|e| e.into_inner());
    let Dataset::OpenDental(office) = &*data else {
        return error(StatusCode::NOT_FOUND, "Resource not found.");
    };
    match office.tables.get(r.name).and_then(|t| t.rows.get(&pk)) {
        Some(row) => axum::Json(office.render_row(r, row, None)).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("{} not found.", singular(r.name))),
    }
}

fn singular(name: &str) -> String {
    let s = name
        .strip_suffix("es")
        .filter(|s| s.ends_with("ss") || s.ends_with("ch"))
        .unwrap_or_else(|| name.strip_suffix('s').unwrap_or(name));
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn list_rows(shared: &Shared, r: &Resource, query: &BTreeMap<String, String>, search: bool) -> Response {
    for required in r.required {
        if param(query, required).is_none() {
            return error(StatusCode::BAD_REQUEST, &format!("{required} is required."));
        }
    }
    let cap = page_cap(shared.config.mode);
    let limit = match param(query, "Limit") {
        None => cap,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n.clamp(1, cap),
            Err(_) => return error(StatusCode::BAD_REQUEST, "Limit is invalid."),
        },
    };
    let offset = match param(query, "Offset") {
        None => 0,
        Some(v) => match v.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return error(StatusCode::BAD_REQUEST, "Offset is invalid."),
        },
    };
    let since = match r.stamp.and_then(|(p, f)| param(query, p).map(|v| (p, f, v))) {
        None => None,
        Some((p, f, v)) => match parse_stamp(v) {
            Some(t) => Some((f, t)),
            None => return error(StatusCode::BAD_REQUEST, &format!("{p} format must be yyyy-MM-dd HH:mm:ss")),
        },
    };
    let now = shared.clock.now();
    let data = shared.data.read().unwrap_or_else(|e| e.into_inner());
    let Dataset::OpenDental(office) = &*data else {
        return axum::Json(Value::Array(Vec::new())).into_response();
    };
    let Some(table) = office.tables.get(r.name) else {
        return axum::Json(Value::Array(Vec::new())).into_response();
    };
    // The filters the query uses, looked up once rather than per row.
    let filters: Vec<(Filter, &str)> =
        r.filters.iter().filter_map(|(name, filter)| param(query, name).map(|v| (*filter, v))).collect();
    // `/patients/Simple` leaves out the guarantor and the stamp; providers listed per clinic
    // carry no `serverDateTime`.
    let drop: &[&str] = if search { &["Guarantor", "DateTStamp"] } else { &[] };
    let server_time = (!(search || r.name == "providers" && param(query, "ClinicNum").is_some()))
        .then(|| now.format("%Y-%m-%d %H:%M:%S").to_string());
    let mut body = Vec::with_capacity(limit.min(1000) * 1024);
    body.push(b'[');
    let mut count = 0;
    // Without filters the offset is a plain skip over the table in key order; one filter on
    // an integer field (a list per parent) reads that field's index.
    let unfiltered = since.is_none() && filters.is_empty();
    let indexed = match filters.as_slice() {
        [(Filter::Eq(field), value)] if since.is_none() => {
            value.parse::<i64>().ok().and_then(|v| office.index(r.name, field).map(|index| (index, v)))
        }
        _ => None,
    };
    let order = unfiltered.then(|| office.order(r.name));
    let rows: Box<dyn Iterator<Item = &Row>> = match (&indexed, &order) {
        (Some((index, v)), _) => Box::new(index.get(v).into_iter().flatten().filter_map(|k| table.rows.get(k))),
        (None, Some(order)) => Box::new(order.iter().skip(offset).filter_map(|k| table.rows.get(k))),
        (None, None) => Box::new(table.rows.values()),
    };
    let mut skipped = if unfiltered { offset } else { 0 };
    for row in rows {
        if let Some((field, t)) = since
            && row.datetime(field).is_none_or(|v| v < t)
        {
            continue;
        }
        let mut keep = true;
        for (filter, value) in &filters {
            match matches(row, *filter, value) {
                Ok(true) => {}
                Ok(false) => {
                    keep = false;
                    break;
                }
                Err(message) => return error(StatusCode::BAD_REQUEST, &message),
            }
        }
        if !keep {
            continue;
        }
        if skipped < offset {
            skipped += 1;
            continue;
        }
        if count > 0 {
            body.push(b',');
        }
        office.render_row_text(r, row, server_time.as_deref(), drop, &mut body);
        count += 1;
        if count == limit {
            break;
        }
    }
    body.push(b']');
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages are written as text without building each row's tree: the text must be the
    /// tree's, row for row, for every resource.
    #[test]
    fn page_text_is_the_rendered_rows() {
        let office = Office::generate(Scale::Small, 7, crate::start_time());
        let now = crate::start_time();
        let stamp = now.format("%Y-%m-%d %H:%M:%S").to_string();
        let mut checked = 0;
        for r in RESOURCES {
            for row in office.tables[r.name].rows.values().take(50) {
                for (server_time, drop) in [(Some(stamp.as_str()), &[][..]), (None, &["Guarantor", "DateTStamp"][..])] {
                    let mut want = office.render_row(r, row, server_time.map(|_| now));
                    if let Value::Object(obj) = &mut want {
                        for key in drop {
                            obj.remove(*key);
                        }
                    }
                    let mut text = Vec::new();
                    office.render_row_text(r, row, server_time, drop, &mut text);
                    assert_eq!(String::from_utf8_lossy(&text), want.to_string(), "{}", r.name);
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "{checked} rows checked");
    }
}
