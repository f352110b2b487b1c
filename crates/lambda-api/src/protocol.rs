//! The Lambda API's wire vocabulary in one place: paths, headers, limits and AWS's fixed
//! messages.

pub(crate) const HDR_INVOCATION_TYPE: &str = "x-amz-invocation-type";
pub(crate) const HDR_LOG_TYPE: &str = "x-amz-log-type";
pub(crate) const HDR_CLIENT_CONTEXT: &str = "x-amz-client-context";
pub(crate) const HDR_FUNCTION_ERROR: &str = "x-amz-function-error";
pub(crate) const HDR_LOG_RESULT: &str = "x-amz-log-result";
pub(crate) const HDR_EXECUTED_VERSION: &str = "x-amz-executed-version";

/// Synchronous payloads must be strictly smaller than this.
pub(crate) const MAX_SYNC: usize = 6 * 1024 * 1024;
/// Asynchronous payloads may be at most this.
pub(crate) const MAX_ASYNC: usize = 1024 * 1024;
/// A zip uploaded directly (CreateFunction, UpdateFunctionCode, PublishLayerVersion).
pub(crate) const MAX_ZIPPED: usize = 52_428_800;
/// The whole CreateFunction request (base64 inflates the zip).
pub(crate) const MAX_CREATE_REQUEST: usize = 70_167_211;
/// Largest page of List* operations.
pub(crate) const MAX_PAGE: usize = 50;

pub(crate) const MSG_BAD_ZIP: &str =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";
pub(crate) const MSG_RUNTIME_HANDLER: &str =
    "Runtime and Handler are mandatory parameters for functions created with deployment packages.";
pub(crate) const ROLE_PATTERN: &str =
    r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";
pub(crate) const FUNCTION_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";

/// Runtimes botocore's model lists (the ones Lambda accepts on CreateFunction).
pub(crate) const RUNTIMES: &[&str] = &[
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "nodejs24.x",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "java25",
    "dotnet8",
    "dotnet10",
    "ruby3.2",
    "ruby3.3",
    "ruby3.4",
    "provided",
    "provided.al2",
    "provided.al2023",
];
