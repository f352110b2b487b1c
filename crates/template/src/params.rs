//! `Parameters`: types, defaults, overrides and constraints.

use std::collections::BTreeMap;

use crate::error::{Location, TemplateError};
use crate::eval::ParamValue;
use crate::yaml::{Node, Value};

/// Every parameter's value: as `Ref` sees it, and as text for [`crate::Template::parameters`].
pub(crate) struct Resolved {
    pub(crate) values: BTreeMap<String, ParamValue>,
    pub(crate) text: BTreeMap<String, String>,
    pub(crate) warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    String,
    Number,
    List { numbers: bool },
}

pub(crate) fn resolve(
    file: &str,
    section: Option<&Node>,
    overrides: &BTreeMap<String, String>,
) -> Result<Resolved, TemplateError> {
    let empty = [];
    let entries = match section {
        None => &empty[..],
        Some(node) => match node.entries() {
            Some(entries) => entries,
            None if node.value == Value::Null => &empty[..],
            None => {
                return Err(TemplateError::Structure {
                    at: Location::new(file, node.line, node.col),
                    message: "Parameters must be a mapping of parameter names to definitions"
                        .into(),
                })
            }
        },
    };
    for name in overrides.keys() {
        if !entries.iter().any(|(k, _)| &k.text == name) {
            let declared: Vec<&str> = entries.iter().map(|(k, _)| k.text.as_str()).collect();
            return Err(TemplateError::UnknownOverride {
                file: file.to_owned(),
                name: name.clone(),
                declared: if declared.is_empty() {
                    "none".to_owned()
                } else {
                    declared.join(", ")
                },
            });
        }
    }
    let mut resolved = Resolved {
        values: BTreeMap::new(),
        text: BTreeMap::new(),
        warnings: Vec::new(),
    };
    for (key, def) in entries {
        let name = &key.text;
        let err = |node: &Node, message: String| TemplateError::Parameter {
            at: Location::new(file, node.line, node.col),
            name: name.clone(),
            message,
        };
        if def.entries().is_none() {
            return Err(err(
                def,
                "a parameter must be a mapping with at least a Type".into(),
            ));
        }
        let Some(type_node) = def.get("Type") else {
            return Err(err(def, "Type is required".into()));
        };
        let Some(type_name) = type_node.as_str() else {
            return Err(err(type_node, "Type must be a string".into()));
        };
        let Some(kind) = parse_type(type_name) else {
            return Err(err(
                type_node,
                format!("unknown parameter type {type_name}"),
            ));
        };
        if type_name.starts_with("AWS::SSM::Parameter::Value<") {
            resolved.warnings.push(format!(
                "{}: parameter {name}: SSM parameter values are not looked up locally; the parameter's own value is used",
                Location::new(file, key.line, key.col)
            ));
        }
        let key_node = Node::new(Value::Null, key.line, key.col);
        let (raw, at) = match (overrides.get(name), def.get("Default")) {
            (Some(v), _) => (v.clone(), &key_node),
            (None, Some(d)) => match literal_text(d) {
                Some(text) => (text, d),
                None => {
                    return Err(err(
                        d,
                        "Default must be a string, a number or a list of those".into(),
                    ))
                }
            },
            (None, None) => {
                return Err(TemplateError::Parameter {
                    at: Location::new(file, key.line, key.col),
                    name: name.clone(),
                    message: "no value: it has no Default and no override was given".into(),
                })
            }
        };
        let value = match kind {
            Kind::String | Kind::Number => ParamValue::Str(raw.clone()),
            Kind::List { .. } => {
                ParamValue::List(raw.split(',').map(|s| s.trim().to_owned()).collect())
            }
        };
        check(def, kind, &value).map_err(|message| err(at, message))?;
        resolved.text.insert(name.clone(), raw);
        resolved.values.insert(name.clone(), value);
    }
    Ok(resolved)
}

fn parse_type(t: &str) -> Option<Kind> {
    Some(match t {
        "String" => Kind::String,
        "Number" => Kind::Number,
        "CommaDelimitedList" => Kind::List { numbers: false },
        "List<Number>" => Kind::List { numbers: true },
        _ if t.starts_with("AWS::SSM::Parameter::Value<") => {
            let inner = t.trim_start_matches("AWS::SSM::Parameter::Value<");
            if inner.starts_with("List<") || inner.starts_with("CommaDelimitedList") {
                Kind::List { numbers: false }
            } else {
                Kind::String
            }
        }
        _ if t.starts_with("List<AWS::") && t.ends_with('>') => Kind::List { numbers: false },
        _ if t.starts_with("AWS::") => Kind::String,
        _ => return None,
    })
}

/// A `Default` as text: scalars as written, lists joined with commas.
fn literal_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::Null => Some(String::new()),
        Value::Seq(items) => items
            .iter()
            .map(Node::scalar_text)
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.join(",")),
        _ => node.scalar_text(),
    }
}

/// `AllowedValues`, `AllowedPattern`, `MinLength`/`MaxLength`, `MinValue`/`MaxValue` and the
/// numeric types.
fn check(def: &Node, kind: Kind, value: &ParamValue) -> Result<(), String> {
    let items: Vec<&str> = match value {
        ParamValue::Str(s) => vec![s.as_str()],
        ParamValue::List(items) => items.iter().map(String::as_str).collect(),
    };
    let constraint = def
        .get("ConstraintDescription")
        .and_then(Node::scalar_text)
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    for item in &items {
        let numeric = matches!(kind, Kind::Number | Kind::List { numbers: true });
        if numeric && item.trim().parse::<f64>().is_err() {
            return Err(format!("value {item:?} is not a number{constraint}"));
        }
        if let Some(allowed) = def.get("AllowedValues") {
            let allowed: Vec<String> = match &allowed.value {
                Value::Seq(a) => a.iter().filter_map(Node::scalar_text).collect(),
                _ => return Err("AllowedValues must be a list".into()),
            };
            if !allowed.iter().any(|a| a == item) {
                return Err(format!(
                    "value {item:?} is not one of the allowed values [{}]{constraint}",
                    allowed.join(", ")
                ));
            }
        }
        if let Some(pattern) = def.get("AllowedPattern").and_then(Node::scalar_text) {
            // CloudFormation matches the whole value against the pattern.
            let re = regex::Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|e| format!("AllowedPattern {pattern:?} is not a valid pattern: {e}"))?;
            if !re.is_match(item) {
                return Err(format!(
                    "value {item:?} does not match AllowedPattern {pattern}{constraint}"
                ));
            }
        }
        let bound = |key: &str| {
            def.get(key)
                .and_then(Node::scalar_text)
                .and_then(|t| t.parse::<f64>().ok())
        };
        let len = item.chars().count() as f64;
        if let Some(min) = bound("MinLength").filter(|min| len < *min) {
            return Err(format!(
                "value {item:?} is shorter than MinLength {min}{constraint}"
            ));
        }
        if let Some(max) = bound("MaxLength").filter(|max| len > *max) {
            return Err(format!(
                "value {item:?} is longer than MaxLength {max}{constraint}"
            ));
        }
        if numeric {
            let n = item.trim().parse::<f64>().unwrap_or_default();
            if let Some(min) = bound("MinValue").filter(|min| n < *min) {
                return Err(format!(
                    "value {item} is less than MinValue {min}{constraint}"
                ));
            }
            if let Some(max) = bound("MaxValue").filter(|max| n > *max) {
                return Err(format!(
                    "value {item} is greater than MaxValue {max}{constraint}"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn params(text: &str, overrides: &[(&str, &str)]) -> Result<Resolved, TemplateError> {
        let doc = parse(text).expect("yaml").expect("doc");
        let overrides = overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        resolve("t.yaml", doc.get("Parameters"), &overrides)
    }

    const SECTION: &str = "Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Mem:
    Type: Number
    Default: 256
    MinValue: 128
  Subnets:
    Type: CommaDelimitedList
    Default: 'a, b,c'
  Ports:
    Type: List<Number>
    Default: '80,443'
  Vpc:
    Type: AWS::EC2::VPC::Id
    Default: vpc-1
  Name:
    Type: String
    AllowedPattern: '[a-z]+'
    Default: abc
";

    #[test]
    fn defaults_types_and_lists() {
        let r = params(SECTION, &[]).expect("valid");
        assert_eq!(r.values["Stage"], ParamValue::Str("dev".into()));
        assert_eq!(r.values["Mem"], ParamValue::Str("256".into()));
        assert_eq!(
            r.values["Subnets"],
            ParamValue::List(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            r.values["Ports"],
            ParamValue::List(vec!["80".into(), "443".into()])
        );
        assert_eq!(r.values["Vpc"], ParamValue::Str("vpc-1".into()));
        assert_eq!(r.text["Subnets"], "a, b,c");
    }

    #[test]
    fn overrides_win_and_are_checked() {
        let r = params(SECTION, &[("Stage", "prod"), ("Mem", "512")]).expect("valid");
        assert_eq!(r.text["Stage"], "prod");
        assert_eq!(r.text["Mem"], "512");
        let e = params(SECTION, &[("Stage", "qa")]).err().expect("refused");
        assert_eq!(
            e.to_string(),
            "t.yaml:2:3: parameter Stage: value \"qa\" is not one of the allowed values [dev, prod]"
        );
        let e = params(SECTION, &[("Mem", "64")]).err().expect("refused");
        assert!(e.to_string().contains("less than MinValue 128"), "{e}");
        let e = params(SECTION, &[("Mem", "lots")]).err().expect("refused");
        assert!(e.to_string().contains("is not a number"), "{e}");
        let e = params(SECTION, &[("Name", "ABC")]).err().expect("refused");
        assert!(
            e.to_string().contains("does not match AllowedPattern"),
            "{e}"
        );
        let e = params(SECTION, &[("Ports", "80,x")])
            .err()
            .expect("refused");
        assert!(e.to_string().contains("\"x\" is not a number"), "{e}");
    }

    #[test]
    fn unknown_override_is_an_error() {
        let e = params(SECTION, &[("Stagee", "prod")])
            .err()
            .expect("refused");
        assert!(matches!(e, TemplateError::UnknownOverride { .. }));
        assert!(e.to_string().contains("parameter override Stagee"), "{e}");
        assert!(e.to_string().contains("Stage, Mem"), "{e}");
    }

    #[test]
    fn missing_value_names_the_parameter() {
        let e = params("Parameters:\n  Secret:\n    Type: String\n", &[])
            .err()
            .expect("refused");
        assert_eq!(
            e.to_string(),
            "t.yaml:2:3: parameter Secret: no value: it has no Default and no override was given"
        );
        let ok = params(
            "Parameters:\n  Secret:\n    Type: String\n",
            &[("Secret", "s")],
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn unknown_types_are_refused() {
        let e = params("Parameters:\n  P:\n    Type: Strin\n    Default: x\n", &[])
            .err()
            .expect("refused");
        assert!(
            e.to_string().contains("unknown parameter type Strin"),
            "{e}"
        );
    }
}
