//! Deploy-time checks on `LambdaFunctionAssociations`: the ARN must name a numbered version
//! of a function of the template, and the function must be one Lambda@Edge accepts
//! (§4.5, §4.6). Refusals carry CloudFront's `InvalidLambdaFunctionAssociation` message.

use ledge_model::{Architecture, Runtime};
use ledge_template::Template;

use super::consts::INVALID_ASSOCIATION;
use super::Quotas;
use crate::spec::{DistributionSpec, TriggerPoint};
use crate::{EdgeConfig, EdgeError};

const UNRESOLVED: &str = "ledge:unresolved:";
const LAMBDA_VERSION: &str = "AWS::Lambda::Version";

/// `(function name or logical id, version)` an ARN names; `Err(())` when it names no
/// numbered version.
fn split_arn(template: &Template, arn: &str) -> Result<(String, String), ()> {
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    if let Some(rest) = arn.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.split(':').collect();
        return match parts.as_slice() {
            [_, "lambda", _, _, "function", name, q] if is_version(q) => {
                Ok(((*name).to_owned(), (*q).to_owned()))
            }
            _ => Err(()),
        };
    }
    // `!GetAtt Fn.Version.FunctionArn` / `!GetAtt Fn.Version.Version` (SAM) → version 1,
    // the version the template's `!Ref Fn.Version` names.
    if let Some(rest) = arn.strip_prefix(UNRESOLVED) {
        if let Some((id, attr)) = rest.split_once('.') {
            if attr.starts_with("Version") {
                return Ok((id.to_owned(), "1".to_owned()));
            }
        }
        return Err(());
    }
    // `!Ref Version` of an `AWS::Lambda::Version` gives its logical id here.
    if let Some(r) = template
        .resources
        .get(arn)
        .filter(|r| r.kind == LAMBDA_VERSION)
    {
        let f = r
            .properties
            .get("FunctionName")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let name = f.rsplit(":function:").next().unwrap_or(f);
        let name = name.split(':').next().unwrap_or(name);
        return Ok((name.to_owned(), "1".to_owned()));
    }
    Err(())
}

fn is_version(q: &str) -> bool {
    !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit())
}

fn region_of(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:").and_then(|r| r.split(':').nth(2))
}

/// Resolves and checks every association of `spec`.
pub(crate) fn resolve_associations(
    template: &Template,
    spec: &mut DistributionSpec,
    config: &EdgeConfig,
) -> Result<(), EdgeError> {
    let res = spec.logical_id.clone();
    let p = "DistributionConfig";
    let mut sites = vec![(
        format!("{p}.DefaultCacheBehavior"),
        &mut spec.default_behavior,
    )];
    for (i, b) in spec.behaviors.iter_mut().enumerate() {
        sites.push((format!("{p}.CacheBehaviors[{i}]"), b));
    }
    for (site, b) in sites {
        for (i, a) in b.lambda_associations.iter_mut().enumerate() {
            let prop = format!("{site}.LambdaFunctionAssociations[{i}]");
            let refuse = |what: &str, message: String| {
                EdgeError::spec(
                    &res,
                    format!("{prop}.{what}"),
                    format!("{INVALID_ASSOCIATION}: {message}"),
                )
            };
            let arn = a.function_arn.clone();
            if config.invoker.is_none() {
                return Err(EdgeError::Config(format!(
                    "{res}: {prop}: Lambda@Edge needs a function runtime (EdgeConfig::invoker)"
                )));
            }
            if a.include_body
                && !matches!(
                    a.event_type,
                    TriggerPoint::ViewerRequest | TriggerPoint::OriginRequest
                )
            {
                return Err(refuse(
                    "IncludeBody",
                    format!(
                        "IncludeBody is only supported for viewer-request and origin-request events, not {}. Function: {arn}",
                        a.event_type.as_str()
                    ),
                ));
            }
            let (name, version) = split_arn(template, &arn).map_err(|()| {
                refuse("LambdaFunctionARN", format!("The function ARN must reference a specific function version. (The ARN must end with the version number.) ARN: {arn}"))
            })?;
            if let Some(region) = region_of(&arn).filter(|r| *r != "us-east-1") {
                return Err(refuse(
                    "LambdaFunctionARN",
                    format!("The function must be in region 'us-east-1', not '{region}'. Function: {arn}"),
                ));
            }
            let f = template.function(&name).ok_or_else(|| {
                refuse(
                    "LambdaFunctionARN",
                    format!("The function does not exist in this template. Function: {arn}"),
                )
            })?;
            check_function(f, a.event_type, &config.lambda_edge, &arn)
                .map_err(|m| refuse("LambdaFunctionARN", m))?;
            a.function_name = f.name.as_str().to_owned();
            a.version = version;
            a.timeout_s = f.timeout.get();
        }
    }
    Ok(())
}

/// The restrictions on the function itself.
pub(crate) fn check_function(
    f: &ledge_model::FunctionSpec,
    at: TriggerPoint,
    quotas: &Quotas,
    arn: &str,
) -> Result<(), String> {
    if !f.environment.is_empty() {
        return Err(format!(
            "The function cannot have environment variables. Function: {arn}"
        ));
    }
    if !f.layers.is_empty() {
        return Err(format!("The function cannot have layers. Function: {arn}"));
    }
    if f.reserved_concurrency.is_some() {
        return Err(format!(
            "The function cannot have reserved concurrency. Function: {arn}"
        ));
    }
    if !matches!(f.runtime, Runtime::NodeJs(_) | Runtime::Python(_)) {
        return Err(format!(
            "The function runtime {} is not supported by Lambda@Edge (Node.js and Python only). Function: {arn}",
            f.runtime
        ));
    }
    if f.architecture != Architecture::X86_64 {
        return Err(format!(
            "The function architecture {} is not supported by Lambda@Edge (x86_64 only). Function: {arn}",
            f.architecture.as_str()
        ));
    }
    let (memory, timeout) = quotas.limits(at);
    if f.timeout.get() > timeout {
        return Err(format!("The function timeout is larger than the maximum allowed for functions that are triggered by a CloudFront event: {} Max allowed: {timeout} Function: {arn}", f.timeout.get()));
    }
    if f.memory.get() > memory {
        return Err(format!("The function memory size is larger than the maximum allowed for functions that are triggered by a CloudFront event: {} Max allowed: {memory} Function: {arn}", f.memory.get()));
    }
    Ok(())
}
