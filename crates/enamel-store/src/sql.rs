//! Small SQL helpers shared by the repositories.

use sea_orm::DbBackend;
use sea_orm::sea_query::{Alias, ArrayType, Expr, Func, IntoColumnRef, Query, SimpleExpr, Value};
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
pub(crate) async fn rows_by_keys<C: sea_orm::ConnectionTrait>(
    db: &C,
    table: &str,
    columns: &[&str],
    practice: Uuid,
    source: &str,
    keys: &[&str],
) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
    use sea_orm::Statement;
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

/// Bound parameters per multi-row insert on SQLite (its limit is 32,766).
const SQLITE_PARAMS_PER_INSERT: usize = 30_000;
/// Rows per statement on PostgreSQL (one JSON parameter each).
const POSTGRES_ROWS_PER_INSERT: usize = 5_000;

/// What to do when a row's key already exists.
pub(crate) struct OnConflictUpdate<C> {
    /// The unique key.
    pub(crate) key: Vec<C>,
    /// The columns to overwrite.
    pub(crate) update: Vec<C>,
}

/// Inserts rows in multi-row statements, optionally as an upsert.
///
/// SQLite gets `INSERT … VALUES (…), (…)` with bound parameters. PostgreSQL gets
/// `INSERT … SELECT * FROM unnest($1::text::uuid[], $2::text::text[], …)`: one array literal
/// per column, so a statement has as many parameters as the table has columns however many
/// rows it carries (binding tens of thousands of scalar parameters, or expanding JSON with
/// `json_to_recordset`, costs more than the insert itself; see BENCHMARKS.md).
pub(crate) async fn insert_rows<E, C>(
    db: &C,
    rows: Vec<E::ActiveModel>,
    conflict: Option<OnConflictUpdate<E::Column>>,
) -> Result<(), sea_orm::DbErr>
where
    E: sea_orm::EntityTrait,
    E::Model: sea_orm::IntoActiveModel<E::ActiveModel>,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::sea_query::OnConflict;
    use sea_orm::{ActiveModelTrait, Iterable};

    if rows.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        let per_statement = (SQLITE_PARAMS_PER_INSERT / E::Column::iter().count()).max(1);
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let insert = E::insert_many(rows.by_ref().take(per_statement));
            match &conflict {
                Some(c) => {
                    let on_conflict =
                        OnConflict::columns(c.key.iter().copied()).update_columns(c.update.iter().copied()).to_owned();
                    insert.on_conflict(on_conflict).exec_without_returning(db).await?;
                }
                None => {
                    insert.exec_without_returning(db).await?;
                }
            }
        }
        return Ok(());
    }

    let columns: Vec<E::Column> = E::Column::iter().collect();
    let name = |c: &E::Column| format!("\"{}\"", sea_orm::IdenStatic::as_str(c));
    let names: Vec<String> = columns.iter().map(name).collect();
    let types: Vec<&'static str> = columns
        .iter()
        .map(|c| pg_type(sea_orm::ColumnTrait::def(c).get_column_type()))
        .collect::<Result<_, sea_orm::DbErr>>()?;
    let mut tail = String::new();
    if let Some(c) = &conflict {
        let key: Vec<String> = c.key.iter().map(name).collect();
        let set: Vec<String> = c.update.iter().map(|u| format!("{0} = EXCLUDED.{0}", name(u))).collect();
        tail = format!(" ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), set.join(", "));
    }
    let table = sea_orm::IdenStatic::as_str(&E::default()).to_owned();
    for chunk in rows.chunks(POSTGRES_ROWS_PER_INSERT) {
        let mut params = Vec::with_capacity(columns.len());
        let mut arrays = Vec::with_capacity(columns.len());
        for (j, col) in columns.iter().enumerate() {
            let values: Vec<Option<Value>> = chunk.iter().map(|row| row.get(*col).into_value()).collect();
            // A column without NULLs binds as a typed array (binary, nothing to parse); one
            // with NULLs as an array literal (the binder cannot send NULL elements).
            match typed_array(&values) {
                Some(array) => {
                    arrays.push(format!("${}::{}[]", j + 1, types[j]));
                    params.push(array);
                }
                None => {
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
        let sql =
            format!("INSERT INTO \"{table}\" ({}) SELECT * FROM unnest({}){tail}", names.join(", "), arrays.join(", "));
        db.execute(sea_orm::Statement::from_sql_and_values(backend, sql, params)).await?;
    }
    Ok(())
}

/// The values as one typed array, when none is NULL and the type binds natively.
fn typed_array(values: &[Option<Value>]) -> Option<Value> {
    macro_rules! collect {
        ($variant:ident, $ty:ident) => {{
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    Some(Value::$variant(Some(x))) => out.push(Value::$variant(Some(x.clone()))),
                    _ => return None,
                }
            }
            Some(Value::Array(ArrayType::$ty, Some(Box::new(out))))
        }};
    }
    match values.first()? {
        Some(Value::Uuid(Some(_))) => collect!(Uuid, Uuid),
        Some(Value::String(Some(_))) => collect!(String, String),
        Some(Value::BigInt(Some(_))) => collect!(BigInt, BigInt),
        Some(Value::Int(Some(_))) => collect!(Int, Int),
        Some(Value::SmallInt(Some(_))) => collect!(SmallInt, SmallInt),
        Some(Value::Double(Some(_))) => collect!(Double, Double),
        Some(Value::Bool(Some(_))) => collect!(Bool, Bool),
        Some(Value::ChronoDate(Some(_))) => collect!(ChronoDate, ChronoDate),
        Some(Value::ChronoDateTimeUtc(Some(_))) => collect!(ChronoDateTimeUtc, ChronoDateTimeUtc),
        _ => None,
    }
}

fn pg_type(ty: &sea_orm::ColumnType) -> Result<&'static str, sea_orm::DbErr> {
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
            return Err(sea_orm::DbErr::Custom(format!("no bulk insert mapping for column type {other:?}")));
        }
    })
}

/// Appends one element of a PostgreSQL array literal: `NULL`, or the value's text quoted
/// with `"` and `\` escaped.
fn write_array_element(out: &mut String, value: Option<Value>) -> Result<(), sea_orm::DbErr> {
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
            return Err(sea_orm::DbErr::Custom(format!("no bulk insert mapping for value {other:?}")));
        }
    };
    Ok(())
}
