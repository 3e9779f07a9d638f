//! Release builds for x86_64 Linux lay out the code a running cockpit
//! executes side by side (`assets/text-order.txt`, made by `bench/text-order`
//! from a callgrind run on the bed): the kernel maps code 64 KB around every
//! page touched, so with the executed functions spread over the whole text
//! segment an idle cockpit kept 9.4 of its 11 MB of code resident. Names the
//! file lists that a build no longer has are skipped; a stale file only
//! costs memory, never correctness.
//!
//! Only where rust-lld links (the default for x86_64-unknown-linux-gnu from
//! Rust 1.90): GNU ld knows no `--symbol-ordering-file`.
//! `OPSCOCKPIT_NO_TEXT_ORDER=1` leaves it out.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=assets/text-order.txt");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=OPSCOCKPIT_NO_TEXT_ORDER");
    let env = |key: &str| std::env::var(key).unwrap_or_default();
    let wanted = env("PROFILE") == "release"
        && env("TARGET") == "x86_64-unknown-linux-gnu"
        && std::env::var_os("OPSCOCKPIT_NO_TEXT_ORDER").is_none();
    if !wanted || !links_with_rust_lld(&env("RUSTC")) {
        return;
    }
    let order = Path::new(&env("CARGO_MANIFEST_DIR")).join("assets/text-order.txt");
    if order.is_file() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// rustc 1.90 or newer, which links x86_64 Linux with its own lld.
fn links_with_rust_lld(rustc: &str) -> bool {
    let rustc = if rustc.is_empty() { "rustc" } else { rustc };
    let Ok(out) = Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let minor = text
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
        .and_then(|v| v.split('.').nth(1))
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 90)
}
