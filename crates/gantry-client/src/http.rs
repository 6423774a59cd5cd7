//! The HTTP client every registry request goes through: reqwest on rustls with the `ring` provider
//! (installed once per process), cargo's protocol header and a `cargo-gantry/VERSION` user agent.

use std::sync::Once;
use std::time::Duration;

/// Default connect/read timeout, as cargo's `http.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

static PROVIDER: Once = Once::new();

pub(crate) fn install_crypto_provider() {
    PROVIDER.call_once(|| {
        // Fails only if another provider was installed first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[derive(Debug, thiserror::Error)]
#[error("failed to set up the HTTP client")]
pub struct ClientBuildError(#[source] reqwest::Error);

/// Builds the shared client. `user_agent` is `cargo-gantry/VERSION` unless `http.user-agent` says
/// otherwise.
pub fn client(user_agent: &str, timeout: Duration) -> Result<reqwest::Client, ClientBuildError> {
    client_via(user_agent, timeout, None)
}

/// [`client`] through cargo's `http.proxy` (`[scheme://]host[:port]`, `http://` when no scheme is
/// given, as libcurl reads it) when there is one; without it the usual proxy variables apply.
pub fn client_via(
    user_agent: &str,
    timeout: Duration,
    proxy: Option<&str>,
) -> Result<reqwest::Client, ClientBuildError> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "cargo-protocol",
        reqwest::header::HeaderValue::from_static("version=1"),
    );
    let mut builder = builder(user_agent, timeout).default_headers(headers);
    if let Some(proxy) = proxy.filter(|p| !p.is_empty()) {
        let url = if proxy.contains("://") {
            proxy.to_owned()
        } else {
            format!("http://{proxy}")
        };
        builder = builder.proxy(reqwest::Proxy::all(url).map_err(ClientBuildError)?);
    }
    builder.build().map_err(ClientBuildError)
}

/// A client for requests outside cargo's registry protocol (trusted publishing's exchange, a CI
/// system's ID-token endpoint): the same TLS, user agent and timeouts, no `cargo-protocol` header,
/// so those requests carry only what their own clients send.
pub fn plain_client(
    user_agent: &str,
    timeout: Duration,
) -> Result<reqwest::Client, ClientBuildError> {
    builder(user_agent, timeout)
        .build()
        .map_err(ClientBuildError)
}

fn builder(user_agent: &str, timeout: Duration) -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(user_agent)
        .connect_timeout(timeout)
        .read_timeout(timeout)
}

/// cargo's reason-phrase table for `(status N Reason)` in error messages.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "<unknown>",
    }
}

/// `Retry-After`: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    // A date has whole seconds, so a shorter wait is below its precision: a server that rounds
    // the moment down names one that may already have passed while the bucket is still empty,
    // and a client that came straight back spent its tries on 429s. Wait at least a second.
    let wait = when
        .duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Some(wait.max(Duration::from_secs(1)))
}

/// How a request that may be repeated is retried: how often after a failure whose outcome is
/// unknown (no answer, 5xx), how often after a 429, and how long to wait before the next try.
/// The numbers are the caller's; the arithmetic lives here, beside [`parse_retry_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries after failures whose outcome is unknown, the first one included.
    pub max_attempts: u32,
    /// 429 answers taken before giving up (they do not count as attempts).
    pub max_rate_limited: u32,
    /// Upper bound on a single `Retry-After` wait.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// A server's `Retry-After` is honoured down to this, so that `Retry-After: 0` cannot spin.
    const MIN_RETRY_AFTER: Duration = Duration::from_millis(100);
    /// Exponential backoff stops doubling here (16 s).
    const MAX_BACKOFF_EXPONENT: u32 = 4;

    /// The wait before try number `attempt + 1` when the server named none: 1 s, 2 s, 4 s, 8 s,
    /// then 16 s for every later try (`attempt` counts from 1; 0 is treated as 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(Self::MAX_BACKOFF_EXPONENT);
        Duration::from_secs(1 << exponent)
    }

    /// The wait before the next try: the server's `Retry-After`, clamped to
    /// `[100 ms, max_retry_after]`, else [`backoff`](Self::backoff).
    pub fn delay(&self, retry_after: Option<Duration>, attempt: u32) -> Duration {
        match retry_after {
            Some(d) => d.min(self.max_retry_after).max(Self::MIN_RETRY_AFTER),
            None => self.backoff(attempt),
        }
    }

    /// Whether `attempts` tries with unknown outcomes are all this policy allows.
    pub fn attempts_exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }

    /// Whether `rate_limited` 429 answers are all this policy takes.
    pub fn rate_limits_exhausted(&self, rate_limited: u32) -> bool {
        rate_limited >= self.max_rate_limited
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 5,
        max_rate_limited: 10,
        max_retry_after: Duration::from_secs(600),
    };

    #[test]
    fn backoff_doubles_then_stays_at_sixteen_seconds() {
        let secs: Vec<u64> = (0..=7).map(|a| POLICY.backoff(a).as_secs()).collect();
        assert_eq!(secs, [1, 1, 2, 4, 8, 16, 16, 16]);
        assert_eq!(POLICY.backoff(u32::MAX), Duration::from_secs(16));
    }

    #[test]
    fn retry_after_is_clamped_both_ways() {
        let d = |s| POLICY.delay(Some(Duration::from_secs(s)), 1);
        assert_eq!(d(30), Duration::from_secs(30));
        assert_eq!(d(3600), Duration::from_secs(600));
        assert_eq!(d(0), Duration::from_millis(100));
        // A named wait beats the backoff, however many tries came before.
        assert_eq!(
            POLICY.delay(Some(Duration::from_secs(2)), 5),
            Duration::from_secs(2)
        );
        assert_eq!(POLICY.delay(None, 3), Duration::from_secs(4));
    }

    #[test]
    fn caps_are_inclusive_counts() {
        assert!(!POLICY.attempts_exhausted(4));
        assert!(POLICY.attempts_exhausted(5));
        assert!(!POLICY.rate_limits_exhausted(9));
        assert!(POLICY.rate_limits_exhausted(10));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(parse_retry_after("soon"), None);
        // A date already past, or within its second, is a second's wait, never an instant retry.
        let now = httpdate::fmt_http_date(std::time::SystemTime::now());
        assert_eq!(parse_retry_after(&now), Some(Duration::from_secs(1)));
        let later = std::time::SystemTime::now() + Duration::from_secs(30);
        let wait = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            wait > Duration::from_secs(28) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
    }

    #[test]
    fn reasons() {
        assert_eq!(reason_phrase(429), "Too Many Requests");
        assert_eq!(reason_phrase(599), "<unknown>");
    }
}
