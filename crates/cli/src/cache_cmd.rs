//! `ledge cache flush API STAGE` and `ledge cache stats [API [STAGE]]`: REST stage caches
//! of a running ledge, through its AWS endpoint (found in the ready file): API Gateway's
//! FlushStageCache (`DELETE /restapis/{id}/stages/{stage}/cache/data`) and ledge's
//! `GET /_ledge/cache/stats`. Requests are SigV4-signed when `AWS_ACCESS_KEY_ID` and
//! `AWS_SECRET_ACCESS_KEY` are set (for a ledge started with `--auth`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use ledge_app::ReadyFile;
use serde_json::Value as J;

use super::usage;

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Flush a REST API stage's cache (API Gateway's FlushStageCache): the next requests
    /// go to the integration until the cache fills again.
    Flush {
        /// The API's logical id (or API id), as the ready file lists it.
        api: String,
        /// The stage.
        stage: String,
        #[command(flatten)]
        target: Target,
    },
    /// Show CacheHitCount and CacheMissCount per stage and per method, and each stage
    /// cache's entries and bytes.
    Stats {
        /// Only this API (logical id or API id).
        api: Option<String>,
        /// Only this stage.
        stage: Option<String>,
        /// Print the JSON document instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

/// Which running ledge.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The state dir of the running ledge (its ready.json names the AWS endpoint).
    #[arg(long, value_name = "DIR", default_value = ".ledge")]
    state_dir: PathBuf,
    /// The AWS endpoint URL instead of the state dir's ready file.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
}

impl Target {
    pub(crate) fn ready(&self) -> Option<ReadyFile> {
        ReadyFile::read(&self.state_dir.join("ready.json")).ok()
    }

    pub(crate) fn endpoint(&self) -> anyhow::Result<String> {
        match &self.endpoint {
            Some(e) => Ok(e.trim_end_matches('/').to_owned()),
            None => self.ready().map(|r| r.aws_endpoint).ok_or_else(|| {
                usage(format!(
                    "no running ledge found: {} has no ready.json (start one with ledge up, or pass --endpoint)",
                    self.state_dir.display()
                ))
            }),
        }
    }
}

/// A request to the AWS endpoint for API Gateway, signed when credentials are in the
/// environment.
fn request(method: reqwest::Method, url: &str) -> anyhow::Result<reqwest::RequestBuilder> {
    signed_request(method, url, "apigateway", b"")
}

/// A request to the AWS endpoint for `service` with `body`, signed when credentials are in
/// the environment.
pub(crate) fn signed_request(
    method: reqwest::Method,
    url: &str,
    service: &str,
    body: &[u8],
) -> anyhow::Result<reqwest::RequestBuilder> {
    let parsed = reqwest::Url::parse(url).with_context(|| format!("{url} is not a URL"))?;
    let mut rb = reqwest::Client::new().request(method.clone(), url);
    if let (Ok(id), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        let host = match parsed.port() {
            Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or_default()),
            None => parsed.host_str().unwrap_or_default().to_owned(),
        };
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".into());
        for (k, v) in ledge_app::sigv4_headers(
            &id,
            &secret,
            &region,
            service,
            method.as_str(),
            &host,
            parsed.path(),
            parsed.query().unwrap_or_default(),
            body,
            std::time::SystemTime::now(),
        ) {
            rb = rb.header(k, v);
        }
    }
    Ok(rb)
}

fn message_of(body: &str) -> String {
    serde_json::from_str::<J>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(J::as_str).map(str::to_owned))
        .unwrap_or_else(|| body.to_owned())
}

pub(crate) async fn run(c: CacheCommand) -> anyhow::Result<ExitCode> {
    match c {
        CacheCommand::Flush { api, stage, target } => {
            let endpoint = target.endpoint()?;
            // The ready file knows each REST API's id by logical id.
            let id = target
                .ready()
                .and_then(|r| {
                    r.apis
                        .get(&api)
                        .and_then(|e| e["id"].as_str().map(str::to_owned))
                })
                .unwrap_or_else(|| api.clone());
            let url = format!("{endpoint}/restapis/{id}/stages/{stage}/cache/data");
            let resp = request(reqwest::Method::DELETE, &url)?
                .send()
                .await
                .with_context(|| format!("cannot reach ledge at {endpoint}"))?;
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            match status {
                202 => {
                    println!("flushed the stage cache of {api} {stage}");
                    Ok(ExitCode::SUCCESS)
                }
                400..=499 => Err(usage(format!("{api} {stage}: {}", message_of(&body)))),
                _ => anyhow::bail!("{api} {stage}: HTTP {status}: {}", message_of(&body)),
            }
        }
        CacheCommand::Stats {
            api,
            stage,
            json,
            target,
        } => {
            let endpoint = target.endpoint()?;
            let mut url = reqwest::Url::parse(&format!("{endpoint}/_ledge/cache/stats"))
                .context("the endpoint is not a URL")?;
            if let Some(a) = &api {
                url.query_pairs_mut().append_pair("api", a);
            }
            if let Some(s) = &stage {
                url.query_pairs_mut().append_pair("stage", s);
            }
            let resp = request(reqwest::Method::GET, url.as_str())?
                .send()
                .await
                .with_context(|| format!("cannot reach ledge at {endpoint}"))?;
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            if status != 200 {
                return Err(usage(message_of(&body)));
            }
            let v: J = serde_json::from_str(&body).context("stats are not JSON")?;
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
            } else {
                write!(out, "{}", table(&v))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The stats as lines: one per API, stage and method.
fn table(v: &J) -> String {
    let mut out = String::new();
    let Some(apis) = v["apis"].as_object() else {
        return out;
    };
    if apis.is_empty() {
        out.push_str("no REST APIs\n");
    }
    for (id, a) in apis {
        out.push_str(&format!(
            "{id} (API id {})\n",
            a["apiId"].as_str().unwrap_or(id)
        ));
        for (name, s) in a["stages"].as_object().into_iter().flatten() {
            if s["cacheClusterEnabled"] != J::Bool(true) {
                out.push_str(&format!("  {name}: no cache cluster\n"));
                continue;
            }
            out.push_str(&format!(
                "  {name}: cache {} GB ({}), {} entries, {} bytes, CacheHitCount {}, CacheMissCount {}\n",
                s["cacheClusterSize"].as_str().unwrap_or("?"),
                s["store"].as_str().unwrap_or("?"),
                s["entries"].as_u64().map_or("?".into(), |n| n.to_string()),
                s["bytes"].as_u64().map_or("?".into(), |n| n.to_string()),
                s["CacheHitCount"],
                s["CacheMissCount"],
            ));
            for (m, c) in s["methods"].as_object().into_iter().flatten() {
                out.push_str(&format!(
                    "    {m:<32} CacheHitCount {:>8}  CacheMissCount {:>8}\n",
                    c["CacheHitCount"], c["CacheMissCount"]
                ));
            }
        }
        if let Some(r) = a.get("redis") {
            out.push_str(&format!(
                "  redis: {}, {} errors\n",
                if r["available"] == J::Bool(true) {
                    "available"
                } else {
                    "unavailable"
                },
                r["errors"]
            ));
        }
    }
    out
}
