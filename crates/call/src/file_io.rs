//! The files behind [`crate::file::Transfers`]: ours opened and read, the other peer's
//! written to a hidden partial file in the files folder and renamed when it is whole.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::file::{FileError, FileId};

/// The open files of a call's transfers.
#[derive(Default)]
pub(crate) struct FileIo {
    /// Ours being sent, by transfer.
    reading: HashMap<FileId, tokio::fs::File>,
    /// The one being received.
    writing: Option<Receiving>,
}

/// A file being received.
struct Receiving {
    id: FileId,
    file: tokio::fs::File,
    /// Where it is written until it is whole.
    part: PathBuf,
    /// The name it is kept under (or the first free variant of it).
    name: String,
    dir: PathBuf,
}

/// A new id for one of our transfers: random, so the two peers' ids never meet.
pub(crate) fn new_id() -> FileId {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            .to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl FileIo {
    /// Opens `path` to send as `id`: its name and size.
    pub(crate) async fn open(
        &mut self,
        id: &FileId,
        path: &Path,
    ) -> Result<(String, u64), FileError> {
        let cannot =
            |err: std::io::Error| FileError::Io(format!("cannot read {}: {err}", path.display()));
        let file = tokio::fs::File::open(path).await.map_err(cannot)?;
        let meta = file.metadata().await.map_err(cannot)?;
        if !meta.is_file() {
            return Err(FileError::Io(format!("{} is not a file", path.display())));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.reading.insert(id.clone(), file);
        Ok((name, meta.len()))
    }

    /// The next `n` bytes of our file `id`.
    pub(crate) async fn read(&mut self, id: &str, n: usize) -> Result<Vec<u8>, String> {
        let file = self.reading.get_mut(id).ok_or("the file is not open")?;
        let mut buf = vec![0; n];
        file.read_exact(&mut buf)
            .await
            .map_err(|err| format!("reading the file: {err} (did it change while being sent?)"))?;
        Ok(buf)
    }

    /// Done with our file `id`.
    pub(crate) fn close(&mut self, id: &str) {
        self.reading.remove(id);
    }

    /// Creates the partial file for the other peer's `id`, named `name`, in `dir`.
    pub(crate) async fn create(&mut self, dir: &Path, id: &str, name: &str) -> Result<(), String> {
        self.discard(None).await;
        let part = dir.join(format!(".{name}.{id}.part"));
        let file = tokio::fs::File::create(&part)
            .await
            .map_err(|err| format!("cannot create {}: {err}", part.display()))?;
        self.writing = Some(Receiving {
            id: id.to_string(),
            file,
            part,
            name: name.to_string(),
            dir: dir.to_path_buf(),
        });
        Ok(())
    }

    /// Writes bytes of the file being received; the error names the transfer.
    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<(), (FileId, String)> {
        let Some(receiving) = &mut self.writing else {
            return Ok(());
        };
        receiving.file.write_all(data).await.map_err(|err| {
            (
                receiving.id.clone(),
                format!("writing {}: {err}", receiving.part.display()),
            )
        })
    }

    /// The file being received is whole: flushed and renamed to its name, or the first
    /// free `name (N).ext`; where it now is.
    pub(crate) async fn keep(&mut self, id: &str) -> Result<PathBuf, String> {
        let receiving = self
            .writing
            .take_if(|r| r.id == id)
            .ok_or("the file is not open")?;
        let Receiving {
            file,
            part,
            name,
            dir,
            ..
        } = receiving;
        file.sync_all()
            .await
            .map_err(|err| format!("saving {}: {err}", part.display()))?;
        drop(file);
        let path = free_path(&dir, &name);
        tokio::fs::rename(&part, &path).await.map_err(|err| {
            format!(
                "cannot move {} to {}: {err}",
                part.display(),
                path.display()
            )
        })?;
        Ok(path)
    }

    /// Removes the partial file of `id` (any, with `None`).
    pub(crate) async fn discard(&mut self, id: Option<&str>) {
        if let Some(receiving) = self.writing.take_if(|r| id.is_none_or(|id| r.id == id)) {
            drop(receiving.file);
            let _ = tokio::fs::remove_file(&receiving.part).await;
        }
    }
}

/// `dir/name`, or `dir/stem (N).ext` for the first N that is free.
fn free_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name, String::new()),
    };
    (1..)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|p| !p.exists())
        .expect("some number is free")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_name_gets_the_first_free_number() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(free_path(dir.path(), "a.txt"), dir.path().join("a.txt"));
        std::fs::write(dir.path().join("a.txt"), b"x").unwrap();
        std::fs::write(dir.path().join("a (1).txt"), b"x").unwrap();
        assert_eq!(free_path(dir.path(), "a.txt"), dir.path().join("a (2).txt"));
        std::fs::write(dir.path().join("README"), b"x").unwrap();
        assert_eq!(
            free_path(dir.path(), "README"),
            dir.path().join("README (1)")
        );
    }

    #[tokio::test]
    async fn a_received_file_appears_only_when_kept_and_a_discarded_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut io = FileIo::default();
        io.create(dir.path(), "id1", "a.bin").await.unwrap();
        io.write(b"hello").await.unwrap();
        assert!(!dir.path().join("a.bin").exists());
        let kept = io.keep("id1").await.unwrap();
        assert_eq!(std::fs::read(&kept).unwrap(), b"hello");
        io.create(dir.path(), "id2", "b.bin").await.unwrap();
        io.write(b"half").await.unwrap();
        io.discard(Some("id2")).await;
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the kept file: {left:?}");
    }

    #[tokio::test]
    async fn a_folder_or_missing_file_is_not_sent() {
        let dir = tempfile::tempdir().unwrap();
        let mut io = FileIo::default();
        assert!(
            matches!(io.open(&"a".into(), dir.path()).await, Err(FileError::Io(m)) if m.contains("not a file"))
        );
        assert!(
            matches!(io.open(&"b".into(), &dir.path().join("nope")).await, Err(FileError::Io(m)) if m.contains("cannot read"))
        );
    }
}
