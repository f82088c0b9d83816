//! `onair`: every command without the GUI stack; with none, the tray app.

fn main() -> std::process::ExitCode {
    onair_headless::cli::main_with(&onair_cli::secrets::KeyringStore, onair_cli::tray::hand_over)
}
