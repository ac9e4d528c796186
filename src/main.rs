use std::process::ExitCode;

use clap::Parser as _;
use tikwire::cli::{self, Cli, Command};

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`tikwire router list | head`), like other Unix tools.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let log_to_stderr = matches!(cli.command, Some(Command::Agent(_) | Command::Serve(_)));
    match runtime.block_on(cli::run(cli, log_to_stderr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The agent and the API server log to stderr already; everyone else keeps a record in the log file.
            if !log_to_stderr {
                tracing::error!("{err}");
            }
            // Errors quote what they refused, which may hold anything: one line, no escapes.
            eprintln!(
                "error: {}",
                tikwire::format::escape_control(&err.to_string())
            );
            ExitCode::from(err.exit_code())
        }
    }
}
