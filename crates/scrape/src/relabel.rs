//! Relabelling, with every action Prometheus 3 has and its defaults
//! (separator `;`, regex `(.*)` anchored as `^(?s:…)$`, replacement `$1`,
//! action `replace`).

use std::fmt;

use bongsu_model::{Labels, LabelsBuilder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A relabel action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    #[default]
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        Some(match s.to_ascii_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return None,
        })
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Action::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown relabel action {s:?}")))
    }
}

/// A relabel regex: the source text and its anchored compiled form.
#[derive(Clone)]
pub struct RelabelRegex {
    source: String,
    re: regex::Regex,
}

impl RelabelRegex {
    pub fn new(source: &str) -> Result<Self, String> {
        let re = bongsu_model::matcher::compile_anchored(source).map_err(|e| e.to_string())?;
        Ok(RelabelRegex {
            source: source.to_string(),
            re,
        })
    }
    pub fn as_str(&self) -> &str {
        &self.source
    }
    pub fn regex(&self) -> &regex::Regex {
        &self.re
    }
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }
}

impl Default for RelabelRegex {
    fn default() -> Self {
        // The default pattern always compiles.
        RelabelRegex::new(DEFAULT_REGEX).unwrap_or_else(|_| unreachable!())
    }
}

impl PartialEq for RelabelRegex {
    fn eq(&self, o: &Self) -> bool {
        self.source == o.source
    }
}

impl fmt::Debug for RelabelRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

impl Serialize for RelabelRegex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for RelabelRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `regex:` with no value means the empty regex, as in Prometheus.
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        RelabelRegex::new(&s).map_err(serde::de::Error::custom)
    }
}

pub const DEFAULT_REGEX: &str = "(.*)";
pub const DEFAULT_SEPARATOR: &str = ";";
pub const DEFAULT_REPLACEMENT: &str = "$1";

fn default_separator() -> String {
    DEFAULT_SEPARATOR.into()
}
fn default_replacement() -> String {
    DEFAULT_REPLACEMENT.into()
}

/// One relabel rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    #[serde(default = "default_separator")]
    pub separator: String,
    #[serde(default)]
    pub regex: RelabelRegex,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub modulus: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_label: String,
    #[serde(default = "default_replacement")]
    pub replacement: String,
    #[serde(default)]
    pub action: Action,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: default_separator(),
            regex: RelabelRegex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: default_replacement(),
            action: Action::Replace,
        }
    }
}

impl RelabelConfig {
    /// Checks the rule as Prometheus' `relabel.Config.Validate` does.
    pub fn validate(&self) -> Result<(), String> {
        let a = self.action;
        let name = a.as_str();
        if self.modulus == 0 && a == Action::HashMod {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        if matches!(
            a,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        ) && self.target_label.is_empty()
        {
            return Err(format!(
                "relabel configuration for {name} action requires 'target_label' value"
            ));
        }
        if matches!(
            a,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        ) && self.replacement != DEFAULT_REPLACEMENT
        {
            return Err(format!("'replacement' can not be set for {name} action"));
        }
        if matches!(a, Action::HashMod) && self.target_label.contains('$') {
            return Err(format!(
                "{:?} is invalid 'target_label' for {name} action",
                self.target_label
            ));
        }
        if matches!(a, Action::KeepEqual | Action::DropEqual)
            && (self.regex.as_str() != DEFAULT_REGEX
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{name} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(a, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{name} action requires only 'regex', and no other fields"
            ));
        }
        Ok(())
    }
}

/// Applies `cfgs` in order. `None` when a rule dropped the label set.
pub fn process(labels: &Labels, cfgs: &[RelabelConfig]) -> Option<Labels> {
    if cfgs.is_empty() {
        return Some(labels.clone());
    }
    let mut lb = labels.builder();
    if process_builder(&mut lb, cfgs) {
        Some(lb.into_labels())
    } else {
        None
    }
}

/// Applies `cfgs` to a builder in place; false when dropped.
pub fn process_builder(lb: &mut LabelsBuilder, cfgs: &[RelabelConfig]) -> bool {
    cfgs.iter().all(|c| relabel(c, lb))
}

fn relabel(cfg: &RelabelConfig, lb: &mut LabelsBuilder) -> bool {
    let val = if cfg.source_labels.len() == 1 {
        lb.get(&cfg.source_labels[0]).unwrap_or("").to_string()
    } else {
        let mut v = String::new();
        for (i, n) in cfg.source_labels.iter().enumerate() {
            if i > 0 {
                v.push_str(&cfg.separator);
            }
            v.push_str(lb.get(n).unwrap_or(""));
        }
        v
    };
    let re = cfg.regex.regex();
    match cfg.action {
        Action::Drop => {
            if re.is_match(&val) {
                return false;
            }
        }
        Action::Keep => {
            if !re.is_match(&val) {
                return false;
            }
        }
        Action::DropEqual => {
            if lb.get(&cfg.target_label).unwrap_or("") == val {
                return false;
            }
        }
        Action::KeepEqual => {
            if lb.get(&cfg.target_label).unwrap_or("") != val {
                return false;
            }
        }
        Action::Replace => {
            let Some(caps) = re.captures(&val) else {
                return true;
            };
            let target = expand(re, &caps, &cfg.target_label);
            if target.is_empty() {
                return true;
            }
            let res = expand(re, &caps, &cfg.replacement);
            if res.is_empty() {
                lb.del(&target);
            } else {
                lb.set(target, res);
            }
        }
        Action::Lowercase => {
            lb.set(cfg.target_label.clone(), val.to_lowercase());
        }
        Action::Uppercase => {
            lb.set(cfg.target_label.clone(), val.to_uppercase());
        }
        Action::HashMod => {
            let h = md5(val.as_bytes());
            let mut last = [0u8; 8];
            last.copy_from_slice(&h[8..]);
            let m = u64::from_be_bytes(last) % cfg.modulus.max(1);
            lb.set(cfg.target_label.clone(), m.to_string());
        }
        Action::LabelMap => {
            let snapshot = lb.build();
            for l in &snapshot {
                if let Some(caps) = re.captures(&l.name) {
                    let res = expand(re, &caps, &cfg.replacement);
                    lb.set(res, l.value.clone());
                }
            }
        }
        Action::LabelDrop => {
            lb.retain(|l| !re.is_match(&l.name));
        }
        Action::LabelKeep => {
            lb.retain(|l| re.is_match(&l.name));
        }
    }
    true
}

/// Expands `$1`, `${1}`, `$name`, `${name}` and `$$` as Go's `Regexp.Expand`:
/// the longest run of letters, digits and `_` names the group; an unknown
/// group expands to nothing; a malformed reference keeps the `$`.
pub fn expand(re: &regex::Regex, caps: &regex::Captures<'_>, template: &str) -> String {
    if !template.contains('$') {
        return template.to_string();
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (brace, body) = match rest.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let end = body
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
            .map(|(i, _)| i)
            .unwrap_or(body.len());
        if end == 0 || (brace && !body[end..].starts_with('}')) {
            out.push('$');
            continue;
        }
        let name = &body[..end];
        rest = if brace {
            &body[end + 1..]
        } else {
            &body[end..]
        };
        let group = if name.bytes().all(|b| b.is_ascii_digit()) {
            name.parse::<usize>().ok().and_then(|i| caps.get(i))
        } else {
            re.capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i))
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
    out
}

/// MD5 (RFC 1321), for `hashmod`'s compatibility with Prometheus' sharding.
fn md5(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let mut a0: u32 = 0x67452301;
    let mut b0: u32 = 0xefcdab89;
    let mut c0: u32 = 0x98badcfe;
    let mut d0: u32 = 0x10325476;
    let mut msg = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    for chunk in msg.chunks(64) {
        let mut m = [0u32; 16];
        for (i, w) in m.iter_mut().enumerate() {
            *w = u32::from_le_bytes([
                chunk[i * 4],
                chunk[i * 4 + 1],
                chunk[i * 4 + 2],
                chunk[i * 4 + 3],
            ]);
        }
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f2 = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f2.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    out[0..4].copy_from_slice(&a0.to_le_bytes());
    out[4..8].copy_from_slice(&b0.to_le_bytes());
    out[8..12].copy_from_slice(&c0.to_le_bytes());
    out[12..16].copy_from_slice(&d0.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> Vec<RelabelConfig> {
        let v: Vec<RelabelConfig> = serde_saphyr::from_str(yaml).expect("yaml");
        for c in &v {
            c.validate().expect("valid");
        }
        v
    }

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn md5_known_vectors() {
        let hex = |b: [u8; 16]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex(md5(b"The quick brown fox jumps over the lazy dog")),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
    }

    // Cases from Prometheus' model/relabel/relabel_test.go (facts, not code).
    #[test]
    fn replace_with_groups() {
        let c = cfg("- source_labels: [a]\n  regex: \"f(.*)\"\n  target_label: d\n  separator: \";\"\n  replacement: \"ch${1}-ch${1}\"\n");
        let out = process(&l(&[("a", "foo"), ("b", "bar")]), &c).expect("kept");
        assert_eq!(out, l(&[("a", "foo"), ("b", "bar"), ("d", "choo-choo")]));
    }

    #[test]
    fn replace_multiple_sources() {
        let c = cfg("- source_labels: [a, b]\n  regex: \"f(.*);(.*)r\"\n  target_label: a\n  replacement: \"b${1}${2}m\"\n- source_labels: [c, a]\n  regex: \"(b).*b(.*)ba(.*)\"\n  target_label: d\n  replacement: \"$1$2$2$3\"\n");
        let out = process(&l(&[("a", "foo"), ("b", "bar"), ("c", "baz")]), &c).expect("kept");
        assert_eq!(
            out,
            l(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")])
        );
    }

    #[test]
    fn replace_no_match_and_empty_deletes() {
        let c = cfg("- source_labels: [a]\n  regex: \"none\"\n  target_label: d\n");
        assert_eq!(process(&l(&[("a", "foo")]), &c), Some(l(&[("a", "foo")])));
        let c = cfg("- source_labels: [a]\n  regex: \"(f).*\"\n  target_label: \"${1}\"\n  replacement: \"\"\n");
        assert_eq!(
            process(&l(&[("a", "foo"), ("f", "x")]), &c),
            Some(l(&[("a", "foo")]))
        );
        // $1x refers to group "1x", which does not exist.
        let c = cfg(
            "- source_labels: [a]\n  regex: \"(f).*\"\n  target_label: b\n  replacement: \"$1x\"\n",
        );
        assert_eq!(process(&l(&[("a", "foo")]), &c), Some(l(&[("a", "foo")])));
    }

    #[test]
    fn keep_drop() {
        let c = cfg("- source_labels: [a]\n  regex: \"f.*\"\n  action: drop\n");
        assert_eq!(process(&l(&[("a", "foo")]), &c), None);
        assert!(process(&l(&[("a", "boo")]), &c).is_some());
        let c = cfg("- source_labels: [a]\n  regex: \"f.*\"\n  action: keep\n");
        assert!(process(&l(&[("a", "foo")]), &c).is_some());
        assert_eq!(process(&l(&[("a", "boo")]), &c), None);
        // Anchored: "o" does not match "foo".
        let c = cfg("- source_labels: [a]\n  regex: \"o\"\n  action: keep\n");
        assert_eq!(process(&l(&[("a", "foo")]), &c), None);
    }

    #[test]
    fn keepequal_dropequal() {
        let c = cfg("- source_labels: [a]\n  target_label: b\n  action: keepequal\n");
        assert!(process(&l(&[("a", "x"), ("b", "x")]), &c).is_some());
        assert!(process(&l(&[("a", "x"), ("b", "y")]), &c).is_none());
        let c = cfg("- source_labels: [a]\n  target_label: b\n  action: dropequal\n");
        assert!(process(&l(&[("a", "x"), ("b", "x")]), &c).is_none());
    }

    #[test]
    fn hashmod() {
        let c =
            cfg("- source_labels: [c]\n  target_label: d\n  modulus: 1000\n  action: hashmod\n");
        let out = process(&l(&[("a", "foo"), ("b", "bar"), ("c", "baz")]), &c).expect("kept");
        // Prometheus' test expects 976 for "baz" % 1000.
        assert_eq!(out.get("d"), Some("976"));
        let c =
            cfg("- source_labels: [c]\n  target_label: d\n  modulus: 1000\n  action: hashmod\n");
        let out = process(&l(&[("a", "foo"), ("c", "baz")]), &c).expect("kept");
        assert_eq!(out.get("d"), Some("976"));
    }

    #[test]
    fn labelmap_labeldrop_labelkeep() {
        let c = cfg("- regex: \"(b.*)\"\n  replacement: \"${1}_new\"\n  action: labelmap\n");
        let out = process(&l(&[("a", "foo"), ("b", "bar"), ("bc", "baz")]), &c).expect("kept");
        assert_eq!(
            out,
            l(&[
                ("a", "foo"),
                ("b", "bar"),
                ("b_new", "bar"),
                ("bc", "baz"),
                ("bc_new", "baz")
            ])
        );
        let c = cfg("- regex: \"__meta_(my.*)\"\n  action: labelmap\n");
        let out = process(&l(&[("__meta_my_x", "1")]), &c).expect("kept");
        assert_eq!(out.get("my_x"), Some("1"));
        let c = cfg("- regex: \"b.*\"\n  action: labeldrop\n");
        let out = process(&l(&[("a", "foo"), ("b", "bar"), ("bc", "baz")]), &c).expect("kept");
        assert_eq!(out, l(&[("a", "foo")]));
        let c = cfg("- regex: \"b.*\"\n  action: labelkeep\n");
        let out = process(&l(&[("a", "foo"), ("b", "bar"), ("bc", "baz")]), &c).expect("kept");
        assert_eq!(out, l(&[("b", "bar"), ("bc", "baz")]));
    }

    #[test]
    fn case_actions() {
        let c = cfg("- source_labels: [a]\n  target_label: lo\n  action: lowercase\n- source_labels: [a]\n  target_label: up\n  action: Uppercase\n");
        let out = process(&l(&[("a", "FoO")]), &c).expect("kept");
        assert_eq!(out.get("lo"), Some("foo"));
        assert_eq!(out.get("up"), Some("FOO"));
    }

    #[test]
    fn named_groups_and_dollar() {
        let c = cfg("- source_labels: [a]\n  regex: \"(?P<x>f)(o+)\"\n  target_label: b\n  replacement: \"$x-${2}-$$-$\"\n");
        let out = process(&l(&[("a", "foo")]), &c).expect("kept");
        assert_eq!(out.get("b"), Some("f-oo-$-$"));
    }

    #[test]
    fn validation_errors() {
        let bad = |y: &str| {
            let v: Vec<RelabelConfig> = serde_saphyr::from_str(y).expect("yaml");
            v[0].validate().expect_err("invalid")
        };
        assert_eq!(
            bad("- source_labels: [a]\n"),
            "relabel configuration for replace action requires 'target_label' value"
        );
        assert_eq!(
            bad("- source_labels: [a]\n  target_label: b\n  action: hashmod\n"),
            "relabel configuration for hashmod requires non-zero modulus"
        );
        assert_eq!(
            bad("- source_labels: [a]\n  target_label: b\n  action: labeldrop\n"),
            "labeldrop action requires only 'regex', and no other fields"
        );
        assert_eq!(
            bad("- source_labels: [a]\n  target_label: b\n  regex: x\n  action: keepequal\n"),
            "keepequal action requires only 'source_labels' and `target_label`, and no other fields"
        );
        assert!(serde_saphyr::from_str::<Vec<RelabelConfig>>("- action: frob\n").is_err());
        assert!(serde_saphyr::from_str::<Vec<RelabelConfig>>("- regex: \"(\"\n").is_err());
    }
}
