//! Syscall name → number, per ABI, through hash indexes that the compiler
//! builds from the `syscalls` crate's tables.
//!
//! Building a `HashMap` of each table at every compile was a quarter of
//! compiling Docker's profile. These indexes are computed in `const`
//! context instead: 1024 two-byte slots per ABI, holding `number + 1` (0 is
//! an empty slot), placed by FNV-1a of the name with linear probing. A
//! lookup hashes the name and compares it with the table's own name for
//! the number in the slot, so it costs no allocation, no start-up work and
//! no relocations (the slots are plain integers).

/// Slots per index: a power of two over twice the largest table (459
/// names on i386), so probes stay short.
const SLOTS: usize = 1024;

/// FNV-1a, usable in `const` context. The keys are the fixed names of a
/// crate's table, so a keyed hash would buy nothing.
const fn fnv(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u64).wrapping_mul(0x100_0000_01b3);
        i += 1;
    }
    hash
}

/// The index of one `Sysno` type, and the lookup through it.
macro_rules! index {
    ($index:ident, $lookup:ident, $sysno:ty) => {
        static $index: [u16; SLOTS] = {
            let mut slots = [0u16; SLOTS];
            let mut id = <$sysno>::first().id();
            let last = <$sysno>::last().id();
            // Every number up to the last, gaps included (`Sysno::iter`
            // stops before the last entry in syscalls 0.8.1).
            while id <= last {
                if let Some(sysno) = <$sysno>::new(id as usize) {
                    let mut slot = fnv(sysno.name().as_bytes()) as usize % SLOTS;
                    while slots[slot] != 0 {
                        slot = (slot + 1) % SLOTS;
                    }
                    assert!(id >= 0 && id < u16::MAX as i32);
                    slots[slot] = id as u16 + 1;
                }
                id += 1;
            }
            slots
        };

        /// The number of `name` in this table, if it has it.
        pub(super) fn $lookup(name: &str) -> Option<u32> {
            let mut slot = fnv(name.as_bytes()) as usize % SLOTS;
            loop {
                let id = usize::from($index[slot].checked_sub(1)?);
                if <$sysno>::new(id).is_some_and(|s| s.name() == name) {
                    return Some(id as u32);
                }
                slot = (slot + 1) % SLOTS;
            }
        }
    };
}

index!(X86_64, x86_64, syscalls::x86_64::Sysno);
index!(I386, i386, syscalls::x86::Sysno);
index!(AARCH64, aarch64, syscalls::aarch64::Sysno);
index!(ARM, arm, syscalls::arm::Sysno);

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    /// Every name of every table is found with its number, and names a
    /// table lacks are not.
    #[test]
    fn every_name_resolves_to_its_number() {
        macro_rules! check {
            ($lookup:ident, $sysno:ty) => {
                let mut count = 0;
                for id in 0..=<$sysno>::last().id() {
                    if let Some(sysno) = <$sysno>::new(id as usize) {
                        assert_eq!($lookup(sysno.name()), Some(id as u32), "{sysno}");
                        count += 1;
                    }
                }
                assert_eq!(count, <$sysno>::count());
                for name in ["", "no_such_syscall", "read ", "READ", "_llseek_"] {
                    assert_eq!(
                        $lookup(name),
                        <$sysno>::from_str(name).ok().map(|s| s.id() as u32)
                    );
                }
            };
        }
        check!(x86_64, syscalls::x86_64::Sysno);
        check!(i386, syscalls::x86::Sysno);
        check!(aarch64, syscalls::aarch64::Sysno);
        check!(arm, syscalls::arm::Sysno);
        assert_eq!(x86_64("_llseek"), None);
        assert_eq!(i386("_llseek"), Some(140));
        assert_eq!(x86_64("file_setattr"), Some(469));
    }
}
