//! The memory limiter of one store, and how a failed call is classified.
//!
//! [`Limiter`] refuses growth past the plugin's memory cap and remembers that it did,
//! so a trap that follows (a Rust guest aborts when an allocation fails) is reported
//! as the memory limit, by state rather than by matching wasmtime's message text. An
//! epoch interrupt is told apart by its [`Trap`] value.

use wasmtime::{ResourceLimiter, Trap};

/// Table elements one table may grow to (a Rust component needs a few hundred).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Caps linear memory and tables; records a refused growth.
#[derive(Debug)]
pub(crate) struct Limiter {
    memory: usize,
    refused: bool,
}

impl Limiter {
    pub fn new(memory: usize) -> Self {
        Self {
            memory,
            refused: false,
        }
    }

    pub fn memory_limit(&self) -> usize {
        self.memory
    }

    /// Whether a growth was refused during this store's life.
    pub fn refused_growth(&self) -> bool {
        self.refused
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.refused = true;
            return Ok(false);
        }
        Ok(true)
    }
}

/// Why a call into the guest failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The epoch deadline interrupted it: its CPU budget is spent.
    CpuBudget,
    /// It trapped after a memory or table growth was refused.
    Memory,
    /// Any other trap or host error, with its root cause.
    Trap(String),
}

/// Classify `e`, given whether the store's limiter refused a growth.
pub(crate) fn classify(e: &wasmtime::Error, refused_growth: bool) -> Failure {
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        Failure::CpuBudget
    } else if refused_growth {
        Failure::Memory
    } else {
        Failure::Trap(format!("{:#}", e.root_cause()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_past_the_cap_is_refused_and_remembered() {
        let mut l = Limiter::new(1 << 20);
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!l.refused_growth());
        assert!(!l.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert!(l.refused_growth());
    }

    #[test]
    fn failures_are_classified_by_type_not_text() {
        let interrupt = wasmtime::Error::from(Trap::Interrupt);
        assert_eq!(classify(&interrupt, false), Failure::CpuBudget);
        let unreachable = wasmtime::Error::from(Trap::UnreachableCodeReached);
        assert_eq!(classify(&unreachable, true), Failure::Memory);
        assert!(matches!(classify(&unreachable, false), Failure::Trap(_)));
    }
}
