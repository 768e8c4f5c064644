//! Every fuzz target runs every file of its seed folder, `fuzz/seeds/<target>/`: the
//! corpora kept from fuzz runs and every crasher found, so what was fixed stays fixed.

use std::path::Path;

#[test]
fn every_target_runs_its_seeds_and_crashers_without_failing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    for &(target, run) in fuzzing::TARGETS {
        let dir = root.join(target);
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("a seed").path())
            .collect();
        assert!(
            !files.is_empty(),
            "{target} has no seeds in {}",
            dir.display()
        );
        for file in files {
            let data = std::fs::read(&file).expect("seed readable");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target} failed on {}", file.display());
        }
    }
}
