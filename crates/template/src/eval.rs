//! Intrinsic functions, conditions and references: a [`Node`] in, JSON out.
//!
//! Evaluation is lazy and memoised where one value depends on another: a condition is
//! evaluated the first time something asks for it, a resource's physical name (its
//! `FunctionName`, `LayerName`, …) the first time a `Ref` or `Fn::GetAtt` needs it. Both
//! detect cycles. `Ref: AWS::NoValue` evaluates to `None`, which removes the enclosing
//! mapping entry or list element.

use std::cell::RefCell;
use std::collections::BTreeMap;

use base64::Engine as _;
use ledge_model::function_name_of;
use serde_json::{Map, Value as J};

use crate::yaml::{Node, Value};

/// An evaluation failure at the node that caused it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EvalError {
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) message: String,
}

fn fail<T>(at: &Node, message: impl Into<String>) -> Result<T, EvalError> {
    Err(EvalError {
        line: at.line,
        col: at.col,
        message: message.into(),
    })
}

/// A parameter's final value as `Ref` returns it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamValue {
    Str(String),
    List(Vec<String>),
}

impl ParamValue {
    fn to_json(&self) -> J {
        match self {
            ParamValue::Str(s) => J::String(s.clone()),
            ParamValue::List(items) => J::Array(items.iter().cloned().map(J::String).collect()),
        }
    }
}

/// The values of the `AWS::*` pseudo parameters.
#[derive(Debug, Clone)]
pub(crate) struct Pseudo {
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) stack_name: String,
}

impl Pseudo {
    const PARTITION: &'static str = "aws";
    const URL_SUFFIX: &'static str = "amazonaws.com";

    fn stack_id(&self) -> String {
        let a = fnv64(&self.stack_name);
        let b = fnv64(&format!("{}/{}", self.region, self.stack_name));
        format!(
            "arn:aws:cloudformation:{}:{}:stack/{}/{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            self.region,
            self.account,
            self.stack_name,
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }

    fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "AWS::Region" => self.region.clone(),
            "AWS::AccountId" => self.account.clone(),
            "AWS::StackName" => self.stack_name.clone(),
            "AWS::StackId" => self.stack_id(),
            "AWS::Partition" => Self::PARTITION.to_owned(),
            "AWS::URLSuffix" => Self::URL_SUFFIX.to_owned(),
            "AWS::NotificationARNs" => String::new(),
            _ => return None,
        })
    }
}

/// Resource types this crate names in `Ref` / `Fn::GetAtt` answers.
pub(crate) mod kinds {
    pub(crate) const SERVERLESS_FUNCTION: &str = "AWS::Serverless::Function";
    pub(crate) const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";
    pub(crate) const SERVERLESS_LAYER: &str = "AWS::Serverless::LayerVersion";
    pub(crate) const LAMBDA_LAYER: &str = "AWS::Lambda::LayerVersion";
    pub(crate) const SERVERLESS_API: &str = "AWS::Serverless::Api";
    pub(crate) const SERVERLESS_HTTP_API: &str = "AWS::Serverless::HttpApi";
    pub(crate) const SERVERLESS_SIMPLE_TABLE: &str = "AWS::Serverless::SimpleTable";
    pub(crate) const REST_API: &str = "AWS::ApiGateway::RestApi";
    pub(crate) const HTTP_API: &str = "AWS::ApiGatewayV2::Api";
    pub(crate) const IAM_ROLE: &str = "AWS::IAM::Role";
    pub(crate) const S3_BUCKET: &str = "AWS::S3::Bucket";
    pub(crate) const DISTRIBUTION: &str = "AWS::CloudFront::Distribution";
    pub(crate) const LOG_GROUP: &str = "AWS::Logs::LogGroup";
    pub(crate) const DYNAMODB_TABLE: &str = "AWS::DynamoDB::Table";
    pub(crate) const LAMBDA_VERSION: &str = "AWS::Lambda::Version";
    pub(crate) const LAMBDA_ALIAS: &str = "AWS::Lambda::Alias";
}
use kinds::*;

/// What the evaluator knows of one resource before anything is resolved.
#[derive(Debug, Clone)]
pub(crate) struct ResourceInfo<'a> {
    pub(crate) kind: String,
    pub(crate) props: Option<&'a Node>,
    /// The resource-level `Condition:` value.
    pub(crate) condition: Option<&'a Node>,
}

/// Evaluates nodes against one template's parameters, mappings, conditions and resources.
pub(crate) struct Evaluator<'a> {
    file: &'a str,
    pub(crate) pseudo: Pseudo,
    params: &'a BTreeMap<String, ParamValue>,
    mappings: Option<&'a Node>,
    conditions: Option<&'a Node>,
    resources: BTreeMap<String, ResourceInfo<'a>>,
    /// Resources SAM generates (`ServerlessRestApi`, `<Function>Role`) that templates refer to.
    implicit: BTreeMap<String, &'static str>,
    /// `Globals.Function`, for `AutoPublishAlias` set there.
    function_globals: Option<&'a Node>,
    /// Published version numbers by logical id (see `LoadOptions::versions`); 1 if absent.
    versions: BTreeMap<String, u32>,
    conditions_done: RefCell<BTreeMap<String, bool>>,
    conditions_open: RefCell<Vec<String>>,
    names_done: RefCell<BTreeMap<String, String>>,
    names_open: RefCell<Vec<String>>,
    warnings: RefCell<Vec<String>>,
}

/// How many conditions and resource names may be open at once while one depends on the next;
/// a longer chain is refused rather than allowed to exhaust the stack.
const MAX_CHAIN: usize = 64;

impl<'a> Evaluator<'a> {
    pub(crate) fn new(
        file: &'a str,
        pseudo: Pseudo,
        params: &'a BTreeMap<String, ParamValue>,
        mappings: Option<&'a Node>,
        conditions: Option<&'a Node>,
        resources: BTreeMap<String, ResourceInfo<'a>>,
        function_globals: Option<&'a Node>,
    ) -> Self {
        let implicit = implicit_resources(&resources);
        Self {
            file,
            pseudo,
            params,
            mappings,
            conditions,
            resources,
            implicit,
            function_globals,
            versions: BTreeMap::new(),
            conditions_done: RefCell::default(),
            conditions_open: RefCell::default(),
            names_done: RefCell::default(),
            names_open: RefCell::default(),
            warnings: RefCell::default(),
        }
    }

    /// The version numbers `!Ref Fn.Version` and `AWS::Lambda::Version` resources resolve to.
    pub(crate) fn with_versions(mut self, versions: BTreeMap<String, u32>) -> Self {
        self.versions = versions;
        self
    }

    /// The published version a function with `AutoPublishAlias` or an
    /// `AWS::Lambda::Version` resource stands for: the one the app published, else 1.
    fn version_of(&self, id: &str) -> u32 {
        self.versions.get(id).copied().unwrap_or(1)
    }

    /// Warnings raised while evaluating, in order, each once.
    pub(crate) fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.borrow_mut())
    }

    fn warn(&self, at: &Node, message: String) {
        let line = format!("{}:{}:{}: {message}", self.file, at.line, at.col);
        let mut warnings = self.warnings.borrow_mut();
        if !warnings.contains(&line) {
            warnings.push(line);
        }
    }

    pub(crate) fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.pseudo.region, self.pseudo.account
        )
    }

    /// The version ARN a layer defined in the template gets: always version 1.
    pub(crate) fn layer_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:layer:{name}:1",
            self.pseudo.region, self.pseudo.account
        )
    }

    pub(crate) fn kind_of(&self, id: &str) -> Option<&str> {
        self.resources
            .get(id)
            .map(|r| r.kind.as_str())
            .or_else(|| self.implicit.get(id).copied())
    }

    /// Evaluate a node; `None` is `AWS::NoValue`.
    pub(crate) fn eval(&self, node: &Node) -> Result<Option<J>, EvalError> {
        Ok(Some(match &node.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Num(n) => J::Number(n.clone()),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(v) = self.eval(item)? {
                        out.push(v);
                    }
                }
                J::Array(out)
            }
            Value::Map(entries) => {
                if let Some((name, arg)) = node.intrinsic() {
                    return self.intrinsic(name, arg, node);
                }
                let mut out = Map::new();
                for (k, v) in entries {
                    if let Some(v) = self.eval(v)? {
                        out.insert(k.text.clone(), v);
                    }
                }
                J::Object(out)
            }
        }))
    }

    /// Evaluate to text (strings, numbers and booleans stringify as CloudFormation does).
    pub(crate) fn eval_text(&self, node: &Node, what: &str) -> Result<String, EvalError> {
        match self.eval(node)? {
            Some(v) => match text(&v) {
                Some(s) => Ok(s),
                None => fail(node, format!("{what} must be a string, got {}", brief(&v))),
            },
            None => fail(node, format!("{what} cannot be AWS::NoValue")),
        }
    }

    fn eval_list(&self, node: &Node, what: &str) -> Result<Vec<J>, EvalError> {
        match self.eval(node)? {
            Some(J::Array(items)) => Ok(items),
            Some(v) => fail(node, format!("{what} must be a list, got {}", brief(&v))),
            None => fail(node, format!("{what} cannot be AWS::NoValue")),
        }
    }

    fn intrinsic(&self, name: &str, arg: &Node, node: &Node) -> Result<Option<J>, EvalError> {
        match name {
            "Ref" => {
                let Some(target) = arg.as_str() else {
                    return fail(node, "Ref takes the name of a parameter or resource");
                };
                self.reference(target, node)
            }
            "Fn::GetAtt" => {
                let (id, attr) = match &arg.value {
                    Value::Str(s) => match s.split_once('.') {
                        Some((id, attr)) => (id.to_owned(), attr.to_owned()),
                        None => {
                            return fail(
                                node,
                                format!("Fn::GetAtt {s:?} must read Resource.Attribute"),
                            )
                        }
                    },
                    Value::Seq(items) if items.len() == 2 => (
                        self.eval_text(&items[0], "Fn::GetAtt resource")?,
                        self.eval_text(&items[1], "Fn::GetAtt attribute")?,
                    ),
                    _ => {
                        return fail(
                            node,
                            "Fn::GetAtt takes [Resource, Attribute] or Resource.Attribute",
                        )
                    }
                };
                self.get_att(&id, &attr, node).map(Some)
            }
            "Fn::Sub" => {
                let (template, vars) = match &arg.value {
                    Value::Str(s) => (s.as_str(), None),
                    Value::Seq(items) if items.len() == 2 => {
                        match (&items[0].value, &items[1].value) {
                            (Value::Str(s), Value::Map(_)) => (s.as_str(), Some(&items[1])),
                            _ => {
                                return fail(
                                    node,
                                    "Fn::Sub takes a string or [string, {variables}]",
                                )
                            }
                        }
                    }
                    _ => return fail(node, "Fn::Sub takes a string or [string, {variables}]"),
                };
                self.sub(template, vars, node).map(|s| Some(J::String(s)))
            }
            "Fn::Join" => {
                let [delim, list] =
                    self.args::<2>(arg, node, "Fn::Join", "[delimiter, [values]]")?;
                let delim = self.eval_text(delim, "Fn::Join delimiter")?;
                let mut parts = Vec::new();
                for v in self.eval_list(list, "Fn::Join values")? {
                    match text(&v) {
                        Some(s) => parts.push(s),
                        None => {
                            return fail(
                                list,
                                format!("Fn::Join values must be strings, got {}", brief(&v)),
                            )
                        }
                    }
                }
                Ok(Some(J::String(parts.join(&delim))))
            }
            "Fn::Select" => {
                let [index, list] = self.args::<2>(arg, node, "Fn::Select", "[index, [values]]")?;
                let index_text = self.eval_text(index, "Fn::Select index")?;
                let Ok(i) = index_text.trim().parse::<usize>() else {
                    return fail(
                        index,
                        format!("Fn::Select index {index_text:?} is not a whole number"),
                    );
                };
                let items = self.eval_list(list, "Fn::Select values")?;
                let len = items.len();
                match items.into_iter().nth(i) {
                    Some(v) => Ok(Some(v)),
                    None => fail(
                        node,
                        format!("Fn::Select index {i} is out of range for a list of {len}"),
                    ),
                }
            }
            "Fn::Split" => {
                let [delim, source] =
                    self.args::<2>(arg, node, "Fn::Split", "[delimiter, string]")?;
                let delim = self.eval_text(delim, "Fn::Split delimiter")?;
                if delim.is_empty() {
                    return fail(node, "Fn::Split delimiter cannot be empty");
                }
                let source = self.eval_text(source, "Fn::Split source")?;
                Ok(Some(J::Array(
                    source
                        .split(delim.as_str())
                        .map(|s| J::String(s.to_owned()))
                        .collect(),
                )))
            }
            "Fn::If" => {
                let [cond, yes, no] = self.args::<3>(
                    arg,
                    node,
                    "Fn::If",
                    "[condition, value if true, value if false]",
                )?;
                let Some(cond_name) = cond.as_str() else {
                    return fail(cond, "Fn::If takes a condition name first");
                };
                if self.condition(cond_name, cond)? {
                    self.eval(yes)
                } else {
                    self.eval(no)
                }
            }
            "Fn::Equals" => {
                let [a, b] = self.args::<2>(arg, node, "Fn::Equals", "[value, value]")?;
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let equal = match (a.as_ref().and_then(text), b.as_ref().and_then(text)) {
                    (Some(x), Some(y)) => x == y,
                    _ => a == b,
                };
                Ok(Some(J::Bool(equal)))
            }
            "Fn::Not" => {
                let inner = match &arg.value {
                    Value::Seq(items) if items.len() == 1 => &items[0],
                    Value::Seq(_) => return fail(node, "Fn::Not takes a list of one condition"),
                    _ => arg,
                };
                Ok(Some(J::Bool(!self.condition_arg(inner)?)))
            }
            "Fn::And" | "Fn::Or" => {
                let Value::Seq(items) = &arg.value else {
                    return fail(node, format!("{name} takes a list of 2 to 10 conditions"));
                };
                if !(2..=10).contains(&items.len()) {
                    return fail(node, format!("{name} takes a list of 2 to 10 conditions"));
                }
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.condition_arg(item)?);
                }
                let result = if name == "Fn::And" {
                    values.iter().all(|v| *v)
                } else {
                    values.iter().any(|v| *v)
                };
                Ok(Some(J::Bool(result)))
            }
            "Fn::FindInMap" => self.find_in_map(arg, node).map(Some),
            "Fn::Base64" => {
                let s = self.eval_text(arg, "Fn::Base64 value")?;
                Ok(Some(J::String(
                    base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
                )))
            }
            "Fn::GetAZs" => {
                let region = match self.eval_text(arg, "Fn::GetAZs region")? {
                    r if r.is_empty() => self.pseudo.region.clone(),
                    r => r,
                };
                Ok(Some(J::Array(
                    ["a", "b", "c"]
                        .iter()
                        .map(|z| J::String(format!("{region}{z}")))
                        .collect(),
                )))
            }
            "Fn::Length" => {
                let items = self.eval_list(arg, "Fn::Length value")?;
                Ok(Some(J::from(items.len())))
            }
            "Fn::ToJsonString" => match self.eval(arg)? {
                Some(v) => Ok(Some(J::String(v.to_string()))),
                None => fail(node, "Fn::ToJsonString cannot take AWS::NoValue"),
            },
            "Fn::ImportValue" => {
                let export = self.eval_text(arg, "Fn::ImportValue name")?;
                self.warn(
                    node,
                    format!("Fn::ImportValue {export}: other stacks' exports are not available locally, using a placeholder"),
                );
                Ok(Some(J::String(format!("ledge:import:{export}"))))
            }
            "Fn::Transform" => {
                self.warn(
                    node,
                    "Fn::Transform is not supported; the value is kept unresolved".into(),
                );
                Ok(Some(node.to_raw_json()))
            }
            other => fail(node, format!("unsupported intrinsic function {other}")),
        }
    }

    /// Exactly `N` arguments in a list.
    fn args<'n, const N: usize>(
        &self,
        arg: &'n Node,
        node: &Node,
        name: &str,
        shape: &str,
    ) -> Result<&'n [Node; N], EvalError> {
        match &arg.value {
            Value::Seq(items) => match <&[Node; N]>::try_from(items.as_slice()) {
                Ok(args) => Ok(args),
                Err(_) => fail(node, format!("{name} takes {shape}")),
            },
            _ => fail(node, format!("{name} takes {shape}")),
        }
    }

    fn find_in_map(&self, arg: &Node, node: &Node) -> Result<J, EvalError> {
        let Value::Seq(items) = &arg.value else {
            return fail(
                node,
                "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]",
            );
        };
        if !(3..=4).contains(&items.len()) {
            return fail(
                node,
                "Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey]",
            );
        }
        let map = self.eval_text(&items[0], "Fn::FindInMap map name")?;
        let top = self.eval_text(&items[1], "Fn::FindInMap top-level key")?;
        let second = self.eval_text(&items[2], "Fn::FindInMap second-level key")?;
        let default = match items.get(3) {
            Some(d) => match d.get("DefaultValue") {
                Some(v) => Some(v),
                None => {
                    return fail(
                        d,
                        "Fn::FindInMap's fourth argument must be {DefaultValue: value}",
                    )
                }
            },
            None => None,
        };
        let found = self
            .mappings
            .and_then(|m| m.get(&map))
            .ok_or_else(|| format!("Fn::FindInMap: no mapping named {map}"))
            .and_then(|m| {
                m.get(&top)
                    .ok_or_else(|| format!("Fn::FindInMap: mapping {map} has no key {top}"))
            })
            .and_then(|t| {
                t.get(&second).ok_or_else(|| {
                    format!("Fn::FindInMap: mapping {map}.{top} has no key {second}")
                })
            });
        let value_node = match (found, default) {
            (Ok(v), _) => v,
            (Err(_), Some(d)) => d,
            (Err(message), None) => return fail(node, message),
        };
        match self.eval(value_node)? {
            Some(v) => Ok(v),
            None => fail(node, "Fn::FindInMap value cannot be AWS::NoValue"),
        }
    }

    /// `Fn::Sub`: `${Param}`, `${AWS::Region}`, `${Resource}`, `${Resource.Attr}`,
    /// `${!Literal}` and variables from the optional map.
    fn sub(&self, template: &str, vars: Option<&Node>, node: &Node) -> Result<String, EvalError> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                rest = "";
                break;
            };
            let inner = &after[..end];
            if let Some(literal) = inner.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else {
                out.push_str(&self.sub_variable(inner.trim(), vars, node)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn sub_variable(
        &self,
        name: &str,
        vars: Option<&Node>,
        node: &Node,
    ) -> Result<String, EvalError> {
        if let Some(value) = vars.and_then(|v| v.get(name)) {
            return self.eval_text(value, &format!("Fn::Sub variable {name}"));
        }
        let value =
            if self.params.contains_key(name) || name.starts_with("AWS::") || !name.contains('.') {
                match self.reference(name, node)? {
                    Some(v) => v,
                    None => {
                        return fail(
                            node,
                            format!("Fn::Sub cannot use ${{{name}}}: it is AWS::NoValue"),
                        )
                    }
                }
            } else {
                let (id, attr) = name.split_once('.').unwrap_or((name, ""));
                self.get_att(id, attr, node)?
            };
        match text(&value) {
            Some(s) => Ok(s),
            None => fail(
                node,
                format!("Fn::Sub cannot use ${{{name}}}: it is a list (use Fn::Join)"),
            ),
        }
    }

    /// `Ref` to a parameter, pseudo parameter or resource.
    fn reference(&self, name: &str, node: &Node) -> Result<Option<J>, EvalError> {
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(v) = self.pseudo.get(name) {
            return Ok(Some(J::String(v)));
        }
        if let Some(p) = self.params.get(name) {
            return Ok(Some(p.to_json()));
        }
        let Some(kind) = self.kind_of(name) else {
            if let Some(v) = self.sam_function_reference(name, node)? {
                return Ok(Some(J::String(v)));
            }
            if let Some(v) = self.sam_alias_reference(name)? {
                return Ok(Some(J::String(v)));
            }
            return fail(
                node,
                format!("unresolved reference {name}: no parameter or resource of that name"),
            );
        };
        self.ensure_active(name, node)?;
        let kind = kind.to_owned();
        let value = match kind.as_str() {
            SERVERLESS_FUNCTION | LAMBDA_FUNCTION => self.physical_name(name)?,
            SERVERLESS_LAYER | LAMBDA_LAYER => self.layer_arn(&self.physical_name(name)?),
            IAM_ROLE | S3_BUCKET | SERVERLESS_SIMPLE_TABLE | DYNAMODB_TABLE | LOG_GROUP => {
                self.physical_name(name)?
            }
            // CloudFormation: the version's ARN, `…:function:NAME:N`.
            LAMBDA_VERSION => self.lambda_version_arn(name, node)?,
            // CloudFormation: the alias's ARN, `…:function:NAME:ALIAS`.
            LAMBDA_ALIAS => self.lambda_alias_arn(name, node)?,
            _ => name.to_owned(),
        };
        Ok(Some(J::String(value)))
    }

    /// The function an `AWS::Lambda::Version` / `AWS::Lambda::Alias` names in
    /// `FunctionName` (a name, or an ARN with or without a qualifier).
    fn target_function(&self, id: &str, node: &Node) -> Result<String, EvalError> {
        let f = self.required_text(id, "FunctionName", node)?;
        Ok(function_name_of(&f).to_owned())
    }

    /// Property `key` of resource `id`, evaluated as text; its absence is refused at
    /// `node` with "`id` needs `key`".
    fn required_text(&self, id: &str, key: &str, node: &Node) -> Result<String, EvalError> {
        let Some(v) = self
            .resources
            .get(id)
            .and_then(|r| r.props)
            .and_then(|p| p.get(key))
        else {
            return fail(node, format!("{id} needs {key}"));
        };
        self.eval_text(v, key)
    }

    fn lambda_version_arn(&self, id: &str, node: &Node) -> Result<String, EvalError> {
        let name = self.target_function(id, node)?;
        Ok(format!(
            "{}:{}",
            self.function_arn(&name),
            self.version_of(id)
        ))
    }

    fn lambda_alias_arn(&self, id: &str, node: &Node) -> Result<String, EvalError> {
        let name = self.target_function(id, node)?;
        let alias = self.required_text(id, "Name", node)?;
        Ok(format!("{}:{alias}", self.function_arn(&name)))
    }

    /// `AutoPublishAlias` of a SAM function (its own, else `Globals.Function`'s).
    fn auto_publish_alias(&self, id: &str) -> Option<&'a Node> {
        self.resources
            .get(id)
            .and_then(|r| r.props)
            .and_then(|p| p.get("AutoPublishAlias"))
            .or_else(|| {
                self.function_globals
                    .and_then(|g| g.get("AutoPublishAlias"))
            })
    }

    /// The alias SAM generates for `AutoPublishAlias`, `<Function>Alias<alias>`.
    fn sam_alias_reference(&self, name: &str) -> Result<Option<String>, EvalError> {
        for (id, r) in &self.resources {
            if r.kind != SERVERLESS_FUNCTION {
                continue;
            }
            let Some(rest) = name
                .strip_prefix(id.as_str())
                .and_then(|r| r.strip_prefix("Alias"))
            else {
                continue;
            };
            let Some(alias_node) = self.auto_publish_alias(id) else {
                continue;
            };
            let alias = self.eval_text(alias_node, "AutoPublishAlias")?;
            let logical: String = alias.chars().filter(char::is_ascii_alphanumeric).collect();
            if logical == rest {
                return Ok(Some(format!(
                    "{}:{alias}",
                    self.function_arn(&self.physical_name(id)?)
                )));
            }
        }
        Ok(None)
    }

    /// SAM's `!Ref Function.Alias` and `!Ref Function.Version` on a function with
    /// `AutoPublishAlias`.
    fn sam_function_reference(&self, name: &str, node: &Node) -> Result<Option<String>, EvalError> {
        let Some((id, what)) = name.rsplit_once('.') else {
            return Ok(None);
        };
        if self.kind_of(id) != Some(SERVERLESS_FUNCTION) || !matches!(what, "Alias" | "Version") {
            return Ok(None);
        }
        self.ensure_active(id, node)?;
        let Some(alias_node) = self.auto_publish_alias(id) else {
            return fail(node, format!("{name} needs AutoPublishAlias on {id}"));
        };
        let arn = self.function_arn(&self.physical_name(id)?);
        Ok(Some(if what == "Alias" {
            format!("{arn}:{}", self.eval_text(alias_node, "AutoPublishAlias")?)
        } else {
            format!("{arn}:{}", self.version_of(id))
        }))
    }

    fn ensure_active(&self, id: &str, node: &Node) -> Result<(), EvalError> {
        if self.resource_active(id)? {
            Ok(())
        } else {
            fail(
                node,
                format!("resource {id} is not created because its condition is false"),
            )
        }
    }

    /// `Fn::GetAtt` with a local, deterministic answer for the attributes ledge knows.
    fn get_att(&self, id: &str, attr: &str, node: &Node) -> Result<J, EvalError> {
        let Some(kind) = self.kind_of(id).map(str::to_owned) else {
            return fail(
                node,
                format!("Fn::GetAtt references undefined resource {id}"),
            );
        };
        self.ensure_active(id, node)?;
        let (r, a) = (&self.pseudo.region, &self.pseudo.account);
        let name = || self.physical_name(id);
        let value = match (kind.as_str(), attr) {
            (SERVERLESS_FUNCTION | LAMBDA_FUNCTION, "Arn") => Some(self.function_arn(&name()?)),
            (SERVERLESS_LAYER | LAMBDA_LAYER, "Arn" | "LayerVersionArn") => {
                Some(self.layer_arn(&name()?))
            }
            (IAM_ROLE, "Arn") => Some(format!("arn:aws:iam::{a}:role/{}", name()?)),
            (IAM_ROLE, "RoleId") => Some(format!("AROA{}", local_id(id).to_uppercase())),
            (SERVERLESS_API | REST_API, "RootResourceId") => Some(local_id(&format!("{id}/"))),
            (SERVERLESS_API | REST_API, "RestApiId") => Some(id.to_owned()),
            (SERVERLESS_HTTP_API | HTTP_API, "ApiEndpoint") => Some(format!(
                "https://{id}.execute-api.{r}.{}",
                Pseudo::URL_SUFFIX
            )),
            (SERVERLESS_HTTP_API | HTTP_API, "ApiId") => Some(id.to_owned()),
            (S3_BUCKET, "Arn") => Some(format!("arn:aws:s3:::{}", name()?)),
            (S3_BUCKET, "DomainName") => Some(format!("{}.s3.amazonaws.com", name()?)),
            (S3_BUCKET, "RegionalDomainName") => Some(format!("{}.s3.{r}.amazonaws.com", name()?)),
            (S3_BUCKET, "WebsiteURL") => {
                Some(format!("http://{}.s3-website-{r}.amazonaws.com", name()?))
            }
            (DISTRIBUTION, "DomainName") => Some(format!("{}.cloudfront.net", local_id(id))),
            (DISTRIBUTION, "Id") => Some(local_id(id).to_uppercase()),
            (SERVERLESS_SIMPLE_TABLE | DYNAMODB_TABLE, "Arn") => {
                Some(format!("arn:aws:dynamodb:{r}:{a}:table/{}", name()?))
            }
            (LOG_GROUP, "Arn") => Some(format!("arn:aws:logs:{r}:{a}:log-group:{}:*", name()?)),
            (LAMBDA_VERSION, "Version") => Some(self.version_of(id).to_string()),
            // The schema's FunctionArn of a version is the version's ARN.
            (LAMBDA_VERSION, "FunctionArn") => Some(self.lambda_version_arn(id, node)?),
            // SAM's generated version: `!GetAtt Fn.Version.Version` / `.FunctionArn`.
            (SERVERLESS_FUNCTION, "Version.Version" | "Version.FunctionArn") => {
                if self.auto_publish_alias(id).is_none() {
                    return fail(
                        node,
                        format!("Fn::GetAtt {id}.{attr} needs AutoPublishAlias on {id}"),
                    );
                }
                let n = self.version_of(id);
                Some(if attr == "Version.Version" {
                    n.to_string()
                } else {
                    format!("{}:{n}", self.function_arn(&name()?))
                })
            }
            (other, "Arn") => {
                let service = other.split("::").nth(1).unwrap_or("unknown").to_lowercase();
                Some(format!("arn:aws:{service}:{r}:{a}:{}", name()?))
            }
            _ => None,
        };
        Ok(J::String(match value {
            Some(v) => v,
            None => {
                self.warn(
                    node,
                    format!("Fn::GetAtt {id}.{attr}: ledge has no local value for attribute {attr} of {kind}, using a placeholder"),
                );
                format!("ledge:unresolved:{id}.{attr}")
            }
        }))
    }

    /// The name AWS would give the resource: its name property, else the logical id.
    pub(crate) fn physical_name(&self, id: &str) -> Result<String, EvalError> {
        if let Some(done) = self.names_done.borrow().get(id) {
            return Ok(done.clone());
        }
        let Some(info) = self.resources.get(id) else {
            return Ok(id.to_owned());
        };
        let prop = match info.kind.as_str() {
            SERVERLESS_FUNCTION | LAMBDA_FUNCTION => "FunctionName",
            SERVERLESS_LAYER | LAMBDA_LAYER => "LayerName",
            IAM_ROLE => "RoleName",
            S3_BUCKET => "BucketName",
            SERVERLESS_SIMPLE_TABLE | DYNAMODB_TABLE => "TableName",
            LOG_GROUP => "LogGroupName",
            _ => return Ok(id.to_owned()),
        };
        let Some(node) = info.props.and_then(|p| p.get(prop)) else {
            return Ok(id.to_owned());
        };
        if self.names_open.borrow().iter().any(|open| open == id) {
            return fail(
                node,
                format!("circular reference: {id}'s {prop} depends on itself"),
            );
        }
        if self.names_open.borrow().len() + self.conditions_open.borrow().len() >= MAX_CHAIN {
            return fail(
                node,
                format!("references chain through more than {MAX_CHAIN} names"),
            );
        }
        self.names_open.borrow_mut().push(id.to_owned());
        let result = self.eval(node);
        self.names_open.borrow_mut().pop();
        let name = match result? {
            Some(v) => match text(&v) {
                Some(s) => s,
                None => return fail(node, format!("{prop} must be a string, got {}", brief(&v))),
            },
            None => id.to_owned(),
        };
        self.names_done
            .borrow_mut()
            .insert(id.to_owned(), name.clone());
        Ok(name)
    }

    /// Whether a resource exists once its `Condition:` is evaluated.
    pub(crate) fn resource_active(&self, id: &str) -> Result<bool, EvalError> {
        let Some(cond) = self.resources.get(id).and_then(|r| r.condition) else {
            return Ok(true);
        };
        let Some(name) = cond.as_str() else {
            return fail(cond, "a resource's Condition must name a condition");
        };
        self.condition(name, cond)
    }

    /// A named condition from `Conditions`.
    pub(crate) fn condition(&self, name: &str, at: &Node) -> Result<bool, EvalError> {
        if let Some(done) = self.conditions_done.borrow().get(name) {
            return Ok(*done);
        }
        let Some(node) = self.conditions.and_then(|c| c.get(name)) else {
            return fail(at, format!("condition {name} is not defined in Conditions"));
        };
        if self
            .conditions_open
            .borrow()
            .iter()
            .any(|open| open == name)
        {
            return fail(node, format!("condition {name} depends on itself"));
        }
        if self.names_open.borrow().len() + self.conditions_open.borrow().len() >= MAX_CHAIN {
            return fail(
                node,
                format!("conditions chain through more than {MAX_CHAIN} names"),
            );
        }
        self.conditions_open.borrow_mut().push(name.to_owned());
        let result = self.condition_arg(node);
        self.conditions_open.borrow_mut().pop();
        let value = result?;
        self.conditions_done
            .borrow_mut()
            .insert(name.to_owned(), value);
        Ok(value)
    }

    /// A condition expression: `{Condition: Name}` or a condition function.
    fn condition_arg(&self, node: &Node) -> Result<bool, EvalError> {
        if let Some([(k, v)]) = node.entries() {
            if k.text == "Condition" {
                let Some(name) = v.as_str() else {
                    return fail(v, "Condition takes a condition name");
                };
                return self.condition(name, v);
            }
        }
        match self.eval(node)? {
            Some(J::Bool(b)) => Ok(b),
            Some(J::String(s)) if s == "true" => Ok(true),
            Some(J::String(s)) if s == "false" => Ok(false),
            _ => fail(
                node,
                "a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or a Condition reference",
            ),
        }
    }
}

/// The resources SAM's transform would add that templates commonly reference.
fn implicit_resources(
    resources: &BTreeMap<String, ResourceInfo<'_>>,
) -> BTreeMap<String, &'static str> {
    let mut implicit = BTreeMap::new();
    for (id, info) in resources {
        if info.kind != SERVERLESS_FUNCTION {
            continue;
        }
        let props = info.props;
        if props.and_then(|p| p.get("Role")).is_none() {
            implicit.insert(format!("{id}Role"), IAM_ROLE);
        }
        let events = props.and_then(|p| p.get("Events")).and_then(Node::entries);
        for (_, event) in events.unwrap_or_default() {
            let event_props = event.get("Properties");
            match event.get("Type").and_then(Node::as_str) {
                Some("Api") if event_props.and_then(|p| p.get("RestApiId")).is_none() => {
                    implicit.insert("ServerlessRestApi".to_owned(), REST_API);
                }
                Some("HttpApi") if event_props.and_then(|p| p.get("ApiId")).is_none() => {
                    implicit.insert("ServerlessHttpApi".to_owned(), HTTP_API);
                }
                _ => {}
            }
        }
    }
    implicit.retain(|id, _| !resources.contains_key(id));
    implicit
}

/// Text of a scalar JSON value, as CloudFormation stringifies it.
pub(crate) fn text(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        J::Null | J::Array(_) | J::Object(_) => None,
    }
}

/// A short description of a JSON value for error messages.
pub(crate) fn brief(v: &J) -> String {
    match v {
        J::Null => "null".to_owned(),
        J::Array(_) => "a list".to_owned(),
        J::Object(_) => "a mapping".to_owned(),
        J::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// 64-bit FNV-1a: stable across runs and platforms, for deterministic local ids.
pub(crate) fn fnv64(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A 10-character lowercase id derived from `seed`, shaped like API Gateway ids.
pub(crate) fn local_id(seed: &str) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut h = fnv64(seed);
    (0..10)
        .map(|_| {
            let c = DIGITS[(h % 36) as usize] as char;
            h /= 36;
            c
        })
        .collect()
}
