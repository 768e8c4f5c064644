//! Media benchmarks (filled in below).
fn main() {}
