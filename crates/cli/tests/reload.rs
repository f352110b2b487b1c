//! Hot reload (issue 3): edits while `ledge up` runs reach new environments; warm
//! siblings keep their processes; a broken template keeps the running app.

mod common;

use common::*;

#[test]
fn editing_a_handler_reloads_it_and_a_warm_sibling_keeps_its_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path(), &[
        ("edit/app.py", "import os\n\ndef handler(e, c):\n    return {'answer': 'old', 'pid': os.getpid()}\n"),
        ("sibling/app.py", "import os\n\ndef handler(e, c):\n    return {'pid': os.getpid()}\n"),
        ("lib/python/dep.py", "VALUE = 'v1'\n"),
        ("uses/app.py", "import dep\n\ndef handler(e, c):\n    return dep.VALUE\n"),
    ]);
    let t = dir.path().join("template.yaml");
    let body = |broken: bool| {
        format!(
            "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function:\n    Runtime: python3.11\n    Handler: app.handler\nResources:\n  Edit:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: edit/\n  Sibling:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: sibling/\n  Dep:\n    Type: AWS::Serverless::LayerVersion\n    Properties:\n      ContentUri: lib/\n  Uses:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: uses/\n      Layers: [!Ref Dep]\n{}",
            if broken { "  Bad: [unclosed\n" } else { "" }
        )
    };
    std::fs::write(&t, body(false)).expect("write");
    let state = dir.path().join("state");
    let stderr_path = dir.path().join("stderr.txt");
    let running = up_with(
        &t,
        &state,
        std::fs::File::create(&stderr_path).expect("stderr file"),
    );
    let url = |f: &str| {
        running.ready["functions"][f]["invoke_url"]
            .as_str()
            .expect("url")
            .to_owned()
    };
    let json = |f: &str| -> serde_json::Value {
        serde_json::from_str(&post(&url(f), "{}").1).expect("json")
    };

    let sibling_pid = json("Sibling")["pid"].clone();
    assert_eq!(json("Edit")["answer"], "old");

    std::fs::write(
        dir.path().join("edit/app.py"),
        "import os\n\ndef handler(e, c):\n    return {'answer': 'new', 'pid': os.getpid()}\n",
    )
    .expect("edit");
    eventually(15, "the edited handler to answer", || {
        json("Edit")["answer"] == "new"
    });
    assert_eq!(
        json("Sibling")["pid"],
        sibling_pid,
        "the unchanged sibling kept its warm process"
    );
    let log = std::fs::read_to_string(&stderr_path).expect("stderr");
    assert!(
        log.contains("reload: Edit: code changed"),
        "one line for the changed function:\n{log}"
    );
    assert!(
        !log.contains("reload: Sibling"),
        "nothing said about unchanged functions:\n{log}"
    );

    // A layer's content changes: a new version, and the function sees it.
    assert_eq!(post(&url("Uses"), "{}").1, "\"v1\"");
    std::fs::write(dir.path().join("lib/python/dep.py"), "VALUE = 'v2'\n").expect("edit layer");
    eventually(15, "the new layer content", || {
        post(&url("Uses"), "{}").1 == "\"v2\""
    });

    // A template that no longer parses keeps the running app as it was.
    std::fs::write(&t, body(true)).expect("break");
    eventually(15, "the reload error", || {
        std::fs::read_to_string(&stderr_path)
            .unwrap_or_default()
            .contains("the running app is unchanged")
    });
    assert_eq!(json("Edit")["answer"], "new");
    assert_eq!(json("Sibling")["pid"], sibling_pid);
}

#[test]
fn a_changed_http_api_route_is_redeployed_while_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[(
            "src/app.py",
            "def handler(e, c):\n    return {'statusCode': 200, 'body': e['rawPath']}\n",
        )],
    );
    let t = dir.path().join("template.yaml");
    let body = |path: &str| {
        format!(
            "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n      Events:\n        Get:\n          Type: HttpApi\n          Properties:\n            Path: {path}\n            Method: GET\n"
        )
    };
    std::fs::write(&t, body("/first")).expect("write");
    let running = up(&t, &dir.path().join("state"));
    let base = running.ready["apis"]["ServerlessHttpApi"]["url"]
        .as_str()
        .expect("api url")
        .trim_end_matches('/')
        .to_owned();
    let get = |p: &str| {
        let r = reqwest::blocking::get(format!("{base}{p}")).expect("get");
        (r.status().as_u16(), r.text().expect("body"))
    };
    assert_eq!(get("/first"), (200, "/first".to_owned()));
    std::fs::write(&t, body("/second")).expect("edit");
    eventually(15, "the new route", || get("/second").0 == 200);
    assert_eq!(
        get("/first"),
        (404, r#"{"message":"Not Found"}"#.to_owned())
    );
}

#[test]
fn api_changes_survive_a_reload_and_state_dir_writes_trigger_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(
        dir.path(),
        &[(
            "src/app.py",
            "def handler(e, c):\n    return {'memory': c.memory_limit_in_mb, 'v': 1}\n",
        )],
    );
    let t = dir.path().join("template.yaml");
    std::fs::write(
        &t,
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/\n      Handler: app.handler\n      Runtime: python3.11\n      MemorySize: 128\n",
    )
    .expect("write");
    // The state dir inside the template's folder, as by default.
    let state = dir.path().join(".ledge");
    let stderr_path = dir.path().join("stderr.txt");
    let running = up_with(
        &t,
        &state,
        std::fs::File::create(&stderr_path).expect("stderr"),
    );
    let endpoint = running.ready["aws_endpoint"]
        .as_str()
        .expect("endpoint")
        .to_owned();
    let url = running.ready["functions"]["Fn"]["invoke_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let call = || -> serde_json::Value { serde_json::from_str(&post(&url, "{}").1).expect("json") };
    assert_eq!(call()["memory"], "128");

    let resp = reqwest::blocking::Client::new()
        .put(format!("{endpoint}/2015-03-31/functions/Fn/configuration"))
        .body(r#"{"MemorySize": 512}"#)
        .send()
        .expect("update");
    assert_eq!(
        resp.status().as_u16(),
        200,
        "{}",
        resp.text().unwrap_or_default()
    );
    assert_eq!(call()["memory"], "512");
    // Several invocations write to the state dir (logs, database): no reload follows.
    for _ in 0..5 {
        call();
    }
    std::thread::sleep(std::time::Duration::from_millis(600));
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        !log.contains("reload:"),
        "writes in the state dir are not edits:\n{log}"
    );
    assert_eq!(call()["memory"], "512");

    // A code edit reloads the code and keeps the memory the API set.
    std::fs::write(
        dir.path().join("src/app.py"),
        "def handler(e, c):\n    return {'memory': c.memory_limit_in_mb, 'v': 2}\n",
    )
    .expect("edit");
    eventually(15, "the new code", || call()["v"] == 2);
    assert_eq!(
        call()["memory"],
        "512",
        "the template did not change the memory"
    );
}
