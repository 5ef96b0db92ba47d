//! The plain executor: answers the common shape of query — entities' fields, references
//! and pages of children under `patient(id:)` or `patients(first:)` — with one SQL
//! statement per root field (the store's [`TreeNode`] reads the whole tree as JSON), and
//! writes the answer straight to text. Everything else goes to async-graphql.
//!
//! It answers only documents async-graphql has already run without an error (the
//! `vetted` set of [`Plain`]), so validation, limits and error reporting stay
//! async-graphql's; and it gives up (returns `None`) on anything it does not know —
//! fragments, directives, arguments other than `first` and a root `id`, cursors, counts,
//! computed fields, rows whose patient is found through another row, a required reference
//! that finds nothing. A node reads only the columns asked for; each value is converted
//! with the store's [`CellValue`] and the schema's [`Present`](crate::present::Present),
//! as the resolvers convert a whole record, and the tests compare both executors'
//! answers and audits on both backends. Fields come in the order asked (the GraphQL
//! spec's order; async-graphql 7.2 writes them in the order they resolved).

use std::collections::HashSet;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field as GqlField, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{InputType, Name, Value};
use enamel_domain::ids::PatientId;
use enamel_domain::{Currency, PracticeId};
use enamel_store::{CellValue, Store, TreeNode, TreeRoot, TreeRow, TreeValue};

use crate::connection::{DEFAULT_PAGE, Entity, MAX_PAGE};
use crate::phi::{Holder, Owner, PhiSeen};
use crate::present::Money;

/// Writes one field of a row: its column's value, the practice currency, the field's own
/// selection (`(response key, field name)`, for objects such as money; empty for
/// scalars), the output.
pub(crate) type WriteFn = fn(&serde_json::Value, Currency, &[(String, String)], &mut Vec<u8>) -> Option<()>;

/// Adds a page of children (at most `limit` rows) of a node's rows to it.
pub(crate) type AddList = fn(&mut TreeNode, u64, TreeNode) -> enamel_store::Result<usize>;

/// Plans an object selection of one entity.
pub(crate) type PlanFn = fn(&Compiler<'_>, &SelectionSet) -> Option<(Plan, TreeNode)>;

/// Adds one child to a node, once its columns are known.
type AddChild = Box<dyn FnOnce(&mut TreeNode) -> enamel_store::Result<usize>>;

/// What the plain executor knows of an entity's fields, by schema name.
pub(crate) struct Fields {
    /// Stored fields: (name, column, writer).
    pub(crate) scalars: Vec<(String, &'static str, WriteFn)>,
    /// References: (name, column, nullable, target).
    pub(crate) refs: Vec<(String, &'static str, bool, PlanFn)>,
    /// Lists of children: (name, how to add the page, target).
    pub(crate) lists: Vec<(String, AddList, PlanFn)>,
}

/// An entity the plain executor can answer (every `entity!` type).
pub(crate) trait PlainEntity: Entity {
    /// Where its rows name their patient (as `PatientOf::owner_of` does).
    const HOLDER: Holder;
    /// Its fields.
    fn fields() -> &'static Fields;
}

/// A schema name from a Rust field name, as async-graphql names fields.
pub(crate) fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A value as the schema writes it.
pub(crate) trait PlainOut {
    /// Writes the value; `None` when it cannot (a selection it does not know).
    fn write(&self, sub: &[(String, String)], out: &mut Vec<u8>) -> Option<()>;
}

/// Writes a scalar or an enum (its schema name) as async-graphql writes it.
pub(crate) fn write_value<T: InputType>(value: &T, sub: &[(String, String)], out: &mut Vec<u8>) -> Option<()> {
    if !sub.is_empty() {
        return None;
    }
    serde_json::to_writer(out, &value.to_value()).ok()
}

macro_rules! as_value {
    ($($t:ty),* $(,)?) => {$(
        impl PlainOut for $t {
            fn write(&self, sub: &[(String, String)], out: &mut Vec<u8>) -> Option<()> {
                write_value(self, sub, out)
            }
        }
    )*};
}

as_value!(
    String,
    bool,
    i32,
    f64,
    chrono::NaiveDate,
    chrono::DateTime<chrono::Utc>,
    Vec<i32>,
    async_graphql::Json<serde_json::Value>
);

impl<T: PlainOut> PlainOut for Option<T> {
    fn write(&self, sub: &[(String, String)], out: &mut Vec<u8>) -> Option<()> {
        match self {
            Some(v) => v.write(sub, out),
            None => {
                out.extend_from_slice(b"null");
                Some(())
            }
        }
    }
}

impl PlainOut for Money {
    fn write(&self, sub: &[(String, String)], out: &mut Vec<u8>) -> Option<()> {
        if sub.is_empty() {
            return None;
        }
        out.push(b'{');
        for (i, (key, field)) in sub.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_key(out, key);
            let value = match field.as_str() {
                "amount" => Value::String(self.amount.clone()),
                "currency" => Value::String(self.currency.clone()),
                "minorUnits" => Value::from(self.minor_units),
                "__typename" => Value::String("Money".to_owned()),
                _ => return None,
            };
            serde_json::to_writer(&mut *out, &value).ok()?;
        }
        out.push(b'}');
        Some(())
    }
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    // Response keys are GraphQL names: letters, digits and underscores.
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A planned object selection: how to render a row of one entity. Cell 0 of its rows is
/// the id; `holder` is the cell of the row's patient.
pub(crate) struct Plan {
    render: fn(&Plan, &TreeRow, &mut Cx) -> Option<()>,
    holder: Option<usize>,
    fields: Vec<(String, Part)>,
}

enum Part {
    TypeName(&'static str),
    Id,
    Scalar { cell: usize, write: WriteFn, sub: Vec<(String, String)> },
    One { child: usize, nullable: bool, plan: Plan },
    First { child: usize, plan: Plan },
    Page { child: usize, limit: u64, shape: Shape },
}

/// What a page shows, and the cell of its rows' patient.
struct Shape {
    parts: Vec<(String, PagePart)>,
    holder: Option<usize>,
}

enum PagePart {
    Edges(Vec<(String, Plan)>),
    Nodes(Plan),
    PageInfo(Vec<(String, bool)>),
}

/// Turns one request's selections into plans.
pub(crate) struct Compiler<'a> {
    variables: &'a serde_json::Value,
    operation: &'a OperationDefinition,
}

impl Compiler<'_> {
    /// An argument's value as JSON (a literal, or a variable's value); `None` when absent.
    fn argument(&self, field: &GqlField, name: &str) -> Option<Option<serde_json::Value>> {
        let Some((_, value)) = field.arguments.iter().find(|(n, _)| n.node.as_str() == name) else {
            return Some(None);
        };
        // A variable not given takes its default, else null (the argument left out).
        let value = value
            .node
            .clone()
            .into_const_with(|name| match self.variables.get(name.as_str()) {
                Some(v) => Value::from_json(v.clone()).map_err(|_| ()),
                None => Ok(self
                    .operation
                    .variable_definitions
                    .iter()
                    .find(|d| d.node.name.node == name)
                    .and_then(|d| d.node.default_value.as_ref())
                    .map_or(Value::Null, |d| d.node.clone())),
            })
            .ok()?;
        value.into_json().ok().map(Some)
    }

    /// `first` (default 20, at most 500).
    fn first(&self, field: &GqlField) -> Option<u64> {
        match self.argument(field, "first")? {
            None | Some(serde_json::Value::Null) => Some(DEFAULT_PAGE),
            Some(v) => v.as_u64().filter(|&n| n <= MAX_PAGE),
        }
    }

    /// The plain fields of a selection: `None` for fragments and directives.
    fn fields<'s>(&self, set: &'s SelectionSet) -> Option<Vec<&'s GqlField>> {
        let mut keys = HashSet::new();
        set.items
            .iter()
            .map(|s| match &s.node {
                Selection::Field(f)
                    if f.node.directives.is_empty() && keys.insert(f.node.response_key().node.as_str()) =>
                {
                    Some(&f.node)
                }
                _ => None,
            })
            .collect()
    }

    /// Plans an object selection of entity `E`.
    fn object<E: PlainEntity>(&self, set: &SelectionSet) -> Option<(Plan, TreeNode)> {
        let table = E::fields();
        // The id, the patient's column, then the fields' columns.
        let mut columns = vec!["id"];
        let holder = match E::HOLDER {
            Holder::Nobody => None,
            Holder::Itself => Some(0),
            Holder::Patient(column) => {
                columns.push(column);
                Some(1)
            }
            // The patient is found through another row: async-graphql reads it.
            Holder::Indirect => return None,
        };
        let mut children: Vec<AddChild> = Vec::new();
        let mut fields = Vec::new();
        for f in self.fields(set)? {
            let name = f.name.node.as_str();
            let key = f.response_key().node.to_string();
            let only_first = || f.arguments.iter().all(|(n, _)| n.node.as_str() == "first");
            let child = children.len();
            let part = if name == "__typename" {
                Part::TypeName(E::NAME)
            } else if name == "id" && f.arguments.is_empty() {
                Part::Id
            } else if let Some((_, column, write)) = table.scalars.iter().find(|(n, ..)| n == name) {
                if !f.arguments.is_empty() {
                    return None;
                }
                let sub = self.leaves(&f.selection_set.node)?;
                let cell = match columns.iter().position(|c| c == column) {
                    Some(i) => i,
                    None => {
                        columns.push(column);
                        columns.len() - 1
                    }
                };
                Part::Scalar { cell, write: *write, sub }
            } else if let Some((_, column, nullable, plan)) = table.refs.iter().find(|(n, ..)| n == name) {
                if !f.arguments.is_empty() {
                    return None;
                }
                let (plan, node) = plan(self, &f.selection_set.node)?;
                let column: &'static str = column;
                children.push(Box::new(move |n| n.reference(column, node)));
                Part::One { child, nullable: *nullable, plan }
            } else if let Some((_, add, plan)) = table.lists.iter().find(|(n, ..)| n == name) {
                if !only_first() {
                    return None;
                }
                let limit = self.first(f)?;
                let (shape, node) = self.page(&f.selection_set.node, *plan)?;
                let add = *add;
                // One more row than the page tells whether a next page exists.
                children.push(Box::new(move |n| add(n, limit + 1, node)));
                Part::Page { child, limit, shape }
            } else if E::NAME == "Family" && name == "guarantor" && f.arguments.is_empty() {
                // `Family.guarantor` (a hand-written resolver): the first live member, in
                // last name order, who is the guarantor.
                let (plan, node) = object::<crate::types::Patient>(self, &f.selection_set.node)?;
                children.push(Box::new(move |n| {
                    n.children(
                        enamel_store::tables::patient::BY_FAMILY,
                        enamel_store::tables::patient::LAST_NAME,
                        false,
                        1,
                        Some("is_guarantor"),
                        node,
                    )
                }));
                Part::First { child, plan }
            } else {
                return None;
            };
            fields.push((key, part));
        }
        let mut node = TreeNode::of::<E::Id>(&columns).ok()?;
        for add in children {
            add(&mut node).ok()?;
        }
        Some((Plan { render: render::<E>, holder, fields }, node))
    }

    /// The `(key, field)` pairs of a selection of leaves (empty for none).
    fn leaves(&self, set: &SelectionSet) -> Option<Vec<(String, String)>> {
        self.fields(set)?
            .into_iter()
            .map(|f| {
                (f.arguments.is_empty() && f.selection_set.node.items.is_empty())
                    .then(|| (f.response_key().node.to_string(), f.name.node.to_string()))
            })
            .collect()
    }

    /// Plans a connection's selection: its edges' nodes (or `nodes`) share one read.
    fn page(&self, set: &SelectionSet, plan: PlanFn) -> Option<(Shape, TreeNode)> {
        let mut node = None;
        let mut holder = None;
        let mut planned = |set: &SelectionSet| -> Option<Plan> {
            if node.is_some() {
                return None;
            }
            let (p, n) = plan(self, set)?;
            node = Some(n);
            holder = p.holder;
            Some(p)
        };
        let mut shape = Vec::new();
        for f in self.fields(set)? {
            if !f.arguments.is_empty() {
                return None;
            }
            let key = f.response_key().node.to_string();
            let part = match f.name.node.as_str() {
                "edges" => {
                    let mut edge = Vec::new();
                    for e in self.fields(&f.selection_set.node)? {
                        if e.name.node.as_str() != "node" || !e.arguments.is_empty() {
                            return None;
                        }
                        edge.push((e.response_key().node.to_string(), planned(&e.selection_set.node)?));
                    }
                    PagePart::Edges(edge)
                }
                "nodes" => PagePart::Nodes(planned(&f.selection_set.node)?),
                "pageInfo" => PagePart::PageInfo(
                    self.leaves(&f.selection_set.node)?
                        .into_iter()
                        .map(|(k, name)| match name.as_str() {
                            "hasNextPage" => Some((k, true)),
                            "hasPreviousPage" => Some((k, false)),
                            _ => None,
                        })
                        .collect::<Option<_>>()?,
                ),
                _ => return None,
            };
            shape.push((key, part));
        }
        // A page nobody reads the rows of still reads them (it says whether there is a
        // next page, and its rows are audited as async-graphql audits them).
        let node = match node {
            Some(n) => n,
            None => {
                let (p, n) = plan(self, &SelectionSet::default())?;
                holder = p.holder;
                n
            }
        };
        Some((Shape { parts: shape, holder }, node))
    }
}

/// Plans an object selection of entity `E` (a [`PlanFn`]).
pub(crate) fn object<E: PlainEntity>(c: &Compiler<'_>, set: &SelectionSet) -> Option<(Plan, TreeNode)> {
    c.object::<E>(set)
}

/// What rendering needs besides the plan: the currency, the rows seen, the output.
struct Cx {
    currency: Currency,
    seen: PhiSeen,
    out: Vec<u8>,
}

impl Cx {
    /// Notes the patient of `row`, whose cell `holder` names them (if any).
    fn note(&self, row: &TreeRow, holder: Option<usize>) -> Option<()> {
        if let Some(cell) = holder
            && let Some(patient) = Option::<uuid::Uuid>::from_cell(row.cells.get(cell)?).ok()?
        {
            self.seen.note(Owner::Patient(PatientId::from(patient)));
        }
        Some(())
    }
}

fn render<E: PlainEntity>(plan: &Plan, row: &TreeRow, cx: &mut Cx) -> Option<()> {
    let id = uuid::Uuid::from_cell(row.cells.first()?).ok()?;
    cx.note(row, plan.holder)?;
    write_object(cx, &plan.fields, |part, cx| {
        match part {
            Part::TypeName(name) => serde_json::to_writer(&mut cx.out, name).ok()?,
            Part::Id => {
                let id = crate::global_id::encode(E::NAME, id);
                serde_json::to_writer(&mut cx.out, id.as_str()).ok()?;
            }
            Part::Scalar { cell, write, sub } => write(row.cells.get(*cell)?, cx.currency, sub, &mut cx.out)?,
            Part::One { child, nullable, plan } => match row.children.get(*child)? {
                TreeValue::One(Some(r)) => (plan.render)(plan, r, cx)?,
                TreeValue::One(None) if *nullable => cx.out.extend_from_slice(b"null"),
                _ => return None,
            },
            Part::First { child, plan } => match row.children.get(*child)? {
                TreeValue::Many(rows) => match rows.first() {
                    Some(r) => (plan.render)(plan, r, cx)?,
                    None => cx.out.extend_from_slice(b"null"),
                },
                TreeValue::One(_) => return None,
            },
            Part::Page { child, limit, shape } => match row.children.get(*child)? {
                TreeValue::Many(rows) => page(rows, *limit, shape, cx)?,
                TreeValue::One(_) => return None,
            },
        }
        Some(())
    })
}

/// Writes `{"key":value,…}` for `entries`, each value by `value`.
fn write_object<T>(
    cx: &mut Cx,
    entries: &[(String, T)],
    mut value: impl FnMut(&T, &mut Cx) -> Option<()>,
) -> Option<()> {
    cx.out.push(b'{');
    for (i, (key, entry)) in entries.iter().enumerate() {
        if i > 0 {
            cx.out.push(b',');
        }
        write_key(&mut cx.out, key);
        value(entry, cx)?;
    }
    cx.out.push(b'}');
    Some(())
}

fn page(rows: &[TreeRow], limit: u64, shape: &Shape, cx: &mut Cx) -> Option<()> {
    let has_next = rows.len() as u64 > limit;
    let rows = &rows[..rows.len().min(usize::try_from(limit).unwrap_or(usize::MAX))];
    // Every row of the page is the response's, shown or not (as async-graphql builds a
    // page's edges whatever the query shows of them).
    for row in rows {
        cx.note(row, shape.holder)?;
    }
    let list = |cx: &mut Cx, each: &dyn Fn(&TreeRow, &mut Cx) -> Option<()>| -> Option<()> {
        cx.out.push(b'[');
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                cx.out.push(b',');
            }
            each(r, cx)?;
        }
        cx.out.push(b']');
        Some(())
    };
    write_object(cx, &shape.parts, |part, cx| {
        match part {
            PagePart::Edges(edge) => list(cx, &|r, cx| write_object(cx, edge, |plan, cx| (plan.render)(plan, r, cx)))?,
            PagePart::Nodes(plan) => list(cx, &|r, cx| (plan.render)(plan, r, cx))?,
            // Plain pages start at the first row: no previous page.
            PagePart::PageInfo(info) => write_object(cx, info, |next, cx| {
                cx.out.extend_from_slice(if *next && has_next { b"true" } else { b"false" });
                Some(())
            })?,
        }
        Some(())
    })
}

/// The plain executor of one API.
#[derive(Default)]
pub(crate) struct Plain {
    /// Documents (hashes of the text and operation name) async-graphql ran without error.
    vetted: Mutex<HashSet<u64>>,
    /// Keyed at random per process, so that no one can write a document whose hash is a
    /// vetted one's.
    hasher: std::collections::hash_map::RandomState,
    /// Requests answered.
    pub(crate) answered: std::sync::atomic::AtomicU64,
}

/// At most this many documents are remembered as vetted (then the set starts over).
const VETTED: usize = 4096;

/// What the plain executor answered.
pub(crate) struct Answer {
    /// The response's JSON text.
    pub(crate) body: String,
    /// The rows it returned, for the access audit.
    pub(crate) seen: PhiSeen,
}

impl Plain {
    /// The key a document is vetted under.
    pub(crate) fn key(&self, query: &str, operation: Option<&str>) -> u64 {
        let mut h = self.hasher.build_hasher();
        query.hash(&mut h);
        operation.hash(&mut h);
        h.finish()
    }

    /// Notes that async-graphql answered the document with this key without error.
    pub(crate) fn vet(&self, key: u64) {
        if let Ok(mut v) = self.vetted.lock() {
            if v.len() >= VETTED {
                v.clear();
            }
            v.insert(key);
        }
    }

    /// Whether async-graphql answered the document with this key without error.
    pub(crate) fn vetted(&self, key: u64) -> bool {
        self.vetted.lock().is_ok_and(|v| v.contains(&key))
    }

    /// Answers a vetted request if it is plain; `None` hands it to async-graphql.
    pub(crate) async fn run(
        &self,
        store: &Store,
        practice: PracticeId,
        currency: Currency,
        request: (Option<&str>, &serde_json::Value),
        doc: &ExecutableDocument,
    ) -> Option<Answer> {
        let (operation, variables) = request;
        let op = match (&doc.operations, operation) {
            (DocumentOperations::Single(op), _) => op,
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(&Name::new(name))?,
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
            (DocumentOperations::Multiple(_), None) => return None,
        };
        if op.node.ty != OperationType::Query || !op.node.directives.is_empty() {
            return None;
        }
        let compiler = Compiler { variables, operation: &op.node };
        let mut roots = Vec::new();
        for f in compiler.fields(&op.node.selection_set.node)? {
            roots.push((f.response_key().node.to_string(), root(&compiler, f)?));
        }
        let mut cx = Cx { currency, seen: PhiSeen::default(), out: Vec::with_capacity(4096) };
        cx.out.extend_from_slice(b"{\"data\":{");
        for (i, (key, r)) in roots.iter().enumerate() {
            if i > 0 {
                cx.out.push(b',');
            }
            write_key(&mut cx.out, key);
            let rows = match store.tree(practice, r.tree, &r.node).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "the plain executor could not read; async-graphql answers instead");
                    return None;
                }
            };
            match &r.kind {
                RootKind::One(plan) => (plan.render)(plan, rows.first()?, &mut cx)?,
                RootKind::Page(limit, shape) => page(&rows, *limit, shape, &mut cx)?,
            }
        }
        cx.out.extend_from_slice(b"}}");
        Some(Answer { body: String::from_utf8(cx.out).ok()?, seen: cx.seen })
    }
}

/// A root field planned: where its tree starts, what to read, how to render it.
struct Root {
    tree: TreeRoot,
    node: TreeNode,
    kind: RootKind,
}

enum RootKind {
    /// One object.
    One(Plan),
    /// A page of objects: at most this many, in this shape.
    Page(u64, Shape),
}

/// A root field the plain executor answers: `patient(id:)` or `patients(first:)`.
fn root(c: &Compiler<'_>, f: &GqlField) -> Option<Root> {
    match f.name.node.as_str() {
        "patient" if f.arguments.len() == 1 => {
            let id = c.argument(f, "id")??;
            let uuid = crate::global_id::decode_as(&async_graphql::ID(id.as_str()?.to_owned()), "Patient").ok()?;
            let (plan, node) = object::<crate::types::Patient>(c, &f.selection_set.node)?;
            Some(Root { tree: TreeRoot::ById(uuid), node, kind: RootKind::One(plan) })
        }
        "patients" if f.arguments.iter().all(|(n, _)| n.node.as_str() == "first") => {
            let limit = c.first(f)?;
            let (shape, node) = c.page(&f.selection_set.node, object::<crate::types::Patient>)?;
            let sort = enamel_store::tables::patient::LAST_NAME.column();
            let tree = TreeRoot::Live { sort, descending: false, limit: limit + 1 };
            Some(Root { tree, node, kind: RootKind::Page(limit, shape) })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::*;

    /// Every name the plain executor answers is a field of its type in the schema.
    fn names_are_fields<E: PlainEntity>(sdl: &str) {
        let start = sdl.find(&format!("\ntype {} ", E::NAME)).unwrap_or_else(|| panic!("{} is a type", E::NAME));
        let body = &sdl[start..start + sdl[start..].find("\n}").unwrap_or(0)];
        let fields = E::fields();
        let names = fields
            .scalars
            .iter()
            .map(|f| &f.0)
            .chain(fields.refs.iter().map(|f| &f.0))
            .chain(fields.lists.iter().map(|f| &f.0));
        for name in names {
            assert!(
                body.contains(&format!("\n\t{name}:")) || body.contains(&format!("\n\t{name}(")),
                "{}.{name} is not a field of the schema",
                E::NAME
            );
        }
    }

    #[test]
    fn every_plain_name_is_a_schema_field() {
        let sdl = crate::sdl();
        macro_rules! check {
            ($($t:ident)*) => { $(names_are_fields::<$t>(&sdl);)* };
        }
        check!(
            Location Provider Operatory Family Patient PatientTag PatientTagAssignment ReferralSource PatientReferral
            ProcedureCode Appointment CheckIn Visit VisitStep Procedure TreatmentPlan TreatmentPlanItem InsuranceCarrier
            InsurancePlan InsuranceSubscriber PatientPlan Benefit Claim ClaimProcedure Payment PaymentAllocation
            Adjustment FeeSchedule Fee Commlog InventoryItem StockPicking StockMove SourceReference
        );
        assert_eq!(camel("address_line1"), "addressLine1");
        assert_eq!(camel("is_new_patient"), "isNewPatient");
    }
}
