//! Raw reading of `.crate` files (gzip + GNU tar) so that a mismatch can be explained entry by
//! entry and header field by header field, including GNU long-name entries.

use std::fmt::Write as _;
use std::io::Read;

/// One raw tar header block plus its data.
#[derive(Clone)]
pub(crate) struct RawEntry {
    pub header: [u8; 512],
    pub data: Vec<u8>,
}

/// Header fields as (name, byte range) per the GNU layout.
const FIELDS: &[(&str, usize, usize)] = &[
    ("name", 0, 100),
    ("mode", 100, 108),
    ("uid", 108, 116),
    ("gid", 116, 124),
    ("size", 124, 136),
    ("mtime", 136, 148),
    ("cksum", 148, 156),
    ("typeflag", 156, 157),
    ("linkname", 157, 257),
    ("magic", 257, 263),
    ("version", 263, 265),
    ("uname", 265, 297),
    ("gname", 297, 329),
    ("devmajor", 329, 337),
    ("devminor", 337, 345),
    ("rest", 345, 512),
];

impl RawEntry {
    /// The full path: the LongLink data when present (attached by [`read_entries`]), else the
    /// name field up to its first NUL.
    pub(crate) fn field(&self, name: &str) -> &[u8] {
        let (_, a, b) = FIELDS.iter().find(|f| f.0 == name).expect("field");
        &self.header[*a..*b]
    }

    pub(crate) fn typeflag(&self) -> u8 {
        self.header[156]
    }
}

/// A logical entry: the real header plus the long-name header that preceded it, if any.
pub(crate) struct Entry {
    pub path: String,
    pub long_name: Option<RawEntry>,
    pub raw: RawEntry,
}

pub(crate) fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a gzip stream: {e}"))?;
    Ok(out)
}

fn octal(field: &[u8]) -> Result<u64, String> {
    let s: String = field
        .iter()
        .take_while(|b| **b != 0 && **b != b' ')
        .map(|b| *b as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|e| format!("bad octal {s:?}: {e}"))
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Parses a tar stream into logical entries. Returns the entries and the number of bytes after
/// the last entry (the end-of-archive blocks).
pub(crate) fn read_entries(tar: &[u8]) -> Result<(Vec<Entry>, usize), String> {
    let mut pos = 0;
    let mut out = Vec::new();
    let mut pending_long: Option<RawEntry> = None;
    while pos + 512 <= tar.len() {
        let header: [u8; 512] = tar[pos..pos + 512].try_into().expect("512");
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let size = octal(&header[124..136])? as usize;
        let start = pos + 512;
        let end = start + size;
        if end > tar.len() {
            return Err(format!(
                "entry at offset {pos} runs past the end of the archive"
            ));
        }
        let raw = RawEntry {
            header,
            data: tar[start..end].to_vec(),
        };
        pos = start + size.div_ceil(512) * 512;
        if raw.typeflag() == b'L' {
            pending_long = Some(raw);
            continue;
        }
        let path = match &pending_long {
            Some(l) => cstr(&l.data),
            None => cstr(&raw.header[0..100]),
        };
        out.push(Entry {
            path,
            long_name: pending_long.take(),
            raw,
        });
    }
    Ok((out, tar.len() - pos))
}

/// Explains how two `.crate` files differ, or `None` when they are byte-identical.
pub(crate) fn explain_difference(expected: &[u8], actual: &[u8]) -> Option<String> {
    if expected == actual {
        return None;
    }
    let (e_tar, a_tar) = match (gunzip(expected), gunzip(actual)) {
        (Ok(e), Ok(a)) => (e, a),
        (Ok(_), Err(e)) => return Some(format!("gantry's .crate is not gzip: {e}")),
        (Err(e), _) => return Some(format!("cargo's .crate is not gzip: {e}")),
    };
    if e_tar == a_tar {
        return Some(format!(
            "tar streams are identical; gzip layer differs (cargo header {:02x?}…, gantry header {:02x?}…, \
             sizes {} vs {}): check flate2/zlib-rs level 9 and the FNAME/MTIME/XFL/OS fields",
            &expected[..expected.len().min(16)],
            &actual[..actual.len().min(16)],
            expected.len(),
            actual.len()
        ));
    }
    let (e_entries, e_tail) = match read_entries(&e_tar) {
        Ok(x) => x,
        Err(e) => return Some(format!("cargo's tar unreadable: {e}")),
    };
    let (a_entries, a_tail) = match read_entries(&a_tar) {
        Ok(x) => x,
        Err(e) => return Some(format!("gantry's tar unreadable: {e}")),
    };
    let mut report = String::new();
    let e_names: Vec<&str> = e_entries.iter().map(|e| e.path.as_str()).collect();
    let a_names: Vec<&str> = a_entries.iter().map(|e| e.path.as_str()).collect();
    let missing: Vec<&&str> = e_names.iter().filter(|n| !a_names.contains(n)).collect();
    let extra: Vec<&&str> = a_names.iter().filter(|n| !e_names.contains(n)).collect();
    if !missing.is_empty() {
        let _ = writeln!(report, "entries missing from gantry's archive: {missing:?}");
    }
    if !extra.is_empty() {
        let _ = writeln!(report, "extra entries in gantry's archive: {extra:?}");
    }
    let e_common: Vec<&&str> = e_names.iter().filter(|n| a_names.contains(n)).collect();
    let a_common: Vec<&&str> = a_names.iter().filter(|n| e_names.contains(n)).collect();
    if e_common != a_common {
        let _ = writeln!(
            report,
            "entry order differs:\n  cargo:  {e_common:?}\n  gantry: {a_common:?}"
        );
    }
    for e in &e_entries {
        let Some(a) = a_entries.iter().find(|a| a.path == e.path) else {
            continue;
        };
        explain_entry(&mut report, e, a);
    }
    if e_tail != a_tail {
        let _ = writeln!(
            report,
            "end-of-archive padding differs: cargo {e_tail} bytes, gantry {a_tail} bytes"
        );
    }
    if report.is_empty() {
        report = "archives differ but no entry-level difference was found".into();
    }
    Some(report)
}

fn explain_entry(report: &mut String, e: &Entry, a: &Entry) {
    match (&e.long_name, &a.long_name) {
        (Some(el), Some(al)) => {
            diff_headers(report, &format!("{} (LongLink header)", e.path), el, al)
        }
        (Some(_), None) => {
            let _ = writeln!(
                report,
                "{}: cargo uses a GNU LongLink entry, gantry does not",
                e.path
            );
        }
        (None, Some(_)) => {
            let _ = writeln!(
                report,
                "{}: gantry uses a GNU LongLink entry, cargo does not",
                e.path
            );
        }
        (None, None) => {}
    }
    diff_headers(report, &e.path, &e.raw, &a.raw);
    if e.raw.data != a.raw.data {
        let _ = writeln!(
            report,
            "{}: content differs\n{}",
            e.path,
            content_diff(&e.raw.data, &a.raw.data)
        );
    }
}

fn diff_headers(report: &mut String, path: &str, e: &RawEntry, a: &RawEntry) {
    for (name, from, to) in FIELDS {
        let (x, y) = (&e.header[*from..*to], &a.header[*from..*to]);
        if x != y {
            let _ = writeln!(
                report,
                "{path}: header field `{name}` differs: cargo {:?} gantry {:?}",
                show_field(x),
                show_field(y)
            );
        }
    }
}

fn show_field(f: &[u8]) -> String {
    if f.iter().all(|b| *b == 0) {
        return format!("<{} NULs>", f.len());
    }
    f.escape_ascii().to_string()
}

/// First differing line of a text entry (with neighbours), or the first differing byte.
pub(crate) fn content_diff(e: &[u8], a: &[u8]) -> String {
    match (std::str::from_utf8(e), std::str::from_utf8(a)) {
        (Ok(et), Ok(at)) => {
            let el: Vec<&str> = et.split_inclusive('\n').collect();
            let al: Vec<&str> = at.split_inclusive('\n').collect();
            let i = el
                .iter()
                .zip(al.iter())
                .position(|(x, y)| x != y)
                .unwrap_or(el.len().min(al.len()));
            let lo = i.saturating_sub(2);
            let mut s = format!("  first difference at line {}:\n", i + 1);
            for (label, lines) in [("cargo ", &el), ("gantry", &al)] {
                for (n, l) in lines.iter().enumerate().skip(lo).take(5) {
                    let mark = if n == i { '>' } else { ' ' };
                    let _ = writeln!(s, "  {label} {mark}{:4} {l:?}", n + 1);
                }
                if lines.len() <= i {
                    let _ = writeln!(
                        s,
                        "  {label} >     <end of file after {} lines>",
                        lines.len()
                    );
                }
            }
            s
        }
        _ => {
            let i = e
                .iter()
                .zip(a.iter())
                .position(|(x, y)| x != y)
                .unwrap_or(e.len().min(a.len()));
            format!(
                "  binary; sizes {} vs {}, first differing byte at offset {i}",
                e.len(),
                a.len()
            )
        }
    }
}

/// Lists the entry paths of a `.crate` (for messages).
pub(crate) fn list(bytes: &[u8]) -> Vec<String> {
    gunzip(bytes)
        .ok()
        .and_then(|t| read_entries(&t).ok())
        .map(|(es, _)| es.into_iter().map(|e| e.path).collect())
        .unwrap_or_default()
}
