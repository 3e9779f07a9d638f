//! A userland TCP proxy for tests of silent links: it can delay every chunk
//! (a long path) or stop forwarding without closing anything (a blackhole).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::sshd::OwnSshd;

/// known_hosts for reaching `sshd` through `proxy` (another port).
pub fn trust_proxy(dir: &Path, sshd: &OwnSshd, proxy: &Proxy) -> PathBuf {
    let known = std::fs::read_to_string(dir.join("known_hosts")).expect("known_hosts");
    let through = dir.join("known_hosts_proxy");
    std::fs::write(
        &through,
        known.replace(
            &format!("[127.0.0.1]:{}", sshd.port),
            &format!("[127.0.0.1]:{}", proxy.port),
        ),
    )
    .expect("known_hosts for the proxy");
    through
}

/// A userland TCP proxy in front of the test's sshd: it can delay every
/// chunk (a long path) or stop forwarding without closing anything (a
/// blackhole: packets dropped somewhere on the way).
pub struct Proxy {
    pub port: u16,
    blackholed: Arc<AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(to: u16, one_way_delay: Duration) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let blackholed = Arc::new(AtomicBool::new(false));
        let flag = blackholed.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, one_way_delay, flag.clone()));
                tokio::spawn(pump(server_read, client_write, one_way_delay, flag.clone()));
            }
        });
        Proxy {
            port,
            blackholed,
            accept,
        }
    }

    pub fn blackhole(&self, on: bool) {
        self.blackholed.store(on, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies one direction. While blackholed nothing is read or written (the
/// connection stays open, the buffers fill); a chunk read before is held,
/// not delivered, until the path clears.
pub async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    blackholed: Arc<AtomicBool>,
) {
    let hold = || async {
        while blackholed.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        hold().await;
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        hold().await;
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
