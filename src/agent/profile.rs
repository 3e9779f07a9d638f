//! Sandbox profiles: shipped TOML files in `assets/agent-profiles/`
//! (embedded), with the user's `agent-profiles/NAME.toml` in the config dir
//! laid over them the way themes are: a key the user file sets replaces the
//! shipped one, a new name extends `generic` (or the profile it names in
//! `extends`). [`Profile::expand`] turns one into concrete [`Rules`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::toml_file::{self, FileError};

pub const DEFAULT_PROFILE: &str = "generic";

/// Shipped profiles; `generic` first, as the others extend it.
pub const EMBEDDED: [(&str, &str); 3] = [
    (
        "generic",
        include_str!("../../assets/agent-profiles/generic.toml"),
    ),
    (
        "claude",
        include_str!("../../assets/agent-profiles/claude.toml"),
    ),
    (
        "codex",
        include_str!("../../assets/agent-profiles/codex.toml"),
    ),
];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    extends: Option<String>,
    min_abi: Option<u32>,
    #[serde(default)]
    files: FilesSpec,
    #[serde(default)]
    network: NetworkSpec,
    #[serde(default)]
    env: EnvSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesSpec {
    read_write: Option<Vec<String>>,
    read_only: Option<Vec<String>>,
    devices: Option<Vec<String>>,
    except: Option<Vec<String>>,
    never: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkSpec {
    tcp_connect: Option<Vec<u16>>,
    udp: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvSpec {
    unset: Option<Vec<String>>,
}

impl ProfileFile {
    /// `self` over `base`: every key set here wins.
    fn over(self, base: &ProfileFile) -> ProfileFile {
        let (f, b) = (self.files, &base.files);
        ProfileFile {
            extends: None,
            min_abi: self.min_abi.or(base.min_abi),
            files: FilesSpec {
                read_write: f.read_write.or_else(|| b.read_write.clone()),
                read_only: f.read_only.or_else(|| b.read_only.clone()),
                devices: f.devices.or_else(|| b.devices.clone()),
                except: f.except.or_else(|| b.except.clone()),
                never: f.never.or_else(|| b.never.clone()),
            },
            network: NetworkSpec {
                tcp_connect: self
                    .network
                    .tcp_connect
                    .or_else(|| base.network.tcp_connect.clone()),
                udp: self.network.udp.or(base.network.udp),
            },
            env: EnvSpec {
                unset: self.env.unset.or_else(|| base.env.unset.clone()),
            },
        }
    }
}

/// A resolved profile, still with placeholders (`{cwd}`, `~`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub min_abi: u32,
    pub read_write: Vec<String>,
    pub read_only: Vec<String>,
    pub devices: Vec<String>,
    pub except: Vec<String>,
    pub never: Vec<String>,
    pub tcp_connect: Vec<u16>,
    pub udp: bool,
    pub env_unset: Vec<String>,
}

/// Every profile: shipped ones with the user's files laid over them.
#[derive(Debug, Clone, Default)]
pub struct ProfileSet {
    files: BTreeMap<String, ProfileFile>,
}

impl ProfileSet {
    /// Loads the embedded profiles, then `user_dir/*.toml`.
    pub fn load(user_dir: Option<&Path>) -> Result<ProfileSet, FileError> {
        let mut files: BTreeMap<String, ProfileFile> = BTreeMap::new();
        for (name, text) in EMBEDDED {
            let file: ProfileFile =
                toml_file::parse_str(&format!("<embedded agent-profiles/{name}.toml>"), text)?;
            let resolved = match file.extends.clone() {
                Some(base) => {
                    let base = files.get(&base).cloned().unwrap_or_default();
                    file.over(&base)
                }
                None => file,
            };
            files.insert(name.to_string(), resolved);
        }
        if let Some(dir) = user_dir {
            for (name, path) in toml_file::toml_files_in(dir) {
                let file: ProfileFile = toml_file::load(&path)?;
                let base_name = match (&file.extends, files.contains_key(&name)) {
                    (Some(base), _) => base.clone(),
                    (None, true) => name.clone(),
                    (None, false) => DEFAULT_PROFILE.to_string(),
                };
                let base = files.get(&base_name).cloned().ok_or_else(|| {
                    FileError::new(
                        path.display().to_string(),
                        format!(
                            "extends unknown profile `{}`",
                            crate::text::inert(&base_name)
                        ),
                    )
                    .at(None, Some("extends".into()))
                })?;
                files.insert(name, file.over(&base));
            }
        }
        Ok(ProfileSet { files })
    }

    pub fn names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Result<Profile, String> {
        let file = self.files.get(name).ok_or_else(|| {
            format!(
                "no agent profile `{}`; known: {}",
                crate::text::inert(name),
                self.names().join(", ")
            )
        })?;
        let f = &file.files;
        Ok(Profile {
            name: name.to_string(),
            min_abi: file.min_abi.unwrap_or(1),
            read_write: f.read_write.clone().unwrap_or_default(),
            read_only: f.read_only.clone().unwrap_or_default(),
            devices: f.devices.clone().unwrap_or_default(),
            except: f.except.clone().unwrap_or_default(),
            never: f.never.clone().unwrap_or_default(),
            tcp_connect: file.network.tcp_connect.clone().unwrap_or_default(),
            udp: file.network.udp.unwrap_or(false),
            env_unset: file.env.unset.clone().unwrap_or_default(),
        })
    }
}

/// What the placeholders of a profile stand for on this run.
#[derive(Debug, Clone)]
pub struct Places {
    pub cwd: PathBuf,
    pub tmp: PathBuf,
    pub exe: PathBuf,
    pub home: PathBuf,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

/// A profile with every path made concrete: what the sandbox enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub profile: String,
    pub min_abi: u32,
    pub read_write: Vec<PathBuf>,
    pub read_only: Vec<PathBuf>,
    pub devices: Vec<PathBuf>,
    pub except: Vec<PathBuf>,
    pub never: Vec<PathBuf>,
    pub tcp_connect: Vec<u16>,
    pub udp: bool,
    pub env_unset: Vec<String>,
    /// Where the cockpits' broker sockets are: the only unix sockets the
    /// agent may connect to.
    pub broker_dir: PathBuf,
    /// The home directory: a symlink into it is never followed when a tree
    /// is granted entry by entry.
    pub home: PathBuf,
}

impl Profile {
    pub fn expand(&self, places: &Places, broker_dir: &Path) -> Rules {
        let paths = |list: &[String]| list.iter().map(|p| expand_path(p, places)).collect();
        let mut ports = self.tcp_connect.clone();
        ports.sort_unstable();
        ports.dedup();
        Rules {
            profile: self.name.clone(),
            min_abi: self.min_abi,
            read_write: paths(&self.read_write),
            read_only: paths(&self.read_only),
            devices: paths(&self.devices),
            except: paths(&self.except),
            never: paths(&self.never),
            tcp_connect: ports,
            udp: self.udp,
            env_unset: self.env_unset.clone(),
            broker_dir: broker_dir.to_path_buf(),
            home: places.home.clone(),
        }
    }
}

fn expand_path(text: &str, places: &Places) -> PathBuf {
    let replaced = [
        ("{cwd}", &places.cwd),
        ("{tmp}", &places.tmp),
        ("{exe}", &places.exe),
        ("{config_dir}", &places.config_dir),
        ("{data_dir}", &places.data_dir),
    ]
    .iter()
    .fold(text.to_string(), |acc, (key, value)| {
        acc.replace(key, &value.to_string_lossy())
    });
    match replaced.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            places.home.join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(replaced),
    }
}

impl Rules {
    /// `--allow-path P[:rw]` (read-only unless `:rw`; relative to the cwd).
    pub fn allow_path(&mut self, spec: &str, cwd: &Path) {
        let (path, rw) = match spec.strip_suffix(":rw") {
            Some(p) => (p, true),
            None => (spec.strip_suffix(":ro").unwrap_or(spec), false),
        };
        let path = cwd.join(path);
        if rw {
            self.read_write.push(path);
        } else {
            self.read_only.push(path);
        }
    }

    pub fn allow_port(&mut self, port: u16) {
        if !self.tcp_connect.contains(&port) {
            self.tcp_connect.push(port);
            self.tcp_connect.sort_unstable();
        }
    }

    /// The rules as `--print-profile` shows them.
    pub fn render(&self) -> String {
        let list = |paths: &[PathBuf]| {
            if paths.is_empty() {
                "  (none)\n".to_string()
            } else {
                paths
                    .iter()
                    .map(|p| format!("  {}\n", p.display()))
                    .collect()
            }
        };
        let ports: Vec<String> = self.tcp_connect.iter().map(u16::to_string).collect();
        format!(
            "profile {name} (Landlock ABI {abi} or newer)\n\
             read-write:\n{rw}read-only:\n{ro}devices (read, write, ioctl):\n{dev}\
             left out of the trees above:\n{except}never reachable (refuses to start if a rule covers one):\n{never}\
             tcp connect: {ports}\nudp: {udp}\ntcp bind: denied\n\
             unix sockets: only {broker}/*.sock (the cockpits' gate; the dir may be listed)\n\
             environment removed: {env} and the secrets config.toml names\n",
            name = self.profile,
            abi = self.min_abi,
            rw = list(&self.read_write),
            ro = list(&self.read_only),
            dev = list(&self.devices),
            except = list(&self.except),
            never = list(&self.never),
            ports = if ports.is_empty() {
                "none".to_string()
            } else {
                ports.join(", ")
            },
            udp = if self.udp {
                "open (DNS; not restricted by the kernel)"
            } else {
                "denied"
            },
            broker = self.broker_dir.display(),
            env = self.env_unset.join(" "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places() -> Places {
        Places {
            cwd: "/work/p".into(),
            tmp: "/tmp/a".into(),
            exe: "/bin/oc".into(),
            home: "/home/u".into(),
            config_dir: "/home/u/.config/opscockpit".into(),
            data_dir: "/home/u/.local/share/opscockpit".into(),
        }
    }

    #[test]
    fn shipped_profiles_parse_and_extend_generic() {
        let set = ProfileSet::load(None).expect("profiles");
        assert_eq!(set.names(), ["claude", "codex", "generic"]);
        let claude = set.get("claude").expect("claude");
        let generic = set.get("generic").expect("generic");
        assert_eq!(claude.read_only, generic.read_only);
        assert!(claude.read_write.contains(&"~/.claude".to_string()));
        assert!(claude.udp && !generic.udp);
        assert_eq!(generic.tcp_connect, [443]);
        assert_eq!(claude.min_abi, 4);
    }

    #[test]
    fn placeholders_expand() {
        let set = ProfileSet::load(None).expect("profiles");
        let rules = set
            .get("claude")
            .expect("claude")
            .expand(&places(), Path::new("/run/oc"));
        assert!(rules.read_write.contains(&PathBuf::from("/work/p")));
        assert!(rules.read_write.contains(&PathBuf::from("/home/u/.claude")));
        assert!(rules.never.contains(&PathBuf::from("/home/u/.ssh")));
        assert!(
            rules
                .never
                .contains(&PathBuf::from("/home/u/.config/opscockpit"))
        );
        assert!(rules.read_only.contains(&PathBuf::from("/bin/oc")));
    }

    #[test]
    fn user_profile_is_laid_over_and_errors_name_file_line_key() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("claude.toml"),
            "[network]\ntcp_connect = [443, 8443]\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("mine.toml"), "extends = \"codex\"\n").expect("write");
        let set = ProfileSet::load(Some(dir.path())).expect("profiles");
        let claude = set.get("claude").expect("claude");
        assert_eq!(claude.tcp_connect, [443, 8443]);
        assert!(claude.read_write.contains(&"~/.claude".to_string()));
        assert!(
            set.get("mine")
                .expect("mine")
                .read_write
                .contains(&"~/.codex".to_string())
        );
        std::fs::write(
            dir.path().join("bad.toml"),
            "min_abi = 4\n[network]\ntcp_conect = [1]\n",
        )
        .expect("write");
        let err = ProfileSet::load(Some(dir.path())).expect_err("malformed");
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("network.tcp_conect"));
        assert!(err.file.ends_with("bad.toml"), "{err}");
    }

    #[test]
    fn allow_path_and_port() {
        let set = ProfileSet::load(None).expect("profiles");
        let mut rules = set
            .get("generic")
            .expect("generic")
            .expand(&places(), Path::new("/run/oc"));
        rules.allow_path("data:rw", Path::new("/work/p"));
        rules.allow_path("/srv/ro", Path::new("/work/p"));
        rules.allow_port(8080);
        assert!(rules.read_write.contains(&PathBuf::from("/work/p/data")));
        assert!(rules.read_only.contains(&PathBuf::from("/srv/ro")));
        assert_eq!(rules.tcp_connect, [443, 8080]);
        assert!(rules.render().contains("tcp connect: 443, 8080"));
    }
}
