//! The container source: the Docker Engine API (or podman's compatible
//! service) over the transport's unix-socket stream.
//!
//! - [`client`]: HTTP/1.1 over the socket stream, API version negotiation.
//! - [`api`]: typed answers and stream framing (events, stats, log frames).
//! - [`source`]: the task that keeps the list current from one event
//!   stream plus one stats stream per running container, follows the logs
//!   of the container the user opened, and falls back to `docker ps` when
//!   the socket cannot be used.
//! - [`follow`]: each container's log in the Logs pane, by name, re-attached
//!   after every restart, re-creation and reconnect without losing or
//!   doubling lines.

pub mod api;
pub mod client;
pub mod follow;
pub mod source;
