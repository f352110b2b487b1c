//! `ledge invalidate DIST PATH…` and `ledge edge report DIST`: CloudFront distributions of a
//! running ledge, through its AWS endpoint (found in the ready file): CloudFront's
//! CreateInvalidation (REST-XML, `POST /2020-05-31/distribution/{Id}/invalidation`) and
//! ledge's `GET /_ledge/edge/report`. Requests are SigV4-signed for `cloudfront` when
//! `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` are set (for a ledge started with `--auth`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::Value as J;

use super::cache_cmd::Target;
use super::usage;

/// `ledge invalidate`.
#[derive(Debug, Args)]
pub(crate) struct InvalidateArgs {
    /// The distribution: its logical id in the template, or its distribution id.
    distribution: String,
    /// Paths to remove from every edge cache: exact (`/index.html`) or ending in `*`
    /// (`/images/*`, `/*`); case-sensitive.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    /// CloudFront's CallerReference (default: a fresh one); repeating one returns the
    /// earlier batch.
    #[arg(long, value_name = "REF")]
    caller_reference: Option<String>,
    #[command(flatten)]
    target: Target,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EdgeCommand {
    /// Per edge location: requests, hit ratio, origin fetches, and simulated latency with
    /// and without the edge (`--edge-latency` or `latency = true` in ledge.toml).
    Report {
        /// The distribution: its logical id, or its distribution id.
        distribution: String,
        /// Print the JSON document instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: Target,
    },
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The text of the first `<tag>…</tag>`.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The distribution id CloudFront's API wants: the ready file maps logical ids to it.
fn distribution_id(target: &Target, given: &str) -> String {
    target
        .ready()
        .and_then(|r| {
            r.distributions
                .get(given)
                .and_then(|d| d["id"].as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| given.to_owned())
}

pub(crate) async fn invalidate(a: InvalidateArgs) -> anyhow::Result<ExitCode> {
    for p in &a.paths {
        if let Some(i) = p.find('*') {
            if i != p.len() - 1 {
                return Err(usage(format!(
                    "path {p:?}: `*` is allowed only as the last character"
                )));
            }
        }
        if p.is_empty() {
            return Err(usage("a path cannot be empty"));
        }
    }
    let endpoint = a.target.endpoint()?;
    let id = distribution_id(&a.target, &a.distribution);
    let caller = a.caller_reference.unwrap_or_else(|| {
        format!(
            "ledge-cli-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        )
    });
    let items: String = a
        .paths
        .iter()
        .map(|p| format!("<Path>{}</Path>", escape(p)))
        .collect();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InvalidationBatch xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Paths><Quantity>{}</Quantity><Items>{items}</Items></Paths><CallerReference>{}</CallerReference></InvalidationBatch>",
        a.paths.len(),
        escape(&caller)
    );
    let url = format!("{endpoint}/2020-05-31/distribution/{id}/invalidation");
    let resp = super::cache_cmd::signed_request(
        reqwest::Method::POST,
        &url,
        ledge_app::CLOUDFRONT_SERVICE,
        body.as_bytes(),
    )?
    .header("content-type", "text/xml")
    .body(body)
    .send()
    .await
    .with_context(|| format!("cannot reach ledge at {endpoint}"))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    match status {
        200 | 201 => {
            let inv = xml_text(&text, "Id").unwrap_or_default();
            let st = xml_text(&text, "Status").unwrap_or_default();
            println!("{inv} {st}");
            Ok(ExitCode::SUCCESS)
        }
        400..=499 => {
            let code = xml_text(&text, "Code").unwrap_or_else(|| format!("HTTP {status}"));
            let msg = xml_text(&text, "Message").unwrap_or(text);
            Err(usage(format!("{}: {code}: {msg}", a.distribution)))
        }
        _ => anyhow::bail!("{}: HTTP {status}: {text}", a.distribution),
    }
}

pub(crate) async fn run(c: EdgeCommand) -> anyhow::Result<ExitCode> {
    match c {
        EdgeCommand::Report {
            distribution,
            json,
            target,
        } => {
            let endpoint = target.endpoint()?;
            let mut url =
                reqwest::Url::parse(&format!("{endpoint}{}", ledge_app::EDGE_REPORT_PATH))
                    .context("the endpoint is not a URL")?;
            url.query_pairs_mut()
                .append_pair("distribution", &distribution);
            let resp = super::cache_cmd::signed_request(
                reqwest::Method::GET,
                url.as_str(),
                ledge_app::CLOUDFRONT_SERVICE,
                b"",
            )?
            .send()
            .await
            .with_context(|| format!("cannot reach ledge at {endpoint}"))?;
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            if status != 200 {
                let msg = serde_json::from_str::<J>(&body)
                    .ok()
                    .and_then(|v| v["message"].as_str().map(str::to_owned))
                    .or_else(|| xml_text(&body, "Message"))
                    .unwrap_or(body);
                return Err(usage(msg));
            }
            let v: J = serde_json::from_str(&body).context("the report is not JSON")?;
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

/// The report as a table: one line per POP.
fn table(v: &J) -> String {
    let mut out = format!(
        "{} (distribution {}), latency model {}\n",
        v["logical_id"].as_str().unwrap_or("?"),
        v["distribution_id"].as_str().unwrap_or("?"),
        if v["latency_model_enabled"] == J::Bool(true) {
            "on"
        } else {
            "off (ledge up --edge-latency)"
        }
    );
    out.push_str(&format!(
        "  {:<10} {:>9} {:>9} {:>9} {:>7} {:>14} {:>16} {:>19}\n",
        "POP",
        "REQUESTS",
        "EDGE HITS",
        "REC HITS",
        "HIT %",
        "ORIGIN FETCHES",
        "LATENCY (EDGE)",
        "LATENCY (NO EDGE)"
    ));
    for p in v["pops"].as_array().into_iter().flatten() {
        let ms = |k: &str| format!("{:.1} ms", p[k].as_f64().unwrap_or(0.0));
        let n = |k: &str| p[k].as_u64().unwrap_or(0);
        out.push_str(&format!(
            "  {:<10} {:>9} {:>9} {:>9} {:>6.1}% {:>14} {:>16} {:>19}\n",
            p["pop"].as_str().unwrap_or("?"),
            n("requests"),
            n("edge_hits"),
            n("regional_hits"),
            p["hit_ratio"].as_f64().unwrap_or(0.0) * 100.0,
            n("origin_fetches"),
            ms("mean_latency_ms"),
            ms("mean_latency_without_edge_ms"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_table_has_one_line_per_pop() {
        let v = serde_json::json!({
            "distribution_id": "E1", "logical_id": "Cdn", "latency_model_enabled": true,
            "pops": [{"pop": "FRA56-P1", "requests": 4, "edge_hits": 3, "regional_hits": 0,
                      "origin_fetches": 1, "hit_ratio": 0.75, "mean_latency_ms": 12.5,
                      "mean_latency_without_edge_ms": 98.0}]
        });
        let t = table(&v);
        assert!(
            t.starts_with("Cdn (distribution E1), latency model on\n"),
            "{t}"
        );
        let line = t.lines().nth(2).expect("a POP line");
        assert!(
            line.contains("FRA56-P1") && line.contains("75.0%"),
            "{line}"
        );
        assert!(
            line.contains("12.5 ms") && line.contains("98.0 ms"),
            "{line}"
        );
    }
}
