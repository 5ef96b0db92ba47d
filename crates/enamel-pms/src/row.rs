//! Reading one parsed JSON row of a PMS, leniently (Open Dental's reader; TDental reads
//! its rows' fields straight from their text, `tdental::wire::Row`).

use serde_json::Value;

/// A JSON object being read; errors name the field.
pub(crate) trait JsonRow<'a> {
    /// The field as sent.
    fn raw(&self, key: &str) -> Option<&'a Value>;

    /// Text, trimmed ("" when absent; numbers as their digits).
    fn text(&self, key: &str) -> Result<String, String> {
        match self.raw(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.trim().to_owned()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(other) => Err(format!("{key} has the wrong type: {}", kind(other))),
        }
    }

    /// Text, `None` when empty.
    fn opt_text(&self, key: &str) -> Result<Option<String>, String> {
        let t = self.text(key)?;
        Ok((!t.is_empty()).then_some(t))
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
