//! The OS keyring: service [`KEYRING_SERVICE`], one entry per user name.

use super::{KEYRING_SERVICE, Secret};
use crate::text::inert;

/// Sets up the platform's credential store once (unless the program chose
/// one already): Linux kernel keyutils (works headless), macOS Keychain,
/// Windows Credential Manager.
fn ensure_keyring_store() -> Result<(), String> {
    static STORE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    STORE
        .get_or_init(|| {
            if keyring_core::get_default_store().is_some() {
                return Ok(());
            }
            platform_store().map_err(|e| {
                format!(
                    "no OS keyring available on this machine ({e}); use password_env or password_cmd"
                )
            })
        })
        .clone()
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<(), String> {
    let store = linux_keyutils_keyring_store::Store::new().map_err(|e| e.to_string())?;
    keyring_core::set_default_store(store);
    Ok(())
}

/// A thread without a session keyring of its own (no `pam_keyinit`: services,
/// containers, `sudo`) falls back to the user-session keyring, where the
/// kernel refuses to link the key into the persistent keyring (EACCES), so
/// the keyutils store cannot save or find anything. Joining a fresh
/// anonymous session keyring fixes that; the key itself lives in the
/// per-user persistent keyring, which every session reaches. Affects the
/// calling thread only (credentials are per thread).
#[cfg(target_os = "linux")]
fn join_session_keyring_if_none() {
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    const KEY_SPEC_USER_SESSION_KEYRING: libc::c_long = -5;
    // SAFETY: keyctl with integer arguments and a null name pointer, as
    // keyctl(2) documents; no memory is handed to the kernel.
    unsafe {
        let get = |id: libc::c_long| libc::syscall(libc::SYS_keyctl, KEYCTL_GET_KEYRING_ID, id, 0);
        let session = get(KEY_SPEC_SESSION_KEYRING);
        if session < 0 || session == get(KEY_SPEC_USER_SESSION_KEYRING) {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_JOIN_SESSION_KEYRING,
                std::ptr::null::<libc::c_char>(),
            );
        }
    }
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<(), String> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(|e| e.to_string())?;
    keyring_core::set_default_store(store);
    Ok(())
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<(), String> {
    let store = windows_native_keyring_store::Store::new().map_err(|e| e.to_string())?;
    keyring_core::set_default_store(store);
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store() -> Result<(), String> {
    Err("this platform has no supported credential store".into())
}

/// The keyring entry (service [`KEYRING_SERVICE`], `user`) in the platform's
/// store, for reading here and for `opscockpit secret set`.
pub fn entry(user: &str) -> Result<keyring_core::Entry, String> {
    ensure_keyring_store()?;
    #[cfg(target_os = "linux")]
    join_session_keyring_if_none();
    keyring_core::Entry::new(KEYRING_SERVICE, user).map_err(|e| {
        format!(
            "the OS keyring refused entry {KEYRING_SERVICE}/{}: {}; use password_env or password_cmd",
            inert(user),
            error_text(&e)
        )
    })
}

/// Words for a keyring error that never carry secret bytes.
pub fn error_text(e: &keyring_core::Error) -> String {
    match e {
        keyring_core::Error::BadEncoding(_) => "the stored secret is not UTF-8".into(),
        keyring_core::Error::BadDataFormat(..) => "the stored secret is malformed".into(),
        keyring_core::Error::Ambiguous(_) => "more than one matching entry".into(),
        other => inert(&other.to_string()),
    }
}

pub fn password(user: &str) -> Result<Secret, String> {
    let entry = entry(user)?;
    match entry.get_password() {
        Ok(p) if !p.is_empty() => Ok(Secret::new(p)),
        Ok(_) => Err(format!(
            "the OS keyring entry {KEYRING_SERVICE}/{} is empty; store the password with `opscockpit secret set HOST`",
            inert(user)
        )),
        Err(keyring_core::Error::NoEntry) => Err(format!(
            "no password in the OS keyring for {KEYRING_SERVICE}/{}; store it with `opscockpit secret set HOST` (or use password_env or password_cmd)",
            inert(user)
        )),
        Err(e) => Err(format!(
            "the OS keyring failed: {}; use password_env or password_cmd",
            error_text(&e)
        )),
    }
}
