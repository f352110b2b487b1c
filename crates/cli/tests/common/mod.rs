//! Helpers for tests that run the `ledge` binary.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn ledge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ledge"))
}

pub fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/template.yaml")
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run ledge")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One HTTP answer, read whole.
pub struct Got {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&self.body)))
    }

    pub fn text(&self) -> String {
        text(&self.body)
    }

    pub fn header(&self, n: &str) -> Option<&str> {
        self.headers.get(n).and_then(|v| v.to_str().ok())
    }

    /// Every value of a header, in order.
    pub fn all(&self, n: &str) -> Vec<String> {
        self.headers
            .get_all(n)
            .iter()
            .map(|v| v.to_str().expect("ASCII header").to_owned())
            .collect()
    }
}

/// Sends a request and reads its whole answer.
pub fn send(rb: reqwest::blocking::RequestBuilder) -> Got {
    let r = rb.send().expect("request");
    Got {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.bytes().expect("body").to_vec(),
    }
}

/// A running `ledge up`, killed on drop.
pub struct Up {
    pub child: Child,
    pub ready: serde_json::Value,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_for(path: &Path, child: &mut Child) -> serde_json::Value {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(v) = serde_json::from_str(&text) {
                return v;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("ledge up exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no ready file at {}", path.display());
}

pub fn up(template: &Path, state: &Path) -> Up {
    up_with(template, state, Stdio::null())
}

/// `ledge up` with its standard error going to `stderr`.
pub fn up_with(template: &Path, state: &Path, stderr: impl Into<Stdio>) -> Up {
    let ready_path = state.join("ready.json");
    let mut child = ledge()
        .arg("up")
        .arg(template)
        .arg("--state-dir")
        .arg(state)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn ledge up");
    let ready = wait_for(&ready_path, &mut child);
    Up { child, ready }
}

/// A `ledge up` started by [`up_app`]: the process, the banner (empty unless asked for)
/// and the folder `ROOT` holding `app/`, `state/` and `stderr.log`.
pub struct AppUp {
    pub up: Up,
    pub banner: String,
    pub dir: PathBuf,
}

impl AppUp {
    pub fn endpoint(&self) -> String {
        self.up.ready["aws_endpoint"]
            .as_str()
            .expect("aws_endpoint")
            .to_owned()
    }

    /// What ledge wrote to standard error so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// SIGTERM, then waits for the exit.
    pub fn stop(mut self) {
        sigterm(&self.up.child);
        let _ = self.up.child.wait();
    }
}

/// `ledge up ROOT/app --state-dir ROOT/state --quiet EXTRA…`: the layout of tests that keep
/// the state dir and ledge's standard error (appended to `ROOT/stderr.log`) outside the
/// watched app folder. With `banner`, standard output is collected until ledge prints
/// "Press Ctrl-C" and kept; otherwise it is dropped.
pub fn up_app(dir: &Path, extra: &[&str], banner: bool) -> AppUp {
    let state = dir.join("state");
    let ready_path = state.join("ready.json");
    let _ = std::fs::remove_file(&ready_path);
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("stderr.log"))
        .expect("stderr.log");
    let mut child = ledge()
        .arg("up")
        .arg(dir.join("app"))
        .arg("--state-dir")
        .arg(&state)
        .arg("--quiet")
        .args(extra)
        .env_remove("LEDGE_ACCESS_KEYS")
        .stdin(Stdio::null())
        .stdout(if banner {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(stderr)
        .spawn()
        .expect("spawn ledge up");
    let printed = child.stdout.take().map(|stdout| {
        use std::io::BufRead;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut banner = String::new();
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                banner.push_str(&line);
                banner.push('\n');
                if line.starts_with("Press Ctrl-C") {
                    let _ = tx.send(banner.clone());
                }
            }
        });
        rx
    });
    let ready = wait_for(&ready_path, &mut child);
    let banner = printed
        .and_then(|rx| rx.recv_timeout(Duration::from_secs(30)).ok())
        .unwrap_or_default();
    AppUp {
        up: Up { child, ready },
        banner,
        dir: dir.to_owned(),
    }
}

/// Copies a folder tree, leaving out ledge state dirs (`.ledge`) and `__pycache__`.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir").flatten() {
        let name = e.file_name();
        if name == ".ledge" || name == "__pycache__" {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

pub fn post(url: &str, body: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let resp = reqwest::blocking::Client::new()
        .post(url)
        .body(body.to_owned())
        .send()
        .expect("post");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, resp.text().expect("body"), headers)
}

pub fn sigterm(child: &Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}

/// Live processes in one of the given ledge's cgroups, or whose command line has `needle`.
pub fn leftovers(ledge_pid: u32, needle: &str) -> Vec<String> {
    let tag = format!("ledge-{ledge_pid}-");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(
            &std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
        )
        .replace('\0', " ");
        if cg.contains(&tag) || cmd.contains(needle) {
            out.push(format!("{pid}: {cmd}"));
        }
    }
    out
}

/// `pip install --target` of `specs` with `python` into `target/test-deps/<name>`, once per
/// checkout (a `.complete` marker); tests installing at the same time race safely through
/// their own staging folders. `extra` goes to pip as it is (`--no-deps`, …).
pub fn pip_install(python: &str, name: &str, specs: &[&str], extra: &[&str]) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-deps");
    let dest = root.join(name);
    if dest.join(".complete").exists() {
        return dest;
    }
    let staging = root.join(format!(".staging-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).expect("mkdir");
    let out = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(extra)
        .arg("--target")
        .arg(&staging)
        .args(specs)
        .output()
        .unwrap_or_else(|e| panic!("these tests need {python} with pip: {e}"));
    assert!(
        out.status.success(),
        "pip install {specs:?} failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    std::fs::write(staging.join(".complete"), specs.join("\n")).expect("marker");
    if std::fs::rename(&staging, &dest).is_err() {
        // Another test won the race: use its copy.
        let _ = std::fs::remove_dir_all(&staging);
        assert!(
            dest.join(".complete").exists(),
            "{} incomplete",
            dest.display()
        );
    }
    dest
}

/// The interpreter the Python test functions run on (runtime `python3.11`), which also
/// installs the packages they import.
pub const PYTHON: &str = "/usr/bin/python3.11";

/// `pip install --target` of `specs` (with their dependencies) with [`PYTHON`] into
/// `target/test-deps/<name>`, once.
pub fn packages(name: &str, specs: &[&str]) -> PathBuf {
    pip_install(PYTHON, name, specs, &[])
}

/// One PyPI package without its dependencies, with `python3`.
pub fn pip_package(spec: &str) -> PathBuf {
    let name = spec.replace(['=', '<', '>', ' '], "_");
    pip_install("python3", &name, &[spec], &["--no-deps"])
}

/// Zips the contents of `dir` into `zip` with Python's zipfile (entries relative to `dir`).
pub fn zip_dir(dir: &Path, zip: &Path) {
    let script = "import os, sys, zipfile\nroot, out = sys.argv[1], sys.argv[2]\nwith zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:\n    for base, dirs, files in os.walk(root):\n        for f in files:\n            p = os.path.join(base, f)\n            z.write(p, os.path.relpath(p, root))\n";
    let st = Command::new("python3")
        .args(["-c", script])
        .arg(dir)
        .arg(zip)
        .status()
        .expect("python3");
    assert!(st.success());
}

/// Writes `files` (relative path, contents) under `dir`, creating folders.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) {
    for (rel, body) in files {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, body).expect("write");
    }
}

/// Waits until `f` returns true (or panics with `what` after `secs`).
pub fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}
