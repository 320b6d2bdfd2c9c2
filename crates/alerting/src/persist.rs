//! Durable JSON snapshots: written to a temporary file, fsynced, renamed
//! over the old one and the directory fsynced, so a crash leaves either the
//! old or the new state, never a torn file.

use std::io::Write;
use std::path::Path;

pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, v: &T) -> Result<(), String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = path.with_extension("tmp");
    let data = serde_json::to_vec(v).map_err(|e| e.to_string())?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(&data).and_then(|_| f.sync_all()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
