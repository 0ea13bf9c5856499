//! `edgeauth config ...`: choose the active profile, list the profiles.

use crate::app::{emit, emit_json, note, App};
use crate::args::ConfigCommand;
use crate::config::valid_profile_name;
use crate::failure::Failure;
use crate::output;
use crate::settings::DEFAULT_URL;

pub fn run(app: &mut App, command: ConfigCommand) -> Result<(), Failure> {
    match command {
        ConfigCommand::SetProfile { name } => set_profile(app, &name),
        ConfigCommand::List => list(app),
    }
}

fn set_profile(app: &mut App, name: &str) -> Result<(), Failure> {
    if !valid_profile_name(name) {
        return Err(Failure::Usage(format!(
            "profile name {name:?} is not valid: use letters, digits, '-', '_' or '.' (at most 64)"
        )));
    }
    let existed = app.doc.profiles.contains_key(name);
    let wanted = name.to_string();
    app.doc = app.store.update(|doc| {
        doc.active_profile = Some(wanted.clone());
        doc.profile_mut(&wanted);
        Ok(doc.clone())
    })?;
    if !app.json {
        emit(&format!("Profile {name} is now the active profile."));
        if !existed {
            emit(&format!("It is new: run `edgeauth auth login` (add --url URL for a server other than {DEFAULT_URL})."));
        }
    }
    if let Some(p) = &app.env.profile {
        note(&format!(
            "Note: EDGEAUTH_PROFILE={p} is set in this environment and takes precedence."
        ));
    }
    Ok(())
}

fn list(app: &mut App) -> Result<(), Failure> {
    let active = app.target.profile.clone();
    if app.json {
        emit_json(&output::config_list_json(&app.doc, &active));
    } else {
        emit(&output::config_list_text(&app.doc, &active, DEFAULT_URL));
    }
    Ok(())
}
