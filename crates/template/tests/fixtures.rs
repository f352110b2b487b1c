//! Loading the fixture templates under `tests/fixtures/` from disk, as `ledge up` would.

use std::path::{Path, PathBuf};

use ledge_model::{Architecture, LayerRef, Runtime};
use ledge_template::{load_file, LoadOptions, TemplateError};
use serde_json::json;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

#[test]
fn sam_app_loads_like_sam_would_deploy_it() {
    let path = fixture("sam-app/template.yaml");
    let t = load_file(&path, &LoadOptions::default()).expect("loads");
    assert!(t.warnings.is_empty(), "{:#?}", t.warnings);
    assert_eq!(t.stack_name, "sam-app");
    assert_eq!(t.path, path);

    // The conditional function is absent in dev.
    assert_eq!(t.functions.len(), 1);
    assert!(!t.resources.contains_key("ProdAlarmFunction"));

    let f = t.function("HelloWorldFunction").expect("function");
    assert_eq!(f.code_dir, fixture("sam-app/hello_world"));
    assert!(f.code_dir.join("app.py").is_file());
    assert_eq!(f.handler, "app.lambda_handler");
    assert_eq!(f.runtime, Runtime::Python(12));
    assert_eq!(f.memory.get(), 256);
    assert_eq!(f.timeout.get(), 10);
    assert_eq!(f.architecture, Architecture::X86_64);
    assert_eq!(f.environment["STAGE"], "dev");
    assert_eq!(f.environment["POWERTOOLS_SERVICE_NAME"], "hello");
    assert_eq!(f.environment["TABLE"], "Table");
    assert_eq!(f.layers, vec![LayerRef::Logical("SharedLayer".into())]);
    assert_eq!(f.events.len(), 1);
    assert_eq!(f.events[0].kind, "Api");
    assert_eq!(
        f.events[0].properties,
        json!({"Path": "/hello", "Method": "get"})
    );

    let layer = t.layer("SharedLayer").expect("layer");
    assert_eq!(layer.name, "sam-app-shared");
    assert_eq!(layer.content, fixture("sam-app/layers/shared"));
    assert_eq!(
        t.resources["SharedLayer"].metadata,
        json!({"BuildMethod": "python3.12"})
    );

    assert_eq!(
        t.outputs["HelloWorldApi"],
        "https://ServerlessRestApi.execute-api.us-east-1.amazonaws.com/Prod/hello/"
    );
    assert_eq!(
        t.outputs["HelloWorldFunction"],
        "arn:aws:lambda:us-east-1:123456789012:function:HelloWorldFunction"
    );
    assert_eq!(t.globals["Api"], json!({"TracingEnabled": true}));
    assert_eq!(t.resources["Table"].kind, "AWS::Serverless::SimpleTable");
}

#[test]
fn sam_app_in_prod() {
    let opts = LoadOptions {
        parameter_overrides: [("Stage".to_owned(), "prod".to_owned())].into(),
        region: "eu-central-1".into(),
        ..LoadOptions::default()
    };
    let t = load_file(&fixture("sam-app/template.yaml"), &opts).expect("loads");
    let names: Vec<_> = t.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["HelloWorldFunction", "ProdAlarmFunction"]);
    assert_eq!(
        t.function("HelloWorldFunction").expect("fn").memory.get(),
        1024
    );
    assert_eq!(
        t.function("ProdAlarmFunction").expect("fn").handler,
        "app.alarm"
    );
    assert!(t.outputs["HelloWorldApi"].contains(".eu-central-1."));
}

#[test]
fn plain_cloudformation_json_with_local_code() {
    let opts = LoadOptions {
        stack_name: "jobs".into(),
        ..LoadOptions::default()
    };
    let t = load_file(&fixture("cfn-app/template.json"), &opts).expect("loads");
    assert!(t.warnings.is_empty(), "{:#?}", t.warnings);
    let f = t.function("jobs-worker").expect("function");
    assert_eq!(f.logical_id.as_deref(), Some("Worker"));
    assert_eq!(f.code_dir, fixture("cfn-app/src"));
    assert_eq!(f.runtime, Runtime::NodeJs(20));
    assert_eq!((f.memory.get(), f.timeout.get()), (512, 20));
    assert_eq!(f.architecture, Architecture::Arm64);
    assert_eq!(f.reserved_concurrency, Some(2));
    assert_eq!(f.ephemeral_storage_mb, 1024);
    assert_eq!(f.layers, vec![LayerRef::Logical("Deps".into())]);
    assert_eq!(
        f.environment["SELF"],
        "jobs/arn:aws:lambda:us-east-1:123456789012:layer:deps:1"
    );
    assert_eq!(
        t.resources["Worker"].properties["Role"],
        json!("arn:aws:iam::123456789012:role/worker-role")
    );
    assert_eq!(
        t.layer("Deps").expect("layer").compatible_architectures,
        ["arm64"]
    );
}

#[test]
fn broken_yaml_points_at_the_line() {
    let path = fixture("broken/bad-yaml.yaml");
    let e = load_file(&path, &LoadOptions::default()).expect_err("broken");
    assert!(matches!(e, TemplateError::Yaml { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "{}:7:19: mapping values are not allowed in this context",
            path.display()
        )
    );
}

#[test]
fn bad_memory_names_resource_and_property() {
    let path = fixture("broken/bad-memory.yaml");
    let e = load_file(&path, &LoadOptions::default()).expect_err("broken");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:9:19: resource HelloFunction, property MemorySize: value 64 must be between 128 and 10240 MB",
            path.display()
        )
    );
}

#[test]
fn a_parameter_without_value_is_named() {
    let path = fixture("broken/no-default.yaml");
    let e = load_file(&path, &LoadOptions::default()).expect_err("broken");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2:3: parameter ApiKey: no value: it has no Default and no override was given",
            path.display()
        )
    );
    let opts = LoadOptions {
        parameter_overrides: [("ApiKey".to_owned(), "s3cret".to_owned())].into(),
        ..LoadOptions::default()
    };
    let t = load_file(&path, &opts).expect("loads with the override");
    assert_eq!(t.parameters["ApiKey"], "s3cret");
    assert!(t.functions.is_empty());
}

#[test]
fn a_missing_file_is_named() {
    let path = fixture("nope/template.yaml");
    let e = load_file(&path, &LoadOptions::default()).expect_err("missing");
    assert!(matches!(e, TemplateError::Read { .. }));
    assert!(e
        .to_string()
        .starts_with(&format!("cannot read template {}: ", path.display())));
}

#[test]
fn the_example_app_loads_without_warnings() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/template.yaml");
    let t = load_file(&path, &LoadOptions::default()).expect("the example template loads");
    assert!(t.warnings.is_empty(), "{:#?}", t.warnings);
    assert!(!t.functions.is_empty());
    for f in &t.functions {
        assert!(
            f.code_dir.is_dir(),
            "{} has no code at {}",
            f.name,
            f.code_dir.display()
        );
    }
}
