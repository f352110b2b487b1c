//! API Gateway cache cluster sizes and the byte capacity they map to.

use std::fmt;
use std::str::FromStr;

use crate::error::CacheError;

/// The default bound on an in-process cache, whatever cluster size a stage asks for:
/// 512 MiB. A 237 GB cluster on a laptop would be a promise ledge cannot keep.
pub const DEFAULT_MEMORY_CEILING_BYTES: u64 = 512 * 1024 * 1024;

/// A stage's `cacheClusterSize`: API Gateway's eight sizes, in GB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClusterSize {
    /// "0.5" GB
    Gb0_5,
    /// "1.6" GB
    Gb1_6,
    /// "6.1" GB
    Gb6_1,
    /// "13.5" GB
    Gb13_5,
    /// "28.4" GB
    Gb28_4,
    /// "58.2" GB
    Gb58_2,
    /// "118" GB
    Gb118,
    /// "237" GB
    Gb237,
}

impl ClusterSize {
    /// Every size, smallest first.
    pub const ALL: [ClusterSize; 8] = [
        ClusterSize::Gb0_5,
        ClusterSize::Gb1_6,
        ClusterSize::Gb6_1,
        ClusterSize::Gb13_5,
        ClusterSize::Gb28_4,
        ClusterSize::Gb58_2,
        ClusterSize::Gb118,
        ClusterSize::Gb237,
    ];

    /// The value as API Gateway writes it (`"0.5"`, …, `"237"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterSize::Gb0_5 => "0.5",
            ClusterSize::Gb1_6 => "1.6",
            ClusterSize::Gb6_1 => "6.1",
            ClusterSize::Gb13_5 => "13.5",
            ClusterSize::Gb28_4 => "28.4",
            ClusterSize::Gb58_2 => "58.2",
            ClusterSize::Gb118 => "118",
            ClusterSize::Gb237 => "237",
        }
    }

    /// The cluster's size in bytes (decimal GB: "0.5" is 500,000,000 bytes).
    pub fn bytes(self) -> u64 {
        let tenths: u64 = match self {
            ClusterSize::Gb0_5 => 5,
            ClusterSize::Gb1_6 => 16,
            ClusterSize::Gb6_1 => 61,
            ClusterSize::Gb13_5 => 135,
            ClusterSize::Gb28_4 => 284,
            ClusterSize::Gb58_2 => 582,
            ClusterSize::Gb118 => 1180,
            ClusterSize::Gb237 => 2370,
        };
        tenths * 100_000_000
    }

    /// The in-process capacity for this size: its bytes, bounded by `ceiling`.
    pub fn capacity(self, ceiling: u64) -> u64 {
        self.bytes().min(ceiling)
    }
}

impl fmt::Display for ClusterSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClusterSize {
    type Err = CacheError;

    fn from_str(s: &str) -> Result<Self, CacheError> {
        ClusterSize::ALL
            .into_iter()
            .find(|size| size.as_str() == s.trim())
            .ok_or_else(|| CacheError::InvalidClusterSize {
                value: s.to_owned(),
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_map_to_bytes_bounded_by_the_ceiling() {
        assert_eq!("0.5".parse::<ClusterSize>().unwrap().bytes(), 500_000_000);
        assert_eq!(
            "237".parse::<ClusterSize>().unwrap().bytes(),
            237_000_000_000
        );
        assert_eq!("58.2".parse::<ClusterSize>().unwrap(), ClusterSize::Gb58_2);
        for size in ClusterSize::ALL {
            assert_eq!(size.as_str().parse::<ClusterSize>().unwrap(), size);
        }
        assert_eq!(
            ClusterSize::Gb237.capacity(DEFAULT_MEMORY_CEILING_BYTES),
            DEFAULT_MEMORY_CEILING_BYTES
        );
        assert_eq!(ClusterSize::Gb0_5.capacity(u64::MAX), 500_000_000);
        let err = "1".parse::<ClusterSize>().unwrap_err();
        assert!(err.to_string().contains("\"1\""), "{err}");
        assert!("0.50".parse::<ClusterSize>().is_err());
    }
}
