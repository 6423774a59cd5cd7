//! Cargo's `HumanBytes` rendering for the `Packaged N files, X (Y compressed)` line (spec §4.7).
//! Cargo computes in f32, and its artefacts (`1048575` → `1024.0KiB`) are part of the output.

const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// Formats a byte count exactly as cargo 1.95 does.
pub(crate) fn human_bytes(bytes: u64) -> String {
    let bytes_f = bytes as f32;
    let i = if bytes == 0 {
        0
    } else {
        ((bytes_f.log2() / 10.0) as usize).min(UNITS.len() - 1)
    };
    if i == 0 {
        return format!("{bytes}B");
    }
    let value = bytes_f / 1024f32.powi(i as i32);
    format!("{value:.1}{}", UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn matches_cargo_figures() {
        for (bytes, text) in [
            (0, "0B"),
            (933, "933B"),
            (1023, "1023B"),
            (1024, "1.0KiB"),
            (1280, "1.2KiB"),
            (1331, "1.3KiB"),
            (1048575, "1024.0KiB"),
            (1048576, "1.0MiB"),
        ] {
            assert_eq!(human_bytes(bytes), text, "{bytes}");
        }
    }
}
