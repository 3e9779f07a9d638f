//! Decides which metrics source is live: Netdata when it answers, else the
//! /proc sampler, with the reason on screen. Netdata is probed again every
//! few seconds and taken back as soon as it answers, without a restart.
//! Only one of the two runs at a time: the sampler is stopped (and waited
//! for) before the Netdata session starts, so no late /proc value lands
//! after the switch. Netdata that is lost over a link that does not answer
//! is not replaced: the link is waited for (see `link_answers`).

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Settings;
use super::client::{NetdataClient, NetdataTarget};
use super::source::{self, SessionEnd};
use crate::channel::Emit;
use crate::metrics::{AlertChartRequest, AlertsEvent};
use crate::metrics::{MetricsEvent, MetricsSource};
use crate::sources::procfs;
use crate::transport::SharedTransport;

struct Fallback {
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

pub async fn run<E: From<MetricsEvent> + Send + 'static>(
    transport: SharedTransport,
    settings: Settings,
    events: mpsc::Sender<E>,
    cancel: CancellationToken,
) {
    // Nobody asks for charts: a closed channel.
    let (_, charts) = mpsc::unbounded_channel();
    run_answering(transport, settings, events, charts, cancel).await;
}

/// [`run`], also answering the Alerts detail's chart requests: through the
/// live Netdata session, or with why there is no chart while /proc runs.
pub async fn run_answering<E: From<MetricsEvent> + Send + 'static>(
    transport: SharedTransport,
    settings: Settings,
    events: mpsc::Sender<E>,
    mut charts: mpsc::UnboundedReceiver<AlertChartRequest>,
    cancel: CancellationToken,
) {
    let target = match (settings.enabled, NetdataTarget::parse(&settings.url)) {
        (false, _) => {
            only_procfs(
                transport,
                events,
                charts,
                cancel,
                "Netdata is off for this host (netdata = false) — using /proc".into(),
            )
            .await;
            return;
        }
        (true, Err(e)) => {
            only_procfs(
                transport,
                events,
                charts,
                cancel,
                format!("netdata_url {e} — using /proc"),
            )
            .await;
            return;
        }
        (true, Ok(target)) => target,
    };
    let mut fallback: Option<Fallback> = None;
    let mut shown_reason = String::new();
    loop {
        let mut client = NetdataClient::new(transport.clone(), target.clone());
        let probe = tokio::select! {
            _ = cancel.cancelled() => break,
            probe = client.info() => probe,
        };
        let reason = match probe {
            Ok(info) => {
                if let Some(f) = fallback.take() {
                    f.cancel.cancel();
                    let _ = f.task.await;
                }
                shown_reason.clear();
                let session = source::run(
                    &mut client,
                    info,
                    &events,
                    &cancel,
                    settings.alerts_every,
                    &mut charts,
                );
                match session.await {
                    SessionEnd::Cancelled => break,
                    SessionEnd::Lost(why) => format!("netdata lost: {why} at {target}"),
                }
            }
            Err(e) if e.is_unreachable() => format!("netdata unreachable: {e} at {target}"),
            Err(e) => format!("netdata not usable: {e} at {target}"),
        };
        // A stalled link makes Netdata look lost too, and /proc over the
        // same dead link would be no better: fall back only when the
        // target answers a keepalive, i.e. when Netdata itself is at fault.
        if fallback.is_none() && !link_answers(&transport, &cancel).await {
            if cancel.is_cancelled() {
                break;
            }
            let sent = events
                .emit(MetricsEvent::Status {
                    source: MetricsSource::Netdata,
                    message: format!(
                        "{reason} — the link is not answering: waiting for it (no /proc over a dead link)"
                    ),
                })
                .await;
            if sent.is_err() {
                break;
            }
            shown_reason.clear();
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = wait_for_link(&transport) => {}
            }
            continue;
        }
        if fallback.is_none() {
            let token = cancel.child_token();
            let task = tokio::spawn(procfs::run(
                transport.clone(),
                events.clone(),
                token.clone(),
            ));
            fallback = Some(Fallback {
                cancel: token,
                task,
            });
        }
        if reason != shown_reason {
            let text = format!(
                "{reason} — using /proc; trying again every {} s",
                settings.probe_every.as_secs()
            );
            let sent = events
                .emit(MetricsEvent::Live {
                    source: MetricsSource::Proc,
                    reason: text,
                })
                .await
                .is_ok()
                && events
                    .emit(MetricsEvent::Alerts(AlertsEvent::Unavailable(format!(
                        "No alerts: {reason}. Alerts come from the host's Netdata agent."
                    ))))
                    .await
                    .is_ok();
            if !sent {
                break;
            }
            shown_reason = reason;
        }
        let probe_again = tokio::time::sleep(settings.probe_every);
        tokio::pin!(probe_again);
        let mut cockpit_gone = false;
        while !cockpit_gone {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = &mut probe_again => break,
                Some(request) = charts.recv() => {
                    cockpit_gone = !no_chart(&events, request, &shown_reason).await;
                }
            }
        }
        if cockpit_gone || cancel.is_cancelled() {
            break;
        }
    }
    if let Some(f) = fallback {
        f.cancel.cancel();
        let _ = f.task.await;
    }
}

/// Whether the target answers now (a keepalive round trip on SSH).
async fn link_answers(transport: &SharedTransport, cancel: &CancellationToken) -> bool {
    tokio::select! {
        _ = cancel.cancelled() => false,
        alive = transport.link_alive() => alive,
    }
}

/// Returns once the link is up again (at once for a transport without a
/// link state; bounded, so a missed change costs one probe interval).
async fn wait_for_link(transport: &SharedTransport) {
    let Some(mut states) = transport.connection_state() else {
        return;
    };
    let wait = async {
        loop {
            if states.borrow_and_update().is_up() {
                return;
            }
            if states.changed().await.is_err() {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(LINK_WAIT_LIMIT, wait).await;
}

/// Longest wait for the link before Netdata is probed again anyway.
const LINK_WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Answers a chart request while no Netdata session runs; false when the
/// cockpit is gone.
async fn no_chart<E: From<MetricsEvent> + Send + 'static>(
    events: &mpsc::Sender<E>,
    request: AlertChartRequest,
    reason: &str,
) -> bool {
    let why = if reason.is_empty() {
        "no chart: Netdata is not answering right now".to_string()
    } else {
        format!("no chart: {reason}")
    };
    events
        .emit(MetricsEvent::Alerts(AlertsEvent::Chart {
            key: request.key,
            chart: Err(why),
        }))
        .await
        .is_ok()
}

async fn only_procfs<E: From<MetricsEvent> + Send + 'static>(
    transport: SharedTransport,
    events: mpsc::Sender<E>,
    mut charts: mpsc::UnboundedReceiver<AlertChartRequest>,
    cancel: CancellationToken,
    reason: String,
) {
    let _ = events
        .emit(MetricsEvent::Live {
            source: MetricsSource::Proc,
            reason: reason.clone(),
        })
        .await;
    let _ = events
        .emit(MetricsEvent::Alerts(AlertsEvent::Unavailable(format!(
            "No alerts: {reason}."
        ))))
        .await;
    let sampler = procfs::run(transport, events.clone(), cancel);
    tokio::pin!(sampler);
    loop {
        tokio::select! {
            _ = &mut sampler => return,
            Some(request) = charts.recv() => {
                if !no_chart(&events, request, &reason).await {
                    return;
                }
            }
        }
    }
}
