//! The Alerts detail's chart, fetched through the Netdata source's own
//! session (the path the Metrics pane's values take) from the test bed's
//! real Netdata 1.37. Without `OPSCOCKPIT_BED` the bed tests return early;
//! the /proc case needs no bed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opscockpit::app::event::AppEvent;
use opscockpit::metrics::{Alert, AlertChart, AlertChartRequest, AlertsEvent};
use opscockpit::sources::netdata::{Settings, supervisor};
use opscockpit::transport::local::LocalTransport;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn bed_netdata() -> Option<String> {
    if std::env::var_os("OPSCOCKPIT_BED").is_none() {
        eprintln!("OPSCOCKPIT_BED is not set: skipping (source /tmp/opscockpit-bed/env)");
        return None;
    }
    Some(std::env::var("OPSCOCKPIT_BED_NETDATA").expect("OPSCOCKPIT_BED_NETDATA is set by the bed"))
}

struct Running {
    events: mpsc::Receiver<AppEvent>,
    charts: mpsc::UnboundedSender<AlertChartRequest>,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(settings: Settings) -> Self {
        let (tx, events) = mpsc::channel(4096);
        let (charts, requests) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(supervisor::run_answering(
            Arc::new(LocalTransport),
            settings,
            tx,
            requests,
            cancel.clone(),
        ));
        Self {
            events,
            charts,
            cancel,
            task,
        }
    }

    async fn wait_for<T>(
        &mut self,
        limit: Duration,
        what: &str,
        mut pick: impl FnMut(AppEvent) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.events.recv()).await {
                Ok(Some(event)) => {
                    if let Some(found) = pick(event) {
                        return found;
                    }
                }
                Ok(None) => panic!("supervisor ended while waiting for {what}"),
                Err(_) => panic!("no {what} within {limit:?}"),
            }
        }
    }

    /// Asks for a chart and waits for its answer (other events pass by).
    async fn chart(&mut self, request: AlertChartRequest) -> Result<AlertChart, String> {
        let key = request.key.clone();
        self.charts.send(request).expect("supervisor listens");
        self.wait_for(Duration::from_secs(15), "the chart's answer", |e| match e {
            AppEvent::Alerts(AlertsEvent::Chart { key: k, chart }) if k == key => Some(chart),
            _ => None,
        })
        .await
    }

    async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("supervisor stops when cancelled")
            .expect("supervisor task");
    }
}

fn request_for(alert: &Alert) -> AlertChartRequest {
    AlertChartRequest {
        key: alert.key.clone(),
        chart: alert.chart.clone(),
        dimensions: alert.rule.dimensions.clone(),
        seconds: 600,
        points: 300,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_alerts_chart_is_fetched_from_the_bed() {
    let Some(addr) = bed_netdata() else { return };
    let mut run = Running::start(Settings {
        url: format!("http://{addr}"),
        alerts_every: Duration::from_secs(1),
        ..Settings::default()
    });
    let alerts = run
        .wait_for(Duration::from_secs(20), "the alert list", |e| match e {
            AppEvent::Alerts(AlertsEvent::Update(list)) => Some(list),
            _ => None,
        })
        .await;
    // The bed's agent runs its stock health checks; when none is raised
    // right now the load chart at one dimension stands in for one.
    let request = match alerts.first() {
        Some(alert) => request_for(alert),
        None => {
            eprintln!("no alert raised on the bed right now: fetching system.load at load1");
            AlertChartRequest {
                key: "system.load.stand_in".into(),
                chart: "system.load".into(),
                dimensions: Some("load1".into()),
                seconds: 600,
                points: 300,
            }
        }
    };
    let chart = run
        .chart(request.clone())
        .await
        .unwrap_or_else(|why| panic!("the chart of {} is fetched: {why}", request.chart));
    eprintln!(
        "{}: {} series, units {:?}",
        chart.chart,
        chart.series.len(),
        chart.units
    );
    assert_eq!(chart.chart, request.chart);
    assert!(
        !chart.units.is_empty(),
        "units from /api/v1/chart: {chart:?}"
    );
    assert!(!chart.series.is_empty(), "{chart:?}");
    if let Some(dimensions) = &request.dimensions {
        let asked: Vec<&str> = dimensions.split([',', '|']).map(str::trim).collect();
        for (name, _) in &chart.series {
            assert!(asked.contains(&name.as_str()), "{name} not among {asked:?}");
        }
    }
    let points: Vec<&(i64, f64)> = chart.series.iter().flat_map(|(_, p)| p).collect();
    assert!(points.len() >= 10, "ten minutes hold points: {chart:?}");
    assert!(
        points
            .iter()
            .all(|(t, _)| (chart.after - 60..=chart.before + 5).contains(t)),
        "points inside the window {}..{}: {points:?}",
        chart.after,
        chart.before
    );
    assert!(
        points.len() <= 300 * chart.series.len(),
        "about `points` points"
    );

    // A chart the agent does not have is said to be gone, not "loading".
    let gone = run
        .chart(AlertChartRequest {
            key: "opscockpit.no_such_chart.x".into(),
            chart: "opscockpit.no_such_chart".into(),
            dimensions: None,
            seconds: 600,
            points: 300,
        })
        .await
        .expect_err("no such chart");
    assert!(
        gone.starts_with("chart gone: opscockpit.no_such_chart"),
        "{gone}"
    );
    run.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_netdata_off_a_chart_request_says_why() {
    let mut run = Running::start(Settings {
        enabled: false,
        ..Settings::default()
    });
    let answer = run
        .chart(AlertChartRequest {
            key: "system.load.x".into(),
            chart: "system.load".into(),
            dimensions: None,
            seconds: 600,
            points: 300,
        })
        .await
        .expect_err("no Netdata, no chart");
    assert!(answer.starts_with("no chart: "), "{answer}");
    assert!(answer.contains("netdata = false"), "{answer}");
    run.stop().await;
}
