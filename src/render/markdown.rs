//! Markdown for a pull-request comment or a job summary: the plan and status, each with its
//! own hidden marker so a workflow updates the right comment, capped below GitHub's limit.

use std::fmt::Write;

use super::{
    ActionView, Piece, change_word, describe, error_words, kept_words, kind_word, plural,
    precondition, realtime_url_words, reason_words, state_word, status_word,
};
use crate::manifest::EnvironmentName;
use crate::reconcile::apply::AppReport;
use crate::reconcile::planner::Status;
use crate::reconcile::previews::{PreviewChange, PreviewSet};
use crate::reconcile::{AppPlan, Plan};

/// The first line of every markdown plan, so CI can find and update its comment.
pub const PLAN_MARKER: &str = "<!-- retainctl:plan -->";
/// The first line of markdown status: another comment than the plan's.
pub const STATUS_MARKER: &str = "<!-- retainctl:status -->";
/// GitHub refuses comments over 65,536 characters; stay well below.
pub const MARKDOWN_LIMIT: usize = 60_000;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn code(s: &str) -> String {
    format!("`{}`", cell(s).replace('`', "'"))
}

fn piece(p: &Piece) -> String {
    match p {
        Piece::Code(s) => code(s),
        Piece::Words(s) | Piece::Locale(s) => cell(s),
        Piece::Size(s) => s.to_string(),
        Piece::Aside(inner) => format!("({})", pieces(inner)),
    }
}

fn pieces(ps: &[Piece]) -> String {
    ps.iter().map(piece).collect::<Vec<_>>().join(" ")
}

pub fn target(view: &ActionView) -> String {
    pieces(&view.target)
}

fn failed_row(out: &mut String, app: &AppPlan) -> bool {
    let Some(error) = &app.error else {
        return false;
    };
    let _ = writeln!(
        out,
        "**Could not read Apple** — nothing is known about this app here: {}\n",
        cell(&error_words(error))
    );
    true
}

fn failed_headline(plan: &Plan) -> Option<String> {
    let failed: Vec<String> = plan
        .failed()
        .map(|a| format!("{} · {}", code(&a.bundle_id), a.environment))
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "**{} could not be read:** {}. What follows is incomplete.\n",
            plural(failed.len(), "app × environment", "app × environments"),
            failed.join(", ")
        )
    })
}

/// A part of the plan comment. Over GitHub's limit, the parts with the highest `detail`
/// go first; `detail` 0 is never left out (every app × environment keeps its section).
struct Part {
    detail: u8,
    text: String,
}

/// What each level of detail is called when it is left out.
const DETAIL_NAMES: [&str; 6] = [
    "",
    "",
    "upload summaries",
    "copy diffs",
    "drift lists",
    "review-state tables",
];

fn part(detail: u8, write: impl FnOnce(&mut String)) -> Part {
    let mut text = String::new();
    write(&mut text);
    Part { detail, text }
}

/// The plan as a pull-request comment: per app × environment what customers will see
/// change first (errors, blocked and rejected content, defaults, deletions), then uploads
/// summarised per message, then diffs, drift and review states, collapsed.
pub fn plan(plan: &Plan) -> String {
    let mut head = String::new();
    let _ = writeln!(head, "{PLAN_MARKER}");
    let _ = writeln!(head, "## retainctl plan\n");
    let count = |s| plan.apps.iter().map(|a| a.count(s)).sum::<usize>();
    let all: usize = plan.apps.iter().map(|a| a.actions.len()).sum();
    let read = plan.apps.iter().filter(|a| a.error.is_none()).count();
    let changed = plan.apps.iter().filter(|a| !a.actions.is_empty()).count();
    let failed = failed_headline(plan);
    if let Some(line) = &failed {
        let _ = writeln!(head, "{line}");
    }
    let rules = super::realtime_counts(plan)
        .map(|words| format!(" {words} (served once apply writes the realtime snapshot)."))
        .unwrap_or_default();
    if read == 0 && failed.is_some() {
        // nothing was read: the failure is all there is to say
    } else if all == 0 && failed.is_none() && rules.is_empty() {
        let _ = writeln!(
            head,
            "**No changes.** Apple matches the manifests in all {} app × environment pairs.\n",
            plan.apps.len()
        );
    } else if all == 0 && failed.is_none() {
        let _ = writeln!(
            head,
            "**No changes on Apple**: it matches the manifests in all {} app × environment pairs.{rules}\n",
            plan.apps.len()
        );
    } else if all == 0 && rules.is_empty() {
        let _ = writeln!(
            head,
            "No changes in the {read} app × environment pairs that could be read.\n"
        );
    } else if all == 0 {
        let _ = writeln!(
            head,
            "No changes on Apple in the {read} app × environment pairs that could be read.{rules}\n"
        );
    } else {
        let _ = writeln!(
            head,
            "**{}** in {changed} of {read} app × environment pairs read: {} ready, {} waiting on Apple's review, {} blocked.{rules}\n",
            plural(all, "change", "changes"),
            count(Status::Ready),
            count(Status::Waiting),
            count(Status::Blocked),
        );
    }
    let mut parts = vec![Part {
        detail: 0,
        text: head,
    }];
    if let Some(previews) = &plan.previews {
        parts.push(part(1, |out| previews_part(out, previews)));
    }
    for app in &plan.apps {
        parts.extend(app_parts(app));
    }
    fit(parts, MARKDOWN_LIMIT)
}

fn app_parts(app: &AppPlan) -> Vec<Part> {
    let mut parts = vec![part(0, |out| {
        let _ = writeln!(out, "### {} · {}\n", cell(&app.bundle_id), app.environment);
        if failed_row(out, app) {
            return;
        }
        let uploads = app
            .actions
            .iter()
            .filter(|a| a.op.is_write_of_content())
            .count();
        let _ = writeln!(
            out,
            "{} — {}\n",
            code(&app.file),
            if !app.has_changes() {
                "no changes".to_string()
            } else if app.actions.is_empty() {
                "no changes on Apple".to_string()
            } else {
                format!(
                    "{}, {} of them uploads",
                    plural(app.actions.len(), "action", "actions"),
                    uploads
                )
            }
        );
        for cap in &app.over_cap {
            let _ = writeln!(out, "**Apple's cap:** {}\n", cell(&super::cap_words(cap)));
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
        // What customers see change: defaults, deletions, the realtime URL, and any
        // upload that cannot go (blocked).
        let first: Vec<_> = app
            .actions
            .iter()
            .filter(|a| !a.op.is_write_of_content() || a.status == Status::Blocked)
            .collect();
        if !first.is_empty() {
            let _ = writeln!(out, "| | action | target | status |\n|---|---|---|---|");
            for a in first {
                let view = describe(&a.op);
                let status = match a.status {
                    Status::Ready => match precondition(&a.reason) {
                        Some(p) => format!("ready: {}", cell(p)),
                        None => "ready".to_string(),
                    },
                    s => format!("{}: {}", status_word(s), cell(&reason_words(&a.reason))),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {status} |",
                    view.sign.as_str(),
                    view.verb,
                    target(&view)
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
    })];
    if app.error.is_some() {
        return parts;
    }
    parts.push(part(2, |out| upload_summary(out, app)));
    parts.push(part(3, |out| {
        if !app.has_realtime_changes() {
            return;
        }
        let _ = writeln!(out, "**Realtime rules:**\n");
        for c in &app.rule_changes {
            let _ = writeln!(
                out,
                "- {}",
                super::describe_rule_change(c).replace('`', "'")
            );
        }
        for c in &app.snapshot_changes {
            let _ = writeln!(
                out,
                "- snapshot: {}",
                super::describe_snapshot_change(c).replace('`', "'")
            );
        }
        out.push('\n');
    }));
    parts.push(part(3, |out| {
        if app.diffs.is_empty() {
            return;
        }
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
    }));
    parts.push(part(4, |out| drift_list(out, app)));
    parts.push(part(5, |out| content_table(out, app)));
    parts
}

/// Uploads per message key: which locales, and the characters of each locale's new copy
/// where the plan has a diff of it (`plan --base`).
fn upload_summary(out: &mut String, app: &AppPlan) {
    use std::collections::BTreeMap;
    let mut messages: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut images: Vec<String> = vec![];
    for a in &app.actions {
        match &a.op {
            crate::reconcile::Op::UploadMessage { key, locale, .. } => {
                messages.entry(key).or_default().push(locale)
            }
            crate::reconcile::Op::UploadImage { key, size, .. } => {
                images.push(format!("{} {}", code(key), size.as_str()))
            }
            _ => {}
        }
    }
    if messages.is_empty() && images.is_empty() {
        return;
    }
    let message_uploads: usize = messages.values().map(Vec::len).sum();
    let _ = writeln!(
        out,
        "<details><summary>Uploads: {} messages × locales of {} message keys, {} images</summary>\n",
        message_uploads,
        messages.len(),
        images.len()
    );
    if !images.is_empty() {
        let _ = writeln!(out, "Images: {}\n", images.join(", "));
    }
    if !messages.is_empty() {
        let _ = writeln!(out, "| message | locales | new copy |\n|---|---|---|");
        for (key, locales) in messages {
            let sizes: Vec<String> = app
                .diffs
                .iter()
                .filter(|d| d.message_key == key && locales.contains(&d.locale.as_str()))
                .map(|d| {
                    let added: usize = d
                        .unified
                        .lines()
                        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
                        .map(|l| l.chars().count().saturating_sub(1))
                        .sum();
                    format!("{} {added} chars", d.locale)
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                code(key),
                cell(&locales.join(", ")),
                if sizes.is_empty() {
                    "—".to_string()
                } else {
                    cell(&sizes.join(", "))
                }
            );
        }
    }
    let _ = writeln!(out, "\n</details>\n");
}

/// Joins the parts; over `limit`, leaves out the most detailed kind of part everywhere,
/// then the next, and says what was left out and where the whole plan is.
fn fit(mut parts: Vec<Part>, limit: usize) -> String {
    let reserve = 600;
    let size = |parts: &[Part]| parts.iter().map(|p| p.text.chars().count()).sum::<usize>();
    let mut left_out: Vec<&str> = vec![];
    for detail in (2..DETAIL_NAMES.len() as u8).rev() {
        if size(&parts) <= limit {
            break;
        }
        if parts
            .iter()
            .any(|p| p.detail == detail && !p.text.is_empty())
        {
            left_out.push(DETAIL_NAMES[detail as usize]);
        }
        parts.retain(|p| p.detail != detail);
    }
    let text: String = parts.iter().map(|p| p.text.as_str()).collect();
    if left_out.is_empty() {
        return text;
    }
    let mut text = cap_markdown(text, limit - reserve);
    let _ = writeln!(
        text,
        "\n> **Shortened to fit one comment:** left out {}. The full plan is in this run's artifact (`retainctl plan --format json`), or run `retainctl plan` locally.",
        left_out.join(", ")
    );
    text
}

/// Where the action puts the link to the gallery it uploads (`action/comment.js`).
pub const GALLERY_MARKER: &str = "<!-- retainctl:previews-gallery -->";

/// How many changed localizations the comment shows pictures of; the gallery has all.
pub const PREVIEWS_SHOWN: usize = 12;

/// The previews of a plan: the first [`PREVIEWS_SHOWN`] changes as pictures (from
/// `--previews-url`) or file names, then how many more the gallery holds.
fn previews_part(out: &mut String, previews: &PreviewSet) {
    let n = previews.localizations.len();
    let _ = writeln!(out, "### Previews\n");
    if n == 0 {
        let _ = writeln!(out, "No message changes: nothing to preview.\n");
        return;
    }
    let _ = writeln!(
        out,
        "{}, before and after, as Apple's Confirm Cancellation page shows them (an approximation). Gallery of all: `{}`. {GALLERY_MARKER}\n",
        plural(n, "changed localization", "changed localizations"),
        cell(&format!("{}/{}", previews.folder, previews.gallery))
    );
    for l in previews.localizations.iter().take(PREVIEWS_SHOWN) {
        let change = match l.change {
            PreviewChange::New => "new",
            PreviewChange::Changed => "changed",
        };
        let _ = writeln!(
            out,
            "**{} · {} · {}** ({change})\n",
            code(&l.bundle_id),
            code(&l.message_key),
            cell(&l.locale)
        );
        match &previews.url {
            Some(url) => {
                let _ = writeln!(
                    out,
                    "<img src=\"{}\" width=\"480\" alt=\"{} {} before and after\">\n",
                    super::picture_url(url, &l.side_by_side),
                    cell(&l.message_key).replace('"', "'"),
                    cell(&l.locale)
                );
            }
            None => {
                let _ = writeln!(out, "{}\n", code(&l.side_by_side));
            }
        }
        for w in &l.warnings {
            let _ = writeln!(out, "> ⚠️ {}\n", cell(w));
        }
    }
    if n > PREVIEWS_SHOWN {
        let more = n - PREVIEWS_SHOWN;
        let noun = if more == 1 {
            "localization"
        } else {
            "localizations"
        };
        let _ = writeln!(out, "…and {more} more changed {noun} in the gallery.\n");
    }
}

fn content_table(out: &mut String, app: &AppPlan) {
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
            cell(state_word(c.state.as_ref()))
        );
    }
    let _ = writeln!(out, "\n</details>\n");
}

fn drift_list(out: &mut String, app: &AppPlan) {
    if app.drift.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<details><summary>Drift: on Apple, not in git ({})</summary>\n",
        app.drift.len()
    );
    for d in &app.drift {
        let _ = writeln!(
            out,
            "- {} {} {} — {}",
            kind_word(d.kind),
            code(&d.id),
            cell(d.state.as_str()),
            cell(&kept_words(d.kept_because.as_ref()))
        );
    }
    let _ = writeln!(out, "\n</details>\n");
}

/// `status --format markdown`: the inventory, under its own marker and title.
pub fn status(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{STATUS_MARKER}");
    let _ = writeln!(out, "## retainctl status\n");
    if let Some(line) = failed_headline(plan) {
        let _ = writeln!(out, "{line}");
    }
    for app in &plan.apps {
        let _ = writeln!(out, "### {} · {}\n", cell(&app.bundle_id), app.environment);
        if failed_row(&mut out, app) {
            continue;
        }
        content_table(&mut out, app);
        if !app.defaults.is_empty() {
            let _ = writeln!(
                out,
                "| product | locale | current | manifest |\n|---|---|---|---|"
            );
            for d in &app.defaults {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    code(&d.product),
                    cell(&d.locale),
                    d.current
                        .as_deref()
                        .map(code)
                        .unwrap_or_else(|| "none".into()),
                    d.desired_key
                        .as_deref()
                        .map(code)
                        .unwrap_or_else(|| "none".into()),
                );
            }
            out.push('\n');
        }
        if let Some(words) = realtime_url_words(app) {
            let _ = writeln!(out, "Realtime URL: {}\n", cell(&words));
        }
        drift_list(&mut out, app);
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

/// The first line of an apply report in markdown (a job summary).
pub const APPLY_MARKER: &str = "<!-- retainctl:apply -->";

/// `apply --format markdown`: per app, what is not done first, then what was done.
pub fn apply(environment: EnvironmentName, reports: &[AppReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{APPLY_MARKER}");
    let _ = writeln!(out, "## retainctl apply · {environment}\n");
    let _ = writeln!(out, "**{}**\n", super::text::apply_total(reports));
    for report in reports {
        let _ = writeln!(
            out,
            "### {} · {}\n\n{} — {}\n",
            cell(&report.bundle_id),
            report.environment,
            code(&report.file),
            super::tally_words(&report.tally())
        );
        if let Some(error) = &report.error {
            let _ = writeln!(out, "**Stopped:** {}\n", cell(&error_words(error)));
        }
        let open: Vec<_> = report
            .actions
            .iter()
            .filter(|a| !a.outcome.is_done())
            .collect();
        if !open.is_empty() {
            let _ = writeln!(
                out,
                "| outcome | action | target | why |\n|---|---|---|---|"
            );
            for a in open {
                let view = describe(&a.op);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    super::outcome_label(&a.outcome),
                    view.verb,
                    target(&view),
                    cell(&super::outcome_detail(&a.outcome).unwrap_or_default())
                );
            }
            out.push('\n');
        }
        let done: Vec<_> = report
            .actions
            .iter()
            .filter(|a| a.outcome.is_done())
            .collect();
        if !done.is_empty() {
            let _ = writeln!(
                out,
                "<details><summary>Done ({})</summary>\n\n| outcome | action | target |\n|---|---|---|",
                done.len()
            );
            for a in done {
                let view = describe(&a.op);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} |",
                    super::outcome_label(&a.outcome),
                    view.verb,
                    target(&view)
                );
            }
            let _ = writeln!(out, "\n</details>\n");
        }
    }
    cap_markdown(out, MARKDOWN_LIMIT)
}
