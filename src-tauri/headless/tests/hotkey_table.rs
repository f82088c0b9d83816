//! The hotkey rule is one rule in two languages: the backend's
//! `normalize_hotkey` and the window's `normalizeBinding` (ui/hotkeys.js) are
//! both checked against one table of cases, `src-tauri/tests/ui/hotkey_cases.json`,
//! so the form never accepts a binding the backend refuses, or writes it differently.

use std::path::PathBuf;

use onair_headless::desktop::normalize_hotkey;
use serde_json::Value;

#[test]
fn the_backend_keeps_the_shared_hotkey_table() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/ui/hotkey_cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let table: Value = serde_json::from_str(&text).expect("the table is JSON");
    let cases = table["cases"].as_array().expect("a cases array");
    assert!(cases.len() >= 20, "the table has its cases");
    let mut failures = Vec::new();
    for case in cases {
        let accelerator = case["accelerator"].as_str().expect("each case has an accelerator");
        let got = normalize_hotkey(accelerator);
        match (case["binding"].as_str(), case["error"].as_str(), &got) {
            (Some(want), None, Ok(binding)) if binding == want => {}
            (None, Some(words), Err(message)) if message.contains(words) => {}
            _ => failures.push(format!("{accelerator:?}: the table says {case}, the backend says {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
