//! What an HTTP API is, as data: the result of reading a template (or, later, the
//! ApiGatewayV2 control plane). A deployment compiles one of these.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// One HTTP API with its stages, routes, integrations and authorizers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpApiSpec {
    /// The template's logical id (`ServerlessHttpApi` for SAM's implicit API).
    pub logical_id: String,
    /// `requestContext.apiId`: the logical id, as `!Ref` / `!GetAtt .ApiId` resolve it.
    pub api_id: String,
    pub name: String,
    /// Stages in the order defined; none means every request gets 404 (reference §4.1).
    pub stages: Vec<StageSpec>,
    pub routes: Vec<RouteSpec>,
    pub cors: Option<CorsConfig>,
    /// By name (SAM) or logical id (`AWS::ApiGatewayV2::Authorizer`).
    pub authorizers: BTreeMap<String, AuthorizerSpec>,
}

/// A stage: `$default` at the root, any other name under `/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageSpec {
    pub name: String,
    pub variables: BTreeMap<String, String>,
    pub default_route_settings: RouteSettings,
    /// By route key.
    pub route_settings: BTreeMap<String, RouteSettings>,
    pub access_log: Option<AccessLogSettings>,
    pub auto_deploy: bool,
}

impl StageSpec {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            variables: BTreeMap::new(),
            default_route_settings: RouteSettings::default(),
            route_settings: BTreeMap::new(),
            access_log: None,
            auto_deploy: true,
        }
    }
}

/// Throttling of a stage or route. Unset means unlimited locally (AWS's account limit of
/// 10,000 rps / 5,000 burst applies only when configured).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RouteSettings {
    pub throttling_burst_limit: Option<u32>,
    pub throttling_rate_limit: Option<f64>,
}

/// `AccessLogSettings`: the `$context` format; the destination is ledge's log dir.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessLogSettings {
    pub destination_arn: Option<String>,
    pub format: Option<String>,
}

/// One route: its key, where it goes, who may call it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteSpec {
    /// `GET /pets/{id}`, `ANY /{proxy+}` or `$default`.
    pub key: String,
    pub integration: IntegrationSpec,
    pub auth: RouteAuth,
}

/// The authorization of a route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum RouteAuth {
    None,
    /// A JWT or Lambda authorizer of the API, with the route's scopes (JWT only).
    Authorizer {
        name: String,
        scopes: Vec<String>,
    },
}

/// Lambda proxy payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PayloadFormat {
    V1,
    V2,
}

impl PayloadFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "1.0" => Some(Self::V1),
            "2.0" => Some(Self::V2),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "1.0",
            Self::V2 => "2.0",
        }
    }
}

/// Where a route sends its requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum IntegrationSpec {
    /// `AWS_PROXY` to a Lambda function. `function` is a name, a function ARN or an
    /// `arn:aws:apigateway:…:lambda:path/…/functions/ARN/invocations` URI, and may hold
    /// `${stageVariables.x}`.
    Lambda {
        function: String,
        payload_format: PayloadFormat,
        timeout: Duration,
    },
    /// `HTTP_PROXY` to any URL (`{proxy}` and `${stageVariables.x}` substituted).
    Http {
        uri: String,
        /// `IntegrationMethod`; `ANY` (or none) forwards the request's method.
        method: Option<String>,
        timeout: Duration,
        /// `append|overwrite|remove:header.X` etc., in order.
        request_parameters: Vec<(String, String)>,
        /// By integration status code.
        response_parameters: BTreeMap<String, Vec<(String, String)>>,
    },
}

/// `corsConfiguration`. Names as AWS's API lists them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CorsConfig {
    pub allow_origins: Vec<String>,
    pub allow_credentials: bool,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u32>,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
}

/// An authorizer of the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AuthorizerSpec {
    Jwt {
        /// `$request.header.Authorization` by default.
        identity_source: Vec<String>,
        issuer: String,
        audience: Vec<String>,
    },
    Lambda {
        /// Same grammar as [`IntegrationSpec::Lambda::function`].
        function: String,
        payload_format: PayloadFormat,
        simple_responses: bool,
        /// 0 = no cache.
        result_ttl: Duration,
        identity_source: Vec<String>,
    },
}
