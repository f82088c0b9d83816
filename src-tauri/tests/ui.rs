//! The window's pure JavaScript modules (`ui/format.js`, `ui/hotkeys.js`) run
//! under Node's built-in test runner, so `cargo test` covers them with the rest.
//! The page itself is checked through WebDriver in the system tests; this is for
//! rules worth testing case by case (how old a health figure may be, moments kept
//! once, how a hotkey binding is written: `tests/ui/hotkey_cases.json`, the table
//! the backend's rule is held to as well). Needs `node` 18 or newer.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_window_helpers_pass_their_node_tests() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("ui");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.test.mjs in {}", dir.display());
    let output = Command::new("node").arg("--test").args(&files).output().unwrap_or_else(|e| {
        panic!("cannot run node ({e}); the window's JavaScript tests need Node.js 18+ (apt-get install nodejs)")
    });
    assert!(
        output.status.success(),
        "node --test failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
