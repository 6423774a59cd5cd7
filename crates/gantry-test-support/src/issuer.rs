//! [`OidcIssuer`]: the server's life (its own thread and runtime, so sync and async tests alike can
//! use it, and a blocked test thread never stalls it), its keys, and what tests ask of it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use serde_json::Value;
use tokio::sync::oneshot;

use crate::claims::{GitHubWorkflow, GitLabJob};
use crate::keys::{KeyAlgorithm, SigningKey, random_string};
use crate::oauth::{OAuthClient, OAuthState, SignInUser};
use crate::{IssuerError, routes};

/// How an issuer is set up.
#[derive(Debug, Clone, Default)]
pub struct IssuerOptions {
    /// The algorithm of every key the issuer makes (RS256 by default).
    pub algorithm: KeyAlgorithm,
}

/// One request the issuer served, for assertions ("the client asked for audience X").
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RecordedRequest {
    pub fn path(&self) -> &str {
        self.uri.split('?').next().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.uri.split_once('?')?.1;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

pub(crate) struct Keys {
    /// Published in the JWKS, oldest first.
    pub published: Vec<Arc<SigningKey>>,
    /// The kid new tokens are signed with.
    pub active: String,
    /// Never published: tokens signed with it carry a kid no JWKS lists.
    pub unpublished: Arc<SigningKey>,
    /// How many keys were made, for fresh kids.
    pub made: usize,
}

/// Everything the handlers share.
pub(crate) struct State {
    pub issuer: String,
    pub algorithm: KeyAlgorithm,
    pub keys: RwLock<Keys>,
    /// The workflow the Actions token endpoint describes, and the bearer token it requires.
    pub actions: Mutex<Option<GitHubWorkflow>>,
    pub actions_request_token: String,
    pub oauth: Mutex<OAuthState>,
    pub log: Mutex<Vec<RecordedRequest>>,
}

impl State {
    /// The lock's data even if a panicking test thread poisoned it: the state stays consistent
    /// because every critical section is a plain update.
    pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn active_key(&self) -> Arc<SigningKey> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.published
            .iter()
            .find(|k| k.kid == keys.active)
            .or(keys.published.last())
            .cloned()
            .unwrap_or_else(|| keys.unpublished.clone())
    }

    /// `claims` signed with the active key, its kid in the header.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let key = self.active_key();
        key.sign(claims, Some(&key.kid))
    }
}

/// An OpenID Connect issuer on `http://127.0.0.1:<port>`, stopped when dropped. See the crate
/// documentation for what it serves.
pub struct OidcIssuer {
    url: String,
    addr: SocketAddr,
    pub(crate) state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OidcIssuer {
    /// An RS256 issuer with one published key.
    pub fn start() -> Result<Self, IssuerError> {
        Self::start_with(IssuerOptions::default())
    }

    pub fn start_with(options: IssuerOptions) -> Result<Self, IssuerError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(IssuerError::Io)?;
        listener.set_nonblocking(true).map_err(IssuerError::Io)?;
        let addr = listener.local_addr().map_err(IssuerError::Io)?;
        let url = format!("http://{addr}");
        let alg = options.algorithm;
        let first = SigningKey::generate("key-1", alg)?;
        let unpublished = SigningKey::generate("key-unpublished", alg)?;
        let state = Arc::new(State {
            issuer: url.clone(),
            algorithm: alg,
            keys: RwLock::new(Keys {
                active: first.kid.clone(),
                published: vec![Arc::new(first)],
                unpublished: Arc::new(unpublished),
                made: 1,
            }),
            actions: Mutex::new(None),
            actions_request_token: random_string(40),
            oauth: Mutex::new(OAuthState::default()),
            log: Mutex::new(Vec::new()),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(IssuerError::Io)?;
        let (tx, rx) = oneshot::channel::<()>();
        let router = routes::router(state.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), std::io::Error>>();
        let thread = std::thread::Builder::new()
            .name(format!("oidc-issuer-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(async move {
                            let _ = rx.await;
                        })
                        .await;
                });
            })
            .map_err(IssuerError::Io)?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(IssuerError::Io(e)),
            Err(_) => {
                return Err(IssuerError::Io(std::io::Error::other(
                    "the issuer thread ended before serving",
                )));
            }
        }
        Ok(OidcIssuer {
            url,
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The issuer identifier (`iss`), `http://127.0.0.1:<port>` without a trailing slash; the
    /// discovery document is at `{url}/.well-known/openid-configuration`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.state.algorithm
    }

    /// The kid new tokens are signed with.
    pub fn active_kid(&self) -> String {
        self.state.active_key().kid.clone()
    }

    /// `claims` as a JWT signed with the active key (its kid in the header).
    pub fn sign(&self, claims: &Value) -> String {
        self.state.sign(claims)
    }

    /// `claims` signed with a key whose kid the JWKS has never listed.
    pub fn sign_with_unpublished_key(&self, claims: &Value) -> String {
        let key = self.keys().unpublished.clone();
        key.sign(claims, Some(&key.kid))
    }

    /// `claims` signed with the active key but without a `kid` header.
    pub fn sign_without_kid(&self, claims: &Value) -> String {
        self.state.active_key().sign(claims, None)
    }

    /// Key rotation: a new key is published and signs from now on; the old ones stay published
    /// until [`OidcIssuer::retire`]. Returns the new kid.
    pub fn rotate(&self) -> Result<String, IssuerError> {
        let kid = format!("key-{}", self.keys().made + 1);
        let key = SigningKey::generate(&kid, self.state.algorithm)?;
        let mut keys = self
            .state
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        keys.made += 1;
        keys.published.push(Arc::new(key));
        keys.active = kid.clone();
        Ok(kid)
    }

    /// Removes a key from the JWKS (tokens it signed no longer verify for fresh verifiers).
    pub fn retire(&self, kid: &str) {
        let mut keys = self
            .state
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        keys.published.retain(|k| k.kid != kid);
    }

    /// A signed GitHub Actions job token for `audience`, as the Actions token endpoint would mint.
    pub fn github_token(&self, workflow: &GitHubWorkflow, audience: &str) -> String {
        self.sign(&workflow.claims(&self.url, audience))
    }

    /// A signed GitLab CI `id_tokens` token for `audience`.
    pub fn gitlab_token(&self, job: &GitLabJob, audience: &str) -> String {
        self.sign(&job.claims(&self.url, audience))
    }

    /// Makes the Actions token endpoint answer for `workflow` (until set again).
    pub fn set_actions_workflow(&self, workflow: GitHubWorkflow) {
        *State::lock(&self.state.actions) = Some(workflow);
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL`: already carries a query (`?api-version=2.0`), so clients
    /// append `&audience=…`, as on GitHub.
    pub fn actions_request_url(&self) -> String {
        format!("{}{}?api-version=2.0", self.url, routes::ACTIONS_TOKEN_PATH)
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`: the bearer token the endpoint requires.
    pub fn actions_request_token(&self) -> String {
        self.state.actions_request_token.clone()
    }

    /// Both variables, ready for `Command::envs`.
    pub fn actions_env(&self) -> [(&'static str, String); 2] {
        [
            ("ACTIONS_ID_TOKEN_REQUEST_URL", self.actions_request_url()),
            (
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                self.actions_request_token(),
            ),
        ]
    }

    /// Registers an OAuth2 client for the sign-in flow.
    pub fn register_client(&self, client: OAuthClient) {
        State::lock(&self.state.oauth)
            .clients
            .insert(client.client_id.clone(), client);
    }

    /// Adds a user who can sign in; the first one added signs in unless `login_hint` names
    /// another.
    pub fn add_user(&self, user: SignInUser) {
        State::lock(&self.state.oauth).users.push(user);
    }

    /// The next authorization request is answered with `error` (e.g. `access_denied`) instead of
    /// a code.
    pub fn deny_next_authorization(&self, error: &str) {
        State::lock(&self.state.oauth).deny_next = Some(error.to_owned());
    }

    /// Every request served so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        State::lock(&self.state.log).clone()
    }

    /// How many requests went to `path` (without query).
    pub fn count(&self, path: &str) -> usize {
        State::lock(&self.state.log)
            .iter()
            .filter(|r| r.path() == path)
            .count()
    }

    fn keys(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.state
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for OidcIssuer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
