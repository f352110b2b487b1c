//! A load target for the edge alone: reads a template, starts every
//! `AWS::CloudFront::Distribution` in it with the default [`EdgeConfig`], writes the
//! listeners as JSON (the shape of the ready file's `distributions`) and serves until
//! SIGINT. Used by `bench/cdn.sh` until `ledge up` serves distributions.
//!
//! `cargo run --release -p ledge-edge --example edge_only -- TEMPLATE OUT_JSON`
//!
//! Custom origins must name their host directly (`DomainName: 127.0.0.1` with
//! `HTTPPort`); there is no app here to resolve an API of the template.

use std::path::PathBuf;

use ledge_edge::{parse_distributions, start, EdgeConfig};
use tokio_util::sync::CancellationToken;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(template), Some(out)) = (args.next(), args.next()) else {
        return Err("usage: edge_only TEMPLATE OUT_JSON".into());
    };
    // The worker count `ledge up` would get (one per core).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(PathBuf::from(template), PathBuf::from(out)))
}

async fn serve(template: PathBuf, out: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let template = ledge_template::load_file(&template, &ledge_template::LoadOptions::default())?;
    let config = EdgeConfig::default();
    let specs = parse_distributions(&template, &|_: &str| None, &config)?;
    let cancel = CancellationToken::new();
    let edge = start(specs, config, cancel.clone()).await?;
    let mut distributions = serde_json::Map::new();
    for d in edge.distributions() {
        let pops: serde_json::Map<String, serde_json::Value> = d
            .pops
            .iter()
            .map(|(code, url)| (code.clone(), url.clone().into()))
            .collect();
        distributions.insert(
            d.logical_id.clone(),
            serde_json::json!({ "id": d.id, "domain_name": d.domain_name, "url": d.url, "pops": pops }),
        );
    }
    let json = serde_json::json!({ "distributions": distributions });
    // Written whole then renamed, so a reader polling for the file never sees half of it.
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&json)?)?;
    std::fs::rename(&tmp, &out)?;
    tokio::signal::ctrl_c().await?;
    cancel.cancel();
    Ok(())
}
