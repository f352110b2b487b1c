//! Function operations: create, read, list, update code and configuration, delete,
//! versions and aliases.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use ledge_model::{
    Architecture, FunctionName, FunctionSpec, LayerRef, MemoryMb, Runtime as Rt, TimeoutSecs,
};
use ledge_runtime::{DeployOptions, VersionInfo};
use ledge_store::{Artifact, ExtractLimits};
use serde_json::{json, Map, Value};

use crate::errors::ApiError;
use crate::input::{constraint, in_range, Body};
use crate::protocol::{
    MAX_CREATE_REQUEST, MAX_PAGE, MAX_ZIPPED, MSG_BAD_ZIP, MSG_RUNTIME_HANDLER, ROLE_PATTERN,
    RUNTIMES,
};
use crate::shapes::{self, ConfigView};
use crate::{base_url, json_response, no_content, respond, LambdaApi};

type Api = State<Arc<LambdaApi>>;
type Params = Query<HashMap<String, String>>;

const CREATE_MEMBERS: &[&str] = &[
    "FunctionName",
    "Runtime",
    "Role",
    "Handler",
    "Code",
    "Description",
    "Timeout",
    "MemorySize",
    "Publish",
    "VpcConfig",
    "PackageType",
    "DeadLetterConfig",
    "Environment",
    "KMSKeyArn",
    "TracingConfig",
    "Tags",
    "Layers",
    "FileSystemConfigs",
    "ImageConfig",
    "CodeSigningConfigArn",
    "Architectures",
    "EphemeralStorage",
    "SnapStart",
    "LoggingConfig",
    "CapacityProviderConfig",
    "PublishTo",
    "DurableConfig",
    "TenancyConfig",
];

const UPDATE_CONFIG_MEMBERS: &[&str] = &[
    "Role",
    "Handler",
    "Description",
    "Timeout",
    "MemorySize",
    "VpcConfig",
    "Environment",
    "Runtime",
    "DeadLetterConfig",
    "KMSKeyArn",
    "TracingConfig",
    "RevisionId",
    "Layers",
    "FileSystemConfigs",
    "ImageConfig",
    "EphemeralStorage",
    "SnapStart",
    "LoggingConfig",
    "CapacityProviderConfig",
    "DurableConfig",
];

const UPDATE_CODE_MEMBERS: &[&str] = &[
    "ZipFile",
    "S3Bucket",
    "S3Key",
    "S3ObjectVersion",
    "ImageUri",
    "Publish",
    "DryRun",
    "RevisionId",
    "Architectures",
    "SourceKMSKeyArn",
    "PublishTo",
];

const CODE_MEMBERS: &[&str] = &[
    "ZipFile",
    "S3Bucket",
    "S3Key",
    "S3ObjectVersion",
    "ImageUri",
    "SourceKMSKeyArn",
];

fn qualifier_param(q: &HashMap<String, String>) -> Option<&str> {
    q.get("Qualifier").map(String::as_str)
}

/// `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`
fn valid_role(role: &str) -> bool {
    let Some(rest) = role.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(":iam::") else {
        return false;
    };
    if !(partition.is_empty()
        || (partition.starts_with("aws")
            && partition
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'-')))
    {
        return false;
    }
    let Some((account, rest)) = rest.split_once(":role") else {
        return false;
    };
    let path = rest.strip_prefix('/').unwrap_or(rest);
    account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !path.is_empty()
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-_/".contains(&b))
}

/// `[a-zA-Z]([a-zA-Z0-9_])+`
fn valid_env_key(k: &str) -> bool {
    let mut b = k.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic())
        && k.len() >= 2
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Imports a `ZipFile` (base64 in the JSON body) into the store.
async fn import_code(api: &LambdaApi, code: &Body) -> Result<Artifact, ApiError> {
    if code.has("ImageUri") {
        return Err(ApiError::invalid_parameter(
            "ledge runs .zip functions only: container images (ImageUri) are not supported".into(),
        ));
    }
    if code.has("S3Bucket") || code.has("S3Key") {
        return Err(ApiError::invalid_parameter(
            "ledge cannot fetch code from S3 (S3Bucket/S3Key): upload the .zip itself as ZipFile"
                .into(),
        ));
    }
    let Some(b64) = code.string("ZipFile")? else {
        return Err(ApiError::invalid_parameter(
            "Please provide a source for function code.".into(),
        ));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| {
            ApiError::invalid_content(
                "Could not parse request body into json: ZipFile is not valid base64".into(),
            )
        })?;
    if bytes.len() > MAX_ZIPPED {
        return Err(ApiError::too_large(format!(
            "Zipped size must be smaller than {MAX_ZIPPED} bytes"
        )));
    }
    let store = api.runtime.store().clone();
    let imported = tokio::task::spawn_blocking(move || {
        store.import_zip_bytes(&bytes, &ExtractLimits::default())
    })
    .await
    .map_err(|e| ApiError::service(e.to_string()))?;
    imported.map_err(|e| {
        if e.is_too_large() {
            ApiError::invalid_parameter(format!(
                "Unzipped size must be smaller than {} bytes",
                ledge_store::AWS_MAX_UNZIPPED_BYTES
            ))
        } else if e.is_client_error() {
            ApiError::invalid_parameter(MSG_BAD_ZIP.into())
        } else {
            ApiError::service(e.to_string())
        }
    })
}

/// A layer's `Content`: the same rules as function code.
pub(crate) async fn import_layer_zip(
    api: &LambdaApi,
    content: &Body,
) -> Result<Artifact, ApiError> {
    import_code(api, content).await
}

fn architecture(b: &Body) -> Result<Option<Architecture>, ApiError> {
    let Some(list) = b.strings("Architectures")? else {
        return Ok(None);
    };
    if list.len() != 1 {
        return Err(constraint(
            format!("[{}]", list.join(", ")),
            "architectures",
            "Member must have length less than or equal to 1",
        ));
    }
    list[0].parse::<Architecture>().map(Some).map_err(|_| {
        constraint(
            format!("[{}]", list[0]),
            "architectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]",
        )
    })
}

/// Applies the configuration members of CreateFunction / UpdateFunctionConfiguration.
fn apply_config(
    b: &Body,
    spec: &mut FunctionSpec,
    extra: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    if let Some(role) = b.string("Role")? {
        if !valid_role(&role) {
            return Err(constraint(
                &role,
                "role",
                &format!("Member must satisfy regular expression pattern: {ROLE_PATTERN}"),
            ));
        }
        extra.insert("Role".into(), json!(role));
    }
    if let Some(h) = b.string("Handler")? {
        if h.is_empty() || h.len() > 128 || h.chars().any(char::is_whitespace) {
            return Err(constraint(
                &h,
                "handler",
                "Member must satisfy regular expression pattern: [^\\s]+",
            ));
        }
        spec.handler = h;
    }
    if let Some(r) = b.string("Runtime")? {
        if !RUNTIMES.contains(&r.as_str()) {
            return Err(ApiError::invalid_parameter(format!(
                "Value {r} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
                RUNTIMES.join(", ")
            )));
        }
        spec.runtime = r.parse::<Rt>().map_err(|_| {
            ApiError::invalid_parameter(format!(
                "ledge cannot run {r} functions yet (it runs python3.x, provided, provided.al2 and provided.al2023)"
            ))
        })?;
    }
    if let Some(d) = b.string("Description")? {
        if d.chars().count() > 256 {
            return Err(constraint(
                "…",
                "description",
                "Member must have length less than or equal to 256",
            ));
        }
        spec.description = d;
    }
    if let Some(t) = b.int("Timeout")? {
        in_range(t, "timeout", 1, i64::from(TimeoutSecs::MAX))?;
        spec.timeout =
            TimeoutSecs::new(t as u32).map_err(|e| ApiError::invalid_parameter(e.to_string()))?;
    }
    if let Some(m) = b.int("MemorySize")? {
        in_range(
            m,
            "memorySize",
            i64::from(MemoryMb::MIN),
            i64::from(MemoryMb::MAX),
        )?;
        spec.memory =
            MemoryMb::new(m as u32).map_err(|e| ApiError::invalid_parameter(e.to_string()))?;
    }
    if let Some(env) = b.structure("Environment", &["Variables"])? {
        let vars = env.string_map("Variables")?.unwrap_or_default();
        if vars.keys().any(|k| !valid_env_key(k)) {
            return Err(ApiError::invalid_parameter("1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]".into()));
        }
        spec.environment = vars;
    }
    if let Some(es) = b.structure("EphemeralStorage", &["Size"])? {
        let size = es.int("Size")?.ok_or_else(|| {
            ApiError::invalid_parameter("EphemeralStorage.Size is required".into())
        })?;
        in_range(size, "ephemeralStorage.size", 512, 10240)?;
        spec.ephemeral_storage_mb = size as u32;
    }
    if let Some(arch) = architecture(b)? {
        spec.architecture = arch;
    }
    if let Some(layers) = b.strings("Layers")? {
        spec.layers = layers.into_iter().map(LayerRef::Arn).collect();
    }
    if let Some(t) = b.structure("TracingConfig", &["Mode"])? {
        let mode = t.string("Mode")?.unwrap_or_else(|| "PassThrough".into());
        if mode != "Active" && mode != "PassThrough" {
            return Err(constraint(
                &mode,
                "tracingConfig.mode",
                "Member must satisfy enum value set: [Active, PassThrough]",
            ));
        }
        extra.insert("TracingConfig".into(), json!({ "Mode": mode }));
    }
    if let Some(d) = b.structure("DeadLetterConfig", &["TargetArn"])? {
        match d.string("TargetArn")? {
            Some(arn) if !arn.is_empty() => {
                extra.insert("DeadLetterConfig".into(), json!({ "TargetArn": arn }));
            }
            _ => {
                extra.remove("DeadLetterConfig");
            }
        }
    }
    if let Some(k) = b.string("KMSKeyArn")? {
        extra.insert("KMSKeyArn".into(), json!(k));
    }
    if let Some(l) = b.structure(
        "LoggingConfig",
        &[
            "LogFormat",
            "ApplicationLogLevel",
            "SystemLogLevel",
            "LogGroup",
        ],
    )? {
        let mut v = Map::new();
        v.insert(
            "LogFormat".into(),
            json!(l.string("LogFormat")?.unwrap_or_else(|| "Text".into())),
        );
        for k in ["ApplicationLogLevel", "SystemLogLevel"] {
            if let Some(x) = l.string(k)? {
                v.insert(k.into(), json!(x));
            }
        }
        v.insert(
            "LogGroup".into(),
            json!(l
                .string("LogGroup")?
                .unwrap_or_else(|| format!("/aws/lambda/{}", spec.name))),
        );
        extra.insert("LoggingConfig".into(), Value::Object(v));
    }
    Ok(())
}

fn configuration(
    api: &LambdaApi,
    info: &VersionInfo,
    qualifier: Option<&str>,
    view: ConfigView,
) -> Value {
    shapes::function_configuration(info, qualifier, view, &api.account_id)
}

/// `POST /2015-03-31/functions`
pub(crate) async fn create(State(api): Api, body: Bytes) -> Response {
    respond(create_inner(&api, &body).await)
}

async fn create_inner(api: &LambdaApi, body: &[u8]) -> Result<Response, ApiError> {
    if body.len() > MAX_CREATE_REQUEST {
        return Err(ApiError::too_large(format!(
            "Request must be smaller than {MAX_CREATE_REQUEST} bytes for the CreateFunction operation"
        )));
    }
    let b = Body::parse(body, CREATE_MEMBERS)?;
    let raw_name = b
        .string("FunctionName")?
        .ok_or_else(|| ApiError::invalid_parameter("FunctionName is required".into()))?;
    let (name, qualifier) = api.function_ref(&raw_name, None)?;
    if qualifier.is_some() {
        return Err(ApiError::invalid_parameter(
            "Function name must not be qualified on CreateFunction".into(),
        ));
    }
    if b.string("Role")?.is_none() {
        return Err(ApiError::invalid_parameter("Role is required".into()));
    }
    if b.string("PackageType")?.as_deref() == Some("Image") {
        return Err(ApiError::invalid_parameter(
            "ledge runs .zip functions only: PackageType Image is not supported".into(),
        ));
    }
    let code = b
        .structure("Code", CODE_MEMBERS)?
        .ok_or_else(|| ApiError::invalid_parameter("Code is required".into()))?;
    let (Some(runtime), Some(_)) = (b.string("Runtime")?, b.string("Handler")?) else {
        return Err(ApiError::invalid_parameter(MSG_RUNTIME_HANDLER.into()));
    };
    if !RUNTIMES.contains(&runtime.as_str()) {
        // Checked before the upload is imported, so a bad request leaves nothing behind.
        return Err(ApiError::invalid_parameter(format!(
            "Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [{}] or be a valid ARN",
            RUNTIMES.join(", ")
        )));
    }
    let mut spec = FunctionSpec::with_defaults(
        name.clone(),
        Default::default(),
        "",
        "python3.12"
            .parse::<Rt>()
            .map_err(|e| ApiError::service(e.to_string()))?,
    );
    let mut extra = Map::new();
    apply_config(&b, &mut spec, &mut extra)?;
    if let Some(tags) = b.string_map("Tags")? {
        extra.insert("Tags".into(), json!(tags));
    }
    let artifact = import_code(api, &code).await?;
    spec.code_dir = artifact.zip_path.clone();
    let opts = DeployOptions {
        extra: Some(Value::Object(extra)),
        create_only: true,
        ..DeployOptions::api()
    };
    api.runtime.deploy_with(spec, opts).await?;
    let info = if b.boolean("Publish")? == Some(true) {
        let v = api.runtime.publish_version(&name, None, None, None).await?;
        return Ok(json_response(
            StatusCode::CREATED,
            &configuration(api, &v, Some(&v.version), ConfigView::Creating),
        ));
    } else {
        api.runtime.version_info(&name, None)?
    };
    Ok(json_response(
        StatusCode::CREATED,
        &configuration(api, &info, None, ConfigView::Creating),
    ))
}

fn version_arn_qualifier(qualifier: Option<&str>) -> Option<&str> {
    qualifier.filter(|q| *q != "$LATEST")
}

/// `GET /2015-03-31/functions/{FunctionName}`
pub(crate) async fn get(
    State(api): Api,
    Path(f): Path<String>,
    Query(q): Params,
    headers: HeaderMap,
) -> Response {
    respond((|| {
        let (name, qualifier) = api.function_ref(&f, qualifier_param(&q))?;
        let info = api.runtime.version_info(&name, qualifier.as_deref())?;
        let mut out = Map::new();
        out.insert(
            "Configuration".into(),
            configuration(
                &api,
                &info,
                version_arn_qualifier(qualifier.as_deref()),
                ConfigView::Settled,
            ),
        );
        out.insert(
            "Code".into(),
            json!({
                "RepositoryType": "S3",
                "Location": shapes::code_location(&base_url(&headers), &info.code_sha256_hex),
            }),
        );
        if let Some(tags) = info.extra.get("Tags") {
            out.insert("Tags".into(), tags.clone());
        }
        let fi = api.runtime.function_info(&name);
        if let Some(n) = fi.and_then(|i| i.reserved_concurrency) {
            out.insert(
                "Concurrency".into(),
                json!({ "ReservedConcurrentExecutions": n }),
            );
        }
        Ok(json_response(StatusCode::OK, &Value::Object(out)))
    })())
}

/// `GET /2015-03-31/functions/{FunctionName}/configuration`
pub(crate) async fn get_configuration(
    State(api): Api,
    Path(f): Path<String>,
    Query(q): Params,
) -> Response {
    respond((|| {
        let (name, qualifier) = api.function_ref(&f, qualifier_param(&q))?;
        let info = api.runtime.version_info(&name, qualifier.as_deref())?;
        Ok(json_response(
            StatusCode::OK,
            &configuration(
                &api,
                &info,
                version_arn_qualifier(qualifier.as_deref()),
                ConfigView::Settled,
            ),
        ))
    })())
}

fn max_items(q: &HashMap<String, String>) -> Result<usize, ApiError> {
    match q.get("MaxItems") {
        None => Ok(MAX_PAGE),
        Some(s) => {
            let n: i64 = s.parse().map_err(|_| {
                ApiError::invalid_parameter(format!("Value '{s}' for MaxItems is not a number"))
            })?;
            in_range(n, "maxItems", 1, 10_000)?;
            Ok((n as usize).min(MAX_PAGE))
        }
    }
}

fn listing(key: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut m = Map::new();
    if let Some(n) = next {
        m.insert("NextMarker".into(), json!(n));
    }
    m.insert(key.into(), Value::Array(items));
    Value::Object(m)
}

/// `GET /2015-03-31/functions`
pub(crate) async fn list(State(api): Api, Query(q): Params) -> Response {
    respond((|| {
        let max = max_items(&q)?;
        let all = match q.get("FunctionVersion").map(String::as_str) {
            None => false,
            Some("ALL") => true,
            Some(other) => {
                return Err(constraint(
                    other,
                    "functionVersion",
                    "Member must satisfy enum value set: [ALL]",
                ))
            }
        };
        let mut items = Vec::new();
        for f in api.runtime.function_infos() {
            let n = f.latest.spec.name.to_string();
            if all {
                items.push((
                    format!("{n}\0$LATEST"),
                    configuration(&api, &f.latest, Some("$LATEST"), ConfigView::Listed),
                ));
                for v in &f.versions {
                    items.push((
                        format!("{n}\0{:0>10}", v.version),
                        configuration(&api, v, Some(&v.version), ConfigView::Listed),
                    ));
                }
            } else {
                items.push((n, configuration(&api, &f.latest, None, ConfigView::Listed)));
            }
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (page, next) = shapes::page(items, q.get("Marker").map(String::as_str), max);
        Ok(json_response(
            StatusCode::OK,
            &listing("Functions", page, next),
        ))
    })())
}

/// `PUT /2015-03-31/functions/{FunctionName}/code`
pub(crate) async fn update_code(State(api): Api, Path(f): Path<String>, body: Bytes) -> Response {
    respond(update_code_inner(&api, &f, &body).await)
}

async fn update_code_inner(api: &LambdaApi, f: &str, body: &[u8]) -> Result<Response, ApiError> {
    if body.len() > MAX_CREATE_REQUEST {
        return Err(ApiError::too_large(format!(
            "Request must be smaller than {MAX_CREATE_REQUEST} bytes for the UpdateFunctionCode operation"
        )));
    }
    let b = Body::parse(body, UPDATE_CODE_MEMBERS)?;
    let (name, _) = api.function_ref(f, None)?;
    let current = api.runtime.version_info(&name, None)?;
    let arch = architecture(&b)?;
    let artifact = import_code(api, &b).await?;
    let mut spec = current.spec.clone();
    spec.code_dir = artifact.zip_path.clone();
    if let Some(a) = arch {
        spec.architecture = a;
    }
    let dry_run = b.boolean("DryRun")? == Some(true);
    let opts = DeployOptions {
        if_revision: b.string("RevisionId")?,
        must_exist: true,
        dry_run,
        ..DeployOptions::api()
    };
    api.runtime.deploy_with(spec, opts).await?;
    finish_update(api, &name, b.boolean("Publish")? == Some(true) && !dry_run).await
}

async fn finish_update(
    api: &LambdaApi,
    name: &FunctionName,
    publish: bool,
) -> Result<Response, ApiError> {
    let info = if publish {
        api.runtime.publish_version(name, None, None, None).await?
    } else {
        api.runtime.version_info(name, None)?
    };
    let q = version_arn_qualifier(Some(&info.version)).map(str::to_owned);
    Ok(json_response(
        StatusCode::OK,
        &configuration(api, &info, q.as_deref(), ConfigView::Updating),
    ))
}

/// `PUT /2015-03-31/functions/{FunctionName}/configuration`
pub(crate) async fn update_configuration(
    State(api): Api,
    Path(f): Path<String>,
    body: Bytes,
) -> Response {
    respond(update_configuration_inner(&api, &f, &body).await)
}

async fn update_configuration_inner(
    api: &LambdaApi,
    f: &str,
    body: &[u8],
) -> Result<Response, ApiError> {
    let b = Body::parse(body, UPDATE_CONFIG_MEMBERS)?;
    let (name, _) = api.function_ref(f, None)?;
    let current = api.runtime.version_info(&name, None)?;
    let mut spec = current.spec.clone();
    let mut extra = current.extra.as_object().cloned().unwrap_or_default();
    apply_config(&b, &mut spec, &mut extra)?;
    let opts = DeployOptions {
        extra: Some(Value::Object(extra)),
        if_revision: b.string("RevisionId")?,
        must_exist: true,
        ..DeployOptions::api()
    };
    api.runtime.deploy_with(spec, opts).await?;
    finish_update(api, &name, false).await
}

/// `DELETE /2015-03-31/functions/{FunctionName}`
pub(crate) async fn delete(State(api): Api, Path(f): Path<String>, Query(q): Params) -> Response {
    respond(
        async {
            let (name, qualifier) = api.function_ref(&f, qualifier_param(&q))?;
            api.runtime
                .delete_function(&name, qualifier.as_deref())
                .await?;
            if let Some(q) = qualifier {
                let store = api.runtime.store().clone();
                let n = name.to_string();
                let _ =
                    tokio::task::spawn_blocking(move || store.delete_event_invoke_config(&n, &q))
                        .await;
            }
            Ok(no_content())
        }
        .await,
    )
}

/// `POST /2015-03-31/functions/{FunctionName}/versions`
pub(crate) async fn publish_version(
    State(api): Api,
    Path(f): Path<String>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let b = Body::parse(
                &body,
                &["CodeSha256", "Description", "RevisionId", "PublishTo"],
            )?;
            let (name, _) = api.function_ref(&f, None)?;
            let info = api
                .runtime
                .publish_version(
                    &name,
                    b.string("Description")?,
                    b.string("CodeSha256")?,
                    b.string("RevisionId")?,
                )
                .await?;
            Ok(json_response(
                StatusCode::CREATED,
                &configuration(&api, &info, Some(&info.version), ConfigView::Settled),
            ))
        }
        .await,
    )
}

/// `GET /2015-03-31/functions/{FunctionName}/versions`
pub(crate) async fn list_versions(
    State(api): Api,
    Path(f): Path<String>,
    Query(q): Params,
) -> Response {
    respond((|| {
        let max = max_items(&q)?;
        let (name, _) = api.function_ref(&f, None)?;
        let fi = api
            .runtime
            .function_info(&name)
            .ok_or_else(|| api.not_found(&name, "$LATEST"))?;
        let mut items = vec![(
            format!("{:0>10}", 0),
            configuration(&api, &fi.latest, Some("$LATEST"), ConfigView::Listed),
        )];
        for v in &fi.versions {
            items.push((
                format!("{:0>10}", v.version),
                configuration(&api, v, Some(&v.version), ConfigView::Listed),
            ));
        }
        let (page, next) = shapes::page(items, q.get("Marker").map(String::as_str), max);
        Ok(json_response(
            StatusCode::OK,
            &listing("Versions", page, next),
        ))
    })())
}

// ------------------------------------------------------------------ aliases

fn function_arn(api: &LambdaApi, name: &FunctionName) -> String {
    api.runtime.function_arn(name)
}

fn weights(b: &Body) -> Result<Option<BTreeMap<String, f64>>, ApiError> {
    match b.structure("RoutingConfig", &["AdditionalVersionWeights"])? {
        None => Ok(None),
        Some(r) => Ok(Some(
            r.number_map("AdditionalVersionWeights")?
                .unwrap_or_default(),
        )),
    }
}

/// `POST /2015-03-31/functions/{FunctionName}/aliases`
pub(crate) async fn create_alias(State(api): Api, Path(f): Path<String>, body: Bytes) -> Response {
    respond(
        async {
            let b = Body::parse(
                &body,
                &["Name", "FunctionVersion", "Description", "RoutingConfig"],
            )?;
            let (name, _) = api.function_ref(&f, None)?;
            let alias = b
                .string("Name")?
                .ok_or_else(|| ApiError::invalid_parameter("Name is required".into()))?;
            let version = b
                .string("FunctionVersion")?
                .ok_or_else(|| ApiError::invalid_parameter("FunctionVersion is required".into()))?;
            let a = api
                .runtime
                .create_alias(
                    &name,
                    &alias,
                    &version,
                    &b.string("Description")?.unwrap_or_default(),
                    weights(&b)?.unwrap_or_default(),
                )
                .await?;
            Ok(json_response(
                StatusCode::CREATED,
                &shapes::alias(&function_arn(&api, &name), &a),
            ))
        }
        .await,
    )
}

/// `GET /2015-03-31/functions/{FunctionName}/aliases`
pub(crate) async fn list_aliases(
    State(api): Api,
    Path(f): Path<String>,
    Query(q): Params,
) -> Response {
    respond((|| {
        let max = max_items(&q)?;
        let (name, _) = api.function_ref(&f, None)?;
        let fi = api
            .runtime
            .function_info(&name)
            .ok_or_else(|| api.not_found(&name, "$LATEST"))?;
        let arn = function_arn(&api, &name);
        let items: Vec<(String, Value)> = fi
            .aliases
            .iter()
            .filter(|a| {
                q.get("FunctionVersion")
                    .is_none_or(|v| *v == a.function_version)
            })
            .map(|a| (a.name.clone(), shapes::alias(&arn, a)))
            .collect();
        let (page, next) = shapes::page(items, q.get("Marker").map(String::as_str), max);
        Ok(json_response(
            StatusCode::OK,
            &listing("Aliases", page, next),
        ))
    })())
}

/// `GET /2015-03-31/functions/{FunctionName}/aliases/{Name}`
pub(crate) async fn get_alias(
    State(api): Api,
    Path((f, alias)): Path<(String, String)>,
) -> Response {
    respond((|| {
        let (name, _) = api.function_ref(&f, None)?;
        let a = api.runtime.alias(&name, &alias)?;
        Ok(json_response(
            StatusCode::OK,
            &shapes::alias(&function_arn(&api, &name), &a),
        ))
    })())
}

/// `PUT /2015-03-31/functions/{FunctionName}/aliases/{Name}`
pub(crate) async fn update_alias(
    State(api): Api,
    Path((f, alias)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    respond(
        async {
            let b = Body::parse(
                &body,
                &[
                    "FunctionVersion",
                    "Description",
                    "RoutingConfig",
                    "RevisionId",
                ],
            )?;
            let (name, _) = api.function_ref(&f, None)?;
            let a = api
                .runtime
                .update_alias(
                    &name,
                    &alias,
                    b.string("FunctionVersion")?,
                    b.string("Description")?,
                    weights(&b)?,
                    b.string("RevisionId")?,
                )
                .await?;
            Ok(json_response(
                StatusCode::OK,
                &shapes::alias(&function_arn(&api, &name), &a),
            ))
        }
        .await,
    )
}

/// `DELETE /2015-03-31/functions/{FunctionName}/aliases/{Name}`
pub(crate) async fn delete_alias(
    State(api): Api,
    Path((f, alias)): Path<(String, String)>,
) -> Response {
    respond(
        async {
            let (name, _) = api.function_ref(&f, None)?;
            api.runtime.delete_alias(&name, &alias).await?;
            let store = api.runtime.store().clone();
            let n = name.to_string();
            let _ =
                tokio::task::spawn_blocking(move || store.delete_event_invoke_config(&n, &alias))
                    .await;
            Ok(no_content())
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::{valid_env_key, valid_role};

    #[test]
    fn roles_and_environment_keys() {
        assert!(valid_role("arn:aws:iam::123456789012:role/lambda-role"));
        assert!(valid_role("arn:aws:iam::123456789012:role/path/to/r"));
        assert!(!valid_role("arn:aws:iam::12345:role/r"));
        assert!(!valid_role("not-a-role"));
        assert!(valid_env_key("A1_b"));
        assert!(!valid_env_key("1A"));
        assert!(!valid_env_key("A"));
        assert!(!valid_env_key("A-B"));
    }
}
