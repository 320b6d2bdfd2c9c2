//! The only calls into libc. Each unsafe block sits in one tiny function with
//! its own SAFETY note; the rest of the crate is `deny(unsafe_code)`.

use std::ffi::{CStr, CString};

/// What `statvfs(3)` reports for one mount point, already in bytes / inodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FsStats {
    pub size_bytes: f64,
    pub free_bytes: f64,
    pub avail_bytes: f64,
    pub files: f64,
    pub files_free: f64,
}

/// `statvfs(3)` on `path`. May block for as long as the file system does
/// (a dead NFS server): callers run it on a thread with a timeout.
pub(crate) fn statvfs(path: &str) -> std::io::Result<FsStats> {
    let c_path = CString::new(path)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in mount point"))?;
    let buf = raw_statvfs(&c_path)?;
    // f_blocks, f_bfree and f_bavail count f_frsize units (POSIX); Linux
    // fills f_frsize, fall back to f_bsize for file systems that leave it 0.
    let unit = if buf.f_frsize > 0 {
        buf.f_frsize as f64
    } else {
        buf.f_bsize as f64
    };
    Ok(FsStats {
        size_bytes: buf.f_blocks as f64 * unit,
        free_bytes: buf.f_bfree as f64 * unit,
        avail_bytes: buf.f_bavail as f64 * unit,
        files: buf.f_files as f64,
        files_free: buf.f_ffree as f64,
    })
}

#[allow(unsafe_code)]
fn raw_statvfs(path: &CStr) -> std::io::Result<libc::statvfs> {
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call;
    // `buf` is a plain-old-data struct the kernel fully writes on success,
    // and we only read it when the call returned 0.
    unsafe {
        let mut buf: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut buf) == 0 {
            Ok(buf)
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// Whether `path` is on a procfs mount (`statfs(2)`'s `PROC_SUPER_MAGIC`).
pub(crate) fn is_procfs(path: &str) -> bool {
    const PROC_SUPER_MAGIC: i64 = 0x9fa0;
    CString::new(path).ok().and_then(|p| raw_statfs_type(&p)) == Some(PROC_SUPER_MAGIC)
}

#[allow(unsafe_code)]
fn raw_statfs_type(path: &CStr) -> Option<i64> {
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call;
    // `buf` is a plain-old-data struct the kernel fully writes on success,
    // and we only read it when the call returned 0.
    unsafe {
        let mut buf: libc::statfs = std::mem::zeroed();
        #[allow(clippy::unnecessary_cast)]
        (libc::statfs(path.as_ptr(), &mut buf) == 0).then_some(buf.f_type as i64)
    }
}

/// The soft limit on open files (`RLIMIT_NOFILE`), when readable.
pub(crate) fn open_files_limit() -> Option<u64> {
    raw_getrlimit_nofile().map(|(soft, _)| soft)
}

/// Raises the soft limit on open files to the hard limit, as Go programs
/// (Prometheus, the exporters) do at start; returns `(old, new)` soft limits.
pub fn raise_open_files_limit() -> Option<(u64, u64)> {
    let (soft, hard) = raw_getrlimit_nofile()?;
    if soft >= hard {
        return Some((soft, soft));
    }
    raw_setrlimit_nofile(hard, hard).then_some((soft, hard))
}

#[allow(unsafe_code)]
fn raw_getrlimit_nofile() -> Option<(u64, u64)> {
    // SAFETY: `lim` is a plain-old-data struct the kernel fully writes on
    // success; we only read it when the call returned 0.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        #[allow(clippy::unnecessary_cast)]
        (libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0).then_some((lim.rlim_cur as u64, lim.rlim_max as u64))
    }
}

#[allow(unsafe_code)]
fn raw_setrlimit_nofile(soft: u64, hard: u64) -> bool {
    let lim = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
    // SAFETY: `lim` is a valid, initialised struct the kernel only reads.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 }
}

/// The six fields of `uname(2)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Utsname {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub domainname: String,
}

pub(crate) fn uname() -> Option<Utsname> {
    let u = raw_uname()?;
    Some(Utsname {
        sysname: field(&u.sysname),
        nodename: field(&u.nodename),
        release: field(&u.release),
        version: field(&u.version),
        machine: field(&u.machine),
        domainname: field(&u.domainname),
    })
}

/// A NUL-terminated `c_char` array as a string; stops at the array's end
/// when the NUL is missing.
fn field(chars: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[allow(unsafe_code)]
fn raw_uname() -> Option<libc::utsname> {
    // SAFETY: `buf` is a plain-old-data struct of fixed-size char arrays that
    // uname(2) fills on success; we only read it when the call returned 0.
    unsafe {
        let mut buf: libc::utsname = std::mem::zeroed();
        (libc::uname(&mut buf) == 0).then_some(buf)
    }
}

/// The kernel's page size in bytes (`sysconf(_SC_PAGESIZE)`); 4096 if it
/// cannot be had.
#[allow(unsafe_code)]
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf takes no pointers and only reads a configuration value.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as u64
    } else {
        4096
    }
}

/// The local time zone's abbreviation and UTC offset in seconds at `now`
/// (seconds since the epoch), as `localtime_r(3)` reports them.
#[allow(unsafe_code)]
pub(crate) fn local_zone(now: i64) -> Option<(String, i64)> {
    let t: libc::time_t = now as libc::time_t;
    // SAFETY: `t` and `tm` are valid for the call; `tm` is plain old data that
    // localtime_r fills on success (non-null return). `tm_zone`, when not null,
    // points to a NUL-terminated string in libc's static time zone storage,
    // which we copy out immediately.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        let name = if tm.tm_zone.is_null() {
            String::new()
        } else {
            CStr::from_ptr(tm.tm_zone).to_string_lossy().into_owned()
        };
        Some((name, tm.tm_gmtoff as i64))
    }
}

/// The kernel clock's discipline state as `adjtimex(2)` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Timex {
    /// The call's return value, the clock state (`TIME_OK` … `TIME_ERROR`).
    pub state: i32,
    pub offset: i64,
    pub freq: i64,
    pub maxerror: i64,
    pub esterror: i64,
    pub status: i32,
    pub constant: i64,
    pub tick: i64,
    pub ppsfreq: i64,
    pub jitter: i64,
    pub shift: i32,
    pub stabil: i64,
    pub jitcnt: i64,
    pub calcnt: i64,
    pub errcnt: i64,
    pub stbcnt: i64,
    pub tai: i32,
}

/// `adjtimex(2)` with `modes = 0`, which only reads the kernel's state.
// The fields are C `long`s: i64 here, i32 on 32-bit targets.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn adjtimex() -> std::io::Result<Timex> {
    let (state, t) = raw_adjtimex()?;
    Ok(Timex {
        state,
        offset: t.offset as i64,
        freq: t.freq as i64,
        maxerror: t.maxerror as i64,
        esterror: t.esterror as i64,
        status: t.status,
        constant: t.constant as i64,
        tick: t.tick as i64,
        ppsfreq: t.ppsfreq as i64,
        jitter: t.jitter as i64,
        shift: t.shift,
        stabil: t.stabil as i64,
        jitcnt: t.jitcnt as i64,
        calcnt: t.calcnt as i64,
        errcnt: t.errcnt as i64,
        stbcnt: t.stbcnt as i64,
        tai: t.tai,
    })
}

#[allow(unsafe_code)]
fn raw_adjtimex() -> std::io::Result<(i32, libc::timex)> {
    // SAFETY: `buf` is a plain-old-data struct; zeroed means `modes == 0`, so
    // the kernel only writes its current state into it and changes nothing.
    // We read it only when the call did not return -1.
    unsafe {
        let mut buf: libc::timex = std::mem::zeroed();
        let state = libc::adjtimex(&mut buf);
        if state == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok((state, buf))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statvfs_root_and_missing() {
        let root = statvfs("/").expect("statvfs /");
        assert!(root.size_bytes > 0.0);
        assert!(root.free_bytes <= root.size_bytes);
        assert!(statvfs("/definitely/not/a/mount/point").is_err());
        assert!(statvfs("a\0b").is_err());
    }

    #[test]
    fn uname_and_zone() {
        let u = uname().expect("uname");
        assert_eq!(u.sysname, "Linux");
        assert!(!u.release.is_empty());
        let (_, offset) = local_zone(0).expect("localtime");
        assert!(offset.abs() <= 14 * 3600);
    }

    #[test]
    fn page_size_and_adjtimex() {
        let page = page_size();
        assert!(page >= 4096 && page.is_power_of_two());
        let t = adjtimex().expect("adjtimex read-only");
        assert!((0..=5).contains(&t.state));
        assert!(t.tick > 0);
    }
}
