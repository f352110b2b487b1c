//! CloudFront's invalidation calls on ledge's AWS endpoint, REST-XML as botocore's
//! `cloudfront` model (API version 2020-05-31) sends them: CreateInvalidation
//! (`POST /2020-05-31/distribution/{Id}/invalidation` → 201 with `Location`),
//! GetInvalidation (`GET …/invalidation/{Id}`) and ListInvalidations (`GET …/invalidation`).
//! `ledge-app` merges the router into the AWS endpoint's.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::invalidation::Invalidation;
use crate::{Edge, EdgeError};

const NS: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";
const API: &str = "/2020-05-31";

/// The invalidation routes over a running [`Edge`].
pub fn management_router(edge: Edge) -> Router {
    Router::new()
        .route(
            "/2020-05-31/distribution/{dist}/invalidation",
            post(create).get(list),
        )
        .route(
            "/2020-05-31/distribution/{dist}/invalidation/{id}",
            get(get_one),
        )
        .with_state(edge)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Every text of `<tag>…</tag>` in document order.
fn texts(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(unescape(&after[..j]));
        rest = &after[j + close.len()..];
    }
    out
}

fn time(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn xml(status: StatusCode, body: String) -> Response {
    let id = crate::invalidation::new_id('R');
    let mut r = (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/xml")],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&id) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

fn error(e: &EdgeError) -> Response {
    let (status, code) = match e {
        EdgeError::NoSuchDistribution(_) => (StatusCode::NOT_FOUND, "NoSuchDistribution"),
        EdgeError::NoSuchInvalidation { .. } => (StatusCode::NOT_FOUND, "NoSuchInvalidation"),
        EdgeError::InvalidArgument(_) => (StatusCode::BAD_REQUEST, "InvalidArgument"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
    };
    let body = format!(
        "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(&e.to_string()),
        crate::invalidation::new_id('R')
    );
    xml(status, body)
}

fn invalidation_xml(i: &Invalidation) -> String {
    let items: String = i
        .paths
        .iter()
        .map(|p| format!("<Path>{}</Path>", escape(p)))
        .collect();
    format!(
        "<?xml version=\"1.0\"?>\n<Invalidation xmlns=\"{NS}\"><Id>{}</Id><Status>{}</Status><CreateTime>{}</CreateTime><InvalidationBatch><Paths><Quantity>{}</Quantity><Items>{items}</Items></Paths><CallerReference>{}</CallerReference></InvalidationBatch></Invalidation>",
        i.id,
        i.status.as_str(),
        time(i.create_time),
        i.paths.len(),
        escape(&i.caller_reference)
    )
}

async fn create(State(edge): State<Edge>, Path(dist): Path<String>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    let paths = texts(&text, "Path");
    let caller = texts(&text, "CallerReference").into_iter().next();
    if caller.is_none() {
        return error(&EdgeError::InvalidArgument(
            "CallerReference is required".into(),
        ));
    }
    match edge.invalidate(&dist, &paths, caller) {
        Ok(inv) => {
            let mut r = xml(StatusCode::CREATED, invalidation_xml(&inv));
            let location = format!(
                "{API}/distribution/{}/invalidation/{}",
                inv.distribution_id, inv.id
            );
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(axum::http::header::LOCATION, v);
            }
            r
        }
        Err(e) => error(&e),
    }
}

async fn get_one(State(edge): State<Edge>, Path((dist, id)): Path<(String, String)>) -> Response {
    match edge.get_invalidation(&dist, &id) {
        Ok(inv) => xml(StatusCode::OK, invalidation_xml(&inv)),
        Err(e) => error(&e),
    }
}

async fn list(State(edge): State<Edge>, Path(dist): Path<String>) -> Response {
    match edge.list_invalidations(&dist) {
        Ok(list) => {
            let items: String = list
                .iter()
                .map(|i| {
                    format!(
                        "<InvalidationSummary><Id>{}</Id><CreateTime>{}</CreateTime><Status>{}</Status></InvalidationSummary>",
                        i.id,
                        time(i.create_time),
                        i.status.as_str()
                    )
                })
                .collect();
            xml(
                StatusCode::OK,
                format!(
                    "<?xml version=\"1.0\"?>\n<InvalidationList xmlns=\"{NS}\"><Marker></Marker><MaxItems>100</MaxItems><IsTruncated>false</IsTruncated><Quantity>{}</Quantity><Items>{items}</Items></InvalidationList>",
                    list.len()
                ),
            )
        }
        Err(e) => error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::texts;

    #[test]
    fn reads_botocore_batches() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InvalidationBatch xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\"><Paths><Quantity>2</Quantity><Items><Path>/a&amp;b</Path><Path>/img/*</Path></Items></Paths><CallerReference>cli-1</CallerReference></InvalidationBatch>";
        assert_eq!(texts(body, "Path"), vec!["/a&b", "/img/*"]);
        assert_eq!(texts(body, "CallerReference"), vec!["cli-1"]);
    }
}
