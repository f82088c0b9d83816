//! The `onair` binary. Until the tray app lands, running it with no subcommand
//! watches OBS in the terminal; every subcommand does one job and exits.

fn main() -> std::process::ExitCode {
    onair_engine::cli::main()
}
