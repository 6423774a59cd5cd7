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
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn reasons() {
        assert_eq!(reason_phrase(429), "Too Many Requests");
        assert_eq!(reason_phrase(599), "<unknown>");
    }
}
