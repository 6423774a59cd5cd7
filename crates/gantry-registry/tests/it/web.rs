//! The web side over HTTP, on both storage backends: pages, sign-in with CSRF and throttling,
//! sessions shared by instances, tokens on `/me`, owner invitations, and download counts written
//! in batches by several instances.

use crate::common::*;
use gantry_registry::accounts::hash_password;
use gantry_registry::store::now;
use serde_json::json;

const README: &str = "# Readme Demo\n\nSome *emphasis*, a [guide](docs/guide.md) and a logo:\n\n\
                      ![logo](img/logo.png)\n\n<script>window.pwned = 1</script>\n\n\
                      <a href=\"javascript:alert(1)\" onclick=\"alert(2)\">click</a>\n";

/// A `.crate` with a README, a repository and a feature.
fn crate_with_readme(name: &str, vers: &str) -> Vec<u8> {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"{vers}\"\nedition = \"2021\"\n\
         description = \"A crate with a README\"\nlicense = \"MIT\"\nreadme = \"README.md\"\n\
         repository = \"https://github.com/example/{name}\"\n"
    );
    let p = format!("{name}-{vers}");
    tar_gz(&[
        Entry::File(&format!("{p}/Cargo.toml"), manifest.as_bytes()),
        Entry::File(&format!("{p}/README.md"), README.as_bytes()),
        Entry::File(&format!("{p}/src/lib.rs"), b""),
    ])
}

fn publish_readme_crate(reg: &TestRegistry, token: &str, name: &str, vers: &str) {
    let mut meta = metadata(name, vers);
    meta["features"] = json!({"default": ["fast"], "fast": []});
    let r = reg.publish(token, &body(&meta, &crate_with_readme(name, vers)));
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Sets `login`'s password in the store (creating the user if needed).
fn with_password(reg: &TestRegistry, login: &str, password: &str) {
    let store = reg.server.as_ref().unwrap().app.store.clone();
    let user = match reg.rt.block_on(store.user_by_login(login)).unwrap() {
        Some(u) => u,
        None => reg.rt.block_on(store.create_user(login)).unwrap(),
    };
    let hash = hash_password(password).unwrap();
    assert!(reg.rt.block_on(store.set_password(user.id, &hash)).unwrap());
}

/// The `value` of the first hidden `csrf` field of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("no csrf field") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

/// `name=value` of every `Set-Cookie` of a response.
fn cookies(r: &Resp) -> Vec<String> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap().to_owned())
        .collect()
}

/// Signs in through the form; returns the session cookie (`gantry_session=…`).
fn sign_in(addr: std::net::SocketAddr, login: &str, password: &str) -> Result<String, Resp> {
    let form = http(addr, "GET", "/login", &[], b"");
    let login_cookie = cookies(&form).remove(0);
    let body = format!(
        "csrf={}&next=%2Fme&login={login}&password={password}",
        csrf_of(&form.text())
    );
    let r = http(
        addr,
        "POST",
        "/login",
        &[
            ("Cookie", &login_cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    );
    match r.status {
        303 => {
            assert_eq!(r.header("location"), Some("/me"));
            let c = cookies(&r)
                .into_iter()
                .find(|c| c.starts_with("gantry_session="));
            Ok(c.expect("no session cookie"))
        }
        _ => Err(r),
    }
}

fn form_post(addr: std::net::SocketAddr, path: &str, cookie: &str, body: &str) -> Resp {
    http(
        addr,
        "POST",
        path,
        &[
            ("Cookie", cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    )
}

fn pages_show_crates_and_never_their_scripts(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let alice = reg.token("alice");
    publish_readme_crate(&reg, &alice, "readme-demo", "1.0.0");
    let dep = body(
        &{
            let mut m = metadata("uses-demo", "0.1.0");
            m["deps"] = json!([{"name": "readme-demo", "version_req": "^1", "features": [],
                "optional": false, "default_features": true, "target": null, "kind": "normal"}]);
            m
        },
        &crate_file("uses-demo", "0.1.0"),
    );
    assert_eq!(reg.publish(&alice, &dep).status, 200);

    let home = reg.http("GET", "/", &[], b"");
    assert_eq!(home.status, 200);
    let html = home.text();
    assert!(html.contains("href=\"/crates/readme-demo\""), "{html}");
    assert!(
        home.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );

    let search = reg.http("GET", "/search?q=readme&page=1", &[], b"").text();
    assert!(search.contains("href=\"/crates/readme-demo\"") && !search.contains("uses-demo"));
    assert_eq!(reg.http("GET", "/search?q=x&page=0", &[], b"").status, 400);

    let page = reg.http("GET", "/crates/readme-demo", &[], b"");
    assert_eq!(page.status, 200);
    let html = page.text();
    for want in [
        "<h1>Readme Demo</h1>",
        "<em>emphasis</em>",
        "https://github.com/example/readme-demo/blob/HEAD/docs/guide.md",
        "https://github.com/example/readme-demo/raw/HEAD/img/logo.png",
        "cargo add --registry gantry readme-demo@1.0.0",
        "readme-demo = { version = &quot;1.0.0&quot;, registry = &quot;gantry&quot; }",
        "href=\"/crates/uses-demo/0.1.0\"",
        "<code>fast</code>",
        "MIT",
    ] {
        assert!(
            html.contains(want),
            "{want} missing from the crate page:\n{html}"
        );
    }
    for never in ["<script", "pwned", "javascript:", "onclick"] {
        assert!(!html.contains(never), "{never} reached the page:\n{html}");
    }
    let uses = reg.http("GET", "/crates/uses-demo/0.1.0", &[], b"").text();
    assert!(
        uses.contains("href=\"/crates/readme-demo\""),
        "local dependency not linked"
    );
    assert_eq!(reg.http("GET", "/crates/nope", &[], b"").status, 404);
    assert_eq!(
        reg.http("GET", "/crates/readme-demo/9.9.9", &[], b"")
            .status,
        404
    );
    let css = reg.http("GET", "/static/style.css", &[], b"");
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));

    // With --auth-required every page but the sign-in page wants a session.
    let closed = TestRegistry::start(backend, true);
    for path in ["/", "/search?q=a", "/crates/x"] {
        let r = closed.http("GET", path, &[], b"");
        assert_eq!(r.status, 303, "{path}");
        assert!(r.header("location").unwrap().starts_with("/login?next="));
    }
    assert_eq!(closed.http("GET", "/login", &[], b"").status, 200);
    with_password(&closed, "alice", "alice-password");
    let session = sign_in(closed.addr, "alice", "alice-password").unwrap();
    let r = closed.http("GET", "/", &[("Cookie", &session)], b"");
    assert_eq!(r.status, 200);
}

fn sign_in_is_csrf_checked_throttled_and_shared_by_instances(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    with_password(&reg, "alice", "alice-password");
    with_password(&reg, "carol", "carol-password");

    // A form without the token bound to the browser's cookie is refused.
    let r = form_post(
        reg.addr,
        "/login",
        "gantry_login_csrf=x",
        "csrf=y&login=alice&password=alice-password",
    );
    assert_eq!(r.status, 403);

    // Five wrong passwords, then even the right one waits (counted in the database).
    for _ in 0..5 {
        let r = sign_in(reg.addr, "carol", "wrong-password").unwrap_err();
        assert_eq!(r.status, 401);
        assert!(r.text().contains("invalid login or password"));
    }
    let r = sign_in(reg.addr, "carol", "carol-password").unwrap_err();
    assert_eq!(r.status, 429);
    assert!(
        r.text().contains("too many failed sign-ins"),
        "{}",
        r.text()
    );
    assert_eq!(
        sign_in(reg.addr, "nobody", "whatever-pass")
            .unwrap_err()
            .status,
        401
    );

    let session = sign_in(reg.addr, "alice", "alice-password").unwrap();
    let login = reg.http("GET", "/login", &[], b"");
    let set = login.header("set-cookie").unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"));

    // A second instance on the same storage knows the session.
    let dir = tempfile::tempdir().unwrap();
    let other = TestRegistry::start_on(reg.storage.clone(), dir, |_| {});
    let me = other.http("GET", "/me", &[("Cookie", &session)], b"");
    assert_eq!(me.status, 200);
    assert!(me.text().contains("API tokens of alice"));
    // Signing out on one ends it everywhere; without the form's token it is refused.
    assert_eq!(
        form_post(reg.addr, "/logout", &session, "csrf=wrong").status,
        403
    );
    let csrf = csrf_of(&me.text());
    assert_eq!(
        form_post(reg.addr, "/logout", &session, &format!("csrf={csrf}")).status,
        303
    );
    assert_eq!(
        other
            .http("GET", "/me", &[("Cookie", &session)], b"")
            .status,
        303
    );
}

fn tokens_made_on_me_publish_until_revoked(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    with_password(&reg, "alice", "alice-password");
    let session = sign_in(reg.addr, "alice", "alice-password").unwrap();
    let me = reg.http("GET", "/me", &[("Cookie", &session)], b"").text();
    let csrf = csrf_of(&me);
    assert_eq!(
        form_post(reg.addr, "/me/tokens", &session, "csrf=bad&name=ci").status,
        403
    );
    let r = form_post(
        reg.addr,
        "/me/tokens",
        &session,
        &format!(
            "csrf={csrf}&name=ci&scope=publish-new&scope=publish-update&crates=web-*&expiry=30"
        ),
    );
    assert_eq!(r.status, 200);
    let html = r.text();
    let at = html.find("id=\"new-token\">").expect("new token shown") + 15;
    let token = html[at..at + html[at..].find('<').unwrap()].to_owned();
    assert!(token.starts_with("gty"), "{token}");
    // Shown once: the page shows it no more.
    assert!(
        !reg.http("GET", "/me", &[("Cookie", &session)], b"")
            .text()
            .contains(&token)
    );

    assert_eq!(
        reg.publish(&token, &publish_body("web-one", "0.1.0"))
            .status,
        200
    );
    // The token holds to its crate patterns and scopes.
    assert_eq!(
        reg.publish(&token, &publish_body("other", "0.1.0")).status,
        403
    );
    let bad = form_post(
        reg.addr,
        "/me/tokens",
        &session,
        &format!("csrf={csrf}&name=x&scope=admin"),
    );
    assert_eq!(bad.status, 400);

    let id = reg.server.as_ref().unwrap().app.store.clone();
    let tokens = reg.rt.block_on(id.list_tokens(None)).unwrap();
    let tid = tokens.iter().find(|t| t.name == "ci").unwrap().id;
    let r = form_post(
        reg.addr,
        &format!("/me/tokens/{tid}/revoke"),
        &session,
        &format!("csrf={csrf}"),
    );
    assert_eq!(r.status, 303);
    let r = reg.publish(&token, &publish_body("web-one", "0.2.0"));
    assert_eq!(
        (r.status, r.detail().as_str()),
        (403, "authentication failed")
    );
    // Someone else's token cannot be revoked through one's own page.
    let bob = reg.token("bob");
    let _ = bob;
    let bobs = reg.rt.block_on(id.list_tokens(None)).unwrap();
    let bob_id = bobs.iter().find(|t| t.user.login == "bob").unwrap().id;
    let r = form_post(
        reg.addr,
        &format!("/me/tokens/{bob_id}/revoke"),
        &session,
        &format!("csrf={csrf}"),
    );
    assert_eq!(r.status, 404);
}

fn owner_invitations_are_answered_and_expire(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let alice = reg.token("alice");
    let bob = reg.token("bob");
    assert_eq!(
        reg.publish(&alice, &publish_body("shared", "0.1.0")).status,
        200
    );
    let add = |who: &str| {
        reg.http(
            "PUT",
            "/api/v1/crates/shared/owners",
            &[("Authorization", &alice)],
            json!({ "users": [who] }).to_string().as_bytes(),
        )
    };
    let invitations = || {
        reg.http(
            "GET",
            "/api/v1/me/crate_owner_invitations",
            &[("Authorization", &bob)],
            b"",
        )
        .json()
    };
    let answer = |accepted: bool| {
        let id = invitations()["crate_owner_invitations"][0]["crate_id"].clone();
        reg.http(
            "PUT",
            &format!("/api/v1/me/crate_owner_invitations/{id}"),
            &[("Authorization", &bob)],
            json!({"crate_owner_invite": {"crate_id": id, "accepted": accepted}})
                .to_string()
                .as_bytes(),
        )
    };
    assert_eq!(
        add("bob").json()["msg"],
        "user bob has been invited to be an owner of crate shared"
    );
    assert_eq!(
        add("bob").json()["msg"],
        "user bob already has a pending invitation to be an owner of crate shared"
    );
    let list = invitations();
    assert_eq!(list["crate_owner_invitations"][0]["crate_name"], "shared");
    assert_eq!(
        list["crate_owner_invitations"][0]["invited_by_username"],
        "alice"
    );
    assert_eq!(
        answer(false).json()["crate_owner_invitation"]["accepted"],
        false
    );
    assert_eq!(invitations()["crate_owner_invitations"], json!([]));
    // Still not an owner.
    assert_eq!(
        reg.publish(&bob, &publish_body("shared", "0.2.0")).status,
        403
    );

    // An invitation older than 30 days can no longer be accepted.
    let store = reg.server.as_ref().unwrap().app.store.clone();
    let krate = reg
        .rt
        .block_on(store.crate_by_name("shared"))
        .unwrap()
        .unwrap();
    let bob_user = reg
        .rt
        .block_on(store.user_by_login("bob"))
        .unwrap()
        .unwrap();
    let old = now() - 31 * 86_400;
    reg.rt
        .block_on(store.invite_owner(krate.id, bob_user.id, 1, old, old - 30 * 86_400))
        .unwrap();
    assert_eq!(invitations()["crate_owner_invitations"], json!([]));
    let r = reg.http(
        "PUT",
        &format!("/api/v1/me/crate_owner_invitations/{}", krate.id),
        &[("Authorization", &bob)],
        json!({"crate_owner_invite": {"crate_id": krate.id, "accepted": true}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 410);
    assert!(
        r.detail().starts_with(
            "The invitation to become an owner of the shared crate expired 1 days ago."
        ),
        "{}",
        r.detail()
    );

    // A fresh invitation, accepted, makes bob an owner; inviting an owner is refused.
    add("bob");
    assert_eq!(answer(true).status, 200);
    assert_eq!(
        reg.publish(&bob, &publish_body("shared", "0.2.0")).status,
        200
    );
    let r = add("bob");
    assert_eq!(
        (r.status, r.detail().as_str()),
        (400, "`bob` is already an owner")
    );
    // A scoped token may not answer invitations (crates.io: no scope covers them).
    let scoped = reg.token_with("bob", Some(&["yank"]), &[], None);
    let r = reg.http(
        "GET",
        "/api/v1/me/crate_owner_invitations",
        &[("Authorization", &scoped)],
        b"",
    );
    assert_eq!(r.status, 403);
}

fn downloads_are_counted_in_batches_by_every_instance(backend: Backend) {
    // The periodic flush is pushed out of the test's way, so only the explicit flushes below
    // write counts, however slow the machine.
    let no_timer = |c: &mut gantry_registry::Config| {
        c.web.downloads_flush = std::time::Duration::from_secs(3600)
    };
    let a = TestRegistry::start_with(backend, no_timer);
    let alice = a.token("alice");
    assert_eq!(
        a.publish(&alice, &publish_body("counted", "1.0.0")).status,
        200
    );
    let dir = tempfile::tempdir().unwrap();
    let b = TestRegistry::start_on(a.storage.clone(), dir, no_timer);
    let get = |reg: &TestRegistry| {
        let r = reg.http("GET", "/api/v1/crates/counted/1.0.0/download", &[], b"");
        assert_eq!(r.status, 200);
    };
    for _ in 0..3 {
        get(&a);
    }
    for _ in 0..2 {
        get(&b);
    }
    let total = |reg: &TestRegistry| {
        reg.http("GET", "/api/v1/crates/counted", &[], b"").json()["crate"]["downloads"].clone()
    };
    // Nothing is written per download ...
    assert_eq!(total(&a), 0);
    assert_eq!(a.server.as_ref().unwrap().app.web.downloads.pending(), 3);
    // ... until each instance flushes; the counts add up.
    for reg in [&a, &b] {
        let app = reg.server.as_ref().unwrap().app.clone();
        reg.rt
            .block_on(app.web.downloads.flush(app.store.as_ref()))
            .unwrap();
    }
    assert_eq!(total(&a), 5);
    let per_day = b
        .http("GET", "/api/v1/crates/counted/downloads", &[], b"")
        .json();
    let today = gantry_registry::downloads::api::today();
    assert_eq!(per_day["version_downloads"][0]["date"], today);
    assert_eq!(per_day["version_downloads"][0]["downloads"], 5);
    let v = b
        .http("GET", "/api/v1/crates/counted/1.0.0/downloads", &[], b"")
        .json();
    assert_eq!(v["version_downloads"][0]["downloads"], 5);
    // A stopping instance writes what it counted.
    get(&b);
    let mut b = b;
    let server = b.server.take().unwrap();
    b.rt.block_on(server.stop()).unwrap();
    assert_eq!(total(&a), 6);
    let page = a.http("GET", "/crates/counted", &[], b"").text();
    assert!(page.contains("id=\"total-downloads\">6<"), "{page}");
}

fn single_sign_on_errors_are_clear(backend: Backend) {
    // Not configured: no button, no route.
    let plain = TestRegistry::start(backend, false);
    assert!(
        !plain
            .http("GET", "/login", &[], b"")
            .text()
            .contains("single sign-on")
    );
    assert_eq!(plain.http("GET", "/login/sso", &[], b"").status, 404);

    // Configured, but the provider does not answer (a closed port on this machine): the page says
    // which discovery document could not be read; a callback not started here is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}/realms/dev", closed.local_addr().unwrap());
    drop(closed);
    let reg = TestRegistry::start_with(backend, |c| {
        c.web.sso = Some(gantry_registry::web::sso::SsoConfig::new(&issuer, "gantry"));
    });
    let login = reg.http("GET", "/login?next=/me", &[], b"").text();
    assert!(
        login.contains("id=\"sso\"") && login.contains("href=\"/login/sso?next=%2Fme\""),
        "{login}"
    );
    let r = reg.http("GET", "/login/sso?next=/me", &[], b"");
    assert_eq!(r.status, 502);
    assert!(r.text().contains("discovery document"), "{}", r.text());
    assert!(r.text().contains(&issuer), "{}", r.text());
    let r = reg.http("GET", "/login/sso/callback?code=c&state=s", &[], b"");
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("expired or was already used"),
        "{}",
        r.text()
    );
    let r = reg.http(
        "GET",
        "/login/sso/callback?code=c&state=s",
        &[("Cookie", "gantry_sso_state=s")],
        b"",
    );
    assert_eq!(r.status, 400, "a state never handed out is unknown");
    let r = reg.http("GET", "/login/sso/callback?error=access_denied", &[], b"");
    assert!(
        r.text().contains("refused the sign-in: access_denied"),
        "{}",
        r.text()
    );
}

fn single_sign_on_accounts_are_found_by_issuer_and_subject(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    reg.user("jane");
    let store = reg.server.as_ref().unwrap().app.store.clone();
    let sso = |subject: &str, login: &str, admin: Option<bool>| {
        reg.rt
            .block_on(store.oidc_user(subject, login, admin))
            .unwrap()
    };
    // `jane` is a local account: the provider's jane gets the next free login.
    let first = sso("https://idp.example sub-1", "jane", Some(true));
    assert_eq!(first.login, "jane-2");
    let admin = |login: &str| {
        reg.rt
            .block_on(store.account(login))
            .unwrap()
            .unwrap()
            .is_admin
    };
    assert!(admin("jane-2"));
    // Later sign-ins find the account by subject, whatever the claim says now; the admin flag
    // follows the group claim each time.
    let again = sso("https://idp.example sub-1", "jane-renamed", Some(false));
    assert_eq!((again.id, again.login.as_str()), (first.id, "jane-2"));
    assert!(!admin("jane-2"));
    sso("https://idp.example sub-1", "x", None);
    assert!(
        !admin("jane-2"),
        "no admin group configured: the flag stays"
    );
    assert_eq!(
        sso("https://idp.example sub-2", "jane", None).login,
        "jane-3"
    );
    assert_eq!(
        sso("https://other.example sub-1", "jane", None).login,
        "jane-4"
    );
}

fn administrators_manage_the_owners_of_every_crate(backend: Backend) {
    let reg = TestRegistry::start(backend, false);
    let alice = reg.token("alice");
    assert_eq!(
        reg.publish(&alice, &publish_body("orphan", "0.1.0")).status,
        200
    );
    let out = admin(&reg.storage, &["user", "add", "root", "--admin"]);
    assert!(out.contains("created administrator `root`"), "{out}");
    // `user password` reads the first line of standard input.
    let mut child = reg
        .storage
        .command(env!("CARGO_BIN_EXE_gantry-registry"))
        .args(["user", "password", "root"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"root-password\n").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    with_password(&reg, "mallory", "mallory-password");

    let mallory = sign_in(reg.addr, "mallory", "mallory-password").unwrap();
    assert_eq!(
        reg.http("GET", "/crates/orphan/owners", &[("Cookie", &mallory)], b"")
            .status,
        403
    );
    let root = sign_in(reg.addr, "root", "root-password").unwrap();
    let page = reg.http("GET", "/crates/orphan/owners", &[("Cookie", &root)], b"");
    assert_eq!(page.status, 200);
    let csrf = csrf_of(&page.text());
    let r = form_post(
        reg.addr,
        "/crates/orphan/owners",
        &root,
        &format!("csrf={csrf}&action=invite&login=mallory"),
    );
    assert_eq!(r.status, 200);
    assert!(
        r.text()
            .contains("user mallory has been invited to be an owner of crate orphan")
    );
    // mallory accepts on her invitations page and may then publish.
    let inv = reg
        .http("GET", "/me/invitations", &[("Cookie", &mallory)], b"")
        .text();
    let csrf = csrf_of(&inv);
    let id = reg.rt.block_on(
        reg.server
            .as_ref()
            .unwrap()
            .app
            .store
            .crate_by_name("orphan"),
    );
    let id = id.unwrap().unwrap().id;
    let r = form_post(
        reg.addr,
        "/me/invitations",
        &mallory,
        &format!("csrf={csrf}&crate_id={id}&accept=true"),
    );
    assert!(
        r.text().contains("you are now an owner of orphan"),
        "{}",
        r.text()
    );
    let token = reg.token_with("mallory", None, &[], None);
    assert_eq!(
        reg.publish(&token, &publish_body("orphan", "0.2.0")).status,
        200
    );
}

backend_tests!(
    administrators_manage_the_owners_of_every_crate,
    single_sign_on_accounts_are_found_by_issuer_and_subject,
    single_sign_on_errors_are_clear,
    pages_show_crates_and_never_their_scripts,
    sign_in_is_csrf_checked_throttled_and_shared_by_instances,
    tokens_made_on_me_publish_until_revoked,
    owner_invitations_are_answered_and_expire,
    downloads_are_counted_in_batches_by_every_instance,
);
