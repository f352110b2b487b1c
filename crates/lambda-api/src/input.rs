//! Request bodies as Lambda reads them: JSON objects whose members are checked against the
//! operation's shape. Malformed JSON, a member the shape does not have, or a member of the
//! wrong type is answered with `InvalidRequestContentException` and nothing happens.

use serde_json::{Map, Value};

use crate::errors::ApiError;

fn content(detail: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_content(format!("Could not parse request body into json: {detail}"))
}

/// A request body (or a nested structure of one) checked against its shape's members.
#[derive(Debug, Default)]
pub(crate) struct Body {
    obj: Map<String, Value>,
}

impl Body {
    /// Parses `bytes` as a JSON object with only `members` (an empty body is `{}`).
    pub(crate) fn parse(bytes: &[u8], members: &[&str]) -> Result<Self, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let v: Value = serde_json::from_slice(bytes).map_err(content)?;
        Self::from_value(v, members, "request")
    }

    fn from_value(v: Value, members: &[&str], what: &str) -> Result<Self, ApiError> {
        let Value::Object(obj) = v else {
            return Err(content(format!(
                "Cannot deserialize {what}: expected a JSON object"
            )));
        };
        if let Some(k) = obj.keys().find(|k| !members.contains(&k.as_str())) {
            return Err(content(format!(
                "Unrecognized field \"{k}\", not marked as ignorable"
            )));
        }
        Ok(Self { obj })
    }

    fn get(&self, k: &str) -> Option<&Value> {
        self.obj.get(k).filter(|v| !v.is_null())
    }

    pub(crate) fn has(&self, k: &str) -> bool {
        self.get(k).is_some()
    }

    pub(crate) fn string(&self, k: &str) -> Result<Option<String>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(content(format!("Value of {k} must be a string"))),
        }
    }

    pub(crate) fn int(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| content(format!("Value of {k} must be an integer"))),
            Some(_) => Err(content(format!("Value of {k} must be an integer"))),
        }
    }

    pub(crate) fn boolean(&self, k: &str) -> Result<Option<bool>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(content(format!("Value of {k} must be a boolean"))),
        }
    }

    /// A nested structure with only `members`.
    pub(crate) fn structure(&self, k: &str, members: &[&str]) -> Result<Option<Body>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some(v @ Value::Object(_)) => Self::from_value(v.clone(), members, k).map(Some),
            Some(_) => Err(content(format!("Value of {k} must be a structure"))),
        }
    }

    pub(crate) fn strings(&self, k: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| content(format!("Members of {k} must be strings")))
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(_) => Err(content(format!("Value of {k} must be a list"))),
        }
    }

    /// A map of string to string (`Environment.Variables`, `Tags`).
    pub(crate) fn string_map(
        &self,
        k: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(key, v)| {
                    v.as_str()
                        .map(|s| (key.clone(), s.to_owned()))
                        .ok_or_else(|| content(format!("Values of {k} must be strings")))
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(_) => Err(content(format!("Value of {k} must be a map"))),
        }
    }

    /// A map of string to number (`AdditionalVersionWeights`).
    pub(crate) fn number_map(
        &self,
        k: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, f64>>, ApiError> {
        match self.get(k) {
            None => Ok(None),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(key, v)| {
                    v.as_f64()
                        .map(|n| (key.clone(), n))
                        .ok_or_else(|| content(format!("Values of {k} must be numbers")))
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(_) => Err(content(format!("Value of {k} must be a map"))),
        }
    }
}

/// `1 validation error detected: Value '…' at '…' failed to satisfy constraint: …`
pub(crate) fn constraint(value: impl std::fmt::Display, at: &str, constraint: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: {constraint}"
    ))
}

/// Checks an integer member's range with AWS's wording.
pub(crate) fn in_range(v: i64, at: &str, min: i64, max: i64) -> Result<(), ApiError> {
    if v < min {
        return Err(constraint(
            v,
            at,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if v > max {
        return Err(constraint(
            v,
            at,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_against_their_shape() {
        let b = Body::parse(br#"{"A":"x","B":3,"C":null}"#, &["A", "B", "C"]).expect("ok");
        assert_eq!(b.string("A").expect("a"), Some("x".into()));
        assert_eq!(b.int("B").expect("b"), Some(3));
        assert_eq!(b.string("C").expect("null is absent"), None);
        assert!(b.string("B").is_err());
        let unknown = Body::parse(br#"{"A":"x","Bogus":1}"#, &["A"]).expect_err("unknown");
        assert_eq!(unknown.code, "InvalidRequestContentException");
        assert!(unknown.message.contains("Unrecognized field \"Bogus\""));
        let bad = Body::parse(b"{not json", &["A"]).expect_err("malformed");
        assert!(bad
            .message
            .starts_with("Could not parse request body into json: "));
        assert!(Body::parse(b"", &[]).is_ok());
        assert!(Body::parse(b"[1]", &[]).is_err());
    }

    #[test]
    fn ranges_use_aws_wording() {
        assert_eq!(
            in_range(64, "memorySize", 128, 10240)
                .expect_err("low")
                .message,
            "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"
        );
        assert!(in_range(128, "memorySize", 128, 10240).is_ok());
    }
}
