//! Unit tests of the import format and its validation (issue 6 item 3), hostile input first.

use super::*;
use numbat_store::MemoryStore;

const NOW: i64 = 1_700_000_000;

fn one(line: &str) -> Result<Provisioned, String> {
    match parse_batch(line.as_bytes(), Format::Ndjson, "default", NOW) {
        Ok(mut v) => {
            assert_eq!(v.len(), 1);
            Ok(v.remove(0))
        }
        Err(BatchError::Lines { errors, bad }) => {
            assert_eq!(bad, 1);
            Err(errors[0].error.clone())
        }
        Err(e) => panic!("{e:?}"),
    }
}

fn err(line: &str) -> String {
    one(line).map(|p| format!("accepted: {:?}", p.addr)).unwrap_err()
}

#[test]
fn the_three_address_forms_of_the_issue() {
    let p = one(r#"{"msisdn":"+34600000005","ipv4":"10.1.2.3"}"#).unwrap();
    assert_eq!(p.addr, BindingAddr::Ipv4("10.1.2.3".parse().unwrap()));
    assert_eq!(p.domain, "default");
    assert_eq!(p.binding.msisdn, Msisdn::parse("+34600000005").unwrap());
    assert_eq!(p.binding.source, Source::Provisioning);
    assert_eq!(p.binding.since, NOW);
    assert_eq!(p.ttl, Duration::from_secs(DEFAULT_TTL_S));

    let p = one(r#"{"msisdn":"+34600000006","public_ipv4":"198.51.100.7","ports":"40000-40255"}"#).unwrap();
    assert_eq!(p.addr, BindingAddr::PortBlock { public: "198.51.100.7".parse().unwrap(), lo: 40000, hi: 40255 });

    let p = one(r#"{"msisdn":"+34600000007","ipv6_prefix":"2001:db8:1:2::/64"}"#).unwrap();
    assert_eq!(p.addr, BindingAddr::Ipv6Prefix("2001:db8:1:2::".parse().unwrap()));
}

#[test]
fn optional_fields() {
    let p = one(
        r#"{"msisdn":"+34600000005","ipv4":"10.1.2.3","imsi":"214010123456789","imeisv":"3534900698733201","domain":"internet.apn","ttl_s":3600}"#,
    )
    .unwrap();
    assert_eq!(p.domain, "internet.apn");
    assert_eq!(p.ttl, Duration::from_secs(3600));
    assert_eq!(p.binding.imsi.as_deref(), Some("214010123456789"));
    assert_eq!(p.binding.imeisv.as_deref(), Some("3534900698733201"));
    let p = one(r#"{"msisdn":"+34600000006","public_ipv4":"198.51.100.7","ports":"40000","valid_from":1699999000,"valid_until":1700000600,"ttl_s":86400}"#).unwrap();
    assert_eq!(p.addr, BindingAddr::PortBlock { public: "198.51.100.7".parse().unwrap(), lo: 40000, hi: 40000 });
    assert_eq!((p.binding.valid_from, p.binding.valid_until), (Some(1_699_999_000), Some(1_700_000_600)));
    assert_eq!(p.ttl, Duration::from_secs(600), "the record leaves the store when its window ends");
}

#[test]
fn hostile_json() {
    assert!(err("{").contains("not a binding record"));
    assert!(err("[]").contains("not a binding record"));
    assert!(err(r#"{"msisdn":"+34600000005","ipv4":"10.1.2.3","msisdn_hint":"x"}"#).contains("unknown field"));
    assert!(err(r#"{"ipv4":"10.1.2.3"}"#).contains("missing field `msisdn`"));
    assert!(err(r#"{"msisdn":"+34600000005","ipv4":"10.1.2.3","ttl_s":-5}"#).contains("not a binding record"));
    assert!(
        err(r#"{"msisdn":"+34600000005","ipv4":"10.1.2.3"} {"x":1}"#).contains("not a binding record"),
        "one object per line"
    );
    // A duplicated key is refused by serde (no last-one-wins).
    assert!(err(r#"{"msisdn":"+34600000005","ipv4":"10.1.2.3","ipv4":"10.1.2.4"}"#).contains("duplicate field"));
}

#[test]
fn exactly_one_address() {
    let m = r#""msisdn":"+34600000005""#;
    assert!(err(&format!("{{{m}}}")).contains("no address"));
    assert!(err(&format!(r#"{{{m},"ipv4":"10.1.2.3","ipv6_prefix":"2001:db8:1:2::/64"}}"#))
        .contains("more than one address"));
    assert!(err(&format!(r#"{{{m},"ipv4":"10.1.2.3","public_ipv4":"198.51.100.7","ports":"1-2"}}"#))
        .contains("more than one"));
    assert!(err(&format!(r#"{{{m},"public_ipv4":"198.51.100.7"}}"#)).starts_with("ports:"));
    assert!(err(&format!(r#"{{{m},"ports":"1-2"}}"#)).starts_with("public_ipv4:"));
    assert!(err(&format!(r#"{{{m},"ipv4":"10.1.2.3","ports":"1-2"}}"#)).starts_with("ports:"));
}

#[test]
fn ports() {
    assert_eq!(parse_ports("1-65535").unwrap(), (1, 65535));
    assert_eq!(parse_ports("40000").unwrap(), (40000, 40000));
    assert_eq!(parse_ports(" 40000 - 40255 ").unwrap(), (40000, 40255));
    for bad in [
        "0-10",
        "0",
        "1-65536",
        "65536",
        "40255-40000",
        "",
        "-",
        "1-",
        "-5",
        "+5-6",
        "1-2-3",
        "a-b",
        "1e3",
        "0x10",
        "99999999999",
    ] {
        let e = parse_ports(bad).unwrap_err().to_string();
        assert!(e.starts_with("ports:"), "{bad}: {e}");
    }
    assert!(parse_ports("40255-40000").unwrap_err().to_string().contains("reversed"));
    assert!(parse_ports("65536").unwrap_err().to_string().contains("outside 1-65535"));
    assert!(parse_ports("0").unwrap_err().to_string().contains("outside 1-65535"));
}

#[test]
fn ipv6_prefixes_are_slash_64() {
    assert!(parse_ipv6_prefix("2001:db8:1:2::/64").is_ok());
    assert!(parse_ipv6_prefix("::/64").is_ok(), "the loopback /64 stays bindable for tests");
    for (bad, why) in [
        ("2001:db8::/48", "/48"),
        ("2001:db8:1:2::/128", "/128"),
        ("2001:db8:1:2::/064", "/064"),
        ("2001:db8:1:2::", "a /64 prefix is needed"),
        ("2001:db8:1:2::5/64", "host bits"),
        ("2001:db8:1:2:0:0:0:1/64", "host bits"),
        ("fe80::/64", "link-local"),
        ("ff02::/64", "multicast"),
        ("10.1.2.3/64", "not an IPv6"),
        ("2001:db8:1:2::/", "/:"),
    ] {
        let e = parse_ipv6_prefix(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn fields() {
    let with = |extra: &str| err(&format!(r#"{{"msisdn":"+34600000005","ipv4":"10.1.2.3",{extra}}}"#));
    for m in [
        "34600000005",
        "+034600000005",
        "+3460",
        "+3460000000512345",
        "+34 600000005",
        "tel:+34600000005",
        "",
        "+١٢٣٤٥٦",
    ] {
        let e = err(&format!(r#"{{"msisdn":"{m}","ipv4":"10.1.2.3"}}"#));
        assert!(e.starts_with("msisdn: not E.164"), "{m}: {e}");
        assert!(!e.contains("600000005"), "the number is not echoed: {e}");
    }
    for a in ["0.0.0.0", "255.255.255.255", "224.0.0.1", "10.1.2", "10.1.2.3.4", "010.1.2.3", "::1", " 10.1.2.3"] {
        assert!(err(&format!(r#"{{"msisdn":"+34600000005","ipv4":"{a}"}}"#)).starts_with("ipv4:"), "{a}");
    }
    assert!(with(r#""imsi":"12345""#).starts_with("imsi: 6 to 15"));
    assert!(with(r#""imsi":"1234567890123456""#).starts_with("imsi:"));
    assert!(with(r#""imsi":"21401012345678x""#).starts_with("imsi:"));
    assert!(with(r#""imeisv":"353490069873320""#).starts_with("imeisv: 16"));
    assert!(with(r#""domain":"""#).starts_with("domain:"));
    assert!(with(r#""domain":"a{b}""#).starts_with("domain:"));
    assert!(with(&format!(r#""domain":"{}""#, "d".repeat(65))).starts_with("domain:"));
    assert!(with(r#""ttl_s":59"#).starts_with("ttl_s:"));
    assert!(with(&format!(r#""ttl_s":{}"#, MAX_TTL_S + 1)).starts_with("ttl_s:"));
    assert!(one(&format!(r#"{{"msisdn":"+34600000005","ipv4":"10.1.2.3","ttl_s":{MAX_TTL_S}}}"#)).is_ok());
    assert!(with(r#""valid_until":1699999999"#).contains("already past"));
    assert!(with(r#""valid_from":1700000100,"valid_until":1700000100"#).contains("after valid_from"));
    assert!(with(r#""valid_until":1700000000000"#).contains("milliseconds"));
    assert!(with(r#""valid_from":-1"#).starts_with("valid_from:"));
}

#[test]
fn lines_blank_crlf_bom_and_numbers() {
    let body = "\u{feff}{\"msisdn\":\"+34600000005\",\"ipv4\":\"10.1.2.3\"}\r\n\r\n   \n{\"msisdn\":\"+34600000006\",\"ipv4\":\"10.1.2.4\"}\n";
    assert_eq!(parse_batch(body.as_bytes(), Format::Ndjson, "d", NOW).unwrap().len(), 2);
    assert!(parse_batch(b"", Format::Ndjson, "d", NOW).unwrap().is_empty());

    let body = "{\"msisdn\":\"+34600000005\",\"ipv4\":\"10.1.2.3\"}\n\n{\"msisdn\":\"+34600000006\",\"ipv4\":\"10.1.2.300\"}\nnope\n";
    let Err(BatchError::Lines { errors, bad }) = parse_batch(body.as_bytes(), Format::Ndjson, "d", NOW) else {
        panic!()
    };
    assert_eq!(bad, 2);
    assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3, 4], "lines count blank lines too");
    assert!(errors[0].error.starts_with("ipv4:"));
}

#[test]
fn huge_and_binary_lines() {
    let huge = format!(r#"{{"msisdn":"+34600000005","ipv4":"10.1.2.3","domain":"{}"}}"#, "a".repeat(10 << 20));
    let Err(BatchError::Lines { errors, .. }) = parse_batch(huge.as_bytes(), Format::Ndjson, "d", NOW) else {
        panic!()
    };
    assert!(errors[0].error.contains("at most 2048"), "{}", errors[0].error);
    let Err(BatchError::Lines { errors, .. }) = parse_batch(b"{\"msisdn\":\"\xff\xfe\"}", Format::Ndjson, "d", NOW)
    else {
        panic!()
    };
    assert_eq!(errors[0].error, "not UTF-8");
    let deep = "[".repeat(1000);
    assert!(parse_batch(deep.as_bytes(), Format::Ndjson, "d", NOW).is_err());
}

#[test]
fn a_bad_batch_lists_at_most_the_first_errors_and_counts_all() {
    let body = "x\n".repeat(1000);
    let Err(BatchError::Lines { errors, bad }) = parse_batch(body.as_bytes(), Format::Ndjson, "d", NOW) else {
        panic!()
    };
    assert_eq!((errors.len(), bad), (MAX_REPORTED_ERRORS, 1000));
    assert_eq!(errors[0].line, 1);
}

#[test]
fn too_many_lines() {
    let body: String = (0..=MAX_BATCH_LINES)
        .map(|i| {
            format!("{{\"msisdn\":\"+3460{:07}\",\"ipv4\":\"10.{}.{}.{}\"}}\n", i, i >> 16 & 255, i >> 8 & 255, i & 255)
        })
        .collect();
    assert_eq!(parse_batch(body.as_bytes(), Format::Ndjson, "d", NOW).unwrap_err(), BatchError::TooManyLines);
    let ok = body.split_inclusive('\n').take(MAX_BATCH_LINES).collect::<String>();
    assert_eq!(parse_batch(ok.as_bytes(), Format::Ndjson, "d", NOW).unwrap().len(), MAX_BATCH_LINES);
}

#[test]
fn duplicates_and_overlapping_port_blocks_refuse_the_batch() {
    let body = r#"{"msisdn":"+34600000005","ipv4":"10.1.2.3"}
{"msisdn":"+34600000006","ipv4":"10.1.2.3"}
{"msisdn":"+34600000006","ipv4":"10.1.2.3","domain":"other"}
{"msisdn":"+34600000007","public_ipv4":"198.51.100.7","ports":"40000-40255"}
{"msisdn":"+34600000008","public_ipv4":"198.51.100.7","ports":"40256-40511"}
{"msisdn":"+34600000009","public_ipv4":"198.51.100.7","ports":"40511"}
{"msisdn":"+34600000010","public_ipv4":"198.51.100.8","ports":"40000-40255"}
{"msisdn":"+34600000011","ipv6_prefix":"2001:db8:1:2::/64"}
{"msisdn":"+34600000012","ipv6_prefix":"2001:db8:1:2:0::/64"}
{"msisdn":"+34600000013","ipv4":"198.51.100.8"}
"#;
    let Err(BatchError::Lines { errors, bad }) = parse_batch(body.as_bytes(), Format::Ndjson, "d", NOW) else {
        panic!()
    };
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 5, 6, 7, 9], "{errors:?}");
    assert_eq!(bad, 5);
    assert_eq!(errors[0].error, "the same address as line 1");
    assert_eq!(errors[1].error, "port block overlaps line 6");
    assert_eq!(errors[2].error, "port block overlaps line 5");
    assert!(errors[3].error.contains("bound whole on line 10"), "{errors:?}");
    assert_eq!(errors[4].error, "the same address as line 8");

    // One wide block overlapping several: every one of them is named.
    let body = r#"{"msisdn":"+34600000007","public_ipv4":"198.51.100.7","ports":"40000-40255"}
{"msisdn":"+34600000008","public_ipv4":"198.51.100.7","ports":"1024-65535"}
{"msisdn":"+34600000009","public_ipv4":"198.51.100.7","ports":"50000-50255"}
{"msisdn":"+34600000010","public_ipv4":"198.51.100.7","ports":"1-1023"}
"#;
    let Err(BatchError::Lines { errors, bad }) = parse_batch(body.as_bytes(), Format::Ndjson, "d", NOW) else {
        panic!()
    };
    assert_eq!(bad, 3);
    assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![1, 2, 3]);
}

#[test]
fn csv() {
    let body = "msisdn,ipv4,public_ipv4,ports,ipv6_prefix,imsi,ttl_s\r\n\
                +34600000005,10.1.2.3,,,,,\r\n\
                \"+34600000006\",,198.51.100.7,40000-40255,,214010123456789,3600\r\n\
                \n\
                +34600000007, , , , 2001:db8:1:2::/64 ,,\r\n";
    let v = parse_batch(body.as_bytes(), Format::Csv, "d", NOW).unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(v[1].addr, BindingAddr::PortBlock { public: "198.51.100.7".parse().unwrap(), lo: 40000, hi: 40255 });
    assert_eq!(v[1].binding.imsi.as_deref(), Some("214010123456789"));
    assert_eq!(v[1].ttl, Duration::from_secs(3600));
    assert_eq!(v[2].addr, BindingAddr::Ipv6Prefix("2001:db8:1:2::".parse().unwrap()));

    let refused = |body: &str| match parse_batch(body.as_bytes(), Format::Csv, "d", NOW) {
        Err(BatchError::Lines { errors, .. }) => errors,
        other => panic!("{other:?}"),
    };
    assert!(refused("msisdn,ip\n+34600000005,10.1.2.3\n")[0].error.contains("unknown column"));
    assert!(refused("ipv4\n10.1.2.3\n")[0].error.contains("msisdn column is required"));
    assert!(refused("msisdn,ipv4,ipv4\n")[0].error.contains("twice"));
    let e = refused(
        "msisdn,ipv4\n+34600000005,10.1.2.3,extra\n+34600000006\n+34600000007,\"10.1\"\"2\"\n+34600000008,10.1.2.4\n",
    );
    assert_eq!(e.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 3, 4]);
    assert!(e[0].error.contains("3 fields, the header has 2"));
    assert!(e[2].error.contains("quotes"));
    assert!(refused("msisdn,ipv4,ttl_s\n+34600000005,10.1.2.3,soon\n")[0].error.starts_with("ttl_s:"));
    assert!(refused("msisdn,ipv4,ttl_s\n+34600000005,10.1.2.3,-1\n")[0].error.starts_with("ttl_s:"));
    assert!(refused("msisdn,ipv4\n,10.1.2.3\n")[0].error.starts_with("msisdn: missing"));
}

#[test]
fn admin_queries() {
    let q = |s: &str| -> AddressQuery { serde_json::from_str(s).unwrap() };
    assert_eq!(
        q(r#"{"ip":"198.51.100.7","port":40001}"#).target().unwrap(),
        Target::Source { ip: "198.51.100.7".parse().unwrap(), port: Some(40001) }
    );
    assert_eq!(
        q(r#"{"ip":"::ffff:10.1.2.3"}"#).target().unwrap(),
        Target::Source { ip: "10.1.2.3".parse().unwrap(), port: None },
        "IPv4-mapped sources are IPv4"
    );
    assert_eq!(
        q(r#"{"public_ipv4":"198.51.100.7","ports":"40000-40255"}"#).target().unwrap(),
        Target::Exact(BindingAddr::PortBlock { public: "198.51.100.7".parse().unwrap(), lo: 40000, hi: 40255 })
    );
    assert!(q(r#"{"ip":"10.1.2.3","ipv4":"10.1.2.3"}"#).target().is_err());
    assert!(q(r#"{"port":40001}"#).target().is_err());
    assert!(q(r#"{}"#).target().is_err());
    assert!(q(r#"{"ip":"10.1.2.3","domain":"a b"}"#).target().is_err());
}

fn provisioner(token: &str) -> Provisioner {
    let clock: Arc<dyn Clock> = Arc::new(numbat_core::ManualClock::default());
    Provisioner::new(Bindings::new(Arc::new(MemoryStore::new())), "default", clock, token)
}

#[test]
fn admin_token() {
    let p = provisioner("s3cret-admin");
    assert!(p.authenticate(Some("s3cret-admin")).is_ok());
    assert!(matches!(p.authenticate(Some("s3cret-admiN")), Err(ProvisioningError::Unauthorized { presented: true })));
    assert!(matches!(p.authenticate(Some("")), Err(ProvisioningError::Unauthorized { presented: true })));
    assert!(matches!(p.authenticate(None), Err(ProvisioningError::Unauthorized { presented: false })));
    assert!(matches!(provisioner("").authenticate(Some("")), Err(ProvisioningError::Disabled)));
}

#[tokio::test]
async fn import_find_delete() {
    let p = provisioner("t");
    let body = r#"{"msisdn":"+34600000005","ipv4":"10.1.2.3"}
{"msisdn":"+34600000006","public_ipv4":"198.51.100.7","ports":"40000-40255"}
{"msisdn":"+34600000007","ipv6_prefix":"2001:db8:1:2::/64","domain":"ims"}
"#;
    let r = p.import(body.as_bytes().to_vec(), Format::Ndjson, None).await.unwrap();
    assert_eq!((r.imported, r.ipv4, r.port_blocks, r.ipv6_prefixes), (3, 1, 1, 1));
    let find = |json: &str| {
        let q: AddressQuery = serde_json::from_str(json).unwrap();
        let p = &p;
        async move { p.find(&q).await.map(|(d, b)| (d, b.msisdn.as_str().to_owned())) }
    };
    assert_eq!(find(r#"{"ip":"10.1.2.3"}"#).await.unwrap(), ("default".into(), "+34600000005".into()));
    assert_eq!(find(r#"{"ip":"198.51.100.7","port":40100}"#).await.unwrap().1, "+34600000006");
    assert!(matches!(find(r#"{"ip":"198.51.100.7"}"#).await, Err(ProvisioningError::NotFound)), "CGNAT needs the port");
    assert!(matches!(find(r#"{"ip":"2001:db8:1:2::9"}"#).await, Err(ProvisioningError::NotFound)), "other domain");
    assert_eq!(find(r#"{"ip":"2001:db8:1:2::9","domain":"ims"}"#).await.unwrap().1, "+34600000007");
    assert_eq!(find(r#"{"public_ipv4":"198.51.100.7","ports":"40000-40255"}"#).await.unwrap().1, "+34600000006");

    let q: AddressQuery = serde_json::from_str(r#"{"ip":"198.51.100.7","port":40100}"#).unwrap();
    assert!(p.delete(&q).await.is_err(), "a port block is deleted by its exact address");
    let q: AddressQuery = serde_json::from_str(r#"{"public_ipv4":"198.51.100.7","ports":"40000-40255"}"#).unwrap();
    p.delete(&q).await.unwrap();
    assert!(matches!(p.delete(&q).await, Err(ProvisioningError::NotFound)));
    assert!(matches!(find(r#"{"ip":"198.51.100.7","port":40100}"#).await, Err(ProvisioningError::NotFound)));

    // A bad line refuses the batch: nothing of it is written.
    let body = "{\"msisdn\":\"+34600000008\",\"ipv4\":\"10.1.2.8\"}\n{\"msisdn\":\"+34600000009\",\"ipv4\":\"10.1.2.9\",\"x\":1}\n";
    match p.import(body.as_bytes().to_vec(), Format::Ndjson, None).await {
        Err(ProvisioningError::Batch { errors, bad }) => assert_eq!((errors[0].line, bad), (2, 1)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(find(r#"{"ip":"10.1.2.8"}"#).await, Err(ProvisioningError::NotFound)));

    let one = p.upsert_json(br#"{"msisdn":"+34600000008","ipv4":"10.1.2.8"}"#).await.unwrap();
    assert_eq!(one.addr, BindingAddr::Ipv4("10.1.2.8".parse().unwrap()));
    assert_eq!(find(r#"{"ip":"10.1.2.8"}"#).await.unwrap().1, "+34600000008");
    assert!(p.upsert_json(br#"{"msisdn":"+34600000008","ipv4":"10.1.2.8"}{}"#).await.is_err());
}
