//! Deploy-time checks on `LambdaFunctionAssociations`: the ARN must name a numbered version
//! of a function of the template, and the function must be one Lambda@Edge accepts
//! (§4.5, §4.6). Refusals carry CloudFront's `InvalidLambdaFunctionAssociation` message.

use ledge_model::{Architecture, Runtime};
use ledge_template::Template;

use super::consts::INVALID_ASSOCIATION;
use super::Quotas;
use crate::spec::{DistributionSpec, TriggerPoint};
use crate::{EdgeConfig, EdgeError};

/// `(function name, version)` a version ARN names; `Err(())` when it names no numbered
/// version. `!Ref Fn.Version`, `!GetAtt Fn.Version.FunctionArn` and `!Ref` of an
/// `AWS::Lambda::Version` arrive here as such ARNs: `ledge-template` resolves them with the
/// published version numbers (`LoadOptions::versions`).
fn split_arn(arn: &str) -> Result<(String, String), ()> {
    // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name, q] if is_version(q) => {
            Ok(((*name).to_owned(), (*q).to_owned()))
        }
        _ => Err(()),
    }
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
            let (name, version) = split_arn(&arn).map_err(|()| {
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
