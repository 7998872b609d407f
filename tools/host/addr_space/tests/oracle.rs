// SPDX-License-Identifier: GPL-2.0

//! The table against the kernel's own `drivers/vhost/iotlb.c` and interval
//! tree, compiled for userspace (`oracle/iotlb_oracle.c`). Needs the 7.2
//! source that `make provision` unpacks (or `RVHOST_KSRC`) and `cc`, and
//! fails without them: a comparison that did not happen is no pass.

// Tests may panic: the lints for the kernel code do not apply.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::type_complexity)]

use std::{
    fmt::Write as _,
    io::Write as _,
    path::{
        Path,
        PathBuf, //
    },
    process::{
        Command,
        Stdio, //
    },
    sync::OnceLock,
};

use proptest::prelude::*;
use rvhost_addr_space::{
    Iotlb,
    Kind,
    Map,
    Slot, //
};

fn ksrc() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RVHOST_KSRC") {
        return Some(PathBuf::from(p));
    }
    let cache = std::env::var_os("RVHOST_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            let base = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
            Some(base.join("rvhost"))
        })?;
    let mut dirs: Vec<_> = std::fs::read_dir(cache.join("src"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("drivers/vhost/iotlb.c").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// Builds the oracle once; panics if it cannot be built here.
fn oracle() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let bin = BIN.get_or_init(|| {
        let Some(k) = ksrc() else {
            return Err("no Linux 7.2 source (make provision, or set RVHOST_KSRC)".into());
        };
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("oracle");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("iotlb_oracle");
        let st = Command::new("cc")
            .args(["-O1", "-w", "-I"])
            .arg(here.join("shim"))
            .arg("-I")
            .arg(k.join("tools/include"))
            .arg("-idirafter")
            .arg(k.join("include"))
            .arg(format!(
                "-DIOTLB_C=\"{}\"",
                k.join("drivers/vhost/iotlb.c").display()
            ))
            .arg(here.join("iotlb_oracle.c"))
            .arg(k.join("tools/lib/rbtree.c"))
            .arg("-o")
            .arg(&out)
            .status();
        match st {
            Ok(s) if s.success() => Ok(out),
            r => Err(format!(
                "cannot build {} against {}: {r:?}",
                "oracle/iotlb_oracle.c",
                k.display()
            )),
        }
    });
    match bin {
        Ok(p) => p,
        Err(e) => panic!("the C oracle is needed and missing: {e}"),
    }
}

#[derive(Clone, Debug)]
enum Op {
    Add(u64, u64, u64, u8),
    Del(u64, u64),
    First(u64, u64),
}

fn show(m: &Map) -> String {
    format!("{} {} {} {}", m.start, m.last, m.addr, m.perm)
}

/// What the oracle prints for `ops`, computed with the Rust table.
fn ours(limit: u32, flags: u32, ops: &[Op]) -> String {
    let mut t: Iotlb<Vec<Slot>> = Iotlb::with_flags(Vec::new(), Kind::Iotlb, limit, flags);
    let mut out = String::new();
    for op in ops {
        match *op {
            Op::Add(s, l, a, p) => {
                let r = t
                    .add_range(s, l, a, p)
                    .map_or_else(|e| e.to_errno(), |()| 0);
                writeln!(out, "{r}").unwrap();
            }
            Op::Del(s, l) => {
                t.del_range(s, l);
                out.push_str("ok\n");
            }
            Op::First(s, l) => match t.first(s, l) {
                Some(m) => writeln!(out, "{}", show(m)).unwrap(),
                None => out.push_str("none\n"),
            },
        }
        for m in t.maps() {
            write!(out, "{};", show(m)).unwrap();
        }
        out.push('\n');
    }
    out
}

fn theirs(bin: &Path, limit: u32, flags: u32, ops: &[Op]) -> String {
    let mut input = format!("{limit} {flags}\n");
    for op in ops {
        match *op {
            Op::Add(s, l, a, p) => writeln!(input, "add {s} {l} {a} {p}"),
            Op::Del(s, l) => writeln!(input, "del {s} {l}"),
            Op::First(s, l) => writeln!(input, "first {s} {l}"),
        }
        .unwrap();
        input.push_str("list\n");
    }
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (0u64..40).prop_map(|x| x * 0x100),
        1 => (0u64..40).prop_map(|x| x * 0x100 + 0xff),
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => Just(u64::MAX / 2),
        1 => any::<u64>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (addr(), addr(), any::<u64>(), 0u8..4).prop_map(|(s, l, a, p)| Op::Add(s, l, a, p)),
        1 => (addr(), addr()).prop_map(|(s, l)| Op::Del(s, l)),
        4 => (addr(), addr()).prop_map(|(s, l)| Op::First(s, l)),
    ]
}

#[test]
fn known_sequence() {
    let bin = oracle();
    let ops = [
        Op::Add(0, 100, 5, 3),
        Op::Add(50, 60, 7, 1),
        Op::Add(0, 100, 9, 2),
        Op::First(55, 55),
        Op::Add(0, u64::MAX, 0, 3),
        Op::First(u64::MAX, 0),
        Op::Del(55, 54),
        Op::Add(5, 4, 0, 0),
        Op::Del(0, u64::MAX),
    ];
    for (limit, flags) in [(0, 1), (1, 1), (2, 0), (4, 1), (4, 0)] {
        assert_eq!(
            ours(limit, flags, &ops),
            theirs(bin, limit, flags, &ops),
            "limit {limit} flags {flags}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn same_as_kernel_iotlb_c(limit in 0u32..7, flags in 0u32..2, ops in prop::collection::vec(op(), 1..60)) {
        let bin = oracle();
        prop_assert_eq!(ours(limit, flags, &ops), theirs(bin, limit, flags, &ops));
    }
}
