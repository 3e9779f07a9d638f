//! Reliable, bounded delivery: a queue and a task per channel. The loop
//! hands events to [`Notifier::submit`], which routes them and puts the
//! messages on the channels' queues without waiting (a full queue drops the
//! message and counts it), so the screen never waits for a slow endpoint.
//! Each channel's task sends one message at a time and retries 429, 5xx,
//! timeouts and network errors with back-off (honouring `Retry-After`);
//! every outcome goes back to the loop as a [`NotifyStatus`].

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Timelike;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::channels::{self, Attempt, Channel, DEFAULT_QUEUE};
use super::message::{self, Message};
use super::route::{Decision, Router};
use super::{NotifyEvent, NotifyStatus, Outcome};
use crate::config::notify::RuleConfig;

/// Attempts per message before it is given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// The back-off doubles from one second up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The longest `Retry-After` obeyed (a larger one is cut to this).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// One message waiting for its channel.
#[derive(Debug, Clone)]
pub struct Job {
    pub message: Message,
    /// What it is about, for the log (`proposal a1b2c3`).
    pub about: String,
}

struct Queue {
    jobs: mpsc::Sender<Job>,
    dropped: u64,
    include_command: bool,
}

/// The loop's side: routing and the channels' queues.
pub struct Notifier {
    router: Router,
    queues: BTreeMap<String, Queue>,
    utc: bool,
}

impl Notifier {
    /// Starts a task per channel; they stop with `cancel`. Reports go to
    /// `reports` as the loop's own event type.
    pub fn spawn<E>(
        channels: Vec<Channel>,
        rules: Vec<RuleConfig>,
        utc: bool,
        reports: mpsc::Sender<E>,
        cancel: &CancellationToken,
    ) -> Notifier
    where
        E: From<NotifyStatus> + Send + 'static,
    {
        let http = reqwest::Client::builder()
            .user_agent(concat!("opscockpit/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let mut queues = BTreeMap::new();
        for channel in channels {
            let (tx, rx) = mpsc::channel(channel.config.queue.unwrap_or(DEFAULT_QUEUE));
            queues.insert(
                channel.name.clone(),
                Queue {
                    jobs: tx,
                    dropped: 0,
                    include_command: channel.config.include_command,
                },
            );
            tokio::spawn(run_channel(
                channel,
                rx,
                reports.clone(),
                http.clone(),
                cancel.clone(),
            ));
        }
        Notifier {
            router: Router::new(rules),
            queues,
            utc,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Routes `event` and queues its messages; returns at once with what
    /// did not go on a queue (suppressed, dropped).
    pub fn submit(&mut self, event: &NotifyEvent) -> Vec<NotifyStatus> {
        let minute = minute_of_day(event.at, self.utc);
        let about = about(event);
        let mut statuses = Vec::new();
        for decision in self.router.route(event, minute) {
            let status = |channel: &str, outcome| NotifyStatus {
                channel: channel.to_string(),
                at: event.at,
                outcome,
                about: about.clone(),
            };
            match decision {
                Decision::Suppressed { channel, why } => {
                    tracing::info!(channel = %channel, about = %about, why = %why, "notification suppressed");
                    statuses.push(status(&channel, Outcome::Suppressed { why }));
                }
                Decision::Send { channel } => {
                    let Some(queue) = self.queues.get_mut(&channel) else {
                        continue;
                    };
                    let job = Job {
                        message: message::build(event, queue.include_command),
                        about: about.clone(),
                    };
                    if queue.jobs.try_send(job).is_err() {
                        queue.dropped += 1;
                        tracing::warn!(channel = %channel, about = %about, dropped = queue.dropped, "notification queue full: dropped");
                        statuses.push(status(
                            &channel,
                            Outcome::Dropped {
                                total: queue.dropped,
                            },
                        ));
                    }
                }
            }
        }
        statuses
    }
}

/// `proposal_waiting a1b2c3d4` / `alert_critical system.ram.ram_in_use`.
fn about(event: &NotifyEvent) -> String {
    let subject: String = crate::text::inert(&event.subject)
        .chars()
        .take(40)
        .collect();
    let kind = if event.escalation {
        "escalation"
    } else {
        event.kind.name()
    };
    format!("{kind} {subject}")
}

fn minute_of_day(at: i64, utc: bool) -> u16 {
    let Some(t) = chrono::DateTime::from_timestamp(at, 0) else {
        return 0;
    };
    let (h, m) = if utc {
        (t.hour(), t.minute())
    } else {
        let local = t.with_timezone(&chrono::Local);
        (local.hour(), local.minute())
    };
    (h * 60 + m) as u16
}

/// How long to wait before attempt `attempt + 1`.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after.min(MAX_RETRY_AFTER);
    }
    let doubled = Duration::from_secs(1u64 << attempt.saturating_sub(1).min(16));
    doubled.min(MAX_BACKOFF)
}

async fn run_channel<E>(
    channel: Channel,
    mut jobs: mpsc::Receiver<Job>,
    reports: mpsc::Sender<E>,
    http: reqwest::Client,
    cancel: CancellationToken,
) where
    E: From<NotifyStatus> + Send + 'static,
{
    loop {
        let job = tokio::select! {
            _ = cancel.cancelled() => return,
            job = jobs.recv() => match job {
                Some(job) => job,
                None => return,
            },
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = deliver(&channel, &job, &http, &reports) => {}
        }
    }
}

/// Sends one message, retrying what retrying can fix.
async fn deliver<E>(channel: &Channel, job: &Job, http: &reqwest::Client, reports: &mpsc::Sender<E>)
where
    E: From<NotifyStatus> + Send + 'static,
{
    let report = |outcome: Outcome| NotifyStatus {
        channel: channel.name.clone(),
        at: chrono::Utc::now().timestamp(),
        outcome,
        about: job.about.clone(),
    };
    let request = match channels::request(channel, &job.message) {
        Ok(r) => r,
        Err(error) => {
            let _ = reports
                .send(E::from(report(Outcome::Failed { attempts: 0, error })))
                .await;
            return;
        }
    };
    for attempt in 1..=MAX_ATTEMPTS {
        let outcome = match channels::send(http, request.clone(), channel.timeout()).await {
            Attempt::Delivered { status, .. } => {
                tracing::info!(channel = %channel.name, about = %job.about, status, attempt, "notification delivered");
                Outcome::Delivered {
                    attempts: attempt,
                    status,
                }
            }
            Attempt::Refused { error } => {
                tracing::warn!(channel = %channel.name, about = %job.about, error = %error, "notification refused");
                Outcome::Failed {
                    attempts: attempt,
                    error,
                }
            }
            Attempt::Retry { error, .. } if attempt == MAX_ATTEMPTS => {
                tracing::warn!(channel = %channel.name, about = %job.about, error = %error, "notification given up");
                Outcome::Failed {
                    attempts: attempt,
                    error,
                }
            }
            Attempt::Retry { error, after } => {
                let wait = backoff(attempt, after);
                tracing::info!(channel = %channel.name, about = %job.about, error = %error, retry_in = wait.as_secs(), "notification attempt failed");
                let retrying = Outcome::Retrying {
                    attempt,
                    error,
                    retry_in_secs: wait.as_secs(),
                };
                let _ = reports.send(E::from(report(retrying))).await;
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        let _ = reports.send(E::from(report(outcome))).await;
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute_and_obeys_retry_after_within_limits() {
        let waits: Vec<u64> = (1..=8).map(|a| backoff(a, None).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(
            backoff(1, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(
            backoff(1, Some(Duration::from_secs(86_400))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn quiet_hours_use_the_operators_clock() {
        // 1_700_000_000 is 22:13 UTC.
        assert_eq!(minute_of_day(1_700_000_000, true), 22 * 60 + 13);
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_without_waiting() {
        let config: crate::config::Config = crate::config::toml_file::parse_str(
            "c.toml",
            "[notify.slow]\nkind = \"command\"\ncommand = [\"/bin/sleep\", \"30\"]\nqueue = 1\n[[notify.rules]]\nevents = [\"alert_critical\"]\nchannels = [\"slow\"]\n",
        )
        .expect("config");
        let channel = Channel {
            name: "slow".into(),
            config: config.notify.channels["slow"].clone(),
            secret: None,
        };
        let (tx, _rx) = mpsc::channel::<NotifyStatus>(16);
        let cancel = CancellationToken::new();
        let mut notifier = Notifier::spawn(vec![channel], config.notify.rules, true, tx, &cancel);
        let event = |n: i64| NotifyEvent {
            kind: crate::notify::EventKind::AlertCritical,
            rule: None,
            escalation: false,
            host: "h".into(),
            subject: format!("alert{n}"),
            at: n,
            proposal: None,
            alert: None,
            detail: String::new(),
        };
        let mut dropped = Vec::new();
        for n in 0..10 {
            dropped.extend(notifier.submit(&event(n)));
            tokio::task::yield_now().await;
        }
        cancel.cancel();
        // One being sent, one waiting: the other eight are dropped, counted.
        assert!(dropped.len() >= 8, "{dropped:?}");
        assert!(
            matches!(dropped.last(), Some(NotifyStatus { outcome: Outcome::Dropped { total }, .. }) if *total as usize == dropped.len())
        );
    }
}
