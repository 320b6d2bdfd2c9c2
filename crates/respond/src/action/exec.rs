//! Running one command as an automated remediation step.
//!
//! The command is executed directly (never through a shell), in its own
//! process group, with a minimal environment, bounded output capture and a
//! hard timeout that kills the whole process tree.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustix::process::{kill_process_group, Pid, Signal};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::BoundedBuf;

/// The only variables inherited from our own environment; everything else the
/// child sees comes from [`ExecSpec::env`]. Keeps secrets in the agent's
/// environment (tokens, credentials) away from remediation commands.
const INHERITED_ENV: [&str; 6] = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER"];

/// How long output readers may keep going after the process group was killed.
/// A process that escaped the group (e.g. via `setsid`) can hold our pipes
/// open forever; after this grace period we stop reading and keep what we have.
const READER_GRACE: Duration = Duration::from_secs(1);

/// Timeouts are capped so that `now + timeout` cannot overflow.
const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    /// `argv[0]` is the program (looked up in `PATH` if it has no slash);
    /// every element is passed to the child verbatim, as one argument.
    pub argv: Vec<String>,
    /// Added on top of the minimal inherited environment ([`INHERITED_ENV`]).
    pub env: Vec<(String, String)>,
    /// Written to the child's stdin, after which stdin is closed.
    pub stdin: Vec<u8>,
    /// Wall-clock limit; on expiry the whole process group gets SIGKILL.
    pub timeout: Duration,
    /// Bytes kept per output stream; the rest is read, counted and discarded.
    pub max_output: usize,
    /// Working directory for the child; inherited when `None`.
    pub cwd: Option<PathBuf>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutcome {
    /// Exit code if the child exited normally.
    pub exit_code: Option<i32>,
    /// Signal number if the child was killed by a signal.
    pub signal: Option<i32>,
    /// True when the timeout expired and we killed the process group.
    pub timed_out: bool,
    /// Lossy UTF-8 of the first `max_output` bytes of stdout, plus
    /// `"\n…[truncated N bytes]"` when output was cut.
    pub stdout: String,
    /// Same as `stdout`, for stderr.
    pub stderr: String,
    /// Time from spawn until the outcome was complete (output included).
    pub duration: Duration,
}

impl ExecOutcome {
    /// Exit status 0 and not timed out.
    pub fn success(&self) -> bool {
        !self.timed_out && self.exit_code == Some(0)
    }

    /// One-line description, e.g. "exit status 1", "killed by signal 9",
    /// "timed out after 2s".
    pub fn summary(&self) -> String {
        if self.timed_out {
            return format!("timed out after {}", human_duration(self.duration));
        }
        match (self.exit_code, self.signal) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => "unknown exit status".to_string(),
        }
    }
}

/// "850ms", "2s", "2.5s".
fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let secs = format!("{:.1}", d.as_secs_f64());
    format!("{}s", secs.strip_suffix(".0").unwrap_or(&secs))
}

/// SIGKILLs the child's process group when dropped (or on `kill()`), unless
/// disarmed. Dropping covers the caller abandoning the `run` future.
struct GroupKill {
    pgid: Option<Pid>,
}

impl GroupKill {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // ESRCH (group already gone) is fine: nothing left to kill.
            let _ = kill_process_group(pgid, Signal::KILL);
        }
    }

    fn disarm(&mut self) {
        self.pgid = None;
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Aborts a helper task when dropped, so nothing outlives `run`.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn lock(buf: &Mutex<BoundedBuf>) -> MutexGuard<'_, BoundedBuf> {
    // A reader task cannot panic while holding the lock, but don't let a
    // poisoned mutex turn into a panic here either.
    buf.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads `pipe` to EOF into a bounded buffer. The buffer is shared (not
/// returned by the task) so that output read so far survives if we have to
/// abandon the reader because someone keeps the pipe open.
fn spawn_reader<R>(pipe: Option<R>, limit: usize) -> (Arc<Mutex<BoundedBuf>>, Option<AbortOnDrop>)
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let buf = Arc::new(Mutex::new(BoundedBuf::new(limit)));
    let task = pipe.map(|mut pipe| {
        let buf = Arc::clone(&buf);
        AbortOnDrop(tokio::spawn(async move {
            let mut chunk = vec![0u8; 64 * 1024];
            loop {
                match pipe.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => lock(&buf).push(&chunk[..n]),
                }
            }
        }))
    });
    (buf, task)
}

/// Waits for all readers to finish, until `deadline`. Returns whether they did.
async fn wait_readers(readers: &mut [Option<AbortOnDrop>], deadline: Instant) -> bool {
    let all = async {
        for task in readers.iter_mut().flatten() {
            let _ = (&mut task.0).await;
        }
    };
    tokio::time::timeout_at(deadline, all).await.is_ok()
}

/// Runs the command described by `spec` and waits for it (bounded by
/// `spec.timeout`).
///
/// Returns `Err` only when the command could not be started at all (empty
/// argv, program not found or not executable, bad cwd, NUL byte in an
/// argument...), so an `Err` means nothing ran. Everything that happens after
/// the start, including a timeout, is reported in the `ExecOutcome`.
///
/// Process-tree handling:
/// - on timeout the whole process group is SIGKILLed;
/// - if the returned future is dropped before completion, likewise;
/// - if the child exits in time but leaves background processes that keep
///   its stdout/stderr open, we wait for them until the deadline and then
///   kill the group (the exit status of the child is still reported, and
///   `timed_out` stays false). Background processes that released our pipes
///   (properly daemonized, output redirected) are left alone.
pub async fn run(spec: &ExecSpec) -> Result<ExecOutcome, String> {
    let program = spec
        .argv
        .first()
        .ok_or_else(|| "cannot run an empty command (argv is empty)".to_string())?;

    let mut cmd = Command::new(program);
    cmd.args(&spec.argv[1..]).env_clear();
    for key in INHERITED_ENV {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    for (key, value) in &spec.env {
        cmd.env(key, value);
    }
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group (pgid == child pid) so the whole tree can be
        // killed at once, and so signals aimed at our group don't hit it.
        .process_group(0)
        .kill_on_drop(true);

    let start = Instant::now();
    let deadline = start + spec.timeout.min(MAX_TIMEOUT);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program:?}: {e}"))?;
    // Declared after `child` so that it is dropped first: the group is killed
    // while the child is not yet reaped, so its pid (== pgid) can't have been
    // reused by an unrelated process.
    let mut group = GroupKill {
        pgid: child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw),
    };

    // Feed stdin from a separate task: a child that never reads must not
    // block us. Write errors (EPIPE when the child exits or closes stdin
    // early) are expected and ignored. Dropping the pipe closes it.
    let _stdin_task = child.stdin.take().map(|mut pipe| {
        let data = spec.stdin.clone();
        AbortOnDrop(tokio::spawn(async move {
            if !data.is_empty() {
                let _ = pipe.write_all(&data).await;
            }
            let _ = pipe.shutdown().await;
        }))
    });

    let (stdout_buf, stdout_task) = spawn_reader(child.stdout.take(), spec.max_output);
    let (stderr_buf, stderr_task) = spawn_reader(child.stderr.take(), spec.max_output);
    let mut readers = [stdout_task, stderr_task];

    let mut timed_out = false;
    let status = match tokio::time::timeout_at(deadline, child.wait()).await {
        Ok(status) => status,
        Err(_elapsed) => {
            timed_out = true;
            group.kill();
            // In case the child left its process group, kill it directly too.
            let _ = child.start_kill();
            child.wait().await
        }
    };

    // Collect output. After a timeout kill the pipes normally close at once;
    // otherwise readers may run until the deadline (see doc comment above).
    let readers_deadline = if timed_out {
        Instant::now() + READER_GRACE
    } else {
        deadline
    };
    if wait_readers(&mut readers, readers_deadline).await {
        // Clean finish: leave any remaining (detached) group members alone.
        group.disarm();
    } else {
        // Someone still holds our pipes. The child is already reaped, but the
        // group still exists as long as a member holds the pipe, so its id
        // cannot have been recycled. No-op if already killed on timeout.
        group.kill();
        // Data already in the pipes stays readable after the writers die.
        wait_readers(&mut readers, Instant::now() + READER_GRACE).await;
    }
    drop(readers); // aborts readers still stuck on a pipe held by an escapee

    let mut stderr = lock(&stderr_buf).to_text();
    let (exit_code, signal) = match status {
        Ok(status) => (status.code(), status.signal()),
        Err(e) => {
            // Practically unreachable; keep the "Err means it never ran"
            // contract and report the problem in the outcome instead.
            stderr.push_str(&format!("\n[bongsu: waiting for {program:?} failed: {e}]"));
            (None, None)
        }
    };
    let stdout = lock(&stdout_buf).to_text();

    Ok(ExecOutcome {
        exit_code,
        signal,
        timed_out,
        stdout,
        stderr,
        duration: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec(argv: &[&str]) -> ExecSpec {
        ExecSpec {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            stdin: Vec::new(),
            timeout: Duration::from_secs(10),
            max_output: 64 * 1024,
            cwd: None,
        }
    }

    /// A killed process is "gone" once /proc/<pid> disappears. In containers
    /// whose PID 1 does not reap orphans, a killed grandchild can linger as a
    /// zombie (state Z): it is dead, just not reaped by its new parent.
    fn pid_is_dead(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => {
                // Format: "pid (comm) state ..."; comm may contain spaces.
                let after_comm = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
                after_comm.trim_start().starts_with(['Z', 'X'])
            }
        }
    }

    async fn wait_dead(pid: u32) -> bool {
        for _ in 0..50 {
            if pid_is_dead(pid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn captures_exit_code_stdout_and_stderr() {
        let out = run(&spec(&["sh", "-c", "echo out; echo err >&2; exit 3"]))
            .await
            .unwrap();
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.signal, None);
        assert!(!out.timed_out);
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert!(!out.success());
        assert_eq!(out.summary(), "exit status 3");

        let ok = run(&spec(&["true"])).await.unwrap();
        assert_eq!(ok.exit_code, Some(0));
        assert!(ok.success());
        assert_eq!(ok.summary(), "exit status 0");
        assert_eq!(ok.stdout, "");
    }

    #[tokio::test]
    async fn reports_signal_death() {
        let out = run(&spec(&["sh", "-c", "kill -TERM $$"])).await.unwrap();
        assert_eq!(out.exit_code, None);
        assert_eq!(out.signal, Some(15));
        assert!(!out.success());
        assert_eq!(out.summary(), "killed by signal 15");
    }

    #[tokio::test]
    async fn stdin_reaches_child() {
        let mut s = spec(&["cat"]);
        s.stdin = b"hello\nworld \x01 \xce\xbb".to_vec();
        let out = run(&s).await.unwrap();
        assert_eq!(out.exit_code, Some(0));
        assert_eq!(out.stdout, "hello\nworld \x01 λ");
    }

    #[tokio::test]
    async fn child_that_ignores_large_stdin_does_not_block() {
        // 4 MiB is far beyond the pipe buffer; `true` never reads it.
        let mut s = spec(&["true"]);
        s.stdin = vec![b'x'; 4 << 20];
        s.timeout = Duration::from_secs(5);
        let out = run(&s).await.unwrap();
        assert!(out.success(), "{out:?}");
        assert!(out.duration < Duration::from_secs(2), "{out:?}");
    }

    #[tokio::test]
    async fn environment_is_minimal_plus_spec_env() {
        // cargo sets these for the test process; they must not leak.
        assert!(
            std::env::var_os("CARGO_PKG_NAME").is_some(),
            "run via cargo test"
        );
        assert!(std::env::var_os("CARGO").is_some(), "run via cargo test");

        let mut s = spec(&["env"]);
        s.env = vec![
            ("BONGSU_ALERT".into(), "disk full; $(rm -rf /)".into()),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        let out = run(&s).await.unwrap();
        assert!(out.success(), "{out:?}");
        let vars: Vec<(&str, &str)> = out
            .stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .collect();
        assert!(
            vars.contains(&("BONGSU_ALERT", "disk full; $(rm -rf /)")),
            "{vars:?}"
        );
        // The spec's value overrides the inherited one.
        assert!(vars.contains(&("LANG", "C.UTF-8")), "{vars:?}");
        assert!(
            !vars.iter().any(|(k, _)| k.starts_with("CARGO")),
            "{vars:?}"
        );
        for (key, _) in &vars {
            assert!(
                INHERITED_ENV.contains(key) || *key == "BONGSU_ALERT",
                "unexpected variable {key} in child environment"
            );
        }
        if let Ok(path) = std::env::var("PATH") {
            assert!(
                vars.contains(&("PATH", path.as_str())),
                "PATH not inherited: {vars:?}"
            );
        }
    }

    #[tokio::test]
    async fn cwd_is_applied() {
        let mut s = spec(&["pwd"]);
        s.cwd = Some(PathBuf::from("/"));
        let out = run(&s).await.unwrap();
        assert_eq!(out.stdout, "/\n");
    }

    #[tokio::test]
    async fn shell_metacharacters_arrive_verbatim_as_single_arguments() {
        let marker = format!("/tmp/bongsu-exec-injection-{}", std::process::id());
        let _ = std::fs::remove_file(&marker);
        let args: Vec<String> = vec![
            format!("$(touch {marker})"),
            format!("`touch {marker}`"),
            format!("; touch {marker}"),
            "; rm -rf /".into(),
            "a\nb".into(),
            "../../etc/passwd".into(),
            "| cat /etc/shadow && echo pwned > /dev/null".into(),
            "' \" \\ * ? ~ {a,b} $HOME %s %n".into(),
            String::new(),
            "  spaced  ".into(),
            "ünïcødé".into(),
        ];

        // 1. printf(1) directly: each argument comes back NUL-terminated.
        let mut argv = vec!["printf".to_string(), "%s\\0".to_string()];
        argv.extend(args.iter().cloned());
        let out = run(&ExecSpec { argv, ..spec(&[]) }).await.unwrap();
        assert!(out.success(), "{out:?}");
        let got: Vec<&str> = out.stdout.strip_suffix('\0').unwrap().split('\0').collect();
        assert_eq!(got, args);

        // 2. Through a shell script, but with the values passed as data
        //    ("$@"), never spliced into the script text.
        let mut argv: Vec<String> = ["sh", "-c", r#"printf "%s|" "$@""#, "sh"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        argv.extend(args.iter().cloned());
        let out = run(&ExecSpec { argv, ..spec(&[]) }).await.unwrap();
        assert!(out.success(), "{out:?}");
        let expected: String = args.iter().map(|a| format!("{a}|")).collect();
        assert_eq!(out.stdout, expected);

        assert!(
            !Path::new(&marker).exists(),
            "an argument was executed by a shell"
        );
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_tree() {
        let mut s = spec(&["sh", "-c", "sleep 100 & echo $!; sleep 100"]);
        s.timeout = Duration::from_millis(500);
        let out = run(&s).await.unwrap();
        assert!(out.timed_out, "{out:?}");
        assert!(!out.success());
        assert_eq!(out.exit_code, None);
        assert_eq!(out.signal, Some(9));
        assert!(out.duration >= Duration::from_millis(500), "{out:?}");
        assert!(
            out.duration < Duration::from_millis(1500),
            "took {:?}",
            out.duration
        );
        assert!(
            out.summary().starts_with("timed out after "),
            "{}",
            out.summary()
        );

        let grandchild: u32 = out.stdout.trim().parse().expect("grandchild pid printed");
        assert!(
            wait_dead(grandchild).await,
            "grandchild {grandchild} survived the timeout"
        );
    }

    #[tokio::test]
    async fn lingering_background_process_holding_pipes_is_bounded() {
        // The child exits at once, but its background job keeps stdout open.
        let mut s = spec(&["sh", "-c", "sleep 100 & echo $!"]);
        s.timeout = Duration::from_millis(700);
        let out = run(&s).await.unwrap();
        assert_eq!(out.exit_code, Some(0));
        assert!(!out.timed_out);
        assert!(
            out.duration < Duration::from_millis(1700),
            "took {:?}",
            out.duration
        );
        let grandchild: u32 = out.stdout.trim().parse().expect("grandchild pid printed");
        assert!(
            wait_dead(grandchild).await,
            "background job {grandchild} survived"
        );
    }

    #[tokio::test]
    async fn dropping_the_future_kills_the_process_tree() {
        let pidfile = format!("/tmp/bongsu-exec-drop-{}", std::process::id());
        let _ = std::fs::remove_file(&pidfile);
        let s = spec(&[
            "sh",
            "-c",
            r#"sleep 100 & echo $! > "$1"; sleep 100"#,
            "sh",
            &pidfile,
        ]);
        let res = tokio::time::timeout(Duration::from_millis(500), run(&s)).await;
        assert!(res.is_err(), "run should still be pending");
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = std::fs::remove_file(&pidfile);
        assert!(
            wait_dead(pid).await,
            "grandchild {pid} survived the dropped future"
        );
    }

    #[tokio::test]
    async fn output_is_bounded_and_truncation_counted() {
        let mut s = spec(&[
            "sh",
            "-c",
            "head -c 10000000 /dev/zero | tr '\\0' a; echo tail >&2",
        ]);
        s.max_output = 1000;
        let out = run(&s).await.unwrap();
        assert!(out.success(), "{}", out.summary());
        assert_eq!(
            out.stdout,
            format!("{}\n…[truncated 9999000 bytes]", "a".repeat(1000))
        );
        assert_eq!(out.stderr, "tail\n");
    }

    #[tokio::test]
    async fn missing_or_unrunnable_program_is_an_error_naming_it() {
        let err = run(&spec(&["bongsu-no-such-program-xyz", "arg"]))
            .await
            .unwrap_err();
        assert!(err.contains("bongsu-no-such-program-xyz"), "{err}");

        let err = run(&spec(&["/etc/passwd"])).await.unwrap_err();
        assert!(err.contains("/etc/passwd"), "{err}");
        assert!(err.to_lowercase().contains("permission denied"), "{err}");

        let err = run(&spec(&[])).await.unwrap_err();
        assert!(err.contains("empty"), "{err}");

        let mut s = spec(&["true"]);
        s.cwd = Some(PathBuf::from("/nonexistent/bongsu"));
        let err = run(&s).await.unwrap_err();
        assert!(err.contains("\"true\""), "{err}");
    }

    #[test]
    fn summary_formats() {
        let base = ExecOutcome {
            exit_code: None,
            signal: None,
            timed_out: true,
            stdout: String::new(),
            stderr: String::new(),
            duration: Duration::from_millis(2004),
        };
        assert_eq!(base.summary(), "timed out after 2s");
        let o = ExecOutcome {
            duration: Duration::from_millis(2500),
            ..base.clone()
        };
        assert_eq!(o.summary(), "timed out after 2.5s");
        let o = ExecOutcome {
            duration: Duration::from_millis(300),
            ..base.clone()
        };
        assert_eq!(o.summary(), "timed out after 300ms");
        let o = ExecOutcome {
            timed_out: false,
            exit_code: Some(0),
            ..base.clone()
        };
        assert!(o.success());
        let o = ExecOutcome {
            timed_out: true,
            exit_code: Some(0),
            ..base
        };
        assert!(!o.success());
    }
}
