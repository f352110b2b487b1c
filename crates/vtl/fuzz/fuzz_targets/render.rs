//! Whatever compiles must render (or fail with a RenderError) without panicking, against a
//! body taken from the same input: `template \0 body`.
#![no_main]

use ledge_vtl::{Context, Limits, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (src, body) = text
        .split_once('\0')
        .unwrap_or((text, r#"{"a":[1,"x"],"b":{"c":null}}"#));
    if let Ok(tpl) = Template::compile(src) {
        let limits = Limits {
            max_steps: 100_000,
            max_output_bytes: 1 << 20,
            ..Limits::default()
        };
        let mut ctx = Context::with_body(body);
        ctx.params.path.insert("id".into(), "1".into());
        let _ = tpl.render_full(&ctx, &limits);
    }
});
