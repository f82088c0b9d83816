//! The man page (packaging/onair.1, shipped in the .deb and .rpm) is written by
//! hand, so it can drift from the command line. This checks it against clap's own
//! description of `onair`: every command has an entry (`.TP` heading
//! `onair NAME ...`) naming each of its flags, its positional arguments and the
//! words its actions take, and every option of `onair --help` has one too.

use std::path::PathBuf;

use clap::CommandFactory;
use onair_headless::cli::Cli;

fn man_page() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../packaging/onair.1");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The man page's source as a reader sees the words: font changes gone,
/// escaped hyphens plain.
fn plain(roff: &str) -> String {
    let mut text = roff.replace("\\-", "-");
    for font in ["\\fB", "\\fI", "\\fR", "\\fP"] {
        text = text.replace(font, "");
    }
    text
}

/// The first line after each `.TP`, as a reader sees it: the headings of the
/// options, commands and exit codes. Macros that only set fonts (`.B`, `.BR`,
/// `.BI`, ...) are dropped along with the quotes they group words with.
fn headings(roff: &str) -> Vec<String> {
    let lines: Vec<&str> = roff.lines().collect();
    lines
        .windows(2)
        .filter(|pair| pair[0].trim() == ".TP")
        .map(|pair| {
            let line = pair[1];
            let words = match line.split_once(' ') {
                Some((mac, rest)) if mac.starts_with('.') => font_macro_words(mac, rest),
                _ => line.to_string(),
            };
            plain(&words)
        })
        .collect()
}

/// What `.BR "onair status " [ \-\-json ]` prints: the arguments joined,
/// quotes removed (alternating-font macros put no space between arguments).
fn font_macro_words(mac: &str, rest: &str) -> String {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in rest.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !current.is_empty() {
                    args.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(c),
        }
    }
    if !current.is_empty() {
        args.push(current);
    }
    let joiner = if matches!(mac, ".B" | ".I") { " " } else { "" };
    args.join(joiner)
}

/// What an entry must name for one command: its flags, and for each positional
/// argument either the words it takes (`start|stop|toggle`) or its value name.
fn required_words(command: &clap::Command) -> Vec<String> {
    let mut words = Vec::new();
    for arg in command.get_arguments() {
        if arg.is_global_set() || arg.get_id() == "help" {
            continue;
        }
        if let Some(long) = arg.get_long() {
            words.push(format!("--{long}"));
        } else if let Some(short) = arg.get_short() {
            words.push(format!("-{short}"));
        } else {
            let values: Vec<String> =
                arg.get_possible_values().iter().map(|value| value.get_name().to_string()).collect();
            if values.is_empty() {
                let name = arg.get_value_names().and_then(|names| names.first().cloned());
                words.push(name.map(|n| n.to_string()).unwrap_or_else(|| arg.get_id().to_string().to_uppercase()));
            } else {
                words.push(values.join("|"));
            }
        }
    }
    words
}

#[test]
fn every_command_has_an_entry_naming_its_flags_arguments_and_actions() {
    let roff = man_page();
    let headings = headings(&roff);
    let cli = Cli::command();
    let mut missing = Vec::new();
    let mut commands = 0;
    for command in cli.get_subcommands() {
        commands += 1;
        let prefix = format!("onair {}", command.get_name());
        let Some(heading) = headings.iter().find(|h| *h == &prefix || h.starts_with(&format!("{prefix} "))) else {
            missing.push(format!("no entry for `{prefix}`"));
            continue;
        };
        for word in required_words(command) {
            if !heading.contains(&word) {
                missing.push(format!("`{prefix}`'s entry ({heading:?}) does not name {word}"));
            }
        }
    }
    // Clap adds `help` itself; the man page lists it too.
    if !headings.iter().any(|h| h.starts_with("onair help")) {
        missing.push("no entry for `onair help`".into());
    }
    assert!(commands >= 11, "the CLI lists only {commands} commands; is this the right Cli?");
    assert!(missing.is_empty(), "packaging/onair.1 is behind `onair --help`:\n{}", missing.join("\n"));
}

#[test]
fn every_option_of_onair_help_has_an_entry() {
    let roff = man_page();
    let headings = headings(&roff);
    let mut cli = Cli::command();
    // Building adds the options clap makes itself (--help, --version).
    cli.build();
    let mut missing = Vec::new();
    for arg in cli.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        let flag = format!("--{long}");
        // An option heading starts with its flag (`--host HOST`, `-h, --help`).
        let found = headings.iter().any(|h| h.split([' ', ',']).any(|word| word == flag));
        if !found {
            missing.push(flag);
        }
    }
    assert!(missing.is_empty(), "packaging/onair.1 has no entry for: {}", missing.join(", "));
}

#[test]
fn the_headings_read_as_the_page_prints_them() {
    // The reader above is what the checks stand on: it must see a font macro's
    // heading as man prints it, or a missing flag could hide in a quoted string.
    let roff = ".TP\n.BR \"onair status \" [ \\-\\-json ]\ntext\n.TP\n.B onair stream start\\fR|\\fBstop\n";
    assert_eq!(headings(roff), ["onair status [--json]", "onair stream start|stop"]);
}

#[test]
fn the_exit_codes_of_help_are_all_listed() {
    let text = plain(&man_page());
    let exit_section = text.split(".SH EXIT STATUS").nth(1).and_then(|rest| rest.split(".SH ").next()).unwrap_or("");
    let codes: Vec<String> = headings(exit_section).into_iter().collect();
    let mut help = Vec::new();
    let _ = Cli::command().write_long_help(&mut help);
    let help = String::from_utf8_lossy(&help);
    // `onair --help` lists them as "  N  what it means" under "Exit codes:".
    let listed: Vec<String> = help
        .split("Exit codes:")
        .nth(1)
        .unwrap_or("")
        .lines()
        .filter_map(|line| line.trim().split_once("  ").map(|(code, _)| code.to_string()))
        .filter(|code| code.parse::<u8>().is_ok())
        .collect();
    assert!(!listed.is_empty(), "onair --help lists no exit codes:\n{help}");
    assert_eq!(codes, listed, "the man page's EXIT STATUS against onair --help");
}
