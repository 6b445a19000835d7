//! Random profiles, random `seccomp_data`: the compiled program's verdict
//! must equal a direct reading of the profile's rules (`reference`), which
//! shares nothing with the code generator but the parsed profile.

use std::collections::HashMap;

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

use super::abi::{
    Abi, AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT,
};
use super::codegen::{generate, RET_BAD_ARCH};
use super::error::SeccompError;
use super::interp::{run, SeccompData};
use super::rules::{Cond, Op, Profile, Rule, ENOSYS, RET_ERRNO};

/// xorshift64*: deterministic, so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const VALUES: [u64; 10] = [
    0,
    1,
    7,
    8,
    0xffff_fffe,
    0xffff_ffff,
    1 << 32,
    (1 << 32) | 8,
    u64::MAX - 1,
    u64::MAX,
];

fn value(rng: &mut Rng) -> u64 {
    if rng.below(4) == 0 {
        rng.next()
    } else {
        *rng.pick(&VALUES)
    }
}

fn names(native: Abi) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = match native {
        Abi::Aarch64 => syscalls::aarch64::Sysno::iter()
            .map(|s| s.name())
            .chain(syscalls::arm::Sysno::iter().map(|s| s.name()))
            .collect(),
        _ => syscalls::x86_64::Sysno::iter()
            .map(|s| s.name())
            .chain(syscalls::x86::Sysno::iter().map(|s| s.name()))
            .collect(),
    };
    names.push("no_such_syscall");
    names
}

fn random_profile(rng: &mut Rng, native: Abi, pool: &[&str]) -> Value {
    let actions = [
        json!({"action": "SCMP_ACT_ALLOW"}),
        json!({"action": "SCMP_ACT_ERRNO"}),
        json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 38}),
        json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 22}),
        json!({"action": "SCMP_ACT_KILL_PROCESS"}),
        json!({"action": "SCMP_ACT_TRAP"}),
        json!({"action": "SCMP_ACT_LOG"}),
    ];
    let ops = [
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    let mut syscalls = Vec::new();
    for _ in 0..rng.below(60) {
        if rng.below(6) == 0 {
            // Consecutive rules allowing one value each of one argument
            // (Docker's personality personas): a set test.
            let names: Vec<&str> = (0..1 + rng.below(3)).map(|_| *rng.pick(pool)).collect();
            let action = rng.pick(&actions).clone();
            let index = rng.below(6);
            for _ in 0..1 + rng.below(6) {
                let mut rule = action.clone();
                rule["names"] = json!(names);
                rule["args"] = json!([{"index": index, "value": value(rng), "op": "SCMP_CMP_EQ"}]);
                syscalls.push(rule);
            }
            continue;
        }
        let mut rule = rng.pick(&actions).clone();
        let names: Vec<&str> = match rng.below(3) {
            // A run of neighbouring numbers with holes: spans that merge
            // named and unnamed numbers, and conditions inside a span.
            0 => {
                let start = rng.below(pool.len());
                let len = 1 + rng.below(60);
                pool[start..pool.len().min(start + len)]
                    .iter()
                    .copied()
                    .filter(|_| rng.below(5) != 0)
                    .collect()
            }
            1 => (0..1 + rng.below(40)).map(|_| *rng.pick(pool)).collect(),
            _ => (0..1 + rng.below(3)).map(|_| *rng.pick(pool)).collect(),
        };
        rule["names"] = json!(names);
        // Few distinct conditions, so that neighbours share a verdict.
        let common = rng.below(2) == 0;
        let args: Vec<Value> = (0..rng.below(3))
            .map(|_| {
                if common {
                    json!({"index": rng.below(2), "value": rng.below(3),
                           "op": rng.pick(&["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT"])})
                } else {
                    json!({"index": rng.below(6), "value": value(rng),
                           "valueTwo": value(rng), "op": rng.pick(&ops)})
                }
            })
            .collect();
        if !args.is_empty() {
            rule["args"] = json!(args);
        }
        syscalls.push(rule);
    }
    let all_arches: &[&str] = match native {
        Abi::Aarch64 => &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X86"],
        _ => &[
            "SCMP_ARCH_X86_64",
            "SCMP_ARCH_X86",
            "SCMP_ARCH_X32",
            "SCMP_ARCH_ARM",
        ],
    };
    let arches: Vec<&str> = all_arches
        .iter()
        .copied()
        .filter(|_| rng.below(2) == 0)
        .collect();
    let default = rng.pick(&actions);
    json!({
        "defaultAction": default["action"],
        "defaultErrnoRet": default.get("errnoRet"),
        "architectures": arches,
        "syscalls": syscalls,
    })
}

fn holds(cond: &Cond, arg: u64, wide: bool) -> bool {
    let narrow = |v: u64| if wide { v } else { v & 0xffff_ffff };
    let (arg, value) = (narrow(arg), narrow(cond.value));
    match cond.op {
        Op::Ne => arg != value,
        Op::Lt => arg < value,
        Op::Le => arg <= value,
        Op::Eq => arg == value,
        Op::Ge => arg >= value,
        Op::Gt => arg > value,
        Op::MaskedEq { mask } => arg & narrow(mask) == value,
    }
}

/// For one ABI: the rules per syscall number, and the largest number named.
type AbiRules<'a> = (Abi, HashMap<u32, Vec<&'a Rule>>, Option<u32>);

/// The profile's rules per ABI and number, resolved once.
struct Reference<'a> {
    profile: &'a Profile<'a>,
    by_abi: Vec<AbiRules<'a>>,
}

impl<'a> Reference<'a> {
    fn new(profile: &'a Profile<'a>) -> Self {
        let all = [Abi::X86_64, Abi::X32, Abi::I386, Abi::Aarch64, Abi::Arm];
        let by_abi = all
            .into_iter()
            .map(|abi| {
                let mut rules: HashMap<u32, Vec<&Rule>> = HashMap::new();
                for (name, rule) in profile.named_rules() {
                    if let Some(nr) = abi.resolve(name) {
                        rules.entry(nr).or_default().push(rule);
                    }
                }
                let max = profile
                    .names
                    .iter()
                    .filter_map(|(n, _)| abi.resolve(n))
                    .max();
                (abi, rules, max)
            })
            .collect();
        Self { profile, by_abi }
    }

    /// What the profile says about `data`, read directly from its rules.
    fn verdict(&self, data: &SeccompData) -> u32 {
        let profile = self.profile;
        let has = |abi| profile.abis.contains(&abi);
        let abi = if data.arch == AUDIT_ARCH_X86_64 && has(Abi::X86_64) {
            match (data.nr & X32_SYSCALL_BIT != 0, has(Abi::X32)) {
                (false, _) => Abi::X86_64,
                (true, true) => Abi::X32,
                (true, false) => return RET_BAD_ARCH,
            }
        } else {
            match profile
                .abis
                .iter()
                .find(|a| **a != Abi::X32 && a.audit_arch() == data.arch)
            {
                Some(abi) => *abi,
                None => return RET_BAD_ARCH,
            }
        };
        let (_, by_nr, max) = self.by_abi.iter().find(|(a, _, _)| *a == abi).unwrap();
        if profile.wants_enosys_stub() && max.is_some_and(|max| data.nr > max) {
            return RET_ERRNO | ENOSYS;
        }
        let rules = by_nr.get(&data.nr).map(Vec::as_slice).unwrap_or_default();
        let conditional = rules.iter().filter(|r| !r.conds.is_empty());
        let unconditional = rules.iter().find(|r| r.conds.is_empty());
        let wide = abi.is_64bit();
        for rule in conditional.chain(unconditional) {
            if rule
                .conds
                .iter()
                .all(|c| holds(c, data.args[c.index as usize], wide))
            {
                return rule.action;
            }
        }
        profile.default_action
    }
}

fn random_data(rng: &mut Rng, profile: &Profile) -> SeccompData {
    let arches = [
        AUDIT_ARCH_X86_64,
        AUDIT_ARCH_I386,
        AUDIT_ARCH_AARCH64,
        AUDIT_ARCH_ARM,
        rng.next() as u32,
    ];
    let arch = *rng.pick(&arches);
    let abi = *rng.pick(&[Abi::X86_64, Abi::X32, Abi::I386, Abi::Aarch64, Abi::Arm]);
    let mut nr = match rng.below(4) {
        0 => rng.below(600) as u32 | [0, X32_SYSCALL_BIT][rng.below(2)],
        1 => rng.next() as u32,
        _ if profile.names.is_empty() => 0,
        _ => {
            let (name, _) = rng.pick(&profile.names);
            abi.resolve(name).unwrap_or(0)
        }
    };
    // The edges of spans: a named number's neighbours.
    match rng.below(8) {
        0 => nr = nr.wrapping_add(1),
        1 => nr = nr.wrapping_sub(1),
        _ => {}
    }
    let args: Vec<u64> = (0..6).map(|_| value(rng)).collect();
    SeccompData::new(arch, nr, &args)
}

#[test]
fn compiled_programs_agree_with_the_rules() {
    for native in [Abi::X86_64, Abi::Aarch64] {
        let pool = names(native);
        for seed in 1..=200u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let json = random_profile(&mut rng, native, &pool);
            let spec: LinuxSeccomp = serde_json::from_value(json.clone()).unwrap();
            let profile = Profile::from_oci(&spec, native).unwrap();
            let prog = match generate(&profile) {
                Ok(prog) => prog,
                Err(SeccompError::TooLong { .. }) => continue,
                Err(e) => panic!("seed {seed}: {e}"),
            };
            let reference = Reference::new(&profile);
            for _ in 0..300 {
                let data = random_data(&mut rng, &profile);
                assert_eq!(
                    run(&prog, &data),
                    reference.verdict(&data),
                    "native {native:?} seed {seed}: {data:?}\nprofile: {json}"
                );
            }
        }
    }
}
