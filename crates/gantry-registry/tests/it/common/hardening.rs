//! Helpers for the hardening tests (issue 12): delegating the hardening part of the store in test
//! wrappers, requests that may fail (the server may have been killed), and blob-store checks.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[allow(unused_macros)]
/// Implements `HardeningStore` for a wrapper whose `inner: Arc<dyn MetaStore>` does the work.
macro_rules! delegate_hardening_store {
    ($ty:ty) => {
        impl gantry_registry::store::HardeningStore for $ty {
            fn version_by_num<'a>(
                &'a self,
                crate_id: i64,
                num: &'a str,
            ) -> gantry_registry::store::BoxFut<
                'a,
                gantry_registry::store::StoreResult<Option<gantry_registry::store::VersionRow>>,
            > {
                self.inner.version_by_num(crate_id, num)
            }
            fn take_token(
                &self,
                user_id: i64,
                action: gantry_registry::ratelimit::Action,
                bucket: gantry_registry::ratelimit::Bucket,
            ) -> gantry_registry::store::BoxFut<
                '_,
                gantry_registry::store::StoreResult<Result<(), std::time::SystemTime>>,
            > {
                self.inner.take_token(user_id, action, bucket)
            }
            fn peek_token(
                &self,
                user_id: i64,
                action: gantry_registry::ratelimit::Action,
                bucket: gantry_registry::ratelimit::Bucket,
            ) -> gantry_registry::store::BoxFut<
                '_,
                gantry_registry::store::StoreResult<Result<(), std::time::SystemTime>>,
            > {
                self.inner.peek_token(user_id, action, bucket)
            }
            fn referenced_cksums(
                &self,
            ) -> gantry_registry::store::BoxFut<
                '_,
                gantry_registry::store::StoreResult<std::collections::HashSet<String>>,
            > {
                self.inner.referenced_cksums()
            }
            fn claim_blob<'a>(
                &'a self,
                cksum: &'a str,
                now: i64,
            ) -> gantry_registry::store::BoxFut<'a, gantry_registry::store::StoreResult<()>> {
                self.inner.claim_blob(cksum, now)
            }
            fn remove_blob_if_unused<'a>(
                &'a self,
                cksum: &'a str,
                claimed_before: i64,
                delete: gantry_registry::store::BoxFut<
                    'a,
                    Result<(), gantry_registry::blob::BlobError>,
                >,
            ) -> gantry_registry::store::BoxFut<
                'a,
                Result<
                    gantry_registry::store::BlobVerdict,
                    gantry_registry::store::RemoveBlobError,
                >,
            > {
                self.inner
                    .remove_blob_if_unused(cksum, claimed_before, delete)
            }
            fn forget_claims(
                &self,
                before: i64,
            ) -> gantry_registry::store::BoxFut<'_, gantry_registry::store::StoreResult<u64>> {
                self.inner.forget_claims(before)
            }
        }
    };
}
pub(crate) use delegate_hardening_store;

/// Like `common::http`, but a connection that fails or closes without a whole response is an
/// error, not a panic (the server may have been killed mid-request).
pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<super::Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(std::io::Error::other("no complete response head"));
    };
    let resp = super::parse_response(&raw);
    // A body cut short by a kill is not a response either.
    let declared = resp
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared
        && raw.len() - end - 4 < len
    {
        return Err(std::io::Error::other("response body cut short"));
    }
    Ok(resp)
}

/// SHA-256 hex of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
