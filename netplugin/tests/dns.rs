//! The embedded DNS server over real sockets, in the host's own network
//! namespace but only on 127.0.0.1 and ports the kernel picks: queries go
//! over UDP and TCP as a container's resolver would send them, and the
//! "internet" is a stub resolver started on another 127.0.0.1 port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hoist_netplugin::dns::{DnsServer, Names, Upstreams, upstreams_from_resolv_conf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// What every stub upstream answers, whatever the question.
const UPSTREAM_ANSWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// How long a test waits for any reply before failing.
const PATIENCE: Duration = Duration::from_secs(5);

/// Two containers on one network, seen by anyone: `web` with both
/// families, `db` with IPv4 only.
struct Directory;

impl Names for Directory {
    fn lookup(&self, asker: &str, name: &str) -> Option<Vec<IpAddr>> {
        assert_eq!(asker, "asker-id");
        match name {
            "web" | "web.mynet" => Some(vec![ip("172.20.0.2"), ip("fd00::2")]),
            "db" => Some(vec![ip("172.20.0.3")]),
            "many" => Some((1..=200).map(|n| IpAddr::from([10, 0, 0, n])).collect()),
            _ => None,
        }
    }

    fn reverse(&self, asker: &str, address: IpAddr) -> Option<String> {
        assert_eq!(asker, "asker-id");
        (address == ip("172.20.0.2") || address == ip("fd00::2")).then(|| "web.mynet".to_owned())
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// A server on fresh 127.0.0.1 ports: its UDP and TCP addresses.
struct Running {
    server: DnsServer,
    udp: SocketAddr,
    tcp: SocketAddr,
}

fn start(upstreams: Upstreams) -> Running {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (udp_addr, tcp_addr) = (udp.local_addr().unwrap(), tcp.local_addr().unwrap());
    let server = DnsServer::serve(
        udp,
        tcp,
        "asker-id".to_owned(),
        Arc::new(Directory),
        upstreams,
    )
    .unwrap();
    Running {
        server,
        udp: udp_addr,
        tcp: tcp_addr,
    }
}

fn no_upstreams() -> Upstreams {
    Upstreams::new(Vec::new())
}

fn query(name: &str, kind: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), kind));
    message
}

/// Sends `message` over UDP and returns the reply, checking it answers
/// the same id.
async fn ask_udp(server: SocketAddr, message: &Message) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket
        .send_to(&message.to_vec().unwrap(), server)
        .await
        .unwrap();
    let reply = receive(&socket).await;
    assert_eq!(reply.metadata.id, message.metadata.id);
    assert_eq!(reply.metadata.message_type, MessageType::Response);
    reply
}

async fn receive(socket: &UdpSocket) -> Message {
    let mut buffer = vec![0; 65_535];
    let len = tokio::time::timeout(PATIENCE, socket.recv(&mut buffer))
        .await
        .expect("no reply in time")
        .unwrap();
    Message::from_vec(&buffer[..len]).unwrap()
}

/// Sends `message` over a new TCP connection and returns the reply.
async fn ask_tcp(server: SocketAddr, message: &Message) -> Message {
    let mut stream = TcpStream::connect(server).await.unwrap();
    write_frame(&mut stream, &message.to_vec().unwrap()).await;
    let reply = tokio::time::timeout(PATIENCE, read_frame(&mut stream))
        .await
        .expect("no reply in time");
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.id, message.metadata.id);
    reply
}

async fn write_frame(stream: &mut TcpStream, message: &[u8]) {
    let len = u16::try_from(message.len()).unwrap();
    stream.write_all(&len.to_be_bytes()).await.unwrap();
    stream.write_all(message).await.unwrap();
}

async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    let len = stream.read_u16().await.unwrap();
    let mut message = vec![0; usize::from(len)];
    stream.read_exact(&mut message).await.unwrap();
    message
}

fn addresses(reply: &Message) -> Vec<IpAddr> {
    reply
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(A(v4)) => Some(IpAddr::V4(*v4)),
            RData::AAAA(v6) => Some(IpAddr::V6(v6.0)),
            _ => None,
        })
        .collect()
}

/// A stand-in for the internet's resolvers: UDP and TCP on one port,
/// answering every question with [`UPSTREAM_ANSWER`]; over UDP only with
/// the TC bit and no answer when `truncate_udp`.
struct Stub {
    addr: SocketAddr,
    tcp_queries: Arc<AtomicUsize>,
}

async fn stub(truncate_udp: bool) -> Stub {
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr().unwrap();
    let tcp_queries = Arc::new(AtomicUsize::new(0));
    tokio::spawn(stub_udp(udp, truncate_udp));
    tokio::spawn(stub_tcp(tcp, tcp_queries.clone()));
    Stub { addr, tcp_queries }
}

async fn stub_udp(socket: UdpSocket, truncate: bool) {
    let mut buffer = vec![0; 65_535];
    loop {
        let (len, peer) = socket.recv_from(&mut buffer).await.unwrap();
        let mut answer = stub_answer(&buffer[..len]);
        if truncate {
            answer.answers.clear();
            answer.metadata.truncation = true;
        }
        socket
            .send_to(&answer.to_vec().unwrap(), peer)
            .await
            .unwrap();
    }
}

async fn stub_tcp(listener: TcpListener, queries: Arc<AtomicUsize>) {
    loop {
        let (mut stream, _) = listener.accept().await.unwrap();
        let question = read_frame(&mut stream).await;
        queries.fetch_add(1, Ordering::SeqCst);
        write_frame(&mut stream, &stub_answer(&question).to_vec().unwrap()).await;
    }
}

fn stub_answer(question: &[u8]) -> Message {
    let question = Message::from_vec(question).unwrap();
    let mut answer = Message::response(question.metadata.id, OpCode::Query);
    answer.metadata.recursion_desired = question.metadata.recursion_desired;
    answer.metadata.recursion_available = true;
    answer.queries = question.queries.clone();
    answer.add_answer(Record::from_rdata(
        question.queries[0].name().clone(),
        60,
        RData::A(A(UPSTREAM_ANSWER)),
    ));
    answer
}

/// An address where nothing listens, on UDP or TCP.
fn dead_upstream() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// An upstream that takes queries and never answers, while the returned
/// socket lives.
async fn silent_upstream() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

#[tokio::test]
async fn dns_known_name_a_over_udp() {
    let running = start(no_upstreams());
    let reply = ask_udp(running.udp, &query("web.", RecordType::A)).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(reply.metadata.authoritative);
    assert!(reply.metadata.recursion_desired);
    assert_eq!(addresses(&reply), [ip("172.20.0.2")]);
    assert_eq!(reply.answers[0].ttl, 600);
    assert_eq!(reply.answers[0].name, Name::from_ascii("web.").unwrap());
}

#[tokio::test]
async fn dns_known_name_aaaa_and_nodata() {
    let running = start(no_upstreams());
    let web = ask_udp(running.udp, &query("web.", RecordType::AAAA)).await;
    assert_eq!(addresses(&web), [ip("fd00::2")]);
    // A known name without IPv6, or asked for another type: NOERROR and
    // nothing, not NXDOMAIN, and not forwarded (which, with no upstream,
    // would be SERVFAIL).
    for (name, kind) in [("db.", RecordType::AAAA), ("web.", RecordType::MX)] {
        let reply = ask_udp(running.udp, &query(name, kind)).await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::NoError,
            "{name} {kind}"
        );
        assert!(reply.metadata.authoritative);
        assert!(reply.answers.is_empty(), "{name} {kind}");
    }
}

#[tokio::test]
async fn dns_names_are_case_insensitive_and_keep_the_asked_case() {
    let running = start(no_upstreams());
    for name in ["WeB.", "WEB.MyNet.", "wEb.mYnEt."] {
        let reply = ask_udp(running.udp, &query(name, RecordType::A)).await;
        assert_eq!(addresses(&reply), [ip("172.20.0.2")], "{name}");
        assert!(
            reply.answers[0]
                .name
                .eq_case(&Name::from_ascii(name).unwrap())
        );
    }
}

#[tokio::test]
async fn dns_reverse_lookups() {
    let running = start(no_upstreams());
    let v6 = "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
    for name in ["2.0.20.172.in-addr.arpa.", "2.0.20.172.IN-ADDR.ARPA.", v6] {
        let reply = ask_udp(running.udp, &query(name, RecordType::PTR)).await;
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::NoError,
            "{name}"
        );
        assert_eq!(reply.answers.len(), 1, "{name}");
        assert_eq!(reply.answers[0].ttl, 600);
        assert_eq!(
            reply.answers[0].data,
            RData::PTR(PTR(Name::from_ascii("web.mynet.").unwrap()))
        );
    }
}

#[tokio::test]
async fn dns_known_name_over_tcp() {
    let running = start(no_upstreams());
    let mut stream = TcpStream::connect(running.tcp).await.unwrap();
    // Two queries on one connection, as glibc sends A and AAAA.
    for (kind, expected) in [(RecordType::A, "172.20.0.2"), (RecordType::AAAA, "fd00::2")] {
        let question = query("web.", kind);
        write_frame(&mut stream, &question.to_vec().unwrap()).await;
        let reply = Message::from_vec(&read_frame(&mut stream).await).unwrap();
        assert_eq!(reply.metadata.id, question.metadata.id);
        assert_eq!(addresses(&reply), [ip(expected)]);
    }
}

#[tokio::test]
async fn dns_large_udp_answers_are_truncated_and_whole_over_tcp() {
    let running = start(no_upstreams());
    let udp = ask_udp(running.udp, &query("many.", RecordType::A)).await;
    assert!(udp.metadata.truncation);
    assert!(!udp.answers.is_empty() && udp.answers.len() < 200);
    assert!(udp.to_vec().unwrap().len() <= 512);

    let mut with_edns = query("many.", RecordType::A);
    let mut edns = Edns::new();
    edns.set_max_payload(4096);
    with_edns.edns = Some(edns);
    let larger = ask_udp(running.udp, &with_edns).await;
    assert!(larger.edns.is_some());
    assert!(larger.answers.len() > udp.answers.len());

    let tcp = ask_tcp(running.tcp, &query("many.", RecordType::A)).await;
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 200);
}

#[tokio::test]
async fn dns_unknown_names_are_forwarded_over_udp_and_tcp() {
    let upstream = stub(false).await;
    let running = start(Upstreams::new(vec![upstream.addr]));
    for name in ["example.org.", "3.2.1.10.in-addr.arpa."] {
        let reply = ask_udp(running.udp, &query(name, RecordType::A)).await;
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert!(!reply.metadata.authoritative);
        assert_eq!(addresses(&reply), [IpAddr::V4(UPSTREAM_ANSWER)], "{name}");
    }
    let unknown_ptr = ask_udp(
        running.udp,
        &query("3.2.1.10.in-addr.arpa.", RecordType::PTR),
    )
    .await;
    assert_eq!(addresses(&unknown_ptr), [IpAddr::V4(UPSTREAM_ANSWER)]);
    assert_eq!(upstream.tcp_queries.load(Ordering::SeqCst), 0);

    let reply = ask_tcp(running.tcp, &query("example.org.", RecordType::A)).await;
    assert_eq!(addresses(&reply), [IpAddr::V4(UPSTREAM_ANSWER)]);
    assert_eq!(upstream.tcp_queries.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn dns_truncated_upstream_answer_is_asked_again_over_tcp() {
    let upstream = stub(true).await;
    let running = start(Upstreams::new(vec![upstream.addr]));
    let reply = ask_udp(running.udp, &query("example.org.", RecordType::A)).await;
    assert!(!reply.metadata.truncation);
    assert_eq!(addresses(&reply), [IpAddr::V4(UPSTREAM_ANSWER)]);
    assert_eq!(upstream.tcp_queries.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn dns_servfail_when_no_upstream_answers() {
    let silent = silent_upstream().await;
    let timeout = Duration::from_millis(200);
    let cases = [
        Upstreams::new(Vec::new()),
        Upstreams::new(vec![dead_upstream()]),
        Upstreams::new(vec![silent.local_addr().unwrap(), dead_upstream()]).with_timeout(timeout),
    ];
    for upstreams in cases {
        let running = start(upstreams.clone());
        let started = Instant::now();
        let udp = ask_udp(running.udp, &query("example.org.", RecordType::A)).await;
        assert_eq!(
            udp.metadata.response_code,
            ResponseCode::ServFail,
            "{upstreams:?}"
        );
        let tcp = ask_tcp(running.tcp, &query("example.org.", RecordType::A)).await;
        assert_eq!(
            tcp.metadata.response_code,
            ResponseCode::ServFail,
            "{upstreams:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2), "{upstreams:?}");
    }
}

#[tokio::test]
async fn dns_next_upstream_after_a_failing_one() {
    let silent = silent_upstream().await;
    let upstream = stub(false).await;
    let upstreams = vec![dead_upstream(), silent.local_addr().unwrap(), upstream.addr];
    let running = start(Upstreams::new(upstreams).with_timeout(Duration::from_millis(200)));
    let reply = ask_udp(running.udp, &query("example.org.", RecordType::A)).await;
    assert_eq!(addresses(&reply), [IpAddr::V4(UPSTREAM_ANSWER)]);
}

#[tokio::test]
async fn dns_slow_upstream_does_not_stall_local_answers() {
    let silent = silent_upstream().await;
    let running = start(Upstreams::new(vec![silent.local_addr().unwrap()]));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for n in 0..20 {
        let forwarded = query(&format!("slow{n}.example.org."), RecordType::A);
        client
            .send_to(&forwarded.to_vec().unwrap(), running.udp)
            .await
            .unwrap();
    }
    let started = Instant::now();
    let local = query("web.", RecordType::A);
    client
        .send_to(&local.to_vec().unwrap(), running.udp)
        .await
        .unwrap();
    let reply = receive(&client).await;
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(reply.metadata.id, local.metadata.id);
    assert_eq!(addresses(&reply), [ip("172.20.0.2")]);
}

#[tokio::test]
async fn dns_malformed_messages_are_ignored_or_formerr() {
    let running = start(no_upstreams());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Shorter than a header: nothing comes back.
    client.send_to(&[1, 2, 3], running.udp).await.unwrap();
    // A query header announcing a question that is not there: FORMERR.
    let header = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    client.send_to(&header, running.udp).await.unwrap();
    let reply = receive(&client).await;
    assert_eq!(reply.metadata.id, 0xabcd);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    // A response (QR set) is never answered, lest two servers loop.
    let mut response = query("web.", RecordType::A);
    response.metadata.message_type = MessageType::Response;
    client
        .send_to(&response.to_vec().unwrap(), running.udp)
        .await
        .unwrap();
    // Two questions: FORMERR. Then the server still answers.
    let mut two = query("web.", RecordType::A);
    two.add_query(Query::query(
        Name::from_ascii("db.").unwrap(),
        RecordType::A,
    ));
    client
        .send_to(&two.to_vec().unwrap(), running.udp)
        .await
        .unwrap();
    let reply = receive(&client).await;
    assert_eq!(reply.metadata.id, two.metadata.id);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    let reply = ask_udp(running.udp, &query("web.", RecordType::A)).await;
    assert_eq!(addresses(&reply), [ip("172.20.0.2")]);
    // Garbage framing over TCP closes that connection only.
    let mut stream = TcpStream::connect(running.tcp).await.unwrap();
    stream.write_all(&[0, 0]).await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest)).await;
    assert!(matches!(closed, Ok(Ok(0))));
    let reply = ask_tcp(running.tcp, &query("web.", RecordType::A)).await;
    assert_eq!(addresses(&reply), [ip("172.20.0.2")]);
}

#[tokio::test]
async fn dns_stopping_frees_the_ports() {
    let running = start(no_upstreams());
    ask_udp(running.udp, &query("web.", RecordType::A)).await;
    running.server.stop().await;
    std::net::UdpSocket::bind(running.udp).unwrap();
    std::net::TcpListener::bind(running.tcp).unwrap();
}

#[tokio::test]
async fn dns_dropping_frees_the_ports() {
    let Running { server, udp, tcp } = start(no_upstreams());
    ask_udp(udp, &query("web.", RecordType::A)).await;
    drop(server);
    // The runtime drops the server's tasks, and so its sockets, a moment
    // after the handle goes.
    let deadline = Instant::now() + PATIENCE;
    while std::net::UdpSocket::bind(udp).is_err() || std::net::TcpListener::bind(tcp).is_err() {
        assert!(Instant::now() < deadline, "ports still bound");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn dns_serve_needs_a_runtime() {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let served = DnsServer::serve(
        udp,
        tcp,
        "asker-id".to_owned(),
        Arc::new(Directory),
        no_upstreams(),
    );
    assert!(served.is_err());
}

#[test]
fn dns_upstreams_from_resolv_conf() {
    let upstreams = upstreams_from_resolv_conf("nameserver 127.0.0.53\noptions edns0\n");
    assert_eq!(upstreams, ["127.0.0.53:53".parse::<SocketAddr>().unwrap()]);
}

/// Not a check: prints the median and 99th percentile of 1000 sequential
/// known-name queries over UDP.
#[tokio::test]
#[ignore = "measurement: cargo test --release -p hoist-netplugin --test dns -- --ignored --nocapture"]
async fn dns_known_name_latency() {
    let running = start(no_upstreams());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.connect(running.udp).await.unwrap();
    let question = query("web.", RecordType::A).to_vec().unwrap();
    let mut buffer = vec![0; 65_535];
    let mut samples = Vec::with_capacity(1000);
    for round in 0..1100 {
        let started = Instant::now();
        client.send(&question).await.unwrap();
        client.recv(&mut buffer).await.unwrap();
        if round >= 100 {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    println!(
        "known-name UDP query: median {:?}, p99 {:?} ({} queries)",
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
        samples.len()
    );
}
