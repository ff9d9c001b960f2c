//! The `firewatch` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    firewatch::app::cli::main().await
}
