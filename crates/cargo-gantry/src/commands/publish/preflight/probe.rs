//! A minimal, valid upload for `name`@`vers`: what a validate-only request sends to learn whether
//! the token may publish this crate when the real upload is refused for another reason first (the
//! registry checks the request's rules before ownership).

use std::io::Write as _;

use gantry_protocol::NewCrate;

/// Metadata that passes every request rule, for the given name and version.
pub(super) fn metadata(name: &str, vers: &str) -> serde_json::Result<Vec<u8>> {
    let krate: NewCrate = serde_json::from_value(serde_json::json!({
        "name": name,
        "vers": vers,
        "description": "gantry preflight ownership probe",
        "license": "MIT",
    }))?;
    serde_json::to_vec(&krate)
}

/// A `.crate` holding only `{name}-{vers}/Cargo.toml`.
pub(super) fn tarball(name: &str, vers: &str) -> std::io::Result<Vec<u8>> {
    let manifest = toml::to_string(&toml::toml! {
        [package]
        name = name
        version = vers
    })
    .map_err(std::io::Error::other)?;
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(
        &mut header,
        format!("{name}-{vers}/Cargo.toml"),
        manifest.as_bytes(),
    )?;
    let tar = builder.into_inner()?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar)?;
    gz.finish()
}

#[cfg(test)]
mod tests {
    use gantry_protocol::tarball::verify;
    use gantry_protocol::{MetadataRules, validate_metadata};

    use super::*;

    /// The probe must pass the registry's own request and `.crate` rules, or it would tell us
    /// nothing about ownership.
    #[test]
    fn probe_passes_the_registry_rules() {
        let json = metadata("my-crate", "1.2.3-rc.1").unwrap();
        let krate: NewCrate = serde_json::from_slice(&json).unwrap();
        assert_eq!(validate_metadata(&krate, &MetadataRules::default()), Ok(()));
        let t = tarball("my-crate", "1.2.3-rc.1").unwrap();
        assert_eq!(verify(&t, "my-crate", "1.2.3-rc.1", 1 << 20), Ok(()));
        assert!(verify(&t, "other", "1.2.3-rc.1", 1 << 20).is_err());
    }
}
