//! The Debian packages install and what they install runs: `scripts/package --dev
//! --no-build` packages the debug binaries the test build made (`cargo test --workspace`
//! builds `signaling-server` too), then, in a root of its own — an overlay on this machine's system with nothing of
//! peercall in it, in a mount namespace of the test's, thrown away after, with no network
//! beyond loopback — `dpkg -i` installs them, the relay's user exists, the unit's own
//! command (as its user, with its /etc/default file) serves the health check and the
//! browser client, two installed `peercall call` talk through it, and `peercall loopback`
//! from /usr/bin calls itself.
//!
//! Needs root in a loopback-only network namespace (as `scripts/test` runs the tests) and
//! cargo-deb (`scripts/package` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

/// What runs inside the fresh root (bash; the packages are in /tmp/debs).
const INSIDE: &str = r#"
set -eu
dpkg -i /tmp/debs/*.deb
getent passwd peercall-signaling >/dev/null || { echo "no user peercall-signaling"; exit 1; }
test -f /usr/share/applications/peercall.desktop
test -f /usr/share/icons/hicolor/scalable/apps/peercall.svg
test -f /usr/share/peercall/web/index.html
# The unit's command as systemd would run it: its user, its environment file.
. /etc/default/peercall-signaling
command=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/peercall-signaling.service)
command=${command//\$SIGNALING_SERVER_ARGS/$SIGNALING_SERVER_ARGS}
runuser -u peercall-signaling -- $command > /tmp/relay.log 2>&1 &
relay=$!
get() {
    exec 3<>/dev/tcp/127.0.0.1/8080 || return 1
    printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$1" >&3
    cat <&3
    exec 3<&-
}
for _ in $(seq 100); do get /healthz >/dev/null 2>&1 && break; sleep 0.1; done
get /healthz | head -1 | grep -q ' 200 ' || { echo "no health check"; cat /tmp/relay.log; exit 1; }
get / | grep -qi '<html' || { echo "no browser client at /"; exit 1; }
flags="--server ws://127.0.0.1:8080/ws --room packaged --bind 127.0.0.1 --duration 3 --width 320 --height 240"
/usr/bin/peercall call $flags > /tmp/a.json &
a=$!
/usr/bin/peercall call $flags > /tmp/b.json
wait $a
tail -1 /tmp/a.json | grep -q '"ok":true' || { echo "call a:"; tail -1 /tmp/a.json; exit 1; }
tail -1 /tmp/b.json | grep -q '"ok":true' || { echo "call b:"; tail -1 /tmp/b.json; exit 1; }
/usr/bin/peercall loopback --duration 2 --width 320 --height 240 | tail -1 | grep -q '"ok":true'
kill $relay
echo "installed and ran"
"#;

/// Mounts the fresh root and runs [`INSIDE`] in it (sh; `$DEBS` lists the packages).
const SETUP: &str = r#"
set -eu
scratch=$(mktemp -d)
mkdir "$scratch/upper" "$scratch/work" "$scratch/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$scratch/upper,workdir=$scratch/work" "$scratch/root"
root="$scratch/root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
mkdir "$root/tmp/debs"
cp $DEBS "$root/tmp/debs/"
chroot "$root" bash -c "$INSIDE"
"#;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_packages_install_in_a_fresh_root_and_the_relay_and_app_run_from_there() {
    if !nix::unistd::geteuid().is_root() || !testkit::only_loopback() {
        return testkit::skip_or_fail(
            "installing packages in a fresh root needs root in a loopback-only network \
             namespace (run the tests as scripts/test does)",
        );
    }
    let server = workspace().join("target/debug/signaling-server");
    assert!(
        server.exists(),
        "{} is not built: run `cargo test --workspace` (or build it) first",
        server.display()
    );
    let built = Command::new(workspace().join("scripts/package"))
        .args(["--dev", "--no-build"])
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "scripts/package --dev --no-build failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let debs: Vec<String> = std::fs::read_dir(workspace().join("target/debian"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .map(|p| p.display().to_string())
        .collect();
    for name in ["peercall_", "peercall-signaling_"] {
        assert!(
            debs.iter().any(|d| d.contains(&format!("/{name}"))),
            "no {name}*.deb in {debs:?}"
        );
    }
    let out = Command::new("unshare")
        .args(["--mount", "--fork", "--", "sh", "-c", SETUP])
        .env("DEBS", debs.join(" "))
        .env("INSIDE", INSIDE)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("installed and ran"), "{text}");
}
