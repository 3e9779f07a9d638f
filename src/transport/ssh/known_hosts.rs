//! known_hosts checking of our own, matching OpenSSH where it matters for
//! trust: user and global files, hashed `|1|` names, `[host]:port`, several
//! keys per host, `*`/`?`/`!` patterns, `@revoked` (refused) and
//! `@cert-authority` (parsed; trusted only for host certificates). Fields
//! may be separated by any run of blanks.

use std::io::Write;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use hmac::{Hmac, KeyInit, Mac};
use russh::keys::ssh_key::{self, HashAlg, PublicKey};
use sha1::Sha1;

use super::pattern::{ListMatch, match_list};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    None,
    Revoked,
    CertAuthority,
}

/// How the names of an entry are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostField {
    /// Comma-separated patterns (may contain `*`, `?`, `!`).
    Patterns(Vec<String>),
    /// `|1|salt|hash`: HMAC-SHA1 of the name, keyed with the salt.
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

impl HostField {
    fn matches(&self, name: &str) -> ListMatch {
        match self {
            HostField::Patterns(patterns) => match_list(patterns.iter().map(String::as_str), name),
            HostField::Hashed { salt, hash } => {
                if hmac_sha1(salt, name).as_slice() == hash.as_slice() {
                    ListMatch::Match
                } else {
                    ListMatch::NoMatch
                }
            }
        }
    }
}

/// One usable line of a known_hosts file.
#[derive(Debug, Clone)]
pub struct Entry {
    pub file: PathBuf,
    /// 1-based, as editors and OpenSSH count.
    pub line: usize,
    pub marker: Marker,
    pub hosts: HostField,
    pub key: PublicKey,
}

/// A line that could not be understood (kept so a user can be told;
/// OpenSSH skips such lines too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub file: PathBuf,
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    pub entries: Vec<Entry>,
    pub bad_lines: Vec<BadLine>,
}

/// What known_hosts says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    Known,
    /// No entry for this host and key type.
    Unknown,
    /// The host is known with another key of the same type.
    Changed {
        file: PathBuf,
        line: usize,
    },
    /// The key is marked `@revoked`.
    Revoked {
        file: PathBuf,
        line: usize,
    },
}

impl KnownHosts {
    /// Reads every file that exists (missing files are normal: OpenSSH lists
    /// `known_hosts2` and global files that few systems have).
    pub fn load(files: &[PathBuf]) -> Self {
        let mut known = KnownHosts::default();
        for file in files {
            if let Ok(text) = std::fs::read_to_string(file) {
                known.add_text(file, &text);
            }
        }
        known
    }

    pub fn add_text(&mut self, file: &Path, text: &str) {
        for (index, raw) in text.lines().enumerate() {
            match parse_line(raw) {
                Ok(Some((marker, hosts, key))) => self.entries.push(Entry {
                    file: file.to_path_buf(),
                    line: index + 1,
                    marker,
                    hosts,
                    key,
                }),
                Ok(None) => {}
                Err(reason) => self.bad_lines.push(BadLine {
                    file: file.to_path_buf(),
                    line: index + 1,
                    reason,
                }),
            }
        }
    }

    fn host_matches(entry: &Entry, names: &[String]) -> bool {
        let mut matched = false;
        for name in names {
            match entry.hosts.matches(name) {
                ListMatch::Negated => return false,
                ListMatch::Match => matched = true,
                ListMatch::NoMatch => {}
            }
        }
        matched
    }

    /// Checks a plain host key presented by the server for any of `names`
    /// (the name as looked up: `host` for port 22, else `[host]:port`).
    pub fn check(&self, names: &[String], key: &PublicKey) -> HostKeyStatus {
        // A revoked key is refused for every host, whatever its patterns.
        if let Some(revoked) = self
            .entries
            .iter()
            .find(|e| e.marker == Marker::Revoked && same_key(&e.key, key))
        {
            return HostKeyStatus::Revoked {
                file: revoked.file.clone(),
                line: revoked.line,
            };
        }
        let mut changed: Option<&Entry> = None;
        for entry in self
            .entries
            .iter()
            .filter(|e| e.marker == Marker::None && Self::host_matches(e, names))
        {
            if same_key(&entry.key, key) {
                return HostKeyStatus::Known;
            }
            if changed.is_none() && entry.key.algorithm() == key.algorithm() {
                changed = Some(entry);
            }
        }
        match changed {
            Some(entry) => HostKeyStatus::Changed {
                file: entry.file.clone(),
                line: entry.line,
            },
            None => HostKeyStatus::Unknown,
        }
    }

    /// Checks a host certificate: signed by an `@cert-authority` for the
    /// host, a host certificate, valid now, naming `hostname` among its
    /// principals (when it lists any); neither it nor its CA revoked.
    pub fn check_certificate(
        &self,
        names: &[String],
        hostname: &str,
        cert: &ssh_key::Certificate,
    ) -> HostKeyStatus {
        let ca = PublicKey::from(cert.signature_key().clone());
        let subject = PublicKey::from(cert.public_key().clone());
        for key in [&ca, &subject] {
            if let HostKeyStatus::Revoked { file, line } = self.check(&[], key) {
                return HostKeyStatus::Revoked { file, line };
            }
        }
        let trusted = self.entries.iter().any(|e| {
            e.marker == Marker::CertAuthority
                && Self::host_matches(e, names)
                && same_key(&e.key, &ca)
        });
        let ca_fingerprint = ca.fingerprint(HashAlg::Sha256);
        let principals = cert.valid_principals();
        let valid = cert.cert_type() == ssh_key::certificate::CertType::Host
            && cert.validate([&ca_fingerprint]).is_ok()
            && (principals.is_empty()
                || principals.iter().any(|p| p.eq_ignore_ascii_case(hostname)));
        if trusted && valid {
            HostKeyStatus::Known
        } else {
            // As OpenSSH: the certified key may still be known by itself.
            self.check(names, &subject)
        }
    }

    /// Whether an `@cert-authority` line covers these names (then host
    /// certificates are asked for in key exchange).
    pub fn has_cert_authority(&self, names: &[String]) -> bool {
        self.entries
            .iter()
            .any(|e| e.marker == Marker::CertAuthority && Self::host_matches(e, names))
    }

    /// Key algorithms known for these names, in file order (to prefer them
    /// in key exchange, as OpenSSH does, so a known host is not asked about
    /// a second key type).
    pub fn known_algorithms(&self, names: &[String]) -> Vec<ssh_key::Algorithm> {
        let mut out = Vec::new();
        for e in &self.entries {
            if e.marker == Marker::None
                && Self::host_matches(e, names)
                && !out.contains(&e.key.algorithm())
            {
                out.push(e.key.algorithm());
            }
        }
        out
    }
}

fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    a.key_data() == b.key_data()
}

type ParsedLine = (Marker, HostField, PublicKey);

/// Parses one line: `[@marker] hosts keytype base64 [comment]`.
/// `Ok(None)` for blank lines and comments.
pub fn parse_line(raw: &str) -> Result<Option<ParsedLine>, String> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.split_ascii_whitespace();
    let mut first = fields.next().ok_or("empty line")?;
    let marker = if let Some(m) = first.strip_prefix('@') {
        let marker = match m {
            "revoked" => Marker::Revoked,
            "cert-authority" => Marker::CertAuthority,
            other => return Err(format!("unknown marker @{other}")),
        };
        first = fields.next().ok_or("marker without host patterns")?;
        marker
    } else {
        Marker::None
    };
    let hosts = parse_hosts(first)?;
    let key_type = fields.next().ok_or("missing key type")?;
    let key_b64 = fields.next().ok_or("missing key")?;
    let key = PublicKey::from_openssh(&format!("{key_type} {key_b64}"))
        .map_err(|e| format!("bad {key_type} key: {e}"))?;
    Ok(Some((marker, hosts, key)))
}

fn parse_hosts(field: &str) -> Result<HostField, String> {
    if let Some(rest) = field.strip_prefix("|1|") {
        let (salt, hash) = rest.split_once('|').ok_or("hashed name without hash")?;
        let salt = BASE64
            .decode(salt.as_bytes())
            .map_err(|_| "hashed name: bad salt")?;
        let hash = BASE64
            .decode(hash.as_bytes())
            .map_err(|_| "hashed name: bad hash")?;
        if salt.len() != 20 || hash.len() != 20 {
            return Err("hashed name: salt and hash must be 20 bytes".into());
        }
        return Ok(HostField::Hashed { salt, hash });
    }
    if field.starts_with('|') {
        return Err("unsupported hashed name format".into());
    }
    let patterns: Vec<String> = field
        .split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if patterns.is_empty() {
        return Err("no host patterns".into());
    }
    Ok(HostField::Patterns(patterns))
}

fn hmac_sha1(key: &[u8], text: &str) -> Vec<u8> {
    match Hmac::<Sha1>::new_from_slice(key) {
        Ok(mac) => mac
            .chain_update(text.as_bytes())
            .finalize()
            .into_bytes()
            .to_vec(),
        // HMAC takes keys of any length; keep the type total anyway.
        Err(_) => Vec::new(),
    }
}

/// The name under which OpenSSH records a host: bare for port 22, else
/// `[host]:port`.
pub fn lookup_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// SHA256 fingerprint as OpenSSH prints it (`SHA256:…`).
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The line to append for `name` and `key`, hashed when asked.
pub fn entry_line(name: &str, key: &PublicKey, hashed: bool) -> Result<String, String> {
    let key_text = key
        .to_openssh()
        .map_err(|e| format!("encoding the host key: {e}"))?;
    // `to_openssh` includes the comment, if any: keep type and base64 only.
    let mut parts = key_text.split_ascii_whitespace();
    let (Some(kind), Some(b64)) = (parts.next(), parts.next()) else {
        return Err("encoding the host key: unexpected format".into());
    };
    let host = if hashed {
        let mut salt = [0u8; 20];
        getrandom::fill(&mut salt).map_err(|e| format!("random salt: {e}"))?;
        let hash = hmac_sha1(&salt, name);
        format!("|1|{}|{}", BASE64.encode(&salt), BASE64.encode(&hash))
    } else {
        name.to_string()
    };
    Ok(format!("{host} {kind} {b64}"))
}

/// Appends one line to `file` (created with its directory when missing),
/// adding a newline first if the file does not end with one.
pub fn append_entry(file: &Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let needs_newline = match std::fs::read(file) {
        Ok(bytes) => !bytes.is_empty() && !bytes.ends_with(b"\n"),
        Err(_) => false,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    let mut text = String::new();
    if needs_newline {
        text.push('\n');
    }
    text.push_str(line);
    text.push('\n');
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGLZk5Vz+I4jpQmWIKJLe89jYV3blnefybRTTc/phmtw";
    const ED2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPMfGTx/qFt81KQJOLzCmhEL06PgpeWfSrj5S3Hr89uq";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBND4E5g6XyYgr9GDLIWE9WNbbdhauZz0OYuXAYWh23UDLKzg0n1PBd0H2Acjx4JZbYWS9yw15bHBQRD7b/R5rso=";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).expect("test key")
    }

    fn known(text: &str) -> KnownHosts {
        let mut k = KnownHosts::default();
        k.add_text(Path::new("/kh"), text);
        k
    }

    fn names(n: &str) -> Vec<String> {
        vec![n.to_string()]
    }

    #[test]
    fn plain_and_port_entries() {
        let k = known(&format!("host.lan {ED1}\n[host.lan]:2222 {ED2}\n"));
        assert_eq!(k.check(&names("host.lan"), &key(ED1)), HostKeyStatus::Known);
        assert_eq!(
            k.check(&names("[host.lan]:2222"), &key(ED2)),
            HostKeyStatus::Known
        );
        // Port entries do not answer for port 22 and vice versa.
        assert_eq!(
            k.check(&names("[host.lan]:2222"), &key(ED1)),
            HostKeyStatus::Changed {
                file: "/kh".into(),
                line: 2
            }
        );
        assert_eq!(k.check(&names("other"), &key(ED1)), HostKeyStatus::Unknown);
    }

    #[test]
    fn several_keys_and_tabs() {
        let k = known(&format!(
            "# comment\n\n  h1,h2\t{}\nh1   {ECDSA}   a comment\n",
            ED1.replace(' ', "\t \t")
        ));
        assert_eq!(k.check(&names("h2"), &key(ED1)), HostKeyStatus::Known);
        assert_eq!(k.check(&names("h1"), &key(ECDSA)), HostKeyStatus::Known);
        assert!(k.bad_lines.is_empty(), "{:?}", k.bad_lines);
    }

    #[test]
    fn changed_names_the_line() {
        let k = known(&format!("a {ECDSA}\nh {ED1}\n"));
        assert_eq!(
            k.check(&names("h"), &key(ED2)),
            HostKeyStatus::Changed {
                file: "/kh".into(),
                line: 2
            }
        );
        // Another key type known only: unknown, not changed.
        let k = known(&format!("h {ECDSA}\n"));
        assert_eq!(k.check(&names("h"), &key(ED1)), HostKeyStatus::Unknown);
    }

    #[test]
    fn wildcards_and_negation() {
        let k = known(&format!("*.lan,!evil.lan {ED1}\n10.0.0.? {ED2}\n"));
        assert_eq!(k.check(&names("web.lan"), &key(ED1)), HostKeyStatus::Known);
        assert_eq!(
            k.check(&names("evil.lan"), &key(ED1)),
            HostKeyStatus::Unknown
        );
        assert_eq!(k.check(&names("10.0.0.7"), &key(ED2)), HostKeyStatus::Known);
        assert_eq!(
            k.check(&names("10.0.0.17"), &key(ED2)),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn hashed_entries_round_trip() {
        let line = entry_line("[127.0.0.1]:2222", &key(ED1), true).expect("line");
        assert!(line.starts_with("|1|"), "{line}");
        assert!(!line.contains("127.0.0.1"));
        let k = known(&line);
        assert_eq!(
            k.check(&names("[127.0.0.1]:2222"), &key(ED1)),
            HostKeyStatus::Known
        );
        assert_eq!(
            k.check(&names("[127.0.0.1]:2223"), &key(ED1)),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn hashed_entry_from_ssh_keygen() {
        // `ssh-keygen -H` output for host "example.org".
        let k = known(&format!(
            "|1|L1EchF6yRttuNTKzoW0X7ecAQ+g=|/U1F+MdnXQAWZc7bJYe6l6LxjN8= {ED1}\n"
        ));
        assert_eq!(
            k.check(&names("example.org"), &key(ED1)),
            HostKeyStatus::Known
        );
        assert_eq!(
            k.check(&names("example.com"), &key(ED1)),
            HostKeyStatus::Unknown
        );
        // A salt of the wrong size is rejected, not misread.
        let k = known(&format!("|1|AAAA|/U1F+MdnXQAWZc7bJYe6l6LxjN8= {ED1}\n"));
        assert_eq!((k.entries.len(), k.bad_lines.len()), (0, 1));
    }

    #[test]
    fn revoked_wins_everywhere() {
        let k = known(&format!("h {ED1}\n@revoked * {ED1}\n"));
        assert_eq!(
            k.check(&names("h"), &key(ED1)),
            HostKeyStatus::Revoked {
                file: "/kh".into(),
                line: 2
            }
        );
    }

    #[test]
    fn cert_authority_lines_are_not_host_keys() {
        let k = known(&format!("@cert-authority *.lan {ED1}\n"));
        assert_eq!(k.entries.len(), 1);
        assert_eq!(k.entries[0].marker, Marker::CertAuthority);
        assert_eq!(k.check(&names("a.lan"), &key(ED1)), HostKeyStatus::Unknown);
    }

    #[test]
    fn malformed_lines_are_reported_and_skipped() {
        let k = known(&format!(
            "@bogus h {ED1}\nh\nh ssh-ed25519\nh ssh-ed25519 !!!notbase64\n|2|x|y {ED1}\n|1|AAAA {ED1}\n@revoked\nok {ED1}\n"
        ));
        assert_eq!(k.entries.len(), 1);
        assert_eq!(k.bad_lines.len(), 7, "{:?}", k.bad_lines);
        assert_eq!(k.bad_lines[0].line, 1);
    }

    #[test]
    fn lookup_names() {
        assert_eq!(lookup_name("h", 22), "h");
        assert_eq!(lookup_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    #[test]
    fn append_adds_missing_newline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("sub/known_hosts");
        append_entry(&file, "a x").expect("append");
        std::fs::write(&file, "a x").expect("rewrite");
        append_entry(&file, "b y").expect("append");
        assert_eq!(std::fs::read_to_string(&file).expect("read"), "a x\nb y\n");
    }
}
