//! The controller: one task that owns the session, the settings, the
//! notification policy and the stop confirmation, and drives the desktop from
//! the session's state and moments. It reaches the desktop only through
//! [`GuiIntegration`], so its tests run the whole loop with a fake desktop.
//!
//! What reaches it comes on three channels: the desktop's inputs (menu clicks,
//! hotkeys, a second launch), the window's requests (each with its own
//! reply), and the answers of the work it handed off. Nothing that can block
//! runs on this task: the keyring (whose unlock prompt can wait for minutes),
//! the settings file and the controls OBS has to carry out are worked on
//! elsewhere, with a time limit, and their results come back as [`Feedback`];
//! the history of ended streams is read and written on blocking threads.
//! So a locked keyring never freezes the tray or delays a moment. A change of
//! the settings or the password is applied to the session in one step, with the
//! password that belongs to the new host and port, and changes run one at a
//! time, in order.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use onair_headless::control::Control;
use onair_headless::desktop::{
    has_running_clock, hotkey_action, menu_control, menu_model, menu_model_several, press, tray_icon, tray_icon_of_all,
    window_controls, Controls, HotkeyAction, HotkeyPress, MenuAction, MenuContext, MenuSection, NotificationAction,
    NotificationButton, NotificationPlan, NotificationPolicy, Press, StopGuard, Urgency,
};
use onair_headless::desktop::{tray_host_plan, TrayHostSeen, NO_TRAY_KIND};
use onair_headless::history::{self, StreamRecord};
use onair_headless::obs::Session;
use onair_headless::settings::{
    KeyringWorker, Loaded, Password, PasswordStore, PendingCall, RunOverride, Settings, SettingsFile, StoreError,
    Target, KEYRING_TIMEOUT,
};
use onair_headless::state::{now_ms, Moment, MomentKind, Noticed, ObsStatus, State};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::changes::{
    carry_out, connections_from_input, settings_from_input, test_connection, Carried, Change, ChangeDone, PasswordStep,
};
use crate::integration::GuiIntegration;
use crate::other_obs::{OtherEvent, OtherObs};
use crate::window::{
    ApiError, BindingView, BoundShortcutView, ConnectionView, ConnectionsInput, ConnectionsView, ControlReply,
    DesktopShortcutsView, HistoryEntry, HotkeysView, KeyringView, MoreConnectionView, NotificationKind, Page, Reply,
    SettingsInput, SettingsView, Snapshot, WindowFeed, WindowPush, WindowRequest,
};

/// What the desktop sends the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesktopInput {
    Menu(MenuAction),
    /// A hotkey of the first OBS.
    Hotkey(HotkeyAction),
    /// A hotkey whose binding names an OBS (`[hotkeys."Game PC"]`).
    HotkeyFor(String, HotkeyAction),
    /// OnAir was launched again; the first instance opens its window.
    SecondLaunch,
    /// A button on one of OnAir's notifications was pressed ("Unmute"), on a
    /// notification about this connection (its index in the settings' list).
    NotificationButton(usize, NotificationButton),
    /// Whether a tray shows OnAir's icon, as the bus said at start (once).
    TrayHost(TrayHostSeen),
    /// The desktop portal bound the shortcuts, or the user changed them there.
    ShortcutsChanged,
}

impl DesktopInput {
    /// A hotkey pressed, for the OBS it names.
    pub fn hotkey(press: HotkeyPress) -> DesktopInput {
        match press.connection {
            None => DesktopInput::Hotkey(press.action),
            Some(name) => DesktopInput::HotkeyFor(name, press.action),
        }
    }
}

/// The answers of work the controller handed off.
#[derive(Debug)]
pub enum Feedback {
    /// OBS refused a control sent from the menu or a hotkey; `obs` names
    /// which when OnAir watches several.
    Refused { what: &'static str, message: String, obs: Option<(usize, String)> },
    /// A settings or password change finished its keyring and file work.
    ChangeDone(Box<ChangeDone>),
    /// The keyring answered a call that was made in the background or given up on.
    KeyringAnswer {
        /// The controller's password epoch when the call was made: an answer for
        /// an older target or password is ignored.
        epoch: u64,
        target: Target,
        late: LateAnswer,
    },
    /// The newest streams of the history file, read at the start.
    RecentStreams(Vec<StreamRecord>),
    /// The keyring answered late about one of the other OBS (its index in the settings' list).
    OtherPassword { index: usize, answer: Result<Option<Password>, StoreError> },
    /// The settings file changed on disk (`onair connect`, an editor), read again.
    SettingsFileChanged(Box<Loaded>),
    /// The other OBS of an edited list, with their passwords, ready to start;
    /// and what the keyring could not do for them.
    OthersReady { generation: u64, starts: Vec<crate::other_obs::OtherStart>, problems: Vec<String> },
    /// A yes to the first-run offer, carried out.
    ObsSettingsUsed(Box<obs_offer::UsedObsSettings>),
}

/// A change waiting for the one before it.
#[derive(Debug)]
pub enum Queued {
    /// From the window, answered when done.
    Window(WindowRequest),
    /// The settings file as another program left it: applied, not written back.
    FileChanged(Box<Loaded>),
}

/// What the keyring said after its caller stopped waiting.
#[derive(Debug)]
pub enum LateAnswer {
    /// What it holds for the target.
    Lookup {
        answer: Result<Option<Password>, StoreError>,
        /// Connect with it if the session has no password yet.
        use_for_session: bool,
    },
    /// A password whose storing timed out was stored after all.
    Stored(Password),
}

/// Everything the controller starts with besides the desktop and the session.
pub struct ControllerParts {
    /// The settings as in the file (never the command line's values).
    pub settings: Settings,
    /// Where the settings are saved; `None` when the system has no config directory.
    pub settings_file: Option<SettingsFile>,
    /// Host and port given for this run only.
    pub run: RunOverride,
    /// For what is not a call (whether the keyring is in use at all).
    pub store: Arc<dyn PasswordStore>,
    /// Every keyring call goes through this, off the controller's task.
    pub keyring: KeyringWorker,
    /// The password the session was started with.
    pub password: Option<Password>,
    /// Whether the keyring holds a password for this run's OBS; `None` while unknown.
    pub password_stored: Option<bool>,
    /// Where ended streams are recorded (`history::default_path()`); `None`
    /// records nothing.
    pub history: Option<PathBuf>,
}

/// What the user should hear about from the start-up, before the loop runs.
#[derive(Debug, Default)]
pub struct StartupNotes {
    /// Problems with the settings file.
    pub warnings: Vec<String>,
    /// Why the keyring cannot be used, if it cannot.
    pub keyring_problem: Option<String>,
    /// Something the keyring did at start.
    pub keyring_warning: Option<String>,
    /// The keyring lookup at start, when it did not answer in time: its answer
    /// is used once it comes.
    pub pending_password: Option<PendingCall<Option<Password>>>,
    /// OBS's own settings, found at a first start, to offer.
    pub obs_offer: Option<crate::first_run::ObsOffer>,
}

/// The channels the controller listens on.
pub struct Inboxes {
    pub desktop: mpsc::Receiver<DesktopInput>,
    pub window: mpsc::Receiver<WindowRequest>,
    pub moments: broadcast::Receiver<Noticed>,
}

/// How long a changed state waits to be drawn, for the moments that come with it.
const REDRAW_AFTER: Duration = Duration::from_millis(5);
/// How much bitrate history the window's sparkline gets.
const HISTORY_MS: u64 = 5 * 60 * 1000;
/// How many moments the window's log keeps.
const MOMENTS_KEPT: usize = 500;
/// How many ended streams the window's "Recent streams" shows.
const RECENT_STREAMS: usize = 5;

/// The slot of the stop confirmation's notices: each replaces the last, and a
/// confirmed stop closes it.
const CONFIRM_SLOT: &str = "confirm-stop";

/// A notification that is not a moment (settings, hotkeys, a refused control).
fn notice(kind: &'static str, summary: &str, body: &str, urgency: Urgency) -> NotificationPlan {
    NotificationPlan {
        kind,
        summary: summary.to_string(),
        body: body.to_string(),
        urgency,
        slot: kind,
        replace: false,
        button: None,
        connection: 0,
    }
}

/// A notice about one of several OBS: headed with its name, in its slots.
fn notice_about(connection: usize, name: &str, plan: NotificationPlan) -> NotificationPlan {
    NotificationPlan { connection, summary: format!("{name}: {}", plan.summary), ..plan }
}

fn confirm_notice(summary: &str, body: &str) -> NotificationPlan {
    NotificationPlan { replace: true, ..notice(CONFIRM_SLOT, summary, body, Urgency::Normal) }
}

const ARMED_TITLE: &str = "Press again to stop streaming";
const ALREADY_STOPPED_TITLE: &str = "The stream has already stopped";

/// Where the session connects and with which password.
#[cfg(test)]
type SessionSettings = (Result<Target, String>, Option<Password>);

pub struct Controller<I: GuiIntegration> {
    desktop: I,
    session: Session,
    /// The settings as in the file (never the command line's values).
    settings: Settings,
    settings_file: Option<SettingsFile>,
    /// Host and port given for this run only.
    run: RunOverride,
    store: Arc<dyn PasswordStore>,
    keyring: KeyringWorker,
    /// How long a keyring call or a settings write may take before the user hears why not.
    io_timeout: Duration,
    /// Where the session points now: the settings with `run` over them.
    target: Result<Target, String>,
    /// The password the session uses now.
    password: Option<Password>,
    /// Whether the keyring holds a password for `target`; `None` while unknown.
    password_stored: Option<bool>,
    /// Counts changes of `target` and `password`, so that a keyring answer
    /// meant for an earlier one is not applied.
    password_epoch: u64,
    /// A change is being carried out; the ones asked for meanwhile wait here, in order.
    changing: bool,
    waiting_changes: VecDeque<Queued>,
    /// A look at whether the settings file changed elsewhere is under way.
    checking_file: Arc<AtomicBool>,
    hotkey_problems: Vec<String>,
    /// The first OBS's moments and bitrate, for the window.
    feed: WindowFeed,
    /// Which OBS the window shows (its index in the settings' connections).
    shown: usize,
    /// The switcher's rows as last pushed.
    shown_connections: Vec<ConnectionView>,
    /// The history file, written off this task.
    history_file: Option<PathBuf>,
    /// Set once a history write failed and was logged; later failures are quieter.
    history_failed: Arc<AtomicBool>,
    /// The newest ended streams, newest first, for the window.
    recent_streams: VecDeque<HistoryEntry>,
    policy: NotificationPolicy,
    guard: StopGuard,
    /// Whether the tray and the window last showed the stop confirmation.
    shown_armed: bool,
    /// The window's buttons as last pushed.
    shown_controls: Option<Controls>,
    /// OBS as last seen while connected to this target, so a hotkey pressed
    /// while OBS is away says what it would have done.
    last_seen: Option<ObsStatus>,
    feedback_tx: mpsc::Sender<Feedback>,
    feedback: Option<mpsc::Receiver<Feedback>>,
    /// The other OBS, the second first (index `i` here is connection `i + 1`).
    others: Vec<OtherObs>,
    other_events_tx: mpsc::Sender<OtherEvent>,
    other_events: Option<mpsc::Receiver<OtherEvent>>,
    /// Counts restarts of the other OBS (an edited list), so that a gone
    /// session's late events are dropped.
    others_generation: u64,
    /// Passwords typed with a list being saved, for its OBS once the file is written.
    typed_passwords: Vec<(Target, Password)>,
    /// The first-run offer of OBS's own settings, while it stands.
    obs_offer: Option<obs_offer::Offered>,
    /// Every (target, password) the session was given, in order, for the tests.
    #[cfg(test)]
    reconfigured: Arc<std::sync::Mutex<Vec<SessionSettings>>>,
}

impl<I: GuiIntegration> Controller<I> {
    pub fn new(desktop: I, session: Session, parts: ControllerParts) -> Controller<I> {
        let ControllerParts { settings, settings_file, run, store, keyring, password, password_stored, history } =
            parts;
        let (feedback_tx, feedback) = mpsc::channel(64);
        let (other_events_tx, other_events) = mpsc::channel(256);
        Controller {
            desktop,
            session,
            target: run.target(&settings.host, settings.port),
            settings,
            settings_file,
            run,
            store,
            keyring,
            io_timeout: KEYRING_TIMEOUT,
            password,
            password_stored,
            password_epoch: 0,
            changing: false,
            waiting_changes: VecDeque::new(),
            checking_file: Arc::default(),
            hotkey_problems: Vec::new(),
            feed: WindowFeed::default(),
            shown: 0,
            shown_connections: Vec::new(),
            history_file: history,
            history_failed: Arc::default(),
            recent_streams: VecDeque::new(),
            policy: NotificationPolicy::new(),
            guard: StopGuard::default(),
            shown_armed: false,
            shown_controls: None,
            last_seen: None,
            feedback_tx,
            feedback: Some(feedback),
            others: Vec::new(),
            other_events_tx,
            other_events: Some(other_events),
            others_generation: 0,
            typed_passwords: Vec::new(),
            obs_offer: None,
            #[cfg(test)]
            reconfigured: Default::default(),
        }
    }

    /// Watches the other OBS too (inside the runtime, before [`Controller::run`]):
    /// their moments and state changes come to the loop, a keyring lookup that
    /// did not answer at start is used when it does, and from now on every
    /// notification names its OBS.
    pub fn add_others(&mut self, others: Vec<(OtherObs, Option<PendingCall<Option<Password>>>)>) {
        for (mut other, pending) in others {
            let index = self.others.len() + 1;
            other.forward(index, self.others_generation, self.other_events_tx.clone());
            if let Some(call) = pending {
                let feedback = self.feedback_tx.clone();
                tokio::spawn(async move {
                    let answer = call.late().await;
                    let _ = feedback.send(Feedback::OtherPassword { index, answer }).await;
                });
            }
            self.others.push(other);
        }
        self.name_first_notifications();
    }

    /// With several OBS, the first's notifications are headed with its name too.
    fn name_first_notifications(&mut self) {
        let name = (!self.others.is_empty()).then(|| self.first_name());
        self.policy.set_name(name);
    }

    /// What the user calls the first OBS.
    fn first_name(&self) -> String {
        match &self.settings.name {
            Some(name) => name.clone(),
            None => match &self.target {
                Ok(target) => target.to_string(),
                Err(_) => self.settings.connections()[0].name.clone(),
            },
        }
    }

    /// Tells the user what the start-up found, registers the hotkeys, sets
    /// start on login, asks the keyring what the start did not learn, and draws
    /// the tray.
    pub fn start(&mut self, notes: StartupNotes) {
        let StartupNotes { warnings, keyring_problem, keyring_warning, pending_password, obs_offer } = notes;
        for warning in &warnings {
            tracing::warn!("{warning}");
            self.show(notice("settings", "OnAir's settings file had a problem", warning, Urgency::Normal));
        }
        if let Some(problem) = keyring_problem {
            self.show(notice(
                "keyring",
                "No keyring available",
                &format!("{problem}. A password is kept for this run only."),
                Urgency::Normal,
            ));
        }
        if let Some(warning) = keyring_warning {
            tracing::warn!("{warning}");
            self.show(notice("keyring", "The keyring did not answer", &warning, Urgency::Normal));
        }
        self.offer_obs_settings(obs_offer);
        self.register_hotkeys();
        self.desktop.set_start_on_login(self.settings.start_on_login);
        self.start_lookups(pending_password);
        self.load_recent_streams();
        self.render();
        self.desktop.watch_tray_host();
    }

    /// Runs until Quit or until every input is gone, then shuts the session down.
    pub async fn run(mut self, mut inboxes: Inboxes) {
        let mut feedback = self.feedback.take().unwrap_or_else(|| mpsc::channel(1).1);
        let mut other_events = self.other_events.take().unwrap_or_else(|| mpsc::channel(1).1);
        let mut state = self.session.state();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A state is drawn a little after it changed, so the moments published
        // right after it are notified first: the tray's redraw takes milliseconds
        // (a round trip to the main thread per menu item), a notification should not.
        // The first OBS's state comes with it; another's change redraws them all.
        let mut redraw: Option<(tokio::time::Instant, Option<State>)> = None;
        loop {
            let redraw_at = redraw.as_ref().map(|(at, _)| *at);
            tokio::select! {
                biased;
                moment = inboxes.moments.recv() => match moment {
                    Ok(noticed) => self.on_moment(noticed),
                    Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!(missed = n, "missed moments"),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                changed = state.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let current = state.borrow_and_update().clone();
                    let at = redraw_at.unwrap_or_else(|| tokio::time::Instant::now() + REDRAW_AFTER);
                    redraw = Some((at, Some(current)));
                }
                Some(event) = other_events.recv() => {
                    if self.on_other_event(event) {
                        let at = redraw_at.unwrap_or_else(|| tokio::time::Instant::now() + REDRAW_AFTER);
                        redraw = Some((at, redraw.and_then(|(_, first)| first)));
                    }
                }
                _ = tokio::time::sleep_until(redraw_at.unwrap_or_else(tokio::time::Instant::now)), if redraw_at.is_some() => {
                    match redraw.take() {
                        Some((_, Some(current))) => self.on_state(current),
                        Some((_, None)) => self.render(),
                        None => {}
                    }
                }
                _ = tick.tick() => self.on_tick(),
                input = inboxes.desktop.recv() => match input {
                    None => break,
                    Some(input) => {
                        if self.on_input(input) {
                            break;
                        }
                    }
                },
                Some(request) = inboxes.window.recv() => self.on_window(request),
                Some(answer) = feedback.recv() => self.on_feedback(answer).await,
            }
        }
        self.session.shutdown().await;
        for other in &self.others {
            other.session.shutdown().await;
        }
        self.desktop.quit();
    }

    fn show(&mut self, plan: NotificationPlan) {
        self.desktop.notify(NotificationAction::Show(plan));
    }

    /// With no tray to hide in, says so and opens the window; it comes once per run.
    fn on_tray_host(&mut self, seen: &TrayHostSeen) {
        let plan = tray_host_plan(seen);
        if !plan.invisible {
            tracing::info!("{}", plan.log);
            return;
        }
        tracing::warn!("{}", plan.log);
        if let Some((summary, body)) = plan.notice {
            self.show(notice(NO_TRAY_KIND, &summary, &body, Urgency::Normal));
        }
        if plan.open_window {
            self.desktop.open_window(Page::Status);
        }
    }

    fn register_hotkeys(&mut self) {
        self.hotkey_problems = self.desktop.register_hotkeys(&self.settings.hotkeys);
        for problem in self.hotkey_problems.clone() {
            tracing::warn!("{problem}");
            self.show(notice("hotkeys", "A hotkey is not available", &problem, Urgency::Normal));
        }
    }

    fn current_state(&self) -> State {
        self.session.state().borrow().clone()
    }

    fn on_state(&mut self, current: State) {
        if let Some(obs) = &current.obs {
            self.last_seen = Some(obs.clone());
        }
        self.render_state(&current);
        self.feed.record_bitrate(&current, HISTORY_MS);
        if self.shown == 0 {
            self.desktop.push(WindowPush::State(current));
        }
    }

    /// Redraws what shows a clock, and the stop confirmation when it runs out.
    fn on_tick(&mut self) {
        self.look_at_settings_file();
        let current = self.current_state();
        let now = now_ms();
        let others_tick =
            self.others.iter().any(|o| has_running_clock(&o.state()) || o.shown_armed != o.guard.is_armed(now));
        if has_running_clock(&current) || self.shown_armed != self.guard.is_armed(now) || others_tick {
            self.render_state(&current);
        }
    }

    /// Looks, off this task, whether the settings file changed elsewhere
    /// (`onair connect` while the app runs); if so it comes back read again.
    fn look_at_settings_file(&self) {
        let Some(file) = self.settings_file.clone() else { return };
        if self.changing || self.checking_file.swap(true, Ordering::AcqRel) {
            return;
        }
        let (checking, feedback) = (Arc::clone(&self.checking_file), self.feedback_tx.clone());
        tokio::spawn(async move {
            let read =
                tokio::task::spawn_blocking(move || file.changed_elsewhere().then(|| SettingsFile::load(&file.path)))
                    .await;
            if let Ok(Some(loaded)) = read {
                let _ = feedback.send(Feedback::SettingsFileChanged(Box::new(loaded))).await;
            }
            checking.store(false, Ordering::Release);
        });
    }

    fn render(&mut self) {
        let current = self.current_state();
        self.render_state(&current);
    }

    /// Draws the tray and pushes the window's buttons when they changed.
    fn render_state(&mut self, state: &State) {
        let now = now_ms();
        self.shown_armed = self.guard.is_armed(now);
        let context = MenuContext { stop_armed: self.shown_armed };
        if self.others.is_empty() {
            let menu = menu_model(state, &context, now);
            self.desktop.show_tray(tray_icon(state), &menu);
        } else {
            for other in &mut self.others {
                other.shown_armed = other.guard.is_armed(now);
            }
            let states: Vec<State> = self.others.iter().map(OtherObs::state).collect();
            let contexts: Vec<MenuContext> = self.others.iter().map(OtherObs::context).collect();
            let first_name = self.first_name();
            let mut sections = vec![MenuSection { name: &first_name, state, context: &context }];
            for ((other, state), context) in self.others.iter().zip(&states).zip(&contexts) {
                sections.push(MenuSection { name: &other.name, state, context });
            }
            let menu = menu_model_several(&sections, now);
            self.desktop.show_tray(tray_icon_of_all(std::iter::once(state).chain(&states)), &menu);
        }
        self.push_window_rows(state);
    }

    /// Pushes the shown OBS's buttons and the switcher's rows when they changed.
    fn push_window_rows(&mut self, first: &State) {
        let now = now_ms();
        let controls = match self.shown {
            0 => window_controls(first, self.shown_armed),
            index => match self.others.get(index - 1) {
                Some(other) => window_controls(&other.state(), other.guard.is_armed(now)),
                None => window_controls(first, self.shown_armed),
            },
        };
        if self.shown_controls.as_ref() != Some(&controls) {
            self.shown_controls = Some(controls.clone());
            self.desktop.push(WindowPush::Controls(controls));
        }
        let rows = self.connection_views(first);
        if rows != self.shown_connections {
            self.shown_connections = rows.clone();
            self.desktop.push(WindowPush::Connections(rows));
        }
    }

    /// Every OBS as the window's switcher lists it.
    fn connection_views(&self, first: &State) -> Vec<ConnectionView> {
        let now = now_ms();
        let view = |index: usize, name: String, state: &State| ConnectionView {
            index,
            name,
            target: state.target.clone(),
            line: match &state.obs {
                Some(obs) => onair_headless::text::stream_line(obs, now),
                None => onair_headless::text::connection_line(state),
            },
            icon: tray_icon(state).name(),
        };
        let mut rows = vec![view(0, self.first_name(), first)];
        for (i, other) in self.others.iter().enumerate() {
            rows.push(view(i + 1, other.name.clone(), &other.state()));
        }
        rows
    }

    fn on_moment(&mut self, noticed: Noticed) {
        let logged = self.feed.log(noticed.clone(), MOMENTS_KEPT);
        if self.shown == 0 {
            self.desktop.push(WindowPush::Moment(logged));
        }
        if self.offer_answers(&noticed) {
            // The first-run offer of OBS's settings is the answer (obs_offer.rs).
        } else if let Some(action) = self.policy.plan(&noticed, &self.settings) {
            self.desktop.notify(action);
        }
        if let Moment::Ended { .. } = noticed.moment {
            let target = self.current_state().target;
            self.record_stream(&noticed, &target);
        }
    }

    /// A moment or a state change of one of the other OBS; true when the tray
    /// should be drawn again.
    fn on_other_event(&mut self, event: OtherEvent) -> bool {
        match event {
            OtherEvent::StateChanged { generation, .. } | OtherEvent::Moment { generation, .. }
                if generation != self.others_generation =>
            {
                false
            }
            OtherEvent::StateChanged { index, .. } => {
                let Some(other) = self.others.get_mut(index - 1) else { return false };
                let state = other.state();
                if let Some(obs) = &state.obs {
                    other.last_seen = Some(obs.clone());
                }
                other.feed.record_bitrate(&state, HISTORY_MS);
                if self.shown == index {
                    self.desktop.push(WindowPush::State(state));
                }
                true
            }
            OtherEvent::Moment { index, noticed, .. } => {
                let Some(other) = self.others.get_mut(index - 1) else { return false };
                let logged = other.feed.log(noticed.clone(), MOMENTS_KEPT);
                let action = other.policy.plan(&noticed, &self.settings);
                let target = other.state().target;
                if self.shown == index {
                    self.desktop.push(WindowPush::Moment(logged));
                }
                if let Some(action) = action {
                    self.desktop.notify(action);
                }
                if let Moment::Ended { .. } = noticed.moment {
                    self.record_stream(&noticed, &target);
                }
                false
            }
        }
    }

    /// Keeps an ended stream for the window and appends it to the history file,
    /// off this task (the file may block). Every `ended` is recorded, also one
    /// that ended while OnAir could not see OBS: it was a stream all the same,
    /// and its `while_away` says its end time and duration are upper bounds.
    fn record_stream(&mut self, noticed: &Noticed, target: &str) {
        let Some(record) = StreamRecord::of(noticed, target) else { return };
        self.keep_recent(vec![record.clone()]);
        let Some(path) = self.history_file.clone() else { return };
        let failed = Arc::clone(&self.history_failed);
        tokio::task::spawn_blocking(move || {
            if let Err(error) = history::append(&path, &record, history::MAX_STREAMS) {
                if failed.swap(true, Ordering::Relaxed) {
                    tracing::debug!(path = %path.display(), %error, "cannot record the stream in the history");
                } else {
                    tracing::warn!(path = %path.display(), %error, "cannot record the stream in the history");
                }
            }
        });
    }

    /// Reads the newest streams of the history file off this task, for the window.
    fn load_recent_streams(&self) {
        let Some(path) = self.history_file.clone() else { return };
        let feedback = self.feedback_tx.clone();
        tokio::spawn(async move {
            let read =
                tokio::task::spawn_blocking(move || history::read_newest(&path, RECENT_STREAMS).map(|h| h.streams));
            match read.await {
                Ok(Ok(streams)) => {
                    let _ = feedback.send(Feedback::RecentStreams(streams)).await;
                }
                Ok(Err(error)) => tracing::warn!(%error, "cannot read the history of streams"),
                Err(error) => tracing::warn!(%error, "reading the history of streams failed"),
            }
        });
    }

    /// Merges streams into the window's recent ones: newest first, each once
    /// (a stream that ended while the file was being read is in both).
    fn keep_recent(&mut self, records: Vec<StreamRecord>) {
        for record in records {
            let known = self
                .recent_streams
                .iter()
                .any(|e| e.record.ended_at_ms == record.ended_at_ms && e.record.target == record.target);
            if !known {
                self.recent_streams.push_back(HistoryEntry::of(record));
            }
        }
        self.recent_streams.make_contiguous().sort_by_key(|e| std::cmp::Reverse(e.record.ended_at_ms));
        self.recent_streams.truncate(RECENT_STREAMS);
    }

    /// Handles one input from the desktop; true means quit.
    fn on_input(&mut self, input: DesktopInput) -> bool {
        let state = self.current_state();
        let action = match input {
            DesktopInput::SecondLaunch => {
                self.desktop.open_window(Page::Status);
                return false;
            }
            DesktopInput::TrayHost(seen) => {
                self.on_tray_host(&seen);
                return false;
            }
            DesktopInput::ShortcutsChanged => {
                let view = self.settings_view();
                self.desktop.push(WindowPush::Settings(view));
                return false;
            }
            DesktopInput::HotkeyFor(name, hotkey) => {
                // The first OBS by its name is the first's hotkey; another's acts on it.
                match self.others.iter().position(|o| o.name.eq_ignore_ascii_case(&name)) {
                    Some(i) => {
                        let other = &self.others[i];
                        let obs = other.state().obs.or_else(|| other.last_seen.clone());
                        if let Some(action) = hotkey_action(hotkey, obs.as_ref()) {
                            self.on_other_action(i + 1, action);
                        }
                        return false;
                    }
                    None if self.first_name().eq_ignore_ascii_case(&name) => {
                        match hotkey_action(hotkey, state.obs.as_ref().or(self.last_seen.as_ref())) {
                            Some(action) => action,
                            None => return false,
                        }
                    }
                    None => {
                        tracing::info!(connection = name.as_str(), "a hotkey for an OBS that is no longer listed");
                        return false;
                    }
                }
            }
            DesktopInput::Menu(MenuAction::ForConnection(0, action)) => *action,
            DesktopInput::Menu(MenuAction::ForConnection(index, action)) => {
                self.on_other_action(index, *action);
                return false;
            }
            DesktopInput::Menu(action) => action,
            DesktopInput::NotificationButton(_, NotificationButton::UseObsSettings) => {
                self.on_use_obs_settings_pressed();
                return false;
            }
            DesktopInput::NotificationButton(index @ 1.., button) => {
                if let Some(control) = button.control() {
                    self.on_other_control(index, control);
                }
                return false;
            }
            // Sent as the tray's items are; a refusal comes back as a notice.
            DesktopInput::NotificationButton(_, button) => {
                let pressed = button.control().map(|control| self.press(control, state.obs.as_ref(), &state));
                if let Some(Press::Send(control)) = pressed {
                    self.send_control(control);
                }
                return false;
            }
            // As OBS is, or was when last seen: a hotkey pressed while OBS is away
            // then says what it would have done ("Could not mute the mic: ...").
            DesktopInput::Hotkey(hotkey) => match hotkey_action(hotkey, state.obs.as_ref().or(self.last_seen.as_ref()))
            {
                Some(action) => action,
                None => return false,
            },
        };
        match action {
            MenuAction::Quit => return true,
            MenuAction::OpenWindow => self.desktop.open_window(Page::Status),
            MenuAction::OpenSettings => self.desktop.open_window(Page::Settings),
            MenuAction::Reconnect => {
                let session = self.session.clone();
                tokio::spawn(async move { session.reconnect_now().await });
            }
            other => {
                // Without OBS it is still sent, as OBS was when last seen: the
                // session's "not connected to OBS: ..." then reaches the user
                // under what the press would have done ("Could not stop
                // streaming"), which matters for a hotkey pressed with no menu
                // in sight.
                let obs = state.obs.clone().or_else(|| self.last_seen.clone());
                let Some(control) = menu_control(&other, obs.as_ref()) else { return false };
                match self.press(control, obs.as_ref(), &state) {
                    Press::Send(control) => self.send_control(control),
                    Press::Armed => self.show(confirm_notice(
                        ARMED_TITLE,
                        "OnAir stops the stream on a second press within 3 seconds.",
                    )),
                    Press::AlreadyStopped => self.show(confirm_notice(
                        ALREADY_STOPPED_TITLE,
                        "Nothing was sent to OBS. Press again to start streaming.",
                    )),
                }
            }
        }
        false
    }

    /// Puts a control through the one stop confirmation, whichever way it came
    /// in, and shows the tray and the window what it came to.
    fn press(&mut self, control: Control, obs: Option<&ObsStatus>, state: &State) -> Press {
        let pressed = press(control, obs, &mut self.guard, self.settings.confirm_stop_stream, now_ms());
        match &pressed {
            Press::Armed | Press::AlreadyStopped => self.render_state(state),
            Press::Send(Control::StopStream) => {
                self.desktop.notify(NotificationAction::Close { connection: 0, slot: CONFIRM_SLOT });
                self.render_state(state);
            }
            Press::Send(_) => {}
        }
        pressed
    }

    /// Runs a control off the loop; a refusal comes back as feedback and
    /// becomes a notification, where the user looks after a hotkey or a click.
    fn send_control(&self, control: Control) {
        let session = self.session.clone();
        let feedback = self.feedback_tx.clone();
        tokio::spawn(async move {
            if let Err(error) = session.control(control.clone()).await {
                tracing::warn!(?control, %error, "control refused");
                let refused = Feedback::Refused { what: control.intent(), message: error.to_string(), obs: None };
                let _ = feedback.send(refused).await;
            }
        });
    }

    /// A click in another OBS's section: its controls, through its own stop
    /// confirmation, sent to its own session.
    fn on_other_action(&mut self, index: usize, action: MenuAction) {
        let Some(other) = self.others.get(index - 1) else { return };
        match action {
            MenuAction::Reconnect => {
                let session = other.session.clone();
                tokio::spawn(async move { session.reconnect_now().await });
            }
            action => {
                let obs = other.state().obs.or_else(|| other.last_seen.clone());
                if let Some(control) = menu_control(&action, obs.as_ref()) {
                    self.on_other_control(index, control);
                }
            }
        }
    }

    /// A control for another OBS, as the first's go: the stop confirmation,
    /// then its session; a refusal comes back as a notice naming it.
    fn on_other_control(&mut self, index: usize, control: Control) {
        let Some((pressed, session, name)) = self.press_other(index, control) else { return };
        match pressed {
            Press::Send(control) => {
                let feedback = self.feedback_tx.clone();
                tokio::spawn(async move {
                    if let Err(error) = session.control(control.clone()).await {
                        tracing::warn!(connection = name.as_str(), ?control, %error, "control refused");
                        let obs = Some((index, name));
                        let refused = Feedback::Refused { what: control.intent(), message: error.to_string(), obs };
                        let _ = feedback.send(refused).await;
                    }
                });
            }
            Press::Armed => self.show(notice_about(
                index,
                &name,
                confirm_notice(ARMED_TITLE, "OnAir stops the stream on a second press within 3 seconds."),
            )),
            Press::AlreadyStopped => self.show(notice_about(
                index,
                &name,
                confirm_notice(ALREADY_STOPPED_TITLE, "Nothing was sent to OBS. Press again to start streaming."),
            )),
        }
    }

    /// Puts a control for another OBS through its stop confirmation, and
    /// shows the tray and the window what it came to; with its session and name.
    fn press_other(&mut self, index: usize, control: Control) -> Option<(Press, Session, String)> {
        let confirm = self.settings.confirm_stop_stream;
        let other = self.others.get_mut(index - 1)?;
        let obs = other.state().obs.or_else(|| other.last_seen.clone());
        let pressed = press(control, obs.as_ref(), &mut other.guard, confirm, now_ms());
        let found = (pressed, other.session.clone(), other.name.clone());
        if matches!(found.0, Press::Send(Control::StopStream)) {
            self.desktop.notify(NotificationAction::Close { connection: index, slot: CONFIRM_SLOT });
        }
        self.render();
        Some(found)
    }

    /// The keyring's late answer for another OBS: used if it still has no password.
    async fn on_other_password(&mut self, index: usize, answer: Result<Option<Password>, StoreError>) {
        let Some(other) = self.others.get_mut(index - 1) else { return };
        match answer {
            Ok(Some(password)) if !other.has_password => {
                tracing::info!(
                    connection = other.name.as_str(),
                    "the keyring answered at last: connecting with the stored password"
                );
                other.has_password = true;
                other.session.reconfigure(other.target.clone(), Some(password)).await;
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(connection = other.name.as_str(), %error, "cannot read the stored password"),
        }
    }

    fn on_window(&mut self, request: WindowRequest) {
        match request {
            WindowRequest::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            WindowRequest::ShowConnection(index, reply) => {
                if index > self.others.len() {
                    let message = format!("there is no OBS connection {index}; there are {}", self.others.len() + 1);
                    let _ = reply.send(Err(ApiError::invalid(None, message)));
                    return;
                }
                self.shown = index;
                self.shown_controls = None;
                let first = self.current_state();
                self.push_window_rows(&first);
                let _ = reply.send(Ok(self.snapshot()));
            }
            WindowRequest::Control(control, reply) => self.on_window_control(control, reply),
            WindowRequest::TestConnection { host, port, password, reply } => {
                let (keyring, limit) = (self.keyring.clone(), self.io_timeout);
                tokio::spawn(async move {
                    let _ = reply.send(test_connection(keyring, limit, host, port, password).await);
                });
            }
            change @ (WindowRequest::SaveSettings(..)
            | WindowRequest::SetPassword(..)
            | WindowRequest::ClearPassword(_)
            | WindowRequest::SaveConnections(..)
            | WindowRequest::UseObsSettings(_)) => {
                self.waiting_changes.push_back(Queued::Window(change));
                self.next_change();
            }
        }
    }

    /// Everything the window shows, of the OBS it shows.
    fn snapshot(&self) -> Snapshot {
        let first = self.current_state();
        let now = now_ms();
        let shown = self.shown.checked_sub(1).and_then(|i| self.others.get(i));
        let (state, controls, feed) = match shown {
            Some(other) => {
                let state = other.state();
                (state.clone(), window_controls(&state, other.guard.is_armed(now)), &other.feed)
            }
            None => (first.clone(), window_controls(&first, self.guard.is_armed(now)), &self.feed),
        };
        Snapshot {
            controls,
            state,
            moments: feed.moments.iter().cloned().collect(),
            bitrate_history: feed.bitrate.iter().copied().collect(),
            history: self.recent_streams.iter().cloned().collect(),
            settings: self.settings_view(),
            connections: self.connection_views(&first),
            shown_connection: if shown.is_some() { self.shown } else { 0 },
            obs_offer: self.obs_offer_view(),
        }
    }

    /// A window button: the same stop confirmation as the tray; the answer (or
    /// OBS's refusal) goes back to the window, which shows it by the buttons.
    fn on_window_control(&mut self, control: Control, reply: Reply<ControlReply>) {
        let state = self.current_state();
        let pressed = match self.shown {
            0 => Some((self.press(control, state.obs.as_ref(), &state), self.session.clone())),
            index => self.press_other(index, control).map(|(pressed, session, _)| (pressed, session)),
        };
        let Some((pressed, session)) = pressed else {
            let _ = reply.send(Err(ApiError::invalid(None, "that OBS connection is gone")));
            return;
        };
        match pressed {
            Press::Armed => {
                let _ = reply.send(Ok(ControlReply::Armed { message: ARMED_TITLE.into() }));
            }
            Press::AlreadyStopped => {
                let message = format!("{ALREADY_STOPPED_TITLE}; nothing was sent to OBS.");
                let _ = reply.send(Ok(ControlReply::AlreadyStopped { message }));
            }
            Press::Send(control) => {
                tokio::spawn(async move {
                    let outcome = session.control(control).await;
                    let _ = reply.send(outcome.map(ControlReply::from).map_err(ApiError::from));
                });
            }
        }
    }

    async fn on_feedback(&mut self, feedback: Feedback) {
        match feedback {
            Feedback::Refused { what, message, obs: None } => {
                self.show(notice("control-failed", &format!("Could not {what}"), &message, Urgency::Normal));
            }
            Feedback::Refused { what, message, obs: Some((index, name)) } => {
                let plan = notice("control-failed", &format!("Could not {what}"), &message, Urgency::Normal);
                self.show(notice_about(index, &name, plan));
            }
            Feedback::OtherPassword { index, answer } => self.on_other_password(index, answer).await,
            Feedback::OthersReady { generation, starts, problems } => {
                self.on_others_ready(generation, starts, problems)
            }
            Feedback::ChangeDone(done) => self.finish_change(*done).await,
            Feedback::KeyringAnswer { epoch, target, late } => self.on_keyring_answer(epoch, target, late).await,
            Feedback::RecentStreams(streams) => self.keep_recent(streams),
            Feedback::SettingsFileChanged(loaded) => {
                self.waiting_changes.push_back(Queued::FileChanged(loaded));
                self.next_change();
            }
            Feedback::ObsSettingsUsed(used) => self.finish_using_obs_settings(*used).await,
        }
    }

    /// Asks the keyring in the background what the start did not learn: a
    /// lookup that timed out (its answer is used when it comes), or whether a
    /// password is stored at all when one was given another way.
    fn start_lookups(&mut self, pending: Option<PendingCall<Option<Password>>>) {
        let Ok(target) = self.target.clone() else { return };
        match pending {
            Some(call) => self.await_late_password(call, target, true),
            None if self.password_stored.is_none() => {
                let call = self.keyring.get(&target);
                self.await_late_password(call, target, false);
            }
            None => {}
        }
    }

    /// Waits for a keyring lookup off the loop and hands its answer back.
    fn await_late_password(&self, call: PendingCall<Option<Password>>, target: Target, use_for_session: bool) {
        let feedback = self.feedback_tx.clone();
        let epoch = self.password_epoch;
        tokio::spawn(async move {
            let late = LateAnswer::Lookup { answer: call.late().await, use_for_session };
            let _ = feedback.send(Feedback::KeyringAnswer { epoch, target, late }).await;
        });
    }

    /// Waits for a store that timed out; if it goes through after all, the
    /// password is used then (the user was told it had not been, so far).
    fn await_late_store(&self, call: PendingCall<()>, target: Target, password: Password) {
        let feedback = self.feedback_tx.clone();
        let epoch = self.password_epoch;
        tokio::spawn(async move {
            match call.late().await {
                Ok(()) => {
                    let late = LateAnswer::Stored(password);
                    let _ = feedback.send(Feedback::KeyringAnswer { epoch, target, late }).await;
                }
                Err(error) => tracing::warn!(%target, %error, "storing the password failed after all"),
            }
        });
    }

    /// Starts the next waiting change, unless one is under way. A change the
    /// form got wrong is answered at once.
    fn next_change(&mut self) {
        while !self.changing {
            let request = match self.waiting_changes.pop_front() {
                None => return,
                Some(Queued::Window(request)) => request,
                Some(Queued::FileChanged(loaded)) => {
                    self.reload(*loaded);
                    continue;
                }
            };
            let (reply, planned) = match request {
                WindowRequest::SaveSettings(input, reply) => (reply, self.plan_save(input)),
                WindowRequest::SetPassword(password, reply) => {
                    (reply, self.plan_password(PasswordStep::Store(Password::new(password))))
                }
                WindowRequest::ClearPassword(reply) => (reply, self.plan_password(PasswordStep::Clear)),
                WindowRequest::SaveConnections(input, reply) => (reply, self.plan_connections(input)),
                WindowRequest::UseObsSettings(reply) => {
                    self.start_using_obs_settings(reply);
                    continue;
                }
                WindowRequest::Snapshot(_)
                | WindowRequest::Control(..)
                | WindowRequest::TestConnection { .. }
                | WindowRequest::ShowConnection(..) => continue,
            };
            match planned {
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
                Ok(change) => {
                    self.changing = true;
                    let file = change.settings.as_ref().and(self.settings_file.clone());
                    let (keyring, limit, feedback) = (self.keyring.clone(), self.io_timeout, self.feedback_tx.clone());
                    tokio::spawn(async move {
                        let mut late_store = None;
                        let outcome = carry_out(&keyring, limit, file, &change, &mut late_store).await;
                        let done = ChangeDone { change, outcome, late_store, reply };
                        let _ = feedback.send(Feedback::ChangeDone(Box::new(done))).await;
                    });
                }
            }
        }
    }

    /// Applies the settings file as another program left it, as a Save would
    /// but without writing it back: a new host or port connects with the
    /// password the keyring has for it.
    fn reload(&mut self, loaded: Loaded) {
        let Loaded { file, settings, warnings } = loaded;
        tracing::info!(path = %file.path.display(), "the settings file changed elsewhere; applying it");
        for warning in &warnings {
            tracing::warn!("{warning}");
            self.show(notice("settings", "OnAir's settings file had a problem", warning, Urgency::Normal));
        }
        let target = self.run.target(&settings.host, settings.port);
        let password = if target != self.target { PasswordStep::LookUp } else { PasswordStep::Keep };
        let change = Change { settings: Some(settings), run: self.run.clone(), target, password };
        self.changing = true;
        let (keyring, limit, feedback) = (self.keyring.clone(), self.io_timeout, self.feedback_tx.clone());
        tokio::spawn(async move {
            let mut late_store = None;
            // No file given: nothing is written, the file is as it was found.
            let outcome = carry_out(&keyring, limit, None, &change, &mut late_store)
                .await
                .map(|carried| Carried { file: Some(file), ..carried });
            // No one waits for this answer.
            let (reply, _) = oneshot::channel();
            let done = ChangeDone { change, outcome, late_store, reply };
            let _ = feedback.send(Feedback::ChangeDone(Box::new(done))).await;
        });
    }

    /// A Save of the form: the settings to write, and where to connect with which password.
    fn plan_save(&self, input: SettingsInput) -> Result<Change, ApiError> {
        let typed = input.password.clone().filter(|p| !p.is_empty()).map(Password::new);
        let (settings, run) = settings_from_input(&self.settings, &self.run, input)?;
        if self.settings_file.is_none() {
            return Err(ApiError {
                code: "io".into(),
                message: "this system has no config directory to save settings in".into(),
                field: None,
            });
        }
        let target = run.target(&settings.host, settings.port);
        let password = match typed {
            Some(password) => PasswordStep::Store(password),
            None if target != self.target => PasswordStep::LookUp,
            None => PasswordStep::Keep,
        };
        Ok(Change { settings: Some(settings), run, target, password })
    }

    /// A Save of the OBS list: the settings with it, to write and then apply.
    /// The typed passwords wait here for the list's OBS (changes run one at a
    /// time, so no other list can take them).
    fn plan_connections(&mut self, input: ConnectionsInput) -> Result<Change, ApiError> {
        let (settings, typed) = connections_from_input(&self.settings, input)?;
        if self.settings_file.is_none() {
            return Err(ApiError {
                code: "io".into(),
                message: "this system has no config directory to save settings in".into(),
                field: None,
            });
        }
        self.typed_passwords = typed;
        Ok(Change {
            settings: Some(settings),
            run: self.run.clone(),
            target: self.target.clone(),
            password: PasswordStep::Keep,
        })
    }

    /// "Save password" and "Clear password": for the OBS in use.
    fn plan_password(&self, password: PasswordStep) -> Result<Change, ApiError> {
        let target = self.target.clone().map_err(|e| ApiError::invalid(Some("host"), e))?;
        Ok(Change { settings: None, run: self.run.clone(), target: Ok(target), password })
    }

    /// Applies a carried-out change in one step, answers the window, and starts the next.
    async fn finish_change(&mut self, done: ChangeDone) {
        let ChangeDone { change, outcome, late_store, reply } = done;
        if let (Some(call), Ok(target), PasswordStep::Store(password)) = (late_store, &change.target, &change.password)
        {
            self.await_late_store(call, target.clone(), password.clone());
        }
        let result = match outcome {
            Ok(carried) => {
                self.apply_change(change, carried).await;
                let view = self.settings_view();
                self.desktop.push(WindowPush::Settings(view.clone()));
                Ok(view)
            }
            Err(error) => Err(error),
        };
        let _ = reply.send(result);
        self.changing = false;
        self.next_change();
    }

    async fn apply_change(&mut self, change: Change, carried: Carried) {
        let Change { settings, run, target, password } = change;
        if let Some(file) = carried.file {
            self.settings_file = Some(file);
        }
        if let Some(settings) = settings {
            let hotkeys_changed = settings.hotkeys != self.settings.hotkeys;
            let login_changed = settings.start_on_login != self.settings.start_on_login;
            let confirm_changed = settings.confirm_stop_stream != self.settings.confirm_stop_stream;
            let alerts_changed = settings.alerts != self.settings.alerts;
            let others_changed = settings.more_connections != self.settings.more_connections;
            self.settings = settings;
            let typed = std::mem::take(&mut self.typed_passwords);
            if others_changed || !typed.is_empty() {
                self.restart_others(typed);
            }
            self.name_first_notifications();
            if hotkeys_changed {
                self.register_hotkeys();
            }
            if login_changed {
                self.desktop.set_start_on_login(self.settings.start_on_login);
            }
            if alerts_changed {
                self.session.set_alert_settings(self.settings.alerts.clone()).await;
                for other in &self.others {
                    other.session.set_alert_settings(self.settings.alerts.clone()).await;
                }
            }
            if confirm_changed && !self.settings.confirm_stop_stream {
                // A stop that waited for its second press needs none now.
                self.guard = StopGuard::default();
                for other in &mut self.others {
                    other.guard = StopGuard::default();
                }
                self.render();
            }
        }
        self.run = run;
        if let Some(warning) = &carried.warning {
            tracing::warn!("{warning}");
            self.show(notice("keyring", "The keyring did not answer", warning, Urgency::Normal));
        }
        let target_changed = target != self.target;
        if !target_changed && matches!(password, PasswordStep::Keep) {
            return;
        }
        if target_changed {
            // What was seen of the old OBS says nothing about the new one.
            self.last_seen = None;
        }
        self.target = target;
        self.password = carried.password;
        self.password_stored = carried.stored;
        self.password_epoch += 1;
        self.reconfigure().await;
        if let (Some(call), Ok(target)) = (carried.late, self.target.clone()) {
            self.await_late_password(call, target, true);
        }
    }

    /// Replaces the other OBS with the settings' list: the old sessions end now,
    /// the new ones start once the keyring has stored the typed passwords and
    /// given the others' (off this task, each within the time limit).
    fn restart_others(&mut self, typed: Vec<(Target, Password)>) {
        for other in self.others.drain(..) {
            tokio::spawn(async move { other.session.shutdown().await });
        }
        self.others_generation += 1;
        if self.shown > 0 {
            self.shown = 0;
            self.shown_controls = None;
            self.desktop.push(WindowPush::State(self.current_state()));
        }
        self.render();
        let generation = self.others_generation;
        // With a connection given for this run (flags, the demo) only that one
        // is watched, as at the start; the list is saved for the next run.
        let connections = if self.run.is_empty() { self.settings.more_connections.clone() } else { Vec::new() };
        let (keyring, limit, feedback) = (self.keyring.clone(), self.io_timeout, self.feedback_tx.clone());
        tokio::spawn(async move {
            let (mut starts, mut problems) = (Vec::new(), Vec::new());
            for connection in connections {
                let target = connection.target();
                let typed = target.as_ref().ok().and_then(|t| typed.iter().find(|(at, _)| at == t)).map(|(_, p)| p);
                let password = match (&target, typed) {
                    (Ok(target), Some(password)) => {
                        if let Err(error) = keyring.set(target, password).within(limit).await {
                            problems
                                .push(format!("{}: the password is used for this run only ({error})", connection.name));
                        }
                        Some(password.clone())
                    }
                    (Ok(target), None) => keyring.get(target).within(limit).await.unwrap_or_else(|error| {
                        problems.push(format!("{}: cannot read its stored password ({error})", connection.name));
                        None
                    }),
                    (Err(_), _) => None,
                };
                starts.push(crate::other_obs::OtherStart { target, name: connection.name, password, pending: None });
            }
            let _ = feedback.send(Feedback::OthersReady { generation, starts, problems }).await;
        });
    }

    /// Starts the other OBS of the list last saved (an older list's are dropped).
    fn on_others_ready(&mut self, generation: u64, starts: Vec<crate::other_obs::OtherStart>, problems: Vec<String>) {
        if generation != self.others_generation {
            return;
        }
        for problem in &problems {
            tracing::warn!("{problem}");
            self.show(notice("keyring", "The keyring did not store or give a password", problem, Urgency::Normal));
        }
        let (alerts, mics) = (self.settings.alerts.clone(), self.settings.mics.clone());
        let others =
            starts.into_iter().enumerate().map(|(i, start)| OtherObs::spawn(i + 1, start, &alerts, &mics)).collect();
        self.add_others(others);
        self.render();
        let view = self.settings_view();
        self.desktop.push(WindowPush::Settings(view));
    }

    /// Points the session at `target` with `password`: the one place that does.
    async fn reconfigure(&mut self) {
        #[cfg(test)]
        if let Ok(mut log) = self.reconfigured.lock() {
            log.push((self.target.clone(), self.password.clone()));
        }
        self.session.reconfigure(self.target.clone(), self.password.clone()).await;
    }

    /// A keyring answer that came in the background or after its caller gave up.
    async fn on_keyring_answer(&mut self, epoch: u64, target: Target, late: LateAnswer) {
        if epoch != self.password_epoch || self.target.as_ref() != Ok(&target) {
            return;
        }
        match late {
            LateAnswer::Lookup { answer: Ok(password), use_for_session } => {
                self.password_stored = Some(password.is_some());
                if use_for_session && self.password.is_none() && password.is_some() {
                    tracing::info!(%target, "the keyring answered at last: connecting with the stored password");
                    self.password = password;
                    self.password_epoch += 1;
                    self.reconfigure().await;
                }
            }
            LateAnswer::Lookup { answer: Err(error), .. } => {
                tracing::warn!(%target, %error, "cannot read the stored password");
            }
            LateAnswer::Stored(password) => {
                self.show(notice(
                    "keyring",
                    "Password stored",
                    &format!("The keyring answered at last: the password for {target} is stored, and OnAir connects with it."),
                    Urgency::Normal,
                ));
                self.password_stored = Some(true);
                self.password = Some(password);
                self.password_epoch += 1;
                self.reconfigure().await;
            }
        }
        let view = self.settings_view();
        self.desktop.push(WindowPush::Settings(view));
    }

    /// The settings as the window shows them. It asks nothing of the keyring:
    /// what is known of the stored password is kept as changes and lookups go.
    fn settings_view(&self) -> SettingsView {
        let (host, port) = self.run.shown(&self.settings.host, self.settings.port);
        let password_note = match (&self.target, self.password_stored) {
            (Ok(_), None) => Some(
                "The keyring has not answered yet (is it locked?), so OnAir cannot tell whether a password is stored."
                    .to_string(),
            ),
            _ => None,
        };
        let degraded = self.store.degraded();
        let session_type = std::env::var("XDG_SESSION_TYPE").ok();
        let wayland_display = std::env::var("WAYLAND_DISPLAY").ok();
        // Where the portal binds the shortcuts they work, under the desktop's keys.
        let desktop = self.desktop.desktop_shortcuts().map(|bound| DesktopShortcutsView {
            note: "Your desktop binds OnAir's shortcuts: the keys below are only OnAir's wishes. See or change what \
                   each is bound to in the desktop's keyboard shortcut settings."
                .to_string(),
            bound: bound
                .into_iter()
                .map(|(press, trigger)| BoundShortcutView {
                    action: press.action.wire_name().to_string(),
                    label: press.label(),
                    connection: press.connection,
                    trigger,
                })
                .collect(),
        });
        SettingsView {
            host,
            port,
            connection_note: self.run.note(&self.settings.host, self.settings.port),
            password_stored: self.password_stored.unwrap_or(false),
            password_target: self.target.as_ref().ok().map(Target::to_string),
            password_note,
            keyring: KeyringView {
                available: degraded.is_none(),
                message: degraded.map(|d| format!("{d}; a password is kept for this run only")),
            },
            notifications: self.settings.notifications.clone(),
            notification_kinds: MomentKind::ALL
                .iter()
                .map(|k| NotificationKind { kind: k.wire_name().to_string(), label: k.label().to_string() })
                .collect(),
            hotkeys: HotkeysView {
                enabled: self.settings.hotkeys.enabled,
                unavailable: match desktop {
                    Some(_) => None,
                    None => onair_headless::desktop::grabbing_unavailable(
                        session_type.as_deref(),
                        wayland_display.as_deref(),
                    ),
                },
                bindings: HotkeyAction::ALL
                    .iter()
                    .map(|a| BindingView {
                        action: a.wire_name().to_string(),
                        label: a.label().to_string(),
                        binding: self.settings.hotkeys.binding(*a),
                        default: a.default_binding().to_string(),
                    })
                    .collect(),
                problems: self.hotkey_problems.clone(),
                desktop,
            },
            confirm_stop_stream: self.settings.confirm_stop_stream,
            start_on_login: self.settings.start_on_login,
            connections: ConnectionsView {
                first_name: self.settings.name.clone(),
                more: self
                    .settings
                    .more_connections
                    .iter()
                    .map(|c| MoreConnectionView {
                        name: c.name.clone(),
                        host: c.host.clone(),
                        port: c.port,
                        password_stored: self.others.iter().any(|o| o.name == c.name && o.has_password),
                    })
                    .collect(),
            },
        }
    }
}

mod obs_offer;
#[cfg(test)]
mod tests;
