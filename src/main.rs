//! The `awslab` binary: parse, run, render the error once, map it to an exit code.
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    awslab::cli::complete_from_env();
    let cli = awslab::cli::Cli::parse();
    let tty = std::io::stderr().is_terminal();
    // Known before the rest is checked, so a usage error is JSON too with `--format json`.
    let format = cli.format();
    let (settings, command) = match cli.resolve(tty) {
        Ok(x) => x,
        Err(e) => {
            return awslab::commands::fail(Some(&awslab::ui::Printer::plain_as(format)), &e);
        }
    };
    let printer = awslab::ui::Printer::new(&settings, tty);
    awslab::commands::init_tracing(settings.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return awslab::commands::fail(
                Some(&printer),
                &awslab::Error::usage(format!("cannot start the runtime: {e}"), None),
            );
        }
    };
    match runtime.block_on(awslab::commands::run(&settings, command, &printer)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => awslab::commands::fail(Some(&printer), &e),
    }
}
