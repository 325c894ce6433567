//! Rendering plans, status and apply results as text, markdown (a pull-request comment)
//! and JSON. Pure: strings in, strings out; the CLI decides where they go.

use std::fmt::Write;

use crate::apple::model::ReviewState;
use crate::reconcile::Plan;
use crate::reconcile::apply::ApplyOutcome;
use crate::reconcile::planner::{ContentKind, Op, Status};

/// The first line of every markdown plan, so CI can find and update its comment.
pub const MARKDOWN_MARKER: &str = "<!-- retainctl:plan -->";
/// GitHub refuses comments over 65,536 characters; stay well below.
pub const MARKDOWN_LIMIT: usize = 60_000;

pub fn describe(op: &Op) -> String {
    match op {
        Op::UploadImage { key, size, id } => format!("upload image {key} ({}) {id}", size.as_str()),
        Op::UploadMessage { key, locale, id } => format!("upload message {key} [{locale}] {id}"),
        Op::SetDefault {
            product,
            locale,
            message_key,
            message_id,
            replaces,
        } => {
            let was = replaces
                .as_deref()
                .map(|r| format!(" (replaces {r})"))
                .unwrap_or_default();
            format!("set default {product} [{locale}] → {message_key} {message_id}{was}")
        }
        Op::DeleteDefault {
            product,
            locale,
            message_id,
        } => {
            format!("delete default {product} [{locale}] (was {message_id})")
        }
        Op::PruneMessage { id } => format!("delete message {id} (not in the manifest)"),
        Op::PruneImage { id } => format!("delete image {id} (not in the manifest)"),
        Op::ConfigureRealtimeUrl { url, .. } => format!("configure realtime URL {url}"),
        Op::DeleteRealtimeUrl { url } => format!("delete realtime URL {url}"),
    }
}

fn sign(op: &Op) -> &'static str {
    match op {
        Op::UploadImage { .. } | Op::UploadMessage { .. } => "+",
        Op::SetDefault { .. } | Op::ConfigureRealtimeUrl { .. } => "~",
        _ => "-",
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Ready => "ready",
        Status::Waiting => "waiting",
        Status::Blocked => "blocked",
    }
}

fn change_word(change: crate::diff::Change) -> &'static str {
    match change {
        crate::diff::Change::Added => "added",
        crate::diff::Change::Changed => "changed",
        crate::diff::Change::Removed => "removed",
    }
}

fn state_word(state: Option<ReviewState>) -> &'static str {
    state.map(ReviewState::as_str).unwrap_or("not uploaded")
}

fn kind_word(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Image => "image",
        ContentKind::Message => "message",
    }
}

struct Paint(bool);

impl Paint {
    fn code(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn sign(&self, op: &Op) -> String {
        let s = sign(op);
        self.code(
            match s {
                "+" => "32",
                "~" => "33",
                _ => "31",
            },
            s,
        )
    }
}

fn totals(plan: &Plan) -> (usize, usize, usize, usize) {
    let count = |s| plan.apps.iter().map(|a| a.count(s)).sum::<usize>();
    let all = plan.apps.iter().map(|a| a.actions.len()).sum();
    (
        all,
        count(Status::Ready),
        count(Status::Waiting),
        count(Status::Blocked),
    )
}

pub fn plan_text(plan: &Plan, color: bool) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    for app in &plan.apps {
        let _ = writeln!(
            out,
            "{} · {} ({})",
            paint.code("1", &app.bundle_id),
            app.environment,
            app.file
        );
        if app.actions.is_empty() {
            let _ = writeln!(out, "  no changes");
        }
        for a in &app.actions {
            let status = match a.status {
                Status::Ready => String::new(),
                s => format!("  [{}: {}]", status_word(s), a.reason),
            };
            let _ = writeln!(out, "  {} {}{status}", paint.sign(&a.op), describe(&a.op));
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
            let why = d
                .kept_because
                .as_deref()
                .unwrap_or("deleted only with --prune");
            let _ = writeln!(
                out,
                "  drift: {} {} {} is not in the manifest ({why})",
                kind_word(d.kind),
                d.id,
                d.state.as_str()
            );
        }
        let uncovered: Vec<String> = app
            .uncovered()
            .map(|d| format!("{} [{}]", d.product, d.locale))
            .collect();
        if !uncovered.is_empty() {
            let _ = writeln!(out, "  no default: {}", uncovered.join(", "));
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
                    _ => line.to_string(),
                };
                let _ = writeln!(out, "    {painted}");
            }
        }
        out.push('\n');
    }
    let (all, ready, waiting, blocked) = totals(plan);
    if all == 0 {
        let _ = writeln!(out, "No changes. Apple matches the manifests.");
    } else {
        let _ = writeln!(
            out,
            "Plan: {all} change{} ({ready} ready, {waiting} waiting on Apple's review, {blocked} blocked).",
            if all == 1 { "" } else { "s" }
        );
    }
    out
}

pub fn plan_json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).expect("a plan serializes");
    text.push('\n');
    text
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code(s: &str) -> String {
    format!("`{}`", cell(s).replace('`', "'"))
}

fn markdown_target(op: &Op) -> (&'static str, String) {
    match op {
        Op::UploadImage { key, size, id } => (
            "upload image",
            format!("{} {} {}", code(key), size.as_str(), code(id)),
        ),
        Op::UploadMessage { key, locale, id } => (
            "upload message",
            format!("{} {locale} {}", code(key), code(id)),
        ),
        Op::SetDefault {
            product,
            locale,
            message_key,
            message_id,
            replaces,
        } => (
            "set default",
            format!(
                "{} {locale} → {} {}{}",
                code(product),
                code(message_key),
                code(message_id),
                replaces
                    .as_deref()
                    .map(|r| format!(" (replaces {})", code(r)))
                    .unwrap_or_default()
            ),
        ),
        Op::DeleteDefault {
            product,
            locale,
            message_id,
        } => (
            "delete default",
            format!("{} {locale} (was {})", code(product), code(message_id)),
        ),
        Op::PruneMessage { id } => ("delete message", code(id)),
        Op::PruneImage { id } => ("delete image", code(id)),
        Op::ConfigureRealtimeUrl { url, .. } => ("configure realtime URL", code(url)),
        Op::DeleteRealtimeUrl { url } => ("delete realtime URL", code(url)),
    }
}

pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKDOWN_MARKER}");
    let _ = writeln!(out, "## retainctl plan\n");
    let (all, ready, waiting, blocked) = totals(plan);
    let changed = plan.apps.iter().filter(|a| !a.actions.is_empty()).count();
    if all == 0 {
        let _ = writeln!(
            out,
            "**No changes.** Apple matches the manifests in all {} app × environment pairs.\n",
            plan.apps.len()
        );
    } else {
        let _ = writeln!(
            out,
            "**{all} change{}** in {changed} of {} app × environment pairs: {ready} ready, {waiting} waiting on Apple's review, {blocked} blocked.\n",
            if all == 1 { "" } else { "s" },
            plan.apps.len()
        );
    }
    for app in &plan.apps {
        let _ = writeln!(out, "### {} · {}\n", cell(&app.bundle_id), app.environment);
        let _ = writeln!(
            out,
            "{} — {}\n",
            code(&app.file),
            if app.actions.is_empty() {
                "no changes".to_string()
            } else {
                format!("{} actions", app.actions.len())
            }
        );
        if !app.actions.is_empty() {
            let _ = writeln!(out, "| | action | target | status |\n|---|---|---|---|");
            for a in &app.actions {
                let (what, target) = markdown_target(&a.op);
                let status = match a.status {
                    Status::Ready => "ready".to_string(),
                    s => format!("{}: {}", status_word(s), cell(&a.reason)),
                };
                let _ = writeln!(out, "| {} | {what} | {target} | {status} |", sign(&a.op));
            }
            out.push('\n');
        }
        let rejected: Vec<_> = app.rejected().collect();
        if !rejected.is_empty() {
            let _ = writeln!(
                out,
                "**Rejected by Apple** (change the content to get a new id):\n"
            );
            for c in rejected {
                let _ = writeln!(
                    out,
                    "- {} {} {} {}",
                    kind_word(c.kind),
                    code(&c.key),
                    c.locale.as_deref().unwrap_or(""),
                    code(&c.id)
                );
            }
            out.push('\n');
        }
        let uncovered: Vec<String> = app
            .uncovered()
            .map(|d| format!("{} {}", code(&d.product), d.locale))
            .collect();
        if !uncovered.is_empty() {
            let _ = writeln!(
                out,
                "**Locales without a default:** {}\n",
                uncovered.join(", ")
            );
        }
        let _ = writeln!(
            out,
            "<details><summary>Review states ({})</summary>\n",
            app.content.len()
        );
        let _ = writeln!(
            out,
            "| kind | key | locale | id | state |\n|---|---|---|---|---|"
        );
        for c in &app.content {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                kind_word(c.kind),
                code(&c.key),
                c.locale.as_deref().unwrap_or(""),
                code(&c.id),
                state_word(c.state)
            );
        }
        let _ = writeln!(out, "\n</details>\n");
        if !app.diffs.is_empty() {
            let _ = writeln!(
                out,
                "<details><summary>Changed copy ({} localizations)</summary>\n",
                app.diffs.len()
            );
            for d in &app.diffs {
                let _ = writeln!(
                    out,
                    "{} — {} {}\n",
                    change_word(d.change),
                    code(&d.message_key),
                    d.locale
                );
                let _ = writeln!(out, "```diff\n{}```\n", d.unified.replace("```", "'''"));
            }
            let _ = writeln!(out, "</details>\n");
        }
        if !app.drift.is_empty() {
            let _ = writeln!(
                out,
                "<details><summary>Drift: on Apple, not in git ({})</summary>\n",
                app.drift.len()
            );
            for d in &app.drift {
                let why = d
                    .kept_because
                    .as_deref()
                    .unwrap_or("deleted only with --prune");
                let _ = writeln!(
                    out,
                    "- {} {} {} — {}",
                    kind_word(d.kind),
                    code(&d.id),
                    d.state.as_str(),
                    cell(why)
                );
            }
            let _ = writeln!(out, "\n</details>\n");
        }
    }
    cap_markdown(out, MARKDOWN_LIMIT)
}

/// Cuts `text` at a line boundary so that it, the closing tags it needs and a note fit
/// in `limit` characters.
pub fn cap_markdown(text: String, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text;
    }
    let reserve = 400;
    let mut kept = String::new();
    let mut kept_chars = 0;
    let mut open = 0i32;
    let mut dropped = 0usize;
    for line in text.lines() {
        let line_chars = line.chars().count() + 1;
        if dropped > 0 || kept_chars + line_chars > limit - reserve {
            dropped += 1;
            continue;
        }
        open += line.matches("<details>").count() as i32;
        open -= line.matches("</details>").count() as i32;
        kept.push_str(line);
        kept.push('\n');
        kept_chars += line_chars;
    }
    for _ in 0..open.max(0) {
        kept.push_str("\n</details>\n");
    }
    let _ = writeln!(
        kept,
        "\n> **Truncated:** {dropped} more lines did not fit in one comment. Run `retainctl plan` for the full plan."
    );
    kept
}

/// `status`: every image, message and owned default with Apple's review state, and drift.
pub fn status_text(plan: &Plan) -> String {
    let mut out = String::new();
    for app in &plan.apps {
        let _ = writeln!(
            out,
            "{} · {} ({})",
            app.bundle_id, app.environment, app.file
        );
        let _ = writeln!(out, "  content:");
        for c in &app.content {
            let _ = writeln!(
                out,
                "    {:<7} {:<24} {:<8} {} {}",
                kind_word(c.kind),
                c.key,
                c.locale.as_deref().unwrap_or("-"),
                c.id,
                state_word(c.state)
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
        if app.realtime_url.managed || app.realtime_url.current.is_some() {
            let _ = writeln!(
                out,
                "  realtime URL: {}{}",
                app.realtime_url.current.as_deref().unwrap_or("none"),
                if app.realtime_url.managed {
                    ""
                } else {
                    " (not managed: no environments entry)"
                }
            );
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
    out
}

/// One line per app after apply.
pub fn apply_summary(
    bundle_id: &str,
    env: crate::manifest::EnvironmentName,
    outcome: &ApplyOutcome,
) -> String {
    let mut out = format!(
        "{bundle_id} · {env}: {} done, {} waiting on review, {} blocked, {} failed",
        outcome.done.len(),
        outcome.waiting.len(),
        outcome.blocked.len(),
        outcome.failed.len() + outcome.errors.len()
    );
    for a in &outcome.waiting {
        let _ = write!(out, "\n  waiting: {} — {}", describe(&a.op), a.reason);
    }
    for a in &outcome.blocked {
        let _ = write!(out, "\n  blocked: {} — {}", describe(&a.op), a.reason);
    }
    for f in &outcome.failed {
        let _ = write!(out, "\n  failed: {} — {}", describe(&f.op), f.note);
    }
    for e in &outcome.errors {
        let _ = write!(out, "\n  error: {e}");
    }
    out
}
