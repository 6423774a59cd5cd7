//! Checks on the uploaded `.crate`. They live in `gantry_protocol::tarball` so that a client's dry-run
//! runs exactly the code this registry runs.

pub use gantry_protocol::tarball::{TarballError, TarballLimits, verify, verify_with};

#[cfg(test)]
mod tests {
    use std::io::Write;

    use rand::Rng;

    use super::*;

    fn valid() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let m = b"[package]\nname = \"x\"\nversion = \"1.0.0\"\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(m.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "x-1.0.0/Cargo.toml", &m[..]).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn accepts_valid() {
        assert_eq!(verify(&valid(), "x", "1.0.0", 1 << 20), Ok(()));
    }

    /// Random corruption never panics; it is accepted or refused.
    #[test]
    fn mutations_never_panic() {
        let base = valid();
        let mut rng = rand::rng();
        for _ in 0..3000 {
            let mut t = base.clone();
            for _ in 0..rng.random_range(1..8) {
                let i = rng.random_range(0..t.len());
                t[i] = rng.random();
            }
            if rng.random_bool(0.2) {
                t.truncate(rng.random_range(0..t.len()));
            }
            let _ = verify(&t, "x", "1.0.0", 1 << 20);
        }
    }
}
