//! Signal forwarding for `ci exec`: SIGINT, SIGTERM and SIGHUP sent to gocred go to the command,
//! and gocred itself keeps running so that it can wipe once the command has ended.
//!
//! Installed before anything is set up: a signal that arrives during setup is remembered, the
//! command is then never started, and the setup is wiped. The command stays in gocred's process
//! group, so a terminal's Ctrl-C still reaches it directly as well. Once the command has ended
//! [`Forwarder::stop`] restores the default action, so gocred can be stopped like any program.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use crate::error::{Error, Result};

pub(crate) struct Forwarder {
    /// The signals we catch (not those our parent had set to be ignored).
    caught: Vec<i32>,
    handle: Handle,
    thread: Option<JoinHandle<()>>,
    child: Arc<AtomicI32>,
    last: Arc<AtomicI32>,
}

impl Forwarder {
    pub(crate) fn install() -> Result<Forwarder> {
        // A signal our parent set to "ignore" (nohup, `&` in a script) stays ignored, for us and
        // for the command, which inherits the disposition.
        let wanted: Vec<i32> = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            .filter(|&s| !is_ignored(s))
            .collect();
        let mut signals =
            Signals::new(&wanted).map_err(|e| Error::io("installing signal handlers", e))?;
        let handle = signals.handle();
        let child = Arc::new(AtomicI32::new(0));
        let last = Arc::new(AtomicI32::new(0));
        let (c, l) = (child.clone(), last.clone());
        let thread = std::thread::spawn(move || {
            for sig in signals.forever() {
                l.store(sig, Ordering::SeqCst);
                let pid = c.load(Ordering::SeqCst);
                if pid > 0 {
                    send(pid, sig);
                }
            }
        });
        Ok(Forwarder {
            caught: wanted,
            handle,
            thread: Some(thread),
            child,
            last,
        })
    }

    /// The last signal received, if any.
    pub(crate) fn received(&self) -> Option<i32> {
        Some(self.last.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// From now on signals go to `pid`; one that arrived just before is passed on now.
    pub(crate) fn forward_to(&self, pid: u32) {
        self.child.store(pid as i32, Ordering::SeqCst);
        if let Some(sig) = self.received() {
            send(pid as i32, sig);
        }
    }

    /// Stops forwarding (the command has ended) and gives the signals their default action
    /// back: a SIGTERM to gocred from now on ends it, as it would any program.
    pub(crate) fn stop(&mut self) {
        self.child.store(0, Ordering::SeqCst);
        for &sig in &self.caught {
            // The handlers stay registered with signal-hook, but the kernel no longer calls
            // them: the disposition is SIG_DFL again.
            set_default(sig);
        }
        self.caught.clear();
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `sig` is currently ignored (SIG_IGN).
fn is_ignored(sig: i32) -> bool {
    // SAFETY: sigaction(2) with a null new action only reads the current one into `old`, a
    // zeroed, properly sized and aligned struct that lives across the call.
    #[allow(unsafe_code)]
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Sets `sig` back to its default action.
fn set_default(sig: i32) {
    // SAFETY: signal(2) with SIG_DFL installs no handler; it only changes this process's
    // disposition for `sig`.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
    }
}

/// kill(2) to one process (never a group: pid must be positive).
pub(crate) fn send(pid: i32, sig: i32) {
    if pid <= 0 {
        return;
    }
    // SAFETY: kill(2) has no memory-safety preconditions; a stale pid only yields ESRCH.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, sig);
    }
}
