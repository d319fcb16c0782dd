//! A throw-away HOME and a clean, offline environment for the processes under test.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

/// Temp dir layout (`root` is a fresh temp dir):
///
/// ```text
/// root/home                  HOME, current dir of every command
/// root/home/.config          XDG_CONFIG_HOME (gocred/config.toml = GOCRED_CONFIG, go/env = GOENV)
/// root/home/.cache           XDG_CACHE_HOME
/// root/home/.local/share     XDG_DATA_HOME
/// root/run                   XDG_RUNTIME_DIR (0700)
/// root/bin                   first on PATH; has git-credential-gocred -> the gocred binary
/// root/gomodcache            GOMODCACHE
/// ```
///
/// GOCACHE is shared by the whole test run (`$CARGO_TARGET_TMPDIR/gocred-test-cache/gocache`)
/// because a cold Go build cache costs seconds.
pub struct Sandbox {
    pub home: PathBuf,
    /// `$home/.config/gocred/config.toml`, also exported as `GOCRED_CONFIG`.
    pub config_path: PathBuf,
    root: PathBuf,
    /// Variables set with [`Sandbox::set_env`], on top of the sandbox's own.
    extra: Vec<(String, String)>,
    _dir: TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = super::temp_dir("gocred-sandbox-");
        let root = dir.path().to_path_buf();
        let home = root.join("home");
        for d in [
            home.join(".config/gocred"),
            home.join(".config/go"),
            home.join(".cache"),
            home.join(".local/share"),
            root.join("bin"),
            root.join("gomodcache"),
        ] {
            super::mkdir(&d);
        }
        super::mkdir_private(&root.join("run"));
        super::mkdir(&shared_gocache());
        #[cfg(unix)]
        std::os::unix::fs::symlink(super::gocred_bin(), root.join("bin/git-credential-gocred"))
            .unwrap_or_else(|e| panic!("symlinking git-credential-gocred: {e}"));
        // Windows: a copy, as the release archive has it.
        #[cfg(windows)]
        std::fs::copy(
            super::gocred_bin(),
            root.join("bin/git-credential-gocred.exe"),
        )
        .unwrap_or_else(|e| panic!("copying git-credential-gocred.exe: {e}"));
        Sandbox {
            config_path: home.join(".config/gocred/config.toml"),
            home,
            root,
            extra: Vec::new(),
            _dir: dir,
        }
    }

    /// The sandbox's temp dir (parent of `home`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `$root/bin`, first on the sandbox PATH; holds `git-credential-gocred`.
    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// `$root/gomodcache` (GOMODCACHE).
    pub fn gomodcache(&self) -> PathBuf {
        self.root.join("gomodcache")
    }

    /// A path under HOME: `path("work/x")` is `$home/work/x`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    /// Sets `key=value` for every command made from now on (GOPRIVATE, a CI job's variables, a
    /// keyring service), replacing an earlier value of `key`.
    pub fn set_env(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        self.extra.retain(|(k, _)| *k != key);
        self.extra.push((key, value.into()));
    }

    /// Undoes [`Sandbox::set_env`] for `key`.
    pub fn unset_env(&mut self, key: &str) {
        self.extra.retain(|(k, _)| k != key);
    }

    /// The complete environment of [`Sandbox::command`]: the sandbox's own, then what
    /// [`Sandbox::set_env`] set.
    pub fn envs(&self) -> Vec<(String, String)> {
        let host_path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        let dirs = [Some(self.bin_dir()), super::try_go_bin_dir()];
        let path = std::env::join_paths(
            dirs.into_iter()
                .flatten()
                .chain(std::env::split_paths(&host_path)),
        )
        .expect("PATH entries")
        .to_string_lossy()
        .into_owned();
        let s = |p: &Path| p.display().to_string();
        let mut v: Vec<(String, String)> = vec![
            ("PATH".into(), path),
            ("HOME".into(), s(&self.home)),
            ("XDG_CONFIG_HOME".into(), s(&self.home.join(".config"))),
            ("XDG_CACHE_HOME".into(), s(&self.home.join(".cache"))),
            ("XDG_DATA_HOME".into(), s(&self.home.join(".local/share"))),
            ("XDG_RUNTIME_DIR".into(), s(&self.root.join("run"))),
            ("LANG".into(), "C.UTF-8".into()),
            ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
            ("GIT_TERMINAL_PROMPT".into(), "0".into()),
            // No auto-maintenance after `git fetch` (also the fetches `go` runs): it detaches
            // with setsid, can outlive the test (racing the temp dir removal) and then lingers
            // as a zombie of PID 1. Command-scope config, so ~/.gitconfig stays untouched.
            ("GIT_CONFIG_COUNT".into(), "2".into()),
            ("GIT_CONFIG_KEY_0".into(), "maintenance.auto".into()),
            ("GIT_CONFIG_VALUE_0".into(), "false".into()),
            ("GIT_CONFIG_KEY_1".into(), "gc.auto".into()),
            ("GIT_CONFIG_VALUE_1".into(), "0".into()),
            ("GOCRED_CONFIG".into(), s(&self.config_path)),
            ("GOTOOLCHAIN".into(), "local".into()),
            ("GOSUMDB".into(), "off".into()),
            ("GOPROXY".into(), "off".into()),
            ("GOFLAGS".into(), "-mod=mod -modcacherw".into()),
            ("GOCACHE".into(), s(&shared_gocache())),
            ("GOMODCACHE".into(), s(&self.gomodcache())),
            ("GOENV".into(), s(&self.home.join(".config/go/env"))),
        ];
        // Windows programs need these to start at all (SystemRoot), to find a temp dir, and to
        // run scripts (git's shell); the profile folders come from the system, not from HOME.
        #[cfg(windows)]
        for k in [
            "SystemRoot",
            "windir",
            "SystemDrive",
            "ComSpec",
            "PATHEXT",
            "TEMP",
            "TMP",
            "USERPROFILE",
            "APPDATA",
            "LOCALAPPDATA",
            "ProgramData",
            "ProgramFiles",
        ] {
            if let Ok(val) = std::env::var(k) {
                v.push((k.into(), val));
            }
        }
        for (key, value) in &self.extra {
            v.retain(|(k, _)| k != key);
            v.push((key.clone(), value.clone()));
        }
        v.sort();
        v
    }

    /// A command with only the sandbox environment (see [`Sandbox::envs`]), run in HOME, stdin
    /// from /dev/null. Add server env with `GitServer::apply` / `SecretService::apply`.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .envs(self.envs())
            .current_dir(&self.home)
            .stdin(Stdio::null());
        cmd
    }

    /// `command(gocred_bin())`.
    pub fn gocred(&self) -> Command {
        self.command(super::gocred_bin())
    }

    /// `command` for git (from the host PATH).
    pub fn git(&self) -> Command {
        self.command(super::require_tool("git"))
    }

    /// `command` for the real go binary (`go_bin_dir()/go`).
    pub fn go(&self) -> Command {
        self.command(super::go_bin_dir().join("go"))
    }

    /// Writes the gocred config file (`config_path`).
    pub fn write_config(&self, toml: &str) {
        super::write_file(&self.config_path, toml);
    }

    /// `git config --global --add <key> <value>` in the sandbox (writes `$home/.gitconfig`).
    pub fn git_config(&self, key: &str, value: &str) {
        super::run_ok(self.git().args(["config", "--global", "--add", key, value]));
    }

    /// A Go module `example.test/consumer` in `<home>/consumer` requiring each
    /// `(module, version)`; returns its directory.
    pub fn consumer(&self, requires: &[(&str, &str)]) -> PathBuf {
        let dir = self.path("consumer");
        let mut go_mod = String::from("module example.test/consumer\n\ngo 1.22\n");
        for (module, version) in requires {
            go_mod.push_str(&format!("\nrequire {module} {version}\n"));
        }
        super::write_file(&dir.join("go.mod"), go_mod);
        dir
    }

    /// [`Sandbox::consumer`] of one test `lib` module, with a `main` that prints its `Hello()`.
    pub fn consumer_main(&self, lib: &str, version: &str) -> PathBuf {
        let dir = self.consumer(&[(lib, version)]);
        super::write_file(
            &dir.join("main.go"),
            format!(
                "package main\n\nimport (\n\t\"fmt\"\n\n\t\"{lib}\"\n)\n\n\
                 func main() {{ fmt.Println(lib.Hello()) }}\n"
            ),
        );
        dir
    }
}

/// One Go build cache for the whole test run (Go's cache is safe for concurrent use).
pub fn shared_gocache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gocred-test-cache/gocache")
}
