//! `thermal_zone`: zone temperatures and cooling device states from
//! /sys/class/thermal (thermal_zone<N>, cooling_device<N>).

use crate::expo::{Families, Kind};
use crate::util::{dir_names, parse_error};
use crate::{CollectError, HostPaths, Result};

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let base = paths.sys("class/thermal");
    let names = dir_names(&base);
    for dir in names.iter().filter(|n| glob_digit(n, "thermal_zone")) {
        let zone = format!("{base}/{dir}");
        let (kind, temp) = match read_zone(&zone) {
            Ok(z) => z,
            // A zone whose sensor is off answers ENODATA: skipped.
            Err(CollectError::Read { source, .. }) if source.raw_os_error() == Some(libc::ENODATA) => continue,
            Err(e) => return Err(e),
        };
        out.family("node_thermal_zone_temp", "Zone temperature in Celsius", Kind::Gauge, &["zone", "type"])
            .push(&[&dir["thermal_zone".len()..], kind.as_str()], temp as f64 / 1000.0);
    }
    // Read every cooling device before exporting: procfs fails them as a set.
    let mut devices = Vec::new();
    for dir in names.iter().filter(|n| glob_digit(n, "cooling_device")) {
        let dev = format!("{base}/{dir}");
        let kind = sys_read(&format!("{dev}/type"))?;
        let max = read_int(&format!("{dev}/max_state"), true)?;
        let cur = read_int(&format!("{dev}/cur_state"), true)?;
        devices.push((dir["cooling_device".len()..].to_string(), kind, cur, max));
    }
    for (name, kind, cur, max) in devices {
        out.family(
            "node_cooling_device_cur_state",
            "Current throttle state of the cooling device",
            Kind::Gauge,
            &["name", "type"],
        )
        .push(&[&name, &kind], cur as f64);
        out.family(
            "node_cooling_device_max_state",
            "Maximum throttle state of the cooling device",
            Kind::Gauge,
            &["name", "type"],
        )
        .push(&[&name, &kind], max as f64);
    }
    Ok(())
}

/// Go's `filepath.Glob("<prefix>[0-9]*")`.
fn glob_digit(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix).is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
}

/// The zone's type and temperature (m°C); `mode` and `passive` are read
/// only for procfs' failure rules.
fn read_zone(zone: &str) -> Result<(String, i64)> {
    let kind = sys_read(&format!("{zone}/type"))?;
    sys_read(&format!("{zone}/policy"))?;
    let temp = read_int(&format!("{zone}/temp"), false)?;
    let tolerated = |e: &std::io::Error| matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied);
    if let Err(source) = std::fs::read(format!("{zone}/mode")) {
        if !tolerated(&source) {
            return Err(CollectError::Read { path: format!("{zone}/mode"), source });
        }
    }
    let passive = format!("{zone}/passive");
    match crate::util::read_string(&passive) {
        Ok(text) if text.trim().parse::<u64>().is_err() => return Err(parse_error(&passive, "not an unsigned integer")),
        Err(source) if !tolerated(&source) => return Err(CollectError::Read { path: passive, source }),
        _ => {}
    }
    Ok((kind, temp))
}

/// procfs' SysReadFile: at most 128 bytes, surrounding whitespace trimmed.
fn sys_read(path: &str) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| CollectError::Read { path: path.to_string(), source })?;
    let head = &bytes[..bytes.len().min(128)];
    Ok(String::from_utf8_lossy(head).trim().to_string())
}

fn read_int(path: &str, short: bool) -> Result<i64> {
    let text = if short {
        sys_read(path)?
    } else {
        crate::util::read_string(path).map_err(|source| CollectError::Read { path: path.to_string(), source })?
    };
    crate::util::parse_trimmed::<i64>(&text).ok_or_else(|| parse_error(path, "not an integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("-12500\n") {
            let _ = crate::util::parse_trimmed::<i64>(&t);
        }
    }

    #[test]
    fn globs_like_go() {
        assert!(glob_digit("thermal_zone0", "thermal_zone"));
        assert!(glob_digit("thermal_zone12x", "thermal_zone"));
        assert!(!glob_digit("thermal_zone", "thermal_zone"));
        assert!(!glob_digit("cooling_devicex", "cooling_device"));
        assert_eq!(crate::util::parse_trimmed::<i64>(" 49925\n"), Some(49925));
    }
}
