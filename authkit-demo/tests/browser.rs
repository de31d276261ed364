//! The demo driven by a real browser: headless Chromium through ChromeDriver (Debian's
//! `chromium` and `chromium-driver`; `.ci/browser` installs them), speaking WebDriver
//! over HTTP. Sign up, verify the email from the outbox, log out, log in, revoke another
//! session, create a key and call the API with it, then check the session cookie's flags.
//!
//! The binaries are `AUTHKIT_CHROMEDRIVER` (default `/usr/bin/chromedriver`) and
//! `AUTHKIT_CHROMIUM` (default `/usr/bin/chromium`); when either is missing the test
//! fails naming them, it never passes without a browser.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use authkit_demo::DemoOptions;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const WAIT: Duration = Duration::from_secs(15);

fn binary(var: &str, default: &str) -> String {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: install Debian's chromium and chromium-driver (.ci/browser does), \
         or set {var}"
    );
    path
}

/// A WebDriver session on a ChromeDriver of its own.
struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: Child,
}

impl Browser {
    async fn start() -> Browser {
        let chromium = binary("AUTHKIT_CHROMIUM", "/usr/bin/chromium");
        let driver_path = binary("AUTHKIT_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = free_port();
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        wait_until_ready(&http, &root).await;
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1200,900"]
            }
        }}});
        let created = call(
            &http,
            "POST",
            &format!("{root}/session"),
            Some(capabilities),
        )
        .await;
        let id = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Browser {
            http,
            session: format!("{root}/session/{id}"),
            _driver: driver,
        }
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(&self.http, method, &format!("{}{path}", self.session), body).await
    }

    async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The elements matching `css`, now.
    async fn all(&self, css: &str) -> Vec<String> {
        let found = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
            .collect()
    }

    /// The first element matching `css`, waiting for it to appear.
    async fn find(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(first) = self.all(css).await.into_iter().next() {
                return first;
            }
            assert!(start.elapsed() < WAIT, "no {css} on {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        let body = json!({ "text": text });
        self.cmd("POST", &format!("/element/{element}/value"), Some(body))
            .await;
    }

    async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        let text = self
            .cmd("GET", &format!("/element/{element}/text"), None)
            .await;
        text.as_str().unwrap().to_owned()
    }

    /// Waits until `css` matches `n` elements.
    async fn wait_count(&self, css: &str, n: usize) {
        let start = Instant::now();
        while self.all(css).await.len() != n {
            assert!(start.elapsed() < WAIT, "{css} never numbered {n}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's path is `path`.
    async fn wait_path(&self, base: &str, path: &str) {
        let start = Instant::now();
        while self.url().await != format!("{base}{path}") {
            assert!(
                start.elapsed() < WAIT,
                "never reached {path}: at {}",
                self.url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

async fn call(http: &reqwest::Client, method: &str, url: &str, body: Option<Value>) -> Value {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status();
    let value: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(status.is_success(), "WebDriver {url}: {status} {value}");
    value["value"].clone()
}

async fn wait_until_ready(http: &reqwest::Client, root: &str) {
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{root}/status")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(start.elapsed() < WAIT, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The demo on a fresh SQLite file, served on a free loopback port.
async fn demo() -> String {
    let file = std::env::temp_dir().join(format!("authkit-demo-browser-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let options = DemoOptions {
        database_url: format!("sqlite://{}", file.display()),
        ..DemoOptions::default()
    };
    let app = authkit_demo::app(&options).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(authkit_demo::serve_on(app, listener));
    format!("http://{addr}")
}

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_to_api_call_in_a_real_browser() {
    let base = demo().await;
    let browser = Browser::start().await;

    browser.goto(&format!("{base}/signup")).await;
    browser
        .type_into("#signup-form input[name=email]", EMAIL)
        .await;
    browser
        .type_into("#signup-form input[name=password]", PASSWORD)
        .await;
    browser.click("#signup-form button").await;
    browser.wait_path(&base, "/outbox").await;
    browser.click(".verify-link").await;
    browser.click("#verify-form button").await;
    browser.wait_path(&base, "/").await;
    browser.find("#verified").await;
    check_cookie(&browser).await;

    browser.click("#logout").await;
    browser.find("a[href='/signup']").await;
    browser.goto(&format!("{base}/login")).await;
    browser
        .type_into("#login-form input[name=email]", EMAIL)
        .await;
    browser
        .type_into("#login-form input[name=password]", PASSWORD)
        .await;
    browser.click("#login-form button").await;
    browser.find("#email").await;
    assert_eq!(browser.text("#email").await, EMAIL);

    let elsewhere = log_in_elsewhere(&base).await;
    assert_eq!(sessions_status(&base, &elsewhere).await, 200);
    browser.goto(&format!("{base}/sessions")).await;
    browser.wait_count("tr.session", 2).await;
    browser.click(".revoke-session").await;
    browser.wait_count("tr.session", 1).await;
    browser.find(".current").await;
    assert_eq!(
        sessions_status(&base, &elsewhere).await,
        401,
        "the other session lives"
    );

    browser.goto(&format!("{base}/keys")).await;
    browser.type_into("#key-form input[name=name]", "ci").await;
    browser.click("#key-form button").await;
    let start = Instant::now();
    let key = loop {
        let shown = browser.text("#new-key").await;
        if !shown.is_empty() {
            break shown;
        }
        assert!(start.elapsed() < WAIT, "no key shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(key.starts_with("sk_live_"), "{key}");

    browser.goto(&format!("{base}/console")).await;
    browser
        .type_into("#console-form input[name=key]", &key)
        .await;
    browser.click("#console-form button").await;
    let start = Instant::now();
    let answer = loop {
        let shown = browser.text("#api-result").await;
        if !shown.is_empty() {
            break shown;
        }
        assert!(start.elapsed() < WAIT, "no API answer shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(answer.starts_with("200 "), "{answer}");
    assert!(answer.contains("\"hello\":\"ci\""), "{answer}");
    browser.quit().await;
}

/// The session cookie as the browser stored it: HttpOnly, SameSite=Lax, Path=/, host-only,
/// and not Secure (the demo serves plain HTTP on loopback).
async fn check_cookie(browser: &Browser) {
    let cookies = browser.cmd("GET", "/cookie", None).await;
    let cookie = cookies
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "authkit_session")
        .unwrap_or_else(|| panic!("no session cookie among {cookies}"));
    assert_eq!(cookie["httpOnly"], true, "{cookie}");
    assert_eq!(cookie["sameSite"], "Lax", "{cookie}");
    assert_eq!(cookie["path"], "/", "{cookie}");
    assert_eq!(cookie["secure"], false, "{cookie}");
    assert!(
        cookie["value"].as_str().unwrap().starts_with("ses_"),
        "{cookie}"
    );
    let domain = cookie["domain"].as_str().unwrap_or("");
    assert!(!domain.starts_with('.'), "a domain cookie: {cookie}");
}

/// A second session for the same user, from outside the browser: its cookie.
async fn log_in_elsewhere(base: &str) -> String {
    let body = json!({ "email": EMAIL, "password": PASSWORD }).to_string();
    let response = reqwest::Client::new()
        .post(format!("{base}/auth/login"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set = response.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

async fn sessions_status(base: &str, cookie: &str) -> u16 {
    let response = reqwest::Client::new()
        .get(format!("{base}/auth/sessions"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}
