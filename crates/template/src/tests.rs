//! Whole-template tests through [`crate::load_str`].

use std::collections::BTreeMap;

use ledge_model::{Architecture, LayerRef, Runtime};
use serde_json::json;

use crate::{load_str, LoadOptions, Template, TemplateError};

/// A folder with `src/` and `layer/` in it, so code paths exist.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["src", "layer"] {
        std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
    }
    dir
}

fn load_opts(text: &str, opts: &LoadOptions) -> Result<Template, TemplateError> {
    let dir = workdir();
    load_str(text, dir.path(), "template.yaml", opts)
}

/// Default options, but a fixed stack name (the temporary folder's name would vary).
fn opts() -> LoadOptions {
    LoadOptions {
        stack_name: "ledge".into(),
        ..LoadOptions::default()
    }
}

fn load(text: &str) -> Template {
    match load_opts(text, &opts()) {
        Ok(t) => t,
        Err(e) => panic!("template should load: {e}"),
    }
}

fn load_err(text: &str) -> String {
    match load_opts(text, &opts()) {
        Ok(_) => panic!("template should be refused"),
        Err(e) => e.to_string(),
    }
}

fn env(t: &Template, function: &str) -> BTreeMap<String, String> {
    t.function(function).expect("function").environment.clone()
}

const PREAMBLE: &str = "Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
  Names:
    Type: CommaDelimitedList
    Default: a,b,c
Mappings:
  Sizes:
    dev: {Memory: 256, Label: small}
    prod: {Memory: 1024, Label: big}
Conditions:
  IsDev: !Equals [!Ref Stage, dev]
  IsProd:
    Fn::Equals: [{Ref: Stage}, prod]
  NotProd: !Not [!Condition IsProd]
  NotProdLong:
    Fn::Not: [{Condition: IsProd}]
  Both: !And [!Condition IsDev, !Condition NotProd]
  BothLong:
    Fn::And: [{Condition: IsDev}, {Condition: NotProd}]
  Either: !Or [!Condition IsProd, !Condition IsDev]
  EitherLong:
    Fn::Or: [{Condition: IsProd}, {Condition: IsDev}]
";

#[test]
fn every_intrinsic_reads_the_same_in_both_forms() {
    let text = format!(
        "{PREAMBLE}Resources:
  Other:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: other-fn
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          REF_S: !Ref Stage
          REF_L: {{Ref: Stage}}
          GETATT_S: !GetAtt Other.Arn
          GETATT_L: {{'Fn::GetAtt': [Other, Arn]}}
          SUB_S: !Sub '${{Stage}}-${{AWS::Region}}'
          SUB_L: {{'Fn::Sub': '${{Stage}}-${{AWS::Region}}'}}
          JOIN_S: !Join ['-', !Ref Names]
          JOIN_L: {{'Fn::Join': ['-', {{Ref: Names}}]}}
          SELECT_S: !Select [1, !Ref Names]
          SELECT_L: {{'Fn::Select': ['1', {{Ref: Names}}]}}
          SPLIT_S: !Join ['+', !Split [',', 'x,y']]
          SPLIT_L: {{'Fn::Join': ['+', {{'Fn::Split': [',', 'x,y']}}]}}
          IF_S: !If [IsDev, yes-dev, no-dev]
          IF_L: {{'Fn::If': [IsDev, yes-dev, no-dev]}}
          EQUALS_S: !Equals [a, a]
          EQUALS_L: {{'Fn::Equals': [a, b]}}
          NOT_S: !If [NotProd, t, f]
          NOT_L: !If [NotProdLong, t, f]
          AND_S: !If [Both, t, f]
          AND_L: !If [BothLong, t, f]
          OR_S: !If [Either, t, f]
          OR_L: !If [EitherLong, t, f]
          MAP_S: !FindInMap [Sizes, !Ref Stage, Label]
          MAP_L: {{'Fn::FindInMap': [Sizes, {{Ref: Stage}}, Label]}}
          B64_S: !Base64 hello
          B64_L: {{'Fn::Base64': hello}}
          AZS_S: !Select [0, !GetAZs '']
          AZS_L: {{'Fn::Select': [0, {{'Fn::GetAZs': {{Ref: 'AWS::Region'}}}}]}}
"
    );
    let t = load(&text);
    let vars = env(&t, "Fn");
    let expect = [
        ("REF", "dev"),
        (
            "GETATT",
            "arn:aws:lambda:us-east-1:123456789012:function:other-fn",
        ),
        ("SUB", "dev-us-east-1"),
        ("JOIN", "a-b-c"),
        ("SELECT", "b"),
        ("SPLIT", "x+y"),
        ("IF", "yes-dev"),
        ("NOT", "t"),
        ("AND", "t"),
        ("OR", "t"),
        ("MAP", "small"),
        ("B64", "aGVsbG8="),
        ("AZS", "us-east-1a"),
    ];
    for (name, value) in expect {
        assert_eq!(vars[&format!("{name}_S")], value, "{name} short form");
        assert_eq!(vars[&format!("{name}_L")], value, "{name} long form");
    }
    assert_eq!(vars["EQUALS_S"], "true");
    assert_eq!(vars["EQUALS_L"], "false");
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[test]
fn conditions_follow_parameter_overrides() {
    let text = format!(
        "{PREAMBLE}Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
      Environment:
        Variables:
          IF: !If [IsProd, p, d]
"
    );
    let opts = LoadOptions {
        parameter_overrides: [("Stage".to_owned(), "prod".to_owned())].into(),
        ..LoadOptions::default()
    };
    let t = load_opts(&text, &opts).expect("loads");
    let f = t.function("Fn").expect("function");
    assert_eq!(f.memory.get(), 1024);
    assert_eq!(f.environment["IF"], "p");
    assert_eq!(t.parameters["Stage"], "prod");
    assert_eq!(t.parameters["Names"], "a,b,c");
}

#[test]
fn unknown_parameter_override_is_refused() {
    let opts = LoadOptions {
        parameter_overrides: [("Stag".to_owned(), "prod".to_owned())].into(),
        ..LoadOptions::default()
    };
    let e = load_opts(
        &format!("{PREAMBLE}Resources:\n  B: {{Type: AWS::S3::Bucket}}\n"),
        &opts,
    )
    .expect_err("refused");
    assert_eq!(
        e.to_string(),
        "template.yaml: parameter override Stag: the template declares no parameter Stag (declared: Stage, Names)"
    );
}

#[test]
fn resource_conditions_omit_resources() {
    let text = format!(
        "{PREAMBLE}Resources:
  ProdOnly:
    Type: AWS::Serverless::Function
    Condition: IsProd
    Properties: {{CodeUri: src, Handler: app.handler, Runtime: python3.12}}
  DevOnly:
    Type: AWS::Serverless::Function
    Condition: IsDev
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          PEER: !If [IsProd, !Ref ProdOnly, none]
"
    );
    let t = load(&text);
    assert!(t.function("ProdOnly").is_none());
    assert!(!t.resources.contains_key("ProdOnly"));
    assert_eq!(env(&t, "DevOnly")["PEER"], "none");

    let e = load_err(&text.replace("!If [IsProd, !Ref ProdOnly, none]", "!Ref ProdOnly"));
    assert!(
        e.contains("resource DevOnly, property Environment: resource ProdOnly is not created because its condition is false"),
        "{e}"
    );
}

#[test]
fn undefined_conditions_and_cycles_are_errors() {
    let e = load_err(
        "Conditions:\n  A: !Condition B\n  B: !Condition A\nResources:\n  X: {Type: AWS::S3::Bucket}\n",
    );
    assert!(
        e.contains("condition A") && e.contains("depends on itself"),
        "{e}"
    );
    let e = load_err("Resources:\n  X:\n    Type: AWS::S3::Bucket\n    Condition: Nope\n");
    assert_eq!(
        e,
        "template.yaml:4:16: resource X: condition Nope is not defined in Conditions"
    );
}

#[test]
fn no_value_removes_the_enclosing_property() {
    let t = load(
        "Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      ReservedConcurrentExecutions: !Ref AWS::NoValue
      Layers:
        - !Ref AWS::NoValue
        - arn:aws:lambda:us-east-1:123456789012:layer:x:3
      Environment:
        Variables:
          KEEP: kept
          DROP: {Ref: 'AWS::NoValue'}
",
    );
    let f = t.function("Fn").expect("function");
    assert_eq!(f.reserved_concurrency, None);
    assert_eq!(f.layers.len(), 1);
    assert_eq!(f.environment.len(), 1);
    let props = &t.resources["Fn"].properties;
    assert!(props.get("ReservedConcurrentExecutions").is_none());
    assert_eq!(props["Environment"]["Variables"], json!({"KEEP": "kept"}));
}

#[test]
fn get_att_gives_local_arns_and_warns_once_for_unknown_attributes() {
    let text = "Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: my-fn
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          ARN: !GetAtt Fn.Arn
          ARN_LIST: !GetAtt [Fn, Arn]
          ROLE: !GetAtt Role.Arn
          IMPLICIT_ROLE: !GetAtt FnRole.Arn
          LAYER: !Ref Lib
          ROOT: !GetAtt Api.RootResourceId
          HTTP: !GetAtt Http.ApiEndpoint
          BUCKET: !GetAtt Bucket.Arn
          ODD: !GetAtt Bucket.Nonsense
          ODD_AGAIN: !Sub '${Bucket.Nonsense}'
  Role: {Type: AWS::IAM::Role}
  Lib:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer, LayerName: shared-lib}
  Api: {Type: AWS::Serverless::Api, Properties: {StageName: Prod}}
  Http: {Type: AWS::Serverless::HttpApi}
  Bucket: {Type: AWS::S3::Bucket, Properties: {BucketName: assets}}
";
    let t = load(text);
    let vars = env(&t, "my-fn");
    assert_eq!(
        vars["ARN"],
        "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
    );
    assert_eq!(vars["ARN_LIST"], vars["ARN"]);
    assert_eq!(vars["ROLE"], "arn:aws:iam::123456789012:role/Role");
    assert_eq!(
        vars["IMPLICIT_ROLE"],
        "arn:aws:iam::123456789012:role/FnRole"
    );
    assert_eq!(
        vars["LAYER"],
        "arn:aws:lambda:us-east-1:123456789012:layer:shared-lib:1"
    );
    assert_eq!(vars["ROOT"].len(), 10);
    assert_eq!(
        vars["HTTP"],
        "https://Http.execute-api.us-east-1.amazonaws.com"
    );
    assert_eq!(vars["BUCKET"], "arn:aws:s3:::assets");
    assert_eq!(vars["ODD"], "ledge:unresolved:Bucket.Nonsense");
    assert_eq!(vars["ODD_AGAIN"], vars["ODD"]);
    let odd: Vec<_> = t
        .warnings
        .iter()
        .filter(|w| w.contains("Nonsense"))
        .collect();
    assert_eq!(odd.len(), 2, "one per place it is used: {odd:?}");
    assert!(
        odd[0].starts_with("template.yaml:19:24: Fn::GetAtt Bucket.Nonsense"),
        "{}",
        odd[0]
    );
    // Deterministic across loads.
    assert_eq!(env(&load(text), "my-fn")["ROOT"], vars["ROOT"]);
}

#[test]
fn sub_handles_every_kind_of_variable() {
    let opts = LoadOptions {
        region: "eu-west-1".into(),
        account_id: "111122223333".into(),
        stack_name: "shop".into(),
        ..LoadOptions::default()
    };
    let t = load_opts(
        "Parameters:
  Stage: {Type: String, Default: beta}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          PARAM: !Sub '${Stage}'
          PSEUDO: !Sub '${AWS::Region}/${AWS::AccountId}/${AWS::StackName}/${AWS::Partition}/${AWS::URLSuffix}'
          RESOURCE: !Sub 'name=${Fn}'
          ATTR: !Sub '${Fn.Arn}'
          LITERAL: !Sub 'keep ${!Literal} and $notavar'
          VARS: !Sub
            - '${A}-${B}-${Stage}'
            - A: plain
              B: !Join ['', [x, !Ref Stage]]
          MULTI: !Sub |
            line ${Stage}
            second
          STACK_ID: !Ref AWS::StackId
",
        &opts,
    )
    .expect("loads");
    let vars = env(&t, "Fn");
    assert_eq!(vars["PARAM"], "beta");
    assert_eq!(
        vars["PSEUDO"],
        "eu-west-1/111122223333/shop/aws/amazonaws.com"
    );
    assert_eq!(vars["RESOURCE"], "name=Fn");
    assert_eq!(
        vars["ATTR"],
        "arn:aws:lambda:eu-west-1:111122223333:function:Fn"
    );
    assert_eq!(vars["LITERAL"], "keep ${Literal} and $notavar");
    assert_eq!(vars["VARS"], "plain-xbeta-beta");
    assert_eq!(vars["MULTI"], "line beta\nsecond\n");
    assert!(
        vars["STACK_ID"].starts_with("arn:aws:cloudformation:eu-west-1:111122223333:stack/shop/")
    );
    assert_eq!(t.stack_name, "shop");
}

#[test]
fn sam_alias_refs_language_extensions_and_imports() {
    let t = load(
        "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Globals:
  Function: {AutoPublishAlias: live}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          ALIAS: !Ref Fn.Alias
          COUNT: !Length [a, b, c]
          JSON: !ToJsonString {k: [1, true]}
          SHARED: !ImportValue shared-vpc
          DEFAULTED: !FindInMap [Nope, a, b, {DefaultValue: fallback}]
",
    );
    let vars = env(&t, "Fn");
    assert_eq!(
        vars["ALIAS"],
        "arn:aws:lambda:us-east-1:123456789012:function:Fn:live"
    );
    assert_eq!(vars["COUNT"], "3");
    assert_eq!(vars["JSON"], r#"{"k":[1,true]}"#);
    assert_eq!(vars["SHARED"], "ledge:import:shared-vpc");
    assert_eq!(vars["DEFAULTED"], "fallback");
    assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
    assert!(t.warnings[0].contains("Fn::ImportValue shared-vpc"));
}

#[test]
fn versions_resolve_to_what_the_platform_published() {
    let text = "Globals:
  Function: {AutoPublishAlias: live}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12}
  Other:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12, AutoPublishAlias: prod-1}
  Pinned:
    Type: AWS::Lambda::Version
    Properties: {FunctionName: !GetAtt Other.Arn, Description: pinned}
  Named:
    Type: AWS::Lambda::Alias
    Properties: {FunctionName: !Ref Other, FunctionVersion: !GetAtt Pinned.Version, Name: stable}
  Out:
    Type: AWS::SNS::Topic
    Properties:
      Refs:
        - !Ref Fn.Version
        - !GetAtt Fn.Version.FunctionArn
        - !GetAtt Fn.Version.Version
        - !Ref FnAliaslive
        - !Ref OtherAliasprod1
        - !Ref Pinned
        - !GetAtt Pinned.Version
        - !GetAtt Pinned.FunctionArn
        - !Ref Named
";
    let arn = "arn:aws:lambda:us-east-1:123456789012:function";
    let refs = |t: &Template| t.resources["Out"].properties["Refs"].clone();
    // Nothing published yet: what a first deployment gets, version 1.
    let first = load(text);
    assert_eq!(
        refs(&first),
        json!([
            format!("{arn}:Fn:1"),
            format!("{arn}:Fn:1"),
            "1",
            format!("{arn}:Fn:live"),
            format!("{arn}:Other:prod-1"),
            format!("{arn}:Other:1"),
            "1",
            format!("{arn}:Other:1"),
            format!("{arn}:Other:stable"),
        ])
    );
    let later = load_opts(
        text,
        &LoadOptions {
            versions: BTreeMap::from([("Fn".to_owned(), 3), ("Pinned".to_owned(), 7)]),
            ..opts()
        },
    )
    .expect("loads");
    assert_eq!(
        refs(&later),
        json!([
            format!("{arn}:Fn:3"),
            format!("{arn}:Fn:3"),
            "3",
            format!("{arn}:Fn:live"),
            format!("{arn}:Other:prod-1"),
            format!("{arn}:Other:7"),
            "7",
            format!("{arn}:Other:7"),
            format!("{arn}:Other:stable"),
        ])
    );
    let e = load_err(
        "Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Environment: {Variables: {A: !GetAtt Fn.Version.FunctionArn}}
",
    );
    assert!(e.contains("needs AutoPublishAlias on Fn"), "{e}");
}

#[test]
fn sub_of_an_unknown_name_is_an_error() {
    let e = load_err(
        "Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Description: !Sub '${Missing}'
",
    );
    assert_eq!(
        e,
        "template.yaml:8:25: resource Fn, property Description: unresolved reference Missing: no parameter or resource of that name"
    );
}

#[test]
fn globals_merge_like_sam() {
    let t = load(
        "Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    CodeUri: src
    Timeout: 30
    MemorySize: 512
    Architectures: [x86_64]
    Layers: [arn:aws:lambda:us-east-1:123456789012:layer:global:1]
    Environment:
      Variables: {TABLE: t, LEVEL: info}
  Api:
    Cors: \"'*'\"
  HttpApi:
    CorsConfiguration: {AllowOrigins: ['*']}
  SimpleTable:
    SSESpecification: {SSEEnabled: true}
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 5
      Architectures: [arm64]
      Layers: [!Ref Lib]
      Environment:
        Variables: {LEVEL: debug, EXTRA: x}
  B:
    Type: AWS::Serverless::Function
  C:
    Type: AWS::Lambda::Function
    Properties: {Code: src, Handler: h.h, Runtime: python3.11}
  Lib:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layer}
  MyApi:
    Type: AWS::Serverless::Api
    Properties: {StageName: Prod}
",
    );
    let a = t.function("A").expect("A");
    assert_eq!(a.timeout.get(), 5);
    assert_eq!(a.memory.get(), 512);
    assert_eq!(a.architecture, Architecture::Arm64);
    assert_eq!(
        a.layers,
        vec![
            LayerRef::Arn("arn:aws:lambda:us-east-1:123456789012:layer:global:1".into()),
            LayerRef::Logical("Lib".into()),
        ]
    );
    assert_eq!(
        a.environment,
        [("TABLE", "t"), ("LEVEL", "debug"), ("EXTRA", "x")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into()
    );
    let b = t.function("B").expect("B");
    assert_eq!((b.timeout.get(), b.memory.get()), (30, 512));
    assert_eq!(b.handler, "app.handler");
    assert_eq!(b.runtime, Runtime::Python(12));
    // Globals never reach plain CloudFormation functions.
    let c = t.function("C").expect("C");
    assert_eq!((c.timeout.get(), c.memory.get()), (3, 128));
    assert!(c.environment.is_empty());
    // Other sections are kept, and merged into their SAM resources.
    assert_eq!(t.globals["Api"], json!({"Cors": "'*'"}));
    assert_eq!(
        t.globals["HttpApi"]["CorsConfiguration"]["AllowOrigins"],
        json!(["*"])
    );
    assert_eq!(
        t.globals["SimpleTable"]["SSESpecification"]["SSEEnabled"],
        json!(true)
    );
    assert_eq!(
        t.resources["MyApi"].properties,
        json!({"Cors": "'*'", "StageName": "Prod"})
    );
    assert_eq!(t.resources["A"].properties["Timeout"], json!(5));
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[test]
fn globals_refuse_per_function_properties() {
    let t = load(
        "Globals:
  Function:
    FunctionName: shared
    Runtime: python3.12
    Colour: blue
  Widget: {}
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src, Handler: app.h}
",
    );
    assert_eq!(t.function("A").expect("A").name.as_str(), "A");
    assert_eq!(t.warnings.len(), 3, "{:?}", t.warnings);
    assert!(
        t.warnings[0].contains("Globals.Function: property FunctionName cannot be set globally")
    );
    assert!(t.warnings[1].contains("Globals.Function: unknown property Colour"));
    assert!(t.warnings[2].contains("unknown Globals section Widget"));
}

#[test]
fn layers_ref_becomes_logical_anything_else_an_arn() {
    let t = load(
        "Parameters:
  SharedArn: {Type: String, Default: 'arn:aws:lambda:us-east-1:999999999999:layer:p:7'}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Layers:
        - !Ref Lib
        - Ref: CfnLib
        - !Ref SharedArn
        - !Sub 'arn:aws:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPythonV2:68'
  Lib:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer
      CompatibleRuntimes: [python3.12]
      CompatibleArchitectures: [arm64]
      Description: shared code
      LicenseInfo: MIT
      RetentionPolicy: Retain
  CfnLib:
    Type: AWS::Lambda::LayerVersion
    Properties: {Content: layer, LayerName: cfn-lib}
",
    );
    let f = t.function("Fn").expect("Fn");
    assert_eq!(
        f.layers,
        vec![
            LayerRef::Logical("Lib".into()),
            LayerRef::Logical("CfnLib".into()),
            LayerRef::Arn("arn:aws:lambda:us-east-1:999999999999:layer:p:7".into()),
            LayerRef::Arn(
                "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV2:68".into()
            ),
        ]
    );
    let lib = t.layer("Lib").expect("Lib");
    assert_eq!(lib.name, "Lib");
    assert!(lib.content.is_absolute() && lib.content.ends_with("layer"));
    assert_eq!(lib.compatible_runtimes, ["python3.12"]);
    assert_eq!(lib.compatible_architectures, ["arm64"]);
    assert_eq!(lib.description, "shared code");
    assert_eq!(lib.license_info.as_deref(), Some("MIT"));
    assert_eq!(lib.retention_policy.as_deref(), Some("Retain"));
    assert_eq!(t.layer("CfnLib").expect("CfnLib").name, "cfn-lib");
    // Outside Layers, a Ref to a layer is its version ARN.
    assert_eq!(
        t.resources["Fn"].properties["Layers"][0],
        json!("arn:aws:lambda:us-east-1:123456789012:layer:Lib:1")
    );
}

#[test]
fn a_layer_name_that_is_no_arn_is_refused() {
    let e = load_err(
        "Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Layers: [just-a-name]
",
    );
    assert!(
        e.starts_with("template.yaml:8:15: resource Fn, property Layers: value \"just-a-name\""),
        "{e}"
    );
}

#[test]
fn events_are_kept_in_order_whatever_their_type() {
    let t = load(
        "Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Events:
        Zeta:
          Type: Api
          Properties: {Path: /hello, Method: get}
        Alpha:
          Type: Schedule
          Properties:
            Schedule: rate(5 minutes)
            Input: !Sub '{\"stage\": \"${AWS::Region}\"}'
        Mid:
          Type: SomethingNew
",
    );
    let events = &t.function("Fn").expect("Fn").events;
    let names: Vec<_> = events
        .iter()
        .map(|e| (e.name.as_str(), e.kind.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("Zeta", "Api"),
            ("Alpha", "Schedule"),
            ("Mid", "SomethingNew")
        ]
    );
    assert_eq!(
        events[0].properties,
        json!({"Path": "/hello", "Method": "get"})
    );
    assert_eq!(
        events[1].properties["Input"],
        json!("{\"stage\": \"us-east-1\"}")
    );
    assert_eq!(events[2].properties, json!({}));
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[test]
fn unknown_types_and_properties_warn_once_each() {
    let t = load(
        "Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub '${AWS::StackName}-q'}
  Topic:
    Type: AWS::SNS::Topic
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Tracing: Active
      Policies: [AWSLambdaBasicExecutionRole]
      AutoPublishAlias: live
      Colour: blue
      Environment:
        Variables:
          QUEUE_ARN: !GetAtt Queue.Arn
  Api: {Type: AWS::ApiGateway::RestApi}
  Dist: {Type: AWS::CloudFront::Distribution}
  Perm: {Type: AWS::Lambda::Permission}
",
    );
    assert_eq!(t.warnings.len(), 3, "{:#?}", t.warnings);
    assert_eq!(
        t.warnings[0],
        "template.yaml:2:3: resource Queue: unknown resource type AWS::SQS::Queue, skipped"
    );
    assert!(t.warnings[1].contains("unknown resource type AWS::SNS::Topic"));
    assert_eq!(
        t.warnings[2],
        "template.yaml:16:7: resource Fn, property Colour: unknown property, ignored"
    );
    // Unknown types are still kept, resolved.
    assert_eq!(
        t.resources["Queue"].properties["QueueName"],
        json!("ledge-q")
    );
    assert_eq!(t.resources["Queue"].kind, "AWS::SQS::Queue");
    assert_eq!(t.resources.len(), 6);
    assert_eq!(
        env(&t, "Fn")["QUEUE_ARN"],
        "arn:aws:sqs:us-east-1:123456789012:Queue"
    );
    assert_eq!(
        t.resources["Fn"].properties["AutoPublishAlias"],
        json!("live")
    );
}

#[test]
fn bad_yaml_points_at_line_and_column() {
    let e = load_err("Resources:\n  Fn:\n    Type: x: y\n");
    assert_eq!(
        e,
        "template.yaml:3:12: mapping values are not allowed in this context"
    );
}

#[test]
fn bad_memory_size_names_resource_property_and_line() {
    let e = load_err(
        "Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 64
",
    );
    assert_eq!(
        e,
        "template.yaml:8:19: resource HelloFunction, property MemorySize: value 64 must be between 128 and 10240 MB"
    );
}

#[test]
fn a_bad_global_is_reported_where_it_is_written() {
    let e = load_err(
        "Globals:
  Function:
    Timeout: 0
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src, Handler: app.handler, Runtime: python3.12}
",
    );
    assert_eq!(
        e,
        "template.yaml:3:14: resource Fn, property Timeout: value 0 must be between 1 and 900 seconds"
    );
}

#[test]
fn numbers_as_strings_are_accepted() {
    let t = load(
        "Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      MemorySize: '256'
      Timeout: \"60\"
      ReservedConcurrentExecutions: '0'
      EphemeralStorage: {Size: '2048'}
      Environment:
        Variables: {NUM: 3.10, ZIP: 0123, BOOL: true, INT: 42}
",
    );
    let f = t.function("Fn").expect("Fn");
    assert_eq!((f.memory.get(), f.timeout.get()), (256, 60));
    assert_eq!(f.reserved_concurrency, Some(0));
    assert_eq!(f.ephemeral_storage_mb, 2048);
    assert_eq!(f.environment["NUM"], "3.10");
    assert_eq!(f.environment["ZIP"], "0123");
    assert_eq!(f.environment["BOOL"], "true");
    assert_eq!(f.environment["INT"], "42");
}

#[test]
fn lambda_defaults_and_limits() {
    let base = "Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Runtime: provided.al2023
";
    let t = load(base);
    let f = t.function("Fn").expect("Fn");
    assert_eq!(f.handler, "bootstrap");
    assert_eq!(
        (f.memory.get(), f.timeout.get(), f.ephemeral_storage_mb),
        (128, 3, 512)
    );
    assert_eq!(f.architecture, Architecture::X86_64);
    assert_eq!(f.reserved_concurrency, None);
    assert_eq!(f.description, "");

    let custom = format!("{base}      Handler: my.handler\n");
    assert_eq!(
        load(&custom).function("Fn").expect("Fn").handler,
        "my.handler"
    );

    let cases = [
        (
            "      Handler: x\n",
            "Runtime: provided.al2023",
            "Runtime: java21",
            "property Runtime: value \"java21\" must be one of",
        ),
        (
            "",
            "Runtime: provided.al2023",
            "Runtime: python3.12",
            "resource Fn: property Handler is required for runtime python3.12",
        ),
        (
            "",
            "Runtime: provided.al2023\n",
            "\n",
            "resource Fn: property Runtime is required",
        ),
        (
            "      EphemeralStorage: {Size: 256}\n",
            "",
            "",
            "property EphemeralStorage.Size: value 256 must be between 512 and 10240 MB",
        ),
        (
            "      Architectures: [x86_64, arm64]\n",
            "",
            "",
            "property Architectures: must list exactly one architecture",
        ),
        (
            "      Architectures: [sparc]\n",
            "",
            "",
            "property Architectures: value \"sparc\" must satisfy enum value set",
        ),
        (
            "      Timeout: 901\n",
            "",
            "",
            "property Timeout: value 901 must be between 1 and 900 seconds",
        ),
        (
            "      MemorySize: 1.5\n",
            "",
            "",
            "property MemorySize: value 1.5 is not a whole number",
        ),
        (
            "      ReservedConcurrentExecutions: -1\n",
            "",
            "",
            "property ReservedConcurrentExecutions: value -1 must be 0 or more",
        ),
        (
            "      FunctionName: 'has space'\n",
            "",
            "",
            "property FunctionName: value \"has space\" must satisfy regular expression",
        ),
        (
            "      Environment: {Variables: {AWS_REGION: x}}\n",
            "",
            "",
            "property Environment.Variables.AWS_REGION: AWS_REGION is reserved",
        ),
        (
            "      Environment: {Variables: {1X: x}}\n",
            "",
            "",
            "property Environment.Variables.1X: name \"1X\" must satisfy",
        ),
    ];
    for (extra, from, to, expected) in cases {
        let text = format!("{base}{extra}").replacen(from, to, 1);
        let e = load_err(&text);
        assert!(e.contains(expected), "{e}\n  expected: {expected}");
    }
}

#[test]
fn code_paths_resolve_against_the_template_folder() {
    let dir = workdir();
    std::fs::create_dir_all(dir.path().join("deep/app")).expect("mkdir");
    let t = load_str(
        "Resources:
  Dir:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ./deep/../src/, Handler: a.h, Runtime: python3.12}
  Zip:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: dist/fn.zip, Handler: a.h, Runtime: python3.12}
  NoUri:
    Type: AWS::Serverless::Function
    Properties: {Handler: a.h, Runtime: python3.12}
  Cfn:
    Type: AWS::Lambda::Function
    Properties: {Code: deep/app, Handler: a.h, Runtime: nodejs20.x}
",
        dir.path(),
        "template.yaml",
        &LoadOptions::default(),
    )
    .expect("loads");
    let root = crate::load::absolute(dir.path());
    assert_eq!(t.function("Dir").expect("Dir").code_dir, root.join("src"));
    assert_eq!(
        t.function("Zip").expect("Zip").code_dir,
        root.join("dist/fn.zip")
    );
    assert_eq!(t.function("NoUri").expect("NoUri").code_dir, root);
    assert_eq!(
        t.function("Cfn").expect("Cfn").code_dir,
        root.join("deep/app")
    );
    assert_eq!(t.function("Cfn").expect("Cfn").runtime, Runtime::NodeJs(20));
    assert_eq!(t.path, root.join("template.yaml"));
    // The missing zip is worth a warning, not an error.
    assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
    assert!(
        t.warnings[0].contains("property CodeUri")
            && t.warnings[0].ends_with("fn.zip does not exist")
    );
}

#[test]
fn code_that_is_not_local_is_skipped_with_a_warning() {
    let t = load(
        "Resources:
  Inline:
    Type: AWS::Lambda::Function
    Properties:
      Handler: index.handler
      Runtime: python3.12
      Code:
        ZipFile: |
          def handler(event, context):
              return 1
  S3:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: s3://bucket/key.zip, Handler: a.h, Runtime: python3.12}
  Image:
    Type: AWS::Serverless::Function
    Properties: {PackageType: Image, ImageUri: repo:tag}
  S3Layer:
    Type: AWS::Lambda::LayerVersion
    Properties: {Content: {S3Bucket: b, S3Key: k}}
",
    );
    assert!(t.functions.is_empty());
    assert!(t.layers.is_empty());
    assert_eq!(t.resources.len(), 4);
    assert_eq!(
        t.resources["Inline"].properties["Code"]["ZipFile"],
        json!("def handler(event, context):\n    return 1\n")
    );
    assert_eq!(t.warnings.len(), 4, "{:#?}", t.warnings);
    assert!(t.warnings[0].contains(
        "resource Inline, property Code.ZipFile: inline code (ZipFile) is not supported"
    ));
}

#[test]
fn function_lookup_by_name_or_logical_id() {
    let t = load(
        "Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: !Sub '${AWS::StackName}-fn', CodeUri: src, Handler: a.h, Runtime: python3.12}
",
    );
    let by_name = t.function("ledge-fn").expect("by name");
    let by_id = t.function("Fn").expect("by id");
    assert_eq!(by_name, by_id);
    assert!(t.function("nope").is_none());
}

#[test]
fn duplicate_function_names_are_refused() {
    let e = load_err(
        "Resources:
  A:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: same, CodeUri: src, Handler: a.h, Runtime: python3.12}
  B:
    Type: AWS::Serverless::Function
    Properties: {FunctionName: same, CodeUri: src, Handler: a.h, Runtime: python3.12}
",
    );
    assert_eq!(
        e,
        "template.yaml:5:3: resource B: function name same is already used by resource A"
    );
}

#[test]
fn outputs_resolve_and_failures_are_skipped() {
    let t = load(
        "Conditions:
  Never: !Equals [a, b]
Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Events:
        Hello: {Type: Api, Properties: {Path: /hello, Method: get}}
Outputs:
  HelloWorldApi:
    Value: !Sub 'https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/'
  HelloWorldFunction:
    Value: !GetAtt HelloWorldFunction.Arn
  HelloWorldFunctionIamRole:
    Value: !GetAtt HelloWorldFunctionRole.Arn
  Hidden:
    Condition: Never
    Value: x
  Broken:
    Value: !Ref Nowhere
",
    );
    assert_eq!(
        t.outputs["HelloWorldApi"],
        "https://ServerlessRestApi.execute-api.us-east-1.amazonaws.com/Prod/hello/"
    );
    assert_eq!(
        t.outputs["HelloWorldFunction"],
        "arn:aws:lambda:us-east-1:123456789012:function:HelloWorldFunction"
    );
    assert_eq!(
        t.outputs["HelloWorldFunctionIamRole"],
        "arn:aws:iam::123456789012:role/HelloWorldFunctionRole"
    );
    assert_eq!(t.outputs.len(), 3);
    assert_eq!(t.warnings.len(), 1, "{:?}", t.warnings);
    assert!(
        t.warnings[0].contains("output Broken: unresolved reference Nowhere"),
        "{}",
        t.warnings[0]
    );
}

#[test]
fn transforms_in_both_shapes() {
    let ok = "Resources:\n  B: {Type: AWS::S3::Bucket}\n";
    assert!(
        load(&format!("Transform: AWS::Serverless-2016-10-31\n{ok}"))
            .warnings
            .is_empty()
    );
    assert!(load(&format!(
        "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\n{ok}"
    ))
    .warnings
    .is_empty());
    let t = load(&format!("Transform: AWS::CodeDeployBlueGreen\n{ok}"));
    assert_eq!(t.warnings.len(), 1);
    assert!(t.warnings[0].contains("transform AWS::CodeDeployBlueGreen is not supported"));
}

#[test]
fn outline_errors_are_clear() {
    assert_eq!(load_err(""), "template.yaml: the template is empty");
    assert_eq!(
        load_err("- a\n- b\n"),
        "template.yaml:1:1: a template must be a mapping at the top level (Resources, Parameters, …)"
    );
    assert_eq!(
        load_err("Description: nothing\n"),
        "template.yaml: the template has no Resources section"
    );
    assert_eq!(
        load_err("Resources: {}\n"),
        "template.yaml:1:12: Resources must be a mapping with at least one resource"
    );
    assert_eq!(
        load_err("Resources:\n  X: {Properties: {}}\n"),
        "template.yaml:2:3: resource X: Type is required"
    );
}

#[test]
fn anchors_and_block_strings() {
    let t = load(
        "Resources:
  A:
    Type: AWS::Serverless::Function
    Properties: &common
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      Description: >
        folded
        text
  B:
    Type: AWS::Serverless::Function
    Properties:
      <<: *common
      Timeout: 9
",
    );
    assert_eq!(t.function("A").expect("A").description, "folded text\n");
    let b = t.function("B").expect("B");
    assert_eq!((b.handler.as_str(), b.timeout.get()), ("app.handler", 9));
}

#[test]
fn missing_file_names_the_path() {
    let e = crate::load_file(
        std::path::Path::new("/nonexistent/ledge/template.yaml"),
        &LoadOptions::default(),
    )
    .expect_err("refused");
    assert!(
        e.to_string()
            .starts_with("cannot read template /nonexistent/ledge/template.yaml: "),
        "{e}"
    );
}

#[test]
fn stack_name_defaults_to_the_folder() {
    let dir = workdir();
    let app = dir.path().join("my_app");
    std::fs::create_dir(&app).expect("mkdir");
    let path = app.join("template.yaml");
    std::fs::write(
        &path,
        "Resources:\n  B: {Type: AWS::S3::Bucket, Properties: {BucketName: !Ref AWS::StackName}}\n",
    )
    .expect("write");
    let t = crate::load_file(&path, &LoadOptions::default()).expect("loads");
    assert_eq!(t.stack_name, "my-app");
    assert_eq!(t.resources["B"].properties["BucketName"], json!("my-app"));
    assert_eq!(t.path, crate::load::absolute(&path));
}

#[test]
fn long_chains_and_odd_documents_fail_cleanly() {
    let mut text = String::from("Conditions:\n");
    for i in 0..3000 {
        text.push_str(&format!("  C{i}: !Condition C{}\n", i + 1));
    }
    text.push_str("  C3000: !Equals [a, a]\nResources:\n  B: {Type: AWS::S3::Bucket}\n");
    assert!(load_err(&text).contains("chain through more than"));

    let mut text = String::from("Resources:\n");
    for i in 0..3000 {
        text.push_str(&format!(
            "  F{i}: {{Type: AWS::Lambda::Function, Properties: {{FunctionName: !Ref F{}}}}}\n",
            i + 1
        ));
    }
    text.push_str("  F3000: {Type: AWS::S3::Bucket}\n");
    assert!(load_err(&text).contains("chain through more than"));

    for odd in [
        "a\n---\nb\n",
        "--- a\n...\n--- b\n",
        "Resources: &r\n  X: *r\n",
        &"[".repeat(5000),
        &format!("{}1{}", "[".repeat(90), "]".repeat(90)),
        "? [a]\n: b\n",
        "Resources:\n  X: {Type: AWS::S3::Bucket, Properties: !Ref AWS::NoValue}\n",
        "Resources:\n  X: {Type: AWS::S3::Bucket, Properties: [1]}\n",
        "Resources:\n  X: {Type: !Ref T}\n",
    ] {
        let _ = load_opts(odd, &opts());
    }
}

mod never_panics {
    use proptest::prelude::*;

    use crate::{load_str, LoadOptions};

    /// Fragments that steer random input towards templates the loader digs into.
    fn templateish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("Resources:\n".to_owned()),
            Just("  Fn:\n    Type: AWS::Serverless::Function\n".to_owned()),
            Just("    Properties:\n".to_owned()),
            Just("      Runtime: python3.12\n      Handler: a.b\n".to_owned()),
            Just("      MemorySize: ".to_owned()),
            Just("!Ref ".to_owned()),
            Just("!Sub '${".to_owned()),
            Just("!GetAtt Fn.Arn\n".to_owned()),
            Just("!If [C, a, b]\n".to_owned()),
            Just("Conditions:\n  C: !Equals [a, !Ref P]\n".to_owned()),
            Just("Parameters:\n  P: {Type: String, Default: x}\n".to_owned()),
            Just("&a ".to_owned()),
            Just("*a".to_owned()),
            Just("<<: ".to_owned()),
            "[ -~\n]{0,12}",
        ];
        prop::collection::vec(piece, 0..24).prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = load_str(&text, std::path::Path::new("/nonexistent"), "t.yaml", &LoadOptions::default());
        }

        #[test]
        fn templateish_text_never_panics(text in templateish()) {
            let _ = load_str(&text, std::path::Path::new("/nonexistent"), "t.yaml", &LoadOptions::default());
        }
    }
}
