use std::process::ExitCode;

fn main() -> ExitCode {
    retainctl::commands::main()
}
