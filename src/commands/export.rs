//! `retainctl export`: the decisions and outcomes as Parquet, partitioned by day
//! (`OUT/decisions/day=2026-12-06/part-00000.parquet`, the same under `outcomes/`), for a
//! warehouse or engine (BigQuery, Athena, Spark, DuckDB) to take over when one machine is
//! not enough. Files are read a line at a time and written a row group of 100,000 rows at
//! a time; `OUT` is written beside itself and put in place when complete.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::Type;

use super::Output;
use crate::cli::ExportArgs;
use crate::outcomes::{Decision, Outcome};

const ROW_GROUP: usize = 100_000;
/// Day tables open at once.
const OPEN_TABLES: usize = 32;

const DECISION_SCHEMA: &str = "message decision {
  REQUIRED INT64 t;
  REQUIRED BINARY app (STRING);
  REQUIRED BINARY environment (STRING);
  REQUIRED BINARY product (STRING);
  REQUIRED BINARY locale (STRING);
  OPTIONAL INT32 rule;
  OPTIONAL INT32 split;
  REQUIRED BINARY answer (STRING);
  OPTIONAL BINARY message (STRING);
  REQUIRED BINARY customer (STRING);
}";

const OUTCOME_SCHEMA: &str = "message outcome {
  REQUIRED INT64 t;
  REQUIRED BINARY app (STRING);
  REQUIRED BINARY environment (STRING);
  REQUIRED BINARY customer (STRING);
  REQUIRED BINARY event (STRING);
  OPTIONAL BINARY product (STRING);
  OPTIONAL BINARY offer (STRING);
  REQUIRED BINARY notification (STRING);
}";

/// One column's values: numbers or texts, each possibly missing.
enum Column {
    Int64(Vec<i64>),
    Int32(Vec<Option<i32>>),
    Text(Vec<Option<String>>),
}

/// A table being written: its columns' buffered values and the file.
struct Table {
    writer: SerializedFileWriter<File>,
    columns: Vec<Column>,
    rows: usize,
}

impl Table {
    fn create(path: &Path, schema: &Arc<Type>) -> anyhow::Result<Table> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let file =
            File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
        let writer = SerializedFileWriter::new(file, schema.clone(), Arc::new(props))?;
        let columns = schema
            .get_fields()
            .iter()
            .map(|f| match f.get_physical_type() {
                parquet::basic::Type::INT64 => Column::Int64(vec![]),
                parquet::basic::Type::INT32 => Column::Int32(vec![]),
                _ => Column::Text(vec![]),
            })
            .collect();
        Ok(Table {
            writer,
            columns,
            rows: 0,
        })
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        for column in &mut self.columns {
            let mut writer = group.next_column()?.expect("a column per field");
            match column {
                Column::Int64(values) => {
                    writer
                        .typed::<Int64Type>()
                        .write_batch(values, None, None)?;
                    values.clear();
                }
                Column::Int32(values) => {
                    let levels: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
                    let present: Vec<i32> = values.iter().flatten().copied().collect();
                    writer
                        .typed::<Int32Type>()
                        .write_batch(&present, Some(&levels), None)?;
                    values.clear();
                }
                Column::Text(values) => {
                    let levels: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
                    let present: Vec<ByteArray> = values
                        .iter()
                        .flatten()
                        .map(|s| ByteArray::from(s.as_str()))
                        .collect();
                    writer
                        .typed::<ByteArrayType>()
                        .write_batch(&present, Some(&levels), None)?;
                    values.clear();
                }
            }
            writer.close()?;
        }
        group.close()?;
        self.rows = 0;
        Ok(())
    }

    fn push(&mut self, row: Vec<Value>) -> anyhow::Result<()> {
        for (column, value) in self.columns.iter_mut().zip(row) {
            match (column, value) {
                (Column::Int64(v), Value::Int(n)) => v.push(n),
                (Column::Int32(v), Value::Small(n)) => v.push(n),
                (Column::Text(v), Value::Text(s)) => v.push(s),
                _ => anyhow::bail!("a value of the wrong type for its column"),
            }
        }
        self.rows += 1;
        if self.rows >= ROW_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn close(mut self) -> anyhow::Result<()> {
        self.flush()?;
        self.writer.close()?;
        Ok(())
    }
}

enum Value {
    Int(i64),
    Small(Option<i32>),
    Text(Option<String>),
}

fn text(s: &str) -> Value {
    Value::Text(Some(s.to_string()))
}

fn decision_row(d: Decision) -> Vec<Value> {
    vec![
        Value::Int(d.at_ms),
        text(&d.app),
        text(&d.environment),
        text(&d.product),
        text(&d.locale),
        Value::Small(d.rule.map(|r| r as i32)),
        Value::Small(d.split.map(|s| s as i32)),
        text(d.answer.as_str()),
        Value::Text(d.message.map(|m| m.to_string())),
        Value::Text(Some(d.customer)),
    ]
}

fn outcome_row(o: Outcome) -> Vec<Value> {
    let event = serde_json::to_value(o.event)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string));
    vec![
        Value::Int(o.at_ms),
        Value::Text(Some(o.app)),
        Value::Text(Some(o.environment)),
        Value::Text(Some(o.customer)),
        Value::Text(event),
        Value::Text(o.product),
        Value::Text(o.offer),
        Value::Text(Some(o.notification)),
    ]
}

/// The UTC day of a time in ms, `YYYY-MM-DD`.
/// The UTC day of a time in ms, `YYYY-MM-DD`, for times from 1970 to the year 9999.
fn day(at_ms: i64) -> Option<String> {
    const LAST_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    if !(0..=LAST_MS).contains(&at_ms) {
        return None;
    }
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(at_ms as u64);
    Some(humantime::format_rfc3339(at).to_string()[..10].to_string())
}

pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if args.out.exists() {
        anyhow::bail!(
            "{} exists: give export a new folder (it is written whole)",
            args.out.display()
        );
    }
    let parent = match args.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let work = tempfile::Builder::new()
        .prefix(".export.tmp-")
        .tempdir_in(&parent)
        .with_context(|| format!("cannot write beside {}", args.out.display()))?;
    let decisions = export(
        &super::report::decision_files(&args.decisions)?,
        &work.path().join("decisions"),
        DECISION_SCHEMA,
        |line| {
            serde_json::from_str::<Decision>(line)
                .ok()
                .map(|d| (d.at_ms, decision_row(d)))
        },
    )?;
    let outcomes = export(
        &super::report::outcome_files(&args.outcomes)?,
        &work.path().join("outcomes"),
        OUTCOME_SCHEMA,
        |line| {
            serde_json::from_str::<Outcome>(line)
                .ok()
                .map(|o| (o.at_ms, outcome_row(o)))
        },
    )?;
    std::fs::rename(work.keep(), &args.out)
        .with_context(|| format!("cannot put the export at {}", args.out.display()))?;
    Output::stdout().line(&format!(
        "exported {} decisions and {} outcomes to {} (Parquet, by day)",
        decisions.0,
        outcomes.0,
        args.out.display()
    ));
    if decisions.1 + outcomes.1 > 0 {
        eprintln!(
            "warning: {} lines were not records and were left out (named above)",
            decisions.1 + outcomes.1
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes every record of `files` to `out/day=…/part-NNNNN.parquet`; returns (rows,
/// lines skipped).
fn export(
    files: &[PathBuf],
    out: &Path,
    schema: &str,
    parse: impl Fn(&str) -> Option<(i64, Vec<Value>)>,
) -> anyhow::Result<(usize, usize)> {
    let schema = Arc::new(parse_message_type(schema)?);
    // Open tables by day, with when each was last written to; past OPEN_TABLES the least
    // recently written is closed (a later row of its day starts its next part file), so
    // that neither memory nor open files grow with the number of days.
    let mut tables: BTreeMap<String, (Table, u64)> = BTreeMap::new();
    let mut parts: BTreeMap<String, u32> = BTreeMap::new();
    let mut tick = 0u64;
    let (mut rows, mut skipped) = (0, 0);
    for file in files {
        let mut failed = None;
        skipped += super::report::read_file(file, |line| {
            let (at, row) = parse(line).ok_or("not a record")?;
            let day = day(at).ok_or("a time outside 1970–9999")?;
            if failed.is_some() {
                return Ok(());
            }
            tick += 1;
            let written = (|| -> anyhow::Result<()> {
                if !tables.contains_key(&day) {
                    if tables.len() >= OPEN_TABLES {
                        let oldest = tables
                            .iter()
                            .min_by_key(|(_, (_, used))| *used)
                            .map(|(d, _)| d.clone())
                            .expect("tables are open");
                        let (table, _) = tables.remove(&oldest).expect("just found");
                        table.close()?;
                    }
                    let part = parts.entry(day.clone()).or_insert(0);
                    let path = out
                        .join(format!("day={day}"))
                        .join(format!("part-{:05}.parquet", *part));
                    *part += 1;
                    tables.insert(day.clone(), (Table::create(&path, &schema)?, tick));
                }
                let (table, used) = tables.get_mut(&day).expect("opened above");
                *used = tick;
                table.push(row)
            })();
            match written {
                Ok(()) => rows += 1,
                Err(e) => failed = Some(e),
            }
            Ok(())
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    for (_, (table, _)) in tables {
        table.close()?;
    }
    Ok((rows, skipped))
}
