//! Fixture trees shared by the collector tests: a throwaway `/proc`,
//! `/sys`, root and udev layout, removed on drop.
#![allow(dead_code)]

use bongsu_collect::HostPaths;

/// A throwaway directory tree, removed on drop.
pub struct Tree(pub std::path::PathBuf);

impl Tree {
    pub fn new(tag: &str) -> Tree {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("bongsu-collect-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create fixture dir");
        Tree(dir)
    }

    pub fn file(&self, rel: &str, content: &str) {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create fixture parent");
        }
        std::fs::write(p, content).expect("write fixture");
    }

    pub fn path(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }

    /// A symbolic link at `rel` pointing to `target` (relative, as in sysfs).
    pub fn link(&self, rel: &str, target: &str) {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create fixture parent");
        }
        std::os::unix::fs::symlink(target, p).expect("create fixture symlink");
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_dir_all(self.0.join(rel)).expect("remove fixture dir");
    }

    /// `HostPaths` with procfs, sysfs, root and udev under `proc/`, `sys/`,
    /// `root/` and `udev/` of this tree.
    pub fn paths(&self) -> HostPaths {
        HostPaths { procfs: self.path("proc"), sysfs: self.path("sys"), rootfs: self.path("root"), udev_data: self.path("udev") }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
