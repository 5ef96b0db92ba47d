//! The store on both backends: migrations, upserts, reconciliation, reads, transactions.

use std::collections::HashSet;

use anyhow::{Context, Result, ensure};
use enamel_domain::ids::*;
use enamel_domain::{Source, SyncCounts, SyncRunStatus};
use enamel_store::tables::appointment;
use enamel_store::{ChildPage, NewConnection, SoftDelete, Store, StoreError};

use crate::fixtures::*;
use crate::support::backend_tests;

mod isolation;

backend_tests!(
    migrations_go_up_down_and_up_to_the_same_schema,
    the_same_batch_twice_changes_nothing,
    a_changed_row_is_updated_once,
    a_repeated_key_in_a_batch_counts_once,
    soft_delete_touches_only_absent_keys,
    mass_deletion_is_refused,
    unresolved_references_reject_only_their_rows,
    references_resolve_within_the_practice_only,
    remembered_ids_come_only_from_committed_rows,
    a_batch_prepared_outside_its_transaction_writes_as_an_upsert_would,
    rows_of_a_practice_that_is_gone_are_reported,
    synced_rows_stay_through_the_practice_key_migrations,
    children_are_limited_and_ordered_per_parent,
    children_of_a_thousand_parents_are_one_statement,
    records_round_trip_with_their_values,
    raw_payloads_are_kept_and_replaced,
    a_page_and_its_checkpoint_commit_together,
    sync_runs_are_recorded,
    a_transaction_abandoned_while_it_begins_leaves_no_connection_inside_it,
    connections_belong_to_their_practice,
    lookup_indexes_are_deferred_only_on_an_empty_table_and_come_back_the_same,
    deferred_indexes_come_back_when_their_migration_goes_down,
    keys_said_absent_are_not_looked_for_and_a_wrong_claim_fails,
);

async fn migrations_go_up_down_and_up_to_the_same_schema(store: Store) -> Result<()> {
    let first = store.schema_description().await?;
    ensure!(first.len() > 100, "expected a full schema, got {} lines", first.len());
    ensure!(store.pending_migrations().await?.is_empty());
    store.migrate_down_all().await?;
    let empty = store.schema_description().await?;
    ensure!(empty.is_empty(), "down left: {empty:#?}");
    store.migrate().await?;
    let again = store.schema_description().await?;
    ensure!(first == again, "schema differs after up → down → up");
    Ok(())
}

async fn synced_rows_stay_through_the_practice_key_migrations(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let mut first = patient(1);
    first.raw = Some(enamel_domain::RawJson::from_value(&serde_json::json!({"PatNum": 1, "Unmodelled": "x"})));
    store.upsert(p, Source::OpenDental, &[first, patient(2)]).await?;
    store.upsert(p, Source::OpenDental, &[procedure(1, 1, None)]).await?;
    let before = store.fingerprint::<PatientId>(p, Source::OpenDental).await?;
    // Migrations 10 and 9 down (SQLite rebuilds its tables with the practice key, PostgreSQL
    // adds it back), then up again: the rows, their payloads and references stay.
    store.migrate_down(2).await?;
    ensure!(store.pending_migrations().await?.len() == 2, "{:?}", store.pending_migrations().await?);
    ensure!(store.fingerprint::<PatientId>(p, Source::OpenDental).await? == before, "patients changed going down");
    store.migrate().await?;
    ensure!(store.fingerprint::<PatientId>(p, Source::OpenDental).await? == before, "patients changed going up");
    let stored = store.find_by_source_id::<PatientId>(p, Source::OpenDental, &key(1)).await?.context("patient")?;
    ensure!(store.raw_payload(p, stored.id).await?.context("raw")?["Unmodelled"] == "x");
    ensure!(store.check_references(p).await?.is_empty(), "a reference dangles");
    let again = store.upsert(p, Source::OpenDental, &[patient(3)]).await?;
    ensure!(again.inserted == 1, "{again:?}");
    Ok(())
}

async fn the_same_batch_twice_changes_nothing(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let patients: Vec<_> = (1..=50).map(patient).collect();
    let first = store.upsert(p, Source::OpenDental, &patients).await?;
    ensure!((first.inserted, first.updated, first.unchanged) == (50, 0, 0), "{first:?}");
    let again = store.upsert(p, Source::OpenDental, &patients).await?;
    ensure!((again.inserted, again.updated, again.unchanged) == (0, 0, 50), "{again:?}");
    let procs: Vec<_> = (1..=50).map(|n| procedure(n, n, None)).collect();
    store.upsert(p, Source::OpenDental, &procs).await?;
    let again = store.upsert(p, Source::OpenDental, &procs).await?;
    ensure!((again.inserted, again.updated, again.unchanged) == (0, 0, 50), "{again:?}");
    Ok(())
}

async fn a_changed_row_is_updated_once(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let mut rows: Vec<_> = (1..=10).map(patient).collect();
    store.upsert(p, Source::OpenDental, &rows).await?;
    rows[3].data.last_name = "Renamed".to_owned();
    let changed = store.upsert(p, Source::OpenDental, &rows).await?;
    ensure!((changed.inserted, changed.updated, changed.unchanged) == (0, 1, 9), "{changed:?}");
    let again = store.upsert(p, Source::OpenDental, &rows).await?;
    ensure!((again.inserted, again.updated, again.unchanged) == (0, 0, 10), "{again:?}");
    Ok(())
}

async fn a_repeated_key_in_a_batch_counts_once(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let mut late = patient(1);
    late.data.last_name = "Later".to_owned();
    let report = store.upsert(p, Source::OpenDental, &[patient(1), patient(2), late]).await?;
    ensure!((report.inserted, report.updated) == (2, 0), "{report:?}");
    let again = store
        .upsert(
            p,
            Source::OpenDental,
            &[{
                let mut r = patient(1);
                r.data.last_name = "Later".to_owned();
                r
            }],
        )
        .await?;
    ensure!(again.unchanged == 1, "the last occurrence should have won: {again:?}");
    Ok(())
}

async fn soft_delete_touches_only_absent_keys(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    store.upsert(p, Source::OpenDental, &(1..=10).map(patient).collect::<Vec<_>>()).await?;
    let present: HashSet<_> = (1..=7).map(key).collect();
    let tx = store.begin().await?;
    let outcome = tx.soft_delete_absent::<PatientId>(p, Source::OpenDental, "", &present, 0.5).await?;
    tx.commit().await?;
    ensure!(outcome == SoftDelete::Applied { deleted: 3, live_before: 10 }, "{outcome:?}");

    // Again: nothing more to delete.
    let tx = store.begin().await?;
    let outcome = tx.soft_delete_absent::<PatientId>(p, Source::OpenDental, "", &present, 0.5).await?;
    tx.commit().await?;
    ensure!(outcome == SoftDelete::Applied { deleted: 0, live_before: 7 }, "{outcome:?}");

    // A deleted row that comes back is revived, as an update.
    let back = store.upsert(p, Source::OpenDental, &(1..=10).map(patient).collect::<Vec<_>>()).await?;
    ensure!((back.inserted, back.updated, back.unchanged) == (0, 3, 7), "{back:?}");
    Ok(())
}

async fn mass_deletion_is_refused(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    store.upsert(p, Source::OpenDental, &(1..=10).map(patient).collect::<Vec<_>>()).await?;
    let tx = store.begin().await?;
    let outcome = tx.soft_delete_absent::<PatientId>(p, Source::OpenDental, "", &HashSet::new(), 0.2).await?;
    tx.commit().await?;
    ensure!(outcome == SoftDelete::Refused { would_delete: 10, live: 10 }, "{outcome:?}");
    let again = store.upsert(p, Source::OpenDental, &(1..=10).map(patient).collect::<Vec<_>>()).await?;
    ensure!(again.unchanged == 10, "a refused pass must change nothing: {again:?}");
    Ok(())
}

async fn unresolved_references_reject_only_their_rows(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    store.upsert(p, Source::OpenDental, &(1..=3).map(patient).collect::<Vec<_>>()).await?;
    let rows = vec![procedure(1, 1, None), procedure(2, 99, None), procedure(3, 3, Some(77))];
    let report = store.upsert(p, Source::OpenDental, &rows).await?;
    ensure!(report.inserted == 1, "{report:?}");
    let reasons: Vec<String> = report.rejected.iter().map(ToString::to_string).collect();
    ensure!(
        reasons
            == [
                "row 2 refers through patient_id to patient 99 which is not in the store",
                "row 3 refers through appointment_id to appointment 77 which is not in the store",
            ],
        "{reasons:#?}"
    );
    ensure!(store.check_references(p).await?.is_empty());
    Ok(())
}

async fn references_resolve_within_the_practice_only(store: Store) -> Result<()> {
    let a = practice(&store, "A").await;
    let b = practice(&store, "B").await;
    store.upsert(a, Source::OpenDental, &[patient(1)]).await?;
    // Practice B has no patient 1; nor does another source of practice A.
    let report = store.upsert(b, Source::OpenDental, &[procedure(1, 1, None)]).await?;
    ensure!(report.inserted == 0 && report.rejected.len() == 1, "{report:?}");
    let report = store.upsert(a, Source::Tdental, &[procedure(1, 1, None)]).await?;
    ensure!(report.inserted == 0 && report.rejected.len() == 1, "{report:?}");
    Ok(())
}

/// SQLite copies its write-ahead log into the database file (a checkpoint) off the writer's
/// thread: the writer's own threshold is 10,000 pages, and each of its commits starts a
/// checkpoint on the pool. A few thousand rows (well under that threshold) reach the file.
#[tokio::test]
async fn sqlite_checkpoints_the_writers_log_in_the_background() -> Result<()> {
    let path = std::env::temp_dir().join(format!("enamel-wal-{}.db", uuid::Uuid::new_v4().simple()));
    let store = Store::connect(&format!("sqlite://{}", path.display())).await?;
    store.migrate().await?;
    let p = practice(&store, "A").await;
    let file_size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let before = file_size();
    let tx = store.begin().await?;
    tx.upsert(p, Source::OpenDental, &(1..=5_000).map(patient).collect::<Vec<_>>()).await?;
    tx.commit().await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while file_size() < before + 1_000_000 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let after = file_size();
    store.close().await?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    ensure!(after >= before + 1_000_000, "the log was not copied into the file: {before} → {after} bytes");
    Ok(())
}

/// The store remembers the ids of keys it has stored, so that later references need no
/// look-up; a rolled-back insert must leave nothing remembered, or a later reference would
/// point at a row that never landed.
async fn remembered_ids_come_only_from_committed_rows(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let tx = store.begin().await?;
    tx.upsert(p, Source::OpenDental, &[patient(1), patient(2)]).await?;
    // Within the transaction the new patients resolve (from the database).
    let report = tx.upsert(p, Source::OpenDental, &[procedure(1, 1, None)]).await?;
    ensure!(report.inserted == 1 && report.rejected.is_empty(), "{report:?}");
    tx.rollback().await?;
    let report = store.upsert(p, Source::OpenDental, &[procedure(2, 1, None)]).await?;
    ensure!(report.inserted == 0 && report.rejected.len() == 1, "a rolled-back patient resolved: {report:?}");

    // Stored again (with new ids) and committed, they resolve, to the rows that landed.
    store.upsert(p, Source::OpenDental, &[patient(1), patient(2)]).await?;
    let report = store.upsert(p, Source::OpenDental, &[procedure(3, 1, None), procedure(4, 2, None)]).await?;
    ensure!(report.inserted == 2 && report.rejected.is_empty(), "{report:?}");
    ensure!(store.check_references(p).await?.is_empty(), "a reference dangles");
    ensure!(store.live_ids::<ProcedureId>(p).await?.len() == 2);
    Ok(())
}

async fn a_batch_prepared_outside_its_transaction_writes_as_an_upsert_would(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let od = Source::OpenDental;
    let mut rows: Vec<_> = (1..=4).map(patient).collect();
    store.upsert(p, od, &rows[..2]).await?;
    rows[1].data.last_name = "Renamed".to_owned();
    // Prepared while another transaction writes another key: what is read is what is
    // committed, so that transaction's patient does not resolve.
    let other = store.begin().await?;
    other.upsert(p, od, &[patient(9)]).await?;
    let patients = store.prepare_upsert(p, od, &rows).await?;
    let procedures = store.prepare_upsert(p, od, &[procedure(1, 1, None), procedure(2, 9, None)]).await?;
    other.commit().await?;
    let tx = store.begin().await?;
    let report = tx.write_prepared(patients).await?;
    ensure!((report.inserted, report.updated, report.unchanged) == (2, 1, 1), "{report:?}");
    let report = tx.write_prepared(procedures).await?;
    ensure!(report.inserted == 1 && report.rejected.len() == 1, "{report:?}");
    tx.commit().await?;
    // The store holds what upserts would have left, and remembers the prepared rows' ids.
    let again = store.upsert(p, od, &rows).await?;
    ensure!(again.unchanged == 4, "{again:?}");
    let report = store.upsert(p, od, &[procedure(3, 3, None), procedure(4, 9, None)]).await?;
    ensure!(report.inserted == 2 && report.rejected.is_empty(), "{report:?}");
    ensure!(store.check_references(p).await?.is_empty(), "a reference dangles");

    // A key stored by another transaction after the batch was prepared: writing it fails on
    // the unique key rather than storing the row twice.
    let late = store.prepare_upsert(p, od, &[patient(5)]).await?;
    store.upsert(p, od, &[patient(5)]).await?;
    let tx = store.begin().await?;
    ensure!(tx.write_prepared(late).await.is_err(), "a prepared insert of a stored key was written");
    tx.rollback().await?;
    ensure!(store.live_ids::<PatientId>(p).await?.len() == 6, "patients 1–5 and 9, once each");

    // A batch that fails part-way leaves its transaction able only to roll back: the rows
    // its statement wrote before the failure (SQLite's `INSERT OR FAIL` keeps them) go too.
    let late = store.prepare_upsert(p, od, &[patient(20), patient(6)]).await?;
    store.upsert(p, od, &[patient(6)]).await?;
    let tx = store.begin().await?;
    ensure!(tx.write_prepared(late).await.is_err(), "a prepared insert of a stored key was written");
    ensure!(tx.commit().await.is_err(), "a transaction whose batch failed committed");
    ensure!(store.live_ids::<PatientId>(p).await?.len() == 7, "patients 1–6 and 9: patient 20 rolled back");
    Ok(())
}

async fn rows_of_a_practice_that_is_gone_are_reported(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    store.upsert(p, Source::OpenDental, &[patient(1), patient(2)]).await?;
    store.upsert(p, Source::OpenDental, &[procedure(1, 1, None)]).await?;
    ensure!(store.check_references(p).await?.is_empty(), "a reference dangles");
    // Deleted behind the store's back (it offers no way to delete a practice).
    let id = p.uuid();
    let delete = match store.backend() {
        enamel_store::Backend::Postgres => format!("DELETE FROM practice WHERE id = '{id}'"),
        enamel_store::Backend::Sqlite => format!("DELETE FROM practice WHERE id = X'{}'", id.simple()),
    };
    store.execute_sql(&delete).await?;
    let found: Vec<(&str, &str, u64)> =
        store.check_references(p).await?.iter().map(|d| (d.table, d.column, d.rows)).collect();
    // Synced rows declare no constraint on their practice (migrations 9 and 10): the rows
    // stay, and the check reports them.
    let expected = vec![("patient", "practice_id", 2), ("procedure", "practice_id", 1)];
    ensure!(found == expected, "{found:?}");
    Ok(())
}

async fn children_are_limited_and_ordered_per_parent(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    store.upsert(p, Source::OpenDental, &(1..=3).map(patient).collect::<Vec<_>>()).await?;
    // Patient n has 5 appointments at hours n*100 + 0..5.
    let appts: Vec<_> =
        (1..=3).flat_map(|pt| (0..5).map(move |h| appointment(pt * 10 + h, pt, i64::from(pt * 100 + h)))).collect();
    store.upsert(p, Source::OpenDental, &appts).await?;
    let ids = patient_ids(&store, p, &[1, 2, 3]).await?;

    let latest_two = store
        .children(p, appointment::BY_PATIENT, &ids, ChildPage::all(appointment::START_AT).first(2).descending())
        .await?;
    let got: Vec<(PatientId, String)> =
        latest_two.iter().map(|a| (a.data.patient_id, a.meta.source_id.to_string())).collect();
    let want: Vec<(PatientId, String)> = [(1, "14"), (1, "13"), (2, "24"), (2, "23"), (3, "34"), (3, "33")]
        .iter()
        .map(|(pt, k)| (ids_of(&ids, *pt), (*k).to_owned()))
        .collect();
    ensure!(sorted_by_parent(got) == sorted_by_parent(want), "latest two per patient");

    let all = store.children(p, appointment::BY_PATIENT, &ids[..1], ChildPage::all(appointment::START_AT)).await?;
    let keys: Vec<String> = all.iter().map(|a| a.meta.source_id.to_string()).collect();
    ensure!(keys == ["10", "11", "12", "13", "14"], "{keys:?}");
    Ok(())
}

fn ids_of(ids: &[PatientId], n: usize) -> PatientId {
    ids[n - 1]
}

fn sorted_by_parent(mut v: Vec<(PatientId, String)>) -> Vec<(PatientId, String)> {
    // Stable: keeps each parent's order.
    v.sort_by_key(|(p, _)| *p);
    v
}

/// Internal ids of patients by source key, in the order asked.
async fn patient_ids(store: &Store, p: enamel_domain::PracticeId, keys: &[u32]) -> Result<Vec<PatientId>> {
    let mut out = Vec::new();
    for k in keys {
        let found =
            store.find_by_source_id::<PatientId>(p, Source::OpenDental, &key(k)).await?.context("patient not found")?;
        out.push(found.id);
    }
    Ok(out)
}

async fn children_of_a_thousand_parents_are_one_statement(mut store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    store.upsert(p, Source::OpenDental, &(1..=1000).map(patient).collect::<Vec<_>>()).await?;
    let appts: Vec<_> =
        (1..=1000).flat_map(|pt| (0..3).map(move |h| appointment(pt * 10 + h, pt, i64::from(h)))).collect();
    store.upsert(p, Source::OpenDental, &appts).await?;
    let ids: Vec<PatientId> = store.live_ids::<PatientId>(p).await?;
    ensure!(ids.len() == 1000);

    let counter = store.count_statements();
    counter.reset();
    let rows = store
        .children(p, appointment::BY_PATIENT, &ids, ChildPage::all(appointment::START_AT).first(2).descending())
        .await?;
    ensure!(counter.get() == 1, "expected one statement, ran {}", counter.get());
    ensure!(rows.len() == 2000, "two per parent, got {}", rows.len());
    Ok(())
}

async fn records_round_trip_with_their_values(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    store.upsert(p, Source::OpenDental, &[patient(1)]).await?;
    store.upsert(p, Source::OpenDental, &[appointment(5, 1, 3)]).await?;
    let sent = procedure(9, 1, Some(5));
    store.upsert(p, Source::OpenDental, std::slice::from_ref(&sent)).await?;
    let pat = store.find_by_source_id::<PatientId>(p, Source::OpenDental, &key(1)).await?.context("patient")?;
    ensure!(pat.data.birth_date == patient(1).data.birth_date && pat.data.last_name == "Last1");
    let got = store.find_by_source_id::<ProcedureId>(p, Source::OpenDental, &key(9)).await?.context("procedure")?;
    ensure!(got.data.patient_id == pat.id);
    ensure!(
        got.data.teeth == sent.data.teeth && got.data.fee == sent.data.fee && got.data.surfaces == sent.data.surfaces
    );
    ensure!(got.data.status == sent.data.status && got.data.performed_on == sent.data.performed_on);
    ensure!(got.meta.source == Source::OpenDental && got.meta.deleted_at.is_none());
    let appt = store.get(p, got.data.appointment_id.context("appointment link")?).await?;
    ensure!(appt.data.start_at == base_time() + chrono::Duration::hours(3));
    // By id, from another practice: not found.
    ensure!(store.check_references(p).await?.is_empty());
    let other = practice(&store, "B").await;
    match store.get::<ProcedureId>(other, got.id).await {
        Err(StoreError::NotFound { .. }) => {}
        other => anyhow::bail!("expected NotFound, got {other:?}"),
    }
    Ok(())
}

async fn raw_payloads_are_kept_and_replaced(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let mut row = patient(1);
    row.raw = Some(enamel_domain::RawJson::from_value(
        &serde_json::json!({"PatNum": 1, "LName": "Last1", "Unmodelled": "x"}),
    ));
    store.upsert(p, Source::OpenDental, std::slice::from_ref(&row)).await?;
    let stored = store.find_by_source_id::<PatientId>(p, Source::OpenDental, &key(1)).await?.context("patient")?;
    ensure!(store.raw_payload(p, stored.id).await?.context("raw")?["Unmodelled"] == "x");
    row.data.first_name = "Changed".to_owned();
    row.raw = Some(enamel_domain::RawJson::from_value(&serde_json::json!({"PatNum": 1, "Unmodelled": "y"})));
    store.upsert(p, Source::OpenDental, &[row]).await?;
    ensure!(store.raw_payload(p, stored.id).await?.context("raw")?["Unmodelled"] == "y");
    let other = practice(&store, "B").await;
    ensure!(store.raw_payload(other, stored.id).await?.is_none(), "raw payloads are practice-scoped");
    Ok(())
}

async fn a_page_and_its_checkpoint_commit_together(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let conn = store
        .add_connection(
            p,
            NewConnection {
                kind: Source::OpenDental,
                base_url: "http://od".into(),
                mode: Some("remote".into()),
                credentials: None,
            },
        )
        .await?;
    let tx = store.begin().await?;
    tx.upsert(p, Source::OpenDental, &(1..=5).map(patient).collect::<Vec<_>>()).await?;
    tx.save_checkpoint(p, conn.id, "patients", None, Some(serde_json::json!({"offset": 5}))).await?;
    tx.rollback().await?;
    ensure!(store.checkpoint(p, conn.id, "patients").await?.is_none());
    ensure!(store.live_ids::<PatientId>(p).await?.is_empty(), "rolled back rows must not land");

    let tx = store.begin().await?;
    tx.upsert(p, Source::OpenDental, &(1..=5).map(patient).collect::<Vec<_>>()).await?;
    tx.save_checkpoint(p, conn.id, "patients", None, Some(serde_json::json!({"offset": 5}))).await?;
    tx.commit().await?;
    let cp = store.checkpoint(p, conn.id, "patients").await?.context("checkpoint")?;
    ensure!(cp.progress == Some(serde_json::json!({"offset": 5})) && cp.cursor.is_none());
    ensure!(store.live_ids::<PatientId>(p).await?.len() == 5);

    let tx = store.begin().await?;
    tx.save_checkpoint(p, conn.id, "patients", Some(serde_json::json!("2026-03-02 10:00:00")), None).await?;
    tx.commit().await?;
    let cp = store.checkpoint(p, conn.id, "patients").await?.context("checkpoint")?;
    ensure!(cp.cursor == Some(serde_json::json!("2026-03-02 10:00:00")) && cp.progress.is_none());
    Ok(())
}

async fn a_transaction_abandoned_while_it_begins_leaves_no_connection_inside_it(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let kind = Source::Tdental;
    let new = NewConnection { kind, base_url: "http://td".into(), mode: None, credentials: None };
    let conn = store.add_connection(p, new).await?;
    // Each `begin` is abandoned after a few turns of the scheduler, some before `BEGIN` is
    // sent, some while it runs, some after. A connection handed back to the pool inside
    // the transaction would take a later run's insert into it, never to commit, and ending
    // that run from another connection would not find it.
    for i in 0..300u64 {
        let turns = async {
            for _ in 0..i % 40 {
                tokio::task::yield_now().await;
            }
        };
        tokio::select! {
            begun = store.begin() => drop(begun),
            () = turns => {}
        }
        let run = store.start_run(p, conn.id, "partners").await?;
        store
            .finish_run(p, run, SyncCounts::default(), None)
            .await
            .with_context(|| format!("after {i} abandoned transactions"))?;
    }
    Ok(())
}

async fn sync_runs_are_recorded(store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let conn = store
        .add_connection(
            p,
            NewConnection {
                kind: Source::Tdental,
                base_url: "http://td".into(),
                mode: None,
                credentials: Some(vec![1, 2, 3]),
            },
        )
        .await?;
    let ok = store.start_run(p, conn.id, "Partners").await?;
    store.finish_run(p, ok, SyncCounts { fetched: 10, inserted: 7, unchanged: 3, ..Default::default() }, None).await?;
    let bad = store.start_run(p, conn.id, "Appointments").await?;
    store.finish_run(p, bad, SyncCounts::default(), Some("PMS unavailable".into())).await?;
    let runs = store.sync_runs(p, 10).await?;
    ensure!(runs.len() == 2);
    let by_stream = |s: &str| runs.iter().find(|r| r.stream == s).context("run");
    ensure!(by_stream("Partners")?.status == SyncRunStatus::Succeeded && by_stream("Partners")?.counts.inserted == 7);
    ensure!(by_stream("Appointments")?.status == SyncRunStatus::Failed);
    let other = practice(&store, "B").await;
    ensure!(store.sync_runs(other, 10).await?.is_empty());
    ensure!(matches!(store.finish_run(other, ok, SyncCounts::default(), None).await, Err(StoreError::NotFound { .. })));
    Ok(())
}

async fn connections_belong_to_their_practice(store: Store) -> Result<()> {
    let a = practice(&store, "A").await;
    let b = practice(&store, "B").await;
    let conn = store
        .add_connection(
            a,
            NewConnection {
                kind: Source::OpenDental,
                base_url: "http://od".into(),
                mode: None,
                credentials: Some(vec![9; 32]),
            },
        )
        .await?;
    ensure!(store.connection(a, conn.id).await?.credentials == Some(vec![9; 32]));
    ensure!(matches!(store.connection(b, conn.id).await, Err(StoreError::NotFound { .. })));
    ensure!(store.connections(b).await?.is_empty());
    let tx = store.begin().await?;
    let foreign = tx.save_checkpoint(b, conn.id, "patients", None, None).await;
    tx.rollback().await?;
    ensure!(matches!(foreign, Err(StoreError::NotFound { .. })), "{foreign:?}");
    let shown = format!("{conn:?}");
    ensure!(shown.contains("<encrypted>") && !shown.contains("[9, 9"), "credentials never print: {shown}");
    Ok(())
}

/// A table without rows gives up its lookup indexes, recorded; restoring them (by their
/// deferrer, or all at once) gives back the schema as migrated. A table with rows, or an
/// unknown one, gives up nothing.
async fn lookup_indexes_are_deferred_only_on_an_empty_table_and_come_back_the_same(store: Store) -> Result<()> {
    let migrated = store.schema_description().await?;
    let indexes = store.lookup_indexes("appointment").await?;
    ensure!(indexes.len() >= 5, "appointment's lookup indexes: {indexes:?}");
    ensure!(indexes.iter().all(|i| i.starts_with("ix_appointment_")), "{indexes:?}");

    ensure!(store.defer_indexes("appointment", "c/appointments").await? == indexes, "every lookup index deferred");
    ensure!(store.lookup_indexes("appointment").await?.is_empty(), "the indexes are gone");
    let recorded = store.deferred_indexes().await?;
    ensure!(recorded.iter().map(|d| d.name.clone()).collect::<Vec<_>>() == indexes, "{recorded:?}");
    ensure!(recorded.iter().all(|d| d.table == "appointment" && d.by == "c/appointments"));
    // The unique key stays: rows can still be written and found by key.
    let p = practice(&store, "A").await;
    store.upsert(p, Source::OpenDental, &[patient(1)]).await?;
    store.upsert(p, Source::OpenDental, &[appointment(1, 1, 0)]).await?;
    ensure!(store.upsert(p, Source::OpenDental, &[appointment(1, 1, 0)]).await?.unchanged == 1);
    // Deferring again, or by someone else, finds nothing left to drop; restoring someone
    // else's deferral restores nothing.
    ensure!(store.defer_indexes("appointment", "other").await?.is_empty());
    ensure!(store.restore_indexes("appointment", "other").await?.is_empty());
    ensure!(store.restore_indexes("appointment", "c/appointments").await? == indexes);
    ensure!(store.deferred_indexes().await?.is_empty());
    ensure!(store.schema_description().await? == migrated, "the indexes came back as migrated");
    ensure!(store.restore_indexes("appointment", "c/appointments").await?.is_empty(), "restoring is idempotent");

    // A table with a row (of any practice) keeps its indexes.
    ensure!(store.defer_indexes("patient", "c/patients").await?.is_empty(), "patient has a row");
    ensure!(!store.lookup_indexes("patient").await?.is_empty());
    // Those a dead process left are all restored at start-up.
    let procedures = store.defer_indexes("procedure", "c/procedures").await?;
    let visits = store.defer_indexes("visit", "c/visits").await?;
    ensure!(!procedures.is_empty() && !visits.is_empty());
    let mut restored = store.restore_all_indexes().await?;
    restored.sort();
    let mut both = [procedures, visits].concat();
    both.sort();
    ensure!(restored == both, "{restored:?}");
    ensure!(store.schema_description().await? == migrated);
    // Names go into statements: only synced tables are accepted.
    ensure!(matches!(store.defer_indexes("practice", "x").await, Err(StoreError::Invalid(_))));
    ensure!(matches!(
        store.defer_indexes("appointment\"; DROP TABLE practice; --", "x").await,
        Err(StoreError::Invalid(_))
    ));
    Ok(())
}

/// Reverting the migration that records deferred indexes creates them first.
async fn deferred_indexes_come_back_when_their_migration_goes_down(store: Store) -> Result<()> {
    let migrated = store.schema_description().await?;
    ensure!(!store.defer_indexes("check_in", "c/customerreceipts").await?.is_empty());
    store.migrate_down(1).await?;
    ensure!(!store.lookup_indexes("check_in").await?.is_empty(), "the deferred indexes are back");
    store.migrate().await?;
    ensure!(store.schema_description().await? == migrated);
    Ok(())
}

/// Keys said absent (a first sync's keys not yet read) are not looked for: rows with them
/// are new. A wrong claim fails on the unique key and stores nothing twice.
async fn keys_said_absent_are_not_looked_for_and_a_wrong_claim_fails(mut store: Store) -> Result<()> {
    let p = practice(&store, "A").await;
    let od = Source::OpenDental;
    store.upsert(p, od, &[patient(1)]).await?;
    let counter = store.count_statements();
    counter.reset();
    let fresh = store.prepare_upsert_absent(p, od, &[patient(2), patient(3)], &|_| true).await?;
    ensure!(counter.get() == 0, "keys said absent were looked for: {} statements", counter.get());
    // Only the keys not said absent are looked for.
    let mixed = store.prepare_upsert_absent(p, od, &[patient(1), patient(4)], &|k| k.as_str() == "4").await?;
    ensure!(counter.get() == 1, "one look-up for patient 1, ran {}", counter.get());
    let tx = store.begin().await?;
    let report = tx.write_prepared(fresh).await?;
    ensure!(report.inserted == 2, "{report:?}");
    let report = tx.write_prepared(mixed).await?;
    ensure!((report.inserted, report.unchanged) == (1, 1), "{report:?}");
    tx.commit().await?;

    let wrong = store.prepare_upsert_absent(p, od, &[patient(5), patient(1)], &|_| true).await?;
    let tx = store.begin().await?;
    ensure!(tx.write_prepared(wrong).await.is_err(), "a stored key said absent was inserted again");
    ensure!(tx.commit().await.is_err(), "a transaction whose batch failed cannot commit");
    ensure!(store.live_ids::<PatientId>(p).await?.len() == 4, "patients 1–4, once each");
    Ok(())
}
