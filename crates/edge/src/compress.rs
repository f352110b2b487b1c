//! Edge compression (reference §1.2 "Compression"): gzip and Brotli, Brotli preferred, only
//! for compressible types of 1,000–10,000,000 bytes with status 200, 403 or 404 and no
//! `Content-Encoding` from the origin.

use std::io::Write;

use bytes::Bytes;

use crate::consts::COMPRESSIBLE;

/// gzip or br.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Gzip,
    Brotli,
}

impl Encoding {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Brotli => "br",
        }
    }

    /// From a normalised `Accept-Encoding` (`br,gzip` → Brotli).
    pub(crate) fn choose(normalized: Option<&str>) -> Option<Self> {
        match normalized? {
            v if v.contains("br") => Some(Self::Brotli),
            v if v.contains("gzip") => Some(Self::Gzip),
            _ => None,
        }
    }
}

pub(crate) fn compressible_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let base = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    COMPRESSIBLE.contains(&base.as_str())
}

pub(crate) fn eligible(
    status: u16,
    content_encoding: Option<&str>,
    content_type: Option<&str>,
    len: usize,
) -> bool {
    matches!(status, 200 | 403 | 404)
        && content_encoding.is_none_or(|e| e.eq_ignore_ascii_case("identity"))
        && (1_000..=10_000_000).contains(&len)
        && compressible_type(content_type)
}

pub(crate) fn compress(encoding: Encoding, data: &[u8]) -> std::io::Result<Bytes> {
    match encoding {
        Encoding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(data)?;
            Ok(Bytes::from(enc.finish()?))
        }
        Encoding::Brotli => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                w.write_all(data)?;
            }
            Ok(Bytes::from(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn round_trips() {
        let data = "hello edge ".repeat(200);
        let gz = compress(Encoding::Gzip, data.as_bytes()).expect("gzip");
        let mut out = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut out)
            .expect("gunzip");
        assert_eq!(out, data);
        let br = compress(Encoding::Brotli, data.as_bytes()).expect("br");
        let mut out = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut out)
            .expect("unbrotli");
        assert_eq!(out, data.as_bytes());
    }

    #[test]
    fn eligibility() {
        assert!(eligible(200, None, Some("text/html; charset=utf-8"), 5_000));
        assert!(!eligible(200, None, Some("image/png"), 5_000));
        assert!(!eligible(200, Some("gzip"), Some("text/html"), 5_000));
        assert!(!eligible(200, None, Some("text/html"), 999));
        assert!(!eligible(500, None, Some("text/html"), 5_000));
        assert!(eligible(404, None, Some("application/json"), 1_000));
        assert_eq!(Encoding::choose(Some("br,gzip")), Some(Encoding::Brotli));
        assert_eq!(Encoding::choose(Some("gzip")), Some(Encoding::Gzip));
    }
}
