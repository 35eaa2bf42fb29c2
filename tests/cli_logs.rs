//! `--log-format`: JSON logs are one object per line on stderr, `STARLOG_LOG` sets the level, and
//! an unknown format is a one-line usage error.

use std::process::{Command, Output};

fn sim_serve(log_format: &str, level: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_starlog"));
    command.args([
        "--log-format",
        log_format,
        "sim",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--ledger-ms",
        "0",
        "--no-market",
        "--seconds",
        "1",
    ]);
    command.env_remove("STARLOG_LOG");
    if let Some(level) = level {
        command.env("STARLOG_LOG", level);
    }
    command.output().expect("run starlog")
}

#[test]
fn json_logs_are_one_object_per_line_with_level_and_fields() {
    let out = sim_serve("json", None);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let ready: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is the ready line");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}")))
        .collect();
    assert!(!lines.is_empty(), "sim serve logs at info");
    for line in &lines {
        assert!(line["level"].is_string(), "{line}");
        assert!(line["message"].is_string(), "{line}");
    }
    let listening = lines.iter().find(|l| l["message"] == "simulated venue listening").expect("the listening event");
    assert_eq!(listening["level"], "INFO");
    assert_eq!(listening["horizon_url"], ready["horizon_url"], "a structured field, flattened");
    assert!(lines.iter().any(|l| l["message"] == "simulated venue stopped"), "{stderr}");
}

#[test]
fn starlog_log_sets_the_level_and_text_is_the_default() {
    let out = Command::new(env!("CARGO_BIN_EXE_starlog"))
        .args(["sim", "serve", "--listen", "127.0.0.1:0", "--ledger-ms", "0", "--no-market", "--seconds", "1"])
        .env_remove("STARLOG_LOG")
        .output()
        .expect("run starlog");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("simulated venue listening"), "{stderr}");
    assert!(serde_json::from_str::<serde_json::Value>(stderr.lines().next().unwrap()).is_err(), "text: {stderr}");

    let out = sim_serve("json", Some("warn"));
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stderr).unwrap(), "", "no info events at warn");
}

#[test]
fn an_unknown_log_format_is_one_error_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_starlog"))
        .args(["--log-format", "bogus", "sim", "serve", "--seconds", "1"])
        .output()
        .expect("run starlog");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");
    assert!(stderr.starts_with("starlog: "), "{stderr}");
    assert!(stderr.contains("bogus") && stderr.contains("--log-format"), "{stderr}");
}
