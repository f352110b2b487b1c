use std::time::Duration;

use serde_json::json;

use super::*;

fn load(yaml: &str) -> Template {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
    ledge_template::load_str(yaml, dir.path(), "template.yaml", &Default::default())
        .expect("template loads")
}

fn route<'a>(api: &'a HttpApiSpec, key: &str) -> &'a RouteSpec {
    api.routes
        .iter()
        .find(|r| r.key == key)
        .unwrap_or_else(|| panic!("no route {key} in {:?}", api.routes))
}

#[test]
fn implicit_api_from_function_events_and_globals() {
    let t = load(
        "Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, Handler: app.handler, CodeUri: src}
  HttpApi:
    CorsConfiguration: {AllowOrigins: ['https://a.com'], AllowMethods: [GET], MaxAge: 60}
Resources:
  Items:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: items-fn
      Events:
        Get: {Type: HttpApi, Properties: {Path: '/items/{id}', Method: get}}
        Any: {Type: HttpApi, Properties: {Path: /any, PayloadFormatVersion: '1.0', TimeoutInMillis: 2000}}
        Catch: {Type: HttpApi}
",
    );
    let apis = from_template(&t).expect("spec");
    assert_eq!(apis.len(), 1);
    let api = &apis[0];
    assert_eq!(api.logical_id, IMPLICIT_API);
    assert_eq!(api.stages.len(), 1);
    assert_eq!(api.stages[0].name, "$default");
    assert_eq!(
        route(api, "GET /items/{id}").integration,
        IntegrationSpec::Lambda {
            function: "items-fn".into(),
            payload_format: PayloadFormat::V2,
            timeout: Duration::from_secs(30)
        }
    );
    assert_eq!(
        route(api, "ANY /any").integration,
        IntegrationSpec::Lambda {
            function: "items-fn".into(),
            payload_format: PayloadFormat::V1,
            timeout: Duration::from_millis(2000)
        }
    );
    assert_eq!(route(api, "$default").auth, RouteAuth::None);
    let cors = api.cors.as_ref().expect("cors from Globals");
    assert_eq!(cors.allow_origins, ["https://a.com"]);
    assert_eq!(cors.max_age, Some(60));
}

#[test]
fn explicit_sam_api_with_stage_auth_and_throttling() {
    let t = load(
        "Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: dev
      StageVariables: {table: t1}
      CorsConfiguration: true
      DefaultRouteSettings: {ThrottlingBurstLimit: 5, ThrottlingRateLimit: 2}
      RouteSettings:
        'GET /open': {ThrottlingBurstLimit: 1, ThrottlingRateLimit: 1}
      AccessLogSettings: {DestinationArn: arn:aws:logs:us-east-1:123456789012:log-group:x, Format: '$context.requestId'}
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            IdentitySource: $request.header.Authorization
            JwtConfiguration: {issuer: 'https://idp.example', audience: [api]}
          Fn:
            FunctionArn: !GetAtt AuthFn.Arn
            AuthorizerPayloadFormatVersion: 2.0
            EnableSimpleResponses: true
            Identity: {Headers: [X-Token], ReauthorizeEvery: 60}
  AuthFn:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, Handler: a.h, CodeUri: src}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src
      Events:
        Secure: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /secure, Method: GET, Auth: {AuthorizationScopes: [read]}}}
        Open: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /open, Method: GET, Auth: {Authorizer: NONE}}}
        Custom: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /custom, Method: POST, Auth: {Authorizer: Fn}}}
",
    );
    let apis = from_template(&t).expect("spec");
    assert_eq!(apis.len(), 1, "{apis:?}");
    let api = &apis[0];
    assert_eq!(api.logical_id, "Api");
    let stage = &api.stages[0];
    assert_eq!(stage.name, "dev");
    assert_eq!(stage.variables["table"], "t1");
    assert_eq!(stage.default_route_settings.throttling_burst_limit, Some(5));
    assert_eq!(
        stage.route_settings["GET /open"].throttling_rate_limit,
        Some(1.0)
    );
    assert_eq!(
        stage.access_log.as_ref().and_then(|a| a.format.as_deref()),
        Some("$context.requestId")
    );
    assert_eq!(api.cors.as_ref().expect("cors").allow_headers, ["*"]);
    assert_eq!(
        route(api, "GET /secure").auth,
        RouteAuth::Authorizer {
            name: "Jwt".into(),
            scopes: vec!["read".into()]
        }
    );
    assert_eq!(route(api, "GET /open").auth, RouteAuth::None);
    assert_eq!(
        route(api, "POST /custom").auth,
        RouteAuth::Authorizer {
            name: "Fn".into(),
            scopes: vec![]
        }
    );
    assert_eq!(
        api.authorizers["Jwt"],
        AuthorizerSpec::Jwt {
            identity_source: vec!["$request.header.Authorization".into()],
            issuer: "https://idp.example".into(),
            audience: vec!["api".into()],
        }
    );
    assert_eq!(
        api.authorizers["Fn"],
        AuthorizerSpec::Lambda {
            function: "arn:aws:lambda:us-east-1:123456789012:function:AuthFn".into(),
            payload_format: PayloadFormat::V2,
            simple_responses: true,
            result_ttl: Duration::from_secs(60),
            identity_source: vec!["$request.header.X-Token".into()],
        }
    );
}

#[test]
fn low_level_api_gateway_v2_resources() {
    let t = load(
        "Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: low, ProtocolType: HTTP, CorsConfiguration: {AllowOrigins: ['*']}}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: $default, AutoDeploy: true}
  LambdaInt:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub 'arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations'
      PayloadFormatVersion: '2.0'
  HttpInt:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: HTTP_PROXY
      IntegrationMethod: ANY
      IntegrationUri: 'http://127.0.0.1:9/{proxy}'
      RequestParameters: {'append:header.x-from': 'ledge'}
      ResponseParameters: {'404': {ResponseParameters: [{Destination: 'overwrite:statuscode', Source: '200'}]}}
  Auth:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      Name: jwt
      AuthorizerType: JWT
      IdentitySource: [$request.header.Authorization]
      JwtConfiguration: {Issuer: 'https://idp.example', Audience: [a]}
  Get:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: GET /fn, Target: !Sub 'integrations/${LambdaInt}', AuthorizationType: JWT, AuthorizerId: !Ref Auth, AuthorizationScopes: [s]}
  Proxy:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: 'ANY /up/{proxy+}', Target: !Join ['/', [integrations, !Ref HttpInt]]}
  Fn:
    Type: AWS::Lambda::Function
    Properties: {Runtime: python3.11, Handler: a.h, Code: src}
",
    );
    let apis = from_template(&t).expect("spec");
    let api = &apis[0];
    assert_eq!(api.name, "low");
    assert_eq!(api.stages[0].name, "$default");
    match &route(api, "GET /fn").integration {
        IntegrationSpec::Lambda {
            function,
            payload_format,
            ..
        } => {
            assert!(function.ends_with("function:Fn/invocations"), "{function}");
            assert_eq!(*payload_format, PayloadFormat::V2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        route(api, "GET /fn").auth,
        RouteAuth::Authorizer {
            name: "Auth".into(),
            scopes: vec!["s".into()]
        }
    );
    match &route(api, "ANY /up/{proxy+}").integration {
        IntegrationSpec::Http {
            uri,
            request_parameters,
            response_parameters,
            ..
        } => {
            assert_eq!(uri, "http://127.0.0.1:9/{proxy}");
            assert_eq!(
                request_parameters,
                &vec![("append:header.x-from".to_owned(), "ledge".to_owned())]
            );
            assert_eq!(
                response_parameters["404"],
                vec![("overwrite:statuscode".to_owned(), "200".to_owned())]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        api.cors.as_ref().map(|c| json!(c.allow_origins)),
        Some(json!(["*"]))
    );
}

#[test]
fn quick_create_and_errors() {
    let t = load(
        "Resources:
  Quick:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: q, ProtocolType: HTTP, Target: !GetAtt Fn.Arn}
  Fn:
    Type: AWS::Lambda::Function
    Properties: {Runtime: python3.11, Handler: a.h, Code: src}
",
    );
    let apis = from_template(&t).expect("spec");
    assert_eq!(apis[0].routes[0].key, "$default");
    assert_eq!(apis[0].stages[0].name, "$default");

    let bad = load(
        "Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src
      Events:
        A: {Type: HttpApi, Properties: {Path: /x, Method: GET, Auth: {Authorizer: Missing}}}
",
    );
    let e = from_template(&bad).expect_err("unknown authorizer");
    assert!(e.to_string().contains("Missing"), "{e}");
    let bad = load(
        "Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src
      Events:
        A: {Type: HttpApi, Properties: {Path: 'x', Method: GET}}
",
    );
    assert!(from_template(&bad).is_err(), "a path must start with /");
}
