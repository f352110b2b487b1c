use std::path::Path;

use super::*;

fn load_in(dir: &Path, yaml: &str) -> Result<RestTemplate, GatewayError> {
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    let t = ledge_template::load_str(yaml, dir, "template.yaml", &Default::default())
        .expect("template loads");
    from_template(&t)
}

fn load(yaml: &str) -> RestTemplate {
    let dir = tempfile::tempdir().expect("tmp");
    load_in(dir.path(), yaml).expect("REST APIs read")
}

fn api<'a>(t: &'a RestTemplate, id: &str) -> &'a RestApiSpec {
    t.apis
        .iter()
        .find(|a| a.logical_id == id)
        .unwrap_or_else(|| panic!("no API {id}"))
}

fn method<'a>(api: &'a RestApiSpec, m: &str, path: &str) -> &'a MethodSpec {
    api.methods
        .iter()
        .find(|x| x.http_method == m && x.resource_path == path)
        .unwrap_or_else(|| panic!("{m} {path} not in {:?}", api.methods))
}

const FUNCTION: &str = "
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src";

#[test]
fn implicit_api_from_events_with_globals_cache_settings() {
    let t = load(&format!(
        "Transform: AWS::Serverless-2016-10-31
Globals:
  Api:
    CacheClusterEnabled: true
    CacheClusterSize: '1.6'
    MethodSettings:
      - {{ResourcePath: '/*', HttpMethod: '*', CachingEnabled: true, CacheTtlInSeconds: 7200}}
      - {{ResourcePath: '/~1items~1{{id}}', HttpMethod: GET, CacheTtlInSeconds: 60}}
Resources:{FUNCTION}
      Events:
        List: {{Type: Api, Properties: {{Path: /items, Method: get}}}}
        One:
          Type: Api
          Properties:
            Path: /items/{{id}}
            Method: GET
            RequestParameters:
              - method.request.querystring.lang: {{Required: false, Caching: true}}
              - method.request.header.X-Tenant
        Proxy: {{Type: Api, Properties: {{Path: '/{{proxy+}}', Method: any}}}}
"
    ));
    let a = api(&t, "ServerlessRestApi");
    assert_eq!(a.stages.len(), 1);
    let s = &a.stages[0];
    assert_eq!(s.name, "Prod");
    assert!(s.cache_cluster_enabled);
    assert_eq!(s.cache_cluster_size.as_str(), "1.6");
    assert_eq!(s.method_settings[0].key(), "*/*");
    assert_eq!(s.method_settings[1].key(), "~1items~1{id}/GET");
    assert!(
        t.notices
            .iter()
            .any(|n| n.contains("7200") && n.contains("3600")),
        "the TTL clamp is announced: {:?}",
        t.notices
    );
    let one = method(a, "GET", "/items/{id}");
    assert_eq!(
        one.cache_key_parameters,
        ["method.request.querystring.lang"]
    );
    assert!(one
        .request_parameters
        .contains_key("method.request.header.X-Tenant"));
    assert!(
        one.request_parameters["method.request.path.id"],
        "path parameters are declared"
    );
    assert!(
        matches!(&one.integration, RestIntegration::Lambda { function, timeout } if function == "Fn" && *timeout == Duration::from_secs(29))
    );
    method(a, "ANY", "/{proxy+}");
    // Resources: every path and its ancestors, each with an id.
    let paths: Vec<&str> = a.resources.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/", "/items", "/items/{id}", "/{proxy+}"]);
    assert_eq!(a.resources[0].id.len(), 10);
    assert_eq!(a.resources[1].id.len(), 6);
    let (policy, _) = resolve(s, "/items/{id}", "GET", "GET");
    assert!(policy.enabled);
    assert_eq!(policy.ttl, Duration::from_secs(60));
    let (policy, _) = resolve(s, "/items", "GET", "GET");
    assert_eq!(policy.ttl, Duration::from_secs(3600), "clamped");
}

#[test]
fn explicit_api_with_definition_body_auth_usage_plan_and_cors() {
    let t = load(&format!(
        "Transform: AWS::Serverless-2016-10-31
Resources:
  MyApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Variables: {{table: items-v1}}
      BinaryMediaTypes: ['image~1png']
      Cors: \"'https://example.com'\"
      Auth:
        DefaultAuthorizer: TokenAuth
        ApiKeyRequired: true
        Authorizers:
          TokenAuth:
            FunctionArn: !GetAtt AuthFn.Arn
            Identity: {{Header: X-Token, ValidationExpression: '^tok-.*$', ReauthorizeEvery: 0}}
          ReqAuth:
            FunctionPayloadType: REQUEST
            FunctionArn: !GetAtt AuthFn.Arn
            Identity: {{Headers: [X-A], QueryStrings: [q], ReauthorizeEvery: 60}}
        UsagePlan:
          CreateUsagePlan: PER_API
          Quota: {{Limit: 100, Period: DAY}}
          Throttle: {{RateLimit: 5, BurstLimit: 2}}
      DefinitionBody:
        swagger: '2.0'
        paths:
          /cached/{{id}}:
            get:
              parameters: [{{name: id, in: path, required: true}}]
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{Fn.Arn}}/invocations
                cacheKeyParameters: [method.request.path.id]
                cacheNamespace: shared
  AuthFn:
    Type: AWS::Serverless::Function
    Properties: {{Runtime: python3.11, Handler: auth.handler, CodeUri: src}}{FUNCTION}
      Events:
        Open:
          Type: Api
          Properties:
            RestApiId: !Ref MyApi
            Path: /open
            Method: get
            Auth: {{Authorizer: NONE, ApiKeyRequired: false}}
        Req:
          Type: Api
          Properties: {{RestApiId: !Ref MyApi, Path: /req, Method: post, Auth: {{Authorizer: ReqAuth}}}}
"
    ));
    let a = api(&t, "MyApi");
    assert_eq!(a.stages[0].name, "v1");
    assert_eq!(a.stages[0].variables["table"], "items-v1");
    assert_eq!(a.binary_media_types, ["image/png"]);
    let tok = &a.authorizers["TokenAuth"];
    assert_eq!(tok.kind, AuthorizerKind::Token);
    assert_eq!(tok.identity_source, ["method.request.header.X-Token"]);
    assert_eq!(tok.result_ttl, Duration::ZERO);
    let req = &a.authorizers["ReqAuth"];
    assert_eq!(
        req.identity_source,
        ["method.request.header.X-A", "method.request.querystring.q"]
    );
    let open = method(a, "GET", "/open");
    assert_eq!(open.auth, MethodAuth::None);
    assert!(!open.api_key_required);
    let r = method(a, "POST", "/req");
    assert_eq!(r.auth, MethodAuth::Authorizer("ReqAuth".into()));
    assert!(r.api_key_required, "the API's ApiKeyRequired");
    let cached = method(a, "GET", "/cached/{id}");
    assert_eq!(cached.cache_namespace.as_deref(), Some("shared"));
    assert!(
        matches!(&cached.integration, RestIntegration::Lambda { function, .. } if function.contains(":function:Fn/invocations"))
    );
    // Cors: an OPTIONS mock on every path.
    let opts = method(a, "OPTIONS", "/open");
    match &opts.integration {
        RestIntegration::Mock {
            status, headers, ..
        } => {
            assert_eq!(*status, 200);
            assert!(headers.contains(&(
                "Access-Control-Allow-Origin".into(),
                "https://example.com".into()
            )));
            assert!(
                headers.contains(&("Access-Control-Allow-Methods".into(), "GET,OPTIONS".into()))
            );
        }
        other => panic!("{other:?}"),
    }
    // The usage plan and its generated key.
    let plan = &a.usage_plans[0];
    assert_eq!(plan.id, "MyApiUsagePlan");
    assert_eq!(plan.stages, ["v1"]);
    assert_eq!(
        (plan.throttle_rate, plan.throttle_burst),
        (Some(5.0), Some(2))
    );
    assert_eq!(
        plan.quota.map(|q| (q.limit, q.period)),
        Some((100, QuotaPeriod::Day))
    );
    let key = &plan.keys[0];
    assert_eq!(key.id, "MyApiApiKey");
    assert_eq!(key.value.len(), 40);
    assert!(
        t.notices.iter().any(|n| n.contains(&key.value)),
        "{:?}",
        t.notices
    );
}

#[test]
fn definition_uri_yaml_file() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("openapi.yaml"),
        "openapi: 3.0.1
paths:
  /hello:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:9/hello
        timeoutInMillis: 1000
",
    )
    .expect("write");
    let t = load_in(
        dir.path(),
        "Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties: {StageName: dev, DefinitionUri: openapi.yaml, CacheClusterEnabled: true}
",
    )
    .expect("reads");
    let a = api(&t, "Api");
    let m = method(a, "GET", "/hello");
    assert!(
        matches!(&m.integration, RestIntegration::HttpProxy { timeout, .. } if *timeout == Duration::from_secs(1))
    );
}

#[test]
fn low_level_resources_methods_stage_deployment_and_usage_plans() {
    let t = load(&format!(
        "Resources:{FUNCTION}
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {{Name: low}}
  Items:
    Type: AWS::ApiGateway::Resource
    Properties: {{RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: items}}
  Item:
    Type: AWS::ApiGateway::Resource
    Properties: {{RestApiId: !Ref Api, ParentId: !Ref Items, PathPart: '{{id}}'}}
  Auth:
    Type: AWS::ApiGateway::Authorizer
    Properties:
      RestApiId: !Ref Api
      Type: REQUEST
      AuthorizerUri: !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{Fn.Arn}}/invocations
      IdentitySource: method.request.header.X-User, method.request.querystring.t
      AuthorizerResultTtlInSeconds: 30
  GetItem:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Item
      HttpMethod: GET
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Auth
      ApiKeyRequired: true
      RequestParameters: {{method.request.path.id: true, method.request.header.Accept-Language: false}}
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        Uri: !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{Fn.Arn}}/invocations
        CacheKeyParameters: [method.request.path.id, method.request.header.Accept-Language]
        CacheNamespace: items
  GetRoot:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !GetAtt Api.RootResourceId
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: HTTP
        IntegrationHttpMethod: GET
        Uri: http://127.0.0.1:9/
        IntegrationResponses:
          - {{StatusCode: 200}}
          - {{StatusCode: 404, SelectionPattern: '4\\d{{2}}'}}
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: [GetItem, GetRoot]
    Properties:
      RestApiId: !Ref Api
      StageName: beta
      StageDescription:
        CacheClusterEnabled: true
        CachingEnabled: true
        CacheTtlInSeconds: 30
        MethodSettings: [{{ResourcePath: '/~1items~1{{id}}', HttpMethod: GET, CacheTtlInSeconds: 10}}]
  Prod:
    Type: AWS::ApiGateway::Stage
    Properties: {{RestApiId: !Ref Api, StageName: prod, DeploymentId: !Ref Deployment, CacheClusterEnabled: false}}
  Key:
    Type: AWS::ApiGateway::ApiKey
    Properties: {{Value: the-key-value-12345678901234567890, Enabled: true}}
  Plan:
    Type: AWS::ApiGateway::UsagePlan
    Properties:
      ApiStages: [{{ApiId: !Ref Api, Stage: prod}}]
      Quota: {{Limit: 3, Period: MONTH}}
  PlanKey:
    Type: AWS::ApiGateway::UsagePlanKey
    Properties: {{KeyId: !Ref Key, KeyType: API_KEY, UsagePlanId: !Ref Plan}}
"
    ));
    let a = api(&t, "Api");
    assert_eq!(a.name, "low");
    let paths: Vec<(&str, &str)> = a
        .resources
        .iter()
        .map(|r| (r.path.as_str(), r.id.as_str()))
        .collect();
    assert!(paths.contains(&("/items/{id}", "Item")), "{paths:?}");
    assert!(paths.contains(&("/items", "Items")), "{paths:?}");
    let get = method(a, "GET", "/items/{id}");
    assert_eq!(get.auth, MethodAuth::Authorizer("Auth".into()));
    assert!(get.api_key_required);
    assert_eq!(get.cache_namespace.as_deref(), Some("items"));
    assert_eq!(
        a.authorizers["Auth"].identity_source,
        [
            "method.request.header.X-User",
            "method.request.querystring.t"
        ]
    );
    let root = method(a, "GET", "/");
    match &root.integration {
        RestIntegration::Mapped(m) => {
            assert!(matches!(m.target, MappedTarget::Http { .. }), "{m:?}");
            assert_eq!(m.responses.len(), 2);
            assert_eq!(m.responses[1].selection_pattern.as_deref(), Some("4\\d{2}"));
        }
        other => panic!("{other:?}"),
    }
    let names: Vec<&str> = a.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["prod", "beta"]);
    let beta = &a.stages[1];
    assert!(beta.cache_cluster_enabled);
    assert_eq!(
        resolve(beta, "/items/{id}", "GET", "GET").0.ttl,
        Duration::from_secs(10)
    );
    assert_eq!(
        resolve(beta, "/", "GET", "GET").0.ttl,
        Duration::from_secs(30)
    );
    assert_eq!(a.stages[0].deployment_id, "Deployment");
    let plan = &a.usage_plans[0];
    assert_eq!(plan.stages, ["prod"]);
    assert_eq!(plan.keys[0].value, "the-key-value-12345678901234567890");
}

#[test]
fn errors_name_the_site() {
    for (yaml, needle) in [
        (
            format!("Transform: AWS::Serverless-2016-10-31\nGlobals: {{Api: {{CacheClusterSize: '2'}}}}\nResources:{FUNCTION}\n      Events: {{E: {{Type: Api, Properties: {{Path: /a, Method: get}}}}}}\n"),
            "CacheClusterSize",
        ),
        (
            "Transform: AWS::Serverless-2016-10-31
Resources:
  X:
    Type: AWS::Serverless::Api
    Properties:
      StageName: s
      DefinitionBody:
        paths:
          /b:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                uri: Fn
                cacheKeyParameters: [method.request.querystring.q]
".to_owned(),
            "must also be a method request parameter",
        ),
        (
            format!("Transform: AWS::Serverless-2016-10-31\nResources:{FUNCTION}\n      Events:\n        A: {{Type: Api, Properties: {{Path: '/p/{{a}}', Method: get}}}}\n        B: {{Type: Api, Properties: {{Path: '/p/{{b}}/x', Method: get}}}}\n"),
            "only one is allowed",
        ),
        (
            format!("Transform: AWS::Serverless-2016-10-31\nResources:{FUNCTION}\n      Events:\n        A: {{Type: Api, Properties: {{Path: /a, Method: get, Auth: {{Authorizer: Nope}}}}}}\n"),
            "Nope",
        ),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let e = load_in(dir.path(), &yaml).expect_err("fails");
        assert!(e.to_string().contains(needle), "{e}");
    }
}
