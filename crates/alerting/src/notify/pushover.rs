//! Pushover (`notify/pushover`): the message as URL query parameters of a
//! POST to the messages API (`https://api.pushover.net/1/messages.json`,
//! fixed as in Alertmanager).

use super::common::{self, Tmpl};
use super::{Integration, Notification, NotifyContext, NotifyError, NotifyFuture};
use crate::receivers::PushoverConfig;

const MAX_TITLE_LEN_RUNES: usize = 250;
const MAX_MESSAGE_LEN_RUNES: usize = 1024;
const MAX_URL_LEN_RUNES: usize = 512;
pub const API_URL: &str = "https://api.pushover.net/1/messages.json";

pub struct Pushover {
    conf: PushoverConfig,
    http: common::Http,
    api_url: String,
}

impl Pushover {
    pub fn new(c: &PushoverConfig) -> Result<Pushover, String> {
        Ok(Pushover { conf: c.clone(), http: common::Http::new(&c.http_config)?, api_url: API_URL.into() })
    }

    /// Sends elsewhere than Pushover's fixed endpoint (tests).
    pub fn with_api_url(mut self, url: &str) -> Self {
        self.api_url = url.into();
        self
    }

    /// The parameters, in Alertmanager's order.
    pub fn params(&self, t: &Tmpl) -> Result<Vec<(&'static str, String)>, NotifyError> {
        let c = &self.conf;
        let raw = |inline: &str, file: &str, what: &str| -> Result<String, NotifyError> {
            if !inline.is_empty() {
                return Ok(inline.to_string());
            }
            std::fs::read_to_string(file).map_err(|e| NotifyError::fatal(format!("read {what}: {e}")))
        };
        let token = raw(c.token.expose(), &c.token_file, "token_file")?;
        let user = raw(c.user_key.expose(), &c.user_key_file, "user_key_file")?;
        let mut p = vec![("token", t.text(&token)?), ("user", t.text(&user)?)];
        p.push(("title", common::truncate_in_runes(&t.text(&c.title)?, MAX_TITLE_LEN_RUNES).0));
        let message = if c.html {
            p.push(("html", "1".into()));
            t.html(&c.message)?
        } else {
            t.text(&c.message)?
        };
        if c.monospace {
            p.push(("monospace", "1".into()));
        }
        let message = common::truncate_in_runes(&message, MAX_MESSAGE_LEN_RUNES).0;
        let message = message.trim();
        p.push(("message", if message.is_empty() { "(no details)".into() } else { message.to_string() }));
        p.push(("url", common::truncate_in_runes(&t.text(&c.url)?, MAX_URL_LEN_RUNES).0));
        p.push(("url_title", t.text(&c.url_title)?));
        p.push(("priority", t.text(&c.priority)?));
        p.push(("retry", c.retry.0.as_secs().to_string()));
        p.push(("expire", c.expire.0.as_secs().to_string()));
        p.push(("device", t.text(&c.device)?));
        p.push(("sound", t.text(&c.sound)?));
        if c.ttl.0.as_secs() > 0 {
            p.push(("ttl", c.ttl.0.as_secs().to_string()));
        }
        Ok(p)
    }
}

impl Integration for Pushover {
    fn name(&self) -> &'static str {
        "pushover"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification, cx: &'a NotifyContext) -> NotifyFuture<'a> {
        Box::pin(async move {
            let t = Tmpl::new(n, cx);
            let mut params = self.params(&t)?;
            // Go's url.Values.Encode sorts by key.
            params.sort_by(|a, b| a.0.cmp(b.0));
            let mut url = url::Url::parse(&self.api_url).map_err(|e| NotifyError::fatal(e.to_string()))?;
            url.query_pairs_mut().clear().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
            let req = self.http.post(url.as_str()).await?.header(reqwest::header::CONTENT_TYPE, "text/plain");
            let (status, _, body) = common::send(req, None).await?;
            common::check(status, &body)
        })
    }
}
