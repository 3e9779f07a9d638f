//! Every subcommand refuses a missing or broken config as the TUI does,
//! naming the file (and, for a broken one, the line and key).

use std::process::Command;

fn opscockpit(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_opscockpit"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .output()
        .expect("running opscockpit")
}

#[test]
fn subcommands_refuse_a_missing_or_broken_config() {
    let home = tempfile::tempdir().expect("tempdir");
    let missing = home.path().join("nope.toml");
    let broken = home.path().join("broken.toml");
    std::fs::write(&broken, "[ui]\nutc = \"yes please\"\n").expect("write");
    for sub in [
        vec!["history"],
        vec!["actions"],
        vec!["audit", "verify"],
        vec!["cost", "--plans"],
    ] {
        for (file, want) in [(&missing, "no such file"), (&broken, ":2")] {
            let path = file.display().to_string();
            let mut args = vec!["--config", path.as_str()];
            args.extend(sub.iter().copied());
            let out = opscockpit(home.path(), &args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} went on: {stderr}");
            assert!(
                stderr.contains("config error") && stderr.contains(&path) && stderr.contains(want),
                "{args:?}: {stderr}"
            );
        }
    }
    // Without --config and without a file, the client commands still run.
    let out = opscockpit(home.path(), &["history"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
