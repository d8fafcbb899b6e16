//! Provisioning of bindings (issue 6 item 3): the record an operator imports (one JSON object
//! per NDJSON line, or a CSV row under a header with the same column names), its validation into
//! a binding, and the [`Provisioner`] behind the admin API. No actix here (design.md): the HTTP
//! adapter is [`crate::http::admin`], which maps [`ProvisioningError`] to the wire in one place.
//!
//! Decisions (issue 6 item 3):
//! - **All or nothing per batch.** Every line is validated before anything is written; one bad
//!   line refuses the whole batch with the list of bad lines (the first [`MAX_REPORTED_ERRORS`]),
//!   so an operator never half-imports a file. Duplicate addresses and overlapping port blocks
//!   inside one batch are bad lines too (the later line would silently win, or the lookup would
//!   find two owners and fail closed). A batch holds at most [`MAX_BATCH_LINES`] records; the CLI
//!   validates a whole file locally first and then sends it in batches.
//! - **IPv6 binds by /64 only.** A device owns its /64 (3GPP assigns one per PDN connection,
//!   RFC 6459) and the lookup reduces every IPv6 source to its /64. A shorter prefix would hand one
//!   subscriber's identity to every device inside it; a longer one would never match. Host bits
//!   must be zero, so a pasted device address is caught rather than silently truncated.
//! - **TTL.** Provisioned bindings live [`DEFAULT_TTL_S`] (30 days) unless `ttl_s` says otherwise
//!   ([`MIN_TTL_S`]..=[`MAX_TTL_S`]); an operator re-imports to renew. With `valid_until` the
//!   record also leaves the store when its validity window ends.

use crate::bindings::{Binding, BindingAddr, Bindings, Source};
use numbat_core::{AdminToken, Clock, Msisdn};
use numbat_store::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lifetime of a provisioned binding without `ttl_s`: 30 days.
pub const DEFAULT_TTL_S: u64 = 30 * 24 * 3600;
pub const MIN_TTL_S: u64 = 60;
/// A year and a day: longer-lived bindings are static configuration, not provisioning.
pub const MAX_TTL_S: u64 = 366 * 24 * 3600;
/// One record is a few hundred bytes; anything longer is not a record.
pub const MAX_LINE_BYTES: usize = 2048;
/// Records per import request (the CLI splits bigger files).
pub const MAX_BATCH_LINES: usize = 100_000;
/// Body limit of one import request.
pub const MAX_BATCH_BYTES: usize = 32 << 20;
/// Bad lines listed in a refusal (all are counted).
pub const MAX_REPORTED_ERRORS: usize = 100;
const MAX_DOMAIN_LEN: usize = 64;
/// Unix seconds beyond this (year 5138) are milliseconds by mistake.
const MAX_UNIX_S: i64 = 100_000_000_000;

/// One binding to provision, as an NDJSON line or CSV row carries it. Exactly one address form:
/// `ipv4`; `public_ipv4` with `ports` (`"lo-hi"` or one port: a CGNAT port block); or
/// `ipv6_prefix` (`/64`). Optional: `imsi`, `imeisv`, `domain` (else the ingress's), `ttl_s`,
/// and a validity window `valid_from`/`valid_until` (Unix seconds).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    pub msisdn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ipv4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imsi: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imeisv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<i64>,
}

/// The column names of the CSV form (the fields of [`ImportRecord`]).
pub const COLUMNS: &[&str] = &[
    "msisdn",
    "ipv4",
    "public_ipv4",
    "ports",
    "ipv6_prefix",
    "imsi",
    "imeisv",
    "domain",
    "ttl_s",
    "valid_from",
    "valid_until",
];

/// Why one record is refused. Messages name the field and never echo a subscriber number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not a record at all (JSON or CSV syntax, unknown field, wrong type).
    #[error("{0}")]
    Syntax(String),
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("no address: give ipv4, public_ipv4 with ports, or ipv6_prefix")]
    NoAddress,
    #[error("more than one address: give exactly one of ipv4, public_ipv4 with ports, or ipv6_prefix")]
    TwoAddresses,
}

fn bad(field: &'static str, reason: impl Into<String>) -> RecordError {
    RecordError::Field { field, reason: reason.into() }
}

/// A validated record, ready for [`Bindings::upsert_many`].
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub domain: String,
    pub addr: BindingAddr,
    pub binding: Binding,
    pub ttl: Duration,
}

/// One refused line of a batch (1-based line number in the request body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    pub line: usize,
    pub error: String,
}

/// Why a whole batch is refused; nothing of it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// More records than allowed ([`MAX_BATCH_LINES`] per request).
    TooManyLines,
    /// `bad` lines are bad; `errors` lists the first [`MAX_REPORTED_ERRORS`] of them.
    Lines { errors: Vec<LineError>, bad: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Ndjson,
    Csv,
}

// ---------------------------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------------------------

fn parse_ipv4(field: &'static str, s: &str) -> Result<Ipv4Addr, RecordError> {
    let a: Ipv4Addr = s.parse().map_err(|_| bad(field, "not an IPv4 address (dotted quad)"))?;
    if a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
        return Err(bad(field, format!("{a} is not a unicast address")));
    }
    Ok(a)
}

fn parse_port(s: &str) -> Result<u16, RecordError> {
    let t = s.trim();
    if t.is_empty() || t.len() > 5 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("ports", "\"lo-hi\" or one port, decimal 1-65535"));
    }
    let n: u32 = t.parse().map_err(|_| bad("ports", "not a port"))?;
    match u16::try_from(n) {
        Ok(p) if p >= 1 => Ok(p),
        _ => Err(bad("ports", format!("port {n} is outside 1-65535"))),
    }
}

/// `"40000-40255"` or a single port `"40000"`.
pub fn parse_ports(s: &str) -> Result<(u16, u16), RecordError> {
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (parse_port(a)?, parse_port(b)?),
        None => {
            let p = parse_port(s)?;
            (p, p)
        }
    };
    if lo > hi {
        return Err(bad("ports", format!("reversed block {lo}-{hi}: the low port comes first")));
    }
    Ok((lo, hi))
}

/// `2001:db8:1:2::/64`: exactly /64, host bits zero (see the module notes).
pub fn parse_ipv6_prefix(s: &str) -> Result<Ipv6Addr, RecordError> {
    const F: &str = "ipv6_prefix";
    let Some((a, len)) = s.split_once('/') else {
        return Err(bad(F, "a /64 prefix is needed, e.g. 2001:db8:1:2::/64"));
    };
    let a: Ipv6Addr = a.parse().map_err(|_| bad(F, "not an IPv6 address before the /"))?;
    if len != "64" {
        return Err(bad(
            F,
            format!(
                "/{len}: only /64 prefixes bind (a device owns one /64; a shorter prefix would identify \
                 every device inside it as this subscriber, a longer one never matches)"
            ),
        ));
    }
    let s = a.segments();
    if s[4..].iter().any(|&x| x != 0) {
        return Err(bad(F, "host bits are set: give the prefix itself (the first four groups, then ::/64)"));
    }
    if a.is_multicast() || (s[0] & 0xffc0) == 0xfe80 {
        return Err(bad(F, "a multicast or link-local prefix identifies no device"));
    }
    Ok(a)
}

/// The one address form of a record (or of an admin query).
pub fn parse_addr(
    ipv4: Option<&str>,
    public_ipv4: Option<&str>,
    ports: Option<&str>,
    ipv6_prefix: Option<&str>,
) -> Result<BindingAddr, RecordError> {
    match (ipv4, public_ipv4, ports, ipv6_prefix) {
        (Some(a), None, None, None) => Ok(BindingAddr::Ipv4(parse_ipv4("ipv4", a)?)),
        (None, Some(p), Some(r), None) => {
            let public = parse_ipv4("public_ipv4", p)?;
            let (lo, hi) = parse_ports(r)?;
            Ok(BindingAddr::PortBlock { public, lo, hi })
        }
        (None, None, None, Some(p)) => Ok(BindingAddr::Ipv6Prefix(parse_ipv6_prefix(p)?)),
        (None, None, None, None) => Err(RecordError::NoAddress),
        (None, Some(_), None, None) => Err(bad("ports", "public_ipv4 needs ports (the CGNAT port block \"lo-hi\")")),
        (None, None, Some(_), None) => Err(bad("public_ipv4", "ports belong to a public_ipv4 (CGNAT)")),
        (Some(_), None, Some(_), None) => {
            Err(bad("ports", "an ipv4 binding owns the whole address; a port block goes with public_ipv4"))
        }
        _ => Err(RecordError::TwoAddresses),
    }
}

/// An address domain (APN/VRF) name: 1-64 of `A-Z a-z 0-9 . _ -`.
pub fn check_domain(d: &str) -> Result<(), RecordError> {
    let ok = !d.is_empty()
        && d.len() <= MAX_DOMAIN_LEN
        && d.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(bad("domain", "1 to 64 characters of A-Z a-z 0-9 . _ -"))
    }
}

fn digits(field: &'static str, s: &str, min: usize, max: usize) -> Result<String, RecordError> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        let n = if min == max { format!("{min}") } else { format!("{min} to {max}") };
        return Err(bad(field, format!("{n} decimal digits")));
    }
    Ok(s.to_owned())
}

fn unix_s(field: &'static str, t: i64) -> Result<i64, RecordError> {
    if !(0..MAX_UNIX_S).contains(&t) {
        return Err(bad(field, "Unix time in seconds (not milliseconds)"));
    }
    Ok(t)
}

/// Validate one record into what the store gets. `default_domain` applies when the record
/// names none; `now` is Unix seconds.
pub fn validate(r: &ImportRecord, default_domain: &str, now: i64) -> Result<Provisioned, RecordError> {
    let msisdn = Msisdn::parse(&r.msisdn).map_err(|_| bad("msisdn", "not E.164 (+ then 5 to 15 digits, first 1-9)"))?;
    let addr = parse_addr(r.ipv4.as_deref(), r.public_ipv4.as_deref(), r.ports.as_deref(), r.ipv6_prefix.as_deref())?;
    let domain = match &r.domain {
        Some(d) => {
            check_domain(d)?;
            d.clone()
        }
        None => default_domain.to_owned(),
    };
    let mut ttl_s = r.ttl_s.unwrap_or(DEFAULT_TTL_S);
    if !(MIN_TTL_S..=MAX_TTL_S).contains(&ttl_s) {
        return Err(bad("ttl_s", format!("{MIN_TTL_S} to {MAX_TTL_S} seconds")));
    }
    let valid_from = r.valid_from.map(|t| unix_s("valid_from", t)).transpose()?;
    let valid_until = r.valid_until.map(|t| unix_s("valid_until", t)).transpose()?;
    if let Some(until) = valid_until {
        if valid_from.is_some_and(|from| from >= until) {
            return Err(bad("valid_until", "must be after valid_from"));
        }
        if until <= now {
            return Err(bad("valid_until", "is already past"));
        }
        // The record leaves the store when its window ends.
        ttl_s = ttl_s.min((until - now) as u64);
    }
    let mut binding = Binding::new(msisdn, Source::Provisioning, now);
    binding.imsi = r.imsi.as_deref().map(|s| digits("imsi", s, 6, 15)).transpose()?;
    binding.imeisv = r.imeisv.as_deref().map(|s| digits("imeisv", s, 16, 16)).transpose()?;
    binding.valid_from = valid_from;
    binding.valid_until = valid_until;
    Ok(Provisioned { domain, addr, binding, ttl: Duration::from_secs(ttl_s) })
}

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

/// Parse and validate a whole batch (NDJSON or CSV). Blank lines are skipped; line numbers in
/// errors count every line of `body` from 1. Nothing is returned unless every line is good.
pub fn parse_batch(
    body: &[u8],
    format: Format,
    default_domain: &str,
    now: i64,
) -> Result<Vec<Provisioned>, BatchError> {
    parse_lines(body, format, default_domain, now, MAX_BATCH_LINES)
}

/// [`parse_batch`] with another record limit (the CLI checks a whole file before sending it).
pub fn parse_lines(
    body: &[u8],
    format: Format,
    default_domain: &str,
    now: i64,
    max_lines: usize,
) -> Result<Vec<Provisioned>, BatchError> {
    let mut errs = Errors::default();
    let mut out: Vec<(usize, Provisioned)> = Vec::new();
    let mut csv_header: Option<Vec<usize>> = None;
    for (i, raw) in body.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let raw = if i == 0 { raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw) } else { raw };
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if raw.len() > MAX_LINE_BYTES {
            errs.push(line, format!("line is {} bytes long; a record has at most {MAX_LINE_BYTES}", raw.len()));
            continue;
        }
        let Ok(text) = std::str::from_utf8(raw) else {
            errs.push(line, "not UTF-8".into());
            continue;
        };
        let record = match format {
            Format::Ndjson => {
                serde_json::from_str::<ImportRecord>(text).map_err(|e| RecordError::Syntax(json_error(&e)))
            }
            Format::Csv => match &csv_header {
                None => match csv_columns(text) {
                    Ok(cols) => {
                        csv_header = Some(cols);
                        continue;
                    }
                    // Without a header no row can be read: refuse now.
                    Err(e) => {
                        return Err(BatchError::Lines {
                            errors: vec![LineError { line, error: e.to_string() }],
                            bad: 1,
                        })
                    }
                },
                Some(cols) => csv_record(cols, text),
            },
        };
        if out.len() + errs.bad >= max_lines {
            return Err(BatchError::TooManyLines);
        }
        match record.and_then(|r| validate(&r, default_domain, now)) {
            Ok(p) => out.push((line, p)),
            Err(e) => errs.push(line, e.to_string()),
        }
    }
    for (line, e) in conflicts(&out) {
        errs.push(line, e);
    }
    if errs.bad > 0 {
        errs.list.sort_by_key(|e| e.line);
        return Err(BatchError::Lines { errors: errs.list, bad: errs.bad });
    }
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

#[derive(Default)]
struct Errors {
    list: Vec<LineError>,
    bad: usize,
}

impl Errors {
    fn push(&mut self, line: usize, error: String) {
        self.bad += 1;
        if self.list.len() < MAX_REPORTED_ERRORS {
            self.list.push(LineError { line, error });
        }
    }
}

/// serde_json's message (it names unknown fields, missing fields and wrong types, with the
/// column), bounded in length.
fn json_error(e: &serde_json::Error) -> String {
    let mut s = e.to_string();
    if s.len() > 300 {
        s.truncate(300);
    }
    format!("not a binding record: {s}")
}

/// Lines that conflict with another line of the batch: the same address again, a port block
/// overlapping another of the same public IPv4, or a public IPv4 both bound whole and shared
/// (the later write would remove the other form, see `bindings`). One message per line.
fn conflicts(items: &[(usize, Provisioned)]) -> Vec<(usize, String)> {
    let mut out: BTreeMap<usize, String> = BTreeMap::new();
    let mut flag = |line: usize, msg: String| {
        out.entry(line).or_insert(msg);
    };
    let mut seen: HashMap<(&str, u8, u128), usize> = HashMap::with_capacity(items.len());
    // (domain, public IPv4) → its port blocks (lo, hi, line).
    type Blocks<'a> = HashMap<(&'a str, Ipv4Addr), Vec<(u16, u16, usize)>>;
    let mut blocks: Blocks = HashMap::new();
    for (line, p) in items {
        let k = match p.addr {
            BindingAddr::Ipv4(a) => (p.domain.as_str(), 4, u32::from(a) as u128),
            BindingAddr::Ipv6Prefix(a) => (p.domain.as_str(), 6, u128::from(a)),
            BindingAddr::PortBlock { public, lo, hi } => {
                blocks.entry((p.domain.as_str(), public)).or_default().push((lo, hi, *line));
                continue;
            }
        };
        match seen.entry(k) {
            Entry::Occupied(first) => flag(*line, format!("the same address as line {}", first.get())),
            Entry::Vacant(v) => {
                v.insert(*line);
            }
        }
    }
    for ((domain, public), v) in blocks.iter_mut() {
        if let Some(whole) = seen.get(&(*domain, 4, u32::from(*public) as u128)) {
            for &(_, _, line) in v.iter() {
                flag(
                    line,
                    format!(
                        "public_ipv4 is bound whole on line {whole}; an address is either one subscriber's or shared"
                    ),
                );
            }
        }
        // Sorted by `lo`, a block overlaps another iff it starts inside the farthest reach of
        // the blocks before it, or the next block starts inside it.
        v.sort_unstable();
        let mut reach: Option<(u16, usize)> = None;
        for i in 0..v.len() {
            let (lo, hi, line) = v[i];
            if let Some((_, rline)) = reach.filter(|(rhi, _)| lo <= *rhi) {
                flag(line, format!("port block overlaps line {rline}"));
            } else if let Some(&(_, _, next)) = v.get(i + 1).filter(|n| n.0 <= hi) {
                flag(line, format!("port block overlaps line {next}"));
            }
            if reach.is_none_or(|(rhi, _)| hi > rhi) {
                reach = Some((hi, line));
            }
        }
    }
    out.into_iter().collect()
}

fn csv_columns(text: &str) -> Result<Vec<usize>, RecordError> {
    let mut cols = Vec::new();
    for f in split_csv(text)? {
        let name = f.unwrap_or_default();
        let Some(i) = COLUMNS.iter().position(|c| *c == name) else {
            return Err(RecordError::Syntax(format!(
                "CSV header: unknown column {:?} (known: {})",
                name.chars().take(40).collect::<String>(),
                COLUMNS.join(",")
            )));
        };
        if cols.contains(&i) {
            return Err(RecordError::Syntax(format!("CSV header: column {name} twice")));
        }
        cols.push(i);
    }
    if !cols.contains(&0) {
        return Err(RecordError::Syntax("CSV header: the msisdn column is required".into()));
    }
    Ok(cols)
}

/// Fields of one CSV line: trimmed, optionally in double quotes (no quote or comma inside: no
/// value of a record needs one); an empty field is absent.
fn split_csv(text: &str) -> Result<Vec<Option<String>>, RecordError> {
    text.split(',')
        .map(|f| {
            let f = f.trim();
            let f = f.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(f);
            if f.contains('"') {
                return Err(RecordError::Syntax("CSV: quotes inside a field are not supported".into()));
            }
            Ok((!f.is_empty()).then(|| f.to_owned()))
        })
        .collect()
}

fn csv_record(cols: &[usize], text: &str) -> Result<ImportRecord, RecordError> {
    let fields = split_csv(text)?;
    if fields.len() != cols.len() {
        return Err(RecordError::Syntax(format!("CSV: {} fields, the header has {}", fields.len(), cols.len())));
    }
    let mut r = ImportRecord::default();
    let mut msisdn = None;
    for (&c, v) in cols.iter().zip(fields) {
        let num = |v: &Option<String>| -> Result<Option<i64>, RecordError> {
            v.as_deref().map(|s| s.parse::<i64>().map_err(|_| bad(COLUMNS[c], "not a whole number"))).transpose()
        };
        match COLUMNS[c] {
            "msisdn" => msisdn = v,
            "ipv4" => r.ipv4 = v,
            "public_ipv4" => r.public_ipv4 = v,
            "ports" => r.ports = v,
            "ipv6_prefix" => r.ipv6_prefix = v,
            "imsi" => r.imsi = v,
            "imeisv" => r.imeisv = v,
            "domain" => r.domain = v,
            "ttl_s" => {
                r.ttl_s = num(&v)?.map(|n| u64::try_from(n).map_err(|_| bad("ttl_s", "negative"))).transpose()?
            }
            "valid_from" => r.valid_from = num(&v)?,
            "valid_until" => r.valid_until = num(&v)?,
            _ => unreachable!("COLUMNS and this match list the same names"),
        }
    }
    r.msisdn = msisdn.ok_or_else(|| bad("msisdn", "missing"))?;
    Ok(r)
}

/// The address part of an admin query (`GET`/`DELETE /admin/bindings`): either `ip` (and `port`)
/// as a device would send from, or one exact record address as in an import record.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressQuery {
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
    pub ipv4: Option<String>,
    pub public_ipv4: Option<String>,
    pub ports: Option<String>,
    pub ipv6_prefix: Option<String>,
    pub domain: Option<String>,
}

/// What an [`AddressQuery`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A device's source address (and port): resolved as the ingress would.
    Source { ip: IpAddr, port: Option<u16> },
    /// One stored record.
    Exact(BindingAddr),
}

impl AddressQuery {
    pub fn target(&self) -> Result<Target, RecordError> {
        if let Some(d) = &self.domain {
            check_domain(d)?;
        }
        let exact =
            self.ipv4.is_some() || self.public_ipv4.is_some() || self.ports.is_some() || self.ipv6_prefix.is_some();
        match (self.ip, exact) {
            (Some(_), true) => Err(RecordError::TwoAddresses),
            (Some(ip), false) => Ok(Target::Source { ip: crate::bindings::canonical(ip), port: self.port }),
            (None, _) if self.port.is_some() => Err(bad("port", "goes with ip (a device's source port)")),
            (None, _) => Ok(Target::Exact(parse_addr(
                self.ipv4.as_deref(),
                self.public_ipv4.as_deref(),
                self.ports.as_deref(),
                self.ipv6_prefix.as_deref(),
            )?)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The service behind the admin API
// ---------------------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    /// No admin token is configured: the admin API is off.
    #[error("the admin API is disabled (no admin token configured)")]
    Disabled,
    /// Missing or wrong admin token (`presented`: a token was sent).
    #[error("admin token missing or wrong")]
    Unauthorized { presented: bool },
    #[error("{0}")]
    Invalid(RecordError),
    #[error("{bad} bad line(s); nothing was imported")]
    Batch { errors: Vec<LineError>, bad: usize },
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("more than {MAX_BATCH_LINES} records in one request; split the file (numbat bindings import does)")]
    TooManyLines,
    #[error("unsupported content type: send application/x-ndjson or text/csv")]
    UnsupportedMediaType,
    #[error("no such binding")]
    NotFound,
    /// The route exists, the method does not (`Allow` lists these).
    #[error("method not allowed here (allowed: {0})")]
    MethodNotAllowed(&'static str),
    #[error("store unavailable: {0}")]
    Store(#[from] StoreError),
}

impl From<RecordError> for ProvisioningError {
    fn from(e: RecordError) -> Self {
        ProvisioningError::Invalid(e)
    }
}

impl From<BatchError> for ProvisioningError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::TooManyLines => ProvisioningError::TooManyLines,
            BatchError::Lines { errors, bad } => ProvisioningError::Batch { errors, bad },
        }
    }
}

/// What an import wrote, and how fast the store took it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportReport {
    pub imported: usize,
    pub ipv4: usize,
    pub port_blocks: usize,
    pub ipv6_prefixes: usize,
    /// Time spent writing to the store (after validation), milliseconds.
    pub store_ms: u64,
    /// `imported` per second of `store_ms`.
    pub bindings_per_s: u64,
}

/// Store writes per `upsert_many` call: bounds one pipeline's memory.
const WRITE_CHUNK: usize = 5_000;

/// Upserts, imports, looks up and deletes bindings for the admin API. Every call needs the
/// admin token first ([`Provisioner::authenticate`]).
pub struct Provisioner {
    bindings: Bindings,
    default_domain: String,
    clock: Arc<dyn Clock>,
    /// The admin token (a digest); unset disables the API.
    admin: AdminToken,
}

impl Provisioner {
    pub fn new(
        bindings: Bindings,
        default_domain: impl Into<String>,
        clock: Arc<dyn Clock>,
        admin_token: &str,
    ) -> Self {
        Provisioner { bindings, default_domain: default_domain.into(), clock, admin: AdminToken::new(admin_token) }
    }

    /// Constant-time comparison of SHA-256 digests, so neither content nor length leaks.
    pub fn authenticate(&self, bearer: Option<&str>) -> Result<(), ProvisioningError> {
        if !self.admin.enabled() {
            return Err(ProvisioningError::Disabled);
        }
        match bearer {
            None => Err(ProvisioningError::Unauthorized { presented: false }),
            Some(_) if self.admin.verify(bearer) => Ok(()),
            Some(_) => Err(ProvisioningError::Unauthorized { presented: true }),
        }
    }

    pub fn default_domain(&self) -> &str {
        &self.default_domain
    }

    fn domain<'a>(&'a self, d: Option<&'a str>) -> Result<&'a str, ProvisioningError> {
        match d {
            Some(d) => {
                check_domain(d)?;
                Ok(d)
            }
            None => Ok(&self.default_domain),
        }
    }

    /// Upsert one record (a JSON object as on an NDJSON line).
    pub async fn upsert_json(&self, body: &[u8]) -> Result<Provisioned, ProvisioningError> {
        let r: ImportRecord = serde_json::from_slice(body).map_err(|e| RecordError::Syntax(json_error(&e)))?;
        let p = validate(&r, &self.default_domain, self.clock.now())?;
        self.bindings.upsert(&p.domain, p.addr, &p.binding, p.ttl).await?;
        tracing::info!(kind = kind(&p.addr), "binding provisioned");
        Ok(p)
    }

    /// Validate a whole batch, then write it (pipelined per domain). `domain` replaces the
    /// ingress's default for lines that name none.
    pub async fn import(
        &self,
        body: impl AsRef<[u8]> + Send + 'static,
        format: Format,
        domain: Option<&str>,
    ) -> Result<ImportReport, ProvisioningError> {
        let default_domain = self.domain(domain)?.to_owned();
        let now = self.clock.now();
        // Checking 100k lines is a CPU-bound while: keep it off the async workers that serve
        // /authorize.
        let parsed =
            tokio::task::spawn_blocking(move || parse_batch(body.as_ref(), format, &default_domain, now)).await;
        let items = match parsed {
            Ok(r) => r?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Err(StoreError::Unavailable("import cancelled at shutdown".into()).into()),
        };
        let mut by_domain: HashMap<&str, Vec<(BindingAddr, Binding, Duration)>> = HashMap::new();
        let mut report = ImportReport {
            imported: items.len(),
            ipv4: 0,
            port_blocks: 0,
            ipv6_prefixes: 0,
            store_ms: 0,
            bindings_per_s: 0,
        };
        for p in &items {
            match p.addr {
                BindingAddr::Ipv4(_) => report.ipv4 += 1,
                BindingAddr::PortBlock { .. } => report.port_blocks += 1,
                BindingAddr::Ipv6Prefix(_) => report.ipv6_prefixes += 1,
            }
            by_domain.entry(p.domain.as_str()).or_default().push((p.addr, p.binding.clone(), p.ttl));
        }
        let started = Instant::now();
        for (d, list) in &by_domain {
            for chunk in list.chunks(WRITE_CHUNK) {
                self.bindings.upsert_many(d, chunk).await?;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        report.store_ms = (secs * 1000.0) as u64;
        report.bindings_per_s = if secs > 0.0 { (items.len() as f64 / secs) as u64 } else { 0 };
        tracing::info!(
            imported = report.imported,
            domains = by_domain.len(),
            store_ms = report.store_ms,
            bindings_per_s = report.bindings_per_s,
            "bindings imported"
        );
        Ok(report)
    }

    /// The binding of a device address as the ingress would resolve it, or one exact record.
    pub async fn find(&self, q: &AddressQuery) -> Result<(String, Binding), ProvisioningError> {
        let domain = self.domain(q.domain.as_deref())?;
        let found = match q.target()? {
            Target::Source { ip, port } => self.bindings.lookup(domain, ip, port, self.clock.now()).await?,
            Target::Exact(addr) => self.bindings.get(domain, &addr).await?,
        };
        found.map(|b| (domain.to_owned(), b)).ok_or(ProvisioningError::NotFound)
    }

    /// Delete one exact record; `ip` names an IPv4 address or the /64 of an IPv6 one.
    pub async fn delete(&self, q: &AddressQuery) -> Result<(), ProvisioningError> {
        let domain = self.domain(q.domain.as_deref())?;
        let addr = match q.target()? {
            Target::Source { port: Some(_), .. } => {
                return Err(bad("port", "delete a CGNAT port block by public_ipv4 and ports").into())
            }
            Target::Source { ip, port: None } => BindingAddr::from(ip),
            Target::Exact(a) => a,
        };
        if self.bindings.delete(domain, addr).await? {
            tracing::info!(kind = kind(&addr), "binding deleted");
            Ok(())
        } else {
            Err(ProvisioningError::NotFound)
        }
    }
}

fn kind(a: &BindingAddr) -> &'static str {
    match a {
        BindingAddr::Ipv4(_) => "ipv4",
        BindingAddr::PortBlock { .. } => "port_block",
        BindingAddr::Ipv6Prefix(_) => "ipv6_prefix",
    }
}

#[cfg(test)]
#[path = "provisioning_tests.rs"]
mod tests;
