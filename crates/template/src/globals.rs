//! SAM's `Globals` section and its merge rules.
//!
//! As SAM's translator does it: a property set on the resource replaces a primitive global,
//! mappings merge key by key (the resource wins, recursively), lists concatenate (globals
//! first), and an intrinsic function counts as a primitive. One exception, following the fix
//! SAM adopted (serverless-application-model#3939): `Architectures` is replaced, not
//! concatenated, since a function runs on exactly one architecture.

use crate::yaml::{Key, Node, Value};

/// `Globals` sections ledge accepts; the others are warned about and ignored.
pub(crate) const SECTIONS: &[&str] = &[
    "Function",
    "Api",
    "HttpApi",
    "SimpleTable",
    "LayerVersion",
    "StateMachine",
    "CapacityProvider",
];

/// Function properties SAM refuses in `Globals.Function`.
pub(crate) const NOT_GLOBAL_FUNCTION_PROPS: &[&str] =
    &["FunctionName", "Events", "Role", "Policies"];

/// Whether a `Globals.Function` property is applied to functions.
pub(crate) fn is_global_function_prop(name: &str) -> bool {
    crate::build::SERVERLESS_FUNCTION_PROPS.contains(&name)
        && !NOT_GLOBAL_FUNCTION_PROPS.contains(&name)
}

/// Lists the resource's value replaces rather than extends.
const REPLACED_LISTS: &[&str] = &["Architectures"];

/// The `Globals` section that applies to a resource type, if any.
pub(crate) fn section_for(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "AWS::Serverless::Function" => "Function",
        "AWS::Serverless::Api" => "Api",
        "AWS::Serverless::HttpApi" => "HttpApi",
        "AWS::Serverless::SimpleTable" => "SimpleTable",
        "AWS::Serverless::LayerVersion" => "LayerVersion",
        "AWS::Serverless::StateMachine" => "StateMachine",
        _ => return None,
    })
}

/// The resource's properties with the global ones merged in. Global properties for which
/// `keep` says no (those SAM refuses in that section) are left out.
pub(crate) fn apply(global: &Node, local: Option<&Node>, keep: impl Fn(&str) -> bool) -> Node {
    let Some(global_entries) = global.entries() else {
        return local.cloned().unwrap_or_else(|| global.clone());
    };
    let filtered: Vec<(Key, Node)> = global_entries
        .iter()
        .filter(|(k, _)| keep(&k.text))
        .cloned()
        .collect();
    let global = Node::new(Value::Map(filtered), global.line, global.col);
    match local {
        None => global,
        Some(local) => merge(&global, local, ""),
    }
}

enum Token {
    Primitive,
    Dict,
    List,
}

fn token(node: &Node) -> Token {
    match &node.value {
        Value::Map(entries) => {
            let intrinsic = node.intrinsic().is_some()
                || matches!(entries.as_slice(), [(k, _)] if k.text == "Condition");
            if intrinsic {
                Token::Primitive
            } else {
                Token::Dict
            }
        }
        Value::Seq(_) => Token::List,
        _ => Token::Primitive,
    }
}

fn merge(global: &Node, local: &Node, name: &str) -> Node {
    match (token(global), token(local), &global.value, &local.value) {
        (Token::Dict, Token::Dict, Value::Map(g), Value::Map(l)) => {
            let mut out = g.clone();
            for (k, v) in l {
                match out.iter_mut().find(|(gk, _)| gk.text == k.text) {
                    Some((_, gv)) => *gv = merge(gv, v, &k.text),
                    None => out.push((k.clone(), v.clone())),
                }
            }
            Node::new(Value::Map(out), local.line, local.col)
        }
        (Token::List, Token::List, Value::Seq(g), Value::Seq(l))
            if !REPLACED_LISTS.contains(&name) =>
        {
            let mut out = g.clone();
            out.extend(l.iter().cloned());
            Node::new(Value::Seq(out), local.line, local.col)
        }
        _ => local.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn merged(text: &str) -> serde_json::Value {
        let doc = parse(text).expect("yaml").expect("doc");
        let global = doc.get("g").expect("g");
        apply(global, doc.get("l"), |k| {
            !NOT_GLOBAL_FUNCTION_PROPS.contains(&k)
        })
        .to_raw_json()
    }

    #[test]
    fn primitives_are_replaced_maps_merge_lists_append() {
        let out = merged(
            "g:
  Timeout: 10
  Environment: {Variables: {A: g, B: g}}
  Layers: [g1]
  Architectures: [x86_64]
  Tags: {T: 1}
  Events: {E: {Type: Api}}
l:
  Timeout: 20
  Environment: {Variables: {B: l, C: l}}
  Layers: [l1]
  Architectures: [arm64]
  Tags: !Ref Other
",
        );
        assert_eq!(
            out,
            serde_json::json!({
                "Timeout": 20,
                "Environment": {"Variables": {"A": "g", "B": "l", "C": "l"}},
                "Layers": ["g1", "l1"],
                "Architectures": ["arm64"],
                "Tags": {"Ref": "Other"},
            })
        );
    }

    #[test]
    fn globals_alone_apply_when_the_resource_has_no_properties() {
        let out = merged("g: {Runtime: python3.12, Role: r}\n");
        assert_eq!(out, serde_json::json!({"Runtime": "python3.12"}));
    }
}
