//! Small SQL helpers shared by the repositories.

use sea_orm::sea_query::{Alias, ArrayType, Expr, Func, IntoColumnRef, Query, SimpleExpr, Value};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, Statement};
use uuid::Uuid;

/// `column IN (…)` on SQLite. On PostgreSQL `column IN (SELECT unnest($1))` with one array
/// parameter: it parses in constant time however many ids a batch has, and the planner
/// (which estimates a few hundred ids) probes the index per id instead of scanning the
/// table, as it may for `= ANY($1)` or a long `IN` list.
pub(crate) fn uuid_in(
    backend: DbBackend,
    column: impl IntoColumnRef,
    ids: impl IntoIterator<Item = Uuid>,
) -> SimpleExpr {
    match backend {
        DbBackend::Postgres => {
            let values: Vec<Value> = ids.into_iter().map(|id| Value::Uuid(Some(Box::new(id)))).collect();
            in_unnest(column, ArrayType::Uuid, values)
        }
        _ => Expr::col(column).is_in(ids),
    }
}

fn in_unnest(column: impl IntoColumnRef, ty: ArrayType, values: Vec<Value>) -> SimpleExpr {
    let array = Expr::val(Value::Array(ty, Some(Box::new(values))));
    let keys = Query::select().expr(Func::cust(Alias::new("unnest")).arg(array)).to_owned();
    Expr::col(column).in_subquery(keys)
}

/// Rows of `table` with the given PMS keys, within a practice and source: `columns` of each
/// row found. On PostgreSQL each key probes the unique index through a `LATERAL` join, a
/// plan that does not depend on table statistics (which are stale while a first sync is
/// filling a table, and would otherwise lead the planner to scan it whole per batch).
pub(crate) async fn rows_by_keys<C: ConnectionTrait>(
    db: &C,
    table: &str,
    columns: &[&str],
    practice: Uuid,
    source: &str,
    keys: &[&str],
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let quoted: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    let list = quoted.join(", ");
    let stmt = match backend {
        DbBackend::Postgres => {
            let array = Value::Array(
                ArrayType::String,
                Some(Box::new(keys.iter().map(|k| Value::String(Some(Box::new((*k).to_owned())))).collect())),
            );
            let sql = format!(
                "SELECT t.* FROM unnest($3::text[]) AS k(key) CROSS JOIN LATERAL \
                 (SELECT {list} FROM \"{table}\" WHERE practice_id = $1 AND source = $2 AND source_id = k.key LIMIT 1) AS t"
            );
            Statement::from_sql_and_values(backend, sql, [practice.into(), source.into(), array])
        }
        _ => {
            let marks = vec!["?"; keys.len()].join(", ");
            let sql = format!(
                "SELECT {list} FROM \"{table}\" WHERE practice_id = ? AND source = ? AND source_id IN ({marks})"
            );
            let mut values: Vec<Value> = vec![practice.into(), source.into()];
            values.extend(keys.iter().map(|k| Value::from((*k).to_owned())));
            Statement::from_sql_and_values(backend, sql, values)
        }
    };
    db.query_all(stmt).await
}

/// Bound parameters per multi-row insert on SQLite (its limit is 32,766). Kept small: a
/// statement's SQL text, values and bound arguments stay in the allocator's reused pages
/// (a 30,000-parameter statement took fresh, zeroed pages from the OS each time), the next
/// statement is built while SQLite runs this one ([`pipelined`]), and the few sizes a
/// table's statements come in stay prepared in the connection's statement cache.
const SQLITE_PARAMS_PER_INSERT: usize = 4_000;
/// Rows per statement on PostgreSQL (one array parameter per column).
const POSTGRES_ROWS_PER_INSERT: usize = 5_000;

/// What to do when a row's key already exists.
pub(crate) struct OnConflictUpdate<C> {
    /// The unique key.
    pub(crate) key: Vec<C>,
    /// The columns to overwrite.
    pub(crate) update: Vec<C>,
}

/// A sequence of statements, built one at a time as they are asked for.
pub(crate) type Statements<'a> = Box<dyn Iterator<Item = Result<Statement, DbErr>> + Send + 'a>;

/// Runs statements one after another, building each next statement while the database runs
/// the one before (both futures are polled on this task: the database's own work happens
/// on its connection's thread or server, the building here). The first error stops the run.
pub(crate) async fn pipelined<C: ConnectionTrait>(db: &C, mut statements: Statements<'_>) -> Result<(), DbErr> {
    let Some(mut current) = statements.next().transpose()? else {
        return Ok(());
    };
    loop {
        let (done, next) = futures::future::join(db.execute(current), async { statements.next().transpose() }).await;
        done?;
        match next? {
            Some(statement) => current = statement,
            None => return Ok(()),
        }
    }
}

/// The statements inserting `rows`, optionally as an upsert; each statement's rows are taken
/// from `rows` (and its values built) only when the statement is asked for.
///
/// SQLite gets `INSERT … VALUES (…), (…)` with bound parameters. PostgreSQL gets
/// `INSERT … SELECT * FROM unnest($1::text::uuid[], $2::text::text[], …)`: one array literal
/// per column, so a statement has as many parameters as the table has columns however many
/// rows it carries (binding tens of thousands of scalar parameters, or expanding JSON with
/// `json_to_recordset`, costs more than the insert itself; see BENCHMARKS.md).
pub(crate) fn insert_statements<'a, E>(
    backend: DbBackend,
    rows: impl IntoIterator<Item = E::ActiveModel, IntoIter: Send + 'a>,
    conflict: Option<OnConflictUpdate<E::Column>>,
) -> Result<Statements<'a>, DbErr>
where
    E: EntityTrait,
    E::ActiveModel: Send,
{
    use sea_orm::{ActiveModelTrait, Iterable};

    let mut rows = rows.into_iter().peekable();
    let columns: Vec<E::Column> = E::Column::iter().collect();
    let name = |c: &E::Column| format!("\"{}\"", sea_orm::IdenStatic::as_str(c));
    let table = sea_orm::IdenStatic::as_str(&E::default()).to_owned();
    let names = columns.iter().map(name).collect::<Vec<_>>().join(", ");
    let mut tail = String::new();
    if let Some(c) = &conflict {
        let key: Vec<String> = c.key.iter().map(name).collect();
        let set: Vec<String> = c.update.iter().map(|u| format!("{0} = excluded.{0}", name(u))).collect();
        tail = format!(" ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), set.join(", "));
    }
    if backend != DbBackend::Postgres {
        // The SQL text is written here rather than by SeaQuery, which clones every value
        // into its statement: the values move from the rows into the statement.
        //
        // `OR FAIL`: a statement that breaks a constraint stops where it is instead of
        // undoing its earlier rows, so SQLite keeps no statement journal (a copy of every
        // page the statement changes) for it. Those rows never land: a transaction whose
        // batch failed cannot commit (`Tx::commit` rolls it back). A table with an
        // immediate foreign key would still need the journal; synced tables and raw
        // payloads have none (migration 10).
        let per_statement = (SQLITE_PARAMS_PER_INSERT / columns.len()).max(1);
        let row_marks = format!("({})", vec!["?"; columns.len()].join(", "));
        let sql = move |rows: usize| {
            format!(
                "INSERT OR FAIL INTO \"{table}\" ({names}) VALUES {}{tail}",
                vec![row_marks.as_str(); rows].join(", ")
            )
        };
        let full = sql(per_statement);
        return Ok(Box::new(std::iter::from_fn(move || {
            rows.peek()?;
            let mut values = Vec::with_capacity(per_statement * columns.len());
            let mut count = 0;
            for mut row in rows.by_ref().take(per_statement) {
                count += 1;
                // A column left unset binds NULL (SQLite's NULL has no type).
                values.extend(columns.iter().map(|c| row.take(*c).into_value().unwrap_or(Value::String(None))));
            }
            let sql = if count == per_statement { full.clone() } else { sql(count) };
            Some(Ok(Statement::from_sql_and_values(backend, sql, values)))
        })));
    }

    let types: Vec<&'static str> = columns
        .iter()
        .map(|c| pg_type(sea_orm::ColumnTrait::def(c).get_column_type()))
        .collect::<Result<_, DbErr>>()?;
    Ok(Box::new(std::iter::from_fn(move || {
        rows.peek()?;
        let mut chunk: Vec<E::ActiveModel> = rows.by_ref().take(POSTGRES_ROWS_PER_INSERT).collect();
        let mut build = || -> Result<Statement, DbErr> {
            let mut params = Vec::with_capacity(columns.len());
            let mut arrays = Vec::with_capacity(columns.len());
            for (j, col) in columns.iter().enumerate() {
                let values: Vec<Option<Value>> = chunk.iter_mut().map(|row| row.take(*col).into_value()).collect();
                // A column without NULLs binds as a typed array (binary, nothing to parse);
                // one with NULLs as an array literal (the binder cannot send NULL elements).
                match typed_array(values) {
                    Ok(array) => {
                        arrays.push(format!("${}::{}[]", j + 1, types[j]));
                        params.push(array);
                    }
                    Err(values) => {
                        let mut literal = String::with_capacity(chunk.len() * 16);
                        literal.push('{');
                        for (i, value) in values.into_iter().enumerate() {
                            if i > 0 {
                                literal.push(',');
                            }
                            write_array_element(&mut literal, value)?;
                        }
                        literal.push('}');
                        arrays.push(format!("${}::text::{}[]", j + 1, types[j]));
                        params.push(Value::from(literal));
                    }
                }
            }
            let sql = format!("INSERT INTO \"{table}\" ({names}) SELECT * FROM unnest({}){tail}", arrays.join(", "));
            Ok(Statement::from_sql_and_values(backend, sql, params))
        };
        Some(build())
    })))
}

/// The values as one typed array, when none is NULL and the type binds natively; otherwise
/// the values back.
fn typed_array(values: Vec<Option<Value>>) -> Result<Value, Vec<Option<Value>>> {
    fn array_type(value: &Value) -> Option<ArrayType> {
        Some(match value {
            Value::Uuid(Some(_)) => ArrayType::Uuid,
            Value::String(Some(_)) => ArrayType::String,
            Value::BigInt(Some(_)) => ArrayType::BigInt,
            Value::Int(Some(_)) => ArrayType::Int,
            Value::SmallInt(Some(_)) => ArrayType::SmallInt,
            Value::Double(Some(_)) => ArrayType::Double,
            Value::Bool(Some(_)) => ArrayType::Bool,
            Value::ChronoDate(Some(_)) => ArrayType::ChronoDate,
            Value::ChronoDateTimeUtc(Some(_)) => ArrayType::ChronoDateTimeUtc,
            _ => return None,
        })
    }
    let Some(ty) = values.first().and_then(Option::as_ref).and_then(array_type) else {
        return Err(values);
    };
    if !values.iter().all(|v| v.as_ref().and_then(array_type).as_ref() == Some(&ty)) {
        return Err(values);
    }
    Ok(Value::Array(ty, Some(Box::new(values.into_iter().flatten().collect()))))
}

fn pg_type(ty: &sea_orm::ColumnType) -> Result<&'static str, DbErr> {
    use sea_orm::ColumnType as T;
    Ok(match ty {
        T::Uuid => "uuid",
        T::Text | T::String(_) | T::Char(_) => "text",
        T::BigInteger => "bigint",
        T::Integer => "integer",
        T::SmallInteger => "smallint",
        T::Double => "double precision",
        T::Boolean => "boolean",
        T::Date => "date",
        T::TimestampWithTimeZone => "timestamptz",
        T::Json | T::JsonBinary => "jsonb",
        other => {
            return Err(DbErr::Custom(format!("no bulk insert mapping for column type {other:?}")));
        }
    })
}

/// Appends one element of a PostgreSQL array literal: `NULL`, or the value's text quoted
/// with `"` and `\` escaped.
fn write_array_element(out: &mut String, value: Option<Value>) -> Result<(), DbErr> {
    use std::fmt::Write;
    let quoted = |out: &mut String, s: &str| {
        out.push('"');
        for ch in s.chars() {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        }
        out.push('"');
    };
    let _ = match &value {
        None
        | Some(
            Value::Bool(None)
            | Value::SmallInt(None)
            | Value::Int(None)
            | Value::BigInt(None)
            | Value::Double(None)
            | Value::String(None)
            | Value::Uuid(None)
            | Value::ChronoDate(None)
            | Value::ChronoDateTimeUtc(None)
            | Value::Json(None),
        ) => {
            out.push_str("NULL");
            Ok(())
        }
        Some(Value::Bool(Some(b))) => write!(out, "{}", if *b { 't' } else { 'f' }),
        Some(Value::SmallInt(Some(n))) => write!(out, "{n}"),
        Some(Value::Int(Some(n))) => write!(out, "{n}"),
        Some(Value::BigInt(Some(n))) => write!(out, "{n}"),
        Some(Value::Double(Some(f))) => write!(out, "\"{f:?}\""),
        Some(Value::Uuid(Some(u))) => write!(out, "{u}"),
        Some(Value::ChronoDate(Some(d))) => write!(out, "{d}"),
        Some(Value::ChronoDateTimeUtc(Some(t))) => {
            write!(out, "\"{}\"", t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        }
        Some(Value::String(Some(s))) => {
            quoted(out, s);
            Ok(())
        }
        Some(Value::Json(Some(j))) => {
            quoted(out, &j.to_string());
            Ok(())
        }
        Some(other) => {
            return Err(DbErr::Custom(format!("no bulk insert mapping for value {other:?}")));
        }
    };
    Ok(())
}
