//! The controller's side of the first-run offer (`crate::first_run`): it shows
//! the offer (a notification with a "Use OBS's settings" button, the window's
//! card), and carries out a yes from either in turn with the form's changes:
//! the keyring and the file are worked on off the loop, then the session is
//! pointed at OBS on this machine with its password in one step, whatever of
//! the saving failed (that is said, and the offer stays for another try).

use onair_headless::desktop::{NotificationAction, NotificationButton, NotificationPlan, Urgency};
use onair_headless::settings::RunOverride;
use onair_headless::state::{Moment, Noticed};
use tokio::sync::oneshot;

use super::{notice, Controller, Feedback};
use crate::first_run::{adopt, run_override, Adoption, KeyringStep, ObsOffer, ObsOfferView, SETUP_KIND};
use crate::integration::GuiIntegration;
use crate::window::{ApiError, Reply, WindowPush, WindowRequest};

/// The offer while it stands, with why the last yes did not save everything.
#[derive(Debug)]
pub struct Offered {
    offer: ObsOffer,
    problem: Option<String>,
}

/// A yes carried out, back on the controller's task.
#[derive(Debug)]
pub struct UsedObsSettings {
    adoption: Adoption,
    reply: Reply<String>,
}

impl<I: GuiIntegration> Controller<I> {
    /// At the start: offers OBS's settings, if the start found any.
    pub(super) fn offer_obs_settings(&mut self, offer: Option<ObsOffer>) {
        let Some(offer) = offer else { return };
        let (summary, body) = offer.notice();
        self.show(NotificationPlan {
            button: Some(NotificationButton::UseObsSettings),
            ..notice(SETUP_KIND, &summary, &body, Urgency::Normal)
        });
        self.obs_offer = Some(Offered { offer, problem: None });
        self.push_obs_offer();
    }

    /// The window's first-run card, while the offer stands.
    pub(super) fn obs_offer_view(&self) -> Option<ObsOfferView> {
        self.obs_offer.as_ref().map(|o| o.offer.view(o.problem.as_deref()))
    }

    fn push_obs_offer(&mut self) {
        let view = self.obs_offer_view();
        self.desktop.push(WindowPush::ObsOffer(view));
    }

    /// While the offer stands, OBS at the offered address asking for a password
    /// is what the offer answers: the usual alarm ("copy it from Show Connect
    /// Info") would send the user elsewhere at the same time. The tray's row and
    /// the window's log still say it.
    pub(super) fn offer_answers(&self, noticed: &Noticed) -> bool {
        matches!(noticed.moment, Moment::AuthFailed { .. })
            && self.obs_offer.as_ref().is_some_and(|o| self.target.as_ref() == Ok(&o.offer.target()))
    }

    /// The notification's button: a yes as the card's, with no one waiting for the answer.
    pub(super) fn on_use_obs_settings_pressed(&mut self) {
        let (reply, _nobody_waits) = oneshot::channel();
        self.waiting_changes.push_back(super::Queued::Window(WindowRequest::UseObsSettings(reply)));
        self.next_change();
    }

    /// Starts a yes, in its turn among the changes: the keyring and the file off the loop.
    pub(super) fn start_using_obs_settings(&mut self, reply: Reply<String>) {
        let Some(offered) = &self.obs_offer else {
            let message = "there are no OBS settings to use: they were used already, or none were found at the start";
            let _ = reply.send(Err(ApiError { code: "no-offer".into(), message: message.into(), field: None }));
            return;
        };
        self.changing = true;
        let (keyring, limit, feedback) = (self.keyring.clone(), self.io_timeout, self.feedback_tx.clone());
        let (dir, file, settings) = (offered.offer.dir.clone(), self.settings_file.clone(), self.settings.clone());
        tokio::spawn(async move {
            let adoption = adopt(&keyring, limit, dir, file, settings).await;
            let used = UsedObsSettings { adoption, reply };
            let _ = feedback.send(Feedback::ObsSettingsUsed(Box::new(used))).await;
        });
    }

    /// Applies a yes: the session connects to OBS on this machine with OBS's
    /// password in one step, even when the file or the keyring could not keep
    /// them; the user hears where OnAir connects now, and what was not saved.
    pub(super) async fn finish_using_obs_settings(&mut self, used: UsedObsSettings) {
        let UsedObsSettings { adoption: Adoption { found, settings, keyring, file, late_store }, reply } = used;
        let found = match found {
            Ok(found) => found,
            Err(why) => {
                tracing::warn!("cannot use OBS's settings: {why}");
                self.show(notice(SETUP_KIND, "Could not use OBS's settings", &why, Urgency::Normal));
                let message = format!("OnAir could not use OBS's settings: {why}");
                self.obs_settings_done(Err(ApiError { code: "obs-settings".into(), message, field: None }), reply);
                return;
            }
        };
        let target = found.target.clone();
        let mut problems = Vec::new();
        let mut code = "io";
        let saved_in = match file {
            Some(Ok(file)) => {
                let path = file.path.display().to_string();
                self.settings_file = Some(file);
                self.settings = settings;
                self.run = RunOverride::default();
                Some(path)
            }
            failed => {
                let why = failed.and_then(Result::err).unwrap_or_else(|| "nothing was written".into());
                problems.push(format!("The address could not be saved ({why}); OnAir uses it for this run only."));
                self.run = run_override(&target);
                None
            }
        };
        let mut password = found.password.clone();
        let stored = match keyring {
            Some(KeyringStep::Stored) => {
                if let Some(why) = self.store.degraded() {
                    code = "keyring-failed";
                    problems.push(format!("The password is kept for this run only: {why}."));
                }
                Some(true)
            }
            Some(KeyringStep::NoneToStore(Ok(in_keyring))) => {
                let stored = in_keyring.is_some();
                password = password.or(in_keyring);
                Some(stored)
            }
            Some(KeyringStep::NoneToStore(Err(error))) => {
                tracing::warn!(%target, %error, "cannot read the stored password");
                None
            }
            Some(KeyringStep::Failed(error)) => {
                code = "keyring-failed";
                problems.push(format!(
                    "The password could not be stored in the keyring: {error} OnAir uses it for this run only."
                ));
                Some(false)
            }
            None => None,
        };
        // One step: the new address with its password.
        if self.target.as_ref() != Ok(&target) {
            self.last_seen = None;
        }
        self.target = Ok(target.clone());
        self.password = password;
        self.password_stored = stored;
        self.password_epoch += 1;
        self.reconfigure().await;
        if let (Some(call), Some(password)) = (late_store, found.password.clone()) {
            self.await_late_store(call, target.clone(), password);
        }
        let settings_view = self.settings_view();
        self.desktop.push(WindowPush::Settings(settings_view));

        let mut body = match (&saved_in, problems.is_empty()) {
            (Some(path), true) if found.password.is_some() => {
                format!("OBS's address is saved in {path}, its password in the keyring.")
            }
            (Some(path), true) => format!("OBS's address is saved in {path}."),
            _ => problems.join(" "),
        };
        if found.server_off {
            body.push_str(&format!(" OBS's WebSocket server is off: in OBS, {}.", crate::first_run::ENABLE_SERVER));
        }
        let summary = if problems.is_empty() {
            format!("OnAir connects to OBS at {target}")
        } else {
            format!("OnAir connects to OBS at {target} for this run")
        };
        tracing::info!(%target, saved = problems.is_empty(), "using OBS's own settings");
        self.desktop.notify(NotificationAction::Close { connection: 0, slot: SETUP_KIND });
        self.show(notice(SETUP_KIND, &summary, &body, Urgency::Normal));
        let message = format!("{summary}. {body}");
        let result =
            if problems.is_empty() { Ok(message) } else { Err(ApiError { code: code.into(), message, field: None }) };
        self.obs_settings_done(result, reply);
    }

    /// Answers the yes, shows the card as it now stands, and lets the next change go.
    fn obs_settings_done(&mut self, result: Result<String, ApiError>, reply: Reply<String>) {
        if let (Err(error), Some(offered)) = (&result, self.obs_offer.as_mut()) {
            offered.problem = Some(error.message.clone());
        }
        if result.is_ok() {
            self.obs_offer = None;
        }
        self.push_obs_offer();
        let _ = reply.send(result);
        self.changing = false;
        self.next_change();
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::Duration;

    use onair_headless::desktop::NotificationAction;
    use onair_headless::obs::{Session, SessionConfig};
    use onair_headless::settings::{
        FallbackStore, KeyringWorker, MemoryStore, Password, PasswordStore, SettingsFile, StoreError, Target,
    };
    use tokio::sync::mpsc;

    use super::*;
    use crate::controller::{ControllerParts, DesktopInput, StartupNotes};
    use crate::first_run::offer_when;
    use crate::integration::fake::{buttons, notifications, shown, Call, FakeDesktop};
    use crate::window::{Snapshot, WindowPush};

    const OBS_PASSWORD: &str = "obs own secret";
    /// Port 9 (discard) on loopback: nothing answers, so the session waits for OBS.
    const OBS_INI: &str =
        "[OBSWebSocket]\nServerEnabled=true\nServerPort=9\nAuthRequired=true\nServerPassword=obs own secret\n";

    struct TempDir(PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A machine with OBS's settings in `obs-studio/` and OnAir's settings file
    /// at `settings` (not there yet).
    struct FirstStart {
        controller: Controller<FakeDesktop>,
        feedback: mpsc::Receiver<Feedback>,
        desktop: FakeDesktop,
        settings: PathBuf,
        obs_dir: PathBuf,
        _dir: TempDir,
    }

    fn machine(name: &str, settings_at: &str, store: Arc<dyn PasswordStore>) -> FirstStart {
        let dir = std::env::temp_dir().join(format!("onair-obs-offer-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let obs_dir = dir.join("obs-studio");
        std::fs::create_dir_all(&obs_dir).unwrap();
        std::fs::write(obs_dir.join("global.ini"), OBS_INI).unwrap();
        let settings = dir.join(settings_at);
        let loaded = SettingsFile::load(&settings);
        let (session, _task) = Session::spawn(SessionConfig::new(Target::new("127.0.0.1", 9), None));
        let desktop = FakeDesktop::default();
        let parts = ControllerParts {
            settings: loaded.settings,
            settings_file: Some(loaded.file),
            run: RunOverride::default(),
            store: Arc::clone(&store),
            keyring: KeyringWorker::start(store),
            password: None,
            password_stored: Some(false),
            history: None,
        };
        let mut controller = Controller::new(desktop.clone(), session, parts);
        controller.io_timeout = Duration::from_millis(300);
        let feedback = controller.feedback.take().expect("a fresh controller has its feedback inbox");
        FirstStart { controller, feedback, desktop, settings, obs_dir, _dir: TempDir(dir) }
    }

    impl FirstStart {
        /// Starts the controller as the app does: the offer only if this start finds one.
        fn start(&mut self) {
            let obs_dir = self.obs_dir.clone();
            let offer = offer_when(Some(&self.settings), false, &RunOverride::default(), || vec![obs_dir]);
            self.controller.start(StartupNotes { obs_offer: offer, ..Default::default() });
        }

        fn snapshot(&mut self) -> Snapshot {
            let (reply, mut answer) = oneshot::channel();
            self.controller.on_window(WindowRequest::Snapshot(reply));
            answer.try_recv().expect("the snapshot is answered at once")
        }

        /// Plays the loop until a yes is carried out and applied.
        async fn settle(&mut self) {
            let answer = tokio::time::timeout(Duration::from_secs(5), self.feedback.recv())
                .await
                .expect("the controller hears back within 5 s")
                .expect("channel open");
            self.controller.on_feedback(answer).await;
        }

        fn reconfigured(&self) -> Vec<(Result<Target, String>, Option<Password>)> {
            self.controller.reconfigured.lock().unwrap().clone()
        }
    }

    fn localhost_9() -> Target {
        Target::new("localhost", 9).unwrap()
    }

    fn offers_pushed(calls: &[Call]) -> Vec<Option<ObsOfferView>> {
        calls
            .iter()
            .filter_map(|c| match c {
                Call::Push(push) => match &**push {
                    WindowPush::ObsOffer(offer) => Some(offer.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_first_start_offers_obss_settings_and_saves_nothing_before_yes() {
        let store = Arc::new(MemoryStore::default());
        let mut first = machine("offer", "onair/settings.toml", store.clone());
        first.start();
        let calls = first.desktop.take();
        let setup: Vec<_> = shown(&calls).into_iter().filter(|p| p.kind == SETUP_KIND).cloned().collect();
        assert_eq!(setup.len(), 1, "{calls:#?}");
        assert_eq!(
            (setup[0].category().as_str(), setup[0].summary.as_str()),
            ("x-onair.setup", "Use OBS's own settings?")
        );
        assert!(setup[0].body.contains("port 9, with a password"), "{}", setup[0].body);
        assert_eq!(buttons(&calls), [(SETUP_KIND, NotificationButton::UseObsSettings)]);
        let card = first.snapshot().obs_offer.expect("the window's first-run card");
        assert!(card.found.contains(&first.obs_dir.join("global.ini").display().to_string()), "{}", card.found);
        assert_eq!((card.port, card.password_set, card.server_off, card.enable), (9, true, false, None));
        let sent = format!("{:?} {}", calls, serde_json::to_string(&first.snapshot()).unwrap());
        assert!(!sent.contains(OBS_PASSWORD), "the password never reaches the desktop or the window");

        // Nothing is read into OnAir's settings or keyring before yes.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!first.settings.exists(), "no settings file before yes");
        assert_eq!(store.get(&localhost_9()), Ok(None), "nothing in the keyring before yes");
        assert_eq!(first.reconfigured(), [], "the session is left alone before yes");

        // The next start, with a settings file, offers nothing.
        let mut again = machine("no-offer", "onair/settings.toml", Arc::new(MemoryStore::default()));
        std::fs::create_dir_all(again.settings.parent().unwrap()).unwrap();
        std::fs::write(&again.settings, "[obs]\nport = 4455\n").unwrap();
        again.start();
        let calls = again.desktop.take();
        assert!(shown(&calls).iter().all(|p| p.kind != SETUP_KIND), "{calls:#?}");
        assert_eq!(again.snapshot().obs_offer, None);
    }

    #[tokio::test]
    async fn yes_on_the_notification_saves_the_port_and_the_password_and_reconnects_with_them() {
        let store = Arc::new(MemoryStore::default());
        let mut first = machine("yes", "onair/settings.toml", store.clone());
        first.start();
        first.desktop.take();
        first.controller.on_input(DesktopInput::NotificationButton(0, NotificationButton::UseObsSettings));
        first.settle().await;

        let file = std::fs::read_to_string(&first.settings).expect("the settings file is written");
        assert_eq!(file, "[obs]\nhost = \"localhost\"\nport = 9\n", "only the address is written");
        assert!(!file.contains(OBS_PASSWORD), "{file}");
        assert_eq!(store.get(&localhost_9()), Ok(Some(Password::new(OBS_PASSWORD.into()))));
        assert_eq!(
            first.reconfigured(),
            [(Ok(localhost_9()), Some(Password::new(OBS_PASSWORD.into())))],
            "one step: the new address with OBS's password"
        );
        let calls = first.desktop.take();
        let said = notifications(&calls);
        assert_eq!(said.first(), Some(&NotificationAction::Close { connection: 0, slot: SETUP_KIND }), "{said:#?}");
        let told = shown(&calls);
        assert_eq!(told.len(), 1, "{told:#?}");
        assert_eq!((told[0].kind, told[0].summary.as_str()), (SETUP_KIND, "OnAir connects to OBS at localhost:9"));
        assert!(told[0].body.contains(&first.settings.display().to_string()) && told[0].body.contains("keyring"));
        assert_eq!(offers_pushed(&calls), [None], "the card goes");
        let snapshot = first.snapshot();
        assert_eq!(snapshot.obs_offer, None);
        assert_eq!((snapshot.settings.host.as_str(), snapshot.settings.port), ("localhost", 9));
        assert!(snapshot.settings.password_stored && snapshot.settings.connection_note.is_none());

        // The offer is taken: another yes is told so.
        let (reply, mut answer) = oneshot::channel();
        first.controller.on_window(WindowRequest::UseObsSettings(reply));
        let refused = answer.try_recv().expect("answered at once").unwrap_err();
        assert_eq!(refused.code, "no-offer");
        assert_eq!(first.reconfigured().len(), 1);
    }

    /// A keyring that answers every call with an error.
    struct BrokenKeyring;
    impl PasswordStore for BrokenKeyring {
        fn get(&self, _: &Target) -> Result<Option<Password>, StoreError> {
            Err(StoreError::Failed("the collection is gone".into()))
        }
        fn set(&self, _: &Target, _: &Password) -> Result<(), StoreError> {
            Err(StoreError::Failed("the collection is gone".into()))
        }
        fn clear(&self, _: &Target) -> Result<bool, StoreError> {
            Err(StoreError::Failed("the collection is gone".into()))
        }
    }

    #[tokio::test]
    async fn yes_with_a_broken_keyring_and_an_unwritable_file_still_connects_for_this_run_and_says_so() {
        // The settings file's folder is a file: nothing can be written there.
        let mut first = machine("broken", "blocker/settings.toml", Arc::new(BrokenKeyring));
        std::fs::write(first.settings.parent().unwrap(), "not a folder").unwrap();
        first.start();
        first.desktop.take();
        let (reply, mut answer) = oneshot::channel();
        first.controller.on_window(WindowRequest::UseObsSettings(reply));
        first.settle().await;
        let error = answer.try_recv().expect("answered").unwrap_err();
        assert!(error.message.starts_with("OnAir connects to OBS at localhost:9 for this run."), "{}", error.message);
        assert!(error.message.contains("could not be saved") && error.message.contains("the collection is gone"));
        assert!(!Path::new(&first.settings).exists());
        assert_eq!(
            first.reconfigured(),
            [(Ok(localhost_9()), Some(Password::new(OBS_PASSWORD.into())))],
            "nothing is lost: the session connects with OBS's password for this run"
        );
        let calls = first.desktop.take();
        let told = shown(&calls);
        assert_eq!(told.last().map(|p| p.summary.as_str()), Some("OnAir connects to OBS at localhost:9 for this run"));
        let snapshot = first.snapshot();
        let card = snapshot.obs_offer.expect("the offer stays for another try");
        assert_eq!(card.problem.as_deref(), Some(error.message.as_str()));
        assert_eq!((snapshot.settings.host.as_str(), snapshot.settings.port), ("localhost", 9));
        let note = snapshot.settings.connection_note.unwrap_or_default();
        assert!(note.contains("OBS's settings for this run only"), "{note}");
    }

    /// No Secret Service on the bus.
    struct NoKeyring;
    impl PasswordStore for NoKeyring {
        fn get(&self, _: &Target) -> Result<Option<Password>, StoreError> {
            Err(StoreError::Unavailable("no Secret Service".into()))
        }
        fn set(&self, _: &Target, _: &Password) -> Result<(), StoreError> {
            Err(StoreError::Unavailable("no Secret Service".into()))
        }
        fn clear(&self, _: &Target) -> Result<bool, StoreError> {
            Err(StoreError::Unavailable("no Secret Service".into()))
        }
    }

    #[tokio::test]
    async fn yes_without_a_keyring_saves_the_address_and_says_the_password_lasts_this_run() {
        let mut first = machine("no-keyring", "onair/settings.toml", Arc::new(FallbackStore::new(NoKeyring)));
        first.start();
        first.desktop.take();
        first.controller.on_input(DesktopInput::NotificationButton(0, NotificationButton::UseObsSettings));
        first.settle().await;
        let file = std::fs::read_to_string(&first.settings).expect("the address is saved");
        assert!(file.contains("port = 9"), "{file}");
        assert_eq!(first.reconfigured(), [(Ok(localhost_9()), Some(Password::new(OBS_PASSWORD.into())))]);
        let calls = first.desktop.take();
        let told = shown(&calls);
        let last = told.last().expect("the user is told");
        assert_eq!(last.summary, "OnAir connects to OBS at localhost:9 for this run");
        assert!(
            last.body.starts_with("The password is kept for this run only: no keyring available (no Secret Service)."),
            "{}",
            last.body
        );
        let snapshot = first.snapshot();
        assert!(!snapshot.settings.keyring.available);
        assert!(snapshot.obs_offer.and_then(|o| o.problem).is_some_and(|p| p.contains("no keyring available")));
    }

    #[tokio::test]
    async fn while_the_offer_stands_obs_asking_for_its_password_raises_no_alarm() {
        let auth_failed =
            || Noticed { at_ms: 1, moment: Moment::AuthFailed { message: "OBS wants a password".into() } };
        // OBS at the address OnAir uses anyway (localhost:4455, the default), with a password.
        let mut first = machine("auth-quiet", "onair/settings.toml", Arc::new(MemoryStore::default()));
        let ini = OBS_INI.replace("ServerPort=9", "ServerPort=4455");
        std::fs::write(first.obs_dir.join("global.ini"), ini).unwrap();
        first.start();
        first.desktop.take();
        first.controller.on_moment(auth_failed());
        let calls = first.desktop.take();
        assert!(shown(&calls).is_empty(), "the offer is the answer: {calls:#?}");
        assert!(
            calls.iter().any(|c| matches!(c, Call::Push(p) if matches!(&**p, WindowPush::Moment(_)))),
            "the window's log still has it"
        );

        // Taken: a password failure is an alarm again.
        first.controller.obs_offer = None;
        first.controller.on_moment(Noticed { at_ms: 2, ..auth_failed() });
        let calls = first.desktop.take();
        assert_eq!(shown(&calls).iter().map(|p| p.kind).collect::<Vec<_>>(), ["auth-failed"]);

        // An offer for another port says nothing about the OBS in use.
        let mut other = machine("auth-other", "onair/settings.toml", Arc::new(MemoryStore::default()));
        other.start();
        other.desktop.take();
        other.controller.on_moment(auth_failed());
        assert_eq!(shown(&other.desktop.take()).iter().map(|p| p.kind).collect::<Vec<_>>(), ["auth-failed"]);
    }
}
