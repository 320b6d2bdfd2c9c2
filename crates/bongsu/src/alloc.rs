//! Allocator tuning that has to happen in code. mimalloc reads its
//! `MIMALLOC_*` environment variables when the process starts, before
//! `main`, so the binary's defaults are set here instead, first thing in
//! `main`; an explicitly set variable still wins.
//!
//! `purge_delay = 0`: memory mimalloc frees is returned to the OS at once
//! instead of after 10 ms × the arena multiplier. Scrapes free a whole
//! target's body and parse buffers every interval; kept around, they were
//! most of the gap between the head's own size and the resident memory
//! (1M series, measured in docs/benchmarks.md).

/// mimalloc v2's `mi_option_purge_delay` (`mi_option_e` in mimalloc.h:
/// show_errors = 0 … eager_commit_delay = 14, purge_delay = 15).
#[cfg(not(feature = "system-alloc"))]
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

#[cfg(not(feature = "system-alloc"))]
extern "C" {
    // From the mimalloc the `mimalloc` crate links (libmimalloc-sys).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// Applies the binary's allocator defaults.
#[allow(unsafe_code)]
pub fn tune() {
    #[cfg(not(feature = "system-alloc"))]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: `mi_option_set` stores an integer in mimalloc's option
        // table (an atomic store); any value is valid for purge_delay and
        // it may be changed while the allocator is in use.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
    }
}
