//! `net.dns`, `net.tcp`, `net.tls`: can Go and git reach a host, and do they trust it?
//!
//! Each client is checked with its own proxy rules and its own trust store (see `proxyenv`,
//! `trust`). When a proxy is in the way, the client never resolves or dials the host itself: the
//! proxy does, after a CONNECT. The findings say so, and check the proxy's name and port instead.
//! A host that failed is remembered, so later checks skip it instead of paying the timeout again.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::RootCertStore;

use super::http::{self, HttpResponse, TlsStream};
use super::proxyenv::{self, ProxyChoice};
use super::report::{sh_quote, Finding, Report};
use super::trust::{self, TlsProblem, TrustSpec};
use super::Doctor;
use crate::secret::SecretString;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Client {
    Go,
    Git,
}

impl Client {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Client::Go => "Go",
            Client::Git => "git",
        }
    }
}

#[derive(Default)]
pub(crate) struct NetState {
    /// `Some(id)` of the check that failed, `None` when the host is fine.
    reach: HashMap<(Client, String, u16), Option<&'static str>>,
    roots: HashMap<TrustSpec, Result<Arc<RootCertStore>, String>>,
}

/// Why a request could not be made.
#[derive(Debug)]
pub(crate) enum Blocked {
    /// An earlier check found the host unreachable (its id).
    Unreachable(&'static str),
    Error(String),
}

fn choice(d: &mut Doctor, c: Client, host: &str, port: u16) -> ProxyChoice {
    match c {
        Client::Go => proxyenv::go_choice(d.env, host, port),
        Client::Git => {
            let cfg = d.git.urlmatch("http.proxy", &format!("https://{host}/"));
            proxyenv::git_choice(d.env, cfg.as_deref(), host, port)
        }
    }
}

fn trust_spec(d: &mut Doctor, c: Client, host: &str) -> TrustSpec {
    match c {
        Client::Go => trust::go_trust(d.env),
        Client::Git => {
            let url = format!("https://{host}/");
            let info = d.git.urlmatch("http.sslCAInfo", &url);
            let path = d.git.urlmatch("http.sslCAPath", &url);
            trust::git_trust(d.env, info, path)
        }
    }
}

pub(crate) fn roots(d: &mut Doctor, spec: &TrustSpec) -> Result<Arc<RootCertStore>, String> {
    d.net
        .roots
        .entry(spec.clone())
        .or_insert_with(|| trust::load(spec))
        .clone()
}

/// Checks `host:port` for each client (once per client and host), reporting what it finds.
pub(crate) fn check(
    d: &mut Doctor,
    r: &mut Report,
    host: &str,
    port: u16,
    clients: &[Client],
    role: &str,
) {
    let todo: Vec<Client> = clients
        .iter()
        .copied()
        .filter(|c| !d.net.reach.contains_key(&(*c, host.to_string(), port)))
        .collect();
    // Clients that take the same path share the DNS and TCP lines (and a dead host costs its
    // timeout once); each distinct trust store gets its own TLS line.
    type Group = (Vec<(Client, TrustSpec)>, ProxyChoice);
    let mut groups: Vec<Group> = Vec::new();
    for c in todo {
        let ch = choice(d, c, host, port);
        let ts = trust_spec(d, c, host);
        let key = |g: &ProxyChoice| {
            (
                g.proxy.as_ref().map(|p| p.display.clone()),
                g.bypassed_by.is_some(),
            )
        };
        match groups.iter_mut().find(|(_, g)| key(g) == key(&ch)) {
            Some(g) => g.0.push((c, ts)),
            None => groups.push((vec![(c, ts)], ch)),
        }
    }
    let names = |cs: &[Client]| {
        cs.iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(" and ")
    };
    for (members, ch) in groups {
        let clients: Vec<Client> = members.iter().map(|(c, _)| *c).collect();
        let who = format!("{host}:{port} ({role}) for {}", names(&clients));
        let mut stream = match route_phase(d, r, &clients, &who, host, port, &ch) {
            Ok(s) => Some(s),
            Err(id) => {
                for c in clients {
                    d.net.reach.insert((c, host.to_string(), port), Some(id));
                }
                continue;
            }
        };
        let mut specs: Vec<(Vec<Client>, TrustSpec)> = Vec::new();
        for (c, ts) in members {
            match specs.iter_mut().find(|(_, t)| *t == ts) {
                Some(s) => s.0.push(c),
                None => specs.push((vec![c], ts)),
            }
        }
        for (cs, ts) in specs {
            let who = format!("{host}:{port} ({role}) for {}", names(&cs));
            let s = match stream.take() {
                Some(s) => Ok(s),
                None => reconnect(d, host, port, &ch),
            };
            let result = match s {
                Ok(s) => tls_phase(d, r, &cs, &who, host, s, &ts),
                Err(e) => {
                    r.push(Finding::fail("net.tcp", format!("{who}: {e}")));
                    Some("net.tcp")
                }
            };
            for c in cs {
                d.net.reach.insert((c, host.to_string(), port), result);
            }
        }
    }
}

/// A second connection along a route that just worked (for another trust store).
fn reconnect(
    d: &mut Doctor,
    host: &str,
    port: u16,
    ch: &ProxyChoice,
) -> Result<std::net::TcpStream, String> {
    let t = d.timeouts;
    let (h, p) = ch
        .proxy
        .as_ref()
        .map_or((host.to_string(), port), |p| (p.host.clone(), p.port));
    let addrs = http::resolve(&h, p, t.dns)?;
    let mut s = http::tcp(&addrs, &t).map_err(|e| e.message)?;
    let deadline = t.deadline();
    if let Some(px) = &ch.proxy {
        http::connect_tunnel(&mut s, px, host, port, deadline).map_err(|(_, e)| e)?;
    }
    Ok(s)
}

/// DNS and TCP (and the proxy's CONNECT) for clients sharing a route; `Err` = the failed id.
fn route_phase(
    d: &mut Doctor,
    r: &mut Report,
    clients: &[Client],
    who: &str,
    host: &str,
    port: u16,
    ch: &ProxyChoice,
) -> Result<std::net::TcpStream, &'static str> {
    let t = d.timeouts;
    if let Some(p) = &ch.problem {
        r.push(Finding::fail(
            "net.tcp",
            format!("{who}: proxy setting unusable: {p}"),
        ));
        return Err("net.tcp");
    }
    // DNS and TCP: the proxy's when there is one.
    let (dns_host, dns_port) = match &ch.proxy {
        Some(p) => (p.host.clone(), p.port),
        None => (host.to_string(), port),
    };
    let addrs = match http::resolve(&dns_host, dns_port, t.dns) {
        Ok(a) => a,
        Err(e) => {
            let mut f = Finding::fail(
                "net.dns",
                match &ch.proxy {
                    Some(p) => format!(
                        "{who}: the proxy {} ({}) does not resolve: {e}",
                        p.display,
                        ch.proxy_var.unwrap_or("")
                    ),
                    None => format!("{who}: {host} does not resolve: {e}"),
                },
            );
            if let Some((var, entry)) = &ch.bypassed_by {
                let rest = proxyenv::without_entry(d.env.get(var).unwrap_or(""), entry);
                f.message.push_str(&format!(
                    "; the {var} entry `{entry}` makes {} skip the proxy in {}, which resolves names itself",
                    clients.iter().map(|c| c.name()).collect::<Vec<_>>().join(" and "),
                    if clients.contains(&Client::Go) { "HTTPS_PROXY" } else { "https_proxy" }
                ));
                f = f.fix(format!(
                    "export NO_PROXY={q} no_proxy={q}",
                    q = sh_quote(&rest)
                ));
            } else if ch.proxy.is_none() {
                f.message.push_str(" (connect to the network or VPN that serves it, or set HTTPS_PROXY if it is only reachable through a proxy)");
            }
            r.push(f);
            return Err("net.dns");
        }
    };
    let via = match &ch.proxy {
        Some(p) => format!(
            " through the proxy {} ({})",
            p.display,
            ch.proxy_var.unwrap_or("")
        ),
        None => String::new(),
    };
    let shown = addrs
        .iter()
        .take(2)
        .map(|a| a.ip().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    r.push(Finding::ok(
        "net.dns",
        match &ch.proxy {
            Some(_) => format!(
                "{who}: reached{via}, which resolves the name itself; the proxy is at {shown}"
            ),
            None => format!("{who}: {host} resolves to {shown}"),
        },
    ));
    let mut stream = match http::tcp(&addrs, &t) {
        Ok(s) => s,
        Err(e) => {
            let why = if e.refused {
                "connection refused: nothing listens there (server or proxy down?)".to_string()
            } else if e.timed_out {
                format!(
                    "no answer within {} s (firewall, VPN, or host down)",
                    t.connect.as_secs()
                )
            } else {
                e.message.clone()
            };
            let target = if ch.proxy.is_some() {
                format!("the proxy at {dns_host}:{dns_port}")
            } else {
                format!("{host}:{port}")
            };
            r.push(Finding::fail(
                "net.tcp",
                format!("{who}: cannot connect to {target}: {why}"),
            ));
            return Err("net.tcp");
        }
    };
    if let Some(p) = &ch.proxy {
        if let Err((status, why)) = http::connect_tunnel(&mut stream, p, host, port, t.deadline()) {
            let meaning = match status {
                Some(407) => "the proxy wants credentials (put them in the proxy URL or ask your admin)",
                Some(403) => "the proxy refuses tunnels to this host",
                Some(502) | Some(503) | Some(504) => "the proxy could not reach the server: it is down, or its name does not resolve from the proxy",
                Some(_) => "the proxy refused the tunnel",
                None => "the proxy did not answer the CONNECT",
            };
            r.push(Finding::fail(
                "net.tcp",
                format!("{who}: CONNECT {host}:{port}{via}: {why}: {meaning}"),
            ));
            return Err("net.tcp");
        }
        r.push(Finding::ok(
            "net.tcp",
            format!("{who}: CONNECT {host}:{port}{via} accepted"),
        ));
    } else {
        r.push(Finding::ok(
            "net.tcp",
            format!(
                "{who}: connected to {}",
                stream
                    .peer_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(stream)
}

/// The TLS handshake with one trust store; returns the id that failed, if any.
fn tls_phase(
    d: &mut Doctor,
    r: &mut Report,
    clients: &[Client],
    who: &str,
    host: &str,
    stream: std::net::TcpStream,
    ts: &TrustSpec,
) -> Option<&'static str> {
    let roots = match roots(d, ts) {
        Ok(r) => r,
        Err(e) => {
            r.push(Finding::fail(
                "net.tls",
                format!(
                    "{who}: no CA certificates to verify with ({}): {e}",
                    ts.label
                ),
            ));
            return Some("net.tls");
        }
    };
    match http::tls(stream, host, roots, d.timeouts.deadline()) {
        Ok((_, info)) => {
            r.push(Finding::ok(
                "net.tls",
                format!(
                    "{who}: {}, certificate trusted via {}",
                    info.version, ts.label
                ),
            ));
            None
        }
        Err((e, chain)) => {
            let (kind, text) = trust::classify(&e);
            let insecure = super::tls::insecure_for(d, clients);
            let mut f = Finding::fail(
                "net.tls",
                format!("{who}: {text} (trust store: {})", ts.label),
            );
            if let Some(why) = insecure {
                f = Finding::warn("net.tls", format!("{}; {why}", f.message));
                r.push(f);
                return None;
            }
            if kind == TlsProblem::UnknownAuthority {
                f = super::tls::tls_fix(d, f, clients, host, &chain, ts);
            }
            r.push(f);
            Some("net.tls")
        }
    }
}

/// One HTTPS request for `client` to `host:port` (the host should have been [`check`]ed first).
pub(crate) fn https(
    d: &mut Doctor,
    client: Client,
    host: &str,
    port: u16,
    method: &str,
    path_and_query: &str,
    headers: &[(String, SecretString)],
) -> Result<HttpResponse, Blocked> {
    if let Some(Some(id)) = d.net.reach.get(&(client, host.to_string(), port)) {
        return Err(Blocked::Unreachable(id));
    }
    let ch = choice(d, client, host, port);
    let ts = trust_spec(d, client, host);
    let t = d.timeouts;
    let fail = |e: String| Blocked::Error(e);
    let (h, p) = ch
        .proxy
        .as_ref()
        .map_or((host.to_string(), port), |p| (p.host.clone(), p.port));
    let addrs = http::resolve(&h, p, t.dns).map_err(fail)?;
    let mut s = http::tcp(&addrs, &t).map_err(|e| fail(e.message))?;
    // One deadline from here to the answer's last byte.
    let deadline = t.deadline();
    if let Some(px) = &ch.proxy {
        http::connect_tunnel(&mut s, px, host, port, deadline).map_err(|(_, e)| fail(e))?;
    }
    let roots = roots(d, &ts).map_err(fail)?;
    let (mut tls, _): (TlsStream, _) =
        http::tls(s, host, roots, deadline).map_err(|(e, _)| fail(trust::classify(&e).1))?;
    let host_header = if port == 443 {
        host.to_string()
    } else {
        format!("{host}:{port}")
    };
    http::request(
        &mut tls,
        method,
        &host_header,
        path_and_query,
        headers,
        deadline,
    )
    .map_err(fail)
}
