//! The [`Templater`] the binary uses: Go text/template with Prometheus'
//! functions, from `bongsu-template`. Tests may plug in others.

use crate::rule::{QuerySample, TemplateContext, Templater};

/// Alert templates with Prometheus' semantics (`bongsu-template`).
pub struct GoTemplates;

impl Templater for GoTemplates {
    fn expand(
        &self,
        name: &str,
        text: &str,
        ctx: &TemplateContext,
        query: &dyn Fn(&str) -> Result<Vec<QuerySample>, String>,
    ) -> Result<String, String> {
        let data = bongsu_template::RuleTemplateData {
            labels: ctx.labels,
            external_labels: ctx.external_labels,
            external_url: ctx.external_url,
            value: ctx.value,
        };
        let q = |expr: &str| -> Result<Vec<bongsu_template::QueryResultSample>, String> {
            Ok(query(expr)?
                .into_iter()
                .map(|s| bongsu_template::QueryResultSample {
                    labels: s.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect(),
                    value: s.v,
                })
                .collect())
        };
        bongsu_template::expand_rule_template_at(name, text, &data, Some(&q), ctx.ts).map_err(|e| e.to_string())
    }

    fn check(&self, name: &str, text: &str) -> Result<(), String> {
        bongsu_template::check_rule_template(name, text).map_err(|e| e.to_string())
    }
}

