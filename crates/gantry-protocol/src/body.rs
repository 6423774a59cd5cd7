//! The `PUT /api/v1/crates/new` body: `u32 LE len(json)`, json, `u32 LE len(crate)`, crate bytes.

/// crates.io refuses JSON metadata above 1 MiB.
pub const MAX_METADATA_LEN: u32 = 1024 * 1024;
/// crates.io's default `.crate` upload limit (10 MiB).
pub const DEFAULT_MAX_UPLOAD_SIZE: u32 = 10 * 1024 * 1024;

/// Size limits applied while decoding a publish body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    pub max_metadata_len: u32,
    pub max_upload_size: u32,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            max_metadata_len: MAX_METADATA_LEN,
            max_upload_size: DEFAULT_MAX_UPLOAD_SIZE,
        }
    }
}

/// The two parts of a publish body, borrowed from the request bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishBody<'a> {
    pub metadata_json: &'a [u8],
    pub tarball: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("JSON metadata blob too large")]
    MetadataTooLarge,
    #[error("max upload size is: {max}")]
    TarballTooLarge { max: u32 },
    #[error("invalid metadata length for remaining payload: {len}")]
    InvalidMetadataLength { len: u64 },
    #[error("invalid tarball length for remaining payload: {len}")]
    InvalidTarballLength { len: u64 },
    #[error("invalid upload request: {trailing} unexpected bytes after the tarball")]
    TrailingBytes { trailing: usize },
}

impl BodyError {
    /// The HTTP status crates.io answers with.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::MetadataTooLarge | BodyError::TarballTooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// Builds a publish body exactly as cargo sends it.
///
/// # Panics
/// Never for parts below 4 GiB; larger parts cannot be framed and are truncated by `as u32` — callers
/// enforce the (much smaller) upload limits first.
pub fn encode_publish_body(metadata_json: &[u8], tarball: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + metadata_json.len() + tarball.len());
    out.extend_from_slice(&(metadata_json.len() as u32).to_le_bytes());
    out.extend_from_slice(metadata_json);
    out.extend_from_slice(&(tarball.len() as u32).to_le_bytes());
    out.extend_from_slice(tarball);
    out
}

fn read_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = bytes.split_at_checked(4)?;
    Some((
        u32::from_le_bytes([head[0], head[1], head[2], head[3]]),
        rest,
    ))
}

/// Splits a publish body into its parts. Total: every malformed input is an error, never a panic.
/// Size limits are checked on the declared lengths before anything is sliced.
pub fn decode_publish_body<'a>(
    body: &'a [u8],
    limits: &BodyLimits,
) -> Result<PublishBody<'a>, BodyError> {
    let Some((json_len, rest)) = read_u32(body) else {
        return Err(BodyError::InvalidMetadataLength {
            len: body.len() as u64,
        });
    };
    if json_len > limits.max_metadata_len {
        return Err(BodyError::MetadataTooLarge);
    }
    let Some((metadata_json, rest)) = rest.split_at_checked(json_len as usize) else {
        return Err(BodyError::InvalidMetadataLength {
            len: u64::from(json_len),
        });
    };
    let Some((tar_len, rest)) = read_u32(rest) else {
        return Err(BodyError::InvalidTarballLength {
            len: rest.len() as u64,
        });
    };
    if tar_len > limits.max_upload_size {
        return Err(BodyError::TarballTooLarge {
            max: limits.max_upload_size,
        });
    }
    let Some((tarball, rest)) = rest.split_at_checked(tar_len as usize) else {
        return Err(BodyError::InvalidTarballLength {
            len: u64::from(tar_len),
        });
    };
    if !rest.is_empty() {
        return Err(BodyError::TrailingBytes {
            trailing: rest.len(),
        });
    }
    Ok(PublishBody {
        metadata_json,
        tarball,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let body = encode_publish_body(b"{}", b"tar");
        let got = decode_publish_body(&body, &BodyLimits::default()).unwrap();
        assert_eq!(got.metadata_json, b"{}");
        assert_eq!(got.tarball, b"tar");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let body = encode_publish_body(b"{\"a\":1}", b"0123456789");
        for n in 0..body.len() {
            assert!(
                decode_publish_body(&body[..n], &BodyLimits::default()).is_err(),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn limits_and_texts() {
        let limits = BodyLimits {
            max_metadata_len: 4,
            max_upload_size: 3,
        };
        let e = decode_publish_body(&encode_publish_body(b"12345", b""), &limits).unwrap_err();
        assert_eq!(
            (e.to_string().as_str(), e.status()),
            ("JSON metadata blob too large", 413)
        );
        let e = decode_publish_body(&encode_publish_body(b"{}", b"1234"), &limits).unwrap_err();
        assert_eq!(
            (e.to_string().as_str(), e.status()),
            ("max upload size is: 3", 413)
        );
        let mut huge = u32::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(b"xx");
        let e = decode_publish_body(&huge, &BodyLimits::default()).unwrap_err();
        assert_eq!(e, BodyError::MetadataTooLarge);
        let mut short = 10u32.to_le_bytes().to_vec();
        short.extend_from_slice(b"{}");
        let e = decode_publish_body(&short, &BodyLimits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid metadata length for remaining payload: 10"
        );
    }
}
