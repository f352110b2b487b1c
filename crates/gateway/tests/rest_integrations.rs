//! Non-proxy REST integrations through the router (reference §3.1–§3.7): passthrough
//! behaviours, `selectionPattern` on a Lambda `errorMessage` (Java semantics: whole string,
//! `.` stops at a newline) and on an HTTP status, MOCK, HTTP with request and response
//! templates, parameter mappings and overrides, response templates chosen by Accept,
//! gateway responses (default and customised), and a template that does not parse.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::sync::Arc;
use std::time::Duration;

use ledge_gateway::rest::*;
use serde_json::{json, Value as J};
use support::*;

fn serve(spec: RestApiSpec, fake: &Arc<Fake>) -> (axum::Router, Arc<RestApi>) {
    let api = RestApi::new(spec, fake.clone(), RestOptions::default()).expect("compiles");
    (router(api.clone()), api)
}

fn t(ct: &str, src: &str) -> (String, String) {
    (ct.to_owned(), src.to_owned())
}

fn response(
    pattern: Option<&str>,
    status: u16,
    templates: Vec<(String, String)>,
) -> IntegrationResponse {
    IntegrationResponse {
        selection_pattern: pattern.map(str::to_owned),
        status_code: status,
        response_templates: templates,
        ..IntegrationResponse::default()
    }
}

fn mapped(
    target: MappedTarget,
    request_templates: Vec<(String, String)>,
    passthrough: Passthrough,
    responses: Vec<IntegrationResponse>,
) -> RestIntegration {
    let mut m = MappedIntegration {
        target,
        timeout: Duration::from_secs(5),
        request_parameters: vec![],
        request_templates,
        passthrough,
        content_handling: None,
        responses,
        method_responses: vec![],
    };
    declare_all(&mut m);
    RestIntegration::Mapped(Box::new(m))
}

/// Declares a method response for every integration response's status, with the headers
/// it maps.
fn declare_all(m: &mut MappedIntegration) {
    m.method_responses = m
        .responses
        .iter()
        .map(|r| MethodResponse {
            status_code: r.status_code,
            headers: r
                .response_parameters
                .iter()
                .filter_map(|(t, _)| t.strip_prefix("method.response.header."))
                .map(str::to_owned)
                .collect(),
        })
        .collect();
}

/// An upstream that echoes the request as JSON (and `x-upstream: yes`); `/status/N`
/// answers N.
async fn upstream() -> String {
    use axum::extract::Request as R;
    let app = axum::Router::new().fallback(|req: R| async move {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let headers: serde_json::Map<String, J> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        let status = parts
            .uri
            .path()
            .strip_prefix("/status/")
            .and_then(|s| s.parse().ok())
            .unwrap_or(200);
        (
            http::StatusCode::from_u16(status).unwrap(),
            [("x-upstream", "yes"), ("content-type", "application/json")],
            json!({"method": parts.method.as_str(), "uri": parts.uri.to_string(),
                   "headers": headers, "body": String::from_utf8_lossy(&body)})
            .to_string(),
        )
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn passthrough_behaviours_row_by_row() {
    let base = upstream().await;
    let http = || MappedTarget::Http {
        uri: format!("{base}/echo"),
        method: "POST".into(),
    };
    let json_tpl = || {
        vec![t(
            "application/json",
            r#"{"templated": $input.json('$.a')}"#,
        )]
    };
    let ok = || vec![response(None, 200, vec![])];
    let spec = api(
        "Api",
        RestStageSpec::new("dev"),
        vec![
            method(
                "POST",
                "/match",
                mapped(http(), json_tpl(), Passthrough::WhenNoMatch, ok()),
            ),
            method(
                "POST",
                "/templates",
                mapped(http(), json_tpl(), Passthrough::WhenNoTemplates, ok()),
            ),
            method(
                "POST",
                "/templates-none",
                mapped(http(), vec![], Passthrough::WhenNoTemplates, ok()),
            ),
            method(
                "POST",
                "/never",
                mapped(http(), json_tpl(), Passthrough::Never, ok()),
            ),
            method(
                "POST",
                "/never-none",
                mapped(http(), vec![], Passthrough::Never, ok()),
            ),
        ],
    );
    let (r, _) = serve(spec, &Fake::new());
    let send = |path: &str, ct: Option<&str>, body: &str| {
        let mut h = vec![];
        if let Some(ct) = ct {
            h.push(("content-type", ct));
        }
        req("POST", &format!("/dev{path}"), &h, body)
    };
    let sent = |got: &Resp| got.json()["body"].as_str().unwrap().to_owned();

    // A matching template is applied whatever the behaviour; a missing Content-Type is
    // application/json, and parameters after `;` are ignored.
    for path in ["/match", "/templates", "/never"] {
        for ct in [
            Some("application/json"),
            None,
            Some("application/json; charset=UTF-8"),
        ] {
            let got = call(&r, send(path, ct, r#"{"a": [1]}"#)).await;
            assert_eq!(got.status, 200, "{path} {ct:?}: {}", got.text());
            assert_eq!(sent(&got), r#"{"templated": [1]}"#, "{path} {ct:?}");
        }
    }
    // WHEN_NO_MATCH: an unmatched type passes through untransformed.
    let got = call(&r, send("/match", Some("text/plain"), "raw text")).await;
    assert_eq!((got.status, sent(&got).as_str()), (200, "raw text"));
    assert_eq!(got.json()["headers"]["content-type"], "text/plain");
    // WHEN_NO_TEMPLATES: 415 when templates exist but none matches; passthrough without any.
    let got = call(&r, send("/templates", Some("text/plain"), "raw")).await;
    assert_eq!(got.status, 415);
    assert_eq!(got.text(), r#"{"message":"Unsupported Media Type"}"#);
    assert_eq!(
        got.header("x-amzn-errortype"),
        Some("UnsupportedMediaTypeException")
    );
    let got = call(&r, send("/templates-none", Some("text/plain"), "raw")).await;
    assert_eq!((got.status, sent(&got).as_str()), (200, "raw"));
    // NEVER: no matching template is 415, with or without templates.
    for path in ["/never", "/never-none"] {
        let got = call(&r, send(path, Some("text/plain"), "raw")).await;
        assert_eq!(got.status, 415, "{path}");
        assert_eq!(got.text(), r#"{"message":"Unsupported Media Type"}"#);
    }
    // A template reading a body that is not JSON.
    let got = call(&r, send("/never", Some("application/json"), "not json")).await;
    assert_eq!(got.status, 400, "{}", got.text());
}

#[tokio::test]
async fn lambda_custom_integration_selects_by_error_message() {
    let fake = Fake::new();
    fake.on("Calc", |e: &J| match e["op"].as_str().unwrap_or_default() {
        "add" => ok(json!({"sum": e["a"].as_i64().unwrap() + e["b"].as_i64().unwrap()})),
        "bad" => function_error("bad [400] input"),
        "multi" => function_error("first line\nbad [400] input"),
        "crash" => function_error("stack:\nfailed [500]\nat line 3"),
        _ => function_error("something else"),
    });
    let integration = mapped(
        MappedTarget::Lambda {
            function: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:Calc/invocations".into(),
        },
        vec![t(
            "application/json",
            r#"{"op": "$input.params('op')", "a": $input.json('$.a'), "b": $input.json('$.b'), "stage": "$context.stage"}"#,
        )],
        Passthrough::WhenNoTemplates,
        vec![
            response(None, 200, vec![t("application/json", r#"{"result": $input.json('$.sum')}"#)]),
            response(Some(r".*\[400\].*"), 400, vec![t("application/json", r#"{"error": "$input.path('$.errorMessage')"}"#)]),
            response(Some(r"(\n|.)*\[500\](\n|.)*"), 500, vec![t("application/json", r#"{"error": "internal"}"#)]),
        ],
    );
    let (r, _) = serve(
        api(
            "Api",
            RestStageSpec::new("dev"),
            vec![method("POST", "/calc", integration)],
        ),
        &fake,
    );
    let calc = |op: &str| {
        req(
            "POST",
            &format!("/dev/calc?op={op}"),
            &[],
            r#"{"a": 2, "b": 3}"#,
        )
    };

    let got = call(&r, calc("add")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json(), json!({"result": 5}));
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(
        fake.calls("Calc")[0],
        json!({"op": "add", "a": 2, "b": 3, "stage": "dev"}),
        "the function receives the rendered template"
    );
    let got = call(&r, calc("bad")).await;
    assert_eq!(
        (got.status, got.json()),
        (400, json!({"error": "bad [400] input"}))
    );
    // `.` does not match a newline: a multi-line message falls through to the default,
    // which maps the error JSON like a result (AWS sends 200).
    let got = call(&r, calc("multi")).await;
    assert_eq!((got.status, got.json()), (200, json!({"result": ""})));
    let got = call(&r, calc("crash")).await;
    assert_eq!(
        (got.status, got.json()),
        (500, json!({"error": "internal"}))
    );
    let got = call(&r, calc("other")).await;
    assert_eq!(got.status, 200, "no pattern matches: the default");
}

#[tokio::test]
async fn mock_statuses_overrides_and_accept() {
    let integration = mapped(
        MappedTarget::Mock,
        vec![t(
            "application/json",
            r#"#if($input.params('code') != "")#set($c = $input.params('code'))#else#set($c = 200)#end{"statusCode": $c}"#,
        )],
        Passthrough::WhenNoMatch,
        vec![
            response(
                None,
                200,
                vec![
                    t("application/json", r#"{"ok": true, "stage": "$context.stage"}"#),
                    t("application/xml", "<ok>true</ok>"),
                ],
            ),
            response(Some("404"), 404, vec![t("application/json", r#"{"message": "no such pet"}"#)]),
            response(
                Some("418"),
                200,
                vec![t(
                    "application/json",
                    "#set($context.responseOverride.status = 418)#set($context.responseOverride.header.X-Teapot = \"short and stout\"){\"teapot\": true}",
                )],
            ),
        ],
    );
    let mut m = method("GET", "/pets", integration);
    if let RestIntegration::Mapped(mi) = &mut m.integration {
        mi.responses[0].response_parameters = vec![
            ("method.response.header.X-Static".into(), "'fixed'".into()),
            (
                "method.response.header.X-Stage".into(),
                "context.stage".into(),
            ),
        ];
        declare_all(mi);
    }
    let (r, _) = serve(api("Api", RestStageSpec::new("v1"), vec![m]), &Fake::new());
    let got = call(&r, get("/v1/pets")).await;
    assert_eq!(
        (got.status, got.json()),
        (200, json!({"ok": true, "stage": "v1"}))
    );
    assert_eq!(got.header("x-static"), Some("fixed"));
    assert_eq!(got.header("x-stage"), Some("v1"));
    assert!(
        got.header("x-amzn-trace-id").is_none(),
        "no trace header for MOCK"
    );
    let got = call(
        &r,
        req("GET", "/v1/pets", &[("accept", "application/xml")], ""),
    )
    .await;
    assert_eq!((got.status, got.text().as_str()), (200, "<ok>true</ok>"));
    assert_eq!(got.header("content-type"), Some("application/xml"));
    let got = call(&r, req("GET", "/v1/pets", &[("accept", "text/csv")], "")).await;
    assert_eq!(
        got.header("content-type"),
        Some("application/json"),
        "unmatched Accept: application/json"
    );
    let got = call(&r, get("/v1/pets?code=404")).await;
    assert_eq!(
        (got.status, got.json()),
        (404, json!({"message": "no such pet"}))
    );
    let got = call(&r, get("/v1/pets?code=418")).await;
    assert_eq!((got.status, got.json()), (418, json!({"teapot": true})));
    assert_eq!(got.header("x-teapot"), Some("short and stout"));
    // No response for 500 and no default beyond 200's: the default answers.
    let got = call(&r, get("/v1/pets?code=500")).await;
    assert_eq!(got.status, 200);
}

#[tokio::test]
async fn http_with_templates_parameter_mappings_and_status_selection() {
    let base = upstream().await;
    let mut integration = MappedIntegration {
        target: MappedTarget::Http {
            uri: format!("{base}/{{dir}}/{{id}}"),
            method: "POST".into(),
        },
        timeout: Duration::from_secs(5),
        request_parameters: vec![
            ("integration.request.path.id".into(), "method.request.path.id".into()),
            ("integration.request.path.dir".into(), "stageVariables.dir".into()),
            ("integration.request.querystring.q".into(), "method.request.querystring.search".into()),
            ("integration.request.header.X-Static".into(), "'static value'".into()),
            ("integration.request.header.X-Client".into(), "method.request.header.X-Client".into()),
            ("integration.request.header.X-Api".into(), "context.apiId".into()),
            ("integration.request.header.X-Name".into(), "method.request.body.name".into()),
        ],
        request_templates: vec![t(
            "application/json",
            "#set($context.requestOverride.header.X-Override = \"from-template\")\n{\"name\": $input.json('$.name'), \"id\": \"$input.params('id')\", \"var\": \"$stageVariables.dir\"}",
        )],
        passthrough: Passthrough::Never,
        content_handling: None,
        responses: vec![
            response(
                None,
                201,
                vec![t(
                    "application/json",
                    r#"#set($b = $input.path('$'))
{"sentTo": "$b.uri", "sent": $b.body}"#,
                )],
            ),
            response(Some(r"4\d{2}"), 400, vec![t("application/json", r#"{"upstream": "client error"}"#)]),
        ],
        method_responses: vec![],
    };
    integration.responses[0].response_parameters = vec![
        (
            "method.response.header.X-From".into(),
            "integration.response.header.x-upstream".into(),
        ),
        (
            "method.response.header.X-Method".into(),
            "integration.response.body.method".into(),
        ),
    ];
    declare_all(&mut integration);
    let stage = RestStageSpec {
        variables: [("dir".to_owned(), "items".to_owned())]
            .into_iter()
            .collect(),
        ..RestStageSpec::new("dev")
    };
    let bad = mapped(
        MappedTarget::Http {
            uri: format!("{base}/status/{{code}}"),
            method: "GET".into(),
        },
        vec![],
        Passthrough::WhenNoMatch,
        vec![
            response(None, 200, vec![]),
            response(
                Some(r"4\d{2}"),
                400,
                vec![t("application/json", r#"{"upstream": "client error"}"#)],
            ),
        ],
    );
    let mut bad_m = method("GET", "/status/{code}", bad);
    if let RestIntegration::Mapped(mi) = &mut bad_m.integration {
        mi.request_parameters = vec![(
            "integration.request.path.code".into(),
            "method.request.path.code".into(),
        )];
    }
    let (r, _) = serve(
        api(
            "Api",
            stage,
            vec![
                method(
                    "POST",
                    "/things/{id}",
                    RestIntegration::Mapped(Box::new(integration)),
                ),
                bad_m,
            ],
        ),
        &Fake::new(),
    );
    let got = call(
        &r,
        req(
            "POST",
            "/dev/things/42?search=blue&ignored=1",
            &[("x-client", "c1"), ("x-other", "dropped")],
            r#"{"name": "Widget"}"#,
        ),
    )
    .await;
    assert_eq!(got.status, 201, "{}", got.text());
    let out = got.json();
    assert_eq!(out["sentTo"], "/items/42?q=blue");
    assert_eq!(
        out["sent"],
        json!({"name": "Widget", "id": "42", "var": "items"})
    );
    assert_eq!(got.header("x-from"), Some("yes"));
    assert_eq!(got.header("x-method"), Some("POST"));
    let got = call(&r, get("/dev/status/404")).await;
    assert_eq!(
        (got.status, got.json()),
        (400, json!({"upstream": "client error"}))
    );
    let got = call(&r, get("/dev/status/503")).await;
    assert_eq!(
        got.status, 200,
        "an unmatched 503 takes the default response"
    );
}

#[tokio::test]
async fn mapped_headers_reach_the_upstream() {
    let base = upstream().await;
    let mut integration = MappedIntegration {
        target: MappedTarget::Http {
            uri: format!("{base}/h"),
            method: "POST".into(),
        },
        timeout: Duration::from_secs(5),
        request_parameters: vec![
            (
                "integration.request.header.X-Static".into(),
                "'static value'".into(),
            ),
            (
                "integration.request.header.X-Client".into(),
                "method.request.header.X-Client".into(),
            ),
            (
                "integration.request.header.X-Api".into(),
                "context.apiId".into(),
            ),
            (
                "integration.request.header.X-Name".into(),
                "method.request.body.name".into(),
            ),
            (
                "integration.request.header.X-Override".into(),
                "'mapped'".into(),
            ),
        ],
        request_templates: vec![t(
            "application/json",
            "#set($context.requestOverride.header.X-Override = \"from-template\")$input.body",
        )],
        passthrough: Passthrough::WhenNoMatch,
        content_handling: None,
        responses: vec![response(None, 200, vec![])],
        method_responses: vec![],
    };
    declare_all(&mut integration);
    let (r, _) = serve(
        api(
            "Api",
            RestStageSpec::new("dev"),
            vec![method(
                "POST",
                "/h",
                RestIntegration::Mapped(Box::new(integration)),
            )],
        ),
        &Fake::new(),
    );
    let got = call(
        &r,
        req(
            "POST",
            "/dev/h",
            &[("x-client", "c1"), ("x-other", "dropped")],
            r#"{"name": "Widget"}"#,
        ),
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    let h = &got.json()["headers"];
    assert_eq!(h["x-static"], "static value");
    assert_eq!(h["x-client"], "c1");
    assert_eq!(h["x-api"], "Api");
    assert_eq!(h["x-name"], "Widget");
    assert_eq!(
        h["x-override"], "from-template",
        "overrides are applied last"
    );
    assert!(h.get("x-other").is_none(), "only mapped headers go");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(got.json()["body"], r#"{"name": "Widget"}"#);
}

#[tokio::test]
async fn gateway_responses_default_and_customised() {
    let ok = || {
        mapped(
            MappedTarget::Mock,
            vec![t("application/json", r#"{"statusCode": 200}"#)],
            Passthrough::Never,
            vec![response(None, 200, vec![])],
        )
    };
    let plain = api(
        "Api",
        RestStageSpec::new("dev"),
        vec![method("GET", "/ok", ok())],
    );
    let (r, _) = serve(plain.clone(), &Fake::new());
    let got = call(&r, get("/dev/nowhere")).await;
    assert_eq!(got.status, 403);
    assert_eq!(got.text(), r#"{"message":"Missing Authentication Token"}"#);
    assert_eq!(
        got.header("x-amzn-errortype"),
        Some("MissingAuthenticationTokenException")
    );
    let got = call(
        &r,
        req("GET", "/dev/ok", &[("content-type", "text/plain")], "x"),
    )
    .await;
    assert_eq!(
        (got.status, got.text().as_str()),
        (415, r#"{"message":"Unsupported Media Type"}"#)
    );

    let mut custom = plain;
    custom.gateway_responses = vec![
        GatewayResponseSpec {
            response_type: "DEFAULT_4XX".into(),
            status_code: None,
            response_parameters: vec![
                (
                    "gatewayresponse.header.Access-Control-Allow-Origin".into(),
                    "'*'".into(),
                ),
                (
                    "gatewayresponse.header.X-Asked".into(),
                    "method.request.header.X-Ask".into(),
                ),
            ],
            response_templates: vec![t(
                "application/json",
                r#"{"error": $context.error.messageString, "type": "$context.error.responseType", "stage": "$context.stage"}"#,
            )],
        },
        GatewayResponseSpec {
            response_type: "MISSING_AUTHENTICATION_TOKEN".into(),
            status_code: Some(404),
            response_parameters: vec![],
            response_templates: vec![],
        },
    ];
    let (r, _) = serve(custom, &Fake::new());
    let got = call(&r, get("/dev/nowhere")).await;
    assert_eq!(got.status, 404, "the type's own customisation wins");
    assert_eq!(
        got.text(),
        r#"{"message":"Missing Authentication Token"}"#,
        "no template: the default body"
    );
    let got = call(
        &r,
        req(
            "GET",
            "/dev/ok",
            &[("content-type", "text/plain"), ("x-ask", "why")],
            "x",
        ),
    )
    .await;
    assert_eq!(got.status, 415);
    assert_eq!(
        got.json(),
        json!({"error": "Unsupported Media Type", "type": "UNSUPPORTED_MEDIA_TYPE", "stage": "dev"})
    );
    assert_eq!(got.header("access-control-allow-origin"), Some("*"));
    assert_eq!(got.header("x-asked"), Some("why"));
}

#[tokio::test]
async fn a_template_that_does_not_parse_fails_the_deployment_and_the_old_one_serves() {
    let with = |tpl: &str| {
        api(
            "Api",
            RestStageSpec::new("dev"),
            vec![method(
                "GET",
                "/v",
                mapped(
                    MappedTarget::Mock,
                    vec![t("application/json", r#"{"statusCode": 200}"#)],
                    Passthrough::WhenNoMatch,
                    vec![response(None, 200, vec![t("application/json", tpl)])],
                ),
            )],
        )
    };
    let broken = "{\n  \"v\": 1,\n  #foreach($x in $list)\n  \"x\": $x\n";
    let e = RestApi::new(with(broken), Fake::new(), RestOptions::default())
        .err()
        .expect("fails")
        .to_string();
    assert!(e.contains("line 3, column 3"), "{e}");
    assert!(e.contains("responseTemplates[application/json]"), "{e}");

    let (r, api) = serve(with(r#"{"v": 1}"#), &Fake::new());
    assert_eq!(call(&r, get("/dev/v")).await.json(), json!({"v": 1}));
    let e = api.redeploy(with(broken)).expect_err("refused").to_string();
    assert!(e.contains("line 3, column 3"), "{e}");
    assert_eq!(
        call(&r, get("/dev/v")).await.json(),
        json!({"v": 1}),
        "the last good deployment serves"
    );
    api.redeploy(with(r#"{"v": 2}"#)).expect("deploys");
    assert_eq!(call(&r, get("/dev/v")).await.json(), json!({"v": 2}));
}

#[tokio::test]
async fn method_responses_bound_what_integration_responses_may_map() {
    let mock = |code: u16, responses: Vec<IntegrationResponse>, declared: Vec<MethodResponse>| {
        let RestIntegration::Mapped(mut m) = mapped(
            MappedTarget::Mock,
            vec![t(
                "application/json",
                &format!(r#"{{"statusCode": {code}}}"#),
            )],
            Passthrough::WhenNoMatch,
            responses,
        ) else {
            unreachable!("mapped() builds a mapped integration")
        };
        m.method_responses = declared;
        api(
            "Api",
            RestStageSpec::new("dev"),
            vec![method("GET", "/m", RestIntegration::Mapped(m))],
        )
    };
    let with_header = |status: u16| {
        let mut r = response(None, status, vec![]);
        r.response_parameters = vec![("method.response.header.X-Id".into(), "'1'".into())];
        r
    };
    let declared = |status: u16, headers: &[&str]| MethodResponse {
        status_code: status,
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
    };

    // An undeclared header: AWS's PutIntegrationResponse refuses it, so does the deployment.
    let e = RestApi::new(
        mock(
            200,
            vec![with_header(200)],
            vec![declared(200, &["X-Other"])],
        ),
        Fake::new(),
        RestOptions::default(),
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(
        e.contains("Invalid mapping expression parameter specified: method.response.header.X-Id"),
        "{e}"
    );
    // Headers mapped for a status with no method response at all.
    let e = RestApi::new(
        mock(200, vec![with_header(200)], vec![]),
        Fake::new(),
        RestOptions::default(),
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(e.contains("No method response exists for method."), "{e}");

    // Declared: the header is mapped.
    let (r, _) = serve(
        mock(200, vec![with_header(200)], vec![declared(200, &["X-Id"])]),
        &Fake::new(),
    );
    let got = call(&r, get("/dev/m")).await;
    assert_eq!((got.status, got.header("x-id")), (200, Some("1")));

    // An integration response whose status has no method response deploys, and answers
    // 500 at run time ("Output mapping refers to an invalid method response").
    let (r, _) = serve(
        mock(
            404,
            vec![
                response(None, 200, vec![]),
                response(Some("404"), 404, vec![]),
            ],
            vec![declared(200, &[])],
        ),
        &Fake::new(),
    );
    let got = call(&r, get("/dev/m")).await;
    assert_eq!(
        (got.status, got.text().as_str()),
        (500, r#"{"message": "Internal server error"}"#)
    );
}

/// What a fake AWS endpoint saw: `(path, Credential= key id, X-Amz-Security-Token, body)`.
type Seen = Arc<std::sync::Mutex<Vec<(String, String, Option<String>, String)>>>;

/// One fake AWS endpoint for STS (`POST /` with `Action=AssumeRole`) and a service: records
/// every request's signing key; `role/denied` is refused as AWS refuses it.
async fn fake_aws() -> (String, Seen) {
    use axum::extract::Request as R;
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |req: R| {
        let log = log.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let body = String::from_utf8_lossy(&body).into_owned();
            let header = |n: &str| {
                parts
                    .headers
                    .get(n)
                    .map(|v| v.to_str().unwrap().to_owned())
            };
            let key = header("authorization")
                .and_then(|a| {
                    let c = a.split("Credential=").nth(1)?;
                    Some(c.split('/').next()?.to_owned())
                })
                .unwrap_or_default();
            log.lock().unwrap().push((
                parts.uri.path().to_owned(),
                key,
                header("x-amz-security-token"),
                body.clone(),
            ));
            if body.contains("Action=AssumeRole") {
                if body.contains("role%2Fdenied") {
                    return (
                        http::StatusCode::FORBIDDEN,
                        "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>".to_owned(),
                    );
                }
                return (
                    http::StatusCode::OK,
                    "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAROLEKEY</AccessKeyId><SecretAccessKey>rolesecret</SecretAccessKey><SessionToken>role-token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>".to_owned(),
                );
            }
            (http::StatusCode::OK, "{}".to_owned())
        }
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn credentials_roles_are_assumed_and_their_keys_sign_the_request() {
    let (base, seen) = fake_aws().await;
    let to_sqs = |credentials: &str| {
        mapped(
            MappedTarget::AwsService {
                uri: "arn:aws:apigateway:us-east-1:sqs:path/123456789012/q".into(),
                method: "POST".into(),
                credentials: Some(credentials.into()),
            },
            vec![t("application/json", "Action=SendMessage&MessageBody=x")],
            Passthrough::Never,
            vec![response(None, 200, vec![])],
        )
    };
    let spec = api(
        "Api",
        RestStageSpec::new("dev"),
        vec![
            method(
                "POST",
                "/role",
                to_sqs("arn:aws:iam::123456789012:role/apigw"),
            ),
            method("POST", "/caller", to_sqs("arn:aws:iam::*:user/*")),
            method(
                "POST",
                "/denied",
                to_sqs("arn:aws:iam::123456789012:role/denied"),
            ),
        ],
    );
    let settings = ledge_gateway::rest::aws::AwsSettings {
        credentials: Some(ledge_gateway::rest::aws::AwsCredentials {
            access_key_id: "AKIDCHAIN".into(),
            secret_access_key: "chainsecret".into(),
            session_token: None,
        }),
        region: Some("us-east-1".into()),
        endpoint: Some(base.clone()),
        ..Default::default()
    };
    let options = RestOptions {
        aws: Arc::new(settings),
        ..RestOptions::default()
    };
    let api = RestApi::new(spec, Fake::new(), options).expect("compiles");
    let r = router(api);
    let post = |path: &str| {
        req(
            "POST",
            &format!("/dev/{path}"),
            &[("content-type", "application/json")],
            "{}",
        )
    };
    let take = || std::mem::take(&mut *seen.lock().unwrap());

    let got = call(&r, post("role")).await;
    assert_eq!(got.status, 200, "{}", got.text());
    let calls = take();
    assert_eq!(calls.len(), 2, "{calls:?}");
    let (path, key, token, body) = &calls[0];
    assert_eq!(
        (path.as_str(), key.as_str(), token.as_deref()),
        ("/", "AKIDCHAIN", None),
        "AssumeRole is signed with the chain's keys"
    );
    assert!(
        body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapigw"),
        "{body}"
    );
    let (path, key, token, _) = &calls[1];
    assert_eq!(
        (path.as_str(), key.as_str(), token.as_deref()),
        ("/123456789012/q", "ASIAROLEKEY", Some("role-token")),
        "the integration request is signed with the role's keys"
    );

    let got = call(&r, post("role")).await;
    assert_eq!(got.status, 200);
    let calls = take();
    assert_eq!(calls.len(), 1, "the role's keys are cached: {calls:?}");
    assert_eq!(calls[0].1, "ASIAROLEKEY");

    let got = call(&r, post("caller")).await;
    assert_eq!(got.status, 200);
    let calls = take();
    assert_eq!(
        calls
            .iter()
            .map(|c| (c.0.as_str(), c.1.as_str(), c.2.clone()))
            .collect::<Vec<_>>(),
        vec![("/123456789012/q", "AKIDCHAIN", None)],
        "arn:aws:iam::*:user/* signs with the caller's (here: the chain's) keys"
    );

    let got = call(&r, post("denied")).await;
    assert_eq!(
        (got.status, got.text().as_str()),
        (500, r#"{"message": "Internal server error"}"#)
    );
    let calls = take();
    assert_eq!(
        calls.len(),
        1,
        "refused by STS: the service is never called"
    );
}

#[tokio::test]
async fn x_amz_invocation_type_event_invokes_the_function_detached() {
    let fake = Fake::new();
    fake.on_slow("Worker", Duration::from_secs(3600), |_| {
        ok(json!({"done": true}))
    });
    let with_type = |source: &str| {
        let RestIntegration::Mapped(mut m) = mapped(
            MappedTarget::Lambda {
                function: "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:Worker/invocations".into(),
            },
            vec![t("application/json", r#"{"job": $input.json('$.job')}"#)],
            Passthrough::WhenNoMatch,
            vec![response(None, 200, vec![t("application/json", r#"{"queued": true}"#)])],
        ) else {
            unreachable!("mapped() builds a mapped integration")
        };
        m.request_parameters = vec![(
            "integration.request.header.X-Amz-Invocation-Type".into(),
            source.into(),
        )];
        RestIntegration::Mapped(m)
    };
    let (r, _) = serve(
        api(
            "Api",
            RestStageSpec::new("dev"),
            vec![
                method("POST", "/always", with_type("'Event'")),
                method(
                    "POST",
                    "/choose",
                    with_type("method.request.header.InvocationType"),
                ),
            ],
        ),
        &fake,
    );
    let post = |path: &str, kind: &str| {
        req(
            "POST",
            &format!("/dev/{path}"),
            &[
                ("content-type", "application/json"),
                ("invocationtype", kind),
            ],
            r#"{"job": 7}"#,
        )
    };
    // The function takes an hour: only a detached invocation answers now.
    for (path, kind) in [("always", ""), ("choose", "Event")] {
        let got = tokio::time::timeout(Duration::from_secs(10), call(&r, post(path, kind)))
            .await
            .expect("answers before the function finishes");
        assert_eq!(
            (got.status, got.json()),
            (200, json!({"queued": true})),
            "{path}"
        );
    }
    let start = std::time::Instant::now();
    while fake.count("Worker") < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "never invoked");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(fake.calls("Worker")[0], json!({"job": 7}));
    // RequestResponse (or no header) waits for the function.
    let sync = tokio::time::timeout(
        Duration::from_millis(500),
        call(&r, post("choose", "RequestResponse")),
    )
    .await;
    assert!(
        sync.is_err(),
        "a synchronous invocation waits for the function"
    );
}
