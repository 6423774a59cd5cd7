//! Trusted publishing from the client's side (crates.io's OIDC exchange; `spec/next-round.md`
//! §1.2, §1.7): where a CI job's OIDC ID token comes from, which registries offer the exchange and
//! for which audience, and the exchange and revocation requests themselves.
//!
//! The requests are the ones `rust-lang/crates-io-auth-action` makes, byte for byte where it
//! matters (method, path, `Content-Type`, body; a `User-Agent` naming the tool and its version, as
//! crates.io asks of every client), so crates.io accepts them unchanged; gantry-registry speaks
//! the same API.
//!
//! The command decides when to use it and owns the token's life (revoked at the end of the run);
//! this module only knows the protocol. Both tokens it handles are secrets: [`IdToken`] and
//! [`PublishToken`] never print their value, and no error here carries one.

mod exchange;
mod id_token;
mod offer;
mod secret;

pub use exchange::{ENDPOINT_PATH, ExchangeError, RevokeError, exchange, revoke};
pub use id_token::{
    Audience, GITHUB_REQUEST_TOKEN_VAR, GITHUB_REQUEST_URL_VAR, IdTokenError, IdTokenSource,
    Unavailable, UnverifiedClaims, encode_uri_component, peek_claims,
};
pub use offer::{CRATES_IO_ISSUERS, Offer, OfferSource, audience_for_url};
pub use secret::{IdToken, PublishToken, RunnerToken};
