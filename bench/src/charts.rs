//! Hand-written SVG charts: lines with min–max whiskers, and bars with whiskers and an optional
//! reference line. No dependencies; the output is small, static and diff-friendly.

use std::fmt::{self, Write as _};

use crate::stats::Spread;

const W: f64 = 720.0;
const H: f64 = 400.0;
const LEFT: f64 = 72.0;
/// Right edge of the plot area: line charts keep room for the legend, bar charts for the
/// reference line's label.
const RIGHT: f64 = W - 190.0;
const BAR_RIGHT: f64 = W - 130.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = H - 56.0;
const COLORS: [&str; 7] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#7f7f7f",
];

pub struct Series {
    pub name: String,
    /// (x, y) points; x in data units.
    pub points: Vec<(f64, Spread)>,
    /// A dashed line without markers (a bound or a floor).
    pub dashed: bool,
    /// Default: by position.
    pub color: Option<&'static str>,
}

pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Tick positions (data units) and their labels.
    pub x_ticks: Vec<(f64, String)>,
    /// Place x on a log2 scale (sizes, concurrency and part sizes are powers of two).
    pub log2_x: bool,
    pub series: Vec<Series>,
}

pub struct Bar {
    pub label: String,
    pub value: Spread,
    pub color: Option<&'static str>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A "nice" step (1, 2 or 5 times a power of ten) giving about `target` intervals up to `max`.
fn nice_step(max: f64, target: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let raw = max / target;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_tick(v: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{v:.0}")
    } else if step >= 0.1 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn header(out: &mut String, title: &str) -> fmt::Result {
    write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect width="{W}" height="{H}" fill="white"/>
<text x="{x}" y="24" font-size="15" font-weight="bold" text-anchor="middle">{t}</text>
"#,
        x = W / 2.0,
        t = esc(title)
    )
}

/// Y axis from 0 to a nice maximum, grid lines up to `right`; returns the maximum.
fn y_axis(out: &mut String, y_max_data: f64, y_label: &str, right: f64) -> Result<f64, fmt::Error> {
    let step = nice_step(y_max_data * 1.05, 5.0);
    let top = (y_max_data * 1.05 / step).ceil().max(1.0) * step;
    let mut v = 0.0;
    while v <= top + step * 1e-9 {
        let y = BOTTOM - (v / top) * (BOTTOM - TOP);
        writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{x:.1}" y="{ty:.1}" text-anchor="end">{label}</text>"##,
            x = LEFT - 6.0,
            ty = y + 4.0,
            label = fmt_tick(v, step)
        )?;
        v += step;
    }
    writeln!(
        out,
        r##"<text transform="translate(18 {cy}) rotate(-90)" text-anchor="middle">{l}</text>
<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BOTTOM}" stroke="#333"/><line x1="{LEFT}" y1="{BOTTOM}" x2="{right}" y2="{BOTTOM}" stroke="#333"/>"##,
        cy = (TOP + BOTTOM) / 2.0,
        l = esc(y_label)
    )?;
    Ok(top)
}

pub fn line_chart(chart: &LineChart) -> Result<String, fmt::Error> {
    let mut out = String::new();
    header(&mut out, &chart.title)?;
    let tx = |x: f64| if chart.log2_x { x.max(1e-9).log2() } else { x };
    let xs: Vec<f64> = chart
        .x_ticks
        .iter()
        .map(|(x, _)| tx(*x))
        .chain(
            chart
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|(x, _)| tx(*x))),
        )
        .collect();
    let (mut lo, mut hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if (hi - lo).abs() < 1e-12 {
        lo -= 1.0;
        hi += 1.0;
    }
    let pad = (hi - lo) * 0.06;
    let (lo, hi) = (lo - pad, hi + pad);
    let px = |x: f64| LEFT + (tx(x) - lo) / (hi - lo) * (RIGHT - LEFT);
    let y_max = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|(_, y)| y.max))
        .fold(0.0f64, f64::max);
    let top = y_axis(&mut out, y_max, &chart.y_label, RIGHT)?;
    let py = |y: f64| BOTTOM - (y / top) * (BOTTOM - TOP);
    for (x, label) in &chart.x_ticks {
        writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{BOTTOM}" x2="{x:.1}" y2="{b2}" stroke="#333"/><text x="{x:.1}" y="{ty}" text-anchor="middle">{l}</text>"##,
            x = px(*x),
            b2 = BOTTOM + 5.0,
            ty = BOTTOM + 19.0,
            l = esc(label)
        )?;
    }
    writeln!(
        out,
        r#"<text x="{x}" y="{y}" text-anchor="middle">{l}</text>"#,
        x = (LEFT + RIGHT) / 2.0,
        y = H - 14.0,
        l = esc(&chart.x_label)
    )?;
    for (i, s) in chart.series.iter().enumerate() {
        let color = s.color.unwrap_or(COLORS[i % COLORS.len()]);
        let mut pts: Vec<&(f64, Spread)> = s.points.iter().collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let path: Vec<String> = pts
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(y.median)))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        writeln!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            path.join(" ")
        )?;
        if !s.dashed {
            for (x, y) in &pts {
                let (cx, cy) = (px(*x), py(y.median));
                if y.max > y.min {
                    writeln!(
                        out,
                        r#"<path d="M{cx:.1} {a:.1}V{b:.1}M{l:.1} {a:.1}H{r:.1}M{l:.1} {b:.1}H{r:.1}" stroke="{color}" fill="none"/>"#,
                        a = py(y.max),
                        b = py(y.min),
                        l = cx - 4.0,
                        r = cx + 4.0
                    )?;
                }
                writeln!(
                    out,
                    r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="3.5" fill="{color}"/>"#
                )?;
            }
        }
        let ly = TOP + 8.0 + i as f64 * 20.0;
        writeln!(
            out,
            r#"<line x1="{x1}" y1="{ly}" x2="{x2}" y2="{ly}" stroke="{color}" stroke-width="2"{dash}/><text x="{tx}" y="{ty}">{n}</text>"#,
            x1 = RIGHT + 14.0,
            x2 = RIGHT + 36.0,
            tx = RIGHT + 42.0,
            ty = ly + 4.0,
            n = esc(&s.name)
        )?;
    }
    out.push_str("</svg>\n");
    Ok(out)
}

/// Bars (median) with min–max whiskers and the median written above; each `references` entry
/// draws a dashed horizontal line (a floor, a bound, a link's limit) with its label.
pub fn bar_chart(
    title: &str,
    y_label: &str,
    bars: &[Bar],
    references: &[(f64, &str)],
) -> Result<String, fmt::Error> {
    let mut out = String::new();
    header(&mut out, title)?;
    let y_max = bars
        .iter()
        .map(|b| b.value.max)
        .chain(references.iter().map(|r| r.0))
        .fold(0.0f64, f64::max);
    let top = y_axis(&mut out, y_max, y_label, BAR_RIGHT)?;
    let py = |y: f64| BOTTOM - (y / top) * (BOTTOM - TOP);
    let n = bars.len().max(1) as f64;
    let slot = (BAR_RIGHT - LEFT) / n;
    let width = (slot * 0.6).min(90.0);
    for (i, bar) in bars.iter().enumerate() {
        let color = bar.color.unwrap_or(COLORS[i % COLORS.len()]);
        let cx = LEFT + slot * (i as f64 + 0.5);
        let y = py(bar.value.median);
        writeln!(
            out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{h:.1}" fill="{color}" fill-opacity="0.85"/>"#,
            x = cx - width / 2.0,
            h = BOTTOM - y
        )?;
        if bar.value.max > bar.value.min {
            writeln!(
                out,
                r##"<path d="M{cx:.1} {a:.1}V{b:.1}M{l:.1} {a:.1}H{r:.1}M{l:.1} {b:.1}H{r:.1}" stroke="#222" fill="none"/>"##,
                a = py(bar.value.max),
                b = py(bar.value.min),
                l = cx - 6.0,
                r = cx + 6.0
            )?;
        }
        let digits = if bar.value.median >= 100.0 {
            0
        } else if bar.value.median >= 10.0 {
            1
        } else {
            2
        };
        let v = format!("{:.*}", digits, bar.value.median);
        writeln!(
            out,
            r#"<text x="{cx:.1}" y="{ty:.1}" text-anchor="middle" font-weight="bold">{v}</text><text x="{cx:.1}" y="{ly}" text-anchor="middle" font-size="11">{l}</text>"#,
            ty = py(bar.value.max) - 6.0,
            ly = BOTTOM + 19.0,
            l = esc(&bar.label)
        )?;
    }
    for &(value, label) in references {
        let y = py(value);
        writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{BAR_RIGHT}" y2="{y:.1}" stroke="#555" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{tx}" y="{ty:.1}">{l}</text>"##,
            tx = BAR_RIGHT + 6.0,
            ty = y + 4.0,
            l = esc(label)
        )?;
    }
    out.push_str("</svg>\n");
    Ok(out)
}
