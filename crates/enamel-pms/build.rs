//! Fingerprints the code that maps PMS answers to canonical rows (this crate's sources and
//! the domain crate's) into `ENAMEL_MAPPING_FINGERPRINT`. Page digests are salted with it,
//! so that a page remembered by other code is read again in full (see `src/digest.rs`).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

fn main() {
    let mut files = Vec::new();
    for dir in ["src", "../enamel-domain/src"] {
        println!("cargo:rerun-if-changed={dir}");
        sources(Path::new(dir), &mut files);
    }
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in &files {
        file.hash(&mut hasher);
        std::fs::read(file).unwrap_or_default().hash(&mut hasher);
    }
    println!("cargo:rustc-env=ENAMEL_MAPPING_FINGERPRINT={:016x}", hasher.finish());
}
