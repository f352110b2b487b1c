//! The parser must return (a template or a positioned error) on any input, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(src) = std::str::from_utf8(data) {
        if let Err(e) = ledge_vtl::Template::compile(src) {
            assert!(e.line >= 1 && e.column >= 1, "{e}");
        }
    }
});
