//! The loading pipeline: YAML → sections → parameters → conditions → resources → specs.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Value as J};

use crate::build::{self, Site};
use crate::error::{Location, TemplateError};
use crate::eval::{kinds, EvalError, Evaluator, Pseudo, ResourceInfo};
use crate::yaml::{self, Key, Node, Value};
use crate::{globals, params, LoadOptions, Resource, Template};

const TOP_LEVEL: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Globals",
    "Resources",
    "Outputs",
];

const RESOURCE_ATTRIBUTES: &[&str] = &[
    "Type",
    "Properties",
    "Condition",
    "DependsOn",
    "Metadata",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "CreationPolicy",
    "UpdatePolicy",
];

const TRANSFORMS: &[&str] = &["AWS::Serverless-2016-10-31", "AWS::LanguageExtensions"];

/// Types ledge reads itself, or that later work reads from `Template::resources`; these load
/// without a warning.
fn is_known_type(kind: &str) -> bool {
    const EXACT: &[&str] = &[
        kinds::SERVERLESS_FUNCTION,
        kinds::LAMBDA_FUNCTION,
        kinds::SERVERLESS_LAYER,
        kinds::LAMBDA_LAYER,
        kinds::SERVERLESS_API,
        kinds::SERVERLESS_HTTP_API,
        kinds::SERVERLESS_SIMPLE_TABLE,
        kinds::S3_BUCKET,
        kinds::IAM_ROLE,
        "AWS::IAM::Policy",
        "AWS::Lambda::Permission",
        kinds::LAMBDA_VERSION,
        kinds::LAMBDA_ALIAS,
        "AWS::Lambda::EventInvokeConfig",
        kinds::LOG_GROUP,
    ];
    const PREFIXES: &[&str] = &[
        "AWS::ApiGateway::",
        "AWS::ApiGatewayV2::",
        "AWS::CloudFront::",
    ];
    EXACT.contains(&kind) || PREFIXES.iter().any(|p| kind.starts_with(p))
}

fn at(file: &str, line: usize, col: usize) -> Location {
    Location::new(file, line, col)
}

fn structure(file: &str, node: &Node, message: impl Into<String>) -> TemplateError {
    TemplateError::Structure {
        at: at(file, node.line, node.col),
        message: message.into(),
    }
}

pub(crate) fn load(
    text: &str,
    base_dir: &Path,
    file: &str,
    file_name: &Path,
    opts: &LoadOptions,
) -> Result<Template, TemplateError> {
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Err(TemplateError::Structure {
                at: Location::file(file),
                message: "the template is empty".into(),
            })
        }
        Err(e) => {
            return Err(TemplateError::Yaml {
                at: at(file, e.line, e.col),
                message: e.message,
            })
        }
    };
    let Some(top) = root.entries() else {
        return Err(structure(
            file,
            &root,
            "a template must be a mapping at the top level (Resources, Parameters, …)",
        ));
    };
    let mut warnings = Vec::new();
    for (k, _) in top {
        if !TOP_LEVEL.contains(&k.text.as_str()) {
            warnings.push(format!(
                "{}: unknown top-level section {}, ignored",
                at(file, k.line, k.col),
                k.text
            ));
        }
    }
    check_transform(file, root.get("Transform"), &mut warnings)?;

    let Some(resources_node) = root.get("Resources") else {
        return Err(TemplateError::Structure {
            at: Location::file(file),
            message: "the template has no Resources section".into(),
        });
    };
    let resource_entries = match resources_node.entries() {
        Some(entries) if !entries.is_empty() => entries,
        _ => {
            return Err(structure(
                file,
                resources_node,
                "Resources must be a mapping with at least one resource",
            ))
        }
    };
    for name in ["Mappings", "Conditions", "Globals", "Outputs"] {
        if let Some(node) = root.get(name) {
            if node.entries().is_none() && node.value != Value::Null {
                return Err(structure(file, node, format!("{name} must be a mapping")));
            }
        }
    }

    let params = params::resolve(file, root.get("Parameters"), &opts.parameter_overrides)?;
    warnings.extend(params.warnings.iter().cloned());

    let base_dir = absolute(base_dir);
    let path = base_dir.join(file_name);
    let stack_name = if opts.stack_name.is_empty() {
        default_stack_name(&base_dir)
    } else {
        opts.stack_name.clone()
    };

    let globals_node = root.get("Globals").filter(|g| g.entries().is_some());
    check_globals(file, globals_node, &mut warnings);
    let function_globals = globals_node.and_then(|g| g.get("Function"));

    let mut infos = BTreeMap::new();
    for (key, node) in resource_entries {
        let err = |message: &str| TemplateError::Resource {
            at: at(file, key.line, key.col),
            resource: key.text.clone(),
            message: message.to_owned(),
        };
        if node.entries().is_none() {
            return Err(err("a resource must be a mapping with a Type"));
        }
        let kind = match node.get("Type") {
            Some(t) => match t.as_str() {
                Some(kind) => kind.to_owned(),
                None => return Err(err("Type must be a string")),
            },
            None => return Err(err("Type is required")),
        };
        infos.insert(
            key.text.clone(),
            ResourceInfo {
                kind,
                props: node.get("Properties"),
                condition: node.get("Condition"),
            },
        );
    }

    let eval = Evaluator::new(
        file,
        Pseudo {
            region: opts.region.clone(),
            account: opts.account_id.clone(),
            stack_name: stack_name.clone(),
        },
        &params.values,
        root.get("Mappings"),
        root.get("Conditions"),
        infos,
        function_globals,
    )
    .with_versions(opts.versions.clone());

    // CloudFormation validates every condition, used or not.
    for (key, _) in root
        .get("Conditions")
        .and_then(Node::entries)
        .unwrap_or_default()
    {
        let key_node = Node::new(Value::Null, key.line, key.col);
        eval.condition(&key.text, &key_node)
            .map_err(|e| section_error(file, &format!("condition {}", key.text), e))?;
    }

    let mut resources = BTreeMap::new();
    let mut loaded: Vec<(&Key, String, Option<Node>)> = Vec::new();
    for (key, node) in resource_entries {
        let id = &key.text;
        let kind = node.get("Type").and_then(Node::as_str).unwrap_or_default();
        let resource_err = |e: EvalError| TemplateError::Resource {
            at: at(file, e.line, e.col),
            resource: id.clone(),
            message: e.message,
        };
        if !eval.resource_active(id).map_err(resource_err)? {
            continue;
        }
        let known = is_known_type(kind);
        if !known {
            warnings.push(format!(
                "{}: resource {id}: unknown resource type {kind}, skipped",
                at(file, key.line, key.col)
            ));
        }
        for (attr, _) in node.entries().unwrap_or_default() {
            if !RESOURCE_ATTRIBUTES.contains(&attr.text.as_str()) {
                warnings.push(format!(
                    "{}: resource {id}: unknown resource attribute {}, ignored",
                    at(file, attr.line, attr.col),
                    attr.text
                ));
            }
        }
        let props_node = node.get("Properties");
        let merged = match globals::section_for(kind).and_then(|s| globals_node?.get(s)) {
            Some(global) if kind == kinds::SERVERLESS_FUNCTION => Some(globals::apply(
                global,
                props_node,
                globals::is_global_function_prop,
            )),
            Some(global) => Some(globals::apply(global, props_node, |_| true)),
            None => props_node.cloned(),
        };
        let properties = match resolve_properties(&eval, file, id, merged.as_ref()) {
            Ok(p) => p,
            Err(e) if known => return Err(e),
            Err(e) => {
                warnings.push(format!("{e}; properties kept unresolved"));
                merged
                    .as_ref()
                    .map(Node::to_raw_json)
                    .unwrap_or(J::Object(Map::new()))
            }
        };
        let metadata = match node.get("Metadata") {
            None => J::Null,
            Some(m) => match eval.eval(m) {
                Ok(v) => v.unwrap_or(J::Null),
                Err(_) => m.to_raw_json(),
            },
        };
        resources.insert(
            id.clone(),
            Resource {
                logical_id: id.clone(),
                kind: kind.to_owned(),
                properties,
                metadata,
                line: key.line,
            },
        );
        loaded.push((key, kind.to_owned(), merged));
    }

    // Layers first, so functions can tell a local layer's ARN from a published one. Their
    // warnings are kept per resource, to be reported in document order.
    let mut built_warnings: Vec<Vec<String>> = vec![Vec::new(); loaded.len()];
    let mut layers = Vec::new();
    let mut local_layers = BTreeMap::new();
    for (i, (key, kind, merged)) in loaded.iter().enumerate() {
        if kind != kinds::SERVERLESS_LAYER && kind != kinds::LAMBDA_LAYER {
            continue;
        }
        let site = site(file, key, merged.as_ref(), &resources, &base_dir);
        if let Some(layer) = build::layer(&site, kind, &mut built_warnings[i])? {
            local_layers.insert(eval.layer_arn(&layer.name), layer.logical_id.clone());
            layers.push(layer);
        }
    }
    let mut functions: Vec<ledge_model::FunctionSpec> = Vec::new();
    for (i, (key, kind, merged)) in loaded.iter().enumerate() {
        if kind != kinds::SERVERLESS_FUNCTION && kind != kinds::LAMBDA_FUNCTION {
            continue;
        }
        let site = site(file, key, merged.as_ref(), &resources, &base_dir);
        if let Some(function) = build::function(&site, kind, &local_layers, &mut built_warnings[i])?
        {
            if let Some(other) = functions.iter().find(|f| f.name == function.name) {
                return Err(TemplateError::Resource {
                    at: at(file, key.line, key.col),
                    resource: key.text.clone(),
                    message: format!(
                        "function name {} is already used by resource {}",
                        function.name,
                        other.logical_id.as_deref().unwrap_or_default()
                    ),
                });
            }
            functions.push(function);
        }
    }

    warnings.extend(built_warnings.into_iter().flatten());

    let outputs = resolve_outputs(&eval, file, root.get("Outputs"), &mut warnings);
    let globals_json = match globals_node {
        None => J::Object(Map::new()),
        Some(g) => {
            let mut out = Map::new();
            for (k, v) in g.entries().unwrap_or_default() {
                let value = eval
                    .eval(v)
                    .map_err(|e| section_error(file, &format!("Globals.{}", k.text), e))?;
                if let Some(value) = value {
                    out.insert(k.text.clone(), value);
                }
            }
            J::Object(out)
        }
    };

    warnings.extend(eval.take_warnings());
    let mut seen = std::collections::HashSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    warnings.sort_by_key(|w| warning_position(w, file));

    Ok(Template {
        path,
        functions,
        layers,
        resources,
        parameters: params.text,
        globals: globals_json,
        outputs,
        stack_name,
        warnings,
    })
}

/// The `line:col` a warning starts with, to list warnings in document order.
fn warning_position(warning: &str, file: &str) -> (usize, usize) {
    let mut parts = warning
        .strip_prefix(file)
        .and_then(|rest| rest.strip_prefix(':'))
        .unwrap_or_default()
        .splitn(3, ':')
        .map(|p| p.parse::<usize>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

fn site<'a>(
    file: &'a str,
    key: &'a Key,
    merged: Option<&'a Node>,
    resources: &'a BTreeMap<String, Resource>,
    base_dir: &'a Path,
) -> Site<'a> {
    static EMPTY: std::sync::OnceLock<J> = std::sync::OnceLock::new();
    let props = resources
        .get(&key.text)
        .map(|r| &r.properties)
        .unwrap_or_else(|| EMPTY.get_or_init(|| J::Object(Map::new())));
    Site {
        file,
        id: &key.text,
        line: key.line,
        col: key.col,
        node: merged,
        props,
        base_dir,
    }
}

fn section_error(file: &str, section: &str, e: EvalError) -> TemplateError {
    TemplateError::Section {
        at: at(file, e.line, e.col),
        section: section.to_owned(),
        message: e.message,
    }
}

/// Resolve `Properties` entry by entry, so an error names the property it came from.
fn resolve_properties(
    eval: &Evaluator<'_>,
    file: &str,
    id: &str,
    node: Option<&Node>,
) -> Result<J, TemplateError> {
    let Some(node) = node else {
        return Ok(J::Object(Map::new()));
    };
    let resource_err = |e: EvalError| TemplateError::Resource {
        at: at(file, e.line, e.col),
        resource: id.to_owned(),
        message: format!("Properties: {}", e.message),
    };
    let Some(entries) = node.entries().filter(|_| node.intrinsic().is_none()) else {
        // `Properties: !If [...]` or a wrong shape: evaluate as a whole.
        return match eval.eval(node).map_err(resource_err)? {
            None | Some(J::Null) => Ok(J::Object(Map::new())),
            Some(v @ J::Object(_)) => Ok(v),
            Some(_) => Err(TemplateError::Resource {
                at: at(file, node.line, node.col),
                resource: id.to_owned(),
                message: "Properties must be a mapping".into(),
            }),
        };
    };
    let mut out = Map::new();
    for (k, v) in entries {
        let value = eval.eval(v).map_err(|e| TemplateError::Property {
            at: at(file, e.line, e.col),
            resource: id.to_owned(),
            property: k.text.clone(),
            message: e.message,
        })?;
        if let Some(value) = value {
            out.insert(k.text.clone(), value);
        }
    }
    Ok(J::Object(out))
}

fn check_transform(
    file: &str,
    node: Option<&Node>,
    warnings: &mut Vec<String>,
) -> Result<(), TemplateError> {
    let Some(node) = node else { return Ok(()) };
    let items: Vec<&Node> = match &node.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    for item in items {
        match item.as_str() {
            Some(t) if TRANSFORMS.contains(&t) => {}
            Some(t) => warnings.push(format!(
                "{}: transform {t} is not supported, ignored",
                at(file, item.line, item.col)
            )),
            None if item.entries().is_some() => warnings.push(format!(
                "{}: transform {} is not supported, ignored",
                at(file, item.line, item.col),
                item.get("Name")
                    .and_then(Node::as_str)
                    .unwrap_or("(unnamed)")
            )),
            None => {
                return Err(structure(
                    file,
                    item,
                    "Transform must be a name or a list of names",
                ))
            }
        }
    }
    Ok(())
}

fn check_globals(file: &str, globals_node: Option<&Node>, warnings: &mut Vec<String>) {
    let Some(entries) = globals_node.and_then(Node::entries) else {
        return;
    };
    for (section, props) in entries {
        if !globals::SECTIONS.contains(&section.text.as_str()) {
            warnings.push(format!(
                "{}: unknown Globals section {}, ignored",
                at(file, section.line, section.col),
                section.text
            ));
            continue;
        }
        if section.text != "Function" {
            continue;
        }
        for (k, _) in props.entries().unwrap_or_default() {
            let where_ = at(file, k.line, k.col);
            if globals::NOT_GLOBAL_FUNCTION_PROPS.contains(&k.text.as_str()) {
                warnings.push(format!(
                    "{where_}: Globals.Function: property {} cannot be set globally, ignored",
                    k.text
                ));
            } else if !build::SERVERLESS_FUNCTION_PROPS.contains(&k.text.as_str()) {
                warnings.push(format!(
                    "{where_}: Globals.Function: unknown property {}, ignored",
                    k.text
                ));
            }
        }
    }
}

fn resolve_outputs(
    eval: &Evaluator<'_>,
    file: &str,
    node: Option<&Node>,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    for (key, output) in node.and_then(Node::entries).unwrap_or_default() {
        let skip = |message: String| {
            format!(
                "{}: output {}: {message}, skipped",
                at(file, key.line, key.col),
                key.text
            )
        };
        if let Some(cond) = output.get("Condition") {
            match cond.as_str().map(|c| eval.condition(c, cond)) {
                Some(Ok(true)) => {}
                Some(Ok(false)) => continue,
                Some(Err(e)) => {
                    warnings.push(skip(e.message));
                    continue;
                }
                None => {
                    warnings.push(skip("Condition must name a condition".into()));
                    continue;
                }
            }
        }
        let Some(value) = output.get("Value") else {
            warnings.push(skip("it has no Value".into()));
            continue;
        };
        match eval.eval(value) {
            Ok(Some(J::Array(items))) => {
                let parts: Vec<String> = items.iter().filter_map(crate::eval::text).collect();
                outputs.insert(key.text.clone(), parts.join(","));
            }
            Ok(Some(v)) => match crate::eval::text(&v) {
                Some(s) => {
                    outputs.insert(key.text.clone(), s);
                }
                None => warnings.push(skip(format!(
                    "Value must be a string, got {}",
                    crate::eval::brief(&v)
                ))),
            },
            Ok(None) => warnings.push(skip("Value is AWS::NoValue".into())),
            Err(e) => warnings.push(format!(
                "{}: output {}: {}, skipped",
                at(file, e.line, e.col),
                key.text,
                e.message
            )),
        }
    }
    outputs
}

/// The template folder's name as a stack name (`[A-Za-z][-A-Za-z0-9]*`), else `ledge`.
fn default_stack_name(base_dir: &Path) -> String {
    let name: String = base_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = name.trim_matches('-');
    if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.chars().take(128).collect()
    } else {
        "ledge".to_owned()
    }
}

/// An absolute path with `.` and `..` folded away, without touching the file system beyond
/// reading the current directory.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names_come_from_the_folder() {
        assert_eq!(default_stack_name(Path::new("/x/my_app")), "my-app");
        assert_eq!(default_stack_name(Path::new("/x/2024")), "ledge");
        assert_eq!(default_stack_name(Path::new("/")), "ledge");
    }

    #[test]
    fn absolute_folds_dots() {
        assert_eq!(
            absolute(Path::new("/a/b/../c/./d")),
            PathBuf::from("/a/c/d")
        );
    }
}
