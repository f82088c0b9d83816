//! Giving back the window's memory once it is closed. On Linux, Tauri keeps one
//! WebKit web context for the app's whole life, so WebKit's network process stays
//! after the last web view is gone (tens of MB), and the heap the web view freed
//! stays in the app's malloc arenas. A streamer opens the window now and then and
//! lives in the tray; so once no web view is left, OnAir ends that process (WebKit
//! starts a new one with the next web view), hands free heap back to the system, and
//! lets the kernel reclaim the pages of WebKit's own libraries that the window
//! touched (`MADV_PAGEOUT`: clean file pages are dropped and read again if the window
//! opens again; private written pages are left alone, there being no swap to take
//! them). Measured by `cargo bench -p onair-system-tests --bench footprint`.

use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};

/// Long enough for WebKit to finish tearing the closed web view down.
const SETTLE: Duration = Duration::from_secs(1);

/// What WebKitGTK's network process is called in /proc/PID/stat (15 characters).
const NETWORK_PROCESS: &str = "WebKitNetworkPr";

/// The libraries only the window needs; the tray runs on GTK alone.
const WEB_LIBRARIES: [&str; 2] = ["libwebkit2gtk-", "libjavascriptcoregtk-"];

/// After a window closed: once it has settled, and if no web view is left, ends
/// WebKit's network process and trims the heap.
pub fn after_window_closed<R: Runtime>(app: &AppHandle<R>) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let app = app.clone();
    let spawned = std::thread::Builder::new().name("web-memory".into()).spawn(move || {
        std::thread::sleep(SETTLE);
        let handle = app.clone();
        // Web views are made on the main thread: none can be starting while this runs.
        let reached = app.run_on_main_thread(move || {
            if !handle.webview_windows().is_empty() {
                return;
            }
            let ended = end_network_processes();
            trim_heap();
            let paged_out = page_out_web_libraries();
            tracing::info!(
                ended,
                paged_out,
                "no window left: WebKit's network process ended, free heap and WebKit's pages given back"
            );
        });
        if let Err(e) = reached {
            tracing::debug!(error = %e, "cannot reach the main thread to give back the window's memory");
        }
    });
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "cannot start the thread that gives back the window's memory");
    }
}

/// Ends this process's WebKit network processes; returns how many were asked to.
fn end_network_processes() -> usize {
    let me = std::process::id();
    let stats = std::fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|entry| {
        let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
        Some((pid, std::fs::read_to_string(entry.path().join("stat")).ok()?))
    });
    let children = children_named(stats, me, NETWORK_PROCESS);
    for pid in &children {
        terminate(*pid);
    }
    children.len()
}

/// The pids, among `(pid, /proc/PID/stat)` pairs, whose parent is `parent` and whose
/// command is `name`.
fn children_named(stats: impl Iterator<Item = (u32, String)>, parent: u32, name: &str) -> Vec<u32> {
    stats
        .filter(|(_, stat)| {
            // "PID (COMMAND) STATE PPID ...": the command may hold spaces and parentheses.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { return false };
            let command = stat.get(open + 1..close).unwrap_or_default();
            let ppid = stat.get(close + 1..).and_then(|rest| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            command == name && ppid == Some(parent)
        })
        .map(|(pid, _)| pid)
        .collect()
}

/// Asks the kernel to reclaim this process's mappings of [`WEB_LIBRARIES`]; returns
/// how many mappings it asked for.
fn page_out_web_libraries() -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let ranges = library_ranges(&maps, &WEB_LIBRARIES);
    for (start, end) in &ranges {
        page_out(*start, *end);
    }
    ranges.len()
}

/// The address ranges in `maps` (the /proc/PID/maps format) of files whose name
/// starts with one of `libraries`.
fn library_ranges(maps: &str, libraries: &[&str]) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let path = fields.nth(4)?;
            let file = path.rsplit('/').next()?;
            if !libraries.iter().any(|l| file.starts_with(l)) {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some((usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?))
        })
        .filter(|(start, end)| start < end)
        .collect()
}

#[cfg(target_os = "linux")]
fn page_out(start: usize, end: usize) {
    // SAFETY: a hint on whole mappings of this process, read from /proc/self/maps:
    // MADV_PAGEOUT keeps every page's content (clean pages are read again from the file;
    // written ones stay, there being no swap) and fails harmlessly on kernels before 5.4.
    let result = unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
    if result != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "madvise(MADV_PAGEOUT) refused");
    }
}

#[cfg(not(target_os = "linux"))]
fn page_out(_start: usize, _end: usize) {}

#[cfg(target_os = "linux")]
fn terminate(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return };
    // SAFETY: kill(2) with a pid read from /proc that is our own child; no memory is shared.
    if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
        tracing::debug!(pid, error = %std::io::Error::last_os_error(), "cannot end WebKit's network process");
    }
}

#[cfg(not(target_os = "linux"))]
fn terminate(_pid: u32) {}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim_heap() {
    // SAFETY: malloc_trim only returns free memory at the top of glibc's arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_webkit_s_libraries_are_paged_out() {
        let maps = "\
7fae73c00000-7fae73d72000 r--p 00000000 fe:00 15695973   /usr/lib/x86_64-linux-gnu/libjavascriptcoregtk-4.1.so.0.9.11
7fae73d72000-7fae755a9000 r-xp 00172000 fe:00 15695973   /usr/lib/x86_64-linux-gnu/libjavascriptcoregtk-4.1.so.0.9.11
7fae80000000-7fae80001000 r-xp 00000000 fe:00 1          /usr/lib/x86_64-linux-gnu/libwebkit2gtk-4.1.so.0
7fae90000000-7fae90001000 r-xp 00000000 fe:00 2          /usr/lib/x86_64-linux-gnu/libgtk-3.so.0
7fae91000000-7fae91001000 rw-p 00000000 00:00 0
7fae92000000-7fae92001000 rw-p 00000000 00:00 0          [heap]
";
        assert_eq!(
            library_ranges(maps, &WEB_LIBRARIES),
            [(0x7fae73c00000, 0x7fae73d72000), (0x7fae73d72000, 0x7fae755a9000), (0x7fae80000000, 0x7fae80001000)]
        );
    }

    #[test]
    fn only_our_own_network_processes_are_picked() {
        let stats = [
            (10, "10 (WebKitNetworkPr) S 7 10 10 0".to_string()),
            (11, "11 (WebKitWebProces) S 7 10 10 0".to_string()),
            (12, "12 (WebKitNetworkPr) S 99 12 12 0".to_string()),
            (13, "13 (a (weird) name) S 7 13 13 0".to_string()),
            (14, "garbage".to_string()),
        ];
        assert_eq!(children_named(stats.into_iter(), 7, NETWORK_PROCESS), [10]);
    }
}
