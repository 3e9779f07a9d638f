//! A byte stream the supervisor can cut. A peer that is frozen or behind a
//! dead network path never closes its end: russh's session task may then
//! wait forever on a write the kernel cannot deliver. Cutting the stream
//! makes every pending and later read or write fail at once, so the session
//! ends, its channels close (a running command ends `Unknown`) and the
//! socket is released, exactly as for a clean drop.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

pub struct Severable<S> {
    inner: S,
    cut: CancellationToken,
    // One waiter per direction: russh reads and writes from different
    // futures, and a waiter remembers only the last task that polled it.
    read_cut: Pin<Box<WaitForCancellationFutureOwned>>,
    write_cut: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<S> Severable<S> {
    pub fn new(inner: S, cut: CancellationToken) -> Self {
        Self {
            inner,
            read_cut: Box::pin(cut.clone().cancelled_owned()),
            write_cut: Box::pin(cut.clone().cancelled_owned()),
            cut,
        }
    }
}

fn severed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the link was declared dead and cut",
    )
}

/// Ready when the stream has been cut; otherwise registers the task to be
/// woken when it is.
fn is_cut(
    cut: &CancellationToken,
    waiter: &mut Pin<Box<WaitForCancellationFutureOwned>>,
    cx: &mut Context<'_>,
) -> bool {
    cut.is_cancelled() || waiter.as_mut().poll(cx).is_ready()
}

impl<S: AsyncRead + Unpin> AsyncRead for Severable<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if is_cut(&this.cut, &mut this.read_cut, cx) {
            return Poll::Ready(Err(severed()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Severable<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if is_cut(&this.cut, &mut this.write_cut, cx) {
            return Poll::Ready(Err(severed()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if is_cut(&this.cut, &mut this.write_cut, cx) {
            return Poll::Ready(Err(severed()));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.cut.is_cancelled() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_read_waiting_on_a_silent_peer_fails_when_cut() {
        // The other end stays open and says nothing, like a frozen host.
        let (ours, _silent_peer) = tokio::io::duplex(64);
        let cut = CancellationToken::new();
        let mut stream = Severable::new(ours, cut.clone());
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            stream.read(&mut buf).await
        });
        tokio::task::yield_now().await;
        assert!(!reader.is_finished(), "read returned with nothing sent");
        cut.cancel();
        let result = tokio::time::timeout(std::time::Duration::from_secs(5), reader)
            .await
            .expect("cut did not wake the reader")
            .expect("reader task");
        assert_eq!(
            result.expect_err("read after cut").kind(),
            io::ErrorKind::ConnectionAborted
        );
    }

    #[tokio::test]
    async fn a_write_blocked_on_a_full_buffer_fails_when_cut() {
        let (ours, _silent_peer) = tokio::io::duplex(16);
        let cut = CancellationToken::new();
        let mut stream = Severable::new(ours, cut.clone());
        let writer = tokio::spawn(async move { stream.write_all(&[0u8; 1024]).await });
        tokio::task::yield_now().await;
        assert!(!writer.is_finished(), "1 KiB fitted into a 16-byte pipe");
        cut.cancel();
        let result = tokio::time::timeout(std::time::Duration::from_secs(5), writer)
            .await
            .expect("cut did not wake the writer")
            .expect("writer task");
        assert!(result.is_err());
    }

    #[tokio::test]
    async fn an_uncut_stream_passes_bytes_both_ways() {
        let (ours, mut peer) = tokio::io::duplex(64);
        let mut stream = Severable::new(ours, CancellationToken::new());
        stream.write_all(b"ping").await.expect("write");
        let mut buf = [0u8; 4];
        peer.read_exact(&mut buf).await.expect("peer read");
        assert_eq!(&buf, b"ping");
        peer.write_all(b"pong").await.expect("peer write");
        stream.read_exact(&mut buf).await.expect("read");
        assert_eq!(&buf, b"pong");
    }
}
