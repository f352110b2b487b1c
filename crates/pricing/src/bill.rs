//! The calculator: a [`Scenario`] priced against a [`PriceBook`] into an itemised [`Bill`].

use serde::{Deserialize, Serialize};

use crate::tables::split_tiers;
use crate::{cents, ApiKind, Arch, DurationMode, PriceBook, PricingError, Scenario, Tier};

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub service: String,
    pub item: String,
    pub quantity: f64,
    pub unit: String,
    /// Dollars per unit (0 for informational lines).
    pub unit_price: f64,
    pub amount: f64,
}

/// An itemised monthly bill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bill {
    pub currency: String,
    pub lines: Vec<Line>,
    /// Per service, in the order the services first appear.
    pub subtotals: Vec<(String, f64)>,
    pub total: f64,
    /// Options priced beside the bill, not included in the total (e.g. flat-rate plans).
    pub alternatives: Vec<Line>,
    pub notes: Vec<String>,
    /// `table@effective_date` for every table used.
    pub price_tables: Vec<String>,
}

struct Builder {
    lines: Vec<Line>,
    notes: Vec<String>,
}

impl Builder {
    fn push(&mut self, service: &str, item: String, quantity: f64, unit: &str, unit_price: f64) {
        self.lines.push(Line {
            service: service.to_owned(),
            item,
            quantity,
            unit: unit.to_owned(),
            unit_price,
            amount: quantity * unit_price,
        });
    }

    fn tiered(
        &mut self,
        service: &str,
        what: &str,
        quantity: f64,
        unit: &str,
        tiers: &[Tier],
        per: f64,
    ) {
        let parts = split_tiers(quantity, tiers);
        let many = parts.len() > 1 || tiers.len() > 1;
        for (i, (q, t)) in parts.into_iter().enumerate() {
            let label = if many {
                format!("{what} (tier {})", i + 1)
            } else {
                what.to_owned()
            };
            self.push(service, label, q, unit, t.price / per);
        }
    }
}

const LAMBDA: &str = "AWS Lambda";
const EDGE: &str = "Lambda@Edge";
const APIGW: &str = "Amazon API Gateway";
const CDN: &str = "Amazon CloudFront";

impl PriceBook {
    /// Prices a month of usage.
    pub fn bill(&self, s: &Scenario) -> Result<Bill, PricingError> {
        s.validate()?;
        let mut b = Builder {
            lines: Vec::new(),
            notes: s.notes.clone(),
        };
        let mut tables = vec![self.lambda.info.clone()];
        self.lambda_lines(s, &mut b);
        if !s.edge_functions.is_empty() {
            tables.push(self.edge.info.clone());
            self.edge_lines(s, &mut b);
        }
        if !s.apis.is_empty() {
            tables.push(self.api_gateway.info.clone());
            self.api_lines(s, &mut b);
        }
        let mut alternatives = Vec::new();
        if !s.cdn.is_empty() {
            tables.push(self.cloudfront.info.clone());
            self.cdn_lines(s, &mut b, &mut alternatives)?;
        }
        let mut subtotals: Vec<(String, f64)> = Vec::new();
        for l in &b.lines {
            match subtotals.iter_mut().find(|(s, _)| *s == l.service) {
                Some((_, v)) => *v += l.amount,
                None => subtotals.push((l.service.clone(), l.amount)),
            }
        }
        let total = b.lines.iter().map(|l| l.amount).sum();
        Ok(Bill {
            currency: self.lambda.info.currency.clone(),
            lines: b.lines,
            subtotals,
            total,
            alternatives,
            notes: b.notes,
            price_tables: tables
                .iter()
                .map(|t| format!("{}@{}", t.table, t.effective_date))
                .collect(),
        })
    }

    fn lambda_lines(&self, s: &Scenario, b: &mut Builder) {
        let t = &self.lambda;
        let mut free_requests_eligible = 0.0;
        let mut other_requests = 0.0;
        // GB-s per arch: eligible for the free tier, and not (functions with PC).
        let mut gbs_free_eligible = [0.0f64; 2];
        let mut gbs_other = [0.0f64; 2];
        let idx = |a: Arch| match a {
            Arch::X86_64 => 0,
            Arch::Arm64 => 1,
        };
        let mut eph = 0.0;
        let mut pc_lines = Vec::new();
        for f in &s.functions {
            let gb = f64::from(f.memory_mb) / 1024.0;
            let per_ms_billed = |n: f64| n * f.duration_ms.ceil();
            let billed_total = match (s.duration_mode, f.billed_ms_total) {
                (DurationMode::PerInvocation, Some(ms)) => ms,
                _ => per_ms_billed(f.invocations),
            };
            let init = if t.init_billed { f.init_ms_total } else { 0.0 };
            let billed_total = billed_total + init.ceil();
            let name = f.name.clone().unwrap_or_else(|| "function".into());
            match &f.provisioned {
                None => {
                    free_requests_eligible += f.invocations;
                    gbs_free_eligible[idx(f.architecture)] += gb * billed_total / 1000.0;
                }
                Some(pc) => {
                    other_requests += f.invocations;
                    let on_pc = pc.invocations.unwrap_or(f.invocations).min(f.invocations);
                    let share = if f.invocations > 0.0 {
                        on_pc / f.invocations
                    } else {
                        0.0
                    };
                    let pc_gbs = gb * billed_total * share / 1000.0;
                    gbs_other[idx(f.architecture)] += gb * billed_total * (1.0 - share) / 1000.0;
                    let enabled_s = (pc.hours * 3600.0 / t.pc_rounding_s).ceil() * t.pc_rounding_s;
                    let a = idx(f.architecture);
                    pc_lines.push((
                        format!(
                            "{name}: Provisioned Concurrency {} × {gb} GB × {enabled_s} s ({})",
                            pc.concurrency,
                            f.architecture.as_str()
                        ),
                        pc.concurrency * gb * enabled_s,
                        t.pc_per_gb_s[a],
                    ));
                    pc_lines.push((
                        format!(
                            "{name}: duration on Provisioned Concurrency ({})",
                            f.architecture.as_str()
                        ),
                        pc_gbs,
                        t.pc_duration_per_gb_s[a],
                    ));
                }
            }
            let extra_mb = f64::from(f.ephemeral_storage_mb) - t.ephemeral_free_mb;
            if extra_mb > 0.0 {
                eph += extra_mb / 1024.0 * billed_total / 1000.0;
            }
        }
        if s.functions.is_empty() {
            return;
        }
        // Requests.
        let free_req = if s.free_tier {
            t.free_requests.min(free_requests_eligible)
        } else {
            0.0
        };
        let billable_requests = free_requests_eligible - free_req + other_requests;
        b.push(
            LAMBDA,
            format!(
                "Requests ({} invocations{})",
                fmt_count(free_requests_eligible + other_requests),
                if free_req > 0.0 {
                    format!(", {} free", fmt_count(free_req))
                } else {
                    String::new()
                }
            ),
            billable_requests,
            "requests",
            t.request_price(),
        );
        // Duration: free tier (x86 first, then arm64 — AWS does not say in which order a
        // shared allowance is drawn; this order is ledge's choice), then tiers per arch.
        let mut free_left = if s.free_tier { t.free_gb_s } else { 0.0 };
        for arch in Arch::ALL {
            let a = idx(arch);
            let eligible = gbs_free_eligible[a];
            let free = free_left.min(eligible);
            free_left -= free;
            let billable = eligible - free + gbs_other[a];
            if eligible + gbs_other[a] <= 0.0 {
                continue;
            }
            let what = format!(
                "Duration {} ({} GB-s{})",
                arch.as_str(),
                fmt_count(eligible + gbs_other[a]),
                if free > 0.0 {
                    format!(", {} free", fmt_count(free))
                } else {
                    String::new()
                }
            );
            b.tiered(LAMBDA, &what, billable, "GB-s", t.tiers(arch), 1.0);
        }
        if eph > 0.0 {
            b.push(
                LAMBDA,
                "Ephemeral storage above 512 MB".into(),
                eph,
                "GB-s",
                t.ephemeral_per_gb_s,
            );
        }
        for (item, q, p) in pc_lines {
            b.push(LAMBDA, item, q, "GB-s", p);
        }
        if s.functions.iter().any(|f| f.provisioned.is_some()) {
            b.notes.push(
                "The free tier does not apply to functions with Provisioned Concurrency.".into(),
            );
        }
        if s.duration_mode == DurationMode::Average {
            b.notes.push("Durations: the average rounded up to 1 ms × invocations, as the AWS Pricing Calculator does.".into());
        }
    }

    fn edge_lines(&self, s: &Scenario, b: &mut Builder) {
        let t = &self.edge;
        let mut req = 0.0;
        let mut gbs = 0.0;
        for e in &s.edge_functions {
            req += e.invocations;
            let g = t.billing_granularity_ms as f64;
            let billed = (e.duration_ms / g).ceil() * g;
            gbs += e.invocations * f64::from(e.memory_mb) / 1024.0 * billed / 1000.0;
        }
        b.push(
            EDGE,
            "Requests".into(),
            req,
            "requests",
            t.request_per_million / 1e6,
        );
        b.push(EDGE, "Duration".into(), gbs, "GB-s", t.per_gb_s);
        b.notes.push("Lambda@Edge has no free tier.".into());
    }

    fn api_lines(&self, s: &Scenario, b: &mut Builder) {
        let t = &self.api_gateway;
        let (mut http, mut rest, mut ws, mut minutes, mut transfer) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for a in &s.apis {
            match a.kind {
                ApiKind::Http => {
                    let units = a
                        .request_kb
                        .map(|kb| (kb / t.http_metering_kb).ceil().max(1.0))
                        .unwrap_or(1.0);
                    http += a.requests * units;
                }
                ApiKind::Rest => rest += a.requests,
                ApiKind::Websocket => {
                    let units = a
                        .request_kb
                        .map(|kb| (kb / t.websocket_metering_kb).ceil().max(1.0))
                        .unwrap_or(1.0);
                    ws += a.requests * units;
                    minutes += a.connection_minutes;
                }
            }
            transfer += a.data_transfer_out_gb;
            if let Some(size) = a.cache_size_gb {
                let name = a.name.clone().unwrap_or_else(|| "API".into());
                let hours = a.cache_hours.unwrap_or(crate::HOURS_PER_MONTH);
                match t.cache_size(size) {
                    Some(c) => b.push(
                        APIGW,
                        format!("{name}: cache {} GB", c.size_gb),
                        hours,
                        "hours",
                        c.per_hour,
                    ),
                    None => b.notes.push(format!(
                        "{name}: there is no {size} GB cache size (sizes: {}); not priced",
                        t.cache
                            .iter()
                            .map(|c| c.size_gb.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
        }
        let free = |q: f64, f: f64| {
            if s.api_gateway_free_tier {
                q - f.min(q)
            } else {
                q
            }
        };
        if http > 0.0 {
            b.tiered(
                APIGW,
                "HTTP API requests",
                free(http, t.free_http),
                "requests",
                &t.http_tiers,
                1e6,
            );
        }
        if rest > 0.0 {
            b.tiered(
                APIGW,
                "REST API requests",
                free(rest, t.free_rest),
                "requests",
                &t.rest_tiers,
                1e6,
            );
        }
        if ws > 0.0 {
            b.tiered(
                APIGW,
                "WebSocket messages",
                free(ws, t.free_messages),
                "messages",
                &t.websocket_tiers,
                1e6,
            );
            b.push(
                APIGW,
                "WebSocket connection minutes".into(),
                free(minutes, t.free_minutes),
                "minutes",
                t.websocket_minutes_per_million / 1e6,
            );
        }
        if transfer > 0.0 {
            let billable = (transfer - t.transfer_free_gb).max(0.0);
            b.tiered(
                APIGW,
                "Data transfer out (first 100 GB free)",
                billable,
                "GB",
                &t.transfer_tiers,
                1.0,
            );
        }
        if !s.api_gateway_free_tier {
            b.notes.push("API Gateway's free tier is for the first 12 months of new accounts only; not applied (api_gateway_free_tier: true applies it).".into());
        }
    }

    fn cdn_lines(
        &self,
        s: &Scenario,
        b: &mut Builder,
        alt: &mut Vec<Line>,
    ) -> Result<(), PricingError> {
        let t = &self.cloudfront;
        // The always-free 1 TB and 10M requests are drawn in the order regions are listed
        // (AWS does not say which region's traffic the allowance covers first).
        let mut free_gb = t.free_transfer_gb;
        let mut free_req = t.free_requests;
        let mut free_fn = t.free_function_invocations;
        let (mut all_req, mut all_gb, mut paths, mut fns) = (0.0, 0.0, 0.0, 0.0);
        for u in &s.cdn {
            let r = t.regions.get(&u.region).ok_or_else(|| {
                PricingError::Scenario(format!(
                    "unknown CloudFront region {:?} (one of: {})",
                    u.region,
                    t.regions.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            all_req += u.http_requests + u.https_requests;
            all_gb += u.data_transfer_gb;
            paths += u.invalidation_paths;
            fns += u.function_invocations;
            let f = free_gb.min(u.data_transfer_gb);
            free_gb -= f;
            if u.data_transfer_gb > 0.0 {
                let tiers = t.transfer_tiers(r);
                b.tiered(
                    CDN,
                    &format!("Data transfer out, {}", r.name),
                    u.data_transfer_gb - f,
                    "GB",
                    &tiers,
                    1.0,
                );
            }
            for (n, price, what) in [
                (u.https_requests, r.https_per_10k, "HTTPS"),
                (u.http_requests, r.http_per_10k, "HTTP"),
            ] {
                if n > 0.0 {
                    let f = free_req.min(n);
                    free_req -= f;
                    b.push(
                        CDN,
                        format!("{what} requests, {}", r.name),
                        n - f,
                        "requests",
                        price / 1e4,
                    );
                }
            }
            if u.origin_transfer_gb > 0.0 {
                match r.origin_transfer_per_gb {
                    Some(p) => b.push(
                        CDN,
                        format!("Data transfer to origin, {}", r.name),
                        u.origin_transfer_gb,
                        "GB",
                        p,
                    ),
                    None => b.notes.push(format!(
                        "no origin-transfer price known for {}; not priced",
                        r.name
                    )),
                }
            }
        }
        if paths > 0.0 {
            b.push(
                CDN,
                "Invalidation paths (first 1,000 free)".into(),
                (paths - t.invalidation_free_paths).max(0.0),
                "paths",
                t.invalidation_per_path,
            );
        }
        if fns > 0.0 {
            let f = free_fn.min(fns);
            free_fn -= f;
            let _ = free_fn;
            b.push(
                CDN,
                "CloudFront Functions invocations".into(),
                fns - f,
                "invocations",
                t.function_invocations_per_million / 1e6,
            );
        }
        b.notes
            .push("CloudFront's always-free tier (1 TB, 10M requests a month) is applied.".into());
        if let Some(p) = t
            .flat_rate_plans
            .iter()
            .find(|p| all_req <= p.requests && all_gb <= p.data_transfer_gb)
        {
            alt.push(Line {
                service: CDN.into(),
                item: format!("Flat-rate plan {} instead of pay-as-you-go (no Lambda@Edge on flat-rate plans)", p.plan),
                quantity: 1.0,
                unit: "month".into(),
                unit_price: p.per_month,
                amount: p.per_month,
            });
        }
        Ok(())
    }
}

impl Bill {
    /// The bill as an aligned text table.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let w = self
            .lines
            .iter()
            .map(|l| l.item.chars().count())
            .max()
            .unwrap_or(10)
            .max(10);
        let mut service = "";
        for l in &self.lines {
            if l.service != service {
                service = &l.service;
                let sub = self
                    .subtotals
                    .iter()
                    .find(|(s, _)| s == service)
                    .map(|(_, v)| *v)
                    .unwrap_or(0.0);
                out.push_str(&format!("{service}  (${:.2})\n", cents(sub)));
            }
            out.push_str(&format!(
                "  {:<w$}  {:>18} {:<11} × {:<14} = ${:>10.2}\n",
                l.item,
                fmt_count(l.quantity),
                l.unit,
                fmt_price(l.unit_price),
                cents(l.amount),
            ));
        }
        out.push_str(&format!(
            "TOTAL {} {:.2} per month\n",
            self.currency,
            cents(self.total)
        ));
        for a in &self.alternatives {
            out.push_str(&format!(
                "Alternative: {}: ${:.2} per month\n",
                a.item,
                cents(a.amount)
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("Note: {n}\n"));
        }
        out.push_str(&format!("Price tables: {}\n", self.price_tables.join(", ")));
        out
    }
}

/// A quantity with thousands separators, up to 2 decimals.
pub(crate) fn fmt_count(q: f64) -> String {
    let whole = q.trunc() as u128;
    let frac = q - q.trunc();
    let digits = whole.to_string();
    let mut s = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            s.push(',');
        }
        s.push(c);
    }
    if frac > 0.005 {
        s.push_str(&format!("{:.2}", frac)[1..]);
    }
    s
}

fn fmt_price(p: f64) -> String {
    if p == 0.0 {
        "$0".into()
    } else if p >= 0.01 {
        format!("${p:.4}")
    } else {
        format!("${p:.10}").trim_end_matches('0').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiUsage, CdnUsage, EdgeUsage, FunctionUsage, ProvisionedUsage};

    fn book() -> &'static PriceBook {
        PriceBook::builtin()
    }

    fn function(invocations: f64, duration_ms: f64, memory_mb: u32) -> FunctionUsage {
        FunctionUsage {
            name: None,
            invocations,
            duration_ms,
            billed_ms_total: None,
            memory_mb,
            architecture: Arch::X86_64,
            ephemeral_storage_mb: 512,
            init_ms_total: 0.0,
            provisioned: None,
        }
    }

    #[test]
    fn aws_worked_example_is_18_73() {
        // 512 MB × 3M invocations × 1 s, free tier: 1.1M GB-s × $0.0000166667 + 2M × $0.20/M.
        let s = Scenario {
            functions: vec![function(3e6, 1000.0, 512)],
            ..Scenario::default()
        };
        let bill = book().bill(&s).expect("bill");
        assert_eq!(cents(bill.total), 18.73, "{}", bill.render_text());
        let req = &bill.lines[0];
        assert_eq!(req.quantity, 2e6);
        assert_eq!(cents(req.amount), 0.40);
    }

    #[test]
    fn provisioned_concurrency_example_is_41_91() {
        // 1024 MB, PC 1,000 for 2 h, 1.2M invocations × 1 s on PC; no free tier with PC.
        let mut f = function(1.2e6, 1000.0, 1024);
        f.provisioned = Some(ProvisionedUsage {
            concurrency: 1000.0,
            hours: 2.0,
            invocations: None,
        });
        let s = Scenario {
            functions: vec![f],
            ..Scenario::default()
        };
        let bill = book().bill(&s).expect("bill");
        assert_eq!(cents(bill.total), 41.91, "{}", bill.render_text());
        let pc = bill
            .lines
            .iter()
            .find(|l| l.item.contains("Provisioned Concurrency 1000"))
            .expect("pc line");
        assert_eq!(cents(pc.amount), 30.00);
        let dur = bill
            .lines
            .iter()
            .find(|l| l.item.contains("duration on Provisioned"))
            .expect("pc duration");
        assert_eq!(cents(dur.amount), 11.67);
    }

    #[test]
    fn lambda_at_edge_example_is_9_13() {
        let s = Scenario {
            edge_functions: vec![EdgeUsage {
                name: None,
                invocations: 10e6,
                duration_ms: 50.0,
                memory_mb: 128,
            }],
            ..Scenario::default()
        };
        let bill = book().bill(&s).expect("bill");
        assert_eq!(cents(bill.total), 9.13, "{}", bill.render_text());
    }

    #[test]
    fn without_free_tier_every_request_and_gb_second_is_billed() {
        let s = Scenario {
            free_tier: false,
            functions: vec![function(3e6, 1000.0, 512)],
            ..Scenario::default()
        };
        let bill = book().bill(&s).expect("bill");
        // 1.5M GB-s × 0.0000166667 = 25.00 + 3M × 0.2/M = 0.60
        assert_eq!(cents(bill.total), 25.60);
    }

    #[test]
    fn per_invocation_ceilings_differ_from_the_calculators_average() {
        // Measured: the per-invocation ceilings add up to 10.75 ms on average; the
        // calculator's mode bills ceil(10.2 ms) = 11 ms for each.
        let mut f = function(1e6, 10.2, 1024);
        f.billed_ms_total = Some(11.0 * 1e6 - 250_000.0);
        let per_inv = Scenario {
            free_tier: false,
            functions: vec![f.clone()],
            ..Scenario::default()
        };
        let avg = Scenario {
            duration_mode: DurationMode::Average,
            ..per_inv.clone()
        };
        let a = book().bill(&per_inv).expect("bill");
        let b = book().bill(&avg).expect("bill");
        assert!(
            b.total > a.total,
            "average mode ceils the mean: {} vs {}",
            b.total,
            a.total
        );
    }

    #[test]
    fn x86_tiers_switch_at_6_and_15_billion_gb_s() {
        // 16B GB-s: 6B × 16.6667e-6 + 9B × 15e-6 + 1B × 13.3334e-6
        let s = Scenario {
            free_tier: false,
            functions: vec![function(16e9, 1000.0, 1024)],
            ..Scenario::default()
        };
        let bill = book().bill(&s).expect("bill");
        let dur: f64 = bill
            .lines
            .iter()
            .filter(|l| l.unit == "GB-s")
            .map(|l| l.amount)
            .sum();
        let want = 6e9 * 0.0000166667 + 9e9 * 0.000015 + 1e9 * 0.0000133334;
        assert!((dur - want).abs() < 1e-3, "{dur} vs {want}");
        // arm64 tiers switch at 7.5B and 18.75B.
        let mut f = function(8e9, 1000.0, 1024);
        f.architecture = Arch::Arm64;
        let s = Scenario {
            free_tier: false,
            functions: vec![f],
            ..Scenario::default()
        };
        let bill = book().bill(&s).expect("bill");
        let tiers: Vec<f64> = bill
            .lines
            .iter()
            .filter(|l| l.unit == "GB-s")
            .map(|l| l.quantity)
            .collect();
        assert_eq!(tiers, vec![7.5e9, 0.5e9]);
    }

    #[test]
    fn free_tier_is_shared_across_architectures() {
        let mut arm = function(0.5e6, 1000.0, 512);
        arm.architecture = Arch::Arm64;
        let s = Scenario {
            functions: vec![function(0.5e6, 1000.0, 512), arm],
            ..Scenario::default()
        };
        // 250k + 250k GB-s, 1M requests: 400k free leaves 100k GB-s of arm64.
        let bill = book().bill(&s).expect("bill");
        let want = 100_000.0 * 0.0000133334;
        assert!((bill.total - want).abs() < 1e-6, "{}", bill.render_text());
    }

    #[test]
    fn ephemeral_storage_above_512_mb_is_billed() {
        let mut f = function(1e6, 1000.0, 1024);
        f.ephemeral_storage_mb = 10_240;
        let s = Scenario {
            free_tier: false,
            functions: vec![f],
            ..Scenario::default()
        };
        let bill = book().bill(&s).expect("bill");
        let eph = bill
            .lines
            .iter()
            .find(|l| l.item.starts_with("Ephemeral"))
            .expect("eph");
        let want = (10_240.0 - 512.0) / 1024.0 * 1e6 * 0.0000000309;
        assert!((eph.amount - want).abs() < 1e-9);
    }

    #[test]
    fn api_gateway_tiers_cache_and_metering() {
        let s = Scenario {
            apis: vec![
                ApiUsage {
                    name: Some("h".into()),
                    kind: ApiKind::Http,
                    requests: 400e6,
                    request_kb: Some(513.0),
                    cache_size_gb: None,
                    cache_hours: None,
                    connection_minutes: 0.0,
                    data_transfer_out_gb: 0.0,
                },
                ApiUsage {
                    name: Some("r".into()),
                    kind: ApiKind::Rest,
                    requests: 1e9,
                    request_kb: None,
                    cache_size_gb: Some(0.5),
                    cache_hours: None,
                    connection_minutes: 0.0,
                    data_transfer_out_gb: 0.0,
                },
            ],
            ..Scenario::default()
        };
        let bill = book().bill(&s).expect("bill");
        // HTTP: 513 KB counts twice → 800M: 300M × $1 + 500M × $0.90 = $750.
        let http: f64 = bill
            .lines
            .iter()
            .filter(|l| l.item.starts_with("HTTP"))
            .map(|l| l.amount)
            .sum();
        assert!((http - 750.0).abs() < 1e-6, "{http}");
        // REST: 333M × 3.50 + 667M × 2.80 = 1165.5 + 1867.6
        let rest: f64 = bill
            .lines
            .iter()
            .filter(|l| l.item.starts_with("REST"))
            .map(|l| l.amount)
            .sum();
        assert!((rest - (333.0 * 3.5 + 667.0 * 2.8)).abs() < 1e-6, "{rest}");
        let cache = bill
            .lines
            .iter()
            .find(|l| l.item.contains("cache"))
            .expect("cache");
        assert_eq!(cents(cache.amount), 14.60);
    }

    #[test]
    fn cloudfront_free_tier_tiers_and_flat_rate_alternative() {
        let s = Scenario {
            cdn: vec![CdnUsage {
                region: "us".into(),
                data_transfer_gb: 2048.0,
                https_requests: 20e6,
                http_requests: 0.0,
                origin_transfer_gb: 0.0,
                invalidation_paths: 1500.0,
                function_invocations: 0.0,
            }],
            ..Scenario::default()
        };
        let bill = book().bill(&s).expect("bill");
        // 1 TB free, 1 TB × $0.085; 10M free, 10M × $0.01/10k = $10; 500 paths × $0.005.
        let want = 1024.0 * 0.085 + 10.0 + 2.5;
        assert!((bill.total - want).abs() < 1e-6, "{}", bill.render_text());
        assert_eq!(
            bill.alternatives[0].unit_price, 200.0,
            "Business covers 20M requests"
        );
        let bad = Scenario {
            cdn: vec![CdnUsage {
                region: "mars".into(),
                ..s.cdn[0].clone()
            }],
            ..Scenario::default()
        };
        assert!(book().bill(&bad).is_err());
    }

    #[test]
    fn scenarios_read_from_yaml() {
        let s = Scenario::from_yaml(
            "free_tier: false\nfunctions:\n  - name: api\n    invocations: 3000000\n    duration_ms: 1000\n    memory_mb: 512\n    architecture: arm64\napis:\n  - type: rest\n    requests: 1e6\n    cache_size_gb: 1.6\ncdn:\n  - region: europe\n    data_transfer_gb: 10\n",
        )
        .expect("yaml");
        assert_eq!(s.functions[0].architecture, Arch::Arm64);
        assert_eq!(s.apis[0].kind, ApiKind::Rest);
        let bill = book().bill(&s).expect("bill");
        assert!(bill.total > 0.0);
        assert!(Scenario::from_yaml("functions:\n  - nonsense: 1\n").is_err());
    }
}
