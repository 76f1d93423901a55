//! One received message turned into a reply from the daemon's names, a
//! forward, or nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{
    Edns, Header, Message, MessageType, Metadata, OpCode, Query, ResponseCode,
};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use tracing::{Span, debug, debug_span};

use super::Names;

/// TTL of the records the server answers itself (Docker's).
const TTL: u32 = 600;
/// The UDP payload the server accepts and advertises over EDNS (the DNS
/// flag day 2020 value).
const EDNS_PAYLOAD: u16 = 1232;
/// The largest DNS message, what a TCP frame can carry.
pub(super) const MAX_MESSAGE: usize = 65_535;

/// How a message reached the server, which bounds the size of its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    Udp,
    Tcp,
}

/// What to do with one received message.
pub(super) enum Outcome {
    /// Send these bytes back to the client.
    Reply(Vec<u8>),
    /// Not a name of the daemon's: ask the upstreams.
    Forward(Forward),
    /// Send nothing (a response, or not even a header).
    Ignore,
}

/// A query to forward, with what answering the client afterwards needs.
pub(super) struct Forward {
    /// The client's query as received.
    pub(super) raw: Vec<u8>,
    /// The same, parsed.
    request: Message,
    /// The query's span, for what happens to the forward.
    pub(super) span: Span,
}

impl Forward {
    /// The client's id, which the answer must carry.
    pub(super) fn id(&self) -> u16 {
        self.request.metadata.id
    }

    /// The largest answer the client takes over UDP.
    pub(super) fn udp_limit(&self) -> usize {
        usize::from(self.request.max_payload())
    }

    /// The SERVFAIL the client gets when no upstream answers.
    pub(super) fn servfail(&self) -> Option<Vec<u8>> {
        encode(
            reply(&self.request, ResponseCode::ServFail, Vec::new()),
            MAX_MESSAGE,
        )
    }
}

/// The container a server answers, and where its names come from.
pub(super) struct Asker {
    id: String,
    names: Arc<dyn Names>,
}

impl Asker {
    /// The container `id`, seeing the names of `names`.
    pub(super) fn new(id: String, names: Arc<dyn Names>) -> Self {
        Self { id, names }
    }

    /// What to do with `raw`, received from `peer` over `transport`.
    pub(super) fn handle(&self, raw: &[u8], transport: Transport, peer: SocketAddr) -> Outcome {
        let request = match Message::from_vec(raw) {
            Ok(request) => request,
            Err(error) => return malformed(raw, peer, &error),
        };
        if request.metadata.message_type != MessageType::Query {
            return Outcome::Ignore;
        }
        if request.metadata.op_code != OpCode::Query {
            return respond(&request, ResponseCode::NotImp, Vec::new(), transport);
        }
        let [query] = request.queries.as_slice() else {
            return respond(&request, ResponseCode::FormErr, Vec::new(), transport);
        };
        let span = debug_span!(
            "dns_query",
            ?transport,
            %peer,
            id = request.metadata.id,
            name = %query.name(),
            qtype = %query.query_type(),
        );
        match span.in_scope(|| self.answer(query)) {
            Some(answers) => {
                span.in_scope(|| debug!(answers = answers.len(), "answered"));
                respond(&request, ResponseCode::NoError, answers, transport)
            }
            None => Outcome::Forward(Forward {
                raw: raw.to_vec(),
                request,
                span,
            }),
        }
    }

    /// The answers to `query` from the daemon's names, `None` when they
    /// do not know its name.
    fn answer(&self, query: &Query) -> Option<Vec<Record>> {
        if query.query_class() != DNSClass::IN {
            return None;
        }
        if query.query_type() == RecordType::PTR
            && let Some(ip) = arpa_address(query.name())
        {
            let target = self.names.reverse(&self.id, ip)?;
            return pointer(query.name(), &target).map(|record| vec![record]);
        }
        let addresses = self.names.lookup(&self.id, &lookup_key(query.name())?)?;
        Some(
            addresses
                .into_iter()
                .filter_map(|ip| address(query, ip))
                .collect(),
        )
    }
}

/// FORMERR for a message hickory cannot parse, if its header says it is
/// a query.
fn malformed(raw: &[u8], peer: SocketAddr, error: &dyn std::fmt::Display) -> Outcome {
    debug!(%peer, %error, "malformed DNS message");
    let Ok(header) = Header::read(&mut BinDecoder::new(raw)) else {
        return Outcome::Ignore;
    };
    if header.metadata.message_type != MessageType::Query {
        return Outcome::Ignore;
    }
    let mut reply = Message::error_msg(
        header.metadata.id,
        header.metadata.op_code,
        ResponseCode::FormErr,
    );
    reply.metadata.recursion_desired = header.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.to_vec().map_or(Outcome::Ignore, Outcome::Reply)
}

/// The reply to `request` with `code` and `answers`: authoritative when it
/// carries the daemon's answers.
fn reply(request: &Message, code: ResponseCode, answers: Vec<Record>) -> Message {
    let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
    reply.metadata = Metadata::response_from_request(&request.metadata);
    reply.metadata.authoritative = code == ResponseCode::NoError;
    reply.metadata.recursion_available = true;
    reply.metadata.response_code = code;
    reply.queries = request.queries.clone();
    reply.answers = answers;
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        reply.edns = Some(edns);
    }
    reply
}

/// The reply to `request` with `code` and `answers`, encoded to fit what
/// the client takes over `transport`: over UDP, what it advertised (512
/// bytes without EDNS) up to [`EDNS_PAYLOAD`].
fn respond(
    request: &Message,
    code: ResponseCode,
    answers: Vec<Record>,
    transport: Transport,
) -> Outcome {
    let limit = match transport {
        Transport::Udp => usize::from(request.max_payload().min(EDNS_PAYLOAD)),
        Transport::Tcp => MAX_MESSAGE,
    };
    encode(reply(request, code, answers), limit).map_or(Outcome::Ignore, Outcome::Reply)
}

/// `reply` encoded in at most `limit` bytes: when it is longer, with as
/// many answers as fit and the TC bit set, so the client may ask again
/// over TCP.
fn encode(mut reply: Message, limit: usize) -> Option<Vec<u8>> {
    let full = to_vec(&reply)?;
    if full.len() <= limit {
        return Some(full);
    }
    reply.metadata.truncation = true;
    let answers = std::mem::take(&mut reply.answers);
    let base = to_vec(&reply)?.len();
    let per_answer = full
        .len()
        .saturating_sub(base)
        .div_ceil(answers.len().max(1));
    let mut keep = limit.saturating_sub(base) / per_answer.max(1);
    reply.answers = answers;
    loop {
        reply.answers.truncate(keep);
        let bytes = to_vec(&reply)?;
        if bytes.len() <= limit || keep == 0 {
            return Some(bytes);
        }
        keep -= 1;
    }
}

fn to_vec(message: &Message) -> Option<Vec<u8>> {
    message
        .to_vec()
        .map_err(|error| debug!(%error, "cannot encode a DNS reply"))
        .ok()
}

/// The name as [`Names::lookup`] takes it: lower-case, no trailing dot;
/// `None` for names no container can have (the root, bytes that are not
/// printable ASCII, dots inside a label).
fn lookup_key(name: &Name) -> Option<String> {
    let mut key = String::with_capacity(name.len());
    for label in name.iter() {
        if !key.is_empty() {
            key.push('.');
        }
        for &byte in label {
            if !byte.is_ascii_graphic() || byte == b'.' {
                return None;
            }
            key.push(char::from(byte.to_ascii_lowercase()));
        }
    }
    (!key.is_empty()).then_some(key)
}

/// The address an `in-addr.arpa` or `ip6.arpa` name stands for, `None`
/// for other names and for networks.
fn arpa_address(name: &Name) -> Option<IpAddr> {
    let net = name.parse_arpa_name().ok()?;
    (net.prefix_len() == net.max_prefix_len()).then(|| net.addr())
}

/// The `PTR` record from `owner` to `target`, `None` (and forwarded) when
/// `target` is not a valid name.
fn pointer(owner: &Name, target: &str) -> Option<Record> {
    let mut target = Name::from_ascii(target)
        .map_err(|error| debug!(target, %error, "the daemon's name is not a DNS name"))
        .ok()?;
    target.set_fqdn(true);
    Some(Record::from_rdata(
        owner.clone(),
        TTL,
        RData::PTR(PTR(target)),
    ))
}

/// The record for `ip` if it is of the family `query` asks for.
fn address(query: &Query, ip: IpAddr) -> Option<Record> {
    let data = match (query.query_type(), ip) {
        (RecordType::A, IpAddr::V4(ip)) => RData::A(A(ip)),
        (RecordType::AAAA, IpAddr::V6(ip)) => RData::AAAA(AAAA(ip)),
        _ => return None,
    };
    Some(Record::from_rdata(query.name().clone(), TTL, data))
}
