//! The `enamel-sim` binary prints exactly one line once it is ready, and serves there.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn prints_where_it_listens_once_ready() {
    for pms in ["opendental", "tdental"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_enamel-sim"))
            .args([pms, "--scale", "small", "--seed", "3", "--port", "0"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).expect("one line");
        let url =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected line {line:?}")).to_owned();
        assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
        let port: u16 = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
        let state = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        let _ = child.kill();
        let _ = child.wait();
        assert!(state, "{pms}: nothing listens on {url}");
    }
}
