//! The secrets of trusted publishing, in types that never show their value: `Debug` prints a
//! placeholder and there is no `Display`, so none can reach a log line, a JSON event or an error
//! message by accident. Reading the value takes an explicit `expose()`.

use std::fmt;

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: String) -> Self {
                $name(value)
            }

            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret!(
    /// A CI job's OIDC ID token (a JWT): whoever holds it can exchange it for a publish token until
    /// it expires (minutes).
    IdToken
);

secret!(
    /// The token a registry issues for a trusted publish (crates.io: `cio_tp_…`, gantry-registry:
    /// `gty_tp_…`): publishes the matched crates for 30 minutes unless revoked first.
    PublishToken
);

secret!(
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`: the runner's bearer token for asking GitHub for ID tokens.
    RunnerToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let id = IdToken::new("eyJhbGciOi.secret.sig".into());
        let tp = PublishToken::new("gty_tp_secretsecret".into());
        let runner = RunnerToken::new("secret-runner".into());
        let shown = format!("{id:?} {tp:?} {:?} {runner:?}", Some(&tp));
        assert!(!shown.contains("secret"), "{shown}");
        assert_eq!(
            shown,
            "IdToken(<redacted>) PublishToken(<redacted>) Some(PublishToken(<redacted>)) RunnerToken(<redacted>)"
        );
        assert_eq!(tp.expose(), "gty_tp_secretsecret");
    }
}
