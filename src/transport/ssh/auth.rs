//! User authentication: the agent first (SSH_AUTH_SOCK or IdentityAgent),
//! then each IdentityFile (with its certificate when one is present). RSA
//! signs with the best hash the server accepts. An encrypted key asks for
//! its passphrase (three tries); decrypted keys are kept in memory for
//! reconnects so the user is never asked again mid-session.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use russh::client::{AuthResult, Handle, Handler};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::key::PrivateKeyWithHashAlg;
use russh::keys::ssh_key::{Certificate, HashAlg, PrivateKey, PublicKey};

use super::known_hosts::fingerprint;
use super::prompt::Prompter;
use super::resolve::SshTarget;

/// Passphrase attempts per key, as OpenSSH.
const PASSPHRASE_TRIES: u32 = 3;

/// Keys decrypted during this run (memory only, never written anywhere).
#[derive(Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<PathBuf, Arc<PrivateKey>>>,
}

impl KeyCache {
    fn get(&self, path: &Path) -> Option<Arc<PrivateKey>> {
        self.keys.lock().ok()?.get(path).cloned()
    }

    fn put(&self, path: &Path, key: Arc<PrivateKey>) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(path.to_path_buf(), key);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub message: String,
}

/// Tries every method in order; on failure the error lists what was tried.
pub async fn authenticate<H: Handler>(
    handle: &mut Handle<H>,
    target: &SshTarget,
    prompter: Option<&Arc<dyn Prompter>>,
    cache: &KeyCache,
) -> Result<(), AuthError> {
    let user = target.user.clone();
    let rsa_hash: Option<HashAlg> = match handle.best_supported_rsa_hash().await {
        Ok(h) => h.flatten(),
        Err(_) => Some(HashAlg::Sha512),
    };
    let mut tried: Vec<String> = Vec::new();
    // Keys already offered (through the agent): not offered again from
    // their file, and their passphrase is not asked for.
    let mut offered: Vec<PublicKey> = Vec::new();
    let mut server_methods = String::new();
    let note_failure = |result: &AuthResult, server_methods: &mut String| {
        if let AuthResult::Failure {
            remaining_methods, ..
        } = result
        {
            let names: Vec<&str> = remaining_methods.iter().map(<&str>::from).collect();
            *server_methods = names.join(",");
        }
    };

    // Public halves of the identity files, for IdentitiesOnly filtering.
    let file_publics: Vec<PublicKey> = target
        .identity_files
        .iter()
        .filter_map(|p| public_key_of(p))
        .collect();

    if let Some(sock) = &target.identity_agent {
        match AgentClient::connect_uds(sock).await {
            Err(e) => tried.push(format!("agent {} (unreachable: {e})", sock.display())),
            Ok(mut agent) => match agent.request_identities().await {
                Err(e) => tried.push(format!("agent {} (error: {e})", sock.display())),
                Ok(identities) if identities.is_empty() => {
                    tried.push(format!("agent {} (no keys)", sock.display()))
                }
                Ok(identities) => {
                    for identity in identities {
                        let public = identity.public_key().into_owned();
                        if target.identities_only
                            && !file_publics
                                .iter()
                                .any(|k| k.key_data() == public.key_data())
                        {
                            continue;
                        }
                        let label = format!("agent key {}", fingerprint(&public));
                        offered.push(public.clone());
                        let hash = if public.algorithm().is_rsa() {
                            rsa_hash
                        } else {
                            None
                        };
                        let result = match identity {
                            AgentIdentity::PublicKey { key, .. } => {
                                handle
                                    .authenticate_publickey_with(&user, key, hash, &mut agent)
                                    .await
                            }
                            AgentIdentity::Certificate { certificate, .. } => {
                                handle
                                    .authenticate_certificate_with(
                                        &user,
                                        certificate,
                                        hash,
                                        &mut agent,
                                    )
                                    .await
                            }
                        };
                        match result {
                            Ok(AuthResult::Success) => return Ok(()),
                            Ok(failure) => {
                                note_failure(&failure, &mut server_methods);
                                tried.push(format!("{label} (rejected)"));
                            }
                            Err(e) => tried.push(format!("{label} (agent error: {e})")),
                        }
                    }
                }
            },
        }
    }

    for path in &target.identity_files {
        if let Some(public) = public_key_of(path)
            && offered.iter().any(|k| k.key_data() == public.key_data())
        {
            continue;
        }
        let key = match load_key(path, target, prompter, cache).await {
            Ok(Some(key)) => key,
            Ok(None) => continue, // missing default key files are normal
            Err(reason) => {
                tried.push(format!("{} ({reason})", path.display()));
                continue;
            }
        };
        for cert in certificates_for(path, &key, target) {
            match handle
                .authenticate_openssh_cert(&user, key.clone(), cert)
                .await
            {
                Ok(AuthResult::Success) => return Ok(()),
                Ok(failure) => {
                    note_failure(&failure, &mut server_methods);
                    tried.push(format!("{} certificate (rejected)", path.display()));
                }
                Err(e) => tried.push(format!("{} certificate ({e})", path.display())),
            }
        }
        let hash = if key.algorithm().is_rsa() {
            rsa_hash
        } else {
            None
        };
        match handle
            .authenticate_publickey(&user, PrivateKeyWithHashAlg::new(key, hash))
            .await
        {
            Ok(AuthResult::Success) => return Ok(()),
            Ok(failure) => {
                note_failure(&failure, &mut server_methods);
                tried.push(format!("{} (rejected)", path.display()));
            }
            Err(e) => tried.push(format!("{} ({e})", path.display())),
        }
    }

    if target.identity_agent.is_none() {
        tried.insert(
            0,
            "no agent (SSH_AUTH_SOCK unset or IdentityAgent none)".into(),
        );
    }
    let tried = if tried.is_empty() {
        "nothing (no agent, no identity file found)".to_string()
    } else {
        tried.join(", ")
    };
    let server = if server_methods.is_empty() {
        String::new()
    } else {
        format!("; the server accepts: {server_methods}")
    };
    Err(AuthError {
        message: format!(
            "authentication failed for {}: tried {tried}{server}. Add a key to the agent or set IdentityFile",
            target.describe()
        ),
    })
}

/// The public key next to a private key file (`path.pub`), or from the
/// private key itself when that is not encrypted.
fn public_key_of(path: &Path) -> Option<PublicKey> {
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    if let Ok(k) = russh::keys::load_public_key(PathBuf::from(pub_path)) {
        return Some(k);
    }
    russh::keys::load_secret_key(path, None)
        .ok()
        .map(|k| k.public_key().clone())
}

/// Loads a private key, asking for its passphrase if needed. `Ok(None)`
/// when the file does not exist.
async fn load_key(
    path: &Path,
    target: &SshTarget,
    prompter: Option<&Arc<dyn Prompter>>,
    cache: &KeyCache,
) -> Result<Option<Arc<PrivateKey>>, String> {
    if let Some(key) = cache.get(path) {
        return Ok(Some(key));
    }
    if !path.exists() {
        return Ok(None);
    }
    match russh::keys::load_secret_key(path, None) {
        Ok(key) => {
            let key = Arc::new(key);
            cache.put(path, key.clone());
            return Ok(Some(key));
        }
        Err(russh::keys::Error::KeyIsEncrypted) => {}
        Err(e) => return Err(format!("unreadable: {e}")),
    }
    let Some(prompter) = prompter.filter(|_| !target.batch_mode) else {
        return Err("encrypted; no terminal to ask for its passphrase".into());
    };
    for attempt in 1..=PASSPHRASE_TRIES {
        let asker = prompter.clone();
        let key_path = path.to_path_buf();
        let answer = tokio::task::spawn_blocking(move || asker.passphrase(&key_path, attempt))
            .await
            .ok()
            .flatten();
        let Some(passphrase) = answer else {
            return Err("encrypted; no passphrase given".into());
        };
        if let Ok(key) = russh::keys::load_secret_key(path, Some(&passphrase)) {
            let key = Arc::new(key);
            cache.put(path, key.clone());
            return Ok(Some(key));
        }
    }
    Err(format!("wrong passphrase {PASSPHRASE_TRIES} times"))
}

/// Certificates for this key: CertificateFile entries and `KEY-cert.pub`,
/// kept only when they certify this key.
fn certificates_for(path: &Path, key: &PrivateKey, target: &SshTarget) -> Vec<Certificate> {
    let mut candidates = target.certificate_files.clone();
    let mut default = path.as_os_str().to_owned();
    default.push("-cert.pub");
    candidates.push(PathBuf::from(default));
    let mut out: Vec<Certificate> = Vec::new();
    for file in candidates {
        if let Ok(cert) = russh::keys::load_openssh_certificate(&file)
            && cert.public_key() == key.public_key().key_data()
            && !out.iter().any(|c| c == &cert)
        {
            out.push(cert);
        }
    }
    out
}
