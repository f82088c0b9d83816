//! What the benchmarks read off /proc: a process and all its descendants (the app
//! with WebKit's helper processes, or `onair` with what it execs), their resident
//! and proportional memory, and the CPU they used. PSS is the fair figure for a
//! tree whose processes share libraries: each shared page counts once in all.

use std::time::{Duration, Instant};

/// USER_HZ on Linux: the unit of utime and stime in /proc/PID/stat.
const TICKS_PER_SECOND: f64 = 100.0;

/// `root` and all its descendants, alive now.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            // The command may contain spaces; fields after the last ')' are fixed.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
            let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == parent).map(|(p, _)| *p));
        i += 1;
    }
    tree
}

/// The command names of the tree's processes.
pub fn names(tree: &[u32]) -> Vec<String> {
    tree.iter()
        .map(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default().trim().to_string())
        .collect()
}

fn field_kb(text: &str, field: &str) -> u64 {
    text.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()).unwrap_or(0)
}

/// Memory of a process tree, in kB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Footprint {
    pub rss_kb: u64,
    pub pss_kb: u64,
    /// The parts of PSS in private memory (heap, stacks) and in mapped files (code).
    pub pss_anon_kb: u64,
    pub pss_file_kb: u64,
    pub processes: usize,
}

impl Footprint {
    pub fn pss_mb(&self) -> f64 {
        self.pss_kb as f64 / 1024.0
    }

    pub fn rss_mb(&self) -> f64 {
        self.rss_kb as f64 / 1024.0
    }
}

/// The footprint of each process of the tree, with its name.
pub fn footprint_by_process(root: u32) -> Vec<(String, Footprint)> {
    process_tree(root)
        .into_iter()
        .map(|pid| {
            let name = names(&[pid]).pop().unwrap_or_default();
            let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
            let footprint = Footprint {
                rss_kb: field_kb(&rollup, "Rss:"),
                pss_kb: field_kb(&rollup, "Pss:"),
                pss_anon_kb: field_kb(&rollup, "Pss_Anon:"),
                pss_file_kb: field_kb(&rollup, "Pss_File:"),
                processes: 1,
            };
            (name, footprint)
        })
        .collect()
}

/// RSS and PSS (from /proc/PID/smaps_rollup) of `root` and its descendants.
pub fn footprint(root: u32) -> Footprint {
    let tree = process_tree(root);
    let mut total = Footprint { processes: tree.len(), ..Footprint::default() };
    for pid in tree {
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        total.rss_kb += field_kb(&rollup, "Rss:");
        total.pss_kb += field_kb(&rollup, "Pss:");
        total.pss_anon_kb += field_kb(&rollup, "Pss_Anon:");
        total.pss_file_kb += field_kb(&rollup, "Pss_File:");
    }
    total
}

/// Peak resident memory of one process (VmHWM), in kB.
pub fn peak_rss_kb(pid: u32) -> u64 {
    field_kb(&std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default(), "VmHWM:")
}

/// utime + stime of the tree, in clock ticks.
pub fn tree_cpu_ticks(root: u32) -> u64 {
    process_tree(root)
        .iter()
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let rest = stat.rsplit_once(')')?.1.to_string();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

/// The share of one core the tree used over `period`, in percent.
pub async fn cpu_percent(root: u32, period: Duration) -> f64 {
    let before = tree_cpu_ticks(root);
    let wall = Instant::now();
    tokio::time::sleep(period).await;
    let used = tree_cpu_ticks(root).saturating_sub(before) as f64 / TICKS_PER_SECOND;
    used * 100.0 / wall.elapsed().as_secs_f64()
}

/// The median of `values` (sorted in place); 0 for none.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn this_process_has_a_footprint_and_is_its_own_tree() {
        let me = std::process::id();
        let f = footprint(me);
        assert!(f.pss_kb > 0 && f.rss_kb >= f.pss_kb, "{f:?}");
        assert_eq!(process_tree(me)[0], me);
        assert!(peak_rss_kb(me) >= f.rss_kb / 2);
    }
}
