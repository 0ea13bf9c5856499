//! Whether a browser can be opened here, and opening it.

/// Whether this session can show a browser: on Linux and the BSDs, an X11 or
/// Wayland display; macOS and Windows always have one unless this is an SSH login.
pub fn has_display(get: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| get(name).is_some_and(|v| !v.is_empty());
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        !set("SSH_CONNECTION")
    } else {
        set("DISPLAY") || set("WAYLAND_DISPLAY")
    }
}

/// Opens `url` in the default browser, without waiting for it.
pub fn open(url: &str) -> Result<(), String> {
    open::that_detached(url).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_display_no_browser() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        if cfg!(any(target_os = "macos", target_os = "windows")) {
            assert!(has_display(env(&[])));
            assert!(!has_display(env(&[(
                "SSH_CONNECTION",
                "1.2.3.4 1 5.6.7.8 22"
            )])));
        } else {
            assert!(!has_display(env(&[])));
            assert!(!has_display(env(&[("DISPLAY", "")])));
            assert!(has_display(env(&[("DISPLAY", ":0")])));
            assert!(has_display(env(&[("WAYLAND_DISPLAY", "wayland-0")])));
        }
    }
}
