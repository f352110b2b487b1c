//! Golden suite: every `tests/golden/NAME.vtl` is rendered against `NAME.input.json` and
//! compared byte for byte with `NAME.out`; `NAME.overrides.json` (if present) with the
//! overrides read back; `NAME.err` (if present) must be contained in the render error.
//!
//! `NAME.input.json`: `{"body": "raw text"}` or `{"body_json": …}`, plus optional `params`
//! (`path`/`querystring`/`header` maps), `context`, `stageVariables`.
//! Expected outputs were derived by hand from reference §3.5/§3.6 (AWS-verified cases) and
//! Velocity 1.7's whitespace rules; `UPDATE_GOLDEN=1` writes missing `.out` files for review.

use indexmap::IndexMap;
use ledge_vtl::{Context, Limits, Overrides, Template, Value};
use std::path::{Path, PathBuf};

fn string_map(v: &Value) -> IndexMap<String, String> {
    match v {
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => serde_json::to_string(other).expect("serializes"),
                };
                (k.clone(), s)
            })
            .collect(),
        _ => IndexMap::new(),
    }
}

fn context_from(input: &Value) -> Context {
    let body = match (&input["body"], &input["body_json"]) {
        (Value::String(s), _) => s.clone(),
        (_, Value::Null) => String::new(),
        (_, v) => serde_json::to_string(v).expect("serializes"),
    };
    let mut ctx = Context::with_body(body);
    ctx.params.path = string_map(&input["params"]["path"]);
    ctx.params.querystring = string_map(&input["params"]["querystring"]);
    ctx.params.header = string_map(&input["params"]["header"]);
    ctx.context = input["context"].clone();
    ctx.stage_variables = string_map(&input["stageVariables"]);
    ctx
}

fn overrides_json(o: &Overrides) -> serde_json::Value {
    serde_json::json!({
        "request": {
            "header": o.request.header,
            "path": o.request.path,
            "querystring": o.request.querystring,
        },
        "response": {
            "header": o.response.header,
            "status": o.response.status,
        },
    })
}

fn read(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok()
}

#[test]
fn golden_templates_render_as_recorded() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/golden exists")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".vtl").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 25, "only {} golden cases", names.len());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for name in &names {
        let file = |ext: &str| dir.join(format!("{name}.{ext}"));
        let src = read(&file("vtl")).expect("template readable");
        let input: Value = read(&file("input.json"))
            .map(|s| serde_json::from_str(&s).expect("input.json is JSON"))
            .unwrap_or_default();
        let tpl = match Template::compile(&src) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: does not compile: {e}"));
                continue;
            }
        };
        let result = tpl.render_full(&context_from(&input), &Limits::default());
        match (result, read(&file("err"))) {
            (Err(e), Some(want)) if e.to_string().contains(want.trim()) => {}
            (Err(e), _) => failures.push(format!("{name}: render error: {e}")),
            (Ok(r), Some(want)) => failures.push(format!(
                "{name}: expected error {want:?}, rendered {:?}",
                r.body
            )),
            (Ok(r), None) => {
                match read(&file("out")) {
                    Some(want) if want == r.body => {}
                    Some(want) => failures.push(format!(
                        "{name}: output differs\n--- expected\n{want}\n--- actual\n{}\n---",
                        r.body
                    )),
                    None if update => {
                        std::fs::write(file("out"), &r.body).expect("writes .out");
                        failures.push(format!("{name}: wrote {name}.out, review it"));
                    }
                    None => failures.push(format!("{name}: no {name}.out")),
                }
                if let Some(want) = read(&file("overrides.json")) {
                    let want: serde_json::Value =
                        serde_json::from_str(&want).expect("overrides.json is JSON");
                    let got = overrides_json(&r.overrides);
                    if want != got {
                        failures.push(format!("{name}: overrides {got} != {want}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}
