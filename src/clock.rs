//! Time and memory per stage, printed to stderr when `GRANTGAP_TIMINGS` is
//! set: where a run's time goes, without a profiler.

/// Time spent per stage since the last lap or split.
pub struct StageClock {
    last: Option<std::time::Instant>,
    /// Time per stage of the stages run a partition at a time, in first-run order.
    splits: Vec<(&'static str, std::time::Duration)>,
}

impl StageClock {
    pub fn start() -> Self {
        StageClock {
            last: std::env::var_os("GRANTGAP_TIMINGS").map(|_| std::time::Instant::now()),
            splits: Vec::new(),
        }
    }

    /// Prints the time since the last lap or split as `stage`'s.
    pub fn lap(&mut self, stage: &str) {
        if let Some(last) = self.last {
            eprintln!(
                "grantgap: {stage}: {:.2} s, {}",
                last.elapsed().as_secs_f64(),
                memory_in_use()
            );
            self.last = Some(std::time::Instant::now());
        }
    }

    /// Prints a remark on the run.
    pub fn note(&self, remark: &str) {
        if self.last.is_some() {
            eprintln!("grantgap: {remark}");
        }
    }

    /// Adds the time since the last lap or split to `stage`'s, printed by
    /// [`StageClock::print_splits`]: for stages run once per partition.
    pub fn split(&mut self, stage: &'static str) {
        if let Some(last) = self.last {
            let now = std::time::Instant::now();
            match self.splits.iter_mut().find(|(s, _)| *s == stage) {
                Some((_, total)) => *total += now - last,
                None => self.splits.push((stage, now - last)),
            }
            self.last = Some(now);
        }
    }

    /// Prints each split stage's total, with the memory in use now.
    pub fn print_splits(&mut self) {
        for (stage, total) in std::mem::take(&mut self.splits) {
            eprintln!(
                "grantgap: {stage}: {:.2} s, {}",
                total.as_secs_f64(),
                memory_in_use()
            );
        }
    }
}

/// The process's resident and peak resident memory, as Linux reports them
/// (empty elsewhere): which stage holds the memory, without a heap profiler.
fn memory_in_use() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    format!("rss {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}
