//! The log store of a container (detached, or attached in the foreground): `<front>/stamped.log` plus rotated
//! `stamped.log.1` … (older first to newest last: `.N` … `.1`, then `stamped.log`).
//!
//! One record per line: `TIME STREAM DATA\n`, TIME in RFC 3339 UTC with nanoseconds (when
//! the logger received the line), STREAM `o`/`e` for a complete stdout/stderr line (its
//! newline is the record's) or `O`/`E` for a piece without a newline (a partial line: the
//! record's newline is not output). DATA is the raw bytes (never a newline).
//!
//! Written by one logger process per run ([`spawn_logger`] for a detached container's
//! monitor, [`spawn_echoing`] for `run` and `start -a -i` in the foreground, which also
//! passes what it reads on to the user's stdout and stderr as it comes, as Docker's attached
//! streams are logged too): the container's stdout and stderr are two pipes it reads; with `--log-opt max-size=BYTES` it rotates before a file
//! would grow past the size, keeping `max-file` files (Docker's json-file rules: default 1,
//! i.e. the one file starts again). Read by `logs` ([`read_records`], [`Follower`]).
//! Containers made before this store kept raw output in `container.log`
//! ([`super::names::LOG_FILE`]); `logs` still reads that file, without times.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The current file's name in the front folder.
pub const STORE_FILE: &str = "stamped.log";

/// Longest piece kept waiting for its newline before it is stored as a partial line
/// (Docker's 16 KiB).
const MAX_LINE: usize = 16 * 1024;

/// `--log-opt` values of the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Rotate before a file grows past this many bytes (None: never).
    pub max_size: Option<u64>,
    /// How many files to keep, the current one included (at least 1).
    pub max_file: u32,
}

/// Parses `--log-opt KEY=VALUE` entries (`max-size`, `max-file`); errors name the option.
pub fn parse_options(opts: &[String]) -> Result<Options, String> {
    let mut o = Options {
        max_size: None,
        max_file: 1,
    };
    let mut max_file_given = false;
    for entry in opts {
        let Some((k, v)) = entry.split_once('=') else {
            return Err(format!(
                "--log-opt: {entry:?} is not KEY=VALUE — use max-size=10m or max-file=3"
            ));
        };
        match k {
            "max-size" => {
                let n = crate::spec::values::parse_size("--log-opt max-size", v)
                    .map_err(|e| e.to_string())?;
                o.max_size = Some(n as u64);
            }
            "max-file" => {
                o.max_file = v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    format!("--log-opt: max-file {v:?} is not a number of at least 1")
                })?;
                max_file_given = true;
            }
            other => {
                return Err(format!(
                    "--log-opt: unknown log option {other:?} — tinibox's log store takes max-size and max-file"
                ))
            }
        }
    }
    if max_file_given && o.max_file > 1 && o.max_size.is_none() {
        return Err("--log-opt: max-file needs max-size — add e.g. max-size=10m".into());
    }
    Ok(o)
}

/// The path of rotated file `n` (0: the current file).
fn nth(front: &Path, n: u32) -> PathBuf {
    if n == 0 {
        front.join(STORE_FILE)
    } else {
        front.join(format!("{STORE_FILE}.{n}"))
    }
}

/// Appends records to the store, rotating by [`Options`].
struct Writer {
    front: PathBuf,
    opts: Options,
    file: Option<File>,
    size: u64,
}

impl Writer {
    fn open_current(&mut self) {
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(nth(&self.front, 0))
            .ok();
        self.size = self
            .file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
    }

    fn rotate(&mut self) {
        self.file = None;
        if self.opts.max_file <= 1 {
            let _ = std::fs::remove_file(nth(&self.front, 0));
        } else {
            for n in (0..self.opts.max_file - 1).rev() {
                let _ = std::fs::rename(nth(&self.front, n), nth(&self.front, n + 1));
            }
        }
        // The front folder is gone with the container (`rm`): write nothing any more.
        if self.front.is_dir() {
            self.open_current();
        }
    }

    /// Stores one record (`data` without a newline).
    fn record(&mut self, stream: u8, partial: bool, data: &[u8]) {
        let tag = match (stream, partial) {
            (b'e', false) => b'e',
            (b'e', true) => b'E',
            (_, false) => b'o',
            (_, true) => b'O',
        };
        let time = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
        let mut line = Vec::with_capacity(time.len() + data.len() + 4);
        line.extend_from_slice(time.as_bytes());
        line.push(b' ');
        line.push(tag);
        line.push(b' ');
        line.extend_from_slice(data);
        line.push(b'\n');
        if let Some(max) = self.opts.max_size {
            if self.size > 0 && self.size + line.len() as u64 > max {
                self.rotate();
            }
        }
        if let Some(f) = &mut self.file {
            if f.write_all(&line).is_ok() {
                self.size += line.len() as u64;
            }
        }
    }

    /// Stores the complete lines of `buf` and leaves the rest (a partial line) in it; with
    /// `flush`, or when the rest is long, the rest too as a partial record.
    fn lines(&mut self, stream: u8, buf: &mut Vec<u8>, flush: bool) {
        let mut start = 0;
        while let Some(i) = buf[start..].iter().position(|b| *b == b'\n') {
            self.record(stream, false, &buf[start..start + i]);
            start += i + 1;
        }
        buf.drain(..start);
        while buf.len() >= MAX_LINE {
            let piece: Vec<u8> = buf.drain(..MAX_LINE).collect();
            self.record(stream, true, &piece);
        }
        if flush && !buf.is_empty() {
            let piece = std::mem::take(buf);
            self.record(stream, true, &piece);
        }
    }
}

/// The logger process's loop: reads both pipes until every writer closed them, storing
/// what it reads and writing it to `echo` (stdout, stderr) when given; a reader of `echo`
/// that went away stops the echo, not the log.
fn pump(front: PathBuf, opts: Options, out: OwnedFd, err: OwnedFd, echo: Option<Echo>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut w = Writer {
        front,
        opts,
        file: None,
        size: 0,
    };
    w.open_current();
    let (echo_out, echo_err) = match echo {
        Some(e) => (Some(File::from(e.stdout)), Some(File::from(e.stderr))),
        None => (None, None),
    };
    let mut streams = [
        (b'o', Some(File::from(out)), Vec::new(), echo_out),
        (b'e', Some(File::from(err)), Vec::new(), echo_err),
    ];
    let mut chunk = vec![0u8; 65536];
    while streams.iter().any(|s| s.1.is_some()) {
        let mut ready = [false; 2];
        {
            let mut fds = Vec::new();
            let mut which = Vec::new();
            for (i, s) in streams.iter().enumerate() {
                if let Some(f) = &s.1 {
                    fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                    which.push(i);
                }
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            }
            for (fd, i) in fds.iter().zip(which) {
                ready[i] = fd.revents().is_some_and(|r| !r.is_empty());
            }
        }
        for (i, s) in streams.iter_mut().enumerate() {
            if !ready[i] {
                continue;
            }
            let Some(f) = &mut s.1 else { continue };
            match f.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    s.1 = None;
                    w.lines(s.0, &mut s.2, true);
                }
                Ok(n) => {
                    if let Some(e) = &mut s.3 {
                        if e.write_all(&chunk[..n]).is_err() {
                            s.3 = None;
                        }
                    }
                    s.2.extend_from_slice(&chunk[..n]);
                    w.lines(s.0, &mut s.2, false);
                }
            }
        }
    }
}

/// Where an attached container's output also goes: the user's stdout and stderr.
pub struct Echo {
    /// A copy of the user's stdout.
    pub stdout: OwnedFd,
    /// A copy of the user's stderr.
    pub stderr: OwnedFd,
}

/// A running logger: the write ends of its pipes and its process id.
pub struct Logger {
    /// The container's stdout: records `o`/`O`.
    pub stdout: OwnedFd,
    /// The container's stderr: records `e`/`E`.
    pub stderr: OwnedFd,
    /// The logger process (a child of the caller).
    pub pid: nix::unistd::Pid,
}

/// Starts the logger process for the container whose front folder is `front`; returns the
/// write ends of its stdout and stderr pipes (the caller makes them the container's) and its
/// pid (a child of the caller). The logger keeps no other descriptor of ours and exits once
/// both pipes are closed.
pub fn spawn_logger(front: &Path, opts: Options) -> std::io::Result<Logger> {
    spawn(front, opts, None)
}

/// [`spawn_logger`] whose logger also writes what it reads to `echo` at once (a container
/// attached in the foreground); the caller waits for [`Logger::pid`] after the container
/// ended, so all of the output is shown before it returns.
pub fn spawn_echoing(front: &Path, opts: Options, echo: Echo) -> std::io::Result<Logger> {
    spawn(front, opts, Some(echo))
}

fn spawn(front: &Path, opts: Options, echo: Option<Echo>) -> std::io::Result<Logger> {
    use nix::fcntl::OFlag;
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    // SAFETY: the caller is single-threaded; the child only closes descriptors, then runs
    // the pump loop as a fresh single-threaded process and exits.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Child => {
            let mut keep = vec![out_r.as_raw_fd(), err_r.as_raw_fd()];
            if let Some(e) = &echo {
                keep.extend([e.stdout.as_raw_fd(), e.stderr.as_raw_fd()]);
            }
            close_all_but(&keep);
            std::mem::forget(out_w);
            std::mem::forget(err_w);
            pump(front.to_path_buf(), opts, out_r, err_r, echo);
            // SAFETY: leave without running the parent's exit handlers.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => Ok(Logger {
            stdout: out_w,
            stderr: err_w,
            pid: child,
        }),
    }
}

/// Closes every descriptor of this process except `keep` (the logger must not hold the
/// monitor's report pipe or the container's descriptors).
fn close_all_but(keep: &[i32]) {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds {
        if !keep.contains(&fd) {
            // SAFETY: closing our own descriptors in a fresh child; none is used afterwards.
            unsafe {
                libc::close(fd);
            }
        }
    }
    if let Ok(null) = File::open("/dev/null") {
        for std in 0..3 {
            // SAFETY: dup2 onto a standard fd of our own process.
            unsafe {
                libc::dup2(null.as_raw_fd(), std);
            }
        }
    }
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// When the logger received it (RFC 3339 text as stored).
    pub time: String,
    /// True for stderr.
    pub stderr: bool,
    /// The bytes to output (with the newline for a complete line).
    pub data: Vec<u8>,
}

impl Record {
    /// The record's time (UNIX_EPOCH when unreadable).
    pub fn at(&self) -> SystemTime {
        super::meta::parse_time(&self.time).unwrap_or(SystemTime::UNIX_EPOCH)
    }
}

/// Parses one stored line (without its newline); None for a damaged line.
pub fn parse_line(line: &[u8]) -> Option<Record> {
    let sp = line.iter().position(|b| *b == b' ')?;
    let time = std::str::from_utf8(&line[..sp]).ok()?.to_string();
    let tag = *line.get(sp + 1)?;
    if line.get(sp + 2).is_some_and(|b| *b != b' ') {
        return None;
    }
    let mut data = line.get(sp + 3..).unwrap_or_default().to_vec();
    let (stderr, partial) = match tag {
        b'o' => (false, false),
        b'e' => (true, false),
        b'O' => (false, true),
        b'E' => (true, true),
        _ => return None,
    };
    if !partial {
        data.push(b'\n');
    }
    Some(Record { time, stderr, data })
}

/// Parses the complete lines of `text`; returns the records and how many bytes were used
/// (a trailing piece without a newline is left for later).
pub fn parse_chunk(text: &[u8]) -> (Vec<Record>, usize) {
    let mut out = Vec::new();
    let mut used = 0;
    while let Some(i) = text[used..].iter().position(|b| *b == b'\n') {
        if let Some(r) = parse_line(&text[used..used + i]) {
            out.push(r);
        }
        used += i + 1;
    }
    (out, used)
}

/// Whether the container keeps its log in this store (else the legacy raw file): its current
/// file, or the first rotated one while a rotation has renamed the current file and not yet
/// made the next (the logger may still be draining a container that has exited).
pub fn exists(front: &Path) -> bool {
    nth(front, 0).exists() || nth(front, 1).exists()
}

/// The rotated files present, oldest first, then the current one.
fn files(front: &Path) -> Vec<PathBuf> {
    let mut rotated = Vec::new();
    let mut n = 1;
    while nth(front, n).exists() {
        rotated.push(nth(front, n));
        n += 1;
    }
    rotated.reverse();
    rotated.push(nth(front, 0));
    rotated
}

/// Reads every stored record, oldest first, and opens the current file for following
/// (positioned after what was read).
pub fn read_records(front: &Path) -> std::io::Result<(Vec<Record>, Follower)> {
    let current = File::open(nth(front, 0))?;
    let mut records = Vec::new();
    let paths = files(front);
    for p in &paths[..paths.len() - 1] {
        if let Ok(text) = std::fs::read(p) {
            records.extend(parse_chunk(&text).0);
        }
    }
    let mut follower = Follower {
        path: nth(front, 0),
        file: current,
        pending: Vec::new(),
    };
    records.extend(follower.next_records());
    Ok((records, follower))
}

/// Reads what the logger appends to the current file, across rotations.
pub struct Follower {
    path: PathBuf,
    file: File,
    pending: Vec<u8>,
}

impl Follower {
    /// The records appended since the last call; after a rotation, the rest of the old file
    /// and then the new one.
    pub fn next_records(&mut self) -> Vec<Record> {
        let mut out = Vec::new();
        loop {
            let _ = self.file.read_to_end(&mut self.pending);
            let (recs, used) = parse_chunk(&self.pending);
            out.extend(recs);
            self.pending.drain(..used);
            let ours = self.file.metadata().map(|m| m.ino()).ok();
            let now = std::fs::metadata(&self.path).map(|m| m.ino()).ok();
            match (ours, now) {
                (Some(a), Some(b)) if a != b => match File::open(&self.path) {
                    Ok(f) => {
                        self.file = f;
                        self.pending.clear();
                    }
                    Err(_) => return out,
                },
                _ => return out,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_follow_dockers_rules() {
        let o = |v: &[&str]| parse_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            o(&["max-size=1k", "max-file=3"]).unwrap(),
            Options {
                max_size: Some(1024),
                max_file: 3
            }
        );
        assert_eq!(o(&[]).unwrap().max_size, None);
        assert!(o(&["max-size=abc"]).unwrap_err().contains("max-size"));
        assert!(o(&["max-file=0", "max-size=1k"]).is_err());
        assert!(o(&["max-file=2"]).is_err());
        assert!(o(&["colour=blue"])
            .unwrap_err()
            .contains("unknown log option"));
    }

    #[test]
    fn the_store_exists_while_a_rotation_has_the_current_file_renamed() {
        let d = tempfile::tempdir().unwrap();
        assert!(!exists(d.path()), "an empty front folder has no store");
        std::fs::write(nth(d.path(), 1), b"").unwrap();
        assert!(
            exists(d.path()),
            "only the first rotated file: mid-rotation"
        );
        std::fs::remove_file(nth(d.path(), 1)).unwrap();
        std::fs::write(nth(d.path(), 0), b"").unwrap();
        assert!(exists(d.path()));
    }

    #[test]
    fn lines_round_trip_and_rotate() {
        let d = tempfile::tempdir().unwrap();
        let mut w = Writer {
            front: d.path().to_path_buf(),
            opts: Options {
                max_size: Some(200),
                max_file: 3,
            },
            file: None,
            size: 0,
        };
        w.open_current();
        let mut buf = b"one\ntwo\nthr".to_vec();
        w.lines(b'o', &mut buf, false);
        assert_eq!(buf, b"thr");
        w.lines(b'e', &mut b"oops\n".to_vec(), false);
        w.lines(b'o', &mut buf, true);
        let (recs, _) = read_records(d.path()).unwrap();
        let data: Vec<&[u8]> = recs.iter().map(|r| r.data.as_slice()).collect();
        assert_eq!(data, [&b"one\n"[..], b"two\n", b"oops\n", b"thr"]);
        assert!(recs[2].stderr && !recs[0].stderr);
        for i in 0..40 {
            w.lines(b'o', &mut format!("line {i}\n").into_bytes(), false);
        }
        assert!(nth(d.path(), 2).exists() && !nth(d.path(), 3).exists());
        for f in files(d.path()) {
            assert!(std::fs::metadata(f).unwrap().len() <= 200);
        }
        let (recs, _) = read_records(d.path()).unwrap();
        assert_eq!(recs.last().unwrap().data, b"line 39\n");
        let text: Vec<u8> = recs.iter().flat_map(|r| r.data.clone()).collect();
        let text = String::from_utf8(text).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Consecutive: nothing lost inside the kept files.
        let first: usize = lines[0].trim_start_matches("line ").parse().unwrap();
        assert_eq!(lines.len(), 40 - first);
    }
}
