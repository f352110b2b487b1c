//! The report: one self-contained HTML file with hand-written inline SVG — no script, no
//! external URL — that opens from disk. Cost and duration against memory on a log₂ axis
//! in separate panels (so no one reads a curve crossing as the optimum), markers only at
//! tested sizes with 95% CI whiskers and p90 ticks, the Pareto front ringed, sizes that
//! were not viable crossed out, CPU use and throttling from the cgroup, cold starts on
//! their own, x86_64 and arm64 prices side by side, and the recommendation with its reason.
//! Two runs can be overlaid (`--compare`).

use std::fmt::Write as _;

use crate::analysis::{SizeSummary, TuneOutput};

const COLORS: [(&str, &str); 2] = [("#1f5fbf", "#c0392b"), ("#e67e22", "#16a085")];
const W: f64 = 820.0;
const H: f64 = 250.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 44.0;

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Axis {
    lo: f64,
    hi: f64,
}

impl Axis {
    fn x(&self, memory: u32) -> f64 {
        let v = f64::from(memory).log2();
        LEFT + (v - self.lo) / (self.hi - self.lo) * (W - LEFT - RIGHT)
    }
}

fn y_of(v: f64, max: f64) -> f64 {
    let top = if max > 0.0 { max } else { 1.0 };
    H - BOTTOM - (v / top).clamp(0.0, 1.05) * (H - TOP - BOTTOM)
}

/// A round axis maximum above `v`.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else if v.abs() >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

/// One point of a panel.
struct Point {
    memory: u32,
    value: f64,
    low: f64,
    high: f64,
    tick: Option<f64>,
    ring: bool,
}

struct Series<'a> {
    name: &'a str,
    color: &'a str,
    role: &'a str,
    hollow: bool,
    points: Vec<Point>,
    crossed: Vec<(u32, String)>,
}

fn panel(
    out: &mut String,
    title: &str,
    unit: &str,
    axis: &Axis,
    sizes: &[u32],
    series: &[Series<'_>],
) {
    let max = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.high.max(p.value).max(p.tick.unwrap_or(0.0)))
        })
        .fold(0.0, f64::max);
    let max = nice_max(max * 1.05);
    let _ = write!(
        out,
        r##"<svg class="panel" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{t}"><title>{t}</title><rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/><text x="{LEFT}" y="18" class="ptitle">{t}</text>"##,
        t = esc(title)
    );
    // Horizontal grid and y labels.
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = y_of(v, max);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e3e3"/><text x="{lx}" y="{ty:.1}" text-anchor="end" class="tick">{label}</text>"##,
            x2 = W - RIGHT,
            lx = LEFT - 6.0,
            ty = y + 4.0,
            label = fmt_num(v)
        );
    }
    let _ = write!(
        out,
        r#"<text x="14" y="{y:.1}" transform="rotate(-90 14 {y:.1})" text-anchor="middle" class="axis">{u}</text>"#,
        y = (TOP + H - BOTTOM) / 2.0,
        u = esc(unit)
    );
    // x ticks at tested sizes (powers of two when there are many).
    let many = sizes.len() > 12;
    let ticks: Vec<u32> = if many {
        (7..=14)
            .map(|p| 1u32 << p)
            .filter(|m| *m >= sizes[0] / 2 && *m <= sizes[sizes.len() - 1] * 2)
            .collect()
    } else {
        sizes.to_vec()
    };
    for m in ticks {
        let x = axis.x(m);
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{b}" stroke="#f0f0f0"/><text x="{x:.1}" y="{ty}" text-anchor="middle" class="tick">{m}</text>"##,
            b = H - BOTTOM,
            ty = H - BOTTOM + 16.0
        );
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{r}" y1="{b}" y2="{b}" stroke="#555"/><line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{b}" stroke="#555"/><text x="{cx}" y="{ly}" text-anchor="middle" class="axis">memory (MB, log₂ scale)</text>"##,
        r = W - RIGHT,
        b = H - BOTTOM,
        cx = (LEFT + W - RIGHT) / 2.0,
        ly = H - 8.0
    );
    for (k, s) in series.iter().enumerate() {
        let dx = if series.len() > 1 {
            (k as f64 - (series.len() - 1) as f64 / 2.0) * 7.0
        } else {
            0.0
        };
        for p in &s.points {
            let x = axis.x(p.memory) + dx;
            let (y, yl, yh) = (y_of(p.value, max), y_of(p.low, max), y_of(p.high, max));
            let _ = write!(
                out,
                r#"<line x1="{x:.1}" x2="{x:.1}" y1="{yl:.1}" y2="{yh:.1}" stroke="{c}" stroke-width="1.5"/><line x1="{a:.1}" x2="{b:.1}" y1="{yl:.1}" y2="{yl:.1}" stroke="{c}"/><line x1="{a:.1}" x2="{b:.1}" y1="{yh:.1}" y2="{yh:.1}" stroke="{c}"/>"#,
                c = s.color,
                a = x - 4.0,
                b = x + 4.0
            );
            if let Some(t) = p.tick {
                let yt = y_of(t, max);
                let _ = write!(
                    out,
                    r##"<line x1="{a:.1}" x2="{b:.1}" y1="{yt:.1}" y2="{yt:.1}" stroke="#888" stroke-dasharray="2 2"><title>observed p90 {v}</title></line>"##,
                    a = x - 7.0,
                    b = x + 7.0,
                    v = fmt_num(t)
                );
            }
            if p.ring {
                let _ = write!(
                    out,
                    r##"<circle cx="{x:.1}" cy="{y:.1}" r="9" fill="none" stroke="#2e8b57" stroke-width="2"/>"##
                );
            }
            let fill = if s.hollow { "#fff" } else { s.color };
            let _ = write!(
                out,
                r#"<circle class="marker" data-series="{role}" data-run="{run}" data-memory="{m}" cx="{x:.1}" cy="{y:.1}" r="5" fill="{fill}" stroke="{c}" stroke-width="2"><title>{name}: {m} MB: {v} {u} (95% CI {lo}–{hi})</title></circle>"#,
                role = s.role,
                run = k,
                m = p.memory,
                c = s.color,
                name = esc(s.name),
                v = fmt_num(p.value),
                lo = fmt_num(p.low),
                hi = fmt_num(p.high),
                u = esc(unit)
            );
        }
        for (m, why) in &s.crossed {
            let x = axis.x(*m) + dx;
            let y = H - BOTTOM - 10.0;
            let _ = write!(
                out,
                r##"<g class="notviable" data-series="{role}-notviable" data-memory="{m}"><line x1="{a:.1}" x2="{b:.1}" y1="{c:.1}" y2="{d:.1}" stroke="#b00" stroke-width="2.5"/><line x1="{a:.1}" x2="{b:.1}" y1="{d:.1}" y2="{c:.1}" stroke="#b00" stroke-width="2.5"/><text x="{x:.1}" y="{ty:.1}" text-anchor="middle" class="nv">not viable</text><title>{m} MB not viable: {w}</title></g>"##,
                role = s.role,
                a = x - 6.0,
                b = x + 6.0,
                c = y - 6.0,
                d = y + 6.0,
                ty = y - 10.0,
                w = esc(why)
            );
        }
    }
    // Legend.
    let mut lx = W - RIGHT - 10.0;
    for s in series.iter().rev() {
        let width = 16.0 + 7.0 * s.name.chars().count() as f64;
        lx -= width;
        let fill = if s.hollow { "#fff" } else { s.color };
        let _ = write!(
            out,
            r#"<circle cx="{cx:.1}" cy="14" r="5" fill="{fill}" stroke="{c}" stroke-width="2"/><text x="{tx:.1}" y="18" class="tick">{n}</text>"#,
            cx = lx + 5.0,
            tx = lx + 14.0,
            c = s.color,
            n = esc(s.name)
        );
    }
    out.push_str("</svg>\n");
}

fn axis_for(sizes: &[u32]) -> Axis {
    let lo = f64::from(*sizes.first().unwrap_or(&128)).log2() - 0.35;
    let hi = f64::from(*sizes.last().unwrap_or(&10240)).log2() + 0.35;
    Axis { lo, hi }
}

fn duration_point(s: &SizeSummary, ring: bool) -> Option<Point> {
    let d = s.duration.as_ref()?;
    Some(Point {
        memory: s.memory,
        value: d.mean.value,
        low: d.mean.low,
        high: d.mean.high,
        tick: Some(d.p90.unwrap_or(d.observed_p90)),
        ring,
    })
}

fn cost_point(s: &SizeSummary, ring: bool) -> Option<Point> {
    let c = s.cost?;
    Some(Point {
        memory: s.memory,
        value: c.value * 1e6,
        low: c.low * 1e6,
        high: c.high * 1e6,
        tick: None,
        ring,
    })
}

/// Renders one run, or two overlaid (`runs[1]` is the comparison).
pub fn render(runs: &[(&TuneOutput, &str)]) -> String {
    let mut sizes: Vec<u32> = runs
        .iter()
        .flat_map(|(r, _)| r.ledge.sizes.iter().map(|s| s.memory))
        .collect();
    sizes.sort();
    sizes.dedup();
    let axis = axis_for(&sizes);
    let compare = runs.len() > 1;
    let title = if compare {
        format!("Power tuning: {} vs {}", runs[0].1, runs[1].1)
    } else {
        format!("Power tuning: {}", runs[0].0.ledge.function)
    };
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{t}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px;color:#222;max-width:1180px;background:#fff}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:17px;margin:22px 0 8px}}
.sub{{color:#555;font-size:13px}}
.card{{border:1px solid #cfd8e3;border-left:6px solid #2e8b57;background:#f6fbf8;padding:12px 16px;margin:14px 0;border-radius:4px}}
.big{{font-size:26px;font-weight:600}}
.grid{{display:flex;flex-wrap:wrap;gap:14px}}
svg.panel{{border:1px solid #ddd;border-radius:4px;background:#fff}}
.ptitle{{font-size:14px;font-weight:600;fill:#222}} .tick{{font-size:11px;fill:#444}} .axis{{font-size:12px;fill:#333}} .nv{{font-size:10px;fill:#b00}}
table{{border-collapse:collapse;font-size:12px;margin:6px 0}} th,td{{border:1px solid #ddd;padding:3px 7px;text-align:right}} th{{background:#f2f4f7}}
td.l,th.l{{text-align:left}} tr.win td{{background:#eaf6ee;font-weight:600}} tr.nv td{{color:#999}}
.warn{{color:#8a5300}} code{{background:#f2f2f2;padding:1px 4px;border-radius:3px}}
ul{{margin:4px 0 4px 18px;padding:0;font-size:13px}}
</style></head><body>
<h1>{t}</h1>
"#,
        t = esc(&title)
    );
    for (r, name) in runs {
        let d = &r.ledge;
        let rec = &d.recommendation;
        let _ = write!(
            h,
            r#"<div class="card"><div class="sub">{src} · strategy <b>{st}</b>{bw} · num {n} · seed {seed} · {arch}</div>
<div><span class="big">{p} MB</span> recommended{for_name}</div><div>{why}</div>"#,
            src = esc(&d.target.source),
            st = rec.strategy.as_str(),
            bw = if rec.strategy == crate::Strategy::Balanced {
                format!(" (balancedWeight {})", d.balanced_weight)
            } else {
                String::new()
            },
            n = d.num,
            seed = d.seed,
            arch = esc(&d.target.architecture),
            p = r.power,
            for_name = if compare {
                format!(" for <b>{}</b>", esc(name))
            } else {
                String::new()
            },
            why = esc(&rec.reason),
        );
        let _ = write!(
            h,
            "<ul><li>Tied on the strategy's criterion: {}</li><li>Pareto front (no size is both cheaper and faster): {}</li>",
            list(&rec.tied),
            list(&rec.pareto_front)
        );
        if let Some(m) = rec.minimum_safe_memory {
            let _ = write!(
                h,
                "<li>Smallest viable size with ≥ 20% memory headroom: {m} MB</li>"
            );
        }
        if let Some(o) = d.target.original_memory {
            if o != r.power && r.power > 0 {
                let id = d.target.logical_id.as_deref().unwrap_or(&d.function);
                let _ = write!(h, "<li>Template change for <code>{}</code>: <code>MemorySize: {}</code> (was {o})</li>", esc(id), r.power);
            }
        }
        if let Some(a) = &d.applied {
            let _ = write!(h, "<li>autoOptimize: {}</li>", esc(a));
        }
        h.push_str("</ul></div>\n");
    }
    // Panels.
    let dur: Vec<Series<'_>> = runs
        .iter()
        .enumerate()
        .map(|(k, (r, name))| Series {
            name,
            color: COLORS[k % 2].0,
            role: "duration",
            hollow: false,
            points: r
                .ledge
                .sizes
                .iter()
                .filter(|s| s.viable)
                .filter_map(|s| duration_point(s, s.pareto))
                .collect(),
            crossed: crossed(r),
        })
        .collect();
    h.push_str("<h2>Duration and cost against memory</h2>\n<div class=\"grid\">\n");
    panel(
        &mut h,
        "Duration (mean of warm invocations)",
        "ms",
        &axis,
        &sizes,
        &dur,
    );
    let mut cost: Vec<Series<'_>> = Vec::new();
    for (k, (r, name)) in runs.iter().enumerate() {
        cost.push(Series {
            name,
            color: COLORS[k % 2].1,
            role: "cost",
            hollow: false,
            points: r
                .ledge
                .sizes
                .iter()
                .filter(|s| s.viable)
                .filter_map(|s| cost_point(s, s.pareto))
                .collect(),
            crossed: crossed(r),
        });
    }
    if !compare {
        // The other architecture's price for the same measured durations.
        let r = runs[0].0;
        let other_is_arm = r.ledge.target.architecture != "arm64";
        cost.push(Series {
            name: if other_is_arm {
                "arm64 price"
            } else {
                "x86_64 price"
            },
            color: "#7f8c8d",
            role: "cost-other-arch",
            hollow: true,
            points: r
                .ledge
                .sizes
                .iter()
                .filter(|s| s.viable)
                .filter_map(|s| {
                    let p = s.prices.as_ref()?;
                    let v = if other_is_arm {
                        p.arm64_per_million
                    } else {
                        p.x86_64_per_million
                    };
                    Some(Point {
                        memory: s.memory,
                        value: v,
                        low: v,
                        high: v,
                        tick: None,
                        ring: false,
                    })
                })
                .collect(),
            crossed: Vec::new(),
        });
        cost[0].name = if other_is_arm {
            "x86_64 cost"
        } else {
            "arm64 cost"
        };
    }
    panel(
        &mut h,
        "Cost per 1M invocations (request fee + GB-s)",
        "$ per 1M invocations",
        &axis,
        &sizes,
        &cost,
    );
    // CPU panel (runtime target only).
    let cpu: Vec<Series<'_>> = runs
        .iter()
        .enumerate()
        .filter(|(_, (r, _))| r.ledge.sizes.iter().any(|s| s.cpu.is_some()))
        .flat_map(|(k, (r, _))| {
            let used = Series {
                name: if compare {
                    "CPU used ÷ wall"
                } else {
                    "CPU time ÷ wall time"
                },
                color: COLORS[k % 2].0,
                role: "cpu",
                hollow: false,
                points: r
                    .ledge
                    .sizes
                    .iter()
                    .filter_map(|s| {
                        s.cpu.as_ref().map(|c| Point {
                            memory: s.memory,
                            value: c.cpu_per_wall,
                            low: c.cpu_per_wall,
                            high: c.cpu_per_wall,
                            tick: None,
                            ring: false,
                        })
                    })
                    .collect(),
                crossed: Vec::new(),
            };
            let thr = Series {
                name: "throttled ÷ wall",
                color: COLORS[k % 2].1,
                role: "throttled",
                hollow: true,
                points: r
                    .ledge
                    .sizes
                    .iter()
                    .filter_map(|s| {
                        s.cpu.as_ref().map(|c| Point {
                            memory: s.memory,
                            value: c.throttled_fraction,
                            low: c.throttled_fraction,
                            high: c.throttled_fraction,
                            tick: None,
                            ring: false,
                        })
                    })
                    .collect(),
                crossed: Vec::new(),
            };
            [used, thr]
        })
        .collect();
    if !cpu.is_empty() {
        panel(
            &mut h,
            "CPU from the cgroup",
            "fraction of wall time",
            &axis,
            &sizes,
            &cpu,
        );
    }
    let cold: Vec<Series<'_>> = runs
        .iter()
        .enumerate()
        .map(|(k, (r, name))| Series {
            name,
            color: COLORS[k % 2].0,
            role: "cold",
            hollow: true,
            points: r
                .ledge
                .sizes
                .iter()
                .filter_map(|s| {
                    s.cold.as_ref().map(|c| Point {
                        memory: s.memory,
                        value: c.init_ms.value,
                        low: c.init_ms.low,
                        high: c.init_ms.high,
                        tick: None,
                        ring: false,
                    })
                })
                .collect(),
            crossed: Vec::new(),
        })
        .collect();
    if cold.iter().any(|s| !s.points.is_empty()) {
        panel(
            &mut h,
            "Cold starts: mean Init Duration",
            "ms",
            &axis,
            &sizes,
            &cold,
        );
    }
    h.push_str("</div>\n<p class=\"sub\">Markers only at tested sizes (no lines: nothing between them was measured). Whiskers: 95% bootstrap confidence intervals of the mean. Dashed tick: the observed p90. Green ring: on the Pareto front (no other size is both cheaper and faster). Red ✕: not viable. Cost and duration are separate panels on purpose: where two curves cross is not the optimum. CPU: CPU time ÷ wall time (a share of one core) and throttled time ÷ wall time, from the cgroup's cpu.stat.</p>\n");
    for (r, name) in runs {
        table(&mut h, r, name, compare);
    }
    if compare {
        comparison(&mut h, runs[0].0, runs[0].1, runs[1].0, runs[1].1);
    }
    h.push_str("<h2>Notes</h2>\n<ul>");
    let r = runs[0].0;
    for n in &r.ledge.notes {
        let _ = write!(h, "<li>{}</li>", esc(n));
    }
    for (r, name) in runs {
        for w in &r.ledge.warnings {
            let _ = write!(h, "<li class=\"warn\">{}: {}</li>", esc(name), esc(w));
        }
        let t = &r.ledge.tuning;
        let _ = write!(
            h,
            "<li>{}: {} invocations in {:.1} s of wall time ({:.1} s inside the function, {:.1} s of local CPU); prices from {}.</li>",
            esc(name), t.invocations, t.wall_seconds, t.function_seconds, t.cpu_seconds, esc(&r.ledge.price_table)
        );
        if !r.state_machine.visualization.is_empty() {
            let _ = write!(
                h,
                "<li>Share link (opt-in; data is in the URL hash): <code>{}</code></li>",
                esc(&r.state_machine.visualization)
            );
        }
    }
    let env: Vec<String> = r
        .ledge
        .target
        .environment
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if !env.is_empty() {
        let _ = write!(h, "<li>Host: {}</li>", esc(&env.join(" · ")));
    }
    h.push_str("</ul>\n</body></html>\n");
    h
}

fn list(v: &[u32]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.iter()
            .map(|m| format!("{m} MB"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn crossed(r: &TuneOutput) -> Vec<(u32, String)> {
    r.ledge
        .sizes
        .iter()
        .filter(|s| !s.viable)
        .map(|s| (s.memory, s.reason.clone().unwrap_or_default()))
        .collect()
}

fn table(h: &mut String, r: &TuneOutput, name: &str, compare: bool) {
    let _ = write!(
        h,
        "<h2>Per size{}</h2>\n<table><tr><th>memory</th><th>vCPU quota</th><th class=\"l\">status</th><th>n</th><th>mean ms [95% CI]</th><th>median ms</th><th>p90</th><th>p99</th><th>CV</th><th>cold init ms</th><th>max mem MB</th><th>CPU÷wall</th><th>throttled</th><th>billed ms</th><th>x86_64 $/1M</th><th>arm64 $/1M</th><th>anchor price</th><th class=\"l\">flags</th></tr>\n",
        if compare { format!(": {}", esc(name)) } else { String::new() }
    );
    for s in &r.ledge.sizes {
        let cls = if !s.viable {
            " class=\"nv\""
        } else if s.memory == r.power {
            " class=\"win\""
        } else {
            ""
        };
        let d = s.duration.as_ref();
        let mut flags = Vec::new();
        if s.memory == r.power {
            flags.push("recommended".to_owned());
        }
        if s.pareto {
            flags.push("Pareto".into());
        }
        if s.tied_on_cost {
            flags.push("tied on cost".into());
        }
        if s.tied_on_speed {
            flags.push("tied on speed".into());
        }
        flags.extend(s.warnings.iter().cloned());
        let na = "—".to_owned();
        let _ = writeln!(
            h,
            "<tr{cls}><td>{m}</td><td>{q:.3}</td><td class=\"l\">{st}</td><td>{n}</td><td>{mean}</td><td>{med}</td><td>{p90}</td><td>{p99}</td><td>{cv}</td><td>{cold}</td><td>{mm}</td><td>{cpu}</td><td>{thr}</td><td>{billed:.1}</td><td>{x}</td><td>{a}</td><td>{anc}</td><td class=\"l\">{flags}</td></tr>",
            m = s.memory,
            q = s.vcpus,
            st = if s.viable { "viable".to_owned() } else { format!("not viable: {}", esc(s.reason.as_deref().unwrap_or(""))) },
            n = d.map(|d| d.samples).unwrap_or(0),
            mean = d.map(|d| format!("{:.1} [{:.1}–{:.1}]", d.mean.value, d.mean.low, d.mean.high)).unwrap_or(na.clone()),
            med = d.map(|d| format!("{:.1}", d.median.value)).unwrap_or(na.clone()),
            p90 = d.and_then(|d| d.p90).map(|v| format!("{v:.1}")).unwrap_or("not estimable".into()),
            p99 = d.and_then(|d| d.p99).map(|v| format!("{v:.1}")).unwrap_or("not estimable".into()),
            cv = d.map(|d| format!("{:.1}%", d.cv * 100.0)).unwrap_or(na.clone()),
            cold = s.cold.as_ref().map(|c| format!("{:.1} (n={})", c.init_ms.value, c.samples)).unwrap_or(na.clone()),
            mm = s.max_memory_used_mb,
            cpu = s.cpu.as_ref().map(|c| format!("{:.2}", c.cpu_per_wall)).unwrap_or(na.clone()),
            thr = s.cpu.as_ref().map(|c| format!("{:.0}%", c.throttled_fraction * 100.0)).unwrap_or(na.clone()),
            billed = s.billed_ms_mean,
            x = s.prices.as_ref().map(|p| format!("{:.4}", p.x86_64_per_million)).unwrap_or(na.clone()),
            a = s.prices.as_ref().map(|p| format!("{:.4}", p.arm64_per_million)).unwrap_or(na.clone()),
            anc = if s.anchor_price > 0.0 { format!("{:.3e}", s.anchor_price) } else { na.clone() },
            flags = esc(&flags.join("; ")),
        );
    }
    h.push_str("</table>\n<div class=\"sub\">x86_64 and arm64 prices apply the same measured durations; arm64 code runs at a different speed, so tune on arm64 to compare architectures. The anchor price is aws-lambda-power-tuning's figure (no request fee, trimmed mean).</div>\n");
}

fn comparison(h: &mut String, a: &TuneOutput, na: &str, b: &TuneOutput, nb: &str) {
    let _ = write!(
        h,
        "<h2>{} relative to {}</h2>\n<table><tr><th>memory</th><th>duration</th><th>cost</th></tr>\n",
        esc(nb),
        esc(na)
    );
    for s in &a.ledge.sizes {
        let Some(o) = b.ledge.sizes.iter().find(|o| o.memory == s.memory) else {
            continue;
        };
        let (Some(d1), Some(d2)) = (s.duration.as_ref(), o.duration.as_ref()) else {
            continue;
        };
        let (Some(c1), Some(c2)) = (s.cost, o.cost) else {
            continue;
        };
        let dt = (d2.mean.value / d1.mean.value - 1.0) * 100.0;
        let dc = (c2.value / c1.value - 1.0) * 100.0;
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{:.1}% {}</td><td>{:.1}% {}</td></tr>",
            s.memory,
            dt.abs(),
            if dt <= 0.0 { "faster" } else { "slower" },
            dc.abs(),
            if dc <= 0.0 {
                "cheaper"
            } else {
                "more expensive"
            }
        );
    }
    h.push_str("</table>\n");
}
