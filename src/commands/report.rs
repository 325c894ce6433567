//! `retainctl report`: reads the decisions `serve --decisions` wrote and the outcomes
//! `notifications pull` kept, joins them ([`crate::outcomes::report`]) and prints the
//! report. Lines that are not records are skipped and named on stderr with their file and
//! line, and counted; nothing is silently dropped.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context;

use super::Output;
use crate::cli::{ReportArgs, ReportFormat};
use crate::outcomes::records::{BadLine, read_lines};
use crate::outcomes::{Decision, Outcome};
use crate::render;

/// The history Apple keeps of notifications (production; sandbox keeps 30 days).
pub const HISTORY: Duration = Duration::from_secs(180 * 86_400);

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    if args.window > HISTORY {
        anyhow::bail!(
            "--window {} is longer than the 180 days of notifications Apple keeps: outcomes past them can never be counted; give at most 180d",
            humantime::format_duration(args.window)
        );
    }
    let since_ms = args.since.as_deref().map(since).transpose()?;
    let mut skipped = 0;
    let decisions: Vec<Decision> = read_folder(
        &args.decisions,
        |n| n.starts_with("decisions") && n.ends_with(".jsonl"),
        &mut skipped,
    )?;
    let outcomes: Vec<Outcome> =
        read_folder(&args.outcomes, |n| n.ends_with(".jsonl"), &mut skipped)?;
    let report = crate::outcomes::report(
        &decisions,
        &outcomes,
        since_ms,
        args.window.as_millis() as i64,
    );
    let mut out = Output::stdout();
    out.print(&match args.format {
        ReportFormat::Text => render::report::text(&report),
        ReportFormat::Markdown => render::report::markdown(&report),
        ReportFormat::Json => render::report::json(&report),
    });
    if let Some(chart) = &args.chart {
        crate::atomic_file::write(
            chart,
            render::report::svg(&report).as_bytes(),
            crate::atomic_file::Durability::Flushed,
        )
        .map_err(|e| anyhow::anyhow!("cannot write the chart {}: {e}", chart.display()))?;
    }
    if skipped > 0 {
        eprintln!("warning: {skipped} lines were not records and were left out (named above)");
    }
    Ok(ExitCode::SUCCESS)
}

/// `--since`: a date, an RFC 3339 time, or a duration back from now; in ms.
pub fn since(text: &str) -> anyhow::Result<i64> {
    let at = if let Ok(ago) = humantime::parse_duration(text) {
        SystemTime::now() - ago
    } else if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        t
    } else if let Ok(t) = humantime::parse_rfc3339_weak(&format!("{text} 00:00:00")) {
        t
    } else {
        anyhow::bail!(
            "--since {text}: give a date (2026-12-01), a time (2026-12-01T12:00:00Z) or a duration back from now (30d)"
        );
    };
    Ok(at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64))
}

/// Every record of the files in `dir` whose name `wanted` accepts, in name order.
fn read_folder<T: serde::de::DeserializeOwned>(
    dir: &Path,
    wanted: impl Fn(&str) -> bool,
    skipped: &mut usize,
) -> anyhow::Result<Vec<T>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder {}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(&wanted))
        .collect();
    files.sort();
    let mut records = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let (mut found, bad): (Vec<T>, Vec<BadLine>) = read_lines(&text);
        for b in &bad {
            eprintln!("{}:{}: skipped: {}", file.display(), b.line, b.why);
        }
        *skipped += bad.len();
        records.append(&mut found);
    }
    Ok(records)
}
