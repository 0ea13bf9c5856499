//! The config file: where it lives, its shape, and how it is read and written
//! (0700 folder, 0600 file, atomic replace under a lock, never overwritten when it cannot be parsed).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use edgeauth_core::secret::Secret;
use serde::{Deserialize, Serialize, Serializer};

use crate::failure::Failure;

/// The file's name inside the config folder.
pub const FILE_NAME: &str = "config.toml";
/// The profile used when nothing names another.
pub const DEFAULT_PROFILE: &str = "default";

const HEADER: &str = "\
# edgeauth CLI settings and credentials, written by `edgeauth`.
# It may hold live credentials: keep it private (mode 0600) and out of source control.
";

/// The environment variables that place the config folder.
#[derive(Clone, Debug, Default)]
pub struct DirEnv {
    pub edgeauth_config_dir: Option<String>,
    pub xdg_config_home: Option<String>,
    pub home: Option<String>,
}

impl DirEnv {
    /// Reads them from the process environment (empty counts as unset).
    pub fn from_process() -> DirEnv {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        DirEnv {
            edgeauth_config_dir: get("EDGEAUTH_CONFIG_DIR"),
            xdg_config_home: get("XDG_CONFIG_HOME"),
            home: get("HOME").or_else(|| get("USERPROFILE")),
        }
    }
}

/// `$EDGEAUTH_CONFIG_DIR`, else `$XDG_CONFIG_HOME/edgeauth`, else `~/.config/edgeauth`.
/// A relative `XDG_CONFIG_HOME` is ignored, as the XDG spec says.
pub fn config_dir(env: &DirEnv) -> Result<PathBuf, Failure> {
    if let Some(dir) = &env.edgeauth_config_dir {
        return Ok(PathBuf::from(dir));
    }
    if let Some(xdg) = env
        .xdg_config_home
        .as_deref()
        .filter(|x| Path::new(x).is_absolute())
    {
        return Ok(Path::new(xdg).join("edgeauth"));
    }
    match &env.home {
        Some(home) => Ok(Path::new(home).join(".config").join("edgeauth")),
        None => Err(Failure::Other(
            "cannot tell where the config folder is: set EDGEAUTH_CONFIG_DIR or HOME".into(),
        )),
    }
}

/// What kind of credential a profile holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// An access token with its refresh token (password or device login).
    Session,
    /// An API key (`auth login --token` / `--with-token`).
    ApiKey,
    /// A bare JWT given with `--token` (an external IdP's token): used until it expires.
    Token,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::ApiKey => "api_key",
            CredentialKind::Token => "token",
        }
    }
}

fn expose<S: Serializer>(secret: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        // The config file is the one place a credential is written in the clear,
        // and only when it is the credential itself (never a password).
        Some(v) => s.serialize_some(v.expose()),
        None => s.serialize_none(),
    }
}

/// The credential of one profile. The secrets are here unless `keyring` is
/// true, in which case the OS keyring holds them and this table only says so.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredCredential {
    pub kind: CredentialKind,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keyring: bool,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose"
    )]
    pub token: Option<Secret>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "expose"
    )]
    pub refresh_token: Option<Secret>,
    /// RFC 3339, as the API gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<String>,
    /// Who, as last seen (for `config list` without a network call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// For an API key: its id, as whoami gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Keys written by a newer edgeauth, kept as they are.
    #[serde(flatten)]
    pub extra: toml::Table,
}

/// One profile: a server and the credential for it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(flatten)]
    pub extra: toml::Table,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<StoredCredential>,
}

/// The whole file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ConfigDoc {
    /// Set by `config set-profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_profile: Option<String>,
    #[serde(flatten)]
    pub extra: toml::Table,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

impl ConfigDoc {
    /// Parses the file's text; errors name the line.
    pub fn parse(text: &str) -> Result<ConfigDoc, (Option<usize>, String)> {
        toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            (line, e.message().trim().to_string())
        })
    }

    /// The file's text.
    pub fn render(&self) -> Result<String, String> {
        toml::to_string(self)
            .map(|body| format!("{HEADER}\n{body}"))
            .map_err(|e| e.to_string())
    }

    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name)
    }

    pub fn profile_mut(&mut self, name: &str) -> &mut Profile {
        self.profiles.entry(name.to_string()).or_default()
    }
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Whether a profile name is usable as a TOML key without surprises and in a shell.
pub fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The config file on disk.
#[derive(Clone, Debug)]
pub struct ConfigStore {
    dir: PathBuf,
    path: PathBuf,
}

impl ConfigStore {
    pub fn new(dir: PathBuf) -> ConfigStore {
        let path = dir.join(FILE_NAME);
        ConfigStore { dir, path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read_error(&self, detail: String) -> Failure {
        Failure::Config {
            path: self.path.clone(),
            line: None,
            detail,
        }
    }

    /// Reads the file; a missing file is an empty config. An unreadable or
    /// malformed file is an error naming the file (and the line).
    pub fn load(&self) -> Result<ConfigDoc, Failure> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ConfigDoc::default()),
            Err(e) => return Err(self.read_error(format!("cannot be read: {e}"))),
        };
        self.check_readable_mode()?;
        let text =
            String::from_utf8(bytes).map_err(|_| self.read_error("is not UTF-8 text".into()))?;
        ConfigDoc::parse(&text).map_err(|(line, detail)| Failure::Config {
            path: self.path.clone(),
            line,
            detail: format!("is not valid: {detail}"),
        })
    }

    /// A file whose owner may not read it was made unreadable on purpose:
    /// refuse it even when the process could read it anyway (as root).
    #[cfg(unix)]
    fn check_readable_mode(&self) -> Result<(), Failure> {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&self.path)
            .map_err(|e| self.read_error(format!("cannot be read: {e}")))?
            .permissions()
            .mode();
        if mode & 0o400 == 0 {
            return Err(self.read_error(format!(
                "cannot be read: its mode {:04o} does not let its owner read it",
                mode & 0o7777
            )));
        }
        Ok(())
    }

    #[cfg(not(unix))]
    fn check_readable_mode(&self) -> Result<(), Failure> {
        Ok(())
    }

    fn write_error(&self, e: impl std::fmt::Display) -> Failure {
        Failure::ConfigWrite {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// Changes the file: under an exclusive lock, reads it afresh (so that
    /// another edgeauth's write in between is not lost), applies `change`,
    /// and replaces the file atomically. Nothing is written when the file
    /// cannot be read or parsed, or when `change` fails.
    pub fn update<R>(
        &self,
        change: impl FnOnce(&mut ConfigDoc) -> Result<R, Failure>,
    ) -> Result<R, Failure> {
        self.ensure_dir()?;
        let lock = open_private(&self.dir.join(format!("{FILE_NAME}.lock")))
            .map_err(|e| self.write_error(e))?;
        lock.lock().map_err(|e| self.write_error(e))?;
        let mut doc = self.load()?;
        let result = change(&mut doc)?;
        let text = doc.render().map_err(|e| self.write_error(e))?;
        self.replace(text.as_bytes())?;
        drop(lock);
        Ok(result)
    }

    fn ensure_dir(&self) -> Result<(), Failure> {
        let err = |e: io::Error| Failure::ConfigWrite {
            path: self.dir.clone(),
            detail: format!("cannot create or secure the config folder: {e}"),
        };
        create_private_dir(&self.dir).map_err(err)?;
        set_mode(&self.dir, 0o700).map_err(err)
    }

    /// Writes a temporary file beside the target (0600 from the start), syncs
    /// it, renames it over the target and syncs the folder: a crash leaves the
    /// old file or the new one, never half of either.
    fn replace(&self, bytes: &[u8]) -> Result<(), Failure> {
        let mut tmp = tempfile::Builder::new()
            .prefix(".config.toml.")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .map_err(|e| self.write_error(e))?;
        set_mode(tmp.path(), 0o600).map_err(|e| self.write_error(e))?;
        tmp.write_all(bytes).map_err(|e| self.write_error(e))?;
        tmp.as_file().sync_all().map_err(|e| self.write_error(e))?;
        tmp.persist(&self.path)
            .map_err(|e| self.write_error(e.error))?;
        set_mode(&self.path, 0o600).map_err(|e| self.write_error(e))?;
        sync_dir(&self.dir);
        Ok(())
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn open_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

/// Makes the rename durable; failure only weakens durability, not atomicity.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dir: Option<&str>, xdg: Option<&str>, home: Option<&str>) -> DirEnv {
        DirEnv {
            edgeauth_config_dir: dir.map(str::to_string),
            xdg_config_home: xdg.map(str::to_string),
            home: home.map(str::to_string),
        }
    }

    #[test]
    fn config_dir_precedence() {
        let d = |e: DirEnv| config_dir(&e).unwrap();
        assert_eq!(
            d(env(Some("/c"), Some("/x"), Some("/h"))),
            PathBuf::from("/c")
        );
        assert_eq!(
            d(env(None, Some("/x"), Some("/h"))),
            PathBuf::from("/x/edgeauth")
        );
        assert_eq!(
            d(env(None, Some("rel"), Some("/h"))),
            PathBuf::from("/h/.config/edgeauth")
        );
        assert_eq!(
            d(env(None, None, Some("/h"))),
            PathBuf::from("/h/.config/edgeauth")
        );
        assert!(config_dir(&env(None, None, None)).is_err());
    }

    const SAMPLE: &str = r#"
active_profile = "ci"
future_setting = 1

[profiles.default]
url = "http://127.0.0.1:8787"
color = "auto"

[profiles.default.credential]
kind = "session"
token = "aaa.bbb.ccc"
refresh_token = "ea_rt_xyz"
expires_at = "2026-01-01T00:00:00Z"

[profiles.ci]
url = "https://auth.example.com"
credential = { kind = "api_key", keyring = true, key_id = "key_1" }
"#;

    #[test]
    fn parses_profiles_and_keeps_unknown_keys_through_a_round_trip() {
        let doc = ConfigDoc::parse(SAMPLE).unwrap();
        assert_eq!(doc.active_profile.as_deref(), Some("ci"));
        let def = doc.profile("default").unwrap();
        let cred = def.credential.as_ref().unwrap();
        assert_eq!(cred.kind, CredentialKind::Session);
        assert_eq!(cred.token.as_ref().unwrap().expose(), "aaa.bbb.ccc");
        assert!(!cred.keyring);
        let ci = doc.profile("ci").unwrap().credential.as_ref().unwrap();
        assert!(ci.keyring && ci.token.is_none());

        let text = doc.render().unwrap();
        assert!(text.starts_with("# edgeauth CLI settings"));
        let again = ConfigDoc::parse(&text).unwrap();
        assert_eq!(
            again
                .extra
                .get("future_setting")
                .and_then(|v| v.as_integer()),
            Some(1)
        );
        let def = again.profile("default").unwrap();
        assert_eq!(
            def.extra.get("color").and_then(|v| v.as_str()),
            Some("auto")
        );
        assert_eq!(
            def.credential
                .as_ref()
                .unwrap()
                .refresh_token
                .as_ref()
                .unwrap()
                .expose(),
            "ea_rt_xyz"
        );
        assert!(!text.contains("keyring = false"), "{text}");
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let doc = ConfigDoc::parse(SAMPLE).unwrap();
        let dbg = format!("{doc:?}");
        assert!(
            !dbg.contains("aaa.bbb.ccc") && !dbg.contains("ea_rt_xyz"),
            "{dbg}"
        );
    }

    #[test]
    fn malformed_files_name_the_line() {
        let (line, msg) =
            ConfigDoc::parse("[profiles.default]\nurl = \"x\"\nthis is not toml\n").unwrap_err();
        assert_eq!(line, Some(3), "{msg}");
        let (line, _) = ConfigDoc::parse("active_profile = 3\n").unwrap_err();
        assert_eq!(line, Some(1));
        let (line, _) =
            ConfigDoc::parse("\n\n[profiles.a.credential]\nkind = \"password\"\n").unwrap_err();
        assert_eq!(line, Some(4));
    }

    #[test]
    fn profile_names() {
        for ok in ["default", "ci", "prod-eu.1", "a_b"] {
            assert!(valid_profile_name(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", "x]", &"a".repeat(65)] {
            assert!(!valid_profile_name(bad), "{bad}");
        }
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn writes_are_private_and_atomic() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("nested").join("edgeauth");
        let store = ConfigStore::new(dir.clone());
        assert!(store.load().unwrap().profiles.is_empty());
        store
            .update(|doc| {
                doc.profile_mut("default").url = Some("http://127.0.0.1:8787".into());
                Ok(())
            })
            .unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(store.path()), 0o600);

        // A folder made too open, and a file made too open, are tightened on the next write.
        set_mode(&dir, 0o755).unwrap();
        set_mode(store.path(), 0o644).unwrap();
        store
            .update(|doc| {
                doc.active_profile = Some("default".into());
                Ok(())
            })
            .unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(store.path()), 0o600);
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")),
            "{names:?}"
        );
        assert_eq!(
            store.load().unwrap().active_profile.as_deref(),
            Some("default")
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_broken_file_is_never_overwritten() {
        let root = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(root.path().to_path_buf());
        let broken = "[profiles.default]\nurl = \n";
        fs::write(store.path(), broken).unwrap();
        let err = store.update(|doc| {
            doc.active_profile = Some("x".into());
            Ok(())
        });
        match err {
            Err(Failure::Config { line: Some(2), .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(fs::read_to_string(store.path()).unwrap(), broken);

        fs::write(store.path(), "active_profile = \"a\"\n").unwrap();
        set_mode(store.path(), 0o000).unwrap();
        assert!(matches!(store.load(), Err(Failure::Config { .. })));
        assert!(store.update(|_| Ok(())).is_err());
        set_mode(store.path(), 0o600).unwrap();
        assert_eq!(
            fs::read_to_string(store.path()).unwrap(),
            "active_profile = \"a\"\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_failed_change_writes_nothing() {
        let root = tempfile::tempdir().unwrap();
        let store = ConfigStore::new(root.path().to_path_buf());
        let r: Result<(), _> = store.update(|doc| {
            doc.active_profile = Some("x".into());
            Err(Failure::Other("no".into()))
        });
        assert!(r.is_err());
        assert!(!store.path().exists());
    }
}
