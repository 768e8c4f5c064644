//! Noticing that the machine's network changed (an interface or address came or went:
//! Wi-Fi to Ethernet, a new DHCP lease, a VPN), so a call restarts ICE at once instead
//! of waiting for its pairs to time out.
//!
//! [`NetworkWatch`] compares successive sets of local addresses (plain, testable);
//! [`watch`] polls the operating system's interface list (the same one the WebRTC stack
//! gathers from) a few times a second and says when the set changes.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use tokio::sync::mpsc;

/// How often the interface list is read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The addresses ICE can gather host candidates on: not loopback, not link-local.
pub fn usable_addresses(addresses: impl IntoIterator<Item = IpAddr>) -> BTreeSet<IpAddr> {
    addresses
        .into_iter()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified() && !is_link_local(ip))
        .collect()
}

fn is_link_local(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// The local addresses as last settled, and whether new readings change them. A new
/// set counts once two readings in a row agree on it: a handover passes through
/// in-between states (the new address up before the old one goes), and restarting ICE
/// on each would spend the restart on a network that is about to change again.
#[derive(Debug, Default)]
pub struct NetworkWatch {
    settled: Option<BTreeSet<IpAddr>>,
    pending: Option<BTreeSet<IpAddr>>,
}

impl NetworkWatch {
    /// Takes a reading; true when the settled set has just changed (the first reading
    /// only sets it).
    pub fn changed(&mut self, now: BTreeSet<IpAddr>) -> bool {
        let Some(settled) = &self.settled else {
            self.settled = Some(now);
            return false;
        };
        if *settled == now {
            self.pending = None;
            return false;
        }
        if self.pending.as_ref() != Some(&now) {
            self.pending = Some(now);
            return false;
        }
        tracing::info!(addresses = ?now, "the local network changed");
        self.pending = None;
        self.settled = Some(now);
        true
    }
}

/// The machine's usable addresses now (none where the list cannot be read).
fn read_addresses() -> BTreeSet<IpAddr> {
    match rtc::shared::ifaces::ifaces() {
        Ok(interfaces) => usable_addresses(
            interfaces
                .into_iter()
                .filter_map(|i| i.addr.map(|a| a.ip())),
        ),
        Err(err) => {
            tracing::debug!(%err, "cannot read the network interfaces");
            BTreeSet::new()
        }
    }
}

/// A watch on the network: a message each time the local addresses change. It stops
/// when the receiver is dropped.
pub fn watch() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut watch = NetworkWatch::default();
        let mut ticks = tokio::time::interval(POLL_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if tx.is_closed() {
                return;
            }
            let addresses = tokio::task::spawn_blocking(read_addresses)
                .await
                .unwrap_or_default();
            if watch.changed(addresses) {
                // Full: a change is already waiting to be read, which says as much.
                let _ = tx.try_send(());
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(addresses: &[&str]) -> BTreeSet<IpAddr> {
        usable_addresses(addresses.iter().map(|a| a.parse().unwrap()))
    }

    #[test]
    fn loopback_and_link_local_addresses_do_not_count() {
        assert_eq!(
            set(&[
                "127.0.0.1",
                "::1",
                "169.254.3.4",
                "fe80::1",
                "10.0.0.1",
                "2001:db8::1"
            ]),
            set(&["10.0.0.1", "2001:db8::1"])
        );
    }

    #[test]
    fn a_new_set_of_addresses_counts_once_two_readings_agree_on_it() {
        let mut watch = NetworkWatch::default();
        assert!(
            !watch.changed(set(&["10.0.0.1"])),
            "the first reading sets it"
        );
        assert!(!watch.changed(set(&["10.0.0.1"])));
        // A handover: the new address up, the old one gone, then steady.
        assert!(!watch.changed(set(&["10.0.0.1", "10.0.0.3"])));
        assert!(!watch.changed(set(&["10.0.0.3"])));
        assert!(watch.changed(set(&["10.0.0.3"])));
        assert!(!watch.changed(set(&["10.0.0.3"])));
        // A blip that comes back is no change.
        assert!(!watch.changed(set(&[])));
        assert!(!watch.changed(set(&["10.0.0.3"])));
        assert!(!watch.changed(set(&["10.0.0.3"])));
        // An interface removed.
        assert!(!watch.changed(set(&[])));
        assert!(watch.changed(set(&[])));
    }
}
