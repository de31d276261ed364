//! `cargo run -p authkit-demo [-- --database-url URL] [--listen ADDR] [--secure-cookies]`:
//! the demo service on an embedded SQLite file by default, at http://127.0.0.1:3000.

use std::net::SocketAddr;
use std::process::ExitCode;

use authkit_demo::DemoOptions;

const USAGE: &str = "usage: authkit-demo [--database-url URL] [--listen ADDR] [--secure-cookies] [--session-cache SECS]
  --database-url  sqlite://file.db (default sqlite://authkit-demo.db), postgres://… or mysql://…
  --listen        the address to serve on (default 127.0.0.1:3000)
  --secure-cookies  a Secure, __Host- session cookie (behind TLS only)
  --session-cache   answer a verified session from memory for SECS seconds (0 to 60, default 0)";

fn main() -> ExitCode {
    let (options, listen) = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(options, listen))
}

async fn run(options: DemoOptions, listen: SocketAddr) -> ExitCode {
    let app = match authkit_demo::app(&options).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cannot open the store at {}: {e}", options.database_url);
            return ExitCode::FAILURE;
        }
    };
    println!(
        "authkit demo on http://{listen} (store: {})",
        options.database_url
    );
    match authkit_demo::serve(app, listen).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot serve on {listen}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(DemoOptions, SocketAddr), String> {
    let mut options = DemoOptions::default();
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 3000));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--database-url" => {
                options.database_url = args.next().ok_or("--database-url needs a URL")?
            }
            "--listen" => {
                let value = args.next().ok_or("--listen needs an address")?;
                listen = value
                    .parse()
                    .map_err(|e| format!("bad --listen {value}: {e}"))?;
            }
            "--secure-cookies" => options.secure_cookies = true,
            "--session-cache" => {
                let value = args.next().ok_or("--session-cache needs seconds")?;
                let secs: i64 = value
                    .parse()
                    .map_err(|e| format!("bad --session-cache {value}: {e}"))?;
                options.session_cache = time::Duration::seconds(secs);
            }
            "-h" | "--help" => return Err("authkit demo".into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok((options, listen))
}
