//! Jira (`notify/jira`): one issue per alert group, found again by the label
//! `ALERT{<sha256 of the group key>}`. A firing group creates the issue
//! (`POST issue`) or updates the one found (`PUT issue/KEY`, summary and
//! description only when `enable_update`), reopening it through
//! `reopen_transition` if it was done; a resolved group moves an open issue
//! through `resolve_transition`. The search is `POST search` (Data Center)
//! or `POST /rest/api/3/search/jql` (Cloud, or `auto` on `*.atlassian.net`).
//! With an API v3 URL the description template must render JSON (ADF).

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::JiraConfig;
use serde_json::{json, Map, Value};

const MAX_SUMMARY_LEN_RUNES: usize = 255;
const MAX_DESCRIPTION_LEN_RUNES: usize = 32767;

pub struct Jira {
    conf: JiraConfig,
    http: common::Http,
}

/// An issue found by the search: its key and status category.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub key: String,
    /// `statusCategory.key` (`done`, `new`, `indeterminate`); `None` when
    /// the answer had no status.
    pub category: Option<String>,
}

impl Jira {
    pub fn new(c: &JiraConfig) -> Result<Jira, String> {
        Ok(Jira { conf: c.clone(), http: common::Http::new(&c.http_config)? })
    }

    fn api(&self) -> url::Url {
        self.conf.api_url.as_ref().map(|u| u.url().clone()).unwrap_or_else(|| url::Url::parse("http://invalid/").expect("static URL"))
    }

    /// Go's `URL.JoinPath(p)`.
    fn join(&self, p: &str) -> String {
        let mut u = self.api();
        let path = format!("{}/{}", u.path().trim_end_matches('/'), p.trim_start_matches('/'));
        u.set_path(&path);
        u.to_string()
    }

    fn api_v3(&self) -> bool {
        self.api().path().trim_end_matches('/').ends_with("/3")
    }

    /// The search request: URL and body.
    pub fn search(&self, group_hash: &str, firing: bool, t: &Tmpl) -> Result<(String, Value), NotifyError> {
        let c = &self.conf;
        let mut jql = String::new();
        if !c.wont_fix_resolution.is_empty() {
            jql.push_str(&format!("(resolution is EMPTY or resolution != {}) and ", go_quote(&c.wont_fix_resolution)));
        }
        let reopen_minutes = c.reopen_duration.as_millis() / 60_000;
        if firing && !c.reopen_transition.is_empty() && reopen_minutes > 0 {
            jql.push_str(&format!("(resolutiondate is EMPTY OR resolutiondate >= -{reopen_minutes}m) and "));
        } else {
            jql.push_str("statusCategory != Done and ");
        }
        let project = t.text(&c.project)?;
        jql.push_str(&format!(
            "project={} and labels={} order by status ASC,resolutiondate DESC",
            go_quote(&project),
            go_quote(&format!("ALERT{{{group_hash}}}"))
        ));
        let cloud = c.api_type == "cloud" || (c.api_type == "auto" && self.api().host_str().unwrap_or("").ends_with("atlassian.net"));
        let url = if cloud { self.join("/search/jql").replacen("/rest/api/2/", "/rest/api/3/", 1) } else { self.join("/search") };
        Ok((url, json!({"fields": ["status"], "jql": jql, "maxResults": 2})))
    }

    /// The `fields` of the issue for a notification.
    pub fn fields(&self, group_hash: &str, t: &Tmpl) -> Result<Map<String, Value>, NotifyError> {
        let c = &self.conf;
        let (summary, _) = common::truncate_in_runes(&t.text(&c.summary.template)?, MAX_SUMMARY_LEN_RUNES);
        let mut f = Map::new();
        f.insert("summary".into(), json!(summary));
        let (desc, _) = common::truncate_in_runes(&t.text(&c.description.template)?, MAX_DESCRIPTION_LEN_RUNES);
        if self.api_v3() {
            let d = desc.trim();
            if !d.is_empty() {
                let v: Value = serde_json::from_str(d)
                    .map_err(|_| NotifyError::fatal("description template: invalid JSON for API v3"))?;
                f.insert("description".into(), v);
            }
        } else if !desc.is_empty() {
            f.insert("description".into(), json!(desc));
        }
        f.insert("issuetype".into(), json!({"name": t.text(&c.issue_type)?}));
        let mut labels = Vec::new();
        for l in &c.labels {
            labels.push(t.text(l)?);
        }
        labels.push(format!("ALERT{{{group_hash}}}"));
        labels.sort();
        f.insert("labels".into(), json!(labels));
        let priority = t.text(&c.priority)?;
        if !priority.is_empty() {
            f.insert("priority".into(), json!({"name": priority}));
        }
        f.insert("project".into(), json!({"key": t.text(&c.project)?}));
        for (k, v) in &c.fields {
            f.insert(k.clone(), t.deep(v)?);
        }
        Ok(f)
    }

    async fn call(&self, method: reqwest::Method, url: &str, body: Option<&Value>) -> Result<String, NotifyError> {
        let mut req = self
            .http
            .request(method.clone(), url)
            .await?
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT_LANGUAGE, "en");
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let (status, _, text) = common::send(req, None).await?;
        common::check(status, &text).map_err(|e| NotifyError {
            retry: e.retry,
            message: format!("failed to {method} request to {:?}: {}", url_path(url), e.message),
        })?;
        Ok(text)
    }

    async fn deliver(&self, n: &Notification, cx: &NotifyContext) -> Result<(), NotifyError> {
        let t = Tmpl::new(n, cx);
        let hash = common::group_key_hash(&n.group_key);
        let firing = !common::resolved(n);
        let (search_url, search) = self.search(&hash, firing, &t)?;
        let answer = self.call(reqwest::Method::POST, &search_url, Some(&search)).await.map_err(|e| NotifyError {
            retry: e.retry,
            message: format!("failed to look up existing issues: {}", e.message),
        })?;
        let found = parse_search(&answer)?;
        let mut fields = self.fields(&hash, &t)?;
        match &found {
            None if !firing => return Ok(()),
            None => {
                self.call(reqwest::Method::POST, &self.join("issue"), Some(&json!({ "fields": fields }))).await?;
            }
            Some(f) => {
                if !self.conf.description.enable_update() {
                    fields.remove("description");
                }
                if !self.conf.summary.enable_update() {
                    fields.remove("summary");
                }
                self.call(reqwest::Method::PUT, &self.join(&format!("issue/{}", f.key)), Some(&json!({ "fields": fields })))
                    .await?;
            }
        }
        let Some(Found { key, category: Some(category) }) = found else { return Ok(()) };
        let done = category == "done";
        let transition = match (firing, done) {
            (true, true) => &self.conf.reopen_transition,
            (false, false) => &self.conf.resolve_transition,
            _ => return Ok(()),
        };
        if transition.is_empty() {
            return Ok(());
        }
        let path = self.join(&format!("issue/{key}/transitions"));
        let list: Value = serde_json::from_str(&self.call(reqwest::Method::GET, &path, None).await?)
            .map_err(|e| NotifyError::fatal(format!("transitions of {key}: {e}")))?;
        let id = list["transitions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["name"].as_str() == Some(transition.as_str()))
            .and_then(|t| t["id"].as_str())
            .ok_or_else(|| NotifyError::fatal(format!("can't find transition {transition} for issue {key}")))?
            .to_string();
        self.call(reqwest::Method::POST, &path, Some(&json!({"transition": {"id": id}}))).await?;
        Ok(())
    }
}

fn url_path(u: &str) -> String {
    url::Url::parse(u).map(|u| u.path().to_string()).unwrap_or_default()
}

/// The first issue of a search answer (Jira orders them as asked).
pub fn parse_search(body: &str) -> Result<Option<Found>, NotifyError> {
    let v: Value = serde_json::from_str(body).map_err(|e| NotifyError::fatal(format!("search answer: {e}")))?;
    let Some(first) = v["issues"].as_array().and_then(|a| a.first()) else { return Ok(None) };
    let status = &first["fields"]["status"];
    Ok(Some(Found {
        key: first["key"].as_str().unwrap_or("").to_string(),
        category: status.is_object().then(|| status["statusCategory"]["key"].as_str().unwrap_or("").to_string()),
    }))
}

/// Go's `%q` for the JQL strings.
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

impl Integration for Jira {
    fn name(&self) -> &'static str {
        "jira"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(self.deliver(n, cx))
    }
}
