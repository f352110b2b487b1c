//! The Lambda API's place in the platform: its options, the asynchronous queue's worker,
//! and the template's `EventInvokeConfig`s. The API itself lives in `ledge-lambda-api`.

use std::time::Duration;

use ledge_runtime::Runtime;
use ledge_template::Template;

/// How the Lambda API behaves.
#[derive(Debug, Clone)]
pub struct LambdaOptions {
    /// Wait before the first retry of a failed asynchronous invocation (doubled before
    /// the second). AWS: 1 minute.
    pub async_retry_base: Duration,
    /// Require SigV4 signatures by one of `access_keys`.
    pub auth: bool,
    /// `(access key id, secret)` pairs accepted with `auth`.
    pub access_keys: Vec<(String, String)>,
}

impl Default for LambdaOptions {
    fn default() -> Self {
        Self {
            async_retry_base: Duration::from_secs(60),
            auth: false,
            access_keys: Vec::new(),
        }
    }
}

/// Records the template's `EventInvokeConfig`s: the SAM function property (for
/// `$LATEST`) and `AWS::Lambda::EventInvokeConfig` resources. Returns warnings.
pub(crate) fn apply_event_configs(runtime: &Runtime, template: &Template) -> Vec<String> {
    let store = runtime.store();
    let mut warnings = Vec::new();
    for spec in &template.functions {
        let Some(id) = &spec.logical_id else { continue };
        let Some(props) = template
            .resources
            .get(id)
            .and_then(|r| r.properties.get("EventInvokeConfig"))
        else {
            continue;
        };
        if let Err(e) = ledge_lambda_api::apply_template_event_config(
            store,
            spec.name.as_str(),
            "$LATEST",
            props,
        ) {
            warnings.push(format!("EventInvokeConfig of {e}"));
        }
    }
    for r in template.resources.values() {
        if r.kind != "AWS::Lambda::EventInvokeConfig" {
            continue;
        }
        let Some(target) = r.properties.get("FunctionName").and_then(|v| v.as_str()) else {
            continue;
        };
        let name = template
            .function(target)
            .map(|f| f.name.to_string())
            .unwrap_or_else(|| target.to_owned());
        let qualifier = r
            .properties
            .get("Qualifier")
            .and_then(|v| v.as_str())
            .unwrap_or("$LATEST");
        if let Err(e) =
            ledge_lambda_api::apply_template_event_config(store, &name, qualifier, &r.properties)
        {
            warnings.push(format!("{}: {e}", r.logical_id));
        }
    }
    warnings
}
