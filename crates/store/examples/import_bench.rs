//! Time to publish and materialise a 50 MB layer: 40 MB of incompressible data in four
//! files plus 10 MB in 2,000 small text files.
//!
//! ```text
//! cargo run --release -p ledge-store --example import_bench [-- ROUNDS]
//! ```
//!
//! Prints, per round (median at the end): a first `import_dir` (zip, hash, extract), an
//! unchanged re-import (zip and hash only), a first `import_zip_file` of the same layer as
//! a prebuilt zip into a fresh state dir, `merged_tree` of five layers, and its cached
//! lookup.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use ledge_store::{ExtractLimits, LayerMeta, Store};
use rand::RngCore;

fn make_layer(dir: &Path) -> u64 {
    let mut rng = rand::rng();
    let mut total = 0u64;
    fs::create_dir_all(dir.join("lib")).expect("mkdir");
    for i in 0..4 {
        let mut data = vec![0u8; 10 << 20];
        rng.fill_bytes(&mut data);
        fs::write(dir.join(format!("lib/blob{i}.so")), &data).expect("write");
        total += data.len() as u64;
    }
    let words = [
        "lambda", "layer", "import", "def", "return", "self", "value", "\n",
    ];
    for p in 0..40 {
        let pkg = dir.join(format!("python/pkg{p:02}"));
        fs::create_dir_all(&pkg).expect("mkdir");
        for m in 0..50 {
            let mut text = String::with_capacity(5300);
            while text.len() < 5120 {
                text.push_str(words[(rng.next_u32() % words.len() as u32) as usize]);
                text.push(' ');
            }
            fs::write(pkg.join(format!("mod{m:02}.py")), &text).expect("write");
            total += text.len() as u64;
        }
    }
    total
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let work = tempfile::tempdir().expect("tempdir");
    let src = work.path().join("layer");
    let bytes = make_layer(&src);
    println!(
        "layer: {:.1} MB in {} files",
        bytes as f64 / 1e6,
        4 + 40 * 50
    );
    let limits = ExtractLimits::default();
    let mut cold_dir = Vec::new();
    let mut warm_dir = Vec::new();
    let mut cold_zip = Vec::new();
    let mut merge5 = Vec::new();
    for round in 0..rounds {
        let state = work.path().join(format!("state{round}"));
        let store = Store::open(&state, "us-east-1", "123456789012").expect("open");

        let t = Instant::now();
        let a = store.import_dir(&src, &limits).expect("import_dir");
        store
            .publish_layer_version("bench", &a, &LayerMeta::default())
            .expect("publish");
        cold_dir.push(t.elapsed());

        let t = Instant::now();
        let again = store.import_dir(&src, &limits).expect("import_dir");
        warm_dir.push(t.elapsed());
        assert_eq!(again.sha256_hex, a.sha256_hex);

        let state2 = work.path().join(format!("zstate{round}"));
        let store2 = Store::open(&state2, "us-east-1", "123456789012").expect("open");
        let t = Instant::now();
        let z = store2
            .import_zip_file(&a.zip_path, &limits)
            .expect("import_zip_file");
        cold_zip.push(t.elapsed());
        assert_eq!(z.sha256_hex, a.sha256_hex);

        // Five layers: the big one and four small distinct ones.
        let mut layers = vec![a.clone()];
        for i in 0..4 {
            let d = work.path().join(format!("small{round}-{i}"));
            fs::create_dir_all(d.join("python")).expect("mkdir");
            fs::write(d.join(format!("python/small{i}.py")), format!("X = {i}\n")).expect("write");
            layers.push(store.import_dir(&d, &limits).expect("import small"));
        }
        let t = Instant::now();
        let merged = store.merged_tree(&layers).expect("merge");
        merge5.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(store.merged_tree(&layers).expect("merge"), merged);
        let cached = t.elapsed();

        println!(
            "round {round}: import_dir+publish {} | unchanged import_dir {} | import_zip_file {} \
             | merged_tree(5 layers) {} | cached merged_tree {:.3} ms | zip {:.1} MB",
            ms(cold_dir[round]),
            ms(warm_dir[round]),
            ms(cold_zip[round]),
            ms(merge5[round]),
            cached.as_secs_f64() * 1000.0,
            a.zip_size as f64 / 1e6,
        );
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        ms(v[v.len() / 2])
    };
    println!(
        "median of {rounds}: import_dir+publish {} | unchanged import_dir {} | import_zip_file {} | merged_tree(5) {}",
        median(&mut cold_dir),
        median(&mut warm_dir),
        median(&mut cold_zip),
        median(&mut merge5)
    );
}
