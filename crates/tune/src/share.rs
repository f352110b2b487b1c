//! The opt-in share link, in lambda-power-tuning.show's hash format:
//! `b64(Int16 sizes);b64(Float32 ms);b64(Float32 $)`, and the 8-part comparison form
//! `sizes1;times1;costs1;sizes2;times2;costs2;name1;name2`. The data rides in the URL
//! hash, which browsers never send to the server; ledge builds the link only when asked.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::analysis::{TuneOutput, VISUALIZATION_URL};

/// `(sizes, durations, costs)` of the viable sizes, sorted by size.
fn series(out: &TuneOutput) -> (Vec<u32>, Vec<f64>, Vec<f64>) {
    let mut v: Vec<(u32, f64, f64)> = out
        .ledge
        .sizes
        .iter()
        .filter(|s| s.viable)
        .map(|s| {
            (
                s.memory,
                s.duration.as_ref().map(|d| d.mean.value).unwrap_or(0.0),
                s.cost.map(|c| c.value).unwrap_or(0.0),
            )
        })
        .collect();
    v.sort_by_key(|x| x.0);
    (
        v.iter().map(|x| x.0).collect(),
        v.iter().map(|x| x.1).collect(),
        v.iter().map(|x| x.2).collect(),
    )
}

/// The three hash parts.
pub fn encode(sizes: &[u32], times: &[f64], costs: &[f64]) -> [String; 3] {
    let s: Vec<u8> = sizes
        .iter()
        .flat_map(|v| (i16::try_from(*v).unwrap_or(i16::MAX)).to_le_bytes())
        .collect();
    let f = |xs: &[f64]| -> Vec<u8> { xs.iter().flat_map(|v| (*v as f32).to_le_bytes()).collect() };
    [
        STANDARD.encode(s),
        STANDARD.encode(f(times)),
        STANDARD.encode(f(costs)),
    ]
}

/// Decodes the three parts (for tests and for reading links back).
pub fn decode(hash: &str) -> Option<(Vec<u32>, Vec<f32>, Vec<f32>)> {
    let parts: Vec<&str> = hash.trim_start_matches('#').split(';').collect();
    if parts.len() < 3 {
        return None;
    }
    let s = STANDARD.decode(parts[0]).ok()?;
    let t = STANDARD.decode(parts[1]).ok()?;
    let c = STANDARD.decode(parts[2]).ok()?;
    let f = |b: &[u8]| {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    Some((
        s.chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]) as u32)
            .collect(),
        f(&t),
        f(&c),
    ))
}

/// A link to one run.
pub fn visualization_url(out: &TuneOutput) -> String {
    let (s, t, c) = series(out);
    format!("{VISUALIZATION_URL}#{}", encode(&s, &t, &c).join(";"))
}

/// A link comparing two runs (the UI's 8-part form).
pub fn compare_url(a: &TuneOutput, name_a: &str, b: &TuneOutput, name_b: &str) -> String {
    let (s1, t1, c1) = series(a);
    let (s2, t2, c2) = series(b);
    let p1 = encode(&s1, &t1, &c1).join(";");
    let p2 = encode(&s2, &t2, &c2).join(";");
    format!(
        "{VISUALIZATION_URL}#{p1};{p2};{};{}",
        uri_component(name_a),
        uri_component(name_b)
    )
}

/// JavaScript's `encodeURIComponent`.
fn uri_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str =
        "gAAAAQACAAQABsAL;ZooQR4yvkUa/pQRGRC5zRaADHUVjOftE;QdWhOEMkoziDT5Q4xhiIOMYYiDi6RNc4";

    #[test]
    fn decodes_and_reencodes_the_readme_example() {
        let (s, t, c) = decode(README).expect("decode");
        assert_eq!(s, vec![128, 256, 512, 1024, 1536, 3008]);
        assert!((t[0] - 37002.4).abs() < 0.01 && (t[5] - 2009.8).abs() < 0.01);
        assert!((c[3] - 6.49e-5).abs() < 1e-7);
        let t64: Vec<f64> = t.iter().map(|v| f64::from(*v)).collect();
        let c64: Vec<f64> = c.iter().map(|v| f64::from(*v)).collect();
        assert_eq!(encode(&s, &t64, &c64).join(";"), README);
    }

    #[test]
    fn names_are_uri_encoded() {
        assert_eq!(uri_component("JS x86/arm64"), "JS%20x86%2Farm64");
    }
}
