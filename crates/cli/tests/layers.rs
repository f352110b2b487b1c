//! Layers as users see them (issue 3): a real PyPI package in a zipped layer, a custom
//! runtime's bootstrap from a layer, merge order, Lambda's limits, unsafe archives, and
//! versions that persist across restarts.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use common::*;

fn template(dir: &Path, body: &str) -> std::path::PathBuf {
    let t = dir.join("template.yaml");
    std::fs::write(
        &t,
        format!("Transform: AWS::Serverless-2016-10-31\nResources:\n{body}"),
    )
    .expect("write");
    t
}

fn invoke(t: &Path, function: &str) -> (Option<i32>, String, String) {
    let out = run(ledge()
        .args(["invoke", function, "--payload", "{}", "-t"])
        .arg(t));
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_pypi_package_in_a_zipped_layer_is_importable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let six = pip_package("six==1.16.0");
    let layer = dir.path().join("six-layer");
    std::fs::create_dir_all(layer.join("python")).expect("mkdir");
    std::fs::copy(six.join("six.py"), layer.join("python/six.py")).expect("copy");
    zip_dir(&layer, &dir.path().join("six.zip"));
    write_tree(dir.path(), &[(
        "src/app.py",
        "import six\n\ndef handler(event, context):\n    return {'version': six.__version__, 'file': six.__file__}\n",
    )]);
    let t = template(
        dir.path(),
        "  SixLayer:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      LayerName: six\n      ContentUri: six.zip\n      CompatibleRuntimes: [python3.11]\n  UsesSix:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n      Layers: [!Ref SixLayer]\n",
    );
    let (code, out, err) = invoke(&t, "UsesSix");
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["version"], "1.16.0");
    let file = v["file"].as_str().expect("file");
    assert!(file.ends_with("/python/six.py"), "{file}");
    if err.contains("mount namespace presents") || !err.contains("no mount namespace") {
        assert_eq!(file, "/opt/python/six.py", "layers appear at /opt");
    }
}

#[test]
fn a_layer_can_carry_the_bootstrap_of_a_custom_runtime() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runtime = dir.path().join("runtime-layer");
    std::fs::create_dir_all(runtime.join("bin")).expect("mkdir");
    std::fs::write(
        runtime.join("bootstrap"),
        "#!/bin/sh\nAPI=\"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01\"\nwhile true; do\n  H=\"$(mktemp)\"\n  EVENT=$(curl -sS -D \"$H\" \"$API/runtime/invocation/next\")\n  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$H\" | tr -d '[:space:]' | cut -d: -f2)\n  curl -sS -X POST \"$API/runtime/invocation/$ID/response\" -d \"{\\\"from\\\":\\\"$(greet)\\\",\\\"task\\\":\\\"$(cat \"$LAMBDA_TASK_ROOT/message.txt\")\\\"}\" >/dev/null\ndone\n",
    )
    .expect("write");
    std::fs::write(runtime.join("bin/greet"), "#!/bin/sh\necho layer-bin\n").expect("write");
    for f in ["bootstrap", "bin/greet"] {
        std::fs::set_permissions(runtime.join(f), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    write_tree(dir.path(), &[("fn/message.txt", "hello from the code")]);
    let t = template(
        dir.path(),
        "  Runtime:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: runtime-layer/\n  Custom:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: fn/\n      Handler: unused\n      Runtime: provided.al2023\n      Layers: [!Ref Runtime]\n",
    );
    let (code, out, err) = invoke(&t, "Custom");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        out.trim(),
        r#"{"from":"layer-bin","task":"hello from the code"}"#
    );
}

fn order_fixture(dir: &Path, order: &str) -> std::path::PathBuf {
    write_tree(dir, &[
        ("a/python/shared.py", "VALUE = 'a'\n"),
        ("a/python/only_a.py", "X = 1\n"),
        ("b/python/shared.py", "VALUE = 'b'\n"),
        ("b/python/only_b.py", "X = 2\n"),
        ("src/app.py", "import shared, only_a, only_b\n\ndef handler(event, context):\n    return shared.VALUE\n"),
    ]);
    template(
        dir,
        &format!("  A:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: a/\n  B:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: b/\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n      Layers: {order}\n"),
    )
}

#[test]
fn a_later_layer_overrides_an_earlier_ones_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = order_fixture(dir.path(), "[!Ref A, !Ref B]");
    assert_eq!(invoke(&t, "Fn").1.trim(), "\"b\"");
    let t = order_fixture(dir.path(), "[!Ref B, !Ref A]");
    assert_eq!(invoke(&t, "Fn").1.trim(), "\"a\"");
}

#[test]
fn lambdas_layer_limits_are_deploy_errors_naming_the_function() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[
            ("l/python/x.py", "X = 1\n"),
            ("src/app.py", "def handler(e, c):\n    return 1\n"),
        ],
    );
    let layer = |id: &str, extra: &str| {
        format!("  {id}:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      LayerName: {id}\n      ContentUri: l/\n{extra}")
    };
    let function = |layers: &str| {
        format!("  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n      Layers: {layers}\n")
    };

    let six: String = (1..=6).map(|i| layer(&format!("L{i}"), "")).collect();
    let t = template(
        dir.path(),
        &format!(
            "{six}{}",
            function("[!Ref L1, !Ref L2, !Ref L3, !Ref L4, !Ref L5, !Ref L6]")
        ),
    );
    let (code, _, err) = invoke(&t, "Fn");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("Cannot reference more than 5 layers") || err.contains("more than 5 layers"),
        "{err}"
    );

    let t = template(
        dir.path(),
        &format!("{}{}", layer("L1", ""), function("[!Ref L1, !Ref L1]")),
    );
    let (code, _, err) = invoke(&t, "Fn");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("Fn") && err.contains("more than once"),
        "{err}"
    );

    let t = template(
        dir.path(),
        &function("[arn:aws:lambda:us-east-1:123456789012:layer:nope:1]"),
    );
    let (code, _, err) = invoke(&t, "Fn");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("function Fn")
            && err.contains(
                "Layer version arn:aws:lambda:us-east-1:123456789012:layer:nope:1 does not exist."
            ),
        "{err}"
    );

    let t = template(
        dir.path(),
        &format!(
            "{}{}",
            layer("Node", "      CompatibleRuntimes: [nodejs20.x]\n"),
            function("[!Ref Node]")
        ),
    );
    let (code, _, err) = invoke(&t, "Fn");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("function Fn") && err.contains("not compatible with runtime python3.11"),
        "{err}"
    );
}

#[test]
fn code_and_layers_over_250_mb_unzipped_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two layers of 126 MiB each: each is fine, together they are not. The size that
    // counts is the unzipped one, so the bytes are zeros in a sparse file, which take no
    // disk here and deflate to little. Both layers hold the same bytes, so the store keeps
    // one tree of them, yet each layer counts towards the limit, as in AWS.
    for name in ["big1", "big2"] {
        let p = dir.path().join(name).join("blob.bin");
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::File::create(&p)
            .and_then(|f| f.set_len(126 * 1024 * 1024))
            .expect("sparse blob");
    }
    write_tree(
        dir.path(),
        &[("src/app.py", "def handler(e, c):\n    return 1\n")],
    );
    let t = template(
        dir.path(),
        "  Big1:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: big1/\n  Big2:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: big2/\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n      Layers: [!Ref Big1, !Ref Big2]\n",
    );
    let (code, _, err) = invoke(&t, "Fn");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("Unzipped size must be smaller than 262144000 bytes"),
        "{err}"
    );
}

#[test]
fn publish_list_versions_delete_and_numbers_are_never_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    write_tree(dir.path(), &[("content/python/m.py", "X = 1\n")]);
    let publish = || {
        let out = run(ledge()
            .args(["layer", "publish", "mylib"])
            .arg(dir.path().join("content"))
            .args([
                "--compatible-runtimes",
                "python3.11",
                "--description",
                "my lib",
                "--state-dir",
            ])
            .arg(&state));
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        publish(),
        "arn:aws:lambda:us-east-1:123456789012:layer:mylib:1"
    );
    assert_eq!(
        publish(),
        "arn:aws:lambda:us-east-1:123456789012:layer:mylib:2"
    );
    let out = run(ledge()
        .args(["layer", "delete", "mylib", "2", "--state-dir"])
        .arg(&state));
    assert!(out.status.success());
    assert_eq!(
        publish(),
        "arn:aws:lambda:us-east-1:123456789012:layer:mylib:3",
        "2 is never reused"
    );
    let out = run(ledge()
        .args(["layer", "versions", "mylib", "--state-dir"])
        .arg(&state));
    let listing = text(&out.stdout);
    let versions: Vec<&str> = listing
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(versions, ["3", "1"]);
    let out = run(ledge().args(["layer", "list", "--state-dir"]).arg(&state));
    assert!(text(&out.stdout).contains("arn:aws:lambda:us-east-1:123456789012:layer:mylib:3"));
}

#[test]
fn unsafe_archives_are_refused_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let zip = dir.path().join("evil.zip");
    let st = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    z.writestr('python/ok.py', 'X = 1')\n    z.writestr('../../escaped.txt', 'gotcha')\n"])
        .arg(&zip)
        .status()
        .expect("python3");
    assert!(st.success());
    let out = run(ledge()
        .args(["layer", "publish", "evil"])
        .arg(&zip)
        .arg("--state-dir")
        .arg(&state));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("escapes"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("escaped.txt").exists() && !state.join("escaped.txt").exists());
    let out = run(ledge().args(["layer", "list", "--state-dir"]).arg(&state));
    assert_eq!(
        text(&out.stdout).lines().count(),
        1,
        "no layer was published"
    );
}

#[test]
fn a_template_layer_keeps_its_version_across_restarts_until_it_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    write_tree(
        dir.path(),
        &[
            ("lib/python/dep.py", "VALUE = 1\n"),
            (
                "src/app.py",
                "import dep\n\ndef handler(e, c):\n    return dep.VALUE\n",
            ),
        ],
    );
    let t = template(
        dir.path(),
        "  Dep:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      LayerName: dep\n      ContentUri: lib/\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n      Layers: [!Ref Dep]\n",
    );
    let versions = || {
        let out = run(ledge()
            .args(["layer", "versions", "dep", "--state-dir"])
            .arg(&state));
        text(&out.stdout)
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    for expected in [["1"].as_slice(), ["1"].as_slice()] {
        let mut running = up_with(&t, &state, Stdio::null());
        let url = running.ready["functions"]["Fn"]["invoke_url"]
            .as_str()
            .expect("url")
            .to_owned();
        assert_eq!(post(&url, "{}").1, "1");
        sigterm(&running.child);
        running.child.wait().expect("wait");
        assert_eq!(versions(), expected);
    }
    write_tree(dir.path(), &[("lib/python/dep.py", "VALUE = 2\n")]);
    let mut running = up_with(&t, &state, Stdio::null());
    let url = running.ready["functions"]["Fn"]["invoke_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(post(&url, "{}").1, "2");
    sigterm(&running.child);
    running.child.wait().expect("wait");
    assert_eq!(versions(), ["2", "1"]);
}

#[test]
fn without_a_mount_namespace_layers_are_reached_through_search_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), &[
        ("lib/python/dep.py", "VALUE = 'from layer'\n"),
        ("lib/bin/tool", "#!/bin/sh\necho tool-ran\n"),
        ("src/app.py", "import dep, os, subprocess\n\ndef handler(e, c):\n    return {'value': dep.VALUE, 'file': dep.__file__, 'tool': subprocess.check_output(['tool']).decode().strip(), 'ld': os.environ['LD_LIBRARY_PATH']}\n"),
    ]);
    std::fs::set_permissions(
        dir.path().join("lib/bin/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let t = template(
        dir.path(),
        "  Dep:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: lib/\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n      Layers: [!Ref Dep]\n",
    );
    let out = run(ledge()
        .args(["invoke", "Fn", "--no-mount-ns", "--payload", "{}", "-t"])
        .arg(&t));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("layers: no mount namespace here"),
        "the fallback is announced once: {err}"
    );
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("json");
    assert_eq!(v["value"], "from layer");
    assert_eq!(v["tool"], "tool-ran", "a layer's bin/ is on PATH");
    let file = v["file"].as_str().expect("file");
    assert!(
        !file.starts_with("/opt/") && file.ends_with("/python/dep.py"),
        "{file}"
    );
    assert!(
        v["ld"]
            .as_str()
            .expect("ld")
            .contains(&file.replace("/python/dep.py", "/lib")),
        "{v}"
    );
}
