//! The desktop's private session bus: a `dbus-daemon` that activates nothing, and `busctl`
//! to talk to it (calls, properties, the bus driver itself).

use std::path::Path;

use serde_json::Value;

use super::procs::run;
use super::Desktop;

impl Desktop {
    /// Whether some connection owns `name` on this desktop's bus right now.
    pub async fn name_has_owner(&self, name: &str) -> Result<bool, String> {
        let reply = self.bus_driver_call("NameHasOwner", &["s", name]).await?;
        reply["data"][0].as_bool().ok_or_else(|| format!("NameHasOwner({name}): unexpected reply {reply}"))
    }

    /// `busctl --address=<bus> --json=short <args>`, parsed (Null when it printed nothing).
    pub async fn busctl_json(&self, args: &[&str]) -> Result<Value, String> {
        let mut cmd = self.command("busctl");
        cmd.arg(format!("--address={}", self.bus_address())).arg("--json=short").args(args);
        let text = busctl_output(cmd, args).await?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(text.trim()).map_err(|e| format!("busctl {}: invalid JSON ({e}): {text}", args.join(" ")))
    }

    /// `busctl call -- org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus
    /// <method> <args>`: a call to the bus driver itself, parsed.
    pub(super) async fn bus_driver_call(&self, method: &str, args: &[&str]) -> Result<Value, String> {
        let driver = "org.freedesktop.DBus";
        let mut all = vec!["call", "--", driver, "/org/freedesktop/DBus", driver, method];
        all.extend_from_slice(args);
        self.busctl_json(&all).await
    }

    pub(super) async fn busctl_text(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = self.command("busctl");
        cmd.arg(format!("--address={}", self.bus_address())).arg("--no-pager").args(args);
        busctl_output(cmd, args).await
    }

    pub(super) async fn start_bus(&mut self) -> Result<(), String> {
        let mut cmd = self.std_command("dbus-daemon");
        cmd.arg("--nofork")
            .arg("--nopidfile")
            .arg(format!("--config-file={}", self.home().join("bus.conf").display()))
            .arg("--print-address=1");
        self.sandbox.start_bus(cmd).await
    }
}

pub(super) async fn busctl_output(cmd: tokio::process::Command, args: &[&str]) -> Result<String, String> {
    let what = format!("busctl {}", args.join(" "));
    let out = run(cmd, None, &what).await?;
    if !out.status.success() {
        return Err(format!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A session bus that activates nothing: an empty service dir instead of the standard
/// ones (which would start a second dunst or an unlocked-less keyring on demand).
pub(super) fn bus_config(dir: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={bus}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        bus = dir.join("bus").display(),
        services = dir.join("dbus-services").display(),
    )
}
