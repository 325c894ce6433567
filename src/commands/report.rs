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
use crate::outcomes::records::read_records;
use crate::outcomes::{DecisionRef, Decisions, Outcomes};
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
    let (decisions, outcomes, skipped) = read(&args.decisions, &args.outcomes)?;
    let report = crate::outcomes::report_of(
        decisions,
        outcomes,
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
        SystemTime::now()
            .checked_sub(ago)
            .unwrap_or(SystemTime::UNIX_EPOCH)
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

/// The files in `dir` whose name `wanted` accepts, in name order.
fn files(dir: &Path, wanted: impl Fn(&str) -> bool) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder {}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(&wanted))
        .collect();
    files.sort();
    Ok(files)
}

/// The decisions files `serve --decisions` wrote in `dir`, current and rotated.
pub fn decision_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    files(dir, |n| n.starts_with("decisions") && n.ends_with(".jsonl"))
}

/// The outcomes files in `dir` (pulled and received live).
pub fn outcome_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    files(dir, |n| n.ends_with(".jsonl"))
}

/// Reads the records of `file` with `take` (see [`read_records`]); every line that is not
/// one is named on stderr. Returns how many were skipped.
pub fn read_file(
    file: &Path,
    take: impl FnMut(&str) -> Result<(), &'static str>,
) -> anyhow::Result<usize> {
    let reader = std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    let mut skipped = 0;
    read_records(reader, take, |number, why| {
        skipped += 1;
        eprintln!("{}:{number}: skipped: {why}", file.display());
    })
    .with_context(|| format!("cannot read {}", file.display()))?;
    Ok(skipped)
}

/// An outcome line, borrowed from the text it was read from.
#[derive(serde::Deserialize)]
struct OutcomeRef<'a> {
    #[serde(rename = "t")]
    at_ms: i64,
    #[serde(borrow)]
    customer: std::borrow::Cow<'a, str>,
    event: crate::outcomes::Event,
    #[serde(borrow)]
    notification: std::borrow::Cow<'a, str>,
}

/// Reads every decisions and outcomes file, a file per core at a time, a line at a time
/// (no file is held whole); lines that are not records are named on stderr and counted.
fn read(decisions: &Path, outcomes: &Path) -> anyhow::Result<(Decisions, Outcomes, usize)> {
    use rayon::prelude::*;
    let decision_files = decision_files(decisions)?;
    let outcome_files = outcome_files(outcomes)?;
    let decided: Vec<anyhow::Result<(Decisions, usize)>> = decision_files
        .par_iter()
        .map(|file| {
            let mut d = Decisions::default();
            let bad = read_file(file, |line| {
                let r = serde_json::from_str::<DecisionRef>(line).map_err(|_| "not a record")?;
                d.push(&r);
                Ok(())
            })?;
            Ok((d, bad))
        })
        .collect();
    let mut decisions = Decisions::default();
    let mut skipped = 0;
    for part in decided {
        let (d, bad) = part?;
        decisions.merge(d);
        skipped += bad;
    }
    let mut outcomes = Outcomes::default();
    for file in &outcome_files {
        skipped += read_file(file, |line| {
            let o = serde_json::from_str::<OutcomeRef>(line).map_err(|_| "not a record")?;
            outcomes.push(o.at_ms, &o.customer, o.event, &o.notification);
            Ok(())
        })?;
    }
    Ok((decisions, outcomes, skipped))
}
