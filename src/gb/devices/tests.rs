use super::*;

fn id(s: &str) -> DeviceId {
    s.parse().unwrap()
}

fn line_err(text: &str) -> (usize, String) {
    let e = Devices::parse(text).unwrap_err();
    (e.line, e.message)
}

#[test]
fn reads_csv_rows_with_optional_channels_and_transport() {
    let text = "\
# fleet for the wvp test
device-id,password,channels,transport
34020000001320000001,pw1
34020000001320000002, pw2 ,4
34020000001320000003,pw3,,tcp   # a TCP camera
34020000001320000004,\"a,b#c \"\"q\"\"\",2,UDP

34020000001320000005 secret5
";
    let d = Devices::parse(text).unwrap();
    assert_eq!(d.len(), 5);
    assert_eq!(d.id(0), Some(id("34020000001320000001")));
    assert_eq!(d.password(0), Some("pw1"));
    assert_eq!(d.password(1), Some("pw2"));
    assert_eq!(d.password(3), Some("a,b#c \"q\""));
    assert_eq!(d.password(4), Some("secret5"));
    assert_eq!(d.password(5), None);
    assert_eq!(
        (0..5).map(|i| d.channels(i)).collect::<Vec<_>>(),
        [None, Some(4), None, Some(2), None]
    );
    assert_eq!(
        (0..5).map(|i| d.transport(i)).collect::<Vec<_>>(),
        [None, None, Some(Transport::Tcp), Some(Transport::Udp), None]
    );
    assert!(d.names_transports());
    assert_eq!(d.transport_counts(Transport::Udp), (4, 1));
    assert_eq!(d.transport_counts(Transport::Tcp), (1, 4));
    assert_eq!(d.index_of(&id("34020000001320000004")), Some(3));
    assert_eq!(d.index_of(&id("34020000001320000009")), None);
}

#[test]
fn errors_name_the_line_and_what_is_wrong() {
    let ok = "34020000001320000001,pw\n";
    assert_eq!(
        line_err(&format!("{ok}3402000000132000000x,pw\n")),
        (
            2,
            "`3402000000132000000x` is not a device ID: character 20 of the ID is not a digit"
                .into()
        )
    );
    assert_eq!(
        line_err(&format!("# c\n{ok}34020000001320000002\n")),
        (
            3,
            "1 field; expected `device-id,password[,channels[,transport]]`".into()
        )
    );
    assert_eq!(
        line_err("34020000001320000002,pw,1,udp,x\n"),
        (
            1,
            "more than 4 fields; expected `device-id,password[,channels[,transport]]`".into()
        )
    );
    assert_eq!(
        line_err("34020000001320000002,\n"),
        (1, "the password of 34020000001320000002 is empty".into())
    );
    assert_eq!(
        line_err("34020000001320000002,pw,many\n"),
        (1, "`many` is not a channel count (0 to 9999999)".into())
    );
    assert_eq!(
        line_err("34020000001320000002,pw,10000000\n"),
        (1, "`10000000` is not a channel count (0 to 9999999)".into())
    );
    assert_eq!(
        line_err("34020000001320000002,pw,1,sctp\n"),
        (1, "`sctp` is not a transport (udp or tcp)".into())
    );
    assert_eq!(
        line_err("34020000001320000002,\"pw\n"),
        (1, "a quote is not closed".into())
    );
    assert_eq!(
        line_err("34020000001320000002,\"pw\"x\n"),
        (
            1,
            "text after a closing quote (put the whole field in quotes)".into()
        )
    );
    assert_eq!(
        line_err(&format!("{ok}\n# again:\n34020000001320000001,other\n")),
        (
            4,
            "device 34020000001320000001 is listed again (first on line 1)".into()
        )
    );
    assert_eq!(line_err("# nothing\n\n"), (0, "no devices listed".into()));
    // A header is only a header on the first row.
    assert_eq!(line_err(&format!("{ok}id,password\n")).0, 2);
}

#[test]
fn load_names_the_file_and_line() {
    let dir = std::env::temp_dir().join(format!("gbswarm-devices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fleet.csv");
    std::fs::write(
        &path,
        "34020000001320000001,pw\n34020000001320000002,pw,x\n",
    )
    .unwrap();
    let e = Devices::load(&path).unwrap_err();
    assert_eq!(
        e,
        format!(
            "{}:2: `x` is not a channel count (0 to 9999999)",
            path.display()
        )
    );
    std::fs::write(&path, "").unwrap();
    assert_eq!(
        Devices::load(&path).unwrap_err(),
        format!("{}: no devices listed", path.display())
    );
    let e = Devices::load(&dir.join("absent.csv")).unwrap_err();
    assert!(e.starts_with("cannot read "), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shards_split_rows_as_ranges_split_ids() {
    let text: String = (1..=10)
        .map(|i| format!("340200000013200000{i:02},pw{i},{i}\n"))
        .collect();
    let d = Devices::parse(&text).unwrap();
    let range = IdRange::new("3402000000132", 1, 10).unwrap();
    let mut rows = Vec::new();
    for k in 0..3 {
        let s = d.shard(k, 3);
        assert_eq!(s.len() as u64, range.shard(k, 3).len());
        assert_eq!(s.ids(), range.shard(k, 3).iter().collect::<Vec<_>>());
        for i in 0..s.len() {
            let row = (s.id(i).unwrap().number() % 100) as usize;
            // Each row keeps its own password and channels, and is found by ID in its shard.
            assert_eq!(s.password(i), Some(format!("pw{row}").as_str()));
            assert_eq!(s.channels(i), Some(row as u32));
            assert_eq!(s.index_of(&s.id(i).unwrap()), Some(i));
            rows.push(row);
        }
    }
    assert_eq!(rows, (1..=10).collect::<Vec<_>>());
    let ids = Ids::Listed(Arc::new(d));
    assert_eq!(ids.shard(2, 3).len(), 3);
    assert_eq!(
        ids.index_of(&id("34020000001320000007")),
        Some(6),
        "row 7 is index 6"
    );
    let r = Ids::from(range);
    assert_eq!(r.index_of(&id("34020000001320000007")), Some(6));
    assert_eq!(r.index_of(&id("34020000001320000011")), None);
    assert_eq!(r.index_of(&id("34020000001320000000")), None);
}

#[test]
fn a_hundred_thousand_rows() {
    let mut text = String::with_capacity(100_000 * 48);
    for i in 0..100_000u64 {
        let t = ["", "udp", "tcp"][(i % 3) as usize];
        text.push_str(&format!("3402000000132{i:07},pw-{i},{},{t}\n", 1 + i % 8));
    }
    let d = Devices::parse(&text).unwrap();
    assert_eq!(d.len(), 100_000);
    assert_eq!(d.password(99_999), Some("pw-99999"));
    assert_eq!(d.channels(12_345), Some(1 + 12_345 % 8));
    assert_eq!(d.transport(2), Some(Transport::Tcp));
    assert_eq!(d.transport_counts(Transport::Udp), (66_667, 33_333));
    for i in [0usize, 1, 50_000, 99_999] {
        assert_eq!(d.index_of(&d.id(i).unwrap()), Some(i));
    }
    let map = d.password_map();
    assert_eq!(map.len(), 100_000);
    assert_eq!(
        map.get(&id("34020000001320054321")).map(String::as_str),
        Some("pw-54321")
    );
    let shards: Vec<Devices> = (0..7).map(|k| d.shard(k, 7)).collect();
    assert_eq!(shards.iter().map(Devices::len).sum::<usize>(), 100_000);
    assert_eq!(shards[6].password(shards[6].len() - 1), Some("pw-99999"));
}
