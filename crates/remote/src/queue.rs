//! One remote write queue (Prometheus' `QueueManager`): reads the append
//! log from its durable position, adds external labels, applies
//! `write_relabel_configs`, spreads series over shards by label hash (a
//! series always goes to the same shard, so its samples stay in order),
//! batches (`max_samples_per_send` or `batch_send_deadline`), and sends with
//! exponential backoff on 5xx, 429 (with `retry_on_http_429`) and network
//! errors; other 4xx answers drop the batch (counted as failed).
//!
//! The position moves past a log record only once every sample of it was
//! answered (sent or refused for good), and is written to
//! `<queue dir>/position` every second: a restart resumes there, so an
//! outage of the receiver or of Bongsu loses nothing; at worst a batch
//! answered just before a crash is sent again (a receiver takes the same
//! sample twice without complaint).

use crate::codec;
use crate::log::{Log, LogReader, Pos, Record};
use crate::prompb::{Label as PLabel, Sample as PSample, TimeSeries, WriteRequest};
use bongsu_model::Labels;
use bongsu_scrape::config::{HttpClientConfig, OAuth2, RemoteWriteConfig};
use bongsu_scrape::relabel::{process, RelabelConfig};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};

/// A remote write section, resolved with Prometheus' defaults.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// The `remote_name` label: `name`, or a hash of the URL.
    pub name: String,
    pub url: String,
    pub timeout: Duration,
    pub headers: Vec<(String, String)>,
    pub http: HttpClientConfig,
    pub oauth2: Option<OAuth2>,
    pub relabel: Vec<RelabelConfig>,
    pub external: Labels,
    pub capacity: usize,
    pub max_shards: usize,
    pub min_shards: usize,
    pub max_samples_per_send: usize,
    pub batch_send_deadline: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub retry_on_429: bool,
    /// Everything above as text: a reload restarts a queue whose text changed.
    pub fingerprint: String,
}

impl QueueSettings {
    /// Resolves one `remote_write` entry (Prometheus 3's queue defaults:
    /// capacity 10000, shards 1–50, 2000 samples per send, 5 s deadline,
    /// backoff 30 ms–5 s, no retry on 429).
    pub fn from_config(rw: &RemoteWriteConfig, external: &BTreeMap<String, String>) -> Result<QueueSettings, String> {
        for (what, set) in [("sigv4", rw.sigv4.is_some()), ("azuread", rw.azuread.is_some()), ("google_iam", rw.google_iam.is_some())] {
            if set {
                return Err(format!("remote_write {}: {what} authentication is not supported by Bongsu", rw.url));
            }
        }
        if rw.protobuf_message.as_deref().is_some_and(|m| m != "prometheus.WriteRequest") {
            return Err(format!(
                "remote_write {}: protobuf_message {:?} (remote write 2.0) is not supported yet; use prometheus.WriteRequest",
                rw.url,
                rw.protobuf_message.as_deref().unwrap_or("")
            ));
        }
        let q = rw.queue_config.clone().unwrap_or_default();
        let name = match rw.name.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => format!("{:06x}", xxhash_rust::xxh3::xxh3_64(rw.url.as_bytes()) >> 40),
        };
        let ms = |d: Option<bongsu_scrape::config::Duration>, def: u64| d.map_or(Duration::from_millis(def), |d| d.as_std());
        let max_shards = q.max_shards.unwrap_or(50).max(1) as usize;
        let s = QueueSettings {
            name,
            url: rw.url.clone(),
            timeout: rw.remote_timeout.as_std().max(Duration::from_millis(1)),
            headers: rw.headers.iter().map(|(k, v)| (k.clone(), v.expose().to_string())).collect(),
            http: rw.http_client(),
            oauth2: rw.oauth2.clone(),
            relabel: rw.write_relabel_configs.clone(),
            external: Labels::from_pairs(external.clone()),
            capacity: q.capacity.unwrap_or(10_000).max(1) as usize,
            max_shards,
            min_shards: (q.min_shards.unwrap_or(1).max(1) as usize).min(max_shards),
            max_samples_per_send: q.max_samples_per_send.unwrap_or(2000).max(1) as usize,
            batch_send_deadline: ms(q.batch_send_deadline, 5000).max(Duration::from_millis(1)),
            min_backoff: ms(q.min_backoff, 30),
            max_backoff: ms(q.max_backoff, 5000),
            retry_on_429: q.retry_on_http_429.unwrap_or(false),
            fingerprint: String::new(),
        };
        let mut s = s;
        // Secrets print as `<secret>` in Debug: add them so a changed
        // password restarts the queue too.
        let mut secrets: Vec<&str> = s.headers.iter().map(|(_, v)| v.as_str()).collect();
        if let Some(b) = &rw.basic_auth {
            secrets.extend(b.password.as_ref().map(|p| p.expose()));
        }
        if let Some(a) = &rw.authorization {
            secrets.extend(a.credentials.as_ref().map(|p| p.expose()));
        }
        secrets.extend(rw.bearer_token.as_ref().map(|p| p.expose()));
        s.fingerprint = format!("{rw:?}|{external:?}|{secrets:?}");
        Ok(s)
    }

    /// The queue's directory name (the name, made safe for a file name).
    pub fn dir_name(&self) -> String {
        self.name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect()
    }
}

/// Counters and gauges with Prometheus' `prometheus_remote_storage_*` meaning.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Samples in send attempts (retries count again), as Prometheus.
    pub samples_total: AtomicU64,
    pub samples_failed: AtomicU64,
    pub samples_retried: AtomicU64,
    /// Dropped by `write_relabel_configs` (or of a series the log lost).
    pub samples_dropped: AtomicU64,
    pub bytes_total: AtomicU64,
    pub highest_sent_ms: AtomicI64,
    pub pending: AtomicI64,
    pub shards: AtomicU64,
    pub shards_desired: AtomicU64,
    pub batches_sent: AtomicU64,
    /// Sum of the durations of successful sends, in microseconds.
    pub send_micros: AtomicU64,
    /// Samples answered (sent or refused for good): the out-rate.
    pub samples_done: AtomicU64,
    pub samples_in: AtomicU64,
    pub last_error: Mutex<String>,
    pub failed_sends: AtomicU64,
}

// ---- the durable position --------------------------------------------------------

/// Tracks which log records are fully answered. Records are numbered in
/// the order they were read; the position is the end of the longest
/// answered prefix.
struct Tracker {
    m: Mutex<TrackerInner>,
}

struct TrackerInner {
    first_seq: u64,
    chunks: VecDeque<(Pos, usize)>,
    committed: Pos,
}

impl Tracker {
    fn new(pos: Pos) -> Tracker {
        Tracker { m: Mutex::new(TrackerInner { first_seq: 0, chunks: VecDeque::new(), committed: pos }) }
    }

    /// The number the next [`Self::add`] will return.
    fn next_seq(&self) -> u64 {
        let m = self.m.lock();
        m.first_seq + m.chunks.len() as u64
    }

    /// Registers records read up to `end` holding `n` samples to answer;
    /// returns their number.
    fn add(&self, end: Pos, n: usize) -> u64 {
        let mut m = self.m.lock();
        let seq = m.first_seq + m.chunks.len() as u64;
        if n == 0 && m.chunks.is_empty() {
            m.committed = m.committed.max(end);
        } else {
            m.chunks.push_back((end, n));
        }
        seq
    }

    fn done(&self, seq: u64, n: usize) {
        let mut m = self.m.lock();
        let Some(i) = seq.checked_sub(m.first_seq) else { return };
        if let Some(c) = m.chunks.get_mut(i as usize) {
            c.1 = c.1.saturating_sub(n);
        }
        while let Some(&(end, 0)) = m.chunks.front() {
            m.chunks.pop_front();
            m.first_seq += 1;
            m.committed = m.committed.max(end);
        }
    }

    fn committed(&self) -> Pos {
        self.m.lock().committed
    }
}

fn read_position(path: &Path) -> Option<Pos> {
    let s = std::fs::read_to_string(path).ok()?;
    let mut it = s.split_whitespace();
    Some(Pos { segment: it.next()?.parse().ok()?, offset: it.next()?.parse().ok()? })
}

fn write_position(path: &Path, pos: Pos) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("{} {}\n", pos.segment, pos.offset).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

// ---- the queue ---------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Run,
    /// Stop reading; shards send what they hold, then end.
    Drain,
    /// Give up on everything in flight (it is sent again after a restart).
    Hard,
}

struct Ctx {
    s: Arc<QueueSettings>,
    stats: Arc<QueueStats>,
    tracker: Tracker,
    client: reqwest::Client,
    oauth: bongsu_scrape::http::OAuth2Tokens,
    mode: watch::Receiver<Mode>,
}

/// One sample on its way, with the log record it came from.
struct QSample {
    labels: Arc<Labels>,
    t: i64,
    v: f64,
    seq: u64,
}

/// A running queue.
pub struct Queue {
    pub settings: Arc<QueueSettings>,
    pub stats: Arc<QueueStats>,
    ctx: Arc<Ctx>,
    mode: watch::Sender<Mode>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    pos_file: PathBuf,
    saved: Mutex<Pos>,
}

impl Queue {
    /// Starts reading `log` from the position saved in `dir` (or from the
    /// log's end for a queue seen for the first time).
    pub fn start(settings: QueueSettings, log: Arc<Log>, dir: &Path) -> Result<Queue, String> {
        let client = bongsu_scrape::http::build_client(&settings.http, false)?;
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let pos_file = dir.join("position");
        let pos = match read_position(&pos_file) {
            Some(p) => p,
            None => {
                let p = log.end();
                write_position(&pos_file, p).map_err(|e| format!("writing {}: {e}", pos_file.display()))?;
                p
            }
        };
        let settings = Arc::new(settings);
        let stats = Arc::new(QueueStats::default());
        let (mode_tx, mode_rx) = watch::channel(Mode::Run);
        let ctx = Arc::new(Ctx {
            s: settings.clone(),
            stats: stats.clone(),
            tracker: Tracker::new(pos),
            client,
            oauth: Default::default(),
            mode: mode_rx,
        });
        tracing::info!(remote_name = %settings.name, url = %settings.url, position = %pos, "Starting remote write queue");
        let task = tokio::spawn(read_loop(ctx.clone(), LogReader::new(log.dir(), pos), log));
        Ok(Queue { settings, stats, ctx, mode: mode_tx, task: Mutex::new(Some(task)), pos_file, saved: Mutex::new(pos) })
    }

    /// The position up to which every sample was answered.
    pub fn committed(&self) -> Pos {
        self.ctx.tracker.committed()
    }

    /// Writes the position if it moved; returns the saved (durable) one.
    pub fn save_position(&self) -> Pos {
        let p = self.committed();
        let mut saved = self.saved.lock();
        if p != *saved {
            match write_position(&self.pos_file, p) {
                Ok(()) => *saved = p,
                Err(e) => tracing::error!(remote_name = %self.settings.name, err = %e, "cannot save the remote write position"),
            }
        }
        *saved
    }

    /// Stops the queue: shards get `drain` to send what they hold, then
    /// whatever is still unsent stays in the log for the next start.
    pub async fn stop(self, drain: Duration) -> Pos {
        let _ = self.mode.send(Mode::Drain);
        let task = self.task.lock().take();
        if let Some(mut task) = task {
            if tokio::time::timeout(drain, &mut task).await.is_err() {
                let _ = self.mode.send(Mode::Hard);
                if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
                    task.abort();
                }
            }
        }
        let p = self.save_position();
        tracing::info!(remote_name = %self.settings.name, position = %p, "Remote write queue stopped");
        p
    }
}

struct Shard {
    tx: mpsc::UnboundedSender<Vec<QSample>>,
    permits: Arc<Semaphore>,
    task: tokio::task::JoinHandle<()>,
}

fn start_shards(ctx: &Arc<Ctx>, n: usize) -> Vec<Shard> {
    ctx.stats.shards.store(n as u64, Ordering::Relaxed);
    (0..n)
        .map(|_| {
            let (tx, rx) = mpsc::unbounded_channel();
            let permits = Arc::new(Semaphore::new(ctx.s.capacity));
            let task = tokio::spawn(run_shard(ctx.clone(), rx, permits.clone()));
            Shard { tx, permits, task }
        })
        .collect()
}

/// Closes the shards' inputs and waits until each sent what it holds
/// (or gave up on a hard stop).
async fn drain_shards(shards: Vec<Shard>) {
    let tasks: Vec<_> = shards
        .into_iter()
        .map(|s| {
            drop(s.tx);
            s.task
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

async fn read_loop(ctx: Arc<Ctx>, reader: LogReader, log: Arc<Log>) {
    let mut reader = Some(reader);
    let mut mode = ctx.mode.clone();
    let mut end_rx = log.subscribe();
    // Log id → the labels to send (None: dropped by relabelling) and their hash.
    let mut ids: HashMap<u64, Option<(Arc<Labels>, u64)>> = HashMap::new();
    let mut shards = start_shards(&ctx, ctx.s.min_shards);
    let mut rates = Rates::new(&ctx.stats);
    let mut last_tick = Instant::now();
    loop {
        if *mode.borrow() != Mode::Run {
            break;
        }
        if last_tick.elapsed() >= SHARD_UPDATE {
            last_tick = Instant::now();
            let want = rates.desired(&ctx, shards.len(), &log);
            if want != shards.len() {
                tracing::info!(remote_name = %ctx.s.name, from = shards.len(), to = want, "Remote storage resharding");
                drain_shards(std::mem::take(&mut shards)).await;
                if *mode.borrow() != Mode::Run {
                    return;
                }
                shards = start_shards(&ctx, want);
            }
        }
        let end = *end_rx.borrow_and_update();
        let Some(mut r) = reader.take() else { break };
        if r.pos() >= end {
            reader = Some(r);
            tokio::select! {
                _ = end_rx.changed() => {}
                _ = mode.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        let Ok((r, res)) = tokio::task::spawn_blocking(move || {
            let res = r.read(end, 1 << 20);
            (r, res)
        })
        .await
        else {
            tracing::error!(remote_name = %ctx.s.name, "remote write log reader panicked; queue stopped");
            break;
        };
        reader = Some(r);
        let recs = match res {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(remote_name = %ctx.s.name, err = %e, "reading the remote write log failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(last_pos) = recs.last().map(|r| r.1) else { continue };
        let seq = ctx.tracker.next_seq();
        let nshards = shards.len().max(1);
        let mut per_shard: Vec<Vec<QSample>> = (0..nshards).map(|_| Vec::new()).collect();
        let mut n = 0usize;
        for (rec, _) in recs {
            match rec {
                Record::Series { id, labels } => {
                    ids.insert(id, prepare_labels(&labels, &ctx.s).map(|l| {
                        let h = l.stable_hash();
                        (l, h)
                    }));
                }
                Record::NewSegment => ids.clear(),
                Record::Samples(v) => {
                    for (id, t, val) in v {
                        match ids.get(&id) {
                            Some(Some((l, h))) => {
                                let shard = (h % nshards as u64) as usize;
                                per_shard[shard].push(QSample { labels: l.clone(), t, v: val, seq });
                                n += 1;
                            }
                            Some(None) => {
                                ctx.stats.samples_dropped.fetch_add(1, Ordering::Relaxed);
                            }
                            None => {
                                ctx.stats.samples_dropped.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(remote_name = %ctx.s.name, id, "remote write log: sample of an unknown series skipped");
                            }
                        }
                    }
                }
            }
        }
        ctx.tracker.add(last_pos, n);
        ctx.stats.samples_in.fetch_add(n as u64, Ordering::Relaxed);
        ctx.stats.pending.fetch_add(n as i64, Ordering::Relaxed);
        for (i, samples) in per_shard.into_iter().enumerate() {
            let Some(shard) = shards.get(i) else { continue };
            let mut samples = samples.into_iter().peekable();
            while samples.peek().is_some() {
                let chunk: Vec<QSample> = samples.by_ref().take(ctx.s.capacity).collect();
                let k = chunk.len() as u32;
                let permit = tokio::select! {
                    p = shard.permits.clone().acquire_many_owned(k) => p,
                    _ = wait_mode(&mut mode, Mode::Hard) => { return; }
                };
                if let Ok(p) = permit {
                    p.forget();
                }
                if shard.tx.send(chunk).is_err() {
                    return;
                }
            }
        }
    }
    drain_shards(shards).await;
}

async fn wait_mode(rx: &mut watch::Receiver<Mode>, want: Mode) {
    loop {
        if *rx.borrow() == want {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// External labels (a series' own label wins), then `write_relabel_configs`.
fn prepare_labels(l: &Labels, s: &QueueSettings) -> Option<Arc<Labels>> {
    let mut out = l.clone();
    if !s.external.is_empty() {
        let mut b = l.builder();
        for e in s.external.iter() {
            if !l.has(&e.name) {
                b.set(e.name.as_str(), e.value.as_str());
            }
        }
        out = b.into_labels();
    }
    if !s.relabel.is_empty() {
        out = process(&out, &s.relabel)?;
        if out.is_empty() {
            return None;
        }
    }
    Some(Arc::new(out))
}

enum Event {
    Data,
    Deadline,
    Closed,
}

async fn run_shard(ctx: Arc<Ctx>, mut rx: mpsc::UnboundedReceiver<Vec<QSample>>, permits: Arc<Semaphore>) {
    let max = ctx.s.max_samples_per_send;
    let mut buf: Vec<QSample> = Vec::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let ev = tokio::select! {
            m = rx.recv() => match m {
                Some(v) => {
                    if buf.is_empty() {
                        deadline = Some(tokio::time::Instant::now() + ctx.s.batch_send_deadline);
                    }
                    buf.extend(v);
                    Event::Data
                }
                None => Event::Closed,
            },
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => Event::Deadline,
        };
        let all = !matches!(ev, Event::Data);
        while buf.len() >= max || (all && !buf.is_empty()) {
            let rest = if buf.len() > max { buf.split_off(max) } else { Vec::new() };
            let batch = std::mem::replace(&mut buf, rest);
            if !send_batch(&ctx, batch, &permits).await {
                return;
            }
        }
        if buf.is_empty() {
            deadline = None;
        }
        if matches!(ev, Event::Closed) {
            return;
        }
    }
}

enum SendError {
    Recoverable { msg: String, retry_after: Option<Duration> },
    Fatal(String),
}

/// Sends one batch until it is answered. Returns false on a hard stop (the
/// batch stays unanswered: the position does not pass it).
async fn send_batch(ctx: &Ctx, batch: Vec<QSample>, permits: &Semaphore) -> bool {
    let n = batch.len();
    let body = bytes::Bytes::from(codec::encode(&build_request(&batch)));
    let max_t = batch.iter().map(|s| s.t).max().unwrap_or(0);
    let mut backoff = ctx.s.min_backoff;
    let mut attempt = 0u32;
    let mut mode = ctx.mode.clone();
    loop {
        if *mode.borrow() == Mode::Hard {
            return false;
        }
        ctx.stats.samples_total.fetch_add(n as u64, Ordering::Relaxed);
        ctx.stats.bytes_total.fetch_add(body.len() as u64, Ordering::Relaxed);
        let started = Instant::now();
        let res = tokio::select! {
            r = send_once(ctx, body.clone(), attempt) => r,
            _ = wait_mode(&mut mode, Mode::Hard) => return false,
        };
        match res {
            Ok(()) => {
                ctx.stats.batches_sent.fetch_add(1, Ordering::Relaxed);
                ctx.stats.send_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                ctx.stats.highest_sent_ms.fetch_max(max_t, Ordering::Relaxed);
                break;
            }
            Err(SendError::Fatal(msg)) => {
                ctx.stats.samples_failed.fetch_add(n as u64, Ordering::Relaxed);
                ctx.stats.failed_sends.fetch_add(1, Ordering::Relaxed);
                tracing::error!(remote_name = %ctx.s.name, url = %ctx.s.url, count = n, err = %msg, "non-recoverable error: samples dropped");
                *ctx.stats.last_error.lock() = msg;
                break;
            }
            Err(SendError::Recoverable { msg, retry_after }) => {
                ctx.stats.samples_retried.fetch_add(n as u64, Ordering::Relaxed);
                ctx.stats.failed_sends.fetch_add(1, Ordering::Relaxed);
                let sleep = retry_after.unwrap_or(backoff);
                if attempt == 0 || attempt.is_power_of_two() {
                    tracing::warn!(remote_name = %ctx.s.name, url = %ctx.s.url, err = %msg, retry_in = ?sleep, attempt, "failed to send batch, retrying");
                }
                *ctx.stats.last_error.lock() = msg;
                tokio::select! {
                    _ = tokio::time::sleep(sleep) => {}
                    _ = wait_mode(&mut mode, Mode::Hard) => return false,
                }
                backoff = (backoff * 2).min(ctx.s.max_backoff).max(Duration::from_millis(1));
                attempt += 1;
            }
        }
    }
    // Answered: release capacity and move the position.
    let mut i = 0;
    while i < batch.len() {
        let seq = batch[i].seq;
        let j = batch[i..].iter().position(|s| s.seq != seq).map_or(batch.len(), |k| i + k);
        ctx.tracker.done(seq, j - i);
        i = j;
    }
    permits.add_permits(n);
    ctx.stats.pending.fetch_sub(n as i64, Ordering::Relaxed);
    ctx.stats.samples_done.fetch_add(n as u64, Ordering::Relaxed);
    true
}

/// One request; samples of a series next to each other share a TimeSeries.
fn build_request(batch: &[QSample]) -> WriteRequest {
    let mut req = WriteRequest::default();
    let mut last: Option<*const Labels> = None;
    for s in batch {
        let p = Arc::as_ptr(&s.labels);
        if last != Some(p) {
            req.timeseries.push(TimeSeries {
                labels: s.labels.iter().map(|l| PLabel::new(l.name.as_str(), l.value.as_str())).collect(),
                ..Default::default()
            });
            last = Some(p);
        }
        if let Some(ts) = req.timeseries.last_mut() {
            ts.samples.push(PSample { value: s.v, timestamp: s.t });
        }
    }
    req
}

const USER_AGENT: &str = concat!("Bongsu/", env!("CARGO_PKG_VERSION"));

async fn send_once(ctx: &Ctx, body: bytes::Bytes, attempt: u32) -> Result<(), SendError> {
    let mut req = ctx
        .client
        .post(&ctx.s.url)
        .timeout(ctx.s.timeout)
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("User-Agent", USER_AGENT)
        .header("X-Prometheus-Remote-Write-Version", "0.1.0");
    if attempt > 0 {
        req = req.header("Retry-Attempt", attempt.to_string());
    }
    for (k, v) in &ctx.s.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    req = bongsu_scrape::http::apply_auth(req, &ctx.s.http).map_err(SendError::Fatal)?;
    if let Some(o) = &ctx.s.oauth2 {
        let tok = ctx.oauth.token(&ctx.client, o).await.map_err(|e| SendError::Recoverable { msg: format!("oauth2: {e}"), retry_after: None })?;
        req = req.bearer_auth(tok);
    }
    let resp = req.body(body).send().await.map_err(|e| SendError::Recoverable { msg: error_chain(&e), retry_after: None })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = resp
        .headers()
        .get("Retry-After")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = resp.text().await.unwrap_or_default();
    let text: String = text.chars().take(1024).collect();
    let msg = format!("server returned HTTP status {status}: {}", text.trim());
    if status.is_server_error() || (status.as_u16() == 429 && ctx.s.retry_on_429) {
        Err(SendError::Recoverable { msg, retry_after })
    } else {
        Err(SendError::Fatal(msg))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

// ---- resharding ----------------------------------------------------------------------

const SHARD_UPDATE: Duration = Duration::from_secs(10);

/// Exponentially weighted rates over [`SHARD_UPDATE`] ticks.
struct Rates {
    last_in: u64,
    last_done: u64,
    last_micros: u64,
    last_failed: u64,
    in_rate: Option<f64>,
    out_rate: Option<f64>,
    dur_rate: Option<f64>,
}

impl Rates {
    fn new(st: &QueueStats) -> Rates {
        Rates {
            last_in: st.samples_in.load(Ordering::Relaxed),
            last_done: st.samples_done.load(Ordering::Relaxed),
            last_micros: st.send_micros.load(Ordering::Relaxed),
            last_failed: st.failed_sends.load(Ordering::Relaxed),
            in_rate: None,
            out_rate: None,
            dur_rate: None,
        }
    }

    /// Prometheus' rule: shards = time per sample × (in-rate + 5% of the
    /// backlog per second), changed only beyond ±30%, never while sends
    /// fail, not down while more than 10 s behind.
    fn desired(&mut self, ctx: &Ctx, current: usize, log: &Log) -> usize {
        let st = &ctx.stats;
        let secs = SHARD_UPDATE.as_secs_f64();
        let ewma = |old: Option<f64>, new: f64| Some(old.map_or(new, |o| o * 0.8 + new * 0.2));
        let (i, d, m, f) = (
            st.samples_in.load(Ordering::Relaxed),
            st.samples_done.load(Ordering::Relaxed),
            st.send_micros.load(Ordering::Relaxed),
            st.failed_sends.load(Ordering::Relaxed),
        );
        self.in_rate = ewma(self.in_rate, (i - self.last_in) as f64 / secs);
        self.out_rate = ewma(self.out_rate, (d - self.last_done) as f64 / secs);
        self.dur_rate = ewma(self.dur_rate, (m - self.last_micros) as f64 / 1e6 / secs);
        let failing = f != self.last_failed;
        (self.last_in, self.last_done, self.last_micros, self.last_failed) = (i, d, m, f);
        let (in_rate, out_rate, dur) = (self.in_rate.unwrap_or(0.0), self.out_rate.unwrap_or(0.0), self.dur_rate.unwrap_or(0.0));
        if out_rate <= 0.0 || failing {
            return current;
        }
        let delay = (log.stats.highest_timestamp_ms.load(Ordering::Relaxed) - st.highest_sent_ms.load(Ordering::Relaxed)) as f64 / 1000.0;
        let pending = delay.max(0.0) * in_rate;
        let desired = (dur / out_rate) * (in_rate + 0.05 * pending);
        st.shards_desired.store(desired.ceil() as u64, Ordering::Relaxed);
        let (lo, hi) = (current as f64 * 0.7, current as f64 * 1.3);
        let want = desired.ceil();
        if lo <= want && want <= hi {
            return current;
        }
        let want = want as usize;
        if want < current && delay > 10.0 {
            return current;
        }
        want.clamp(ctx.s.min_shards, ctx.s.max_shards)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_moves_only_past_fully_answered_records() {
        let p = |o| Pos { segment: 1, offset: o };
        let t = Tracker::new(p(0));
        let a = t.add(p(10), 2);
        let b = t.add(p(20), 1);
        let c = t.add(p(30), 0);
        assert_eq!((a, b, c), (0, 1, 2));
        t.done(b, 1);
        assert_eq!(t.committed(), p(0), "b answered but a is not");
        t.done(a, 1);
        assert_eq!(t.committed(), p(0));
        t.done(a, 1);
        assert_eq!(t.committed(), p(30), "a, b and the empty c");
        let d = t.add(p(40), 0);
        assert_eq!(t.committed(), p(40));
        let _ = d;
    }

    #[test]
    fn external_labels_do_not_override_and_relabel_applies_after() {
        let rw: RemoteWriteConfig = serde_saphyr_free_config();
        let ext: BTreeMap<String, String> = [("site".to_string(), "a".to_string()), ("job".to_string(), "ext".to_string())].into();
        let s = QueueSettings::from_config(&rw, &ext).expect("settings");
        let l = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
        let out = prepare_labels(&l, &s).expect("kept");
        assert_eq!(out.get("job"), Some("node"));
        assert_eq!(out.get("site"), Some("a"));
        assert_eq!(s.capacity, 10_000);
        assert_eq!(s.max_samples_per_send, 2000);
        assert_eq!(s.name.len(), 6);
    }

    fn serde_saphyr_free_config() -> RemoteWriteConfig {
        let cfg = bongsu_scrape::config::load_str("remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n", "t.yml").expect("config");
        cfg.remote_write[0].clone()
    }

    #[test]
    fn batches_group_consecutive_samples_of_a_series() {
        let a = Arc::new(Labels::from_pairs([("__name__", "a")]));
        let b = Arc::new(Labels::from_pairs([("__name__", "b")]));
        let q = |l: &Arc<Labels>, t| QSample { labels: l.clone(), t, v: 1.0, seq: 0 };
        let r = build_request(&[q(&a, 1), q(&a, 2), q(&b, 1), q(&a, 3)]);
        assert_eq!(r.timeseries.len(), 3);
        assert_eq!(r.timeseries[0].samples.len(), 2);
    }
}
