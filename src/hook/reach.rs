//! Which hosts a shell command reaches, read from its parsed words: `ssh`
//! (with its options), `scp`/`sftp`/`rsync`, and `docker` pointed at an
//! SSH engine (`-H`/`--host`, `DOCKER_HOST=`, a `--context` whose endpoint
//! is ssh).

use crate::gate::policy::shell::{Parsed, SimpleCommand};

/// ssh options that take a value (OpenSSH's `ssh(1)` synopsis).
const SSH_OPTIONS_WITH_VALUE: &str = "BbcDEeFIiJLlmOoPpQRSWw";
/// ssh options the hook cannot rewrite faithfully: forwards, a master or
/// control command, a proxy, a background or no-command session.
const SSH_REFUSED_FLAGS: &str = "LRDWNfMOSJ";

/// One way a command reaches a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// `[user@]host[:port]` as written.
    pub destination: String,
    /// What would run there, as one shell command line; `None`: nothing
    /// the hook can rewrite (an interactive session, a file copy).
    pub remote: Option<String>,
    /// Why the hook cannot rewrite it faithfully, if it cannot.
    pub refused: Option<String>,
}

/// The hosts a parsed command line reaches, one entry per simple command
/// that reaches one.
pub fn reaches(parsed: &Parsed) -> Vec<Reach> {
    let docker_host = docker_host_setting(parsed);
    parsed
        .commands
        .iter()
        .filter_map(|c| reach_of(c, docker_host.as_deref()))
        .collect()
}

/// A `DOCKER_HOST=…` given to a command or exported on the line.
fn docker_host_setting(parsed: &Parsed) -> Option<String> {
    let from_env = parsed.concerns.iter().find_map(|c| {
        c.text
            .strip_prefix("sets DOCKER_HOST=")
            .map(|rest| rest.trim_end_matches(" for the command").to_string())
    });
    let exported = parsed.commands.iter().find_map(|c| {
        let words = c.texts();
        matches!(
            words.first().map(String::as_str),
            Some("export" | "declare" | "typeset")
        )
        .then(|| {
            words
                .iter()
                .find_map(|w| w.strip_prefix("DOCKER_HOST=").map(str::to_string))
        })
        .flatten()
    });
    from_env.or(exported)
}

/// The reach of one simple command (`None`: it reaches no host).
pub fn reach_of(command: &SimpleCommand, docker_host: Option<&str>) -> Option<Reach> {
    let words = command.texts();
    let program = words.first()?.as_str();
    match program {
        "ssh" => Some(ssh(&words[1..])),
        "scp" | "sftp" | "rsync" => copy(program, &words[1..]),
        "docker" => docker(&words[1..], &command.raw, docker_host),
        _ => None,
    }
}

fn ssh(args: &[String]) -> Reach {
    let mut refused = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            break;
        };
        for (at, flag) in flags.char_indices() {
            if SSH_REFUSED_FLAGS.contains(flag) {
                refused.get_or_insert_with(|| format!("ssh -{flag} cannot go through the gate"));
            }
            if SSH_OPTIONS_WITH_VALUE.contains(flag) {
                let inline = &flags[at + flag.len_utf8()..];
                let value = if inline.is_empty() {
                    i += 1;
                    args.get(i).cloned().unwrap_or_default()
                } else {
                    inline.to_string()
                };
                if flag == 'o' {
                    check_ssh_option(&value, &mut refused);
                }
                break;
            }
        }
        i += 1;
    }
    let Some(destination) = args.get(i).cloned() else {
        return Reach {
            destination: String::new(),
            remote: None,
            refused: Some("ssh without a destination".into()),
        };
    };
    let rest = &args[i + 1..];
    let remote = (!rest.is_empty()).then(|| rest.join(" "));
    if remote.is_none() {
        refused.get_or_insert_with(|| "an interactive ssh session (no remote command)".into());
    }
    Reach {
        destination,
        remote,
        refused,
    }
}

/// `-o Key=Value`: a proxy or a forward is refused.
fn check_ssh_option(value: &str, refused: &mut Option<String>) {
    let key = value
        .split(['=', ' '])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let forbidden = [
        "proxycommand",
        "proxyjump",
        "localforward",
        "remoteforward",
        "dynamicforward",
        "localcommand",
        "permitlocalcommand",
        "controlmaster",
        "controlpath",
        "tunnel",
    ];
    if forbidden.contains(&key.as_str()) {
        refused.get_or_insert_with(|| format!("ssh -o {key} cannot go through the gate"));
    }
}

/// A file copy to or from a host: never rewritten (the gate runs commands,
/// it does not move files).
fn copy(program: &str, args: &[String]) -> Option<Reach> {
    let remote_path = |a: &String| {
        !a.starts_with('-')
            && a.split_once(':')
                .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/'))
    };
    let destination = if program == "sftp" {
        args.iter().find(|a| !a.starts_with('-'))?.clone()
    } else {
        let target = args.iter().find(|a| remote_path(a))?;
        target.split_once(':').map(|(h, _)| h.to_string())?
    };
    Some(Reach {
        destination: destination.trim_start_matches("ssh://").to_string(),
        remote: None,
        refused: Some(format!(
            "{program} moves files; the gate runs commands only"
        )),
    })
}

fn docker(args: &[String], raw: &[String], docker_host: Option<&str>) -> Option<Reach> {
    let mut host = raw
        .iter()
        .find_map(|w| w.strip_prefix("DOCKER_HOST="))
        .or(docker_host)
        .map(str::to_string);
    let mut rest = Vec::new();
    let mut context = None;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let value_of = |i: &mut usize, inline: Option<&str>| match inline {
            Some(v) => v.to_string(),
            None => {
                *i += 1;
                args.get(*i).cloned().unwrap_or_default()
            }
        };
        match arg.split_once('=') {
            Some(("--host" | "-H", v)) => host = Some(v.to_string()),
            Some(("--context" | "-c", v)) => context = Some(v.to_string()),
            _ if arg == "-H" || arg == "--host" => host = Some(value_of(&mut i, None)),
            _ if arg == "-c" || arg == "--context" => context = Some(value_of(&mut i, None)),
            _ => rest.push(arg.clone()),
        }
        i += 1;
    }
    if host.is_none()
        && let Some(name) = context
    {
        host = context_endpoint(&name);
    }
    let endpoint = host?;
    let destination = endpoint.strip_prefix("ssh://")?.to_string();
    let remote = std::iter::once("docker".to_string())
        .chain(rest.iter().map(|w| crate::transport::shell_quote(w)))
        .collect::<Vec<_>>()
        .join(" ");
    Some(Reach {
        destination,
        remote: Some(remote),
        refused: None,
    })
}

/// The docker endpoint of context `name` (`~/.docker/contexts/meta/*/meta.json`).
fn context_endpoint(name: &str) -> Option<String> {
    let home = std::env::var_os("HOME")?;
    let meta = std::path::Path::new(&home).join(".docker/contexts/meta");
    for entry in std::fs::read_dir(meta).ok()?.flatten() {
        let text = std::fs::read_to_string(entry.path().join("meta.json")).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        if value["Name"] == name {
            return value["Endpoints"]["docker"]["Host"]
                .as_str()
                .map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::policy::shell::parse;

    fn reach(text: &str) -> Reach {
        reaches(&parse(text))
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{text} reaches a host"))
    }

    #[test]
    fn ssh_destination_and_remote_command() {
        let r = reach("ssh -p 2222 -o BatchMode=yes -i ~/.ssh/k web 'docker ps -a'");
        assert_eq!(r.destination, "web");
        assert_eq!(r.remote.as_deref(), Some("docker ps -a"));
        assert_eq!(r.refused, None);
        let r = reach("ssh -tt root@web uptime");
        assert_eq!(r.destination, "root@web");
        assert_eq!(r.remote.as_deref(), Some("uptime"));
    }

    #[test]
    fn what_cannot_be_rewritten_is_refused() {
        for text in [
            "ssh web",
            "ssh -L 8080:localhost:80 web sleep 1",
            "ssh -o ProxyCommand='nc %h %p' web id",
            "ssh -NfR 9000:localhost:22 web",
            "scp secrets.env web:/tmp/",
            "rsync -a ./ web:/srv/app",
            "sftp web",
        ] {
            assert!(reach(text).refused.is_some(), "{text}");
        }
    }

    #[test]
    fn docker_over_ssh_in_every_spelling() {
        for text in [
            "docker -H ssh://root@web ps",
            "docker --host=ssh://web ps",
            "DOCKER_HOST=ssh://web docker ps",
            "export DOCKER_HOST=ssh://web; docker ps",
        ] {
            let r = reach(text);
            assert!(r.destination.ends_with("web"), "{text}: {r:?}");
            assert_eq!(r.remote.as_deref(), Some("docker ps"), "{text}");
        }
        assert!(reaches(&parse("docker ps")).is_empty());
    }
}
