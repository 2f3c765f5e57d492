//! What the durable benchmarks share: refusing to time flushes on a file system held in
//! memory, and the one-page mapping that a bare `msync` is timed on.

/// The file system type of the mount that holds `path`, from `/proc/self/mounts`.
fn filesystem_of(path: &std::path::Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, mount, kind) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(mount)
                .then(|| (mount.len(), kind.to_owned()))
        })
        .max_by_key(|(length, _)| *length)
        .map(|(_, kind)| kind)
}

/// Whether flush timings taken in `dir` mean anything; says why not when they do not.
pub(crate) fn on_a_disk(dir: &std::path::Path, group: &str) -> bool {
    match filesystem_of(dir).as_deref() {
        Some(kind @ ("tmpfs" | "ramfs")) => {
            eprintln!(
                "{group}: REFUSED: {} is on {kind}, where a flush costs nothing; set TMPDIR \
                 to a directory on the disk to measure",
                dir.display()
            );
            false
        }
        _ => true,
    }
}

/// Creates a one-page file in `dir` and maps it, for the bare-flush baseline.
#[allow(unsafe_code)]
pub(crate) fn map_one_page(dir: &std::path::Path) -> memmap2::MmapMut {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join("bare"))
        .expect("file");
    file.set_len(4096).expect("size");
    // SAFETY: the file is a private temporary file that nothing else opens or truncates.
    unsafe { memmap2::MmapMut::map_mut(&file).expect("map") }
}
