//! Plain text for a terminal or a CI log: the plan, status, and apply's lines and summary.

use std::borrow::Cow;
use std::fmt::Write;

use super::{
    ActionView, Piece, Sign, change_word, describe, error_words, kept_words, kind_word,
    outcome_detail, outcome_label, outcome_words, plural, precondition, realtime_url_words,
    reason_words, state_word, status_word, tally_words,
};
use crate::reconcile::apply::{AppReport, Outcome};
use crate::reconcile::planner::{Op, Status};
use crate::reconcile::{AppPlan, Plan};

struct Paint(bool);

impl Paint {
    fn code<'s>(&self, code: &str, s: &'s str) -> Cow<'s, str> {
        if self.0 {
            Cow::Owned(format!("\x1b[{code}m{s}\x1b[0m"))
        } else {
            Cow::Borrowed(s)
        }
    }

    fn sign(&self, sign: Sign) -> Cow<'static, str> {
        let color = match sign {
            Sign::Add => "32",
            Sign::Change => "33",
            Sign::Delete => "31",
        };
        self.code(color, sign.as_str())
    }
}

/// Appends the pieces, a space between two.
fn write_pieces(out: &mut String, ps: &[Piece]) {
    for (i, p) in ps.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match p {
            Piece::Code(s) => out.push_str(s),
            Piece::Words(s) => out.push_str(s),
            Piece::Locale(l) => {
                out.push('[');
                out.push_str(l);
                out.push(']');
            }
            Piece::Size(s) => {
                out.push('(');
                out.push_str(s);
                out.push(')');
            }
            Piece::Aside(inner) => {
                out.push('(');
                write_pieces(out, inner);
                out.push(')');
            }
        }
    }
}

/// Appends `upload message stay [en-US] 1234…`.
fn write_action(out: &mut String, view: &ActionView) {
    out.push_str(view.verb);
    out.push(' ');
    write_pieces(out, &view.target);
}

/// `upload message stay [en-US] 1234…`
pub fn action(view: &ActionView) -> String {
    let mut out = String::new();
    write_action(&mut out, view);
    out
}

pub fn describe_op(op: &Op) -> String {
    action(&describe(op))
}

fn header(out: &mut String, paint: &Paint, app: &AppPlan) {
    let _ = writeln!(
        out,
        "{} · {} ({})",
        paint.code("1", &app.bundle_id),
        app.environment,
        app.file
    );
}

/// The line of an app whose state could not be read; true when there was one.
fn failed(out: &mut String, paint: &Paint, app: &AppPlan) -> bool {
    let Some(error) = &app.error else {
        return false;
    };
    let _ = writeln!(
        out,
        "  {} could not read Apple: {}\n",
        paint.code("31", "ERROR"),
        error_words(error)
    );
    true
}

/// The plan's closing line: never "No changes" when an app could not be read.
fn headline(plan: &Plan) -> String {
    let count = |s| plan.apps.iter().map(|a| a.count(s)).sum::<usize>();
    let all: usize = plan.apps.iter().map(|a| a.actions.len()).sum();
    let (ready, waiting, blocked) = (
        count(Status::Ready),
        count(Status::Waiting),
        count(Status::Blocked),
    );
    let failed = plan.failed().count();
    let changes = format!(
        "{} ({ready} ready, {waiting} waiting on Apple's review, {blocked} blocked)",
        plural(all, "change", "changes")
    );
    let rules = super::realtime_counts(plan)
        .map(|words| format!("; {words} (served once apply writes the realtime snapshot)"))
        .unwrap_or_default();
    if failed > 0 && failed == plan.apps.len() {
        format!(
            "Plan failed: {} could not be read (see the errors above), so nothing is known about changes.",
            plural(failed, "app × environment", "app × environments"),
        )
    } else if failed > 0 {
        format!(
            "Plan incomplete: {} could not be read (see the errors above); {changes} in the others{rules}.",
            plural(failed, "app × environment", "app × environments"),
        )
    } else if all == 0 && rules.is_empty() {
        "No changes. Apple matches the manifests.".into()
    } else if all == 0 {
        format!("No changes on Apple: it matches the manifests{rules}.")
    } else {
        format!("Plan: {changes}{rules}.")
    }
}

pub fn plan(plan: &Plan, color: bool) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    for app in &plan.apps {
        header(&mut out, &paint, app);
        if failed(&mut out, &paint, app) {
            continue;
        }
        if !app.has_changes() {
            let _ = writeln!(out, "  no changes");
        } else if app.actions.is_empty() {
            let _ = writeln!(out, "  no changes on Apple");
        }
        for a in &app.actions {
            let view = describe(&a.op);
            let status = match a.status {
                Status::Ready => precondition(&a.reason)
                    .map(|p| format!("  [ready: {p}]"))
                    .unwrap_or_default(),
                s => format!("  [{}: {}]", status_word(s), reason_words(&a.reason)),
            };
            out.push_str("  ");
            out.push_str(&paint.sign(view.sign));
            out.push(' ');
            write_action(&mut out, &view);
            out.push_str(&status);
            out.push('\n');
        }
        for cap in &app.over_cap {
            let _ = writeln!(
                out,
                "  {} {}",
                paint.code("31", "cap:"),
                super::cap_words(cap)
            );
        }
        for c in app.rejected() {
            let locale = c
                .locale
                .as_deref()
                .map(|l| format!(" [{l}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {} {}{locale} {} was REJECTED: change the content to get a new id",
                paint.code("31", "rejected:"),
                kind_word(c.kind),
                c.key,
                c.id
            );
        }
        for d in &app.drift {
            let _ = writeln!(
                out,
                "  drift: {} {} {} is not in the manifest ({})",
                kind_word(d.kind),
                d.id,
                d.state.as_str(),
                kept_words(d.kept_because.as_ref())
            );
        }
        let uncovered: Vec<String> = app
            .uncovered()
            .map(|d| format!("{} [{}]", d.product, d.locale))
            .collect();
        if !uncovered.is_empty() {
            let _ = writeln!(out, "  no default: {}", uncovered.join(", "));
        }
        for c in &app.rule_changes {
            let _ = writeln!(out, "  realtime {}", super::describe_rule_change(c));
        }
        for c in &app.snapshot_changes {
            let _ = writeln!(
                out,
                "  realtime snapshot: {}",
                super::describe_snapshot_change(c)
            );
        }
        for d in &app.diffs {
            let _ = writeln!(
                out,
                "  copy {} — {} [{}]:",
                change_word(d.change),
                d.message_key,
                d.locale
            );
            for line in d.unified.lines() {
                let painted = match line.chars().next() {
                    Some('+') if !line.starts_with("+++") => paint.code("32", line),
                    Some('-') if !line.starts_with("---") => paint.code("31", line),
                    _ => Cow::Borrowed(line),
                };
                let _ = writeln!(out, "    {painted}");
            }
        }
        out.push('\n');
    }
    if let Some(previews) = &plan.previews {
        let _ = writeln!(out, "{}\n", super::previews_line(previews));
    }
    let _ = writeln!(out, "{}", headline(plan));
    out
}

/// `status`: every image, message and owned default with Apple's review state, and drift.
pub fn status(plan: &Plan) -> String {
    let mut out = String::new();
    let paint = Paint(false);
    for app in &plan.apps {
        header(&mut out, &paint, app);
        if failed(&mut out, &paint, app) {
            continue;
        }
        let _ = writeln!(out, "  content:");
        for c in &app.content {
            let size = c
                .apple_size
                .map(|s| format!(" {}", s.as_str()))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {:<7} {:<24} {:<8} {} {}{size}",
                kind_word(c.kind),
                c.key,
                c.locale.as_deref().unwrap_or("-"),
                c.id,
                state_word(c.state.as_ref())
            );
        }
        if !app.defaults.is_empty() {
            let _ = writeln!(out, "  defaults:");
        }
        for d in &app.defaults {
            let verdict = match (&d.current, &d.desired) {
                (c, w) if c == w && c.is_some() => "in sync".to_string(),
                (None, None) => "no default".to_string(),
                (_, None) => "not in the manifest: deleted by apply".to_string(),
                (_, Some(_)) => format!("to set: {}", d.desired_key.as_deref().unwrap_or("?")),
            };
            let _ = writeln!(
                out,
                "    {} [{}] current {} — {verdict}",
                d.product,
                d.locale,
                d.current.as_deref().unwrap_or("none")
            );
        }
        if let Some(words) = realtime_url_words(app) {
            let _ = writeln!(out, "  realtime URL: {words}");
        }
        for d in &app.drift {
            let _ = writeln!(
                out,
                "  drift: {} {} {}",
                kind_word(d.kind),
                d.id,
                d.state.as_str()
            );
        }
        out.push('\n');
    }
    let failed = plan.failed().count();
    if failed > 0 {
        let _ = writeln!(
            out,
            "Status incomplete: {} could not be read.",
            plural(failed, "app × environment", "app × environments")
        );
    }
    out
}

/// One line per finished action during apply.
pub fn apply_line(op: &Op, outcome: &Outcome) -> String {
    let what = describe_op(op);
    match outcome {
        Outcome::Written => format!("  done     {what}"),
        Outcome::AlreadyThere => format!("  ok       {what} (already there)"),
        Outcome::Failed { error } => format!("  FAILED   {what}: {}", error_words(error)),
        other => format!("  {:<8} {what} ({})", "ok", outcome_words(other)),
    }
}

/// After apply, per app: the counts, then every action that is not done.
pub fn apply_summary(report: &AppReport) -> String {
    let mut out = format!(
        "{} · {}: {}",
        report.bundle_id,
        report.environment,
        tally_words(&report.tally())
    );
    if let Some(error) = &report.error {
        let _ = write!(out, "\n  stopped: {}", error_words(error));
    }
    for a in &report.actions {
        if a.outcome.is_done() {
            continue;
        }
        let _ = write!(
            out,
            "\n  {}: {}",
            outcome_label(&a.outcome),
            describe_op(&a.op)
        );
        if let Some(detail) = outcome_detail(&a.outcome) {
            let _ = write!(out, " — {detail}");
        }
    }
    out
}

/// The run's closing line over every app.
pub fn apply_total(reports: &[AppReport]) -> String {
    let total = super::total(reports);
    let stopped = reports.iter().filter(|r| r.error.is_some()).count();
    let mut line = format!("Apply: {}", tally_words(&total));
    if stopped > 0 {
        let _ = write!(
            line,
            "; {} stopped with an error",
            plural(stopped, "app × environment", "app × environments")
        );
    }
    for wait in super::budget_waits(reports) {
        let _ = write!(
            line,
            "; Apple's hourly {} budget is used up until {}: {} left for the next run",
            wait.endpoint,
            wait.frees_at,
            plural(wait.actions, "request", "requests")
        );
    }
    line.push('.');
    line
}
