//! Reaching origins: HTTP servers over HTTP/1.1 (bodies streamed into a [`SharedBody`] as
//! they arrive, a length mismatch or a cut connection marks the body truncated), and S3
//! buckets served from local directories with S3's ETag (MD5 hex, quoted), Last-Modified,
//! Content-Type, conditional GETs and its 403 / 404 error bodies.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::body::SharedBody;
use crate::consts::HOP_BY_HOP;
use crate::S3MissingKey;

/// What goes to an origin.
#[derive(Clone, Debug)]
pub(crate) struct OriginRequest {
    pub(crate) method: http::Method,
    /// Path (with the origin path prepended) and query.
    pub(crate) path_and_query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// What came back (the body may still be arriving).
#[derive(Debug)]
pub(crate) struct OriginResponse {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Arc<SharedBody>,
}

/// Why no response came back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OriginFailure {
    #[error("cannot connect to the origin: {0}")]
    Connect(String),
    #[error("the origin did not answer in time")]
    Timeout,
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .http1_only()
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

pub(crate) async fn fetch_http(
    client: &reqwest::Client,
    base_url: &str,
    req: OriginRequest,
    connect_timeout: Duration,
    read_timeout: Duration,
) -> Result<OriginResponse, OriginFailure> {
    let url = format!("{base_url}{}", req.path_and_query);
    let mut builder = client
        .request(req.method.clone(), &url)
        .headers(req.headers)
        .timeout(connect_timeout + read_timeout);
    if !req.body.is_empty() {
        builder = builder.body(req.body);
    }
    let resp = match builder.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Err(OriginFailure::Timeout),
        Err(e) => return Err(OriginFailure::Connect(e.to_string())),
    };
    let status = resp.status().as_u16();
    let mut headers = resp.headers().clone();
    for h in HOP_BY_HOP {
        headers.remove(*h);
    }
    let expected: Option<usize> = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = SharedBody::new();
    let sink = Arc::clone(&body);
    let is_head = req.method == http::Method::HEAD;
    tokio::spawn(async move {
        let mut stream = resp.bytes_stream();
        let mut ok = true;
        loop {
            match tokio::time::timeout(read_timeout, stream.next()).await {
                Ok(Some(Ok(chunk))) => sink.push(chunk),
                Ok(Some(Err(_))) | Err(_) => {
                    ok = false;
                    break;
                }
                Ok(None) => break,
            }
        }
        if ok && !is_head {
            if let Some(n) = expected {
                ok = sink.len() == n;
            }
        }
        sink.finish(ok);
    });
    Ok(OriginResponse {
        status,
        headers,
        body,
    })
}

fn s3_error(status: u16, code: &str, message: &str, extra: &str) -> OriginResponse {
    let request_id = crate::invalidation::new_id('R');
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}<RequestId>{request_id}</RequestId><HostId>ledge</HostId></Error>"
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert(http::header::SERVER, HeaderValue::from_static("AmazonS3"));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static("x-amz-request-id"), v);
    }
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(xml.len()));
    OriginResponse {
        status,
        headers,
        body: SharedBody::complete(Bytes::from(xml)),
    }
}

fn object_path(dir: &Path, key: &str) -> Option<PathBuf> {
    let rel = Path::new(key);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(dir.join(rel))
}

/// GET / HEAD of an object in a local bucket directory.
pub(crate) async fn fetch_s3(
    bucket: &str,
    dir: &Path,
    req: &OriginRequest,
    missing: S3MissingKey,
) -> OriginResponse {
    if !matches!(req.method, http::Method::GET | http::Method::HEAD) {
        return s3_error(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
            "",
        );
    }
    let path = req.path_and_query.split('?').next().unwrap_or("");
    let key = percent_encoding::percent_decode_str(path.trim_start_matches('/'))
        .decode_utf8_lossy()
        .into_owned();
    if !dir.is_dir() {
        return s3_error(
            404,
            "NoSuchBucket",
            "The specified bucket does not exist",
            &format!("<BucketName>{bucket}</BucketName>"),
        );
    }
    let missing_key = || match missing {
        S3MissingKey::AccessDenied => s3_error(403, "AccessDenied", "Access Denied", ""),
        S3MissingKey::NoSuchKey => s3_error(
            404,
            "NoSuchKey",
            "The specified key does not exist.",
            &format!("<Key>{key}</Key>"),
        ),
    };
    let Some(file) = object_path(dir, &key).filter(|_| !key.is_empty()) else {
        return missing_key();
    };
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<(Vec<u8>, SystemTime)> {
        let meta = std::fs::metadata(&file)?;
        if !meta.is_file() {
            return Err(std::io::ErrorKind::NotFound.into());
        }
        Ok((std::fs::read(&file)?, meta.modified()?))
    })
    .await;
    let Ok(Ok((data, modified))) = read else {
        return missing_key();
    };
    use md5::Digest;
    let etag = format!("\"{}\"", hex::encode(md5::Md5::digest(&data)));
    let last_modified = httpdate::fmt_http_date(modified);
    let mut headers = HeaderMap::new();
    let set = |h: &mut HeaderMap, n: &'static str, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(HeaderName::from_static(n), v);
        }
    };
    set(&mut headers, "etag", &etag);
    set(&mut headers, "last-modified", &last_modified);
    set(&mut headers, "accept-ranges", "bytes");
    set(&mut headers, "server", "AmazonS3");
    set(
        &mut headers,
        "x-amz-request-id",
        &crate::invalidation::new_id('R'),
    );
    let mime = mime_guess::from_path(&key).first_or_octet_stream();
    set(&mut headers, "content-type", mime.essence_str());
    // Conditional GETs, as S3 answers them.
    let inm = req
        .headers
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let ims = req
        .headers
        .get(http::header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    let modified_secs = httpdate::parse_http_date(&last_modified).ok();
    let not_modified = match (inm, ims) {
        (Some(tags), _) => tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        (None, Some(since)) => modified_secs.is_some_and(|m| m <= since),
        _ => false,
    };
    if not_modified {
        return OriginResponse {
            status: 304,
            headers,
            body: SharedBody::complete(Bytes::new()),
        };
    }
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(data.len()));
    let body = if req.method == http::Method::HEAD {
        Bytes::new()
    } else {
        Bytes::from(data)
    };
    OriginResponse {
        status: 200,
        headers,
        body: SharedBody::complete(body),
    }
}
