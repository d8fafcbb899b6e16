//! `numbat client add|list|show|update|remove|hash-secret` (issue 4 item 2): a client of a
//! running server's clients admin API (`/admin/clients`, see
//! `numbat_authorization_server::http::admin_clients`). `hash-secret` works offline: it prints
//! the argon2 hash a `[[clients]]` entry of a `client_secret_*` client needs.

use crate::bindings_cli::AdminArgs;
use clap::Subcommand;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum ClientAction {
    /// Register a client from a JSON metadata file (`-` for stdin). A generated client secret
    /// is printed once.
    Add {
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List the clients (configuration and store).
    List {
        /// Print the JSON answer instead of one line per client.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show one client's metadata.
    Show {
        client_id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Replace a store client's metadata from a JSON file (`-` for stdin).
    Update {
        client_id: String,
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Remove a store client (configuration clients are read-only).
    Remove {
        client_id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Print the argon2 hash of a client secret read from stdin (or of a generated one, with
    /// --generate), for `client_secret_hash` in `[[clients]]`.
    HashSecret {
        #[arg(long)]
        generate: bool,
    },
}

fn read_file(file: &PathBuf) -> Result<Vec<u8>, String> {
    if file.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).map_err(|e| format!("stdin: {e}"))?;
        return Ok(b);
    }
    std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))
}

/// Client ids are URL-safe by construction; anything else is refused before it reaches a URL.
fn path_id(id: &str) -> Result<&str, String> {
    if numbat_authorization_server::registry::client_id_ok(id) {
        Ok(id)
    } else {
        Err(format!("{id:?} is not a client id (A-Z a-z 0-9 . _ ~ -, at most 128)"))
    }
}

async fn send(
    admin: &AdminArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<(u16, Value), String> {
    let server = admin.server.trim_end_matches('/');
    let mut rb = reqwest::Client::new().request(method, format!("{server}{path}")).bearer_auth(&admin.admin_token);
    if let Some(b) = body {
        rb = rb.header(reqwest::header::CONTENT_TYPE, "application/json").body(b);
    }
    let r = rb.send().await.map_err(|e| format!("is numbat running at {server}? {e}"))?;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

fn describe(status: u16, body: &Value) -> String {
    match (body.get("error").and_then(Value::as_str), body.get("error_description").and_then(Value::as_str)) {
        (Some(e), Some(d)) => format!("{status} {e}: {d}"),
        (Some(e), None) => format!("{status} {e}"),
        _ => format!("HTTP {status}"),
    }
}

fn print_client(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    if v.get("client_secret").is_some() {
        eprintln!("numbat client: the client_secret above is shown only this once; numbat keeps only its hash");
    }
}

pub async fn run(action: ClientAction) -> Result<(), String> {
    use reqwest::Method;
    match action {
        ClientAction::Add { file, admin } => {
            let (status, v) = send(&admin, Method::POST, "/admin/clients", Some(read_file(&file)?)).await?;
            if status != 201 {
                return Err(describe(status, &v));
            }
            print_client(&v);
        }
        ClientAction::Update { client_id, file, admin } => {
            let path = format!("/admin/clients/{}", path_id(&client_id)?);
            let (status, v) = send(&admin, Method::PUT, &path, Some(read_file(&file)?)).await?;
            if status != 200 {
                return Err(describe(status, &v));
            }
            print_client(&v);
        }
        ClientAction::List { json, admin } => {
            let (status, v) = send(&admin, Method::GET, "/admin/clients", None).await?;
            if status != 200 {
                return Err(describe(status, &v));
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return Ok(());
            }
            let empty = vec![];
            for c in v["clients"].as_array().unwrap_or(&empty) {
                let s = |k: &str| c[k].as_str().unwrap_or("-").to_owned();
                let list = |k: &str| {
                    c[k].as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                        .unwrap_or_default()
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    s("client_id"),
                    s("source"),
                    s("token_endpoint_auth_method"),
                    list("grant_types")
                );
            }
        }
        ClientAction::Show { client_id, admin } => {
            let path = format!("/admin/clients/{}", path_id(&client_id)?);
            let (status, v) = send(&admin, Method::GET, &path, None).await?;
            if status != 200 {
                return Err(describe(status, &v));
            }
            print_client(&v);
        }
        ClientAction::Remove { client_id, admin } => {
            let path = format!("/admin/clients/{}", path_id(&client_id)?);
            let (status, v) = send(&admin, Method::DELETE, &path, None).await?;
            if status != 204 {
                return Err(describe(status, &v));
            }
            println!("removed {client_id}");
        }
        ClientAction::HashSecret { generate } => {
            use numbat_authorization_server::client_secret;
            let secret = if generate {
                let s = client_secret::generate();
                println!("client_secret = \"{s}\"   # give this to the client; numbat keeps only the hash");
                s
            } else {
                let mut s = String::new();
                std::io::stdin().read_line(&mut s).map_err(|e| format!("stdin: {e}"))?;
                s.trim_end_matches(['\r', '\n']).to_owned()
            };
            client_secret::check_secret(&secret)?;
            println!("client_secret_hash = \"{}\"", client_secret::hash(&secret)?);
        }
    }
    Ok(())
}
