//! Resolved function and layer resources → [`FunctionSpec`] and [`LayerSpec`], with Lambda's
//! defaults and limits.
//!
//! Values arrive as resolved JSON; the merged property nodes are kept alongside only to point
//! errors at the line they came from (the resource's own line, or the `Globals` line).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ledge_model::{
    Architecture, EventSource, FunctionName, FunctionSpec, InvalidValue, LayerRef, LayerSpec,
    MemoryMb, Runtime, TimeoutSecs,
};
use serde_json::{Map, Value as J};

use crate::error::{Location, TemplateError};
use crate::eval::{brief, kinds, text};
use crate::yaml::Node;

/// Every documented `AWS::Serverless::Function` property; others are warned about.
pub(crate) const SERVERLESS_FUNCTION_PROPS: &[&str] = &[
    "Architectures",
    "AssumeRolePolicyDocument",
    "AutoPublishAlias",
    "AutoPublishAliasAllProperties",
    "AutoPublishCodeSha256",
    "CodeSigningConfigArn",
    "CodeUri",
    "DeadLetterQueue",
    "DeploymentPreference",
    "Description",
    "Environment",
    "EphemeralStorage",
    "EventInvokeConfig",
    "Events",
    "FileSystemConfigs",
    "FunctionName",
    "FunctionUrlConfig",
    "Handler",
    "ImageConfig",
    "ImageUri",
    "InlineCode",
    "KmsKeyArn",
    "Layers",
    "LoggingConfig",
    "MemorySize",
    "Metadata",
    "PackageType",
    "PermissionsBoundary",
    "Policies",
    "PropagateTags",
    "ProvisionedConcurrencyConfig",
    "RecursiveLoop",
    "ReservedConcurrentExecutions",
    "Role",
    "RolePath",
    "Runtime",
    "RuntimeManagementConfig",
    "SnapStart",
    "SourceKMSKeyArn",
    "Tags",
    "Timeout",
    "Tracing",
    "VersionDescription",
    "VpcConfig",
];

/// Every documented `AWS::Lambda::Function` property.
const LAMBDA_FUNCTION_PROPS: &[&str] = &[
    "Architectures",
    "Code",
    "CodeSigningConfigArn",
    "DeadLetterConfig",
    "Description",
    "Environment",
    "EphemeralStorage",
    "FileSystemConfigs",
    "FunctionName",
    "Handler",
    "ImageConfig",
    "KmsKeyArn",
    "Layers",
    "LoggingConfig",
    "MemorySize",
    "PackageType",
    "RecursiveLoop",
    "ReservedConcurrentExecutions",
    "Role",
    "Runtime",
    "RuntimeManagementConfig",
    "SnapStart",
    "Tags",
    "Timeout",
    "TracingConfig",
    "VpcConfig",
];

const SERVERLESS_LAYER_PROPS: &[&str] = &[
    "CompatibleArchitectures",
    "CompatibleRuntimes",
    "ContentUri",
    "Description",
    "LayerName",
    "LicenseInfo",
    "PublishLambdaVersion",
    "RetentionPolicy",
];

const LAMBDA_LAYER_PROPS: &[&str] = &[
    "CompatibleArchitectures",
    "CompatibleRuntimes",
    "Content",
    "Description",
    "LayerName",
    "LicenseInfo",
];

/// Lambda's limits that the model's newtypes do not cover.
const EPHEMERAL_MIN_MB: u32 = 512;
const EPHEMERAL_MAX_MB: u32 = 10_240;
use ledge_model::limits::MAX_LAYERS;

use ledge_model::limits::RESERVED_ENV_KEYS as RESERVED_ENV;

/// One resource being built: where it is, its merged property nodes and resolved values.
pub(crate) struct Site<'a> {
    pub(crate) file: &'a str,
    pub(crate) id: &'a str,
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) node: Option<&'a Node>,
    pub(crate) props: &'a J,
    pub(crate) base_dir: &'a Path,
}

impl Site<'_> {
    fn get(&self, key: &str) -> Option<&J> {
        self.props.get(key)
    }

    /// The position of the deepest node along a dotted property path.
    fn position(&self, path: &str) -> (usize, usize) {
        let mut pos = (self.line, self.col);
        let mut node = self.node;
        for part in path.split('.') {
            match node.and_then(|n| n.get(part)) {
                Some(next) => {
                    pos = (next.line, next.col);
                    node = Some(next);
                }
                None => break,
            }
        }
        pos
    }

    fn err(&self, property: &str, message: impl Into<String>) -> TemplateError {
        let (line, col) = self.position(property);
        TemplateError::Property {
            at: Location::new(self.file, line, col),
            resource: self.id.to_owned(),
            property: property.to_owned(),
            message: message.into(),
        }
    }

    fn resource_err(&self, message: impl Into<String>) -> TemplateError {
        TemplateError::Resource {
            at: Location::new(self.file, self.line, self.col),
            resource: self.id.to_owned(),
            message: message.into(),
        }
    }

    fn warning(&self, property: Option<&str>, message: &str) -> String {
        let (line, col) = property.map_or((self.line, self.col), |p| self.position(p));
        self.warning_at(line, col, property, message)
    }

    fn warning_at(&self, line: usize, col: usize, property: Option<&str>, message: &str) -> String {
        let what = match property {
            Some(p) => format!("resource {}, property {p}", self.id),
            None => format!("resource {}", self.id),
        };
        format!("{}: {what}: {message}", Location::new(self.file, line, col))
    }

    fn warn_unknown_props(&self, known: &[&str], warnings: &mut Vec<String>) {
        let keys: Vec<(&str, usize, usize)> = match self.node.and_then(Node::entries) {
            Some(entries) => entries
                .iter()
                .map(|(k, _)| (k.text.as_str(), k.line, k.col))
                .collect(),
            None => self
                .props
                .as_object()
                .map(|o| {
                    o.keys()
                        .map(|k| (k.as_str(), self.line, self.col))
                        .collect()
                })
                .unwrap_or_default(),
        };
        for (key, line, col) in keys {
            if !known.contains(&key) {
                warnings.push(self.warning_at(line, col, Some(key), "unknown property, ignored"));
            }
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, TemplateError> {
        match self.get(key) {
            None | Some(J::Null) => Ok(None),
            Some(v) => match text(v) {
                Some(s) => Ok(Some(s)),
                None => Err(self.err(key, format!("must be a string, got {}", brief(v)))),
            },
        }
    }

    fn string_list(&self, key: &str) -> Result<Vec<String>, TemplateError> {
        match self.get(key) {
            None | Some(J::Null) => Ok(Vec::new()),
            Some(J::Array(items)) => items
                .iter()
                .map(|v| {
                    text(v).ok_or_else(|| {
                        self.err(
                            key,
                            format!("must be a list of strings, found {}", brief(v)),
                        )
                    })
                })
                .collect(),
            Some(v) => Err(self.err(key, format!("must be a list, got {}", brief(v)))),
        }
    }

    /// An integer given as a number or as numeric text (`MemorySize: "256"`), as
    /// CloudFormation accepts both.
    fn integer(&self, path: &str, v: &J) -> Result<i64, TemplateError> {
        let parsed = match v {
            J::Number(n) => n.as_i64(),
            J::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| self.err(path, format!("value {} is not a whole number", brief(v))))
    }

    fn invalid(&self, property: &str, shown: &str, e: &InvalidValue) -> TemplateError {
        self.err(property, format!("value {shown} {}", e.constraint))
    }

    /// A local code path (directory or `.zip`) resolved against the template's folder.
    fn local_path(&self, property: &str, raw: &str, warnings: &mut Vec<String>) -> PathBuf {
        let path = crate::load::absolute(&self.base_dir.join(raw));
        if !path.exists() {
            warnings.push(self.warning(
                Some(property),
                &format!("{} does not exist", path.display()),
            ));
        }
        path
    }
}

/// Build a layer; `None` (with a warning) when its content is not local.
pub(crate) fn layer(
    site: &Site<'_>,
    kind: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<LayerSpec>, TemplateError> {
    let serverless = kind == kinds::SERVERLESS_LAYER;
    let (content_prop, known) = if serverless {
        ("ContentUri", SERVERLESS_LAYER_PROPS)
    } else {
        ("Content", LAMBDA_LAYER_PROPS)
    };
    site.warn_unknown_props(known, warnings);
    let content = match site.get(content_prop) {
        None | Some(J::Null) => {
            return Err(site.resource_err(format!("property {content_prop} is required")))
        }
        Some(J::String(s)) if s.starts_with("s3://") => {
            warnings.push(site.warning(
                Some(content_prop),
                "layer content in S3 cannot be used locally, layer skipped",
            ));
            return Ok(None);
        }
        Some(J::String(s)) => site.local_path(content_prop, s, warnings),
        Some(J::Object(_)) => {
            warnings.push(site.warning(
                Some(content_prop),
                "layer content in S3 cannot be used locally, layer skipped",
            ));
            return Ok(None);
        }
        Some(v) => {
            return Err(site.err(
                content_prop,
                format!("must be a local path, got {}", brief(v)),
            ))
        }
    };
    let name = site
        .string("LayerName")?
        .unwrap_or_else(|| site.id.to_owned());
    let valid_name = !name.is_empty()
        && name.len() <= 140
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_name {
        return Err(site.err(
            "LayerName",
            format!("value {name:?} must be 1 to 140 characters of [a-zA-Z0-9-_]"),
        ));
    }
    let compatible_architectures = site.string_list("CompatibleArchitectures")?;
    for arch in &compatible_architectures {
        arch.parse::<Architecture>()
            .map_err(|e| site.invalid("CompatibleArchitectures", &format!("{arch:?}"), &e))?;
    }
    let retention_policy = site.string("RetentionPolicy")?;
    if let Some(policy) = &retention_policy {
        if !policy.eq_ignore_ascii_case("retain") && !policy.eq_ignore_ascii_case("delete") {
            return Err(site.err(
                "RetentionPolicy",
                format!("value {policy:?} must be Retain or Delete"),
            ));
        }
    }
    Ok(Some(LayerSpec {
        logical_id: site.id.to_owned(),
        name,
        content,
        compatible_runtimes: site.string_list("CompatibleRuntimes")?,
        compatible_architectures,
        description: site.string("Description")?.unwrap_or_default(),
        license_info: site.string("LicenseInfo")?,
        retention_policy,
    }))
}

/// Build a function; `None` (with a warning) when its code is not a local path ledge can run.
pub(crate) fn function(
    site: &Site<'_>,
    kind: &str,
    local_layers: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Result<Option<FunctionSpec>, TemplateError> {
    let serverless = kind == kinds::SERVERLESS_FUNCTION;
    site.warn_unknown_props(
        if serverless {
            SERVERLESS_FUNCTION_PROPS
        } else {
            LAMBDA_FUNCTION_PROPS
        },
        warnings,
    );
    let Some(code_dir) = code_path(site, serverless, warnings)? else {
        return Ok(None);
    };

    let name = match site.string("FunctionName")? {
        Some(n) => n
            .parse::<FunctionName>()
            .map_err(|e| site.invalid("FunctionName", &format!("{n:?}"), &e))?,
        None => site.id.parse::<FunctionName>().map_err(|e| {
            site.resource_err(format!(
                "the logical id is not a valid function name ({}); set FunctionName",
                e.constraint
            ))
        })?,
    };

    let runtime = match site.string("Runtime")? {
        Some(r) => r
            .parse::<Runtime>()
            .map_err(|e| site.invalid("Runtime", &format!("{r:?}"), &e))?,
        None => {
            return Err(site.resource_err(
                "property Runtime is required for a .zip function (e.g. python3.12)",
            ))
        }
    };
    let handler = match site.string("Handler")? {
        Some(h) if !h.is_empty() => h,
        _ if runtime.is_provided() => "bootstrap".to_owned(),
        _ => {
            return Err(site.resource_err(format!(
                "property Handler is required for runtime {runtime}"
            )))
        }
    };

    let mut spec = FunctionSpec::with_defaults(name, code_dir, handler, runtime);
    spec.logical_id = Some(site.id.to_owned());
    spec.description = site.string("Description")?.unwrap_or_default();

    if let Some(v) = site.get("MemorySize").filter(|v| !v.is_null()) {
        let mb = site.integer("MemorySize", v)?;
        spec.memory = MemoryMb::new(clamp_u32(mb))
            .map_err(|e| site.invalid("MemorySize", &mb.to_string(), &e))?;
    }
    if let Some(v) = site.get("Timeout").filter(|v| !v.is_null()) {
        let secs = site.integer("Timeout", v)?;
        spec.timeout = TimeoutSecs::new(clamp_u32(secs))
            .map_err(|e| site.invalid("Timeout", &secs.to_string(), &e))?;
    }
    if let Some(v) = site
        .get("ReservedConcurrentExecutions")
        .filter(|v| !v.is_null())
    {
        let n = site.integer("ReservedConcurrentExecutions", v)?;
        spec.reserved_concurrency = Some(u32::try_from(n).map_err(|_| {
            site.err(
                "ReservedConcurrentExecutions",
                format!("value {n} must be 0 or more"),
            )
        })?);
    }
    if let Some(v) = site.get("EphemeralStorage").filter(|v| !v.is_null()) {
        let Some(size) = v.get("Size").filter(|s| !s.is_null()) else {
            return Err(site.err("EphemeralStorage", "must be a mapping with Size"));
        };
        let mb = site.integer("EphemeralStorage.Size", size)?;
        spec.ephemeral_storage_mb = match u32::try_from(mb) {
            Ok(mb) if (EPHEMERAL_MIN_MB..=EPHEMERAL_MAX_MB).contains(&mb) => mb,
            _ => {
                return Err(site.err(
                    "EphemeralStorage.Size",
                    format!(
                        "value {mb} must be between {EPHEMERAL_MIN_MB} and {EPHEMERAL_MAX_MB} MB"
                    ),
                ))
            }
        };
    }
    if let Some(v) = site.get("Architectures").filter(|v| !v.is_null()) {
        let archs = site.string_list("Architectures")?;
        let [arch] = archs.as_slice() else {
            return Err(site.err(
                "Architectures",
                format!("must list exactly one architecture, got {}", brief(v)),
            ));
        };
        spec.architecture = arch
            .parse::<Architecture>()
            .map_err(|e| site.invalid("Architectures", &format!("{arch:?}"), &e))?;
    }
    spec.environment = environment(site)?;
    spec.layers = layers(site, local_layers)?;
    if serverless {
        spec.events = events(site, warnings);
    }
    Ok(Some(spec))
}

/// Out-of-range integers become a value the newtype refuses, so its message is reported.
fn clamp_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(if n < 0 { 0 } else { u32::MAX })
}

/// The function's code folder or `.zip`; `None` (with a warning) when it is not local.
fn code_path(
    site: &Site<'_>,
    serverless: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<PathBuf>, TemplateError> {
    let skip = |property: Option<&str>, why: &str, warnings: &mut Vec<String>| {
        warnings.push(site.warning(property, &format!("{why}, function skipped")));
        Ok(None)
    };
    let package_type = site.string("PackageType")?;
    if package_type.as_deref() == Some("Image") {
        return skip(
            Some("PackageType"),
            "container image functions are not supported",
            warnings,
        );
    }
    if serverless {
        if site.get("InlineCode").is_some() {
            return skip(Some("InlineCode"), "inline code is not supported", warnings);
        }
        return match site.get("CodeUri") {
            // SAM CLI runs a function without CodeUri from the template's folder.
            None | Some(J::Null) => Ok(Some(crate::load::absolute(site.base_dir))),
            Some(J::String(s)) if s.starts_with("s3://") => skip(
                Some("CodeUri"),
                "code in S3 cannot be run locally",
                warnings,
            ),
            Some(J::String(s)) => Ok(Some(site.local_path("CodeUri", s, warnings))),
            Some(J::Object(_)) => skip(
                Some("CodeUri"),
                "code in S3 cannot be run locally",
                warnings,
            ),
            Some(v) => Err(site.err("CodeUri", format!("must be a path, got {}", brief(v)))),
        };
    }
    match site.get("Code") {
        None | Some(J::Null) => Err(site.resource_err("property Code is required")),
        Some(J::String(s)) if s.starts_with("s3://") => {
            skip(Some("Code"), "code in S3 cannot be run locally", warnings)
        }
        Some(J::String(s)) => Ok(Some(site.local_path("Code", s, warnings))),
        Some(J::Object(code)) if code.contains_key("ZipFile") => skip(
            Some("Code.ZipFile"),
            "inline code (ZipFile) is not supported",
            warnings,
        ),
        Some(J::Object(code)) if code.contains_key("ImageUri") => skip(
            Some("Code.ImageUri"),
            "container image functions are not supported",
            warnings,
        ),
        Some(J::Object(_)) => skip(Some("Code"), "code in S3 cannot be run locally", warnings),
        Some(v) => Err(site.err("Code", format!("must be a path, got {}", brief(v)))),
    }
}

fn environment(site: &Site<'_>) -> Result<BTreeMap<String, String>, TemplateError> {
    const PATH: &str = "Environment.Variables";
    let vars = match site.get("Environment") {
        None | Some(J::Null) => return Ok(BTreeMap::new()),
        Some(J::Object(env)) => match env.get("Variables") {
            None | Some(J::Null) => return Ok(BTreeMap::new()),
            Some(J::Object(vars)) => vars,
            Some(v) => return Err(site.err(PATH, format!("must be a mapping, got {}", brief(v)))),
        },
        Some(v) => {
            return Err(site.err(
                "Environment",
                format!("must be a mapping with Variables, got {}", brief(v)),
            ))
        }
    };
    let mut out = BTreeMap::new();
    for (key, value) in vars {
        let path = format!("{PATH}.{key}");
        let mut chars = key.chars();
        let valid_key = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.clone().next().is_some()
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_key {
            return Err(site.err(
                &path,
                format!("name {key:?} must satisfy [a-zA-Z]([a-zA-Z0-9_])+"),
            ));
        }
        if RESERVED_ENV.contains(&key.as_str()) {
            return Err(site.err(
                &path,
                format!("{key} is reserved by Lambda and cannot be set"),
            ));
        }
        let Some(value) = text(value) else {
            return Err(site.err(
                &path,
                format!("value must be a string, got {}", brief(value)),
            ));
        };
        out.insert(key.clone(), value);
    }
    Ok(out)
}

/// `Layers`: a layer of this template (found by the version ARN its `Ref` yields) becomes
/// [`LayerRef::Logical`], anything else must be a layer version ARN.
fn layers(
    site: &Site<'_>,
    local_layers: &BTreeMap<String, String>,
) -> Result<Vec<LayerRef>, TemplateError> {
    let arns = site.string_list("Layers")?;
    if arns.len() > MAX_LAYERS {
        return Err(site.err(
            "Layers",
            format!(
                "Cannot reference more than {MAX_LAYERS} layers. (got {})",
                arns.len()
            ),
        ));
    }
    arns.into_iter()
        .map(|arn| match local_layers.get(&arn) {
            Some(id) => Ok(LayerRef::Logical(id.clone())),
            None if arn.starts_with("arn:") => Ok(LayerRef::Arn(arn)),
            None => Err(site.err(
                "Layers",
                format!(
                    "value {arn:?} is neither a layer of this template nor a layer version ARN"
                ),
            )),
        })
        .collect()
}

/// `Events`, in the order written; each kept as its type and resolved properties.
fn events(site: &Site<'_>, warnings: &mut Vec<String>) -> Vec<EventSource> {
    let Some(J::Object(events)) = site.get("Events") else {
        return Vec::new();
    };
    let mut order: Vec<&String> = Vec::new();
    if let Some(entries) = site
        .node
        .and_then(|n| n.get("Events"))
        .and_then(Node::entries)
    {
        order.extend(
            entries
                .iter()
                .filter_map(|(k, _)| events.get_key_value(&k.text).map(|(k, _)| k)),
        );
    }
    for k in events.keys() {
        if !order.contains(&k) {
            order.push(k);
        }
    }
    let mut out = Vec::new();
    for name in order {
        let Some(event) = events.get(name) else {
            continue;
        };
        let Some(kind) = event.get("Type").and_then(J::as_str) else {
            warnings.push(site.warning(
                Some(&format!("Events.{name}")),
                "event has no Type, ignored",
            ));
            continue;
        };
        out.push(EventSource {
            name: name.clone(),
            kind: kind.to_owned(),
            properties: event
                .get("Properties")
                .cloned()
                .unwrap_or_else(|| J::Object(Map::new())),
        });
    }
    out
}
