//! The `edgeauth` command-line client: sign in to an edgeauth worker, manage API keys and tenant members, send signed requests.
#![forbid(unsafe_code)]

mod api;
mod app;
mod args;
mod browser;
mod commands;
mod config;
mod device;
mod failure;
mod freshness;
mod output;
mod prompt;
mod settings;
mod vault;

use clap::Parser;

use crate::app::App;
use crate::args::{Cli, Command};
use crate::failure::{exit, Failure};

fn run(cli: Cli) -> Result<(), Failure> {
    let mut app = App::load(&cli)?;
    match cli.command {
        Command::Auth(c) => commands::auth::run(&mut app, c),
        Command::Keys(c) => commands::keys::run(&mut app, c),
        Command::Tenants(c) => commands::tenants::run(&mut app, c),
        Command::Request(args) => commands::request::run(&mut app, args),
        Command::Config(c) => commands::profiles::run(&mut app, c),
    }
}

fn main() {
    // clap exits 2 on bad usage and 0 for --help and --version.
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(()) => exit::OK,
        Err(failure) => {
            app::note(&format!("error: {failure}"));
            failure.exit_code()
        }
    };
    std::process::exit(code);
}
