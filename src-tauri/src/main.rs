//! `onair-tray`: the tray app, which the lean `onair` command execs when given
//! no command (and which runs a command itself too, as `onair` does).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    onair_app::main()
}
