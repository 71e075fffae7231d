//! End-to-end: the command line, configuration errors and exit codes.

mod common;

use std::process::Command;

fn strata() -> Command {
    Command::new(env!("CARGO_BIN_EXE_strata"))
}

#[test]
fn every_command_has_help() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["config", "check", "--help"],
        &["bench", "ingest", "--help"],
    ] {
        let out = strata().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let out = strata().arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_configuration_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("strata.toml");
    std::fs::write(&file, "[http]\nmax_body_bytes = \"lots\"\n").unwrap();
    let out = strata()
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("http.max_body_bytes"), "{err}");

    let out = strata()
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("STRATA_HTTP__LISTEN", "localhost-ish")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("http.listen"));

    let out = strata()
        .args(["config", "check", "--config"])
        .arg(dir.path().join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../strata.example.toml");
    let out = strata()
        .args(["config", "check", "--config", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = strata()
        .args(["config", "show", "--http-listen", "127.0.0.1:9999"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("listen = \"127.0.0.1:9999\""));
}

#[test]
fn graceful_shutdown_on_sigterm_and_restart_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::Server::start(&dir);
    let t = s.login();
    let (id, token) = s.create_device(&t, "keep");
    assert_eq!(
        s.post(
            &format!("/api/v1/{token}/telemetry"),
            None,
            &serde_json::json!({"v": 7})
        )
        .0,
        200
    );
    assert_eq!(s.terminate(), Some(0));
    let s = common::Server::start(&dir);
    let t = s.login();
    let (_, latest) = s.get(&format!("/api/devices/{id}/telemetry/latest"), &t);
    assert_eq!(latest["v"]["value"], 7);
    // The admin password from the first start still works; no second admin was created.
    assert_eq!(
        s.post(
            &format!("/api/v1/{token}/telemetry"),
            None,
            &serde_json::json!({"v": 8})
        )
        .0,
        200
    );
}
