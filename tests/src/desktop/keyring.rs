//! Secrets on the desktop: `gnome-keyring-daemon` as an unlocked Secret Service with a fresh
//! login keyring, and `secret-tool` to look up or store what the app keeps there.

use std::io::Write as _;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::procs::run;
use super::Desktop;
use crate::sandbox::{log_excerpt, Pipes, HELPER_READY_TIMEOUT};

/// The login keyring's password. It must not be empty: with an empty one
/// gnome-keyring-daemon tries to prompt, which fails headless.
const KEYRING_PASSWORD: &str = "onair-desktop-keyring";
const SECRETS: &str = "org.freedesktop.secrets";

impl Desktop {
    /// `secret-tool lookup k v ...`: the secret stored under these attributes, `None`
    /// when there is none or no Secret Service answers.
    pub async fn secret_lookup(&self, attrs: &[(&str, &str)]) -> Option<String> {
        let mut cmd = self.command("secret-tool");
        cmd.arg("lookup");
        for (k, v) in attrs {
            cmd.arg(k).arg(v);
        }
        let out = run(cmd, None, "secret-tool lookup").await.ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `secret-tool store --label=<label> k v ...` with the secret on stdin.
    pub async fn secret_store(&self, label: &str, attrs: &[(&str, &str)], secret: &str) -> Result<(), String> {
        let mut cmd = self.command("secret-tool");
        cmd.arg("store").arg(format!("--label={label}"));
        for (k, v) in attrs {
            cmd.arg(k).arg(v);
        }
        let out = run(cmd, Some(secret.as_bytes()), "secret-tool store").await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("secret-tool store failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    /// gnome-keyring-daemon in the foreground (with `--daemonize` it forks into its own
    /// session, out of reach of process-group kills), password on stdin then EOF.
    pub(super) async fn start_keyring(&mut self) -> Result<(), String> {
        let log = self.logs_dir().join("keyring.log");
        let mut cmd = self.std_command("gnome-keyring-daemon");
        cmd.args(["--foreground", "--unlock", "--components=secrets"]);
        let pipes = Pipes { stdin: true, ..Pipes::default() };
        let mut group = self.sandbox.spawn_group("gnome-keyring-daemon", &mut cmd, &log, pipes)?;
        let stdin = group.child.stdin.take();
        self.keyring = Some(group);
        {
            let mut stdin = stdin.ok_or("gnome-keyring-daemon: stdin was not piped")?;
            stdin
                .write_all(KEYRING_PASSWORD.as_bytes())
                .map_err(|e| format!("cannot write the keyring password to gnome-keyring-daemon: {e}"))?;
            // Dropping stdin sends EOF: the daemon reads the password up to it.
        }
        let started = Instant::now();
        let mut last;
        loop {
            if let Some(keyring) = self.keyring.as_mut() {
                keyring.check_startup("gnome-keyring-daemon", &log, 20)?;
            }
            // Owned name and an unlocked default collection (the fresh login keyring).
            if self.name_has_owner(SECRETS).await? {
                match self
                    .busctl_json(&[
                        "get-property",
                        "--",
                        SECRETS,
                        "/org/freedesktop/secrets/aliases/default",
                        "org.freedesktop.Secret.Collection",
                        "Locked",
                    ])
                    .await
                {
                    Ok(v) if v["data"] == Value::Bool(false) => return Ok(()),
                    Ok(v) => last = format!("default collection Locked = {v}"),
                    Err(e) => last = e,
                }
            } else {
                last = format!("{SECRETS} has no owner");
            }
            if started.elapsed() > HELPER_READY_TIMEOUT {
                return Err(format!(
                    "gnome-keyring-daemon not ready within {HELPER_READY_TIMEOUT:?} ({last}); {}",
                    log_excerpt(&log, 20)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
