//! The canonical model of DESIGN §2: configuration tables, one table per synced entity,
//! raw payloads, sync runs and checkpoints.
//!
//! Synced tables are described as data ([`SYNCED`]) and every one gets the same
//! bookkeeping columns, the unique key (`practice_id`, `source`, `source_id`), a foreign key
//! to its practice (cascading), and an index (`practice_id`, `<column>`) for every
//! reference, so that children can be read by parent within a practice.
//!
//! References between synced tables hold internal ids but are not declared as foreign key
//! constraints. The store resolves every reference from a PMS key to the id of an existing
//! row of the same practice and source, inside the writing transaction, and never
//! hard-deletes a synced row; so a reference cannot dangle, and `Store::check_references`
//! proves it (it also checks what a constraint cannot: that both rows share a practice).
//! On PostgreSQL each constraint is a trigger run per inserted row, which halved bulk sync
//! throughput when measured (BENCHMARKS.md).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// The migration.
pub(crate) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261121_000001_canonical_model"
    }
}

/// A column's type, as this migration knows it.
#[derive(Clone, Copy)]
enum Ty {
    Text,
    TextNull,
    Bool,
    Small,
    SmallNull,
    Int,
    IntNull,
    Big,
    BigNull,
    Double,
    Date,
    DateNull,
    Ts,
    TsNull,
    Json,
}

/// A synced table: its own columns and its references (column, target table, nullable).
struct Synced {
    name: &'static str,
    columns: &'static [(&'static str, Ty)],
    refs: &'static [(&'static str, &'static str, bool)],
    /// Extra lookup indexes, each a list of columns after `practice_id`.
    indexes: &'static [&'static [&'static str]],
}

use Ty::*;

const SYNCED: &[Synced] = &[
    Synced {
        name: "location",
        columns: &[
            ("name", Text),
            ("abbreviation", TextNull),
            ("phone", TextNull),
            ("address", TextNull),
            ("is_hidden", Bool),
        ],
        refs: &[],
        indexes: &[],
    },
    Synced {
        name: "fee_schedule",
        columns: &[("name", Text), ("kind", Text), ("is_hidden", Bool)],
        refs: &[],
        indexes: &[],
    },
    Synced {
        name: "provider",
        columns: &[
            ("kind", Text),
            ("first_name", Text),
            ("last_name", Text),
            ("abbreviation", TextNull),
            ("specialty", TextNull),
            ("is_hidden", Bool),
        ],
        refs: &[("location_id", "location", true), ("fee_schedule_id", "fee_schedule", true)],
        indexes: &[],
    },
    Synced {
        name: "operatory",
        columns: &[
            ("name", Text),
            ("abbreviation", TextNull),
            ("is_hygiene", Bool),
            ("is_hidden", Bool),
            ("sort_order", Int),
        ],
        refs: &[
            ("location_id", "location", true),
            ("provider_id", "provider", true),
            ("hygienist_id", "provider", true),
        ],
        indexes: &[],
    },
    Synced { name: "family", columns: &[], refs: &[], indexes: &[] },
    Synced {
        name: "referral_source",
        columns: &[
            ("name", Text),
            ("kind", Text),
            ("specialty", TextNull),
            ("phone", TextNull),
            ("email", TextNull),
            ("is_hidden", Bool),
        ],
        refs: &[],
        indexes: &[],
    },
    Synced {
        name: "patient",
        columns: &[
            ("is_guarantor", Bool),
            ("chart_number", TextNull),
            ("first_name", Text),
            ("last_name", Text),
            ("middle_name", TextNull),
            ("preferred_name", TextNull),
            ("gender", Text),
            ("birth_date", TextNull),
            ("status", Text),
            ("status_source", Text),
            ("phone_home", TextNull),
            ("phone_work", TextNull),
            ("phone_mobile", TextNull),
            ("email", TextNull),
            ("address_line1", TextNull),
            ("address_line2", TextNull),
            ("city", TextNull),
            ("region", TextNull),
            ("postal_code", TextNull),
            ("ssn", TextNull),
            ("first_visit_on", DateNull),
            ("registered_at", TsNull),
            ("note", TextNull),
        ],
        refs: &[
            ("family_id", "family", true),
            ("primary_provider_id", "provider", true),
            ("location_id", "location", true),
            ("fee_schedule_id", "fee_schedule", true),
            ("referral_source_id", "referral_source", true),
        ],
        indexes: &[&["last_name", "first_name"], &["chart_number"], &["source_updated_at"]],
    },
    Synced { name: "patient_tag", columns: &[("name", Text), ("color", TextNull)], refs: &[], indexes: &[] },
    Synced {
        name: "patient_tag_assignment",
        columns: &[],
        refs: &[("patient_id", "patient", false), ("tag_id", "patient_tag", false)],
        indexes: &[],
    },
    Synced {
        name: "patient_referral",
        columns: &[("direction", Text), ("referred_on", DateNull), ("note", TextNull)],
        refs: &[("patient_id", "patient", false), ("referral_source_id", "referral_source", false)],
        indexes: &[],
    },
    Synced {
        name: "procedure_code",
        columns: &[
            ("code", Text),
            ("description", Text),
            ("abbreviation", TextNull),
            ("kind", Text),
            ("category", TextNull),
            ("coverage_category", TextNull),
            ("default_fee", BigNull),
            ("duration_minutes", IntNull),
            ("is_hidden", Bool),
        ],
        refs: &[],
        indexes: &[&["code"]],
    },
    Synced {
        name: "appointment",
        columns: &[
            ("start_at", Ts),
            ("duration_minutes", Int),
            ("status", Text),
            ("status_source", Text),
            ("confirmation", TextNull),
            ("note", TextNull),
            ("is_new_patient", Bool),
            ("procedure_summary", TextNull),
        ],
        refs: &[
            ("patient_id", "patient", false),
            ("provider_id", "provider", true),
            ("hygienist_id", "provider", true),
            ("operatory_id", "operatory", true),
            ("location_id", "location", true),
        ],
        indexes: &[&["start_at"]],
    },
    Synced {
        name: "check_in",
        columns: &[
            ("state", Text),
            ("state_source", Text),
            ("waiting_at", TsNull),
            ("examination_at", TsNull),
            ("done_at", TsNull),
            ("note", TextNull),
        ],
        refs: &[
            ("patient_id", "patient", false),
            ("appointment_id", "appointment", true),
            ("location_id", "location", true),
            ("provider_id", "provider", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "treatment_plan",
        columns: &[
            ("kind", Text),
            ("status", Text),
            ("status_source", Text),
            ("name", TextNull),
            ("note", TextNull),
            ("plan_date", DateNull),
            ("amount_total", BigNull),
            ("amount_paid", BigNull),
            ("amount_residual", BigNull),
        ],
        refs: &[("patient_id", "patient", false), ("provider_id", "provider", true), ("location_id", "location", true)],
        indexes: &[],
    },
    Synced {
        name: "procedure",
        columns: &[
            ("status", Text),
            ("status_source", Text),
            ("performed_on", DateNull),
            ("teeth", Text),
            ("tooth_scope", Text),
            ("tooth_text", TextNull),
            ("surfaces", TextNull),
            ("quantity", Double),
            ("fee", Big),
            ("discount", Big),
            ("diagnosis", TextNull),
        ],
        refs: &[
            ("patient_id", "patient", false),
            ("appointment_id", "appointment", true),
            ("procedure_code_id", "procedure_code", true),
            ("provider_id", "provider", true),
            ("location_id", "location", true),
            ("treatment_plan_id", "treatment_plan", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "visit",
        columns: &[
            ("visited_at", Ts),
            ("state", Text),
            ("state_source", Text),
            ("reason", TextNull),
            ("note", TextNull),
        ],
        refs: &[
            ("patient_id", "patient", false),
            ("treatment_plan_id", "treatment_plan", true),
            ("appointment_id", "appointment", true),
            ("provider_id", "provider", true),
            ("assistant_id", "provider", true),
            ("location_id", "location", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "visit_step",
        columns: &[("name", Text), ("is_done", Bool), ("sort_order", Int), ("created_at", TsNull)],
        refs: &[
            ("visit_id", "visit", true),
            ("procedure_id", "procedure", true),
            ("treatment_plan_id", "treatment_plan", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "treatment_plan_item",
        columns: &[
            ("description", TextNull),
            ("teeth", Text),
            ("tooth_text", TextNull),
            ("priority", TextNull),
            ("sort_order", Int),
            ("fee", Big),
            ("discount", Big),
            ("insurance_estimate", BigNull),
            ("patient_portion", BigNull),
        ],
        refs: &[
            ("treatment_plan_id", "treatment_plan", false),
            ("procedure_id", "procedure", true),
            ("procedure_code_id", "procedure_code", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "insurance_carrier",
        columns: &[
            ("name", Text),
            ("phone", TextNull),
            ("address", TextNull),
            ("electronic_id", TextNull),
            ("is_hidden", Bool),
        ],
        refs: &[],
        indexes: &[],
    },
    Synced {
        name: "insurance_plan",
        columns: &[
            ("group_name", TextNull),
            ("group_number", TextNull),
            ("plan_type", TextNull),
            ("benefit_year_start_month", Small),
            ("note", TextNull),
            ("is_hidden", Bool),
        ],
        refs: &[("carrier_id", "insurance_carrier", false), ("fee_schedule_id", "fee_schedule", true)],
        indexes: &[],
    },
    Synced {
        name: "insurance_subscriber",
        columns: &[("member_id", TextNull), ("effective_on", DateNull), ("terminated_on", DateNull)],
        refs: &[("plan_id", "insurance_plan", false), ("subscriber_patient_id", "patient", false)],
        indexes: &[],
    },
    Synced {
        name: "patient_plan",
        columns: &[("ordinal", Small), ("relationship", Text), ("is_pending", Bool)],
        refs: &[("patient_id", "patient", false), ("subscriber_id", "insurance_subscriber", false)],
        indexes: &[],
    },
    Synced {
        name: "benefit",
        columns: &[
            ("coverage_category", TextNull),
            ("kind", Text),
            ("coverage_level", Text),
            ("period", Text),
            ("percent", SmallNull),
            ("amount", BigNull),
            ("quantity", IntNull),
            ("quantity_qualifier", TextNull),
        ],
        refs: &[
            ("plan_id", "insurance_plan", true),
            ("patient_plan_id", "patient_plan", true),
            ("procedure_code_id", "procedure_code", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "claim",
        columns: &[
            ("claim_type", Text),
            ("status", Text),
            ("status_source", Text),
            ("service_date", DateNull),
            ("sent_date", DateNull),
            ("received_date", DateNull),
            ("fee_billed", Big),
            ("insurance_estimate", Big),
            ("insurance_paid", Big),
            ("deductible_applied", Big),
            ("write_off", Big),
            ("note", TextNull),
        ],
        refs: &[
            ("patient_id", "patient", false),
            ("plan_id", "insurance_plan", true),
            ("subscriber_id", "insurance_subscriber", true),
            ("provider_id", "provider", true),
            ("location_id", "location", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "claim_procedure",
        columns: &[
            ("status", Text),
            ("status_source", Text),
            ("fee_billed", Big),
            ("insurance_estimate", Big),
            ("insurance_paid", Big),
            ("deductible_applied", Big),
            ("write_off", Big),
            ("percentage", SmallNull),
            ("service_date", DateNull),
            ("paid_date", DateNull),
        ],
        refs: &[
            ("claim_id", "claim", true),
            ("procedure_id", "procedure", true),
            ("patient_id", "patient", false),
            ("plan_id", "insurance_plan", true),
            ("provider_id", "provider", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "payment",
        columns: &[
            ("paid_on", Date),
            ("amount", Big),
            ("method", TextNull),
            ("kind", Text),
            ("status", Text),
            ("reference", TextNull),
            ("note", TextNull),
        ],
        refs: &[("patient_id", "patient", true), ("location_id", "location", true)],
        indexes: &[&["paid_on"]],
    },
    Synced {
        name: "payment_allocation",
        columns: &[("amount", Big), ("allocated_on", DateNull)],
        refs: &[
            ("payment_id", "payment", true),
            ("patient_id", "patient", true),
            ("procedure_id", "procedure", true),
            ("provider_id", "provider", true),
            ("treatment_plan_id", "treatment_plan", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "adjustment",
        columns: &[("adjusted_on", Date), ("amount", Big), ("kind", TextNull), ("note", TextNull)],
        refs: &[
            ("patient_id", "patient", false),
            ("procedure_id", "procedure", true),
            ("provider_id", "provider", true),
            ("location_id", "location", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "fee",
        columns: &[("amount", Big)],
        refs: &[
            ("fee_schedule_id", "fee_schedule", false),
            ("procedure_code_id", "procedure_code", false),
            ("location_id", "location", true),
            ("provider_id", "provider", true),
        ],
        indexes: &[],
    },
    Synced {
        name: "commlog",
        columns: &[
            ("communicated_at", Ts),
            ("kind", TextNull),
            ("mode", Text),
            ("direction", Text),
            ("note", TextNull),
            ("author", TextNull),
        ],
        refs: &[("patient_id", "patient", false)],
        indexes: &[],
    },
    Synced {
        name: "inventory_item",
        columns: &[
            ("code", TextNull),
            ("name", Text),
            ("category", TextNull),
            ("unit", TextNull),
            ("kind", Text),
            ("list_price", BigNull),
            ("cost", BigNull),
            ("is_active", Bool),
        ],
        refs: &[],
        indexes: &[],
    },
    Synced {
        name: "stock_picking",
        columns: &[
            ("name", TextNull),
            ("kind", Text),
            ("state", Text),
            ("state_source", Text),
            ("scheduled_at", TsNull),
            ("done_at", TsNull),
            ("note", TextNull),
        ],
        refs: &[("location_id", "location", true)],
        indexes: &[],
    },
    Synced {
        name: "stock_move",
        columns: &[
            ("name", TextNull),
            ("quantity", Double),
            ("unit_price", BigNull),
            ("state", Text),
            ("moved_at", TsNull),
        ],
        refs: &[("picking_id", "stock_picking", true), ("inventory_item_id", "inventory_item", true)],
        indexes: &[],
    },
    Synced {
        name: "source_reference",
        columns: &[("kind", Text), ("name", Text), ("code", TextNull), ("is_hidden", Bool), ("payload", Json)],
        refs: &[],
        indexes: &[&["kind"]],
    },
];

fn col(name: &str, ty: Ty) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    match ty {
        Text | TextNull => c.text(),
        Bool => c.boolean(),
        Small | SmallNull => c.small_integer(),
        Int | IntNull => c.integer(),
        Big | BigNull => c.big_integer(),
        Double => c.double(),
        Date | DateNull => c.date(),
        Ts | TsNull => c.timestamp_with_time_zone(),
        Json => c.json_binary(),
    };
    match ty {
        TextNull | SmallNull | IntNull | BigNull | DateNull | TsNull => c.null(),
        _ => c.not_null(),
    };
    c
}

fn uuid_col(name: &str, nullable: bool) -> ColumnDef {
    let mut c = ColumnDef::new(Alias::new(name));
    c.uuid();
    if nullable {
        c.null();
    } else {
        c.not_null();
    }
    c
}

/// A foreign key to a configuration row (practice, connection): deleting it deletes what
/// hangs off it.
fn fk(table: &str, column: &str, target: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(Alias::new(table), Alias::new(column))
        .to(Alias::new(target), Alias::new("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

fn index(table: &str, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(format!("{}_{table}_{}", if unique { "ux" } else { "ix" }, columns.join("_"))).table(Alias::new(table));
    for c in columns {
        i.col(Alias::new(*c));
    }
    if unique {
        i.unique();
    }
    i.to_owned()
}

/// A table with a UUID primary key and a cascading `practice_id`.
fn practice_table(name: &str) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(Alias::new(name))
        .col(uuid_col("id", false).primary_key())
        .col(uuid_col("practice_id", false))
        .foreign_key(&mut fk(name, "practice_id", "practice"));
    t.to_owned()
}

fn synced_table(s: &Synced) -> TableCreateStatement {
    let mut t = practice_table(s.name);
    t.col(col("source", Text))
        .col(col("source_id", Text))
        .col(col("source_updated_at", TsNull))
        .col(col("content_hash", Big))
        .col(col("synced_at", Ts))
        .col(col("deleted_at", TsNull));
    for (name, ty) in s.columns {
        t.col(col(name, *ty));
    }
    // References are not declared as foreign key constraints: see the module docs.
    for (name, _target, nullable) in s.refs {
        t.col(uuid_col(name, *nullable));
    }
    t.to_owned()
}

fn synced_indexes(s: &Synced) -> Vec<IndexCreateStatement> {
    let mut out = vec![index(s.name, &["practice_id", "source", "source_id"], true)];
    for (name, _, nullable) in s.refs {
        if !nullable {
            out.push(index(s.name, &["practice_id", name], false));
        }
    }
    for cols in s.indexes {
        let mut all = vec!["practice_id"];
        all.extend_from_slice(cols);
        out.push(index(s.name, &all, false));
    }
    out
}

/// Indexes on optional references leave out the rows without one: most are sparse (a
/// procedure without a treatment order), and every index costs on each synced insert.
/// Lookups by parent (`col IN (…)`) imply `col IS NOT NULL`, so both SQLite and PostgreSQL
/// use them. sea-query cannot express partial indexes; the statement is the same on both.
fn partial_indexes(s: &Synced) -> Vec<String> {
    s.refs
        .iter()
        .filter(|(_, _, nullable)| *nullable)
        .map(|(col, _, _)| {
            format!("CREATE INDEX \"ix_{t}_practice_id_{col}\" ON \"{t}\" (\"practice_id\", \"{col}\") WHERE \"{col}\" IS NOT NULL", t = s.name)
        })
        .collect()
}

/// Tables outside [`SYNCED`], in creation order.
fn config_tables() -> (Vec<TableCreateStatement>, Vec<IndexCreateStatement>) {
    let practice = Table::create()
        .table(Alias::new("practice"))
        .col(uuid_col("id", false).primary_key())
        .col(col("name", Text))
        .col(col("time_zone", Text))
        .col(col("currency", Text))
        .col(col("created_at", Ts))
        .to_owned();
    let connection = practice_table("pms_connection")
        .col(col("kind", Text))
        .col(col("base_url", Text))
        .col(col("mode", TextNull))
        .col(ColumnDef::new(Alias::new("credentials")).binary().null())
        .col(col("created_at", Ts))
        .col(col("updated_at", Ts))
        .to_owned();
    (vec![practice, connection], vec![index("pms_connection", &["practice_id"], false)])
}

/// Raw payloads, sync runs and checkpoints: created after the synced tables.
fn sync_tables() -> (Vec<TableCreateStatement>, Vec<IndexCreateStatement>) {
    let source_record = Table::create()
        .table(Alias::new("source_record"))
        .col(uuid_col("row_id", false).primary_key())
        .col(uuid_col("practice_id", false))
        .col(col("entity", Text))
        .col(col("payload", Text))
        .col(col("recorded_at", Ts))
        .foreign_key(&mut fk("source_record", "practice_id", "practice"))
        .to_owned();
    let sync_run = practice_table("sync_run")
        .col(uuid_col("connection_id", false))
        .col(col("stream", Text))
        .col(col("status", Text))
        .col(col("started_at", Ts))
        .col(col("finished_at", TsNull))
        .col(col("fetched", Big))
        .col(col("inserted", Big))
        .col(col("updated", Big))
        .col(col("unchanged", Big))
        .col(col("deleted", Big))
        .col(col("quarantined", Big))
        .col(col("error", TextNull))
        .foreign_key(&mut fk("sync_run", "connection_id", "pms_connection"))
        .to_owned();
    let checkpoint = Table::create()
        .table(Alias::new("sync_checkpoint"))
        .col(uuid_col("connection_id", false))
        .col(col("stream", Text))
        .col(uuid_col("practice_id", false))
        .col(ColumnDef::new(Alias::new("cursor")).json_binary().null())
        .col(ColumnDef::new(Alias::new("progress")).json_binary().null())
        .col(col("updated_at", Ts))
        .primary_key(Index::create().col(Alias::new("connection_id")).col(Alias::new("stream")))
        .foreign_key(&mut fk("sync_checkpoint", "practice_id", "practice"))
        .foreign_key(&mut fk("sync_checkpoint", "connection_id", "pms_connection"))
        .to_owned();
    let indexes = vec![
        index("source_record", &["practice_id", "entity"], false),
        index("sync_run", &["practice_id", "connection_id", "stream", "started_at"], false),
        index("sync_checkpoint", &["practice_id"], false),
    ];
    (vec![source_record, sync_run, checkpoint], indexes)
}

/// The synced tables' names, for later migrations that change all of them.
pub(crate) fn synced_table_names() -> impl Iterator<Item = &'static str> {
    SYNCED.iter().map(|s| s.name)
}

fn all_tables() -> (Vec<TableCreateStatement>, Vec<IndexCreateStatement>) {
    let (mut tables, mut indexes) = config_tables();
    for s in SYNCED {
        tables.push(synced_table(s));
        indexes.extend(synced_indexes(s));
    }
    let (t, i) = sync_tables();
    tables.extend(t);
    indexes.extend(i);
    (tables, indexes)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (tables, indexes) = all_tables();
        for t in tables {
            manager.create_table(t).await?;
        }
        for i in indexes {
            manager.create_index(i).await?;
        }
        for sql in SYNCED.iter().flat_map(partial_indexes) {
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let (tables, _) = all_tables();
        for t in tables.iter().rev() {
            let Some(TableRef::Table(name)) = t.get_table_name().cloned() else {
                continue;
            };
            let mut drop = Table::drop();
            drop.table(name);
            if manager.get_database_backend() == DbBackend::Postgres {
                drop.cascade();
            }
            manager.drop_table(drop).await?;
        }
        Ok(())
    }
}
