//! The command line, as SPEC's "CLI" section lists it.

use clap::{Args, Parser, Subcommand};
use edgeauth_core::scope::Role;

const AFTER_HELP: &str = "\
Environment:
  EDGEAUTH_TOKEN       a credential to use instead of the profile's (CI)
  EDGEAUTH_URL         the server, instead of the profile's
  EDGEAUTH_PROFILE     the profile, instead of the active one
  EDGEAUTH_CONFIG_DIR  where config.toml lives (default: $XDG_CONFIG_HOME/edgeauth or ~/.config/edgeauth)

Exit codes: 0 success, 1 failure, 2 bad usage, 4 not signed in or credential refused.";

/// Sign in to an edgeauth server, manage API keys and tenant members, and send signed requests.
#[derive(Debug, Parser)]
#[command(name = "edgeauth", version, propagate_version = true, after_help = AFTER_HELP)]
pub struct Cli {
    /// The profile to use (default: EDGEAUTH_PROFILE, then `config set-profile`, then "default")
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// The server (default: EDGEAUTH_URL, then the profile's, then http://127.0.0.1:8787)
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,

    /// Print JSON (the API's answer) instead of text
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in and out, and see who is signed in
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Create, list and revoke API keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// See and change who holds which role in a tenant
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Send a request through the server with the credential, signed
    Request(RequestArgs),
    /// Choose and list profiles
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Create an account (prompts for what is missing at a terminal)
    Register(RegisterArgs),
    /// Sign in: in the browser (device login), with email and password, or with an API key
    Login(LoginArgs),
    /// Who is signed in, on which profile and server, until when, and from where
    Status,
    /// The server's view of the credential (GET /v1/auth/whoami)
    Whoami,
    /// The stored credential's decoded claims (or an API key's prefix), never the credential itself
    TokenInfo,
    /// Get a new access token with the stored refresh token now
    Refresh,
    /// End the session on the server and forget the credential here
    Logout,
    /// Revoke the credential on the server (a session, or the API key itself) and forget it here
    Revoke,
    /// Email a password reset link to an account's address (it works once, for 15 minutes)
    ResetPassword(ResetPasswordArgs),
}

#[derive(Debug, Args)]
pub struct ResetPasswordArgs {
    /// The account's email (asked for at a terminal when missing)
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The password (visible to other local users in the process list: prefer a prompt or --password-stdin)
    #[arg(long, value_name = "PASSWORD", conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from the first line of standard input
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Device login: approve this terminal in the browser (the default at a terminal)
    #[arg(long, conflicts_with_all = ["email", "token", "with_token"])]
    pub device: bool,
    /// Print the device login URL and code without opening a browser
    #[arg(long)]
    pub no_browser: bool,
    /// Sign in with email and password
    #[arg(long, value_name = "EMAIL", conflicts_with_all = ["token", "with_token"])]
    pub email: Option<String>,
    /// The password (visible to other local users in the process list: prefer a prompt or --password-stdin)
    #[arg(
        long,
        value_name = "PASSWORD",
        requires = "email",
        conflicts_with = "password_stdin"
    )]
    pub password: Option<String>,
    /// Read the password from the first line of standard input
    #[arg(long, requires = "email")]
    pub password_stdin: bool,
    /// Sign in with an API key
    #[arg(long, value_name = "KEY", conflicts_with = "with_token")]
    pub token: Option<String>,
    /// Read the API key from standard input
    #[arg(long)]
    pub with_token: bool,
    /// Keep the credential in the OS keyring instead of the config file
    #[arg(long)]
    pub use_keyring: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key; the key is printed once
    Create(CreateKeyArgs),
    /// List API keys (never the keys themselves)
    List,
    /// Revoke an API key: it fails from then on
    Revoke {
        /// The key's id (see `edgeauth keys list`)
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateKeyArgs {
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// A scope such as scans:read (repeat for more)
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    pub scopes: Vec<String>,
    /// Restrict the key to this resource (repeat for more; default: all resources)
    #[arg(long = "resource", value_name = "RESOURCE")]
    pub resources: Vec<String>,
    /// Let the key act in this tenant with your role there (repeat for more)
    #[arg(long = "tenant", value_name = "TENANT")]
    pub tenants: Vec<String>,
    /// When the key stops working: a duration (90m, 12h, 30d, 2w) or an RFC 3339 time
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
    /// Only accept the key from this address or CIDR range (repeat for more)
    #[arg(long = "allow-ip", value_name = "CIDR")]
    pub allowed_ips: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// List a tenant's members, and (as its admin) change their roles
    #[command(subcommand)]
    Members(MembersCommand),
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// List the tenant's members: email, name, role (needs a role in the tenant)
    List {
        /// The tenant's id
        tenant: String,
    },
    /// Give a user a role in the tenant, or change it (needs the admin role)
    Set(SetMemberArgs),
    /// Take a member out of the tenant (needs the admin role)
    Remove {
        /// The tenant's id
        tenant: String,
        /// The member's email
        #[arg(long, value_name = "EMAIL")]
        email: String,
    },
}

#[derive(Debug, Args)]
pub struct SetMemberArgs {
    /// The tenant's id
    pub tenant: String,
    /// The user's email (they must have an account)
    #[arg(long, value_name = "EMAIL")]
    pub email: String,
    /// viewer (reads), editor (reads and writes) or admin (everything, and the members)
    #[arg(long, value_name = "ROLE", value_parser = parse_role)]
    pub role: Role,
}

/// `--role`: one of core's role words, so a typo is bad usage (exit 2), not a request.
fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("{s:?} is not a role: use viewer, editor or admin"))
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// GET, POST, PUT, PATCH, DELETE...
    pub method: String,
    /// The path and query, e.g. /api/me or '/api/drifts?status=open'
    pub path: String,
    /// The body: text, @FILE, or - for standard input
    #[arg(long, short = 'd', value_name = "TEXT|@FILE|-")]
    pub data: Option<String>,
    /// A header to add (repeat for more)
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Do not sign the request (it still carries the credential)
    #[arg(long)]
    pub no_sign: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Make NAME the profile used when neither --profile nor EDGEAUTH_PROFILE says otherwise
    SetProfile { name: String },
    /// List the profiles: server, who is signed in, and which one is active
    List,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("edgeauth").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_spec_command_parses() {
        for args in [
            &[
                "auth",
                "register",
                "--email",
                "e@x",
                "--name",
                "N",
                "--password",
                "p",
            ][..],
            &[
                "auth",
                "register",
                "--email",
                "e@x",
                "--name",
                "N",
                "--password-stdin",
            ],
            &["auth", "login"],
            &["auth", "login", "--no-browser"],
            &["auth", "login", "--device", "--no-browser"],
            &["auth", "login", "--email", "e@x", "--password", "p"],
            &["auth", "login", "--email", "e@x", "--password-stdin"],
            &["auth", "login", "--token", "ea_live_x"],
            &["auth", "login", "--with-token", "--use-keyring"],
            &["auth", "status", "--json"],
            &["auth", "whoami", "--json"],
            &["auth", "token-info", "--json"],
            &["auth", "refresh"],
            &["auth", "logout"],
            &["auth", "revoke"],
            &["auth", "reset-password", "--email", "e@x"],
            &[
                "keys",
                "create",
                "--name",
                "CI",
                "--scope",
                "a:b",
                "--scope",
                "c:d",
                "--resource",
                "r",
                "--tenant",
                "t",
                "--expires",
                "30d",
                "--allow-ip",
                "10.0.0.0/8",
                "--json",
            ],
            &["keys", "list", "--json"],
            &["keys", "revoke", "key_1"],
            &["tenants", "members", "list", "acme", "--json"],
            &[
                "tenants",
                "members",
                "set",
                "acme",
                "--email",
                "dev@acme.test",
                "--role",
                "editor",
                "--json",
            ],
            &[
                "tenants",
                "members",
                "remove",
                "acme",
                "--email",
                "dev@acme.test",
            ],
            &[
                "request",
                "POST",
                "/api/signed/x",
                "--data",
                "{\"a\":1}",
                "-H",
                "x-a: 1",
                "--no-sign",
            ],
            &[
                "request", "GET", "/api/me", "--data", "@f", "-H", "a: b", "-H", "c: d",
            ],
            &["config", "set-profile", "ci"],
            &["config", "list"],
            &[
                "--profile",
                "ci",
                "--url",
                "http://x:1",
                "--json",
                "auth",
                "status",
            ],
            &["auth", "status", "--profile", "ci"],
        ] {
            assert!(
                parse(args).is_ok(),
                "{args:?}: {}",
                parse(args).unwrap_err()
            );
        }
    }

    #[test]
    fn member_roles_are_cores_words() {
        let cli = parse(&[
            "tenants", "members", "set", "acme", "--email", "e@x", "--role", "viewer",
        ])
        .unwrap();
        let Command::Tenants(TenantsCommand::Members(MembersCommand::Set(args))) = cli.command
        else {
            panic!("not members set: {:?}", cli.command);
        };
        assert_eq!(
            (args.tenant.as_str(), args.email.as_str(), args.role),
            ("acme", "e@x", Role::Viewer)
        );
        let e = parse(&[
            "tenants", "members", "set", "acme", "--email", "e@x", "--role", "owner",
        ])
        .unwrap_err();
        assert!(e.to_string().contains("viewer, editor or admin"), "{e}");
    }

    #[test]
    fn bad_usage_is_exit_code_2() {
        for args in [
            &["nope"][..],
            &["auth", "login", "--bogus"],
            &["auth", "login", "--password", "p"],
            &["auth", "login", "--token", "k", "--with-token"],
            &["auth", "login", "--device", "--email", "e"],
            &[
                "auth",
                "login",
                "--email",
                "e",
                "--password",
                "p",
                "--password-stdin",
            ],
            &["keys", "create", "--name", "x"],
            &["keys", "revoke"],
            &["tenants", "members", "list"],
            &["tenants", "members", "set", "acme", "--email", "e@x"],
            &[
                "tenants", "members", "set", "acme", "--email", "e@x", "--role", "owner",
            ],
            &[
                "tenants", "members", "set", "acme", "--email", "e@x", "--role", "Admin",
            ],
            &["tenants", "members", "remove", "acme"],
            &["request", "GET"],
            &[],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
        assert_eq!(parse(&["--help"]).unwrap_err().exit_code(), 0);
        assert_eq!(parse(&["--version"]).unwrap_err().exit_code(), 0);
    }
}
