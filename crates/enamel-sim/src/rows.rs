//! Rows as the simulator keeps them: a compact bag of named values, rendered onto a JSON
//! template (the PMS's own documented object) in the PMS's wire dialect.
//!
//! The simulator never uses the adapters' wire types: its JSON comes from the templates in
//! `templates/` (copied from the official examples and real captures) and from these rows.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

/// One field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// JSON `null`.
    Null,
    /// An integer.
    Int(i64),
    /// A number rendered with a decimal point (`88.0`).
    Num(f64),
    /// A string.
    Str(Box<str>),
    /// A boolean (Open Dental renders it `"true"`/`"false"`).
    Bool(bool),
    /// A date.
    Date(NaiveDate),
    /// A date and time without zone (PMS local time).
    DateTime(NaiveDateTime),
    /// Any JSON value, as is.
    Json(Box<Value>),
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::Num(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Bool(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Str(v.into())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Str(v.into_boxed_str())
    }
}
impl From<NaiveDate> for Val {
    fn from(v: NaiveDate) -> Self {
        Val::Date(v)
    }
}
impl From<NaiveDateTime> for Val {
    fn from(v: NaiveDateTime) -> Self {
        Val::DateTime(v)
    }
}
impl From<Value> for Val {
    fn from(v: Value) -> Self {
        Val::Json(Box::new(v))
    }
}
impl<T: Into<Val>> From<Option<T>> for Val {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}

/// A row: named values in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    fields: Vec<(&'static str, Val)>,
}

impl Row {
    /// An empty row.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a field (builder style).
    pub fn with(mut self, key: &'static str, value: impl Into<Val>) -> Self {
        self.set(key, value);
        self
    }

    /// Sets a field.
    pub fn set(&mut self, key: &'static str, value: impl Into<Val>) {
        let value = value.into();
        // Kept in key order, so that pages are written by merging with the template.
        match self.fields.binary_search_by(|(k, _)| (*k).cmp(key)) {
            Ok(at) => self.fields[at].1 = value,
            Err(at) => self.fields.insert(at, (key, value)),
        }
    }

    /// A field, if set.
    pub fn get(&self, key: &str) -> Option<&Val> {
        self.fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
    }

    /// An integer field (0 when absent or not an integer).
    pub fn int(&self, key: &str) -> i64 {
        match self.get(key) {
            Some(Val::Int(v)) => *v,
            _ => 0,
        }
    }

    /// A string field ("" when absent).
    pub fn str(&self, key: &str) -> &str {
        match self.get(key) {
            Some(Val::Str(s)) => s,
            _ => "",
        }
    }

    /// A date-time field, if set.
    pub fn datetime(&self, key: &str) -> Option<NaiveDateTime> {
        match self.get(key) {
            Some(Val::DateTime(t)) => Some(*t),
            Some(Val::Date(d)) => d.and_hms_opt(0, 0, 0),
            _ => None,
        }
    }

    /// The fields.
    pub fn fields(&self) -> &[(&'static str, Val)] {
        &self.fields
    }
}

/// How a PMS writes values on the wire.
pub trait Dialect {
    /// The JSON form of a value.
    fn render(&self, value: &Val) -> Value;

    /// Writes the JSON text of [`Dialect::render`]'s value (a dialect may write it directly).
    fn write(&self, value: &Val, out: &mut Vec<u8>) {
        write_json(out, &self.render(value));
    }
}

/// Writes a value's JSON text (a `Value`, a `str`, a number…).
pub fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing into a `Vec` cannot fail, and these values always serialise.
    let _ = serde_json::to_writer(out, value);
}

/// A template with each field's JSON text rendered once, for [`render_text`].
#[derive(Debug, Clone, Default)]
pub struct TextTemplate(Vec<(String, Vec<u8>)>);

impl TextTemplate {
    /// Renders a template's field values.
    pub fn new(template: &Map<String, Value>) -> Self {
        Self(
            template
                .iter()
                .map(|(k, v)| {
                    let mut text = Vec::new();
                    write_json(&mut text, v);
                    (k.clone(), text)
                })
                .collect(),
        )
    }
}

/// Writes the JSON text of [`render`]'s object, without building it: the same keys in the
/// same (sorted) order with the same values, plus `set` (a string field added or replaced)
/// and without the keys in `drop`. Pages of thousands of rows are served this way.
pub fn render_text(
    row: &Row,
    template: &TextTemplate,
    dialect: &dyn Dialect,
    set: Option<(&str, &str)>,
    drop: &[&str],
    out: &mut Vec<u8>,
) {
    enum From<'a> {
        Template(&'a [u8]),
        Row(&'a Val),
        Set(&'a str),
    }
    out.push(b'{');
    let mut first = true;
    let mut emit = |out: &mut Vec<u8>, key: &str, from: From<'_>| {
        if drop.contains(&key) {
            return;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_json(out, key);
        out.push(b':');
        match from {
            From::Template(text) => out.extend_from_slice(text),
            From::Row(value) => dialect.write(value, out),
            From::Set(text) => write_json(out, text),
        }
    };
    // The template's fields and the row's are each in key order: merged, the row's value
    // wins over the template's and `set` over both, as when inserting into a map in turn.
    let (template, fields) = (&template.0, &row.fields);
    let (mut t, mut r) = (0, 0);
    let mut set = set;
    while t < template.len() || r < fields.len() {
        let (key, from) = match (template.get(t), fields.get(r)) {
            (Some((tk, tv)), Some((rk, rv))) => match tk.as_str().cmp(rk) {
                std::cmp::Ordering::Less => {
                    t += 1;
                    (tk.as_str(), From::Template(tv))
                }
                std::cmp::Ordering::Greater => {
                    r += 1;
                    (*rk, From::Row(rv))
                }
                std::cmp::Ordering::Equal => {
                    t += 1;
                    r += 1;
                    (*rk, From::Row(rv))
                }
            },
            (Some((tk, tv)), None) => {
                t += 1;
                (tk.as_str(), From::Template(tv))
            }
            (None, Some((rk, rv))) => {
                r += 1;
                (*rk, From::Row(rv))
            }
            (None, None) => break,
        };
        if let Some((set_key, set_value)) = set
            && set_key <= key
        {
            emit(out, set_key, From::Set(set_value));
            set = None;
            if set_key == key {
                continue;
            }
        }
        emit(out, key, from);
    }
    if let Some((set_key, set_value)) = set {
        emit(out, set_key, From::Set(set_value));
    }
    out.push(b'}');
}

/// Renders a row onto its template: every template field keeps its documented name and
/// (unless the row sets it) its example value; fields the row sets are overwritten.
pub fn render(row: &Row, template: &Map<String, Value>, dialect: &dyn Dialect) -> Value {
    let mut out = template.clone();
    for (key, value) in row.fields() {
        out.insert((*key).to_owned(), dialect.render(value));
    }
    Value::Object(out)
}

/// A table keyed by primary key, in key order.
#[derive(Debug, Clone, Default)]
pub struct Table<K: Ord> {
    /// The rows.
    pub rows: BTreeMap<K, Row>,
}

impl<K: Ord> Table<K> {
    /// An empty table.
    pub fn new() -> Self {
        Self { rows: BTreeMap::new() }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Loads a template object from its JSON text.
pub fn template(json: &str) -> Map<String, Value> {
    match serde_json::from_str(json) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}
