//! `retainctl report` in every format: text for a terminal, markdown for an issue or a
//! pull request, JSON (`format_version`), and an SVG chart of each split's arms with
//! their intervals. Pure: a [`Report`] in, a string out.

use std::fmt::Write;

use super::escape;
use crate::outcomes::stats::Rate;
use crate::outcomes::{Report, Row, SIGNIFICANCE, SplitVerdict, Verdict};

fn pct(r: &Rate) -> String {
    if r.n == 0 {
        return "–".into();
    }
    format!("{:.1} %", r.value * 100.0)
}

fn interval(r: &Rate) -> String {
    if r.n == 0 {
        return String::new();
    }
    format!("{:.1}–{:.1}", r.low * 100.0, r.high * 100.0)
}

fn rule_words(row: &Row) -> String {
    match row.key.rule {
        Some(rule) => format!("rule {}", rule + 1),
        None => "no rule".into(),
    }
}

fn arm_words(rule: u32, answer: crate::outcomes::AnswerKind) -> String {
    format!("rule {} ({})", rule + 1, answer.as_str())
}

/// The plain sentence of a split's verdict.
pub fn verdict_sentence(s: &SplitVerdict) -> String {
    let base = arm_words(s.baseline.rule, s.baseline.answer);
    // Each arm is tested at the split's level divided by the number of arms (Bonferroni).
    let level = SIGNIFICANCE / s.arms.len().max(1) as f64;
    let p = |rule: u32| {
        s.arms
            .iter()
            .find(|a| a.rule == rule)
            .and_then(|a| a.p_value)
            .map(|p| format!("p = {p:.3}"))
            .unwrap_or_default()
    };
    match &s.verdict {
        Verdict::Better { rule } => match s.arms.iter().find(|a| a.rule == *rule) {
            Some(arm) => format!(
                "{} keeps more subscribers than {base}: {} turned auto-renew off against {} ({}, below {level:.3}).",
                arm_words(arm.rule, arm.answer),
                pct(&arm.auto_renew_off),
                pct(&s.baseline.auto_renew_off),
                p(*rule)
            ),
            None => format!("rule {} keeps more subscribers than {base}.", rule + 1),
        },
        Verdict::BaselineBetter => format!(
            "{base} keeps more subscribers than every other arm ({} turned auto-renew off; each difference p < {level:.3}).",
            pct(&s.baseline.auto_renew_off)
        ),
        Verdict::NotEnoughEvidence => {
            let shown: u64 = s.baseline.auto_renew_off.n
                + s.arms.iter().map(|a| a.auto_renew_off.n).sum::<u64>();
            let worse: Vec<String> = s
                .arms
                .iter()
                .filter(|a| {
                    a.p_value.is_some_and(|p| p < level)
                        && a.auto_renew_off.value > s.baseline.auto_renew_off.value
                })
                .map(|a| format!("{} loses more ({})", arm_words(a.rule, a.answer), p(a.rule)))
                .collect();
            let worse = if worse.is_empty() {
                String::new()
            } else {
                format!("; {}", worse.join(", "))
            };
            format!(
                "Not enough evidence yet to call any arm better than {base} ({shown} customers so far; none has fewer cancellations with p < {level:.3}{worse}): keep the split running."
            )
        }
    }
}

fn totals_line(report: &Report) -> String {
    let mut line = format!(
        "{} decisions, {} outcomes; window {} after each customer's first answer",
        report.decisions,
        report.outcomes,
        humantime::format_duration(std::time::Duration::from_millis(
            report.window_ms.max(0) as u64
        ))
    );
    if report.skipped.duplicate_outcomes > 0 {
        let _ = write!(
            line,
            "; {} duplicate notifications counted once",
            report.skipped.duplicate_outcomes
        );
    }
    if report.skipped.outcomes_without_decision > 0 {
        let _ = write!(
            line,
            "; {} outcomes of customers with no recorded answer left out",
            report.skipped.outcomes_without_decision
        );
    }
    line
}

pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", totals_line(report));
    if report.rows.is_empty() {
        let _ = writeln!(out, "No decisions in the period: nothing to report.");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<34} {:<10} {:<8} {:<20} {:<8} {:>6}  {:>18}  {:>8}  {:>8}  {:>8}  {:>8}",
        "app",
        "rule",
        "answer",
        "product",
        "locale",
        "shown",
        "auto-renew off",
        "offer",
        "switched",
        "renewed",
        "expired"
    );
    for row in &report.rows {
        let _ = writeln!(
            out,
            "{:<34} {:<10} {:<8} {:<20} {:<8} {:>6}  {:>7} ({:>9})  {:>8}  {:>8}  {:>8}  {:>8}",
            format!("{} · {}", row.key.app, row.key.environment),
            rule_words(row),
            row.key.answer.as_str(),
            row.key.product,
            row.key.locale,
            row.shown,
            pct(&row.auto_renew_off),
            interval(&row.auto_renew_off),
            pct(&row.redeemed_offer),
            pct(&row.switched_plan),
            pct(&row.renewed),
            pct(&row.expired),
        );
    }
    for split in &report.splits {
        let _ = writeln!(
            out,
            "\n{} · {} · split of rule {}: {}",
            split.app,
            split.environment,
            split.split + 1,
            verdict_sentence(split)
        );
    }
    out
}

pub fn markdown(report: &Report) -> String {
    let mut out = String::from("## retainctl report\n\n");
    let _ = writeln!(out, "{}.\n", totals_line(report));
    for split in &report.splits {
        let _ = writeln!(
            out,
            "**{} · {} · split of rule {}:** {}\n",
            split.app,
            split.environment,
            split.split + 1,
            verdict_sentence(split)
        );
    }
    if report.rows.is_empty() {
        let _ = writeln!(out, "No decisions in the period: nothing to report.");
        return out;
    }
    let _ = writeln!(
        out,
        "| app | rule | answer | product | locale | shown | auto-renew off (95 % interval) | redeemed offer | switched plan | renewed | expired |\n|---|---|---|---|---|---:|---:|---:|---:|---:|---:|"
    );
    for row in &report.rows {
        let _ = writeln!(
            out,
            "| `{}` · {} | {} | {} | `{}` | {} | {} | {} ({}) | {} | {} | {} | {} |",
            row.key.app,
            row.key.environment,
            rule_words(row),
            row.key.answer.as_str(),
            row.key.product,
            row.key.locale,
            row.shown,
            pct(&row.auto_renew_off),
            interval(&row.auto_renew_off),
            pct(&row.redeemed_offer),
            pct(&row.switched_plan),
            pct(&row.renewed),
            pct(&row.expired),
        );
    }
    out
}

pub fn json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("a report serializes");
    text.push('\n');
    text
}

/// Each split's arms as bars of the share that turned auto-renew off, with the 95 %
/// interval as a whisker; one panel per split.
pub fn svg(report: &Report) -> String {
    let (width, bar_h, gap, left) = (720.0, 26.0, 10.0, 220.0);
    let plot = width - left - 40.0;
    let mut body = String::new();
    let mut y = 20.0;
    for split in &report.splits {
        let _ = write!(
            body,
            "<text x=\"10\" y=\"{y}\" font-weight=\"bold\">{} · split of rule {}</text>",
            escape(&split.app),
            split.split + 1
        );
        y += 12.0;
        for arm in std::iter::once(&split.baseline).chain(&split.arms) {
            let r = &arm.auto_renew_off;
            let x = |v: f64| left + v * plot;
            let _ = write!(
                body,
                "<text x=\"10\" y=\"{:.1}\">{}</text><rect x=\"{left}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bar_h}\" fill=\"#4a7fd4\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\">{} (n = {})</text>",
                y + bar_h * 0.7,
                escape(&arm_words(arm.rule, arm.answer)),
                (x(r.value) - left).max(0.0),
                x(r.low),
                x(r.high),
                y + bar_h / 2.0,
                y + bar_h / 2.0,
                x(r.high) + 6.0,
                y + bar_h * 0.7,
                pct(r),
                r.n
            );
            y += bar_h + gap;
        }
        let _ = write!(
            body,
            "<text x=\"10\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            y + 4.0,
            escape(&verdict_sentence(split))
        );
        y += 36.0;
    }
    if report.splits.is_empty() {
        body.push_str("<text x=\"10\" y=\"30\">No split with two arms in the period.</text>");
        y = 50.0;
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{y:.0}\" font-family=\"sans-serif\" font-size=\"14\"><title>Share that turned auto-renew off, by arm, with 95 % intervals</title><rect width=\"100%\" height=\"100%\" fill=\"white\"/>{body}</svg>\n"
    )
}
