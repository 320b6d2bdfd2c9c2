//! Docker's metadata for a cgroup: the container's name, image and labels
//! from `/var/lib/docker/containers/<id>/config.v2.json` (under the host's
//! root file system), read when that directory is readable. Other runtimes'
//! containers are reported by cgroup path only.

use crate::HostPaths;

/// The labels cAdvisor adds for a container it knows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    /// Container name without Docker's leading `/`.
    pub name: String,
    pub image: String,
    /// The container's own labels (`container_label_<sanitised key>`).
    pub labels: Vec<(String, String)>,
}

/// Where Docker keeps container configs, when it exists on this host.
pub(crate) struct Runtime {
    containers_dir: Option<String>,
}

impl Runtime {
    pub(crate) fn new(paths: &HostPaths) -> Runtime {
        let dir = paths.root("var/lib/docker/containers");
        Runtime { containers_dir: std::path::Path::new(&dir).is_dir().then_some(dir) }
    }

    /// The metadata of the container whose cgroup is `id`, or empty.
    pub(crate) fn meta(&self, id: &str) -> Meta {
        let (Some(dir), Some(cid)) = (&self.containers_dir, container_id(id)) else {
            return Meta::default();
        };
        crate::util::read_string(format!("{dir}/{cid}/config.v2.json")).ok().and_then(|t| parse_config(&t)).unwrap_or_default()
    }
}

/// The 64-hex container ID in a Docker cgroup path: `/docker/<id>`
/// (cgroupfs driver) or `/system.slice/docker-<id>.scope` (systemd driver).
pub(crate) fn container_id(cgroup: &str) -> Option<&str> {
    let (parent, last) = cgroup.rsplit_once('/')?;
    let id = match last.strip_prefix("docker-").and_then(|r| r.strip_suffix(".scope")) {
        Some(id) => id,
        None if parent.ends_with("/docker") || parent == "/docker" => last,
        None => return None,
    };
    (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// Name, image and labels from a `config.v2.json`.
pub(crate) fn parse_config(text: &str) -> Option<Meta> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let name = v.get("Name")?.as_str()?.trim_start_matches('/').to_string();
    let config = v.get("Config");
    let image = config.and_then(|c| c.get("Image")).and_then(|i| i.as_str()).unwrap_or_default().to_string();
    let mut labels: Vec<(String, String)> = config
        .and_then(|c| c.get("Labels"))
        .and_then(|l| l.as_object())
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default();
    labels.sort();
    Some(Meta { name, image, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn finds_container_ids_of_both_cgroup_drivers() {
        assert_eq!(container_id(&format!("/system.slice/docker-{ID}.scope")), Some(ID));
        assert_eq!(container_id(&format!("/docker/{ID}")), Some(ID));
        assert_eq!(container_id("/system.slice/ssh.service"), None);
        assert_eq!(container_id("/docker/short"), None);
        assert_eq!(container_id("/"), None);
    }

    #[test]
    fn parses_config_v2() {
        let text = r#"{"ID":"x","Name":"/web-1","Config":{"Image":"nginx:1.27","Labels":{"com.docker.compose.service":"web","a":"b"}},"State":{"Running":true}}"#;
        let m = parse_config(text).expect("parses");
        assert_eq!(m.name, "web-1");
        assert_eq!(m.image, "nginx:1.27");
        assert_eq!(m.labels, vec![("a".into(), "b".into()), ("com.docker.compose.service".into(), "web".into())]);
        assert_eq!(parse_config("{not json"), None);
        assert_eq!(parse_config("{}"), None);
    }
}
