//! How a source hands its own typed events to whoever listens: a channel of
//! any type that wraps them (`From`). Sources name only their own event
//! type; the app's event type wraps them where it receives them.

use std::future::Future;

use tokio::sync::mpsc;

/// The receiving side is gone (the cockpit is shutting down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// Sends an event of type `T` into a channel of a type that wraps it.
pub trait Emit<T> {
    fn emit(&self, event: T) -> impl Future<Output = Result<(), Closed>> + Send + '_;
}

impl<E, T> Emit<T> for mpsc::Sender<E>
where
    E: From<T> + Send,
    T: Send + 'static,
{
    fn emit(&self, event: T) -> impl Future<Output = Result<(), Closed>> + Send + '_ {
        let wrapped = E::from(event);
        async move { self.send(wrapped).await.map_err(|_| Closed) }
    }
}
