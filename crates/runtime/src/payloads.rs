//! The error payloads the platform itself writes, byte for byte as Lambda sends them.
//!
//! Key order matters to golden tests and to users who diff responses, so these are
//! written as text, with only the message JSON-escaped.

use std::process::ExitStatus;

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// `Sandbox.Timedout`: the function ran past its timeout.
pub fn timed_out(request_id: &str, timeout_secs: u32) -> String {
    let msg = format!(
        "RequestId: {request_id} Error: Task timed out after {}.00 seconds",
        timeout_secs
    );
    format!(
        r#"{{"errorType":"Sandbox.Timedout","errorMessage":{}}}"#,
        json_str(&msg)
    )
}

/// The log line Lambda writes when a function times out.
pub fn timed_out_log_line(timestamp: &str, request_id: &str, timeout_secs: u32) -> String {
    format!("{timestamp} {request_id} Task timed out after {timeout_secs}.00 seconds")
}

/// `Runtime.ExitError`: the runtime process ended without answering.
pub fn exit_error(request_id: &str, status: Option<ExitStatus>) -> String {
    let reason = match status.map(describe_exit) {
        Some(Some(desc)) => format!("Runtime exited with error: {desc}"),
        _ => "Runtime exited without providing a reason".to_owned(),
    };
    let msg = format!("RequestId: {request_id} Error: {reason}");
    format!(
        r#"{{"errorType":"Runtime.ExitError","errorMessage":{}}}"#,
        json_str(&msg)
    )
}

/// `Runtime.OutOfMemory`: the environment hit its memory limit and was killed.
pub fn out_of_memory(request_id: &str) -> String {
    let msg = format!("RequestId: {request_id} Error: Runtime exited with error: signal: killed");
    format!(
        r#"{{"errorType":"Runtime.OutOfMemory","errorMessage":{}}}"#,
        json_str(&msg)
    )
}

/// `Function.ResponseSizeTooLarge`: the runtime posted more than 6 MiB + 100 bytes.
pub fn response_too_large() -> String {
    r#"{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}"#.to_owned()
}

/// `Runtime.InvalidEntrypoint`: no executable bootstrap for a custom runtime.
pub fn invalid_entrypoint(request_id: &str, searched: &[String]) -> String {
    let msg = format!(
        "RequestId: {request_id} Error: Couldn't find valid bootstrap(s): [{}]",
        searched.join(" ")
    );
    format!(
        r#"{{"errorType":"Runtime.InvalidEntrypoint","errorMessage":{}}}"#,
        json_str(&msg)
    )
}

/// `Runtime.InvalidResponseModeHeader`: the runtime asked for an unknown response mode.
pub fn invalid_response_mode(request_id: &str) -> String {
    let msg = format!("RequestId: {request_id} Error: Invalid function response mode header value");
    format!(
        r#"{{"errorType":"Runtime.InvalidResponseModeHeader","errorMessage":{}}}"#,
        json_str(&msg)
    )
}

/// How Lambda (written in Go) words a process's end: `exit status 1`, `signal: killed`.
/// `None` for a clean exit (status 0), which Lambda reports as "without providing a reason".
pub fn describe_exit(status: ExitStatus) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return (code != 0).then(|| format!("exit status {code}"));
    }
    let sig = status.signal()?;
    let name = match sig {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        _ => return Some(format!("signal: signal {sig}")),
    };
    Some(format!("signal: {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn timeout_matches_aws_bytes() {
        assert_eq!(
            timed_out("abc", 1),
            r#"{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: abc Error: Task timed out after 1.00 seconds"}"#
        );
    }

    #[test]
    fn exit_errors_match_aws_bytes() {
        assert_eq!(
            exit_error("id", Some(ExitStatus::from_raw(127 << 8))),
            r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: id Error: Runtime exited with error: exit status 127"}"#
        );
        assert_eq!(
            exit_error("id", Some(ExitStatus::from_raw(0))),
            r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: id Error: Runtime exited without providing a reason"}"#
        );
        assert_eq!(
            describe_exit(ExitStatus::from_raw(9)).as_deref(),
            Some("signal: killed")
        );
        assert_eq!(
            describe_exit(ExitStatus::from_raw(11)).as_deref(),
            Some("signal: segmentation fault")
        );
    }

    #[test]
    fn too_large_matches_aws_bytes() {
        assert_eq!(
            response_too_large(),
            r#"{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}"#
        );
    }
}
