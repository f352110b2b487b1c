//! The numbered versions a template asks for: SAM's `AutoPublishAlias` (with
//! `VersionDescription`) publishes a version of the function and points the alias at it;
//! an `AWS::Lambda::Version` publishes one. As Lambda's `PublishVersion` does, a new number
//! comes only when the function's code or configuration changed since its last version
//! (`Runtime::publish_version` compares the code hash and the configuration), so restarts
//! and reloads that change nothing keep the numbers. The template is then loaded again
//! with them (`LoadOptions::versions`), so `!Ref Fn.Version` — and a distribution's
//! Lambda@Edge association — names the version that was published, as CloudFormation
//! would update it.

use std::collections::BTreeMap;

use ledge_model::{function_name_of, FunctionName};
use ledge_runtime::{ControlError, Runtime};
use ledge_template::Template;

use crate::AppError;

/// Published version numbers by logical id (a SAM function with `AutoPublishAlias`, or an
/// `AWS::Lambda::Version`).
pub(crate) type Versions = BTreeMap<String, u32>;

const SERVERLESS_FUNCTION: &str = "AWS::Serverless::Function";
const LAMBDA_VERSION: &str = "AWS::Lambda::Version";

/// True when a template loaded with `loaded_with` already names every version in
/// `published` (a logical id the template was not told about resolves to 1).
pub(crate) fn resolved_by(published: &Versions, loaded_with: &Versions) -> bool {
    published
        .iter()
        .all(|(id, n)| loaded_with.get(id).copied().unwrap_or(1) == *n)
}

fn control(what: String) -> impl FnOnce(ControlError) -> AppError {
    move |source| AppError::Control { what, source }
}

/// Publishes what the template asks for (the functions are deployed already). Returns the
/// numbers by logical id and, with `announce`, one line per version that is new since
/// `before`.
pub(crate) async fn publish(
    runtime: &Runtime,
    template: &Template,
    before: &Versions,
    announce: bool,
) -> Result<(Versions, Vec<String>), AppError> {
    let mut versions = Versions::new();
    let mut lines = Vec::new();
    for (id, r) in &template.resources {
        let (name, description, alias) = match r.kind.as_str() {
            SERVERLESS_FUNCTION => {
                let Some(alias) = r
                    .properties
                    .get("AutoPublishAlias")
                    .and_then(|v| v.as_str())
                else {
                    continue;
                };
                let Some(f) = template
                    .functions
                    .iter()
                    .find(|f| f.logical_id.as_deref() == Some(id.as_str()))
                else {
                    continue;
                };
                let description = r.properties.get("VersionDescription");
                (f.name.clone(), description, Some(alias))
            }
            LAMBDA_VERSION => {
                let target = r
                    .properties
                    .get("FunctionName")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                let target = function_name_of(target);
                let name = template
                    .function(target)
                    .map(|f| f.name.clone())
                    .or_else(|| target.parse::<FunctionName>().ok())
                    .ok_or_else(|| {
                        AppError::Usage(format!(
                            "{id}: FunctionName {target:?} is not a function name"
                        ))
                    })?;
                (name, r.properties.get("Description"), None)
            }
            _ => continue,
        };
        let description = description.and_then(|d| d.as_str()).map(str::to_owned);
        let v = runtime
            .publish_version(&name, description, None, None)
            .await
            .map_err(control(format!("{id}: cannot publish a version of {name}")))?;
        let number: u32 = v.version.parse().map_err(|_| {
            AppError::Usage(format!(
                "{id}: published version {:?} is not a number",
                v.version
            ))
        })?;
        if let Some(alias) = alias {
            point_alias(runtime, &name, alias, &v.version)
                .await
                .map_err(control(format!("{id}: AutoPublishAlias {alias}")))?;
        }
        if announce && before.get(id) != Some(&number) {
            lines.push(match alias {
                Some(a) => format!("{id}: published version {number}, alias {a} points to it"),
                None => format!("{id}: published version {number}"),
            });
        }
        versions.insert(id.clone(), number);
    }
    Ok((versions, lines))
}

/// Creates `alias` → `version`, or moves it there.
async fn point_alias(
    runtime: &Runtime,
    name: &FunctionName,
    alias: &str,
    version: &str,
) -> Result<(), ControlError> {
    match runtime.alias(name, alias) {
        Ok(a) if a.function_version == version && a.weights.is_empty() => Ok(()),
        Ok(_) => runtime
            .update_alias(
                name,
                alias,
                Some(version.to_owned()),
                None,
                Some(BTreeMap::new()),
                None,
            )
            .await
            .map(|_| ()),
        Err(ControlError::NotFound(_)) => runtime
            .create_alias(name, alias, version, "", BTreeMap::new())
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_names_the_published_versions_when_every_number_matches() {
        let published = Versions::from([("Fn".to_owned(), 1), ("V".to_owned(), 2)]);
        assert!(!resolved_by(&published, &Versions::new()), "V is 2, not 1");
        assert!(resolved_by(
            &published,
            &Versions::from([("V".to_owned(), 2)])
        ));
        assert!(resolved_by(&Versions::new(), &Versions::new()));
    }
}
