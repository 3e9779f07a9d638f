//! The terminal: entering and leaving the alternate screen, and making sure
//! it is always restored — on normal exit, on error, on panic (the hook is
//! installed before anything can panic) and on SIGTERM/SIGHUP (the event
//! loop ends and the guard restores).

use std::io::{BufWriter, Stdout, Write, stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub type Tui = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

/// Room for a whole frame's output, so a frame is one write to the terminal
/// (std's stdout alone writes 1 KB at a time: five writes a frame at 200×60).
/// ratatui flushes it at the end of every draw.
const FRAME_BUFFER: usize = 64 * 1024;

/// Owns the terminal while the TUI runs; dropping it restores the terminal.
pub struct TerminalGuard {
    pub terminal: Tui,
    mouse: bool,
}

impl TerminalGuard {
    pub fn enter(mouse: bool) -> std::io::Result<Self> {
        install_panic_restore();
        setup(mouse)?;
        let out = BufWriter::with_capacity(FRAME_BUFFER, stdout());
        let terminal = Terminal::new(CrosstermBackend::new(out))?;
        Ok(Self { terminal, mouse })
    }

    pub fn set_mouse_capture(&mut self, on: bool) -> std::io::Result<()> {
        self.mouse = on;
        if on {
            execute!(stdout(), EnableMouseCapture)
        } else {
            execute!(stdout(), DisableMouseCapture)
        }
    }

    /// Ctrl-Z: give the terminal back, stop the process, and take the
    /// terminal again when the shell's `fg` continues it.
    pub fn suspend(&mut self) -> std::io::Result<()> {
        restore();
        // SAFETY: raise(2) has no memory-safety preconditions; SIGTSTP stops
        // this process until SIGCONT, exactly like a shell's Ctrl-Z.
        unsafe {
            libc::raise(libc::SIGTSTP);
        }
        setup(self.mouse)?;
        self.terminal.clear()
    }

    pub fn ring_bell(&mut self) {
        let mut out = stdout();
        let _ = out.write_all(b"\x07");
        let _ = out.flush();
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Whether the terminal is in TUI mode now: restoring a terminal that was
/// never set up would emit "leave alternate screen", which moves the cursor
/// and can hide an error message printed just before.
static ACTIVE: AtomicBool = AtomicBool::new(false);

fn setup(mouse: bool) -> std::io::Result<()> {
    ACTIVE.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen, crossterm::cursor::Hide)?;
    if mouse {
        execute!(stdout(), EnableMouseCapture)?;
    }
    Ok(())
}

/// Puts the terminal back the way the shell expects it. Safe to call twice.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = execute!(
        stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
}

/// Wraps whatever panic hook is installed (color-eyre's) so the terminal is
/// restored before the report is printed.
fn install_panic_restore() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
