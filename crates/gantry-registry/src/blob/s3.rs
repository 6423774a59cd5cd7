//! S3-compatible [`BlobStore`] (object_store's `AmazonS3`), shared by every registry instance.
//!
//! Writes are conditional creates (`If-None-Match: *`): keys are SHA-256 addressed, so an existing
//! object already holds these exact bytes and "already exists" is success. An object is never
//! overwritten, which matters when instances race to store the same `.crate`.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{
    Attribute, Attributes, BackoffConfig, ClientOptions, ObjectStore, PutMode, PutOptions,
    PutPayload, RetryConfig,
};

use futures_util::TryStreamExt;

use super::{BlobError, BlobMeta, BlobReader, BlobStore, BoxFut, CRATES_PREFIX, Stored};
use crate::config::{S3Settings, StorageTarget};

/// `.crate` files never change once stored (content-addressed), so caches may keep them forever.
pub const CRATE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
pub const CRATE_CONTENT_TYPE: &str = "application/gzip";

/// Bounded retries: a registry request (or a readiness probe) must fail in seconds, not minutes,
/// when the store is down.
const MAX_RETRIES: usize = 3;
const RETRY_TIMEOUT: Duration = Duration::from_secs(15);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const LISTING: &str = "listing the bucket";

pub struct S3BlobStore {
    inner: Arc<AmazonS3>,
    bucket: String,
    prefix: Option<String>,
    /// `s3://bucket/prefix at endpoint`, for messages.
    location: String,
}

impl S3BlobStore {
    /// Builds the client for `s3://bucket[/prefix]`; settings left unset come from the AWS
    /// environment. Nothing is contacted yet (see [`BlobStore::ping`]).
    pub fn new(
        bucket: &str,
        prefix: Option<&str>,
        settings: &S3Settings,
    ) -> Result<Self, BlobError> {
        let s = settings.resolve()?;
        let target = StorageTarget::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.map(str::to_owned),
        };
        let location = match &s.endpoint {
            Some(e) => format!("{target} at {e}"),
            None => format!("{target} (AWS)"),
        };
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(REQUEST_TIMEOUT)
                    .with_connect_timeout(CONNECT_TIMEOUT),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: MAX_RETRIES,
                retry_timeout: RETRY_TIMEOUT,
            })
            .with_region(s.region.as_deref().unwrap_or("us-east-1"));
        if let Some(e) = &s.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(allow) = s.allow_http {
            b = b.with_allow_http(allow);
        }
        if let Some(k) = &s.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(k) = &s.secret_access_key {
            b = b.with_secret_access_key(k);
        }
        let inner = b.build().map_err(|source| BlobError::Store {
            context: format!("cannot configure S3 storage {location}"),
            source,
        })?;
        Ok(S3BlobStore {
            inner: Arc::new(inner),
            bucket: bucket.to_owned(),
            prefix: prefix.map(str::to_owned),
            location,
        })
    }

    fn path(&self, key: &str) -> ObjPath {
        match &self.prefix {
            Some(p) => ObjPath::from(format!("{p}/{key}")),
            None => ObjPath::from(key),
        }
    }

    /// Turns an object_store error into a message naming the location and what to check.
    fn explain(&self, what: &str, e: object_store::Error) -> BlobError {
        // Listing errors arrive as `Generic` with the status and S3 error code only in the text.
        let text = e.to_string();
        let denied = matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || [
            "403 Forbidden",
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "AccessDenied",
        ]
        .iter()
        .any(|c| text.contains(c));
        let missing = text.contains("NoSuchBucket")
            || (what == LISTING && matches!(e, object_store::Error::NotFound { .. }));
        let hint = if denied {
            "credentials refused (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, --s3-region and \
             the key's rights on the bucket)"
                .to_owned()
        } else if missing {
            format!(
                "the bucket `{}` does not exist (create it, or fix --storage-url)",
                self.bucket
            )
        } else {
            "check --s3-endpoint and that the S3 server is reachable".to_owned()
        };
        BlobError::Store {
            context: format!("{what} on {}: {hint}", self.location),
            source: e,
        }
    }
}

fn crate_attributes() -> Attributes {
    let mut a = Attributes::new();
    a.insert(Attribute::CacheControl, CRATE_CACHE_CONTROL.into());
    a.insert(Attribute::ContentType, CRATE_CONTENT_TYPE.into());
    a
}

impl BlobStore for S3BlobStore {
    fn put<'a>(&'a self, key: &'a str, bytes: Vec<u8>) -> BoxFut<'a, Result<Stored, BlobError>> {
        Box::pin(async move {
            let mut opts = PutOptions::from(PutMode::Create);
            if key.ends_with(".crate") {
                opts.attributes = crate_attributes();
            }
            match self
                .inner
                .put_opts(&self.path(key), PutPayload::from(bytes), opts)
                .await
            {
                Ok(_) => Ok(Stored::Created),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(Stored::Existed),
                Err(e) => Err(self.explain(&format!("storing `{key}`"), e)),
            }
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<Vec<u8>>, BlobError>> {
        Box::pin(async move {
            let what = || format!("reading `{key}`");
            match self.inner.get(&self.path(key)).await {
                Ok(r) => Ok(Some(
                    r.bytes()
                        .await
                        .map_err(|e| self.explain(&what(), e))?
                        .to_vec(),
                )),
                // A missing bucket also answers 404; downloads then say "not found", and `/ready`
                // (which lists the bucket) names the real cause.
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.explain(&what(), e)),
            }
        })
    }

    /// Two levels of delimited listings (`crates/`, then each `crates/xx/`): no stream plumbing,
    /// and at most 257 requests however many objects there are.
    fn list_crates(&self) -> BoxFut<'_, Result<Vec<BlobMeta>, BlobError>> {
        Box::pin(async move {
            let top = self.path(CRATES_PREFIX);
            let level = self
                .inner
                .list_with_delimiter(Some(&top))
                .await
                .map_err(|e| self.explain(LISTING, e))?;
            let mut out = Vec::new();
            for dir in level.common_prefixes {
                let objects = self
                    .inner
                    .list_with_delimiter(Some(&dir))
                    .await
                    .map_err(|e| self.explain(LISTING, e))?
                    .objects;
                for o in objects {
                    let location = o.location.as_ref();
                    let key = match &self.prefix {
                        Some(p) => location
                            .strip_prefix(p.as_str())
                            .and_then(|k| k.strip_prefix('/'))
                            .unwrap_or(location),
                        None => location,
                    };
                    if super::is_crate_key(key) {
                        out.push(BlobMeta {
                            key: key.to_owned(),
                            last_modified: o.last_modified.into(),
                            size: o.size,
                        });
                    }
                }
            }
            Ok(out)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<(), BlobError>> {
        Box::pin(async move {
            match self.inner.delete(&self.path(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.explain(&format!("deleting `{key}`"), e)),
            }
        })
    }

    fn open<'a>(&'a self, key: &'a str) -> BoxFut<'a, Result<Option<BlobReader>, BlobError>> {
        Box::pin(async move {
            match self.inner.get(&self.path(key)).await {
                Ok(r) => {
                    let context = format!(
                        "reading `{key}` on {}: check --s3-endpoint and that the S3 server is reachable",
                        self.location
                    );
                    let size = r.meta.size;
                    let stream = r.into_stream().map_err(move |source| BlobError::Store {
                        context: context.clone(),
                        source,
                    });
                    Ok(Some(BlobReader {
                        size,
                        stream: Box::pin(stream),
                    }))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.explain(&format!("reading `{key}`"), e)),
            }
        })
    }

    /// Lists one level under the prefix: answers 404 when the bucket is missing, unlike a read.
    fn ping(&self) -> BoxFut<'_, Result<(), BlobError>> {
        Box::pin(async move {
            let prefix = self.prefix.as_deref().map(ObjPath::from);
            self.inner
                .list_with_delimiter(prefix.as_ref())
                .await
                .map_err(|e| self.explain(LISTING, e))?;
            Ok(())
        })
    }
}
