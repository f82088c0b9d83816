fn main() {
    // The config lives at the workspace root; only the app's own commands are
    // permissioned, so a capability must name each one the window may call.
    let attributes = tauri_build::Attributes::new().config_path("../tauri.conf.json").app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "get_state",
            "get_snapshot",
            "control",
            "save_settings",
            "set_password",
            "clear_password",
            "save_connections",
            "show_connection",
            "test_connection",
            "use_obs_settings",
        ]),
    );
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri build step failed: {error:#}");
    }
}
