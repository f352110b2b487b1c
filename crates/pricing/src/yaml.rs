//! YAML → JSON values, so scenarios deserialize with serde whatever their syntax.

use yaml_rust2::{Yaml, YamlLoader};

/// Parses one YAML document (JSON is YAML too) into a JSON value.
pub(crate) fn to_json(text: &str) -> Result<serde_json::Value, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    match docs.into_iter().next() {
        Some(doc) => convert(doc),
        None => Ok(serde_json::Value::Object(Default::default())),
    }
}

fn convert(y: Yaml) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match y {
        Yaml::Null | Yaml::BadValue => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(s) => {
            let f: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
            serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or_else(|| format!("{s:?} is not a finite number"))?
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Array(a) => Value::Array(a.into_iter().map(convert).collect::<Result<_, _>>()?),
        Yaml::Hash(h) => {
            let mut m = serde_json::Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s,
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(s) => s,
                    other => return Err(format!("unsupported key {other:?}")),
                };
                m.insert(key, convert(v)?);
            }
            Value::Object(m)
        }
        Yaml::Alias(_) => return Err("YAML aliases are not supported".into()),
    })
}
