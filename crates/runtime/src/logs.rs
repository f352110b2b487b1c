//! Function logs: the platform's `START` / `END` / `REPORT` lines, the pipe that carries a
//! function's stdout and stderr, and the sink that files (and optionally echoes) each line.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ledge_model::InvokeReport;
use tokio::net::unix::pipe;

/// `START RequestId: … Version: …`
pub fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}")
}

/// `END RequestId: …`
pub fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// The tab-separated `REPORT` line, ending in a tab as CloudWatch stores it.
pub fn report_line(request_id: &str, report: &InvokeReport) -> String {
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
        ms(report.duration),
        report.billed_ms,
        report.memory_mb,
        report.max_memory_used_mb,
    );
    if let Some(init) = report.init_duration {
        line.push_str(&format!("Init Duration: {:.2} ms\t", ms(init)));
    }
    line
}

/// `INIT_START Runtime Version: …`, once per environment start.
pub fn init_start_line(runtime_version: &str, runtime_version_arn: &str) -> String {
    format!(
        "INIT_START Runtime Version: {runtime_version}\tRuntime Version ARN: {runtime_version_arn}"
    )
}

/// Billed duration: whole milliseconds rounded up; since August 2025 Lambda bills the
/// init phase of on-demand environments too, so a cold start bills both.
pub fn billed_ms(duration: Duration, init: Option<Duration>) -> u64 {
    let total = duration + init.unwrap_or_default();
    let micros = total.as_micros();
    (micros.div_ceil(1000) as u64).max(1)
}

/// Bytes → whole MB as the REPORT line shows them (rounded up, never zero).
pub fn mb_used(bytes: u64) -> u32 {
    (bytes.div_ceil(1024 * 1024)).max(1) as u32
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Where a function's log lines go: its log file in the state dir and, when `ledge up`
/// asks for it, the terminal with the function's name in front.
#[derive(Debug)]
pub struct LogSink {
    function: String,
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
    echo: LogEcho,
}

/// Where log lines are shown besides the log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogEcho {
    /// Only the file.
    #[default]
    None,
    /// Standard output, each line prefixed with `[FunctionName] ` (`ledge up`).
    StdoutPrefixed,
    /// Standard error, as is (`ledge invoke`).
    Stderr,
}

impl LogSink {
    /// A sink writing to `dir/<function>.log` (created on demand) and echoing when asked.
    pub fn new(function: &str, dir: Option<&Path>, echo: LogEcho) -> Self {
        let path = dir.map(|d| d.join(format!("{function}.log")));
        let file = path.as_deref().and_then(|p| {
            if let Some(parent) = p.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            match OpenOptions::new().create(true).append(true).open(p) {
                Ok(f) => Some(f),
                Err(e) => {
                    tracing::warn!(function, path = %p.display(), error = %e, "cannot open log file");
                    None
                }
            }
        });
        Self {
            function: function.to_owned(),
            path,
            file: Mutex::new(file),
            echo,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Writes whole lines (without their newline) in one go.
    pub fn write_lines<S: AsRef<str>>(&self, lines: &[S]) {
        if lines.is_empty() {
            return;
        }
        let mut buf = String::new();
        for l in lines {
            buf.push_str(l.as_ref());
            buf.push('\n');
        }
        if let Ok(mut guard) = self.file.lock() {
            if let Some(f) = guard.as_mut() {
                let _ = f.write_all(buf.as_bytes());
            }
        }
        if self.echo == LogEcho::Stderr {
            let stderr = std::io::stderr();
            let mut lock = stderr.lock();
            let _ = lock.write_all(buf.as_bytes());
            let _ = lock.flush();
        } else if self.echo == LogEcho::StdoutPrefixed {
            let mut out =
                String::with_capacity(buf.len() + lines.len() * (self.function.len() + 3));
            for l in lines {
                out.push('[');
                out.push_str(&self.function);
                out.push_str("] ");
                out.push_str(l.as_ref());
                out.push('\n');
            }
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            let _ = lock.write_all(out.as_bytes());
            let _ = lock.flush();
        }
    }
}

/// The read end of an environment's stdout+stderr pipe.
///
/// A background task forwards lines as they come; the invocation path calls
/// [`LogPipe::drain`] before writing `END`, so everything the function printed before it
/// answered lands before the platform's closing lines, as in CloudWatch.
pub(crate) struct LogPipe {
    rx: pipe::Receiver,
    state: Mutex<PipeState>,
    sink: Arc<LogSink>,
}

impl Drop for LogPipe {
    fn drop(&mut self) {
        // An environment ended between START and END (shutdown): START still shows.
        if let Some(line) = self.state.get_mut().ok().and_then(|st| st.pending.take()) {
            self.sink.write_lines(&[line]);
        }
    }
}

#[derive(Default)]
struct PipeState {
    partial: Vec<u8>,
    capture: Option<String>,
    eof: bool,
    /// A platform line (`START`) not yet in the sink: it goes out with the next lines,
    /// so an invocation that prints nothing costs one write, not two.
    pending: Option<String>,
}

impl PipeState {
    /// Adds `lines` to the invocation's captured log, when one is being captured.
    fn capture(&mut self, lines: &[String]) {
        if let Some(cap) = self.capture.as_mut() {
            for l in lines {
                cap.push_str(l);
                cap.push('\n');
            }
        }
    }

    /// Captures `lines` and writes them to `sink` in one write, the pending platform
    /// line (if any) in front.
    fn emit(&mut self, sink: &LogSink, lines: &[String]) {
        self.capture(lines);
        match self.pending.take() {
            None => sink.write_lines(lines),
            Some(first) => {
                let mut all = Vec::with_capacity(lines.len() + 1);
                all.push(first.as_str());
                all.extend(lines.iter().map(String::as_str));
                sink.write_lines(&all);
            }
        }
    }
}

impl LogPipe {
    pub(crate) fn new(fd: OwnedFd, sink: Arc<LogSink>) -> std::io::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            rx: pipe::Receiver::from_owned_fd(fd)?,
            state: Mutex::new(PipeState::default()),
            sink,
        }))
    }

    /// Forwards lines until the last writer closes the pipe.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            if self.rx.readable().await.is_err() {
                return;
            }
            // Read through tokio here so that readiness is cleared when the pipe is empty.
            if self.read_with(|buf| self.rx.try_read(buf).map_err(|e| e.kind())) {
                self.flush_partial();
                return;
            }
        }
    }

    /// Reads everything the pipe holds right now and emits the complete lines.
    /// Returns true once the pipe has reached end-of-file.
    pub(crate) fn drain(&self) -> bool {
        // A raw read: it sees what the pipe holds even before the reactor has noticed.
        self.read_with(|buf| {
            nix::unistd::read(self.rx.as_fd(), buf).map_err(|e| match e {
                nix::errno::Errno::EINTR => std::io::ErrorKind::Interrupted,
                nix::errno::Errno::EAGAIN => std::io::ErrorKind::WouldBlock,
                _ => std::io::ErrorKind::Other,
            })
        })
    }

    fn read_with(
        &self,
        mut read: impl FnMut(&mut [u8]) -> Result<usize, std::io::ErrorKind>,
    ) -> bool {
        let Ok(mut st) = self.state.lock() else {
            return true;
        };
        if st.eof {
            return true;
        }
        let mut buf = [0u8; 16 * 1024];
        let mut lines: Vec<String> = Vec::new();
        loop {
            match read(&mut buf) {
                Ok(0) => {
                    st.eof = true;
                    break;
                }
                Ok(n) => {
                    st.partial.extend_from_slice(&buf[..n]);
                    while let Some(pos) = st.partial.iter().position(|&b| b == b'\n') {
                        let rest = st.partial.split_off(pos + 1);
                        let mut line = std::mem::replace(&mut st.partial, rest);
                        line.pop();
                        lines.push(String::from_utf8_lossy(&line).into_owned());
                    }
                }
                Err(std::io::ErrorKind::Interrupted) => continue,
                Err(std::io::ErrorKind::WouldBlock) => break,
                Err(_) => {
                    st.eof = true;
                    break;
                }
            }
        }
        if !lines.is_empty() {
            st.emit(&self.sink, &lines);
        }
        st.eof
    }

    /// Emits a trailing line that has no newline yet (at the end of an invocation).
    pub(crate) fn flush_partial(&self) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        if st.partial.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&std::mem::take(&mut st.partial)).into_owned();
        st.emit(&self.sink, &[line]);
    }

    /// Writes platform lines in order with the function's own, capturing them when asked.
    pub(crate) fn platform(&self, lines: &[String]) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        st.emit(&self.sink, lines);
    }

    /// Like [`LogPipe::platform`] for one line that may wait for the next write: the
    /// invocation's `START` reaches the file with the function's first output or with
    /// `END`, whichever comes first, in the same order.
    pub(crate) fn platform_deferred(&self, line: String) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        st.capture(std::slice::from_ref(&line));
        if let Some(earlier) = st.pending.replace(line) {
            self.sink.write_lines(&[earlier]);
        }
    }

    /// Starts or stops capturing an invocation's log lines; stopping returns them.
    pub(crate) fn set_capture(&self, on: bool) -> Option<String> {
        let Ok(mut st) = self.state.lock() else {
            return None;
        };
        if on {
            st.capture = Some(String::new());
            None
        } else {
            st.capture.take()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(init: Option<u64>) -> InvokeReport {
        InvokeReport {
            duration: Duration::from_micros(15_740),
            billed_ms: billed_ms(
                Duration::from_micros(15_740),
                init.map(Duration::from_micros),
            ),
            memory_mb: 128,
            max_memory_used_mb: 56,
            init_duration: init.map(Duration::from_micros),
            cpu_time: None,
            cpu_throttled: None,
        }
    }

    #[test]
    fn report_line_is_tab_separated_like_cloudwatch() {
        assert_eq!(
            report_line("8f50", &report(None)),
            "REPORT RequestId: 8f50\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\t"
        );
        assert_eq!(
            report_line("8f50", &report(Some(130_490))),
            "REPORT RequestId: 8f50\tDuration: 15.74 ms\tBilled Duration: 147 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 130.49 ms\t"
        );
    }

    #[test]
    fn billing_rounds_up_to_the_millisecond() {
        assert_eq!(billed_ms(Duration::from_micros(1), None), 1);
        assert_eq!(billed_ms(Duration::from_micros(1000), None), 1);
        assert_eq!(billed_ms(Duration::from_micros(1001), None), 2);
        assert_eq!(billed_ms(Duration::ZERO, None), 1);
    }

    #[test]
    fn platform_lines() {
        assert_eq!(
            start_line("r", "$LATEST"),
            "START RequestId: r Version: $LATEST"
        );
        assert_eq!(end_line("r"), "END RequestId: r");
        assert_eq!(mb_used(1), 1);
        assert_eq!(mb_used(56 * 1024 * 1024), 56);
    }
}
