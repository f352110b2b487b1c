//! Property tests: the parser never panics and always returns on arbitrary input; rendering
//! arbitrary compiled templates against arbitrary JSON bodies never panics; `$util`
//! encodings round-trip.

use ledge_vtl::{Context, Limits, Template, Value};
use proptest::prelude::*;

/// Pieces of VTL that, concatenated at random, reach deep into parser and renderer.
const FRAGMENTS: &[&str] = &[
    "$input.json('$')",
    "$input.path('$')",
    "$input.path('$.a')",
    "$input.path('$..*')",
    "$input.json('$.a[*]')",
    "$input.path('$.a[-1]')",
    "$input.params()",
    "$input.params('a')",
    "$input.body",
    "$util.escapeJavaScript($x)",
    "$util.parseJson($input.body)",
    "$util.urlEncode($x)",
    "$util.urlDecode($x)",
    "$util.base64Decode($x)",
    "$util.base64Encode($x)",
    "#set($x = ",
    "#set($x = $input.path('$'))",
    "#set($l = [])",
    "#set($d = $l.add($x))",
    "#set($m = {})",
    "#set($d = $m.put($x, $l))",
    "#set($d = $l.add($l))",
    "#set($l[0] = $x)",
    "#set($x = \"$x$x\")",
    "#foreach($i in $input.path('$..*'))",
    "#foreach($j in [1..3])",
    "#foreach($k in $x)",
    "#if($x)",
    "#elseif($i == 1)",
    "#else",
    "#end",
    "#break",
    "#stop",
    "#define($dd)",
    "$dd",
    "#macro(mm $a)",
    "#mm($x)",
    "#mm()",
    "$foreach.index",
    "$foreach.hasNext",
    "$foreach.parent.count",
    "$velocityCount",
    "$x",
    "$!x",
    "${x}",
    "$i",
    "$x.size()",
    "$x.toString()",
    "$x.replaceAll('[a-z]', '$0$0')",
    "$x.split(',')",
    "$x.substring(1)",
    "$x.get(0)",
    "$x[0]",
    "$x.keySet()",
    "$x.entrySet()",
    "$x.matches('.*')",
    "$x.length()",
    "$x.charAt(2)",
    "$x.indexOf('a')",
    "$l.contains($l)",
    "$m.equals($m)",
    ")",
    "(",
    " ",
    "\n",
    "'s'",
    "\"s $x #if($x)y#end\"",
    "1",
    "2.5",
    "-",
    "+",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    "&&",
    "||",
    "!",
    " and ",
    " not ",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "..",
    "$",
    "#",
    "\\",
    "\\$x",
    "\\#if",
    "##c\n",
    "#*c*#",
    "#[[u]]#",
    "#{else}",
    "#{end}",
    "$context.requestOverride.header.h",
    "$context.responseOverride.status",
    "#set($context.requestOverride.header.h = $x)",
    "#set($context.responseOverride.status = $x)",
    "$stageVariables.s",
    "text",
    "é😀",
    "\"",
    "'",
];

fn template() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|f| f.concat())
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (-1e9f64..1e9).prop_map(serde_json::Value::from),
        "[a-z,.' \"]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-c]", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn small_limits() -> Limits {
    Limits {
        max_steps: 200_000,
        max_output_bytes: 1 << 20,
        ..Limits::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parser_never_panics_on_arbitrary_text(src in any::<String>()) {
        let _ = Template::compile(&src);
    }

    #[test]
    fn parser_never_panics_on_vtl_like_text(src in template()) {
        let _ = Template::compile(&src);
    }

    #[test]
    fn rendering_never_panics(src in template(), body in json(), raw in any::<bool>(), x in json()) {
        if let Ok(tpl) = Template::compile(&src) {
            let mut ctx = Context::with_body(if raw { "not json {".to_owned() } else { body.to_string() });
            ctx.vars.insert("x".into(), Value::from(x));
            ctx.params.path.insert("a".into(), "p".into());
            ctx.context = serde_json::json!({"requestId": "r"}).into();
            let _ = tpl.render_full(&ctx, &small_limits());
        }
    }

    #[test]
    fn url_encoding_round_trips(s in any::<String>()) {
        let mut ctx = Context::default();
        ctx.vars.insert("s".into(), Value::from(s.clone()));
        let tpl = Template::compile("$util.urlDecode($util.urlEncode($s))").expect("compiles");
        prop_assert_eq!(tpl.render(&ctx).expect("renders"), s.clone());
        let tpl = Template::compile("$util.base64Decode($util.base64Encode($s))").expect("compiles");
        prop_assert_eq!(tpl.render(&ctx).expect("renders"), s);
    }

    #[test]
    fn escaped_javascript_is_a_json_string_once_quotes_are_unescaped(s in any::<String>()) {
        let mut ctx = Context::default();
        ctx.vars.insert("s".into(), Value::from(s.clone()));
        let tpl = Template::compile("\"$util.escapeJavaScript($s).replaceAll(\"\\\\'\",\"'\")\"").expect("compiles");
        let out = tpl.render(&ctx).expect("renders");
        let back: String = serde_json::from_str(&out).expect("valid JSON string");
        prop_assert_eq!(back, s);
    }

    #[test]
    fn input_json_of_the_root_is_the_document(body in json()) {
        let tpl = Template::compile("$input.json('$')").expect("compiles");
        let out = tpl.render(&Context::with_body(body.to_string())).expect("renders");
        let back: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        // Integral floats such as 1.0 come back as floats; compare as f64 where needed.
        prop_assert!(json_eq(&back, &body), "{} vs {}", back, body);
    }
}

fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => x.as_f64() == y.as_f64(),
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Object(x), Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Guards the generator: a fuzzer whose templates never compile or never render would make
/// the properties above vacuous.
#[test]
fn generated_templates_often_compile_and_render() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut compiled, mut rendered) = (0, 0);
    for _ in 0..500 {
        let src = template()
            .new_tree(&mut runner)
            .expect("generates")
            .current();
        if let Ok(tpl) = Template::compile(&src) {
            compiled += 1;
            if tpl
                .render_full(&Context::with_body(r#"{"a":[1,"x,y"]}"#), &small_limits())
                .is_ok()
            {
                rendered += 1;
            }
        }
    }
    eprintln!("generated templates: {compiled} of 500 compiled, {rendered} rendered");
    assert!(
        compiled >= 50 && rendered >= 25,
        "compiled {compiled}, rendered {rendered} of 500"
    );
}
