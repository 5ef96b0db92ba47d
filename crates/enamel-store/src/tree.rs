//! A whole tree of rows in one statement: a root (one row by id, or a page of live rows),
//! rows it refers to, and pages of its children, to any depth. The database builds each
//! row as a JSON array (PostgreSQL `json_build_array`/`json_agg`, SQLite `json_array`/
//! `json_group_array`), so a request that asks for a patient, their appointments and each
//! appointment's procedures costs one round trip, not one per level.
//!
//! A node reads only the columns it is asked for, and hands them over as JSON values; a
//! caller turns each into its domain value with [`CellValue`] (the same conversions the
//! store's records are built with). Rows are read with the same rules as the dataloader
//! reads: a reference resolves within the practice, soft-deleted targets included; a list
//! holds live rows only, in the order of its sort key with rows without a value last and
//! ties broken by id.

use sea_orm::sea_query::ColumnType;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, IdenStatic, Iterable, Statement};
use serde_json::Value;
use uuid::Uuid;

use crate::table::{Link, Sort, sealed::TableDef};
use crate::{Result, StoreError, Table};

/// What to read of one table: some columns of its rows, and the rows they lead to.
pub struct TreeNode {
    table: &'static str,
    /// The columns read, in order.
    columns: Vec<(&'static str, Cell)>,
    /// How a column of the table travels, if the table has it.
    kind: fn(&str) -> Option<Cell>,
    children: Vec<Child>,
}

/// How a column's value travels in the row's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// A UUID (SQLite keeps them as 16-byte blobs: sent as hex).
    Uuid,
    /// A boolean (SQLite keeps them as integers: sent as 0 or 1, read back as a boolean).
    Bool,
    /// A JSON document (SQLite keeps it as text: sent as JSON, not as a string).
    Json,
    /// Anything else, as the database writes it into JSON.
    Plain,
}

enum Child {
    Ref {
        column: &'static str,
        node: TreeNode,
    },
    List {
        link: &'static str,
        sort: &'static str,
        descending: bool,
        limit: u64,
        only: Option<&'static str>,
        node: TreeNode,
    },
}

/// Where a tree starts.
#[derive(Debug, Clone, Copy)]
pub enum TreeRoot {
    /// The row with this id in the practice (soft-deleted or not).
    ById(Uuid),
    /// A page of the practice's live rows, by a sort column (rows without a value last,
    /// ties by id in the same direction), as the query roots list them.
    Live {
        /// The sort column.
        sort: &'static str,
        /// Largest first.
        descending: bool,
        /// At most this many rows.
        limit: u64,
    },
}

/// One row read: its columns and, in the order they were added, its children.
pub struct TreeRow {
    /// The values of the node's columns, in the order asked (UUIDs as text, with or
    /// without hyphens; booleans as booleans): read them with [`CellValue`].
    pub cells: Vec<Value>,
    /// What each child of the node found for this row.
    pub children: Vec<TreeValue>,
}

/// What a child of a node found for one row.
pub enum TreeValue {
    /// The row referred to, if there is one.
    One(Option<TreeRow>),
    /// A page of child rows, in order.
    Many(Vec<TreeRow>),
}

impl TreeNode {
    /// The columns `columns` of table `T`'s rows, and no children yet.
    pub fn of<T: Table>(columns: &[&'static str]) -> Result<TreeNode> {
        let columns = columns
            .iter()
            .map(|&c| match kind_of::<T>(c) {
                Some(cell) => Ok((c, cell)),
                None => Err(StoreError::Invalid(format!("{} has no column {c}", T::TABLE))),
            })
            .collect::<Result<_>>()?;
        Ok(TreeNode { table: T::TABLE, columns, kind: kind_of::<T>, children: Vec::new() })
    }

    /// Adds the row that column `column` (a UUID column of this table) refers to; returns
    /// the child's index in [`TreeRow::children`].
    pub fn reference(&mut self, column: &'static str, node: TreeNode) -> Result<usize> {
        match (self.kind)(column) {
            Some(Cell::Uuid) => Ok(self.push(Child::Ref { column, node })),
            _ => Err(StoreError::Invalid(format!("{} has no reference column {column}", self.table))),
        }
    }

    /// Adds a page of this row's live children of table `T` through `link`, in `sort`
    /// order, at most `limit` of them; with `only`, just the children whose boolean column
    /// of that name is true. Returns the child's index in [`TreeRow::children`].
    pub fn children<T: Table, P>(
        &mut self,
        link: Link<T, P>,
        sort: Sort<T>,
        descending: bool,
        limit: u64,
        only: Option<&'static str>,
        node: TreeNode,
    ) -> Result<usize> {
        if node.table != T::TABLE {
            return Err(StoreError::Invalid(format!("{} rows read as {}", T::TABLE, node.table)));
        }
        if let Some(column) = only
            && (node.kind)(column) != Some(Cell::Bool)
        {
            return Err(StoreError::Invalid(format!("{} has no boolean column {column}", node.table)));
        }
        Ok(self.push(Child::List { link: link.column, sort: sort.column, descending, limit, only, node }))
    }

    fn push(&mut self, child: Child) -> usize {
        self.children.push(child);
        self.children.len() - 1
    }

    /// The JSON array of one row of this node, the row named `alias`.
    fn row(&self, sql: &mut Sql, alias: &str) -> String {
        let sqlite = sql.backend == DbBackend::Sqlite;
        let mut parts: Vec<String> = self
            .columns
            .iter()
            .map(|(column, cell)| {
                let c = format!("{alias}.\"{column}\"");
                match (sqlite, *cell) {
                    (true, Cell::Uuid) => format!("iif({c} IS NULL, NULL, hex({c}))"),
                    (true, Cell::Json) => format!("json({c})"),
                    _ => c,
                }
            })
            .collect();
        for child in &self.children {
            parts.push(sql.child(child, alias));
        }
        let f = if sqlite { "json_array" } else { "json_build_array" };
        format!("{f}({})", parts.join(", "))
    }

    fn decode(&self, value: Value) -> Result<TreeRow> {
        let Value::Array(mut cells) = value else {
            return Err(self.corrupt("a row is not an array"));
        };
        if cells.len() != self.columns.len() + self.children.len() {
            return Err(self.corrupt("a row has the wrong number of values"));
        }
        let found = cells.split_off(self.columns.len());
        for (cell, (_, kind)) in cells.iter_mut().zip(&self.columns) {
            if *kind == Cell::Bool
                && let Value::Number(n) = cell
            {
                *cell = Value::Bool(n.as_i64() != Some(0));
            }
        }
        let children = self
            .children
            .iter()
            .zip(found)
            .map(|(child, value)| match (child, value) {
                (Child::Ref { .. }, Value::Null) => Ok(TreeValue::One(None)),
                (Child::Ref { node, .. }, row) => Ok(TreeValue::One(Some(node.decode(row)?))),
                (Child::List { node, .. }, Value::Array(rows)) => {
                    Ok(TreeValue::Many(rows.into_iter().map(|r| node.decode(r)).collect::<Result<_>>()?))
                }
                (Child::List { node, .. }, _) => Err(node.corrupt("a page of rows is not an array")),
            })
            .collect::<Result<_>>()?;
        Ok(TreeRow { cells, children })
    }

    fn corrupt(&self, reason: &str) -> StoreError {
        StoreError::Invalid(format!("reading {} as a tree: {reason}", self.table))
    }
}

/// How column `column` of table `T` travels, if `T` has it (no allocation: this runs for
/// every column of every node of every plain request).
fn kind_of<T: Table>(column: &str) -> Option<Cell> {
    <T as TableDef>::Column::iter().find(|c| c.as_str() == column).map(|c| match c.def().get_column_type() {
        ColumnType::Uuid => Cell::Uuid,
        ColumnType::Boolean => Cell::Bool,
        ColumnType::Json | ColumnType::JsonBinary => Cell::Json,
        _ => Cell::Plain,
    })
}

/// A statement being written: the backend and the next free table alias.
struct Sql {
    backend: DbBackend,
    next: usize,
}

impl Sql {
    fn alias(&mut self) -> String {
        self.next += 1;
        format!("t{}", self.next)
    }

    /// The practice parameter.
    fn practice(&self) -> &'static str {
        if self.backend == DbBackend::Sqlite { "?1" } else { "$1" }
    }

    /// Rows without a value last, then by value, ties by id, in one direction.
    fn order(prefix: &str, sort: &str, descending: bool) -> String {
        let dir = if descending { "DESC" } else { "ASC" };
        format!("({prefix}\"{sort}\" IS NULL), {prefix}\"{sort}\" {dir}, {prefix}\"id\" {dir}")
    }

    fn child(&mut self, child: &Child, parent: &str) -> String {
        let sqlite = self.backend == DbBackend::Sqlite;
        let practice = self.practice();
        let t = self.alias();
        let sub = match child {
            Child::Ref { column, node } => {
                let row = node.row(self, &t);
                format!(
                    "(SELECT {row} FROM \"{table}\" {t} WHERE {t}.\"practice_id\" = {practice} AND {t}.\"id\" = {parent}.\"{column}\")",
                    table = node.table
                )
            }
            Child::List { link, sort, descending, limit, only, node } => {
                let row = node.row(self, &t);
                let only = only.map(|c| format!(" AND {t}.\"{c}\" = TRUE")).unwrap_or_default();
                let inner = format!(
                    "SELECT {row} AS j, {t}.\"{sort}\" AS s, {t}.\"id\" AS i FROM \"{table}\" {t} \
                     WHERE {t}.\"practice_id\" = {practice} AND {t}.\"{link}\" = {parent}.\"id\" \
                     AND {t}.\"deleted_at\" IS NULL{only} ORDER BY {order} LIMIT {limit}",
                    table = node.table,
                    order = Sql::order(&format!("{t}."), sort, *descending),
                );
                let dir = if *descending { "DESC" } else { "ASC" };
                let by = format!("(x.s IS NULL), x.s {dir}, x.i {dir}");
                if sqlite {
                    format!("(SELECT json_group_array(json(x.j) ORDER BY {by}) FROM ({inner}) x)")
                } else {
                    format!("(SELECT coalesce(json_agg(x.j ORDER BY {by}), '[]'::json) FROM ({inner}) x)")
                }
            }
        };
        // SQLite passes a subquery's JSON on as text: `json()` makes it JSON again.
        if sqlite { format!("json({sub})") } else { sub }
    }
}

/// The tree under `root` in `practice`, as one statement.
pub(crate) async fn read<C: ConnectionTrait>(
    db: &C,
    practice: Uuid,
    root: TreeRoot,
    node: &TreeNode,
) -> Result<Vec<TreeRow>> {
    let backend = db.get_database_backend();
    let mut sql = Sql { backend, next: 0 };
    let t = "t0";
    let row = node.row(&mut sql, t);
    let (row, id) = if backend == DbBackend::Sqlite { (row, "?2") } else { (format!("({row})::text"), "$2") };
    let practice_is = format!("{t}.\"practice_id\" = {}", sql.practice());
    let table = node.table;
    let (text, values) = match root {
        TreeRoot::ById(uuid) => (
            format!("SELECT {row} AS j FROM \"{table}\" {t} WHERE {practice_is} AND {t}.\"id\" = {id}"),
            vec![practice.into(), uuid.into()],
        ),
        TreeRoot::Live { sort, descending, limit } => {
            if (node.kind)(sort).is_none() {
                return Err(StoreError::Invalid(format!("{table} has no column {sort}")));
            }
            // As the query roots order (see `search::list`): PostgreSQL says NULLS LAST
            // directly, which keeps the `(practice_id, column)` index usable.
            let order = if backend == DbBackend::Postgres {
                let dir = if descending { "DESC" } else { "ASC" };
                format!("{t}.\"{sort}\" {dir} NULLS LAST, {t}.\"id\" {dir}")
            } else {
                Sql::order(&format!("{t}."), sort, descending)
            };
            (
                format!(
                    "SELECT {row} AS j FROM \"{table}\" {t} WHERE {practice_is} AND {t}.\"deleted_at\" IS NULL \
                     ORDER BY {order} LIMIT {limit}"
                ),
                vec![practice.into()],
            )
        }
    };
    let rows = db.query_all(Statement::from_sql_and_values(backend, text, values)).await?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get("", "j")?;
            let value = serde_json::from_str(&text).map_err(|e| node.corrupt(&e.to_string()))?;
            node.decode(value)
        })
        .collect()
}
