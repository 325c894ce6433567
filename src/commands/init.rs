//! `retainctl init [DIR]`: a repository ready for the plan/apply workflow — a manifest
//! for one app (`retention/app.yaml`, checked before it is written), the schema for
//! editors without network, the two GitHub workflows, and `.retainctl/` in `.gitignore`.
//! Existing files are left alone unless `--force`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::InitArgs;
use crate::manifest::schema::SCHEMA_URL;

const PLAN_WORKFLOW: &str = include_str!("../../examples/workflows/retention-plan.yml");
const APPLY_WORKFLOW: &str = include_str!("../../examples/workflows/retention-apply.yml");
const IGNORED: &str = ".retainctl/";

/// A YAML scalar for any text: a JSON string is a valid double-quoted YAML scalar.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// A workflow without the blocks that serve only this repository's `examples/accounts`
/// (between `# >>> examples/accounts` and `# <<< examples/accounts`).
fn workflow(text: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("# >>> examples/accounts") {
            skipping = true;
        } else if trimmed.starts_with("# <<< examples/accounts") {
            skipping = false;
        } else if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn manifest(args: &InitArgs) -> String {
    let list = |items: &[String]| {
        items
            .iter()
            .map(|i| quoted(i))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!(
        "# yaml-language-server: $schema={SCHEMA_URL}\n\
         # Made by `retainctl init`. Write your copy, then: retainctl validate retention/\n\
         apiVersion: retainctl/v1\n\
         app:\n  bundleId: {}\n  locales: [{}]\n  products: [{}]\n\
         messages:\n  stay:\n    localizations:\n",
        quoted(&args.bundle_id),
        list(&args.locales),
        list(&args.products),
    );
    for locale in &args.locales {
        text.push_str(&format!(
            "      {}:\n        header: Stay with us\n        body: Keep your subscription and everything you set up stays as it is.\n",
            quoted(locale)
        ));
    }
    text.push_str("defaults:\n");
    for product in &args.products {
        text.push_str(&format!("  {}: stay\n", quoted(product)));
    }
    text
}

/// Refuses a manifest that would not validate, naming what is wrong, before any file is
/// written.
fn check(text: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("app.yaml");
    std::fs::write(&file, text)?;
    let loaded = crate::loader::load(&[file]);
    if loaded.report.has_errors() {
        for d in &loaded.report.diagnostics {
            eprintln!("{}", d.render());
        }
        anyhow::bail!(
            "the manifest from these options has errors (above): correct --bundle-id, --locale or --product"
        );
    }
    Ok(())
}

fn write_new(
    path: &Path,
    text: &str,
    force: bool,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    if path.exists() && !force {
        eprintln!("kept {} (exists; --force overwrites it)", path.display());
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    written.push(path.to_path_buf());
    Ok(())
}

fn ignore_local_state(dir: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let path = dir.join(".gitignore");
    let current = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
    };
    let present = current
        .lines()
        .map(str::trim)
        .any(|l| l == IGNORED || l == "/.retainctl" || l == ".retainctl" || l == "/.retainctl/");
    if present {
        return Ok(());
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# retainctl's local simulator state (--env local)\n");
    text.push_str(IGNORED);
    text.push('\n');
    std::fs::write(&path, text)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    written.push(path);
    Ok(())
}

pub fn run(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let manifest = manifest(args);
    check(&manifest)?;
    let dir = &args.dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let mut written = vec![];
    let files = [
        (dir.join("retention/app.yaml"), manifest),
        (
            dir.join("retention/retainctl.schema.json"),
            crate::manifest::schema::json_schema(),
        ),
        (
            dir.join(".github/workflows/retention-plan.yml"),
            workflow(PLAN_WORKFLOW),
        ),
        (
            dir.join(".github/workflows/retention-apply.yml"),
            workflow(APPLY_WORKFLOW),
        ),
    ];
    for (path, text) in &files {
        write_new(path, text, args.force, &mut written)?;
    }
    ignore_local_state(dir, &mut written)?;
    let mut out = super::Output::stdout();
    for path in &written {
        out.line(&format!("wrote {}", path.display()));
    }
    out.line(&format!(
        "next: retainctl validate {0}  ·  retainctl plan --env local {0}",
        dir.join("retention").display()
    ));
    Ok(ExitCode::SUCCESS)
}
