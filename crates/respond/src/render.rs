//! Rendering runbook templates: Prometheus' alert-template language (the
//! one rule annotations use) over the alert's labels, with `$target`
//! holding the rendered target. Each template renders to one string, so a
//! label value — whatever it holds — can never add an argv element, a
//! header or a URL the runbook did not write.

use std::collections::BTreeMap;

/// Declares `$target` and `$ticket` for the parse-time check.
pub const PRELUDE_CHECK: &str = "{{ $target := \"\" }}{{ $ticket := \"\" }}";

/// Renders `text` with `$labels` = `labels` and `$target` = `target`.
pub fn render(name: &str, text: &str, labels: &BTreeMap<String, String>, target: &str) -> Result<String, String> {
    render_with(name, text, labels, target, "")
}

/// [`render`] with `$ticket` = the incident's external ticket id.
pub fn render_with(name: &str, text: &str, labels: &BTreeMap<String, String>, target: &str, ticket: &str) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    let q = bongsu_model::labels::quote_go;
    let full = format!("{{{{ $target := {} }}}}{{{{ $ticket := {} }}}}{text}", q(target), q(ticket));
    let ext = BTreeMap::new();
    let data = bongsu_template::RuleTemplateData { labels, external_labels: &ext, external_url: "", value: 0.0 };
    bongsu_template::expand_rule_template(name, &full, &data, None).map_err(|e| e.to_string())
}

/// Why a rendered target names everything, if it does: wildcards and the
/// words people use for "all".
pub fn names_everything(t: &str) -> Option<&'static str> {
    let t = t.trim();
    if t.contains('*') || t.contains('?') || t.contains(".+") {
        return Some("names everything (a wildcard): a target must name what it acts on");
    }
    if ["all", "any", "everything", "every", "none", "-", "/", "."].contains(&t.to_ascii_lowercase().as_str()) {
        return Some("names everything: a target must name what it acts on");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labels_and_target_without_interpreting_values() {
        let mut l = BTreeMap::new();
        l.insert("instance".to_string(), "$(rm -rf /); `x` \"q\"\n../".to_string());
        let out = render("t", "{{ $labels.instance }}|{{ $target }}", &l, "tgt \"1\"").unwrap();
        assert_eq!(out, "$(rm -rf /); `x` \"q\"\n../|tgt \"1\"");
        assert_eq!(render("t", "plain", &l, "").unwrap(), "plain");
    }

    #[test]
    fn wildcards() {
        assert!(names_everything("*").is_some());
        assert!(names_everything("web-*").is_some());
        assert!(names_everything(" ALL ").is_some());
        assert!(names_everything("web-1:9100").is_none());
    }
}
