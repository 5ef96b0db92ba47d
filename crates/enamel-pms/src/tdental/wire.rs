//! Lenient reading of TDental's wire values (Newtonsoft, camelCase): GUID keys with the
//! all-zero GUID meaning "none", naive Vietnam-local date-times with 0–7 fractional digits
//! (and the pre-formatted `dd/MM/yyyy HH:mm:ss` of some lists), VND amounts as `123.0`,
//! partial birth dates (`--/--/2003`).

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use enamel_domain::{Amount, Currency, PartialDate, RawJson, SourceKey};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::opendental::to_utc;

type R<T> = Result<T, String>;

/// The all-zero GUID TDental puts where a reference is empty.
const NIL: &str = "00000000-0000-0000-0000-000000000000";

/// Business dates outside these years are typing mistakes (an appointment in 1224), not
/// data: the row is quarantined with the reason.
const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// One row (a JSON object) as the PMS sent it: its text and its top-level fields, each
/// borrowed from the text and left unparsed until it is asked for. Reading a row this
/// way allocates one list per row, where a `serde_json::Value` allocated every key and
/// every text and a tree node per few fields (most fields of a TDental row are never read).
#[derive(Debug)]
pub(crate) struct Row<'a> {
    text: &'a str,
    /// In the text's order; a key sent twice is found at its last place, as a JSON parser
    /// keeps its last value.
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
    /// Fields added after the text's: its payload is the text with them appended.
    added: usize,
    /// A field's value was replaced: its payload is written again from the fields.
    replaced: bool,
}

impl<'a> Row<'a> {
    /// The row in `text` (one JSON value); an error when it is not an object.
    pub(crate) fn parse(text: &'a str) -> R<Row<'a>> {
        let Fields(fields) = serde_json::from_str(text).map_err(|_| "row is not a JSON object".to_owned())?;
        Ok(Row { text, fields, added: 0, replaced: false })
    }

    /// A field's value as sent.
    pub(crate) fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// A field's string as sent (escapes read), when it is one.
    pub(crate) fn string(&self, key: &str) -> Option<Cow<'a, str>> {
        match self.get(key).map(Field::of) {
            Some(Field::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// Sets a field the row lacks or has as null (a branch, a detail's field); true when
    /// it did.
    pub(crate) fn fill(&mut self, key: Cow<'a, str>, value: &'a RawValue) -> bool {
        match self.fields.iter().rposition(|(k, _)| *k == key) {
            Some(at) if matches!(Field::of(self.fields[at].1), Field::Null) => {
                self.fields[at].1 = value;
                self.replaced = true;
            }
            Some(_) => return false,
            None => {
                self.fields.push((key, value));
                self.added += 1;
            }
        }
        true
    }

    /// Completes the row with its detail's fields that it lacks (or has as null).
    pub(crate) fn complete_with(&mut self, detail: Row<'a>) {
        for (key, value) in detail.fields {
            self.fill(key, value);
        }
    }

    /// The row's JSON text: as sent, with any fields it was given.
    pub(crate) fn payload(&self) -> RawJson {
        if self.added == 0 && !self.replaced {
            return RawJson::from_text(self.text);
        }
        let mut out = Vec::with_capacity(self.text.len() + 64 * self.added.max(1));
        let field = |out: &mut Vec<u8>, first: bool, (key, value): &(Cow<'a, str>, &'a RawValue)| {
            if !first {
                out.push(b',');
            }
            // A key is text: writing it cannot fail.
            let _ = serde_json::to_writer(&mut *out, key.as_ref());
            out.push(b':');
            out.extend_from_slice(value.get().as_bytes());
        };
        if self.replaced {
            out.push(b'{');
            for (i, f) in self.fields.iter().enumerate() {
                field(&mut out, i == 0, f);
            }
        } else {
            // The text as sent, its closing brace moved after the added fields.
            let sent = self.fields.len() - self.added;
            let sent_text = self.text.trim_end();
            out.extend_from_slice(sent_text.strip_suffix('}').unwrap_or(sent_text).as_bytes());
            for (i, f) in self.fields[sent..].iter().enumerate() {
                field(&mut out, sent == 0 && i == 0, f);
            }
        }
        out.push(b'}');
        RawJson::from_text(&String::from_utf8_lossy(&out))
    }

    /// The row as a JSON value (for a quarantined row, or a payload kept as a value).
    pub(crate) fn to_value(&self) -> Value {
        serde_json::from_str(self.payload().as_str()).unwrap_or(Value::Null)
    }
}

/// A row's fields, read by [`Row::parse`].
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Fields<'de>, M::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(32));
                while let Some(Key(key)) = map.next_key()? {
                    fields.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Object)
    }
}

/// A key, borrowed from the text unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(Text)
    }
}

/// A field's value, read from its text.
#[derive(Debug)]
pub(crate) enum Field<'a> {
    Null,
    Bool(bool),
    /// A number's text as sent.
    Number(&'a str),
    /// Text, borrowed unless it has escapes.
    Text(Cow<'a, str>),
    Array(&'a RawValue),
    Object(&'a RawValue),
}

impl<'a> Field<'a> {
    /// The value in `raw` (one valid JSON value, as the parser found it).
    pub(crate) fn of(raw: &'a RawValue) -> Field<'a> {
        let s = raw.get();
        match s.as_bytes().first() {
            Some(b'"') if !s.contains('\\') => Field::Text(Cow::Borrowed(s.get(1..s.len() - 1).unwrap_or(""))),
            Some(b'"') => Field::Text(Cow::Owned(serde_json::from_str(s).unwrap_or_default())),
            Some(b'n') => Field::Null,
            Some(b't') => Field::Bool(true),
            Some(b'f') => Field::Bool(false),
            Some(b'[') => Field::Array(raw),
            Some(b'{') => Field::Object(raw),
            _ => Field::Number(s),
        }
    }

    /// The JSON type, for messages.
    fn kind(&self) -> &'static str {
        match self {
            Field::Null => "null",
            Field::Bool(_) => "boolean",
            Field::Number(_) => "number",
            Field::Text(_) => "string",
            Field::Array(_) => "array",
            Field::Object(_) => "object",
        }
    }
}

/// The values of an array's text.
pub(crate) fn elements(array: &RawValue) -> Vec<&RawValue> {
    serde_json::from_str(array.get()).unwrap_or_default()
}

/// A row being read; errors name the field.
pub(crate) struct Td<'a> {
    pub(crate) row: &'a Row<'a>,
    pub(crate) tz: Tz,
}

impl<'a> Td<'a> {
    pub(crate) fn new(row: &'a Row<'a>, tz: Tz) -> Self {
        Td { row, tz }
    }

    /// A field's value; absent is `None`.
    pub(crate) fn field(&self, key: &str) -> Option<Field<'a>> {
        self.row.get(key).map(Field::of)
    }

    /// Text, trimmed ("" when absent or null; numbers as sent).
    pub(crate) fn text(&self, key: &str) -> R<String> {
        match self.field(key) {
            None | Some(Field::Null) => Ok(String::new()),
            Some(Field::Text(s)) => Ok(s.trim().to_owned()),
            Some(Field::Number(n)) => Ok(n.to_owned()),
            Some(other) => Err(format!("{key} has the wrong type: {}", other.kind())),
        }
    }

    /// Text, `None` when empty.
    pub(crate) fn opt_text(&self, key: &str) -> R<Option<String>> {
        let t = self.text(key)?;
        Ok((!t.is_empty()).then_some(t))
    }

    /// The objects of an array field, each read as a row; `None` when the field is no array.
    pub(crate) fn objects(&self, key: &str) -> R<Option<Vec<Row<'a>>>> {
        let Some(Field::Array(raw)) = self.field(key) else { return Ok(None) };
        let rows = elements(raw).into_iter().map(|e| Row::parse(e.get()).map_err(|e| format!("{key}: {e}")));
        rows.collect::<R<Vec<Row<'a>>>>().map(Some)
    }

    /// The row's own key (`id`).
    pub(crate) fn id(&self) -> R<SourceKey> {
        self.reference("id")?.ok_or_else(|| "id is missing".to_owned())
    }

    /// The row's own key with a prefix (`order:…`) where several streams share a table.
    pub(crate) fn prefixed_id(&self, prefix: &str) -> R<SourceKey> {
        prefixed(prefix, &self.id()?)
    }

    /// A reference by GUID (or user id text); null, empty and the all-zero GUID are none.
    pub(crate) fn reference(&self, key: &str) -> R<Option<SourceKey>> {
        match self.field(key) {
            None | Some(Field::Null) => Ok(None),
            Some(Field::Text(s)) if s.trim().is_empty() || s.trim() == NIL => Ok(None),
            Some(Field::Text(s)) => SourceKey::parse(s.as_ref()).map(Some).map_err(|e| format!("{key}: {e}")),
            Some(other) => Err(format!("{key} has the wrong type: {}", other.kind())),
        }
    }

    /// A required reference.
    pub(crate) fn required_reference(&self, key: &str) -> R<SourceKey> {
        self.reference(key)?.ok_or_else(|| format!("{key} is missing"))
    }

    /// A boolean; absent is `default`.
    pub(crate) fn flag(&self, key: &str, default: bool) -> R<bool> {
        match self.field(key) {
            None | Some(Field::Null) => Ok(default),
            Some(Field::Bool(b)) => Ok(b),
            Some(Field::Text(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Field::Text(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(format!("{key} is not a boolean: {}", self.row.get(key).map_or("", |v| v.get()))),
        }
    }

    /// A number; absent is `None`.
    pub(crate) fn number(&self, key: &str) -> R<Option<f64>> {
        match self.field(key) {
            None | Some(Field::Null) => Ok(None),
            Some(Field::Number(n)) => n.parse::<f64>().map(Some).map_err(|_| format!("{key} is not a number: {n}")),
            Some(Field::Text(s)) if s.trim().is_empty() => Ok(None),
            Some(Field::Text(s)) => {
                s.trim().parse::<f64>().map(Some).map_err(|_| format!("{key} is not a number: {s:?}"))
            }
            Some(other) => Err(format!("{key} is not a number: {}", other.kind())),
        }
    }

    /// An integer; absent is `None`.
    pub(crate) fn int(&self, key: &str) -> R<Option<i64>> {
        match self.number(key)? {
            None => Ok(None),
            Some(v) if v.fract() == 0.0 && v.abs() < 9e15 => Ok(Some(v as i64)),
            Some(v) => Err(format!("{key} is not an integer: {v}")),
        }
    }

    /// Money in đồng; absent is `None`.
    pub(crate) fn money(&self, key: &str) -> R<Option<Amount>> {
        match self.number(key)? {
            None => Ok(None),
            Some(v) => Currency::Vnd.amount_from_f64(v).map(Some).map_err(|e| format!("{key}: {e}")),
        }
    }

    /// Money in đồng; absent is zero.
    pub(crate) fn money_or_zero(&self, key: &str) -> R<Amount> {
        Ok(self.money(key)?.unwrap_or(Amount::ZERO))
    }

    /// A naive date-time as sent (ISO with 0–7 fractional digits, or `dd/MM/yyyy HH:mm:ss`).
    pub(crate) fn local(&self, key: &str) -> R<Option<NaiveDateTime>> {
        let t = self.text(key)?;
        if t.is_empty() {
            return Ok(None);
        }
        parse_local(&t).map(Some).ok_or_else(|| format!("{key} is not a date-time: {t:?}"))
    }

    /// A Vietnam-local date-time as UTC, refused when its year is impossible.
    pub(crate) fn instant(&self, key: &str) -> R<Option<DateTime<Utc>>> {
        match self.local(key)? {
            None => Ok(None),
            Some(t) => plausible(key, t).map(|t| Some(to_utc(self.tz, t))),
        }
    }

    /// A required Vietnam-local date-time as UTC.
    pub(crate) fn required_instant(&self, key: &str) -> R<DateTime<Utc>> {
        self.instant(key)?.ok_or_else(|| format!("{key} is missing"))
    }

    /// A date-time TDental already stores in UTC (partner `date`).
    pub(crate) fn utc(&self, key: &str) -> R<Option<DateTime<Utc>>> {
        match self.local(key)? {
            None => Ok(None),
            Some(t) => plausible(key, t).map(|t| Some(t.and_utc())),
        }
    }

    /// The business date of a local date-time.
    pub(crate) fn date(&self, key: &str) -> R<Option<NaiveDate>> {
        match self.local(key)? {
            None => Ok(None),
            Some(t) => plausible(key, t).map(|t| Some(t.date())),
        }
    }

    /// A birth date: `dateOfBirth` (`--/--/2003`, `5/6/1990`) or the `birthYear`,
    /// `birthMonth`, `birthDay` fields.
    pub(crate) fn birth_date(&self) -> R<Option<PartialDate>> {
        let text = self.text("dateOfBirth")?;
        if !text.is_empty() {
            return PartialDate::parse(&text).map(Some).map_err(|e| format!("dateOfBirth: {e}"));
        }
        let year = self.int("birthYear")?.and_then(|v| i16::try_from(v).ok());
        let month = self.int("birthMonth")?.and_then(|v| u8::try_from(v).ok());
        let day = self.int("birthDay")?.and_then(|v| u8::try_from(v).ok());
        if year.is_none() && month.is_none() && day.is_none() {
            return Ok(None);
        }
        PartialDate::new(year, month, day).map(Some).map_err(|e| format!("birth date: {e}"))
    }
}

/// `prefix` + key.
pub(crate) fn prefixed(prefix: &str, key: &SourceKey) -> R<SourceKey> {
    SourceKey::parse(format!("{prefix}{}", key.as_str())).map_err(|e| e.to_string())
}

fn plausible(key: &str, t: NaiveDateTime) -> R<NaiveDateTime> {
    use chrono::Datelike;
    if PLAUSIBLE_YEARS.contains(&t.year()) {
        Ok(t)
    } else {
        Err(format!("{key} {} is impossible (year {})", t.format("%Y-%m-%dT%H:%M:%S"), t.year()))
    }
}

/// Parses TDental's date-time shapes.
pub(crate) fn parse_local(t: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%d/%m/%Y %H:%M:%S"))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(t.get(..10).unwrap_or(t), "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const VN: Tz = chrono_tz::Asia::Ho_Chi_Minh;

    fn row(text: &str) -> Row<'_> {
        Row::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn reads_the_shapes_tdental_sends() {
        let v = json!({"id": "0c4b5480-5050-40a7-8343-b42b00ce806b", "nil": NIL, "empty": "",
                       "a": "2026-04-13T19:31:16", "b": "2023-08-24T09:43:35.2115264", "c": "13/04/2026 14:20:09",
                       "money": 700000.0, "bad": "1224-07-15T12:00:00", "name": "KHÁCH HÀNG 003 "})
        .to_string();
        let r = row(&v);
        let w = Td::new(&r, VN);
        assert_eq!(w.id().map(|k| k.as_str().to_owned()), Ok("0c4b5480-5050-40a7-8343-b42b00ce806b".to_owned()));
        assert_eq!((w.reference("nil"), w.reference("empty"), w.reference("missing")), (Ok(None), Ok(None), Ok(None)));
        // Vietnam is UTC+7 all year.
        assert_eq!(w.instant("a").map(|t| t.map(|t| t.to_rfc3339())), Ok(Some("2026-04-13T12:31:16+00:00".into())));
        assert!(w.instant("b").is_ok_and(|t| t.is_some()));
        assert_eq!(w.local("c").map(|t| t.map(|t| t.to_string())), Ok(Some("2026-04-13 14:20:09".into())));
        assert_eq!(w.money("money"), Ok(Some(Amount(700_000))));
        assert!(w.instant("bad").is_err_and(|e| e.contains("impossible") && e.contains("1224")));
        assert_eq!(w.text("name"), Ok("KHÁCH HÀNG 003".into()));
    }

    #[test]
    fn birth_dates_may_be_partial() {
        let birth = |v: Value| {
            let text = v.to_string();
            Td::new(&row(&text), VN).birth_date()
        };
        assert_eq!(birth(json!({"dateOfBirth": "--/--/2003"})).map(|d| d.and_then(|d| d.year())), Ok(Some(2003)));
        let fields = json!({"dateOfBirth": "", "birthYear": 1990, "birthMonth": 6});
        assert_eq!(birth(fields).map(|d| d.and_then(|d| d.month())), Ok(Some(6)));
        assert_eq!(birth(json!({"dateOfBirth": ""})), Ok(None));
    }

    #[test]
    fn a_row_reads_its_fields_from_its_text_as_a_json_parser_would() {
        let text = r#"{ "id" : "a", "n\u0061me": "Nguy\u1ec5n \"A\"", "qty": 2.50, "big": 1e3, "flag": true,
            "none": null, "list": [{"name": "16"}, 7, {"name": "17"}], "obj": {"type": "cash"}, "id": "b" }"#;
        let r = row(text);
        let w = Td::new(&r, VN);
        // A key sent twice: its last value, as serde_json keeps it.
        assert_eq!(w.text("id"), Ok("b".into()));
        // Escapes in keys and texts are read.
        assert_eq!(w.text("name"), Ok("Nguyễn \"A\"".into()));
        assert_eq!((w.number("qty"), w.number("big")), (Ok(Some(2.5)), Ok(Some(1000.0))));
        assert_eq!(w.text("qty"), Ok("2.50".into()));
        assert_eq!(
            (w.flag("flag", false), w.flag("none", true), w.flag("missing", true)),
            (Ok(true), Ok(true), Ok(true))
        );
        assert!(w.flag("qty", false).is_err_and(|e| e == "qty is not a boolean: 2.50"));
        assert!(w.text("obj").is_err_and(|e| e == "obj has the wrong type: object"));
        assert!(w.objects("list").is_err_and(|e| e == "list: row is not a JSON object"));
        let Some(Field::Object(obj)) = w.field("obj") else { panic!("obj is an object") };
        assert_eq!(Td::new(&row(obj.get()), VN).text("type"), Ok("cash".into()));
        assert!(matches!(w.objects("obj"), Ok(None)));
        // Unchanged, the payload is the text as sent.
        assert_eq!(r.payload().as_str(), text);
        assert_eq!(r.to_value(), serde_json::from_str::<Value>(text).unwrap_or_default());
        assert!(Row::parse("[1, 2]").is_err_and(|e| e == "row is not a JSON object"));
        assert!(Row::parse(r#""text""#).is_err());
    }

    #[test]
    fn fields_added_to_a_row_are_in_its_payload() {
        let company = RawValue::from_string(r#""c-1""#.to_owned()).unwrap_or_else(|e| panic!("{e}"));
        let note = RawValue::from_string(r#"{"a": [1, "x"]}"#.to_owned()).unwrap_or_else(|e| panic!("{e}"));
        let as_value = |r: &Row<'_>| serde_json::from_str::<Value>(r.payload().as_str()).unwrap_or_default();
        // Absent: appended to the text as sent.
        let mut r = row(r#"{"id": "x", "companyId": "kept", "n": 1 }"#);
        assert!(r.fill(Cow::Borrowed("detail"), &note));
        assert!(!r.fill(Cow::Borrowed("companyId"), &company), "a field the row has stays");
        assert_eq!(r.payload().as_str(), r#"{"id": "x", "companyId": "kept", "n": 1 ,"detail":{"a": [1, "x"]}}"#);
        assert_eq!(Td::new(&r, VN).text("companyId"), Ok("kept".into()));
        // Null: replaced, the payload written again from the fields.
        let mut r = row(r#"{"id": "x", "companyId": null, "k\"ey": 2}"#);
        assert!(r.fill(Cow::Borrowed("companyId"), &company));
        assert_eq!(as_value(&r), json!({"id": "x", "companyId": "c-1", "k\"ey": 2}));
        assert_eq!(Td::new(&r, VN).text("companyId"), Ok("c-1".into()));
        // Ending with an object of its own.
        let mut r = row(r#"{"id": "x", "o": {"k": {}}}"#);
        assert!(r.fill(Cow::Borrowed("companyId"), &company));
        assert_eq!(as_value(&r), json!({"id": "x", "o": {"k": {}}, "companyId": "c-1"}));
        // An empty object.
        let mut r = row("{ }");
        assert!(r.fill(Cow::Borrowed("companyId"), &company));
        assert_eq!(as_value(&r), json!({"companyId": "c-1"}));
        assert_eq!(r.to_value(), json!({"companyId": "c-1"}));
    }
}
