//! Store upsert throughput: N procedure rows (with their raw payloads) upserted in batches,
//! first as new rows, then again unchanged, on SQLite and/or PostgreSQL.
//!
//! Run with `cargo run --release -p enamel-bench --bin store-upsert -- --rows 500000`.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};
use clap::{Parser, ValueEnum};
use enamel_domain::enums::*;
use enamel_domain::records::*;
use enamel_domain::{Amount, Currency, PracticeId, Source, SourceKey, SyncRow, ToothList, ToothScope};
use enamel_store::{NewPractice, Store};

/// mimalloc: the store's batches allocate many small values; glibc malloc spent a quarter
/// of a bulk upsert in malloc/free (perf, BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
    Both,
}

/// Measures batched upserts of procedure-sized rows.
#[derive(Debug, Parser)]
struct Args {
    /// Procedure rows to upsert.
    #[arg(long, default_value_t = 500_000)]
    rows: u32,
    /// Rows per upsert call (one transaction each, like a sync page).
    #[arg(long, default_value_t = 2_000)]
    batch: usize,
    /// Patients the procedures belong to (upserted first, not timed).
    #[arg(long, default_value_t = 10_000)]
    patients: u32,
    /// Which backend.
    #[arg(long, value_enum, default_value_t = Backend::Both)]
    backend: Backend,
    /// PostgreSQL server URL (a fresh database `enamel_bench_<n>` is created and dropped).
    #[arg(long, env = "ENAMEL_TEST_POSTGRES_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Keep raw payloads out (measures the mapped rows alone).
    #[arg(long)]
    no_raw: bool,
    /// Batches upserted at once, each on its own connection and transaction (like
    /// independent streams syncing side by side).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
}

fn key(n: u32) -> SourceKey {
    SourceKey::from(i64::from(n))
}

fn patient(n: u32) -> SyncRow<Patient<Keyed>> {
    SyncRow::new(
        key(n),
        Patient {
            family_id: None,
            is_guarantor: true,
            chart_number: Some(format!("C{n:06}")),
            first_name: format!("First{n}"),
            last_name: format!("Last{n}"),
            middle_name: None,
            preferred_name: None,
            gender: Gender::Unknown,
            birth_date: None,
            status: PatientStatus::Active,
            status_source: "Patient".into(),
            phone_home: None,
            phone_work: None,
            phone_mobile: None,
            email: None,
            address_line1: None,
            address_line2: None,
            city: None,
            region: None,
            postal_code: None,
            ssn: None,
            primary_provider_id: None,
            location_id: None,
            fee_schedule_id: None,
            referral_source_id: None,
            first_visit_on: None,
            registered_at: None,
            note: None,
        },
    )
}

/// A procedure shaped like an Open Dental procedurelog row, with a raw payload of the
/// size the real API sends (~40 fields).
fn procedure(n: u32, patients: u32, raw: bool) -> SyncRow<Procedure<Keyed>> {
    let patient = n % patients + 1;
    let day = NaiveDate::from_ymd_opt(2021, 1, 1).map(|d| d + Duration::days(i64::from(n % 1800)));
    let mut row = SyncRow::new(
        key(n),
        Procedure {
            patient_id: key(patient),
            appointment_id: None,
            procedure_code_id: None,
            provider_id: None,
            location_id: None,
            treatment_plan_id: None,
            status: ProcedureStatus::Completed,
            status_source: "C".into(),
            performed_on: day,
            teeth: ToothList::parse_fdi(if n.is_multiple_of(3) { "16 17" } else { "" }).unwrap_or_default(),
            tooth_scope: ToothScope::Teeth,
            tooth_text: Some("3".into()),
            surfaces: Some("MOD".into()),
            quantity: 1.0,
            fee: Amount(i64::from(5_000 + n % 20_000)),
            discount: Amount::ZERO,
            diagnosis: Some("Caries".into()),
        },
    );
    if raw {
        row.raw = Some(enamel_domain::RawJson::from_value(&serde_json::json!({
            "ProcNum": n, "PatNum": patient, "AptNum": 0, "ProcDate": "2021-02-16", "ProcFee": "88.00",
            "Surf": "MOD", "ToothNum": "3", "ToothRange": "", "Priority": 0, "priority": "", "ProcStatus": "C",
            "ProvNum": 1, "provAbbr": "DOC1", "Dx": 0, "dxName": "", "PlannedAptNum": 0, "ClinicNum": 0,
            "CodeNum": 4, "procCode": "D2391", "descript": "Resin-based composite - one surface, posterior",
            "UnitQty": 1, "BaseUnits": 0, "DateTStamp": "2021-02-16 09:43:17", "ProcTime": "00:00:00",
            "ProcTimeEnd": "00:00:00", "Prognosis": 0, "DateComplete": "2021-02-16", "Discount": 0.0,
            "IsDateProsthEst": "false", "serverDateTime": "2026-03-02 10:00:00"
        })));
    }
    row
}

async fn run(label: &str, url: &str, args: &Args) -> Result<()> {
    let store = Store::connect(url).await.with_context(|| format!("connect {label}"))?;
    store.migrate().await?;
    let practice: PracticeId = store
        .create_practice(NewPractice {
            name: "Bench".into(),
            time_zone: chrono_tz::America::New_York,
            currency: Currency::Usd,
        })
        .await?
        .id;
    for chunk in (1..=args.patients).collect::<Vec<_>>().chunks(args.batch) {
        store.upsert(practice, Source::OpenDental, &chunk.iter().map(|&n| patient(n)).collect::<Vec<_>>()).await?;
    }
    for pass in ["new", "unchanged"] {
        // Batches are dealt round-robin to `concurrency` workers. Only the upserts are timed:
        // building the rows is the adapter's work.
        let batches: Vec<(u32, u32)> = (0..args.rows.div_ceil(args.batch as u32))
            .map(|b| (b * args.batch as u32 + 1, ((b + 1) * args.batch as u32).min(args.rows)))
            .collect();
        let started = Instant::now();
        let mut workers = Vec::new();
        for w in 0..args.concurrency.max(1) {
            let mine: Vec<(u32, u32)> = batches.iter().copied().skip(w).step_by(args.concurrency.max(1)).collect();
            let store = store.clone();
            let (patients, raw) = (args.patients, !args.no_raw);
            workers.push(tokio::spawn(async move {
                let mut total = enamel_store::UpsertReport::default();
                let mut busy = std::time::Duration::ZERO;
                for (from, to) in mine {
                    let rows: Vec<_> = (from..=to).map(|i| procedure(i, patients, raw)).collect();
                    let t = Instant::now();
                    total.absorb(store.upsert(practice, Source::OpenDental, &rows).await?);
                    busy += t.elapsed();
                }
                anyhow::Ok((total, busy))
            }));
        }
        let mut total = enamel_store::UpsertReport::default();
        let mut busy = std::time::Duration::ZERO;
        for w in workers {
            let (t, b) = w.await??;
            total.absorb(t);
            busy = busy.max(b);
        }
        // With one worker, time spent building rows is excluded; with several, the slowest
        // worker's upsert time bounds the wall clock from below.
        let secs = if args.concurrency <= 1 { busy.as_secs_f64() } else { started.elapsed().as_secs_f64() };
        anyhow::ensure!(total.rejected.is_empty(), "rows rejected: {}", total.rejected.len());
        let expected = u64::from(args.rows);
        match pass {
            "new" => anyhow::ensure!(total.inserted == expected, "inserted {total:?}"),
            _ => anyhow::ensure!(total.unchanged == expected, "unchanged {total:?}"),
        }
        println!(
            "{label:<10} {pass:<9} {:>8} rows in {secs:>7.2} s = {:>9.0} rows/s  (batch {}, concurrency {}, raw payloads {})",
            args.rows,
            f64::from(args.rows) / secs,
            args.batch,
            args.concurrency,
            if args.no_raw { "off" } else { "on" }
        );
    }
    store.close().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    if matches!(args.backend, Backend::Sqlite | Backend::Both) {
        let path = std::env::temp_dir().join(format!("enamel-bench-{tag}.db"));
        let result = run("sqlite", &format!("sqlite://{}", path.display()), &args).await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        result?;
    }
    if matches!(args.backend, Backend::Postgres | Backend::Both) {
        let base = args.postgres.rsplit_once('/').map_or(args.postgres.as_str(), |(b, _)| b);
        let url = format!("{base}/enamel_bench_{tag}");
        Store::create_postgres_database(&url).await?;
        let result = run("postgres", &url, &args).await;
        Store::drop_postgres_database(&url).await?;
        result?;
    }
    Ok(())
}
