//! `retainctl completions SHELL`: the shell completion script, generated from the CLI's
//! own definition (clap_complete), so it never lists a flag that does not exist.

use std::process::ExitCode;

use clap::CommandFactory;

use super::Output;
use crate::cli::Cli;

pub fn run(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "retainctl", &mut script);
    Output::stdout().print(&String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}
