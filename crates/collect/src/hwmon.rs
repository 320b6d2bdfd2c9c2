//! `hwmon`: sensor readings from /sys/class/hwmon/hwmon<N> (and each one's
//! `device/` directory), named like node_exporter: `temp1_input` becomes
//! `node_hwmon_temp_celsius{chip,sensor="temp1"}` in °C, `in0_input`
//! `node_hwmon_in_volts`, `fan1_input` `node_hwmon_fan_rpm`, and so on.
//! Without /sys/class/hwmon the collector has no data (success 0).

use std::collections::BTreeMap;
use std::io::Read as _;

use crate::expo::{Families, Kind};
use crate::{CollectError, HostPaths, Result};

/// The sensor types node_exporter reads.
const SENSOR_TYPES: [&str; 13] = [
    "vrm", "beep_enable", "update_interval", "in", "cpu", "fan", "pwm", "temp", "curr", "power", "energy",
    "humidity", "intrusion",
];

const LABELS: &[&str] = &["chip", "sensor"];

/// sensor (`temp1`) → property (`input`, `max`, `` for a bare `pwm1`) → raw value.
type Sensors = BTreeMap<String, BTreeMap<String, String>>;

pub(crate) fn collect(paths: &HostPaths, out: &mut Families) -> Result {
    let base = paths.sys("class/hwmon");
    let mut entries: Vec<String> = match std::fs::read_dir(&base) {
        Ok(rd) => rd.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CollectError::NoData("hwmon collector metrics are not available for this system".into()))
        }
        Err(source) => return Err(CollectError::Read { path: base, source }),
    };
    entries.sort();
    let mut last_err = None;
    for entry in entries {
        let dir = format!("{base}/{entry}");
        // Follows the class symlink; anything but a directory is skipped.
        if !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        if let Err(e) = collect_chip(&dir, out) {
            last_err = Some(e);
        }
    }
    last_err.map_or(Ok(()), Err)
}

fn collect_chip(dir: &str, out: &mut Families) -> Result {
    let chip = chip_name(dir)?;
    let mut sensors = Sensors::new();
    read_sensors(dir, &mut sensors)?;
    let device = format!("{dir}/device");
    if std::fs::metadata(&device).is_ok() {
        read_sensors(&device, &mut sensors)?;
    }
    if let Some(human) = std::fs::read(format!("{dir}/name")).ok().map(|raw| clean_name(&String::from_utf8_lossy(&raw))) {
        if !human.is_empty() {
            out.family("node_hwmon_chip_names", "Annotation metric for human-readable chip names", Kind::Gauge, &["chip", "chip_name"])
                .push(&[chip.as_str(), &human], 1.0);
        }
    }
    for (sensor, props) in &sensors {
        emit_sensor(&chip, sensor, props, out);
    }
    Ok(())
}

/// One sensor's series. Returns nothing: values that are not numbers are
/// skipped, as node_exporter skips them.
fn emit_sensor(chip: &str, sensor: &str, props: &BTreeMap<String, String>, out: &mut Families) {
    let Some((kind, _, _)) = explode(sensor) else { return };
    let labels = [chip, sensor];
    let num = |s: &str| bongsu_model::parse_go_float(s).filter(|_| s.trim() == s);
    if let Some(label) = props.get("label") {
        out.family("node_hwmon_sensor_label", "Label for given chip and sensor", Kind::Gauge, &["chip", "sensor", "label"])
            .push(&[chip, sensor, label.as_str()], 1.0);
    }
    let bare = props.get("").map(String::as_str);
    match kind {
        "beep_enable" => {
            let v = if bare == Some("1") { 1.0 } else { 0.0 };
            out.family("node_hwmon_beep_enabled", "Hardware beep enabled", Kind::Gauge, LABELS).push(&labels, v);
            return;
        }
        "vrm" => {
            if let Some(v) = bare.and_then(num) {
                out.family("node_hwmon_voltage_regulator_version", "Hardware voltage regulator", Kind::Gauge, LABELS)
                    .push(&labels, v);
            }
            return;
        }
        "update_interval" => {
            if let Some(v) = bare.and_then(num) {
                out.family("node_hwmon_update_interval_seconds", "Hardware monitor update interval", Kind::Gauge, LABELS)
                    .push(&labels, v * 0.001);
            }
            return;
        }
        _ => {}
    }
    let prefix = format!("node_hwmon_{kind}");
    for (element, raw) in props {
        if element == "label" {
            continue;
        }
        let mut name = prefix.clone();
        if element == "input" {
            // `input` is the reading itself, unless a bare file holds it.
            if bare.is_some() {
                name.push_str("_input");
            }
        } else if !element.is_empty() {
            name.push('_');
            name.push_str(&clean_name(element));
        }
        let Some(v) = num(raw) else { continue };
        let el = element.as_str();
        let (name, help, kind_, v) = match (kind, el) {
            (_, "fault" | "alarm") => (name, format!("Hardware sensor {el} status ({kind})"), Kind::Gauge, v),
            (_, "beep") => (format!("{name}_enabled"), "Hardware monitor sensor has beeping enabled".into(), Kind::Gauge, v),
            ("in" | "cpu", _) => (format!("{name}_volts"), format!("Hardware monitor for voltage ({el})"), Kind::Gauge, v * 0.001),
            ("temp", e) if e != "type" => {
                let e = if e.is_empty() { "input" } else { e };
                (format!("{name}_celsius"), format!("Hardware monitor for temperature ({e})"), Kind::Gauge, v * 0.001)
            }
            ("curr", _) => (format!("{name}_amps"), format!("Hardware monitor for current ({el})"), Kind::Gauge, v * 0.001),
            ("energy", _) => (
                format!("{name}_joule_total"),
                format!("Hardware monitor for joules used so far ({el})"),
                Kind::Counter,
                v / 1_000_000.0,
            ),
            ("power", "accuracy") => (name, "Hardware monitor power meter accuracy, as a ratio".into(), Kind::Gauge, v / 1_000_000.0),
            ("power", "average_interval" | "average_interval_min" | "average_interval_max") => (
                format!("{name}_seconds"),
                format!("Hardware monitor power usage update interval ({el})"),
                Kind::Gauge,
                v * 0.001,
            ),
            ("power", _) => (format!("{name}_watt"), format!("Hardware monitor for power usage in watts ({el})"), Kind::Gauge, v / 1_000_000.0),
            ("humidity", _) => (
                name,
                format!("Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({el})"),
                Kind::Gauge,
                v / 1_000_000.0,
            ),
            ("fan", "input" | "min" | "max" | "target") => {
                (format!("{name}_rpm"), format!("Hardware monitor for fan revolutions per minute ({el})"), Kind::Gauge, v)
            }
            _ => (name, format!("Hardware monitor {kind} element {el}"), Kind::Gauge, v),
        };
        out.family(&name, &help, kind_, LABELS).push(&labels, v);
    }
}

/// node_exporter's `^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$`
/// split of a sensor file name: `temp1_crit_alarm` → (`temp`, 1,
/// `crit_alarm`), `beep_enable` → (`beep_enable`, 0, ``).
fn explode(name: &str) -> Option<(&str, u64, &str)> {
    let type_end = name.find(|c: char| c.is_ascii_digit()).unwrap_or(name.len());
    if type_end == 0 {
        return None;
    }
    let kind = &name[..type_end];
    let rest = &name[type_end..];
    let id_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (id, rest) = rest.split_at(id_end);
    let property = if rest.is_empty() {
        ""
    } else {
        // After the digits there must be `_` and at least one character.
        let p = rest.strip_prefix('_')?;
        if p.is_empty() {
            return None;
        }
        p
    };
    let id = if id.is_empty() { 0 } else { id.parse().ok()? };
    Some((kind, id, property))
}

/// Reads every sensor file of `dir` into `sensors`.
fn read_sensors(dir: &str, sensors: &mut Sensors) -> Result {
    let rd = std::fs::read_dir(dir).map_err(|source| CollectError::Read { path: dir.to_string(), source })?;
    let mut names: Vec<String> = rd.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
    names.sort();
    for file in names {
        let Some((kind, id, prop)) = explode(&file) else { continue };
        if !SENSOR_TYPES.contains(&kind) {
            continue;
        }
        let Some(raw) = read_value(&format!("{dir}/{file}")) else { continue };
        sensors.entry(format!("{kind}{id}")).or_default().insert(prop.to_string(), raw);
    }
    Ok(())
}

/// One read(2) of at most 128 bytes (some drivers answer EAGAIN forever to
/// retrying readers), newlines trimmed; `None` on any error.
fn read_value(path: &str) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; 128];
    let n = f.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).trim_matches('\n').to_string())
}

/// The chip label: `<bus>_<device>` from the resolved `device` link
/// (`platform_coretemp_0`), else the `name` file, else `hwmon<N>`.
fn chip_name(dir: &str) -> Result<String> {
    if let Ok(dev) = std::fs::canonicalize(format!("{dir}/device")) {
        let name = dev.file_name().map(|s| clean_name(&s.to_string_lossy())).unwrap_or_default();
        let bus = dev
            .parent()
            .and_then(|p| p.file_name())
            .map(|s| clean_name(&s.to_string_lossy()))
            .unwrap_or_default();
        if !bus.is_empty() && !name.is_empty() {
            return Ok(format!("{bus}_{name}"));
        }
        if !name.is_empty() {
            return Ok(name);
        }
    }
    if let Ok(raw) = std::fs::read(format!("{dir}/name")) {
        let name = clean_name(&String::from_utf8_lossy(&raw));
        if !name.is_empty() {
            return Ok(name);
        }
    }
    let real = std::fs::canonicalize(dir).map_err(|source| CollectError::Read { path: dir.to_string(), source })?;
    let name = real.file_name().map(|s| clean_name(&s.to_string_lossy())).unwrap_or_default();
    if name.is_empty() {
        return Err(crate::util::parse_error(dir, "could not derive a monitoring name"));
    }
    Ok(name)
}

/// Lower case, every character outside `[a-z0-9:_]` replaced by `_`, and
/// leading/trailing `_` trimmed.
fn clean_name(s: &str) -> String {
    let lower = s.to_lowercase();
    let replaced: String = lower
        .chars()
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' { c } else { '_' })
        .collect();
    replaced.trim_matches('_').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangled_input_never_panics() {
        for t in crate::util::mangled("temp10_crit_alarm") {
            let _ = explode(&t);
            let _ = clean_name(&t);
        }
    }

    #[test]
    fn explodes_like_node_exporter() {
        assert_eq!(explode("temp1_input"), Some(("temp", 1, "input")));
        assert_eq!(explode("temp10_crit_alarm"), Some(("temp", 10, "crit_alarm")));
        assert_eq!(explode("pwm1"), Some(("pwm", 1, "")));
        assert_eq!(explode("beep_enable"), Some(("beep_enable", 0, "")));
        assert_eq!(explode("update_interval"), Some(("update_interval", 0, "")));
        assert_eq!(explode("name"), Some(("name", 0, "")));
        assert_eq!(explode("1abc"), None);
        assert_eq!(explode("in0_"), None);
        assert_eq!(explode("in0x"), None);
        assert_eq!(clean_name("Coretemp\n"), "coretemp");
        assert_eq!(clean_name("platform/ACPI-0.1"), "platform_acpi_0_1");
    }

    #[test]
    fn names_like_node_exporter() {
        let mut props = BTreeMap::new();
        for (k, v) in [("input", "55000"), ("max", "100000"), ("crit_alarm", "0"), ("label", "Core 0"), ("type", "4")] {
            props.insert(k.to_string(), v.to_string());
        }
        let mut f = Families::new();
        emit_sensor("platform_coretemp_0", "temp1", &props, &mut f);
        let mut fan = BTreeMap::new();
        for (k, v) in [("input", "1200"), ("alarm", "0"), ("beep", "1"), ("div", "2")] {
            fan.insert(k.to_string(), v.to_string());
        }
        emit_sensor("c", "fan1", &fan, &mut f);
        let mut pwm = BTreeMap::new();
        pwm.insert(String::new(), "128".to_string());
        pwm.insert("enable".to_string(), "2".to_string());
        emit_sensor("c", "pwm1", &pwm, &mut f);
        let text = f.render();
        for line in [
            "# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)",
            "node_hwmon_temp_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 55",
            "node_hwmon_temp_max_celsius{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 100",
            "# HELP node_hwmon_temp_crit_alarm_celsius Hardware monitor for temperature (crit_alarm)",
            "node_hwmon_temp_type{chip=\"platform_coretemp_0\",sensor=\"temp1\"} 4",
            "node_hwmon_sensor_label{chip=\"platform_coretemp_0\",label=\"Core 0\",sensor=\"temp1\"} 1",
            "node_hwmon_fan_rpm{chip=\"c\",sensor=\"fan1\"} 1200",
            "# HELP node_hwmon_fan_alarm Hardware sensor alarm status (fan)",
            "node_hwmon_fan_beep_enabled{chip=\"c\",sensor=\"fan1\"} 1",
            "# HELP node_hwmon_fan_div Hardware monitor fan element div",
            "# HELP node_hwmon_pwm Hardware monitor pwm element ",
            "node_hwmon_pwm{chip=\"c\",sensor=\"pwm1\"} 128",
            "node_hwmon_pwm_enable{chip=\"c\",sensor=\"pwm1\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
