use std::process::ExitCode;

fn main() -> ExitCode {
    retainctl::cli::main()
}
