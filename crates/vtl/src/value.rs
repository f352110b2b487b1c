//! The public, owned [`Value`] that callers put into a [`crate::Context`] and read back, its
//! conversions from and to `serde_json`, and the Java text forms (`Double.toString`, JSON
//! string escaping) that rendering shares.

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;

/// A VTL value as the caller sees it. Maps keep insertion order, like Java's `LinkedHashMap`
/// (and unlike `serde_json::Map` without `preserve_order`): deserialize with
/// `serde_json::from_str::<Value>` to keep a document's key order.
///
/// Inside the renderer, values also take the shape of opaque objects (`$input`, `$util`,
/// `$foreach`, `#define` blocks) and of shared, mutable lists and maps; those never leave it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// Java `null`; also what an undefined reference evaluates to.
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(IndexMap<String, Value>),
}

impl Value {
    /// An empty map.
    pub fn map() -> Value {
        Value::Map(IndexMap::new())
    }

    /// The value as `serde_json`, for callers that speak it (map order follows serde_json).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::from(self)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Value {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Value {
        Value::Map(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::List(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl From<&Value> for serde_json::Value {
    fn from(v: &Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(l) => serde_json::Value::Array(l.iter().map(Into::into).collect()),
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.into())).collect())
            }
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::String(v) => s.serialize_str(v),
            Value::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for item in l {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = IndexMap::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            entries.insert(k, v);
        }
        Ok(Value::Map(entries))
    }
}

/// Java's `Double.toString`: `1.0`, `0.001`, `1.0E7`, `1.5E-4`, `NaN`, `Infinity`.
pub(crate) fn write_java_double(out: &mut String, f: f64) {
    use std::fmt::Write;
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
    } else if (1e-3..1e7).contains(&f.abs()) {
        if write_short_decimal(out, f) {
            return;
        }
        let start = out.len();
        let _ = write!(out, "{f}");
        if !out[start..].contains('.') {
            out.push_str(".0");
        }
    } else {
        let s = format!("{f:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        out.push_str(mantissa);
        if !mantissa.contains('.') {
            out.push_str(".0");
        }
        out.push('E');
        out.push_str(exp);
    }
}

/// `f` (in `[1e-3, 1e7)` in magnitude) with at most three decimals, when it has a decimal
/// form that short: `n / 10^k` for the smallest such `k`, which is then the shortest
/// representation that reads back as `f` (the one `{f}` prints), since below 1e7 a double's
/// spacing is far smaller than 10^-3, so no other `n' / 10^k` reads back as `f`. `n` and
/// `10^k` are exact doubles and division is correctly rounded, so the round-trip test is
/// exact. `false` (nothing written) otherwise.
fn write_short_decimal(out: &mut String, f: f64) -> bool {
    const POW: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];
    let a = f.abs();
    for (k, &p) in POW.iter().enumerate() {
        let n = (a * p).round();
        if n / p != a {
            continue;
        }
        let n = n as u64;
        let p = p as u64;
        if f < 0.0 {
            out.push('-');
        }
        write_int(out, (n / p) as i64);
        out.push('.');
        if k == 0 {
            out.push('0');
        } else {
            let frac = n % p;
            let mut digits = [b'0'; 3];
            let mut rest = frac;
            for d in digits[..k].iter_mut().rev() {
                *d = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
            for &d in &digits[..k] {
                out.push(d as char);
            }
        }
        return true;
    }
    false
}

/// The bytes a JSON string cannot hold as they are: `"`, `\` and control characters.
pub(crate) static JSON_ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// A JSON string literal with the escapes JSON requires (`"`, `\`, control characters);
/// `/` and non-ASCII characters stay as they are.
pub(crate) fn write_json_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(off) = bytes[start..]
        .iter()
        .position(|&b| JSON_ESCAPED[b as usize])
    {
        let i = start + off;
        out.push_str(&s[start..i]);
        match bytes[i] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// An integer in decimal, without going through `fmt`.
pub(crate) fn write_int(out: &mut String, i: i64) {
    let mut buf = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut p = buf.len();
    loop {
        p -= 1;
        buf[p] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    for &b in &buf[p..] {
        out.push(b as char);
    }
}

impl std::ops::Index<&str> for Value {
    type Output = Value;
    /// Map lookup; `Null` for a missing key or a non-map.
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Value::Map(m) => m.get(key).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jd(f: f64) -> String {
        let mut s = String::new();
        write_java_double(&mut s, f);
        s
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(jd(1.0), "1.0");
        assert_eq!(jd(-2.5), "-2.5");
        assert_eq!(jd(0.001), "0.001");
        assert_eq!(jd(1234567.0), "1234567.0");
        assert_eq!(jd(1e7), "1.0E7");
        assert_eq!(jd(1.5e-4), "1.5E-4");
        assert_eq!(jd(-1.25e20), "-1.25E20");
        assert_eq!(jd(0.0), "0.0");
        assert_eq!(jd(f64::NAN), "NaN");
        assert_eq!(jd(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn short_decimals_print_as_fmt_does() {
        let slow = |f: f64| {
            let s = format!("{f}");
            if s.contains('.') {
                s
            } else {
                s + ".0"
            }
        };
        let mut cases = vec![
            129.5,
            -2.5,
            0.001,
            0.005,
            1.25,
            9999999.999,
            100.0,
            0.1,
            0.3,
            1.1,
        ];
        cases.extend([0.1 + 0.2, 1.0 / 3.0, 123.456, 0.0015, 2.675, 1e-3 + 1e-12]);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            // xorshift: decimals of up to four places, and arbitrary doubles in range.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (x % 100_000_000_000) as f64;
            let p = [1.0, 10.0, 100.0, 1000.0, 10000.0][(x >> 40) as usize % 5];
            cases.push(n / p);
            cases.push(-(n / p));
            cases.push(f64::from_bits(
                0x3f50_0000_0000_0000 + (x >> 12) % 0x0120_0000_0000_0000,
            ));
        }
        for f in cases {
            if !(1e-3..1e7).contains(&f.abs()) {
                continue;
            }
            let mut fast = String::new();
            if write_short_decimal(&mut fast, f) {
                assert_eq!(fast, slow(f), "{f:?}");
            }
            assert_eq!(jd(f), slow(f), "{f:?}");
        }
    }

    #[test]
    fn ints_print_in_decimal() {
        for i in [0, 7, -7, 1234567890, i64::MIN, i64::MAX] {
            let mut s = String::new();
            write_int(&mut s, i);
            assert_eq!(s, i.to_string());
        }
    }

    #[test]
    fn json_strings_escape_only_what_json_needs() {
        let mut s = String::new();
        write_json_string(&mut s, "a\"b\\c\nd/é\u{1}");
        assert_eq!(s, r#""a\"b\\c\nd/é\u0001""#);
    }

    #[test]
    fn deserializing_keeps_key_order_and_number_kinds() {
        let v: Value = serde_json::from_str(
            r#"{"z":1,"a":1.0,"m":[true,null,"s"],"big":18446744073709551615}"#,
        )
        .expect("valid JSON");
        let Value::Map(m) = &v else {
            panic!("not a map")
        };
        assert_eq!(m.keys().collect::<Vec<_>>(), ["z", "a", "m", "big"]);
        assert_eq!(m["z"], Value::Int(1));
        assert_eq!(m["a"], Value::Float(1.0));
        assert!(matches!(m["big"], Value::Float(_)));
        assert_eq!(
            serde_json::to_string(&v).expect("serializes"),
            r#"{"z":1,"a":1.0,"m":[true,null,"s"],"big":1.8446744073709552e+19}"#
        );
        assert_eq!(Value::from(v.to_json())["m"], m["m"]);
    }
}
