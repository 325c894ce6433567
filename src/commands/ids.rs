//! `retainctl ids`: the content-derived identifier of every image and message, offline.

use std::path::PathBuf;
use std::process::ExitCode;

use super::Output;
use crate::loader;

pub fn run(paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let loaded = loader::load(paths);
    if loaded.report.has_errors() {
        for d in &loaded.report.diagnostics {
            eprintln!("{}", d.render());
        }
        anyhow::bail!("the manifests have errors: fix them (see `retainctl validate`)");
    }
    let mut out = Output::stdout();
    let mut text = String::new();
    for app in &loaded.apps {
        let bundle = &app.desired.bundle_id;
        for image in &app.desired.images {
            text.push_str(&format!(
                "{bundle}\timage\t{}\t{}\t{}\n",
                image.key,
                image.size.as_str(),
                image.id
            ));
        }
        for message in &app.desired.messages {
            text.push_str(&format!(
                "{bundle}\tmessage\t{}\t{}\t{}\n",
                message.key, message.locale, message.id
            ));
        }
    }
    out.print(&text);
    Ok(ExitCode::SUCCESS)
}
