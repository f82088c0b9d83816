//! The `onair` command line: one job per subcommand, then exit.
//!
//! It is the way to bind hotkeys where global shortcuts cannot be grabbed
//! (Wayland: bind `onair stream toggle` in the desktop's keyboard settings), a
//! tool for scripts, and the probe the system tests use. Exit codes are part of
//! the contract and listed in `--help`.
//!
//! With several OBS in the settings, `status` and `watch` look at every one,
//! each on its own session so that one slow or lost OBS never holds back
//! another's answer; every other command acts on one (`--obs NAME`, or the
//! first).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use futures_util::stream::{FuturesOrdered, StreamExt};

use crate::connect::{command as connect, Cause};
use crate::control::{Awaited, Control, ControlError};
use crate::obs::{Session, SessionConfig};
use crate::settings::{self, Connection, Given, Password, Target};
use crate::settings::{PasswordStore, StoreError};
use crate::state::{now_ms, ConnectionState, Moment, Noticed, State};
use crate::text;

/// Exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const REFUSED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const UNREACHABLE: u8 = 3;
    pub const AUTH: u8 = 4;
    pub const INCOMPATIBLE: u8 = 5;
    pub const TIMED_OUT: u8 = 6;
    pub const NO_KEYRING: u8 = 7;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  OBS refused or could not do it (already live, not recording, no such scene, start failed, ...)
  2  bad usage or invalid settings
  3  OBS is not reachable (not running, or its WebSocket server is off)
  4  OBS wants a password, or rejected the one given
  5  OBS is incompatible (obs-websocket 5.x needed) or ended the session
  6  OBS did not answer in time
  7  no keyring to store the password in

With no command, OnAir starts in the tray.
Connection: --host/--port, or --obs NAME (one of the settings' connections), else the settings
file's first connection ([[connections]], or [obs] host/port), else localhost:4455.
Several OBS: with more than one connection in the settings, `status` prints a line for each
(NAME: STATUS; --json: {\"connection\": NAME, \"state\": ...} a line), all asked at once, and exits 0
when every one is connected, else with the code of the first one that is not, in the settings'
order; `watch` follows every one (each --json line carries \"connection\": NAME). The other
commands act on the first connection, or the one --obs names.
Password: --password-stdin (first line of stdin), then the ONAIR_PASSWORD environment variable
(either one for every connection followed), then the OS keyring, per host and port
(see `onair password set`).";

#[derive(Debug, Parser)]
#[command(name = "onair", version, about = "Keeps an eye on OBS Studio: live, offline or reconnecting, at a glance.", after_help = EXIT_CODES)]
pub struct Cli {
    /// OBS's host (default: settings file, then localhost).
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// OBS's WebSocket port (default: settings file, then 4455).
    #[arg(long, global = true, allow_negative_numbers = true)]
    pub port: Option<i64>,
    /// Which of the settings' OBS connections to use, by its name (default: the first;
    /// status and watch: every one). Not with --host/--port.
    #[arg(long = "obs", global = true, value_name = "NAME")]
    pub obs: Option<String>,
    /// The settings file to read instead of the platform's default.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Read OBS's WebSocket password from the first line of stdin.
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// Watch this input as a mic (repeatable); replaces the settings' `[audio] mics` for this run.
    #[arg(long = "mic", global = true, value_name = "INPUT")]
    pub mics: Vec<String>,
    /// How long to wait for OBS, in seconds.
    #[arg(long, global = true, default_value_t = 5.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// Open OnAir's window at start (tray app only).
    #[arg(long)]
    pub show: bool,
    /// Run against a built-in simulated OBS that plays a scripted show (tray app only).
    #[arg(long)]
    pub demo: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print OBS's state in one line and exit (a line for each OBS of the settings).
    Status {
        /// Print the whole state as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Follow OBS: print moments (went live, reconnecting, ...) and state changes until interrupted
    /// (every OBS of the settings, each line naming its connection when there are several).
    Watch {
        /// One JSON object a line; moments carry a "moment" field, state lines do not; each
        /// carries "connection": the connection's name.
        #[arg(long)]
        json: bool,
    },
    /// Start, stop or toggle the stream.
    Stream { action: StartStop },
    /// Start, stop, toggle, pause or resume recording.
    Record { action: RecordAction },
    /// Save the replay buffer, or start/stop/toggle it.
    Replay { action: ReplayAction },
    /// Start, stop or toggle the virtual camera.
    Vcam { action: StartStop },
    /// Switch OBS's program scene.
    Scene {
        /// The scene's name, as OBS shows it.
        name: String,
    },
    /// Mute, unmute or toggle a mic (default: the first watched mic).
    Mute {
        action: OnOffToggle,
        /// The input, as OBS names it.
        input: Option<String>,
    },
    /// Every audio input in OBS with its mute; the watched mics (OBS's mic slots,
    /// and `[audio] mics` or `--mic`) are marked.
    Audio {
        /// Print them as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Store OBS's password in the OS keyring (read from stdin), or clear it.
    Password { action: PasswordAction },
    /// Connect with nothing typed: take OBS's address and password from OBS's own
    /// settings on this machine, or from the URL of its Show Connect Info; save them
    /// (the password in the keyring) and check the connection.
    Connect {
        /// Read OBS's WebSocket settings from its config folder on this machine (host localhost).
        #[arg(long, conflicts_with = "url")]
        from_obs: bool,
        /// OBS's config folder, instead of the usual places (with --from-obs).
        #[arg(long, value_name = "DIR", conflicts_with = "url")]
        obs_config: Option<PathBuf>,
        /// obsws://HOST:PORT[/PASSWORD], from OBS's Tools › WebSocket Server Settings › Show Connect Info.
        #[arg(value_name = "URL", required_unless_present = "from_obs")]
        url: Option<String>,
    },
    /// The streams the tray app saw end, newest first (it needs no OBS).
    History {
        /// One JSON object a line, as the tray app recorded it.
        #[arg(long)]
        json: bool,
        /// How many streams to print.
        #[arg(short = 'n', value_name = "N", default_value_t = 20)]
        count: usize,
    },
}

impl Command {
    /// The control this subcommand sends, spelt in the controls' own wire words
    /// (`onair record pause` is `pause-recording`, `onair replay save` is
    /// `save-replay`) and read by the one parser; `None` for the subcommands
    /// that send no control.
    pub fn control(&self) -> Option<Result<Control, ControlError>> {
        let (verb, object) = match self {
            Command::Stream { action } => (value_word(action), "stream"),
            Command::Record { action } => (value_word(action), "recording"),
            Command::Replay { action: ReplayAction::Save } => ("save".to_string(), "replay"),
            Command::Replay { action } => (value_word(action), "replay-buffer"),
            Command::Vcam { action } => (value_word(action), "virtual-camera"),
            Command::Scene { name } => return Some(Control::parse("switch-scene", Some(name))),
            Command::Mute { action, input: Some(input) } => {
                return Some(Control::parse(&mute_word(*action), Some(input)))
            }
            // Without an input, the first watched mic, once OBS is seen.
            Command::Mute { input: None, .. }
            | Command::Audio { .. }
            | Command::Status { .. }
            | Command::Watch { .. }
            | Command::Password { .. }
            | Command::Connect { .. }
            | Command::History { .. } => return None,
        };
        Some(Control::parse(&format!("{verb}-{object}"), None))
    }
}

/// The word clap knows an action by (`start`, `pause`, ...).
fn value_word(action: &impl ValueEnum) -> String {
    action.to_possible_value().map(|value| value.get_name().to_string()).unwrap_or_default()
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PasswordAction {
    /// Read the password from the first line of stdin and store it for this host and port.
    Set,
    /// Remove the stored password for this host and port.
    Clear,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OnOffToggle {
    On,
    Off,
    Toggle,
}

/// The mute control's wire word.
fn mute_word(action: OnOffToggle) -> String {
    match action {
        OnOffToggle::On => "mute-on",
        OnOffToggle::Off => "mute-off",
        OnOffToggle::Toggle => "toggle-mute",
    }
    .to_string()
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StartStop {
    Start,
    Stop,
    Toggle,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RecordAction {
    Start,
    Stop,
    Toggle,
    Pause,
    Resume,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReplayAction {
    Save,
    Start,
    Stop,
    Toggle,
}

/// Parses the arguments; with a command, runs it and exits, else hands over to
/// `tray` (the desktop app). `store` is the OS keyring.
pub fn main_with(store: &dyn PasswordStore, tray: impl FnOnce(Cli) -> ExitCode) -> ExitCode {
    let cli = Cli::parse();
    if cli.command.is_none() {
        return tray(cli);
    }
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("onair: cannot start: {e}");
            return ExitCode::from(exit::REFUSED);
        }
    };
    ExitCode::from(runtime.block_on(run(cli, store)))
}

/// Logs to stderr at the `RUST_LOG` level (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

impl Cli {
    /// The flags the one resolver ([`Given`]) takes, without a password.
    pub fn given_flags(&self) -> Given {
        Given { config: self.config.clone(), host: self.host.clone(), port: self.port, password: None }
    }

    /// Everything this run was given: the flags, and the password from stdin
    /// (read now, when `--password-stdin` asks for it) or `ONAIR_PASSWORD`.
    pub fn given(&self) -> Result<Given, String> {
        let stdin_line = if self.password_stdin { Some(read_stdin_line()?) } else { None };
        let password = Given::password_from(stdin_line, std::env::var("ONAIR_PASSWORD").ok());
        Ok(Given { password, ..self.given_flags() })
    }
}

/// What a command needs of the settings file: the connections, the stream
/// guard's settings and the mics. What is wrong with the file is said, and its
/// defaults used.
fn saved_settings(given: &Given) -> settings::SavedConnection {
    let saved = given.settings_path().map(|path| settings::read_connection(&path)).unwrap_or_default();
    for warning in &saved.warnings {
        eprintln!("onair: settings file: {warning}");
    }
    saved
}

/// The OBS this run connects to, each with where it is: the one `--obs` names
/// among the settings' connections; the one `--host`/`--port` give, each flag
/// over the first connection's value (called `HOST:PORT`); else every
/// connection of the settings, the first first. `--obs` with `--host` or
/// `--port`, an unknown name, or a bad host or port, is an error to show.
fn chosen_connections(
    wanted: Option<&str>,
    given: &Given,
    saved: &[Connection],
) -> Result<Vec<(Connection, Target)>, String> {
    let flags = given.host.is_some() || given.port.is_some();
    let chosen = match (wanted, saved.first()) {
        (Some(_), _) if flags => {
            return Err("--obs picks one of the settings' connections; --host and --port give one themselves: use one or the other".into());
        }
        (Some(wanted), _) => vec![settings::find_connection(saved, wanted)?.clone()],
        (None, first) if flags => {
            let default = Connection::named(None, settings::DEFAULT_HOST, settings::DEFAULT_PORT);
            let first = first.unwrap_or(&default);
            let target = given.target(&first.host, first.port)?;
            vec![Connection::named(None, &target.host, target.port)]
        }
        (None, Some(_)) => saved.to_vec(),
        (None, None) => vec![Connection::named(None, settings::DEFAULT_HOST, settings::DEFAULT_PORT)],
    };
    chosen
        .into_iter()
        .map(|connection| {
            let target = connection.target().map_err(|e| format!("{}: {e}", connection.name))?;
            Ok((connection, target))
        })
        .collect()
}

fn read_stdin_line() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The keyring's password for this OBS, asked at most once and only once OBS
/// has said it wants a password this run was not given: an answer that needs
/// none (OBS without one, nothing listening at the port) never touches the
/// keyring, and costs no D-Bus round trips or warnings.
struct StoredPassword<'a> {
    target: Target,
    store: &'a dyn PasswordStore,
    asked: bool,
}

impl StoredPassword<'_> {
    /// The stored password, when `state` shows OBS wants one and the keyring
    /// has not been asked yet.
    fn wanted(&mut self, state: &State) -> Option<Password> {
        if self.asked || !matches!(state.connection, ConnectionState::AuthFailed { .. }) {
            return None;
        }
        self.asked = true;
        // The keyring blocks on D-Bus; the session's task goes on meanwhile.
        tokio::task::block_in_place(|| self.store.get(&self.target)).unwrap_or_else(|e| {
            eprintln!("onair: cannot read the stored password: {e}");
            None
        })
    }
}

/// The state once the first attempt has an outcome (it left `Connecting`), or
/// as it is when `timeout` passes first.
async fn first_outcome(session: &Session, timeout: Duration) -> State {
    let mut state = session.state();
    let _ = tokio::time::timeout(timeout, state.wait_for(|s| s.connection != ConnectionState::Connecting)).await;
    let current = state.borrow().clone();
    current
}

fn password_command(action: PasswordAction, target: &Target, store: &dyn PasswordStore) -> u8 {
    let result = match action {
        PasswordAction::Set => {
            let password = match read_stdin_line() {
                Ok(p) if !p.is_empty() => Password::new(p),
                Ok(_) => {
                    eprintln!("onair: no password on stdin (e.g. `echo -n SECRET | onair password set`)");
                    return exit::USAGE;
                }
                Err(e) => {
                    eprintln!("onair: {e}");
                    return exit::USAGE;
                }
            };
            store.set(target, &password).map(|()| format!("Stored the password for OBS at {target} in the keyring"))
        }
        PasswordAction::Clear => store.clear(target).map(|cleared| {
            if cleared {
                format!("Cleared the stored password for OBS at {target}")
            } else {
                format!("No password was stored for OBS at {target}")
            }
        }),
    };
    match result {
        Ok(message) => {
            println!("{message}");
            exit::OK
        }
        Err(e @ StoreError::Unavailable(_)) => {
            eprintln!("onair: {e}; nothing was stored. Use ONAIR_PASSWORD or --password-stdin instead.");
            exit::NO_KEYRING
        }
        Err(e) => {
            eprintln!("onair: {e}");
            exit::NO_KEYRING
        }
    }
}

async fn run(cli: Cli, store: &dyn PasswordStore) -> u8 {
    if !cli.timeout.is_finite() || cli.timeout <= 0.0 || cli.timeout > 86_400.0 {
        eprintln!("onair: --timeout must be a number of seconds above 0");
        return exit::USAGE;
    }
    let control = match cli.command.as_ref().and_then(Command::control).transpose() {
        Ok(control) => control,
        Err(error) => {
            eprintln!("onair: {error}");
            return exit::USAGE;
        }
    };
    // The history is a file of the tray app's: no OBS, no settings needed.
    if let Some(Command::History { json, count }) = cli.command {
        return history_command(crate::history::default_path().as_deref(), json, count, &mut std::io::stdout());
    }
    let timeout = Duration::from_secs_f64(cli.timeout);
    // `connect` finds OBS's address itself, and saves it: into the connection
    // `--obs` names, else the first.
    if let Some(Command::Connect { obs_config, url, .. }) = &cli.command {
        if cli.host.is_some() || cli.port.is_some() {
            eprintln!("onair: connect takes OBS's address from OBS's settings or the URL, not from --host/--port");
            return exit::USAGE;
        }
        let settings = cli.given_flags().settings_path();
        // An unknown name is said before anything is looked for or saved.
        let mut connection = None;
        if let Some(wanted) = &cli.obs {
            let saved = settings.as_deref().map(settings::read_connection).unwrap_or_default();
            match settings::find_connection(&saved.connections, wanted) {
                Ok(found) => connection = Some(found.name.clone()),
                Err(message) => {
                    eprintln!("onair: {message}");
                    return exit::USAGE;
                }
            }
        }
        let source = match url {
            Some(url) => connect::Source::Url(url.clone()),
            None => connect::Source::FromObs { config_dir: obs_config.clone() },
        };
        let into = connect::Destination { settings: settings.as_deref(), connection: connection.as_deref() };
        return connect::run(&source, settings::obs_config::config_dirs, into, store, timeout).await;
    }
    let given = cli.given_flags();
    let saved = saved_settings(&given);
    let connections = match chosen_connections(cli.obs.as_deref(), &given, &saved.connections) {
        Ok(connections) => connections,
        Err(message) => {
            eprintln!("onair: {message}");
            return exit::USAGE;
        }
    };
    let several = connections.len() > 1;
    // `password set` reads stdin itself: nothing else may read it first. The
    // keyring keeps a password per host and port.
    if let Some(Command::Password { action }) = cli.command {
        return password_command(action, &connections[0].1, store);
    }
    let password = match cli.given() {
        Ok(given) => given.password,
        Err(message) => {
            eprintln!("onair: {message}");
            return exit::USAGE;
        }
    };
    // `--mic` replaces the settings' list for this run.
    let mics = if cli.mics.is_empty() { saved.mics } else { cli.mics.clone() };
    // The handshake gets most of --timeout, so that a port that accepts but
    // never answers is known as such (and said so) before the command gives up.
    let mut client = crate::obs::ClientOptions::default();
    client.handshake_timeout = client.handshake_timeout.min(timeout.mul_f64(0.8));
    let followed: Vec<Follow> = connections
        .into_iter()
        .map(|(connection, target)| Follow {
            name: connection.name,
            config: SessionConfig {
                alerts: saved.alerts.clone(),
                mics: mics.clone(),
                client: client.clone(),
                ..SessionConfig::new(Ok(target.clone()), password.clone())
            },
            target,
        })
        .collect();
    let watching = matches!(cli.command, Some(Command::Watch { .. }) | None);
    if watching && control.is_none() {
        let json = matches!(cli.command, Some(Command::Watch { json: true }));
        return watch_all(followed, store, timeout, json).await;
    }
    if let (Some(Command::Status { json }), None, true) = (&cli.command, &control, several) {
        return status_all(followed, store, timeout, *json).await;
    }
    // The rest act on one OBS: the one `--obs` named, or the settings' first.
    let Some(first) = followed.into_iter().next() else { return exit::USAGE };
    let asked_at = std::time::Instant::now();
    let opened = Opened::open(first, store, timeout).await;
    // One --timeout for the whole wait: learning whether OBS wants a password counts.
    let timeout = timeout.saturating_sub(asked_at.elapsed());
    let session = &opened.session;
    let code = match (cli.command, control) {
        (_, Some(control)) => act(session, timeout, control).await,
        (Some(Command::Status { json }), None) => status(session, timeout, json).await,
        (Some(Command::Mute { action, input: None }), None) => mute_first_mic(session, timeout, action).await,
        (Some(Command::Audio { json }), None) => audio(session, timeout, json).await,
        // Each of the others has its own way above.
        (_, None) => exit::USAGE,
    };
    opened.close().await;
    code
}

/// One OBS this run follows: its name, where it is, and its session's settings.
struct Follow {
    name: String,
    target: Target,
    config: SessionConfig,
}

/// One OBS's session, its moments subscribed from the start, and the keyring's
/// password for it, asked when OBS wants one.
struct Opened<'a> {
    name: String,
    session: Session,
    moments: tokio::sync::broadcast::Receiver<Noticed>,
    task: tokio::task::JoinHandle<()>,
    stored: StoredPassword<'a>,
}

impl<'a> Opened<'a> {
    /// Starts the session. Without a password given, the first attempt shows
    /// whether OBS wants one; if so, it starts over with the stored one, so that
    /// neither a command nor a watch sees the refusal that asked for it.
    async fn open(follow: Follow, store: &'a dyn PasswordStore, timeout: Duration) -> Opened<'a> {
        let Follow { name, target, config } = follow;
        let mut stored = StoredPassword { target, store, asked: config.password.is_some() };
        let (mut session, mut moments, mut task) = Session::spawn_subscribed(config.clone());
        if !stored.asked {
            if let Some(password) = stored.wanted(&first_outcome(&session, timeout).await) {
                session.shutdown().await;
                let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
                (session, moments, task) =
                    Session::spawn_subscribed(SessionConfig { password: Some(password), ..config });
            }
        }
        Opened { name, session, moments, task, stored }
    }

    async fn close(self) {
        self.session.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
    }
}

/// `onair history`: the newest `count` streams of the history file at `path`,
/// one a line, to `out`.
fn history_command(path: Option<&std::path::Path>, json: bool, count: usize, out: &mut impl Write) -> u8 {
    let Some(path) = path else {
        eprintln!("onair: this system has no state directory, so no streams are recorded");
        return exit::REFUSED;
    };
    let history = match crate::history::read_newest(path, count) {
        Ok(history) => history,
        Err(e) => {
            eprintln!("onair: cannot read {}: {e}", path.display());
            return exit::REFUSED;
        }
    };
    if history.unreadable > 0 {
        eprintln!("onair: skipped {} unreadable lines of {}", history.unreadable, path.display());
    }
    let lines: Vec<String> = if history.streams.is_empty() {
        vec!["no streams recorded yet".to_string()]
    } else if json {
        history.streams.iter().map(|record| serde_json::to_string(record).unwrap_or_default()).collect()
    } else {
        history.streams.iter().map(history_line).collect()
    };
    for line in lines {
        // A closed pipe (`onair history | head -1`) is no error.
        if writeln!(out, "{line}").is_err() {
            break;
        }
    }
    exit::OK
}

/// `2026-12-02 00:41 UTC  1:02:03 live · 2.3 GB · 0.2 % dropped · no reconnects`.
fn history_line(record: &crate::history::StreamRecord) -> String {
    let at = record.started_at_ms.unwrap_or(record.ended_at_ms);
    let away = if record.while_away { " (ended while OnAir could not see OBS)" } else { "" };
    format!("{}  {}{away}", text::utc_minute(at), record.summary().line_in_list())
}

/// The exit code and message for a session that did not get connected.
fn not_connected(state: &State) -> (u8, String) {
    let line = text::connection_line(state);
    let code = match &state.connection {
        ConnectionState::AuthFailed { .. } => exit::AUTH,
        ConnectionState::Incompatible { .. } | ConnectionState::SessionInvalidated { .. } => exit::INCOMPATIBLE,
        ConnectionState::InvalidSettings { .. } => exit::USAGE,
        // A known cause is in the line already, with what to do.
        ConnectionState::WaitingForObs { reason } if reason.cause == Cause::Other => {
            return (exit::UNREACHABLE, format!("{line}: {reason}"));
        }
        ConnectionState::WaitingForObs { .. } => return (exit::UNREACHABLE, line),
        // Nothing answered the first attempt within the time given.
        ConnectionState::Connecting => {
            let why = Cause::NoAnswer.explain_at(&state.target).unwrap_or_else(|| "no answer in time".into());
            return (exit::UNREACHABLE, format!("Waiting for OBS at {}: {why}", state.target));
        }
        ConnectionState::Syncing | ConnectionState::Connected { .. } => exit::TIMED_OUT,
        ConnectionState::Stopped => exit::REFUSED,
    };
    (code, line)
}

async fn connected(session: &Session, timeout: Duration) -> Result<State, u8> {
    wait_connected(session, timeout).await.map_err(|state| {
        let (code, message) = not_connected(&state);
        eprintln!("onair: {message}");
        code
    })
}

/// [`Session::wait_connected`], except that a port that refused the
/// connection is an answer at once: the session goes on retrying it, as the
/// tray app wants, but a command has nothing to wait for there.
async fn wait_connected(session: &Session, timeout: Duration) -> Result<State, State> {
    let mut state = session.state();
    let answered = |s: &State| {
        s.obs.is_some()
            || s.connection.needs_user()
            || s.connection == ConnectionState::Stopped
            // What this machine's own network stack answers at once is not waited out.
            || matches!(&s.connection, ConnectionState::WaitingForObs { reason }
                if matches!(reason.cause, Cause::Refused | Cause::Unreachable | Cause::Unresolved))
    };
    let _ = tokio::time::timeout(timeout, state.wait_for(answered)).await;
    let current = state.borrow().clone();
    if current.obs.is_some() {
        Ok(current)
    } else {
        Err(current)
    }
}

async fn status(session: &Session, timeout: Duration, json: bool) -> u8 {
    let result = wait_connected(session, timeout).await;
    let state = match &result {
        Ok(state) | Err(state) => state,
    };
    if json {
        println!("{}", serde_json::to_string(state).unwrap_or_default());
    } else {
        println!("{}", text::status_line(state, now_ms()));
    }
    match result {
        Ok(_) => exit::OK,
        Err(state) => {
            let (code, message) = not_connected(&state);
            eprintln!("onair: {message}");
            code
        }
    }
}

/// `onair status` with several OBS: every one asked at once under the one
/// timeout, a line for each in the settings' order, each printed as soon as it
/// and the ones before it have answered. The exit code is the first failing
/// connection's, in that order; 0 when every one is connected.
async fn status_all(followed: Vec<Follow>, store: &dyn PasswordStore, timeout: Duration, json: bool) -> u8 {
    let mut asked: FuturesOrdered<_> = followed
        .into_iter()
        .map(|follow| async move {
            let asked_at = std::time::Instant::now();
            let opened = Opened::open(follow, store, timeout).await;
            let result = wait_connected(&opened.session, timeout.saturating_sub(asked_at.elapsed())).await;
            (opened, result)
        })
        .collect();
    let mut code = exit::OK;
    let mut answered = Vec::new();
    while let Some((opened, result)) = asked.next().await {
        let state = match &result {
            Ok(state) | Err(state) => state,
        };
        let line = if json {
            serde_json::json!({ "connection": opened.name, "state": state }).to_string()
        } else {
            format!("{}: {}", opened.name, text::status_line(state, now_ms()))
        };
        // A closed pipe (`onair status | head -1`) is no error; the exit code still tells.
        let _ = writeln!(std::io::stdout(), "{line}");
        if let Err(state) = &result {
            let (failed, message) = not_connected(state);
            eprintln!("onair: {}: {message}", opened.name);
            if code == exit::OK {
                code = failed;
            }
        }
        answered.push(opened);
    }
    futures_util::future::join_all(answered.into_iter().map(Opened::close)).await;
    code
}

/// `onair watch`: follows every OBS given, each on its own (one slow or
/// failing OBS never holds back another's lines), until interrupted or the
/// output is closed. Every JSON line names its connection; plain lines do
/// when there are several.
async fn watch_all(followed: Vec<Follow>, store: &dyn PasswordStore, timeout: Duration, json: bool) -> u8 {
    let named = followed.len() > 1;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let watches = futures_util::future::join_all(followed.into_iter().map(|follow| {
        let (stop, stopped) = (&stop, stopped.clone());
        async move {
            let opened = tokio::select! {
                opened = Opened::open(follow, store, timeout) => opened,
                _ = until_stopped(stopped.clone()) => return,
            };
            watch(opened, Lines { json, named }, stop, stopped).await;
        }
    }));
    tokio::pin!(watches);
    tokio::select! {
        _ = &mut watches => {}
        _ = shutdown_signal() => {
            let _ = stop.send(true);
            watches.await;
        }
    }
    exit::OK
}

async fn until_stopped(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// How `onair watch` writes its lines.
#[derive(Debug, Clone, Copy)]
struct Lines {
    json: bool,
    /// Plain lines name their connection (there are several).
    named: bool,
}

/// Follows one OBS until `stopped`; a closed output stops every watch
/// (`stop`). A password OBS asks for later (it was not running at the start)
/// comes from the keyring then.
async fn watch(
    mut opened: Opened<'_>,
    lines: Lines,
    stop: &tokio::sync::watch::Sender<bool>,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut state = opened.session.state();
    state.mark_changed();
    let mut last_headline = String::new();
    let end = until_stopped(stopped);
    tokio::pin!(end);
    loop {
        let line = tokio::select! {
            biased;
            _ = &mut end => break,
            changed = state.changed() => {
                if changed.is_err() {
                    break;
                }
                let current = state.borrow_and_update().clone();
                if let Some(password) = opened.stored.wanted(&current) {
                    opened.session.reconfigure(Ok(opened.stored.target.clone()), Some(password)).await;
                }
                if lines.json {
                    let line = serde_json::json!({ "at_ms": now_ms(), "connection": opened.name, "state": current });
                    Some(line.to_string())
                } else {
                    let headline = headline(&current);
                    if headline == last_headline {
                        None
                    } else {
                        last_headline = headline;
                        Some(format!("{}  {}", timestamp(), named(lines, &opened.name, &text::status_line(&current, now_ms()))))
                    }
                }
            }
            moment = opened.moments.recv() => match moment {
                Ok(noticed) => Some(moment_line(&noticed, &opened.name, lines)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("onair: {}: missed {n} moments (output too slow)", opened.name);
                    None
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        };
        if let Some(line) = line {
            // A closed pipe (`onair watch | head`) ends the watch quietly.
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "{line}").and_then(|_| stdout.flush()).is_err() {
                let _ = stop.send(true);
                break;
            }
        }
    }
    opened.close().await;
}

/// `NAME: text` when lines name their connection, else the text.
fn named(lines: Lines, name: &str, text: &str) -> String {
    if lines.named {
        format!("{name}: {text}")
    } else {
        text.to_string()
    }
}

fn moment_line(noticed: &Noticed, connection: &str, lines: Lines) -> String {
    if lines.json {
        let mut line = serde_json::to_value(noticed).unwrap_or_default();
        if let Some(fields) = line.as_object_mut() {
            fields.insert("connection".into(), connection.into());
        }
        return line.to_string();
    }
    let (title, body) = text::moment_text(&noticed.moment);
    let said = if body.is_empty() { title } else { format!("{title}: {body}") };
    format!("{}  {}", timestamp(), named(lines, connection, &said))
}

/// The parts of the state a person watching wants a new line for; clocks and
/// health figures tick too often.
fn headline(state: &State) -> String {
    let connection = serde_json::to_string(&state.connection).unwrap_or_default();
    let Some(obs) = &state.obs else { return connection };
    format!(
        "{connection}|{}|{}|{:?}|{:?}|{:?}",
        serde_json::to_string(&obs.stream).unwrap_or_default(),
        serde_json::to_string(&obs.recording).unwrap_or_default(),
        obs.replay_buffer,
        obs.virtual_camera,
        obs.program_scene
    )
}

fn timestamp() -> String {
    let secs = now_ms() / 1000;
    // UTC: the CLI has no time zone database; scripts wanting local time use --json.
    format!("{:02}:{:02}:{:02}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs a control, then waits for OBS to get there so the exit code tells the
/// truth: OBS answers before the output moves, and a stream OBS accepted to
/// start can still fail to connect.
async fn act(session: &Session, timeout: Duration, control: Control) -> u8 {
    if let Err(code) = connected(session, timeout).await {
        return code;
    }
    let mut state = session.state();
    let before = state.borrow().obs.clone();
    // Subscribed before the control is sent, so a quick failure is not missed.
    let mut moments = session.subscribe();
    let outcome = match session.control(control.clone()).await {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("onair: {error}");
            return control_exit_code(&error);
        }
    };
    let mut failure = None;
    if let Some(awaited) = control.awaited(before.as_ref(), outcome.active) {
        let settle = Duration::from_secs(15).max(timeout);
        let waited = tokio::time::timeout(settle, async {
            loop {
                if state.borrow_and_update().obs.as_ref().is_some_and(|o| awaited.reached(o)) {
                    return;
                }
                tokio::select! {
                    changed = state.changed() => if changed.is_err() { return },
                    moment = moments.recv() => match moment {
                        Ok(Noticed { moment: Moment::StartFailed { message }, .. }) if awaited == Awaited::Stream { on: true } => {
                            failure = Some(message);
                            return;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                        _ => {}
                    },
                }
            }
        })
        .await;
        let current = state.borrow().clone();
        let Some(obs) = &current.obs else {
            eprintln!("onair: lost OBS before it confirmed: {}", text::connection_line(&current));
            return exit::UNREACHABLE;
        };
        if let Some(message) = failure {
            eprintln!("onair: {message}");
            return exit::REFUSED;
        }
        if waited.is_err() && !awaited.reached(obs) {
            eprintln!("onair: {} within {} s", awaited.not_reached(), settle.as_secs());
            return exit::REFUSED;
        }
    }
    if control == Control::StopRecording {
        println!("Recording stopped{}", outcome.path.map(|p| format!(": {p}")).unwrap_or_default());
        return exit::OK;
    }
    if let Control::Mute { input, muted } = &control {
        let now_muted = muted.or(outcome.active).unwrap_or(true);
        println!("{input} {}", if now_muted { "muted" } else { "unmuted" });
        return exit::OK;
    }
    println!("{}", text::status_line(&state.borrow(), now_ms()));
    exit::OK
}

/// `onair mute on|off|toggle` with no input: the first watched mic.
async fn mute_first_mic(session: &Session, timeout: Duration, action: OnOffToggle) -> u8 {
    let state = match connected(session, timeout).await {
        Ok(state) => state,
        Err(code) => return code,
    };
    let Some(mic) = state.obs.as_ref().and_then(|o| o.mics.first()) else {
        eprintln!("onair: no mic is watched: name one (onair mute on \"Mic/Aux\"), or list them in [audio] mics");
        return exit::USAGE;
    };
    match Control::parse(&mute_word(action), Some(&mic.name)) {
        Ok(control) => act(session, timeout, control).await,
        Err(error) => {
            eprintln!("onair: {error}");
            exit::USAGE
        }
    }
}

/// `onair audio`: every audio input and its mute, one a line (name, `muted` or
/// `live`, and `watched` for a watched mic, tab-separated), or as JSON.
async fn audio(session: &Session, timeout: Duration, json: bool) -> u8 {
    if let Err(code) = connected(session, timeout).await {
        return code;
    }
    let inputs = match tokio::time::timeout(timeout, session.audio_inputs()).await {
        Ok(Ok(inputs)) => inputs,
        Ok(Err(error)) => {
            eprintln!("onair: {error}");
            return control_exit_code(&error);
        }
        Err(_) => {
            eprintln!("onair: OBS did not list its inputs within {} s", timeout.as_secs());
            return exit::TIMED_OUT;
        }
    };
    if json {
        println!("{}", serde_json::to_string(&inputs).unwrap_or_default());
    } else if inputs.is_empty() {
        println!("OBS has no audio input");
    } else {
        for input in &inputs {
            let muted = if input.muted { "muted" } else { "live" };
            println!("{}\t{muted}{}", input.name, if input.watched { "\twatched" } else { "" });
        }
    }
    exit::OK
}

fn control_exit_code(error: &ControlError) -> u8 {
    match error {
        ControlError::NotConnected(_) => exit::UNREACHABLE,
        ControlError::TimedOut(_) => exit::TIMED_OUT,
        ControlError::InvalidInput(_) => exit::USAGE,
        _ => exit::REFUSED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control_of(args: &[&str]) -> Option<Result<Control, ControlError>> {
        let cli = Cli::try_parse_from(std::iter::once("onair").chain(args.iter().copied())).expect("valid arguments");
        cli.command.as_ref().and_then(Command::control)
    }

    #[test]
    fn mute_names_its_input_or_waits_to_take_the_first_watched_mic() {
        let mic = Control::Mute { input: "Mic/Aux".into(), muted: Some(true) };
        assert_eq!(control_of(&["mute", "on", "Mic/Aux"]), Some(Ok(mic)));
        let toggle = Control::Mute { input: "Podcast Mic".into(), muted: None };
        assert_eq!(control_of(&["mute", "toggle", "Podcast Mic"]), Some(Ok(toggle)));
        assert_eq!(control_of(&["mute", "off"]), None, "resolved once OBS's mics are known");
        assert_eq!(control_of(&["audio"]), None);
    }

    #[test]
    fn every_subcommand_sends_the_control_it_names() {
        let expected = [
            (&["stream", "start"][..], Control::StartStream),
            (&["stream", "stop"], Control::StopStream),
            (&["stream", "toggle"], Control::ToggleStream),
            (&["record", "start"], Control::StartRecording),
            (&["record", "stop"], Control::StopRecording),
            (&["record", "toggle"], Control::ToggleRecording),
            (&["record", "pause"], Control::PauseRecording),
            (&["record", "resume"], Control::ResumeRecording),
            (&["replay", "save"], Control::SaveReplay),
            (&["replay", "start"], Control::StartReplayBuffer),
            (&["replay", "stop"], Control::StopReplayBuffer),
            (&["replay", "toggle"], Control::ToggleReplayBuffer),
            (&["vcam", "start"], Control::StartVirtualCamera),
            (&["vcam", "stop"], Control::StopVirtualCamera),
            (&["vcam", "toggle"], Control::ToggleVirtualCamera),
            (&["scene", "Just Chatting"], Control::SwitchScene("Just Chatting".into())),
        ];
        for (args, control) in expected {
            assert_eq!(control_of(args), Some(Ok(control)), "{args:?}");
        }
        for args in [
            &["status"][..],
            &["watch", "--json"],
            &["password", "clear"],
            &["history", "-n", "3"],
            &["connect", "--from-obs"],
            &[],
        ] {
            assert_eq!(control_of(args), None, "{args:?}");
        }
    }

    fn history_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("onair-cli-history-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn recorded(ended_at_ms: u64, reconnects: u32) -> crate::history::StreamRecord {
        crate::history::StreamRecord {
            started_at_ms: Some(ended_at_ms - 3_723_000),
            ended_at_ms,
            target: "localhost:4455".into(),
            duration_ms: Some(3_723_000),
            bytes: Some(2_300_000_000),
            dropped_frames: Some(2),
            total_frames: Some(1_000),
            reconnects,
            down_ms: 35_000,
            alerts: Vec::new(),
            avg_kbps: None,
            peak_kbps: None,
            while_away: false,
        }
    }

    fn history_output(path: Option<&std::path::Path>, json: bool, count: usize) -> (u8, String) {
        let mut out = Vec::new();
        let code = history_command(path, json, count, &mut out);
        (code, String::from_utf8(out).unwrap())
    }

    #[test]
    fn history_prints_the_newest_streams_first_one_a_line() {
        let dir = history_dir("lines");
        let path = dir.join("sessions.jsonl");
        assert_eq!(history_output(Some(&path), false, 20), (exit::OK, "no streams recorded yet\n".into()));
        // 2024-03-01 00:00 UTC and an hour later, each started 1:02:03 before.
        for (at, reconnects) in [(1_709_254_923_000, 0), (1_709_258_523_000, 2)] {
            crate::history::append(&path, &recorded(at, reconnects), 10).unwrap();
        }
        let (code, plain) = history_output(Some(&path), false, 20);
        assert_eq!(code, exit::OK);
        assert_eq!(
            plain,
            "2024-03-01 01:00 UTC  1:02:03 live · 2.3 GB · 0.2 % dropped · 2 reconnects (35 s)\n\
             2024-03-01 00:00 UTC  1:02:03 live · 2.3 GB · 0.2 % dropped · no reconnects\n"
        );
        let (code, json) = history_output(Some(&path), true, 1);
        assert_eq!(code, exit::OK);
        let lines: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 1, "-n 1: {json}");
        assert_eq!(
            (lines[0]["ended_at_ms"].as_u64(), lines[0]["reconnects"].as_u64()),
            (Some(1_709_258_523_000), Some(2))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn history_that_cannot_be_read_exits_as_a_refusal() {
        let dir = history_dir("unreadable");
        std::fs::create_dir_all(&dir).unwrap();
        // A directory where the file should be.
        assert_eq!(history_output(Some(&dir), false, 20), (exit::REFUSED, String::new()));
        assert_eq!(history_output(None, true, 20), (exit::REFUSED, String::new()));
        let _ = std::fs::remove_dir_all(&dir);
        let parsed = Cli::try_parse_from(["onair", "history", "--json", "-n", "3"]).unwrap();
        assert!(matches!(parsed.command, Some(Command::History { json: true, count: 3 })));
        assert!(Cli::try_parse_from(["onair", "history", "-n", "-1"]).is_err(), "a count is a whole number");
    }

    #[test]
    fn connect_takes_obss_settings_or_a_url_but_not_both() {
        let parsed = |args: &[&str]| Cli::try_parse_from(std::iter::once("onair").chain(args.iter().copied()));
        let Ok(Cli { command: Some(Command::Connect { from_obs: true, obs_config, url: None }), .. }) =
            parsed(&["connect", "--from-obs", "--obs-config", "/x/obs-studio"])
        else {
            panic!("--from-obs with a folder")
        };
        assert_eq!(obs_config, Some(PathBuf::from("/x/obs-studio")));
        let Ok(Cli { command: Some(Command::Connect { from_obs: false, url: Some(url), .. }), .. }) =
            parsed(&["connect", "obsws://studio.lan:4455/secret"])
        else {
            panic!("a URL")
        };
        assert_eq!(url, "obsws://studio.lan:4455/secret");
        assert!(parsed(&["connect"]).is_err(), "one of them is needed");
        assert!(parsed(&["connect", "--from-obs", "obsws://h:1"]).is_err(), "not both");
        assert!(parsed(&["connect", "--obs-config", "/x", "obsws://h:1"]).is_err(), "a folder only with --from-obs");
    }

    #[test]
    fn obs_picks_a_connection_by_name_and_host_or_port_give_their_own() {
        let list = [
            Connection::named(Some("Stream PC"), "192.168.1.20", 4455),
            Connection::named(Some("Game PC"), "localhost", 4456),
        ];
        let names = |chosen: Vec<(Connection, Target)>| -> Vec<String> {
            chosen.into_iter().map(|(connection, target)| format!("{} {target}", connection.name)).collect()
        };
        let none = Given::default();
        let every = chosen_connections(None, &none, &list).unwrap();
        assert_eq!(names(every), ["Stream PC 192.168.1.20:4455", "Game PC localhost:4456"]);
        let picked = chosen_connections(Some(" game pc"), &none, &list).unwrap();
        assert_eq!(names(picked), ["Game PC localhost:4456"]);
        let unknown = chosen_connections(Some("Studio"), &none, &list).unwrap_err();
        assert!(unknown.contains("\"Studio\"") && unknown.contains("\"Stream PC\", \"Game PC\""), "{unknown}");
        // Each flag over the first connection's value, called by its address.
        let port = Given { port: Some(4460), ..Given::default() };
        assert_eq!(names(chosen_connections(None, &port, &list).unwrap()), ["192.168.1.20:4460 192.168.1.20:4460"]);
        let host = Given { host: Some("studio".into()), ..Given::default() };
        assert_eq!(names(chosen_connections(None, &host, &[]).unwrap()), ["studio:4455 studio:4455"]);
        assert!(chosen_connections(Some("Game PC"), &port, &list).unwrap_err().contains("--obs"));
        let bad = Given { port: Some(0), ..Given::default() };
        assert!(chosen_connections(None, &bad, &list).unwrap_err().contains("out of range"));
        assert_eq!(names(chosen_connections(None, &none, &[]).unwrap()), ["localhost:4455 localhost:4455"]);
        let parsed = Cli::try_parse_from(["onair", "stream", "start", "--obs", "Game PC"]).unwrap();
        assert_eq!(parsed.obs.as_deref(), Some("Game PC"), "--obs goes anywhere on the line");
    }

    #[test]
    fn a_watch_line_names_its_connection() {
        let noticed = Noticed { at_ms: 5, moment: Moment::Live { since_ms: 1 } };
        let json: serde_json::Value =
            serde_json::from_str(&moment_line(&noticed, "Game PC", Lines { json: true, named: false })).unwrap();
        assert_eq!((json["moment"].as_str(), json["connection"].as_str()), (Some("live"), Some("Game PC")));
        let plain = moment_line(&noticed, "Game PC", Lines { json: false, named: true });
        assert!(plain.ends_with("  Game PC: You're live: OBS is streaming."), "{plain}");
        let alone = moment_line(&noticed, "Game PC", Lines { json: false, named: false });
        assert!(alone.ends_with("  You're live: OBS is streaming.") && !alone.contains("Game PC"), "{alone}");
    }

    #[test]
    fn a_scene_name_the_window_would_refuse_is_refused_here_too() {
        assert!(matches!(control_of(&["scene", " "]), Some(Err(ControlError::InvalidInput(_)))));
        let long = "x".repeat(crate::control::MAX_SCENE_NAME + 1);
        assert!(matches!(control_of(&["scene", &long]), Some(Err(ControlError::InvalidInput(_)))));
    }
}
