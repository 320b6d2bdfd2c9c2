//! `timex`: the kernel clock discipline (NTP) state from `adjtimex(2)`.

use crate::expo::{Families, Kind};
use crate::sys::{self, Timex};
use crate::{CollectError, HostPaths, Result};

/// adjtimex's TIME_ERROR: the clock is not synchronised.
const TIME_ERROR: i32 = 5;
/// STA_NANO: offsets and jitter are in nanoseconds, not microseconds.
const STA_NANO: i32 = 0x2000;
/// adjtimex(2) NOTES: frequencies are ppm with a 16-bit fraction.
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;

pub(crate) fn collect(_paths: &HostPaths, out: &mut Families) -> Result {
    let t = match sys::adjtimex() {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(CollectError::NoData(format!("not collecting timex metrics: {e}")))
        }
        Err(source) => {
            return Err(CollectError::Read {
                path: "adjtimex(2)".into(),
                source,
            })
        }
    };
    for (name, help, kind, value) in metrics(&t) {
        out.single(name, help, kind, value);
    }
    Ok(())
}

fn metrics(t: &Timex) -> [(&'static str, &'static str, Kind, f64); 17] {
    let divisor = if t.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    let sync = if t.state == TIME_ERROR { 0.0 } else { 1.0 };
    [
        ("node_timex_sync_status", "Is clock synchronized to a reliable server (1 = yes, 0 = no).", Kind::Gauge, sync),
        ("node_timex_offset_seconds", "Time offset in between local system and reference clock.", Kind::Gauge, t.offset as f64 / divisor),
        ("node_timex_frequency_adjustment_ratio", "Local clock frequency adjustment.", Kind::Gauge, 1.0 + t.freq as f64 / PPM16FRAC),
        ("node_timex_maxerror_seconds", "Maximum error in seconds.", Kind::Gauge, t.maxerror as f64 / 1e6),
        ("node_timex_estimated_error_seconds", "Estimated error in seconds.", Kind::Gauge, t.esterror as f64 / 1e6),
        ("node_timex_status", "Value of the status array bits.", Kind::Gauge, t.status as f64),
        ("node_timex_loop_time_constant", "Phase-locked loop time constant.", Kind::Gauge, t.constant as f64),
        ("node_timex_tick_seconds", "Seconds between clock ticks.", Kind::Gauge, t.tick as f64 / 1e6),
        ("node_timex_pps_frequency_hertz", "Pulse per second frequency.", Kind::Gauge, t.ppsfreq as f64 / PPM16FRAC),
        ("node_timex_pps_jitter_seconds", "Pulse per second jitter.", Kind::Gauge, t.jitter as f64 / divisor),
        ("node_timex_pps_shift_seconds", "Pulse per second interval duration.", Kind::Gauge, t.shift as f64),
        ("node_timex_pps_stability_hertz", "Pulse per second stability, average of recent frequency changes.", Kind::Gauge, t.stabil as f64 / PPM16FRAC),
        ("node_timex_pps_jitter_total", "Pulse per second count of jitter limit exceeded events.", Kind::Counter, t.jitcnt as f64),
        ("node_timex_pps_calibration_total", "Pulse per second count of calibration intervals.", Kind::Counter, t.calcnt as f64),
        ("node_timex_pps_error_total", "Pulse per second count of calibration errors.", Kind::Counter, t.errcnt as f64),
        ("node_timex_pps_stability_exceeded_total", "Pulse per second count of stability limit exceeded events.", Kind::Counter, t.stbcnt as f64),
        ("node_timex_tai_offset_seconds", "International Atomic Time (TAI) offset.", Kind::Gauge, t.tai as f64),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_units_like_node_exporter() {
        let t = Timex {
            state: TIME_ERROR,
            offset: 1500,
            freq: 65536 * 10,
            maxerror: 16_000_000,
            status: 0x40 | STA_NANO,
            tick: 10000,
            tai: 37,
            ..Timex::default()
        };
        let m = metrics(&t);
        let get = |n: &str| m.iter().find(|x| x.0 == n).map(|x| x.3);
        assert_eq!(get("node_timex_sync_status"), Some(0.0));
        assert_eq!(get("node_timex_offset_seconds"), Some(1.5e-6));
        assert_eq!(get("node_timex_frequency_adjustment_ratio"), Some(1.00001));
        assert_eq!(get("node_timex_maxerror_seconds"), Some(16.0));
        assert_eq!(get("node_timex_tick_seconds"), Some(0.01));
        assert_eq!(get("node_timex_tai_offset_seconds"), Some(37.0));
        let micro = Timex { offset: 1500, ..Timex::default() };
        assert_eq!(metrics(&micro)[1].3, 0.0015);
        assert_eq!(metrics(&micro)[0].3, 1.0);
    }
}
