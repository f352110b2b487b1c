//! Geography: edge locations (POPs) and regional edge caches with real codes and airport
//! coordinates (reference §3.4, §3.7), great-circle distance, and the latency model of §3.6
//! as pure functions.

use std::time::Duration;

/// A point on Earth, degrees.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct GeoPoint {
    pub lat: f64,
    pub lon: f64,
}

impl GeoPoint {
    pub const fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }

    /// `"lat,lon"`.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.split_once(',')?;
        let lat: f64 = a.trim().parse().ok()?;
        let lon: f64 = b.trim().parse().ok()?;
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon))
            .then_some(Self { lat, lon })
    }
}

/// Great-circle distance in km (haversine, mean Earth radius 6371 km).
pub fn haversine_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dla = la2 - la1;
    let dlo = (b.lon - a.lon).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// An edge location.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Pop {
    /// IATA code, e.g. `FRA`.
    pub code: String,
    /// What `X-Amz-Cf-Pop` shows, e.g. `FRA56-P1`.
    pub id: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, for `CloudFront-Viewer-Country` of viewers placed at this POP.
    pub country: String,
    pub at: GeoPoint,
}

impl Pop {
    pub fn new(code: &str, id: &str, city: &str, country: &str, lat: f64, lon: f64) -> Self {
        Self {
            code: code.to_owned(),
            id: id.to_owned(),
            city: city.to_owned(),
            country: country.to_owned(),
            at: GeoPoint::new(lat, lon),
        }
    }
}

/// A regional edge cache, in an AWS Region (also the Origin Shield locations).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Region {
    /// `eu-central-1`.
    pub name: String,
    /// The airport of the region's main POP, e.g. `FRA`.
    pub code: String,
    pub at: GeoPoint,
}

/// Eight POPs over six continents (codes and coordinates from reference §3.7).
pub fn default_pops() -> Vec<Pop> {
    vec![
        Pop::new("IAD", "IAD89-C1", "Washington/Ashburn", "US", 38.94, -77.46),
        Pop::new("SFO", "SFO53-C1", "San Francisco", "US", 37.62, -122.38),
        Pop::new("GRU", "GRU3-C1", "São Paulo", "BR", -23.44, -46.47),
        Pop::new("LHR", "LHR50-C1", "London", "GB", 51.48, -0.46),
        Pop::new("FRA", "FRA56-P1", "Frankfurt", "DE", 50.03, 8.57),
        Pop::new("JNB", "JNB1-C1", "Johannesburg", "ZA", -26.14, 28.25),
        Pop::new("NRT", "NRT57-P2", "Tokyo", "JP", 35.76, 140.39),
        Pop::new("SYD", "SYD1-C1", "Sydney", "AU", -33.95, 151.18),
    ]
}

/// The regions that host a regional edge cache / Origin Shield (reference §3.4).
pub fn default_regions() -> Vec<Region> {
    [
        ("us-east-1", "IAD", 38.94, -77.46),
        ("us-east-2", "CMH", 40.00, -82.89),
        ("us-west-2", "HIO", 45.54, -122.95),
        ("ap-south-1", "BOM", 19.09, 72.87),
        ("ap-northeast-2", "ICN", 37.47, 126.45),
        ("ap-southeast-1", "SIN", 1.35, 103.99),
        ("ap-southeast-2", "SYD", -33.95, 151.18),
        ("ap-northeast-1", "NRT", 35.76, 140.39),
        ("eu-central-1", "FRA", 50.03, 8.57),
        ("eu-west-1", "DUB", 53.42, -6.27),
        ("eu-west-2", "LHR", 51.48, -0.46),
        ("sa-east-1", "GRU", -23.44, -46.47),
    ]
    .into_iter()
    .map(|(name, code, lat, lon)| Region {
        name: name.to_owned(),
        code: code.to_owned(),
        at: GeoPoint::new(lat, lon),
    })
    .collect()
}

/// Cities a viewer may name in `x-ledge-viewer` besides POP codes (IATA codes of §3.7).
pub fn known_place(code: &str) -> Option<GeoPoint> {
    const PLACES: &[(&str, f64, f64)] = &[
        ("IAD", 38.94, -77.46),
        ("JFK", 40.64, -73.78),
        ("BOS", 42.36, -71.01),
        ("ATL", 33.64, -84.43),
        ("MIA", 25.79, -80.29),
        ("ORD", 41.98, -87.90),
        ("DFW", 32.90, -97.04),
        ("DEN", 39.86, -104.67),
        ("LAX", 33.94, -118.41),
        ("SFO", 37.62, -122.38),
        ("SEA", 47.45, -122.31),
        ("YTO", 43.68, -79.63),
        ("QRO", 20.62, -100.19),
        ("GRU", -23.44, -46.47),
        ("EZE", -34.82, -58.54),
        ("SCL", -33.39, -70.79),
        ("BOG", 4.70, -74.15),
        ("LIM", -12.02, -77.11),
        ("LHR", 51.48, -0.46),
        ("DUB", 53.42, -6.27),
        ("CDG", 49.01, 2.55),
        ("AMS", 52.31, 4.76),
        ("FRA", 50.03, 8.57),
        ("MUC", 48.35, 11.79),
        ("MXP", 45.63, 8.73),
        ("MAD", 40.47, -3.56),
        ("ZRH", 47.46, 8.55),
        ("WAW", 52.17, 20.97),
        ("ARN", 59.65, 17.92),
        ("HEL", 60.32, 24.96),
        ("IST", 41.26, 28.73),
        ("TLV", 32.01, 34.89),
        ("DXB", 25.25, 55.36),
        ("JNB", -26.14, 28.25),
        ("CPT", -33.96, 18.60),
        ("NBO", -1.32, 36.93),
        ("LOS", 6.58, 3.32),
        ("BOM", 19.09, 72.87),
        ("DEL", 28.57, 77.10),
        ("SIN", 1.35, 103.99),
        ("HKG", 22.31, 113.92),
        ("ICN", 37.47, 126.45),
        ("NRT", 35.76, 140.39),
        ("KIX", 34.43, 135.24),
        ("SYD", -33.95, 151.18),
        ("MEL", -37.67, 144.84),
        ("PER", -31.94, 115.97),
        ("AKL", -37.01, 174.79),
        ("CMH", 40.00, -82.89),
        ("HIO", 45.54, -122.95),
    ];
    let code = code.to_ascii_uppercase();
    PLACES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|&(_, lat, lon)| GeoPoint::new(lat, lon))
}

/// The latency model of reference §3.6: `rtt = 2 · d · stretch / fibre_km_per_ms + hop`,
/// plus a last-mile term for the viewer's own hop.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct LatencyModel {
    /// When on, each hop sleeps its simulated round trip.
    pub enabled: bool,
    /// Light in fibre, km per ms one-way (≈ 200).
    pub fibre_km_per_ms: f64,
    /// Real routes are longer than great circles (1.2–1.6).
    pub route_stretch: f64,
    /// Per-hop processing and queueing, ms.
    pub hop_overhead_ms: f64,
    /// The viewer's access network, ms (viewer → POP only).
    pub last_mile_ms: f64,
}

impl Default for LatencyModel {
    fn default() -> Self {
        Self {
            enabled: false,
            fibre_km_per_ms: 200.0,
            route_stretch: 1.4,
            hop_overhead_ms: 2.0,
            last_mile_ms: 10.0,
        }
    }
}

impl LatencyModel {
    /// Round trip between two points over the backbone, ms.
    pub fn rtt_ms(&self, a: GeoPoint, b: GeoPoint) -> f64 {
        2.0 * haversine_km(a, b) * self.route_stretch / self.fibre_km_per_ms + self.hop_overhead_ms
    }

    /// Round trip from a viewer to a POP, ms (includes the last mile).
    pub fn viewer_rtt_ms(&self, viewer: GeoPoint, pop: GeoPoint) -> f64 {
        self.rtt_ms(viewer, pop) + self.last_mile_ms
    }

    /// A round trip as a sleepable duration (µs resolution).
    pub fn duration(ms: f64) -> Duration {
        Duration::from_micros((ms.max(0.0) * 1000.0).round() as u64)
    }
}

/// The index of the POP with the lowest round trip from `at` (ties: first listed).
pub fn nearest_pop(pops: &[Pop], at: GeoPoint) -> Option<usize> {
    nearest(pops.iter().map(|p| p.at), at)
}

/// The index of the region nearest to `at`.
pub fn nearest_region(regions: &[Region], at: GeoPoint) -> Option<usize> {
    nearest(regions.iter().map(|r| r.at), at)
}

fn nearest(points: impl Iterator<Item = GeoPoint>, at: GeoPoint) -> Option<usize> {
    points
        .enumerate()
        .map(|(i, p)| (i, haversine_km(at, p)))
        .fold(None, |best: Option<(usize, f64)>, (i, d)| match best {
            Some((_, bd)) if bd <= d => best,
            _ => Some((i, d)),
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_london_new_york() {
        let lhr = known_place("LHR").expect("LHR");
        let jfk = known_place("JFK").expect("JFK");
        let d = haversine_km(lhr, jfk);
        assert!((5500.0..5600.0).contains(&d), "{d}");
    }

    #[test]
    fn latency_is_deterministic_and_matches_the_formula() {
        let m = LatencyModel::default();
        let lhr = known_place("LHR").expect("LHR");
        let jfk = known_place("JFK").expect("JFK");
        let a = m.rtt_ms(lhr, jfk);
        assert_eq!(a, m.rtt_ms(lhr, jfk));
        let expected = 2.0 * haversine_km(lhr, jfk) * 1.4 / 200.0 + 2.0;
        assert!((a - expected).abs() < 1e-9);
        // ≈ 80 ms measured London–New York (reference §3.6).
        assert!((75.0..85.0).contains(&a), "{a}");
        assert_eq!(m.rtt_ms(lhr, lhr), 2.0);
        assert_eq!(m.viewer_rtt_ms(lhr, lhr), 12.0);
        assert_eq!(LatencyModel::duration(1.5), Duration::from_micros(1500));
    }

    #[test]
    fn nearest_pop_and_region() {
        let pops = default_pops();
        let paris = known_place("CDG").expect("CDG");
        assert_eq!(pops[nearest_pop(&pops, paris).expect("some")].code, "LHR");
        let munich = known_place("MUC").expect("MUC");
        assert_eq!(pops[nearest_pop(&pops, munich).expect("some")].code, "FRA");
        let regions = default_regions();
        let sfo = known_place("SFO").expect("SFO");
        assert_eq!(
            regions[nearest_region(&regions, sfo).expect("some")].name,
            "us-west-2"
        );
    }

    #[test]
    fn parse_points() {
        assert_eq!(GeoPoint::parse("50.1, 8.6"), Some(GeoPoint::new(50.1, 8.6)));
        assert_eq!(GeoPoint::parse("91,0"), None);
        assert_eq!(GeoPoint::parse("FRA"), None);
    }
}
