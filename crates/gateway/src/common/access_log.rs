//! Access logs: one line per request, in the stage's `AccessLogSettings.Format` with its
//! `$context.*` variables, else the console's default JSON format. Lines go to a file in
//! the state dir and, when asked, to stdout, through a bounded buffer that a writer thread empties every 100 ms.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::GatewayError;

/// The API Gateway console's default JSON access log format for HTTP APIs.
pub const DEFAULT_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength"}"#;

/// Bytes waiting for the writer; past this, lines are dropped rather than buffered
/// (a tenth of a second of a very busy API is far below it).
const MAX_PENDING: usize = 32 << 20;

/// Renders `format`, replacing each `$context.name` with its value, `-` when unknown.
/// Values are JSON-escaped (without quotes) so JSON formats stay JSON.
pub fn render(format: &str, ctx: &BTreeMap<&'static str, String>) -> String {
    let mut out = String::with_capacity(format.len() + 64);
    let mut rest = format;
    while let Some(at) = rest.find("$context.") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "$context.".len()..];
        let len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'))
            .unwrap_or(after.len());
        let mut name = &after[..len];
        // A trailing dot is punctuation, not part of the name.
        while name.ends_with('.') {
            name = &name[..name.len() - 1];
        }
        match ctx.get(name) {
            // Most values need no escaping: copy them as they are.
            Some(v) if !v.is_empty() && !v.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') => {
                out.push_str(v)
            }
            Some(v) if !v.is_empty() => out.push_str(&escape(v)),
            _ => out.push('-'),
        }
        rest = &after[name.len()..];
    }
    out.push_str(rest);
    out
}

fn escape(v: &str) -> String {
    let quoted = serde_json::to_string(v).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Where access log lines go. When the last clone is dropped, the writer writes what is
/// buffered, flushes the file and ends before the drop returns, so no line is lost at
/// shutdown.
#[derive(Debug, Clone)]
pub struct AccessLogSink {
    inner: std::sync::Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    shared: std::sync::Arc<Shared>,
    writer: Option<std::thread::JoinHandle<()>>,
    path: PathBuf,
}

/// Lines appended by request handlers, taken by the writer thread every [`FLUSH_EVERY`].
/// Appending never wakes the writer: a busy API pays one mutex lock per line, not a
/// thread wake-up (a futex call and a context switch).
#[derive(Debug, Default)]
struct Shared {
    buf: std::sync::Mutex<Pending>,
    closed: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct Pending {
    text: String,
    closed: bool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut p) = self.shared.buf.lock() {
            p.closed = true;
        }
        self.shared.closed.notify_all();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// How long a written line may wait in the buffer before it reaches the file.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl AccessLogSink {
    /// Opens (appending) `path` and starts the writer thread; `echo` also prints each line.
    /// Lines are buffered and written within 100 ms, so a busy API does not pay a write
    /// system call or a thread wake-up per request.
    pub fn open(path: &Path, echo: bool) -> Result<Self, GatewayError> {
        let err = |source| GatewayError::AccessLog {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        let shared = std::sync::Arc::new(Shared::default());
        let theirs = shared.clone();
        let writer = std::thread::Builder::new()
            .name("ledge-access-log".into())
            .spawn(move || {
                let mut out = std::io::stdout();
                let mut spare = String::new();
                loop {
                    let (text, closed) = {
                        let Ok(guard) = theirs.buf.lock() else { return };
                        let Ok((mut p, _)) =
                            theirs
                                .closed
                                .wait_timeout_while(guard, FLUSH_EVERY, |p| !p.closed)
                        else {
                            return;
                        };
                        (
                            std::mem::replace(&mut p.text, std::mem::take(&mut spare)),
                            p.closed,
                        )
                    };
                    if !text.is_empty() {
                        let _ = file.write_all(text.as_bytes());
                        if echo {
                            let _ = out.write_all(text.as_bytes());
                            let _ = out.flush();
                        }
                    }
                    spare = text;
                    spare.clear();
                    if closed {
                        return;
                    }
                }
            })
            .map_err(err)?;
        Ok(Self {
            inner: std::sync::Arc::new(Inner {
                shared,
                writer: Some(writer),
                path: path.to_owned(),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn write(&self, line: String) {
        let Ok(mut p) = self.inner.shared.buf.lock() else {
            return;
        };
        if p.text.len() + line.len() >= MAX_PENDING {
            drop(p);
            tracing::warn!(path = %self.inner.path.display(), "access log buffer full; line dropped");
            return;
        }
        p.text.push_str(&line);
        p.text.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_escapes_only_what_json_needs() {
        let ctx: BTreeMap<&'static str, String> = [
            ("plain", "GET /pets/é".to_owned()),
            ("quoted", "a \"b\" \\ c\n".to_owned()),
            ("empty", String::new()),
        ]
        .into_iter()
        .collect();
        let line = render(
            r#"{"p":"$context.plain","q":"$context.quoted","e":"$context.empty","m":"$context.missing."}"#,
            &ctx,
        );
        assert_eq!(
            line,
            r#"{"p":"GET /pets/é","q":"a \"b\" \\ c\n","e":"-","m":"-."}"#
        );
        let v: serde_json::Value = serde_json::from_str(&line).expect("still JSON");
        assert_eq!(v["q"], "a \"b\" \\ c\n");
    }

    #[test]
    fn dropping_the_sink_flushes_every_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b.log");
        let sink = AccessLogSink::open(&path, false).expect("open");
        let clone = sink.clone();
        for i in 0..1000 {
            clone.write(format!("line {i}"));
        }
        drop(clone);
        drop(sink);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 1000);
        assert_eq!(text.lines().last(), Some("line 999"));
    }

    #[test]
    fn renders_context_variables_and_dashes() {
        let ctx: BTreeMap<&'static str, String> = [
            ("requestId", "abc=".to_owned()),
            ("identity.sourceIp", "127.0.0.1".to_owned()),
            ("status", "200".to_owned()),
            ("routeKey", "GET /a \"b\"".to_owned()),
        ]
        .into();
        let line = render(DEFAULT_FORMAT, &ctx);
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON stays JSON");
        assert_eq!(v["requestId"], "abc=");
        assert_eq!(v["ip"], "127.0.0.1");
        assert_eq!(v["routeKey"], "GET /a \"b\"");
        assert_eq!(v["responseLength"], "-");
        assert_eq!(
            render("$context.requestId. $context.status $context.nope", &ctx),
            "abc=. 200 -"
        );
    }
}
