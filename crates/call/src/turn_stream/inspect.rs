//! What the bridge learns from the TURN messages passing through one connection, and
//! what it answers the stack when the server cannot be reached.
//!
//! [`Inspector`] watches both directions: Allocate requests the stack sends (and whether
//! they carried MESSAGE-INTEGRITY, i.e. the credentials), and the server's answers: a
//! success gives the relayed address (XOR-RELAYED-ADDRESS); a 401 or 441 to a request
//! that carried the credentials means the server rejected them.
//!
//! When the connection to the server cannot be made, [`refusal`] answers the stack's
//! Allocate in the server's place, so that its TURN client gives up at once (and
//! gathering completes) instead of retrying for half a minute: the unauthenticated
//! first attempt gets a 401 challenge, the authenticated second attempt a 500.

use std::collections::VecDeque;
use std::net::SocketAddr;

use rtc::stun::attributes::{
    ATTR_MESSAGE_INTEGRITY, ATTR_MESSAGE_INTEGRITY_SHA256, ATTR_NONCE, ATTR_REALM,
};
use rtc::stun::error_code::{
    CODE_SERVER_ERROR, CODE_UNAUTHORIZED, CODE_WRONG_CREDENTIALS, ErrorCodeAttribute,
};
use rtc::stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE, Getter, METHOD_ALLOCATE, Message,
    MessageType, Setter, TransactionId,
};
use rtc::stun::textattrs::TextAttribute;
use rtc::turn::proto::relayaddr::RelayedAddress;

/// Authenticated Allocate transactions remembered (the stack has one or two in flight).
const REMEMBERED: usize = 16;

/// Realm and nonce of the bridge's own 401 challenge (never seen by a server).
const REFUSAL_REALM: &str = "peercall-bridge";
const REFUSAL_NONCE: &str = "unreachable";

/// Something learned from a message from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// An Allocate succeeded: the relayed address.
    Allocated(SocketAddr),
    /// An Allocate that carried the credentials was refused with 401 or 441.
    CredentialsRejected,
}

/// Watches one connection's TURN messages.
#[derive(Debug, Default)]
pub struct Inspector {
    /// Transaction ids of Allocate requests that carried MESSAGE-INTEGRITY.
    authenticated: VecDeque<TransactionId>,
    /// The latest Allocate request, as sent.
    last_allocate: Option<Vec<u8>>,
    /// Relayed addresses allocated on this connection.
    allocated: Vec<SocketAddr>,
}

impl Inspector {
    /// Notes a datagram the stack sent to the server.
    pub fn outbound(&mut self, datagram: &[u8]) {
        let Some(message) = stun(datagram) else {
            return;
        };
        if message.typ != MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST) {
            return;
        }
        if carries_integrity(&message) {
            if self.authenticated.len() == REMEMBERED {
                self.authenticated.pop_front();
            }
            self.authenticated.push_back(message.transaction_id);
        }
        self.last_allocate = Some(datagram.to_vec());
    }

    /// What a message from the server tells, if anything.
    pub fn inbound(&mut self, bytes: &[u8]) -> Option<Seen> {
        let message = stun(bytes)?;
        if message.typ.method != METHOD_ALLOCATE {
            return None;
        }
        if message.typ.class == CLASS_SUCCESS_RESPONSE {
            let mut relayed = RelayedAddress::default();
            relayed.get_from(&message).ok()?;
            let address = SocketAddr::new(relayed.ip, relayed.port);
            self.allocated.push(address);
            return Some(Seen::Allocated(address));
        }
        if message.typ.class == CLASS_ERROR_RESPONSE
            && self.authenticated.contains(&message.transaction_id)
        {
            let mut code = ErrorCodeAttribute::default();
            code.get_from(&message).ok()?;
            if code.code == CODE_UNAUTHORIZED || code.code == CODE_WRONG_CREDENTIALS {
                return Some(Seen::CredentialsRejected);
            }
        }
        None
    }

    /// The latest Allocate request the stack sent (to answer with [`refusal`]).
    pub fn last_allocate(&self) -> Option<&[u8]> {
        self.last_allocate.as_deref()
    }

    /// The relayed addresses allocated on this connection.
    pub fn allocated(&self) -> &[SocketAddr] {
        &self.allocated
    }
}

/// The bridge's answer, in the unreachable server's place, to a datagram from the stack:
/// for an Allocate request without credentials a 401 challenge, for one with them a 500
/// error; nothing for anything else.
pub fn refusal(request: &[u8]) -> Option<Vec<u8>> {
    let request = stun(request)?;
    if request.typ != MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST) {
        return None;
    }
    let mut setters: Vec<Box<dyn Setter>> = vec![
        Box::new(request.transaction_id),
        Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE)),
    ];
    if carries_integrity(&request) {
        setters.push(Box::new(ErrorCodeAttribute {
            code: CODE_SERVER_ERROR,
            reason: b"TURN server not reachable over the stream".to_vec(),
        }));
    } else {
        setters.push(Box::new(ErrorCodeAttribute {
            code: CODE_UNAUTHORIZED,
            reason: b"Unauthorized".to_vec(),
        }));
        setters.push(Box::new(TextAttribute::new(
            ATTR_REALM,
            REFUSAL_REALM.to_owned(),
        )));
        setters.push(Box::new(TextAttribute::new(
            ATTR_NONCE,
            REFUSAL_NONCE.to_owned(),
        )));
    }
    let mut response = Message::new();
    response.build(&setters).ok()?;
    Some(response.raw)
}

/// `bytes` decoded as a STUN message, if it is one.
fn stun(bytes: &[u8]) -> Option<Message> {
    if bytes.first()? >> 6 != 0 {
        return None;
    }
    let mut message = Message::new();
    message.unmarshal_binary(bytes).ok()?;
    Some(message)
}

fn carries_integrity(message: &Message) -> bool {
    message.contains(ATTR_MESSAGE_INTEGRITY) || message.contains(ATTR_MESSAGE_INTEGRITY_SHA256)
}

#[cfg(test)]
mod tests {
    use rtc::stun::attributes::RawAttribute;
    use rtc::stun::error_code::ErrorCode;
    use rtc::stun::message::{CLASS_INDICATION, METHOD_BINDING, METHOD_SEND};

    use super::*;

    /// An Allocate request, with a (dummy) MESSAGE-INTEGRITY when `authenticated`.
    fn allocate(tid: TransactionId, authenticated: bool) -> Vec<u8> {
        let mut setters: Vec<Box<dyn Setter>> = vec![
            Box::new(tid),
            Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
        ];
        if authenticated {
            setters.push(Box::new(RawAttribute {
                typ: ATTR_MESSAGE_INTEGRITY,
                length: 20,
                value: vec![0xaa; 20],
            }));
        }
        let mut message = Message::new();
        message.build(&setters).unwrap();
        message.raw
    }

    fn error(tid: TransactionId, code: u16) -> Vec<u8> {
        let mut message = Message::new();
        message
            .build(&[
                Box::new(tid),
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE)),
                Box::new(ErrorCodeAttribute {
                    code: ErrorCode(code),
                    reason: b"no".to_vec(),
                }),
            ])
            .unwrap();
        message.raw
    }

    fn success(tid: TransactionId, relayed: SocketAddr) -> Vec<u8> {
        let mut message = Message::new();
        message
            .build(&[
                Box::new(tid),
                Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE)),
                Box::new(RelayedAddress {
                    ip: relayed.ip(),
                    port: relayed.port(),
                }),
            ])
            .unwrap();
        message.raw
    }

    fn decoded(bytes: &[u8]) -> Message {
        stun(bytes).expect("a STUN message")
    }

    #[test]
    fn a_successful_allocate_tells_the_relayed_address() {
        let relayed: SocketAddr = "127.0.0.1:49160".parse().unwrap();
        let mut inspector = Inspector::default();
        let tid = TransactionId::new();
        inspector.outbound(&allocate(tid, true));
        assert_eq!(
            inspector.inbound(&success(tid, relayed)),
            Some(Seen::Allocated(relayed))
        );
        assert_eq!(inspector.allocated(), [relayed]);
        let v6: SocketAddr = "[2001:db8::1]:50000".parse().unwrap();
        assert_eq!(
            inspector.inbound(&success(TransactionId::new(), v6)),
            Some(Seen::Allocated(v6))
        );
    }

    #[test]
    fn a_401_to_the_authenticated_allocate_is_rejected_credentials_and_to_the_first_is_not() {
        let mut inspector = Inspector::default();
        let first = TransactionId::new();
        inspector.outbound(&allocate(first, false));
        assert_eq!(
            inspector.inbound(&error(first, 401)),
            None,
            "the usual challenge"
        );
        let second = TransactionId::new();
        inspector.outbound(&allocate(second, true));
        assert_eq!(
            inspector.inbound(&error(second, 401)),
            Some(Seen::CredentialsRejected)
        );
        let third = TransactionId::new();
        inspector.outbound(&allocate(third, true));
        assert_eq!(
            inspector.inbound(&error(third, 441)),
            Some(Seen::CredentialsRejected)
        );
        // Other errors (stale nonce, quota) are not about the credentials.
        for code in [438, 486, 508] {
            let tid = TransactionId::new();
            inspector.outbound(&allocate(tid, true));
            assert_eq!(inspector.inbound(&error(tid, code)), None, "{code}");
        }
        // A 401 for a transaction we did not see authenticated tells nothing.
        assert_eq!(inspector.inbound(&error(TransactionId::new(), 401)), None);
    }

    #[test]
    fn channel_data_indications_and_garbage_tell_nothing() {
        let mut inspector = Inspector::default();
        let mut send = Message::new();
        send.build(&[
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(METHOD_SEND, CLASS_INDICATION)),
        ])
        .unwrap();
        inspector.outbound(&send.raw);
        assert_eq!(inspector.last_allocate(), None);
        assert_eq!(inspector.inbound(&send.raw), None);
        assert_eq!(
            inspector.inbound(&[0x40, 0x00, 0x00, 0x01, 7, 0, 0, 0]),
            None
        );
        assert_eq!(inspector.inbound(&[0x00, 0x01, 0x00]), None);
        assert_eq!(inspector.inbound(&[]), None);
    }

    #[test]
    fn the_refusal_challenges_the_first_allocate_and_fails_the_authenticated_one() {
        let first = TransactionId::new();
        let challenge = decoded(&refusal(&allocate(first, false)).expect("a challenge"));
        assert_eq!(challenge.transaction_id, first);
        assert_eq!(
            challenge.typ,
            MessageType::new(METHOD_ALLOCATE, CLASS_ERROR_RESPONSE)
        );
        let mut code = ErrorCodeAttribute::default();
        code.get_from(&challenge).unwrap();
        assert_eq!(code.code.0, CODE_UNAUTHORIZED.0);
        // The stack's client needs a realm and a nonce to try again with credentials.
        assert!(TextAttribute::get_from_as(&challenge, ATTR_REALM).is_ok());
        assert!(TextAttribute::get_from_as(&challenge, ATTR_NONCE).is_ok());

        let second = TransactionId::new();
        let failure = decoded(&refusal(&allocate(second, true)).expect("an error"));
        assert_eq!(failure.transaction_id, second);
        code.get_from(&failure).unwrap();
        assert_eq!(code.code.0, CODE_SERVER_ERROR.0);

        // Only Allocate requests are answered.
        let mut binding = Message::new();
        binding
            .build(&[
                Box::new(TransactionId::new()),
                Box::new(MessageType::new(METHOD_BINDING, CLASS_REQUEST)),
            ])
            .unwrap();
        assert_eq!(refusal(&binding.raw), None);
        assert_eq!(refusal(&[0x40, 0x00, 0x00, 0x00]), None);
    }

    #[test]
    fn the_latest_allocate_is_kept_for_a_refusal() {
        let mut inspector = Inspector::default();
        let first = allocate(TransactionId::new(), false);
        inspector.outbound(&first);
        assert_eq!(inspector.last_allocate(), Some(first.as_slice()));
        let second = allocate(TransactionId::new(), true);
        inspector.outbound(&second);
        assert_eq!(inspector.last_allocate(), Some(second.as_slice()));
    }
}
