//! Segments on object storage (`s3://`, `gs://`, `az://`) through the `object_store` crate.
//!
//! The store needs four operations and object storage has all of them: list a table's
//! prefix, GET a whole object, create an object with one PUT, DELETE. A PUT is atomic (readers
//! see the whole object or nothing) and every segment has a fresh UUIDv7 name, so writers on
//! any number of machines never meet. Where the server supports it the PUT is create-only
//! (`If-None-Match: *`), so even a name collision could not replace a segment; where it does
//! not (`AWS_CONDITIONAL_PUT=disabled`, or a server that answers "not implemented"), unique
//! names alone keep writers apart.
//!
//! Credentials, region and endpoint come from the usual environment variables, read by
//! `AmazonS3Builder::from_env` (`AWS_*`), `GoogleCloudStorageBuilder::from_env` (`GOOGLE_*`)
//! and `MicrosoftAzureBuilder::from_env` (`AZURE_*`). Requests are retried with exponential
//! backoff a bounded number of times ([`DEFAULT_MAX_RETRIES`], `MLPROV_STORE_RETRIES`) within
//! [`RETRY_TIMEOUT`]; then the command fails with a message naming the URL and what to check.
//!
//! The library API stays synchronous: each backend owns a small tokio runtime and blocks on
//! it. Called from inside another runtime, it blocks on a scoped helper thread instead of
//! panicking.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, GetOptions, ObjectStore, PutMode, PutOptions, PutPayload, RetryConfig,
};

use super::backend::{is_temporary, Backend, ObjectInfo};
use crate::error::{Error, Result};

/// URL schemes served by this backend.
pub const SCHEMES: [&str; 7] = ["s3", "s3a", "gs", "az", "azure", "abfs", "abfss"];
/// Retries of a failing request (transport errors, 5xx, throttling) before giving up.
pub const DEFAULT_MAX_RETRIES: usize = 4;
/// Environment variable overriding [`DEFAULT_MAX_RETRIES`].
pub const RETRIES_ENV: &str = "MLPROV_STORE_RETRIES";
/// No request is retried after this long.
pub const RETRY_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests in flight at once for bulk reads.
const CONCURRENCY: usize = 32;

/// Whether `scheme` (lowercase) names object storage.
pub fn is_object_scheme(scheme: &str) -> bool {
    SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
}

/// `scheme://bucket/prefix` split into its parts; the prefix has no leading or trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    pub scheme: String,
    pub bucket: String,
    pub prefix: String,
}

impl StoreUrl {
    pub fn parse(url: &str) -> Result<StoreUrl> {
        let bad = |reason: String| Error::BadStoreUrl {
            url: url.to_string(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("no scheme://".into()))?;
        let scheme = scheme.to_ascii_lowercase();
        if !is_object_scheme(&scheme) {
            return Err(bad(format!(
                "unknown scheme {scheme}://; known: {}",
                SCHEMES.map(|s| format!("{s}://")).join(", ")
            )));
        }
        if rest.contains(['?', '#']) {
            return Err(bad(
                "query strings and fragments are not part of a store URL; set options through environment variables".into(),
            ));
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket (or container) name".into()));
        }
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() {
            if prefix
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
            {
                return Err(bad("the prefix has an empty, '.' or '..' part".to_string()));
            }
            ObjectPath::parse(prefix).map_err(|e| bad(format!("bad prefix: {e}")))?;
        }
        Ok(StoreUrl {
            scheme,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The canonical form: `scheme://bucket` or `scheme://bucket/prefix`.
    pub fn to_url(&self) -> String {
        if self.prefix.is_empty() {
            format!("{}://{}", self.scheme, self.bucket)
        } else {
            format!("{}://{}/{}", self.scheme, self.bucket, self.prefix)
        }
    }
}

fn env_true(name: &str) -> bool {
    std::env::var(name)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Problems with the S3 settings that would otherwise surface only as an opaque request error.
fn check_aws_env(url: &str) -> Result<()> {
    let bad = |reason: String, hint: &str| Error::ObjectStore {
        url: url.to_string(),
        action: "configuring the S3 client",
        reason,
        hint: hint.to_string(),
    };
    for var in ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"] {
        if let Ok(endpoint) = std::env::var(var) {
            if endpoint.starts_with("http://") && !env_true("AWS_ALLOW_HTTP") {
                return Err(bad(
                    format!("{var}={endpoint} is plain http:// and AWS_ALLOW_HTTP is not true"),
                    "set AWS_ALLOW_HTTP=true to talk to this endpoint without TLS, or use its https:// address",
                ));
            }
        }
    }
    // With no credentials in the environment the AWS client asks the EC2 instance metadata
    // service. AWS_EC2_METADATA_DISABLED=true (as in the AWS SDKs) turns that off.
    let has_credentials = (env_set("AWS_ACCESS_KEY_ID") && env_set("AWS_SECRET_ACCESS_KEY"))
        || env_set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || env_set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || env_set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        || env_true("AWS_SKIP_SIGNATURE");
    if !has_credentials && env_true("AWS_EC2_METADATA_DISABLED") {
        return Err(bad(
            "no credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set and AWS_EC2_METADATA_DISABLED is true".into(),
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials), or run where an instance role applies",
        ));
    }
    Ok(())
}

/// A runtime that never blocks when dropped (dropping a blocking runtime inside another
/// runtime would panic).
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

struct Shared {
    store: Arc<dyn ObjectStore>,
    runtime: Runtime,
    max_retries: usize,
    /// Cleared once the server refuses create-only PUTs; then unique names alone suffice.
    create_only: AtomicBool,
}

impl Shared {
    fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        let rt = self
            .runtime
            .0
            .as_ref()
            .expect("runtime lives as long as the backend");
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside someone else's runtime: block a helper thread, not theirs.
            std::thread::scope(|s| match s.spawn(|| rt.block_on(future)).join() {
                Ok(out) => out,
                Err(panic) => std::panic::resume_unwind(panic),
            })
        } else {
            rt.block_on(future)
        }
    }
}

/// One prefix of a bucket (or container) holding objects under relative `/`-separated keys.
#[derive(Clone)]
pub struct ObjectBackend {
    shared: Arc<Shared>,
    /// Prefix inside the bucket ("" for the bucket's root).
    root: String,
    /// URL of `root`, for messages.
    url: String,
}

impl ObjectBackend {
    /// Connect to the bucket and prefix a URL names. Reads the environment for credentials,
    /// region and endpoint; makes no request yet.
    pub fn open(url: &str) -> Result<ObjectBackend> {
        let parsed = StoreUrl::parse(url)?;
        let canonical = parsed.to_url();
        let max_retries = match std::env::var(RETRIES_ENV) {
            Ok(v) => v.trim().parse::<usize>().map_err(|_| Error::BadStoreUrl {
                url: canonical.clone(),
                reason: format!("{RETRIES_ENV}={v} is not a number of retries"),
            })?,
            Err(_) => DEFAULT_MAX_RETRIES,
        };
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries,
            retry_timeout: RETRY_TIMEOUT,
        };
        let bucket_url = format!("{}://{}", parsed.scheme, parsed.bucket);
        let built: object_store::Result<Arc<dyn ObjectStore>> = match parsed.scheme.as_str() {
            "s3" | "s3a" => {
                check_aws_env(&canonical)?;
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(format!("s3://{}", parsed.bucket))
                    .with_retry(retry)
                    .build()
                    .map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
            "gs" => object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_url(bucket_url)
                .with_retry(retry)
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
            _ => object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(bucket_url)
                .with_retry(retry)
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
        };
        let store = built.map_err(|e| Error::BadStoreUrl {
            url: canonical.clone(),
            reason: e.to_string(),
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("mlprov-store")
            .enable_all()
            .build()
            .map_err(|e| Error::ObjectStore {
                url: canonical.clone(),
                action: "starting the I/O runtime",
                reason: e.to_string(),
                hint: "the process could not start threads; check its limits (ulimit -u)".into(),
            })?;
        Ok(ObjectBackend {
            shared: Arc::new(Shared {
                store,
                runtime: Runtime(Some(runtime)),
                max_retries,
                create_only: AtomicBool::new(true),
            }),
            root: parsed.prefix,
            url: canonical,
        })
    }

    /// The same bucket, one folder down (`name` is a plain folder name).
    pub fn child(&self, name: &str) -> ObjectBackend {
        let root = if self.root.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.root)
        };
        ObjectBackend {
            shared: Arc::clone(&self.shared),
            root,
            url: format!("{}/{name}", self.url),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn url_of(&self, key: &str) -> String {
        format!("{}/{key}", self.url)
    }

    fn path(&self, key: &str) -> Result<ObjectPath> {
        let full = if self.root.is_empty() {
            key.to_string()
        } else if key.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{key}", self.root)
        };
        ObjectPath::parse(&full).map_err(|e| Error::BadStoreUrl {
            url: self.url_of(key),
            reason: format!("not a valid object key: {e}"),
        })
    }

    fn error(&self, action: &'static str, key: &str, e: object_store::Error) -> Error {
        use object_store::Error as E;
        let hint = match &e {
            E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
                "check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, \
                 GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_NAME / AZURE_STORAGE_ACCOUNT_KEY) \
                 and that they may list, read, write and delete under this prefix"
                    .to_string()
            }
            E::NotFound { .. } => {
                "check the bucket name and region (AWS_REGION); the bucket must exist".to_string()
            }
            _ => format!(
                "the store did not answer successfully (each request is retried up to {} times within {}s): \
                 check the endpoint (AWS_ENDPOINT_URL, and AWS_ALLOW_HTTP=true for an http:// endpoint), \
                 the region, the network and the bucket name, then run the command again; \
                 a write that failed was not acknowledged and can simply be repeated",
                self.shared.max_retries,
                RETRY_TIMEOUT.as_secs()
            ),
        };
        Error::ObjectStore {
            url: self.url_of(key),
            action,
            reason: e.to_string(),
            hint,
        }
    }

    /// Create `key` unless it exists; `Ok(false)` when it already did (left untouched).
    pub fn put_if_absent(&self, key: &str, bytes: &[u8]) -> Result<bool> {
        let path = self.path(key)?;
        let bytes = Bytes::copy_from_slice(bytes);
        if self.shared.create_only.load(Ordering::Relaxed) {
            let store = Arc::clone(&self.shared.store);
            let (p, b) = (path.clone(), bytes.clone());
            let result = self.shared.block_on(async move {
                let opts = PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                };
                store.put_opts(&p, PutPayload::from(b), opts).await
            });
            match result {
                Ok(_) => return Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => return Ok(false),
                Err(object_store::Error::NotImplemented { .. })
                | Err(object_store::Error::NotSupported { .. }) => {
                    // The server (or AWS_CONDITIONAL_PUT=disabled) has no create-only PUT:
                    // segment names are unique, so a plain PUT is just as safe for them.
                    self.shared.create_only.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(self.error("writing", key, e)),
            }
        }
        let store = Arc::clone(&self.shared.store);
        self.shared
            .block_on(async move {
                store
                    .put_opts(&path, PutPayload::from(bytes), PutOptions::default())
                    .await
            })
            .map(|_| true)
            .map_err(|e| self.error("writing", key, e))
    }

    /// Whole objects for many keys, fetched concurrently; `None` for those that do not exist.
    fn fetch_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        let paths = keys
            .iter()
            .map(|k| self.path(k))
            .collect::<Result<Vec<_>>>()?;
        let store = Arc::clone(&self.shared.store);
        let results: Vec<object_store::Result<Option<Bytes>>> = self.shared.block_on(async move {
            stream::iter(paths)
                .map(|path| {
                    let store = Arc::clone(&store);
                    async move {
                        match store.get_opts(&path, GetOptions::default()).await {
                            Ok(got) => got.bytes().await.map(Some),
                            Err(object_store::Error::NotFound { .. }) => Ok(None),
                            Err(e) => Err(e),
                        }
                    }
                })
                .buffered(CONCURRENCY)
                .collect()
                .await
        });
        results
            .into_iter()
            .zip(keys)
            .map(|(r, key)| match r {
                // Deleted between the GET's headers and its body: gone, like a 404.
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.error("reading", key, e)),
                Ok(b) => Ok(b),
            })
            .collect()
    }
}

impl Backend for ObjectBackend {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let dir = self.path(prefix)?;
        let store = Arc::clone(&self.shared.store);
        let listed = self
            .shared
            .block_on(async move { store.list_with_delimiter(Some(&dir)).await })
            .map_err(|e| self.error("listing", prefix, e))?;
        let mut out: Vec<ObjectInfo> = listed
            .objects
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.filename()?.to_string();
                if is_temporary(&name) {
                    return None;
                }
                Some(ObjectInfo {
                    key: format!("{prefix}/{name}"),
                    size: meta.size,
                    modified: Some(meta.last_modified.into()),
                })
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn get(&self, key: &str) -> Result<Option<Bytes>> {
        Ok(self
            .fetch_many(std::slice::from_ref(&key.to_string()))?
            .pop()
            .flatten())
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Bytes>>> {
        self.fetch_many(keys)
    }

    fn put_new(&self, key: &str, bytes: &[u8]) -> Result<()> {
        if self.put_if_absent(key, bytes)? {
            return Ok(());
        }
        // The key exists. Names are fresh UUIDv7s, so this is our own PUT retried after the
        // server had applied it (the response was lost): fine if the bytes are ours.
        match self.get(key)? {
            Some(existing) if existing.as_ref() == bytes => Ok(()),
            _ => Err(Error::ObjectStore {
                url: self.url_of(key),
                action: "writing",
                reason: "an object with this name and different content already exists".into(),
                hint: "segment names are fresh UUIDv7s, so this should not happen: check that no other tool writes under this prefix, then run the command again (it picks a new name)".into(),
            }),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.delete_many(std::slice::from_ref(&key.to_string()))
    }

    fn delete_many(&self, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let paths = keys
            .iter()
            .map(|k| self.path(k))
            .collect::<Result<Vec<_>>>()?;
        let store = Arc::clone(&self.shared.store);
        // One bulk request per 1,000 keys on S3 (DeleteObjects); one per key elsewhere.
        let results: Vec<object_store::Result<ObjectPath>> = self.shared.block_on(async move {
            store
                .delete_stream(stream::iter(paths.into_iter().map(Ok)).boxed())
                .collect()
                .await
        });
        for (r, key) in results.into_iter().zip(keys) {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error("removing", key, e)),
            }
        }
        Ok(())
    }

    fn local_path(&self, _key: &str) -> Option<std::path::PathBuf> {
        None
    }

    fn location_of(&self, key: &str) -> String {
        self.url_of(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_bad_ones_are_refused() {
        let u = StoreUrl::parse("s3://bucket/team/prov/").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.bucket.as_str(), u.prefix.as_str()),
            ("s3", "bucket", "team/prov")
        );
        assert_eq!(u.to_url(), "s3://bucket/team/prov");
        assert_eq!(StoreUrl::parse("GS://b").unwrap().to_url(), "gs://b");
        assert_eq!(StoreUrl::parse("az://container/x").unwrap().prefix, "x");
        for bad in [
            "s3://",
            "s3:///prefix",
            "ftp://host/x",
            "s3://b/a//b",
            "s3://b/../x",
            "s3://b/x?versionId=1",
        ] {
            assert!(
                matches!(StoreUrl::parse(bad), Err(Error::BadStoreUrl { .. })),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn child_paths_and_urls() {
        // Building the client reads the environment but makes no request.
        let b = ObjectBackend::open("s3://bucket/p").unwrap();
        let seg = b.child("segments");
        assert_eq!(seg.url(), "s3://bucket/p/segments");
        assert_eq!(
            seg.path("runs/x.parquet").unwrap().as_ref(),
            "p/segments/runs/x.parquet"
        );
        assert_eq!(
            seg.location_of("runs/x.parquet"),
            "s3://bucket/p/segments/runs/x.parquet"
        );
        let root = ObjectBackend::open("s3://bucket").unwrap();
        assert_eq!(
            root.path("mlprov-store.json").unwrap().as_ref(),
            "mlprov-store.json"
        );
    }
}
