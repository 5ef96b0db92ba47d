//! Lenient reading of TDental's wire values (Newtonsoft, camelCase): GUID keys with the
//! all-zero GUID meaning "none", naive Vietnam-local date-times with 0–7 fractional digits
//! (and the pre-formatted `dd/MM/yyyy HH:mm:ss` of some lists), VND amounts as `123.0`,
//! partial birth dates (`--/--/2003`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use enamel_domain::{Amount, Currency, PartialDate, SourceKey};
use serde_json::Value;

use crate::row::{JsonRow, kind};

use crate::opendental::to_utc;

type R<T> = Result<T, String>;

/// The all-zero GUID TDental puts where a reference is empty.
const NIL: &str = "00000000-0000-0000-0000-000000000000";

/// Business dates outside these years are typing mistakes (an appointment in 1224), not
/// data: the row is quarantined with the reason.
const PLAUSIBLE_YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// A row being read; errors name the field.
pub(crate) struct Td<'a> {
    pub(crate) row: &'a serde_json::Map<String, Value>,
    pub(crate) tz: Tz,
}

impl<'a> JsonRow<'a> for Td<'a> {
    fn raw(&self, key: &str) -> Option<&'a Value> {
        self.row.get(key)
    }
}

impl<'a> Td<'a> {
    pub(crate) fn new(value: &'a Value, tz: Tz) -> R<Self> {
        value.as_object().map(|row| Td { row, tz }).ok_or_else(|| "row is not a JSON object".to_owned())
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
        match self.raw(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() || s.trim() == NIL => Ok(None),
            Some(Value::String(s)) => SourceKey::parse(s).map(Some).map_err(|e| format!("{key}: {e}")),
            Some(other) => Err(format!("{key} has the wrong type: {}", kind(other))),
        }
    }

    /// A required reference.
    pub(crate) fn required_reference(&self, key: &str) -> R<SourceKey> {
        self.reference(key)?.ok_or_else(|| format!("{key} is missing"))
    }

    /// A boolean; absent is `default`.
    pub(crate) fn flag(&self, key: &str, default: bool) -> R<bool> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => Err(format!("{key} is not a boolean: {other}")),
        }
    }

    /// A number; absent is `None`.
    pub(crate) fn number(&self, key: &str) -> R<Option<f64>> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => {
                s.trim().parse::<f64>().map(Some).map_err(|_| format!("{key} is not a number: {s:?}"))
            }
            Some(other) => Err(format!("{key} is not a number: {}", kind(other))),
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

    #[test]
    fn reads_the_shapes_tdental_sends() {
        let v = json!({"id": "0c4b5480-5050-40a7-8343-b42b00ce806b", "nil": NIL, "empty": "",
                       "a": "2026-04-13T19:31:16", "b": "2023-08-24T09:43:35.2115264", "c": "13/04/2026 14:20:09",
                       "money": 700000.0, "bad": "1224-07-15T12:00:00", "name": "KHÁCH HÀNG 003 "});
        let w = Td::new(&v, VN).unwrap_or_else(|e| panic!("{e}"));
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
        let year_only = json!({"dateOfBirth": "--/--/2003"});
        let w = Td::new(&year_only, VN).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.birth_date().map(|d| d.and_then(|d| d.year())), Ok(Some(2003)));
        let fields = json!({"dateOfBirth": "", "birthYear": 1990, "birthMonth": 6});
        let w = Td::new(&fields, VN).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.birth_date().map(|d| d.and_then(|d| d.month())), Ok(Some(6)));
        let none = json!({"dateOfBirth": ""});
        assert_eq!(Td::new(&none, VN).and_then(|w| w.birth_date()), Ok(None));
    }
}
