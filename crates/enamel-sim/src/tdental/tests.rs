use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::{PmsKind, SimConfig, start_time};

fn small() -> Tenant {
    Tenant::generate(Scale::Small, 1, start_time())
}

#[test]
fn comb_round_trip() {
    let mut rng = Rng::new(3, "comb");
    let local =
        NaiveDate::from_ymd_opt(2026, 4, 13).and_then(|d| d.and_hms_milli_opt(19, 31, 50, 970)).unwrap_or_default();
    let id = comb(&mut rng, local);
    assert_eq!(id.len(), 36);
    let utc = comb_time(&id).unwrap_or_default();
    let expected = local - Duration::hours(7);
    assert!((utc - expected).num_milliseconds().abs() <= 4, "{utc} vs {expected}");
    // The README's decoded example.
    let real = comb_time("0c4b5480-5050-40a7-8343-b42b00ce806b").unwrap_or_default();
    assert_eq!(real.format("%Y-%m-%d %H:%M:%S").to_string(), "2026-04-13 12:31:50");
    assert!(uuid::Uuid::parse_str(&id).is_ok());
}

#[test]
fn iso_trims_fraction() {
    let d = NaiveDate::from_ymd_opt(2023, 8, 24).unwrap_or_default();
    let t = d.and_hms_nano_opt(9, 43, 35, 211_526_400).unwrap_or_default();
    assert_eq!(iso(t), "2023-08-24T09:43:35.2115264");
    let t = d.and_hms_nano_opt(8, 20, 10, 498_000_000).unwrap_or_default();
    assert_eq!(iso(t), "2023-08-24T08:20:10.498");
    assert_eq!(iso(d.and_hms_opt(0, 0, 0).unwrap_or_default()), "2023-08-24T00:00:00");
}

#[test]
fn deterministic_and_small_counts() {
    let a = small();
    let b = small();
    assert_eq!(a.counts(), b.counts());
    for (name, set) in &a.sets {
        let other = &b.sets[name];
        assert!(set.keys().eq(other.keys()), "{name} ids differ");
        assert!(set.values().zip(other.values()).all(|(x, y)| x.row == y.row), "{name} rows differ");
    }
    let c = Tenant::generate(Scale::Small, 2, start_time());
    assert_ne!(a.sets["appointments"].keys().next(), c.sets["appointments"].keys().next());
    let counts = a.counts();
    assert_eq!(counts.len(), 23);
    assert_eq!(counts["companies"], 7);
    assert_eq!(counts["partnertitles"], 5);
    assert_eq!(counts["partnersources"], 11);
    assert_eq!(counts["partnercategories"], 12);
    assert_eq!(counts["applicationroles"], 10);
    assert_eq!(counts["resgroups"], 35);
    assert_eq!(counts["commissions"], 17);
    assert_eq!(counts["productcategories"], 1);
    for (name, n) in &counts {
        assert!(*n > 0 && *n <= 700, "{name}: {n}");
    }
    assert_eq!(counts["accountpayments"], generate::volumes(Scale::Small).account_payments);
    assert_eq!(counts["saleorderpayments"], generate::volumes(Scale::Small).order_payments);
}

#[test]
fn money_and_links_are_consistent() {
    let t = small();
    for (id, order) in &t.sets["saleorders"] {
        let total = match order.row.get("amountTotal") {
            Some(Val::Num(v)) => *v,
            _ => -1.0,
        };
        let paid = match order.row.get("totalPaid") {
            Some(Val::Num(v)) => *v,
            _ => -1.0,
        };
        let residual = match order.row.get("residual") {
            Some(Val::Num(v)) => *v,
            _ => -1.0,
        };
        assert!((total - paid - residual).abs() < 0.01, "order {id}: {total} != {paid} + {residual}");
        assert!(t.get("partners", order.row.str("partnerId")).is_some());
    }
    for a in t.sets["appointments"].values() {
        assert!(t.get("partners", a.row.str("partnerId")).is_some());
        assert!(t.get("companies", a.row.str("companyId")).is_some());
    }
    assert!(
        t.sets["appointments"]
            .values()
            .any(|a| a.row.datetime("date").is_some_and(|d| d.format("%Y").to_string() == "1224"))
    );
    let tooth_types: BTreeSet<&str> = t.sets["saleorderlines"].values().map(|l| l.row.str("toothType")).collect();
    assert!(tooth_types.contains("manual") && tooth_types.len() >= 3, "{tooth_types:?}");
    // COMB ids carry the creation time.
    for (id, rec) in t.sets["partners"].iter().take(20) {
        let utc = comb_time(id).unwrap_or_default();
        assert!((utc + Duration::hours(7) - rec.created).num_milliseconds().abs() <= 4);
    }
}

#[test]
fn rendered_rows_keep_template_shapes_and_leak_no_sample_values() {
    let t = small();
    let params = Params(vec![("columns".into(), "orderResidual".into())]);
    let now = start_time();
    for r in RESOURCES {
        let tpl = t.template(r.name).cloned().unwrap_or_default();
        for (id, rec) in t.sets[r.name].iter().take(50) {
            let v = views::render(&t, r, id, rec, false, now, &params);
            let obj = v.as_object().cloned().unwrap_or_default();
            for key in tpl.keys() {
                assert!(obj.contains_key(key), "{}: {key} missing", r.name);
            }
            for key in obj.keys() {
                assert!(key == "id" || tpl.contains_key(key), "{}: extra {key}", r.name);
            }
            for h in r.hidden {
                assert!(!obj.contains_key(*h) || tpl.contains_key(*h), "{}: hidden {h} in list", r.name);
            }
            let text = v.to_string();
            for sample in ["KHÁCH HÀNG 0", "Nhân viên 0", "Nhân viên 1", "Nhân viên 2"] {
                assert!(!text.contains(sample), "{}: sample value leaked: {text}", r.name);
            }
            if let Some(Value::String(tid)) = tpl.get("id").filter(|_| r.name != "companies") {
                assert_ne!(obj.get("id"), Some(&Value::String(tid.clone())));
            }
        }
    }
}

/// Every view's cached text is the row rendered afresh: for the day it is asked on (a
/// confirmed appointment turns late when its day passes) and after the data changed
/// (an appointment shows its customer's name).
#[test]
fn cached_texts_follow_the_day_and_the_data() {
    let mut t = small();
    let none = Params(Vec::new());
    fn fresh<'a>(t: &'a Tenant, set: &str, id: &str, view: views::View, now: NaiveDateTime) -> (String, Cow<'a, str>) {
        let none = Params(Vec::new());
        let r = resources::by_name(set).unwrap_or_else(|| panic!("{set}"));
        let rec = &t.sets[set][id];
        (views::render_view(t, r, id, rec, view, now, &none).to_string(), views::text(t, r, id, rec, view, now, &none))
    }
    let now = start_time();
    let (id, late_day) = t.sets["appointments"]
        .iter()
        .find_map(|(id, rec)| {
            let date = rec.row.datetime("date")?;
            (rec.row.str("state") == "confirmed" && date > now).then(|| (id.to_string(), date + Duration::days(1)))
        })
        .unwrap_or_else(|| panic!("a confirmed appointment ahead"));
    for view in [views::View::List, views::View::Detail] {
        let (expected, first) = fresh(&t, "appointments", &id, view, now);
        assert_eq!(first, expected);
        assert!(first.contains(r#""isLate":false"#), "{first}");
        let (_, again) = fresh(&t, "appointments", &id, view, now);
        assert!(matches!(again, Cow::Borrowed(_)), "the second ask is served from the cache");
        let (expected, later) = fresh(&t, "appointments", &id, view, late_day);
        assert_eq!(later, expected);
        assert!(later.contains(r#""isLate":true"#), "{later}");
    }
    for (pid, rec) in &t.sets["partners"] {
        for view in [views::View::PartnerSlim, views::View::PartnerDetail, views::View::List] {
            let r = resources::by_name("partners").unwrap_or_else(|| panic!("partners"));
            let _ = views::text(&t, r, pid, rec, view, now, &none);
            let (expected, cached) = fresh(&t, "partners", pid, view, now);
            assert_eq!(cached, expected, "partner {pid} {view:?}");
        }
    }
    // A customer renamed: the cached texts of the appointment and of the customer go.
    let partner = t.sets["appointments"][id.as_str()].row.str("partnerId").to_owned();
    t.forget_lists();
    if let Some(rec) = t.sets.get_mut("partners").and_then(|p| p.get_mut(partner.as_str())) {
        rec.row.set("name", Val::Str("Renamed Customer".into()));
    }
    let (expected, text) = fresh(&t, "appointments", &id, views::View::List, now);
    assert_eq!(text, expected);
    assert!(text.contains("Renamed Customer"), "{text}");
    let (expected, text) = fresh(&t, "partners", &partner, views::View::PartnerDetail, now);
    assert_eq!(text, expected);
    assert!(text.contains("Renamed Customer"), "{text}");
}

/// Rendered ahead, every row's list and detail texts are served from the cache and are
/// what a fresh render gives.
#[test]
fn prerendered_texts_are_the_rows_rendered() {
    let t = small();
    let now = start_time();
    t.prerender(now);
    let none = Params(Vec::new());
    for r in RESOURCES {
        for (id, rec) in &t.sets[r.name] {
            for view in [views::View::List, views::View::Detail] {
                let text = views::text(&t, r, id, rec, view, now, &none);
                assert!(matches!(text, Cow::Borrowed(_)), "{} {id} {view:?} rendered ahead", r.name);
                assert_eq!(text, views::render_view(&t, r, id, rec, view, now, &none).to_string());
            }
        }
    }
}

#[test]
fn mutate_is_deterministic() {
    let mut a = small();
    let mut b = small();
    let now = start_time() + Duration::hours(3);
    let ma = a.mutate(1, 1, now, 5);
    let mb = b.mutate(1, 1, now, 5);
    assert_eq!(ma, mb);
    assert_eq!(a.counts(), b.counts());
    assert_eq!(ma.deleted["appointments"], 5);
    assert_eq!(ma.inserted["appointments"], 5);
    assert!(ma.updated["saleorders"] > 0);
    for order in a.sets["saleorders"].values() {
        let n = |k| match order.row.get(k) {
            Some(Val::Num(v)) => *v,
            _ => 0.0,
        };
        assert!((n("amountTotal") - n("totalPaid") - n("residual")).abs() < 0.01);
    }
}

/// The production volumes of the real tenant (time and memory are measured by
/// `bench --bin sim-generate`, not here).
#[test]
fn tdental_scale_has_the_production_volumes() {
    let t = Tenant::generate(Scale::Tdental, 1, start_time());
    let counts = t.counts();
    assert_eq!(counts["partners"], 31_701);
    assert_eq!(counts["appointments"], 212_773);
    assert_eq!(counts["customerreceipts"], 162_788);
    assert_eq!(counts["dotkhams"], 83_768);
    assert_eq!(counts["saleorderlines"], 58_053);
    assert_eq!(counts["saleorders"], 56_340);
    assert_eq!(counts["accountpayments"], 53_528);
    assert_eq!(counts["saleorderpayments"], 49_895);
    assert_eq!(counts["stockmoves"], 1_670);
    assert_eq!(counts["products"], 443);
    assert_eq!(counts["employees"], 372);
    assert_eq!(counts["quotations"], 75);
    assert_eq!(counts["applicationusers"], 70);
    assert_eq!(counts["stockpickings"], 58);
}

async fn login(client: &reqwest::Client, base: &str, user: &str, password: &str) -> Value {
    let body = json!({"userName": user, "password": password, "rememberMe": false});
    match client.post(format!("{base}/api/Account/Login")).json(&body).send().await {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

#[tokio::test]
async fn http_contract() {
    let sim = crate::spawn(SimConfig::new(PmsKind::Tdental), 0).await.unwrap_or_else(|e| panic!("spawn: {e}"));
    let base = sim.api_url();
    let client = reqwest::Client::new();

    // Login: 200 on failure too.
    let bad = client
        .post(format!("{base}/api/account/login"))
        .json(&json!({"userName": "admin", "password": "nope", "rememberMe": false}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bad.status(), 200);
    let bad: Value = bad.json().await.unwrap_or_default();
    assert_eq!(bad, json!({"succeeded": false, "message": "Tài khoản hoặc mật khẩu không đúng"}));
    let ok = login(&client, &base, "admin", "admin").await;
    assert_eq!(ok["succeeded"], true);
    let token = ok["token"].as_str().unwrap_or_default().to_owned();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD_DECODE(parts[1])).unwrap_or_default();
    assert_eq!(claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0), 604_800);
    assert_eq!(claims["iat"].as_i64(), Some(unix(start_time())));

    let get = |path: &str| client.get(format!("{base}{path}")).bearer_auth(&token).send();

    // No token / wrong token → 401 empty.
    let anon = client.get(format!("{base}/api/Companies")).send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(anon.status(), 401);
    assert!(anon.text().await.unwrap_or_default().is_empty());
    let wrong =
        client.get(format!("{base}/api/Companies")).bearer_auth("x.y.z").send().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(wrong.status(), 401);

    // Envelope, case-insensitive routes, echo of limit 0.
    let companies: Value =
        get("/API/companies").await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(companies["totalItems"], 7);
    assert_eq!(companies["limit"], 2_147_483_647i64);
    assert_eq!(companies["aggregates"], Value::Null);
    let all: Value =
        get("/api/Appointments?limit=0").await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(all["limit"], 2_147_483_647i64);
    let n_appointments = all["totalItems"].as_u64().unwrap_or(0);
    assert_eq!(all["items"].as_array().map_or(0, Vec::len) as u64, n_appointments);
    let dates: Vec<&str> = all["items"].as_array().into_iter().flatten().filter_map(|a| a["date"].as_str()).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "appointments sorted by date asc");
    assert!(dates[0].starts_with("1224-"));
    let emp: Value = get("/api/Employees?limit=0&unknownParam=1")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(emp["limit"], 0);
    let page: Value = get("/api/SaleOrders").await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert_eq!(page["limit"], 20);
    assert_eq!(page["items"].as_array().map_or(0, Vec::len), 20);
    let first = &page["items"][0];
    assert!(first.get("companyId").is_none() && first.get("doctorId").is_none());
    assert!(first["partnerDisplayName"].as_str().unwrap_or_default().starts_with("[T"));
    assert!(first["amountTotal"].is_f64());
    let order_id = first["id"].as_str().unwrap_or_default().to_owned();
    let detail: Value = get(&format!("/api/saleorders/{order_id}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert!(detail["companyId"].is_string());

    // Date windows: one-sided → 500 envelope; paired, inclusive to end of day.
    for path in [
        "/api/Appointments?dateTimeFrom=2026-03-01",
        "/api/Appointments?dateTimeTo=2026-03-01",
        "/api/CustomerReceipts?dateFrom=2026-03-01",
    ] {
        let r = get(path).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 500, "{path}");
        let body: Value = r.json().await.unwrap_or_default();
        assert_eq!(body["message"], "TDental Server Error");
        assert_eq!(body["data"]["name"], "InvalidOperationException");
    }
    let day: Value = get("/api/Appointments?dateTimeFrom=2026-03-02&dateTimeTo=2026-03-02&limit=0")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    for a in day["items"].as_array().into_iter().flatten() {
        assert!(a["date"].as_str().unwrap_or_default().starts_with("2026-03-02"));
    }
    let receipts: Value = get("/api/CustomerReceipts?dateFrom=2025-01-01&dateTo=2026-03-02&limit=5")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert!(receipts["totalItems"].as_u64().unwrap_or(0) > 0);
    assert!(receipts["items"][0].get("companyId").is_none());

    // Account payments: list lacks partnerId/companyId, detail has them.
    let pays: Value =
        get("/api/AccountPayments?limit=1").await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    let pay = &pays["items"][0];
    assert!(pay.get("partnerId").is_none() && pay.get("companyId").is_none());
    let pid = pay["id"].as_str().unwrap_or_default();
    let pd: Value = get(&format!("/api/AccountPayments/{pid}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert!(pd["companyId"].is_string());

    // DotKhamSteps: a bare array of everything.
    let steps: Value =
        get("/api/DotKhamSteps?limit=1").await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert!(steps.as_array().is_some_and(|a| a.len() > 1));

    // Partners: three shapes.
    let customers: Value = get("/api/Partners/GetPagedPartnersCustomer?limit=2&isActive=true")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    let partner_id = customers["items"][0]["id"].as_str().unwrap_or_default().to_owned();
    let fat: Value = get(&format!("/api/Partners/{partner_id}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert!(fat["displayName"].as_str().unwrap_or_default().starts_with('['));
    let slim: Value =
        get("/api/Partners?limit=1").await.unwrap_or_else(|e| panic!("{e}")).json().await.unwrap_or_default();
    assert!(slim["items"][0]["date"].as_str().unwrap_or_default().contains('/'));
    assert_eq!(
        get("/api/Partners/00000000-0000-0000-0000-000000000001").await.map(|r| r.status().as_u16()).unwrap_or(0),
        404
    );

    // Writes.
    let company = companies["items"][1]["id"].as_str().unwrap_or_default().to_owned();
    let created = client
        .post(format!("{base}/api/Appointments"))
        .bearer_auth(&token)
        .json(
            &json!({"date": "2026-03-05T09:30:00", "partnerId": partner_id, "companyId": company, "timeExpected": 30}),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap_or_default();
    assert_eq!(created["state"], "confirmed");
    assert!(created["name"].as_str().unwrap_or_default().starts_with("AP"));
    let aid = created["id"].as_str().unwrap_or_default().to_owned();
    let missing = client
        .post(format!("{base}/api/Appointments"))
        .bearer_auth(&token)
        .json(&json!({"partnerId": partner_id}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(missing, 400);
    let patch = |state: &str| {
        client
            .patch(format!("{base}/api/Appointments/{aid}/PatchState"))
            .bearer_auth(&token)
            .json(&json!({"state": state, "reason": "Khách bận"}))
            .send()
    };
    assert_eq!(patch("cancel").await.map(|r| r.status().as_u16()).unwrap_or(0), 204);
    assert_eq!(patch("flying").await.map(|r| r.status().as_u16()).unwrap_or(0), 400);
    let one: Value = get(&format!("/api/Appointments/{aid}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(one["state"], "cancel");
    assert!(one["userId"].is_string() && one["dateCreated"].is_string());
    let put = client
        .put(format!("{base}/api/Appointments/00000000-0000-0000-0000-000000000009"))
        .bearer_auth(&token)
        .json(&json!({"date": "2026-03-05T09:30:00", "partnerId": partner_id, "companyId": company}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(put, 404);
    let upd = client
        .put(format!("{base}/api/Partners/Customers"))
        .bearer_auth(&token)
        .json(&json!({"id": partner_id, "name": "Trần Thị Mới", "phone": "0901234567"}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(upd, 204);
    let fat: Value = get(&format!("/api/Partners/{partner_id}"))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(fat["phone"], "0901234567");
    assert!(sim.control.writes().len() >= 5);

    // Refresh, then expiry on the simulated clock.
    let refreshed: Value = client
        .post(format!("{base}/api/Account/Refresh"))
        .json(&json!({"refreshToken": ok["refreshToken"]}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert!(refreshed["accessToken"].is_string());
    let unknown = client
        .post(format!("{base}/api/Account/Refresh"))
        .json(&json!({"refreshToken": "nope"}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(unknown, 400);
    sim.control.advance(Duration::days(8));
    assert_eq!(get("/api/Companies").await.map(|r| r.status().as_u16()).unwrap_or(0), 401);
}

#[allow(non_snake_case)]
fn URL_SAFE_NO_PAD_DECODE(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap_or_default()
}
