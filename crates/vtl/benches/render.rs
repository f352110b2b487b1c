//! Rendering a typical 20-line request template (`$input.json('$')`, `#foreach`, `$util`
//! calls, params and context) against a ~400-byte JSON body. Target: ≤ 5 µs per render.
//!
//! `cargo bench -p ledge-vtl --bench render`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ledge_vtl::{Context, Template};

const TEMPLATE: &str = r#"#set($body = $input.path('$'))
#set($items = $body.items)
{
  "TableName": "$stageVariables.table",
  "requestId": "$context.requestId",
  "raw": $input.json('$'),
  "customer": "$util.escapeJavaScript($body.customer.name)",
  "note": "$util.urlEncode($body.note)",
  "source": "$input.params('source')",
  "count": $items.size(),
  "items": [
#foreach($item in $items)
    {"sku": "$item.sku", "qty": $item.qty, "tag": "$util.base64Encode($item.sku)"}#if($foreach.hasNext),#end

#end
  ],
  #if($body.priority == "high")"priority": true#else"priority": false#end,
  "total": $body.total
}
"#;

const BODY: &str = r#"{"customer":{"name":"Ann O'Neil","id":"c-17"},"note":"leave at door & ring","priority":"high","total":129.5,
"items":[{"sku":"A-100","qty":1},{"sku":"B-200","qty":2},{"sku":"C-300","qty":1},{"sku":"D-400","qty":5},{"sku":"E-500","qty":3}]}"#;

fn bench(c: &mut Criterion) {
    let tpl = Template::compile(TEMPLATE).expect("bench template compiles");
    let mut ctx = Context::with_body(BODY);
    ctx.params.querystring.insert("source".into(), "web".into());
    ctx.stage_variables.insert("table".into(), "Orders".into());
    ctx.context = serde_json::json!({"requestId": "4f1c-9a2e", "stage": "prod"}).into();
    let out = tpl.render(&ctx).expect("bench template renders");
    assert!(out.contains(r#""sku": "E-500""#), "{out}");
    c.bench_function("render_typical_20_line_template", |b| {
        b.iter(|| tpl.render(black_box(&ctx)).expect("renders"))
    });
    c.bench_function("compile_typical_20_line_template", |b| {
        b.iter(|| Template::compile(black_box(TEMPLATE)).expect("compiles"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
